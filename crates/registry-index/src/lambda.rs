//! The `index-builder` Lambda function: DynamoDB Streams batches in, index files
//! out; and, on its EventBridge schedule, the download roll-up and a fresh
//! timestamp.
//!
//! Stream records are read one by one from the raw event JSON, so a malformed
//! (poison) record is logged and skipped instead of failing the whole batch's
//! deserialisation. Only public plugin rows matter (`PLUGIN#public#{slug}` with a
//! `META` or `V#` sort key); download counters, keys and org rows are ignored, so
//! a download never rewrites a static file. A batch that fails reports the first
//! affected record (partial batch response), so Lambda retries from there only.

use std::collections::BTreeMap;
use std::sync::Arc;

use registry_aws::dynamo::item_key::public_plugin_of;
use registry_core::downloads::Retention;
use registry_core::slug::Slug;
use registry_core::store::{CatalogStore, CdnInvalidator};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::builder::{ChangeReport, IndexBuilder, IndexError};

/// The answer to a stream batch: records Lambda must deliver again.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamBatchResponse {
    /// The first failed record (by sequence number); everything from it on is retried.
    #[serde(rename = "batchItemFailures")]
    pub batch_item_failures: Vec<BatchItemFailure>,
}

/// One record to retry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchItemFailure {
    /// The record's `SequenceNumber`.
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
}

/// What a scheduled run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledReport {
    /// Plugins whose download total changed.
    pub rolled_up: usize,
    /// Index files written.
    pub files_written: usize,
    /// Whether the timestamp was renewed.
    pub timestamp_renewed: bool,
}

/// Why an invocation failed (reported to Lambda as `errorType`).
#[derive(Debug, thiserror::Error)]
pub enum FunctionError {
    /// Neither a DynamoDB Streams batch nor an EventBridge schedule.
    #[error("the index builder takes DynamoDB Streams batches and EventBridge schedules only")]
    UnknownEvent,
    /// The scheduled work failed.
    #[error(transparent)]
    Index(#[from] IndexError),
}

#[cfg(feature = "binaries")]
impl From<FunctionError> for lambda_runtime::Diagnostic {
    fn from(error: FunctionError) -> Self {
        let error_type = match error {
            FunctionError::UnknownEvent => "UnknownEvent",
            FunctionError::Index(_) => "IndexUpdateFailed",
        };
        Self {
            error_type: error_type.to_owned(),
            error_message: error.to_string(),
        }
    }
}

/// One stream record, as far as the builder cares.
#[derive(Debug, Deserialize)]
struct StreamRecord {
    #[serde(rename = "eventID", default)]
    event_id: String,
    dynamodb: StreamChange,
}

#[derive(Debug, Deserialize)]
struct StreamChange {
    #[serde(rename = "Keys")]
    keys: BTreeMap<String, BTreeMap<String, Value>>,
    #[serde(rename = "SequenceNumber")]
    sequence_number: String,
}

impl StreamChange {
    fn string_key(&self, name: &str) -> Option<&str> {
        self.keys.get(name)?.get("S")?.as_str()
    }

    /// The public plugin this change is about, if it is a plugin or version row.
    fn public_plugin(&self) -> Result<Option<Slug>, String> {
        let (Some(pk), Some(sk)) = (self.string_key("PK"), self.string_key("SK")) else {
            return Err("keys PK and SK are not strings".to_owned());
        };
        public_plugin_of(pk, sk)
    }
}

/// The function's state: built once per container.
pub struct IndexFunction {
    builder: Arc<IndexBuilder>,
    catalog: Arc<dyn CatalogStore>,
    cdn: Option<Arc<dyn CdnInvalidator>>,
    retention: Retention,
}

impl IndexFunction {
    /// A function driving `builder`, rolling up `catalog`, invalidating `cdn`.
    pub fn new(
        builder: Arc<IndexBuilder>,
        catalog: Arc<dyn CatalogStore>,
        cdn: Option<Arc<dyn CdnInvalidator>>,
    ) -> Self {
        Self {
            builder,
            catalog,
            cdn,
            retention: Retention::default(),
        }
    }

