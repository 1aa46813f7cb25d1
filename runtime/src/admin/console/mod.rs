//! The web console: server-rendered pages to look at and manage keys, for a person with a
//! browser. No build step and no JavaScript needed: every action is a form, answered by a
//! redirect or a page (the one script only adds a copy button).
//!
//! ```
//! use axum::Router;
//! use keygate::{KeyGate, MemoryStore};
//! use keygate::admin::console::Console;
//!
//! let gate = KeyGate::builder().store(MemoryStore::new()).build();
//! let app: Router = Router::new()
//!     .nest("/admin/console", Console::new("admin").router())
//!     .with_state(gate);
//! # let _ = app;
//! ```
//!
//! # Signing in
//!
//! A person pastes a key holding the console's scope. The console never keeps that key: it mints
//! a *console session*, a keygate key named `console session`, held by the same owner,
//! with the same scopes (never wider), expiring after the session lifetime (30 minutes unless
//! set), and carries it in an `HttpOnly; Secure; SameSite=Strict` cookie scoped to the
//! console's path. Every request verifies that key through the gate, so revoking it, its expiry,
//! revoking the key that signed in, or taking from it a scope the session copied ends the
//! session at once. Sessions are listed with the other keys; signing out revokes the session
//! key. A session key works nowhere but in the console: the gate refuses it as an API key.
//!
//! # Forms
//!
//! Every form that changes something carries a CSRF token derived from the session key (an
//! HMAC keyed by it), so it holds across instances of the service and dies with the session; a
//! POST without it, or with another, is refused (403) and changes nothing. The sign-in form,
//! which has no session yet, carries a random token that must match a `SameSite=Strict` cookie
//! set with the form, so another site cannot sign a browser into someone else's session.
//!
//! Each change is one call of the gate's lifecycle methods (create, rotate, revoke), so it is
//! one conditional write, and a key never grants beyond the session's own scopes
//! ([`grant_beyond`](super::grant_beyond)): not when creating a key, not when rotating one.
//!
//! # What is shown
//!
//! Nothing secret is rendered except a new key, on the page answering its creation or
//! rotation. Every answer carries `Cache-Control: no-store`, a `Content-Security-Policy` that
//! allows only the console's own stylesheet and script, `X-Frame-Options: DENY` and
//! `Referrer-Policy: no-referrer`. Every value a key holds (name, owner, scopes, metadata,
//! revocation reason) is escaped.
//!
//! Signing in, signing out and every change are logged (target `keygate`, level INFO) with the
//! key ids involved and the session's id, never a key.
//!
//! When the gate requires HTTPS ([`KeyGateBuilder::require_https`](crate::KeyGateBuilder::require_https)),
//! the console refuses plain HTTP the same way, before it reads a pasted key or a cookie.

// A refusal is the page that answers the request, built once and returned at once, never
// carried around; boxing it would buy nothing.
#![allow(clippy::result_large_err)]

mod assets;
mod chart;
mod forms;
mod html;
mod pages;
mod session;
mod sign_in;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;
use axum::routing::{get, post};
use axum::{Extension, Router, middleware};

use crate::KeyGate;

/// The web console, configured; [`router`](Self::router) makes the routes a service nests.
///
/// ```
/// use std::time::Duration;
/// use keygate::admin::console::Console;
///
/// let console = Console::new("admin")
///     .session_lifetime(Duration::from_secs(15 * 60))
///     .cookie_name("acme_console");
/// let router: axum::Router<keygate::KeyGate> = console.router();
/// # let _ = router;
/// ```
#[derive(Debug, Clone)]
pub struct Console {
    scope: String,
    session_lifetime: Duration,
    cookie_name: String,
}

/// What the console's handlers share.
#[derive(Debug)]
pub(crate) struct Config {
    /// The scope a key needs to sign in, and each session to stay signed in.
    pub(crate) scope: String,
    pub(crate) session_lifetime: Duration,
    pub(crate) cookie_name: String,
}

impl Console {
    /// A console that admits keys holding `scope`, such as `admin`.
    pub fn new(scope: impl Into<String>) -> Self {
        Console {
            scope: scope.into(),
            session_lifetime: Duration::from_secs(30 * 60),
            cookie_name: "keygate_console".to_owned(),
        }
    }

    /// How long a console session lives; 30 minutes unless set. A session never outlives the
    /// key that signed in, nor the gate's maximum key lifetime.
    pub fn session_lifetime(mut self, lifetime: Duration) -> Self {
        self.session_lifetime = lifetime;
        self
    }

    /// The name of the session cookie; `keygate_console` unless set. The sign-in form's cookie
    /// is this name followed by `_login`. Keep to letters, digits, `_` and `-`: the name goes
    /// into `Set-Cookie` as it is.
    pub fn cookie_name(mut self, name: impl Into<String>) -> Self {
        self.cookie_name = name.into();
        self
    }

    /// The console's routes, for a router whose state gives the [`KeyGate`]. Nest them where
    /// the console should live: links, redirects and the cookie's path follow that prefix.
    pub fn router<S>(self) -> Router<S>
    where
        KeyGate: FromRef<S>,
        S: Clone + Send + Sync + 'static,
    {
        let config = Arc::new(Config {
            scope: self.scope,
            session_lifetime: self.session_lifetime,
            cookie_name: self.cookie_name,
        });
        Router::new()
            .route("/", get(pages::key_list))
            .route(
                "/sign-in",
                get(sign_in::sign_in_form).post(sign_in::sign_in),
            )
            .route("/sign-out", post(sign_in::sign_out))
            .route("/new", get(forms::create_form).post(forms::create))
            .route("/audit", get(pages::audit))
            .route("/keys/{id}", get(pages::key_page))
            .route(
                "/keys/{id}/rotate",
                get(forms::rotate_form).post(forms::rotate),
            )
            .route(
                "/keys/{id}/revoke",
                get(forms::revoke_form).post(forms::revoke),
            )
            .route("/console.css", get(assets::stylesheet))
            .route("/console.js", get(assets::script))
            .fallback(html::not_found)
            .layer(middleware::map_response(html::protect))
            .layer(Extension(config))
    }
}
