//! Announcements of changes, for caches in front of a [`SqlStore`]: PostgreSQL `LISTEN` on the
//! notifications migration 2's trigger sends, or on SQLite a poll of the change log the same
//! migration's triggers keep.

use std::time::Duration;

use super::{Pool, SqlStore};
use crate::store::ChangeFeed;

/// The first wait before listening again after a failure; it doubles up to [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_millis(50);
const RETRY_MAX: Duration = Duration::from_secs(5);

impl SqlStore {
    /// The store's [`ChangeFeed`]; `None` for a private in-memory SQLite database, which only
    /// this store can change.
    pub(super) fn change_feed(&self) -> Option<ChangeFeed> {
        match &self.pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(pool) => {
                if self.in_memory {
                    return None;
                }
                let (store, pool) = (self.clone(), pool.clone());
                Some(ChangeFeed::new(move |sink| sqlite::run(store, pool, sink)))
            }
            #[cfg(feature = "postgres")]
            Pool::Postgres(pool) => {
                let pool = pool.clone();
                let schema = self.schema.clone()?;
                let heartbeat = self.heartbeat;
                Some(ChangeFeed::new(move |sink| {
                    postgres::run(pool, schema, heartbeat, sink)
                }))
            }
        }
    }
}

/// How long to wait before the next try after `failures` failures in a row.
fn backoff(failures: u32) -> Duration {
    RETRY_FIRST
        .saturating_mul(1 << failures.min(10))
        .min(RETRY_MAX)
}

#[cfg(feature = "postgres")]
mod postgres {
    use std::sync::{Arc, Mutex, PoisonError};
    use std::time::Duration;

