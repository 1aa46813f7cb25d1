//! `keygate keys audit`, the `--unused-for` / `--older-than` filters of `keys list`, and the
//! maximum key lifetime, through the real binary on SQLite and PostgreSQL. Keys "unused for 100
//! days" are written through the store API with old timestamps.

#[path = "../support/mod.rs"]
mod support;

mod lifetime;
mod postgres;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Output;

use keygate::store::KeyStore;
use keygate::{KeyGate, KeyRecord, NewKey, SqlStore};
use lifetime::lifetime_scenario;
use postgres::PgSchema;
use serde_json::Value;
use support::{Db, keygate_at, stderr, stdout};
use time::{Duration, OffsetDateTime};

pub(crate) fn run(url: &str, args: &[&str]) -> Output {
    keygate_at(url, args, &[])
}

pub(crate) fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(output)))
}

/// The ids in a `keys list --json`.
pub(crate) fn listed(url: &str, args: &[&str]) -> BTreeSet<String> {
    let output = run(url, args);
    assert!(output.status.success(), "{}", stderr(&output));
    json(&output)
        .as_array()
        .unwrap()
        .iter()
        .map(|view| view["key_id"].as_str().unwrap().to_owned())
        .collect()
}

/// A record as a service would have stored it `age_days` ago, with an expiry `expires_in_days`
/// from now (`None`: never).
async fn aged(
    name: &str,
    scopes: &[&str],
    age_days: i64,
    expires_in_days: Option<i64>,
) -> KeyRecord {
    let maker = KeyGate::builder().prefix("demo").build();
    let new = NewKey::new(name)
        .owner("team-infra")
        .scopes(scopes.iter().copied());
    let mut record = maker.create_key(new).await.unwrap().record;
    let now = OffsetDateTime::now_utc();
    record.created_at = now - Duration::days(age_days);
    record.expires_at = expires_in_days.map(|days| now + Duration::days(days));
    record
}

