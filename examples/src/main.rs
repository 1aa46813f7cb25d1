//! `cargo run`: starts the keygate example service and prints keys to call it with.
//! `cargo run -- --routes`: prints the access table and exits.

use std::io::IsTerminal;
use std::net::SocketAddr;

use keygate::https::RequireHttps;
use keygate::limit::{FailMode, RedisLimiter};
use keygate::record::KeyFilter;
use keygate::store::KeyStore;
use keygate::{CachedStore, KeyGate, KeyGateBuilder, SqlStore};
use keygate_example::serve::{serve, tls_config};
use keygate_example::{
    AppState, DECLARED_SCOPES, Items, LIMITED_LIMIT, READ_LIMIT, WRITE_LIMIT, access, app, leaks,
    mint_demo_keys, openapi,
};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() {
    if let Err(error) = run().await {
        eprintln!("error: {error}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::args().skip(1).any(|arg| arg == "--routes") {
        let gate = gate_builder()?.build();
        print!("{}", access::render(&access::table(&openapi(&gate))));
        return Ok(());
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colour codes only for a person watching: a log kept in a file gets plain text.
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    let addr = listen_addr().await?;
    let tls = match (env("KEYGATE_TLS_CERT"), env("KEYGATE_TLS_KEY")) {
        (Some(cert), Some(key)) => Some(tls_config(cert.as_ref(), key.as_ref())?),
        (None, None) => None,
        _ => return Err("set both KEYGATE_TLS_CERT and KEYGATE_TLS_KEY, or neither".into()),
    };
    // `0` must not read as yes: only a clear yes lets keys cross the network in the clear.
    let allow_plain_http = match env("KEYGATE_ALLOW_PLAIN_HTTP").as_deref() {
        None | Some("0" | "false" | "no") => false,
        Some("1" | "true" | "yes") => true,
        Some(other) => {
            return Err(format!(
                "KEYGATE_ALLOW_PLAIN_HTTP: `{}` is neither 1 nor 0",
                other.escape_default()
            )
            .into());
        }
    };
    if tls.is_none() && !addr.ip().is_loopback() && !allow_plain_http {
        // Keys sent to this address would cross the network in the clear.
        return Err(format!(
            "refusing to serve plain HTTP on {addr}: set KEYGATE_TLS_CERT and KEYGATE_TLS_KEY \
             (PEM files), or KEYGATE_ALLOW_PLAIN_HTTP=1 behind a TLS-terminating proxy listed in \
             KEYGATE_TRUSTED_PROXIES"
        )
        .into());
    }
    let https = https_policy()?;
    let url = std::env::var("KEYGATE_DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| "sqlite://keygate.db".to_owned());
    let store = SqlStore::connect(&url).await?;
    let recorded = store.claim_key_prefix(PREFIX).await?;
    if recorded != PREFIX {
        return Err(format!(
            "the key database's keys use the prefix `{recorded}`, but this service uses `{PREFIX}`"
        )
        .into());
    }
    // The command line refuses the scopes this service refuses.
    store.record_declared_scopes(DECLARED_SCOPES).await?;
    let fresh = store.list(&KeyFilter::default()).await?.is_empty();
    let mut builder = gate_builder()?
        .require_https(https)
        .store(CachedStore::new(store));
    // Several instances share each key's budget through Redis; one alone counts in process.
    let redis_url = std::env::var("KEYGATE_REDIS_URL")
        .ok()
        .filter(|url| !url.is_empty());
    if let Some(redis_url) = &redis_url {
        // Open (the default): a Redis outage skips the count, never authentication.
        let fail_mode = match std::env::var("KEYGATE_REDIS_FAIL_MODE").as_deref() {
            Ok("closed") => FailMode::Closed,
            Ok("open") | Ok("") | Err(_) => FailMode::Open,
            Ok(other) => {
                return Err(format!(
                    "KEYGATE_REDIS_FAIL_MODE: `{}` is neither `open` nor `closed`",
                    other.escape_default()
                )
                .into());
            }
        };
        let limiter = RedisLimiter::connect(redis_url).await?.fail_mode(fail_mode);
        builder = builder.rate_limiter(limiter);
    }
    let gate = builder.build();
    let keys = if fresh {
        Some(mint_demo_keys(&gate).await?)
    } else {
        None
    };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("KEYGATE_ADDR: cannot listen on {addr}: {e}"))?;
    // The port the system chose, when asked for port 0.
    let addr = listener.local_addr().unwrap_or(addr);

    let scheme = if tls.is_some() { "https" } else { "http" };
    println!("keygate example listening on {scheme}://{addr}");
    if pepper().is_none() {
        println!(
            "Running without a pepper: stored hashes are plain SHA-256. Set {PEPPER_VAR} (from a \
             secret store) so a copy of the key database alone cannot confirm a key."
        );
    }
    println!();
    // A Postgres URL may carry a password, so only a SQLite one is echoed.
    let shown_url = if url.starts_with("sqlite:") {
        url.as_str()
    } else {
        "$KEYGATE_DATABASE_URL"
    };
    match keys {
        Some(keys) => {
            println!("Demo keys (shown once; paste these lines into your shell):");
            // What each key may do, as a shell comment the paste ignores.
            let lines = [
                (
                    "READ",
                    &keys.read,
                    format!("items:read, rate limit {READ_LIMIT} (a load test stays under it)"),
                ),
                (
                    "WRITE",
                    &keys.write,
                    format!("items:read items:write, rate limit {WRITE_LIMIT}"),
                ),
                (
                    "ADMIN",
                    &keys.admin,
                    "admin items:*, no rate limit".to_owned(),
                ),
                (
                    "LIMITED",
                    &keys.limited,
                    format!("items:read, rate limit {LIMITED_LIMIT}"),
                ),
                (
                    "METRICS",
                    &keys.metrics,
                    "metrics:read only: what a Prometheus scraper holds".to_owned(),
                ),
            ];
            let exports =
                lines.map(|(name, key, what)| (format!("export KEYGATE_{name}_KEY={key}"), what));
            let width = exports
                .iter()
                .map(|(export, _)| export.len())
                .max()
                .unwrap_or(0);
            for (export, what) in exports {
                println!("{export:<width$}    # {what}");
            }
        }
        None => {
            println!("Using the existing key database {shown_url}; its keys are not shown again.");
            println!(
                "Mint a key with the keygate command line (cargo install --path cli --locked):"
            );
            let pepper_flag = if pepper().is_some() {
                format!(" --pepper-env {PEPPER_VAR}")
            } else {
                String::new()
            };
            println!(
                "keygate keys create --database-url {shown_url}{pepper_flag} --name me --scopes items:read,items:write"
            );
            println!("or delete the database file to start afresh with new demo keys.");
        }
    }
    println!();
    println!("Then:");
    // With a certificate of your own making, curl needs it as its trust root: named by its
    // path, since the variable may have been set for this command only.
    let curl = match env("KEYGATE_TLS_CERT") {
        Some(cert) if tls.is_some() => {
            format!("curl -s --cacert '{}'", cert.replace('\'', r"'\''"))
        }
        _ => "curl -s".to_owned(),
    };
    let base = format!("{scheme}://{}", reachable(addr, tls.is_some()));
    println!("{curl} {base}/items -H \"X-API-Key: $KEYGATE_READ_KEY\"");
    println!(
        "{curl} {base}/items -H \"Authorization: Bearer $KEYGATE_WRITE_KEY\" -H 'Content-Type: application/json' -d '{{\"name\": \"pear\"}}'"
    );
    println!("{curl} -X DELETE {base}/items/1 -H \"X-API-Key: $KEYGATE_ADMIN_KEY\" -i");
    println!("{curl} {base}/whoami -H \"X-API-Key: $KEYGATE_READ_KEY\"");
    println!("{curl} {base}/items -i    # 401 missing_api_key");
    println!(
        "{curl} {base}/metrics -H \"X-API-Key: $KEYGATE_METRICS_KEY\"    # Prometheus text: keygate_decisions_total, ..."
    );
    println!(
        "{curl} '{base}/admin/keys/audit?unused_for=30d' -H \"X-API-Key: $KEYGATE_ADMIN_KEY\"    # keys to rotate, revoke or give an expiry"
    );
    println!(
        "Web console: {base}/admin/console    # sign in with $KEYGATE_ADMIN_KEY (scope admin)"
    );
    println!();
    println!(
        "Secret scanning reports are received at POST {base}{} (keys from {}).",
        leaks::PATH,
        leaks::keys_url_from_env()
    );
    println!(
        "for i in $(seq 20); do {curl} -o /dev/null -w '%{{http_code}} ' {base}/items -H \"X-API-Key: $KEYGATE_LIMITED_KEY\"; done; echo    # {LIMITED_LIMIT}: 200 five times, then 429 rate_limited"
    );
    println!(
        "{curl} -i {base}/items -H \"X-API-Key: $KEYGATE_LIMITED_KEY\"    # Retry-After, RateLimit-Policy and RateLimit headers"
    );
    match gate.max_key_lifetime() {
        Some(max) => println!(
            "Keys live at most {} ({MAX_LIFETIME_VAR}); longer lifetimes are refused.",
            keygate::duration::format_duration(max)
        ),
        None => println!(
            "Keys live until revoked unless given an expiry; set {MAX_LIFETIME_VAR}=90d to cap them."
        ),
    }
    match &redis_url {
        Some(_) => println!(
            "Rate limits are shared through Redis ($KEYGATE_REDIS_URL); KEYGATE_REDIS_FAIL_MODE=closed refuses requests (503) while it is unreachable."
        ),
        None => println!(
            "Rate limits are counted in this process; set KEYGATE_REDIS_URL to share them between instances."
        ),
    }

    let state = AppState {
        gate: gate.clone(),
        items: Items::with(&["apple", "banana"]),
    };
    // GitHub's keys are fetched on the first report, so the service starts offline.
    let router = app(state).route(
        leaks::PATH,
        leaks::endpoint(&gate, &leaks::keys_url_from_env()),
    );
    serve(listener, router, tls, shutdown_signal()).await?;
    // Last-used times are written every few seconds; write what is pending before exiting.
    gate.flush_usage().await?;
    println!("keygate example stopped");
    Ok(())
}

/// The key prefix of this service's keys. It is recorded in the key database, so the `keygate`
/// command line mints matching keys.
const PREFIX: &str = "demo";

/// The environment variable holding the pepper mixed into every stored hash.
const PEPPER_VAR: &str = "KEYGATE_PEPPER";

/// The address to listen on: `KEYGATE_ADDR`, default `127.0.0.1:3000`. A host name with a port
/// (`localhost:3000`) is resolved, preferring IPv4, which is what `127.0.0.1` users expect.
async fn listen_addr() -> Result<SocketAddr, String> {
    let Some(text) = env("KEYGATE_ADDR") else {
        return Ok(SocketAddr::from(([127, 0, 0, 1], 3000)));
    };
    if let Ok(addr) = text.parse() {
        return Ok(addr);
    }
    let refused = |why: String| {
        format!(
            "KEYGATE_ADDR: cannot listen on `{}`: {why}; expected an address and a port such as \
             127.0.0.1:3000, [::1]:3000, 0.0.0.0:3000 or localhost:3000",
            text.escape_default()
        )
    };
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host(text.as_str())
        .await
        .map_err(|e| refused(e.to_string()))?
        .collect();
    addrs
        .iter()
        .find(|addr| addr.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| refused("the name resolves to no address".to_owned()))
}

/// Where a client on this machine reaches `addr`: itself, unless it is the unspecified address
/// (`0.0.0.0`, `::`), which no client can connect to. Then loopback, as `localhost` over TLS,
/// the name a certificate for local use carries.
fn reachable(addr: SocketAddr, tls: bool) -> String {
    if !addr.ip().is_unspecified() {
        return addr.to_string();
    }
    if tls {
        return format!("localhost:{}", addr.port());
    }
    let loopback: std::net::IpAddr = if addr.is_ipv4() {
        std::net::Ipv4Addr::LOCALHOST.into()
    } else {
        std::net::Ipv6Addr::LOCALHOST.into()
    };
    SocketAddr::new(loopback, addr.port()).to_string()
}

/// A variable's value, if set and not empty.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

/// Keys travel only over HTTPS: TLS to this service, or HTTPS to a proxy listed in
/// `KEYGATE_TRUSTED_PROXIES` (comma-separated addresses or CIDR blocks). Plain HTTP from this
/// machine itself is allowed, so `cargo run` and `curl` work without a certificate.
fn https_policy() -> Result<RequireHttps, String> {
    let mut policy = RequireHttps::new().exempt_loopback(true);
    for proxy in env("KEYGATE_TRUSTED_PROXIES")
        .iter()
        .flat_map(|list| list.split(','))
    {
        policy = policy.trust_proxy(proxy);
    }
    // Checked here so a mistyped address is reported as the variable's fault.
    policy
        .validate()
        .map_err(|e| format!("KEYGATE_TRUSTED_PROXIES: {e}"))?;
    Ok(policy)
}

fn pepper() -> Option<String> {
    std::env::var(PEPPER_VAR).ok().filter(|p| !p.is_empty())
}

/// The environment variable holding the maximum key lifetime, such as `90d`.
const MAX_LIFETIME_VAR: &str = "KEYGATE_MAX_KEY_LIFETIME";

fn gate_builder() -> Result<KeyGateBuilder, String> {
    let mut builder = KeyGate::builder()
        .prefix(PREFIX)
        .declared_scopes(DECLARED_SCOPES);
    if let Some(pepper) = pepper() {
        builder = builder.pepper(pepper);
    }
    if let Some(max) = env(MAX_LIFETIME_VAR) {
        let max = keygate::duration::parse_duration(&max)
            .map_err(|e| format!("{MAX_LIFETIME_VAR}: {e}"))?;
        builder = builder.max_key_lifetime(max);
    }
    Ok(builder)
}

/// Ctrl-C, or SIGTERM (how containers and service managers stop a process).
async fn shutdown_signal() {
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}
