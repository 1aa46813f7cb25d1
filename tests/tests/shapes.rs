//! One shape and one time format everywhere: a key shown by the admin routes (create, list,
//! rotate) and by the `keygate` command line (`show --json`, `list --json`, the text of `show`)
//! on the same SQLite database is the same `KeyView`, timestamps RFC 3339 in UTC, whole seconds.

mod sql_support;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use keygate::{KeyGate, SqlStore};
use keygate_example::{AppState, DECLARED_SCOPES, Items, app, mint_demo_keys};
use serde_json::{Value, json};
use sql_support::TempDb;

/// The `keygate` binary, built once per run of this test file.
fn keygate_cli() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let status = Command::new(cargo)
            .args(["build", "-p", "keygate-cli"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo build");
        assert!(status.success(), "cargo build of the command line failed");
        // target/debug/deps/shapes-… → target/debug
        let exe = std::env::current_exe().unwrap();
        exe.parent().unwrap().parent().unwrap().join("keygate")
    })
}

/// Runs the command line on `url`; returns its stdout, asserting success.
fn cli(url: &str, args: &[&str]) -> String {
    let output = Command::new(keygate_cli())
        .args(args)
        .env("KEYGATE_DATABASE_URL", url)
        .output()
        .expect("run keygate");
    assert!(
        output.status.success(),
        "keygate {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn cli_json(url: &str, args: &[&str]) -> Value {
    serde_json::from_str(&cli(url, args)).unwrap()
}

/// `2026-11-28T17:00:00Z`: RFC 3339, UTC, whole seconds.
fn is_whole_seconds_utc(text: &Value) -> bool {
    let Some(text) = text.as_str() else {
        return false;
    };
    let bytes = text.as_bytes();
    text.len() == 20
        && bytes[19] == b'Z'
        && bytes[10] == b'T'
        && time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).is_ok()
}

fn listed<'a>(list: &'a Value, key_id: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|view| view["key_id"] == key_id)
        .unwrap_or_else(|| panic!("{key_id} is not in {list}"))
}

#[tokio::test]
async fn the_admin_routes_and_the_command_line_show_a_key_in_one_shape() {
    let db = TempDb::new("shapes");
    let url = db.url();
    let store = SqlStore::connect(&url).await.unwrap();
    store.claim_key_prefix("demo").await.unwrap();
    let gate = KeyGate::builder()
        .prefix("demo")
        .store(store)
        .declared_scopes(DECLARED_SCOPES)
        .build();
    let admin = mint_demo_keys(&gate).await.unwrap().admin;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let state = AppState {
        gate,
        items: Items::default(),
    };
    tokio::spawn(async move { axum::serve(listener, app(state)).await });
    let client = reqwest::Client::new();
    let call = |method: reqwest::Method, path: &str, body: Option<Value>| {
        let mut request = client
            .request(method, format!("{base}{path}"))
            .header("X-API-Key", &admin);
        if let Some(body) = body {
            request = request.json(&body);
        }
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };

    let created = call(
        reqwest::Method::POST,
        "/admin/keys",
        Some(json!({
            "name": "ci-deploy", "owner": "team-infra", "scopes": ["items:read"],
            "metadata": {"ticket": "OPS-12"}, "expires_in": "90d", "rate_limit": "100/min"
        })),
    )
    .await;
    let record = &created["record"];
    let id = record["key_id"].as_str().unwrap().to_owned();
    for field in ["created_at", "expires_at"] {
        assert!(is_whole_seconds_utc(&record[field]), "{field}: {record}");
    }
    let admin_list = call(reqwest::Method::GET, "/admin/keys?all=true", None).await;
    assert_eq!(listed(&admin_list, &id), record, "create and list differ");
    assert_eq!(&cli_json(&url, &["keys", "show", &id, "--json"]), record);
    let cli_list = cli_json(&url, &["keys", "list", "--all", "--json"]);
    assert_eq!(
        listed(&cli_list, &id),
        record,
        "the command line's list differs"
    );

    // The text of `keygate keys show` prints the same moments.
    let text = cli(&url, &["keys", "show", &id]);
    for (label, field) in [("created:", "created_at"), ("expires:", "expires_at")] {
        let line = text
            .lines()
            .find(|line| line.starts_with(label))
            .unwrap_or_else(|| panic!("no `{label}` in {text}"));
        assert_eq!(line[label.len()..].trim(), record[field].as_str().unwrap());
    }

    // Rotation: the successor as the route returns it, and the old key as both list it.
    let rotated = call(
        reqwest::Method::POST,
        &format!("/admin/keys/{id}/rotate"),
        Some(json!({"grace": "1h"})),
    )
    .await;
    let successor = &rotated["record"];
    let successor_id = successor["key_id"].as_str().unwrap();
    assert_eq!(successor["rotated_from"], id.as_str());
    assert!(
        is_whole_seconds_utc(&successor["created_at"]),
        "{successor}"
    );
    assert_eq!(
        &cli_json(&url, &["keys", "show", successor_id, "--json"]),
        successor
    );
    let admin_list = call(reqwest::Method::GET, "/admin/keys?all=true", None).await;
    let old = listed(&admin_list, &id);
    assert!(is_whole_seconds_utc(&old["expires_at"]), "{old}");
    assert_eq!(&cli_json(&url, &["keys", "show", &id, "--json"]), old);
}
