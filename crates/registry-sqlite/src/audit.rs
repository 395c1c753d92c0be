//! The audit port in SQLite: one row per record, the record whole as JSON.

use async_trait::async_trait;
use rusqlite::params;

use registry_core::audit::{AuditId, AuditRecord, AuditSubject};
use registry_core::store::{AuditStore, Conflict, StorageError};

use crate::{SqliteStore, backend, from_json, to_json};

/// SQLite's `LIMIT` takes a signed number; pages are far smaller.
fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

#[async_trait]
impl AuditStore for SqliteStore {
    async fn append_audit(&self, record: &AuditRecord) -> Result<(), StorageError> {
        let (id, subject, json) = (
            record.id.to_string(),
            record.subject.storage_name(),
            to_json(record)?,
        );
        self.with_conn(move |conn| {
            let added = conn
                .execute(
                    "INSERT OR IGNORE INTO audit_log (id, subject, record) VALUES (?1, ?2, ?3)",
                    params![id, subject, json],
                )
                .map_err(backend)?;
            if added == 0 {
                return Err(StorageError::Conflict(Conflict::AlreadyExists));
            }
            Ok(())
        })
        .await
    }

    async fn audit_records(
        &self,
        subject: Option<&AuditSubject>,
        before: Option<&AuditId>,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StorageError> {
        let subject = subject.map(AuditSubject::storage_name);
        let before = before.map(ToString::to_string);
        self.with_conn(move |conn| {
            // Two statements rather than `?1 IS NULL OR subject = ?1`, which
            // SQLite plans without the (subject, id) index.
            let sql = if subject.is_some() {
                "SELECT record FROM audit_log
                 WHERE subject = ?1 AND (?2 IS NULL OR id < ?2)
                 ORDER BY id DESC LIMIT ?3"
            } else {
                "SELECT record FROM audit_log
                 WHERE ?1 IS NULL AND (?2 IS NULL OR id < ?2)
                 ORDER BY id DESC LIMIT ?3"
            };
            let mut statement = conn.prepare_cached(sql).map_err(backend)?;
            let rows = statement
                .query_map(params![subject, before, sql_limit(limit)], |row| {
                    row.get::<_, String>(0)
                })
                .map_err(backend)?;
            rows.map(|raw| {
                let raw = raw.map_err(backend)?;
                from_json::<AuditRecord>("audit record", &raw)
            })
            .collect()
        })
        .await
    }
}
