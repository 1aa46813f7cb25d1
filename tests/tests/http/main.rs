//! End-to-end tests of the HTTP contract, over a real TCP socket: one test binary, one module per
//! behaviour, all going through the harness in `support`.
//!
//! - `credentials`: where a key is read from, and two keys in one request.
//! - `rejections`: problem+json with a stable `code` for every way a key is turned away.
//! - `access`: scopes, public and unknown routes, authentication before the body.
//! - `route_layer`, `extractors`: keygate on a router of one's own.
//! - `secrets`: no secret in a response, a `Debug` output or a log line.
//! - `usage`: last-used times recorded in batches.
//! - `rate_limits`: 429 with `Retry-After` and the rate-limit headers; what spends a budget.

#[path = "../sql_support/mod.rs"]
mod sql_support;

mod access;
mod credentials;
mod extractors;
mod rate_limits;
mod rejections;
mod route_layer;
mod secrets;
mod support;
mod usage;
