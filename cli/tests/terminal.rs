//! Names and owners come from whoever created a key. Printed for a person, they must not be able
//! to steer the terminal (escape sequences, bidirectional overrides) or forge lines of output.

mod support;

use sqlx::Connection;
use support::{Db, create, keygate, stderr, stdout};

const CLEAR_SCREEN: &str = "\x1b[2J";
const FORGED_LINE: &str = "x\nkg_fake  line";
const REVERSED: &str = "\u{202e}gpj.exe\u{9b}31m";

/// Sets a key's name and owner in the database directly, as a record written by anything other
/// than this command line would be.
fn rename(db: &Db, key_id: &str, name: &str, owner: &str) {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let mut conn = sqlx::SqliteConnection::connect(&db.url()).await.unwrap();
            sqlx::query("UPDATE keygate_keys SET name = ?1, owner = ?2 WHERE key_id = ?3")
                .bind(name)
                .bind(owner)
                .bind(key_id)
                .execute(&mut conn)
                .await
                .unwrap();
            conn.close().await.unwrap();
        });
}

fn assert_inert(what: &str, text: &str) {
    assert!(!text.contains('\x1b'), "{what}: an ESC byte: {text:?}");
    let steering = ['\u{202e}', '\u{9b}', '\u{7f}'];
    assert!(!text.contains(steering), "{what}: a raw control: {text:?}");
}

#[test]
fn names_and_owners_cannot_steer_the_terminal() {
    let db = Db::initialised("terminal");
    let prefix = ["--prefix", "demo"];
    let (key, id) = create(
        &db,
        &[&prefix[..], &["keys", "create", "--name", "a"]].concat(),
    );
    let (_, other_id) = create(&db, &["keys", "create", "--name", "b"]);
    rename(&db, &id, CLEAR_SCREEN, FORGED_LINE);
    rename(&db, &other_id, REVERSED, "\u{7f}");

    let list = stdout(&keygate(&db, &["keys", "list"], None));
    assert_inert("list", &list);
    assert_eq!(list.lines().count(), 3, "a header and two keys: {list}");
    assert!(
        !list.lines().any(|line| line.starts_with("kg_fake")),
        "{list}"
    );
    assert!(
        list.contains("\\u{1b}[2J") && list.contains("x\\u{a}kg_fake"),
        "{list}"
    );
    assert!(list.contains("\\u{202e}gpj.exe\\u{9b}31m"), "{list}");

    let show = stdout(&keygate(&db, &["keys", "show", &id], None));
    assert_inert("show", &show);
    assert_eq!(show.lines().count(), 12, "one line per field: {show}");

    let verify = keygate(&db, &["keys", "verify"], Some(&key));
    assert!(verify.status.success(), "{}", stderr(&verify));
    let verified = stdout(&verify);
    assert_inert("verify", &verified);
    assert_eq!(verified.lines().count(), 5, "{verified}");

    let json = stdout(&keygate(&db, &["keys", "list", "--json"], None));
    assert_inert("list --json", &json);
    let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(parsed[0]["name"], CLEAR_SCREEN, "JSON keeps the exact text");
    assert_eq!(parsed[0]["owner"], FORGED_LINE);
    assert_eq!(parsed[1]["name"], REVERSED);
}

/// Marks a key revoked in the database directly with a reason whose URL and source hold
/// terminal escapes and a line break, as a reporter (or anything writing the database) might.
fn revoke_with_hostile_reason(db: &Db, key_id: &str) {
    let reason = serde_json::json!({
        "kind": "leaked",
        "url": format!("https://example.com/{CLEAR_SCREEN}"),
        "source": FORGED_LINE,
    });
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let mut conn = sqlx::SqliteConnection::connect(&db.url()).await.unwrap();
            sqlx::query(
                "UPDATE keygate_keys SET revoked_at = 1700000000000, revocation = ?1 \
                 WHERE key_id = ?2",
            )
            .bind(reason.to_string())
            .bind(key_id)
            .execute(&mut conn)
            .await
            .unwrap();
            conn.close().await.unwrap();
        });
}

#[test]
fn a_revocation_reason_is_shown_and_cannot_steer_the_terminal() {
    let db = Db::initialised("terminal-reason");
    let (_, id) = create(
        &db,
        &["--prefix", "demo", "keys", "create", "--name", "leaky"],
    );
    let (_, plain_id) = create(&db, &["keys", "create", "--name", "plain"]);
    revoke_with_hostile_reason(&db, &id);

    let show = stdout(&keygate(&db, &["keys", "show", &id], None));
    assert_inert("show", &show);
    assert!(show.contains("reason:       leaked"), "{show}");
    assert!(
        show.contains("found at:     https://example.com/\\u{1b}[2J"),
        "{show}"
    );
    assert!(
        show.contains("found in:     x\\u{a}kg_fake  line"),
        "{show}"
    );
    assert_eq!(show.lines().count(), 15, "three more lines: {show}");
    let plain = stdout(&keygate(&db, &["keys", "show", &plain_id], None));
    assert_eq!(plain.lines().count(), 12, "no reason, no lines: {plain}");

    let list = stdout(&keygate(&db, &["keys", "list", "--all"], None));
    assert_inert("list", &list);
    let line = list.lines().find(|line| line.starts_with(&id)).unwrap();
    assert!(line.contains("revoked (leaked)"), "{list}");

    let json = stdout(&keygate(&db, &["keys", "show", &id, "--json"], None));
    assert_inert("show --json", &json);
    let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(parsed["revocation"]["kind"], "leaked");
    assert_eq!(
        parsed["revocation"]["source"], FORGED_LINE,
        "JSON keeps the exact text"
    );
}
