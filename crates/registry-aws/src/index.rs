//! The static index in S3, under `index/`: what CloudFront serves and the search
//! function reads. Conditional puts use S3's `If-Match` / `If-None-Match`.

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use registry_core::store::{
    Conflict, Fetched, IndexObject, IndexStore, StorageError, WriteCondition,
};

use crate::error::storage_error;
use crate::s3::{body_bytes, status_of};

/// Prefix of index objects in the bucket (CloudFront maps protocol URLs onto it).
pub const INDEX_KEY_PREFIX: &str = "index/";
/// User metadata holding a non-200 status (`x-amz-meta-status`), which the
/// CloudFront viewer-response function turns into the response status.
pub const STATUS_METADATA: &str = "status";

/// PUTs a bulk write keeps in flight.
const PUT_CONCURRENCY: usize = 32;

/// Index files as objects in one bucket.
#[derive(Debug, Clone)]
pub struct S3IndexStore {
    client: Client,
    bucket: String,
}

impl S3IndexStore {
    /// A store over `bucket`.
    pub fn new(client: Client, bucket: String) -> Self {
        Self { client, bucket }
    }

    fn object_key(key: &str) -> String {
        format!("{INDEX_KEY_PREFIX}{key}")
    }

    fn no_such_bucket(&self) -> String {
        format!("the S3 bucket {:?} does not exist", self.bucket)
    }
}

#[async_trait]
impl IndexStore for S3IndexStore {
    async fn get(&self, key: &str, if_none_match: Option<&str>) -> Result<Fetched, StorageError> {
        let result = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(Self::object_key(key))
            .set_if_none_match(if_none_match.map(str::to_owned))
            .send()
            .await;
        match result {
            Ok(output) => {
                let etag = output.e_tag().unwrap_or_default().to_owned();
                let content_type = output.content_type().unwrap_or_default().to_owned();
                let cache_control = output.cache_control().unwrap_or_default().to_owned();
                let status = output
                    .metadata()
                    .and_then(|m| m.get(STATUS_METADATA))
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(200);
                let bytes = body_bytes(output.body).await?;
                Ok(Fetched::Found {
                    object: IndexObject {
                        bytes,
                        content_type,
                        cache_control,
                        status,
                    },
                    etag,
                })
            }
            Err(error) => match status_of(&error) {
                Some(304) => Ok(Fetched::NotModified),
                // A bucket that is gone is not a file that is missing: every read
                // would answer 404 as if the registry were empty.
                Some(404) if error.code() == Some("NoSuchBucket") => {
                    Err(StorageError::Unavailable(self.no_such_bucket().into()))
                }
                Some(404) => Ok(Fetched::Missing),
                _ => Err(storage_error(error)),
            },
        }
    }

    async fn put(
        &self,
        key: &str,
        object: &IndexObject,
        condition: &WriteCondition,
    ) -> Result<String, StorageError> {
        let mut request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(Self::object_key(key))
            .body(ByteStream::from(object.bytes.clone()))
            .content_type(&object.content_type)
            .cache_control(&object.cache_control);
        if object.status != 200 {
            request = request.metadata(STATUS_METADATA, object.status.to_string());
        }
        request = match condition {
            WriteCondition::Always => request,
            WriteCondition::IfAbsent => request.if_none_match("*"),
            WriteCondition::IfMatch(etag) => request.if_match(etag),
        };
        match request.send().await {
            Ok(output) => Ok(output.e_tag().unwrap_or_default().to_owned()),
            // 412: the condition failed; 409: a concurrent conditional write is in
            // flight; 404: `If-Match` on an object someone removed. All mean "re-read".
            Err(error) if matches!(status_of(&error), Some(404 | 409 | 412)) => {
                Err(StorageError::Conflict(Conflict::RevisionChanged))
            }
            Err(error) => Err(storage_error(error)),
        }
    }

    async fn put_all(&self, files: &[(String, IndexObject)]) -> Result<(), StorageError> {
        // A rebuild's many small PUTs, a bounded number in flight at once.
        let mut in_flight = tokio::task::JoinSet::new();
        for (key, object) in files {
            if in_flight.len() >= PUT_CONCURRENCY
                && let Some(done) = in_flight.join_next().await
            {
                done.map_err(|e| StorageError::Backend(Box::new(e)))??;
            }
            let (store, key, object) = (self.clone(), key.clone(), object.clone());
            in_flight.spawn(async move {
                store
                    .put(&key, &object, &WriteCondition::Always)
                    .await
                    .map(drop)
            });
        }
        while let Some(done) = in_flight.join_next().await {
            done.map_err(|e| StorageError::Backend(Box::new(e)))??;
        }
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(Self::object_key(key))
            .send()
            .await
            .map_err(storage_error)?;
        Ok(())
    }

    async fn check_reachable(&self) -> Result<(), StorageError> {
        match self.client.head_bucket().bucket(&self.bucket).send().await {
            Ok(_) => Ok(()),
            Err(error) => Err(match status_of(&error) {
                Some(404) => StorageError::Unavailable(self.no_such_bucket().into()),
                Some(403) => StorageError::Unavailable(
                    format!(
                        "access to the S3 bucket {:?} is denied to these credentials",
                        self.bucket
                    )
                    .into(),
                ),
                _ => storage_error(error),
            }),
        }
    }
}
