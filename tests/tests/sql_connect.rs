//! Opening key databases: a fresh file is created and migrated; a file that is not a keygate
//! database is refused with a clear error and left byte-for-byte untouched.

mod sql_support;

use keygate::record::KeyFilter;
use keygate::sql::ConnectError;
use keygate::store::KeyStore;
use keygate::{KeyGate, NewKey, SqlStore};
use sql_support::{PgSchema, TempDb};
use sqlx::Connection;

#[tokio::test]
async fn a_missing_sqlite_file_is_created_migrated_and_reopened() {
    let db = TempDb::new("fresh");
    assert!(!db.path.exists());
    let store = SqlStore::connect(&db.url()).await.unwrap();
    assert!(db.path.exists());
    let gate = KeyGate::builder()
        .prefix("demo")
        .store(store.clone())
        .build();
    let created = gate.create_key(NewKey::new("persisted")).await.unwrap();
    store.close().await;

    let again = SqlStore::connect(&db.url()).await.unwrap();
    let gate = KeyGate::builder().prefix("demo").store(again).build();
    assert!(
        gate.verify(created.key.expose()).await.is_ok(),
        "keys survive a restart"
    );
}

#[tokio::test]
async fn a_file_that_is_not_sqlite_is_refused_and_untouched() {
    let db = TempDb::new("garbage");
    let bytes =
        b"name,email\nalice,alice@example.com\nthis is a CSV file, not a database\n".repeat(50);
    std::fs::write(&db.path, &bytes).unwrap();
    let error = SqlStore::connect(&db.url()).await.unwrap_err();
    assert!(matches!(error, ConnectError::NotKeygate(_)), "{error}");
    let message = error.to_string();
    assert!(message.contains("not a SQLite database"), "{message}");
    assert!(!message.contains('\n'));
    assert_eq!(
        std::fs::read(&db.path).unwrap(),
        bytes,
        "the file is untouched"
    );
    for companion in &db.files()[1..] {
        assert!(!companion.exists(), "{} was created", companion.display());
    }
}

#[tokio::test]
async fn another_applications_sqlite_database_is_refused_and_untouched() {
    let db = TempDb::new("foreign");
    {
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&db.path)
            .create_if_missing(true);
        let mut conn = sqlx::SqliteConnection::connect_with(&options)
            .await
            .unwrap();
        sqlx::query("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL)")
            .execute(&mut conn)
            .await
            .unwrap();
        sqlx::query("INSERT INTO users (email) VALUES ('alice@example.com')")
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
    }
    let bytes = std::fs::read(&db.path).unwrap();
    let error = SqlStore::connect(&db.url()).await.unwrap_err();
    assert!(matches!(error, ConnectError::NotKeygate(_)), "{error}");
    assert!(error.to_string().contains("not a keygate one"), "{error}");
    assert_eq!(
        std::fs::read(&db.path).unwrap(),
        bytes,
        "the file is untouched"
    );
}

#[tokio::test]
async fn bad_urls_are_refused_clearly() {
    for url in ["mysql://localhost/x", "keys.db", ""] {
        let error = SqlStore::connect(url).await.unwrap_err();
        assert!(
            matches!(error, ConnectError::InvalidUrl(_)),
            "{url}: {error}"
        );
    }
    let error = SqlStore::connect("postgres://postgres@127.0.0.1:1/none")
        .await
        .unwrap_err();
    assert!(matches!(error, ConnectError::Unreachable(_)), "{error}");
}

#[tokio::test]
async fn the_key_prefix_is_recorded_once() {
    let store = SqlStore::connect("sqlite::memory:").await.unwrap();
    assert_eq!(store.key_prefix().await.unwrap(), None);
    assert_eq!(store.claim_key_prefix("demo").await.unwrap(), "demo");
    assert_eq!(store.claim_key_prefix("other").await.unwrap(), "demo");
    assert_eq!(store.key_prefix().await.unwrap().as_deref(), Some("demo"));
}

#[tokio::test]
#[cfg_attr(
    not(keygate_postgres),
    ignore = "needs PostgreSQL: set KEYGATE_TEST_POSTGRES_URL"
)]
async fn postgres_schema_is_created_migrated_and_reopened() {
    let pg = PgSchema::create("postgres_schema_is_created_migrated_and_reopened").await;
    let store = pg.store().await;
    let gate = KeyGate::builder()
        .prefix("demo")
        .store(store.clone())
        .build();
    gate.create_key(NewKey::new("persisted")).await.unwrap();
    store.close().await;
    // Connecting again runs no migration twice and keeps the data.
    let again = pg.store().await;
    assert_eq!(again.list(&KeyFilter::default()).await.unwrap().len(), 1);
    again.close().await;
}

#[tokio::test]
#[cfg_attr(
    not(keygate_postgres),
    ignore = "needs PostgreSQL: set KEYGATE_TEST_POSTGRES_URL"
)]
async fn a_schema_name_postgres_would_read_two_ways_is_refused_and_nothing_is_created() {
    let pg = PgSchema::create("a_schema_name_postgres_would_read_two_ways").await;
    let mixed = format!("Mixed_{}", pg.schema);
    for name in [mixed.as_str(), "has space", "9starts_with_digit", ""] {
        let refused = SqlStore::builder(&pg.url).schema(name).connect().await;
        assert!(
            matches!(refused, Err(keygate::sql::ConnectError::InvalidSchema(ref n)) if n == name),
            "{name:?}: {refused:?}"
        );
    }
    let mut conn = pg.connection().await;
    let stray: Vec<(String,)> = sqlx::query_as(
        "SELECT schema_name::TEXT FROM information_schema.schemata WHERE lower(schema_name) = lower($1)",
    )
    .bind(&mixed)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert!(stray.is_empty(), "no stray schema: {stray:?}");
}

