//! Plugin owners, invitations to own a plugin, and teams.

use serde::{Deserialize, Serialize};

use crate::ownership::Role;
pub use crate::registry::{
    InvitationInfo, OwnerInfo, PluginOwners, TeamInfo, TeamMemberInfo, TeamMembership,
};

/// An invitation to make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteOwnerRequest {
    /// The principal id (`prn_...`) of the person or team to invite; a person
    /// finds theirs on their account page.
    pub principal: String,
    /// Hand your own ownership over: accepting also removes you from the owners.
    #[serde(default)]
    pub transfer: bool,
}

/// Invitations the caller may answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InvitationList {
    /// Its own, and its teams' where it is a maintainer; lapsed ones left out.
    pub invitations: Vec<InvitationInfo>,
}

/// A team to make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTeamRequest {
    /// Its name, 1 to 100 characters.
    pub name: String,
}

/// The teams the caller belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TeamList {
    /// The teams, with the caller's role in each.
    pub teams: Vec<TeamMembership>,
}

/// A member's role to set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetTeamMemberRequest {
    /// `maintainer` or `member`.
    pub role: Role,
}
