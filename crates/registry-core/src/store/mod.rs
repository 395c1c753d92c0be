//! Storage ports: the narrow traits the services use, with conditional-write
//! guarantees that every adapter must give (the contract tests check them).
//!
//! - Creating something that exists fails with [`Conflict`], never overwrites.
//! - Every change to a plugin names the revision it was computed from
//!   (compare-and-set); a stale revision fails with [`Conflict::RevisionChanged`] and
//!   changes nothing.

pub mod codec;
#[cfg(feature = "contract")]
pub mod contract;
mod coordination;
mod downloads;
mod files;
mod index;
mod journal;
pub mod owner_only;
mod webhooks;

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

pub use coordination::{IndexWriterLease, NodeCoordination, SoleWriter};
pub use downloads::DownloadCounters;
pub use files::FileArtifactStore;
pub use index::{Fetched, IndexGeneration, IndexObject, IndexStore, WriteCondition, content_etag};
pub use journal::{ChangeJournal, ChangeScope, JournalEntry};
pub use webhooks::WebhookStore;

use crate::artifact::{ArtifactKey, StoredArtifact};
use crate::audit::{AuditId, AuditRecord, AuditSubject};
use std::collections::{BTreeMap, BTreeSet};

use crate::account::{
    Account, DeviceGrant, DeviceGrantState, EmailAddress, Identity, LoginAttempt, SessionRecord,
    UserCode,
};
use crate::auth::{ApiKeyRecord, KeyId, Principal, PrincipalId, SecretHash};
use crate::catalog::{CatalogPluginId, CatalogRow, CatalogScope, OrgChoice};
use crate::manifest::Manifest;
use crate::mcp_router::{DailyHealthyInstances, InstanceHealth, InstanceId, McpRouterInstance};
use crate::moderation::{PluginReport, Quarantine, ReportId, Resolution};
use crate::org::{Membership, Org, OrgId, Permission};
use crate::ownership::{OwnerInvitation, Roster, RosterEntry, RosterKey};
use crate::review::ReviewState;
use crate::slug::Slug;
use crate::timestamp::Timestamp;
use crate::trusted_publishing::{
    PublishTokenRecord, PublisherId, PublishingLock, TrustedPublisher,
};
use crate::upload::{FetchedUpload, PresignedPut, UploadKey, UploadRequest};
use crate::version::PluginVersion;
use crate::webhook::Delivery;

/// A boxed error from a storage backend, kept whole (never flattened to a string).
pub type BackendError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Which condition of a conditional write failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    /// Create-if-absent found the plugin already there.
    PluginExists,
    /// Create-if-absent found the version already there.
    VersionExists,
    /// Compare-and-set found a different revision (or no plugin).
    RevisionChanged,
    /// Create-if-absent found the key or principal already there.
    AlreadyExists,
    /// The thing to change does not exist.
    Missing,
    /// Create-if-absent found another plugin whose slug has the same skeleton
    /// ([`Slug::skeleton`]): the two are confusable.
    Confusable,
}

/// Why a storage call failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A conditional write's condition did not hold; nothing was written.
    #[error("conditional write refused: {0:?}")]
    Conflict(Conflict),
    /// The backend is overloaded or unreachable after retries; try again later.
    #[error("storage temporarily unavailable")]
    Unavailable(#[source] BackendError),
    /// The backend failed.
    #[error("storage backend failed")]
    Backend(#[source] BackendError),
    /// Stored data could not be decoded.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

/// A version's deprecation notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Deprecation {
    /// Why the version is deprecated.
    pub reason: String,
    /// The version to use instead.
    #[schema(value_type = Option<String>)]
    pub replacement_version: Option<PluginVersion>,
    /// When it was deprecated.
    #[schema(value_type = String)]
    pub deprecated_at: Timestamp,
}

/// One published version, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionRecord {
    /// The version.
    pub version: PluginVersion,
    /// The validated manifest.
    pub manifest: Manifest,
    /// The schema document exactly as published.
    pub schema: StoredArtifact,
    /// The bundle, when the version was published as one.
    pub bundle: Option<StoredArtifact>,
    /// When it was published.
    pub published_at: Timestamp,
    /// Who published it.
    pub published_by: PrincipalId,
    /// Its deprecation notice, if deprecated.
    pub deprecated: Option<Deprecation>,
    /// When it was unpublished; the row stays so the version string is never reused.
    pub unpublished_at: Option<Timestamp>,
    /// Why it is hidden, while an admin keeps it in quarantine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quarantined: Option<Quarantine>,
    /// Its review, while it waits for one or after it was rejected; `None` once
    /// approved (or where none was required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<ReviewState>,
}

impl VersionRecord {
    /// The fields a [`VersionChange`] may change.
    pub fn lifecycle(&mut self) -> VersionLifecycle<'_> {
        VersionLifecycle {
            published_at: &mut self.published_at,
            deprecated: &mut self.deprecated,
            unpublished_at: &mut self.unpublished_at,
            quarantined: &mut self.quarantined,
            review: &mut self.review,
        }
    }
}

