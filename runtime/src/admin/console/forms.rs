//! The pages that change keys: create, rotate, revoke. Each GET shows a form; each POST checks
//! the form's CSRF token first, then makes one lifecycle call of the gate.

use std::fmt::Write as _;

use axum::Form;
use axum::extract::Path;
use axum::extract::rejection::{FormRejection, PathRejection};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::html::{Base, Esc, problem};
use super::pages::period;
use super::session::{SignedIn, csrf, see_other};
use crate::CreatedKey;
use crate::limit::RateLimit;
use crate::record::{KeyRecord, NewKey, RevocationReason};

type FormBody = Result<Form<Vec<(String, String)>>, FormRejection>;

fn key_id(base: &Base, id: Result<Path<String>, PathRejection>) -> Result<String, Response> {
    id.map(|Path(id)| id).map_err(|_| {
        problem(
            base,
            StatusCode::BAD_REQUEST,
            "Bad address",
            "Not a key id.",
        )
    })
}

/// A refusal of something beyond the key that signed in.
fn not_yours(signed_in: &SignedIn, detail: &str) -> Response {
    problem(
        &signed_in.base,
        StatusCode::FORBIDDEN,
        "Not yours to give",
        &format!("{detail} Nothing was changed."),
    )
}

/// Refuses grants the session does not hold itself: a key never mints beyond itself.
fn may_grant(signed_in: &SignedIn, requested: &[String], doing: &str) -> Result<(), Response> {
    match super::super::grant_beyond(&signed_in.gate, signed_in.session.scopes(), requested) {
        Some(grant) => Err(problem(
            &signed_in.base,
            StatusCode::FORBIDDEN,
            "Not yours to grant",
            &format!(
                "The key you signed in with does not hold `{grant}`, so it cannot {doing}. \
                 Nothing was changed."
            ),
        )),
        None => Ok(()),
    }
}

/// `GET /new`.
pub(crate) async fn create_form(signed_in: SignedIn) -> Response {
    let base = &signed_in.base;
    let mut body = String::new();
    let _ = write!(
        body,
        "<form method=\"post\" action=\"{}\" class=\"stack\">{}\
         <label for=\"name\">Name</label><input id=\"name\" name=\"name\" required maxlength=\"128\">\
         <label for=\"owner\">Owner</label><input id=\"owner\" name=\"owner\" value=\"{}\" maxlength=\"128\">",
        Esc(&base.url("/new")),
        csrf(&signed_in),
        Esc(signed_in.session.owner()),
    );
    if let Some(declared) = signed_in.gate.declared_scopes() {
        body.push_str("<fieldset><legend>Scopes</legend>");
        for scope in declared {
            let _ = write!(
                body,
                "<label title=\"{}\"><input type=\"checkbox\" name=\"scope\" value=\"{}\"> <code>{}</code></label>",
                Esc(scope.description),
                Esc(scope.name),
                Esc(scope.name),
            );
        }
        body.push_str("</fieldset>");
    }
    let _ = write!(
        body,
        "<label for=\"grants\">Other grants, separated by spaces (such as <code>items:*</code>)</label>\
         <input id=\"grants\" name=\"grants\">\
         <label for=\"expires_in\">Expires in (such as 90d; empty: never, or when the key you signed in with expires)</label>\
         <input id=\"expires_in\" name=\"expires_in\" size=\"8\">\
         <label for=\"rate_limit\">Rate limit (such as 100/min; empty: none of its own, or that of the key you signed in with)</label>\
         <input id=\"rate_limit\" name=\"rate_limit\" size=\"12\">\
         <button type=\"submit\">Create key</button></form>\
         <p class=\"hint\">You can grant only scopes the key you signed in with holds: {}.</p>",
        signed_in
            .session
            .scopes()
            .iter()
            .map(|scope| format!("<code>{}</code>", Esc(scope)))
            .collect::<Vec<_>>()
            .join(" ")
    );
    signed_in.page(StatusCode::OK, "New key", &body, false)
}

