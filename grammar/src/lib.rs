//! The one definition of keygate's scope grammar, shared by the `#[require_api_key]` attribute
//! (which checks scopes at compile time), the `keygate` runtime (which checks grants when keys
//! are made and covers required scopes with granted ones) and the `keygate` command line.
//!
//! Depend on `keygate`, which re-exports what users need from here; this crate exists so that the
//! proc-macro crate, which cannot depend on the runtime, applies the very same rule.
//!
//! - A **scope** is non-empty and uses ASCII letters, digits and `:._-` only: `items:read`.
//! - A **grant** (a scope given to a key) is a scope, `*` (every scope), or a scope followed by
//!   `:*` (every scope below it: `items:*` covers `items:read` and `items:read:own`, but not
//!   `items` itself nor `itemsecret:read`). A wildcard always covers whole `:`-separated segments.

#![warn(missing_docs, unreachable_pub)]
#![forbid(unsafe_code)]

/// The characters a scope may use, as said in error messages.
pub const SCOPE_CHARACTERS: &str = "letters, digits and `:._-`";

/// The longest scope or grant accepted, in bytes.
pub const MAX_SCOPE_LEN: usize = 128;

/// The separator between a scope's segments; wildcards cover whole segments.
pub const SEGMENT_SEPARATOR: char = ':';

/// Whether `b` may appear in a scope.
pub fn is_scope_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b':' | b'.' | b'_' | b'-')
}

/// Whether `scope` is a valid scope name.
///
/// ```
/// use keygate_grammar::is_valid_scope;
///
/// assert!(is_valid_scope("items:read"));
/// assert!(!is_valid_scope("items read"));
/// assert!(!is_valid_scope("items:*"));
/// assert!(!is_valid_scope(""));
/// ```
pub fn is_valid_scope(scope: &str) -> bool {
    scope_problem(scope).is_none()
}

/// Why `scope` is not a valid scope name, in words for the person who wrote it; `None` if it is
/// valid.
///
/// ```
/// use keygate_grammar::scope_problem;
///
/// assert_eq!(scope_problem("items:read"), None);
/// assert!(scope_problem("items read").unwrap().contains("whitespace"));
/// ```
pub fn scope_problem(scope: &str) -> Option<String> {
    if scope.is_empty() {
        return Some("a scope cannot be empty".to_owned());
    }
    if scope.len() > MAX_SCOPE_LEN {
        return Some(format!(
            "scope `{}…` is longer than {MAX_SCOPE_LEN} bytes",
            truncated(scope)
        ));
    }
    if scope.chars().any(char::is_whitespace) {
        return Some(format!(
            "scope `{}` contains whitespace; list several scopes as `[\"a\", \"b\"]`",
            scope.escape_debug()
        ));
    }
    let bad = scope
        .chars()
        .find(|&c| !c.is_ascii() || !is_scope_byte(c as u8))?;
    let wildcard = if bad == '*' {
        " (wildcards belong in the scopes granted to keys, not in the scopes a handler requires)"
    } else {
        ""
    };
    Some(format!(
        "scope `{}` contains `{}`; scopes use {SCOPE_CHARACTERS} only{wildcard}",
        scope.escape_debug(),
        bad.escape_debug()
    ))
}

/// Whether `grant` may be granted to a key: a scope, `*`, or a scope followed by `:*`.
///
/// ```
/// use keygate_grammar::is_valid_grant;
///
/// assert!(is_valid_grant("items:read"));
/// assert!(is_valid_grant("items:*"));
/// assert!(is_valid_grant("*"));
/// assert!(!is_valid_grant("items*"), "a wildcard covers whole segments only");
/// assert!(!is_valid_grant("it*ems"));
/// ```
pub fn is_valid_grant(grant: &str) -> bool {
    grant_problem(grant).is_none()
}