/// A version's lifecycle fields, borrowed from a record or a summary.
#[derive(Debug)]
pub struct VersionLifecycle<'a> {
    /// When it was published (for a reviewed version: approved).
    pub published_at: &'a mut Timestamp,
    /// Its deprecation notice.
    pub deprecated: &'a mut Option<Deprecation>,
    /// When it was unpublished.
    pub unpublished_at: &'a mut Option<Timestamp>,
    /// Its quarantine.
    pub quarantined: &'a mut Option<Quarantine>,
    /// Its review.
    pub review: &'a mut Option<ReviewState>,
}

/// The short form of a version, as listed with its plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionSummary {
    /// The version.
    pub version: PluginVersion,
    /// When it was published.
    pub published_at: Timestamp,
    /// Its deprecation notice, if any.
    pub deprecated: Option<Deprecation>,
    /// When it was unpublished, if it was.
    pub unpublished_at: Option<Timestamp>,
    /// Why it is hidden, while in quarantine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quarantined: Option<Quarantine>,
    /// Its review, while pending or after a rejection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<ReviewState>,
}

impl VersionSummary {
    /// The summary of a full record.
    pub fn of(record: &VersionRecord) -> Self {
        Self {
            version: record.version.clone(),
            published_at: record.published_at,
            deprecated: record.deprecated.clone(),
            unpublished_at: record.unpublished_at,
            quarantined: record.quarantined.clone(),
            review: record.review.clone(),
        }
    }

    /// The fields a [`VersionChange`] may change.
    pub fn lifecycle(&mut self) -> VersionLifecycle<'_> {
        VersionLifecycle {
            published_at: &mut self.published_at,
            deprecated: &mut self.deprecated,
            unpublished_at: &mut self.unpublished_at,
            quarantined: &mut self.quarantined,
            review: &mut self.review,
        }
    }
}

/// What search and listings show of a plugin: its latest version's metadata,
/// kept on the plugin row so listing needs one read per plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatestSummary {
    /// The latest version, chosen by [`crate::registry::latest_version`].
    pub version: PluginVersion,
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// Its author.
    pub author: String,
    /// Its tags.
    pub tags: Vec<String>,
}

impl LatestSummary {
    /// The summary of a version record.
    pub fn of(record: &VersionRecord) -> Self {
        Self {
            version: record.version.clone(),
            name: record.manifest.name.clone(),
            description: record.manifest.description.clone(),
            author: record.manifest.author.clone(),
            tags: record.manifest.tags.clone(),
        }
    }
}

/// A plugin's own row, without its versions: what a publish checks, so that
/// its reads do not grow with the plugin's history.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginHead {
    /// The slug.
    pub slug: Slug,
    /// The principal that first published it.
    pub owner: PrincipalId,
    /// When its first version was published.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
    /// Downloads as of the last roll-up.
    pub downloads: u64,
    /// Router instances in the routing table (see [`PluginRecord::healthy_instances`]).
    pub healthy_instances: u64,
    /// Compare-and-set revision, bumped by every change.
    pub revision: u64,
    /// Latest-version metadata; `None` once every version is unpublished.
    pub latest: Option<LatestSummary>,
    /// Why the whole plugin is hidden, while an admin keeps it in quarantine.
    pub quarantined: Option<Quarantine>,
}

impl PluginHead {
    /// The plugin with these versions.
    pub fn with_versions(self, versions: Vec<VersionSummary>) -> PluginRecord {
        let Self {
            slug,
            owner,
            created_at,
            updated_at,
            downloads,
            healthy_instances,
            revision,
            latest,
            quarantined,
        } = self;
        PluginRecord {
            slug,
            owner,
            created_at,
            updated_at,
            downloads,
            healthy_instances,
            revision,
            latest,
            versions,
            quarantined,
        }
    }
}

/// A plugin with the state of all its versions.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginRecord {
    /// The slug.
    pub slug: Slug,
    /// The principal that first published it.
    pub owner: PrincipalId,
    /// When its first version was published.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
    /// Downloads as of the last roll-up.
    pub downloads: u64,
    /// Router instances in the routing table (registered and not removed by the
    /// health checker); kept by the [`McpRouterStore`] with every change to the table.
    pub healthy_instances: u64,
    /// Compare-and-set revision, bumped by every change.
    pub revision: u64,
    /// Latest-version metadata; `None` once every version is unpublished.
    pub latest: Option<LatestSummary>,
    /// Every version ever published, unpublished ones included, in no set order.
    pub versions: Vec<VersionSummary>,
    /// Why the whole plugin is hidden, while an admin keeps it in quarantine.
    pub quarantined: Option<Quarantine>,
}

impl PluginRecord {
    /// The plugin's own row, without its versions.
    pub fn head(&self) -> PluginHead {
        PluginHead {
            slug: self.slug.clone(),
            owner: self.owner.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
            downloads: self.downloads,
            healthy_instances: self.healthy_instances,
            revision: self.revision,
            latest: self.latest.clone(),
            quarantined: self.quarantined.clone(),
        }
    }
}

