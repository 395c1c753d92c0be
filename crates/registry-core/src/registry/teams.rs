//! Teams: a team is a principal that owns plugins for its members. Its
//! maintainers add and remove members and answer invitations for it; every
//! member publishes the team's plugins. A team always keeps a maintainer.

use serde::{Deserialize, Serialize};

use super::Registry;
use crate::audit::{AuditAction, AuditDetail, AuditSubject};
use crate::auth::{Caller, Principal, PrincipalId, PrincipalKind, Scope};
use crate::error::RegistryError;
use crate::ownership::{MAX_ROSTER_ENTRIES, MAX_TEAM_NAME, Role, Roster, RosterEntry, RosterKey};
use crate::timestamp::Timestamp;

/// One member of a team, as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TeamMemberInfo {
    /// The member's principal id.
    #[schema(value_type = String)]
    pub principal: PrincipalId,
    /// Its display name.
    pub name: String,
    /// `maintainer` or `member`.
    pub role: Role,
    /// Since when it belongs.
    #[schema(value_type = String)]
    pub since: Timestamp,
}

/// A team and its members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TeamInfo {
    /// The team's principal id: what to invite to own a plugin.
    #[schema(value_type = String)]
    pub id: PrincipalId,
    /// Its name.
    pub name: String,
    /// When it was made.
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    /// Its members, in principal order.
    pub members: Vec<TeamMemberInfo>,
}

/// A team the caller belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TeamMembership {
    /// The team's principal id.
    #[schema(value_type = String)]
    pub id: PrincipalId,
    /// Its name.
    pub name: String,
    /// The caller's role in it.
    pub role: Role,
}

impl Registry {
    /// Makes a team with the caller as its first maintainer.
    pub async fn create_team(
        &self,
        caller: &Caller,
        name: &str,
    ) -> Result<TeamInfo, RegistryError> {
        self.ownership_store()?;
        super::require_scope(Some(caller), Scope::Publish)?;
        let name = name.trim();
        if !super::keys::is_printable_name(name, MAX_TEAM_NAME) {
            return Err(RegistryError::invalid_field(
                "name",
                format!("a team's name is 1 to {MAX_TEAM_NAME} printable characters"),
            ));
        }
        let creator = self.principal_named(caller.principal.as_str()).await?;
        if creator.kind != PrincipalKind::User {
            return Err(RegistryError::Forbidden {
                detail: format!(
                    "teams are made by people; this key belongs to a {}",
                    creator.kind.as_str()
                ),
            });
        }
        let now = self.clock.now();
        let team = Principal {
            id: PrincipalId::generate()?,
            name: name.to_owned(),
            kind: PrincipalKind::Team,
            created_at: now,
        };
        self.keys.create_principal(&team).await?;
        // A crash here leaves a team nobody belongs to: it owns nothing and
        // nobody can reach it, so it is harmless.
        let roster = self
            .change_roster(RosterKey::TeamMembers(team.id.clone()), None, |_| {
                Ok(Some(vec![RosterEntry {
                    principal: caller.principal.clone(),
                    role: Role::Maintainer,
                    since: now,
                }]))
            })
            .await?;
        tracing::info!(team = %team.id, principal = %caller.principal, "team created");
        self.record(
            caller,
            AuditSubject::Principal(team.id.clone()),
            AuditAction::TeamCreated,
            AuditDetail {
                note: Some(team.name.clone()),
                ..AuditDetail::default()
            },
        )
        .await;
        self.describe_team(&team, &roster).await
    }

    /// The teams the caller belongs to.
    pub async fn my_teams(&self, caller: &Caller) -> Result<Vec<TeamMembership>, RegistryError> {
        self.ownership_store()?;
        let mut teams = Vec::new();
        for (team, entry) in self.teams_of(&caller.principal).await? {
            let (name, _) = self.principal_label(&team).await?;
            teams.push(TeamMembership {
                id: team,
                name,
                role: entry.role,
            });
        }
        Ok(teams)
    }

    /// A team with its members, for its members and admins.
    pub async fn team(&self, caller: &Caller, team: &str) -> Result<TeamInfo, RegistryError> {
        let (principal, roster) = self.team_for(caller, team).await?;
        if roster.entry(&caller.principal).is_none() && !caller.can(Scope::Admin) {
            return Err(team_not_found(team));
        }
        self.describe_team(&principal, &roster).await
    }

