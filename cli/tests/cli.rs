//! The `keygate` command line end to end, against a temporary SQLite file.

mod support;

use support::{Db, create, fails, keygate, stderr, stdout};

#[test]
fn create_list_verify_revoke() {
    let db = Db::initialised("e2e");
    let (key, id) = create(
        &db,
        &[
            "keys",
            "create",
            "--prefix",
            "demo",
            "--name",
            "ci-deploy",
            "--owner",
            "team-infra",
            "--scopes",
            "items:read,items:write",
            "--expires-in",
            "90d",
        ],
    );
    assert!(key.starts_with("demo_"), "{key}");

    let list = keygate(&db, &["keys", "list"], None);
    assert!(list.status.success());
    let table = stdout(&list);
    assert!(table.starts_with("KEY ID"), "{table}");
    assert!(table.contains(&id) && table.contains("ci-deploy") && table.contains("active"));
    assert!(!table.contains(&key), "never a key in a listing");

    let json = keygate(
        &db,
        &["keys", "list", "--json", "--owner", "team-infra"],
        None,
    );
    let parsed: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(parsed[0]["key_id"], id.as_str());
    assert_eq!(
        parsed[0]["scopes"],
        serde_json::json!(["items:read", "items:write"])
    );
    assert!(!stdout(&json).contains(&key));
    let none = keygate(&db, &["keys", "list", "--json", "--owner", "nobody"], None);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&none.stdout).unwrap(),
        serde_json::json!([])
    );

    let show = keygate(&db, &["keys", "show", &id], None);
    assert!(show.status.success());
    assert!(stdout(&show).contains("team-infra"));

    let verify = keygate(&db, &["keys", "verify"], Some(&format!("{key}\n")));
    assert!(verify.status.success(), "{}", stderr(&verify));
    let said = stdout(&verify);
    assert!(said.starts_with("valid"), "{said}");
    assert!(
        said.contains(&id) && said.contains("items:read items:write"),
        "{said}"
    );

    let revoke = keygate(&db, &["keys", "revoke", &id], None);
    assert!(revoke.status.success());
    let verify = keygate(&db, &["keys", "verify"], Some(&key));
    assert!(!verify.status.success());
    assert_eq!(stdout(&verify).trim(), "invalid (revoked_api_key)");

    let active = stdout(&keygate(&db, &["keys", "list"], None));
    assert!(
        !active.contains(&id),
        "revoked keys are hidden without --all"
    );
    let all = stdout(&keygate(&db, &["keys", "list", "--all"], None));
    assert!(all.contains(&id) && all.contains("revoked"));

    let garbage = keygate(&db, &["keys", "verify"], Some("demo_not_a_key"));
    assert_eq!(stdout(&garbage).trim(), "invalid (invalid_api_key)");
}

#[test]
fn rotate_keeps_the_old_key_for_the_grace_period() {
    let db = Db::initialised("rotate");
    let (old, old_id) = create(
        &db,
        &["keys", "create", "--prefix", "demo", "--name", "partner"],
    );
    let output = keygate(&db, &["keys", "rotate", &old_id, "--grace", "24h"], None);
    assert!(output.status.success(), "{}", stderr(&output));
    let new = stdout(&output).lines().next().unwrap().trim().to_owned();
    assert_ne!(new, old);
    for key in [&old, &new] {
        assert!(
            keygate(&db, &["keys", "verify"], Some(key))
                .status
                .success()
        );
    }
    let shown = stdout(&keygate(&db, &["keys", "show", &old_id, "--json"], None));
    let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert!(shown["rotated_to"].is_string() && shown["expires_at"].is_string());
}

