//! Bundle uploads straight into S3 with presigned PUTs, under the quarantine prefix.

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::presigning::PresigningConfig;
use registry_core::artifact::ZIP_CONTENT_TYPE;
use registry_core::checksum::Sha256Digest;
use registry_core::store::{StorageError, UploadStore};
use registry_core::upload::{
    FetchedUpload, PresignedPut, UPLOAD_SHA256_METADATA, UploadKey, UploadRequest,
};

use crate::error::storage_error;
use crate::s3::{body_bytes, status_of};

/// Uploads as objects under `uploads/` in the registry's bucket.
#[derive(Debug, Clone)]
pub struct S3UploadStore {
    client: Client,
    bucket: String,
}

impl S3UploadStore {
    /// A store over `bucket`.
    pub fn new(client: Client, bucket: String) -> Self {
        Self { client, bucket }
    }
}

#[async_trait]
impl UploadStore for S3UploadStore {
    async fn presign_put(
        &self,
        key: &UploadKey,
        request: &UploadRequest,
        expires_in: std::time::Duration,
    ) -> Result<PresignedPut, StorageError> {
        let config = PresigningConfig::expires_in(expires_in)
            .map_err(|e| StorageError::Backend(Box::new(e)))?;
        let size = i64::try_from(request.size).map_err(|e| StorageError::Backend(Box::new(e)))?;
        // Every value set here becomes a signed header: S3 refuses a PUT of any other
        // length, type or declared digest.
        let presigned = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .content_length(size)
            .content_type(ZIP_CONTENT_TYPE)
            .metadata(UPLOAD_SHA256_METADATA, request.sha256.to_hex())
            .presigned(config)
            .await
            .map_err(storage_error)?;
        let mut headers: Vec<(String, String)> = presigned
            .headers()
            .map(|(name, value)| (name.to_ascii_lowercase(), value.to_owned()))
            .collect();
        headers.sort();
        Ok(PresignedPut {
            url: presigned.uri().to_owned(),
            headers,
        })
    }

    async fn fetch(
        &self,
        key: &UploadKey,
        max_bytes: u64,
    ) -> Result<Option<FetchedUpload>, StorageError> {
        let result = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            // One byte past the cap tells "too large" without reading the rest.
            .range(format!("bytes=0-{max_bytes}"))
            .send()
            .await;
        let output = match result {
            Ok(output) => output,
            Err(error) if status_of(&error) == Some(404) => return Ok(None),
            Err(error) => return Err(storage_error(error)),
        };
        let declared_sha256 = output
            .metadata()
            .and_then(|m| m.get(UPLOAD_SHA256_METADATA))
            .and_then(|hex| Sha256Digest::parse(hex).ok());
        let bytes = body_bytes(output.body).await?;
        Ok(Some(FetchedUpload {
            bytes,
            declared_sha256,
        }))
    }

    async fn discard(&self, key: &UploadKey) -> Result<(), StorageError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await
            .map_err(storage_error)?;
        Ok(())
    }
}
