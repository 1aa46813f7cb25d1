//! The Redis limiter: each check is one atomic script on the server, so every instance that
//! shares the server shares each key's budget exactly.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::gcra::{Quota, status};
use super::{FailMode, RateLimit, RateLimitStatus, Unavailable};

/// GCRA on the server, with the server's clock (`TIME`), so instances whose clocks disagree
/// still agree on every decision. The same steps as `gcra::decide`: returns whether the request
/// was admitted and how far ahead of now the TAT stands, in microseconds. The TAT is stored as an
/// integer text (`%.0f`: Lua's own number format would round it), and expires once it has passed,
/// when it no longer says anything.
const SCRIPT: &str = r"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local next = tat + interval
if next - now > tolerance then
  return {0, tat - now}
end
redis.call('SET', KEYS[1], string.format('%.0f', next), 'PX', math.ceil((next - now) / 1000))
return {1, next - now}
";

/// The default bound on one check's round trip.
const DEFAULT_TIMEOUT: Duration = Duration::from_millis(100);

/// A rate limiter whose state lives in Redis: one atomic script per check, keyed
/// `keygate:rl:<key id>`, so instances sharing the server share each key's budget exactly. Give
/// it to [`KeyGateBuilder::rate_limiter`](crate::KeyGateBuilder::rate_limiter).
///
/// It connects lazily and reconnects by itself (redis' `ConnectionManager`). Each check is bounded
/// by a [`timeout`](Self::timeout) (default 100 ms), so a Redis that hangs does not hang requests;
/// when Redis cannot answer, the [`FailMode`] decides: [`FailMode::Open`] (the default) admits
/// the request and counts it ([`unavailable_admissions`](Self::unavailable_admissions)),
/// [`FailMode::Closed`] answers `503 rate_limiter_unavailable`. Either way a WARN event says so,
/// at most once a second, with how many requests it stands for (`requests`). Authentication
/// itself never depends on Redis.
///
/// ```no_run
/// use std::time::Duration;
/// use keygate::KeyGate;
/// use keygate::limit::{FailMode, RedisLimiter};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let limiter = RedisLimiter::connect("redis://127.0.0.1:6379")
///     .await
///     .unwrap()
///     .fail_mode(FailMode::Closed)
///     .timeout(Duration::from_millis(50));
/// let gate = KeyGate::builder().rate_limiter(limiter.clone()).build();
/// # let _ = gate;
/// println!("admitted without Redis so far: {}", limiter.unavailable_admissions());
/// # }
/// ```
#[derive(Clone)]
pub struct RedisLimiter {
    client: Arc<redis::Client>,
    /// Made at the first check, with the timeout set by then: making one needs a runtime, and
    /// its connect and response timeouts must be the check's.
    connection: Arc<std::sync::OnceLock<redis::RedisResult<ConnectionManager>>>,
    script: Arc<redis::Script>,
    fail_mode: FailMode,
    timeout: Duration,
    unavailable: Arc<AtomicU64>,
    quiet: Arc<Quiet>,
}

/// At most one WARN a second while Redis cannot answer, saying how many requests it stands for:
/// one per request would be thousands of lines a second in an outage.
struct Quiet {
    started: std::time::Instant,
    /// Milliseconds after `started` before which no WARN is due.
    next: AtomicU64,
    /// Requests Redis could not answer since the last WARN.
    pending: AtomicU64,
}

impl Quiet {
    fn new() -> Self {
        Quiet {
            started: std::time::Instant::now(),
            next: AtomicU64::new(0),
            pending: AtomicU64::new(0),
        }
    }

    /// Counts one request; when a WARN is due, how many requests it stands for.
    fn due(&self) -> Option<u64> {
        self.pending.fetch_add(1, Ordering::Relaxed);
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let next = self.next.load(Ordering::Relaxed);
        if now < next {
            return None;
        }
        // One caller wins the second; the others' requests are counted in its line or the next.
        self.next
            .compare_exchange(
                next,
                now.saturating_add(1000),
                Ordering::Relaxed,
                Ordering::Relaxed,
            )
            .ok()?;
        Some(self.pending.swap(0, Ordering::Relaxed))
    }
}

