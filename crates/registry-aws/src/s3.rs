//! The S3 artifact store: content-addressed objects, created only if absent.

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use registry_core::artifact::{ArtifactKey, IMMUTABLE_CACHE_CONTROL};
use registry_core::store::{ArtifactStore, PutOutcome, StorageError};

use crate::error::storage_error;

/// How many times a put that lost to a concurrent conditional put is retried.
const CONDITIONAL_CONFLICT_RETRIES: usize = 3;

/// A read that knows what the caller already has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// Nothing is stored under the key.
    Missing,
    /// The caller's copy (by ETag) is current.
    NotModified,
    /// The object, with its ETag.
    Body {
        /// The bytes.
        bytes: Bytes,
        /// The object's ETag, for the next conditional read.
        etag: Option<String>,
    },
}

/// Artifacts as objects in one bucket, keyed by [`ArtifactKey`].
#[derive(Debug, Clone)]
pub struct S3ArtifactStore {
    client: Client,
    bucket: String,
}

impl S3ArtifactStore {
    /// A store over `bucket`.
    pub fn new(client: Client, bucket: String) -> Self {
        Self { client, bucket }
    }

    /// Reads `key` unless its ETag still equals `known_etag` (a 304 costs no body).
    pub async fn get_if_changed(
        &self,
        key: &ArtifactKey,
        known_etag: Option<&str>,
    ) -> Result<Fetched, StorageError> {
        let result = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .set_if_none_match(known_etag.map(str::to_owned))
            .send()
            .await;
        match result {
            Ok(output) => {
                let etag = output.e_tag().map(str::to_owned);
                let bytes = body_bytes(output.body).await?;
                Ok(Fetched::Body { bytes, etag })
            }
            Err(error) => match status_of(&error) {
                Some(304) => Ok(Fetched::NotModified),
                Some(404) => Ok(Fetched::Missing),
                _ => Err(storage_error(error)),
            },
        }
    }
}

/// The whole body of an S3 response; a broken stream is transient.
pub(crate) async fn body_bytes(body: ByteStream) -> Result<Bytes, StorageError> {
    Ok(body
        .collect()
        .await
        .map_err(|e| StorageError::Unavailable(Box::new(e)))?
        .into_bytes())
}

pub(crate) fn status_of<E, R: HttpStatus>(error: &SdkError<E, R>) -> Option<u16> {
    error.raw_response().map(HttpStatus::status_code)
}

/// The HTTP status of a raw SDK response.
pub(crate) trait HttpStatus {
    fn status_code(&self) -> u16;
}

impl HttpStatus for aws_sdk_s3::config::http::HttpResponse {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

#[async_trait]
impl ArtifactStore for S3ArtifactStore {
    async fn put_if_absent(
        &self,
        key: &ArtifactKey,
        bytes: Bytes,
        content_type: &str,
    ) -> Result<PutOutcome, StorageError> {
        let mut attempt = 0;
        loop {
            let result = self
                .client
                .put_object()
                .bucket(&self.bucket)
                .key(key.as_str())
                .body(ByteStream::from(bytes.clone()))
                .content_type(content_type)
                .cache_control(IMMUTABLE_CACHE_CONTROL)
                .if_none_match("*")
                .send()
                .await;
            match result {
                Ok(_) => return Ok(PutOutcome::Created),
                Err(error) => match status_of(&error) {
                    // Something is already there; the key names its content.
                    Some(412) => return Ok(PutOutcome::AlreadyExisted),
                    // A concurrent conditional put is in flight: ask again.
                    Some(409) if attempt < CONDITIONAL_CONFLICT_RETRIES => {
                        attempt += 1;
                        tokio::time::sleep(std::time::Duration::from_millis(20 * attempt as u64))
                            .await;
                    }
                    _ => return Err(storage_error(error)),
                },
            }
        }
    }

    async fn get(&self, key: &ArtifactKey) -> Result<Option<Bytes>, StorageError> {
        match self.get_if_changed(key, None).await? {
            Fetched::Body { bytes, .. } => Ok(Some(bytes)),
            Fetched::Missing | Fetched::NotModified => Ok(None),
        }
    }
}