/// A plugin as listed for search: no per-version detail.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginListing {
    /// The slug.
    pub slug: Slug,
    /// When its first version was published.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
    /// Downloads as of the last roll-up.
    pub downloads: u64,
    /// Latest-version metadata; `None` when nothing is published.
    pub latest: Option<LatestSummary>,
}

/// A change to one version's lifecycle state.
#[derive(Debug, Clone, PartialEq)]
pub enum VersionChange {
    /// Set (or replace) the deprecation notice.
    Deprecate(Deprecation),
    /// Mark unpublished at this instant.
    Unpublish(Timestamp),
    /// Put in quarantine (`Some`), or lift it (`None`).
    Quarantine(Option<Quarantine>),
    /// Approve a version under review at this instant, which becomes its
    /// publication time (the unpublish window starts then).
    Approve(Timestamp),
    /// Reject a version under review.
    Reject(ReviewState),
    /// Replace the checks a pending version waits for (a run started again,
    /// an answer recorded).
    Checks(Vec<crate::review::CheckRun>),
}

impl VersionChange {
    /// Applies the change to a version's lifecycle fields (of a record or a summary).
    pub fn apply(&self, fields: VersionLifecycle<'_>) {
        match self {
            Self::Deprecate(notice) => *fields.deprecated = Some(notice.clone()),
            Self::Unpublish(at) => *fields.unpublished_at = Some(*at),
            Self::Quarantine(state) => fields.quarantined.clone_from(state),
            Self::Approve(at) => {
                *fields.review = None;
                *fields.published_at = *at;
            }
            Self::Reject(state) => *fields.review = Some(state.clone()),
            Self::Checks(runs) => {
                if let Some(ReviewState::Pending { checks, .. }) = fields.review {
                    checks.clone_from(runs);
                }
            }
        }
    }
}

/// The plugin catalog: plugins, versions and (through [`DownloadCounters`]) their
/// download counters.
#[async_trait]
pub trait CatalogStore: DownloadCounters {
    /// A plugin and the state of its versions.
    async fn plugin(&self, slug: &Slug) -> Result<Option<PluginRecord>, StorageError>;

    /// A plugin's own row without its versions: one read however long its
    /// history. Stores override this; the default reads every version.
    async fn plugin_head(&self, slug: &Slug) -> Result<Option<PluginHead>, StorageError> {
        Ok(self.plugin(slug).await?.map(|plugin| plugin.head()))
    }

    /// The highest version of a plugin not unpublished (quarantined ones count):
    /// what an update must exceed. Stores that can find it without reading every
    /// version's state override this.
    async fn highest_live_version(
        &self,
        slug: &Slug,
    ) -> Result<Option<PluginVersion>, StorageError> {
        Ok(self
            .plugin(slug)
            .await?
            .and_then(|plugin| crate::registry::highest_live_version(&plugin.versions).cloned()))
    }

    /// Versions waiting for a reviewer, the longest waiting first, at most
    /// `limit` (each record names its plugin in its manifest).
    async fn versions_pending_review(
        &self,
        limit: usize,
    ) -> Result<Vec<VersionRecord>, StorageError>;

    /// Puts the whole plugin in quarantine (`Some`) or lifts it (`None`), if its
    /// revision is still `expected_revision` ([`Conflict::RevisionChanged`]
    /// otherwise); bumps the revision and `updated_at`, so the index rebuilds.
    async fn set_plugin_quarantine(
        &self,
        slug: &Slug,
        expected_revision: u64,
        quarantine: Option<&Quarantine>,
        at: Timestamp,
    ) -> Result<(), StorageError>;

    /// A plugin and every version record in full, unpublished ones included (what
    /// the index builder renders). Stores that read both at once override this.
    async fn plugin_with_versions(
        &self,
        slug: &Slug,
    ) -> Result<Option<(PluginRecord, Vec<VersionRecord>)>, StorageError> {
        let Some(plugin) = self.plugin(slug).await? else {
            return Ok(None);
        };
        let mut records = Vec::with_capacity(plugin.versions.len());
        for summary in &plugin.versions {
            let record = self.version(slug, &summary.version).await?.ok_or_else(|| {
                StorageError::Corrupt(format!(
                    "{slug}@{} is listed but has no record",
                    summary.version
                ))
            })?;
            records.push(record);
        }
        Ok(Some((plugin, records)))
    }

    /// Up to `limit` plugins after `after`, in slug order, each with every version
    /// record: one page of a full index rebuild. Stores that read a page at once
    /// override this.
    async fn plugins_with_versions_page(
        &self,
        after: Option<&Slug>,
        limit: usize,
    ) -> Result<Vec<(PluginRecord, Vec<VersionRecord>)>, StorageError> {
        use futures_util::{StreamExt, TryStreamExt};
        let listings = self.list_plugins(after, limit).await?;
        let found: Vec<Option<_>> = futures_util::stream::iter(listings)
            .map(|listing| async move { self.plugin_with_versions(&listing.slug).await })
            .buffered(PAGE_READS_IN_FLIGHT)
            .try_collect()
            .await?;
        Ok(found.into_iter().flatten().collect())
    }

