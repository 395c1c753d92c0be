//! A plugin's owners, invitations to own one, and teams.

use registry_core::api::owners::{
    CreateTeamRequest, InvitationInfo, InvitationList, InviteOwnerRequest, PluginOwners,
    SetTeamMemberRequest, TeamInfo, TeamList, TeamMembership,
};
use registry_core::ownership::Role;

use super::{ClientError, RegistryClient, Repeatable};

impl RegistryClient {
    /// `GET /plugins/{slug}/owners`: its owners (and, for an owner, pending invitations).
    pub async fn owners(&self, slug: &str) -> Result<PluginOwners, ClientError> {
        let url = self.url_of(&["plugins", slug, "owners"]);
        let response = self
            .send(Repeatable::Yes, || self.http.get(url.clone()))
            .await?;
        Self::json(&url, response).await
    }

    /// `POST /plugins/{slug}/owners`: invites `principal` to own `slug`; with
    /// `transfer`, accepting also removes the caller.
    pub async fn invite_owner(
        &self,
        slug: &str,
        principal: &str,
        transfer: bool,
    ) -> Result<InvitationInfo, ClientError> {
        let url = self.url_of(&["plugins", slug, "owners"]);
        let body = InviteOwnerRequest {
            principal: principal.to_owned(),
            transfer,
        };
        let response = self
            .send(Repeatable::OnlyIfUnprocessed, || {
                self.http.post(url.clone()).json(&body)
            })
            .await?;
        Self::json(&url, response).await
    }

    /// `DELETE /plugins/{slug}/owners/{principal}`: the owners left.
    pub async fn remove_owner(
        &self,
        slug: &str,
        principal: &str,
    ) -> Result<PluginOwners, ClientError> {
        let url = self.url_of(&["plugins", slug, "owners", principal]);
        let response = self
            .send(Repeatable::OnlyIfUnprocessed, || {
                self.http.delete(url.clone())
            })
            .await?;
        Self::json(&url, response).await
    }

    /// `POST /plugins/{slug}/invitations/{invitee}/accept`: the owners now.
    pub async fn accept_invitation(
        &self,
        slug: &str,
        invitee: &str,
    ) -> Result<PluginOwners, ClientError> {
        let url = self.url_of(&["plugins", slug, "invitations", invitee, "accept"]);
        let response = self
            .send(Repeatable::OnlyIfUnprocessed, || {
                self.http.post(url.clone())
            })
            .await?;
        Self::json(&url, response).await
    }

    /// `DELETE /plugins/{slug}/invitations/{invitee}`: declines (or, as an
    /// owner, withdraws) an invitation.
    pub async fn decline_invitation(&self, slug: &str, invitee: &str) -> Result<(), ClientError> {
        let url = self.url_of(&["plugins", slug, "invitations", invitee]);
        self.send(Repeatable::OnlyIfUnprocessed, || {
            self.http.delete(url.clone())
        })
        .await?;
        Ok(())
    }

    /// `GET /invitations`: those the caller may answer.
    pub async fn invitations(&self) -> Result<Vec<InvitationInfo>, ClientError> {
        let url = self.url_of(&["invitations"]);
        let response = self
            .send(Repeatable::Yes, || self.http.get(url.clone()))
            .await?;
        Ok(Self::json::<InvitationList>(&url, response)
            .await?
            .invitations)
    }

    /// `POST /teams`: a new team with the caller as its maintainer.
    pub async fn create_team(&self, name: &str) -> Result<TeamInfo, ClientError> {
        let url = self.url_of(&["teams"]);
        let body = CreateTeamRequest {
            name: name.to_owned(),
        };
        let response = self
            .send(Repeatable::OnlyIfUnprocessed, || {
                self.http.post(url.clone()).json(&body)
            })
            .await?;
        Self::json(&url, response).await
    }

    /// `GET /teams`: the caller's teams.
    pub async fn teams(&self) -> Result<Vec<TeamMembership>, ClientError> {
        let url = self.url_of(&["teams"]);
        let response = self
            .send(Repeatable::Yes, || self.http.get(url.clone()))
            .await?;
        Ok(Self::json::<TeamList>(&url, response).await?.teams)
    }

    /// `GET /teams/{team}`: a team and its members.
    pub async fn team(&self, team: &str) -> Result<TeamInfo, ClientError> {
        let url = self.url_of(&["teams", team]);
        let response = self
            .send(Repeatable::Yes, || self.http.get(url.clone()))
            .await?;
        Self::json(&url, response).await
    }

    /// `PUT /teams/{team}/members/{principal}`: adds a member or sets their role.
    pub async fn set_team_member(
        &self,
        team: &str,
        principal: &str,
        role: Role,
    ) -> Result<TeamInfo, ClientError> {
        let url = self.url_of(&["teams", team, "members", principal]);
        let body = SetTeamMemberRequest { role };
        let response = self
            .send(Repeatable::Yes, || self.http.put(url.clone()).json(&body))
            .await?;
        Self::json(&url, response).await
    }

    /// `DELETE /teams/{team}/members/{principal}`: the team after.
    pub async fn remove_team_member(
        &self,
        team: &str,
        principal: &str,
    ) -> Result<TeamInfo, ClientError> {
        let url = self.url_of(&["teams", team, "members", principal]);
        let response = self
            .send(Repeatable::OnlyIfUnprocessed, || {
                self.http.delete(url.clone())
            })
            .await?;
        Self::json(&url, response).await
    }
}
