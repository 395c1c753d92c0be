//! Serving index files exactly as the CDN does: the protocol URL is mapped onto an
//! index path by the same function the CloudFront Function mirrors, and the
//! object's status, media type, cache policy and ETag are sent as stored.
//!
//! A file the index does not (yet) have is answered from the catalog instead: that
//! gives the precise 404 (`plugin_not_found`, `version_not_found`, `no_bundle`) and
//! covers an index still catching up.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use registry_core::RegistryError;
use registry_core::artifact::PRIVATE_CACHE_CONTROL;
use registry_index::path::{
    EdgeRoute, FileKind, INDEX_PREFIX, IndexPath, edge_route, prefers_html,
};
use registry_index::store::{Fetched, get_path};

use crate::auth::Reader;
use crate::problem::ApiError;
use crate::session::{asked_for, sign_in_first};
use crate::state::AppState;

/// The index file a `GET` of `uri` (with `query`, asked for with `accept`) reads,
/// if the CDN would map it; pages only for a reader shown them.
pub(crate) fn index_path_of(
    uri: &str,
    query: Option<&str>,
    accept: Option<&str>,
    pages: bool,
) -> Option<IndexPath> {
    match edge_route("GET", uri, query, accept, pages) {
        EdgeRoute::Object(key) => IndexPath::parse(key.strip_prefix(INDEX_PREFIX)?),
        EdgeRoute::Api => None,
    }
}

/// The file at `path` as an HTTP response (304 when `If-None-Match` still holds);
/// `None` when the index has no such file.
pub(crate) async fn serve_index_file(
    state: &AppState,
    path: &IndexPath,
    request_headers: &HeaderMap,
) -> Result<Option<Response>, ApiError> {
    let if_none_match = request_headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    let private = state.registry.config().private;
    let fetched = get_path(state.index.as_ref(), path, if_none_match)
        .await
        .map_err(RegistryError::Storage)?;
    let (status, body, content_type, cache_control, etag) = match fetched {
        Fetched::Missing => return Ok(None),
        Fetched::NotModified => (
            StatusCode::NOT_MODIFIED,
            Body::empty(),
            None,
            None,
            if_none_match.map(str::to_owned),
        ),
        Fetched::Found { object, etag } => (
            StatusCode::from_u16(object.status).unwrap_or(StatusCode::OK),
            Body::from(object.bytes),
            Some(object.content_type),
            Some(object.cache_control),
            Some(etag),
        ),
    };
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    let mut set = |name, value: Option<String>| {
        if let Some(value) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
            headers.insert(name, value);
        }
    };
    set(header::CONTENT_TYPE, content_type);
    set(header::ETAG, etag);
    set(
        header::CACHE_CONTROL,
        if private {
            Some(PRIVATE_CACHE_CONTROL.to_owned())
        } else {
            cache_control
        },
    );
    match path.kind() {
        FileKind::Page | FileKind::Chart => page_headers(response.headers_mut()),
        FileKind::Schema | FileKind::Bundle => download_headers(response.headers_mut()),
        _ => {}
    }
    Ok(Some(response))
}

/// As [`serve_index_file`], except that a page nobody has is answered with the
/// not-found page (404) rather than `None`.
pub(crate) async fn serve_index_file_or_missing_page(
    state: &AppState,
    path: &IndexPath,
    request_headers: &HeaderMap,
) -> Result<Option<Response>, ApiError> {
    match serve_index_file(state, path, request_headers).await? {
        None if path.kind() == FileKind::Page => not_found_page(state).await.map(Some),
        found => Ok(found),
    }
}

/// The not-found page, for a browser that asked for a page nobody has.
pub(crate) async fn not_found_page(state: &AppState) -> Result<Response, ApiError> {
    // No conditional headers: they were about the page asked for, not this one.
    serve_index_file(state, &IndexPath::NotFoundPage, &HeaderMap::new())
        .await?
        .ok_or_else(|| ApiError::not_found("there is no page at this address"))
}

/// What every page is sent with: its content security policy (no script or
/// style but the registry's own, no frames), and no sniffing of its type.
pub(crate) fn page_headers(headers: &mut HeaderMap) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(registry_pages::CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
}

