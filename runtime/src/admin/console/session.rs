//! Console sessions: the session key in its cookie, verified on every request, and the CSRF
//! token of its forms.

use std::sync::Arc;

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use super::Config;
use super::html::{Base, Fields, Header, csrf_field, page, problem, respond};
use crate::record::KeyState;
use crate::scope::Requirement;
use crate::{ApiKey, KeyGate};

/// The metadata entry naming, on a session key, the key that signed in.
pub(crate) const SESSION_OF: &str = crate::record::CONSOLE_SESSION_OF;
/// The name of every session key.
pub(crate) const SESSION_NAME: &str = "console session";

/// A request from a signed-in person: the gate, the console, and the verified session.
pub(crate) struct SignedIn {
    pub(crate) gate: KeyGate,
    pub(crate) base: Base,
    pub(crate) session: ApiKey,
    /// The key that signed in, as it is now: what the session may give is bounded by its rate
    /// limit and its expiry (the session's own expiry is the console's, not a privilege).
    pub(crate) parent: crate::record::KeyRecord,
    /// The token every form of this session carries.
    pub(crate) csrf: String,
}

impl SignedIn {
    /// What the page header shows and its sign-out form needs.
    pub(crate) fn header(&self) -> Header<'_> {
        Header {
            owner: self.session.owner(),
            signed_in_with: self
                .session
                .metadata()
                .get(SESSION_OF)
                .map_or("", String::as_str),
            csrf: &self.csrf,
        }
    }

    /// A page of this session, with its header.
    pub(crate) fn page(
        &self,
        status: StatusCode,
        title: &str,
        body: &str,
        script: bool,
    ) -> Response {
        respond(
            status,
            page(&self.base, title, Some(&self.header()), body, script),
        )
    }

    /// Logs a change made in this session: the key's id, the session's, never a key.
    pub(crate) fn log(&self, action: &'static str, key_id: &str) {
        tracing::info!(
            target: "keygate",
            key_id,
            session = self.session.key_id(),
            action,
            "console: key changed"
        );
    }

    /// Refuses a submitted form that does not carry this session's token; nothing is done then.
    pub(crate) fn check_form(
        &self,
        form: Result<Form<Vec<(String, String)>>, FormRejection>,
    ) -> Result<Fields, Response> {
        let fields = match form {
            Ok(Form(fields)) => Fields(fields),
            Err(rejection) => {
                return Err(problem(
                    &self.base,
                    rejection.status(),
                    "Not a form",
                    "The request is not a form this console sent; nothing was changed.",
                ));
            }
        };
        let sent = fields.get("csrf").unwrap_or_default();
        if bool::from(sent.as_bytes().ct_eq(self.csrf.as_bytes())) {
            Ok(fields)
        } else {
            Err(forged(&self.base))
        }
    }
}

/// The answer to a form without the right CSRF token.
fn forged(base: &Base) -> Response {
    problem(
        base,
        StatusCode::FORBIDDEN,
        "Form refused",
        "This form was not sent from a page of your console session (its CSRF token is missing \
         or wrong), so nothing was changed. Reload the page and try again.",
    )
}

