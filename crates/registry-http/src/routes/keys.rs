//! `POST /auth/keys`, `GET /auth/keys`, `DELETE /auth/keys/{key_id}`

use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use registry_core::auth::{PrincipalId, Scope, Scopes};
use registry_core::registry::{KeyInfo, NewKey, NewPrincipal};
use serde::Deserialize;

use crate::auth::MaybeCaller;
use crate::body::{parse_json, read_limited};
use crate::problem::ApiError;
use crate::routes::json_response;
use crate::state::AppState;
use registry_core::api::keys::{CreateKeyRequest, CreatedKeyResponse, KeyList};

const MAX_KEY_BODY: usize = 16 * 1024;

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
                expires_in_days: request.expires_in_days,
                plugins: request.plugins,
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
