//! Usage history on SQLite and PostgreSQL: requests over real HTTP are counted per kind and read
//! back through the admin route; two instances on one database add up; hours bucket by UTC hour;
//! pruning removes only hours past the retention; a failed flush loses nothing.

mod sql_support;

use std::time::Duration;

use keygate::store::KeyStore;
use keygate::usage::UsageHour;
use keygate::{KeyError, KeyGate, NewKey, SqlStore};
use keygate_example::{AppState, DemoKeys, Items, app, mint_demo_keys};
use serde_json::Value;
use sql_support::{PgSchema, Probe, TempDb};
use time::OffsetDateTime;

/// A database every test runs on: a SQLite file, and a PostgreSQL schema when one is configured.
enum Db {
    Sqlite(TempDb),
    Postgres(PgSchema),
}

impl Db {
    /// SQLite always; PostgreSQL when the tests were built with `KEYGATE_TEST_POSTGRES_URL`
    /// (then an unreachable server fails the test rather than skipping it).
    async fn all(test: &str) -> Vec<(&'static str, Db)> {
        let mut dbs = vec![("sqlite", Db::Sqlite(TempDb::new(test)))];
        if cfg!(keygate_postgres) {
            dbs.push(("postgres", Db::Postgres(PgSchema::create(test).await)));
        }
        dbs
    }

    /// A new connection to the database: each call is another instance's store.
    async fn store(&self) -> SqlStore {
        match self {
            Db::Sqlite(db) => SqlStore::connect(&db.url()).await.unwrap(),
            Db::Postgres(schema) => schema.store().await,
        }
    }
}

fn gate_on(store: impl KeyStore) -> KeyGate {
    KeyGate::builder()
        .prefix("demo")
        .store(store)
        .usage_flush_interval(Duration::from_secs(3600))
        .build()
}

/// `key` with the same prefix and id and another secret, with a checksum that is right for it:
/// a well-formed key whose secret does not match.
fn same_id_other_secret(key: &str) -> String {
    const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut body = key[..key.len() - 6].to_owned().into_bytes();
    let last = body.len() - 1;
    body[last] = if body[last] == b'a' { b'b' } else { b'a' };
    let mut crc = crc32fast::hash(&body);
    let mut checksum = [b'0'; 6];
    for digit in checksum.iter_mut().rev() {
        *digit = BASE62[(crc % 62) as usize];
        crc /= 62;
    }
    body.extend_from_slice(&checksum);
    String::from_utf8(body).unwrap()
}

fn id_of(key: &str) -> String {
    key.split('_').nth(1).unwrap().to_owned()
}

/// The counts summed over hours: admitted, insufficient scope, rate limited, wrong secret.
fn sum(hours: &[UsageHour]) -> [u64; 4] {
    hours.iter().fold([0; 4], |acc, h| {
        [
            acc[0] + h.admitted,
            acc[1] + h.insufficient_scope,
            acc[2] + h.rate_limited,
            acc[3] + h.wrong_secret,
        ]
    })
}

struct Service {
    base: String,
    keys: DemoKeys,
    gate: KeyGate,
    client: reqwest::Client,
}

impl Service {
    async fn start(store: SqlStore) -> Service {
        let gate = gate_on(store);
        let keys = mint_demo_keys(&gate).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = AppState {
            gate: gate.clone(),
            items: Items::with(&["apple"]),
        };
        tokio::spawn(async move { axum::serve(listener, app(state)).await });
        Service {
            base,
            keys,
            gate,
            client: reqwest::Client::new(),
        }
    }

    /// Status and `code` (of a problem document) or body.
    async fn call(&self, method: reqwest::Method, path: &str, key: Option<&str>) -> (u16, Value) {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(key) = key {
            request = request.header("X-API-Key", key);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str, key: Option<&str>) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, key).await
    }
}

/// The counts of one key summed from the admin route's answer.
fn summed(body: &Value) -> [u64; 4] {
    let hours = body.as_array().expect("a list of hours");
    let field = |name: &str| hours.iter().map(|h| h[name].as_u64().unwrap()).sum::<u64>();
    for hour in hours {
        let text = hour["hour"].as_str().unwrap();
        assert!(text.ends_with(":00:00Z"), "an hour's start, UTC: {text}");
    }
    [
        field("admitted"),
        field("insufficient_scope"),
        field("rate_limited"),
        field("wrong_secret"),
    ]
}

