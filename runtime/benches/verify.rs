//! What verification costs, without HTTP: a valid key against stores of 1,000 and 1,000,000 keys
//! (parse, checksum, lookup, HMAC, constant-time compare, state and scope check), and the
//! rejection of a malformed key (which must not reach the store).
//!
//! Two rows verify 1,000 keys in turn, without and with a rate limit they stay under: the
//! difference is what the in-process limiter adds. With `--features redis` and
//! `KEYGATE_TEST_REDIS_URL` set, a third row does the same with the limits in Redis.
//!
//! A row without usage counting (`record_usage(false)`) next to the first: the difference is what
//! counting adds to an admitted request.
//!
//! `cargo bench -p keygate --bench verify`

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use criterion::{Criterion, criterion_group, criterion_main};
use hmac::{Hmac, Mac};
use keygate::limit::{RateLimit, RateLimiter};
use keygate::record::KeyFilter;
use keygate::scope::Requirement;
use keygate::store::{ChangeOutcome, KeyChange, KeyStore, StoreError};
use keygate::{KeyGate, KeyRecord, MemoryStore, NewKey};
use sha2::Sha256;
use time::OffsetDateTime;
use tokio::runtime::Runtime;

/// A MemoryStore that counts lookups, to prove malformed keys cost none.
#[derive(Default)]
struct Counting {
    inner: MemoryStore,
    fetches: AtomicUsize,
}

impl KeyStore for Counting {
    async fn fetch(&self, key_id: &str) -> Result<Option<Arc<KeyRecord>>, StoreError> {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        self.inner.fetch(key_id).await
    }
    async fn insert(&self, record: KeyRecord) -> Result<(), StoreError> {
        self.inner.insert(record).await
    }
    async fn list(&self, filter: &KeyFilter) -> Result<Vec<KeyRecord>, StoreError> {
        self.inner.list(filter).await
    }
    async fn update(&self, key_id: &str, change: KeyChange) -> Result<ChangeOutcome, StoreError> {
        self.inner.update(key_id, change).await
    }
    async fn record_last_used(&self, uses: &[(String, OffsetDateTime)]) -> Result<(), StoreError> {
        self.inner.record_last_used(uses).await
    }
}

/// A gate holding `n` keys, and the text of one of them (picked from the middle). `record`: whether
/// it counts usage and last-used times.
fn gate_with(rt: &Runtime, n: usize, record: bool) -> (KeyGate, Arc<Counting>, String) {
    let store = Arc::new(Counting::default());
    let gate = KeyGate::builder()
        .prefix("acme_live")
        .pepper("bench pepper")
        .store(store.clone())
        .record_usage(record)
        .build();
    let key = rt.block_on(async {
        let mut chosen = String::new();
        for i in 0..n {
            let created = gate
                .create_key(NewKey::new(format!("key-{i}")).scopes(["items:read", "items:write"]))
                .await
                .expect("mint");
            if i == n / 2 {
                chosen = created.key.expose().to_owned();
            }
        }
        chosen
    });
    (gate, store, key)
}

