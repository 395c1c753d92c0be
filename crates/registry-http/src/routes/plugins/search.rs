//! `GET /plugins/search`

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use registry_core::RegistryError;
use registry_core::search::{SearchPage, SearchQuery};
use serde::Deserialize;

use crate::auth::MaybeCaller;
use crate::problem::ApiError;
use crate::routes::json_response;
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