impl fmt::Debug for RedisLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the URL: it may carry a password.
        f.debug_struct("RedisLimiter")
            .field("fail_mode", &self.fail_mode)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// A connection manager whose connecting and each command are bounded by `timeout`, connecting
/// on first use.
fn manager(client: &redis::Client, timeout: Duration) -> redis::RedisResult<ConnectionManager> {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout))
        .set_number_of_retries(1)
        .set_min_delay(Duration::from_millis(10))
        .set_max_delay(Duration::from_millis(100));
    ConnectionManager::new_lazy_with_config(client.clone(), config)
}

/// The Redis URL cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("invalid Redis URL: {0}")]
pub struct RedisLimiterError(String);

impl RedisLimiter {
    /// A limiter on the Redis server at `url` (`redis://host:port/db`, `rediss://` needs TLS
    /// support in the redis crate). Does not wait for the server: a Redis that is down at
    /// start-up is handled like one that goes down later, by the fail mode.
    pub async fn connect(url: &str) -> Result<Self, RedisLimiterError> {
        // The error's kind, never its text: that may quote the URL, password included.
        let client =
            redis::Client::open(url).map_err(|e| RedisLimiterError(format!("{:?}", e.kind())))?;
        Ok(RedisLimiter {
            client: Arc::new(client),
            connection: Arc::default(),
            script: Arc::new(redis::Script::new(SCRIPT)),
            fail_mode: FailMode::Open,
            timeout: DEFAULT_TIMEOUT,
            unavailable: Arc::new(AtomicU64::new(0)),
            quiet: Arc::new(Quiet::new()),
        })
    }

    /// What to do when Redis cannot answer. Default [`FailMode::Open`].
    pub fn fail_mode(mut self, mode: FailMode) -> Self {
        self.fail_mode = mode;
        self
    }

    /// The longest one check may take before Redis counts as unavailable. Default 100 ms.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        // The connection's own timeouts follow (left at 100 ms, they cut every command there
        // whatever this allowed): a connection made for the earlier timeout is not reused.
        self.connection = Arc::default();
        self
    }

    /// How many requests were admitted without a check because Redis could not answer (fail
    /// open), since the limiter was made. Shared by its clones.
    pub fn unavailable_admissions(&self) -> u64 {
        self.unavailable.load(Ordering::Relaxed)
    }

    /// One check, bounded by the timeout.
    async fn run(&self, key_id: &str, limit: &RateLimit) -> Result<RateLimitStatus, String> {
        let quota = Quota::of(limit);
        let mut connection = match self
            .connection
            .get_or_init(|| manager(&self.client, self.timeout))
        {
            Ok(connection) => connection.clone(),
            Err(error) => return Err(format!("{:?}", error.kind())),
        };
        let mut invocation = self.script.key(format!("keygate:rl:{key_id}"));
        invocation.arg(quota.interval).arg(quota.tolerance);
        let call = invocation.invoke_async::<(i64, i64)>(&mut connection);
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok((admitted, ahead))) => Ok(status(
                limit,
                quota,
                admitted == 1,
                u64::try_from(ahead).unwrap_or(0),
            )),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err(format!("no answer within {:?}", self.timeout)),
        }
    }

    pub(crate) async fn check(
        &self,
        key_id: &str,
        limit: &RateLimit,
    ) -> Result<Option<RateLimitStatus>, Unavailable> {
        match self.run(key_id, limit).await {
            Ok(status) => Ok(Some(status)),
            Err(error) => {
                let open = self.fail_mode == FailMode::Open;
                if open {
                    self.unavailable.fetch_add(1, Ordering::Relaxed);
                }
                if let Some(requests) = self.quiet.due() {
                    let requests_were = if open {
                        "admitted unchecked (fail open)"
                    } else {
                        "refused (fail closed)"
                    };
                    tracing::warn!(
                        target: "keygate",
                        key_id,
                        requests,
                        %error,
                        "rate limiter unavailable; requests {requests_were}"
                    );
                }
                if open { Ok(None) } else { Err(Unavailable) }
            }
        }
    }
}
