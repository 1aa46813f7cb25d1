//! What the HTTPS requirement costs an admitted request: one `#[require_api_key]` route called
//! through its axum router (no sockets), with the requirement off, and on with the request
//! admitted as loopback (what the example does under `cargo run`), over TLS (the marker a TLS
//! server adds) and through a trusted proxy's `X-Forwarded-Proto: https`. Every request carries
//! the peer address (`ConnectInfo`), as a server built with `into_make_service_with_connect_info`
//! gives it, so the rows differ only in the check; the last row is the proxy's request unchecked.
//!
//! The rows assert every answer is a 200: a refused request would be cheaper and prove nothing.
//!
//! `cargo bench -p keygate --bench https`

use std::hint::black_box;
use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use criterion::{Criterion, criterion_group, criterion_main};
use keygate::https::{RequireHttps, Tls};
use keygate::{KeyGate, NewKey, require_api_key};
use tower_service::Service;

#[require_api_key(scopes = "items:read")]
async fn items() -> &'static str {
    "[]"
}

/// A router over a gate with `https` (none: not required) holding one key, and the key.
fn app(rt: &tokio::runtime::Runtime, https: Option<RequireHttps>) -> (Router, String) {
    let mut builder = KeyGate::builder().prefix("acme_live");
    if let Some(policy) = https {
        builder = builder.require_https(policy);
    }
    let gate = builder.build();
    let key = rt.block_on(async {
        let created = gate
            .create_key(NewKey::new("bench").scopes(["items:read"]))
            .await
            .expect("mint");
        created.key.expose().to_owned()
    });
    (
        Router::new().route("/items", get(items)).with_state(gate),
        key,
    )
}

fn https(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let loopback: SocketAddr = "127.0.0.1:50000".parse().expect("address");
    let proxy: SocketAddr = "10.0.0.7:50000".parse().expect("address");
    let policy = || {
        RequireHttps::new()
            .exempt_loopback(true)
            .trust_proxy("10.0.0.0/8")
    };
    // (row, requirement, peer, TLS marker, forwarded header)
    let rows = [
        ("not required", None, loopback, false, false),
        (
            "required, loopback exempt",
            Some(policy()),
            loopback,
            false,
            false,
        ),
        ("required, over TLS", Some(policy()), proxy, true, false),
        (
            "required, trusted proxy's X-Forwarded-Proto",
            Some(policy()),
            proxy,
            false,
            true,
        ),
        // The same request as the row above, not checked: the extra header has a cost of its
        // own (it is built, carried and dropped), which is not the check's.
        (
            "not required, the proxy's request",
            None,
            proxy,
            false,
            true,
        ),
    ];
    let mut group = c.benchmark_group("https");
    for (row, requirement, peer, tls, forwarded) in rows {
        let (router, key) = app(&rt, requirement);
        let request = move || {
            let mut request = Request::get("/items").header("x-api-key", &key);
            if forwarded {
                request = request.header("x-forwarded-proto", "https");
            }
            let mut request = request.body(Body::empty()).expect("request");
            request.extensions_mut().insert(ConnectInfo(peer));
            if tls {
                request.extensions_mut().insert(Tls);
            }
            request
        };
        let status = rt
            .block_on(router.clone().call(request()))
            .expect("infallible");
        assert_eq!(
            status.status(),
            StatusCode::OK,
            "{row}: the request is admitted"
        );
        group.bench_function(format!("admitted request, HTTPS {row}"), |b| {
            b.to_async(&rt).iter_batched(
                &request,
                |request| {
                    let mut router = router.clone();
                    async move { black_box(router.call(request).await) }
                },
                criterion::BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, https);
criterion_main!(benches);
