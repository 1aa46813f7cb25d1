//! Everything the command line prints: tables, records and messages for people, JSON for
//! programs.
//!
//! Names, owners, scopes and metadata come from the database, where anyone who could create a key
//! chose them. Printed raw, an escape sequence in a name could repaint the screen, and a newline
//! could forge a line of `keygate keys list`; so every human-readable line goes through
//! [`terminal_safe`], and JSON escapes what serde leaves raw.

use std::borrow::Cow;
use std::io::{self, Write};

use keygate::ApiKey;
use keygate::record::KeyView;
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::database::Initialised;

/// Whether `c` can steer a terminal or reorder what it shows: C0 and C1 controls, DEL, and the
/// Unicode bidirectional embeddings, overrides and isolates.
fn steers_terminal(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` with every character that [`steers_terminal`] written as a Rust escape (`\u{1b}`).
pub(crate) fn terminal_safe(text: &str) -> Cow<'_, str> {
    if !text.chars().any(steers_terminal) {
        return Cow::Borrowed(text);
    }
    let mut safe = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if steers_terminal(c) {
            safe.extend(c.escape_unicode());
        } else {
            safe.push(c);
        }
    }
    Cow::Owned(safe)
}

/// A failure, as one line on stderr, whatever the message held.
pub(crate) fn failure(message: &str) {
    let line = message.split_whitespace().collect::<Vec<_>>().join(" ");
    eprintln!("keygate: error: {}", terminal_safe(&line));
}

/// A usage mistake: clap's message without its usage block, as one line on stderr.
pub(crate) fn usage_failure(error: &clap::Error) {
    let text = error.render().to_string();
    let message: Vec<&str> = text
        .lines()
        .take_while(|line| !line.starts_with("Usage:"))
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    let message = message.join(" ");
    let message = message.strip_prefix("error: ").unwrap_or(&message);
    failure(&format!("{message} (see keygate --help)"));
}

/// `value` as pretty JSON. serde escapes C0 controls; DEL, C1 and the bidirectional controls are
/// escaped here as well (`\u009b`), which reads back as the same string.
pub(crate) fn json(out: &mut impl Write, value: &impl Serialize) -> io::Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(io::Error::other)?;
    let mut safe = String::with_capacity(text.len());
    for c in text.chars() {
        // A raw newline is the pretty printer's own: serde escaped any inside a string.
        if c != '\n' && steers_terminal(c) {
            safe.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            safe.push(c);
        }
    }
    writeln!(out, "{safe}")
}

/// A key just created or rotated in: the key alone on the first line, then what it is.
pub(crate) fn created(out: &mut impl Write, view: &KeyView, key: &str) -> io::Result<()> {
    let owner = if view.owner.is_empty() {
        "-"
    } else {
        &view.owner
    };
    writeln!(out, "{key}")?;
    writeln!(out)?;
    writeln!(
        out,
        "{}",
        terminal_safe(&format!(
            "Created key {} ({}, owner {owner}), scopes: {}, expires: {}, rate limit: {}.",
            view.key_id,
            view.name,
            view.scopes.join(" "),
            expiry(view.expires_at),
            rate_limit(view)
        ))
    )?;
    writeln!(
        out,
        "Store the key now: it will not be shown again (only its hash is kept)."
    )
}

/// When the key replaced by a rotation stops working.
pub(crate) fn rotated_out(
    out: &mut impl Write,
    old_key_id: &str,
    old_expires_at: Option<OffsetDateTime>,
) -> io::Result<()> {
    writeln!(
        out,
        "the old key {} stops working at {}",
        terminal_safe(old_key_id),
        expiry(old_expires_at)
    )
}

/// A key whose rate limit was just set or removed.
pub(crate) fn limit_set(out: &mut impl Write, view: &KeyView) -> io::Result<()> {
    writeln!(
        out,
        "rate limit of {}: {}",
        terminal_safe(&view.key_id),
        rate_limit(view)
    )
}

/// A key whose expiry was just set or removed.
pub(crate) fn expiry_set(out: &mut impl Write, view: &KeyView) -> io::Result<()> {
    writeln!(
        out,
        "{} expires: {}",
        terminal_safe(&view.key_id),
        expiry(view.expires_at)
    )
}

/// A key's own rate limit, or `none`.
fn rate_limit(view: &KeyView) -> String {
    view.rate_limit
        .map_or_else(|| "none".to_owned(), |limit| limit.to_string())
}

/// A key just revoked.
pub(crate) fn revoked(out: &mut impl Write, key_id: &str) -> io::Result<()> {
    writeln!(out, "revoked {}", terminal_safe(key_id))
}

/// One key's record, a labelled line per field.
pub(crate) fn record(out: &mut impl Write, view: &KeyView) -> io::Result<()> {
    let rows = [
        ("key id", view.key_id.clone()),
        ("name", view.name.clone()),
        ("owner", view.owner.clone()),
        ("state", view.state.to_string()),
        ("scopes", view.scopes.join(" ")),
        ("created", timestamp(view.created_at)),
        ("expires", expiry(view.expires_at)),
        ("rate limit", rate_limit(view)),
        ("revoked", moment(view.revoked_at)),
        ("last used", moment(view.last_used_at)),
        (
            "rotated from",
            view.rotated_from.clone().unwrap_or("-".into()),
        ),
        ("rotated to", view.rotated_to.clone().unwrap_or("-".into())),
    ];
    for (label, value) in rows {
        writeln!(out, "{:<13} {}", format!("{label}:"), terminal_safe(&value))?;
    }
    // Only a revocation that said why has these lines; the URL and source came from whoever
    // reported the key, so they are escaped like everything else.
    if let Some(reason) = &view.revocation {
        let found = [
            ("reason", Some(&reason.kind)),
            ("found at", reason.url.as_ref()),
            ("found in", reason.source.as_ref()),
        ];
        for (label, value) in found {
            if let Some(value) = value {
                writeln!(out, "{:<13} {}", format!("{label}:"), terminal_safe(value))?;
            }
        }
    }
    for (key, value) in &view.metadata {
        let label = format!("meta {}:", terminal_safe(key));
        writeln!(out, "{label:<13} {}", terminal_safe(value))?;
    }
    Ok(())
}

/// The state, and for a key revoked with a reason the reason's kind: `revoked (leaked)`.
fn state(view: &KeyView) -> String {
    match &view.revocation {
        Some(reason) if view.revoked_at.is_some() => format!("{} ({})", view.state, reason.kind),
        _ => view.state.to_string(),
    }
}

/// Keys as a table, a line per key, or `no keys`.
pub(crate) fn table(out: &mut impl Write, views: &[KeyView]) -> io::Result<()> {
    if views.is_empty() {
        return writeln!(out, "no keys");
    }
    let header = [
        "KEY ID",
        "NAME",
        "OWNER",
        "STATE",
        "SCOPES",
        "RATE LIMIT",
        "EXPIRES",
        "LAST USED",
    ];
    let rows: Vec<[String; 8]> = views
        .iter()
        .map(|view| {
            [
                view.key_id.clone(),
                view.name.clone(),
                view.owner.clone(),
                state(view),
                view.scopes.join(","),
                rate_limit(view),
                expiry(view.expires_at),
                moment(view.last_used_at),
            ]
            .map(|cell| terminal_safe(&cell).into_owned())
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut line = |cells: &[&str]| {
        let text: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        writeln!(out, "{}", text.join("  ").trim_end())
    };
    line(&header)?;
    for row in &rows {
        line(&row.each_ref().map(String::as_str))?;
    }
    Ok(())
}

/// A key that verified, with what it is.
pub(crate) fn valid(out: &mut impl Write, identity: &ApiKey) -> io::Result<()> {
    writeln!(out, "valid")?;
    writeln!(out, "key id: {}", terminal_safe(identity.key_id()))?;
    writeln!(out, "name:   {}", terminal_safe(identity.name()))?;
    writeln!(out, "owner:  {}", terminal_safe(identity.owner()))?;
    writeln!(
        out,
        "scopes: {}",
        terminal_safe(&identity.scopes().join(" "))
    )
}

/// A key that did not verify, with the rejection's code.
pub(crate) fn invalid(out: &mut impl Write, code: &str) -> io::Result<()> {
    writeln!(out, "invalid ({code})")
}

/// What `keygate init` found and did.
pub(crate) fn initialised(out: &mut impl Write, done: &Initialised) -> io::Result<()> {
    let database = match &done.file {
        Some(path) => format!("key database `{}`", path.display()),
        None => "key database".to_owned(),
    };
    let status = if done.created {
        format!("created the {database}")
    } else {
        format!("the {database} is ready")
    };
    writeln!(out, "{}", terminal_safe(&status))?;
    match &done.prefix {
        Some(prefix) => writeln!(out, "key prefix: {}", terminal_safe(prefix)),
        None => writeln!(
            out,
            "no key prefix recorded yet: the service records its own when it starts, or pass \
             --prefix when creating the first key"
        ),
    }
}

/// RFC 3339, as the key view holds it: UTC, whole seconds.
fn timestamp(at: OffsetDateTime) -> String {
    at.format(&Rfc3339)
        .unwrap_or_else(|_| at.unix_timestamp().to_string())
}

/// An expiry, or `never`.
fn expiry(at: Option<OffsetDateTime>) -> String {
    at.map_or_else(|| "never".to_owned(), timestamp)
}

/// A moment that may not have happened, or `-`.
fn moment(at: Option<OffsetDateTime>) -> String {
    at.map_or_else(|| "-".to_owned(), timestamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_overrides_are_escaped_for_the_terminal() {
        assert_eq!(terminal_safe("\x1b[2J"), "\\u{1b}[2J");
        assert_eq!(terminal_safe("x\nkg_fake"), "x\\u{a}kg_fake");
        assert_eq!(terminal_safe("a\u{7f}\u{9b}b"), "a\\u{7f}\\u{9b}b");
        assert_eq!(terminal_safe("\u{202e}txt.exe"), "\\u{202e}txt.exe");
        assert_eq!(terminal_safe("\u{2066}x\u{2069}"), "\\u{2066}x\\u{2069}");
        assert!(matches!(
            terminal_safe("café ✓ items:read"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn json_escapes_what_serde_leaves_raw_and_reads_back_the_same() {
        let name = "a\u{1b}\u{7f}\u{9b}\u{202e}b";
        let mut out = Vec::new();
        json(&mut out, &serde_json::json!({ "name": name })).unwrap();
        let text = String::from_utf8(out).unwrap();
        let raw = text
            .chars()
            .filter(|&c| c != '\n')
            .find(|&c| steers_terminal(c));
        assert_eq!(raw, None, "{text:?}");
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["name"], name);
    }
}