/// `POST /new`: creates the key and shows it, this once.
pub(crate) async fn create(signed_in: SignedIn, form: FormBody) -> Result<Response, Response> {
    let fields = signed_in.check_form(form)?;
    let base = &signed_in.base;
    let name = fields.get("name").unwrap_or_default();
    let owner = fields.get("owner").unwrap_or(signed_in.session.owner());
    let mut scopes: Vec<String> = fields.all("scope").map(str::to_owned).collect();
    for grant in fields.all("grants").flat_map(str::split_whitespace) {
        if !scopes.iter().any(|s| s == grant) {
            scopes.push(grant.to_owned());
        }
    }
    let mut new = NewKey::new(name).owner(owner).scopes(scopes.clone());
    // Bounded by the key that signed in: no key outlives it, or may call faster than it.
    let lifetime = period(base, "expires in", fields.get("expires_in"))?;
    let lifetime =
        crate::admin::lifetime_within(&signed_in.gate, signed_in.parent.expires_at, lifetime)
            .map_err(|detail| not_yours(&signed_in, &detail))?;
    if let Some(lifetime) = lifetime {
        new = new.expires_in(lifetime);
    }
    if let Some(limit) = fields.get("rate_limit") {
        let limit: RateLimit = limit
            .parse()
            .map_err(|error: crate::limit::RateLimitError| {
                problem(
                    base,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Not a rate limit",
                    &format!("rate limit: {error}"),
                )
            })?;
        new = new.rate_limit(limit);
    }
    new.rate_limit =
        crate::admin::limit_for_new(&signed_in.gate, signed_in.parent.rate_limit, new.rate_limit)
            .map_err(|detail| not_yours(&signed_in, &detail))?;
    may_grant(&signed_in, &scopes, "grant it")?;
    let created = signed_in
        .gate
        .create_key(new)
        .await
        .map_err(|error| super::html::key_error(base, &error))?;
    signed_in.log("created", &created.record.key_id);
    Ok(shown_once(&signed_in, "Key created", &created))
}

/// The page that shows a new key, the one time it is shown.
fn shown_once(signed_in: &SignedIn, title: &str, created: &CreatedKey) -> Response {
    let record = &created.record;
    let body = format!(
        "<div class=\"secret\"><label for=\"new-key\">The new key of <strong>{}</strong> \
         (<code>{}</code>). Copy it now: <strong>it will not be shown again.</strong></label>\
         <input id=\"new-key\" readonly value=\"{}\" autocomplete=\"off\">\
         <button type=\"button\" data-copy=\"new-key\" hidden>Copy</button></div>\
         <p><a href=\"{}\">See the key</a></p>",
        Esc(&record.name),
        Esc(&record.key_id),
        Esc(created.key.expose()),
        Esc(&signed_in.base.url(&format!("/keys/{}", record.key_id))),
    );
    signed_in.page(StatusCode::CREATED, title, &body, true)
}

/// A key that can still be changed, or the page saying why not.
async fn active_key(signed_in: &SignedIn, id: &str) -> Result<KeyRecord, Response> {
    signed_in
        .gate
        .get_key(id)
        .await
        .map_err(|error| super::html::key_error(&signed_in.base, &error))
}

fn key_heading(record: &KeyRecord) -> String {
    format!(
        "<p><strong>{}</strong> <code>{}</code>, held by {}</p>",
        Esc(&record.name),
        Esc(&record.key_id),
        Esc(&record.owner)
    )
}

