//! `keygate keys audit`: the keys to rotate, revoke or give an expiry, as text for people or
//! JSON for programs, with an exit code for scheduled jobs.

use std::io::{self, Write};
use std::process::ExitCode;

use keygate::duration::parse_duration;
use keygate::hygiene::{AuditPolicy, AuditReport};

use crate::Failure;
use crate::args::AuditArgs;
use crate::database::{Database, KeyText};
use crate::output::{self, terminal_safe};

/// The exit code when something was found.
const FINDINGS: u8 = 1;
/// The exit code when the audit could not be made (a bad argument, an unreachable database).
pub(crate) const COULD_NOT_AUDIT: u8 = 2;

/// Audits every key; exit 0 when nothing is found, [`FINDINGS`] when something is.
pub(crate) async fn audit(database: &Database, args: AuditArgs) -> Result<ExitCode, Failure> {
    let period = |flag: &str, text: &str| {
        parse_duration(text).map_err(|e| Failure::new(format!("{flag}: {e}")))
    };
    let policy = AuditPolicy::default()
        .unused_for(period("--unused-for", &args.unused_for)?)
        .older_than(period("--older-than", &args.older_than)?);
    let gate = database.gate(KeyText::Untouched).await?;
    let report = gate.audit_keys(&policy).await?;
    let mut out = io::stdout().lock();
    if args.json {
        output::json(&mut out, &report)?;
    } else {
        text(&mut out, &report)?;
    }
    Ok(if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(FINDINGS)
    })
}

/// The report for people: a summary line, then per key a heading and one line per finding
/// saying what was found and what to do.
fn text(out: &mut impl Write, report: &AuditReport) -> io::Result<()> {
    let mut skipped = Vec::new();
    for (count, what) in [
        (report.revoked, "revoked"),
        (report.expired, "expired"),
        (report.rotated, "rotated and in their grace period"),
    ] {
        if count > 0 {
            skipped.push(format!("{count} {what}"));
        }
    }
    let skipped = if skipped.is_empty() {
        String::new()
    } else {
        format!(" (not audited: {})", skipped.join(", "))
    };
    writeln!(
        out,
        "audited {} active {}{skipped}; unused for {}, older than {}",
        report.audited,
        plural(report.audited, "key", "keys"),
        report.unused_for,
        report.older_than,
    )?;
    if report.is_clean() {
        return writeln!(out, "no findings");
    }
    writeln!(
        out,
        "{} {} in {} {}:",
        report.finding_count(),
        plural(report.finding_count(), "finding", "findings"),
        report.keys.len(),
        plural(report.keys.len(), "key", "keys"),
    )?;
    for key in &report.keys {
        let owner = if key.owner.is_empty() {
            String::new()
        } else {
            format!(", owner {}", key.owner)
        };
        writeln!(out)?;
        writeln!(
            out,
            "{}",
            terminal_safe(&format!("{} ({}{owner})", key.key_id, key.name))
        )?;
        for finding in &key.findings {
            writeln!(
                out,
                "  {:<15} {}: {}",
                finding.kind.code(),
                terminal_safe(&finding.found),
                terminal_safe(&finding.action)
            )?;
        }
    }
    Ok(())
}

fn plural<'a>(count: usize, one: &'a str, many: &'a str) -> &'a str {
    if count == 1 { one } else { many }
}
