//! The artifact store's contract: content-addressed puts, written once.

use std::sync::Arc;

use bytes::Bytes;

use super::{race, slug};
use crate::artifact::ArtifactKey;
use crate::checksum::Sha256Digest;
use crate::store::{ArtifactStore, PutOutcome};
use crate::version::PluginVersion;

/// Runs every artifact-store check.
pub async fn artifact_store_contract(store: Arc<dyn ArtifactStore>, prefix: &str) {
    let bytes = Bytes::from(format!("artifact of {prefix}"));
    let sha = Sha256Digest::of(&bytes);
    let key = ArtifactKey::bundle(
        &slug(&format!("{prefix}-art")),
        &PluginVersion::parse("1.0.0").unwrap(),
        &sha,
    );
    assert!(
        store.get(&key).await.unwrap().is_none(),
        "absent reads as None"
    );
    let outcomes = race(|_| {
        let (store, key, bytes) = (Arc::clone(&store), key.clone(), bytes.clone());
        async move { store.put_if_absent(&key, bytes, "application/zip").await }
    })
    .await;
    let created = outcomes
        .into_iter()
        .filter(|o| matches!(o, Ok(PutOutcome::Created)))
        .count();
    assert_eq!(created, 1, "an artifact is written once");
    assert_eq!(
        store.get(&key).await.unwrap(),
        Some(bytes.clone()),
        "bytes round-trip"
    );
    let other = store
        .put_if_absent(&key, Bytes::from_static(b"different"), "application/zip")
        .await
        .unwrap();
    assert_eq!(other, PutOutcome::AlreadyExisted);
    assert_eq!(
        store.get(&key).await.unwrap(),
        Some(bytes.clone()),
        "an artifact is never overwritten"
    );
    let missing = ArtifactKey::bundle(
        &slug(&format!("{prefix}-art")),
        &PluginVersion::parse("9.9.9").unwrap(),
        &sha,
    );
    assert_eq!(
        store.get_many(&[key.clone(), missing, key]).await.unwrap(),
        vec![Some(bytes.clone()), None, Some(bytes)],
        "several reads answer in the order asked"
    );
}
