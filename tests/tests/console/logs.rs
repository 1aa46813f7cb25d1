//! The console's log lines: who signed in and what changed, by key id, never a key.

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;

use crate::support::{Console, key_id};

/// A writer appending to a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_session_is_logged_by_key_ids_and_no_key_is_logged() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    // This test's runtime runs on this thread alone, so the subscriber sees all of it.
    let _guard = tracing::subscriber::set_default(subscriber);

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

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
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