/// The whole scenario on the database at `url`.
async fn audit_scenario(url: &str) {
    let init = run(url, &["init", "--prefix", "demo"]);
    assert!(init.status.success(), "{}", stderr(&init));
    let created = run(
        url,
        &[
            "keys",
            "create",
            "--name",
            "fresh",
            "--scopes",
            "items:read",
            "--expires-in",
            "30d",
        ],
    );
    assert!(created.status.success(), "{}", stderr(&created));
    let fresh = stdout(&created)
        .lines()
        .next()
        .unwrap()
        .split('_')
        .nth(1)
        .unwrap()
        .to_owned();

    let store = SqlStore::connect(url).await.unwrap();
    let now = OffsetDateTime::now_utc();
    let ghost = aged("ghost", &["items:read"], 120, Some(30)).await;
    let mut stale = aged("stale", &["items:read"], 200, Some(30)).await;
    stale.last_used_at = Some(now - Duration::days(100));
    let forever = aged("forever", &["items:*"], 10, None).await;
    let mut gone = aged("gone", &["*"], 300, None).await;
    gone.revoked_at = Some(now - Duration::days(2));
    let lapsed = aged("lapsed", &["*"], 100, Some(-1)).await;
    for record in [&ghost, &stale, &forever, &gone, &lapsed] {
        store.insert(record.clone()).await.unwrap();
    }
    store
        .record_last_used(&[(forever.key_id.clone(), now - Duration::hours(1))])
        .await
        .unwrap();
    store.close().await;
    let [ghost, stale, forever, gone, lapsed] =
        [ghost, stale, forever, gone, lapsed].map(|record| record.key_id);

    // Text: a summary, then each key with a line per finding saying what to do.
    let audit = run(url, &["keys", "audit"]);
    assert_eq!(
        audit.status.code(),
        Some(1),
        "findings exit 1: {}",
        stderr(&audit)
    );
    let text = stdout(&audit);
    let first = text.lines().next().unwrap();
    assert_eq!(
        first,
        "audited 4 active keys (not audited: 1 revoked, 1 expired); unused for 90d, older than 180d"
    );
    assert!(text.contains("5 findings in 3 keys:"), "{text}");
    let line = |key: &str, kind: &str| -> String {
        let block: Vec<&str> = text
            .split("\n\n")
            .find(|block| block.starts_with(key))
            .unwrap_or_else(|| panic!("no block for {key}: {text}"))
            .lines()
            .collect();
        block
            .iter()
            .find(|line| line.trim_start().starts_with(kind))
            .unwrap_or_else(|| panic!("{key} has no {kind}: {text}"))
            .to_string()
    };
    assert!(
        text.contains(&format!("{ghost} (ghost, owner team-infra)")),
        "{text}"
    );
    let never = line(&ghost, "never_used");
    assert!(
        never.contains("never used since it was created 120 days ago"),
        "{never}"
    );
    assert!(
        never.contains(&format!("keygate keys revoke {ghost}")),
        "{never}"
    );
    assert!(
        line(&stale, "unused").contains("not used for 100 days"),
        "{text}"
    );
    let old = line(&stale, "not_rotated");
    assert!(
        old.contains("created 200 days ago and never rotated"),
        "{old}"
    );
    assert!(
        old.contains(&format!("keygate keys rotate {stale} --grace 24h")),
        "{old}"
    );
    let no_expiry = line(&forever, "no_expiry");
    assert!(
        no_expiry.contains(&format!("keygate keys set-expiry {forever} 90d")),
        "{no_expiry}"
    );
    assert!(
        line(&forever, "wildcard_scope").contains("`items:*`"),
        "{text}"
    );
    for quiet in [&fresh, &gone, &lapsed] {
        assert!(
            !text.contains(quiet.as_str()),
            "{quiet} is no finding: {text}"
        );
    }

    // JSON: the same report for programs.
    let audit = run(url, &["keys", "audit", "--json"]);
    assert_eq!(audit.status.code(), Some(1));
    let report = json(&audit);
    assert_eq!(
        (&report["audited"], &report["revoked"], &report["expired"]),
        (&Value::from(4), &Value::from(1), &Value::from(1))
    );
    let kinds: BTreeMap<String, Vec<String>> = report["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| {
            let kinds = key["findings"].as_array().unwrap().iter();
            let kinds = kinds
                .map(|f| f["kind"].as_str().unwrap().to_owned())
                .collect();
            (key["key_id"].as_str().unwrap().to_owned(), kinds)
        })
        .collect();
    let expected: BTreeMap<String, Vec<String>> = [
        (ghost.clone(), vec!["never_used"]),
        (stale.clone(), vec!["unused", "not_rotated"]),
        (forever.clone(), vec!["no_expiry", "wildcard_scope"]),
    ]
    .into_iter()
    .map(|(id, kinds)| (id, kinds.into_iter().map(str::to_owned).collect()))
    .collect();
    assert_eq!(kinds, expected);

    // Longer periods: only what no period excuses is left.
    let lenient = run(
        url,
        &[
            "keys",
            "audit",
            "--json",
            "--unused-for",
            "365d",
            "--older-than",
            "365d",
        ],
    );
    assert_eq!(lenient.status.code(), Some(1));
    let report = json(&lenient);
    assert_eq!(report["keys"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!(report["keys"][0]["key_id"], forever.as_str());

    // The list filters.
    let set = |ids: &[&String]| ids.iter().map(|id| id.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(
        listed(url, &["keys", "list", "--json", "--unused-for", "90d"]),
        set(&[&ghost, &stale])
    );
    assert_eq!(
        listed(url, &["keys", "list", "--json", "--older-than", "180d"]),
        set(&[&stale])
    );
    assert_eq!(
        listed(
            url,
            &["keys", "list", "--json", "--all", "--older-than", "180d"]
        ),
        set(&[&stale, &gone])
    );
    let table = stdout(&run(
        url,
        &[
            "keys",
            "list",
            "--unused-for",
            "90d",
            "--older-than",
            "180d",
        ],
    ));
    assert!(table.contains(&stale) && !table.contains(&ghost), "{table}");

    // Acting on every finding leaves a clean audit.
    for args in [
        &["keys", "revoke", ghost.as_str()][..],
        &["keys", "rotate", stale.as_str()],
        &["keys", "set-expiry", forever.as_str(), "30d"],
    ] {
        let output = run(url, args);
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
    }
    let report = json(&run(url, &["keys", "audit", "--json"]));
    assert_eq!(
        report["keys"][0]["findings"][0]["kind"], "wildcard_scope",
        "{report}"
    );
    assert_eq!(report["keys"].as_array().unwrap().len(), 1, "{report}");
    assert!(
        run(url, &["keys", "revoke", forever.as_str()])
            .status
            .success()
    );
    let clean = run(url, &["keys", "audit"]);
    assert_eq!(clean.status.code(), Some(0), "{}", stdout(&clean));
    assert!(
        stdout(&clean).ends_with("no findings\n"),
        "{}",
        stdout(&clean)
    );

    // What the audit cannot do exits 2, with one line on stderr.
    let bad = run(url, &["keys", "audit", "--unused-for", "soon"]);
    assert_eq!(bad.status.code(), Some(2));
    assert_eq!(stderr(&bad).lines().count(), 1, "{}", stderr(&bad));
    assert!(
        stderr(&bad).contains("--unused-for: invalid duration `soon`"),
        "{}",
        stderr(&bad)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_reports_what_to_act_on_sqlite() {
    let db = Db::new("audit");
    audit_scenario(&db.url()).await;
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(keygate_postgres),
    ignore = "needs PostgreSQL: set KEYGATE_TEST_POSTGRES_URL"
)]
async fn audit_reports_what_to_act_on_postgres() {
    let pg = PgSchema::create("audit_reports_what_to_act_on_postgres").await;
    audit_scenario(&pg.url()).await;
    pg.drop_schema().await;
}

#[test]
fn the_maximum_lifetime_caps_and_refuses_sqlite() {
    let db = Db::new("lifetime");
    lifetime_scenario(&db.url());
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    not(keygate_postgres),
    ignore = "needs PostgreSQL: set KEYGATE_TEST_POSTGRES_URL"
)]
async fn the_maximum_lifetime_caps_and_refuses_postgres() {
    let pg = PgSchema::create("the_maximum_lifetime_caps_and_refuses_postgres").await;
    lifetime_scenario(&pg.url());
    pg.drop_schema().await;
}

#[test]
fn an_audit_that_cannot_reach_its_database_exits_2() {
    let missing = Db::new("audit-missing");
    for url in [
        missing.url(),
        "postgres://nobody@127.0.0.1:1/none".to_owned(),
    ] {
        let output = run(&url, &["keys", "audit"]);
        assert_eq!(output.status.code(), Some(2), "{url}: {}", stderr(&output));
        assert_eq!(stderr(&output).lines().count(), 1, "{}", stderr(&output));
        assert!(stdout(&output).is_empty());
    }
}
