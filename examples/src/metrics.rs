//! `GET /metrics`: what keygate records (feature `metrics`), in Prometheus text format, for a
//! scraper holding a key with `metrics:read`.
//!
//! The recorder is process-wide, as the `metrics` facade is: [`install`] sets it up once, and
//! every service built in the process renders the same numbers.

use std::sync::OnceLock;

use axum::http::header;
use axum::response::IntoResponse;
use keygate::require_api_key;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Histogram buckets for the `_seconds` metrics, in seconds: verification takes microseconds
/// from the cache and milliseconds from a database, a flush of last-used times up to seconds.
const BUCKETS: &[f64] = &[
    0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025,
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the Prometheus recorder, once per process. `None` when another recorder was
/// installed first (the program's own): `/metrics` then answers with nothing, and the program's
/// recorder gets keygate's numbers.
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
                .expect("the buckets are not empty");
            match builder.install_recorder() {
                Ok(handle) => {
                    // Histogram samples wait in the recorder until upkeep folds them into their
                    // buckets; without it a service nobody scrapes keeps every sample it took.
                    let upkeep = handle.clone();
                    std::thread::Builder::new()
                        .name("metrics upkeep".into())
                        .spawn(move || {
                            loop {
                                std::thread::sleep(std::time::Duration::from_secs(5));
                                upkeep.run_upkeep();
                            }
                        })
                        .ok()?;
                    Some(handle)
                }
                Err(error) => {
                    tracing::warn!(%error, "GET /metrics is empty: another metrics recorder is installed");
                    None
                }
            }
        })
        .as_ref()
}

#[utoipa::path(
    get,
    path = "/metrics",
    responses((status = 200, description = "keygate's metrics in Prometheus text format (version 0.0.4)", body = String, content_type = "text/plain"))
)]
#[require_api_key(scopes = "metrics:read")]
pub(crate) async fn metrics() -> impl IntoResponse {
    let text = install().map(PrometheusHandle::render).unwrap_or_default();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
}
