//! The audit port in PostgreSQL: one row per record, the record whole as JSON.

use async_trait::async_trait;

use registry_core::audit::{AuditId, AuditRecord, AuditSubject};
use registry_core::store::{AuditStore, Conflict, StorageError};

use crate::{PostgresStore, backend, from_json, signed, to_json};

#[async_trait]
impl AuditStore for PostgresStore {
    async fn append_audit(&self, record: &AuditRecord) -> Result<(), StorageError> {
        self.change_one(
            "INSERT INTO audit_log (id, subject, record) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
            &[
                &record.id.to_string(),
                &record.subject.storage_name(),
                &to_json(record)?,
            ],
            Conflict::AlreadyExists,
        )
        .await
    }

    async fn audit_records(
        &self,
        subject: Option<&AuditSubject>,
        before: Option<&AuditId>,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StorageError> {
        let client = self.client().await?;
        client
            .query(
                "SELECT record FROM audit_log
                 WHERE ($1::TEXT IS NULL OR subject = $1) AND ($2::TEXT IS NULL OR id < $2)
                 ORDER BY id DESC LIMIT $3",
                &[
                    &subject.map(AuditSubject::storage_name),
                    &before.map(ToString::to_string),
                    &signed(limit as u64),
                ],
            )
            .await
            .map_err(backend)?
            .iter()
            .map(|row| from_json("audit record", row.get(0)))
            .collect()
    }
}
