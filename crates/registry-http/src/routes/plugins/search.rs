//! `GET /plugins/search`

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::Response;
use registry_core::RegistryError;
use registry_core::artifact::SHORT_CACHE_CONTROL;
use registry_core::search::{SearchPage, SearchQuery};
use registry_index::path::FileKind;
use registry_pages::{
    MAX_PAGE, RESULTS_PER_PAGE, SearchRequest, Site, bad_request_page, page_offset,
};
use serde::Deserialize;

use super::index_file::sign_in_for_page;
use crate::auth::{MaybeCaller, Reader};
use crate::problem::ApiError;
use crate::routes::json_response;
use crate::session::personal_page;
use crate::state::AppState;

/// Query parameters, kept as text so a bad number gets a problem+json answer.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct SearchParams {
    /// Matches name, description and tags.
    q: Option<String>,
    /// Only plugins with this tag.
    tag: Option<String>,
    /// Results per page (default 20, max 100).
    #[param(value_type = Option<u32>)]
    limit: Option<String>,
    /// Results to skip.
    #[param(value_type = Option<u32>)]
    offset: Option<String>,
}

fn number(name: &'static str, raw: Option<&str>) -> Result<Option<usize>, RegistryError> {
    raw.map(|r| {
        r.parse::<usize>()
            .map_err(|_| RegistryError::InvalidParameter {
                name,
                detail: format!("must be a non-negative whole number (got {r:?})"),
            })
    })
    .transpose()
}

/// Searches plugins: answered from the static index's search shards, held in memory.
#[utoipa::path(
    get,
    path = "/plugins/search",
    params(SearchParams),
    responses(
        (status = 200, description = "Matching plugins, best first", body = SearchPage),
        (status = 400, description = "Bad parameter"),
    ),
    security((), ("api_key" = [])),
    tag = "plugins"
)]
pub async fn search_plugins(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    state.registry.authorize_read(caller.0.as_ref())?;
    let Query(params) =
        params.map_err(|e| ApiError::bad_request("invalid_parameter", e.body_text()))?;
    let query = SearchQuery::from_params(
        params.q,
        params.tag,
        number("limit", params.limit.as_deref())?,
        number("offset", params.offset.as_deref())?,
    )?;
    let page = state
        .search
        .search(&query)
        .await
        .map_err(RegistryError::Storage)?;
    Ok(json_response(
        StatusCode::OK,
        &page,
        state.registry.config().private,
    ))
}

/// Parameters of the search page.
#[derive(Debug, Deserialize)]
pub struct SearchPageParams {
    q: Option<String>,
    tag: Option<String>,
    page: Option<String>,
}

/// `GET /search`: the search page of a registry with pages, rendered from the
/// same in-memory index as `/plugins/search`, so results need no script and a
/// search can be shared as a link. Tag pages are searches (`/search?tag=vcs`).
pub async fn search_page(
    State(state): State<Arc<AppState>>,
    reader: Reader,
    uri: Uri,
    headers: HeaderMap,
    params: Result<Query<SearchPageParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    if let Some(sign_in) = sign_in_for_page(&state, &reader, &headers, &uri) {
        return Ok(sign_in);
    }
    if !reader.sees_pages(&state) {
        state.registry.authorize_read(reader.caller_for(None))?;
        return Err(ApiError::no_such_route());
    }
    state
        .registry
        .authorize_read(reader.caller_for(Some(FileKind::Page)))?;
    let site = Site::new(&state.registry.config().public_url);
    let bad_request = |message: String| -> Result<Response, ApiError> {
        let html = bad_request_page(&site, &message).map_err(page_failed)?;
        Ok(personal_page(StatusCode::BAD_REQUEST, html))
    };
    let params = match params {
        Ok(Query(params)) => params,
        Err(e) => return bad_request(e.body_text()),
    };
    let page = match params.page.as_deref().map(str::parse::<usize>) {
        None => 1,
        Some(Ok(page)) if (1..=MAX_PAGE).contains(&page) => page,
        Some(_) => {
            return bad_request(format!("The page must be a number from 1 to {MAX_PAGE}."));
        }
    };
    // The page shows the query as search takes it (blank text dropped, the tag
    // trimmed and lowercased), so its heading and links match its results.
    let query = match SearchQuery::from_params(
        params.q,
        params.tag,
        Some(RESULTS_PER_PAGE),
        Some(page_offset(page)),
    ) {
        Ok(query) => query,
        Err(e) => return bad_request(format!("{e}.")),
    };
    let request = SearchRequest {
        q: query.q.clone(),
        tag: query.tag.clone(),
        page,
    };
    let found = state
        .search
        .search(&query)
        .await
        .map_err(RegistryError::Storage)?;
    let html = registry_pages::search_page(&site, &request, &found).map_err(page_failed)?;
    let mut response = personal_page(StatusCode::OK, html);
    // A private registry's results are its readers' alone (personal_page's
    // `private, no-store`); a public one's may be cached briefly.
    if !state.registry.config().private {
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(SHORT_CACHE_CONTROL),
        );
    }
    Ok(response)
}

/// A page that would not render: logged in full, answered with a plain 500.
pub(crate) fn page_failed(error: registry_pages::RenderError) -> ApiError {
    tracing::error!(
        error = &error as &dyn std::error::Error,
        "rendering a page failed"
    );
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "rendering the page failed",
    )
}
