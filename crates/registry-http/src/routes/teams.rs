//! Teams: `POST`/`GET /teams`, `GET /teams/{team}`,
//! `PUT`/`DELETE /teams/{team}/members/{principal}`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use registry_core::api::owners::{CreateTeamRequest, SetTeamMemberRequest, TeamList};
use registry_core::registry::TeamInfo;

use crate::auth::MaybeCaller;
use crate::body::{parse_json, read_limited};
use crate::problem::ApiError;
use crate::routes::json_response;
use crate::state::AppState;

const MAX_TEAM_BODY: usize = 4 * 1024;

/// Makes a team, with the caller as its first maintainer.
#[utoipa::path(
    post,
    path = "/teams",
    request_body = CreateTeamRequest,
    responses(
        (status = 201, description = "Made; invite it to own plugins by its id", body = TeamInfo),
        (status = 401, description = "No key"),
        (status = 403, description = "Not a person's key, or without the publish scope"),
        (status = 415, description = "Not JSON"),
        (status = 422, description = "A name to fix"),
    ),
    security(("api_key" = [])),
    tag = "teams"
)]
pub async fn create_team(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let caller = caller.required()?;
    let bytes = read_limited(&headers, body, MAX_TEAM_BODY).await?;
    let request: CreateTeamRequest = parse_json(&bytes)?;
    let team = state.registry.create_team(caller, &request.name).await?;
    Ok(json_response(StatusCode::CREATED, &team, true))
}

/// The teams the caller belongs to.
#[utoipa::path(
    get,
    path = "/teams",
    responses(
        (status = 200, description = "Your teams and your role in each", body = TeamList),
        (status = 401, description = "No key"),
    ),
    security(("api_key" = [])),
    tag = "teams"
)]
pub async fn list_teams(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
) -> Result<Response, ApiError> {
    let caller = caller.required()?;
    let teams = state.registry.my_teams(caller).await?;
    Ok(json_response(StatusCode::OK, &TeamList { teams }, true))
}

/// A team and its members (its members and admins).
#[utoipa::path(
    get,
    path = "/teams/{team}",
    params(("team" = String, Path, description = "The team's principal id (prn_...)")),
    responses(
        (status = 200, description = "The team", body = TeamInfo),
        (status = 401, description = "No key"),
        (status = 404, description = "No such team among yours (`team_not_found`)"),
    ),
    security(("api_key" = [])),
    tag = "teams"
)]
pub async fn get_team(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path(team): Path<String>,
) -> Result<Response, ApiError> {
    let caller = caller.required()?;
    let team = state.registry.team(caller, &team).await?;
    Ok(json_response(StatusCode::OK, &team, true))
}

/// Adds a person to a team or changes their role (its maintainers and admins).
#[utoipa::path(
    put,
    path = "/teams/{team}/members/{principal}",
    params(
        ("team" = String, Path, description = "The team's principal id"),
        ("principal" = String, Path, description = "The person's principal id"),
    ),
    request_body = SetTeamMemberRequest,
    responses(
        (status = 200, description = "Set; the team now", body = TeamInfo),
        (status = 401, description = "No key"),
        (status = 403, description = "Not a maintainer of the team"),
        (status = 404, description = "No such team among yours, or no such principal"),
        (status = 409, description = "It would leave no maintainer (`last_maintainer`), or the team is full (`roster_full`)"),
        (status = 415, description = "Not JSON"),
        (status = 422, description = "Not a person, or not a team role"),
    ),
    security(("api_key" = [])),
    tag = "teams"
)]
pub async fn set_team_member(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path((team, principal)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let caller = caller.required()?;
    let bytes = read_limited(&headers, body, MAX_TEAM_BODY).await?;
    let request: SetTeamMemberRequest = parse_json(&bytes)?;
    let team = state
        .registry
        .set_team_member(caller, &team, &principal, request.role)
        .await?;
    Ok(json_response(StatusCode::OK, &team, true))
}

/// Removes a member (maintainers and admins; a member may leave); never the
/// last maintainer.
#[utoipa::path(
    delete,
    path = "/teams/{team}/members/{principal}",
    params(
        ("team" = String, Path, description = "The team's principal id"),
        ("principal" = String, Path, description = "The member's principal id"),
    ),
    responses(
        (status = 200, description = "Removed; the team now", body = TeamInfo),
        (status = 401, description = "No key"),
        (status = 403, description = "Not a maintainer of the team"),
        (status = 404, description = "No such team among yours, or not a member (`team_member_not_found`)"),
        (status = 409, description = "The last maintainer (`last_maintainer`)"),
    ),
    security(("api_key" = [])),
    tag = "teams"
)]
pub async fn remove_team_member(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path((team, principal)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let caller = caller.required()?;
    let team = state
        .registry
        .remove_team_member(caller, &team, &principal)
        .await?;
    Ok(json_response(StatusCode::OK, &team, true))
}
