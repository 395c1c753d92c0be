//! A plugin's owners: who may publish to it and change it, invitations to join
//! them, removal (never of the last one) and handover.
//!
//! Owners are people and teams; a team's members act as owners of the team's
//! plugins. A plugin whose owners were never stored (published before owners
//! existed, or by a registry without an ownership store) is owned by its first
//! publisher alone, and the next publish stores that.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::Registry;
use super::contention::RaceRetry;
use crate::audit::{AuditAction, AuditDetail, AuditSubject};
use crate::auth::{Caller, PrincipalId, PrincipalKind, Scope};
use crate::error::RegistryError;
use crate::ownership::{
    INVITATION_LIFETIME, MAX_ROSTER_ENTRIES, OwnerInvitation, Role, Roster, RosterEntry, RosterKey,
};
use crate::slug::Slug;
use crate::store::{Conflict, OwnershipStore, PluginHead, PluginRecord, StorageError};
use crate::timestamp::Timestamp;

/// One owner of a plugin, as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OwnerInfo {
    /// The owner's principal id.
    #[schema(value_type = String)]
    pub principal: PrincipalId,
    /// Its display name.
    pub name: String,
    /// `user` or `team`.
    pub kind: PrincipalKind,
    /// Since when it owns the plugin.
    #[schema(value_type = String)]
    pub since: Timestamp,
}

/// A pending invitation to own a plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InvitationInfo {
    /// The plugin.
    pub slug: String,
    /// Who is invited (a person, or a team whose maintainers answer).
    #[schema(value_type = String)]
    pub invitee: PrincipalId,
    /// The invitee's display name.
    pub invitee_name: String,
    /// Who invited.
    #[schema(value_type = String)]
    pub invited_by: PrincipalId,
    /// Whether accepting hands the inviter's ownership over (they leave the owners).
    pub transfer: bool,
    /// When it was made.
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    /// When it lapses unanswered.
    #[schema(value_type = String)]
    pub expires_at: Timestamp,
}

/// A plugin's owners.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PluginOwners {
    /// The plugin.
    pub slug: String,
    /// Its owners, in principal order.
    pub owners: Vec<OwnerInfo>,
    /// Whether it has no owner left (every one deleted their account): only an
    /// admin can change it, or invite a new owner.
    pub orphaned: bool,
    /// Pending invitations; shown to owners and admins only, `null` otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invitations: Option<Vec<InvitationInfo>>,
    /// What of the plugin an admin keeps in quarantine (hidden from everyone
    /// else), and why; shown to owners and admins only, and only when something is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quarantined: Vec<QuarantineNotice>,
}

/// A quarantine as a plugin's owners see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QuarantineNotice {
    /// The version; `null` for the whole plugin.
    pub version: Option<String>,
    /// Why, as the admin said.
    pub reason: String,
    /// Since when.
    #[schema(value_type = String)]
    pub since: Timestamp,
}

/// The quarantines in force on `plugin`: its own, then its versions'.
fn quarantine_notices(plugin: &PluginRecord) -> Vec<QuarantineNotice> {
    let notice = |version: Option<String>, q: &crate::moderation::Quarantine| QuarantineNotice {
        version,
        reason: q.reason.clone(),
        since: q.at,
    };
    let mut notices: Vec<QuarantineNotice> =
        plugin.quarantined.iter().map(|q| notice(None, q)).collect();
    for v in &plugin.versions {
        if let Some(q) = &v.quarantined {
            notices.push(notice(Some(v.version.to_string()), q));
        }
    }
    notices
}

/// A plugin the caller acts as an owner of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedPlugin {
    /// The plugin.
    pub slug: Slug,
    /// The team it is owned through (id, name), or `None` when owned in person.
    pub via_team: Option<(PrincipalId, String)>,
    /// Whether it is locked to trusted publishing.
    pub locked: bool,
}

/// How to answer an invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Join the owners.
    Accept,
    /// Refuse (the invitee) or withdraw (an owner).
    Decline,
}

impl Registry {
    /// Keeps plugin owners, teams and invitations in `store`.
    #[must_use]
    pub fn with_ownership(mut self, store: Arc<dyn OwnershipStore>) -> Self {
        self.ownership = Some(store);
        self
    }

