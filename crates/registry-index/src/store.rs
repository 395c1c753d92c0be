//! The port index files are written to and read from, and its directory adapter
//! (the local server's `DATA/index/`, and `index-builder rebuild --out`). The S3
//! adapter lives in `registry-aws`.
//!
//! Shared files (search shards, bins, the snapshot, the timestamp) are rewritten
//! read-modify-write, so puts can be conditional on the ETag that was read:
//! concurrent builders then retry instead of losing each other's changes.

use std::collections::HashMap;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use registry_core::store::{BackendError, Conflict, StorageError, owner_only};
use serde::{Deserialize, Serialize};

use crate::hot::{FileIdentity, HotFiles};
use crate::path::IndexPath;

pub use registry_core::store::{
    Fetched, IndexGeneration, IndexObject, IndexStore, WriteCondition, content_etag,
};

/// The cache policy of a file at `path` served with `status`: the kind's when
/// present, short otherwise (an unpublished version's answer).
pub fn cache_control_of(path: &IndexPath, status: u16) -> &'static str {
    if status == 200 {
        path.kind().cache_control()
    } else {
        registry_core::artifact::SHORT_CACHE_CONTROL
    }
}

/// The object for a file at `path`, with the cache policy its kind and status give.
pub fn object_at(
    path: &IndexPath,
    bytes: impl Into<Bytes>,
    content_type: &str,
    status: u16,
) -> IndexObject {
    IndexObject {
        bytes: bytes.into(),
        content_type: content_type.to_owned(),
        cache_control: cache_control_of(path, status).to_owned(),
        status,
    }
}

/// Reads the file at `path` (typed form of [`IndexStore::get`]).
pub async fn get_path(
    store: &dyn IndexStore,
    path: &IndexPath,
    if_none_match: Option<&str>,
) -> Result<Fetched, StorageError> {
    store.get(&path.relative(), if_none_match).await
}

/// Reads the file at `path` without caching it (typed form of
/// [`IndexStore::get_uncached`]).
pub async fn get_path_uncached(
    store: &dyn IndexStore,
    path: &IndexPath,
    if_none_match: Option<&str>,
) -> Result<Fetched, StorageError> {
    store.get_uncached(&path.relative(), if_none_match).await
}

/// Writes the file at `path` (typed form of [`IndexStore::put`]).
pub async fn put_path(
    store: &dyn IndexStore,
    path: &IndexPath,
    object: &IndexObject,
    condition: &WriteCondition,
) -> Result<String, StorageError> {
    store.put(&path.relative(), object, condition).await
}

/// Deletes the file at `path` (typed form of [`IndexStore::delete`]).
pub async fn delete_path(store: &dyn IndexStore, path: &IndexPath) -> Result<(), StorageError> {
    store.delete(&path.relative()).await
}

/// Metadata kept beside a file whose media type or status is not its kind's
/// default (a JSON schema document, an unpublished version's answer). It names the
/// ETag of the bytes it describes, so a put with default metadata need not remove
/// it: a sidecar left from other bytes is ignored.
#[derive(Debug, Serialize, Deserialize)]
struct Sidecar {
    content_type: String,
    status: u16,
    etag: String,
}

const SIDECAR_SUFFIX: &str = ".meta";

/// Index files in a directory, one file per path, written atomically (a temporary
/// file renamed into place), so a reader never sees half a file.
#[derive(Debug)]
pub struct FileIndexStore {
    root: PathBuf,
    conditional: tokio::sync::Mutex<()>,
    /// Files recently read, served without touching the disk.
    hot: Arc<HotFiles>,
    /// How files reach the disk: through a temporary name while readers may look,
    /// straight into place in a generation no reader sees until it is swapped in.
    placement: Placement,
}

/// Whether a read from disk is kept in the store's cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Admission {
    /// Kept: a client's read, likely to come again.
    Keep,
    /// Not kept: the reader holds its own copy or is about to replace the file.
    Skip,
}

/// How a store puts a file's bytes at its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placement {
    /// A temporary file renamed over the path, so a reader never sees half a file.
    Atomic,
    /// Written at the path itself: nobody reads the directory yet, and a crash
    /// leaves a generation the next rebuild removes unseen. Saves a rename per file,
    /// a quarter of a rebuild's time in the kernel.
    InPlace,
}

