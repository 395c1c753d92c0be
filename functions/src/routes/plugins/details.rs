//! `GET /plugins/{slug}`

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use registry_core::registry::PluginDetails;
use serde::Deserialize;

use crate::auth::MaybeCaller;
use crate::problem::{ApiError, Problem};
use crate::routes::json_response;
use crate::state::AppState;

/// Query parameters of the details route.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DetailsParams {
    /// A specific version (default: the latest).
    version: Option<String>,
}

/// Details of a plugin at its latest or a given version.
#[utoipa::path(
    get,
    path = "/plugins/{slug}",
    params(("slug" = String, Path, description = "Plugin slug"), DetailsParams),
    responses(
        (status = 200, description = "The plugin at that version", body = PluginDetails),
        (status = 400, description = "Malformed version", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such plugin or version", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "That version was unpublished", body = Problem, content_type = "application/problem+json"),
    ),
    tag = "plugins"
)]
pub async fn get_plugin(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path(slug): Path<String>,
    params: Result<Query<DetailsParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    state.registry.authorize_read(caller.0.as_ref())?;
    let Query(params) =
        params.map_err(|e| ApiError::bad_request("invalid_parameter", e.body_text()))?;
    let details = state
        .registry
        .plugin_details(&slug, params.version.as_deref())
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &details,
        state.registry.config().private,
    ))
}
