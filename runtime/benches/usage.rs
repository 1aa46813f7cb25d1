//! Usage recording from several threads at once: what verification costs per request when 2 or 4
//! threads verify together, over 1,000 keys or all on one hot key, with the per-thread
//! counters keygate uses against the single mutex it used before (a copy of it lives here, run
//! after each verification of a gate that records nothing itself, so both run side by side).
//!
//! Each row is wall time divided by the verifications done by all threads: lower is better, and a
//! recorder that serialises cores shows as rows that do not fall with more threads.
//!
//! `cargo bench -p keygate --bench usage`

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::{Barrier, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use keygate::scope::Requirement;
use keygate::{KeyGate, MemoryStore, NewKey};
use time::OffsetDateTime;
use tokio::runtime::Runtime;

/// The last-used recorder keygate had before: one global mutex taken on every admission.
#[derive(Default)]
struct MutexRecorder {
    pending: Mutex<HashMap<String, OffsetDateTime>>,
}

impl MutexRecorder {
    fn record(&self, key_id: &str, at: OffsetDateTime) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        match pending.get_mut(key_id) {
            Some(last) => *last = at,
            None => {
                pending.insert(key_id.to_owned(), at);
            }
        }
    }
}

/// A gate holding 1,000 keys and their texts. `record`: whether it counts usage itself.
fn gate_with(rt: &Runtime, record: bool) -> (KeyGate, Vec<String>) {
    let gate = KeyGate::builder()
        .prefix("acme_live")
        .pepper("bench pepper")
        .store(MemoryStore::new())
        .usage_flush_interval(Duration::from_secs(3600))
        .record_usage(record)
        .build();
    let keys = rt.block_on(async {
        let mut keys = Vec::new();
        for i in 0..1_000 {
            let created = gate
                .create_key(NewKey::new(format!("key-{i}")).scopes(["items:read"]))
                .await
                .expect("mint");
            keys.push(created.key.expose().to_owned());
        }
        keys
    });
    (gate, keys)
}

/// Verifies `key` in one poll (a `MemoryStore` lookup never waits), then records it in `old` if
/// given.
fn verify_once(gate: &KeyGate, key: &str, old: Option<&MutexRecorder>, at: OffsetDateTime) {
    let mut context = Context::from_waker(Waker::noop());
    let verification = std::pin::pin!(gate.verify_for(key, Requirement::all(&["items:read"])));
    match verification.poll(&mut context) {
        Poll::Ready(Ok(identity)) => {
            if let Some(old) = old {
                old.record(identity.key_id(), at);
            }
            black_box(identity);
        }
        Poll::Ready(Err(rejection)) => panic!("refused: {}", rejection.kind().code()),
        Poll::Pending => unreachable!("a MemoryStore lookup never waits"),
    }
}

/// Wall time for `iters` verifications split over `threads` threads, each starting at once.
fn run(
    rt: &Runtime,
    threads: usize,
    iters: u64,
    gate: &KeyGate,
    keys: &[String],
    hot: bool,
    old: Option<&MutexRecorder>,
) -> Duration {
    let per_thread = iters.div_ceil(threads as u64);
    let barrier = Barrier::new(threads + 1);
    let at = OffsetDateTime::now_utc();
    // The scope joins every thread before it returns: the time runs from the start to the last.
    let started = std::thread::scope(|scope| {
        for t in 0..threads {
            let barrier = &barrier;
            scope.spawn(move || {
                // The recorder starts its periodic writer on the runtime it finds.
                let _runtime = rt.enter();
                barrier.wait();
                for i in 0..per_thread {
                    let n = if hot {
                        0
                    } else {
                        (i as usize * 7 + t * 131) % keys.len()
                    };
                    verify_once(gate, &keys[n], old, at);
                }
            });
        }
        barrier.wait();
        Instant::now()
    });
    started.elapsed()
}

fn threads(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (counted, counted_keys) = gate_with(&rt, true);
    let (quiet, quiet_keys) = gate_with(&rt, false);
    let old = MutexRecorder::default();
    let mut group = c.benchmark_group("usage");
    for threads in [1, 2, 4] {
        for (hot, keys) in [(false, "1000 keys"), (true, "one hot key")] {
            group.bench_function(
                format!("{threads} threads, {keys}, old global mutex"),
                |b| {
                    b.iter_custom(|iters| {
                        run(&rt, threads, iters, &quiet, &quiet_keys, hot, Some(&old))
                    })
                },
            );
            group.bench_function(
                format!("{threads} threads, {keys}, per-thread counters"),
                |b| {
                    b.iter_custom(|iters| {
                        run(&rt, threads, iters, &counted, &counted_keys, hot, None)
                    })
                },
            );
        }
    }
    group.finish();
}

criterion_group!(benches, threads);
criterion_main!(benches);
