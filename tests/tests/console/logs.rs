//! The console's log lines: who signed in and what changed, by key id, never a key.

use std::io::Write;
use std::sync::{Mutex, OnceLock};

use axum::http::StatusCode;

use crate::support::{Console, key_id};

/// Everything logged in this test binary, by any test.
fn captured() -> &'static Mutex<Vec<u8>> {
    static LOGS: OnceLock<Mutex<Vec<u8>>> = OnceLock::new();
    LOGS.get_or_init(|| Mutex::new(Vec::new()))
}

struct Captured;

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        captured().lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_session_is_logged_by_key_ids_and_no_key_is_logged() {
    // Process-wide, so no event of any test thread escapes it.
    let _ = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(|| Captured)
        .with_ansi(false)
        .try_init();

    let mut console = Console::new();
    let pasted = console.signed_in().await;
    let session = console.session_cookie();
    let csrf = console.csrf().await;
    let created = console
        .post(
            "/new",
            &[("csrf", &csrf), ("name", "logged"), ("scope", "items:read")],
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let marker = "id=\"new-key\" readonly value=\"";
    let start = created.body.find(marker).unwrap() + marker.len();
    let new_key = created.body[start..start + 80]
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let id = key_id(&new_key);
    let rotated = console
        .post(&format!("/keys/{id}/rotate"), &[("csrf", &csrf)])
        .await;
    assert_eq!(rotated.status, StatusCode::CREATED);
    console.post("/sign-out", &[("csrf", &csrf)]).await;

    let logs = String::from_utf8(captured().lock().unwrap().clone()).unwrap();
    let session_id = key_id(&session);
    for line in [
        "console: signed in",
        "console: key changed",
        "console: signed out",
    ] {
        assert!(logs.contains(line), "{line} missing from {logs}");
    }
    assert!(logs.contains(&key_id(&pasted)) && logs.contains(&session_id) && logs.contains(&id));
    assert!(
        logs.contains("action=\"created\"") && logs.contains("action=\"rotated\""),
        "{logs}"
    );
    for secret in [&pasted, &session, &new_key, &csrf] {
        assert!(
            !logs.contains(secret.as_str()),
            "a secret was logged: {logs}"
        );
    }
}