/// Several services (or a service and the command line) starting at once on a file that does not
/// exist yet: each opens its own connections, as separate processes would, and each must start.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_starts_on_a_fresh_file_all_succeed() {
    for round in 0..25 {
        let db = TempDb::new("first-start");
        let starts: Vec<_> = (0..8)
            .map(|_| {
                let url = db.url();
                tokio::spawn(async move { SqlStore::connect(&url).await })
            })
            .collect();
        let mut stores = Vec::new();
        for start in starts {
            match start.await.unwrap() {
                Ok(store) => stores.push(store),
                Err(error) => panic!("round {round}: a concurrent first start failed: {error}"),
            }
        }
        // One schema, migrated once, that every store can use.
        let mut conn = sqlx::SqliteConnection::connect(&db.url()).await.unwrap();
        let applied: Vec<(i64, bool)> =
            sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
                .fetch_all(&mut conn)
                .await
                .unwrap();
        assert_eq!(
            applied,
            [(1, true), (2, true), (3, true), (4, true), (5, true)],
            "round {round}"
        );
        conn.close().await.unwrap();
        let writer = KeyGate::builder()
            .prefix("demo")
            .store(stores[0].clone())
            .build();
        let created = writer.create_key(NewKey::new("shared")).await.unwrap();
        for store in &stores {
            let reader = KeyGate::builder()
                .prefix("demo")
                .store(store.clone())
                .build();
            assert!(
                reader.verify(created.key.expose()).await.is_ok(),
                "round {round}"
            );
            store.close().await;
        }
    }
}

/// A restart while another program holds the write lock (the command line mid-change, a stuck
/// transaction): the schema is up to date, so starting only reads, and WAL readers never wait.
#[tokio::test]
async fn a_start_while_another_process_holds_the_write_lock_succeeds() {
    let db = TempDb::new("restart-locked");
    let store = SqlStore::connect(&db.url()).await.unwrap();
    let gate = KeyGate::builder()
        .prefix("demo")
        .store(store.clone())
        .build();
    let created = gate.create_key(NewKey::new("before")).await.unwrap();
    store.close().await;

    let mut locker = sql_support::hold_write_lock(&db.url()).await;

    let started = std::time::Instant::now();
    let again = SqlStore::builder(db.url())
        .acquire_timeout(std::time::Duration::from_secs(5))
        .connect()
        .await
        .unwrap();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    let gate = KeyGate::builder().prefix("demo").store(again).build();
    assert!(gate.verify(created.key.expose()).await.is_ok());

    sqlx::query("ROLLBACK").execute(&mut locker).await.unwrap();
    locker.close().await.unwrap();
}

/// Makes a database migrated by this version look like one made before rate limits: no
/// `rate_limit` column, no record of migration 3.
const UNDO_RATE_LIMIT_MIGRATION: [&str; 2] = [
    "ALTER TABLE keygate_keys DROP COLUMN rate_limit",
    "DELETE FROM _sqlx_migrations WHERE version = 3",
];

/// A key made before the upgrade, then a limit set after it: the old database gains the column on
/// the next start, and its keys read as unlimited.
async fn check_upgrade(store: SqlStore, created: &keygate::CreatedKey) {
    let gate = KeyGate::builder()
        .prefix("demo")
        .store(store.clone())
        .build();
    let id = &created.record.key_id;
    assert_eq!(gate.get_key(id).await.unwrap().rate_limit, None);
    assert!(gate.verify(created.key.expose()).await.is_ok());
    let limit = "5/min".parse().unwrap();
    gate.set_rate_limit(id, Some(limit)).await.unwrap();
    assert_eq!(gate.get_key(id).await.unwrap().rate_limit, Some(limit));
    store.close().await;
}

#[tokio::test]
async fn a_sqlite_database_from_before_rate_limits_is_upgraded() {
    let db = TempDb::new("upgrade");
    let store = SqlStore::connect(&db.url()).await.unwrap();
    let gate = KeyGate::builder()
        .prefix("demo")
        .store(store.clone())
        .build();
    let created = gate.create_key(NewKey::new("old")).await.unwrap();
    store.close().await;
    let mut conn = sqlx::SqliteConnection::connect(&db.url()).await.unwrap();
    for sql in UNDO_RATE_LIMIT_MIGRATION {
        sqlx::query(sql).execute(&mut conn).await.expect(sql);
    }
    conn.close().await.unwrap();

    check_upgrade(SqlStore::connect(&db.url()).await.unwrap(), &created).await;
}

#[tokio::test]
#[cfg_attr(
    not(keygate_postgres),
    ignore = "needs PostgreSQL: set KEYGATE_TEST_POSTGRES_URL"
)]
async fn a_postgres_database_from_before_rate_limits_is_upgraded() {
    let pg = PgSchema::create("a_postgres_database_from_before_rate_limits_is_upgraded").await;
    let store = pg.store().await;
    let gate = KeyGate::builder()
        .prefix("demo")
        .store(store.clone())
        .build();
    let created = gate.create_key(NewKey::new("old")).await.unwrap();
    store.close().await;
    let mut conn = pg.connection().await;
    for sql in UNDO_RATE_LIMIT_MIGRATION {
        sqlx::query(sql).execute(&mut conn).await.expect(sql);
    }
    conn.close().await.unwrap();

    check_upgrade(pg.store().await, &created).await;
}