    /// Adds a person to a team, or changes their role (maintainers and admins).
    pub async fn set_team_member(
        &self,
        caller: &Caller,
        team: &str,
        member: &str,
        role: Role,
    ) -> Result<TeamInfo, RegistryError> {
        if role == Role::Owner {
            return Err(RegistryError::invalid_field(
                "role",
                "a team member is a maintainer or a member",
            ));
        }
        let (principal, _) = self.team_to_maintain(caller, team).await?;
        let person = self.principal_named(member).await?;
        if person.kind != PrincipalKind::User {
            return Err(RegistryError::invalid_field(
                "principal",
                format!(
                    "'{}' is a {}; a team's members are people",
                    person.id,
                    person.kind.as_str()
                ),
            ));
        }
        let now = self.clock.now();
        let roster = self
            .change_roster(RosterKey::TeamMembers(principal.id.clone()), None, |roster| {
                let since = match roster.entry(&person.id) {
                    Some(existing) if existing.role == role => return Ok(None),
                    Some(existing) => existing.since,
                    None if roster.entries.len() >= MAX_ROSTER_ENTRIES => {
                        return Err(RegistryError::OwnershipConflict {
                            code: "roster_full",
                            detail: format!(
                                "a team has {MAX_ROSTER_ENTRIES} members at most; make another team"
                            ),
                        });
                    }
                    None => now,
                };
                let changed = roster.with(RosterEntry {
                    principal: person.id.clone(),
                    role,
                    since,
                });
                keep_a_maintainer(&principal, &changed)?;
                Ok(Some(changed))
            })
            .await?;
        tracing::info!(team = %principal.id, member = %person.id, %role, principal = %caller.principal, "team member set");
        self.record(
            caller,
            AuditSubject::Principal(principal.id.clone()),
            AuditAction::TeamMemberSet,
            AuditDetail {
                role: Some(role),
                ..AuditDetail::principal(&person.id)
            },
        )
        .await;
        self.describe_team(&principal, &roster).await
    }

    /// Removes a member from a team: maintainers and admins remove anyone, a
    /// member removes themselves; never the last maintainer.
    pub async fn remove_team_member(
        &self,
        caller: &Caller,
        team: &str,
        member: &str,
    ) -> Result<TeamInfo, RegistryError> {
        let leaving = PrincipalId::from_stored(member);
        let (principal, _) = if leaving == caller.principal {
            self.team_for(caller, team).await?
        } else {
            self.team_to_maintain(caller, team).await?
        };
        let roster = self
            .change_roster(
                RosterKey::TeamMembers(principal.id.clone()),
                None,
                |roster| {
                    if roster.entry(&leaving).is_none() {
                        return Err(RegistryError::NotOnRoster {
                            code: "team_member_not_found",
                            detail: format!(
                                "'{leaving}' is not a member of team '{}'",
                                principal.id
                            ),
                        });
                    }
                    let remaining = roster.without(&leaving);
                    keep_a_maintainer(&principal, &remaining)?;
                    Ok(Some(remaining))
                },
            )
            .await?;
        tracing::info!(team = %principal.id, member = %leaving, principal = %caller.principal, "team member removed");
        self.record(
            caller,
            AuditSubject::Principal(principal.id.clone()),
            AuditAction::TeamMemberRemoved,
            AuditDetail::principal(&leaving),
        )
        .await;
        self.describe_team(&principal, &roster).await
    }

    /// The team named `team` and its roster; 404 for anything but a team.
    async fn team_for(
        &self,
        caller: &Caller,
        team: &str,
    ) -> Result<(Principal, Roster), RegistryError> {
        let store = self.ownership_store()?;
        super::require_scope(Some(caller), Scope::Read)?;
        let id = PrincipalId::parse(team).ok_or_else(|| team_not_found(team))?;
        let principal = self
            .keys
            .principal(&id)
            .await?
            .filter(|p| p.kind == PrincipalKind::Team)
            .ok_or_else(|| team_not_found(team))?;
        let roster = store
            .roster(&RosterKey::TeamMembers(principal.id.clone()))
            .await?;
        Ok((principal, roster))
    }

    /// The team, when `caller` maintains it (or holds an admin key).
    async fn team_to_maintain(
        &self,
        caller: &Caller,
        team: &str,
    ) -> Result<(Principal, Roster), RegistryError> {
        super::require_scope(Some(caller), Scope::Publish)?;
        let (principal, roster) = self.team_for(caller, team).await?;
        match roster.entry(&caller.principal) {
            _ if caller.can(Scope::Admin) => Ok((principal, roster)),
            Some(entry) if entry.role == Role::Maintainer => Ok((principal, roster)),
            Some(_) => Err(RegistryError::Forbidden {
                detail: format!("only a maintainer of team '{team}' may change its members"),
            }),
            None => Err(team_not_found(team)),
        }
    }

    async fn describe_team(
        &self,
        team: &Principal,
        roster: &Roster,
    ) -> Result<TeamInfo, RegistryError> {
        let mut members = Vec::with_capacity(roster.entries.len());
        for entry in &roster.entries {
            let (name, _) = self.principal_label(&entry.principal).await?;
            members.push(TeamMemberInfo {
                principal: entry.principal.clone(),
                name,
                role: entry.role,
                since: entry.since,
            });
        }
        Ok(TeamInfo {
            id: team.id.clone(),
            name: team.name.clone(),
            created_at: team.created_at,
            members,
        })
    }
}

/// Refuses a change that would leave the team's members without a maintainer.
fn keep_a_maintainer(team: &Principal, entries: &[RosterEntry]) -> Result<(), RegistryError> {
    if entries.iter().any(|e| e.role == Role::Maintainer) {
        return Ok(());
    }
    Err(RegistryError::OwnershipConflict {
        code: "last_maintainer",
        detail: format!(
            "team '{}' needs a maintainer; make another member a maintainer first",
            team.id
        ),
    })
}

fn team_not_found(team: &str) -> RegistryError {
    RegistryError::TeamNotFound {
        team: team.to_owned(),
    }
}