/// `GET /keys/{id}/rotate`.
pub(crate) async fn rotate_form(
    signed_in: SignedIn,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, Response> {
    let id = key_id(&signed_in.base, id)?;
    let record = active_key(&signed_in, &id).await?;
    let body = format!(
        "{}<form method=\"post\" action=\"{}\" class=\"stack\">{}\
         <label for=\"grace\">The old key keeps working for (such as 24h; empty: it stops now)</label>\
         <input id=\"grace\" name=\"grace\" size=\"8\">\
         <button type=\"submit\">Rotate</button></form>\
         <p class=\"hint\">The new key has the same name, owner, scopes and metadata, and is \
         shown once.</p>",
        key_heading(&record),
        Esc(&signed_in
            .base
            .url(&format!("/keys/{}/rotate", record.key_id))),
        csrf(&signed_in),
    );
    Ok(signed_in.page(StatusCode::OK, "Rotate key", &body, false))
}

/// `POST /keys/{id}/rotate`: rotates with the grace asked for and shows the new key, once.
pub(crate) async fn rotate(
    signed_in: SignedIn,
    id: Result<Path<String>, PathRejection>,
    form: FormBody,
) -> Result<Response, Response> {
    let fields = signed_in.check_form(form)?;
    let base = &signed_in.base;
    let id = key_id(base, id)?;
    let grace = period(base, "grace", fields.get("grace"))?.unwrap_or_default();
    let old = active_key(&signed_in, &id).await?;
    // The successor holds the old key's scopes, so the session must be able to grant them; the
    // gate writes the successor only if the key still holds exactly those.
    may_grant(&signed_in, &old.scopes, "rotate a key holding it")?;
    let parent = &signed_in.parent;
    let beyond = crate::admin::limit_beyond(&signed_in.gate, parent.rate_limit, old.rate_limit)
        .or_else(|| {
            crate::admin::successor_outlives(
                &signed_in.gate,
                parent.expires_at,
                &parent.key_id,
                &old,
            )
        });
    if let Some(detail) = beyond {
        return Err(not_yours(&signed_in, &detail));
    }
    let created = signed_in
        .gate
        .rotate_record(&old, grace)
        .await
        .map_err(|error| super::html::key_error(base, &error))?;
    signed_in.log("rotated", &old.key_id);
    Ok(shown_once(&signed_in, "Key rotated", &created))
}

/// `GET /keys/{id}/revoke`: asks for confirmation.
pub(crate) async fn revoke_form(
    signed_in: SignedIn,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, Response> {
    let id = key_id(&signed_in.base, id)?;
    let record = active_key(&signed_in, &id).await?;
    let body = format!(
        "{}<p class=\"problem\">Revoking is immediate and final: every request with this key is \
         refused from now on.</p><form method=\"post\" action=\"{}\" class=\"stack\">{}\
         <label for=\"reason\">Why (optional, such as <code>compromised</code> or \
         <code>no_longer_needed</code>)</label><input id=\"reason\" name=\"reason\" maxlength=\"32\">\
         <button type=\"submit\" class=\"danger\">Revoke this key</button></form>",
        key_heading(&record),
        Esc(&signed_in
            .base
            .url(&format!("/keys/{}/revoke", record.key_id))),
        csrf(&signed_in),
    );
    Ok(signed_in.page(StatusCode::OK, "Revoke key", &body, false))
}

/// `POST /keys/{id}/revoke`: revokes, then shows the key.
pub(crate) async fn revoke(
    signed_in: SignedIn,
    id: Result<Path<String>, PathRejection>,
    form: FormBody,
) -> Result<Response, Response> {
    let fields = signed_in.check_form(form)?;
    let base = &signed_in.base;
    let id = key_id(base, id)?;
    let gate = &signed_in.gate;
    let revoked = match fields.get("reason") {
        Some(reason) => {
            gate.revoke_key_with_reason(&id, RevocationReason::new(reason))
                .await
        }
        None => gate.revoke_key(&id).await,
    };
    let record = revoked.map_err(|error| super::html::key_error(base, &error))?;
    signed_in.log("revoked", &record.key_id);
    Ok(see_other(
        &base.url(&format!("/keys/{}", record.key_id)),
        HeaderMap::new(),
    ))
}
