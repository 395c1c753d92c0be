//! The org catalog spec's two-layer artifact store: local files always, S3 when
//! configured. Without S3 credentials it runs local-only after one warning.

use std::sync::Arc;

use async_trait::async_trait;
use aws_credential_types::provider::ProvideCredentials;
use bytes::Bytes;
use registry_core::artifact::ArtifactKey;
use registry_core::store::{ArtifactStore, FileArtifactStore, PutOutcome, StorageError};

/// Local files, replicated to a remote store when there is one.
pub struct ReplicatedArtifactStore {
    local: FileArtifactStore,
    remote: Option<Arc<dyn ArtifactStore>>,
}

impl ReplicatedArtifactStore {
    /// A store writing to `local` and, when given, to `remote`.
    pub fn new(local: FileArtifactStore, remote: Option<Arc<dyn ArtifactStore>>) -> Self {
        Self { local, remote }
    }

    /// Whether artifacts replicate to a remote store.
    pub fn is_replicated(&self) -> bool {
        self.remote.is_some()
    }
}

/// Whether the SDK configuration can produce credentials; logs the one warning the
/// spec asks for when it cannot.
pub async fn credentials_available(config: &aws_config::SdkConfig) -> bool {
    let Some(provider) = config.credentials_provider() else {
        tracing::warn!(
            "no AWS credentials provider: artifacts stay local-only and will not replicate to S3"
        );
        return false;
    };
    match provider.provide_credentials().await {
        Ok(_) => true,
        Err(error) => {
            tracing::warn!(
                error = &error as &dyn std::error::Error,
                "no AWS credentials: artifacts stay local-only and will not replicate to S3"
            );
            false
        }
    }
}

#[async_trait]
impl ArtifactStore for ReplicatedArtifactStore {
    async fn put_if_absent(
        &self,
        key: &ArtifactKey,
        bytes: Bytes,
        content_type: &str,
    ) -> Result<PutOutcome, StorageError> {
        let local = self
            .local
            .put_if_absent(key, bytes.clone(), content_type)
            .await?;
        // A publish succeeds only once its artifacts are durable in every layer,
        // so a replication failure fails the write (and the caller retries).
        if let Some(remote) = &self.remote {
            remote.put_if_absent(key, bytes, content_type).await?;
        }
        Ok(local)
    }

    async fn get(&self, key: &ArtifactKey) -> Result<Option<Bytes>, StorageError> {
        if let Some(bytes) = self.local.get(key).await? {
            return Ok(Some(bytes));
        }
        let Some(remote) = &self.remote else {
            return Ok(None);
        };
        let Some(bytes) = remote.get(key).await? else {
            return Ok(None);
        };
        // Another node published it: keep a local copy for the next read.
        if let Err(error) = self.local.put_if_absent(key, bytes.clone(), "").await {
            tracing::warn!(%key, error = &error as &dyn std::error::Error, "could not cache an S3 artifact locally");
        }
        Ok(Some(bytes))
    }
}
