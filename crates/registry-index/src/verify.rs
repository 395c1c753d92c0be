//! Checking the signed snapshot chain, as a client does: the timestamp is signed
//! and unexpired, it names the snapshot's hash, the snapshot (signed) names each
//! bin's hash, and each bin (signed) names every file's hash; a plugin's version
//! files are named in its version bins, whose hashes its bin names.

use registry_core::checksum::Sha256Digest;
use registry_core::store::StorageError;
use registry_core::timestamp::Timestamp;

use crate::format::{Bin, Snapshot, TimestampDocument, VersionBin};
use crate::path::{IndexPath, Listing, Shard};
use crate::signing::{IndexPublicKey, SigningError};
use crate::store::{Fetched, IndexStore, get_path};

/// Why the index failed verification.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// A file the chain names is not there.
    #[error("{0} is missing")]
    Missing(String),
    /// A file's bytes do not hash to what the chain says.
    #[error("{path} does not match its signed hash")]
    HashMismatch {
        /// The file.
        path: String,
    },
    /// A signed file's signature does not verify.
    #[error("{path} is not validly signed")]
    Signature {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: SigningError,
    },
    /// The timestamp has expired: the index may be a replay of an old one.
    #[error("the index timestamp expired at {expires_at}; the index is stale")]
    Expired {
        /// When it expired.
        expires_at: Timestamp,
    },
    /// The file is not listed where a client looks for it.
    #[error("{0} is not in the signed index")]
    NotListed(String),
    /// A list whose hash the chain vouches for is not a list.
    #[error("{0} is not a version bin")]
    Unreadable(String),
    /// Reading failed.
    #[error("reading the index failed")]
    Storage(#[from] StorageError),
}

/// What verification vouched for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedIndex {
    /// The verified timestamp.
    pub timestamp: TimestampDocument,
    /// How many files were checked against their hashes.
    pub files_checked: usize,
}

async fn read(store: &dyn IndexStore, path: &IndexPath) -> Result<Vec<u8>, VerifyError> {
    match get_path(store, path, None).await? {
        Fetched::Found { object, .. } => Ok(object.bytes.to_vec()),
        _ => Err(VerifyError::Missing(path.relative())),
    }
}

fn check_hash(path: &IndexPath, bytes: &[u8], expected: &str) -> Result<(), VerifyError> {
    if Sha256Digest::of(bytes).to_hex() == expected {
        Ok(())
    } else {
        Err(VerifyError::HashMismatch {
            path: path.relative(),
        })
    }
}

fn verified<T: serde::de::DeserializeOwned>(
    key: &IndexPublicKey,
    path: &IndexPath,
    bytes: &[u8],
) -> Result<T, VerifyError> {
    key.verify(bytes).map_err(|source| VerifyError::Signature {
        path: path.relative(),
        source,
    })
}

async fn verified_snapshot(
    store: &dyn IndexStore,
    key: &IndexPublicKey,
    now: Timestamp,
) -> Result<(TimestampDocument, Snapshot), VerifyError> {
    let timestamp: TimestampDocument = verified(
        key,
        &IndexPath::Timestamp,
        &read(store, &IndexPath::Timestamp).await?,
    )?;
    if timestamp.expires_at <= now {
        return Err(VerifyError::Expired {
            expires_at: timestamp.expires_at,
        });
    }
    let snapshot_bytes = read(store, &IndexPath::Snapshot).await?;
    check_hash(
        &IndexPath::Snapshot,
        &snapshot_bytes,
        &timestamp.snapshot_sha256,
    )?;
    let snapshot = verified(key, &IndexPath::Snapshot, &snapshot_bytes)?;
    Ok((timestamp, snapshot))
}

async fn verified_bin(
    store: &dyn IndexStore,
    key: &IndexPublicKey,
    snapshot: &Snapshot,
    shard_name: &str,
    path: &IndexPath,
) -> Result<Bin, VerifyError> {
    let bin_sha = snapshot
        .bins
        .get(shard_name)
        .ok_or_else(|| VerifyError::NotListed(path.relative()))?;
    let bin_bytes = read(store, path).await?;
    check_hash(path, &bin_bytes, bin_sha)?;
    verified(key, path, &bin_bytes)
}

/// Verifies one file through the chain: what a client does before trusting it.
pub async fn verify_file(
    store: &dyn IndexStore,
    key: &IndexPublicKey,
    now: Timestamp,
    path: &IndexPath,
    bytes: &[u8],
) -> Result<TimestampDocument, VerifyError> {
    let (timestamp, snapshot) = verified_snapshot(store, key, now).await?;
    let not_listed = || VerifyError::NotListed(path.relative());
    let listing = path.listing().ok_or_else(not_listed)?;
    let shard = match &listing {
        Listing::Bin(shard) => *shard,
        Listing::VersionBin(slug, _) => Shard::of(slug),
    };
    let bin_path = IndexPath::Bin(shard);
    let bin = verified_bin(store, key, &snapshot, &shard.to_string(), &bin_path).await?;
    let files = match &listing {
        Listing::Bin(_) => bin.files,
        Listing::VersionBin(..) => {
            let list_path = listing.path();
            let list_sha = bin
                .files
                .get(&list_path.relative())
                .ok_or_else(not_listed)?;
            version_bin(store, &list_path, list_sha).await?.files
        }
    };
    let expected = files.get(&path.relative()).ok_or_else(not_listed)?;
    check_hash(path, bytes, expected)?;
    Ok(timestamp)
}

/// A version bin, checked against the hash its plugin's bin lists.
async fn version_bin(
    store: &dyn IndexStore,
    path: &IndexPath,
    sha: &str,
) -> Result<VersionBin, VerifyError> {
    let bytes = read(store, path).await?;
    check_hash(path, &bytes, sha)?;
    // Its hash is signed, so unreadable bytes are the signer's fault.
    serde_json::from_slice(&bytes).map_err(|_| VerifyError::Unreadable(path.relative()))
}

/// Verifies the whole chain and every file it names, each listed where a client
/// looks for it.
pub async fn verify_index(
    store: &dyn IndexStore,
    key: &IndexPublicKey,
    now: Timestamp,
) -> Result<VerifiedIndex, VerifyError> {
    let (timestamp, snapshot) = verified_snapshot(store, key, now).await?;
    let mut files_checked = 0;
    for name in snapshot.bins.keys() {
        let shard = Shard::parse(name)
            .ok_or_else(|| VerifyError::NotListed(format!("snapshot/{name}.json")))?;
        let bin_path = IndexPath::Bin(shard);
        let bin = verified_bin(store, key, &snapshot, name, &bin_path).await?;
        for (relative, sha) in &bin.files {
            let path = listed_path(relative, &Listing::Bin(shard))?;
            if let IndexPath::VersionBin(slug, group) = &path {
                let list = version_bin(store, &path, sha).await?;
                let listing = Listing::VersionBin(slug.clone(), *group);
                for (relative, sha) in &list.files {
                    let path = listed_path(relative, &listing)?;
                    check_hash(&path, &read(store, &path).await?, sha)?;
                    files_checked += 1;
                }
            } else {
                check_hash(&path, &read(store, &path).await?, sha)?;
            }
            files_checked += 1;
        }
    }
    Ok(VerifiedIndex {
        timestamp,
        files_checked,
    })
}

/// The path `relative` names, if it is listed where it belongs (`listing`).
fn listed_path(relative: &str, listing: &Listing) -> Result<IndexPath, VerifyError> {
    IndexPath::parse(relative)
        .filter(|path| path.listing().as_ref() == Some(listing))
        .ok_or_else(|| VerifyError::NotListed(relative.to_owned()))
}