/// Why `grant` cannot be granted, in words for the person who wrote it; `None` if it can.
///
/// ```
/// use keygate_grammar::grant_problem;
///
/// assert_eq!(grant_problem("items:*"), None);
/// assert!(grant_problem("a*").unwrap().contains("`a:*`"));
/// ```
pub fn grant_problem(grant: &str) -> Option<String> {
    if grant == "*" {
        return None;
    }
    match wildcard_stem(grant) {
        Some(stem) => scope_problem(stem),
        None if grant.ends_with('*') => {
            let stem = grant.trim_end_matches('*').trim_end_matches(SEGMENT_SEPARATOR);
            Some(format!(
                "grant `{}` is not a whole-segment wildcard; write `{}:*` (every scope below \
                 `{}`) or `*` (every scope)",
                grant.escape_debug(),
                stem.escape_debug(),
                stem.escape_debug()
            ))
        }
        None => scope_problem(grant).map(|problem| problem.replace(
            " (wildcards belong in the scopes granted to keys, not in the scopes a handler requires)",
            "; a wildcard stands alone as `*` or after a whole segment, as in `items:*`",
        )),
    }
}

/// Whether `grant` is a wildcard: `*` (every scope) or a scope followed by `:*` (every scope
/// below it). Such a grant also covers scopes added to the service later.
///
/// ```
/// use keygate_grammar::is_wildcard_grant;
///
/// assert!(is_wildcard_grant("*"));
/// assert!(is_wildcard_grant("items:*"));
/// assert!(!is_wildcard_grant("items:read"));
/// assert!(!is_wildcard_grant("items*"), "not a valid grant, so not a wildcard");
/// ```
pub fn is_wildcard_grant(grant: &str) -> bool {
    is_valid_grant(grant) && (grant == "*" || wildcard_stem(grant).is_some())
}

/// `items` for the grant `items:*`; `None` for anything else (`*` included).
fn wildcard_stem(grant: &str) -> Option<&str> {
    grant.strip_suffix(":*").filter(|stem| !stem.is_empty())
}

/// Whether the granted scope `grant` covers the required scope `required`. A grant that is not
/// valid covers nothing, so a malformed grant found in a database never widens a key.
///
/// ```
/// use keygate_grammar::grant_covers;
///
/// assert!(grant_covers("items:*", "items:read"));
/// assert!(grant_covers("*", "admin"));
/// assert!(!grant_covers("items:*", "items"));
/// assert!(!grant_covers("items*", "itemsecret:read"));
/// ```
pub fn grant_covers(grant: &str, required: &str) -> bool {
    if grant == "*" {
        return true;
    }
    if let Some(stem) = wildcard_stem(grant) {
        return is_valid_scope(stem)
            && required.len() > stem.len() + 1
            && required.starts_with(stem)
            && required.as_bytes()[stem.len()] == SEGMENT_SEPARATOR as u8;
    }
    grant == required && !grant.contains('*')
}

/// Whether a key holding the grant `held` may hand out the grant `requested` (to a key it mints,
/// say): everything `requested` covers, `held` covers too. `*` includes every grant, `items:*`
/// includes `items:read` and `items:read:*` but not `*` or `items`; a plain scope includes only
/// itself. An invalid grant includes nothing and is included by nothing.
///
/// ```
/// use keygate_grammar::grant_includes;
///
/// assert!(grant_includes("*", "items:*"));
/// assert!(grant_includes("items:*", "items:read:*"));
/// assert!(!grant_includes("items:*", "*"));
/// assert!(!grant_includes("items:read", "items:*"));
/// ```
pub fn grant_includes(held: &str, requested: &str) -> bool {
    if !is_valid_grant(held) || !is_valid_grant(requested) {
        return false;
    }
    if held == "*" {
        return true;
    }
    match wildcard_stem(requested) {
        // `items:read:*` covers `items:read:x`; `held` must cover every such scope.
        Some(stem) => match wildcard_stem(held) {
            Some(held_stem) => grant_covers(held, stem) || held_stem == stem,
            None => false,
        },
        None if requested == "*" => false,
        None => grant_covers(held, requested),
    }
}