    /// Up to `limit` of a plugin's version records, unpublished ones included, after
    /// the version `after` in an order of the store's choosing that stays the same
    /// from call to call: how the index builder reads a plugin with many versions a
    /// page at a time. A plugin with no such version, or none at all, gives none.
    async fn version_records_page(
        &self,
        slug: &Slug,
        after: Option<&PluginVersion>,
        limit: usize,
    ) -> Result<Vec<VersionRecord>, StorageError> {
        let Some(plugin) = self.plugin(slug).await? else {
            return Ok(Vec::new());
        };
        let mut versions: Vec<PluginVersion> =
            plugin.versions.into_iter().map(|v| v.version).collect();
        versions.sort();
        let mut records = Vec::new();
        for version in versions
            .iter()
            .filter(|v| after.is_none_or(|after| *v > after))
            .take(limit)
        {
            records.extend(self.version(slug, version).await?);
        }
        Ok(records)
    }

    /// One version in full.
    async fn version(
        &self,
        slug: &Slug,
        version: &PluginVersion,
    ) -> Result<Option<VersionRecord>, StorageError>;

    /// The slug holding `skeleton` ([`Slug::skeleton`]), if a plugin does.
    async fn slug_with_skeleton(&self, skeleton: &str) -> Result<Option<Slug>, StorageError>;

    /// Creates a plugin with its first version, and claims its slug's skeleton.
    /// Fails with [`Conflict::PluginExists`] if the slug exists, or
    /// [`Conflict::Confusable`] if another slug holds its skeleton, writing nothing.
    /// `told` are the change's webhook deliveries (see [`WebhookStore`]), written
    /// in the same transaction.
    async fn create_plugin(
        &self,
        slug: &Slug,
        owner: &PrincipalId,
        first: &VersionRecord,
        latest: Option<&LatestSummary>,
        told: &[Delivery],
    ) -> Result<(), StorageError>;

    /// Adds a version to a plugin at `expected_revision`. Fails with
    /// [`Conflict::VersionExists`] if the version was ever published, or
    /// [`Conflict::RevisionChanged`] if the plugin moved on; writes nothing then.
    /// `told` as for [`Self::create_plugin`].
    async fn add_version(
        &self,
        slug: &Slug,
        expected_revision: u64,
        record: &VersionRecord,
        latest: Option<&LatestSummary>,
        told: &[Delivery],
    ) -> Result<(), StorageError>;

    /// Changes one version's lifecycle state and the plugin's latest summary, at
    /// `expected_revision` ([`Conflict::RevisionChanged`] otherwise;
    /// [`Conflict::Missing`] if the version does not exist).
    /// `told` as for [`Self::create_plugin`].
    #[expect(
        clippy::too_many_arguments,
        reason = "one compare-and-set write: each argument is part of the one change"
    )]
    async fn change_version(
        &self,
        slug: &Slug,
        expected_revision: u64,
        version: &PluginVersion,
        change: &VersionChange,
        latest: Option<&LatestSummary>,
        at: Timestamp,
        told: &[Delivery],
    ) -> Result<(), StorageError>;

    /// A number that changes whenever any listing could have changed, so readers
    /// can cache listings and revalidate cheaply.
    async fn catalog_revision(&self) -> Result<u64, StorageError>;

    /// Plugins in slug order after `after`, at most `limit` of them (a page).
    async fn list_plugins(
        &self,
        after: Option<&Slug>,
        limit: usize,
    ) -> Result<Vec<PluginListing>, StorageError>;
}

/// Principals and their API keys.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// Creates a principal ([`Conflict::AlreadyExists`] if the id is taken).
    async fn create_principal(&self, principal: &Principal) -> Result<(), StorageError>;

    /// A principal by id.
    async fn principal(&self, id: &PrincipalId) -> Result<Option<Principal>, StorageError>;

    /// Stores a key ([`Conflict::AlreadyExists`] if its id or hash is taken).
    async fn insert_key(&self, key: &ApiKeyRecord) -> Result<(), StorageError>;

    /// The key stored under `hash`, revoked or not.
    async fn key_by_hash(&self, hash: &SecretHash) -> Result<Option<ApiKeyRecord>, StorageError>;

    /// A key by id.
    async fn key(&self, id: &KeyId) -> Result<Option<ApiKeyRecord>, StorageError>;

    /// Keys of one principal, or of all when `None`, oldest first.
    async fn list_keys(
        &self,
        principal: Option<&PrincipalId>,
    ) -> Result<Vec<ApiKeyRecord>, StorageError>;

    /// Revokes a key that is not yet revoked ([`Conflict::Missing`] if there is no
    /// such live key).
    async fn revoke_key(&self, id: &KeyId, at: Timestamp) -> Result<(), StorageError>;

    /// Records that the key with `hash` was used `at`, unless its last recorded
    /// use is already `since` or later (then nothing is written, and that is no
    /// error): a key is written at most once per period however busy it is.
    async fn record_key_use(
        &self,
        hash: &SecretHash,
        at: Timestamp,
        since: Timestamp,
    ) -> Result<(), StorageError>;

    /// Whether any key exists at all (first-start bootstrap).
    async fn any_key_exists(&self) -> Result<bool, StorageError>;
}

