//! The audit log: an append-only record of every change of state, with who made
//! it, with which credential (by id, never the secret), when, and in which
//! request, so a record leads to the request's log lines.
//!
//! Records are filed under a subject: the plugin changed, or the principal whose
//! keys, team or account changed. Their ids order them in time, finer than a
//! second, so a page of the log reads newest first in every store.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::auth::{KeyId, PrincipalId, random_hex};
use crate::ownership::Role;
use crate::slug::Slug;
use crate::timestamp::Timestamp;
use crate::version::PluginVersion;

/// The most records one page of the log holds.
pub const MAX_AUDIT_PAGE: usize = 100;

/// The records a page holds when the reader does not say.
pub const DEFAULT_AUDIT_PAGE: usize = 50;

/// A record's id: `aud_`, the microsecond it was made (16 digits), `_` and 8
/// random hex characters. Ids sort as their records were made.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AuditId(String);

impl AuditId {
    /// A fresh id for a record made at `unix_micros`.
    pub fn generate(unix_micros: i64) -> Result<Self, getrandom::Error> {
        Ok(Self(format!(
            "aud_{:016}_{}",
            unix_micros.max(0),
            random_hex(4)?
        )))
    }

    /// An id as a reader sent it (a page's cursor): `None` unless it has the
    /// shape of one, so nothing else reaches a store's query.
    pub fn parse(raw: &str) -> Option<Self> {
        let rest = raw.strip_prefix("aud_")?;
        let (micros, random) = rest.split_once('_')?;
        let shaped = micros.len() == 16
            && micros.bytes().all(|b| b.is_ascii_digit())
            && random.len() == 8
            && random
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        shaped.then(|| Self(raw.to_owned()))
    }

    /// Wraps a stored id.
    pub fn from_stored(raw: impl Into<String>) -> Self {
        Self(raw.into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AuditId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a record is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AuditSubject {
    /// A plugin: its versions, owners, lock and trusted publishers.
    Plugin(Slug),
    /// A principal: its keys, its team roster, its account.
    Principal(PrincipalId),
}

impl AuditSubject {
    /// The subject as stored: `plugin:{slug}` or `principal:{id}`.
    pub fn storage_name(&self) -> String {
        match self {
            Self::Plugin(slug) => format!("plugin:{slug}"),
            Self::Principal(id) => format!("principal:{id}"),
        }
    }

    /// Parses [`AuditSubject::storage_name`]'s form.
    pub fn from_storage_name(raw: &str) -> Result<Self, String> {
        if let Some(slug) = raw.strip_prefix("plugin:") {
            return Slug::parse(slug)
                .map(Self::Plugin)
                .map_err(|e| format!("bad slug in audit subject {raw:?}: {e}"));
        }
        if let Some(id) = raw.strip_prefix("principal:") {
            return Ok(Self::Principal(PrincipalId::from_stored(id)));
        }
        Err(format!("unknown audit subject {raw:?}"))
    }
}

impl fmt::Display for AuditSubject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.storage_name())
    }
}

impl Serialize for AuditSubject {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for AuditSubject {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::from_storage_name(&raw).map_err(serde::de::Error::custom)
    }
}

/// What was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    /// A version was published (`POST /plugins`); the first one creates the plugin.
    VersionPublished,
    /// A new version was published as an update (`PUT /plugins/{slug}`).
    PluginUpdated,
    /// A version was deprecated, or its notice changed.
    VersionDeprecated,
    /// A version was unpublished.
    VersionUnpublished,
    /// An API key was created.
    KeyCreated,
    /// An API key was revoked.
    KeyRevoked,
    /// A principal was invited to own the plugin.
    OwnerInvited,
    /// An invitation was accepted: the invitee owns the plugin.
    OwnerAdded,
    /// An invitation was declined by its invitee or withdrawn by an owner.
    InvitationDeclined,
    /// An owner was removed (or left).
    OwnerRemoved,
    /// A team was created.
    TeamCreated,
    /// A team member was added, or their role changed.
    TeamMemberSet,
    /// A team member was removed (or left).
    TeamMemberRemoved,
    /// An account was deleted.
    AccountDeleted,
    /// An admin put the plugin in quarantine.
    PluginQuarantined,
    /// An admin put a version in quarantine.
    VersionQuarantined,
    /// An admin lifted the plugin's (or a version's) quarantine.
    QuarantineLifted,
    /// A trusted publisher was registered (pending, for a plugin not made yet).
    TrustedPublisherAdded,
    /// A trusted publisher was removed.
    TrustedPublisherRemoved,
    /// A CI job exchanged its token for a publish token.
    PublishTokenIssued,
    /// An owner locked the plugin to trusted publishing.
    PublishingLocked,
    /// An owner, freshly signed in, lifted the lock.
    PublishingUnlocked,
    /// A version was submitted and waits for a reviewer.
    VersionSubmittedForReview,
    /// A reviewer approved a version: it is published.
    VersionApproved,
    /// A reviewer rejected a version.
    VersionRejected,
    /// An action this build does not know, recorded by a newer registry: a
    /// reader of the log keeps working.
    #[serde(other)]
    Other,
}