fn truncated(text: &str) -> String {
    text.chars()
        .take(32)
        .collect::<String>()
        .escape_debug()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes() {
        for ok in ["a", "items:read", "a.b-c_d:9"] {
            assert!(is_valid_scope(ok), "{ok}");
        }
        for bad in [
            "",
            " ",
            "items read",
            "items/read",
            "é",
            "items:*",
            "a\n",
            "a\0",
        ] {
            assert!(!is_valid_scope(bad), "{bad:?}");
        }
        assert!(!is_valid_scope(&"a".repeat(MAX_SCOPE_LEN + 1)));
        assert!(is_valid_scope(&"a".repeat(MAX_SCOPE_LEN)));
    }

    #[test]
    fn grants() {
        for ok in ["*", "items:*", "items:read:*", "items:read", "org.items:*"] {
            assert!(is_valid_grant(ok), "{ok}");
        }
        for bad in [
            "",
            "items*",
            "a*",
            "it*ems",
            "items:**",
            ":*",
            "**",
            "items:*:read",
            "it ems:*",
        ] {
            assert!(!is_valid_grant(bad), "{bad:?}");
        }
    }

    #[test]
    fn wildcards_cover_whole_segments_only() {
        assert!(grant_covers("items:*", "items:read"));
        assert!(grant_covers("items:*", "items:read:own"));
        assert!(grant_covers("*", "admin"));
        assert!(grant_covers("admin", "admin"));
        assert!(!grant_covers("items:*", "items"));
        assert!(!grant_covers("items:*", "items:"));
        assert!(!grant_covers("items:*", "itemsx:read"));
        assert!(!grant_covers("items*", "itemsecret:read"));
        assert!(!grant_covers("a*", "admin"));
        assert!(!grant_covers("items:read", "items:read:all"));
        assert!(!grant_covers("items*", "items*"));
    }

    #[test]
    fn a_grant_includes_only_what_it_covers() {
        assert!(grant_includes("*", "*"));
        assert!(grant_includes("*", "admin"));
        assert!(grant_includes("items:*", "items:*"));
        assert!(grant_includes("items:*", "items:read"));
        assert!(grant_includes("items:*", "items:read:*"));
        assert!(grant_includes("admin", "admin"));
        assert!(!grant_includes("items:*", "*"));
        assert!(!grant_includes("items:*", "items"));
        assert!(!grant_includes("items:*", "itemsx:*"));
        assert!(!grant_includes("items:read", "items:*"));
        assert!(!grant_includes("items:read:*", "items:*"));
        assert!(!grant_includes("admin", "admin:*"));
        assert!(!grant_includes("items*", "items:read"));
        // Not even `*` hands out a grant that is not valid.
        for bad in ["items*", "a b", "", ":*", "**"] {
            assert!(!grant_includes("*", bad), "{bad:?}");
        }
    }

    #[test]
    fn messages_name_the_fix_and_escape_control_characters() {
        let message = grant_problem("items*").unwrap();
        assert!(message.contains("`items:*`"), "{message}");
        let message = scope_problem("a\u{1b}[2J").unwrap();
        assert!(!message.contains('\u{1b}'), "{message}");
    }

    #[test]
    fn a_wildcard_in_a_required_scope_is_explained_and_no_other_character_is() {
        let message = scope_problem("items:*").unwrap();
        assert!(
            message.contains("wildcards belong in the scopes granted"),
            "{message}"
        );
        let message = scope_problem("items/read").unwrap();
        assert!(message.contains("`/`"), "{message}");
        assert!(!message.contains("wildcard"), "{message}");
        // As a grant, the same character gets the grant's advice instead.
        let message = grant_problem("it*ems").unwrap();
        assert!(message.contains("a wildcard stands alone"), "{message}");
    }

    #[test]
    fn a_scope_too_long_is_quoted_by_its_beginning_only() {
        let long = format!("{}\u{1b}{}", "b".repeat(31), "c".repeat(MAX_SCOPE_LEN));
        let message = scope_problem(&long).unwrap();
        assert!(
            message.contains(&format!("`{}\\u{{1b}}…`", "b".repeat(31))),
            "{message}"
        );
        assert!(!message.contains("cc"), "{message}");
        assert!(!message.contains('\u{1b}'), "{message}");
    }
}