    /// Keeps daily download counters for `retention` (by default the minimum).
    #[must_use]
    pub fn with_download_retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    /// Handles a DynamoDB Streams batch.
    pub async fn handle_stream(&self, event: &Value) -> StreamBatchResponse {
        let records = event
            .get("Records")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        // Each slug once, remembered with the first record that named it.
        let mut order: Vec<(Slug, String)> = Vec::new();
        for raw in records {
            let record: StreamRecord = match serde_json::from_value(raw.clone()) {
                Ok(record) => record,
                Err(error) => {
                    tracing::error!(%error, record = %raw, "skipping a malformed stream record");
                    continue;
                }
            };
            match record.dynamodb.public_plugin() {
                Ok(Some(slug)) => {
                    if !order.iter().any(|(s, _)| *s == slug) {
                        order.push((slug, record.dynamodb.sequence_number));
                    }
                }
                Ok(None) => {}
                Err(error) => {
                    tracing::error!(event_id = %record.event_id, %error, "skipping a stream record that is not a catalog row");
                }
            }
        }
        if order.is_empty() {
            return StreamBatchResponse::default();
        }
        let slugs: Vec<Slug> = order.iter().map(|(s, _)| s.clone()).collect();
        match self.builder.update_plugins(&slugs).await {
            Ok(report) => {
                self.invalidate(&report).await;
                StreamBatchResponse::default()
            }
            Err(error) => {
                tracing::warn!(
                    error = &error as &dyn std::error::Error,
                    "batch update failed; isolating the failing plugin"
                );
                self.isolate_failure(&order).await
            }
        }
    }

    /// Updates plugins one by one, in stream order, and reports the first that
    /// fails: Lambda retries from its record, and the ones before it are done.
    async fn isolate_failure(&self, order: &[(Slug, String)]) -> StreamBatchResponse {
        for (slug, sequence_number) in order {
            match self
                .builder
                .update_plugins(std::slice::from_ref(slug))
                .await
            {
                Ok(report) => self.invalidate(&report).await,
                Err(error) => {
                    tracing::error!(%slug, error = &error as &dyn std::error::Error, "index update failed");
                    return StreamBatchResponse {
                        batch_item_failures: vec![BatchItemFailure {
                            item_identifier: sequence_number.clone(),
                        }],
                    };
                }
            }
        }
        StreamBatchResponse::default()
    }

    /// Rolls up downloads into the catalog and the index, and renews the
    /// timestamp when due.
    pub async fn handle_schedule(&self) -> Result<ScheduledReport, IndexError> {
        let changed = self
            .catalog
            .roll_up_downloads(self.builder.today(), self.retention)
            .await?;
        self.builder.draw_download_charts(&changed).await?;
        let report = self.builder.update_plugins(&changed).await?;
        self.invalidate(&report).await;
        let timestamp_renewed = self.builder.renew_timestamp_if_due().await?;
        Ok(ScheduledReport {
            rolled_up: changed.len(),
            files_written: report.written.len(),
            timestamp_renewed,
        })
    }

    /// Handles any event the function is wired to: a stream batch or a schedule;
    /// anything else is refused by name.
    pub async fn handle(&self, event: Value) -> Result<Value, FunctionError> {
        let answer = if event.get("Records").is_some() {
            serde_json::to_value(self.handle_stream(&event).await)
        } else if event.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event") {
            serde_json::to_value(self.handle_schedule().await?)
        } else {
            return Err(FunctionError::UnknownEvent);
        };
        answer.map_err(|e| {
            FunctionError::Index(IndexError::Format {
                path: "response".to_owned(),
                detail: e.to_string(),
            })
        })
    }

    /// Best effort: the files are already right; a failed invalidation only means
    /// readers see the old copy until its short `max-age` runs out.
    async fn invalidate(&self, report: &ChangeReport) {
        let Some(cdn) = &self.cdn else {
            return;
        };
        let paths = report.cdn_paths();
        if paths.is_empty() {
            return;
        }
        if let Err(error) = cdn.invalidate(&paths).await {
            tracing::warn!(
                error = &*error as &dyn std::error::Error,
                paths = paths.len(),
                "CDN invalidation failed; copies expire with their max-age"
            );
        } else {
            tracing::info!(paths = paths.len(), "CDN invalidation requested");
        }
    }
}