    use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};

    use super::backoff;
    use crate::store::{Announcement, FeedSink};

    /// The channel migration 2's trigger notifies, with `<schema> <key id>` as the payload.
    const CHANNEL: &str = "keygate_changes";

    /// Listens until nobody needs the announcements, listening again whenever the connection
    /// breaks, or falls silent for three and a half heartbeats (two may go missing).
    pub(super) async fn run(pool: PgPool, schema: Arc<str>, heartbeat: Duration, sink: FeedSink) {
        // A pool of one for the listener: its connection is held for as long as it listens, and
        // must not take one of the store's. Closing it ends a wait for notifications, which is
        // how the listener stops once the cache is dropped.
        let options = (*pool.connect_options())
            .clone()
            .application_name("keygate change listener");
        let new_listen_pool = move || {
            PgPoolOptions::new()
                .max_connections(1)
                .min_connections(0)
                .idle_timeout(None)
                .max_lifetime(None)
                .acquire_timeout(Duration::from_secs(5))
                .connect_lazy_with(options.clone())
        };
        let mut listen_pool = new_listen_pool();
        let current = Arc::new(Mutex::new(listen_pool.clone()));
        tokio::spawn(close_when_unheard(current.clone(), sink.clone()));
        tokio::spawn(beat(pool, heartbeat, sink.clone()));
        let silence = heartbeat.saturating_mul(3) + heartbeat / 2;
        let mut failures = 0;
        loop {
            let mut listener = match listen(&listen_pool).await {
                Ok(listener) => listener,
                Err(error) => {
                    if !sink.is_open() || listen_pool.is_closed() {
                        return;
                    }
                    if failures == 0 {
                        tracing::warn!(
                            target: "keygate",
                            %error,
                            "cannot listen for key changes on PostgreSQL; dropped every cached \
                             key and retrying (meanwhile nothing is cached: every lookup asks \
                             the database)"
                        );
                        // The cache may hold records read before this, the very first try
                        // included, and nothing would announce their changes.
                        if !sink.announce(Announcement::Lost) {
                            return;
                        }
                    }
                    failures += 1;
                    tokio::time::sleep(backoff(failures)).await;
                    continue;
                }
            };
            if failures > 0 {
                tracing::info!(target: "keygate", "listening for key changes on PostgreSQL again");
            }
            failures = 0;
            if !sink.announce(Announcement::Listening) {
                return;
            }
            let mut silent = false;
            let error = loop {
                // Cancelled only when the connection is given up for dead: a half-read message
                // is lost with the connection it came on.
                let Ok(next) = tokio::time::timeout(silence, listener.try_recv()).await else {
                    silent = true;
                    break format!(
                        "heard nothing, not even a heartbeat, for {} ms",
                        silence.as_millis()
                    );
                };
                match next {
                    Ok(Some(notification)) => {
                        let Some(key_id) = notification
                            .payload()
                            .strip_prefix(&*schema)
                            .and_then(|rest| rest.strip_prefix(' '))
                        else {
                            continue; // another schema's key, or a heartbeat (no payload)
                        };
                        if !sink.announce(Announcement::Changed(key_id.to_owned())) {
                            return;
                        }
                    }
                    Ok(None) => break "the connection was lost".to_owned(),
                    Err(error) => break error.to_string(),
                }
            };
            if !sink.is_open() || listen_pool.is_closed() {
                return;
            }
            tracing::warn!(
                target: "keygate",
                %error,
                "lost the PostgreSQL key-change listener; dropped every cached key and listening again"
            );
            if silent {
                // Dropping the listener sends `UNLISTEN *` on its connection before returning it
                // to its pool, and a silent connection never answers: that pool's one connection
                // is gone for good. The next listener gets a pool of its own.
                drop(listener);
                listen_pool = new_listen_pool();
                *current.lock().unwrap_or_else(PoisonError::into_inner) = listen_pool.clone();
            }
            if !sink.announce(Announcement::Lost) {
                return;
            }
        }
    }

    async fn listen(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen(CHANNEL).await?;
        Ok(listener)
    }

    /// Sends an empty notification on the channel every `heartbeat`, from the store's pool, for
    /// as long as announcements are needed: every listener on the channel hears it, so one whose
    /// connection died without a word notices the silence. A failed or slow heartbeat is not
    /// retried sooner: the listener's silence limit lets two in a row go missing.
    async fn beat(pool: PgPool, heartbeat: Duration, sink: FeedSink) {
        // Checks at least every second whether it is still needed, so the store's pool is not
        // held a whole (long) heartbeat after the cache is gone.
        let check = heartbeat.min(Duration::from_secs(1));
        let mut sent = tokio::time::Instant::now();
        while sink.is_open() && !pool.is_closed() {
            tokio::time::sleep(check).await;
            if sent.elapsed() < heartbeat {
                continue;
            }
            sent = tokio::time::Instant::now();
            let send = sqlx::query("SELECT pg_notify($1, '')")
                .bind(CHANNEL)
                .execute(&pool);
            let _ = tokio::time::timeout(heartbeat, send).await;
        }
    }

    /// Closes the listener's current pool once nobody needs announcements, which ends its wait.
    async fn close_when_unheard(current: Arc<Mutex<PgPool>>, sink: FeedSink) {
        while sink.is_open() {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let pool = current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        pool.close().await;
    }
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use sqlx::sqlite::SqliteConnection;
    use sqlx::{Connection, SqlitePool};

    use super::backoff;
    use crate::sql::SqlStore;
    use crate::store::{Announcement, FeedSink};

    /// Where the poll stands: its own connection (SQLite's `data_version` is per connection),
    /// the version last seen, and the last change-log entry read.
    struct Cursor {
        conn: SqliteConnection,
        version: i64,
        seq: i64,
        /// The key id logged at `seq` (`None` while the log was empty): the log the next look
        /// reads must still hold it there, or it is not the log this cursor followed.
        last: Option<String>,
    }

    /// What one look found.
    enum Look {
        Changed(Vec<String>),
        /// Entries were pruned before they were read: some changes are unknown.
        Gap,
    }

    /// Looks at the change log every poll interval until nobody needs the announcements.
    pub(super) async fn run(store: SqlStore, pool: SqlitePool, sink: FeedSink) {
        let mut cursor: Option<Cursor> = None;
        let mut failures = 0;
        loop {
            if !sink.is_open() {
                break;
            }
            let wait = match look(&store, &pool, &mut cursor).await {
                Ok((opened, look)) => {
                    if failures > 0 {
                        tracing::info!(target: "keygate", "reading the SQLite change log again");
                    }
                    failures = 0;
                    let mut announcements = Vec::new();
                    if opened {
                        announcements.push(Announcement::Listening);
                    }
                    match look {
                        Look::Changed(ids) => {
                            announcements.extend(ids.into_iter().map(Announcement::Changed));
                        }
                        Look::Gap => {
                            tracing::warn!(
                                target: "keygate",
                                "the SQLite change log lost changes between two looks (more \
                                 than it keeps, or the log was replaced, by a restored backup \
                                 say); dropped every cached key"
                            );
                            announcements.push(Announcement::Lost);
                            announcements.push(Announcement::Listening);
                        }
                    }
                    if !announcements.into_iter().all(|a| sink.announce(a)) {
                        break;
                    }
                    store.poll_interval
                }
                Err(error) => {
                    let lost = cursor.take();
                    let was_listening = lost.is_some();
                    if let Some(lost) = lost {
                        let _ = lost.conn.close().await;
                    }
                    // Dropped when listening breaks, and also when it never began: the cache may
                    // hold records read before the first look, and if that look fails because
                    // the file was removed, nothing else would ever make the cache let go of them.
                    if was_listening || failures == 0 {
                        tracing::warn!(
                            target: "keygate",
                            %error,
                            "cannot read the SQLite change log; dropped every cached key"
                        );
                        if !sink.announce(Announcement::Lost) {
                            break;
                        }
                    }
                    failures += 1;
                    backoff(failures).max(store.poll_interval)
                }
            };
            tokio::time::sleep(wait).await;
        }
        if let Some(cursor) = cursor {
            let _ = cursor.conn.close().await;
        }
    }

    /// One look: opens the cursor if there is none (`true`), then reads the log if the file
    /// changed since the last look.
    async fn look(
        store: &SqlStore,
        pool: &SqlitePool,
        cursor: &mut Option<Cursor>,
    ) -> Result<(bool, Look), crate::store::StoreError> {
        // The file must still be the store's: once it is removed or replaced, the cache must not
        // go on answering for it.
        store.live_now()?;
        let Some(cursor) = cursor.as_mut() else {
            *cursor = Some(open(pool).await?);
            return Ok((true, Look::Changed(Vec::new())));
        };
        let version = data_version(&mut cursor.conn).await?;
        if version == cursor.version {
            return Ok((false, Look::Changed(Vec::new())));
        }
        // From the cursor's own row on: it must still be there, naming the same key. A log
        // without it was replaced under the feed (a backup restored over the file keeps the
        // file's identity but rewinds the log and its sequence, and the changes logged after
        // that would otherwise pass for ones already read).
        let mut rows: Vec<(i64, String)> =
            sqlx::query_as("SELECT seq, key_id FROM keygate_changes WHERE seq >= $1 ORDER BY seq")
                .bind(cursor.seq)
                .fetch_all(&mut cursor.conn)
                .await
                .map_err(error)?;
        cursor.version = version;
        if let Some(last) = &cursor.last {
            let same = rows
                .first()
                .is_some_and(|(seq, id)| *seq == cursor.seq && id == last);
            if !same {
                let (seq, last) = end_of_log(&mut cursor.conn).await?;
                (cursor.seq, cursor.last) = (seq, last);
                return Ok((false, Look::Gap));
            }
            rows.remove(0);
        }
        let gap = rows.first().is_some_and(|(seq, _)| *seq != cursor.seq + 1);
        if let Some((seq, id)) = rows.last() {
            (cursor.seq, cursor.last) = (*seq, Some(id.clone()));
        }
        if gap {
            return Ok((false, Look::Gap));
        }
        Ok((
            false,
            Look::Changed(rows.into_iter().map(|(_, id)| id).collect()),
        ))
    }

    /// The last row of the log: its sequence number and key id (0 and `None` for an empty log).
    async fn end_of_log(
        conn: &mut SqliteConnection,
    ) -> Result<(i64, Option<String>), crate::store::StoreError> {
        let last: Option<(i64, String)> =
            sqlx::query_as("SELECT seq, key_id FROM keygate_changes ORDER BY seq DESC LIMIT 1")
                .fetch_optional(conn)
                .await
                .map_err(error)?;
        Ok(match last {
            Some((seq, id)) => (seq, Some(id)),
            None => (0, None),
        })
    }

    /// A cursor at the end of the log, on a connection of the pool's own making (so it never
    /// creates the file) taken out of the pool for good, since the version is per connection.
    async fn open(pool: &SqlitePool) -> Result<Cursor, crate::store::StoreError> {
        let mut conn = pool.acquire().await.map_err(error)?.detach();
        // The version first: a change committed after it is read at the next look.
        let version = data_version(&mut conn).await?;
        let (seq, last) = end_of_log(&mut conn).await?;
        Ok(Cursor {
            conn,
            version,
            seq,
            last,
        })
    }

    async fn data_version(conn: &mut SqliteConnection) -> Result<i64, crate::store::StoreError> {
        let (version,): (i64,) = sqlx::query_as("PRAGMA data_version")
            .fetch_one(conn)
            .await
            .map_err(error)?;
        Ok(version)
    }

    fn error(error: sqlx::Error) -> crate::store::StoreError {
        crate::store::StoreError::unavailable(error)
    }
}
