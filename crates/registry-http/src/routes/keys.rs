//! `POST /auth/keys`, `GET /auth/keys`, `DELETE /auth/keys/{key_id}`

use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use registry_core::auth::{PrincipalId, PrincipalKind, Scope, Scopes};
use registry_core::registry::{KeyInfo, NewKey, NewPrincipal};
use serde::{Deserialize, Serialize};

use crate::auth::MaybeCaller;
use crate::body::{parse_json, read_limited};
use crate::problem::ApiError;
use crate::routes::json_response;
use crate::state::AppState;

const MAX_KEY_BODY: usize = 16 * 1024;

/// A principal to create with the key (admin keys only).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPrincipalRequest {
    /// Display name.
    name: String,
    /// `user`, `team` or `org`.
    kind: PrincipalKind,
}

/// A key to create.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    /// Label, such as "CI/CD Pipeline".
    name: String,
    /// Scopes (default: `publish`).
    #[serde(default)]
    scopes: Option<Vec<Scope>>,
    /// Attach to this existing principal (admin keys only, unless it is the caller's).
    #[serde(default)]
    principal: Option<String>,
    /// Or create this principal for the key (admin keys only).
    #[serde(default)]
    new_principal: Option<NewPrincipalRequest>,
}

/// A created key; `key` is shown only this once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedKeyResponse {
    /// The secret, `sk_...`: store it now, it cannot be shown again.
    key: String,
    /// Everything else about it.
    #[serde(flatten)]
    info: KeyInfo,
}

/// A list of keys.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeyList {
    /// The keys, oldest first, without secrets.
    keys: Vec<KeyInfo>,
}

/// Filters of the key list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct KeyListParams {
    /// Only this principal's keys (admins; others see only their own).
    principal: Option<String>,
}

/// Creates an API key.
#[utoipa::path(
    post,
    path = "/auth/keys",
    request_body = CreateKeyRequest,
    responses(
        (status = 201, description = "Created; the secret is in `key`", body = CreatedKeyResponse),
        (status = 403, description = "Not allowed for this key"),
        (status = 422, description = "Invalid request"),
    ),
    security(("api_key" = [])),
    tag = "keys"
)]
pub async fn create_key(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let caller = caller.required()?;
    let bytes = read_limited(&headers, body, MAX_KEY_BODY).await?;
    let request: CreateKeyRequest = parse_json(&bytes)?;
    let created = state
        .registry
        .create_key(
            caller,
            NewKey {
                name: request.name,
                scopes: request
                    .scopes
                    .map(|s| s.into_iter().collect())
                    .unwrap_or_else(|| Scopes::from([Scope::Publish])),
                principal: request.principal.map(PrincipalId::from_stored),
                new_principal: request.new_principal.map(|p| NewPrincipal {
                    name: p.name,
                    kind: p.kind,
                }),
            },
        )
        .await?;
    Ok(json_response(
        StatusCode::CREATED,
        &CreatedKeyResponse {
            key: created.secret.expose().to_owned(),
            info: created.info,
        },
        true,
    ))
}

/// Lists keys without their secrets.
#[utoipa::path(
    get,
    path = "/auth/keys",
    params(KeyListParams),
    responses(
        (status = 200, description = "The keys", body = KeyList),
        (status = 403, description = "Another principal's keys"),
    ),
    security(("api_key" = [])),
    tag = "keys"
)]
pub async fn list_keys(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    params: Result<Query<KeyListParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let caller = caller.required()?;
    let Query(params) =
        params.map_err(|e| ApiError::bad_request("invalid_parameter", e.body_text()))?;
    let keys = state
        .registry
        .list_keys(caller, params.principal.as_deref())
        .await?;
    Ok(json_response(StatusCode::OK, &KeyList { keys }, true))
}

/// Revokes a key (idempotent).
#[utoipa::path(
    delete,
    path = "/auth/keys/{key_id}",
    params(("key_id" = String, Path, description = "The key's id (key_...)")),
    responses(
        (status = 200, description = "Revoked", body = KeyInfo),
        (status = 404, description = "No such key among those the caller may manage"),
    ),
    security(("api_key" = [])),
    tag = "keys"
)]
pub async fn revoke_key(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path(key_id): Path<String>,
) -> Result<Response, ApiError> {
    let caller = caller.required()?;
    let info = state.registry.revoke_key(caller, &key_id).await?;
    Ok(json_response(StatusCode::OK, &info, true))
}
