//! The key database never holds a plaintext secret: mint keys, then scan the SQLite file (and its
//! WAL) and the PostgreSQL table for them.

mod sql_support;

use keygate::{KeyGate, NewKey, SqlStore};
use sql_support::{PgSchema, TempDb, secret_of};

const PREFIX: &str = "scan";

/// Mints keys (peppered and not) and returns (key id, secret) pairs.
async fn mint(store: &SqlStore) -> Vec<(String, String)> {
    let plain = KeyGate::builder()
        .prefix(PREFIX)
        .store(store.clone())
        .build();
    let peppered = KeyGate::builder()
        .prefix(PREFIX)
        .pepper("a server-held pepper")
        .store(store.clone())
        .build();
    let mut minted = Vec::new();
    for (i, gate) in [&plain, &peppered, &plain, &peppered]
        .into_iter()
        .enumerate()
    {
        let created = gate
            .create_key(NewKey::new(format!("scan-{i}")).scopes(["items:read"]))
            .await
            .unwrap();
        // Rotation and use write too.
        let rotated = gate
            .rotate_key(&created.record.key_id, std::time::Duration::from_secs(60))
            .await
            .unwrap();
        assert!(gate.verify(rotated.key.expose()).await.is_ok());
        gate.flush_usage().await.unwrap();
        for created in [created, rotated] {
            let key = created.key.expose();
            let id = created.record.key_id.clone();
            minted.push((id.clone(), secret_of(key, PREFIX, &id)));
        }
    }
    minted
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn no_secret_in_the_sqlite_file() {
    let db = TempDb::new("scan");
    let store = SqlStore::connect(&db.url()).await.unwrap();
    let minted = mint(&store).await;
    // Scan while open (the WAL holds recent writes) and again after closing (checkpointed).
    for phase in ["open", "closed"] {
        let mut bytes = Vec::new();
        for file in db.files() {
            if let Ok(content) = std::fs::read(&file) {
                bytes.extend(content);
            }
        }
        for (id, secret) in &minted {
            assert!(
                contains(&bytes, id),
                "{phase}: the scan sees the data (key id {id})"
            );
            assert!(
                !contains(&bytes, secret),
                "{phase}: a secret is in the database file"
            );
            // Without its checksum, too.
            assert!(
                !contains(&bytes, &secret[..secret.len() - 6]),
                "{phase}: secret found"
            );
        }
        store.close().await;
    }
}

#[tokio::test]
#[cfg_attr(
    not(keygate_postgres),
    ignore = "needs PostgreSQL: set KEYGATE_TEST_POSTGRES_URL"
)]
async fn no_secret_in_the_postgres_table() {
    let pg = PgSchema::create("no_secret_in_the_postgres_table").await;
    let store = pg.store().await;
    let minted = mint(&store).await;
    let mut conn = pg.connection().await;
    let rows: Vec<(String,)> = sqlx::query_as("SELECT t::TEXT FROM keygate_keys t")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    let text: String = rows
        .into_iter()
        .map(|(row,)| row)
        .collect::<Vec<_>>()
        .join("\n");
    for (id, secret) in &minted {
        assert!(
            text.contains(id.as_str()),
            "the scan sees the data (key id {id})"
        );
        assert!(!text.contains(secret.as_str()), "a secret is in the table");
        assert!(
            !text.contains(&secret[..secret.len() - 6]),
            "a secret is in the table"
        );
    }
    store.close().await;
}
