//! A plugin's owners and the invitations to join them:
//! `GET`/`POST /plugins/{slug}/owners`, `DELETE /plugins/{slug}/owners/{principal}`,
//! `POST /plugins/{slug}/invitations/{principal}/accept`,
//! `DELETE /plugins/{slug}/invitations/{principal}`, `GET /invitations`.
//! Answers are never cached by a shared cache: an owner's carries invitations.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use registry_core::api::owners::{InvitationList, InviteOwnerRequest};
use registry_core::registry::{Answer, InvitationInfo, PluginOwners};

use crate::auth::MaybeCaller;
use crate::body::{parse_json, read_limited};
use crate::problem::ApiError;
use crate::routes::json_response;
use crate::state::AppState;

const MAX_OWNER_BODY: usize = 4 * 1024;

/// A plugin's owners; its pending invitations too for owners and admins.
#[utoipa::path(
    get,
    path = "/plugins/{slug}/owners",
    params(("slug" = String, Path, description = "The plugin")),
    responses(
        (status = 200, description = "The owners", body = PluginOwners),
        (status = 401, description = "A private registry, without a key"),
        (status = 404, description = "No such plugin"),
    ),
    tag = "owners"
)]
pub async fn list_owners(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path(slug): Path<String>,
) -> Result<Response, ApiError> {
    let owners = state
        .registry
        .plugin_owners(caller.0.as_ref(), &slug)
        .await?;
    Ok(json_response(StatusCode::OK, &owners, true))
}

/// Invites a person or team to own the plugin (owners and admins); they join
/// when they accept.
#[utoipa::path(
    post,
    path = "/plugins/{slug}/owners",
    params(("slug" = String, Path, description = "The plugin")),
    request_body = InviteOwnerRequest,
    responses(
        (status = 201, description = "Invited; the invitation lapses after 30 days", body = InvitationInfo),
        (status = 401, description = "No key"),
        (status = 403, description = "Not an owner of the plugin, or a key limited to other plugins"),
        (status = 404, description = "No such plugin or principal"),
        (status = 409, description = "Already an owner (`already_owner`), already invited (`invitation_exists`), or too many owners (`roster_full`)"),
        (status = 415, description = "Not JSON"),
        (status = 422, description = "An org, or a transfer by someone who is not an owner in person"),
    ),
    security(("api_key" = [])),
    tag = "owners"
)]
pub async fn invite_owner(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path(slug): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let caller = caller.required()?;
    let bytes = read_limited(&headers, body, MAX_OWNER_BODY).await?;
    let request: InviteOwnerRequest = parse_json(&bytes)?;
    let invitation = state
        .registry
        .invite_owner(caller, &slug, &request.principal, request.transfer)
        .await?;
    Ok(json_response(StatusCode::CREATED, &invitation, true))
}

/// Removes an owner (owners and admins); never the last one.
#[utoipa::path(
    delete,
    path = "/plugins/{slug}/owners/{principal}",
    params(
        ("slug" = String, Path, description = "The plugin"),
        ("principal" = String, Path, description = "The owner to remove (prn_...)"),
    ),
    responses(
        (status = 200, description = "Removed; the owners left", body = PluginOwners),
        (status = 401, description = "No key"),
        (status = 403, description = "Not an owner of the plugin"),
        (status = 404, description = "No such plugin, or not an owner (`owner_not_found`)"),
        (status = 409, description = "The last owner (`last_owner`)"),
    ),
    security(("api_key" = [])),
    tag = "owners"
)]
pub async fn remove_owner(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path((slug, principal)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let caller = caller.required()?;
    let owners = state
        .registry
        .remove_owner(caller, &slug, &principal)
        .await?;
    Ok(json_response(StatusCode::OK, &owners, true))
}

/// Accepts an invitation: the invitee, or a maintainer of the invitee team.
#[utoipa::path(
    post,
    path = "/plugins/{slug}/invitations/{principal}/accept",
    params(
        ("slug" = String, Path, description = "The plugin"),
        ("principal" = String, Path, description = "The invitee (prn_...): yourself, or a team you maintain"),
    ),
    responses(
        (status = 200, description = "Accepted; the owners now", body = PluginOwners),
        (status = 401, description = "No key"),
        (status = 404, description = "No pending invitation you may answer (`invitation_not_found`)"),
        (status = 409, description = "Too many owners (`roster_full`)"),
    ),
    security(("api_key" = [])),
    tag = "owners"
)]
pub async fn accept_invitation(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path((slug, principal)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let caller = caller.required()?;
    let owners = state
        .registry
        .answer_invitation(caller, &slug, &principal, Answer::Accept)
        .await?;
    Ok(json_response(StatusCode::OK, &owners, true))
}

/// Declines an invitation (the invitee) or withdraws it (an owner or admin).
#[utoipa::path(
    delete,
    path = "/plugins/{slug}/invitations/{principal}",
    params(
        ("slug" = String, Path, description = "The plugin"),
        ("principal" = String, Path, description = "The invitee (prn_...)"),
    ),
    responses(
        (status = 204, description = "Declined or withdrawn"),
        (status = 401, description = "No key"),
        (status = 404, description = "No pending invitation you may answer (`invitation_not_found`)"),
    ),
    security(("api_key" = [])),
    tag = "owners"
)]
pub async fn decline_invitation(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path((slug, principal)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let caller = caller.required()?;
    state
        .registry
        .answer_invitation(caller, &slug, &principal, Answer::Decline)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The invitations the caller may answer.
#[utoipa::path(
    get,
    path = "/invitations",
    responses(
        (status = 200, description = "Pending invitations to you and to teams you maintain", body = InvitationList),
        (status = 401, description = "No key"),
    ),
    security(("api_key" = [])),
    tag = "owners"
)]
pub async fn list_invitations(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
) -> Result<Response, ApiError> {
    let caller = caller.required()?;
    let invitations = state.registry.my_invitations(caller).await?;
    Ok(json_response(
        StatusCode::OK,
        &InvitationList { invitations },
        true,
    ))
}
