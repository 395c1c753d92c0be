//! CloudFront invalidation of index paths after they change: best effort, since
//! the short `max-age` of mutable index files bounds staleness anyway.

use async_trait::async_trait;
use aws_sdk_cloudfront::Client;
use aws_sdk_cloudfront::types::{InvalidationBatch, Paths};
use registry_core::store::{BackendError, CdnInvalidator};

/// Invalidates paths of one distribution.
#[derive(Debug, Clone)]
pub struct CloudFrontInvalidator {
    client: Client,
    distribution_id: String,
}

impl CloudFrontInvalidator {
    /// An invalidator for `distribution_id`, with a client made from `sdk`. The
    /// client is built here, not in `AwsClients`, so only the index builder links it.
    pub fn from_sdk_config(sdk: &aws_config::SdkConfig, distribution_id: String) -> Self {
        Self::new(Client::new(sdk), distribution_id)
    }

    /// An invalidator for `distribution_id`.
    pub fn new(client: Client, distribution_id: String) -> Self {
        Self {
            client,
            distribution_id,
        }
    }
}

#[async_trait]
impl CdnInvalidator for CloudFrontInvalidator {
    async fn invalidate(&self, paths: &[String]) -> Result<(), BackendError> {
        if paths.is_empty() {
            return Ok(());
        }
        let quantity = i32::try_from(paths.len())?;
        // Unique per request, so a retried call is not mistaken for this one.
        let mut nonce = [0u8; 8];
        getrandom::fill(&mut nonce)?;
        let batch = InvalidationBatch::builder()
            .paths(
                Paths::builder()
                    .quantity(quantity)
                    .set_items(Some(paths.to_vec()))
                    .build()?,
            )
            .caller_reference(format!("index-builder-{}", hex::encode(nonce)))
            .build()?;
        self.client
            .create_invalidation()
            .distribution_id(&self.distribution_id)
            .invalidation_batch(batch)
            .send()
            .await?;
        Ok(())
    }
}
