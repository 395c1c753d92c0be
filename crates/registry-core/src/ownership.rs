//! Who may change a plugin, and teams.
//!
//! A plugin's owners are principals (people and teams); a team's members are
//! people, each a maintainer or a member. Both are a [`Roster`]: one set of
//! entries changed only by compare-and-set, so "never remove the last owner" and
//! "never remove the last maintainer" hold however requests race. A new owner
//! joins only by accepting an [`OwnerInvitation`]: nobody is made to answer for
//! a plugin they did not agree to.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::auth::PrincipalId;
use crate::slug::Slug;
use crate::timestamp::Timestamp;

/// The most entries one roster holds (owners of a plugin, members of a team).
pub const MAX_ROSTER_ENTRIES: usize = 50;

/// How long an invitation to own a plugin waits for an answer.
pub const INVITATION_LIFETIME: time::Duration = time::Duration::days(30);

/// Longest team name, in characters.
pub const MAX_TEAM_NAME: usize = 100;

/// Which set of principals a roster is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RosterKey {
    /// The owners of a plugin.
    PluginOwners(Slug),
    /// The members of a team.
    TeamMembers(PrincipalId),
}

impl RosterKey {
    /// The key as stored: `plugin:{slug}` or `team:{principal}`.
    pub fn storage_name(&self) -> String {
        match self {
            Self::PluginOwners(slug) => format!("plugin:{slug}"),
            Self::TeamMembers(team) => format!("team:{team}"),
        }
    }

    /// Parses [`RosterKey::storage_name`]'s form.
    pub fn from_storage_name(raw: &str) -> Result<Self, String> {
        if let Some(slug) = raw.strip_prefix("plugin:") {
            return Slug::parse(slug)
                .map(Self::PluginOwners)
                .map_err(|e| format!("bad slug in roster {raw:?}: {e}"));
        }
        if let Some(team) = raw.strip_prefix("team:") {
            return Ok(Self::TeamMembers(PrincipalId::from_stored(team)));
        }
        Err(format!("unknown roster {raw:?}"))
    }
}

impl fmt::Display for RosterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.storage_name())
    }
}

/// What an entry of a roster may do.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Owns a plugin: publishes, deprecates, unpublishes, invites and removes owners.
    Owner,
    /// Runs a team: adds and removes members, answers invitations for the team,
    /// and publishes the team's plugins.
    Maintainer,
    /// Belongs to a team: publishes the team's plugins.
    Member,
}

impl Role {
    /// The role's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Maintainer => "maintainer",
            Self::Member => "member",
        }
    }

    /// Parses a wire name.
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "owner" => Ok(Self::Owner),
            "maintainer" => Ok(Self::Maintainer),
            "member" => Ok(Self::Member),
            other => Err(format!(
                "unknown role {other:?}; expected maintainer or member"
            )),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One principal on a roster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterEntry {
    /// Who.
    pub principal: PrincipalId,
    /// What they may do.
    pub role: Role,
    /// Since when.
    pub since: Timestamp,
}

/// A roster as stored: its entries and the revision a change must name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Roster {
    /// The entries, in principal order.
    pub entries: Vec<RosterEntry>,
    /// Compare-and-set revision; 0 when the roster was never written.
    pub revision: u64,
}

impl Roster {
    /// Whether the roster was ever written (a plugin whose owners were never
    /// stored is owned by its first publisher alone).
    pub fn exists(&self) -> bool {
        self.revision > 0
    }

    /// The entry of `principal`.
    pub fn entry(&self, principal: &PrincipalId) -> Option<&RosterEntry> {
        self.entries.iter().find(|e| e.principal == *principal)
    }

    /// The entries with `principal`'s replaced by (or joined by) `entry`, in
    /// principal order.
    pub fn with(&self, entry: RosterEntry) -> Vec<RosterEntry> {
        let mut entries = self.without(&entry.principal);
        entries.push(entry);
        entries.sort_by(|a, b| a.principal.cmp(&b.principal));
        entries
    }

    /// The entries without `principal`'s.
    pub fn without(&self, principal: &PrincipalId) -> Vec<RosterEntry> {
        self.entries
            .iter()
            .filter(|e| e.principal != *principal)
            .cloned()
            .collect()
    }

    /// How many entries have `role`.
    pub fn count(&self, role: Role) -> usize {
        self.entries.iter().filter(|e| e.role == role).count()
    }
}

/// A pending offer of a plugin's ownership to a principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerInvitation {
    /// The plugin.
    pub slug: Slug,
    /// Who is invited: a person, or a team (whose maintainers answer).
    pub invitee: PrincipalId,
    /// The owner (or admin) who invited.
    pub invited_by: PrincipalId,
    /// Whether accepting also removes `invited_by` from the owners: a handover.
    pub transfer: bool,
    /// When it was made.
    pub created_at: Timestamp,
    /// When it lapses unanswered.
    pub expires_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(principal: &str, role: Role) -> RosterEntry {
        RosterEntry {
            principal: PrincipalId::from_stored(principal),
            role,
            since: Timestamp::parse("2026-01-01T00:00:00Z").unwrap_or_else(|e| panic!("{e}")),
        }
    }

    #[test]
    fn roster_names_round_trip() {
        for key in [
            RosterKey::PluginOwners(Slug::parse("github").unwrap_or_else(|e| panic!("{e}"))),
            RosterKey::TeamMembers(PrincipalId::from_stored("prn_0011223344556677")),
        ] {
            assert_eq!(RosterKey::from_storage_name(&key.storage_name()), Ok(key));
        }
        assert!(RosterKey::from_storage_name("plugin:Not A Slug").is_err());
        assert!(RosterKey::from_storage_name("org:acme").is_err());
    }

    #[test]
    fn a_changed_entry_replaces_the_old_one_and_order_is_by_principal() {
        let roster = Roster {
            entries: vec![
                entry("prn_a", Role::Maintainer),
                entry("prn_c", Role::Member),
            ],
            revision: 3,
        };
        let changed = roster.with(entry("prn_c", Role::Maintainer));
        assert_eq!(changed.len(), 2);
        assert!(changed.iter().all(|e| e.role == Role::Maintainer));
        let grown = roster.with(entry("prn_b", Role::Member));
        let order: Vec<&str> = grown.iter().map(|e| e.principal.as_str()).collect();
        assert_eq!(order, ["prn_a", "prn_b", "prn_c"]);
        assert_eq!(roster.without(&PrincipalId::from_stored("prn_a")).len(), 1);
        assert_eq!(roster.count(Role::Maintainer), 1);
    }
}
