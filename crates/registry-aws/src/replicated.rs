//! The org catalog spec's two-layer artifact store: local files always, S3 when
//! configured. Without S3 credentials it runs local-only after one warning.

use std::sync::Arc;

use async_trait::async_trait;
use aws_credential_types::provider::ProvideCredentials;
use bytes::Bytes;
use futures_util::StreamExt;
use registry_core::artifact::{ArtifactKey, StoredArtifact};
use registry_core::checksum::Sha256Digest;
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

/// What syncing found for one artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalCopy {
    /// The local copy was there and matched its SHA-256.
    Present,
    /// It was missing and was pulled from S3.
    Restored,
    /// It failed its SHA-256 and was replaced from S3.
    Repaired,
    /// It is missing or corrupt and could not be pulled; the reason says why.
    Unrecoverable(String),
}

/// Told of every artifact as it is checked (a progress bar, or nothing).
pub trait SyncProgress: Send + Sync {
    /// `total` artifacts are about to be checked.
    fn start(&self, total: usize);
    /// One artifact was checked.
    fn checked(&self, artifact: &StoredArtifact, outcome: &LocalCopy);
}

/// A progress sink that reports nothing.
pub struct NoProgress;

impl SyncProgress for NoProgress {
    fn start(&self, _total: usize) {}
    fn checked(&self, _artifact: &StoredArtifact, _outcome: &LocalCopy) {}
}

/// The outcome of a sync.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Artifacts checked.
    pub checked: usize,
    /// Found intact locally.
    pub present: usize,
    /// Missing locally, pulled from S3.
    pub restored: usize,
    /// Corrupt locally, replaced from S3.
    pub repaired: usize,
    /// Missing or corrupt and not recoverable, with the reason.
    pub unrecoverable: Vec<(ArtifactKey, String)>,
    /// Whether an S3 copy was available to pull from.
    pub replicated: bool,
}

impl ReplicatedArtifactStore {
    /// Makes every one of `artifacts` present and intact locally: each local copy
    /// is checked against its SHA-256, and a missing or corrupt one is pulled from
    /// S3 (verified before it replaces anything), `concurrency` at a time. Without
    /// S3 the copies are only checked; each one that cannot be restored is logged
    /// as a warning and reported.
    pub async fn ensure_local_copies(
        &self,
        artifacts: Vec<StoredArtifact>,
        concurrency: usize,
        progress: &dyn SyncProgress,
    ) -> SyncReport {
        progress.start(artifacts.len());
        let mut report = SyncReport {
            replicated: self.remote.is_some(),
            ..SyncReport::default()
        };
        let mut checks = futures_util::stream::iter(artifacts)
            .map(|artifact| async move {
                let outcome = self.ensure_local_copy(&artifact).await;
                (artifact, outcome)
            })
            .buffer_unordered(concurrency.max(1));
        while let Some((artifact, outcome)) = checks.next().await {
            progress.checked(&artifact, &outcome);
            report.checked += 1;
            match outcome {
                LocalCopy::Present => report.present += 1,
                LocalCopy::Restored => report.restored += 1,
                LocalCopy::Repaired => report.repaired += 1,
                LocalCopy::Unrecoverable(reason) => {
                    tracing::warn!(key = %artifact.key, %reason, "catalog artifact unrecoverable");
                    report.unrecoverable.push((artifact.key, reason));
                }
            }
        }
        report
    }

    async fn ensure_local_copy(&self, artifact: &StoredArtifact) -> LocalCopy {
        let local = match self.local.get(&artifact.key).await {
            Ok(local) => local,
            Err(e) => return LocalCopy::Unrecoverable(format!("reading the local copy: {e}")),
        };
        let damaged = match &local {
            Some(bytes) if Sha256Digest::of(bytes) == artifact.sha256 => {
                return LocalCopy::Present;
            }
            Some(_) => true,
            None => false,
        };
        let what = if damaged { "corrupt" } else { "missing" };
        let Some(remote) = &self.remote else {
            return LocalCopy::Unrecoverable(format!(
                "{what} locally, and no S3 bucket is configured"
            ));
        };
        let bytes = match remote.get(&artifact.key).await {
            Ok(Some(bytes)) => bytes,
            Ok(None) => {
                return LocalCopy::Unrecoverable(format!("{what} locally and absent from S3"));
            }
            Err(e) => {
                return LocalCopy::Unrecoverable(format!("{what} locally; reading S3 failed: {e}"));
            }
        };
        if Sha256Digest::of(&bytes) != artifact.sha256 {
            return LocalCopy::Unrecoverable(format!(
                "{what} locally, and the S3 copy does not match sha256 {}",
                artifact.sha256
            ));
        }
        match self.local.restore(&artifact.key, bytes).await {
            Ok(()) if damaged => LocalCopy::Repaired,
            Ok(()) => LocalCopy::Restored,
            Err(e) => LocalCopy::Unrecoverable(format!("writing the local copy: {e}")),
        }
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
