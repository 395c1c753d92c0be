//! The bucket CloudFront delivers its standard logs to: each log file read as a
//! stream, never whole into memory (a busy hour's file can be large).

use std::pin::Pin;

use registry_core::store::BackendError;
use tokio::io::AsyncRead;

/// A log file's bytes as they arrive from S3 (still gzip'ed).
pub type LogStream = Pin<Box<dyn AsyncRead + Send>>;

/// Reads log files out of their bucket.
#[derive(Debug, Clone)]
pub struct CdnLogBucket {
    client: aws_sdk_s3::Client,
}

impl CdnLogBucket {
    /// Log files read with `client`.
    pub fn new(client: aws_sdk_s3::Client) -> Self {
        Self { client }
    }

    /// The object `key` of `bucket` as a stream.
    pub async fn open(&self, bucket: &str, key: &str) -> Result<LogStream, BackendError> {
        let object = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await?;
        Ok(Box::pin(object.body.into_async_read()))
    }
}
