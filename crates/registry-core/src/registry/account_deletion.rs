//! Deleting a person's account. Their plugins stay: they leave each plugin's
//! owners, and a plugin they owned alone is left orphaned (only an admin may
//! change it or invite a new owner). Their keys are revoked, their sessions
//! end, and their identity is unlinked, so signing in again with it makes a new
//! account that owns nothing.

use super::{Registry, SessionCaller};
use crate::audit::{AuditAction, AuditDetail, AuditSubject};
use crate::error::RegistryError;
use crate::ownership::{Role, RosterKey};
use crate::slug::Slug;
use crate::store::{Conflict, StorageError};

/// What deleting an account did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedAccount {
    /// Plugins the person owned alone, now without an owner.
    pub orphaned: Vec<Slug>,
    /// How many live keys were revoked.
    pub keys_revoked: usize,
}

impl Registry {
    /// Deletes the signed-in person's account. Each step can be repeated, so a
    /// deletion cut short is finished by trying again while still signed in;
    /// the sessions end last for that reason.
    pub async fn delete_account(
        &self,
        session: &SessionCaller,
    ) -> Result<DeletedAccount, RegistryError> {
        let accounts = std::sync::Arc::clone(&self.sign_in_parts()?.store);
        let me = &session.caller.principal;
        let mut orphaned = Vec::new();
        if let Some(store) = &self.ownership {
            for (key, _) in store.rosters_of(me).await? {
                let is_team = matches!(key, RosterKey::TeamMembers(_));
                let roster = self
                    .change_roster(key.clone(), None, |roster| {
                        if roster.entry(me).is_none() {
                            return Ok(None);
                        }
                        let mut remaining = roster.without(me);
                        if is_team && !remaining.iter().any(|e| e.role == Role::Maintainer) {
                            // The longest-standing member inherits the team.
                            if let Some(heir) = remaining.iter_mut().min_by_key(|e| e.since) {
                                heir.role = Role::Maintainer;
                            }
                        }
                        Ok(Some(remaining))
                    })
                    .await?;
                let subject = match &key {
                    RosterKey::PluginOwners(slug) => AuditSubject::Plugin(slug.clone()),
                    RosterKey::TeamMembers(team) => AuditSubject::Principal(team.clone()),
                };
                let action = if is_team {
                    AuditAction::TeamMemberRemoved
                } else {
                    AuditAction::OwnerRemoved
                };
                let detail = AuditDetail {
                    note: Some("their account was deleted".to_owned()),
                    ..AuditDetail::principal(me)
                };
                self.record(&session.caller, subject, action, detail).await;
                if let RosterKey::PluginOwners(slug) = key
                    && roster.entries.is_empty()
                {
                    orphaned.push(slug);
                }
            }
            for invitation in store.invitations_for(me).await? {
                store.delete_invitation(&invitation.slug, me).await?;
            }
        }
        let mut keys_revoked = 0;
        let now = self.clock.now();
        for key in self.keys.list_keys(Some(me)).await? {
            if key.revoked_at.is_some() {
                continue;
            }
            match self.keys.revoke_key(&key.id, now).await {
                Ok(()) => keys_revoked += 1,
                Err(StorageError::Conflict(Conflict::Missing)) => {}
                Err(other) => return Err(other.into()),
            }
        }
        accounts.delete_account_of(me).await?;
        accounts.delete_sessions_of(me).await?;
        tracing::info!(principal = %me, orphaned = orphaned.len(), keys_revoked, "account deleted");
        self.record(
            &session.caller,
            AuditSubject::Principal(me.clone()),
            AuditAction::AccountDeleted,
            AuditDetail {
                note: Some(format!(
                    "{keys_revoked} key(s) revoked, {} plugin(s) orphaned",
                    orphaned.len()
                )),
                ..AuditDetail::default()
            },
        )
        .await;
        Ok(DeletedAccount {
            orphaned,
            keys_revoked,
        })
    }
}
