//! `openworkflow plugin owner ...` and `openworkflow team ...`: who may publish
//! a plugin, invitations to own one, and teams.

use clap::Subcommand;
use registry_core::api::owners::{InvitationInfo, PluginOwners, TeamInfo};
use registry_core::ownership::Role;

use crate::output::Output;

use super::Context;
use super::failure::{Failure, exit};

#[derive(Debug, Subcommand)]
pub(super) enum OwnerCommand {
    /// List a plugin's owners (and, for an owner, its pending invitations).
    List {
        /// The plugin's slug.
        plugin: String,
    },
    /// Invite a person or team (by principal id, `prn_...`) to own a plugin; they
    /// become an owner when they accept.
    Add {
        /// The plugin's slug.
        plugin: String,
        /// The invitee's principal id (a person finds theirs on their account page).
        principal: String,
        /// Hand your ownership over: accepting also removes you.
        #[arg(long)]
        transfer: bool,
    },
    /// Remove an owner (never the last one).
    Remove {
        /// The plugin's slug.
        plugin: String,
        /// The owner's principal id.
        principal: String,
    },
    /// Accept an invitation to own a plugin.
    Accept {
        /// The plugin's slug.
        plugin: String,
        /// Accept for this team you maintain (default: the one invitation there is).
        #[arg(long = "as", value_name = "TEAM")]
        invitee: Option<String>,
    },
    /// Decline an invitation to own a plugin (an owner: withdraw one, with `--as`).
    Decline {
        /// The plugin's slug.
        plugin: String,
        /// The invitee (default: the one invitation you may answer there is).
        #[arg(long = "as", value_name = "PRINCIPAL")]
        invitee: Option<String>,
    },
    /// List the invitations you may answer.
    Invitations,
}

#[derive(Debug, Subcommand)]
pub(super) enum TeamCommand {
    /// Make a team; you become its maintainer.
    Create {
        /// Its name.
        name: String,
    },
    /// List your teams.
    List,
    /// Show a team and its members.
    Show {
        /// The team's principal id.
        team: String,
    },
    /// Add a person to a team, or change their role (maintainers only).
    Add {
        /// The team's principal id.
        team: String,
        /// The person's principal id.
        principal: String,
        /// `member` publishes the team's plugins; `maintainer` also manages the team.
        #[arg(long, default_value = "member", value_parser = parse_role)]
        role: Role,
    },
    /// Remove a member (maintainers; or yourself, to leave); never the last maintainer.
    Remove {
        /// The team's principal id.
        team: String,
        /// The member's principal id.
        principal: String,
    },
}

fn parse_role(raw: &str) -> Result<Role, String> {
    match Role::parse(raw)? {
        Role::Owner => Err("a team member is a maintainer or a member".to_owned()),
        role => Ok(role),
    }
}

fn describe_owners(owners: &PluginOwners) -> String {
    let mut lines: Vec<String> = owners
        .owners
        .iter()
        .map(|o| format!("{}  {} ({})", o.principal, o.name, o.kind.as_str()))
        .collect();
    if owners.orphaned {
        lines.push(format!(
            "{} has no owner left; an admin may invite one",
            owners.slug
        ));
    }
    for invitation in owners.invitations.iter().flatten() {
        lines.push(format!("invited: {}", describe_invitation(invitation)));
    }
    for q in &owners.quarantined {
        let what = q.version.as_deref().unwrap_or("the whole plugin");
        lines.push(format!(
            "quarantined by the admins since {}: {what}: {}",
            q.since,
            q.reason.escape_debug()
        ));
    }
    lines.join("\n")
}

fn describe_invitation(i: &InvitationInfo) -> String {
    let kind = if i.transfer {
        "handover"
    } else {
        "co-ownership"
    };
    format!(
        "{} for {} ({}), {kind}, until {}",
        i.slug, i.invitee_name, i.invitee, i.expires_at
    )
}

fn describe_team(team: &TeamInfo) -> String {
    let mut lines = vec![format!("{}  {}", team.id, team.name)];
    lines.extend(
        team.members
            .iter()
            .map(|m| format!("  {}  {} ({})", m.principal, m.name, m.role)),
    );
    lines.join("\n")
}

