//! The signed chain: the snapshot names every bin's hash, the timestamp the
//! snapshot's; both are signed, and renewed before they expire.

use std::collections::BTreeMap;

use registry_core::store::{Conflict, StorageError};

use crate::canonical::to_canonical_json;
use crate::format::{FORMAT_VERSION, Signed, Snapshot, TimestampDocument};
use crate::path::{IndexPath, JSON_CONTENT_TYPE, Shard};
use crate::store::{Fetched, WriteCondition, get_path, object_at, put_path};

use super::{CAS_ATTEMPTS, ChangeReport, Current, IndexBuilder, IndexError, format_error};

impl IndexBuilder {
    /// Records new bin hashes in the snapshot, then re-signs the timestamp.
    pub(super) async fn update_snapshot(
        &self,
        bins: &BTreeMap<Shard, String>,
        report: &mut ChangeReport,
    ) -> Result<(), IndexError> {
        for _ in 0..CAS_ATTEMPTS {
            let current: Current<Signed<Snapshot>> = self.read_json(&IndexPath::Snapshot).await?;
            let mut snapshot = current.value.map(|s| s.signed).unwrap_or(Snapshot {
                format_version: FORMAT_VERSION,
                bins: BTreeMap::new(),
            });
            for (shard, sha) in bins {
                snapshot.bins.insert(shard.to_string(), sha.clone());
            }
            match self
                .write_signed(
                    &IndexPath::Snapshot,
                    snapshot,
                    WriteCondition::unchanged_since(current.etag.as_deref()),
                    report,
                )
                .await
            {
                Ok(()) => return self.update_timestamp(report, false).await,
                Err(IndexError::Storage(StorageError::Conflict(Conflict::RevisionChanged))) => {
                    continue;
                }
                Err(e) => return Err(e),
            }
        }
        Err(IndexError::Contended(IndexPath::Snapshot.relative()))
    }
    pub(super) async fn write_signed<T: serde::Serialize>(
        &self,
        path: &IndexPath,
        payload: T,
        condition: WriteCondition,
        report: &mut ChangeReport,
    ) -> Result<(), IndexError> {
        let bytes =
            to_canonical_json(&self.key.sign(payload)?).map_err(|e| format_error(path, e))?;
        let size = bytes.len();
        put_path(
            self.index.as_ref(),
            path,
            &object_at(path, bytes, JSON_CONTENT_TYPE, 200),
            &condition,
        )
        .await?;
        report.wrote(path, size);
        Ok(())
    }
    /// Signs a timestamp naming the current snapshot, unless the current timestamp
    /// already names it (and `renew` is off).
    pub(super) async fn update_timestamp(
        &self,
        report: &mut ChangeReport,
        renew: bool,
    ) -> Result<(), IndexError> {
        for _ in 0..CAS_ATTEMPTS {
            let snapshot_sha =
                match get_path(self.index.as_ref(), &IndexPath::Snapshot, None).await? {
                    Fetched::Found { object, .. } => {
                        registry_core::checksum::Sha256Digest::of(&object.bytes).to_hex()
                    }
                    _ => return Ok(()),
                };
            let current: Current<Signed<TimestampDocument>> =
                self.read_json(&IndexPath::Timestamp).await?;
            if !renew
                && current
                    .value
                    .as_ref()
                    .is_some_and(|t| t.signed.snapshot_sha256 == snapshot_sha)
            {
                return Ok(());
            }
            let now = self.clock.now();
            let doc = TimestampDocument {
                format_version: FORMAT_VERSION,
                snapshot_sha256: snapshot_sha,
                issued_at: now,
                expires_at: now.plus(self.settings.timestamp_lifetime),
            };
            match self
                .write_signed(
                    &IndexPath::Timestamp,
                    doc,
                    WriteCondition::unchanged_since(current.etag.as_deref()),
                    report,
                )
                .await
            {
                Ok(()) => return Ok(()),
                Err(IndexError::Storage(StorageError::Conflict(Conflict::RevisionChanged))) => {
                    continue;
                }
                Err(e) => return Err(e),
            }
        }
        Err(IndexError::Contended(IndexPath::Timestamp.relative()))
    }
    /// Re-signs the timestamp with a fresh expiry (the scheduled job), so readers
    /// can tell a live index from a replayed one.
    pub async fn renew_timestamp(&self) -> Result<ChangeReport, IndexError> {
        let mut report = ChangeReport::default();
        self.update_timestamp(&mut report, true).await?;
        Ok(report)
    }
    /// Renews the timestamp when less than half its lifetime is left (or there is
    /// none while a snapshot exists); says whether it did.
    pub async fn renew_timestamp_if_due(&self) -> Result<bool, IndexError> {
        let current: Current<Signed<TimestampDocument>> =
            self.read_json(&IndexPath::Timestamp).await?;
        let half = self.settings.timestamp_lifetime / 2;
        let due = current
            .value
            .is_none_or(|t| t.signed.expires_at.since(self.clock.now()) < half);
        if due {
            self.update_timestamp(&mut ChangeReport::default(), true)
                .await?;
        }
        Ok(due)
    }
}
