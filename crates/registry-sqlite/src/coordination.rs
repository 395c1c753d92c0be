//! Taking turns in one process: the embedded store serves one process, so the
//! index writer's lease is a lock in memory; scheduled runs are claimed in the
//! database all the same, so the contract reads the same on every backend.

use std::time::Duration;

use async_trait::async_trait;

use registry_core::store::{IndexWriterLease, NodeCoordination, StorageError};

use crate::{SqliteStore, backend};

/// The lease taken: the in-memory lock's guard.
struct LocalLease {
    _held: tokio::sync::OwnedMutexGuard<()>,
}

/// The lease could not be had in time.
#[derive(Debug, thiserror::Error)]
#[error("another index update held the index writer's lease for {0:?}")]
struct LeaseBusy(Duration);

#[async_trait]
impl NodeCoordination for SqliteStore {
    async fn lead_index_writes(
        &self,
        wait: Duration,
    ) -> Result<Box<dyn IndexWriterLease>, StorageError> {
        let lock = std::sync::Arc::clone(&self.index_writer);
        match tokio::time::timeout(wait, lock.lock_owned()).await {
            Ok(held) => Ok(Box::new(LocalLease { _held: held })),
            Err(_) => Err(StorageError::Unavailable(Box::new(LeaseBusy(wait)))),
        }
    }

    async fn claim_scheduled_run(&self, job: &str, period: u64) -> Result<bool, StorageError> {
        let (job, period) = (job.to_owned(), i64::try_from(period).unwrap_or(i64::MAX));
        self.with_conn(move |conn| {
            let claimed = conn
                .execute(
                    "INSERT INTO scheduled_runs (job, period) VALUES (?1, ?2)
                     ON CONFLICT (job) DO UPDATE SET period = excluded.period
                     WHERE scheduled_runs.period < excluded.period",
                    rusqlite::params![job, period],
                )
                .map_err(backend)?;
            Ok(claimed == 1)
        })
        .await
    }
}

#[async_trait]
impl IndexWriterLease for LocalLease {
    async fn release(self: Box<Self>) {}
}
