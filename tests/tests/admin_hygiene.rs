//! Key hygiene through the example service over real HTTP, on SQLite and PostgreSQL:
//! `GET /admin/keys/audit`, the list route's `unused_for` / `older_than`, and the maximum key
//! lifetime on the create and rotate routes. Old keys are written through the store API with old
//! timestamps.

#[path = "sql_support/mod.rs"]
mod sql_support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration as StdDuration;

use keygate::record::KeyFilter;
use keygate::store::KeyStore;
use keygate::{CachedStore, KeyGate, KeyRecord, NewKey, SqlStore};
use keygate_example::{AppState, DECLARED_SCOPES, DemoKeys, Items, app, mint_demo_keys};
use reqwest::Method;
use serde_json::{Value, json};
use sql_support::{PgSchema, TempDb};
use time::{Duration, OffsetDateTime};

struct Service {
    base: String,
    keys: DemoKeys,
    store: SqlStore,
    client: reqwest::Client,
}

impl Service {
    async fn start(store: SqlStore, max_lifetime: Option<StdDuration>) -> Service {
        let mut builder = KeyGate::builder()
            .prefix("demo")
            .store(CachedStore::new(store.clone()))
            .declared_scopes(DECLARED_SCOPES);
        if let Some(max) = max_lifetime {
            builder = builder.max_key_lifetime(max);
        }
        let gate = builder.build();
        let keys = mint_demo_keys(&gate).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = AppState {
            gate,
            items: Items::with(&["apple"]),
        };
        tokio::spawn(async move { axum::serve(listener, app(state)).await });
        Service {
            base,
            keys,
            store,
            client: reqwest::Client::new(),
        }
    }

    /// Status, content type and JSON body of one request.
    async fn call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (u16, String, Value) {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(key) = key {
            request = request.header("X-API-Key", key);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (
            status,
            content_type,
            response.json().await.unwrap_or(Value::Null),
        )
    }

    async fn admin_get(&self, path: &str) -> (u16, String, Value) {
        let admin = self.keys.admin.clone();
        self.call(Method::GET, path, Some(&admin), None).await
    }

    async fn key_count(&self) -> usize {
        self.store.list(&KeyFilter::default()).await.unwrap().len()
    }
}

/// A record stored `age_days` ago, expiring `expires_in_days` from now (`None`: never).
async fn aged(
    name: &str,
    scopes: &[&str],
    age_days: i64,
    expires_in_days: Option<i64>,
) -> KeyRecord {
    let maker = KeyGate::builder().prefix("demo").build();
    let new = NewKey::new(name).scopes(scopes.iter().copied());
    let mut record = maker.create_key(new).await.unwrap().record;
    let now = OffsetDateTime::now_utc();
    record.created_at = now - Duration::days(age_days);
    record.expires_at = expires_in_days.map(|days| now + Duration::days(days));
    record
}

/// Finding kinds by key name.
fn kinds(report: &Value) -> BTreeMap<String, Vec<String>> {
    report["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| {
            let kinds = key["findings"].as_array().unwrap().iter();
            let kinds = kinds
                .map(|f| f["kind"].as_str().unwrap().to_owned())
                .collect();
            (key["name"].as_str().unwrap().to_owned(), kinds)
        })
        .collect()
}