    /// The ownership store, or 404 for a registry without one.
    pub(crate) fn ownership_store(&self) -> Result<&Arc<dyn OwnershipStore>, RegistryError> {
        self.ownership
            .as_ref()
            .ok_or(RegistryError::OwnershipUnavailable)
    }

    /// The owners of `plugin`: those stored, or its first publisher alone.
    pub(crate) async fn owner_roster(&self, plugin: &PluginHead) -> Result<Roster, RegistryError> {
        let stored = match &self.ownership {
            Some(store) => {
                store
                    .roster(&RosterKey::PluginOwners(plugin.slug.clone()))
                    .await?
            }
            None => Roster::default(),
        };
        if stored.exists() {
            return Ok(stored);
        }
        Ok(Roster {
            entries: vec![RosterEntry {
                principal: plugin.owner.clone(),
                role: Role::Owner,
                since: plugin.created_at,
            }],
            revision: 0,
        })
    }

    /// The teams `principal` belongs to, with its role in each.
    pub(crate) async fn teams_of(
        &self,
        principal: &PrincipalId,
    ) -> Result<Vec<(PrincipalId, RosterEntry)>, RegistryError> {
        let Some(store) = &self.ownership else {
            return Ok(Vec::new());
        };
        Ok(store
            .rosters_of(principal)
            .await?
            .into_iter()
            .filter_map(|(key, entry)| match key {
                RosterKey::TeamMembers(team) => Some((team, entry)),
                RosterKey::PluginOwners(_) => None,
            })
            .collect())
    }

    /// Whether `caller` acts as an owner of a plugin with `owners`: it is one, or
    /// it belongs to a team that is one.
    pub(crate) async fn acts_as_owner(
        &self,
        caller: &Caller,
        owners: &Roster,
    ) -> Result<bool, RegistryError> {
        // A publish token acts for a CI workflow, never as its registrant.
        if caller.publish_token_publishers().is_some() {
            return Ok(false);
        }
        if owners.entry(&caller.principal).is_some() {
            return Ok(true);
        }
        if owners.entries.is_empty() {
            return Ok(false);
        }
        let teams: BTreeSet<PrincipalId> = self
            .teams_of(&caller.principal)
            .await?
            .into_iter()
            .map(|(team, _)| team)
            .collect();
        Ok(owners.entries.iter().any(|e| teams.contains(&e.principal)))
    }

    /// Refuses a caller that does not act as an owner of `plugin`; returns its
    /// owners. `admin_may` lets an admin key through (moderation, owner changes;
    /// never publishing into another's plugin).
    pub(crate) async fn require_owner(
        &self,
        caller: &Caller,
        plugin: &PluginHead,
        admin_may: bool,
    ) -> Result<Roster, RegistryError> {
        let owners = self.owner_roster(plugin).await?;
        if (admin_may && caller.can(Scope::Admin)) || self.acts_as_owner(caller, &owners).await? {
            return Ok(owners);
        }
        let slug = &plugin.slug;
        Err(RegistryError::Forbidden {
            detail: if owners.entries.is_empty() {
                format!("plugin '{slug}' has no owner left; only an admin may change it")
            } else if admin_may {
                format!("only an owner of plugin '{slug}' (or an admin key) may do this")
            } else {
                format!(
                    "plugin '{slug}' belongs to other principals; only its owners (and members of owning teams) may publish to it"
                )
            },
        })
    }

    /// Stores `owner` as the one owner of `slug`, whose owners were never stored.
    /// Bookkeeping after a publish: a failure is logged, and the plugin stays
    /// owned by its first publisher meanwhile.
    pub(crate) async fn store_first_owner(
        &self,
        slug: &Slug,
        owner: &PrincipalId,
        since: Timestamp,
    ) {
        let Some(store) = &self.ownership else {
            return;
        };
        let entry = RosterEntry {
            principal: owner.clone(),
            role: Role::Owner,
            since,
        };
        match store
            .replace_roster(&RosterKey::PluginOwners(slug.clone()), 0, &[entry])
            .await
        {
            Ok(()) | Err(StorageError::Conflict(_)) => {}
            Err(error) => {
                tracing::warn!(%slug, %error, "could not store the plugin's first owner");
            }
        }
    }

