//! End-to-end tests of keygate. The ui tests of the attribute are in `ui/`, a crate of their own.
