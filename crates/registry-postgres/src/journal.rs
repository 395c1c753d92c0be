//! The change journal in PostgreSQL: a table appended to inside each catalog
//! write's transaction ([`record_change`]) and drained by the index builder.
//!
//! Sequence numbers are handed out before commit, so a later number can become
//! visible before an earlier one; the journal never reads "after the last one
//! seen", it reads every row still there and deletes what was applied.

use async_trait::async_trait;
use tokio_postgres::Transaction;

use registry_core::slug::Slug;
use registry_core::store::{ChangeJournal, ChangeScope, JournalEntry, StorageError};

use crate::{PostgresStore, backend, signed, unsigned};

/// Appends `slug` and what of it changed to the journal and moves the catalog
/// revision, inside `tx`: the one step every catalog write that changes a plugin's
/// index files takes.
pub(crate) async fn record_change(
    tx: &Transaction<'_>,
    slug: &str,
    scope: &ChangeScope,
) -> Result<(), StorageError> {
    tx.execute(
        "INSERT INTO change_journal (slug, scope, recorded_at)
         VALUES ($1, $2, to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'))",
        &[&slug, &scope.to_stored()],
    )
    .await
    .map_err(backend)?;
    tx.execute(
        "UPDATE meta SET value = value + 1 WHERE name = 'catalog_revision'",
        &[],
    )
    .await
    .map_err(backend)?;
    Ok(())
}

#[async_trait]
impl ChangeJournal for PostgresStore {
    async fn pending_changes(&self, limit: usize) -> Result<Vec<JournalEntry>, StorageError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT seq, slug, scope FROM change_journal ORDER BY seq LIMIT $1",
                &[&signed(limit as u64)],
            )
            .await
            .map_err(backend)?;
        rows.iter()
            .map(|row| {
                Ok(JournalEntry {
                    seq: unsigned(row.get(0)),
                    slug: Slug::parse(row.get::<_, &str>(1)).map_err(StorageError::Corrupt)?,
                    scope: ChangeScope::from_stored(row.get(2)),
                })
            })
            .collect()
    }

    async fn mark_applied(&self, seqs: &[u64]) -> Result<(), StorageError> {
        let seqs: Vec<i64> = seqs.iter().copied().map(signed).collect();
        let client = self.client().await?;
        client
            .execute("DELETE FROM change_journal WHERE seq = ANY($1)", &[&seqs])
            .await
            .map_err(backend)?;
        Ok(())
    }
}