impl FileIndexStore {
    /// Files under `root`, keeping up to `budget` bytes of recently read files in
    /// memory (0: none).
    pub fn with_cache_budget(root: impl Into<PathBuf>, budget: usize) -> Self {
        Self {
            hot: Arc::new(HotFiles::with_budget(budget)),
            ..Self::new(root)
        }
    }

    /// Files under `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            conditional: tokio::sync::Mutex::new(()),
            hot: Arc::default(),
            placement: Placement::Atomic,
        }
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn file_of(&self, path: &IndexPath) -> PathBuf {
        self.root.join(path.relative())
    }

    /// Reads the file at `key`, from the cache while the file is the very copy
    /// cached; `admission` says whether a copy read from disk is cached.
    async fn read(
        &self,
        key: &str,
        if_none_match: Option<&str>,
        admission: Admission,
    ) -> Result<Fetched, StorageError> {
        let path = &parse_key(key)?;
        let file = self.file_of(path);
        // A cached copy counts only while the file is the very inode it was read
        // from: one `stat`, so a file replaced behind this store's back (another
        // process writing the directory) is read afresh.
        let cached = self.hot.get(key).filter(|(_, _, identity)| {
            std::fs::metadata(&file).is_ok_and(|m| FileIdentity::of(&m) == *identity)
        });
        let found = match cached {
            Some((object, etag, _)) => Some((object, etag)),
            None => {
                let owned = path.clone();
                let token = self.hot.before_read();
                let found = blocking(move || read_file_and_identity(&file, &owned)).await?;
                found.map(|(object, etag, identity)| {
                    if admission == Admission::Keep {
                        self.hot.keep(token, key, &object, &etag, identity);
                    }
                    (object, etag)
                })
            }
        };
        Ok(match found {
            None => Fetched::Missing,
            Some((_, etag)) if if_none_match == Some(etag.as_str()) => Fetched::NotModified,
            Some((object, etag)) => Fetched::Found { object, etag },
        })
    }
}

fn parse_key(key: &str) -> Result<IndexPath, StorageError> {
    IndexPath::parse(key).ok_or_else(|| StorageError::Corrupt(format!("not an index path: {key}")))
}

/// `dir/.name.meta`: a leading dot, so no sidecar can ever be an index path
/// (slugs and versions never start with one).
fn sidecar_of(file: &Path) -> PathBuf {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    file.with_file_name(format!(".{name}{SIDECAR_SUFFIX}"))
}

fn backend(error: std::io::Error) -> StorageError {
    StorageError::Backend(Box::new(error) as BackendError)
}

fn read_file(file: &Path, path: &IndexPath) -> Result<Option<(IndexObject, String)>, StorageError> {
    Ok(read_file_and_identity(file, path)?.map(|(object, etag, _)| (object, etag)))
}

/// The file, its ETag, and the identity of the inode read (for the read cache).
fn read_file_and_identity(
    file: &Path,
    path: &IndexPath,
) -> Result<Option<(IndexObject, String, FileIdentity)>, StorageError> {
    let (bytes, identity) = match std::fs::File::open(file) {
        Ok(mut opened) => {
            let identity = FileIdentity::of(&opened.metadata().map_err(backend)?);
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut opened, &mut bytes).map_err(backend)?;
            (bytes, identity)
        }
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(backend(e)),
    };
    let etag = content_etag(&bytes);
    let default = || (path.kind().default_content_type().to_owned(), 200);
    let (content_type, status) = match std::fs::read(sidecar_of(file)) {
        Ok(raw) => {
            let meta: Sidecar = serde_json::from_slice(&raw)
                .map_err(|e| StorageError::Corrupt(format!("{}: {e}", path.relative())))?;
            if meta.etag == etag {
                (meta.content_type, meta.status)
            } else {
                default()
            }
        }
        Err(e) if e.kind() == ErrorKind::NotFound => default(),
        Err(e) => return Err(backend(e)),
    };
    Ok(Some((
        object_at(path, bytes, &content_type, status),
        etag,
        identity,
    )))
}

