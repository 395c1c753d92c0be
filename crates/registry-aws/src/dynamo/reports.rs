//! The report port on the single DynamoDB table: a report is one item, listed
//! through GSI1 in an `open` or a `resolved` partition by creation time.
//! Closing one moves it between the two with a conditional update.

use async_trait::async_trait;
use registry_core::moderation::{PluginReport, ReportId, Resolution};
use registry_core::store::codec::{from_json, to_json};
use registry_core::store::{Conflict, ReportStore, StorageError};

use super::item_key::{ItemKey, OPEN_REPORTS, RESOLVED_REPORTS};
use super::{DynamoStore, GSI1_PK, Item, PK, Partition, SK, get_s, s};
use crate::error::conditional;

fn listing_key(report: &PluginReport) -> String {
    format!("{}#{}", report.created_at, report.id)
}

fn decoded(item: &Item) -> Result<PluginReport, StorageError> {
    from_json("report", get_s(item, "record")?)
}

#[async_trait]
impl ReportStore for DynamoStore {
    async fn insert_report(&self, report: &PluginReport) -> Result<(), StorageError> {
        let listing = if report.resolution.is_none() {
            OPEN_REPORTS
        } else {
            RESOLVED_REPORTS
        };
        self.put_new_record(
            ItemKey::report(&report.id),
            (listing, &listing_key(report)),
            to_json(report)?,
        )
        .await
    }

    async fn report(&self, id: &ReportId) -> Result<Option<PluginReport>, StorageError> {
        let key = ItemKey::report(id);
        self.get(&key.pk, &key.sk)
            .await?
            .as_ref()
            .map(decoded)
            .transpose()
    }

    async fn reports(
        &self,
        open_only: bool,
        limit: usize,
    ) -> Result<Vec<PluginReport>, StorageError> {
        let mut partitions = vec![OPEN_REPORTS];
        if !open_only {
            partitions.push(RESOLVED_REPORTS);
        }
        let mut found = Vec::new();
        for partition in partitions {
            for item in self
                .newest_items(Partition::Gsi1(partition), None, limit)
                .await?
            {
                found.push(decoded(&item)?);
            }
        }
        if !open_only {
            found.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
            found.truncate(limit);
        }
        Ok(found)
    }

    async fn resolve_report(
        &self,
        id: &ReportId,
        resolution: &Resolution,
    ) -> Result<(), StorageError> {
        let Some(mut report) = self.report(id).await? else {
            return Err(StorageError::Conflict(Conflict::Missing));
        };
        report.resolution = Some(resolution.clone());
        let key = ItemKey::report(id);
        // Only from the open partition: of racing admins, one moves it.
        let request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(key.pk))
            .key(SK, s(key.sk))
            .update_expression("SET #record = :record, #gpk = :resolved")
            .condition_expression("#gpk = :open")
            .expression_attribute_names("#record", "record")
            .expression_attribute_names("#gpk", GSI1_PK)
            .expression_attribute_values(":record", s(to_json(&report)?))
            .expression_attribute_values(":resolved", s(RESOLVED_REPORTS))
            .expression_attribute_values(":open", s(OPEN_REPORTS));
        conditional(request.send().await, Conflict::Missing)
    }
}
