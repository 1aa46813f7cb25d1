//! The web console over HTTP, without a browser: one module per concern, all through the
//! cookie-keeping client in `support`.
//!
//! - `sessions`: signing in, the session cookie, signing out, and every way a session ends.
//! - `forms`: create, rotate and revoke through the forms; CSRF; the privilege rule; bad input.
//! - `pages`: the headers every answer carries, escaping, list filters, the usage chart, audit.
//! - `logs`: who signed in and what changed, by key id, never a key.

mod forms;
mod logs;
mod pages;
mod sessions;
mod support;
