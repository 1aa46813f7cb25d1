//! Every log line the tests produce, at every level, and every key they mint: no minted secret
//! may ever appear in a log line.

use std::collections::HashSet;
use std::io::Write;
use std::sync::{Mutex, OnceLock};

use super::KeyParts;

/// Everything any test logged.
fn captured() -> &'static Mutex<Vec<u8>> {
    static LOGS: OnceLock<Mutex<Vec<u8>>> = OnceLock::new();
    LOGS.get_or_init(|| Mutex::new(Vec::new()))
}

/// The tracing writer: appends every formatted event to [`captured`].
struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        captured().lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every key any test minted, checked against the logs whenever a test's service is dropped.
fn minted() -> &'static Mutex<HashSet<String>> {
    static KEYS: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    KEYS.get_or_init(|| Mutex::new(HashSet::new()))
}

/// Sends every event, down to TRACE, to the capture. Safe to call any number of times.
pub fn init_logging() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(|| LogWriter)
            .with_ansi(false)
            .init();
    });
}

/// Everything logged so far, by every test in this binary.
pub fn logs() -> String {
    String::from_utf8(captured().lock().unwrap().clone()).unwrap()
}

/// Puts `key` on the list whose secrets must never be logged.
pub(super) fn remember_minted(key: &str) {
    minted().lock().unwrap().insert(key.to_owned());
}

/// Panics if the secret of any key minted so far, by any test, is in the logs.
pub(super) fn assert_no_secret_logged() {
    let logs = logs();
    // Copied out so a failing assertion does not poison the registry for the other tests.
    let keys: Vec<String> = minted().lock().unwrap().iter().cloned().collect();
    for key in &keys {
        let parts = KeyParts::of(key);
        assert!(
            !logs.contains(parts.secret),
            "the secret of key {} reached the logs",
            parts.key_id
        );
    }
}