    /// A plugin's owners; its pending invitations too for its owners and admins.
    pub async fn plugin_owners(
        &self,
        caller: Option<&Caller>,
        slug: &str,
    ) -> Result<PluginOwners, RegistryError> {
        self.authorize_read(caller)?;
        let plugin = self.find_plugin(slug).await?;
        let owners = self.owner_roster(&plugin.head()).await?;
        let sees_invitations = match caller {
            Some(caller) => caller.can(Scope::Admin) || self.acts_as_owner(caller, &owners).await?,
            None => false,
        };
        // A quarantined plugin is not there for anyone but its owners and admins.
        if plugin.quarantined.is_some() && !sees_invitations {
            return Err(RegistryError::PluginNotFound {
                slug: plugin.slug.to_string(),
            });
        }
        let mut described = self
            .describe_owners(&plugin.slug, &owners, sees_invitations)
            .await?;
        if sees_invitations {
            described.quarantined = quarantine_notices(&plugin);
        }
        Ok(described)
    }

    async fn describe_owners(
        &self,
        slug: &Slug,
        owners: &Roster,
        with_invitations: bool,
    ) -> Result<PluginOwners, RegistryError> {
        let mut listed = Vec::with_capacity(owners.entries.len());
        for entry in &owners.entries {
            let (name, kind) = self.principal_label(&entry.principal).await?;
            listed.push(OwnerInfo {
                principal: entry.principal.clone(),
                name,
                kind,
                since: entry.since,
            });
        }
        let invitations = match (&self.ownership, with_invitations) {
            (Some(store), true) => {
                let now = self.clock.now();
                let mut pending = Vec::new();
                for invitation in store.invitations_of_plugin(slug).await? {
                    if invitation.expires_at > now {
                        pending.push(self.describe_invitation(&invitation).await?);
                    }
                }
                Some(pending)
            }
            _ => None,
        };
        Ok(PluginOwners {
            slug: slug.to_string(),
            orphaned: owners.entries.is_empty(),
            owners: listed,
            invitations,
            quarantined: Vec::new(),
        })
    }

    /// A principal's name and kind, for listings; a principal that is gone is
    /// listed by its id.
    pub(crate) async fn principal_label(
        &self,
        id: &PrincipalId,
    ) -> Result<(String, PrincipalKind), RegistryError> {
        Ok(match self.keys.principal(id).await? {
            Some(p) => (p.name, p.kind),
            None => (id.to_string(), PrincipalKind::User),
        })
    }

    pub(crate) async fn describe_invitation(
        &self,
        invitation: &OwnerInvitation,
    ) -> Result<InvitationInfo, RegistryError> {
        let (invitee_name, _) = self.principal_label(&invitation.invitee).await?;
        Ok(InvitationInfo {
            slug: invitation.slug.to_string(),
            invitee: invitation.invitee.clone(),
            invitee_name,
            invited_by: invitation.invited_by.clone(),
            transfer: invitation.transfer,
            created_at: invitation.created_at,
            expires_at: invitation.expires_at,
        })
    }

