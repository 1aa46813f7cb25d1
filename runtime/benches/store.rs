//! Verification cost per store: `MemoryStore`, and `SqlStore` (SQLite, PostgreSQL) behind the
//! `CachedStore` (a hit), and the same SQL stores without the cache (what a miss costs).
//!
//! `cargo bench -p keygate --bench store --features sqlite,postgres,cache`; the PostgreSQL rows
//! run when `KEYGATE_TEST_POSTGRES_URL` is set (a private schema, dropped afterwards).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use keygate::store::KeyStore;
use keygate::{CachedStore, KeyGate, MemoryStore, SqlStore};
use sqlx::Connection;
use tokio::runtime::Runtime;

const PREFIX: &str = "bench";

fn gate(store: impl KeyStore) -> KeyGate {
    KeyGate::builder().prefix(PREFIX).store(store).build()
}

fn bench_verify(c: &mut Criterion, rt: &Runtime, name: &str, gate: &KeyGate) {
    let key = rt.block_on(gate.mint_test_key(["items:read"]));
    rt.block_on(async { assert!(gate.verify(&key).await.is_ok()) });
    c.bench_function(name, |b| {
        b.to_async(rt)
            .iter(|| async { black_box(gate.verify(black_box(&key)).await.is_ok()) })
    });
}

fn stores(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");

    bench_verify(c, &rt, "verify/memory", &gate(MemoryStore::new()));
    bench_verify(
        c,
        &rt,
        "verify/cached_memory_hit",
        &gate(CachedStore::new(MemoryStore::new())),
    );

    let dir = std::env::temp_dir().join(format!("keygate-bench-{}.db", std::process::id()));
    let sqlite_url = format!("sqlite://{}", dir.display());
    let sqlite = rt.block_on(SqlStore::connect(&sqlite_url)).expect("sqlite");
    bench_verify(
        c,
        &rt,
        "verify/cached_sqlite_hit",
        &gate(CachedStore::new(sqlite.clone())),
    );
    bench_verify(c, &rt, "verify/sqlite_miss", &gate(sqlite.clone()));
    rt.block_on(sqlite.close());
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", dir.display()));
    }

    let Ok(pg_url) = std::env::var("KEYGATE_TEST_POSTGRES_URL") else {
        eprintln!("set KEYGATE_TEST_POSTGRES_URL to benchmark the PostgreSQL store too");
        return;
    };
    let schema = format!("kg_bench_{}", std::process::id());
    let pg = rt
        .block_on(SqlStore::builder(&pg_url).schema(&schema).connect())
        .expect("postgres");
    bench_verify(
        c,
        &rt,
        "verify/cached_postgres_hit",
        &gate(CachedStore::new(pg.clone())),
    );
    bench_verify(c, &rt, "verify/postgres_miss", &gate(pg.clone()));
    rt.block_on(async {
        pg.close().await;
        if let Ok(mut conn) = sqlx::PgConnection::connect(&pg_url).await {
            let _ = sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                .execute(&mut conn)
                .await;
        }
    });
}

criterion_group!(benches, stores);
criterion_main!(benches);
