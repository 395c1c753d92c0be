//! `POST /plugins/{slug}/{version}/deprecate`

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use crate::auth::MaybeCaller;
use crate::body::{parse_json, read_limited};
use crate::problem::ApiError;
use crate::routes::json_response;
use crate::state::AppState;
use registry_core::api::plugins::{DeprecateRequest, DeprecateResponse};

const MAX_DEPRECATE_BODY: usize = 16 * 1024;

/// Deprecates a version (repeat to change the notice).
#[utoipa::path(
    post,
    path = "/plugins/{slug}/{version}/deprecate",
    params(("slug" = String, Path, description = "Plugin slug"), ("version" = String, Path, description = "Version")),
    request_body = DeprecateRequest,
    responses(
        (status = 200, description = "Deprecated", body = DeprecateResponse),
        (status = 403, description = "Not the owner"),
        (status = 404, description = "No such plugin or version"),
        (status = 422, description = "Missing reason or unknown replacement"),
    ),
    security(("api_key" = [])),
    tag = "publishing"
)]
pub async fn deprecate_version(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path((slug, version)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let caller = caller.required()?;
    let bytes = read_limited(&headers, body, MAX_DEPRECATE_BODY).await?;
    let request: DeprecateRequest = parse_json(&bytes)?;
    let done = state
        .registry
        .deprecate_version(
            caller,
            &slug,
            &version,
            &request.reason,
            request.replacement_version.as_deref(),
        )
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &DeprecateResponse {
            status: "deprecated".to_owned(),
            slug: done.slug,
            version: done.version,
            deprecated: done.deprecation,
        },
        true,
    ))
}