    /// Invites `invitee` (a person or a team) to own `slug`; with `transfer`,
    /// accepting also removes the inviter from the owners.
    pub async fn invite_owner(
        &self,
        caller: &Caller,
        slug: &str,
        invitee: &str,
        transfer: bool,
    ) -> Result<InvitationInfo, RegistryError> {
        let store = self.ownership_store()?;
        let plugin = self.plugin_to_manage(caller, slug).await?;
        let owners = self.require_owner(caller, &plugin.head(), true).await?;
        let invitee = self.principal_named(invitee).await?;
        if invitee.kind == PrincipalKind::Org {
            return Err(RegistryError::invalid_field(
                "principal",
                format!(
                    "'{}' is an org; invite a person or a team instead",
                    invitee.id
                ),
            ));
        }
        if owners.entry(&invitee.id).is_some() {
            return Err(RegistryError::OwnershipConflict {
                code: "already_owner",
                detail: format!("'{}' already owns '{}'", invitee.id, plugin.slug),
            });
        }
        if transfer && owners.entry(&caller.principal).is_none() {
            return Err(RegistryError::invalid_field(
                "transfer",
                "only an owner in person can hand their ownership over; invite without transfer",
            ));
        }
        if owners.entries.len() >= MAX_ROSTER_ENTRIES {
            return Err(roster_full(&plugin.slug));
        }
        let now = self.clock.now();
        let invitation = OwnerInvitation {
            slug: plugin.slug.clone(),
            invitee: invitee.id.clone(),
            invited_by: caller.principal.clone(),
            transfer,
            created_at: now,
            expires_at: now.plus(INVITATION_LIFETIME),
        };
        match store.insert_invitation(&invitation).await {
            Ok(()) => {}
            Err(StorageError::Conflict(Conflict::AlreadyExists)) => {
                let lapsed = store
                    .invitation(&plugin.slug, &invitee.id)
                    .await?
                    .is_none_or(|old| old.expires_at <= now);
                if !lapsed {
                    return Err(RegistryError::OwnershipConflict {
                        code: "invitation_exists",
                        detail: format!(
                            "'{}' is already invited to own '{}'; withdraw that invitation first to change it",
                            invitee.id, plugin.slug
                        ),
                    });
                }
                // A lapsed invitation makes way for the new one.
                store.delete_invitation(&plugin.slug, &invitee.id).await?;
                store
                    .insert_invitation(&invitation)
                    .await
                    .map_err(|e| match e {
                        StorageError::Conflict(_) => RegistryError::ConcurrentUpdate {
                            slug: plugin.slug.to_string(),
                        },
                        other => other.into(),
                    })?;
            }
            Err(other) => return Err(other.into()),
        }
        tracing::info!(slug = %plugin.slug, invitee = %invitee.id, principal = %caller.principal, transfer, "owner invited");
        self.record(
            caller,
            AuditSubject::Plugin(plugin.slug.clone()),
            AuditAction::OwnerInvited,
            AuditDetail {
                note: transfer.then(|| "hands the inviter's ownership over".to_owned()),
                ..AuditDetail::principal(&invitee.id)
            },
        )
        .await;
        self.describe_invitation(&invitation).await
    }

    /// Accepts or declines the invitation of `invitee` to own `slug`. The invitee
    /// answers (a team's maintainers for a team); an owner or admin may withdraw
    /// it. Returns the owners after an acceptance.
    pub async fn answer_invitation(
        &self,
        caller: &Caller,
        slug: &str,
        invitee: &str,
        answer: Answer,
    ) -> Result<Option<PluginOwners>, RegistryError> {
        let store = self.ownership_store()?;
        let not_found = || RegistryError::InvitationNotFound {
            slug: slug.to_owned(),
            invitee: invitee.to_owned(),
        };
        let parsed = Slug::parse(slug).map_err(|_| not_found())?;
        let invitee_id = PrincipalId::parse(invitee).ok_or_else(not_found)?;
        let invitation = store
            .invitation(&parsed, &invitee_id)
            .await?
            .filter(|i| i.expires_at > self.clock.now())
            .ok_or_else(not_found)?;
        let answers_for_invitee = self.answers_for(caller, &invitation.invitee).await?;
        if !answers_for_invitee {
            let withdraws = answer == Answer::Decline && {
                let plugin = self.find_plugin(slug).await?;
                self.require_owner(caller, &plugin.head(), true)
                    .await
                    .is_ok()
            };
            if !withdraws {
                // Nobody learns of another's invitations by guessing.
                return Err(not_found());
            }
        }
        if answer == Answer::Decline {
            store.delete_invitation(&parsed, &invitee_id).await?;
            tracing::info!(%slug, %invitee, principal = %caller.principal, "invitation declined");
            self.record(
                caller,
                AuditSubject::Plugin(parsed),
                AuditAction::InvitationDeclined,
                AuditDetail::principal(&invitee_id),
            )
            .await;
            return Ok(None);
        }
        let plugin = self.find_plugin(slug).await?;
        let owners = self
            .change_roster(
                RosterKey::PluginOwners(plugin.slug.clone()),
                Some(&plugin),
                |owners| {
                    if owners.entry(&invitation.invitee).is_some() && !invitation.transfer {
                        return Ok(None);
                    }
                    if owners.entries.len() >= MAX_ROSTER_ENTRIES {
                        return Err(roster_full(&plugin.slug));
                    }
                    let joined = Roster {
                        entries: owners.with(RosterEntry {
                            principal: invitation.invitee.clone(),
                            role: Role::Owner,
                            since: self.clock.now(),
                        }),
                        revision: owners.revision,
                    };
                    Ok(Some(
                        if invitation.transfer && invitation.invited_by != invitation.invitee {
                            joined.without(&invitation.invited_by)
                        } else {
                            joined.entries
                        },
                    ))
                },
            )
            .await?;
        store.delete_invitation(&parsed, &invitee_id).await?;
        tracing::info!(%slug, %invitee, principal = %caller.principal, transfer = invitation.transfer, "invitation accepted");
        let subject = AuditSubject::Plugin(plugin.slug.clone());
        self.record(
            caller,
            subject.clone(),
            AuditAction::OwnerAdded,
            AuditDetail::principal(&invitation.invitee),
        )
        .await;
        if owners.entry(&invitation.invited_by).is_none() && invitation.transfer {
            self.record(
                caller,
                subject,
                AuditAction::OwnerRemoved,
                AuditDetail {
                    note: Some("handed over by accepting the invitation".to_owned()),
                    ..AuditDetail::principal(&invitation.invited_by)
                },
            )
            .await;
        }
        self.describe_owners(&plugin.slug, &owners, true)
            .await
            .map(Some)
    }

