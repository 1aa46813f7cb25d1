//! Problem `type`s lead somewhere that exists: the repository's `docs/problems.md`, which has a
//! heading (so an anchor) for every code keygate sends.

use axum::body::Body;
use axum::extract::FromRef;
use axum::http::{Request, StatusCode};
use axum::{Router, routing::get};
use keygate::reject::PROBLEM_TYPES;
use keygate::{KeyGate, require_api_key};
use serde_json::Value;
use tower::ServiceExt;

const PROBLEMS: &str = include_str!("../../docs/problems.md");
const README: &str = include_str!("../../README.md");
const REJECT_DOCS: &str = include_str!("../../runtime/src/reject.rs");
const LEAKS_DOCS: &str = include_str!("../../runtime/src/leaks/mod.rs");
const ADMIN_DOCS: &str = include_str!("../../runtime/src/admin/api/mod.rs");
const WORKSPACE_MANIFEST: &str = include_str!("../../Cargo.toml");

/// The codes `text` documents under `### code` headings (in Markdown, or in `//!` docs).
fn headings(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let line = line.strip_prefix("//! ").unwrap_or(line);
            line.strip_prefix("### ").map(|code| code.trim().to_owned())
        })
        .collect()
}

/// The codes in the README's `| case | status | code |` tables.
fn readme_codes() -> Vec<String> {
    let mut codes = Vec::new();
    let mut in_table = false;
    for line in README.lines() {
        if line.starts_with("| case | status | code |") {
            in_table = true;
            continue;
        }
        if !line.starts_with('|') {
            in_table = false;
            continue;
        }
        let cells: Vec<&str> = line.split('|').collect();
        if in_table && let Some(code) = cells.get(3).and_then(|cell| cell.split('`').nth(1)) {
            codes.push(code.to_owned());
        }
    }
    codes
}

async fn problem(app: Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = app.oneshot(request).await.unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, serde_json::from_slice(&body).unwrap())
}

#[test]
fn every_code_keygate_documents_has_an_entry_on_the_problems_page() {
    let page = headings(PROBLEMS);
    let mut documented = headings(REJECT_DOCS);
    documented.extend(headings(LEAKS_DOCS));
    documented.extend(headings(ADMIN_DOCS));
    documented.extend(readme_codes());
    assert!(documented.len() >= 33, "{documented:?}");
    for code in &documented {
        assert!(page.contains(code), "docs/problems.md has no `### {code}`");
    }
    for code in &page {
        assert!(
            documented.contains(code),
            "docs/problems.md documents `{code}`, which keygate's docs do not name"
        );
    }
}

#[test]
fn problem_types_are_in_the_repository_named_by_the_manifest() {
    let repository = WORKSPACE_MANIFEST
        .lines()
        .find_map(|line| line.strip_prefix("repository = "))
        .expect("the workspace manifest names the repository")
        .trim_matches('"');
    assert_eq!(
        PROBLEM_TYPES,
        format!("{repository}/blob/main/docs/problems.md")
    );
}

#[require_api_key(scopes = "items:read")]
async fn list_items() -> &'static str {
    "apple"
}

#[derive(Clone, FromRef)]
struct AppState {
    gate: KeyGate,
}

#[tokio::test]
async fn a_rejection_and_a_refused_report_name_their_entry() {
    let gate = KeyGate::builder().prefix("acme_live").build();
    let app = Router::new()
        .route("/items", get(list_items))
        .route(
            "/leaks",
            gate.secret_scanning(keygate::leaks::SecretScanning::builder().build()),
        )
        .with_state(AppState { gate });

    let (status, body) = problem(
        app.clone(),
        Request::get("/items").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["type"], format!("{PROBLEM_TYPES}#missing_api_key"));

    let (status, body) =
        problem(app, Request::post("/leaks").body(Body::from("[]")).unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["type"], format!("{PROBLEM_TYPES}#missing_signature"));
    assert!(headings(PROBLEMS).contains(&"missing_signature".to_owned()));
}
