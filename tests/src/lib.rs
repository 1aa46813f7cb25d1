//! End-to-end and ui tests of keygate.
