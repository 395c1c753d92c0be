//! The embedded artifact store: one file per artifact under a directory.

use std::io::{ErrorKind, Write};
use std::path::{Component, Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;

use super::{ArtifactStore, PutOutcome, StorageError};
use crate::artifact::ArtifactKey;

/// Artifacts as files under `root`, written atomically (temporary file, then a hard
/// link that fails if the name exists, so a reader never sees a partial artifact and
/// an artifact is never overwritten).
#[derive(Debug, Clone)]
pub struct FileArtifactStore {
    root: PathBuf,
}

impl FileArtifactStore {
    /// A store rooted at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Where `key` lives on disk. Keys are built by [`ArtifactKey`]'s typed
    /// constructors, but a stored key is still checked so it cannot leave the root.
    pub fn path_of(&self, key: &ArtifactKey) -> Result<PathBuf, StorageError> {
        let relative = Path::new(key.as_str());
        if relative
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
        {
            return Err(StorageError::Corrupt(format!(
                "artifact key {key} is not a relative path"
            )));
        }
        Ok(self.root.join(relative))
    }
}

impl FileArtifactStore {
    /// Writes `bytes` under `key`, replacing whatever is there (atomically: a
    /// temporary file renamed over it). Only for repairing a local copy that failed
    /// its checksum, with bytes that passed it; everything else goes through
    /// [`ArtifactStore::put_if_absent`].
    pub async fn restore(&self, key: &ArtifactKey, bytes: Bytes) -> Result<(), StorageError> {
        let path = self.path_of(key)?;
        tokio::task::spawn_blocking(move || {
            let dir = path
                .parent()
                .ok_or_else(|| StorageError::Corrupt("artifact key has no parent".to_owned()))?;
            super::owner_only::create_dir_all(dir).map_err(io_error)?;
            let (tmp, mut file) = tempfile_in(dir)?;
            let written = file
                .write_all(&bytes)
                .and_then(|()| file.sync_all())
                .and_then(|()| std::fs::rename(&tmp, &path));
            if written.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            written.map_err(io_error)
        })
        .await
        .map_err(|e| StorageError::Backend(Box::new(e)))?
    }
}

fn io_error(e: std::io::Error) -> StorageError {
    StorageError::Backend(Box::new(e))
}

#[async_trait]
impl ArtifactStore for FileArtifactStore {
    async fn put_if_absent(
        &self,
        key: &ArtifactKey,
        bytes: Bytes,
        _content_type: &str,
    ) -> Result<PutOutcome, StorageError> {
        let path = self.path_of(key)?;
        tokio::task::spawn_blocking(move || {
            if path.exists() {
                return Ok(PutOutcome::AlreadyExisted);
            }
            let dir = path
                .parent()
                .ok_or_else(|| StorageError::Corrupt("artifact key has no parent".to_owned()))?;
            super::owner_only::create_dir_all(dir).map_err(io_error)?;
            let mut tmp = tempfile_in(dir)?;
            tmp.1.write_all(&bytes).map_err(io_error)?;
            tmp.1.sync_all().map_err(io_error)?;
            let outcome = match std::fs::hard_link(&tmp.0, &path) {
                Ok(()) => Ok(PutOutcome::Created),
                Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(PutOutcome::AlreadyExisted),
                Err(e) => Err(io_error(e)),
            };
            let _ = std::fs::remove_file(&tmp.0);
            outcome
        })
        .await
        .map_err(|e| StorageError::Backend(Box::new(e)))?
    }

    async fn get(&self, key: &ArtifactKey) -> Result<Option<Bytes>, StorageError> {
        Ok(self
            .get_many(std::slice::from_ref(key))
            .await?
            .pop()
            .flatten())
    }

    async fn get_many(&self, keys: &[ArtifactKey]) -> Result<Vec<Option<Bytes>>, StorageError> {
        let paths = keys
            .iter()
            .map(|key| self.path_of(key))
            .collect::<Result<Vec<_>, _>>()?;
        // One trip to the blocking pool for all of them: small files read faster
        // than a thread hand-off.
        tokio::task::spawn_blocking(move || {
            paths
                .iter()
                .map(|path| match std::fs::read(path) {
                    Ok(bytes) => Ok(Some(Bytes::from(bytes))),
                    Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(io_error(e)),
                })
                .collect()
        })
        .await
        .map_err(|e| StorageError::Backend(Box::new(e)))?
    }
}

fn tempfile_in(dir: &Path) -> Result<(PathBuf, std::fs::File), StorageError> {
    for _ in 0..16 {
        let mut suffix = [0u8; 8];
        getrandom::fill(&mut suffix).map_err(|e| StorageError::Backend(Box::new(e)))?;
        let path = dir.join(format!(".tmp-{}", hex::encode(suffix)));
        match super::owner_only::file_options()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(file) => return Ok((path, file)),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io_error(e)),
        }
    }
    Err(StorageError::Backend(
        "could not create a temporary file".into(),
    ))
}
