//! The change journal in SQLite: a table appended to inside each catalog write's
//! transaction ([`record_change`]) and drained by the index builder.

use async_trait::async_trait;
use rusqlite::params;

use registry_core::slug::Slug;
use registry_core::store::{ChangeJournal, ChangeScope, JournalEntry, StorageError};

use crate::{SqliteStore, backend};

/// Appends `slug` and what of it changed to the journal and moves the catalog
/// revision, inside `tx`: the one step every catalog write that changes a plugin's
/// index files takes.
pub(crate) fn record_change(
    tx: &rusqlite::Transaction<'_>,
    slug: &str,
    scope: &ChangeScope,
) -> Result<(), StorageError> {
    tx.prepare_cached(
        "INSERT INTO change_journal (slug, scope, recorded_at) VALUES (?1, ?2, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
    )
    .and_then(|mut s| s.execute(params![slug, scope.to_stored()]))
    .map_err(backend)?;
    tx.prepare_cached("UPDATE meta SET value = value + 1 WHERE name = 'catalog_revision'")
        .and_then(|mut s| s.execute([]))
        .map_err(backend)?;
    Ok(())
}

#[async_trait]
impl ChangeJournal for SqliteStore {
    async fn pending_changes(&self, limit: usize) -> Result<Vec<JournalEntry>, StorageError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with_conn(move |conn| {
            let mut stmt = conn
                .prepare_cached("SELECT seq, slug, scope FROM change_journal ORDER BY seq LIMIT ?1")
                .map_err(backend)?;
            let rows = stmt
                .query_map(params![limit], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                })
                .map_err(backend)?;
            rows.map(|row| {
                let (seq, slug, scope) = row.map_err(backend)?;
                Ok(JournalEntry {
                    seq: u64::try_from(seq).unwrap_or(0),
                    slug: Slug::parse(&slug).map_err(StorageError::Corrupt)?,
                    scope: ChangeScope::from_stored(&scope),
                })
            })
            .collect()
        })
        .await
    }

    async fn mark_applied(&self, seqs: &[u64]) -> Result<(), StorageError> {
        let seqs = seqs.to_vec();
        self.with_conn(move |conn| {
            let tx = conn.transaction().map_err(backend)?;
            {
                let mut delete = tx
                    .prepare_cached("DELETE FROM change_journal WHERE seq = ?1")
                    .map_err(backend)?;
                for seq in seqs {
                    delete
                        .execute(params![i64::try_from(seq).unwrap_or(i64::MAX)])
                        .map_err(backend)?;
                }
            }
            tx.commit().map_err(backend)
        })
        .await
    }
}
