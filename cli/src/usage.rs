//! `keygate keys usage`: a key's usage per hour or day, as a table with a bar chart (every hour
//! or day of the period has a row, so a spike or a silence stands out) or as JSON (only the
//! hours or days with use, as `GET /admin/keys/{id}/usage` gives them).

use std::io::{self, Write};
use std::process::ExitCode;

use keygate::duration::parse_duration;
use keygate::usage::UsageHour;
use time::OffsetDateTime;

use crate::Failure;
use crate::args::UsageArgs;
use crate::database::{Database, KeyText};
use crate::output;

/// Up to this far back, rows are hours unless `--daily` is given.
const HOURLY_UP_TO: std::time::Duration = std::time::Duration::from_secs(2 * 86_400);

/// The widest bar, in characters.
const BAR_WIDTH: u64 = 32;

/// The length of a row's bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bucket {
    Hour,
    Day,
}

impl Bucket {
    fn seconds(self) -> i64 {
        match self {
            Bucket::Hour => 3_600,
            Bucket::Day => 86_400,
        }
    }

    /// The start of the bucket holding `at`.
    fn start(self, at: OffsetDateTime) -> OffsetDateTime {
        let seconds = at.unix_timestamp().div_euclid(self.seconds()) * self.seconds();
        OffsetDateTime::from_unix_timestamp(seconds).unwrap_or(at)
    }

    fn label(self, at: OffsetDateTime) -> String {
        let day = format!(
            "{:04}-{:02}-{:02}",
            at.year(),
            u8::from(at.month()),
            at.day()
        );
        match self {
            Bucket::Hour => format!("{day} {:02}:00", at.hour()),
            Bucket::Day => day,
        }
    }
}

/// One row: a bucket's start and its counts summed.
#[derive(Debug)]
struct Row {
    start: OffsetDateTime,
    counts: UsageHour,
}

/// Runs `keygate keys usage`.
pub(crate) async fn run(database: &Database, args: UsageArgs) -> Result<ExitCode, Failure> {
    let back = parse_duration(&args.since).map_err(|e| Failure::new(format!("--since: {e}")))?;
    let bucket = if args.daily || (!args.hourly && back > HOURLY_UP_TO) {
        Bucket::Day
    } else {
        Bucket::Hour
    };
    let now = OffsetDateTime::now_utc();
    let since = now - back;
    let gate = database.gate(KeyText::Untouched).await?;
    let hours = gate.usage(&args.key_id, since).await?;
    let mut out = io::stdout().lock();
    if args.json {
        match bucket {
            Bucket::Hour => output::json(&mut out, &hours)?,
            Bucket::Day => output::json(&mut out, &days(&hours))?,
        }
    } else {
        table(&mut out, &args.key_id, bucket, since, now, &hours)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Hours summed per UTC day, for the JSON output: `{"day": "2026-11-28T00:00:00Z", ...}`.
fn days(hours: &[UsageHour]) -> Vec<serde_json::Value> {
    let rows = buckets(hours, Bucket::Day, None);
    rows.into_iter()
        .map(|row| {
            let mut value = serde_json::to_value(row.counts).unwrap_or_default();
            if let Some(fields) = value.as_object_mut()
                && let Some(start) = fields.remove("hour")
            {
                fields.insert("day".to_owned(), start);
            }
            value
        })
        .collect()
}

/// `hours` summed per bucket, oldest first; with `span`, every bucket from its start to its end
/// has a row, used or not.
fn buckets(
    hours: &[UsageHour],
    bucket: Bucket,
    span: Option<(OffsetDateTime, OffsetDateTime)>,
) -> Vec<Row> {
    let mut rows: Vec<Row> = Vec::new();
    let push_empty_until = |rows: &mut Vec<Row>, start: OffsetDateTime| {
        let Some((first, _)) = span else { return };
        let mut next = rows.last().map_or(bucket.start(first), |row| {
            row.start + time::Duration::seconds(bucket.seconds())
        });
        while next < start {
            rows.push(Row {
                start: next,
                counts: UsageHour::starting(next),
            });
            next += time::Duration::seconds(bucket.seconds());
        }
    };
    for hour in hours {
        let start = bucket.start(hour.hour);
        if rows.last().is_none_or(|row| row.start != start) {
            push_empty_until(&mut rows, start);
            rows.push(Row {
                start,
                counts: UsageHour::starting(start),
            });
        }
        if let Some(row) = rows.last_mut() {
            row.counts.add(hour);
        }
    }
    if let Some((_, end)) = span {
        push_empty_until(&mut rows, bucket.start(end) + time::Duration::seconds(1));
    }
    rows
}

/// A bar `value / max` of [`BAR_WIDTH`] characters long, in eighths of a character; any use at
/// all shows at least a sliver.
fn bar(value: u64, max: u64) -> String {
    if value == 0 || max == 0 {
        return String::new();
    }
    let eighths = (u128::from(value) * u128::from(BAR_WIDTH * 8)).div_ceil(u128::from(max));
    let eighths = usize::try_from(eighths).unwrap_or(0);
    let mut bar = "█".repeat(eighths / 8);
    bar.push_str(["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"][eighths % 8]);
    bar
}

/// The table: one row per bucket of the period, the counts, and a bar of all presentations.
fn table(
    out: &mut impl Write,
    key_id: &str,
    bucket: Bucket,
    since: OffsetDateTime,
    now: OffsetDateTime,
    hours: &[UsageHour],
) -> io::Result<()> {
    let rows = buckets(hours, bucket, Some((since, now)));
    let (what, width) = match bucket {
        Bucket::Hour => ("HOUR (UTC)", 16),
        Bucket::Day => ("DAY (UTC)", 10),
    };
    writeln!(
        out,
        "{what:<width$}  {:>9}  {:>9}  {:>9}  {:>12}  ALL, SCALED TO THE LARGEST",
        "ADMITTED", "403 SCOPE", "429 LIMIT", "WRONG SECRET"
    )?;
    let max = rows.iter().map(|row| row.counts.total()).max().unwrap_or(0);
    let mut total = UsageHour::starting(since);
    for row in &rows {
        let c = &row.counts;
        total.add(c);
        let line = format!(
            "{:<width$}  {:>9}  {:>9}  {:>9}  {:>12}  {}",
            bucket.label(row.start),
            c.admitted,
            c.insufficient_scope,
            c.rate_limited,
            c.wrong_secret,
            bar(c.total(), max),
        );
        writeln!(out, "{}", line.trim_end())?;
    }
    writeln!(
        out,
        "{:<width$}  {:>9}  {:>9}  {:>9}  {:>12}",
        "TOTAL", total.admitted, total.insufficient_scope, total.rate_limited, total.wrong_secret
    )?;
    if total.wrong_secret > 0 {
        writeln!(
            out,
            "{} presentations of {key_id} had a wrong secret: someone holds the key id and is \
             guessing, or holds a corrupted copy.",
            total.wrong_secret
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::bar;

    #[test]
    fn bars_scale_to_the_largest_value_in_eighths() {
        assert_eq!(bar(0, 10), "");
        assert_eq!(bar(10, 10).chars().count(), 32);
        assert_eq!(bar(5, 10), "█".repeat(16));
        assert_eq!(bar(1, 1000), "▏", "any use shows");
    }
}
