//! `GET /plugins/{slug}`

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use registry_core::registry::PluginDetails;
use serde::Deserialize;

use super::index_file::{index_path_of, serve_index_file};
use crate::auth::MaybeCaller;
use crate::problem::ApiError;
use crate::routes::json_response;
use crate::state::AppState;

/// Query parameters of the details route.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DetailsParams {
    /// A specific version (default: the latest).
    version: Option<String>,
}

/// Details of a plugin at its latest or a given version: the static index file
/// (`index/plugins/{slug}.json`, `index/plugins/{slug}/{version}.json`).
#[utoipa::path(
    get,
    path = "/plugins/{slug}",
    params(("slug" = String, Path, description = "Plugin slug"), DetailsParams),
    responses(
        (status = 200, description = "The plugin at that version", body = PluginDetails),
        (status = 304, description = "Not modified: the If-None-Match ETag still holds"),
        (status = 400, description = "Malformed version"),
        (status = 404, description = "No such plugin or version"),
        (status = 410, description = "That version was unpublished"),
    ),
    security((), ("api_key" = [])),
    tag = "plugins"
)]
pub async fn get_plugin(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path(slug): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    params: Result<Query<DetailsParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    state.registry.authorize_read(caller.0.as_ref())?;
    let Query(params) =
        params.map_err(|e| ApiError::bad_request("invalid_parameter", e.body_text()))?;
    if let Some(path) = index_path_of(&format!("/plugins/{slug}"), query.as_deref())
        && let Some(response) = serve_index_file(&state, &path, &headers).await?
    {
        return Ok(response);
    }
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
