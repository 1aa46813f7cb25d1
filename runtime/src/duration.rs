//! Human durations for lifetimes and grace periods: `90d`, `24h`, `30m`, `2w`.

use std::time::Duration;

use crate::gate::MAX_LIFETIME;

/// A duration text that keygate cannot use. The message is one line, fit for a command line or
/// a problem document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DurationError(String);

/// Reads a lifetime or grace period: a positive whole number and a unit, `s` (seconds), `m`
/// (minutes), `h` (hours), `d` (days) or `w` (weeks). Zero, negative, fractional and longer
/// than [`MAX_LIFETIME`] (100 years) are refused.
///
/// ```
/// use std::time::Duration;
///
/// assert_eq!(keygate::duration::parse_duration("90d"), Ok(Duration::from_secs(90 * 86_400)));
/// assert_eq!(keygate::duration::parse_duration("24h"), Ok(Duration::from_secs(86_400)));
/// assert!(keygate::duration::parse_duration("0d").is_err());
/// assert!(keygate::duration::parse_duration("-1d").is_err());
/// assert!(keygate::duration::parse_duration("9999999w").is_err());
/// assert!(keygate::duration::parse_duration("soon").is_err());
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let text = text.trim();
    let expected = || {
        DurationError(format!(
            "invalid duration `{}`: expected a positive whole number and a unit, such as 30m, \
             24h, 90d or 2w",
            text.escape_default()
        ))
    };
    let unit_at = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(expected)?;
    let (number, unit) = text.split_at(unit_at);
    let seconds_per_unit: u64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(expected()),
    };
    if number.is_empty() {
        return Err(expected());
    }
    let too_long = || {
        DurationError(format!(
            "invalid duration `{text}`: at most 100 years (36500d) is accepted"
        ))
    };
    let count: u64 = number.parse().map_err(|_| too_long())?;
    if count == 0 {
        return Err(DurationError(format!(
            "invalid duration `{text}`: it must be longer than zero"
        )));
    }
    let seconds = count.checked_mul(seconds_per_unit).ok_or_else(too_long)?;
    let duration = Duration::from_secs(seconds);
    if duration > MAX_LIFETIME {
        return Err(too_long());
    }
    Ok(duration)
}

/// Writes a duration the way [`parse_duration`] reads it, in the largest unit that divides it
/// exactly (days before weeks, as policies are usually said in days): `90d`, `36h`, `90s`.
/// Fractions of a second are dropped.
///
/// ```
/// use std::time::Duration;
/// use keygate::duration::{format_duration, parse_duration};
///
/// assert_eq!(format_duration(Duration::from_secs(90 * 86_400)), "90d");
/// assert_eq!(format_duration(Duration::from_secs(36 * 3_600)), "36h");
/// assert_eq!(parse_duration(&format_duration(Duration::from_secs(150))), Ok(Duration::from_secs(150)));
/// ```
pub fn format_duration(duration: Duration) -> String {
    let seconds = duration.as_secs();
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60)] {
        if seconds >= size && seconds.is_multiple_of(size) {
            return format!("{}{unit}", seconds / size);
        }
    }
    format!("{seconds}s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_refusals() {
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("2w"), Ok(Duration::from_secs(14 * 86_400)));
        assert_eq!(parse_duration(" 45s "), Ok(Duration::from_secs(45)));
        assert_eq!(parse_duration("36500d"), Ok(MAX_LIFETIME));
        for bad in [
            "",
            "d",
            "0s",
            "-5m",
            "1.5h",
            "10",
            "10y",
            "1 d",
            "1dd",
            "36501d",
            "99999999999999999999d",
            "+1d",
        ] {
            let error = parse_duration(bad).expect_err(bad);
            assert!(!error.to_string().contains('\n'), "{bad}: one line");
        }
    }
}
