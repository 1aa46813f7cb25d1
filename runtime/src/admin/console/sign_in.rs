//! Signing in with a pasted key, which mints a session, and signing out, which revokes it.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::{Extension, Form};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use super::Config;
use super::html::{Base, Esc, Fields, page, problem, respond};
use super::session::{
    SESSION_NAME, SESSION_OF, SignedIn, clear_cookie, cookie, refuse_plain_http, see_other,
    set_cookie,
};
use crate::record::RevocationReason;
use crate::scope::Requirement;
use crate::{ApiKey, KeyGate, NewKey};

/// The sign-in page, with a fresh login token in its form and its cookie.
pub(super) fn sign_in_page(
    config: &Config,
    base: &Base,
    status: StatusCode,
    message: &str,
    mut headers: HeaderMap,
) -> Response {
    let mut nonce = [0u8; 32];
    if getrandom::fill(&mut nonce).is_err() {
        return problem(
            base,
            StatusCode::INTERNAL_SERVER_ERROR,
            "Cannot sign in",
            "The operating system's random source failed.",
        );
    }
    let nonce = crate::hash::hex(&nonce);
    set_cookie(&mut headers, &login_cookie(config), &nonce, base, 15 * 60);
    let note = if message.is_empty() {
        String::new()
    } else {
        format!("<p class=\"problem\">{}</p>", Esc(message))
    };
    let body = format!(
        "{note}<form method=\"post\" action=\"{}\" class=\"stack\">\
         <label for=\"key\">API key holding the <code>{}</code> scope</label>\
         <input id=\"key\" name=\"key\" type=\"password\" autocomplete=\"off\" required>\
         <input type=\"hidden\" name=\"login\" value=\"{nonce}\">\
         <button type=\"submit\">Sign in</button></form>\
         <p class=\"hint\">The key is checked and forgotten: the console signs you in with a \
         session of its own that ends after {} or when you sign out.</p>",
        Esc(&base.url("/sign-in")),
        Esc(&config.scope),
        crate::duration::format_duration(config.session_lifetime),
    );
    let mut response = respond(status, page(base, "Sign in", None, &body, false));
    response.headers_mut().extend(headers);
    response
}

fn login_cookie(config: &Config) -> String {
    format!("{}_login", config.cookie_name)
}

/// `GET /sign-in`.
pub(crate) async fn sign_in_form(
    State(gate): State<KeyGate>,
    Extension(config): Extension<Arc<Config>>,
    parts: Parts,
) -> Response {
    let base = Base::of(&parts);
    // No form to paste a key into where the key would cross the network in the clear.
    if let Err(refused) = refuse_plain_http(&gate, &parts, &base) {
        return refused;
    }
    sign_in_page(&config, &base, StatusCode::OK, "", HeaderMap::new())
}

/// `POST /sign-in`: verifies the pasted key, mints the session, sets its cookie.
pub(crate) async fn sign_in(
    State(gate): State<KeyGate>,
    Extension(config): Extension<Arc<Config>>,
    parts: Parts,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let base = Base::of(&parts);
    if let Err(refused) = refuse_plain_http(&gate, &parts, &base) {
        return refused;
    }
    let again =
        |status, message: &str| sign_in_page(&config, &base, status, message, HeaderMap::new());
    let Ok(Form(fields)) = form else {
        return again(StatusCode::BAD_REQUEST, "Paste a key to sign in.");
    };
    let fields = Fields(fields);
    let expected = cookie(&parts.headers, &login_cookie(&config)).unwrap_or_default();
    let sent = fields.get("login").unwrap_or_default();
    if expected.is_empty() || !bool::from(sent.as_bytes().ct_eq(expected.as_bytes())) {
        return again(
            StatusCode::FORBIDDEN,
            "This sign-in form was not sent from this console's page, or it is too old. Try again.",
        );
    }
    let Some(pasted) = fields.get("key") else {
        return again(StatusCode::BAD_REQUEST, "Paste a key to sign in.");
    };
    let scopes = [config.scope.as_str()];
    let key = match gate.verify_for(pasted, Requirement::all(&scopes)).await {
        Ok(key) => key,
        Err(rejection) if rejection.code() == "insufficient_scope" => {
            let message = format!(
                "This key does not hold the `{}` scope the console needs.",
                config.scope
            );
            return again(StatusCode::FORBIDDEN, &message);
        }
        Err(rejection)
            if matches!(
                rejection.status(),
                StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
            ) =>
        {
            let message = format!(
                "The key could not be checked just now ({}); try again shortly.",
                rejection.code()
            );
            return again(rejection.status(), &message);
        }
        Err(rejection) => {
            let message = format!("This key was not accepted ({}).", rejection.code());
            return again(StatusCode::UNAUTHORIZED, &message);
        }
    };
    let created = match gate
        .create_console_session(session_for(&gate, &config, &key))
        .await
    {
        Ok(created) => created,
        Err(error) => return super::html::key_error(&base, &error),
    };
    let mut headers = HeaderMap::new();
    // Rounded up, so a session of a second or less is not a cookie deleted on arrival.
    let lifetime = created.record.expires_at.map_or(0, |at| {
        ((at - OffsetDateTime::now_utc()).whole_milliseconds().max(0) + 999) / 1000
    });
    set_cookie(
        &mut headers,
        &config.cookie_name,
        created.key.expose(),
        &base,
        u64::try_from(lifetime).unwrap_or(0),
    );
    clear_cookie(&mut headers, &login_cookie(&config), &base);
    // Who worked in the console, and as which session: ids only, never a key.
    tracing::info!(
        target: "keygate",
        key_id = key.key_id(),
        session = created.record.key_id,
        "console: signed in"
    );
    see_other(&base.url(""), headers)
}

/// The session key for `key`: its owner and scopes, the session lifetime, never past `key`'s
/// own expiry nor the gate's maximum lifetime.
fn session_for(gate: &KeyGate, config: &Config, key: &ApiKey) -> NewKey {
    let mut lifetime = config.session_lifetime;
    if let Some(max) = gate.max_key_lifetime() {
        lifetime = lifetime.min(max);
    }
    if let Some(expires) = key.expires_at() {
        let left = (expires - OffsetDateTime::now_utc()).whole_seconds().max(1);
        lifetime = lifetime.min(Duration::from_secs(left.unsigned_abs()));
    }
    // Not its rate limit: a session out of budget could not even sign out. What the session
    // may give is bounded by the signing key's limit and expiry all the same.
    NewKey::new(SESSION_NAME)
        .owner(key.owner())
        .scopes(key.scopes().iter().cloned())
        .metadata(SESSION_OF, key.key_id())
        .expires_in(lifetime.max(Duration::from_secs(1)))
}

/// `POST /sign-out`: revokes the session key and forgets the cookie.
pub(crate) async fn sign_out(
    signed_in: SignedIn,
    Extension(config): Extension<Arc<Config>>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    if let Err(refused) = signed_in.check_form(form) {
        return refused;
    }
    let reason = RevocationReason::new("signed_out");
    if let Err(error) = signed_in
        .gate
        .revoke_key_with_reason(signed_in.session.key_id(), reason)
        .await
    {
        return super::html::key_error(&signed_in.base, &error);
    }
    let mut headers = HeaderMap::new();
    clear_cookie(&mut headers, &config.cookie_name, &signed_in.base);
    tracing::info!(
        target: "keygate",
        session = signed_in.session.key_id(),
        "console: signed out"
    );
    see_other(&signed_in.base.url("/sign-in"), headers)
}
