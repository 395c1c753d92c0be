//! The change journal: what the static index has yet to show.
//!
//! Every catalog write that changes what a plugin's index files say appends the
//! plugin to the journal in the same transaction as the write, so a committed
//! change is never forgotten, whatever crashes after it. The index builder drains
//! the journal: it renders and writes each plugin's files, advances the signed
//! chain, and only then marks the entries applied; at start it drains what a crash
//! left. Several nodes sharing one catalog share its journal the same way.

use async_trait::async_trait;

use super::StorageError;
use crate::slug::Slug;

/// One change the index has yet to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    /// Position in the journal: later changes have larger numbers.
    pub seq: u64,
    /// The plugin whose index files are out of date.
    pub slug: Slug,
}

/// The journal's reading side (the catalog's writes append to it).
#[async_trait]
pub trait ChangeJournal: Send + Sync {
    /// The oldest entries not yet marked applied, in order, at most `limit`.
    async fn pending_changes(&self, limit: usize) -> Result<Vec<JournalEntry>, StorageError>;

    /// Marks these entries applied; marking one already applied (or unknown) is a
    /// no-op, so a drain repeated after a crash is harmless.
    async fn mark_applied(&self, seqs: &[u64]) -> Result<(), StorageError>;
}