/// People's accounts, their browser sessions and sign-ins in progress.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// The account linked to `identity`.
    async fn account(&self, identity: &Identity) -> Result<Option<Account>, StorageError>;

    /// Creates `account` and its new user `principal` together, so neither exists
    /// without the other ([`Conflict::AlreadyExists`] if the identity is linked,
    /// and then nothing is written).
    async fn create_account(
        &self,
        account: &Account,
        principal: &Principal,
    ) -> Result<(), StorageError>;

    /// Records a sign-in: the login name and verified e-mail address the
    /// provider gives now (no address: the stored one is forgotten), and when.
    async fn record_sign_in(
        &self,
        identity: &Identity,
        login: &str,
        email: Option<&EmailAddress>,
        at: Timestamp,
    ) -> Result<(), StorageError>;

    /// The account whose user principal is `principal`, if it has one.
    async fn account_of(&self, principal: &PrincipalId) -> Result<Option<Account>, StorageError>;

    /// Unlinks the account of `principal` from its identity, so the next sign-in
    /// with that identity makes a new account; returns whether there was one.
    async fn delete_account_of(&self, principal: &PrincipalId) -> Result<bool, StorageError>;

    /// Stores a session ([`Conflict::AlreadyExists`] if its hash is taken).
    async fn insert_session(&self, session: &SessionRecord) -> Result<(), StorageError>;

    /// The session stored under `hash`, expired or not (expired ones may linger
    /// until the store's own clean-up removes them).
    async fn session(&self, hash: &SecretHash) -> Result<Option<SessionRecord>, StorageError>;

    /// Ends one session (no error if it is already gone).
    async fn delete_session(&self, hash: &SecretHash) -> Result<(), StorageError>;

    /// Ends every session of `principal`; returns how many there were.
    async fn delete_sessions_of(&self, principal: &PrincipalId) -> Result<usize, StorageError>;

    /// Stores a sign-in attempt ([`Conflict::AlreadyExists`] if its hash is taken).
    async fn insert_login_attempt(&self, attempt: &LoginAttempt) -> Result<(), StorageError>;

    /// Removes and returns the attempt under `hash`: of two callbacks racing with
    /// one attempt, exactly one gets it.
    async fn take_login_attempt(
        &self,
        hash: &SecretHash,
    ) -> Result<Option<LoginAttempt>, StorageError>;

    /// Stores a device sign-in ([`Conflict::AlreadyExists`] if its hash or its
    /// user code is taken, and then nothing is written).
    async fn insert_device_grant(&self, grant: &DeviceGrant) -> Result<(), StorageError>;

    /// The device sign-in whose device code hashes to `hash`.
    async fn device_grant(&self, hash: &SecretHash) -> Result<Option<DeviceGrant>, StorageError>;

    /// The device sign-in with `code`.
    async fn device_grant_by_user_code(
        &self,
        code: &UserCode,
    ) -> Result<Option<DeviceGrant>, StorageError>;

    /// Moves a device sign-in from a state named `from` (see
    /// [`DeviceGrantState::as_str`]) to `to` ([`Conflict::Missing`] if it is not
    /// in that state: of two racing changes, one wins).
    async fn change_device_grant(
        &self,
        hash: &SecretHash,
        from: &DeviceGrantState,
        to: &DeviceGrantState,
    ) -> Result<(), StorageError>;

    /// Records a poll `at`, unless the last one was `since` or later; returns
    /// whether it was recorded (`false`: the device polls too fast).
    async fn record_device_poll(
        &self,
        hash: &SecretHash,
        at: Timestamp,
        since: Timestamp,
    ) -> Result<bool, StorageError>;
}

/// Plugin owners, team members and invitations to own a plugin.
#[async_trait]
pub trait OwnershipStore: Send + Sync {
    /// A roster; empty at revision 0 when it was never written.
    async fn roster(&self, key: &RosterKey) -> Result<Roster, StorageError>;

    /// Replaces a roster's entries, at `expected_revision` (0: create it), and
    /// keeps the index [`OwnershipStore::rosters_of`] reads in the same write.
    /// [`Conflict::RevisionChanged`] if the roster moved on, and then nothing is
    /// written.
    async fn replace_roster(
        &self,
        key: &RosterKey,
        expected_revision: u64,
        entries: &[RosterEntry],
    ) -> Result<(), StorageError>;

    /// Every roster `principal` is on, with its entry, in roster order.
    async fn rosters_of(
        &self,
        principal: &PrincipalId,
    ) -> Result<Vec<(RosterKey, RosterEntry)>, StorageError>;

    /// Stores an invitation ([`Conflict::AlreadyExists`] if one to that
    /// principal for that plugin is stored, lapsed or not).
    async fn insert_invitation(&self, invitation: &OwnerInvitation) -> Result<(), StorageError>;

    /// The invitation of `invitee` to own `slug`, lapsed or not.
    async fn invitation(
        &self,
        slug: &Slug,
        invitee: &PrincipalId,
    ) -> Result<Option<OwnerInvitation>, StorageError>;

