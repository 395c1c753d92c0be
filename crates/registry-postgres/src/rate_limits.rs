//! The rate-limit port in PostgreSQL: one row per principal and action.

use async_trait::async_trait;

use registry_core::store::{Conflict, RateLimitStore, StorageError};

use crate::{PostgresStore, backend};

#[async_trait]
impl RateLimitStore for PostgresStore {
    async fn rate_mark(&self, key: &str) -> Result<Option<i64>, StorageError> {
        let client = self.client().await?;
        Ok(client
            .query_opt("SELECT mark FROM rate_marks WHERE key = $1", &[&key])
            .await
            .map_err(backend)?
            .map(|row| row.get(0)))
    }

    async fn swap_rate_mark(
        &self,
        key: &str,
        from: Option<i64>,
        to: i64,
    ) -> Result<(), StorageError> {
        let client = self.client().await?;
        // One statement each: the condition and the change land together.
        let changed =
            match from {
                None => client
                    .execute(
                        "INSERT INTO rate_marks (key, mark) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                        &[&key, &to],
                    )
                    .await,
                Some(from) => {
                    client
                        .execute(
                            "UPDATE rate_marks SET mark = $3 WHERE key = $1 AND mark = $2",
                            &[&key, &from, &to],
                        )
                        .await
                }
            }
            .map_err(backend)?;
        if changed == 0 {
            return Err(StorageError::Conflict(Conflict::RevisionChanged));
        }
        Ok(())
    }
}
