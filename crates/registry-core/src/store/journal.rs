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
use crate::version::PluginVersion;

/// One change the index has yet to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    /// Position in the journal: later changes have larger numbers.
    pub seq: u64,
    /// The plugin whose index files are out of date.
    pub slug: Slug,
    /// Which of its files the change can have made out of date.
    pub scope: ChangeScope,
}

/// Which of a plugin's index files a catalog write can have changed, so the index
/// renders those again and not every version the plugin ever had.
///
/// An older version's files depend only on its own record and on whether it is
/// the latest version; what moves with the plugin (its version list, downloads,
/// healthy instances) is on the latest version's files alone. So a change to one
/// version can change that version's files, the latest version's and the former
/// latest's, and no others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeScope {
    /// Anything about the plugin: every one of its files.
    Plugin,
    /// Only what moves with the plugin: the latest version's files.
    Latest,
    /// One version's record (published, deprecated, unpublished, quarantined).
    Version(PluginVersion),
}

impl ChangeScope {
    /// The scope as a journal stores it: `plugin`, `latest` or `version:{version}`.
    pub fn to_stored(&self) -> String {
        match self {
            Self::Plugin => "plugin".to_owned(),
            Self::Latest => "latest".to_owned(),
            Self::Version(version) => format!("version:{version}"),
        }
    }

    /// The scope a journal stored. Anything this build did not write reads as
    /// [`ChangeScope::Plugin`]: rendering every file is never wrong, only slower.
    pub fn from_stored(raw: &str) -> Self {
        match raw.split_once(':') {
            None if raw == "latest" => Self::Latest,
            Some(("version", version)) => PluginVersion::parse(version)
                .map(Self::Version)
                .unwrap_or(Self::Plugin),
            _ => Self::Plugin,
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_round_trip_and_anything_unknown_means_the_whole_plugin() {
        let version = PluginVersion::parse("1.2.3-rc.1").unwrap();
        for scope in [
            ChangeScope::Plugin,
            ChangeScope::Latest,
            ChangeScope::Version(version),
        ] {
            assert_eq!(ChangeScope::from_stored(&scope.to_stored()), scope);
        }
        for unknown in [
            "",
            "version:",
            "version:not-semver",
            "versions:1.0.0",
            "LATEST",
        ] {
            assert_eq!(
                ChangeScope::from_stored(unknown),
                ChangeScope::Plugin,
                "{unknown:?}"
            );
        }
    }
}