    /// Whether `caller` may answer for `invitee`: it is the invitee, or a
    /// maintainer of the invitee team.
    async fn answers_for(
        &self,
        caller: &Caller,
        invitee: &PrincipalId,
    ) -> Result<bool, RegistryError> {
        if caller.principal == *invitee {
            return Ok(true);
        }
        Ok(self
            .teams_of(&caller.principal)
            .await?
            .iter()
            .any(|(team, entry)| team == invitee && entry.role == Role::Maintainer))
    }

    /// The invitations `caller` may answer: its own, and its teams' where it is
    /// a maintainer; lapsed ones left out.
    pub async fn my_invitations(
        &self,
        caller: &Caller,
    ) -> Result<Vec<InvitationInfo>, RegistryError> {
        let store = self.ownership_store()?;
        let mut invitees = vec![caller.principal.clone()];
        invitees.extend(
            self.teams_of(&caller.principal)
                .await?
                .into_iter()
                .filter(|(_, entry)| entry.role == Role::Maintainer)
                .map(|(team, _)| team),
        );
        let now = self.clock.now();
        let mut found = Vec::new();
        for invitee in &invitees {
            for invitation in store.invitations_for(invitee).await? {
                if invitation.expires_at > now {
                    found.push(self.describe_invitation(&invitation).await?);
                }
            }
        }
        Ok(found)
    }

    /// The plugins `caller` owns, in person or through its teams, in slug order
    /// (a plugin owned both ways is listed once, as owned in person).
    pub async fn my_plugins(&self, caller: &Caller) -> Result<Vec<OwnedPlugin>, RegistryError> {
        let store = self.ownership_store()?;
        let mut owned: std::collections::BTreeMap<Slug, Option<(PrincipalId, String)>> =
            std::collections::BTreeMap::new();
        for (key, _) in store.rosters_of(&caller.principal).await? {
            if let RosterKey::PluginOwners(slug) = key {
                owned.insert(slug, None);
            }
        }
        for (team, _) in self.teams_of(&caller.principal).await? {
            let (name, _) = self.principal_label(&team).await?;
            for (key, _) in store.rosters_of(&team).await? {
                if let RosterKey::PluginOwners(slug) = key {
                    owned
                        .entry(slug)
                        .or_insert_with(|| Some((team.clone(), name.clone())));
                }
            }
        }
        let mut plugins = Vec::with_capacity(owned.len());
        for (slug, via_team) in owned {
            let locked = match &self.trusted {
                Some(store) => store.publishing_lock(&slug).await?.is_some(),
                None => false,
            };
            plugins.push(OwnedPlugin {
                slug,
                via_team,
                locked,
            });
        }
        Ok(plugins)
    }

