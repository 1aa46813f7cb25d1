//! Schemas for request fields that keygate validates, built from the definitions it validates
//! with, for services whose own routes take them (an admin API creating or rotating keys).

use utoipa::openapi::schema::Schema;

use super::string;
use crate::declared::{DeclaredScope, grant_is_declared};
use crate::gate::MAX_LIFETIME;

/// The schema of one grant a key may be given: with declared scopes, an `enum` of every grant
/// [`KeyGate::create_key`](crate::KeyGate::create_key) accepts (each declared scope, and each
/// wildcard covering one of them); without, the grant grammar as a `pattern` (a scope of up to
/// [`MAX_SCOPE_LEN`](keygate_grammar::MAX_SCOPE_LEN) bytes of `[A-Za-z0-9:._-]`, `*`, or a scope
/// followed by `:*`).
pub fn grant_schema(declared: Option<&[DeclaredScope]>) -> Schema {
    let Some(declared) = declared else {
        let scope = format!("[A-Za-z0-9:._-]{{1,{}}}", keygate_grammar::MAX_SCOPE_LEN);
        return string("A scope, `*` (every scope), or a scope followed by `:*`.")
            .pattern(Some(format!(r"^(?:\*|{scope}(?::\*)?)$")))
            .into();
    };
    let mut grants: Vec<String> = vec!["*".to_owned()];
    for scope in declared {
        let name = scope.name;
        grants.push(name.to_owned());
        let stems = name.match_indices(':').map(|(at, _)| &name[..at]);
        grants.extend(stems.map(|stem| format!("{stem}:*")));
    }
    grants.retain(|grant| grant_is_declared(grant, declared));
    grants.sort();
    grants.dedup();
    string("A declared scope, or a wildcard (`*`, or a scope followed by `:*`) covering one.")
        .enum_values(Some(grants))
        .into()
}

/// The schema of a lifetime or grace period as
/// [`parse_duration`](crate::duration::parse_duration) reads it, written without spaces or
/// leading zeros: a whole number and a unit (`s`, `m`, `h`, `d`, `w`), positive and at most
/// [`MAX_LIFETIME`] (100 years), as a `pattern`. `parse_duration` itself also takes surrounding
/// spaces and leading zeros: a service using this schema refuses those (as the example does), so
/// what the schema says is what it accepts.
pub fn duration_schema() -> Schema {
    let units = [
        ("s", 1),
        ("m", 60),
        ("h", 3_600),
        ("d", 86_400),
        ("w", 7 * 86_400),
    ];
    let alternatives: Vec<String> = units
        .iter()
        .map(|(unit, seconds)| format!("(?:{}){unit}", at_most(MAX_LIFETIME.as_secs() / seconds)))
        .collect();
    string("A positive whole number and a unit, `s`, `m`, `h`, `d` or `w` (such as `90d` or `24h`), at most 100 years.")
        .pattern(Some(format!("^(?:{})$", alternatives.join("|"))))
        .examples(["90d", "24h"])
        .into()
}

/// The schema of a rate limit as [`RateLimit`](crate::limit::RateLimit) reads it, written
/// without extra spaces or leading zeros: `<requests>/<period>` and optionally ` burst <n>`, such
/// as `100/min`, `10/s burst 20` or `5/30s`; requests and burst 1 to
/// [`MAX_REQUESTS`](crate::limit::MAX_REQUESTS), the period 1 second to 1 day, as a `pattern`.
/// The parser itself also takes extra spaces and leading zeros: a service using this schema
/// refuses those (as the example does), so what the schema says is what it accepts.
pub fn rate_limit_schema() -> Schema {
    use crate::limit::{MAX_PERIOD, MAX_REQUESTS};
    let max = MAX_PERIOD.as_secs();
    let units = [
        ("s|sec", 1),
        ("m|min", 60),
        ("h|hour", 3_600),
        ("d|day", 86_400),
    ];
    let periods: Vec<String> = units
        .iter()
        .map(|(unit, seconds)| format!("(?:{})?(?:{unit})", at_most(max / seconds)))
        .collect();
    let count = at_most(u64::from(MAX_REQUESTS));
    string(
        "Requests per period, such as `100/min`, `10/s burst 20` or `5/30s`: a whole number of \
         requests (1 to 1000000), `/`, an optional whole number and a unit (`s`/`sec`, \
         `m`/`min`, `h`/`hour`, `d`/`day`) making 1 second to 1 day, and optionally ` burst` and \
         how many may come at once (default: the requests).",
    )
    .pattern(Some(format!(
        "^(?:{count})/(?:{})(?: burst (?:{count}))?$",
        periods.join("|")
    )))
    .examples(["100/min", "10/s burst 20"])
    .into()
}

/// A regular expression matching the decimal numbers from 1 to `max`, without leading zeros.
fn at_most(max: u64) -> String {
    let digits: Vec<u32> = max
        .to_string()
        .chars()
        .filter_map(|c| c.to_digit(10))
        .collect();
    let len = digits.len();
    let mut alternatives = Vec::new();
    if len > 1 {
        // Fewer digits than `max`.
        alternatives.push(match len - 2 {
            0 => "[1-9]".to_owned(),
            n => format!("[1-9][0-9]{{0,{n}}}"),
        });
    }
    // As many digits: equal to `max` up to position `i`, less at `i`, anything after.
    for i in 0..len {
        let low = u32::from(i == 0);
        if digits[i] > low {
            let prefix: String = digits[..i].iter().map(u32::to_string).collect();
            let here = match digits[i] - 1 {
                high if high == low => high.to_string(),
                high => format!("[{low}-{high}]"),
            };
            let rest = match len - i - 1 {
                0 => String::new(),
                1 => "[0-9]".to_owned(),
                n => format!("[0-9]{{{n}}}"),
            };
            alternatives.push(format!("{prefix}{here}{rest}"));
        }
    }
    alternatives.push(max.to_string());
    alternatives.join("|")
}

#[cfg(test)]
mod tests {
    use super::at_most;

    #[test]
    fn ranges_without_leading_zeros() {
        assert_eq!(at_most(5), "[1-4]|5");
        assert_eq!(
            at_most(36500),
            "[1-9][0-9]{0,3}|[1-2][0-9]{4}|3[0-5][0-9]{3}|36[0-4][0-9]{2}|36500"
        );
        assert_eq!(
            at_most(5214),
            "[1-9][0-9]{0,2}|[1-4][0-9]{3}|5[0-1][0-9]{2}|520[0-9]|521[0-3]|5214"
        );
    }
}
