//! End-to-end tests of keygate. The ui tests of the attribute are in `ui/`, a crate of their own.

/// The README, as a user reads it: every ```rust block in it is compiled, and run unless it is
/// marked `no_run`, by `cargo test` (alone: `cargo test -p keygate-tests --doc`). The blocks see
/// this crate's dev-dependencies, which hold what the README's `[dependencies]` lines name. A
/// block added to any section is compiled too; `tests/tests/readme.rs` refuses blocks that would
/// escape (`ignore`, or a fence without a language).
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
