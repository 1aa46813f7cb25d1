//! Noticing that the SQLite file under a running store was removed or replaced.
//!
//! SQLite keeps reading and writing a file it has open even after the file is unlinked, and a
//! connection opened later would find another file (or none) at the path. Neither is the
//! database the store was started on, so once the file at the path is not the one the store
//! opened, every call is refused as [`StoreError::Unavailable`] (requests get 503), and one ERROR
//! event names the path.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use crate::store::StoreError;

/// How often the request path looks at the file. A look is one `stat`.
const RECHECK: Duration = Duration::from_millis(250);

const SAME: u8 = 0;
const GONE: u8 = 1;
const REPLACED: u8 = 2;

/// What makes a file the same file: device and inode where there are such (a file renamed away
/// and back keeps them; a new file at the path does not), and its creation time where the
/// platform and filesystem report one (so an inode number reused for a new file does not pass).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Identity {
    #[cfg(unix)]
    dev: u64,
    #[cfg(unix)]
    ino: u64,
    created: Option<SystemTime>,
}

impl Identity {
    fn of(meta: &std::fs::Metadata) -> Identity {
        #[cfg(unix)]
        use std::os::unix::fs::MetadataExt;
        Identity {
            #[cfg(unix)]
            dev: meta.dev(),
            #[cfg(unix)]
            ino: meta.ino(),
            created: meta.created().ok(),
        }
    }
}

/// The identity of a store's database file, taken when the store connected, and what the path
/// held when last looked at.
pub(super) struct FileWatch {
    path: PathBuf,
    identity: Identity,
    started: Instant,
    /// When (milliseconds after `started`) the request path looks at the file next.
    next_look: AtomicU64,
    state: AtomicU8,
}

impl fmt::Debug for FileWatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileWatch")
            .field("path", &self.path)
            .field("state", &self.state.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl FileWatch {
    /// Records the identity of the file at `path` now.
    pub(super) fn new(path: &Path) -> std::io::Result<FileWatch> {
        let identity = Identity::of(&std::fs::metadata(path)?);
        Ok(FileWatch {
            path: path.to_owned(),
            identity,
            started: Instant::now(),
            next_look: AtomicU64::new(0),
            state: AtomicU8::new(SAME),
        })
    }

    /// For reads: looks at the file at most every [`RECHECK`] (one caller looks, the others go
    /// by its answer), so a busy store pays an atomic load per call and one `stat` per interval.
    pub(super) fn check(&self) -> Result<(), StoreError> {
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let due = self.next_look.load(Ordering::Relaxed);
        if now >= due
            && self
                .next_look
                .compare_exchange(
                    due,
                    now + RECHECK.as_millis() as u64,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
        {
            self.look();
        }
        self.verdict()
    }

    /// For writes and new connections: looks at the file now.
    pub(super) fn check_now(&self) -> Result<(), StoreError> {
        self.look();
        self.verdict()
    }

    fn verdict(&self) -> Result<(), StoreError> {
        match self.state.load(Ordering::Acquire) {
            SAME => Ok(()),
            state => Err(StoreError::unavailable(FileNotThere {
                path: self.path.clone(),
                replaced: state == REPLACED,
            })),
        }
    }

    /// One `stat` of the path; records (and logs) a change. A replaced file stays replaced: the
    /// store's connections may hold the old file or the new one, and neither can be trusted.
    fn look(&self) {
        let seen = match std::fs::metadata(&self.path) {
            Ok(meta) if Identity::of(&meta) == self.identity => SAME,
            Ok(_) => REPLACED,
            // Missing, or the path cannot be looked at (a folder's permissions changed): either
            // way the file cannot be shown to be the store's.
            Err(_) => GONE,
        };
        let mut before = self.state.load(Ordering::Acquire);
        while before != REPLACED && before != seen {
            match self
                .state
                .compare_exchange(before, seen, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    self.report(seen);
                    return;
                }
                Err(actual) => before = actual,
            }
        }
    }

    /// Logs a change of state; only the caller that made the change logs it, so it is logged once.
    fn report(&self, now: u8) {
        let path = self.path.display();
        match now {
            GONE => tracing::error!(
                target: "keygate",
                path = %path,
                "the key database file is gone; every key is refused (503) until it is back"
            ),
            REPLACED => tracing::error!(
                target: "keygate",
                path = %path,
                "the key database file was replaced by another file; every key is refused (503) \
                 until the service restarts"
            ),
            _ => tracing::warn!(
                target: "keygate",
                path = %path,
                "the key database file is back; serving keys again"
            ),
        }
    }
}

/// Why a SQLite store refuses: its file is not at its path.
#[derive(Debug)]
struct FileNotThere {
    path: PathBuf,
    replaced: bool,
}

impl fmt::Display for FileNotThere {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = if self.replaced {
            "was replaced by another file"
        } else {
            "is gone"
        };
        write!(f, "the key database file `{}` {what}", self.path.display())
    }
}

