//! Platform administration: orgs, their members, and principals' permissions.
//! Every route needs an `admin` key of a `sys_admin` principal (except reading
//! one's own permissions).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use registry_core::auth::PrincipalId;
use registry_core::org::Permission;
use registry_core::registry::{MemberInfo, OrgInfo};
use serde::{Deserialize, Serialize};

use crate::auth::MaybeCaller;
use crate::body::{parse_json, read_limited};
use crate::problem::ApiError;
use crate::routes::json_response;
use crate::state::AppState;

const MAX_ORG_BODY: usize = 4 * 1024;

/// An org to create.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrgRequest {
    /// Its id: lowercase letters, digits and `-` (used in URLs).
    id: String,
    /// Display name.
    name: String,
}

/// Every org.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrgList {
    /// The orgs, by id.
    orgs: Vec<OrgInfo>,
}

/// An org's members.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MemberList {
    /// The members, by principal id.
    members: Vec<MemberInfo>,
}

/// A principal's permissions.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PermissionList {
    /// The principal.
    principal: String,
    /// What it holds.
    permissions: Vec<Permission>,
}

/// Creates an org.
#[utoipa::path(
    post,
    path = "/api/orgs",
    request_body = CreateOrgRequest,
    responses(
        (status = 201, description = "Created", body = OrgInfo),
        (status = 403, description = "Not an admin key of a sys_admin"),
        (status = 409, description = "The id is taken"),
        (status = 422, description = "Invalid id or name"),
    ),
    security(("api_key" = [])),
    tag = "administration"
)]
pub async fn create_org(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    caller.required()?;
    let bytes = read_limited(&headers, body, MAX_ORG_BODY).await?;
    let request: CreateOrgRequest = parse_json(&bytes)?;
    let org = state
        .registry
        .create_org(caller.0.as_ref(), &request.id, &request.name)
        .await?;
    Ok(json_response(StatusCode::CREATED, &org, true))
}

/// Lists every org.
#[utoipa::path(
    get,
    path = "/api/orgs",
    responses(
        (status = 200, description = "The orgs", body = OrgList),
        (status = 403, description = "Not an admin key of a sys_admin"),
    ),
    security(("api_key" = [])),
    tag = "administration"
)]
pub async fn list_orgs(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
) -> Result<Response, ApiError> {
    let orgs = state.registry.list_orgs(caller.0.as_ref()).await?;
    Ok(json_response(StatusCode::OK, &OrgList { orgs }, true))
}

/// Lists an org's members.
#[utoipa::path(
    get,
    path = "/api/orgs/{org_id}/members",
    params(("org_id" = String, Path, description = "The org")),
    responses(
        (status = 200, description = "The members", body = MemberList),
        (status = 403, description = "Not an admin key of a sys_admin"),
        (status = 404, description = "No such org"),
    ),
    security(("api_key" = [])),
    tag = "administration"
)]
pub async fn list_members(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path(org_id): Path<String>,
) -> Result<Response, ApiError> {
    let members = state
        .registry
        .org_members(caller.0.as_ref(), &org_id)
        .await?;
    Ok(json_response(StatusCode::OK, &MemberList { members }, true))
}

/// Adds a principal to an org (idempotent).
#[utoipa::path(
    put,
    path = "/api/orgs/{org_id}/members/{principal_id}",
    params(("org_id" = String, Path, description = "The org"), ("principal_id" = String, Path, description = "The principal (prn_...)")),
    responses(
        (status = 204, description = "A member"),
        (status = 403, description = "Not an admin key of a sys_admin"),
        (status = 404, description = "No such org or principal"),
    ),
    security(("api_key" = [])),
    tag = "administration"
)]
pub async fn add_member(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path((org_id, principal_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    state
        .registry
        .add_org_member(
            caller.0.as_ref(),
            &org_id,
            &PrincipalId::from_stored(principal_id),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Removes a principal from an org.
#[utoipa::path(
    delete,
    path = "/api/orgs/{org_id}/members/{principal_id}",
    params(("org_id" = String, Path, description = "The org"), ("principal_id" = String, Path, description = "The principal (prn_...)")),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, description = "Not an admin key of a sys_admin"),
        (status = 404, description = "No such org, or not a member"),
    ),
    security(("api_key" = [])),
    tag = "administration"
)]
pub async fn remove_member(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path((org_id, principal_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    state
        .registry
        .remove_org_member(
            caller.0.as_ref(),
            &org_id,
            &PrincipalId::from_stored(principal_id),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A principal's permissions (its own, or anyone's for platform admins).
#[utoipa::path(
    get,
    path = "/api/principals/{principal_id}/permissions",
    params(("principal_id" = String, Path, description = "The principal (prn_...)")),
    responses(
        (status = 200, description = "The permissions", body = PermissionList),
        (status = 403, description = "Another principal's, and not a platform admin"),
        (status = 404, description = "No such principal"),
    ),
    security(("api_key" = [])),
    tag = "administration"
)]
pub async fn list_permissions(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path(principal_id): Path<String>,
) -> Result<Response, ApiError> {
    let principal = PrincipalId::from_stored(principal_id);
    let permissions = state
        .registry
        .principal_permissions(caller.0.as_ref(), &principal)
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &PermissionList {
            principal: principal.to_string(),
            permissions: permissions.into_iter().collect(),
        },
        true,
    ))
}

/// Grants a permission (idempotent).
#[utoipa::path(
    put,
    path = "/api/principals/{principal_id}/permissions/{permission}",
    params(("principal_id" = String, Path, description = "The principal (prn_...)"), ("permission" = String, Path, description = "cadence:org:plugins:read, cadence:org:plugins:write or sys_admin")),
    responses(
        (status = 204, description = "Held"),
        (status = 400, description = "Unknown permission"),
        (status = 403, description = "Not an admin key of a sys_admin"),
        (status = 404, description = "No such principal"),
    ),
    security(("api_key" = [])),
    tag = "administration"
)]
pub async fn grant_permission(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path((principal_id, permission)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    state
        .registry
        .grant_permission(
            caller.0.as_ref(),
            &PrincipalId::from_stored(principal_id),
            &permission,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Revokes a permission.
#[utoipa::path(
    delete,
    path = "/api/principals/{principal_id}/permissions/{permission}",
    params(("principal_id" = String, Path, description = "The principal (prn_...)"), ("permission" = String, Path, description = "The permission")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 400, description = "Unknown permission"),
        (status = 403, description = "Not an admin key of a sys_admin"),
        (status = 404, description = "Not held"),
    ),
    security(("api_key" = [])),
    tag = "administration"
)]
pub async fn revoke_permission(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path((principal_id, permission)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    state
        .registry
        .revoke_permission(
            caller.0.as_ref(),
            &PrincipalId::from_stored(principal_id),
            &permission,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
