//! Recently read index files kept in memory by the directory store, so a hot read
//! costs a map lookup instead of a trip to the blocking pool, two `open`s and a
//! SHA-256 of the bytes for their ETag.
//!
//! Writes through the store forget the files they touch, and a read that raced a
//! write does not keep what it read (each write moves a counter the read checks
//! before caching). A hit is also checked against the file's inode, size and
//! modification time, so a file another process replaced (files are replaced by
//! rename, never edited in place) is read again.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use registry_core::store::IndexObject;

/// Files larger than this are read from disk every time.
const LARGEST_CACHED: usize = 256 * 1024;
/// Bytes of file content the cache holds at most; past it, new files are not kept.
const BUDGET: usize = 64 * 1024 * 1024;

/// Which inode a cached copy was read from, and its size and modification time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileIdentity {
    device: u64,
    inode: u64,
    len: u64,
    modified: Option<std::time::SystemTime>,
}

impl FileIdentity {
    /// The identity `metadata` describes.
    pub(crate) fn of(metadata: &std::fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        Self {
            device: metadata.dev(),
            inode: metadata.ino(),
            len: metadata.len(),
            modified: metadata.modified().ok(),
        }
    }
}

/// A cached file: its object, ETag and where it was read from.
type Cached = (IndexObject, String, FileIdentity);

/// The cache of one directory store.
#[derive(Debug, Default)]
pub(crate) struct HotFiles {
    files: RwLock<HashMap<String, Cached>>,
    bytes: AtomicU64,
    writes: AtomicU64,
}

impl HotFiles {
    /// The file at `key`, its ETag and identity, if cached.
    pub(crate) fn get(&self, key: &str) -> Option<Cached> {
        self.files
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .cloned()
    }

    /// A token to pass to [`HotFiles::keep`] for a read starting now.
    pub(crate) fn before_read(&self) -> u64 {
        self.writes.load(Ordering::Acquire)
    }

    /// Keeps what a read found, unless a write happened since `token` was taken
    /// (the bytes may be older than the file) or the file is large or the cache full.
    pub(crate) fn keep(
        &self,
        token: u64,
        key: &str,
        object: &IndexObject,
        etag: &str,
        identity: FileIdentity,
    ) {
        let size = object.bytes.len();
        if size > LARGEST_CACHED {
            return;
        }
        let mut files = self.files.write().unwrap_or_else(|p| p.into_inner());
        if self.writes.load(Ordering::Acquire) != token
            || self.bytes.load(Ordering::Relaxed) as usize + size > BUDGET
        {
            return;
        }
        if files
            .insert(key.to_owned(), (object.clone(), etag.to_owned(), identity))
            .is_none()
        {
            self.bytes.fetch_add(size as u64, Ordering::Relaxed);
        }
    }

    /// Forgets `key`, which is being written or deleted.
    pub(crate) fn forget(&self, key: &str) {
        let mut files = self.files.write().unwrap_or_else(|p| p.into_inner());
        self.writes.fetch_add(1, Ordering::AcqRel);
        if let Some((object, _, _)) = files.remove(key) {
            self.bytes
                .fetch_sub(object.bytes.len() as u64, Ordering::Relaxed);
        }
    }

    /// Forgets everything (the directory was swapped for another).
    pub(crate) fn forget_all(&self) {
        let mut files = self.files.write().unwrap_or_else(|p| p.into_inner());
        self.writes.fetch_add(1, Ordering::AcqRel);
        files.clear();
        self.bytes.store(0, Ordering::Relaxed);
    }
}