impl AuditAction {
    /// The action's name, as the API writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::VersionPublished => "version_published",
            Self::PluginUpdated => "plugin_updated",
            Self::VersionDeprecated => "version_deprecated",
            Self::VersionUnpublished => "version_unpublished",
            Self::KeyCreated => "key_created",
            Self::KeyRevoked => "key_revoked",
            Self::OwnerInvited => "owner_invited",
            Self::OwnerAdded => "owner_added",
            Self::InvitationDeclined => "invitation_declined",
            Self::OwnerRemoved => "owner_removed",
            Self::TeamCreated => "team_created",
            Self::TeamMemberSet => "team_member_set",
            Self::TeamMemberRemoved => "team_member_removed",
            Self::AccountDeleted => "account_deleted",
            Self::PluginQuarantined => "plugin_quarantined",
            Self::VersionQuarantined => "version_quarantined",
            Self::QuarantineLifted => "quarantine_lifted",
            Self::TrustedPublisherAdded => "trusted_publisher_added",
            Self::TrustedPublisherRemoved => "trusted_publisher_removed",
            Self::PublishTokenIssued => "publish_token_issued",
            Self::PublishingLocked => "publishing_locked",
            Self::PublishingUnlocked => "publishing_unlocked",
            Self::VersionSubmittedForReview => "version_submitted_for_review",
            Self::VersionApproved => "version_approved",
            Self::VersionRejected => "version_rejected",
            Self::Other => "other",
        }
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The particulars of an action, each present only where it applies.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditDetail {
    /// The version acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub version: Option<PluginVersion>,
    /// The other principal: the owner invited or removed, the team member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub principal: Option<PrincipalId>,
    /// The key created or revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub key: Option<KeyId>,
    /// A team member's role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// A short note: a deprecation's reason, whether an invitation hands over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl AuditDetail {
    /// Just a version.
    pub fn version(version: &PluginVersion) -> Self {
        Self {
            version: Some(version.clone()),
            ..Self::default()
        }
    }

    /// Just another principal.
    pub fn principal(principal: &PrincipalId) -> Self {
        Self {
            principal: Some(principal.clone()),
            ..Self::default()
        }
    }

    /// Just a note.
    pub fn note(note: impl Into<String>) -> Self {
        Self {
            note: Some(note.into()),
            ..Self::default()
        }
    }

    /// Just a key.
    pub fn key(key: &KeyId) -> Self {
        Self {
            key: Some(key.clone()),
            ..Self::default()
        }
    }
}

/// The particulars in words, as the CLI and the pages show them:
/// `version 1.2.0, principal prn_…, as member, key key_…, “note”`.
impl fmt::Display for AuditDetail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(version) = &self.version {
            parts.push(format!("version {version}"));
        }
        if let Some(principal) = &self.principal {
            parts.push(format!("principal {principal}"));
        }
        if let Some(role) = &self.role {
            parts.push(format!("as {role}"));
        }
        if let Some(key) = &self.key {
            parts.push(format!("key {key}"));
        }
        if let Some(note) = &self.note {
            parts.push(format!("“{note}”"));
        }
        f.write_str(&parts.join(", "))
    }
}

/// One record of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Its id; ids order records in time.
    pub id: AuditId,
    /// When it was done.
    pub at: Timestamp,
    /// What it is about.
    pub subject: AuditSubject,
    /// What was done.
    pub action: AuditAction,
    /// Who did it.
    pub actor: PrincipalId,
    /// The id of the key or session used (`key_…`, `ses_…`), if any.
    pub credential: Option<String>,
    /// The request that did it.
    pub request: Option<String>,
    /// The particulars.
    pub detail: AuditDetail,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_as_made_and_only_their_shape_parses() {
        let early = AuditId::generate(1_764_700_000_000_001).unwrap_or_else(|e| panic!("{e}"));
        let later = AuditId::generate(1_764_700_000_000_002).unwrap_or_else(|e| panic!("{e}"));
        assert!(early < later, "{early} {later}");
        assert_eq!(AuditId::parse(later.as_str()), Some(later.clone()));
        for bad in [
            "",
            "aud_",
            "aud_176470000000000_0123abcd",
            "aud_1764700000000002_0123ABCD",
            "aud_1764700000000002_0123abc",
            "aud_1764700000000002-0123abcd",
            "x' OR 1=1 --",
        ] {
            assert_eq!(AuditId::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn subjects_round_trip_through_their_stored_names() {
        let plugin =
            AuditSubject::Plugin(Slug::parse("pdf-tools").unwrap_or_else(|e| panic!("{e}")));
        let principal = AuditSubject::Principal(PrincipalId::from_stored("prn_0123456789abcdef"));
        for subject in [plugin, principal] {
            assert_eq!(
                AuditSubject::from_storage_name(&subject.storage_name()),
                Ok(subject.clone())
            );
        }
        assert!(AuditSubject::from_storage_name("org:acme").is_err());
        assert!(AuditSubject::from_storage_name("plugin:Not A Slug").is_err());
    }
}