    /// Removes `principal` from the owners of `slug`; never the last owner.
    pub async fn remove_owner(
        &self,
        caller: &Caller,
        slug: &str,
        principal: &str,
    ) -> Result<PluginOwners, RegistryError> {
        self.ownership_store()?;
        let plugin = self.plugin_to_manage(caller, slug).await?;
        self.require_owner(caller, &plugin.head(), true).await?;
        let leaving = PrincipalId::from_stored(principal);
        let owners = self
            .change_roster(
                RosterKey::PluginOwners(plugin.slug.clone()),
                Some(&plugin),
                |owners| {
                    if owners.entry(&leaving).is_none() {
                        return Err(RegistryError::NotOnRoster {
                            code: "owner_not_found",
                            detail: format!("'{leaving}' is not an owner of '{}'", plugin.slug),
                        });
                    }
                    if owners.entries.len() == 1 {
                        return Err(RegistryError::OwnershipConflict {
                            code: "last_owner",
                            detail: format!(
                                "'{leaving}' is the last owner of '{}'; invite another owner (or hand it over with a transfer) first",
                                plugin.slug
                            ),
                        });
                    }
                    Ok(Some(owners.without(&leaving)))
                },
            )
            .await?;
        tracing::info!(%slug, removed = %leaving, principal = %caller.principal, "owner removed");
        self.record(
            caller,
            AuditSubject::Plugin(plugin.slug.clone()),
            AuditAction::OwnerRemoved,
            AuditDetail::principal(&leaving),
        )
        .await;
        self.describe_owners(&plugin.slug, &owners, true).await
    }

    /// The plugin `caller` asks to manage, after the key's plugin limit.
    async fn plugin_to_manage(
        &self,
        caller: &Caller,
        slug: &str,
    ) -> Result<PluginRecord, RegistryError> {
        super::require_scope(Some(caller), Scope::Publish)?;
        if let Ok(parsed) = Slug::parse(slug) {
            caller.check_plugin_limit(&parsed)?;
        }
        self.find_plugin(slug).await
    }

    /// An existing principal named by id in a request.
    pub(crate) async fn principal_named(
        &self,
        raw: &str,
    ) -> Result<crate::auth::Principal, RegistryError> {
        let not_found = || RegistryError::PrincipalNotFound {
            principal: raw.to_owned(),
        };
        let id = PrincipalId::parse(raw.trim()).ok_or_else(not_found)?;
        self.keys.principal(&id).await?.ok_or_else(not_found)
    }

    /// Applies `decide` to a fresh read of a roster, by compare-and-set, until it
    /// lands; `decide` answers `None` for "nothing to change". A plugin's owners
    /// start from [`Registry::owner_roster`] (`plugin` given). Returns the roster
    /// as written.
    pub(crate) async fn change_roster(
        &self,
        key: RosterKey,
        plugin: Option<&PluginRecord>,
        decide: impl Fn(&Roster) -> Result<Option<Vec<RosterEntry>>, RegistryError>,
    ) -> Result<Roster, RegistryError> {
        let store = self.ownership_store()?;
        let mut retry = RaceRetry::default();
        while retry.another_attempt().await {
            let current = match plugin {
                Some(plugin) => self.owner_roster(&plugin.head()).await?,
                None => store.roster(&key).await?,
            };
            let Some(entries) = decide(&current)? else {
                return Ok(current);
            };
            match store.replace_roster(&key, current.revision, &entries).await {
                Ok(()) => {
                    return Ok(Roster {
                        entries,
                        revision: current.revision + 1,
                    });
                }
                Err(StorageError::Conflict(Conflict::RevisionChanged)) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Err(RegistryError::ConcurrentUpdate {
            slug: key.to_string(),
        })
    }
}

fn roster_full(slug: &Slug) -> RegistryError {
    RegistryError::OwnershipConflict {
        code: "roster_full",
        detail: format!(
            "'{slug}' may have {MAX_ROSTER_ENTRIES} owners at most; make a team of them and let the team own it"
        ),
    }
}
