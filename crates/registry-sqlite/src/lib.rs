//! The embedded storage adapters: the catalog, keys, orgs, the org catalog and the
//! MCP router's instances in one SQLite file (WAL mode), every conditional write done
//! inside one immediate transaction.

mod accounts;
mod audit;
mod catalog;
mod coordination;
mod downloads;
mod journal;
mod keys;
mod mcp_router;
pub mod migrations;
mod orgs;
mod ownership;
mod rate_limits;
mod reports;
mod trusted_publishing;
mod webhooks;

use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::{Arc, mpsc};

use rusqlite::Connection;

pub(crate) use registry_core::store::codec::{corrupt, from_json, to_json};
use registry_core::store::{StorageError, owner_only};

/// Work for the database's thread.
type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// The store in one SQLite file: every port `registry_core::store` names.
///
/// Its one connection lives on a thread of its own, which runs the store's work
/// one job at a time. The connection serialized that work anyway; running it on one
/// thread rather than on whichever thread of the blocking pool was free keeps what
/// SQLite allocates (row buffers, its page cache) in one allocator arena, instead of
/// raising the high-water mark of every pool thread's arena in turn.
#[derive(Clone)]
pub struct SqliteStore {
    jobs: mpsc::Sender<Job>,
    /// The index writer's lease (see [`registry_core::store::NodeCoordination`]).
    index_writer: Arc<tokio::sync::Mutex<()>>,
}

impl SqliteStore {
    /// Opens (creating if needed, `0600`) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        // SQLite creates its WAL and shared-memory files with the database's mode,
        // so creating the database owner-only keeps all three closed to others.
        match owner_only::file_options()
            .write(true)
            .create_new(true)
            .open(path)
        {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(StorageError::Backend(Box::new(e))),
        }
        let conn = Connection::open(path).map_err(backend)?;
        Self::init(conn)
    }

    /// An in-memory database, for tests.
    pub fn in_memory() -> Result<Self, StorageError> {
        Self::init(Connection::open_in_memory().map_err(backend)?)
    }

    fn init(mut conn: Connection) -> Result<Self, StorageError> {
        // WAL lets `create-key` run beside a serving process; the busy timeout makes
        // the two wait for each other instead of failing.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(backend)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(backend)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(backend)?;
        migrations::apply(&mut conn)?;
        let (jobs, queue) = mpsc::channel::<Job>();
        // The thread ends, closing the connection, once every clone of the store
        // (every sender) is gone.
        std::thread::Builder::new()
            .name("sqlite".to_owned())
            .spawn(move || {
                while let Ok(job) = queue.recv() {
                    job(&mut conn);
                }
            })
            .map_err(|e| StorageError::Backend(Box::new(e)))?;
        Ok(Self {
            jobs,
            index_writer: Arc::default(),
        })
    }

    pub(crate) async fn with_conn<T, F>(&self, f: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StorageError> + Send + 'static,
    {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |conn| {
            // A panicking job fails its caller, not the thread: an open
            // transaction rolls back as it unwinds, and the next job runs.
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| f(conn)));
            // The caller may have stopped waiting; then nobody needs the answer.
            let _ = answer.send(outcome.unwrap_or_else(|_| Err(gone("a database job panicked"))));
        });
        self.jobs
            .send(job)
            .map_err(|_| gone("the database thread has stopped"))?;
        answered
            .await
            .map_err(|_| gone("the database thread dropped a job"))?
    }
}

/// Sets `column` of the row of `table` whose `key_column` is `key` to `at`,
/// unless it is already `since` or later; returns whether it was set. (A
/// bookkeeping time written at most once per period however often it is asked:
/// a key's last use, a device sign-in's last poll.) The names are this crate's
/// own constants, never input.
pub(crate) fn set_time_unless_since(
    conn: &Connection,
    table: &str,
    key_column: &str,
    key: &str,
    column: &str,
    at: registry_core::timestamp::Timestamp,
    since: registry_core::timestamp::Timestamp,
) -> Result<bool, StorageError> {
    // Stored times are RFC 3339 in UTC to the second, so text order is time order.
    let set = conn
        .execute(
            &format!(
                "UPDATE {table} SET {column} = ?2 WHERE {key_column} = ?1 AND ({column} IS NULL OR {column} < ?3)"
            ),
            rusqlite::params![key, at.to_string(), since.to_string()],
        )
        .map_err(backend)?;
    Ok(set == 1)
}

/// A failure of the database's thread rather than of SQLite.
fn gone(what: &'static str) -> StorageError {
    StorageError::Backend(what.into())
}

pub(crate) fn backend(e: rusqlite::Error) -> StorageError {
    match e {
        rusqlite::Error::SqliteFailure(code, _)
            if matches!(
                code.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ) =>
        {
            StorageError::Unavailable(Box::new(e))
        }
        other => StorageError::Backend(Box::new(other)),
    }
}
