//! The registry's signed static index, read over HTTP (`GET /index/{path}`), so a
//! download can be checked through the Ed25519-signed chain: timestamp, snapshot,
//! bin, file. The signing key is pinned on first use, as SSH pins host keys.

use async_trait::async_trait;
use bytes::Bytes;
use registry_core::slug::Slug;
use registry_core::store::{Fetched, IndexObject, IndexStore, StorageError, WriteCondition};
use registry_core::timestamp::{Clock, SystemClock};
use registry_core::version::PluginVersion;
use registry_index::IndexPublicKey;
use registry_index::format::IndexConfig;
use registry_index::path::IndexPath;
use registry_index::verify::{VerifyError, verify_file};

use crate::client::{ClientError, RegistryClient};

/// Why a file could not be checked through the index.
#[derive(Debug, thiserror::Error)]
pub enum IndexCheckError {
    /// The registry publishes no static index (private and org registries).
    #[error("the registry publishes no signed index")]
    NoIndex,
    /// Reading the index failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// `config.json` does not parse, or names no usable key.
    #[error("the index's config.json is not valid: {0}")]
    BadConfig(String),
    /// The registry signs with another key than the one pinned for it.
    #[error(
        "the registry's index key changed: pinned {pinned}, now {offered}. If the operator rotated it, remove the pin from the config file's [index_keys]"
    )]
    KeyChanged {
        /// The key id pinned.
        pinned: String,
        /// The key id the registry now publishes.
        offered: String,
    },
    /// The chain does not vouch for the file.
    #[error("index verification failed: {0}")]
    Chain(#[from] VerifyError),
    /// The slug or version does not name an index file.
    #[error("{0}")]
    BadName(String),
}

/// What the chain vouched for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexCheck {
    /// Id (hex SHA-256) of the key that signed the chain.
    pub key_id: String,
    /// The key, hex, to pin.
    pub public_key: String,
    /// When the verified timestamp was signed.
    pub issued_at: String,
}

/// The index files of one registry, read-only over HTTP.
struct HttpIndex<'a> {
    client: &'a RegistryClient,
}

#[async_trait]
impl IndexStore for HttpIndex<'_> {
    async fn get(&self, key: &str, _if_none_match: Option<&str>) -> Result<Fetched, StorageError> {
        match self.client.index_file(key).await {
            Ok(bytes) => Ok(Fetched::Found {
                object: IndexObject {
                    bytes,
                    content_type: String::new(),
                    cache_control: String::new(),
                    status: 200,
                },
                etag: String::new(),
            }),
            Err(ClientError::NotFound(_) | ClientError::Gone(_)) => Ok(Fetched::Missing),
            Err(e) => Err(StorageError::Backend(Box::new(e))),
        }
    }

    async fn put(
        &self,
        key: &str,
        _object: &IndexObject,
        _condition: &WriteCondition,
    ) -> Result<String, StorageError> {
        Err(StorageError::Corrupt(format!(
            "the index is read-only here (put {key})"
        )))
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        Err(StorageError::Corrupt(format!(
            "the index is read-only here (delete {key})"
        )))
    }
}

/// Checks a version's schema bytes through the registry's signed index, with the
/// key `pinned` (hex) when one is, else the key the registry publishes.
pub async fn check_schema(
    client: &RegistryClient,
    slug: &str,
    version: &str,
    schema: &Bytes,
    pinned: Option<&str>,
) -> Result<IndexCheck, IndexCheckError> {
    let config_bytes = match client.index_file("config.json").await {
        Ok(bytes) => bytes,
        Err(ClientError::NotFound(_)) => return Err(IndexCheckError::NoIndex),
        Err(e) => return Err(e.into()),
    };
    let config: IndexConfig = serde_json::from_slice(&config_bytes)
        .map_err(|e| IndexCheckError::BadConfig(e.to_string()))?;
    let offered = IndexPublicKey::from_hex(&config.index_public_key.public_key)
        .map_err(|e| IndexCheckError::BadConfig(e.to_string()))?;
    let key = match pinned {
        Some(pinned) => {
            let pinned = IndexPublicKey::from_hex(pinned)
                .map_err(|e| IndexCheckError::BadConfig(format!("pinned key: {e}")))?;
            if pinned.key_id() != offered.key_id() {
                return Err(IndexCheckError::KeyChanged {
                    pinned: pinned.key_id(),
                    offered: offered.key_id(),
                });
            }
            pinned
        }
        None => offered,
    };
    let path = IndexPath::Schema(
        Slug::parse(slug).map_err(|e| IndexCheckError::BadName(e.to_string()))?,
        PluginVersion::parse(version).map_err(|e| IndexCheckError::BadName(e.to_string()))?,
    );
    let timestamp = verify_file(
        &HttpIndex { client },
        &key,
        SystemClock.now(),
        &path,
        schema,
    )
    .await?;
    Ok(IndexCheck {
        key_id: key.key_id(),
        public_key: config.index_public_key.public_key,
        issued_at: timestamp.issued_at.to_string(),
    })
}
