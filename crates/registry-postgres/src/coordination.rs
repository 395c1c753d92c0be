//! Several nodes taking turns through the database: the index writer's lease is a
//! session advisory lock, and each scheduled run is claimed by one upsert.
//!
//! A session lock (not a row lock in an open transaction) because it dies with
//! its connection: a node killed while writing the index frees the lease the
//! moment PostgreSQL sees the connection close, and another node finishes the
//! journal. The lock's key is the schema's, so registries in separate schemas of
//! one database do not wait for each other.

use std::time::{Duration, Instant};

use async_trait::async_trait;

use registry_core::store::{IndexWriterLease, NodeCoordination, StorageError};

use crate::{PostgresStore, backend, rand_below, signed};

/// Takes the lease if it is free; answers whether it did.
const TRY_LOCK: &str = "SELECT pg_try_advisory_lock(hashtextextended('openworkflow-index-writer:' || current_schema(), 0))";
/// Gives the lease back.
const UNLOCK: &str = "SELECT pg_advisory_unlock(hashtextextended('openworkflow-index-writer:' || current_schema(), 0))";
/// The longest pause between two tries: a lease is held for one index update,
/// milliseconds on a filesystem and tens of them on S3.
const LONGEST_PAUSE_MS: u32 = 20;

/// The index writer's lease taken: the connection holding the lock.
struct AdvisoryLease {
    client: Option<deadpool_postgres::Object>,
}

/// The lease could not be had in time.
#[derive(Debug, thiserror::Error)]
#[error("another node held the index writer's lease for {0:?}: its index update is slow or stuck")]
struct LeaseBusy(Duration);

#[async_trait]
impl NodeCoordination for PostgresStore {
    async fn lead_index_writes(
        &self,
        wait: Duration,
    ) -> Result<Box<dyn IndexWriterLease>, StorageError> {
        let deadline = Instant::now() + wait;
        let client = self.client().await?;
        let mut ceiling = 2;
        loop {
            let taken: bool = client
                .query_one(TRY_LOCK, &[])
                .await
                .map_err(backend)?
                .get(0);
            if taken {
                return Ok(Box::new(AdvisoryLease {
                    client: Some(client),
                }));
            }
            // Jittered, growing pauses: waiting nodes do not retry in step.
            let pause = Duration::from_millis(1 + u64::from(rand_below(ceiling)));
            if Instant::now() + pause > deadline {
                return Err(StorageError::Unavailable(Box::new(LeaseBusy(wait))));
            }
            tokio::time::sleep(pause).await;
            ceiling = (ceiling * 2).min(LONGEST_PAUSE_MS);
        }
    }

    async fn claim_scheduled_run(&self, job: &str, period: u64) -> Result<bool, StorageError> {
        let client = self.client().await?;
        // The row lock an upsert takes makes racing claims queue, and each re-reads
        // the period the one before it wrote: one moves it, the rest find it moved.
        let claimed = client
            .execute(
                "INSERT INTO scheduled_runs (job, period) VALUES ($1, $2)
                 ON CONFLICT (job) DO UPDATE SET period = EXCLUDED.period
                 WHERE scheduled_runs.period < EXCLUDED.period",
                &[&job, &signed(period)],
            )
            .await
            .map_err(backend)?;
        Ok(claimed == 1)
    }
}

#[async_trait]
impl IndexWriterLease for AdvisoryLease {
    async fn release(mut self: Box<Self>) {
        let Some(client) = self.client.take() else {
            return;
        };
        match client.query_one(UNLOCK, &[]).await {
            Ok(_) => {}
            // Unsure whether the lock is gone: closing the connection ends it.
            Err(error) => {
                tracing::warn!(%error, "releasing the index writer's lease failed; closing its connection");
                drop(deadpool_postgres::Object::take(client));
            }
        }
    }
}

impl Drop for AdvisoryLease {
    fn drop(&mut self) {
        // Dropped unreleased (a panic, a cancelled update): the lock must not go
        // back to the pool with its connection, so the connection is closed.
        if let Some(client) = self.client.take() {
            drop(deadpool_postgres::Object::take(client));
        }
    }
}
