//! The audit's rules on records of every kind and age.

use time::{Duration, OffsetDateTime};

use super::{AuditPolicy, FindingKind, audit};
use crate::record::KeyRecord;
use crate::{KeyGate, NewKey};

/// A record as the store would hold it, created `age` days before `now`.
async fn record(name: &str, scopes: &[&str], age: i64, now: OffsetDateTime) -> KeyRecord {
    let gate = KeyGate::builder().build();
    let new = NewKey::new(name).scopes(scopes.iter().copied());
    let mut record = gate.create_key(new).await.unwrap().record;
    record.created_at = now - Duration::days(age);
    record.expires_at = Some(now + Duration::days(30));
    record
}

fn kinds(report: &super::AuditReport, name: &str) -> Vec<FindingKind> {
    report
        .keys
        .iter()
        .find(|key| key.name == name)
        .map(|key| key.findings.iter().map(|f| f.kind).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn each_finding_names_its_key_and_says_what_to_do() {
    let now = OffsetDateTime::now_utc();
    let fresh = record("fresh", &["items:read"], 1, now).await;
    let ghost = record("ghost", &["items:read"], 120, now).await;
    let mut stale = record("stale", &["items:read"], 200, now).await;
    stale.last_used_at = Some(now - Duration::days(100));
    let mut busy = record("busy", &["*"], 10, now).await;
    busy.last_used_at = Some(now - Duration::hours(1));
    busy.expires_at = None;
    let mut revoked = record("revoked", &["*"], 400, now).await;
    revoked.revoked_at = Some(now - Duration::days(1));
    let mut expired = record("expired", &["*"], 400, now).await;
    expired.expires_at = Some(now - Duration::days(1));
    let mut rotated = record("rotated", &["*"], 400, now).await;
    rotated.rotated_to = Some("successor".into());
    let records = [fresh, ghost, stale, busy, revoked, expired, rotated];

    let report = audit(&records, &AuditPolicy::default(), now);
    assert_eq!(
        (
            report.audited,
            report.revoked,
            report.expired,
            report.rotated
        ),
        (4, 1, 1, 1)
    );
    assert_eq!(kinds(&report, "fresh"), []);
    assert_eq!(kinds(&report, "ghost"), [FindingKind::NeverUsed]);
    assert_eq!(
        kinds(&report, "stale"),
        [FindingKind::Unused, FindingKind::NotRotated]
    );
    assert_eq!(
        kinds(&report, "busy"),
        [FindingKind::NoExpiry, FindingKind::WildcardScope]
    );
    assert_eq!(report.finding_count(), 5);
    let stale = report.keys.iter().find(|k| k.name == "stale").unwrap();
    let id = &stale.key_id;
    assert_eq!(stale.findings[0].found, "not used for 100 days");
    assert!(
        stale.findings[1]
            .action
            .contains(&format!("keygate keys rotate {id}")),
        "{:?}",
        stale.findings[1]
    );

    let lenient = AuditPolicy::default()
        .unused_for(std::time::Duration::from_secs(365 * 86_400))
        .older_than(std::time::Duration::from_secs(365 * 86_400));
    let report = audit(&records, &lenient, now);
    assert_eq!(kinds(&report, "stale"), []);
    assert_eq!(kinds(&report, "ghost"), []);
    assert_eq!(report.unused_for, "365d");
}

#[tokio::test]
async fn the_report_serialises_with_codes_and_whole_second_times() {
    let now = OffsetDateTime::now_utc();
    let ghost = record("ghost", &["items:*"], 120, now).await;
    let report = audit(&[ghost], &AuditPolicy::default(), now);
    let json = serde_json::to_value(&report).unwrap();
    let findings = &json["keys"][0]["findings"];
    assert_eq!(findings[0]["kind"], "never_used");
    assert_eq!(findings[1]["kind"], "wildcard_scope");
    assert!(findings[1]["found"].as_str().unwrap().contains("`items:*`"));
    let created = json["keys"][0]["created_at"].as_str().unwrap();
    assert!(
        created.ends_with('Z') && !created.contains('.'),
        "{created}"
    );
    assert!(json["keys"][0].get("hash").is_none());
}