    /// A plugin's invitations, lapsed ones included, in invitee order.
    async fn invitations_of_plugin(
        &self,
        slug: &Slug,
    ) -> Result<Vec<OwnerInvitation>, StorageError>;

    /// The invitations to `invitee`, lapsed ones included, in slug order.
    async fn invitations_for(
        &self,
        invitee: &PrincipalId,
    ) -> Result<Vec<OwnerInvitation>, StorageError>;

    /// Removes an invitation; returns whether this call removed it (of two
    /// racing removals, one does).
    async fn delete_invitation(
        &self,
        slug: &Slug,
        invitee: &PrincipalId,
    ) -> Result<bool, StorageError>;
}

/// The marks of rate limits ([`crate::rate_limit`]): one number per principal
/// and action, changed by compare-and-set.
#[async_trait]
pub trait RateLimitStore: Send + Sync {
    /// The mark stored under `key` (seconds since the epoch).
    async fn rate_mark(&self, key: &str) -> Result<Option<i64>, StorageError>;

    /// Sets `key`'s mark to `to` if it is still `from` (`None`: no mark);
    /// [`Conflict::RevisionChanged`] otherwise, and nothing is written. A store
    /// may forget a mark once `to` has passed: no mark then means the same.
    async fn swap_rate_mark(
        &self,
        key: &str,
        from: Option<i64>,
        to: i64,
    ) -> Result<(), StorageError>;
}

/// The audit log ([`crate::audit`]): records are appended, never changed or
/// removed.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends `record` ([`Conflict::AlreadyExists`] if its id is taken).
    async fn append_audit(&self, record: &AuditRecord) -> Result<(), StorageError>;

    /// At most `limit` records, newest first, older than `before` when given:
    /// those about `subject`, or every record when `subject` is `None`.
    async fn audit_records(
        &self,
        subject: Option<&AuditSubject>,
        before: Option<&AuditId>,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StorageError>;
}

/// Reports of plugins to the admins ([`crate::moderation`]).
#[async_trait]
pub trait ReportStore: Send + Sync {
    /// Stores a new report ([`Conflict::AlreadyExists`] if its id is taken).
    async fn insert_report(&self, report: &PluginReport) -> Result<(), StorageError>;

    /// A report by id.
    async fn report(&self, id: &ReportId) -> Result<Option<PluginReport>, StorageError>;

    /// At most `limit` reports, newest first: the open ones, or every one.
    async fn reports(
        &self,
        open_only: bool,
        limit: usize,
    ) -> Result<Vec<PluginReport>, StorageError>;

    /// Closes an open report with `resolution`; [`Conflict::Missing`] if there
    /// is no such report or it was already closed, and nothing is written.
    async fn resolve_report(
        &self,
        id: &ReportId,
        resolution: &Resolution,
    ) -> Result<(), StorageError>;
}

/// Trusted publishers and the publish tokens exchanged for CI tokens
/// ([`crate::trusted_publishing`]).
#[async_trait]
pub trait TrustedPublishingStore: Send + Sync {
    /// Stores a new publisher ([`Conflict::AlreadyExists`] if its id is taken).
    async fn insert_publisher(&self, publisher: &TrustedPublisher) -> Result<(), StorageError>;

    /// Every publisher of `slug`, pending or not, oldest first.
    async fn publishers_of(&self, slug: &Slug) -> Result<Vec<TrustedPublisher>, StorageError>;

    /// Every publisher whose CI identity has `lookup_key`
    /// ([`crate::trusted_publishing::CiIdentity::lookup_key`]), of any plugin.
    async fn publishers_for_ci(
        &self,
        lookup_key: &str,
    ) -> Result<Vec<TrustedPublisher>, StorageError>;

    /// Replaces a stored publisher (activating a pending one); [`Conflict::Missing`]
    /// if it is gone.
    async fn replace_publisher(&self, publisher: &TrustedPublisher) -> Result<(), StorageError>;

    /// Removes a publisher of `slug`; [`Conflict::Missing`] if there is none.
    async fn remove_publisher(&self, slug: &Slug, id: &PublisherId) -> Result<(), StorageError>;

    /// Stores a publish token, claiming its CI token's `(issuer, jti)` in the same
    /// write: [`Conflict::AlreadyExists`] if that pair was claimed before (a
    /// replayed CI token), and nothing is written. Records past their
    /// `retain_until` may be dropped.
    async fn insert_publish_token(&self, token: &PublishTokenRecord) -> Result<(), StorageError>;

    /// A publish token by the hash of its secret.
    async fn publish_token(
        &self,
        hash: &SecretHash,
    ) -> Result<Option<PublishTokenRecord>, StorageError>;

    /// Whether `slug` is locked to trusted publishing, and by whom.
    async fn publishing_lock(&self, slug: &Slug) -> Result<Option<PublishingLock>, StorageError>;

    /// Locks `slug` to trusted publishing (`Some`) or lifts the lock (`None`);
    /// setting what is already set is no error.
    async fn set_publishing_lock(
        &self,
        slug: &Slug,
        lock: Option<&PublishingLock>,
    ) -> Result<(), StorageError>;
}

