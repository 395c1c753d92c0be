//! The audit log: `GET /plugins/{slug}/audit` for a plugin's owners,
//! `GET /audit` for admins. Newest first, a page at a time; never cached by a
//! shared cache.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use registry_core::registry::{AuditLog, AuditQuery};
use serde::Deserialize;

use crate::auth::MaybeCaller;
use crate::problem::ApiError;
use crate::routes::{json_response, query};
use crate::state::AppState;

/// Which page of the log.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AuditParams {
    /// Only records older than this one: the previous page's `next_before`.
    before: Option<String>,
    /// At most this many records, 1 to 100 (default 50).
    limit: Option<usize>,
}

impl From<AuditParams> for AuditQuery {
    fn from(params: AuditParams) -> Self {
        Self {
            before: params.before,
            limit: params.limit,
        }
    }
}

/// A plugin's audit log, newest first: its owners (and members of owning
/// teams) and admins.
#[utoipa::path(
    get,
    path = "/plugins/{slug}/audit",
    params(("slug" = String, Path, description = "The plugin"), AuditParams),
    responses(
        (status = 200, description = "A page of the plugin's log", body = AuditLog),
        (status = 400, description = "A `limit` outside 1 to 100, or a `before` that is not a record id (`invalid_parameter`)"),
        (status = 401, description = "No key"),
        (status = 403, description = "Not an owner of the plugin, or a key limited to other plugins"),
        (status = 404, description = "No such plugin"),
    ),
    security(("api_key" = [])),
    tag = "audit"
)]
pub async fn plugin_audit(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path(slug): Path<String>,
    params: Result<Query<AuditParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let caller = caller.required()?;
    let params = query(params)?;
    let log = state
        .registry
        .plugin_audit(caller, &slug, &params.into())
        .await?;
    Ok(json_response(StatusCode::OK, &log, true))
}

/// The whole audit log, newest first: admin keys only.
#[utoipa::path(
    get,
    path = "/audit",
    params(AuditParams),
    responses(
        (status = 200, description = "A page of the log", body = AuditLog),
        (status = 400, description = "A `limit` outside 1 to 100, or a `before` that is not a record id (`invalid_parameter`)"),
        (status = 401, description = "No key"),
        (status = 403, description = "Not an admin key"),
    ),
    security(("api_key" = [])),
    tag = "audit"
)]
pub async fn audit_log(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    params: Result<Query<AuditParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let caller = caller.required()?;
    let params = query(params)?;
    let log = state.registry.audit_log(caller, &params.into()).await?;
    Ok(json_response(StatusCode::OK, &log, true))
}
