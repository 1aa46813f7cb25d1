//! Keys stored with plain SHA-256 under a gate that has a pepper: upgraded to the peppered hash on
//! their next successful use, or refused outright with `strict_pepper`.

mod sql_support;

use std::time::Duration;

use keygate::hash::HashVersion;
use keygate::store::KeyStore;
use keygate::{KeyGate, MemoryStore, NewKey};
use sql_support::{PgSchema, TempDb};

const PEPPER: &[u8] = b"a pepper from the secret store";

async fn pepper_upgrade<S: KeyStore + Clone>(name: &str, store: S) {
    // A key written without the pepper: by an older deployment, or a command line run without
    // `--pepper-env`.
    let plain = KeyGate::builder()
        .prefix("pep")
        .store(store.clone())
        .build();
    let created = plain.create_key(NewKey::new("legacy")).await.unwrap();
    let id = created.record.key_id.clone();
    assert_eq!(created.record.hash.version, HashVersion::Sha256);

    let strict = KeyGate::builder()
        .prefix("pep")
        .pepper(PEPPER)
        .strict_pepper(true)
        .store(store.clone())
        .build();
    let refused = strict.verify(created.key.expose()).await.unwrap_err();
    assert_eq!(
        refused.code(),
        "invalid_api_key",
        "{name}: strict refuses it"
    );
    let stored = store.fetch(&id).await.unwrap().unwrap();
    assert_eq!(
        stored.hash.version,
        HashVersion::Sha256,
        "{name}: and leaves it"
    );

    let peppered = KeyGate::builder()
        .prefix("pep")
        .pepper(PEPPER)
        .store(store.clone())
        .build();
    // A wrong secret for the same id upgrades nothing.
    let wrong = format!(
        "{}x",
        &created.key.expose()[..created.key.expose().len() - 1]
    );
    assert!(peppered.verify(&wrong).await.is_err());
    assert!(
        peppered.verify(created.key.expose()).await.is_ok(),
        "{name}"
    );
    let mut upgraded = false;
    for _ in 0..200 {
        let stored = store.fetch(&id).await.unwrap().unwrap();
        if stored.hash.version == HashVersion::HmacSha256 {
            upgraded = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        upgraded,
        "{name}: the first successful use upgrades the stored hash"
    );
    assert!(peppered.verify(created.key.expose()).await.is_ok());
    assert!(
        strict.verify(created.key.expose()).await.is_ok(),
        "{name}: now peppered"
    );
    // Without the pepper the upgraded hash cannot be checked: the gate fails closed.
    let code = plain.verify(created.key.expose()).await.unwrap_err().code();
    assert_eq!(code, "key_store_unavailable", "{name}");
}

#[tokio::test]
async fn memory_store_upgrades_plain_hashes() {
    pepper_upgrade("memory", std::sync::Arc::new(MemoryStore::new())).await;
}

#[tokio::test]
async fn sqlite_store_upgrades_plain_hashes() {
    let db = TempDb::new("pepper");
    let store = keygate::SqlStore::connect(&db.url()).await.unwrap();
    pepper_upgrade("sqlite", store.clone()).await;
    store.close().await;
}

#[tokio::test]
#[cfg_attr(
    not(keygate_postgres),
    ignore = "needs PostgreSQL: set KEYGATE_TEST_POSTGRES_URL"
)]
async fn postgres_store_upgrades_plain_hashes() {
    let pg = PgSchema::create("postgres_store_upgrades_plain_hashes").await;
    let store = pg.store().await;
    pepper_upgrade("postgres", store.clone()).await;
    store.close().await;
}

#[test]
fn strict_pepper_without_a_pepper_is_a_configuration_error() {
    let error = KeyGate::builder()
        .strict_pepper(true)
        .try_build()
        .unwrap_err();
    assert!(error.to_string().contains("needs a pepper"), "{error}");
}
