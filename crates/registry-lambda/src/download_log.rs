//! The `download-log` function: CloudFront delivers its standard logs to a log
//! bucket, S3 announces each new file on an SQS queue, and this function counts
//! each file's schema and bundle downloads into the daily download counters,
//! exactly once per file however often a message is delivered.
//!
//! A file is streamed from S3 and decompressed as it is read, so memory stays
//! flat in its size. A message that fails (the file unreadable, the table
//! unavailable) is reported as a partial batch failure, so only it is delivered
//! again; its file's parts counted before the failure are not counted twice.

use std::io::BufReader;
use std::sync::Arc;

use flate2::read::MultiGzDecoder;
use registry_aws::cdn_logs::CdnLogBucket;
use registry_cdn_log::{LogTally, Recorded, RejectedLine, record_tally, tally_log};
use registry_core::downloads::Retention;
use registry_core::store::{BackendError, DownloadCounters, StorageError};
use registry_core::timestamp::Clock;
use serde_json::Value;
use tokio_util::io::SyncIoBridge;

use crate::sqs::{SqsBatchResponse, SqsItemFailure};

/// Bytes read from S3 at a time, and decompressed at a time.
const READ_BUFFER: usize = 64 * 1024;

/// What counting one log file did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileOutcome {
    /// An earlier delivery counted it to the end; it was not read again.
    AlreadyCounted,
    /// It was read and its downloads counted.
    Counted {
        /// Request lines read.
        requests: u64,
        /// Downloads counted.
        downloads: u64,
        /// Lines that could not be read (at most the first hundred).
        rejected: Vec<RejectedLine>,
        /// How many lines could not be read.
        rejected_total: u64,
        /// The parts written, and those an earlier delivery had written.
        recorded: Recorded,
    },
}

/// One log file a batch named, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFileReport {
    /// The bucket.
    pub bucket: String,
    /// The object key.
    pub key: String,
    /// Counted, or found counted before.
    pub outcome: FileOutcome,
}

