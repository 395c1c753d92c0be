//! `GET /plugins/{slug}/{version}/schema` and `.../bundle`

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use registry_core::artifact::{IMMUTABLE_CACHE_CONTROL, PRIVATE_CACHE_CONTROL};
use registry_core::downloads::DownloadClient;
use registry_core::registry::Download;

use registry_index::path::IndexPath;

use super::index_file::{download_headers, index_path_of, serve_index_file};
use crate::auth::MaybeCaller;
use crate::problem::ApiError;
use crate::state::AppState;

fn artifact_response(download: Download, private: bool) -> Response {
    let mut response = (StatusCode::OK, download.bytes).into_response();
    let headers = response.headers_mut();
    if let Ok(ct) = HeaderValue::from_str(&download.content_type) {
        headers.insert(header::CONTENT_TYPE, ct);
    }
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", download.sha256)) {
        headers.insert(header::ETAG, etag);
    }
    let cache = if private {
        PRIVATE_CACHE_CONTROL
    } else {
        IMMUTABLE_CACHE_CONTROL
    };
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    download_headers(headers);
    response
}

/// Counts a download if the answer sent one: a `GET` answered 200 with a schema or
/// bundle. A `HEAD`, a 304 or an error is no download.
pub(crate) async fn count_if_downloaded(
    state: &AppState,
    method: &Method,
    path: &IndexPath,
    request_headers: &HeaderMap,
    status: StatusCode,
) {
    if let IndexPath::Schema(slug, version) | IndexPath::Bundle(slug, version) = path
        && *method == Method::GET
        && status == StatusCode::OK
    {
        let client = client_of(request_headers);
        state.registry.count_download(slug, version, client).await;
    }
}

/// Who is downloading, as the `User-Agent` says.
fn client_of(request_headers: &HeaderMap) -> DownloadClient {
    DownloadClient::from_user_agent(
        request_headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok()),
    )
}

/// The index copy of a schema or bundle, counting the download when one is sent.
async fn from_index(
    state: &AppState,
    uri: &str,
    method: &Method,
    headers: &HeaderMap,
) -> Result<Option<Response>, ApiError> {
    let Some(path) = index_path_of(uri, None, None, false) else {
        return Ok(None);
    };
    let response = serve_index_file(state, &path, headers).await?;
    if let Some(sent) = &response {
        let status = sent.status();
        count_if_downloaded(state, method, &path, headers, status).await;
    }
    Ok(response)
}

/// An artifact read from the catalog, sent and counted.
async fn send_artifact(
    state: &AppState,
    method: &Method,
    headers: &HeaderMap,
    download: Download,
) -> Response {
    if *method == Method::GET {
        let client = client_of(headers);
        state
            .registry
            .count_download(&download.slug, &download.version, client)
            .await;
    }
    artifact_response(download, state.registry.config().private)
}

/// The schema document exactly as published (its SHA-256 is the details' `sha256`).
#[utoipa::path(
    get,
    path = "/plugins/{slug}/{version}/schema",
    params(("slug" = String, Path, description = "Plugin slug"), ("version" = String, Path, description = "Version")),
    responses(
        (status = 200, description = "The document, as application/json or application/yaml"),
        (status = 304, description = "Not modified: the If-None-Match ETag still holds"),
        (status = 404, description = "No such plugin or version"),
        (status = 410, description = "That version was unpublished"),
    ),
    security((), ("api_key" = [])),
    tag = "plugins"
)]
pub async fn download_schema(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path((slug, version)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    state.registry.authorize_read(caller.0.as_ref())?;
    let uri = format!("/plugins/{slug}/{version}/schema");
    if let Some(response) = from_index(&state, &uri, &method, &headers).await? {
        return Ok(response);
    }
    let download = state.registry.download_schema(&slug, &version).await?;
    Ok(send_artifact(&state, &method, &headers, download).await)
}

/// The version's ZIP bundle, when it was published as one.
#[utoipa::path(
    get,
    path = "/plugins/{slug}/{version}/bundle",
    params(("slug" = String, Path, description = "Plugin slug"), ("version" = String, Path, description = "Version")),
    responses(
        (status = 200, description = "The ZIP", content_type = "application/zip"),
        (status = 304, description = "Not modified: the If-None-Match ETag still holds"),
        (status = 404, description = "No such version, or it has no bundle"),
        (status = 410, description = "That version was unpublished"),
    ),
    security((), ("api_key" = [])),
    tag = "plugins"
)]
pub async fn download_bundle(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path((slug, version)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    state.registry.authorize_read(caller.0.as_ref())?;
    let uri = format!("/plugins/{slug}/{version}/bundle");
    if let Some(response) = from_index(&state, &uri, &method, &headers).await? {
        return Ok(response);
    }
    let download = state.registry.download_bundle(&slug, &version).await?;
    Ok(send_artifact(&state, &method, &headers, download).await)
}
