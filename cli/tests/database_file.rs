//! A SQLite key database is only ever created on purpose, by `keygate init`: a mistyped path is
//! refused rather than turned into an empty database that reports "no keys".

mod support;

use std::path::Path;

use support::{Db, create, fails, keygate, stderr, stdout};

fn leftovers(db: &Db) -> Vec<String> {
    ["", "-wal", "-shm"]
        .iter()
        .map(|suffix| format!("{}{suffix}", db.0.display()))
        .filter(|file| Path::new(file).exists())
        .collect()
}

#[test]
fn a_missing_sqlite_file_is_refused_and_not_created() {
    let db = Db::new("missing");
    for args in [
        &["keys", "list"][..],
        &["keys", "create", "--prefix", "demo", "--name", "x"],
        &["keys", "show", "nosuchkey000"],
        &["keys", "verify"],
    ] {
        let line = fails(&db, args);
        assert!(
            line.contains(&format!("no key database at `{}`", db.0.display())),
            "{args:?} names the path: {line}"
        );
        assert!(line.contains("keygate init"), "{args:?}: {line}");
        assert_eq!(leftovers(&db), Vec::<String>::new(), "{args:?}");
    }
}

#[test]
fn init_creates_the_database_and_records_the_prefix() {
    let db = Db::new("init");
    let output = keygate(&db, &["init", "--prefix", "demo"], None);
    assert!(output.status.success(), "{}", stderr(&output));
    let said = stdout(&output);
    assert!(said.contains("created the key database"), "{said}");
    assert!(said.contains("key prefix: demo"), "{said}");
    assert!(db.0.exists());

    let (key, _) = create(&db, &["keys", "create", "--name", "ci-deploy"]);
    assert!(key.starts_with("demo_"), "the recorded prefix: {key}");

    let again = keygate(&db, &["init"], None);
    assert!(again.status.success(), "{}", stderr(&again));
    let said = stdout(&again);
    assert!(
        said.contains("is ready") && said.contains("key prefix: demo"),
        "{said}"
    );
    let listed = stdout(&keygate(&db, &["keys", "list"], None));
    assert!(
        listed.contains("ci-deploy"),
        "init keeps the keys: {listed}"
    );

    let line = fails(&db, &["init", "--prefix", "other"]);
    assert!(line.contains("--prefix other differs"), "{line}");
}

#[test]
fn an_in_memory_database_needs_no_init() {
    let db = Db::new("memory");
    let output = keygate(
        &db,
        &["--database-url", "sqlite::memory:", "keys", "list"],
        None,
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output).trim(), "no keys");
}