#[test]
fn errors_are_one_line_and_write_nothing() {
    let db = Db::initialised("errors");
    let (_, id) = create(
        &db,
        &["keys", "create", "--prefix", "demo", "--name", "first"],
    );
    let count = || {
        let json = keygate(&db, &["keys", "list", "--all", "--json"], None);
        serde_json::from_slice::<serde_json::Value>(&json.stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(count(), 1);

    for bad in ["0d", "-1d", "soon", "1.5h", "99999999w", "10y"] {
        let line = fails(&db, &["keys", "create", "--name", "x", "--expires-in", bad]);
        assert!(line.contains("invalid duration"), "{bad}: {line}");
    }
    let line = fails(
        &db,
        &[
            "keys",
            "create",
            "--name",
            "x",
            "--scopes",
            "items:read,no spaces",
        ],
    );
    assert!(line.contains("invalid scope"), "{line}");
    let line = fails(&db, &["keys", "create", "--name", "x", "--prefix", "other"]);
    assert!(line.contains("prefix"), "{line}");
    let line = fails(&db, &["keys", "rotate", &id, "--grace", "0h"]);
    assert!(line.contains("invalid duration"), "{line}");
    for args in [
        &["keys", "show", "nosuchkey000"][..],
        &["keys", "revoke", "nosuchkey000"],
        &["keys", "rotate", "nosuchkey000"],
    ] {
        let line = fails(&db, args);
        assert!(
            line.contains("no key with id `nosuchkey000`"),
            "{args:?}: {line}"
        );
    }
    assert_eq!(count(), 1, "nothing was written");

    let line = fails(
        &db,
        &[
            "--database-url",
            "postgres://nobody@127.0.0.1:1/none",
            "keys",
            "list",
        ],
    );
    assert!(line.contains("cannot open the key database"), "{line}");
    let line = fails(
        &db,
        &["--database-url", "mysql://localhost/x", "keys", "list"],
    );
    assert!(line.contains("invalid database URL"), "{line}");
    let line = fails(
        &db,
        &[
            "--pepper-env",
            "KEYGATE_TEST_NO_SUCH_VARIABLE",
            "keys",
            "list",
        ],
    );
    assert!(line.contains("KEYGATE_TEST_NO_SUCH_VARIABLE"), "{line}");
}

#[test]
fn a_file_that_is_not_a_keygate_database_is_left_alone() {
    let db = Db::new("foreign");
    let bytes = b"just some notes, not a database\n".repeat(20);
    std::fs::write(&db.0, &bytes).unwrap();
    let line = fails(&db, &["keys", "list"]);
    assert!(line.contains("not a SQLite database"), "{line}");
    assert_eq!(std::fs::read(&db.0).unwrap(), bytes);
}

#[test]
fn a_fresh_database_needs_a_prefix_to_mint() {
    let db = Db::initialised("noprefix");
    let line = fails(&db, &["keys", "create", "--name", "x"]);
    assert!(line.contains("--prefix"), "{line}");
    let output = keygate(&db, &["keys", "list"], None);
    assert!(output.status.success());
    assert_eq!(stdout(&output).trim(), "no keys");
}

#[test]
fn usage_mistakes_are_one_line_too() {
    let db = Db::new("usage");
    let line = fails(&db, &["keys", "create"]);
    assert!(line.contains("--name"), "{line}");
    let line = fails(&db, &["keys", "frobnicate"]);
    assert!(line.contains("frobnicate"), "{line}");
    let help = keygate(&db, &["keys", "--help"], None);
    assert!(help.status.success());
    assert!(stdout(&help).contains("create"));
}

#[test]
fn scopes_the_service_declared_are_enforced() {
    static SCOPES: &[keygate::scope::DeclaredScope] = &[
        keygate::scope::DeclaredScope::new("items:read", "Read items"),
        keygate::scope::DeclaredScope::new("admin", "Manage keys"),
    ];
    let db = Db::initialised("declared");
    let first = keygate(
        &db,
        &[
            "--prefix",
            "demo",
            "keys",
            "create",
            "--name",
            "a",
            "--scopes",
            "anything:goes",
        ],
        None,
    );
    assert!(first.status.success(), "{}", stderr(&first));
    // What a service with a declaration does at start-up.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let store = keygate::SqlStore::connect(&db.url()).await.unwrap();
            store.record_declared_scopes(SCOPES).await.unwrap();
            store.close().await;
        });
    let err = fails(
        &db,
        &["keys", "create", "--name", "b", "--scopes", "itmes:read"],
    );
    assert!(err.contains("`itmes:read` is not declared"), "{err}");
    assert!(
        err.contains("items:read"),
        "names the declared scopes: {err}"
    );
    let listed = stdout(&keygate(&db, &["keys", "list", "--json"], None));
    assert!(!listed.contains("\"b\""), "nothing written: {listed}");
    let ok = keygate(
        &db,
        &["keys", "create", "--name", "c", "--scopes", "items:read"],
        None,
    );
    assert!(ok.status.success(), "{}", stderr(&ok));
}