#[tokio::test]
async fn each_kind_of_request_is_counted_and_the_admin_route_shows_it() {
    for (name, db) in Db::all("usage_http").await {
        let svc = Service::start(db.store().await).await;
        let keys = &svc.keys;
        for _ in 0..3 {
            assert_eq!(svc.get("/items", Some(&keys.read)).await.0, 200, "{name}");
        }
        let (status, _) = svc
            .call(reqwest::Method::DELETE, "/items/1", Some(&keys.read))
            .await;
        assert_eq!(status, 403, "{name}");
        let forged = same_id_other_secret(&keys.read);
        for _ in 0..2 {
            assert_eq!(svc.get("/items", Some(&forged)).await.0, 401, "{name}");
        }
        // 5/min: five admitted, then refused.
        let statuses: Vec<u16> = statuses_of(&svc, &keys.limited, 6).await;
        assert_eq!(statuses, [200, 200, 200, 200, 200, 429], "{name}");
        svc.gate.flush_usage().await.unwrap();

        let read = format!("/admin/keys/{}/usage?since=1h", id_of(&keys.read));
        let (status, body) = svc.get(&read, Some(&keys.admin)).await;
        assert_eq!(status, 200, "{name}: {body}");
        assert_eq!(summed(&body), [3, 1, 0, 2], "{name}: {body}");
        let limited = format!("/admin/keys/{}/usage", id_of(&keys.limited));
        let (status, body) = svc.get(&limited, Some(&keys.admin)).await;
        assert_eq!(status, 200, "{name}: {body}");
        assert_eq!(summed(&body), [5, 0, 1, 0], "{name}: {body}");

        // The refusals of the route itself.
        let (status, body) = svc
            .get("/admin/keys/nosuchkey000/usage", Some(&keys.admin))
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (404, Some("key_not_found"))
        );
        for bad in ["soon", "0d", "-1d", "7"] {
            let path = format!("/admin/keys/{}/usage?since={bad}", id_of(&keys.read));
            let (status, body) = svc.get(&path, Some(&keys.admin)).await;
            assert_eq!(
                (status, body["code"].as_str()),
                (400, Some("malformed_request")),
                "{name}: since={bad}: {body}"
            );
        }
        let (status, body) = svc.get(&read, None).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (401, Some("missing_api_key"))
        );
        let (status, body) = svc.get(&read, Some(&keys.read)).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (403, Some("insufficient_scope"))
        );
    }
}

/// `n` requests for the items with `key`, one after another.
async fn statuses_of(svc: &Service, key: &str, n: usize) -> Vec<u16> {
    let mut statuses = Vec::new();
    for _ in 0..n {
        statuses.push(svc.get("/items", Some(key)).await.0);
    }
    statuses
}

#[tokio::test]
async fn two_instances_on_one_database_add_up() {
    for (name, db) in Db::all("usage_two").await {
        let (a, b) = (gate_on(db.store().await), gate_on(db.store().await));
        let created = a.create_key(NewKey::new("shared")).await.unwrap();
        let key = created.key.expose();
        for _ in 0..3 {
            a.verify(key).await.unwrap();
        }
        for _ in 0..4 {
            b.verify(key).await.unwrap();
        }
        b.verify(&same_id_other_secret(key)).await.unwrap_err();
        a.flush_usage().await.unwrap();
        b.flush_usage().await.unwrap();
        // And once more: what was written is not written again.
        a.flush_usage().await.unwrap();
        let since = OffsetDateTime::now_utc() - time::Duration::hours(1);
        let hours = b.usage(&created.record.key_id, since).await.unwrap();
        assert_eq!(sum(&hours), [7, 0, 0, 1], "{name}");
    }
}

