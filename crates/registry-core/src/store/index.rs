//! The static index's storage port: files under keys, with conditional puts.
//!
//! Shared index files are rewritten read-modify-write, so puts can be conditional
//! on the ETag that was read: concurrent builders then retry instead of losing
//! each other's changes. The index format itself lives in `registry-index`.

use async_trait::async_trait;
use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::StorageError;

/// One file's bytes and the metadata it is served with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexObject {
    /// The bytes.
    pub bytes: Bytes,
    /// Media type.
    pub content_type: String,
    /// `Cache-Control` it is served with.
    pub cache_control: String,
    /// HTTP status it is served with: 200, or 410 for an unpublished version.
    pub status: u16,
}

/// The answer to a read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// The file, with its current ETag.
    Found {
        /// The file.
        object: IndexObject,
        /// Its ETag (quoted, as HTTP sends it).
        etag: String,
    },
    /// The file still has the ETag the caller holds.
    NotModified,
    /// No such file.
    Missing,
}

/// When a put may happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteCondition {
    /// Always.
    Always,
    /// Only if there is no such file.
    IfAbsent,
    /// Only if the file still has this ETag.
    IfMatch(String),
}

impl WriteCondition {
    /// The condition that the file is as it was read: absent, or at `etag`.
    pub fn unchanged_since(etag: Option<&str>) -> Self {
        etag.map_or(Self::IfAbsent, |e| Self::IfMatch(e.to_owned()))
    }
}

/// Where index files live.
#[async_trait]
pub trait IndexStore: Send + Sync {
    /// The file at `key` (a path inside the index, `plugins/github.json`); [`Fetched::NotModified`] when its ETag equals
    /// `if_none_match`.
    async fn get(&self, key: &str, if_none_match: Option<&str>) -> Result<Fetched, StorageError>;

    /// Reads like [`IndexStore::get`], except that a store caching what it reads
    /// does not keep this file: for readers that hold their own copy (search) or
    /// are about to replace the file (the index builder), whose reads would
    /// otherwise fill the cache with files no client asked for.
    async fn get_uncached(
        &self,
        key: &str,
        if_none_match: Option<&str>,
    ) -> Result<Fetched, StorageError> {
        self.get(key, if_none_match).await
    }

    /// Writes the file if `condition` holds ([`super::Conflict::RevisionChanged`]
    /// otherwise, writing nothing); returns its new ETag.
    async fn put(
        &self,
        key: &str,
        object: &IndexObject,
        condition: &WriteCondition,
    ) -> Result<String, StorageError>;

    /// Removes the file; removing one that is gone succeeds.
    async fn delete(&self, key: &str) -> Result<(), StorageError>;

    /// Whether the store can be reached now, whatever it holds (a readiness
    /// check); the error names what is missing. Stores with nothing to reach
    /// answer `Ok`.
    async fn check_reachable(&self) -> Result<(), StorageError> {
        Ok(())
    }

    /// An empty store to build a whole index in, swapped in for this one only when
    /// complete, so a rebuild a crash interrupts leaves the previous index whole;
    /// `None` where a store is rebuilt in place (the default).
    fn fresh_generation(&self) -> Result<Option<Box<dyn IndexGeneration>>, StorageError> {
        Ok(None)
    }

    /// Writes several files unconditionally (a full rebuild's bulk path); stores
    /// that can batch the work override this.
    async fn put_all(&self, files: &[(String, IndexObject)]) -> Result<(), StorageError> {
        for (key, object) in files {
            self.put(key, object, &WriteCondition::Always).await?;
        }
        Ok(())
    }
}

/// A whole index being built beside the live one.
#[async_trait]
pub trait IndexGeneration: Send + Sync {
    /// Where the new index is written.
    fn store(&self) -> std::sync::Arc<dyn IndexStore>;

    /// Makes the new index the live one in one step, and discards the old.
    async fn swap_in(self: Box<Self>) -> Result<(), StorageError>;
}

/// The ETag of `bytes` in stores that compute their own: quoted SHA-256 hex.
pub fn content_etag(bytes: &[u8]) -> String {
    format!("\"{}\"", hex::encode(Sha256::digest(bytes)))
}