fn write_file(
    file: &Path,
    path: &IndexPath,
    object: &IndexObject,
    placement: Placement,
) -> Result<(), StorageError> {
    write_sidecar(file, path, object, placement)?;
    in_parent_dir(file, || match placement {
        Placement::Atomic => write_atomically(file, &object.bytes),
        Placement::InPlace => owner_only::write(file, &object.bytes),
    })
}

/// Writes the sidecar `object` needs at `file`, if any: a media type or status
/// other than its kind's default.
fn write_sidecar(
    file: &Path,
    path: &IndexPath,
    object: &IndexObject,
    placement: Placement,
) -> Result<(), StorageError> {
    let is_default =
        object.status == 200 && object.content_type == path.kind().default_content_type();
    if is_default {
        return Ok(());
    }
    let meta = serde_json::to_vec(&Sidecar {
        content_type: object.content_type.clone(),
        status: object.status,
        etag: content_etag(&object.bytes),
    })
    .map_err(|e| StorageError::Corrupt(e.to_string()))?;
    let sidecar = sidecar_of(file);
    in_parent_dir(&sidecar, || match placement {
        Placement::Atomic => write_atomically(&sidecar, &meta),
        Placement::InPlace => owner_only::write(&sidecar, &meta),
    })
}

/// Runs `write` (which creates `file`), creating `file`'s directory when the write
/// finds it missing. Trying the write first costs nothing where the directory
/// exists (every write but a directory's first) and keeps no record of
/// directories, which would grow with every version ever published.
fn in_parent_dir(file: &Path, write: impl Fn() -> std::io::Result<()>) -> Result<(), StorageError> {
    match write() {
        Err(e) if e.kind() == ErrorKind::NotFound => {
            let dir = file.parent().ok_or_else(|| {
                StorageError::Corrupt(format!("no parent for {}", file.display()))
            })?;
            owner_only::create_dir_all(dir).map_err(backend)?;
            write().map_err(backend)
        }
        written => written.map_err(backend),
    }
}

/// Temporary names: unique per process (the counter) and across processes (the pid).
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// This process's id, asked of the kernel once rather than per file written.
fn process_id() -> u32 {
    static PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *PID.get_or_init(std::process::id)
}

fn write_atomically(file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut temp = file.as_os_str().to_owned();
    temp.push(format!(".{}-{n}.tmp", process_id()));
    let temp = PathBuf::from(temp);
    owner_only::write(&temp, bytes)?;
    std::fs::rename(&temp, file).inspect_err(|_| {
        let _ = std::fs::remove_file(&temp);
    })
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StorageError> + Send + 'static,
) -> Result<T, StorageError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StorageError::Backend(Box::new(e)))?
}

#[async_trait]
impl IndexStore for FileIndexStore {
    async fn get(&self, key: &str, if_none_match: Option<&str>) -> Result<Fetched, StorageError> {
        self.read(key, if_none_match, Admission::Keep).await
    }

    async fn get_uncached(
        &self,
        key: &str,
        if_none_match: Option<&str>,
    ) -> Result<Fetched, StorageError> {
        self.read(key, if_none_match, Admission::Skip).await
    }

    async fn check_reachable(&self) -> Result<(), StorageError> {
        match tokio::fs::metadata(&self.root).await {
            Ok(meta) if meta.is_dir() => Ok(()),
            Ok(_) => Err(StorageError::Unavailable(
                format!(
                    "the index directory {} is not a directory",
                    self.root.display()
                )
                .into(),
            )),
            Err(e) => Err(StorageError::Unavailable(
                format!(
                    "the index directory {} cannot be read: {e}",
                    self.root.display()
                )
                .into(),
            )),
        }
    }

    async fn put(
        &self,
        key: &str,
        object: &IndexObject,
        condition: &WriteCondition,
    ) -> Result<String, StorageError> {
        let path = &parse_key(key)?;
        let file = self.file_of(path);
        let etag = content_etag(&object.bytes);
        // Conditional puts are serialised within the process; the directory store
        // has one writer process (the local server or one rebuild).
        let _guard = match condition {
            WriteCondition::Always => None,
            _ => Some(self.conditional.lock().await),
        };
        let (owned_path, owned) = (path.clone(), object.clone());
        let condition = condition.clone();
        let placement = self.placement;
        self.hot.forget(key);
        blocking(move || {
            let current = match condition {
                WriteCondition::Always => None,
                _ => read_file(&file, &owned_path)?.map(|(_, etag)| etag),
            };
            let holds = match &condition {
                WriteCondition::Always => true,
                WriteCondition::IfAbsent => current.is_none(),
                WriteCondition::IfMatch(expected) => current.as_deref() == Some(expected.as_str()),
            };
            if !holds {
                return Err(StorageError::Conflict(Conflict::RevisionChanged));
            }
            write_file(&file, &owned_path, &owned, placement)
        })
        .await?;
        Ok(etag)
    }

