//! The example binary as a user starts it: what it prints, and what it says when a setting is
//! wrong (which setting, what was expected, never a password).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

const README: &str = include_str!("../../README.md");

/// A directory of its own under the system's temporary directory, removed at the end.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "keygate-example-{test}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The example with `vars` set and every other `KEYGATE_` setting of the test's environment
/// removed, run in `dir`.
fn example(dir: &TempDir, vars: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_keygate-example"));
    command.current_dir(&dir.0);
    for (name, _) in std::env::vars() {
        if name.starts_with("KEYGATE_") || name == "RUST_LOG" {
            command.env_remove(name);
        }
    }
    command.envs(vars.iter().copied());
    command
}

/// Runs the example, which must fail at start-up; returns its stderr.
fn start_up_failure(vars: &[(&str, &str)]) -> String {
    let dir = TempDir::new("failure");
    let Output { status, stderr, .. } = example(&dir, vars).output().unwrap();
    let stderr = String::from_utf8(stderr).unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    stderr
}

/// A running example, killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the example on a fresh SQLite file and a free port; returns it, the address it
/// listens on, and the lines it printed up to the last demo key.
fn start(dir: &TempDir, vars: &[(&str, &str)]) -> (Running, String, Vec<String>) {
    let mut command = example(dir, vars);
    if !vars.iter().any(|(name, _)| *name == "KEYGATE_ADDR") {
        command.env("KEYGATE_ADDR", "127.0.0.1:0");
    }
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut running = Running(command.spawn().unwrap());
    let mut stdout = BufReader::new(running.0.stdout.take().unwrap()).lines();
    let mut lines = Vec::new();
    for line in stdout.by_ref() {
        let line = line.unwrap();
        // The first curl line follows the demo keys.
        let done = line.starts_with("curl ");
        lines.push(line);
        if done {
            break;
        }
    }
    // Read the rest too: a closed pipe would stop the example at its next line.
    std::thread::spawn(move || stdout.for_each(drop));
    let addr = lines
        .iter()
        .find_map(|line| line.strip_prefix("keygate example listening on http://"))
        .unwrap_or_else(|| panic!("no address among {lines:?}"))
        .to_owned();
    (running, addr, lines)
}

#[test]
fn a_missing_sqlite_directory_is_named() {
    let stderr = start_up_failure(&[("KEYGATE_DATABASE_URL", "sqlite:///no/such/dir/keygate.db")]);
    assert!(
        stderr.contains("SQLite file `/no/such/dir/keygate.db`")
            && stderr.contains("the directory `/no/such/dir` does not exist"),
        "{stderr}"
    );
}

#[test]
fn an_unreachable_postgres_is_named_by_host_and_port_without_its_password() {
    let stderr = start_up_failure(&[(
        "KEYGATE_DATABASE_URL",
        "postgres://keygate:hunter2@127.0.0.1:1/keys",
    )]);
    assert!(stderr.contains("PostgreSQL at 127.0.0.1:1"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "the password leaked: {stderr}");
}

#[test]
fn a_listening_address_that_is_not_one_says_what_is_expected() {
    for bad in ["3000", "localhost", "127.0.0.1:http", "no such host:3000"] {
        let stderr = start_up_failure(&[("KEYGATE_ADDR", bad)]);
        assert!(
            stderr.starts_with(&format!("error: KEYGATE_ADDR: cannot listen on `{bad}`"))
                && stderr.contains("such as 127.0.0.1:3000"),
            "{bad}: {stderr}"
        );
    }
}

#[test]
fn a_host_name_with_a_port_is_resolved() {
    let dir = TempDir::new("hostname");
    let url = format!("sqlite://{}/keys.db", dir.0.display());
    let mut command = example(&dir, &[("KEYGATE_DATABASE_URL", &url)]);
    command
        .env("KEYGATE_ADDR", "localhost:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut running = Running(command.spawn().unwrap());
    let mut first = String::new();
    BufReader::new(running.0.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(
        first.starts_with("keygate example listening on http://127.0.0.1:"),
        "{first}"
    );
}

/// An `export NAME=value    # comment` line as its name and comment; the value (a key) differs
/// on every run, and the README shows it as `demo_…`.
fn name_and_comment(line: &str) -> (String, String) {
    let (name, rest) = line.split_once('=').unwrap();
    let comment = rest.split_once('#').map_or("", |(_, comment)| comment);
    (name.to_owned(), comment.trim().to_owned())
}

#[test]
fn the_demo_key_lines_are_the_ones_the_readme_shows() {
    let dir = TempDir::new("exports");
    let url = format!("sqlite://{}/keys.db", dir.0.display());
    let (_running, _, lines) = start(&dir, &[("KEYGATE_DATABASE_URL", &url)]);
    let printed: Vec<_> = lines
        .iter()
        .filter(|line| line.starts_with("export "))
        .map(|line| name_and_comment(line))
        .collect();
    let shown: Vec<_> = README
        .lines()
        .filter(|line| line.starts_with("export KEYGATE_") && line.contains("=demo_…"))
        .map(name_and_comment)
        .collect();
    assert_eq!(printed.len(), 5, "{lines:?}");
    assert_eq!(printed, shown);
}

#[test]
fn the_log_has_no_colour_codes_when_it_is_not_a_terminal() {
    let dir = TempDir::new("colour");
    let url = format!("sqlite://{}/keys.db", dir.0.display());
    let (mut running, addr, _) = start(&dir, &[("KEYGATE_DATABASE_URL", &url)]);
    // A bad key: the gate logs its rejection at INFO.
    let mut stream = TcpStream::connect(&addr).unwrap();
    write!(
        stream,
        "GET /items HTTP/1.1\r\nHost: {addr}\r\nX-API-Key: demo_bad\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 401"), "{response}");
    let _ = running.0.kill();
    let mut log = String::new();
    running
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(
        log.contains("invalid_api_key"),
        "no rejection logged: {log}"
    );
    assert!(!log.contains('\x1b'), "colour codes in the log: {log:?}");
}

#[test]
fn plain_http_on_a_public_address_needs_a_clear_yes() {
    for no in ["0", "false", "no"] {
        let stderr = start_up_failure(&[
            ("KEYGATE_ADDR", "0.0.0.0:0"),
            ("KEYGATE_ALLOW_PLAIN_HTTP", no),
        ]);
        assert!(
            stderr.contains("refusing to serve plain HTTP on 0.0.0.0"),
            "{no}: {stderr}"
        );
    }
    let stderr = start_up_failure(&[
        ("KEYGATE_ADDR", "0.0.0.0:0"),
        ("KEYGATE_ALLOW_PLAIN_HTTP", "maybe"),
    ]);
    assert!(
        stderr.contains("KEYGATE_ALLOW_PLAIN_HTTP: `maybe` is neither 1 nor 0"),
        "{stderr}"
    );
}

/// On every address (`0.0.0.0`) the printed curl lines name one a client can reach.
#[test]
fn the_curl_lines_name_an_address_a_client_can_reach() {
    let dir = TempDir::new("unspecified");
    let url = format!("sqlite://{}/keys.db", dir.0.display());
    let (_running, _, lines) = start(
        &dir,
        &[
            ("KEYGATE_DATABASE_URL", &url),
            ("KEYGATE_ADDR", "0.0.0.0:0"),
            ("KEYGATE_ALLOW_PLAIN_HTTP", "1"),
        ],
    );
    let curl = lines.last().unwrap();
    assert!(curl.starts_with("curl -s http://127.0.0.1:"), "{curl}");
    assert!(lines[0].contains("0.0.0.0:"), "{lines:?}");
}
