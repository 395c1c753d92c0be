//! Recently read index files kept in memory by the directory store, so a hot read
//! costs a map lookup instead of a trip to the blocking pool, two `open`s and a
//! SHA-256 of the bytes for their ETag.
//!
//! Writes through the store forget the files they touch, and a read that raced a
//! write does not keep what it read (each write moves a counter the read checks
//! before caching). A hit is also checked against the file's inode, size and
//! modification time, so a file another process replaced (files are replaced by
//! rename, never edited in place) is read again.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use registry_core::store::IndexObject;

/// Files larger than this are read from disk every time.
const LARGEST_CACHED: usize = 256 * 1024;
/// Bytes of file content the cache holds at most, unless the store is given
/// another budget.
pub const DEFAULT_BUDGET: usize = 64 * 1024 * 1024;
/// Part of the budget an eviction sweep frees beyond what the new file needs, in
/// 1/`SWEEP_SLACK_PARTS`: sweeping walks every entry, so one sweep makes room for
/// many admissions rather than one.
const SWEEP_SLACK_PARTS: usize = 10;

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

/// A cached file and whether it was read since the last eviction sweep.
#[derive(Debug)]
struct Entry {
    cached: Cached,
    read_since_sweep: AtomicBool,
}

impl Entry {
    fn size(&self) -> usize {
        self.cached.0.bytes.len()
    }
}

/// The cache of one directory store.
///
/// Full, it evicts by second chance (CLOCK): the hand takes files in the order they
/// came in, drops those nobody read since it last passed and sends the rest round
/// again with their mark cleared, so files read once (a crawler, the ETag a publish
/// looks up) leave while files read all the time stay. Without eviction, a cache
/// filled by one-off reads would never admit a hot file again.
#[derive(Debug)]
pub(crate) struct HotFiles {
    held: RwLock<Held>,
    bytes: AtomicU64,
    writes: AtomicU64,
    budget: usize,
}

/// The cached files and the clock's ring of their keys.
#[derive(Debug, Default)]
struct Held {
    files: HashMap<String, Entry>,
    /// Keys in the order the hand meets them. A key forgotten or replaced may
    /// linger here; the hand skips it, and the ring is compacted when such keys
    /// outnumber the files.
    ring: VecDeque<String>,
}

impl Default for HotFiles {
    fn default() -> Self {
        Self::with_budget(DEFAULT_BUDGET)
    }
}

impl HotFiles {
    /// A cache holding at most `budget` bytes of file content.
    pub(crate) fn with_budget(budget: usize) -> Self {
        Self {
            held: RwLock::default(),
            bytes: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            budget,
        }
    }

    /// The file at `key`, its ETag and identity, if cached.
    pub(crate) fn get(&self, key: &str) -> Option<Cached> {
        self.held
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .files
            .get(key)
            .map(|entry| {
                // A hot file's mark is already set: reading it first spares the
                // cores' runtimes a cache line passed back and forth on every hit.
                if !entry.read_since_sweep.load(Ordering::Relaxed) {
                    entry.read_since_sweep.store(true, Ordering::Relaxed);
                }
                entry.cached.clone()
            })
    }

    /// A token to pass to [`HotFiles::keep`] for a read starting now.
    pub(crate) fn before_read(&self) -> u64 {
        self.writes.load(Ordering::Acquire)
    }

    /// Keeps what a read found, unless a write happened since `token` was taken
    /// (the bytes may be older than the file) or the file is large; makes room
    /// first when the cache is full.
    pub(crate) fn keep(
        &self,
        token: u64,
        key: &str,
        object: &IndexObject,
        etag: &str,
        identity: FileIdentity,
    ) {
        let size = object.bytes.len();
        if size > LARGEST_CACHED || size > self.budget {
            return;
        }
        let mut held = self.held.write().unwrap_or_else(|p| p.into_inner());
        if self.writes.load(Ordering::Acquire) != token {
            return;
        }
        let mut used = self.bytes.load(Ordering::Relaxed) as usize;
        if let Some(old) = held.files.remove(key) {
            used -= old.size();
        }
        if used + size > self.budget {
            used = self.sweep(&mut held, used, size);
        }
        let entry = Entry {
            cached: (object.clone(), etag.to_owned(), identity),
            read_since_sweep: AtomicBool::new(false),
        };
        held.files.insert(key.to_owned(), entry);
        held.ring.push_back(key.to_owned());
        if held.ring.len() > 2 * held.files.len() + 64 {
            held.compact_ring();
        }
        self.bytes.store((used + size) as u64, Ordering::Relaxed);
    }

