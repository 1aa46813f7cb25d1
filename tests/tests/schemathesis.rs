//! Schemathesis (PyPI, 4.x) against the running example service, with the admin key: every
//! response must match the served OpenAPI document (statuses, content types, bodies), requests
//! valid by the document must be accepted and invalid ones refused, and authentication must not
//! be ignored. Skipped, with one printed line, when the `schemathesis` command is missing;
//! failing instead when `KEYGATE_TEST_REQUIRE_SERVICES=1`.
//!
//! The run is deterministic (`--generation-deterministic`, which also keeps no example database;
//! one worker) and
//! bounded (`--max-examples`), so it takes well under two minutes.

use std::net::SocketAddr;
use std::process::Command;

use keygate::record::{KeyFilter, KeyView};
use keygate::{CachedStore, KeyGate, NewKey, SqlStore};
use keygate_example::{AppState, DECLARED_SCOPES, Items, app, mint_demo_keys};

/// Examples per operation and phase.
const MAX_EXAMPLES: &str = "100";

/// Loaded by Schemathesis (`SCHEMATHESIS_HOOKS`): its stateful phase follows links from
/// `/whoami` and `/admin/keys` to `POST /admin/keys/{id}/rotate` and `DELETE /admin/keys/{id}`,
/// and rotating or revoking the key the run uses would end it, leaving the rest of the run to
/// test only 401s. Such a call goes to a decoy key of the same scopes instead.
const HOOKS: &str = r#"
import os
import schemathesis

PROTECTED = os.environ["KEYGATE_PROTECTED_KEY_ID"]
DECOY = os.environ["KEYGATE_DECOY_KEY_ID"]


@schemathesis.hook
def before_call(context, case, kwargs):
    params = case.path_parameters
    if params and params.get("id") == PROTECTED:
        params["id"] = DECOY
"#;

/// What the run needs of the served example.
struct Served {
    addr: SocketAddr,
    admin_key: String,
    admin_id: String,
    decoy_id: String,
}

/// Serves the example (SQLite in memory, behind the cache, as `cargo run` with
/// `KEYGATE_DATABASE_URL=sqlite::memory:`) on a free loopback port, on its own thread; returns
/// the address, the admin key, its key id, and the id of a decoy key with the same scopes.
fn serve() -> Served {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let store = SqlStore::connect("sqlite::memory:").await.unwrap();
            let gate = KeyGate::builder()
                .prefix("demo")
                .declared_scopes(DECLARED_SCOPES)
                .store(CachedStore::new(store))
                .build();
            let keys = mint_demo_keys(&gate).await.unwrap();
            let records = gate.list_keys(&KeyFilter::default()).await.unwrap();
            let admin = records
                .iter()
                .map(KeyView::from)
                .find(|view| view.name == "demo-admin")
                .unwrap();
            let decoy = NewKey::new("decoy").scopes(admin.scopes.clone());
            let decoy = gate.create_key(decoy).await.unwrap();
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            sender
                .send(Served {
                    addr: listener.local_addr().unwrap(),
                    admin_key: keys.admin,
                    admin_id: admin.key_id,
                    decoy_id: decoy.record.key_id.clone(),
                })
                .unwrap();
            let state = AppState {
                gate,
                items: Items::with(&["apple", "banana"]),
            };
            axum::serve(listener, app(state)).await.unwrap();
        });
    });
    receiver.recv().unwrap()
}

#[test]
fn schemathesis_finds_nothing() {
    let required = std::env::var("KEYGATE_TEST_REQUIRE_SERVICES").is_ok_and(|v| v == "1");
    // Run as a module of the interpreter pip installed it for: its script may sit in a folder
    // that is not on PATH (a user install, say).
    let version = Command::new("python3")
        .args(["-m", "schemathesis.cli", "--version"])
        .output();
    let installed = version
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    let Some(version) = installed else {
        assert!(
            !required,
            "KEYGATE_TEST_REQUIRE_SERVICES=1 but schemathesis is not installed: python3 -m pip install 'schemathesis>=4,<5'"
        );
        println!("skipping Schemathesis: python3 -m pip install 'schemathesis>=4,<5' to enable it");
        return;
    };
    assert!(
        version.contains("version 4."),
        "Schemathesis 4.x expected: {version}"
    );

    let Served {
        addr,
        admin_key,
        admin_id,
        decoy_id,
    } = serve();
    let dir = std::env::temp_dir().join(format!("keygate-schemathesis-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let hooks = dir.join("hooks.py");
    std::fs::write(&hooks, HOOKS).unwrap();
    let output = Command::new("python3")
        .args(["-m", "schemathesis.cli", "run"])
        .arg(format!("http://{addr}/openapi.json"))
        .args(["--header", &format!("X-API-Key: {admin_key}")])
        .args(["--checks", "all"])
        // `DELETE /admin/keys/{id}` revokes: the key's record and its usage history stay readable
        // afterwards by design (an operator looks into a revoked key), so "deleted resource still
        // available" does not apply.
        .args(["--exclude-checks", "use_after_free"])
        .args(["--max-examples", MAX_EXAMPLES, "--generation-deterministic"])
        .args(["--workers", "1"])
        .args(["--generation-with-security-parameters", "false"])
        // keygate bounds names, owners and metadata in bytes of UTF-8, JSON Schema's `maxLength`
        // in characters: the two agree on ASCII only, so the strings generated are ASCII.
        .args(["--generation-codec", "ascii"])
        .args(["--request-timeout", "10", "--no-color"])
        .env("SCHEMATHESIS_HOOKS", &hooks)
        .env("KEYGATE_PROTECTED_KEY_ID", &admin_id)
        .env("KEYGATE_DECOY_KEY_ID", &decoy_id)
        .current_dir(&dir)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "Schemathesis found problems:\n{stdout}{stderr}"
    );
    // The run kept its key, so it tested more than 401s.
    let whoami = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            reqwest::Client::new()
                .get(format!("http://{addr}/whoami"))
                .header("X-API-Key", &admin_key)
                .send()
                .await
                .unwrap()
                .status()
        });
    assert_eq!(
        whoami, 200,
        "the run's key was rotated or revoked:\n{stdout}"
    );
    // The summary, for the test log.
    for line in stdout.lines() {
        if line.contains(" generated, ") || line.contains("No issues found") {
            println!("{}", line.trim());
        }
    }
}
