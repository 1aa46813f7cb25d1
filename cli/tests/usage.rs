//! `keygate keys usage` end to end: a service on the same SQLite file records a key's use; the
//! command line shows it as a table with bars (a spike stands out) or as JSON.

mod support;

use keygate::scope::Requirement;
use keygate::store::KeyStore;
use keygate::usage::UsageHour;
use keygate::{KeyGate, SqlStore};
use serde_json::Value;
use support::{Db, create, fails, keygate, stderr, stdout};
use time::OffsetDateTime;

/// The rows of a table whose first column starts with `start`.
fn row<'t>(table: &'t str, start: &str) -> &'t str {
    table
        .lines()
        .find(|line| line.starts_with(start))
        .unwrap_or_else(|| panic!("no row {start} in\n{table}"))
}

fn hour_label(at: OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02} {:02}:00",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour()
    )
}

#[tokio::test]
async fn usage_is_a_table_with_bars_or_json() {
    let db = Db::initialised("usage");
    let args = ["keys", "create", "--prefix", "demo", "--name", "ci"];
    let (key, id) = create(&db, &[&args[..], &["--scopes", "items:read"]].concat());

    // The service: three admitted requests and one refused for its scope, now; and a spike of
    // 40 wrong secrets three hours ago.
    let store = SqlStore::connect(&db.url()).await.unwrap();
    let gate = KeyGate::builder()
        .prefix("demo")
        .store(store.clone())
        .build();
    for _ in 0..3 {
        gate.verify(&key).await.unwrap();
    }
    let admin = Requirement::all(&["admin"]);
    gate.verify_for(&key, admin).await.unwrap_err();
    gate.flush_usage().await.unwrap();
    let now = OffsetDateTime::now_utc();
    let spike = UsageHour {
        wrong_secret: 40,
        ..UsageHour::starting(now - time::Duration::hours(3))
    };
    store.record_usage(&[(id.clone(), spike)]).await.unwrap();

    let output = keygate(&db, &["keys", "usage", &id, "--since", "24h"], None);
    assert!(output.status.success(), "{}", stderr(&output));
    let table = stdout(&output);
    assert!(table.starts_with("HOUR (UTC)"), "{table}");
    // Every hour of the period has a row: 24 back and the current one.
    let hours = table.lines().filter(|l| l.starts_with("20")).count();
    assert_eq!(hours, 25, "{table}");
    let spiked = row(&table, &hour_label(spike.hour));
    assert!(
        spiked.contains(&"█".repeat(32)),
        "the largest, full width: {spiked}"
    );
    assert!(spiked.split_whitespace().any(|w| w == "40"), "{spiked}");
    let current = row(&table, &hour_label(now));
    let counts: Vec<&str> = current.split_whitespace().skip(2).take(4).collect();
    assert_eq!(counts, ["3", "1", "0", "0"], "{current}");
    // 4 of 40: a tenth of the width (3.2 characters).
    assert!(
        current.contains("███▎") && !current.contains("████"),
        "{current}"
    );
    let quiet = row(&table, &hour_label(now - time::Duration::hours(12)));
    assert!(!quiet.contains('█') && !quiet.contains('▏'), "{quiet}");
    let total = row(&table, "TOTAL");
    let totals: Vec<&str> = total.split_whitespace().skip(1).collect();
    assert_eq!(totals, ["3", "1", "0", "40"], "{total}");
    assert!(table.contains("40 presentations of"), "{table}");

    // Days, by default beyond two days back.
    let daily = stdout(&keygate(&db, &["keys", "usage", &id], None));
    assert!(daily.starts_with("DAY (UTC)"), "{daily}");
    assert_eq!(
        daily.lines().filter(|l| l.starts_with("20")).count(),
        8,
        "{daily}"
    );

    // JSON: only the hours with use, oldest first.
    let json = keygate(
        &db,
        &["keys", "usage", &id, "--since", "1d", "--json"],
        None,
    );
    let hours: Value = serde_json::from_str(&stdout(&json)).unwrap();
    let hours = hours.as_array().unwrap();
    assert_eq!(hours.len(), 2, "{hours:?}");
    assert_eq!(hours[0]["wrong_secret"], 40);
    assert_eq!(hours[1]["admitted"], 3);
    assert_eq!(hours[1]["insufficient_scope"], 1);
    let first = hours[0]["hour"].as_str().unwrap();
    assert!(
        first.ends_with(":00:00Z"),
        "RFC 3339, UTC, whole hour: {first}"
    );

    let json = keygate(&db, &["keys", "usage", &id, "--daily", "--json"], None);
    let days: Value = serde_json::from_str(&stdout(&json)).unwrap();
    let days = days.as_array().unwrap();
    let sum = |field: &str| days.iter().map(|d| d[field].as_u64().unwrap()).sum::<u64>();
    assert_eq!((sum("admitted"), sum("wrong_secret")), (3, 40), "{days:?}");
    assert!(days[0]["day"].as_str().unwrap().ends_with("T00:00:00Z"));

    let unknown = fails(&db, &["keys", "usage", "nosuchkey000"]);
    assert!(unknown.contains("nosuchkey000"), "{unknown}");
    let bad = fails(&db, &["keys", "usage", &id, "--since", "soon"]);
    assert!(bad.contains("--since"), "{bad}");
    let both = fails(&db, &["keys", "usage", &id, "--hourly", "--daily"]);
    assert!(both.contains("--daily"), "{both}");
}
