//! Compile-time checks against a scope declaration.
//!
//! trybuild compiles the cases in a project it generates, whose `Cargo.toml` has none of this
//! crate's `[package.metadata]`. So each group of cases runs in a child process of this test
//! with `KEYGATE_SCOPES_MANIFEST` naming the declaration it is checked against (the attribute
//! reads that file for crates that declare nothing themselves):
//!
//! - `declared/pass` and `declared/fail` against `declared/scopes.toml`;
//! - `declared/malformed/<case>.rs` against `declared/malformed/<case>.toml`;
//! - `declared/none` without a declaration.

use std::path::{Path, PathBuf};
use std::process::Command;

const DECLARATION: &str = "KEYGATE_SCOPES_MANIFEST";
const GROUP: &str = "KEYGATE_UI_DECLARED_GROUP";
const TEST: &str = "declared_scopes_ui";

#[test]
fn declared_scopes_ui() {
    match std::env::var(GROUP) {
        Ok(group) => run_group(&group),
        Err(_) => {
            for (group, declaration) in groups() {
                run_child(&group, declaration.as_deref());
            }
        }
    }
}

fn ui_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("declared")
}

/// Each group and the declaration it is compiled against.
fn groups() -> Vec<(String, Option<PathBuf>)> {
    let dir = ui_dir();
    let mut groups = vec![
        ("declared".to_owned(), Some(dir.join("scopes.toml"))),
        ("none".to_owned(), None),
    ];
    let mut malformed: Vec<PathBuf> = std::fs::read_dir(dir.join("malformed"))
        .expect("declared/malformed is readable")
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .collect();
    malformed.sort();
    for declaration in malformed {
        let case = declaration
            .file_stem()
            .expect("file name")
            .to_string_lossy();
        groups.push((format!("malformed/{case}"), Some(declaration.clone())));
    }
    groups
}

/// Runs this test again in a child process, for one group, with its declaration.
fn run_child(group: &str, declaration: Option<&Path>) {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut child = Command::new(exe);
    child
        .args([TEST, "--exact", "--nocapture", "--test-threads=1"])
        .env(GROUP, group)
        .env(
            DECLARATION,
            declaration.map(Path::as_os_str).unwrap_or_default(),
        );
    let output = child.output().expect("the test binary runs");
    assert!(
        output.status.success(),
        "ui cases of group `{group}` failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn run_group(group: &str) {
    let t = trybuild::TestCases::new();
    match group {
        "declared" => {
            t.pass("declared/pass/*.rs");
            t.compile_fail("declared/fail/*.rs");
        }
        "none" => t.compile_fail("declared/none/*.rs"),
        malformed => t.compile_fail(format!("declared/{malformed}.rs")),
    }
}
