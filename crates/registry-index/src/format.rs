//! The documented structs of every index file. Each carries `format_version`, so a
//! reader can refuse a layout it does not know (like the sparse index's `v`).
//!
//! Files are written as canonical JSON ([`crate::canonical`]): the same content
//! always gives the same bytes. Details files are exactly the API's
//! [`registry_core::registry::PluginDetails`] bodies and are not wrapped.

use std::collections::BTreeMap;

use registry_core::api::Problem;
use registry_core::error::PROBLEM_CONTENT_TYPE;
use registry_core::search::SearchHit;
use registry_core::timestamp::Timestamp;
use serde::{Deserialize, Serialize};

/// The layout version of every file described here. Version 2 lists each
/// version's files in a [`VersionBin`] (version 1 listed them in their plugin's
/// bin), so a server finding a version 1 index rebuilds it.
pub const FORMAT_VERSION: u32 = 2;
/// Signature scheme of the snapshot chain.
pub const SIGNATURE_ALGORITHM: &str = "ed25519";

/// `config.json`: how a client finds everything else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexConfig {
    /// Layout version ([`FORMAT_VERSION`]).
    pub format_version: u32,
    /// Base URL of the API (publish, search, keys).
    pub api_url: String,
    /// Template of a plugin's details URL; `{slug}` is replaced.
    pub details_url: String,
    /// Template of one version's details URL; `{slug}` and `{version}` are replaced.
    pub version_url: String,
    /// Template of a schema download; `{slug}` and `{version}` are replaced.
    pub download_url: String,
    /// Template of a bundle download; `{slug}` and `{version}` are replaced.
    pub bundle_url: String,
    /// The search endpoint (dynamic; not a static file).
    pub search_url: String,
    /// Where the signed timestamp, the root of the snapshot chain, is.
    pub timestamp_url: String,
    /// Whether every read needs an API key with the `read` scope.
    pub auth_required: bool,
    /// The key that signs the snapshot chain.
    pub index_public_key: PublicKeyInfo,
    /// On a public registry, the fingerprint of the code that rendered the web
    /// catalog's pages (a server with other templates rebuilds them); `null` where
    /// the index has no pages.
    #[serde(default)]
    pub pages: Option<String>,
    /// Trusted publishing: the audience a CI job requests its OIDC token for, and
    /// where it exchanges it for a publish token; `null` from an older index.
    #[serde(default)]
    pub trusted_publishing: Option<TrustedPublishingInfo>,
}

/// How a CI job publishes without a stored secret, as `config.json` says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustedPublishingInfo {
    /// The `aud` the CI token must carry: the registry's public URL.
    pub audience: String,
    /// `POST` the token here (`{"token": "…"}`) for a publish token.
    pub exchange_url: String,
}

/// A public key, as published in `config.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKeyInfo {
    /// Always [`SIGNATURE_ALGORITHM`].
    pub algorithm: String,
    /// Lowercase hex SHA-256 of the raw public key: how signatures name their key.
    pub key_id: String,
    /// The raw 32-byte Ed25519 public key, lowercase hex.
    pub public_key: String,
}

/// `search/{shard}.json`: the search entries of one shard's plugins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchShard {
    /// Layout version ([`FORMAT_VERSION`]).
    pub format_version: u32,
    /// The shard's three-hex-digit name.
    pub shard: String,
    /// One entry per plugin with a live version, by slug.
    pub plugins: Vec<SearchHit>,
}

/// `snapshot/{shard}.json` (signed): the hash of every file in one bin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bin {
    /// Layout version ([`FORMAT_VERSION`]).
    pub format_version: u32,
    /// The bin's three-hex-digit name.
    pub bin: String,
    /// Path inside the index to the lowercase hex SHA-256 of the file's bytes.
    pub files: BTreeMap<String, String>,
}

/// `snapshot/plugins/{slug}/{group}.json`: the hash of every file of one group of
/// a plugin's versions. Not signed: the plugin's signed bin lists its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionBin {
    /// Layout version ([`FORMAT_VERSION`]).
    pub format_version: u32,
    /// The plugin's slug.
    pub plugin: String,
    /// The group's name ([`crate::path::VersionGroup`]).
    pub group: String,
    /// Path inside the index to the lowercase hex SHA-256 of the file's bytes.
    pub files: BTreeMap<String, String>,
}

/// `snapshot.json` (signed): the hash of every bin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Layout version ([`FORMAT_VERSION`]).
    pub format_version: u32,
    /// Bin name to the lowercase hex SHA-256 of the signed bin file.
    pub bins: BTreeMap<String, String>,
}

/// `timestamp.json` (signed): the current snapshot, valid for a short time so a
/// replayed old index is detected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimestampDocument {
    /// Layout version ([`FORMAT_VERSION`]).
    pub format_version: u32,
    /// Lowercase hex SHA-256 of `snapshot.json`.
    pub snapshot_sha256: String,
    /// When this was signed.
    pub issued_at: Timestamp,
    /// After this instant clients must refuse the index as stale.
    pub expires_at: Timestamp,
}

/// A signed file: the payload and signatures over its canonical JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signed<T> {
    /// The signed payload.
    pub signed: T,
    /// Signatures over the canonical JSON bytes of `signed`.
    pub signatures: Vec<KeySignature>,
}

/// One signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySignature {
    /// The signing key's id ([`PublicKeyInfo::key_id`]).
    pub key_id: String,
    /// The 64-byte Ed25519 signature, lowercase hex.
    pub sig: String,
}

/// HTTP status of an unpublished version's paths.
pub const GONE_STATUS: u16 = 410;
/// Media type of an unpublished version's paths: a problem document.
pub const GONE_CONTENT_TYPE: &str = PROBLEM_CONTENT_TYPE;

/// What an unpublished version's paths hold: the same problem the API answers
/// with, served with status 410.
pub fn unpublished_problem(slug: &str, version: &str) -> Problem {
    Problem::new(
        GONE_STATUS,
        "Gone",
        "version_unpublished",
        format!("{slug}@{version} was unpublished and is gone"),
    )
}
