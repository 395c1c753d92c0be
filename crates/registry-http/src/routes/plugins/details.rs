//! `GET /plugins/{slug}`: the spec's JSON for programs, the plugin's page for
//! people, on one URL.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use registry_core::registry::PluginDetails;
use serde::Deserialize;

use super::index_file::{ReaderRoute, route_for_reader, serve_index_file_or_missing_page};
use crate::auth::Reader;
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
/// (`index/plugins/…`): on a public registry anyone, on a private one a signed-in
/// browser (one with neither key nor session is sent to sign in); everyone else
/// the JSON.
#[utoipa::path(
    get,
    path = "/plugins/{slug}",
    params(("slug" = String, Path, description = "Plugin slug"), DetailsParams),
    responses(
        (status = 200, description = "The plugin at that version: JSON, or its page for a browser (on a private registry, a signed-in one)", content(
            (PluginDetails = "application/json"),
            (String = "text/html"),
        )),
        (status = 303, description = "A private registry, and a browser with neither key nor session asking for the page: to the sign-in page, returning here"),
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
    reader: Reader,
    Path(slug): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    params: Result<Query<DetailsParams>, QueryRejection>,
) -> Response {
    let answer = details_or_page(&state, &reader, &slug, &uri, &headers, params).await;
    vary_on_accept(answer.unwrap_or_else(IntoResponse::into_response))
}

async fn details_or_page(
    state: &AppState,
    reader: &Reader,
    slug: &str,
    uri: &Uri,
    headers: &HeaderMap,
    params: Result<Query<DetailsParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let path = format!("/plugins/{slug}");
    match route_for_reader(state, reader, &path, uri.query(), uri, headers)? {
        ReaderRoute::SignIn(sign_in) => return Ok(sign_in),
        ReaderRoute::File(file) => {
            if let Some(response) = serve_index_file_or_missing_page(state, &file, headers).await? {
                return Ok(response);
            }
        }
        ReaderRoute::Api => {}
    }
    state.registry.authorize_read(reader.caller_for(None))?;
    let Query(params) =
        params.map_err(|e| ApiError::bad_request("invalid_parameter", e.body_text()))?;
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