impl std::error::Error for FileNotThere {}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use crate::SqlStore;
    use crate::sql::Pool;

    /// A path in the temp folder, its files removed on drop.
    struct Temp(PathBuf);

    impl Temp {
        fn new(tag: &str) -> Temp {
            Temp(std::env::temp_dir().join(format!(
                "keygate-unit-{tag}-{}-{:?}.db",
                std::process::id(),
                std::time::SystemTime::now()
            )))
        }
        fn url(&self) -> String {
            format!("sqlite://{}", self.0.display())
        }
        fn remove(&self) {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
            }
        }
    }

    impl Drop for Temp {
        fn drop(&mut self) {
            self.remove();
        }
    }

    fn sqlite(store: &SqlStore) -> &sqlx::SqlitePool {
        match &store.pool {
            Pool::Sqlite(pool) => pool,
            #[allow(unreachable_patterns)]
            _ => unreachable!(),
        }
    }

    #[tokio::test]
    async fn the_pool_never_creates_the_file() {
        let db = Temp::new("no-create");
        let store = SqlStore::connect(&db.url()).await.unwrap();
        db.remove();
        // A connection opened the way the pool opens its connections.
        let options = sqlite(&store).connect_options();
        let opened = sqlx::SqlitePool::connect_with((*options).clone()).await;
        assert!(opened.is_err(), "a pool connection opened a missing file");
        assert!(!db.0.exists(), "a pool connection created the file again");
    }

    /// Starts `store`'s change feed; what it announces arrives on the receiver.
    fn follow(
        store: &SqlStore,
    ) -> tokio::sync::mpsc::UnboundedReceiver<crate::store::Announcement> {
        use crate::store::{FeedSink, KeyStore};

        let (heard, hearing) = tokio::sync::mpsc::unbounded_channel();
        let sink = FeedSink::new(move |announcement| match announcement {
            Some(announcement) => heard.send(announcement).is_ok(),
            None => !heard.is_closed(),
        });
        store
            .changes()
            .expect("a SQLite store has a feed")
            .spawn(sink);
        hearing
    }

    /// A cache may hold records read before its feed's first look. If that look fails because
    /// the file was removed, the feed must still tell the cache to drop them: nothing else
    /// would, until their time-to-live.
    #[tokio::test]
    async fn a_feed_that_never_listened_still_drops_the_cache_when_the_file_is_gone() {
        use crate::store::Announcement;

        let db = Temp::new("feed-never-listened");
        let store = SqlStore::connect(&db.url()).await.unwrap();
        db.remove();
        let mut hearing = follow(&store);
        let first = tokio::time::timeout(std::time::Duration::from_secs(5), hearing.recv())
            .await
            .expect("the feed said nothing while the file was gone");
        assert!(
            matches!(first, Some(Announcement::Lost)),
            "first announcement: {first:?}"
        );
    }

    /// A backup restored over the file keeps the file's identity but rewinds the change log and
    /// its sequence: the changes logged after that have numbers the feed has already read past.
    /// The feed must see that its log is not the one it followed and drop the cache, instead of
    /// skipping every change until the sequence catches up.
    #[tokio::test]
    async fn a_rewound_change_log_drops_the_cache() {
        use crate::store::Announcement;
        use crate::{KeyGate, NewKey};

        let db = Temp::new("feed-rewound");
        let store = SqlStore::connect(&db.url()).await.unwrap();
        let gate = KeyGate::builder().store(store.clone()).build();
        let mut ids = Vec::new();
        for n in 0..20 {
            let created = gate.create_key(NewKey::new(format!("k{n}"))).await.unwrap();
            ids.push(created.record.key_id);
        }
        let mut hearing = follow(&store);
        async fn next(
            hearing: &mut tokio::sync::mpsc::UnboundedReceiver<Announcement>,
        ) -> Option<Announcement> {
            let wait = std::time::Duration::from_secs(5);
            tokio::time::timeout(wait, hearing.recv())
                .await
                .ok()
                .flatten()
        }
        assert!(matches!(
            next(&mut hearing).await,
            Some(Announcement::Listening)
        ));

        // The restore, as the log sees it: emptied, its sequence back at zero.
        sqlx::query("DELETE FROM keygate_changes")
            .execute(sqlite(&store))
            .await
            .unwrap();
        sqlx::query("UPDATE sqlite_sequence SET seq = 0 WHERE name = 'keygate_changes'")
            .execute(sqlite(&store))
            .await
            .unwrap();
        gate.revoke_key(&ids[0]).await.unwrap();
        let heard = next(&mut hearing).await;
        assert!(
            matches!(heard, Some(Announcement::Lost)),
            "after the log was rewound the feed announced {heard:?}"
        );
        assert!(matches!(
            next(&mut hearing).await,
            Some(Announcement::Listening)
        ));
        // Followed from the new end of the log: the next change is heard as such.
        gate.revoke_key(&ids[1]).await.unwrap();
        let mut changed = Vec::new();
        while let Some(Announcement::Changed(id)) = next(&mut hearing).await {
            changed.push(id);
            if changed.contains(&ids[1]) {
                break;
            }
        }
        assert!(changed.contains(&ids[1]), "heard {changed:?}");
    }

    #[tokio::test]
    async fn a_new_connection_to_a_replaced_file_is_refused() {
        let db = Temp::new("replaced-conn");
        // A refused new connection is retried until the acquire timeout: keep it short.
        let store = SqlStore::builder(db.url())
            .acquire_timeout(std::time::Duration::from_millis(200))
            .connect()
            .await
            .unwrap();
        db.remove();
        SqlStore::connect(&db.url()).await.unwrap().close().await;
        // The pool's one idle connection is taken, so the next acquire opens a connection: to the
        // new file, which it must refuse even before any store call has looked at the path.
        let held = sqlite(&store).acquire().await.unwrap();
        let opened = sqlite(&store).acquire().await;
        assert!(opened.is_err(), "a new connection served the replaced file");
        drop(held);
    }
}
