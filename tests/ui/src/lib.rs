//! Compile-time tests of `#[require_api_key]` and `declared_scopes!`: `tests/ui.rs` and
//! `tests/ui_declared.rs` build the cases under `pass/`, `fail/` and `declared/` with trybuild.
//!
//! A crate of their own, with few dev-dependencies, because trybuild builds every
//! dev-dependency of the crate its tests live in before the first case.
