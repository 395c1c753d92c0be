//! The audit port on the single DynamoDB table: a record is one item in its
//! subject's partition, sorted by id, and in the `AUDIT` partition of GSI1 for
//! the whole log. A put that finds the id taken writes nothing.
//!
//! Every record shares the one GSI1 partition: audit records come at the pace
//! of publishes and owner changes, far below a partition's write capacity.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use registry_core::audit::{AuditId, AuditRecord, AuditSubject};
use registry_core::store::codec::{from_json, to_json};
use registry_core::store::{AuditStore, Conflict, StorageError};

use super::item_key::{AUDIT_LOG, ItemKey, audit_partition};
use super::{DynamoStore, GSI1, GSI1_PK, GSI1_SK, PK, SK, get_s, s};
use crate::error::{conditional, storage_error};

#[async_trait]
impl AuditStore for DynamoStore {
    async fn append_audit(&self, record: &AuditRecord) -> Result<(), StorageError> {
        let key = ItemKey::audit_record(&record.subject, &record.id);
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(key.pk))
            .item(SK, s(key.sk))
            .item(GSI1_PK, s(AUDIT_LOG))
            .item(GSI1_SK, s(record.id.as_str()))
            .item("record", s(to_json(record)?))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK);
        conditional(request.send().await, Conflict::AlreadyExists)
    }

    async fn audit_records(
        &self,
        subject: Option<&AuditSubject>,
        before: Option<&AuditId>,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StorageError> {
        let (partition_name, sort_name, partition, consistent) = match subject {
            Some(subject) => (PK, SK, audit_partition(subject), true),
            // A global index reads eventually consistently: a record may show
            // there a moment after its subject's partition.
            None => (GSI1_PK, GSI1_SK, AUDIT_LOG.to_owned(), false),
        };
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .expression_attribute_names("#pk", partition_name)
            .expression_attribute_values(":pk", s(partition))
            .scan_index_forward(false)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .projection_expression("#record")
            .expression_attribute_names("#record", "record");
        request = match before {
            Some(before) => request
                .key_condition_expression("#pk = :pk AND #sk < :before")
                .expression_attribute_names("#sk", sort_name)
                .expression_attribute_values(":before", AttributeValue::S(before.to_string())),
            None => request.key_condition_expression("#pk = :pk"),
        };
        request = if consistent {
            request.consistent_read(true)
        } else {
            request.index_name(GSI1)
        };
        let output = request.send().await.map_err(storage_error)?;
        output
            .items
            .unwrap_or_default()
            .iter()
            .map(|item| from_json("audit record", get_s(item, "record")?))
            .collect()
    }
}