/// The invitee an answer is for: the one named, or the only invitation to
/// `slug` the caller may answer.
async fn invitee_for(cx: &Context, slug: &str, named: Option<String>) -> Result<String, Failure> {
    if let Some(invitee) = named {
        return Ok(invitee);
    }
    let found: Vec<InvitationInfo> = cx
        .client()?
        .invitations()
        .await?
        .into_iter()
        .filter(|i| i.slug == slug)
        .collect();
    match found.as_slice() {
        [only] => Ok(only.invitee.to_string()),
        [] => Err(Failure::new(
            exit::NOT_FOUND,
            format!("you have no pending invitation to own {slug}"),
        )),
        several => Err(Failure::new(
            exit::USAGE,
            format!(
                "there are {} invitations to own {slug} you may answer; choose one with --as ({})",
                several.len(),
                several
                    .iter()
                    .map(|i| i.invitee.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

pub(super) async fn owner(
    command: OwnerCommand,
    cx: &Context,
    out: &Output,
) -> Result<(), Failure> {
    let client = cx.client()?;
    match command {
        OwnerCommand::List { plugin } => {
            let owners = client.owners(&plugin).await?;
            out.result(|| describe_owners(&owners), || &owners);
        }
        OwnerCommand::Add {
            plugin,
            principal,
            transfer,
        } => {
            let invitation = client.invite_owner(&plugin, &principal, transfer).await?;
            out.result(
                || {
                    format!(
                        "Invited: {}. They become an owner when they accept (openworkflow plugin owner accept {plugin}).",
                        describe_invitation(&invitation)
                    )
                },
                || &invitation,
            );
        }
        OwnerCommand::Remove { plugin, principal } => {
            let owners = client.remove_owner(&plugin, &principal).await?;
            out.result(
                || {
                    format!(
                        "Removed {principal}; the owners now:\n{}",
                        describe_owners(&owners)
                    )
                },
                || &owners,
            );
        }
        OwnerCommand::Accept { plugin, invitee } => {
            let invitee = invitee_for(cx, &plugin, invitee).await?;
            let owners = client.accept_invitation(&plugin, &invitee).await?;
            out.result(
                || {
                    format!(
                        "You own {plugin} now. Its owners:\n{}",
                        describe_owners(&owners)
                    )
                },
                || &owners,
            );
        }
        OwnerCommand::Decline { plugin, invitee } => {
            let invitee = invitee_for(cx, &plugin, invitee).await?;
            client.decline_invitation(&plugin, &invitee).await?;
            out.result(
                || format!("Declined the invitation of {invitee} to own {plugin}"),
                || serde_json::json!({"slug": plugin, "invitee": invitee, "declined": true}),
            );
        }
        OwnerCommand::Invitations => {
            let invitations = client.invitations().await?;
            out.result(
                || {
                    if invitations.is_empty() {
                        "No pending invitations".to_owned()
                    } else {
                        invitations
                            .iter()
                            .map(describe_invitation)
                            .collect::<Vec<_>>()
                            .join("\n")
                    }
                },
                || &invitations,
            );
        }
    }
    Ok(())
}

pub(super) async fn team(command: TeamCommand, cx: &Context, out: &Output) -> Result<(), Failure> {
    let client = cx.client()?;
    let team = match command {
        TeamCommand::Create { name } => client.create_team(&name).await?,
        TeamCommand::Show { team } => client.team(&team).await?,
        TeamCommand::Add {
            team,
            principal,
            role,
        } => client.set_team_member(&team, &principal, role).await?,
        TeamCommand::Remove { team, principal } => {
            client.remove_team_member(&team, &principal).await?
        }
        TeamCommand::List => {
            let teams = client.teams().await?;
            out.result(
                || {
                    if teams.is_empty() {
                        "You belong to no team".to_owned()
                    } else {
                        teams
                            .iter()
                            .map(|t| format!("{}  {} ({})", t.id, t.name, t.role))
                            .collect::<Vec<_>>()
                            .join("\n")
                    }
                },
                || &teams,
            );
            return Ok(());
        }
    };
    out.result(|| describe_team(&team), || &team);
    Ok(())
}
