//! Review in an org's catalog: `PUT /api/orgs/{org_id}/review-policy` for
//! platform admins; `GET /api/orgs/{org_id}/reviews` for the org's reviewers and
//! writers; `POST /api/orgs/{org_id}/reviews/{plugin_id}/approve|reject` for its
//! reviewers (`cadence:org:plugins:review`) and platform admins.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use registry_core::api::reviews::{
    OrgReviewList, OrgReviewPolicy, OrgReviewView, ReviewDecisionRequest,
};

use crate::auth::MaybeCaller;
use crate::body::{parse_json, read_limited};
use crate::problem::ApiError;
use crate::routes::json_response;
use crate::state::AppState;

const MAX_BODY: usize = 16 * 1024;

/// Sets whether uploads to the org's catalog wait for its reviewers.
#[utoipa::path(
    put,
    path = "/api/orgs/{org_id}/review-policy",
    params(("org_id" = String, Path, description = "The org")),
    request_body = OrgReviewPolicy,
    responses(
        (status = 200, description = "Set", body = OrgReviewPolicy),
        (status = 400, description = "Not JSON"),
        (status = 401, description = "No key"),
        (status = 403, description = "Not an admin key of a sys_admin"),
        (status = 404, description = "No such org"),
        (status = 413, description = "A body over 16 KiB"),
        (status = 415, description = "Not JSON"),
        (status = 422, description = "`review` not none or required"),
    ),
    security(("api_key" = [])),
    tag = "org catalog"
)]
pub async fn set_org_review_policy(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path(org_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_limited(&headers, body, MAX_BODY).await?;
    let policy: OrgReviewPolicy = parse_json(&bytes)?;
    let set = state
        .registry
        .set_org_review_policy(caller.0.as_ref(), &org_id, &policy)
        .await?;
    Ok(json_response(StatusCode::OK, &set, true))
}

/// The org's uploads under review (pending and rejected), the longest waiting
/// first.
#[utoipa::path(
    get,
    path = "/api/orgs/{org_id}/reviews",
    params(("org_id" = String, Path, description = "The org")),
    responses(
        (status = 200, description = "The reviews", body = OrgReviewList),
        (status = 401, description = "No key"),
        (status = 403, description = "Neither cadence:org:plugins:review nor write, or not a member"),
        (status = 404, description = "No such org"),
    ),
    security(("api_key" = [])),
    tag = "org catalog"
)]
pub async fn list_org_reviews(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path(org_id): Path<String>,
) -> Result<Response, ApiError> {
    let list = state
        .registry
        .list_org_reviews(caller.0.as_ref(), &org_id)
        .await?;
    Ok(json_response(StatusCode::OK, &list, true))
}

async fn decide(
    state: &AppState,
    caller: &MaybeCaller,
    org_id: &str,
    plugin_id: &str,
    headers: &HeaderMap,
    body: Body,
    approve: bool,
) -> Result<Response, ApiError> {
    let bytes = read_limited(headers, body, MAX_BODY).await?;
    let request = if bytes.is_empty() {
        ReviewDecisionRequest::default()
    } else {
        parse_json::<ReviewDecisionRequest>(&bytes)?
    };
    let decided = state
        .registry
        .decide_org_review(
            caller.0.as_ref(),
            org_id,
            plugin_id,
            approve,
            request.comment.as_deref(),
        )
        .await?;
    Ok(json_response(StatusCode::OK, &decided, true))
}

/// Approves an upload: the org's catalog shows it from now on.
#[utoipa::path(
    post,
    path = "/api/orgs/{org_id}/reviews/{plugin_id}/approve",
    params(("org_id" = String, Path, description = "The org"), ("plugin_id" = String, Path, description = "The catalog row (plg_...)")),
    request_body(content = ReviewDecisionRequest, description = "An optional comment; an empty body is fine"),
    responses(
        (status = 200, description = "Approved", body = OrgReviewView),
        (status = 400, description = "Not JSON"),
        (status = 401, description = "No key"),
        (status = 403, description = "No cadence:org:plugins:review, or not a member"),
        (status = 404, description = "No such org, or no such upload under review"),
        (status = 409, description = "Already decided (`review_decided`)"),
        (status = 413, description = "A body over 16 KiB"),
        (status = 415, description = "Not JSON"),
        (status = 422, description = "A comment over 2000 characters or with control characters"),
    ),
    security(("api_key" = [])),
    tag = "org catalog"
)]
pub async fn approve_org_review(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path((org_id, plugin_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    decide(&state, &caller, &org_id, &plugin_id, &headers, body, true).await
}

/// Rejects an upload, saying why; its version stays taken in the org's catalog.
#[utoipa::path(
    post,
    path = "/api/orgs/{org_id}/reviews/{plugin_id}/reject",
    params(("org_id" = String, Path, description = "The org"), ("plugin_id" = String, Path, description = "The catalog row (plg_...)")),
    request_body = ReviewDecisionRequest,
    responses(
        (status = 200, description = "Rejected", body = OrgReviewView),
        (status = 400, description = "Not JSON"),
        (status = 401, description = "No key"),
        (status = 403, description = "No cadence:org:plugins:review, or not a member"),
        (status = 404, description = "No such org, or no such upload under review"),
        (status = 409, description = "Already decided (`review_decided`)"),
        (status = 413, description = "A body over 16 KiB"),
        (status = 415, description = "Not JSON"),
        (status = 422, description = "No comment, or one over 2000 characters or with control characters"),
    ),
    security(("api_key" = [])),
    tag = "org catalog"
)]
pub async fn reject_org_review(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path((org_id, plugin_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    decide(&state, &caller, &org_id, &plugin_id, &headers, body, false).await
}