impl<S> FromRequestParts<S> for SignedIn
where
    KeyGate: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let gate = KeyGate::from_ref(state);
        let config = config(parts);
        let base = Base::of(parts);
        refuse_plain_http(&gate, parts, &base)?;
        let Some(presented) = cookie(&parts.headers, &config.cookie_name) else {
            return Err(see_other(&base.url("/sign-in"), HeaderMap::new()));
        };
        let ended = |why: &str| {
            let mut headers = HeaderMap::new();
            clear_cookie(&mut headers, &config.cookie_name, &base);
            super::sign_in::sign_in_page(&config, &base, StatusCode::UNAUTHORIZED, why, headers)
        };
        let scopes = [config.scope.as_str()];
        let session = match gate
            .verify_console_session(presented, Requirement::all(&scopes))
            .await
        {
            Ok(session) => session,
            // Not the session's end: the person may go on once the gate can answer again.
            Err(rejection)
                if matches!(
                    rejection.status(),
                    StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
                ) =>
            {
                return Err(problem(
                    &base,
                    rejection.status(),
                    "Try again shortly",
                    &format!(
                        "The session could not be checked just now ({}); nothing was changed.",
                        rejection.code()
                    ),
                ));
            }
            Err(rejection) => {
                return Err(ended(&format!(
                    "Your console session has ended ({}). Sign in again.",
                    rejection.code()
                )));
            }
        };
        // Only a session minted here is a session: a pasted key never rides in the cookie.
        let Some(parent) = session.metadata().get(SESSION_OF) else {
            return Err(ended(
                "The cookie does not hold a console session. Sign in.",
            ));
        };
        if session.name() != SESSION_NAME {
            return Err(ended(
                "The cookie does not hold a console session. Sign in.",
            ));
        }
        // Revoking (or the expiry of) the key that signed in ends its sessions too, and so
        // does taking from it a scope the session copied.
        let parent = match gate.get_key(parent).await {
            Ok(record) if record.state_at(OffsetDateTime::now_utc()) != KeyState::Active => {
                return Err(ended(
                    "The key you signed in with is no longer active, so its session has ended.",
                ));
            }
            Ok(record)
                if crate::admin::grant_beyond(&gate, &record.scopes, session.scopes())
                    .is_some() =>
            {
                return Err(ended(
                    "The key you signed in with no longer holds every scope of this session, so \
                     the session has ended.",
                ));
            }
            Ok(record) => record,
            Err(crate::KeyError::NotFound(_)) => {
                return Err(ended(
                    "The key you signed in with is no longer active, so its session has ended.",
                ));
            }
            Err(error) => return Err(super::html::key_error(&base, &error)),
        };
        let csrf = csrf_token(presented);
        Ok(SignedIn {
            gate,
            base,
            session,
            parent,
            csrf,
        })
    }
}

/// The console's configuration, which the router puts in every request.
pub(super) fn config(parts: &Parts) -> Arc<Config> {
    parts
        .extensions
        .get::<Arc<Config>>()
        .cloned()
        .unwrap_or_else(|| unreachable!("the console router adds its configuration"))
}

/// A session's CSRF token: an HMAC keyed by the session key, so only a holder of the cookie
/// (which scripts cannot read) can know it, every instance of the service computes the same,
/// and it dies with the session.
fn csrf_token(session_key: &str) -> String {
    let mut mac = <Hmac<Sha256>>::new_from_slice(session_key.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    mac.update(b"keygate console csrf");
    crate::hash::hex(&mac.finalize().into_bytes())
}

/// Refuses a request the gate would refuse for coming over plain HTTP, before a key is read.
pub(super) fn refuse_plain_http(
    gate: &KeyGate,
    parts: &Parts,
    base: &Base,
) -> Result<(), Response> {
    match &gate.inner.https {
        Some(https) if https.check(parts).is_err() => Err(problem(
            base,
            StatusCode::FORBIDDEN,
            "HTTPS required",
            "The console accepts keys and sessions over HTTPS only.",
        )),
        _ => Ok(()),
    }
}

/// The value of the cookie `name`, if the request carries it.
pub(super) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

pub(super) fn set_cookie(
    headers: &mut HeaderMap,
    name: &str,
    value: &str,
    base: &Base,
    max_age: u64,
) {
    let cookie = format!(
        "{name}={value}; Path={}; Max-Age={max_age}; HttpOnly; Secure; SameSite=Strict",
        base.cookie_path()
    );
    if let Ok(cookie) = HeaderValue::try_from(cookie) {
        headers.append(header::SET_COOKIE, cookie);
    }
}

pub(super) fn clear_cookie(headers: &mut HeaderMap, name: &str, base: &Base) {
    set_cookie(headers, name, "", base, 0);
}

/// A redirect to `location` that the browser follows with a GET.
pub(crate) fn see_other(location: &str, mut headers: HeaderMap) -> Response {
    if let Ok(location) = HeaderValue::try_from(location) {
        headers.insert(header::LOCATION, location);
    }
    (StatusCode::SEE_OTHER, headers).into_response()
}

/// A form's CSRF field for this session.
pub(crate) fn csrf(signed_in: &SignedIn) -> String {
    csrf_field(&signed_in.csrf)
}
