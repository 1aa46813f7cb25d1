//! The OpenAPI 3.1 validator (PyPI `openapi-spec-validator`), run on a document by the test
//! binaries that check one.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

/// Asserts that `doc` is valid OpenAPI 3.1, when the validator is installed. It is required with
/// `KEYGATE_TEST_REQUIRE_SERVICES=1`; otherwise one line says how to install it.
pub fn assert_valid_openapi(doc: &Value) {
    let required = std::env::var("KEYGATE_TEST_REQUIRE_SERVICES").is_ok_and(|v| v == "1");
    let available = Command::new("python3")
        .args(["-c", "import openapi_spec_validator"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        assert!(
            !required,
            "KEYGATE_TEST_REQUIRE_SERVICES=1 but openapi-spec-validator is not installed: python3 -m pip install openapi-spec-validator"
        );
        println!(
            "skipping OpenAPI validation: python3 -m pip install openapi-spec-validator to enable it"
        );
        return;
    }
    // One file per call: the tests of a binary run at once, and may validate at the same time.
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    let file = std::env::temp_dir().join(format!(
        "keygate-openapi-{}-{}.json",
        std::process::id(),
        CALLS.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&file, serde_json::to_vec_pretty(doc).unwrap()).unwrap();
    let output = Command::new("python3")
        .args(["-m", "openapi_spec_validator", "--schema", "3.1"])
        .arg(&file)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&file);
    assert!(
        output.status.success(),
        "not valid OpenAPI 3.1:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
