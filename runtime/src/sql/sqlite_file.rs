//! Setting up a SQLite file: refusing one that is not keygate's, and switching it to WAL.

use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

use super::ConnectError;
use super::connect::has;

/// Switches the database to WAL, so readers never wait for a writer. The switch needs a lock that
/// SQLite does not wait for, so while another process holds one (it is setting the same file up),
/// this tries again every few milliseconds for up to `wait`.
pub(super) async fn use_wal(
    conn: &mut SqliteConnection,
    wait: Duration,
) -> Result<(), ConnectError> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match sqlx::query("PRAGMA journal_mode = WAL")
            .execute(&mut *conn)
            .await
        {
            Ok(_) => return Ok(()),
            Err(error) if is_busy(&error) && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Err(error) => return Err(ConnectError::Unreachable(error.into())),
        }
    }
}

/// SQLITE_BUSY or SQLITE_LOCKED (any extended code): someone else holds a lock.
fn is_busy(error: &sqlx::Error) -> bool {
    let code = match error {
        sqlx::Error::Database(db) => db.code().and_then(|c| c.parse::<i32>().ok()),
        _ => None,
    };
    matches!(code.map(|c| c & 0xff), Some(5 | 6))
}

/// Refuses, without writing a byte, an existing file that is not a keygate SQLite database.
pub(super) async fn check_sqlite_file(
    path: &std::path::Path,
    options: &SqliteConnectOptions,
) -> Result<(), ConnectError> {
    use sqlx::Connection;
    use std::io::Read;

    let shown = path.display();
    let mut header = [0u8; 16];
    let read = std::fs::File::open(path)
        .and_then(|mut file| {
            let mut n = 0;
            while n < header.len() {
                match file.read(&mut header[n..])? {
                    0 => break,
                    k => n += k,
                }
            }
            Ok(n)
        })
        .map_err(|e| ConnectError::Unreachable(e.into()))?;
    if read == 0 {
        // An empty file is an empty SQLite database.
        return Ok(());
    }
    if read < header.len() || &header != b"SQLite format 3\0" {
        return Err(ConnectError::NotKeygate(format!(
            "`{shown}` is not a SQLite database; refusing to touch it"
        )));
    }
    // Read-only, and without the journal-mode change the pool makes, so the file stays as it is.
    let mut conn = SqliteConnection::connect_with(&options.clone().read_only(true))
        .await
        .map_err(|e| ConnectError::Unreachable(e.into()))?;
    let tables: Result<Vec<(String,)>, _> = sqlx::query_as(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    )
    .fetch_all(&mut conn)
    .await;
    let _ = conn.close().await;
    let tables: Vec<String> = tables
        .map_err(|e| ConnectError::Unreachable(e.into()))?
        .into_iter()
        .map(|(t,)| t)
        .collect();
    if tables.is_empty() || (has(&tables, "keygate_keys") && has(&tables, "_sqlx_migrations")) {
        return Ok(());
    }
    Err(ConnectError::NotKeygate(format!(
        "`{shown}` is a SQLite database but not a keygate one (it has tables such as `{}` and no \
         keygate migration history); refusing to touch it",
        tables.first().map_or("", String::as_str)
    )))
}
