//! `GET /plugins/{slug}`: the spec's JSON for programs, the plugin's page for
//! people, on one URL.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use registry_core::registry::PluginDetails;
use serde::Deserialize;

use super::index_file::{index_path_of, serve_index_file_or_missing_page};
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
/// (`index/plugins/{slug}.json`, `index/plugins/{slug}/{version}.json`). A
/// browser, asking with `Accept: text/html` ahead of JSON, gets the plugin's page
/// (`index/plugins/…`) on a public registry; everyone else the JSON.
#[utoipa::path(
    get,
    path = "/plugins/{slug}",
    params(("slug" = String, Path, description = "Plugin slug"), DetailsParams),
    responses(
        (status = 200, description = "The plugin at that version: JSON, or its page for a browser on a public registry", content(
            (PluginDetails = "application/json"),
            (String = "text/html"),
        )),
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
) -> Response {
    let answer = details_or_page(&state, caller, &slug, query.as_deref(), &headers, params).await;
    vary_on_accept(answer.unwrap_or_else(IntoResponse::into_response))
}

async fn details_or_page(
    state: &AppState,
    caller: MaybeCaller,
    slug: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    params: Result<Query<DetailsParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    state.registry.authorize_read(caller.0.as_ref())?;
    let Query(params) =
        params.map_err(|e| ApiError::bad_request("invalid_parameter", e.body_text()))?;
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let path = index_path_of(state, &format!("/plugins/{slug}"), query, accept);
    if let Some(path) = &path
        && let Some(response) = serve_index_file_or_missing_page(state, path, headers).await?
    {
        return Ok(response);
    }
    let details = state
        .registry
        .plugin_details(slug, params.version.as_deref())
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &details,
        state.registry.config().private,
    ))
}

/// The answer depends on `Accept`: a shared cache must key on it.
pub(crate) fn vary_on_accept(mut response: Response) -> Response {
    response
        .headers_mut()
        .append(header::VARY, HeaderValue::from_static("accept"));
    response
}
