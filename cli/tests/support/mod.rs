//! What the command-line tests share: a temporary SQLite file and running the real binary.

// Each test binary uses only some of these.
#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

pub struct Db(pub PathBuf);

impl Db {
    pub fn new(tag: &str) -> Db {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        Db(std::env::temp_dir().join(format!(
            "keygate-cli-{tag}-{}-{nanos}.db",
            std::process::id()
        )))
    }

    /// A database made with `keygate init`, as every command but `init` needs one to exist.
    pub fn initialised(tag: &str) -> Db {
        let db = Db::new(tag);
        let output = keygate(&db, &["init"], None);
        assert!(output.status.success(), "init: {}", stderr(&output));
        db
    }

    pub fn url(&self) -> String {
        format!("sqlite://{}", self.0.display())
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
    }
}

pub fn keygate(db: &Db, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_keygate"))
        .args(args)
        .env("KEYGATE_DATABASE_URL", db.url())
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run keygate");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Runs a command that must fail with exactly one line on stderr, and returns that line.
pub fn fails(db: &Db, args: &[&str]) -> String {
    let output = keygate(db, args, None);
    let err = stderr(&output);
    assert!(
        !output.status.success(),
        "{args:?} succeeded: {}",
        stdout(&output)
    );
    assert_eq!(err.lines().count(), 1, "{args:?}: not one line: {err}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
    err.trim().to_owned()
}

pub fn create(db: &Db, args: &[&str]) -> (String, String) {
    let output = keygate(db, args, None);
    assert!(output.status.success(), "{}", stderr(&output));
    let out = stdout(&output);
    assert!(out.contains("it will not be shown again"), "{out}");
    let key = out.lines().next().unwrap().trim().to_owned();
    let id = key.split('_').nth(1).unwrap().to_owned();
    (key, id)
}

/// Runs the binary on the database at `url`, with extra environment variables.
pub fn keygate_at(url: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keygate"))
        .args(args)
        .env("KEYGATE_DATABASE_URL", url)
        .env_remove("KEYGATE_MAX_KEY_LIFETIME")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("run keygate")
}
