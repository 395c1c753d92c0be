//! The report port on the single DynamoDB table: a report is one item, listed
//! through GSI1 in an `open` or a `resolved` partition by creation time.
//! Closing one moves it between the two with a conditional update.

use async_trait::async_trait;
use registry_core::moderation::{PluginReport, ReportId, Resolution};
use registry_core::store::codec::{from_json, to_json};
use registry_core::store::{Conflict, ReportStore, StorageError};

use super::item_key::{ItemKey, OPEN_REPORTS, RESOLVED_REPORTS};
use super::{DynamoStore, GSI1, GSI1_PK, GSI1_SK, Item, PK, SK, get_s, s};
use crate::error::{conditional, storage_error};

fn listing_key(report: &PluginReport) -> String {
    format!("{}#{}", report.created_at, report.id)
}

fn decoded(item: &Item) -> Result<PluginReport, StorageError> {
    from_json("report", get_s(item, "record")?)
}

impl DynamoStore {
    /// Up to `limit` reports of one listing partition, newest first.
    async fn reports_in(
        &self,
        partition: &str,
        limit: usize,
    ) -> Result<Vec<PluginReport>, StorageError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .key_condition_expression("#gpk = :partition")
            .expression_attribute_names("#gpk", GSI1_PK)
            .expression_attribute_values(":partition", s(partition))
            .scan_index_forward(false)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(storage_error)?;
        output
            .items
            .unwrap_or_default()
            .iter()
            .map(decoded)
            .collect()
    }
}

#[async_trait]
impl ReportStore for DynamoStore {
    async fn insert_report(&self, report: &PluginReport) -> Result<(), StorageError> {
        let key = ItemKey::report(&report.id);
        let listing = if report.resolution.is_none() {
            OPEN_REPORTS
        } else {
            RESOLVED_REPORTS
        };
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(key.pk))
            .item(SK, s(key.sk))
            .item(GSI1_PK, s(listing))
            .item(GSI1_SK, s(listing_key(report)))
            .item("record", s(to_json(report)?))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK);
        conditional(request.send().await, Conflict::AlreadyExists)
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
        let mut found = self.reports_in(OPEN_REPORTS, limit).await?;
        if !open_only {
            found.extend(self.reports_in(RESOLVED_REPORTS, limit).await?);
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