/// Why a log file could not be counted (the message is delivered again).
#[derive(Debug, thiserror::Error)]
pub enum CountError {
    /// S3 would not give the file.
    #[error("reading the log file from S3: {0}")]
    Fetch(#[from] BackendError),
    /// The file is not a readable gzip'ed text.
    #[error("reading the log file: {0}")]
    Read(#[from] std::io::Error),
    /// The counters could not be written.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A batch's outcome: the answer for Lambda and, for the log, each file's report.
#[derive(Debug, Default)]
pub struct BatchOutcome {
    /// What Lambda is told.
    pub response: SqsBatchResponse,
    /// Every file the batch's messages named and that was counted (or had been).
    pub files: Vec<LogFileReport>,
}

/// The function's state: built once per container.
pub struct DownloadLogFunction {
    logs: CdnLogBucket,
    counters: Arc<dyn DownloadCounters>,
    retention: Retention,
    clock: Arc<dyn Clock>,
}

/// An S3 event's object key, as the event encodes it (`+` for a space, `%XX`).
fn decoded_key(raw: &str) -> String {
    let spaced = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}

/// The `(bucket, key)` of every object an S3 event message announces; an S3
/// test event, sent when the notification is set up, announces none.
fn announced_objects(body: &str) -> Result<Vec<(String, String)>, String> {
    let event: Value = serde_json::from_str(body).map_err(|e| format!("not JSON: {e}"))?;
    if event.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(Vec::new());
    }
    let records = event
        .get("Records")
        .and_then(Value::as_array)
        .ok_or("no Records")?;
    records
        .iter()
        .filter(|record| {
            record
                .get("eventName")
                .and_then(Value::as_str)
                .is_some_and(|name| name.starts_with("ObjectCreated:"))
        })
        .map(|record| {
            let s3 = record.get("s3").ok_or("a record without s3")?;
            let bucket = s3
                .pointer("/bucket/name")
                .and_then(Value::as_str)
                .ok_or("a record without s3.bucket.name")?;
            let key = s3
                .pointer("/object/key")
                .and_then(Value::as_str)
                .ok_or("a record without s3.object.key")?;
            Ok((bucket.to_owned(), decoded_key(key)))
        })
        .collect()
}

impl DownloadLogFunction {
    /// A function reading logs with `logs` and counting into `counters`.
    pub fn new(
        logs: CdnLogBucket,
        counters: Arc<dyn DownloadCounters>,
        retention: Retention,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            logs,
            counters,
            retention,
            clock,
        }
    }

    /// Handles an SQS batch of S3 event messages.
    pub async fn handle(&self, event: &Value) -> BatchOutcome {
        let mut outcome = BatchOutcome::default();
        let messages = event
            .get("Records")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for message in messages {
            let id = message
                .get("messageId")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let body = message
                .get("body")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let objects = match announced_objects(body) {
                Ok(objects) => objects,
                Err(error) => {
                    // Delivering it again would fail the same way: nothing to count.
                    tracing::error!(message_id = id, %error, "skipping a message that is not an S3 event");
                    continue;
                }
            };
            for (bucket, key) in objects {
                match self.count_file(&bucket, &key).await {
                    Ok(file) => {
                        log_report(&bucket, &key, &file);
                        outcome.files.push(LogFileReport {
                            bucket,
                            key,
                            outcome: file,
                        });
                    }
                    Err(error) => {
                        tracing::error!(%bucket, %key, error = &error as &dyn std::error::Error, "log file not counted; its message will be delivered again");
                        outcome.response.batch_item_failures.push(SqsItemFailure {
                            item_identifier: id.to_owned(),
                        });
                        break;
                    }
                }
            }
        }
        outcome
    }

    /// Counts one log file, unless an earlier delivery counted it to the end.
    pub async fn count_file(&self, bucket: &str, key: &str) -> Result<FileOutcome, CountError> {
        if self.counters.log_file_counted(key).await? {
            return Ok(FileOutcome::AlreadyCounted);
        }
        let stream = self.logs.open(bucket, key).await?;
        let bridge = SyncIoBridge::new(stream);
        let tally: LogTally = tokio::task::spawn_blocking(move || {
            let gzip = MultiGzDecoder::new(BufReader::with_capacity(READ_BUFFER, bridge));
            tally_log(BufReader::with_capacity(READ_BUFFER, gzip))
        })
        .await
        .map_err(std::io::Error::other)??;
        let (requests, downloads) = (tally.requests, tally.downloads);
        let (rejected, rejected_total) = (tally.rejected.clone(), tally.rejected_total);
        let recorded = record_tally(
            self.counters.as_ref(),
            key,
            tally,
            self.retention,
            self.clock.now(),
        )
        .await?;
        Ok(FileOutcome::Counted {
            requests,
            downloads,
            rejected,
            rejected_total,
            recorded,
        })
    }
}

/// Logs what counting a file did, naming each line that could not be read.
fn log_report(bucket: &str, key: &str, outcome: &FileOutcome) {
    match outcome {
        FileOutcome::AlreadyCounted => {
            tracing::info!(%bucket, %key, "log file counted before; skipped");
        }
        FileOutcome::Counted {
            requests,
            downloads,
            rejected,
            rejected_total,
            recorded,
        } => {
            for line in rejected {
                tracing::warn!(%bucket, %key, line = line.line, reason = %line.reason, "log line not counted");
            }
            tracing::info!(
                %bucket,
                %key,
                requests,
                downloads,
                rejected = rejected_total,
                parts = recorded.parts_counted,
                parts_counted_before = recorded.parts_already_counted,
                "log file counted"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_decoded_as_s3_events_encode_them() {
        assert_eq!(
            decoded_key("cf%2FE2AB.2026-12-01-10.a+b%2Bc.gz"),
            "cf/E2AB.2026-12-01-10.a b+c.gz"
        );
    }

    #[test]
    fn test_events_announce_nothing_and_other_events_are_skipped() {
        assert_eq!(
            announced_objects(r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"logs"}"#),
            Ok(Vec::new())
        );
        let removed = r#"{"Records":[{"eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"logs"},"object":{"key":"a.gz"}}}]}"#;
        assert_eq!(announced_objects(removed), Ok(Vec::new()));
        assert!(announced_objects("not json").is_err());
    }
}