/// Organisations, their members, and the permissions principals hold.
#[async_trait]
pub trait OrgStore: Send + Sync {
    /// Creates an org ([`Conflict::AlreadyExists`] if the id is taken).
    async fn create_org(&self, org: &Org) -> Result<(), StorageError>;

    /// An org by id.
    async fn org(&self, id: &OrgId) -> Result<Option<Org>, StorageError>;

    /// Every org, in id order.
    async fn list_orgs(&self) -> Result<Vec<Org>, StorageError>;

    /// Sets whether uploads to an org's catalog wait for a reviewer, and which
    /// skip the wait; [`Conflict::Missing`] if there is no such org.
    async fn set_org_review_policy(
        &self,
        org: &OrgId,
        required: bool,
        auto_approve: &crate::review::AutoApproval,
    ) -> Result<(), StorageError>;

    /// Adds a member; adding one already there changes nothing and succeeds.
    async fn add_member(&self, membership: &Membership) -> Result<(), StorageError>;

    /// Removes a member ([`Conflict::Missing`] if it is not one).
    async fn remove_member(&self, org: &OrgId, principal: &PrincipalId)
    -> Result<(), StorageError>;

    /// Whether `principal` belongs to `org`.
    async fn is_member(&self, org: &OrgId, principal: &PrincipalId) -> Result<bool, StorageError>;

    /// An org's members, in principal order.
    async fn members(&self, org: &OrgId) -> Result<Vec<Membership>, StorageError>;

    /// The orgs `principal` belongs to, in id order.
    async fn orgs_of(&self, principal: &PrincipalId) -> Result<Vec<Org>, StorageError>;

    /// Grants a permission; granting one already held succeeds.
    async fn grant_permission(
        &self,
        principal: &PrincipalId,
        permission: Permission,
    ) -> Result<(), StorageError>;

    /// Revokes a permission ([`Conflict::Missing`] if it is not held).
    async fn revoke_permission(
        &self,
        principal: &PrincipalId,
        permission: Permission,
    ) -> Result<(), StorageError>;

    /// The permissions a principal holds.
    async fn permissions(
        &self,
        principal: &PrincipalId,
    ) -> Result<BTreeSet<Permission>, StorageError>;
}

/// The org-scoped catalog: rows (one pid at one version in one scope) and each
/// org's enablement of system rows.
#[async_trait]
pub trait OrgCatalogStore: Send + Sync {
    /// Stores a new row. Fails with [`Conflict::AlreadyExists`] if the id is taken,
    /// else with [`Conflict::VersionExists`] if its scope already has that pid at
    /// that version; writes nothing then. `told` are the upload's webhook
    /// deliveries, written in the same transaction.
    async fn insert_row(&self, row: &CatalogRow, told: &[Delivery]) -> Result<(), StorageError>;

    /// A row by id.
    async fn row(&self, id: &CatalogPluginId) -> Result<Option<CatalogRow>, StorageError>;

    /// The row of `pid` at `version` in `scope`.
    async fn row_by_version(
        &self,
        scope: &CatalogScope,
        pid: &Slug,
        version: &PluginVersion,
    ) -> Result<Option<CatalogRow>, StorageError>;

    /// Every row of a scope, ordered by pid then version (lowest first).
    async fn rows(&self, scope: &CatalogScope) -> Result<Vec<CatalogRow>, StorageError>;

    /// Enables or disables a row in its own scope ([`Conflict::Missing`] if absent).
    async fn set_enabled(
        &self,
        id: &CatalogPluginId,
        enabled: bool,
        at: Timestamp,
    ) -> Result<(), StorageError>;

    /// Decides a row waiting for review: `None` approves it, a rejection keeps
    /// it hidden; either way `updated_at` becomes `at`. [`Conflict::Missing`] if
    /// there is no such row, [`Conflict::RevisionChanged`] if it is not waiting
    /// (decided already); nothing is written then. `told` as for
    /// [`Self::insert_row`].
    async fn decide_row_review(
        &self,
        id: &CatalogPluginId,
        decision: Option<&ReviewState>,
        at: Timestamp,
        told: &[Delivery],
    ) -> Result<(), StorageError>;

    /// Which system rows an org has enabled or disabled for itself.
    async fn org_enablements(
        &self,
        org: &OrgId,
    ) -> Result<BTreeMap<CatalogPluginId, OrgChoice>, StorageError>;

    /// Records an org's choice for one system row.
    async fn set_org_enablement(
        &self,
        org: &OrgId,
        id: &CatalogPluginId,
        enabled: bool,
        at: Timestamp,
    ) -> Result<(), StorageError>;
}

/// The MCP router's table: registered instances and their health. Every change
/// that adds or removes an instance also moves its plugin's `healthy_instances` by
/// one, in the same atomic write, so the count always equals the table.
#[async_trait]
pub trait McpRouterStore: Send + Sync {
    /// Adds an instance. Fails with [`Conflict::AlreadyExists`] if its id is taken
    /// in its plugin, or [`Conflict::Missing`] if the plugin does not exist; writes
    /// nothing then.
    async fn insert_instance(&self, instance: &McpRouterInstance) -> Result<(), StorageError>;