/// What schema and bundle downloads are sent with: strangers upload them to the
/// origin that serves the pages, so a browser must save them, never render them
/// as a page of this origin, and a copy rendered anyway runs sandboxed.
pub(crate) fn download_headers(headers: &mut HeaderMap) {
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(registry_pages::DOWNLOAD_CONTENT_SECURITY_POLICY),
    );
}

/// On a private registry, a browser asking for a page with neither a key nor a
/// session is sent to sign in, coming back to `uri` afterwards.
pub(crate) fn sign_in_for_page(
    state: &AppState,
    reader: &Reader,
    headers: &HeaderMap,
    uri: &Uri,
) -> Option<Response> {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let wants_page =
        state.registry.config().private && reader.is_anonymous() && prefers_html(accept);
    wants_page.then(|| {
        let site = registry_pages::Site::new(&state.registry.config().public_url);
        sign_in_first(&site, asked_for(uri))
    })
}

/// Where a route that serves pages as well as JSON finds its answer for a reader.
pub(crate) enum ReaderRoute {
    /// An anonymous browser on a private registry: this sends it to sign in.
    SignIn(Response),
    /// The index file the CDN would serve, which the reader may read.
    File(IndexPath),
    /// Nothing the CDN would serve: the route answers itself, under the API's
    /// gate.
    Api,
}

/// The answer a page-or-JSON route gives a `GET` of `path` (with `query`),
/// decided in one order for every such route: a private registry's anonymous
/// browser signs in first; otherwise the file the CDN would map the request
/// to, the reader's right to it checked (a session counts for pages only).
pub(crate) fn route_for_reader(
    state: &AppState,
    reader: &Reader,
    path: &str,
    query: Option<&str>,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<ReaderRoute, ApiError> {
    if let Some(sign_in) = sign_in_for_page(state, reader, headers, uri) {
        return Ok(ReaderRoute::SignIn(sign_in));
    }
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    match index_path_of(path, query, accept, reader.sees_pages(state)) {
        Some(file) => {
            state
                .registry
                .authorize_read(reader.caller_for(Some(file.kind())))?;
            Ok(ReaderRoute::File(file))
        }
        None => Ok(ReaderRoute::Api),
    }
}

/// `GET /index/{path}`: any index file (config.json, the signed snapshot chain,
/// search shards), as the CDN serves the bucket's `index/` prefix. On a private
/// registry a signed-in browser reads the pages' files here too.
pub async fn get_index_file(
    axum::extract::State(state): axum::extract::State<std::sync::Arc<AppState>>,
    reader: Reader,
    axum::extract::Path(path): axum::extract::Path<String>,
    method: axum::http::Method,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::not_found(format!("the index has no file {path}"));
    let parsed = IndexPath::parse(&path);
    state
        .registry
        .authorize_read(reader.caller_for(parsed.as_ref().map(IndexPath::kind)))?;
    let parsed = parsed.ok_or_else(not_found)?;
    // A missing page is the not-found page whoever asks: the CDN sends this
    // route a browser's request for a page the bucket does not have.
    let response = serve_index_file_or_missing_page(&state, &parsed, &headers)
        .await?
        .ok_or_else(not_found)?;
    // The CDN's own path to a schema or bundle is a download like any other.
    let status = response.status();
    super::download::count_if_downloaded(&state, &method, &parsed, &headers, status).await;
    Ok(response)
}

/// `GET /`: the web catalog's home page, for a reader shown pages.
pub async fn get_home_page(
    axum::extract::State(state): axum::extract::State<std::sync::Arc<AppState>>,
    reader: Reader,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let path = match route_for_reader(&state, &reader, "/", None, &uri, &headers)? {
        ReaderRoute::SignIn(sign_in) => return Ok(sign_in),
        ReaderRoute::File(path) => path,
        ReaderRoute::Api => {
            state.registry.authorize_read(reader.caller_for(None))?;
            return Err(ApiError::no_such_route());
        }
    };
    serve_index_file(&state, &path, &headers)
        .await?
        .ok_or_else(|| ApiError::not_found("the home page is not built yet"))
}
