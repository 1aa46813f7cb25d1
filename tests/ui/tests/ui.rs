//! Compile-time behaviour of `#[require_api_key]`: what builds, and what a mistake reports.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("pass/*.rs");
    t.compile_fail("fail/*.rs");
}