async fn audit_scenario(store: SqlStore) {
    let service = Service::start(store.clone(), None).await;
    let now = OffsetDateTime::now_utc();
    let ghost = aged("ghost", &["items:read"], 120, Some(30)).await;
    let mut stale = aged("stale", &["items:read"], 200, Some(30)).await;
    stale.last_used_at = Some(now - Duration::days(100));
    let mut gone = aged("gone", &["*"], 300, None).await;
    gone.revoked_at = Some(now - Duration::days(1));
    for record in [&ghost, &stale, &gone] {
        store.insert(record.clone()).await.unwrap();
    }

    let (status, content_type, report) = service.admin_get("/admin/keys/audit").await;
    assert_eq!(status, 200, "{report}");
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let found = kinds(&report);
    assert_eq!(found["ghost"], ["never_used"]);
    assert_eq!(found["stale"], ["unused", "not_rotated"]);
    assert_eq!(
        found["demo-admin"],
        ["no_expiry", "wildcard_scope"],
        "`items:*`"
    );
    assert_eq!(found["demo-read"], ["no_expiry"]);
    assert!(!found.contains_key("gone"), "revoked keys are only counted");
    assert_eq!(found["demo-metrics"], ["no_expiry"]);
    // Five demo keys, the ghost and the stale key.
    assert_eq!(
        (report["audited"].as_u64(), report["revoked"].as_u64()),
        (Some(7), Some(1))
    );
    let stale_entry = report["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "stale")
        .unwrap();
    let action = stale_entry["findings"][1]["action"].as_str().unwrap();
    assert!(
        action.contains(&format!("keygate keys rotate {}", stale.key_id)),
        "{action}"
    );

    let (status, _, lenient) = service
        .admin_get("/admin/keys/audit?unused_for=365d&older_than=365d")
        .await;
    assert_eq!(status, 200);
    assert_eq!(lenient["unused_for"], "365d");
    let found = kinds(&lenient);
    assert!(
        !found.contains_key("ghost") && !found.contains_key("stale"),
        "{lenient}"
    );

    // The list route's filters.
    let ids = |list: &Value| -> BTreeSet<String> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|v| v["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let (status, _, unused) = service.admin_get("/admin/keys?unused_for=90d").await;
    assert_eq!(status, 200, "{unused}");
    assert_eq!(
        ids(&unused),
        BTreeSet::from(["ghost".to_owned(), "stale".to_owned()])
    );
    let (_, _, old) = service
        .admin_get("/admin/keys?older_than=180d&all=true")
        .await;
    assert_eq!(
        ids(&old),
        BTreeSet::from(["gone".to_owned(), "stale".to_owned()])
    );

    // Bad input is a problem document; the route is the admin's only.
    for (path, status, code) in [
        ("/admin/keys/audit?unused_for=soon", 422, "invalid_duration"),
        ("/admin/keys/audit?older_than=0d", 422, "invalid_duration"),
        ("/admin/keys/audit?since=7d", 400, "malformed_request"),
        ("/admin/keys?unused_for=90", 422, "invalid_duration"),
    ] {
        let (got, content_type, body) = service.admin_get(path).await;
        assert_eq!(
            (got, body["code"].as_str()),
            (status, Some(code)),
            "{path}: {body}"
        );
        assert_eq!(content_type, "application/problem+json", "{path}");
    }
    let read = service.keys.read.clone();
    let (status, _, body) = service
        .call(Method::GET, "/admin/keys/audit", Some(&read), None)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("insufficient_scope"))
    );
    let (status, _, body) = service
        .call(Method::GET, "/admin/keys/audit", None, None)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("missing_api_key"))
    );

    // `audit` is never taken for a key id.
    let before = service.key_count().await;
    let admin = service.keys.admin.clone();
    let (status, _, _) = service
        .call(Method::DELETE, "/admin/keys/audit", Some(&admin), None)
        .await;
    assert_eq!(status, 405);
    assert_eq!(service.key_count().await, before);
}

async fn lifetime_scenario(store: SqlStore) {
    let service = Service::start(store, Some(StdDuration::from_secs(90 * 86_400))).await;
    let admin = service.keys.admin.clone();
    let before = service.key_count().await;
    let (status, content_type, body) = service
        .call(
            Method::POST,
            "/admin/keys",
            Some(&admin),
            Some(json!({ "name": "long", "expires_in": "400d" })),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("lifetime_too_long")),
        "{body}"
    );
    assert_eq!(content_type, "application/problem+json");
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("400d") && detail.contains("90d"),
        "{detail}"
    );
    assert_eq!(service.key_count().await, before, "nothing written");

    let lifetime = |record: &Value| {
        let at = |field: &str| {
            OffsetDateTime::parse(
                record[field].as_str().unwrap(),
                &time::format_description::well_known::Rfc3339,
            )
            .unwrap()
        };
        at("expires_at") - at("created_at")
    };
    let (status, _, created) = service
        .call(
            Method::POST,
            "/admin/keys",
            Some(&admin),
            Some(json!({ "name": "capped", "scopes": ["items:read"] })),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    // The admin key itself lives at most 90 days, and a key it mints never outlives it: about
    // 90 days, a few seconds less.
    let capped = lifetime(&created["record"]);
    assert!(
        capped <= Duration::days(90) && capped >= Duration::days(90) - Duration::seconds(10),
        "{capped}"
    );

    let id = created["record"]["key_id"].as_str().unwrap();
    let (status, _, rotated) = service
        .call(
            Method::POST,
            &format!("/admin/keys/{id}/rotate"),
            Some(&admin),
            Some(json!({ "grace": "1h" })),
        )
        .await;
    assert_eq!(status, 201, "{rotated}");
    assert!(lifetime(&rotated["record"]) <= Duration::days(90) + Duration::seconds(1));
}

#[tokio::test]
async fn the_audit_route_reports_over_http_sqlite() {
    let db = TempDb::new("audit-route");
    audit_scenario(SqlStore::connect(&db.url()).await.unwrap()).await;
}

#[tokio::test]
#[cfg_attr(
    not(keygate_postgres),
    ignore = "needs PostgreSQL: set KEYGATE_TEST_POSTGRES_URL"
)]
async fn the_audit_route_reports_over_http_postgres() {
    let pg = PgSchema::create("the_audit_route_reports_over_http_postgres").await;
    audit_scenario(pg.store().await).await;
}

#[tokio::test]
async fn the_maximum_lifetime_holds_over_http_sqlite() {
    let db = TempDb::new("lifetime-route");
    lifetime_scenario(SqlStore::connect(&db.url()).await.unwrap()).await;
}

#[tokio::test]
#[cfg_attr(
    not(keygate_postgres),
    ignore = "needs PostgreSQL: set KEYGATE_TEST_POSTGRES_URL"
)]
async fn the_maximum_lifetime_holds_over_http_postgres() {
    let pg = PgSchema::create("the_maximum_lifetime_holds_over_http_postgres").await;
    lifetime_scenario(pg.store().await).await;
}