    async fn put_all(&self, files: &[(String, IndexObject)]) -> Result<(), StorageError> {
        // One trip to the blocking pool for all of them: handing each small write to
        // a thread of its own costs more than the write.
        let jobs = files
            .iter()
            .map(|(key, object)| {
                let path = parse_key(key)?;
                Ok((self.file_of(&path), path, object.clone()))
            })
            .collect::<Result<Vec<_>, StorageError>>()?;
        let placement = self.placement;
        for (key, _) in files {
            self.hot.forget(key);
        }
        blocking(move || {
            // One buffer put at several keys (the latest version's details and page
            // are also the plugin's) is written once in a fresh generation and
            // linked at the others: half the kernel's work for those files, and
            // safe there because nothing rewrites a generation's file in place
            // (once live, a write renames a new file over the name).
            let mut first_written: HashMap<(usize, usize), &Path> = HashMap::new();
            for (file, path, object) in &jobs {
                let buffer = (object.bytes.as_ptr() as usize, object.bytes.len());
                let linkable = placement == Placement::InPlace && !object.bytes.is_empty();
                match first_written.get(&buffer).filter(|_| linkable) {
                    Some(first) => {
                        write_sidecar(file, path, object, placement)?;
                        in_parent_dir(file, || std::fs::hard_link(first, file))?;
                    }
                    None => {
                        write_file(file, path, object, placement)?;
                        if linkable {
                            first_written.insert(buffer, file);
                        }
                    }
                }
            }
            Ok(())
        })
        .await
    }

    fn fresh_generation(&self) -> Result<Option<Box<dyn IndexGeneration>>, StorageError> {
        remove_stale_generations(&self.root)?;
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = sibling(
            &self.root,
            &format!("{GENERATION_MARK}{}-{n}", process_id()),
        );
        Ok(Some(Box::new(DirectoryGeneration {
            store: Arc::new(FileIndexStore {
                placement: Placement::InPlace,
                ..FileIndexStore::new(dir)
            }),
            live: self.root.clone(),
            live_files: Arc::clone(&self.hot),
        })))
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        let path = &parse_key(key)?;
        let file = self.file_of(path);
        self.hot.forget(key);
        blocking(move || {
            for target in [sidecar_of(&file), file] {
                match std::fs::remove_file(&target) {
                    Ok(()) => {}
                    Err(e) if e.kind() == ErrorKind::NotFound => {}
                    Err(e) => return Err(backend(e)),
                }
            }
            Ok(())
        })
        .await
    }
}

/// Marks a directory as a generation being built or one swapped out: `index` is
/// built as `index.generation-…`, and the old one leaves under that name.
const GENERATION_MARK: &str = ".generation-";

/// `root` with `suffix` appended to its last component.
fn sibling(root: &Path, suffix: &str) -> PathBuf {
    let mut name = root.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Removes generations a crash left beside `root` (half-built, or swapped out and
/// not yet removed): none of them is the live index.
fn remove_stale_generations(root: &Path) -> Result<(), StorageError> {
    let (Some(parent), Some(name)) = (root.parent(), root.file_name()) else {
        return Ok(());
    };
    let prefix = format!("{}{GENERATION_MARK}", name.to_string_lossy());
    let entries = match std::fs::read_dir(if parent.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent
    }) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(backend(e)),
    };
    for entry in entries {
        let entry = entry.map_err(backend)?;
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            std::fs::remove_dir_all(entry.path()).map_err(backend)?;
        }
    }
    Ok(())
}

/// A whole index built in a sibling directory of the live one.
struct DirectoryGeneration {
    store: Arc<FileIndexStore>,
    live: PathBuf,
    /// The live store's cached files, void once swapped.
    live_files: Arc<HotFiles>,
}

