//! What several server processes sharing one database agree on through it: which
//! of them writes the shared static index at a time, and which runs each period's
//! scheduled work (health checks, roll-ups, the timestamp's renewal).
//!
//! The index's signed chain is linear only if one writer advances it at a time,
//! whichever node took the write; and work meant once per period must not run once
//! per node.

use std::time::Duration;

use async_trait::async_trait;

use super::StorageError;

/// How processes sharing a database take turns.
#[async_trait]
pub trait NodeCoordination: Send + Sync {
    /// Waits, at most `wait`, to be the one process writing the shared index, and
    /// stays it until the lease is released or dropped. A process that dies holding
    /// it loses it (the database sees its connection close), so another finishes
    /// the work. Waiting longer than `wait` is [`StorageError::Unavailable`].
    async fn lead_index_writes(
        &self,
        wait: Duration,
    ) -> Result<Box<dyn IndexWriterLease>, StorageError>;

    /// Claims the run of `job` for `period` (periods count up, such as the seconds
    /// since the epoch divided by the job's interval): true for exactly one caller
    /// per job and period, and false for a period at or before one already claimed.
    async fn claim_scheduled_run(&self, job: &str, period: u64) -> Result<bool, StorageError>;
}

/// Being the index's one writer, until released.
#[async_trait]
pub trait IndexWriterLease: Send {
    /// Lets the next writer in at once (dropping the lease lets it in too, once the
    /// database notices).
    async fn release(self: Box<Self>);
}

/// A lease that holds nothing (a caller with nobody to take turns with).
#[derive(Debug, Default)]
pub struct SoleWriter;

#[async_trait]
impl IndexWriterLease for SoleWriter {
    async fn release(self: Box<Self>) {}
}
