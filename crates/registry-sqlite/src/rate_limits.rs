//! The rate-limit port in SQLite: one row per principal and action.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use registry_core::store::{Conflict, RateLimitStore, StorageError};

use crate::{SqliteStore, backend};

#[async_trait]
impl RateLimitStore for SqliteStore {
    async fn rate_mark(&self, key: &str) -> Result<Option<i64>, StorageError> {
        let key = key.to_owned();
        self.with_conn(move |conn| {
            conn.query_row("SELECT mark FROM rate_marks WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
            .map_err(backend)
        })
        .await
    }

    async fn swap_rate_mark(
        &self,
        key: &str,
        from: Option<i64>,
        to: i64,
    ) -> Result<(), StorageError> {
        let key = key.to_owned();
        self.with_conn(move |conn| {
            let changed = match from {
                None => conn.execute(
                    "INSERT OR IGNORE INTO rate_marks (key, mark) VALUES (?1, ?2)",
                    params![key, to],
                ),
                Some(from) => conn.execute(
                    "UPDATE rate_marks SET mark = ?3 WHERE key = ?1 AND mark = ?2",
                    params![key, from, to],
                ),
            }
            .map_err(backend)?;
            if changed == 0 {
                return Err(StorageError::Conflict(Conflict::RevisionChanged));
            }
            Ok(())
        })
        .await
    }
}
