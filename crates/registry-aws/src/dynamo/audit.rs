//! The audit port on the single DynamoDB table: a record is one item in its
//! subject's partition, sorted by id, and in the `AUDIT` partition of GSI1 for
//! the whole log. A put that finds the id taken writes nothing.
//!
//! Every record shares the one GSI1 partition: audit records come at the pace
//! of publishes and owner changes, far below a partition's write capacity.

use async_trait::async_trait;
use registry_core::audit::{AuditId, AuditRecord, AuditSubject};
use registry_core::store::codec::{from_json, to_json};
use registry_core::store::{AuditStore, StorageError};

use super::item_key::{AUDIT_LOG, ItemKey, audit_partition};
use super::{DynamoStore, Partition, get_s};

#[async_trait]
impl AuditStore for DynamoStore {
    async fn append_audit(&self, record: &AuditRecord) -> Result<(), StorageError> {
        self.put_new_record(
            ItemKey::audit_record(&record.subject, &record.id),
            (AUDIT_LOG, record.id.as_str()),
            to_json(record)?,
        )
        .await
    }

    async fn audit_records(
        &self,
        subject: Option<&AuditSubject>,
        before: Option<&AuditId>,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StorageError> {
        let own_partition = subject.map(audit_partition);
        let partition = match &own_partition {
            Some(pk) => Partition::Table(pk),
            None => Partition::Gsi1(AUDIT_LOG),
        };
        self.newest_items(partition, before.map(AuditId::as_str), limit)
            .await?
            .iter()
            .map(|item| from_json("audit record", get_s(item, "record")?))
            .collect()
    }
}