    /// Replaces the instance registered as `expected_registration` (a
    /// re-registration that changes it). [`Conflict::RevisionChanged`] if it was
    /// re-registered or removed since.
    async fn replace_instance(
        &self,
        instance: &McpRouterInstance,
        expected_registration: &str,
    ) -> Result<(), StorageError>;

    /// One instance.
    async fn instance(
        &self,
        slug: &Slug,
        id: &InstanceId,
    ) -> Result<Option<McpRouterInstance>, StorageError>;

    /// A plugin's instances, in id order.
    async fn instances(&self, slug: &Slug) -> Result<Vec<McpRouterInstance>, StorageError>;

    /// Every instance of every plugin (one health pass), in slug then id order.
    async fn all_instances(&self) -> Result<Vec<McpRouterInstance>, StorageError>;

    /// Stores a check's result on the instance registered as `registration`;
    /// [`Conflict::Missing`] if it was removed or re-registered since.
    async fn record_check(
        &self,
        slug: &Slug,
        id: &InstanceId,
        registration: &str,
        health: &InstanceHealth,
    ) -> Result<(), StorageError>;

    /// Removes an instance (only the registration `registration`, when given);
    /// [`Conflict::Missing`] if there is no such instance. `told` are the
    /// removal's webhook deliveries, written in the same transaction.
    async fn remove_instance(
        &self,
        slug: &Slug,
        id: &InstanceId,
        registration: Option<&str>,
        told: &[Delivery],
    ) -> Result<(), StorageError>;

    /// Folds one health pass's healthy-instance count of each plugin into its day
    /// (the day's lowest and highest). Days before `retention` may be dropped.
    async fn record_healthy_instances(
        &self,
        day: time::Date,
        counts: &[(Slug, u32)],
        retention: crate::downloads::Retention,
    ) -> Result<(), StorageError>;

    /// A plugin's days from `from` to `to`, both included, in day order; days
    /// without a pass are left out.
    async fn healthy_instance_history(
        &self,
        slug: &Slug,
        from: time::Date,
        to: time::Date,
    ) -> Result<Vec<DailyHealthyInstances>, StorageError>;
}

/// Plugins read at once by the default [`CatalogStore::plugins_with_versions_page`].
const PAGE_READS_IN_FLIGHT: usize = 32;

/// Artifacts read at once by the default [`ArtifactStore::get_many`].
const ARTIFACT_READS_IN_FLIGHT: usize = 32;

/// A CDN in front of the static index that can be told to forget paths.
#[async_trait]
pub trait CdnInvalidator: Send + Sync {
    /// Asks the CDN to drop its copies of `paths` (URL paths, `*` allowed last).
    async fn invalidate(&self, paths: &[String]) -> Result<(), BackendError>;
}

/// Whether a create-if-absent write created the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    /// The object was written.
    Created,
    /// The object was already there (content-addressed, so identical); nothing written.
    AlreadyExisted,
}

/// Immutable, content-addressed artifact storage.
#[async_trait]
pub trait ArtifactStore: Send + Sync {
    /// Writes `bytes` under `key` unless something is already there.
    async fn put_if_absent(
        &self,
        key: &ArtifactKey,
        bytes: Bytes,
        content_type: &str,
    ) -> Result<PutOutcome, StorageError>;

    /// The bytes under `key`.
    async fn get(&self, key: &ArtifactKey) -> Result<Option<Bytes>, StorageError>;

    /// Several artifacts' bytes, in the order asked (`None` for each missing one),
    /// [`ARTIFACT_READS_IN_FLIGHT`] at a time. Stores that read many at once
    /// cheaper override this.
    async fn get_many(&self, keys: &[ArtifactKey]) -> Result<Vec<Option<Bytes>>, StorageError> {
        use futures_util::{StreamExt, TryStreamExt};
        // Collected first: a closure inside the stream trips the compiler's
        // higher-ranked lifetime check under `async_trait`.
        let reads: Vec<_> = keys.iter().map(|key| self.get(key)).collect();
        futures_util::stream::iter(reads)
            .buffered(ARTIFACT_READS_IN_FLIGHT)
            .try_collect()
            .await
    }
}

/// The quarantine area that clients upload bundles into directly (AWS: S3 with
/// presigned PUTs). Optional: a registry without one takes bundles in the body.
#[async_trait]
pub trait UploadStore: Send + Sync {
    /// A request that stores exactly `request.size` bytes under `key`, with the
    /// size and the declared digest signed into it, usable for `expires_in`.
    async fn presign_put(
        &self,
        key: &UploadKey,
        request: &UploadRequest,
        expires_in: std::time::Duration,
    ) -> Result<PresignedPut, StorageError>;

    /// The upload under `key`, reading at most `max_bytes + 1` bytes so an oversize
    /// object is recognised without being buffered whole.
    async fn fetch(
        &self,
        key: &UploadKey,
        max_bytes: u64,
    ) -> Result<Option<FetchedUpload>, StorageError>;

    /// Removes the upload; removing one that is gone succeeds.
    async fn discard(&self, key: &UploadKey) -> Result<(), StorageError>;
}