#[test]
fn scope_mistakes_are_explained_by_the_shared_grammar() {
    let db = Db::new("grammar");
    for bad in ["items*", "items read", "it*ems"] {
        let line = fails(&db, &["keys", "create", "--name", "x", "--scopes", bad]);
        let problem = keygate::scope::grant_problem(bad).unwrap();
        assert!(line.contains(&problem), "{bad}: {line}");
    }
    assert!(!db.0.exists(), "refused before the database is opened");
}

#[test]
fn rate_limits_are_set_at_creation_changed_and_shown() {
    let db = Db::initialised("limits");
    let (_, id) = create(
        &db,
        &[
            "keys",
            "create",
            "--prefix",
            "demo",
            "--name",
            "partner",
            "--rate-limit",
            "10/sec burst 20",
        ],
    );
    let show = |id: &str| {
        let json = keygate(&db, &["keys", "show", id, "--json"], None);
        serde_json::from_slice::<serde_json::Value>(&json.stdout).unwrap()
    };
    assert_eq!(show(&id)["rate_limit"], "10/s burst 20", "canonical text");
    let table = stdout(&keygate(&db, &["keys", "list"], None));
    assert!(
        table.contains("RATE LIMIT") && table.contains("10/s burst 20"),
        "{table}"
    );
    let record = stdout(&keygate(&db, &["keys", "show", &id], None));
    assert!(record.contains("rate limit:   10/s burst 20"), "{record}");

    let set = keygate(&db, &["keys", "set-limit", &id, "100/min"], None);
    assert!(set.status.success(), "{}", stderr(&set));
    assert_eq!(stdout(&set).trim(), format!("rate limit of {id}: 100/min"));
    assert_eq!(show(&id)["rate_limit"], "100/min");
    let cleared = keygate(&db, &["keys", "set-limit", &id, "none"], None);
    assert!(cleared.status.success(), "{}", stderr(&cleared));
    assert!(show(&id)["rate_limit"].is_null());

    // Mistakes are one line, and write nothing.
    let line = fails(&db, &["keys", "set-limit", &id, "100/fortnight"]);
    assert!(line.contains("unknown unit `fortnight`"), "{line}");
    let line = fails(&db, &["keys", "set-limit", &id, "0/min"]);
    assert!(line.contains("requests must be 1 to"), "{line}");
    assert!(show(&id)["rate_limit"].is_null());
    let line = fails(
        &db,
        &["keys", "create", "--name", "x", "--rate-limit", "lots"],
    );
    assert!(
        line.contains("--rate-limit") && line.contains("invalid rate limit"),
        "{line}"
    );
    let line = fails(&db, &["keys", "set-limit", "nosuchkey", "1/s"]);
    assert!(line.contains("nosuchkey"), "{line}");

    // A revoked key's limit is final.
    assert!(
        keygate(&db, &["keys", "revoke", &id], None)
            .status
            .success()
    );
    let line = fails(&db, &["keys", "set-limit", &id, "1/s"]);
    assert!(line.contains("revoked"), "{line}");
}