    /// Moves the hand until `needed` more bytes fit with some slack to spare;
    /// returns the bytes still held. Ends: each file spared loses its mark, so the
    /// hand evicts it when it comes round again.
    fn sweep(&self, held: &mut Held, mut used: usize, needed: usize) -> usize {
        let target = (self.budget - self.budget / SWEEP_SLACK_PARTS).max(needed);
        while used + needed > target {
            let Some(key) = held.ring.pop_front() else {
                break;
            };
            let Some(entry) = held.files.get(&key) else {
                continue;
            };
            if entry.read_since_sweep.swap(false, Ordering::Relaxed) {
                held.ring.push_back(key);
            } else if let Some(gone) = held.files.remove(&key) {
                used -= gone.size();
            }
        }
        used
    }

    /// Forgets `key`, which is being written or deleted.
    pub(crate) fn forget(&self, key: &str) {
        let mut held = self.held.write().unwrap_or_else(|p| p.into_inner());
        self.writes.fetch_add(1, Ordering::AcqRel);
        if let Some(entry) = held.files.remove(key) {
            self.bytes.fetch_sub(entry.size() as u64, Ordering::Relaxed);
        }
    }

    /// Forgets everything (the directory was swapped for another).
    pub(crate) fn forget_all(&self) {
        let mut held = self.held.write().unwrap_or_else(|p| p.into_inner());
        self.writes.fetch_add(1, Ordering::AcqRel);
        held.files.clear();
        held.ring.clear();
        self.bytes.store(0, Ordering::Relaxed);
    }
}

impl Held {
    /// Drops the ring's keys of files no longer held, and repeats of a key.
    fn compact_ring(&mut self) {
        let mut seen = HashSet::with_capacity(self.files.len());
        let files = &self.files;
        self.ring
            .retain(|key| files.contains_key(key) && seen.insert(key.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: usize = 1024;

    fn object() -> IndexObject {
        IndexObject {
            bytes: bytes::Bytes::from(vec![b'x'; FILE]),
            content_type: "application/json".to_owned(),
            cache_control: "no-cache".to_owned(),
            status: 200,
        }
    }

    fn identity(inode: u64) -> FileIdentity {
        FileIdentity {
            device: 1,
            inode,
            len: FILE as u64,
            modified: None,
        }
    }

    fn read_into(cache: &HotFiles, key: &str, inode: u64) {
        if cache.get(key).is_none() {
            let token = cache.before_read();
            cache.keep(token, key, &object(), "etag", identity(inode));
        }
    }

    #[test]
    fn a_cache_full_of_files_read_once_still_admits_and_keeps_a_hot_file() {
        let cache = HotFiles::with_budget(10 * FILE);
        for n in 0..10 {
            read_into(&cache, &format!("once/{n}"), n);
        }
        // Full of one-off reads; a file read often arrives afterwards.
        for n in 10..200 {
            read_into(&cache, "hot", 0);
            read_into(&cache, &format!("once/{n}"), n);
            let held = cache.bytes.load(Ordering::Relaxed) as usize;
            assert!(held <= 10 * FILE, "over budget: {held} bytes");
        }
        assert!(cache.get("hot").is_some(), "the hot file is cached");
        assert!(
            cache.get("once/10").is_none(),
            "an early one-off read was evicted"
        );
    }

    #[test]
    fn the_ring_stays_bounded_when_a_file_is_rewritten_and_read_again() {
        let cache = HotFiles::with_budget(10 * FILE);
        for n in 0..1_000 {
            read_into(&cache, "busy", n);
            cache.forget("busy");
        }
        let ring = cache.held.read().unwrap().ring.len();
        assert!(ring <= 2 + 64, "{ring} keys in the ring");
    }

    #[test]
    fn the_byte_count_matches_what_is_held() {
        let cache = HotFiles::with_budget(10 * FILE);
        for n in 0..50 {
            read_into(&cache, &format!("f/{}", n % 13), n);
            read_into(&cache, &format!("f/{}", n % 13), n);
        }
        cache.forget("f/3");
        let held: usize = cache
            .held
            .read()
            .unwrap()
            .files
            .values()
            .map(Entry::size)
            .sum();
        assert_eq!(cache.bytes.load(Ordering::Relaxed) as usize, held);
    }
}