fn verification(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let required = Requirement::all(&["items:read"]);
    let mut group = c.benchmark_group("verify");
    for n in [1_000, 1_000_000] {
        let (gate, _store, key) = gate_with(&rt, n, true);
        group.bench_function(format!("valid key, {n} keys in MemoryStore"), |b| {
            b.to_async(&rt)
                .iter(|| async { black_box(gate.verify_for(black_box(&key), required).await) })
        });
        if n == 1_000 {
            // The floor: the HMAC-SHA-256 of the same secret under the same pepper, keyed once as
            // the gate keys it. The valid-key row's ratio to this one travels across machines.
            let secret = key.split('_').nth(3).expect("secret and checksum");
            let secret = secret[..secret.len() - 6].to_owned();
            let keyed = <Hmac<Sha256> as Mac>::new_from_slice(b"bench pepper").expect("any length");
            group.bench_function("bare HMAC-SHA-256 of the secret (the floor)", |b| {
                b.iter(|| {
                    let mut mac = keyed.clone();
                    mac.update(black_box(secret.as_bytes()));
                    black_box(mac.finalize().into_bytes())
                })
            });
            // The same without usage counting: the difference is what counting costs a request.
            let (quiet, _, quiet_key) = gate_with(&rt, n, false);
            group.bench_function(
                format!("valid key, {n} keys in MemoryStore, usage not recorded"),
                |b| {
                    b.to_async(&rt).iter(|| async {
                        black_box(quiet.verify_for(black_box(&quiet_key), required).await)
                    })
                },
            );
            limited_rows(
                &rt,
                &mut group,
                RateLimiter::in_process(),
                "in process",
                true,
            );
            #[cfg(feature = "redis")]
            if let Ok(url) = std::env::var("KEYGATE_TEST_REDIS_URL") {
                let limiter = rt.block_on(async {
                    keygate::limit::RedisLimiter::connect(&url)
                        .await
                        .expect("redis url")
                        .fail_mode(keygate::limit::FailMode::Closed)
                });
                limited_rows(
                    &rt,
                    &mut group,
                    RateLimiter::redis(limiter),
                    "in Redis",
                    false,
                );
            }
            let (gate, store, key) = (gate.clone(), _store, key.clone());
            let key_text = key.clone();
            let mut malformed = key.into_bytes();
            let last = malformed.len() - 1;
            malformed[last] = if malformed[last] == b'A' { b'B' } else { b'A' };
            let malformed = String::from_utf8(malformed).expect("ascii");
            let before = store.fetches.load(Ordering::Relaxed);
            group.bench_function("malformed key (bad checksum)", |b| {
                b.to_async(&rt).iter(|| async {
                    black_box(gate.verify_for(black_box(&malformed), required).await)
                })
            });
            // The same rejection without the async runtime around it: a malformed key is
            // answered in the future's first poll, so this is the rejection's own cost.
            let waker = std::task::Waker::noop();
            let mut context = std::task::Context::from_waker(waker);
            group.bench_function("malformed key (bad checksum), polled once", |b| {
                b.iter(|| {
                    let rejection =
                        std::pin::pin!(gate.verify_for(black_box(&malformed), required));
                    match rejection.poll(&mut context) {
                        std::task::Poll::Ready(result) => black_box(result.is_err()),
                        std::task::Poll::Pending => unreachable!("a malformed key needs no I/O"),
                    }
                })
            });
            // And rendered into the response the client gets: what a flood of bad keys costs
            // the server beyond the check.
            group.bench_function(
                "malformed key (bad checksum), polled once, into a response",
                |b| {
                    b.iter(|| {
                        let rejection =
                            std::pin::pin!(gate.verify_for(black_box(&malformed), required));
                        match rejection.poll(&mut context) {
                            std::task::Poll::Ready(Err(rejection)) => {
                                black_box(axum::response::IntoResponse::into_response(rejection))
                            }
                            _ => unreachable!("a malformed key is refused at once"),
                        }
                    })
                },
            );
            assert_eq!(
                store.fetches.load(Ordering::Relaxed),
                before,
                "a malformed key must not reach the store"
            );
            // Well-formed keys that fail at the store: an id nobody issued, and a known id with
            // the wrong secret. Both must cost the same, so timing does not tell them apart.
            let elsewhere = KeyGate::builder()
                .prefix("acme_live")
                .pepper("bench pepper")
                .build();
            let (unknown, wrong_secret) = rt.block_on(async {
                let unknown = elsewhere.create_key(NewKey::new("unknown")).await.unwrap();
                let unknown = unknown.key.expose().to_owned();
                let foreign = elsewhere.create_key(NewKey::new("foreign")).await.unwrap();
                // Its id, stored here with another key's hash: the id is known, the secret wrong.
                let mut record = foreign.record.clone();
                let chosen_id = key_text.split('_').nth(2).expect("key id");
                record.hash = gate.get_key(chosen_id).await.unwrap().hash;
                store.insert(record).await.unwrap();
                (unknown, foreign.key.expose().to_owned())
            });
            for (name, presented) in [
                ("unknown key id", &unknown),
                ("known key id, wrong secret", &wrong_secret),
            ] {
                group.bench_function(name, |b| {
                    b.to_async(&rt).iter(|| async {
                        black_box(gate.verify_for(black_box(presented), required).await)
                    })
                });
            }
        }
        drop(gate);
    }
    group.finish();
}

/// What a rate limit adds: the same 1,000 keys verified in turn by two gates on one store, one
/// without limits and one whose default limit (1,000,000/s, the most a limit may allow) every key
/// stays under. In turn, because one key verified back to back runs at millions a second, faster
/// than any limit. Every call must be admitted, and is checked to be.
fn limited_rows(
    rt: &Runtime,
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    limiter: RateLimiter,
    place: &str,
    with_unlimited: bool,
) {
    let required = Requirement::all(&["items:read"]);
    let limit: RateLimit = "1000000/s".parse().expect("limit");
    let store = Arc::new(Counting::default());
    let builder = || {
        KeyGate::builder()
            .prefix("acme_live")
            .pepper("bench pepper")
            .store(store.clone())
    };
    let plain = builder().build();
    let limited = builder()
        .default_rate_limit(limit)
        .rate_limiter(limiter)
        .build();
    let keys: Vec<String> = rt.block_on(async {
        let mut keys = Vec::new();
        for i in 0..1_000 {
            let created = plain
                .create_key(NewKey::new(format!("key-{i}")).scopes(["items:read", "items:write"]))
                .await
                .expect("mint");
            keys.push(created.key.expose().to_owned());
        }
        keys
    });
    let refused = std::cell::Cell::new(0u64);
    let next = std::cell::Cell::new(0usize);
    let mut row = |name: String, gate: &KeyGate| {
        group.bench_function(name, |b| {
            b.to_async(rt).iter(|| async {
                let key = &keys[next.get() % keys.len()];
                next.set(next.get() + 1);
                let result = gate.verify_for(black_box(key), required).await;
                if result.is_err() {
                    refused.set(refused.get() + 1);
                }
                black_box(result)
            })
        });
    };
    if with_unlimited {
        row(
            "valid keys in turn, 1000 keys, no rate limit".to_owned(),
            &plain,
        );
    }
    row(
        format!("valid keys in turn, 1000 keys, rate limit {limit} {place}"),
        &limited,
    );
    assert_eq!(refused.get(), 0, "every key must stay under its limit");
}

criterion_group!(benches, verification);
criterion_main!(benches);
