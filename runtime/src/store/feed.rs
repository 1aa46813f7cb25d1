//! [`ChangeFeed`]: how a store tells caches about changes made by other processes.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use super::dyn_store::BoxFuture;

/// What a [`ChangeFeed`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Announcement {
    /// The key with this id changed (created, revoked, rotated, re-scoped, deleted…), in this
    /// process or another. Whatever a cache holds for it is stale.
    Changed(String),
    /// The feed stopped listening (its connection broke, or fell silent): changes may go
    /// unannounced until [`Announcement::Listening`]. A cache drops everything it holds, and
    /// keeps nothing until then: every lookup asks the store.
    Lost,
    /// The feed is listening, from now on: every change committed after this is announced.
    /// Sent when the feed starts and after every [`Announcement::Lost`]; a cache drops
    /// everything it holds again, since changes made while nobody listened were never announced,
    /// and from then on keeps what it reads. Until a feed's first `Listening`, a cache in front
    /// of its store keeps nothing.
    Listening,
}

/// Where a running feed delivers its announcements: the cache that started it.
#[derive(Clone)]
pub struct FeedSink(Arc<dyn Fn(Option<Announcement>) -> bool + Send + Sync>);

impl FeedSink {
    /// `deliver(Some(a))` takes an announcement, `deliver(None)` only asks; both answer whether
    /// anyone still listens.
    #[cfg_attr(not(feature = "cache"), allow(dead_code))]
    pub(crate) fn new(
        deliver: impl Fn(Option<Announcement>) -> bool + Send + Sync + 'static,
    ) -> Self {
        FeedSink(Arc::new(deliver))
    }

    /// Delivers `announcement`. `false` means nobody listens any more (the cache was dropped):
    /// the feed should end.
    pub fn announce(&self, announcement: Announcement) -> bool {
        (self.0)(Some(announcement))
    }

    /// Whether anyone still listens. A feed waiting for its database looks now and then, and
    /// ends once this is `false`.
    pub fn is_open(&self) -> bool {
        (self.0)(None)
    }
}

impl fmt::Debug for FeedSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FeedSink")
    }
}

type Runner = Box<dyn FnOnce(FeedSink) -> BoxFuture<'static, ()> + Send>;

/// Announcements of changes to keys, from a store that other processes can change too (the
/// `keygate` command line, another instance of the service). A
/// [`CachedStore`](crate::CachedStore) runs its store's feed and forgets a key the moment its
/// change is announced, so a revocation made anywhere takes effect everywhere at once rather
/// than when the cache entry expires.
///
/// [`SqlStore`](crate::SqlStore) has one: PostgreSQL `LISTEN`/`NOTIFY`, and on SQLite a change log
/// the store polls. A store of your own can offer one by returning it from
/// [`KeyStore::changes`](super::KeyStore::changes):
///
/// ```
/// use keygate::store::{Announcement, ChangeFeed};
///
/// let feed = ChangeFeed::new(|sink| async move {
///     sink.announce(Announcement::Listening);
///     // ... subscribe to your database's notifications, and for each one:
///     sink.announce(Announcement::Changed("3Xk9fQ2mLp7Wr8Tz".to_owned()));
/// });
/// # let _ = feed;
/// ```
pub struct ChangeFeed {
    run: Runner,
}

impl ChangeFeed {
    /// A feed that, once started, runs `run` with the sink to deliver to. `run` must send
    /// [`Announcement::Listening`] once it listens (a cache keeps nothing before: see
    /// [`CachedStore::follows_changes`](crate::CachedStore::follows_changes)), and return when the
    /// sink says to stop.
    pub fn new<F, Fut>(run: F) -> Self
    where
        F: FnOnce(FeedSink) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        ChangeFeed {
            run: Box::new(move |sink| Box::pin(run(sink))),
        }
    }

    /// Starts the feed on the current tokio runtime.
    #[cfg_attr(not(feature = "cache"), allow(dead_code))]
    pub(crate) fn spawn(self, sink: FeedSink) {
        tokio::spawn((self.run)(sink));
    }
}

impl fmt::Debug for ChangeFeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ChangeFeed")
    }
}
