//! The pages that only show: the key list, one key, the audit report.

use std::fmt::Write as _;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use time::OffsetDateTime;

use super::chart;
use super::html::{Base, Esc, Fields, problem, when, when_or};
use super::session::SignedIn;
use crate::duration::parse_duration;
use crate::hygiene::{self, AuditPolicy};
use crate::record::{KeyFilter, KeyRecord, KeyState};

/// How many keys of a rotation chain are shown on each side of a key.
const CHAIN_LIMIT: usize = 20;

/// Reads a query string as fields, refusing one that is not a query string.
fn query(
    base: &Base,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Fields, Response> {
    query
        .map(|Query(fields)| Fields(fields))
        .map_err(|rejection| {
            problem(
                base,
                StatusCode::BAD_REQUEST,
                "Bad address",
                &rejection.body_text(),
            )
        })
}

/// Reads a period such as `30d`; a bad one is the person's mistake, named.
pub(crate) fn period(
    base: &Base,
    field: &str,
    text: Option<&str>,
) -> Result<Option<std::time::Duration>, Response> {
    let Some(text) = text else { return Ok(None) };
    parse_duration(text).map(Some).map_err(|error| {
        problem(
            base,
            StatusCode::UNPROCESSABLE_ENTITY,
            "Not a period",
            &format!("{field}: {error}"),
        )
    })
}

fn state_cell(state: KeyState) -> String {
    format!("<span class=\"state-{state}\">{state}</span>")
}

fn scopes(scopes: &[String]) -> String {
    if scopes.is_empty() {
        return "<span class=\"hint\">none</span>".to_owned();
    }
    let list: Vec<String> = scopes
        .iter()
        .map(|scope| format!("<code>{}</code>", Esc(scope)))
        .collect();
    list.join(" ")
}

/// `GET /`: the keys, filtered by owner, state, and how long they went unused.
pub(crate) async fn key_list(
    signed_in: SignedIn,
    params: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, Response> {
    let base = &signed_in.base;
    let params = query(base, params)?;
    let owner = params.get("owner");
    let state = params.get("state").unwrap_or("active");
    let unused = params.get("unused_for");
    let unused_for = period(base, "unused for", unused)?;
    let mut filter = KeyFilter::default();
    if let Some(owner) = owner {
        filter = filter.owner(owner);
    }
    filter = match state {
        "active" => filter.state(KeyState::Active),
        "expired" => filter.state(KeyState::Expired),
        "revoked" => filter.state(KeyState::Revoked),
        "all" => filter,
        other => {
            return Err(problem(
                base,
                StatusCode::BAD_REQUEST,
                "Bad address",
                &format!("state: `{other}` is none of active, expired, revoked, all"),
            ));
        }
    };
    let records = signed_in
        .gate
        .list_keys(&filter)
        .await
        .map_err(|error| super::html::key_error(base, &error))?;
    let now = OffsetDateTime::now_utc();
    let shown: Vec<&KeyRecord> = records
        .iter()
        .filter(|record| unused_for.is_none_or(|p| hygiene::is_unused_for(record, p, now)))
        .collect();
    let mut body = String::new();
    let _ = write!(
        body,
        "<form method=\"get\" action=\"{}\" class=\"filters\">\
         <label>Owner<input name=\"owner\" value=\"{}\"></label>\
         <label>State<select name=\"state\">",
        Esc(&base.url("")),
        Esc(owner.unwrap_or_default())
    );
    for choice in ["active", "expired", "revoked", "all"] {
        let selected = if choice == state { " selected" } else { "" };
        let _ = write!(body, "<option{selected}>{choice}</option>");
    }
    let _ = write!(
        body,
        "</select></label><label>Unused for<input name=\"unused_for\" placeholder=\"30d\" \
         size=\"6\" value=\"{}\"></label><button type=\"submit\">Filter</button></form>\
         <p class=\"hint\">{} key(s).</p><div class=\"scroll\"><table><thead><tr><th>Name</th>\
         <th>Key id</th><th>Owner</th><th>Scopes</th><th>State</th><th>Created</th>\
         <th>Last used</th><th>Expires</th></tr></thead><tbody>",
        Esc(unused.unwrap_or_default()),
        shown.len()
    );
    for record in shown {
        let _ = write!(
            body,
            "<tr><td><a href=\"{}\">{}</a></td><td><code>{}</code></td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            Esc(&base.url(&format!("/keys/{}", record.key_id))),
            Esc(&record.name),
            Esc(&record.key_id),
            Esc(&record.owner),
            scopes(&record.scopes),
            state_cell(record.state_at(now)),
            when(record.created_at),
            when_or(record.last_used_at, "never"),
            when_or(record.expires_at, "never"),
        );
    }
    body.push_str("</tbody></table></div>");
    Ok(signed_in.page(StatusCode::OK, "Keys", &body, false))
}

/// `GET /keys/{id}`: one key's record, rotation chain, revocation and last week's use.
pub(crate) async fn key_page(
    signed_in: SignedIn,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, Response> {
    let base = &signed_in.base;
    let gate = &signed_in.gate;
    let Ok(Path(id)) = id else {
        return Err(problem(
            base,
            StatusCode::BAD_REQUEST,
            "Bad address",
            "Not a key id.",
        ));
    };
    let failed = |error| super::html::key_error(base, &error);
    let record = gate.get_key(&id).await.map_err(failed)?;
    let now = OffsetDateTime::now_utc();
    let usage = gate.usage(&id, chart::start(now)).await.map_err(failed)?;
    let state = record.state_at(now);
    let mut body = String::from("<dl>");
    let mut row = |name: &str, value: String| {
        let _ = write!(body, "<dt>{name}</dt><dd>{value}</dd>");
    };
    row("Name", Esc(&record.name).to_string());
    row("Key id", format!("<code>{}</code>", Esc(&record.key_id)));
    row("Owner", Esc(&record.owner).to_string());
    row("Scopes", scopes(&record.scopes));
    row("State", state_cell(state));
    row("Created", when(record.created_at));
    row("Expires", when_or(record.expires_at, "never"));
    row("Last used", when_or(record.last_used_at, "never"));
    row(
        "Rate limit",
        record.rate_limit.map_or_else(
            || "none of its own".to_owned(),
            |limit| Esc(&limit.to_string()).to_string(),
        ),
    );
    for (key, value) in &record.metadata {
        row(
            "Metadata",
            format!("<code>{}</code> = {}", Esc(key), Esc(value)),
        );
    }
    if let Some(at) = record.revoked_at {
        row("Revoked", when(at));
        let reason = match &record.revocation {
            None => "none given".to_owned(),
            Some(reason) => {
                let mut text = format!("<code>{}</code>", Esc(&reason.kind));
                if let Some(url) = &reason.url {
                    // Shown as text, never as a link: a reporter chose it.
                    let _ = write!(text, " at <code>{}</code>", Esc(url));
                }
                if let Some(source) = &reason.source {
                    let _ = write!(text, " ({})", Esc(source));
                }
                text
            }
        };
        row("Revocation reason", reason);
    }
    body.push_str("</dl>");
    if state == KeyState::Active {
        let _ = write!(
            body,
            "<div class=\"actions\"><a href=\"{}\">Rotate</a><a href=\"{}\">Revoke</a></div>",
            Esc(&base.url(&format!("/keys/{}/rotate", record.key_id))),
            Esc(&base.url(&format!("/keys/{}/revoke", record.key_id))),
        );
    }
    body.push_str("<h2>Rotation chain</h2>");
    body.push_str(&chain(&signed_in, &record).await);
    body.push_str("<h2>Use</h2>");
    body.push_str(&chart::usage_chart(&usage, now));
    Ok(signed_in.page(
        StatusCode::OK,
        &format!("Key {}", record.name),
        &body,
        false,
    ))
}

/// The keys this one replaced and was replaced by, oldest first, each linked.
async fn chain(signed_in: &SignedIn, record: &KeyRecord) -> String {
    let gate = &signed_in.gate;
    let mut before = Vec::new();
    let mut from = record.rotated_from.clone();
    while let Some(id) = from.take().filter(|_| before.len() < CHAIN_LIMIT) {
        match gate.get_key(&id).await {
            Ok(older) => {
                from = older.rotated_from.clone();
                before.push(older);
            }
            Err(_) => break,
        }
    }
    let mut after = Vec::new();
    let mut to = record.rotated_to.clone();
    while let Some(id) = to.take().filter(|_| after.len() < CHAIN_LIMIT) {
        match gate.get_key(&id).await {
            Ok(newer) => {
                to = newer.rotated_to.clone();
                after.push(newer);
            }
            Err(_) => break,
        }
    }
    if before.is_empty() && after.is_empty() {
        return "<p class=\"hint\">Never rotated.</p>".to_owned();
    }
    let now = OffsetDateTime::now_utc();
    let mut list = String::from("<ol>");
    let item = |list: &mut String, key: &KeyRecord, this: bool| {
        let label = format!(
            "<code>{}</code> created {} ({})",
            Esc(&key.key_id),
            when(key.created_at),
            key.state_at(now)
        );
        if this {
            let _ = write!(list, "<li><strong>{label}</strong> (this key)</li>");
        } else {
            let href = signed_in.base.url(&format!("/keys/{}", key.key_id));
            let _ = write!(list, "<li><a href=\"{}\">{label}</a></li>", Esc(&href));
        }
    };
    for key in before.iter().rev() {
        item(&mut list, key, false);
    }
    item(&mut list, record, true);
    for key in &after {
        item(&mut list, key, false);
    }
    list.push_str("</ol>");
    list
}

/// `GET /audit`: the keys to rotate, revoke or give an expiry.
pub(crate) async fn audit(
    signed_in: SignedIn,
    params: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, Response> {
    let base = &signed_in.base;
    let params = query(base, params)?;
    let mut policy = AuditPolicy::default();
    if let Some(unused) = period(base, "unused for", params.get("unused_for"))? {
        policy = policy.unused_for(unused);
    }
    if let Some(older) = period(base, "older than", params.get("older_than"))? {
        policy = policy.older_than(older);
    }
    let report = signed_in
        .gate
        .audit_keys(&policy)
        .await
        .map_err(|error| super::html::key_error(base, &error))?;
    let mut body = String::new();
    let _ = write!(
        body,
        "<form method=\"get\" action=\"{}\" class=\"filters\">\
         <label>Unused for<input name=\"unused_for\" size=\"6\" value=\"{}\"></label>\
         <label>Older than<input name=\"older_than\" size=\"6\" value=\"{}\"></label>\
         <button type=\"submit\">Audit</button></form>\
         <p class=\"hint\">{} active key(s) audited, {} finding(s); {} revoked, {} expired, \
         {} rotated.</p>",
        Esc(&base.url("/audit")),
        Esc(&report.unused_for),
        Esc(&report.older_than),
        report.audited,
        report.finding_count(),
        report.revoked,
        report.expired,
        report.rotated,
    );
    if report.keys.is_empty() {
        body.push_str("<p>Nothing to do.</p>");
    } else {
        body.push_str(
            "<div class=\"scroll\"><table><thead><tr><th>Key</th><th>Owner</th><th>Last used</th>\
             <th>Found</th><th>What to do</th></tr></thead><tbody>",
        );
        for key in &report.keys {
            for finding in &key.findings {
                let _ = write!(
                    body,
                    "<tr><td><a href=\"{}\">{}</a> <code>{}</code></td><td>{}</td><td>{}</td>\
                     <td>{}</td><td>{}</td></tr>",
                    Esc(&base.url(&format!("/keys/{}", key.key_id))),
                    Esc(&key.name),
                    Esc(&key.key_id),
                    Esc(&key.owner),
                    when_or(key.last_used_at, "never"),
                    Esc(&finding.found),
                    Esc(&finding.action),
                );
            }
        }
        body.push_str("</tbody></table></div>");
    }
    Ok(signed_in.page(StatusCode::OK, "Audit", &body, false))
}
