//! DynamoDB and S3 adapters of the registry's storage ports.
//!
//! One table holds the whole catalog (see [`dynamo::item_key`] for its keys); one bucket
//! holds the artifacts. Clients are built once from `aws-config`, so the SDK's own
//! settings (`AWS_REGION`, `AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL_S3`,
//! credentials) apply unchanged.

pub mod cdn_logs;
#[cfg(feature = "cloudfront")]
pub mod cloudfront;
pub mod dynamo;
mod error;
pub mod index;
pub mod replicated;
pub mod s3;
#[cfg(feature = "secrets")]
pub mod secrets;
pub mod setup;
pub mod uploads;
#[cfg(feature = "webhook-queue")]
pub mod webhook_queue;

use std::sync::Arc;

#[cfg(feature = "cloudfront")]
pub use cloudfront::CloudFrontInvalidator;
pub use dynamo::DynamoStore;
pub use index::S3IndexStore;
pub use replicated::ReplicatedArtifactStore;
pub use s3::S3ArtifactStore;
pub use uploads::S3UploadStore;

/// Whether the S3 client must address buckets by path: local S3 servers need it, and
/// they are what an endpoint override points at.
pub fn s3_needs_path_style() -> bool {
    std::env::var_os("AWS_ENDPOINT_URL_S3").is_some()
        || std::env::var_os("AWS_ENDPOINT_URL").is_some()
}

/// Where the registry's AWS resources are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsSettings {
    /// DynamoDB table name.
    pub table: String,
    /// S3 bucket name.
    pub bucket: String,
    /// Address the bucket by path (`endpoint/bucket/key`), as local S3 servers need.
    pub force_path_style: bool,
}

/// The SDK clients, built once per process.
#[derive(Debug, Clone)]
pub struct AwsClients {
    /// DynamoDB.
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// S3.
    pub s3: aws_sdk_s3::Client,
    /// SQS, for the webhook delivery queue.
    #[cfg(feature = "webhook-queue")]
    pub sqs: aws_sdk_sqs::Client,
}

impl AwsClients {
    /// Loads the SDK configuration from the environment and builds both clients.
    pub async fn from_env(force_path_style: bool) -> Self {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Self::from_config(&config, force_path_style)
    }

    /// Builds both clients from a loaded SDK configuration.
    pub fn from_config(config: &aws_config::SdkConfig, force_path_style: bool) -> Self {
        let s3_config = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(force_path_style)
            .build();
        Self {
            dynamodb: aws_sdk_dynamodb::Client::new(config),
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            #[cfg(feature = "webhook-queue")]
            sqs: aws_sdk_sqs::Client::new(config),
        }
    }

    /// The catalog and key store over `settings.table`.
    pub fn dynamo_store(&self, settings: &AwsSettings) -> Arc<DynamoStore> {
        Arc::new(DynamoStore::new(
            self.dynamodb.clone(),
            settings.table.clone(),
        ))
    }

    /// The artifact store over `settings.bucket`.
    pub fn s3_store(&self, settings: &AwsSettings) -> Arc<S3ArtifactStore> {
        Arc::new(S3ArtifactStore::new(
            self.s3.clone(),
            settings.bucket.clone(),
        ))
    }

    /// The static index under `index/` in `settings.bucket`.
    pub fn index_store(&self, settings: &AwsSettings) -> Arc<S3IndexStore> {
        Arc::new(S3IndexStore::new(self.s3.clone(), settings.bucket.clone()))
    }

    /// The upload quarantine in `settings.bucket`.
    pub fn upload_store(&self, settings: &AwsSettings) -> Arc<S3UploadStore> {
        Arc::new(S3UploadStore::new(self.s3.clone(), settings.bucket.clone()))
    }
}