#[tokio::test]
async fn counts_are_bucketed_by_utc_hour_and_batches_add_up() {
    for (name, db) in Db::all("usage_hours").await {
        let store = db.store().await;
        let gate = gate_on(store.clone());
        let id = gate
            .create_key(NewKey::new("k"))
            .await
            .unwrap()
            .record
            .key_id;
        let ten = UsageHour::starting(OffsetDateTime::now_utc() - time::Duration::hours(5)).hour;
        let eleven = ten + time::Duration::hours(1);
        let row = |at: OffsetDateTime, admitted, wrong_secret| UsageHour {
            admitted,
            wrong_secret,
            ..UsageHour::starting(at)
        };
        let last_second = ten + time::Duration::seconds(3599);
        store
            .record_usage(&[
                (id.clone(), row(last_second, 2, 0)),
                (id.clone(), row(eleven, 1, 1)),
            ])
            .await
            .unwrap();
        store
            .record_usage(&[(id.clone(), row(eleven + time::Duration::minutes(59), 4, 0))])
            .await
            .unwrap();
        let hours = gate
            .usage(&id, ten - time::Duration::hours(1))
            .await
            .unwrap();
        assert_eq!(
            hours
                .iter()
                .map(|h| (h.hour, h.admitted, h.wrong_secret))
                .collect::<Vec<_>>(),
            [(ten, 2, 0), (eleven, 5, 1)],
            "{name}"
        );
        // From the hour holding `since` on.
        let from_eleven = gate
            .usage(&id, eleven + time::Duration::minutes(30))
            .await
            .unwrap();
        assert_eq!(from_eleven.len(), 1, "{name}");
        assert_eq!(from_eleven[0].hour, eleven, "{name}");
        assert!(matches!(
            gate.usage("nosuchkey000", ten).await,
            Err(KeyError::NotFound(_))
        ));
    }
}

#[tokio::test]
async fn pruning_removes_hours_past_the_retention_only() {
    for (name, db) in Db::all("usage_prune").await {
        let store = db.store().await;
        let gate = KeyGate::builder()
            .prefix("demo")
            .store(store.clone())
            .usage_retention(Duration::from_secs(30 * 86_400))
            .build();
        let id = gate
            .create_key(NewKey::new("k"))
            .await
            .unwrap()
            .record
            .key_id;
        let now = OffsetDateTime::now_utc();
        let days_ago = |days: i64| UsageHour {
            admitted: 1,
            ..UsageHour::starting(now - time::Duration::days(days))
        };
        let rows: Vec<(String, UsageHour)> = [100, 31, 29, 0]
            .into_iter()
            .map(|days| (id.clone(), days_ago(days)))
            .collect();
        store.record_usage(&rows).await.unwrap();
        gate.flush_usage().await.unwrap();
        let kept = store
            .usage(&id, now - time::Duration::days(200))
            .await
            .unwrap();
        assert_eq!(
            kept.iter().map(|h| h.hour).collect::<Vec<_>>(),
            [days_ago(29).hour, days_ago(0).hour],
            "{name}"
        );
    }
}

#[tokio::test]
async fn a_failed_flush_loses_nothing_and_adds_nothing_twice() {
    for (name, db) in Db::all("usage_fail").await {
        let store = Probe::new(db.store().await);
        let gate = gate_on(store.clone());
        let created = gate.create_key(NewKey::new("k")).await.unwrap();
        let (key, id) = (created.key.expose(), &created.record.key_id);
        for _ in 0..3 {
            gate.verify(key).await.unwrap();
        }
        store.set_failing(true);
        assert!(gate.flush_usage().await.is_err(), "{name}");
        assert!(gate.flush_usage().await.is_err(), "{name}");
        store.set_failing(false);
        for _ in 0..2 {
            gate.verify(key).await.unwrap();
        }
        gate.verify(&same_id_other_secret(key)).await.unwrap_err();
        gate.flush_usage().await.unwrap();
        let since = OffsetDateTime::now_utc() - time::Duration::hours(1);
        assert_eq!(
            sum(&gate.usage(id, since).await.unwrap()),
            [5, 0, 0, 1],
            "{name}"
        );
        let record = store.inner.fetch(id).await.unwrap().unwrap();
        assert!(
            record.last_used_at.is_some(),
            "{name}: the last-used time too"
        );
    }
}
