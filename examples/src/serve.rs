//! Serving the router: HTTPS with rustls when given a certificate, else plain HTTP.
//!
//! Either way the router is served with the peer's address (`ConnectInfo<SocketAddr>`), which
//! keygate's HTTPS requirement reads to recognise trusted proxies and loopback clients. Over TLS
//! every request also carries [`keygate::https::Tls`]: this server only ever speaks TLS on that
//! listener, so the marker is added to every request it serves and to no other.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::{Extension, Router};
use axum_server::tls_rustls::RustlsConfig;
use keygate::https::Tls;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A TLS configuration from a PEM certificate chain and a PEM private key, with the ring
/// provider chosen here rather than installed process-wide.
pub fn tls_config(cert: &Path, key: &Path) -> Result<RustlsConfig, String> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("{}: no certificate in the file", cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("{}: {e}", key.display()))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .map_err(|e| format!("the certificate and key do not make a TLS configuration: {e}"))?;
    let mut config = config;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(RustlsConfig::from_config(Arc::new(config)))
}

/// Serves `app` on `listener` until `shutdown` completes: over TLS with `tls`, else plain HTTP.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    tls: Option<RustlsConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    match tls {
        None => {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(shutdown)
            .await
        }
        Some(config) => {
            let handle = axum_server::Handle::new();
            let stopping = handle.clone();
            tokio::spawn(async move {
                shutdown.await;
                stopping.graceful_shutdown(Some(Duration::from_secs(10)));
            });
            axum_server::from_tcp_rustls(listener.into_std()?, config)?
                .handle(handle)
                .http1_only()
                .serve(
                    app.layer(Extension(Tls))
                        .into_make_service_with_connect_info::<SocketAddr>(),
                )
                .await
        }
    }
}