#[async_trait]
impl IndexGeneration for DirectoryGeneration {
    fn store(&self) -> Arc<dyn IndexStore> {
        Arc::clone(&self.store) as Arc<dyn IndexStore>
    }

    async fn swap_in(self: Box<Self>) -> Result<(), StorageError> {
        let (built, live, live_files) = (self.store.root.clone(), self.live, self.live_files);
        blocking(move || {
            swap_directories(&built, &live).map_err(backend)?;
            live_files.forget_all();
            // `built` now holds the old index (or nothing).
            match std::fs::remove_dir_all(&built) {
                Err(e) if e.kind() != ErrorKind::NotFound => Err(backend(e)),
                _ => Ok(()),
            }
        })
        .await
    }
}

/// Puts the directory `built` at `live`, leaving the old `live` (if any) at
/// `built`. On Linux one `renameat2(RENAME_EXCHANGE)`, so a crash leaves one index
/// or the other at `live`, never none; elsewhere, or on a filesystem without it,
/// two renames, and a crash between them leaves no index, which the next start
/// rebuilds.
fn swap_directories(built: &Path, live: &Path) -> std::io::Result<()> {
    if !live.exists() {
        return std::fs::rename(built, live);
    }
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{CWD, RenameFlags, renameat_with};
        match renameat_with(CWD, built, CWD, live, RenameFlags::EXCHANGE) {
            Ok(()) => return Ok(()),
            Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS => {}
            Err(e) => return Err(e.into()),
        }
    }
    let old = sibling(built, ".old");
    std::fs::rename(live, &old)?;
    std::fs::rename(built, live)?;
    std::fs::rename(&old, built)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::path::JSON_CONTENT_TYPE;

    /// What the index builder reads to rewrite, and what search keeps parsed, is
    /// not cached: only clients' reads fill the cache.
    #[tokio::test]
    async fn uncached_reads_leave_the_cache_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileIndexStore::new(dir.path());
        let path = IndexPath::Snapshot;
        let object = object_at(&path, b"{}".to_vec(), JSON_CONTENT_TYPE, 200);
        put_path(&store, &path, &object, &WriteCondition::Always)
            .await
            .unwrap();
        let key = path.relative();
        assert!(matches!(
            get_path_uncached(&store, &path, None).await.unwrap(),
            Fetched::Found { .. }
        ));
        assert!(
            store.hot.get(&key).is_none(),
            "an uncached read kept the file"
        );
        get_path(&store, &path, None).await.unwrap();
        assert!(store.hot.get(&key).is_some(), "a client's read is cached");
        // A file already cached is still served from the cache.
        assert!(matches!(
            get_path_uncached(&store, &path, None).await.unwrap(),
            Fetched::Found { .. }
        ));
        assert!(store.hot.get(&key).is_some());
    }

    /// Reads are served from memory once warm, yet never outlive a write, whether
    /// made through the store or by another process replacing the file.
    #[tokio::test]
    async fn cached_reads_follow_every_write() {
        let dir = tempfile::tempdir().unwrap();
        let (reader, other_process) = (
            FileIndexStore::new(dir.path()),
            FileIndexStore::new(dir.path()),
        );
        let path = IndexPath::Snapshot.relative();
        let version = |n: u8| {
            object_at(
                &IndexPath::Snapshot,
                vec![b'{', n, b'}'],
                JSON_CONTENT_TYPE,
                200,
            )
        };
        async fn read(store: &FileIndexStore, path: &str) -> Option<u8> {
            match store.get(path, None).await.unwrap() {
                Fetched::Found { object, .. } => Some(object.bytes[1]),
                _ => None,
            }
        }
        reader
            .put(&path, &version(1), &WriteCondition::Always)
            .await
            .unwrap();
        assert_eq!(read(&reader, &path).await, Some(1));
        assert_eq!(read(&reader, &path).await, Some(1), "a cached read");
        reader
            .put(&path, &version(2), &WriteCondition::Always)
            .await
            .unwrap();
        assert_eq!(
            read(&reader, &path).await,
            Some(2),
            "a write through the store"
        );
        other_process
            .put(&path, &version(3), &WriteCondition::Always)
            .await
            .unwrap();
        assert_eq!(
            read(&reader, &path).await,
            Some(3),
            "a file replaced elsewhere"
        );
        other_process.delete(&path).await.unwrap();
        assert_eq!(read(&reader, &path).await, None, "a file deleted elsewhere");
    }

    /// The store keeps no list of directories it made: a directory removed behind
    /// its back (an operator pruning a plugin by hand) is made again by the next
    /// write into it, in place and in a generation alike.
    #[tokio::test]
    async fn a_write_makes_its_directory_again_when_it_was_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = IndexPath::PluginDetails(Slug::parse("dir-test").unwrap());
        let object = object_at(&path, &b"{}"[..], JSON_CONTENT_TYPE, 200);
        for store in [
            FileIndexStore::new(dir.path().join("live")),
            FileIndexStore {
                placement: Placement::InPlace,
                ..FileIndexStore::new(dir.path().join("generation"))
            },
        ] {
            let plugin_dir = store.file_of(&path).parent().unwrap().to_owned();
            for round in ["first", "after its directory was removed"] {
                store
                    .put(&path.relative(), &object, &WriteCondition::Always)
                    .await
                    .unwrap_or_else(|e| panic!("{:?}, {round}: {e}", store.placement));
                assert!(
                    matches!(
                        store.get(&path.relative(), None).await.unwrap(),
                        Fetched::Found { .. }
                    ),
                    "{:?}: written, {round}",
                    store.placement
                );
                std::fs::remove_dir_all(&plugin_dir).unwrap();
            }
        }
    }

    #[tokio::test]
    async fn a_generation_replaces_the_live_index_only_when_swapped_in() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("index");
        let live = FileIndexStore::new(&root);
        let path = IndexPath::Snapshot;
        let old = object_at(&path, &b"{\"old\":1}"[..], JSON_CONTENT_TYPE, 200);
        let new = object_at(&path, &b"{\"new\":1}"[..], JSON_CONTENT_TYPE, 200);
        live.put(&path.relative(), &old, &WriteCondition::Always)
            .await
            .unwrap();
        std::fs::write(root.join("left-over"), b"from an older layout").unwrap();

        // A generation a crash abandoned is never seen, and the next one clears it.
        let abandoned = live.fresh_generation().unwrap().unwrap();
        abandoned
            .store()
            .put(&path.relative(), &new, &WriteCondition::Always)
            .await
            .unwrap();
        drop(abandoned);
        let Fetched::Found { object, .. } = live.get(&path.relative(), None).await.unwrap() else {
            panic!("the live index lost its snapshot");
        };
        assert_eq!(object, old);

        let generation = live.fresh_generation().unwrap().unwrap();
        generation
            .store()
            .put(&path.relative(), &new, &WriteCondition::Always)
            .await
            .unwrap();
        generation.swap_in().await.unwrap();
        let Fetched::Found { object, .. } = live.get(&path.relative(), None).await.unwrap() else {
            panic!("the swapped-in index has no snapshot");
        };
        assert_eq!(object, new);
        assert!(
            !root.join("left-over").exists(),
            "nothing of the old index stays"
        );
        let siblings: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            siblings,
            ["index"],
            "no generation is left beside the index"
        );
        // Writes after the swap land in the new tree.
        let details = IndexPath::PluginDetails(Slug::parse("later").unwrap());
        live.put(&details.relative(), &new, &WriteCondition::Always)
            .await
            .unwrap();
        assert!(root.join(details.relative()).exists());
    }

    /// The latest version's page is one buffer at two paths: a fresh generation
    /// writes it once and links the second name, the live index never does, and a
    /// write after the swap changes one name only.
    #[tokio::test]
    async fn one_buffer_at_two_paths_is_one_file_in_a_generation_only() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("index");
        let live = FileIndexStore::new(&root);
        let slug = Slug::parse("linked").unwrap();
        let version = PluginVersion::parse("1.0.0").unwrap();
        let (plugin_page, version_page, gone_page) = (
            IndexPath::PluginPage(slug.clone()),
            IndexPath::VersionPage(slug.clone(), version.clone()),
            IndexPath::VersionPage(slug.clone(), PluginVersion::parse("0.9.0").unwrap()),
        );
        let page = Bytes::from_static(b"<!doctype html><p>latest</p>");
        let gone = Bytes::from_static(b"<!doctype html><p>gone</p>");
        let html = crate::path::HTML_CONTENT_TYPE;
        let batch = |page: &Bytes| {
            vec![
                (
                    version_page.relative(),
                    object_at(&version_page, page.clone(), html, 200),
                ),
                (
                    plugin_page.relative(),
                    object_at(&plugin_page, page.clone(), html, 200),
                ),
                // Equal bytes in another buffer, with a sidecar: written, not linked.
                (
                    gone_page.relative(),
                    object_at(&gone_page, gone.clone(), html, 410),
                ),
            ]
        };
        let inode = |path: &IndexPath| std::fs::metadata(root.join(path.relative())).unwrap().ino();

        live.put_all(&batch(&page)).await.unwrap();
        assert_ne!(
            inode(&plugin_page),
            inode(&version_page),
            "the live index links nothing"
        );

        let generation = live.fresh_generation().unwrap().unwrap();
        generation.store().put_all(&batch(&page)).await.unwrap();
        generation.swap_in().await.unwrap();
        assert_eq!(inode(&plugin_page), inode(&version_page));
        for path in [&plugin_page, &version_page] {
            let Fetched::Found { object, .. } = live.get(&path.relative(), None).await.unwrap()
            else {
                panic!("{path} is missing");
            };
            assert_eq!(object.bytes, page);
        }
        let Fetched::Found { object, .. } = live.get(&gone_page.relative(), None).await.unwrap()
        else {
            panic!("the unpublished page is missing");
        };
        assert_eq!((object.bytes, object.status), (gone.clone(), 410));

        // A later publish rewrites the plugin's page: its old version's stays.
        let newer = object_at(&plugin_page, &b"<p>newer</p>"[..], html, 200);
        live.put(&plugin_page.relative(), &newer, &WriteCondition::Always)
            .await
            .unwrap();
        let Fetched::Found { object, .. } = live.get(&version_page.relative(), None).await.unwrap()
        else {
            panic!("the version page went with the rewrite");
        };
        assert_eq!(object.bytes, page);
    }

    #[tokio::test]
    async fn the_directory_store_keeps_the_index_store_contract() {
        let dir = tempfile::tempdir().unwrap();
        registry_core::store::contract::index_store_contract(
            Arc::new(FileIndexStore::new(dir.path())),
            "files",
        )
        .await;
    }
    use registry_core::slug::Slug;
    use registry_core::version::PluginVersion;

    #[tokio::test]
    async fn conditional_puts_and_metadata_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileIndexStore::new(dir.path());
        let path = IndexPath::Schema(
            Slug::parse("github").unwrap(),
            PluginVersion::parse("1.0.0").unwrap(),
        );
        let key = &path.relative();
        let json = object_at(&path, &b"{}"[..], "application/json", 200);
        let etag = store
            .put(key, &json, &WriteCondition::IfAbsent)
            .await
            .unwrap();
        assert!(matches!(
            store.put(key, &json, &WriteCondition::IfAbsent).await,
            Err(StorageError::Conflict(Conflict::RevisionChanged))
        ));
        let Fetched::Found { object, etag: read } = store.get(key, None).await.unwrap() else {
            panic!("written file is missing");
        };
        assert_eq!((object, read.clone()), (json.clone(), etag.clone()));
        assert_eq!(
            store.get(key, Some(&etag)).await.unwrap(),
            Fetched::NotModified
        );

        let yaml = object_at(&path, &b"a: 1\n"[..], "application/yaml", 200);
        assert!(
            store
                .put(key, &yaml, &WriteCondition::IfMatch("\"stale\"".into()))
                .await
                .is_err()
        );
        store
            .put(key, &yaml, &WriteCondition::IfMatch(etag))
            .await
            .unwrap();
        // YAML is the schema default: the JSON sidecar no longer describes these bytes.
        let Fetched::Found { object, .. } = store.get(key, None).await.unwrap() else {
            panic!("missing");
        };
        assert_eq!(object, yaml);
        store.delete(key).await.unwrap();
        store.delete(key).await.unwrap();
        assert_eq!(store.get(key, None).await.unwrap(), Fetched::Missing);
    }
}
