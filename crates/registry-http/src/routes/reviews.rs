//! Review: `GET /reviews` and `GET /reviews/{id}` for reviewers (and a plugin's
//! owners, for their own), `POST /reviews/{id}/approve|reject` for reviewers, and
//! the submitted schema and bundle at `GET /reviews/{id}/schema|bundle`. Every
//! answer is private: nothing under review reaches a shared cache.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use registry_core::api::reviews::ReviewDecisionRequest;
use registry_core::registry::{
    CheckAnswerRequest, CheckView, Download, ReviewList, ReviewOutcome, ReviewView,
};
use serde::Deserialize;

use crate::auth::MaybeCaller;
use crate::body::{media_type, parse_json, read_limited};
use crate::problem::ApiError;
use crate::routes::{json_response, query};
use crate::state::AppState;

const MAX_DECISION_BODY: usize = 16 * 1024;

/// Which reviews to list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ReviewListParams {
    /// Only this plugin's reviews, pending and rejected (its owners may ask);
    /// without it, every pending review (reviewers only).
    plugin: Option<String>,
}

/// Versions under review, the longest waiting first.
#[utoipa::path(
    get,
    path = "/reviews",
    params(ReviewListParams),
    responses(
        (status = 200, description = "The reviews", body = ReviewList),
        (status = 401, description = "No key or session"),
        (status = 403, description = "Without `plugin`: no `review` scope; with it: neither a reviewer nor an owner of the plugin"),
        (status = 404, description = "No such plugin"),
    ),
    security(("api_key" = [])),
    tag = "review"
)]
pub async fn list_reviews(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    params: Result<Query<ReviewListParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let caller = caller.required()?;
    let params = query(params)?;
    let list = state
        .registry
        .list_reviews(Some(caller), params.plugin.as_deref())
        .await?;
    Ok(json_response(StatusCode::OK, &list, true))
}

/// One version under review, with its validated manifest and artifacts.
#[utoipa::path(
    get,
    path = "/reviews/{review_id}",
    params(("review_id" = String, Path, description = "slug@version")),
    responses(
        (status = 200, description = "The review", body = ReviewView),
        (status = 401, description = "No key or session"),
        (status = 404, description = "No such review, or not one the caller may see (`review_not_found`)"),
    ),
    security(("api_key" = [])),
    tag = "review"
)]
pub async fn get_review(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let caller = caller.required()?;
    let review = state.registry.review(Some(caller), &id).await?;
    Ok(json_response(StatusCode::OK, &review, true))
}

async fn artifact(
    state: &AppState,
    caller: MaybeCaller,
    id: &str,
    bundle: bool,
) -> Result<Response, ApiError> {
    let caller = caller.required()?;
    let download = state
        .registry
        .review_artifact(Some(caller), id, bundle)
        .await?;
    Ok(held_artifact_response(download))
}

/// What a review holds, as submitted: never cached, never sniffed into
/// something a browser would run, and always a download, never shown inline.
pub(crate) fn held_artifact_response(download: Download) -> Response {
    let mut response = (StatusCode::OK, download.bytes).into_response();
    let headers = response.headers_mut();
    if let Ok(content_type) = HeaderValue::from_str(&download.content_type) {
        headers.insert(header::CONTENT_TYPE, content_type);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment"),
    );
    response
}

/// The schema document exactly as submitted.
#[utoipa::path(
    get,
    path = "/reviews/{review_id}/schema",
    params(("review_id" = String, Path, description = "slug@version")),
    responses(
        (status = 200, description = "The document, as application/json or application/yaml"),
        (status = 401, description = "No key or session"),
        (status = 404, description = "No such review, or not one the caller may see (`review_not_found`)"),
    ),
    security(("api_key" = [])),
    tag = "review"
)]
pub async fn review_schema(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    artifact(&state, caller, &id, false).await
}

/// The bundle exactly as submitted.
#[utoipa::path(
    get,
    path = "/reviews/{review_id}/bundle",
    params(("review_id" = String, Path, description = "slug@version")),
    responses(
        (status = 200, description = "The ZIP bundle"),
        (status = 401, description = "No key or session"),
        (status = 404, description = "No such review, one the caller may not see (`review_not_found`), or no bundle (`no_bundle`)"),
    ),
    security(("api_key" = [])),
    tag = "review"
)]
pub async fn review_bundle(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    artifact(&state, caller, &id, true).await
}

/// A decision from its request: the outcome, with the approved version's
/// address (or the review's) as `Location` and its details' ETag when known.
async fn decide(
    state: &AppState,
    caller: MaybeCaller,
    id: &str,
    headers: &HeaderMap,
    body: Body,
    approve: bool,
) -> Result<Response, ApiError> {
    let caller = caller.required()?;
    let bytes = read_limited(headers, body, MAX_DECISION_BODY).await?;
    let request = if bytes.is_empty() {
        ReviewDecisionRequest::default()
    } else {
        parse_json(&bytes)?
    };
    let comment = request.comment.as_deref();
    let outcome = if approve {
        state
            .registry
            .approve_review(Some(caller), id, comment)
            .await?
    } else {
        state
            .registry
            .reject_review(Some(caller), id, comment)
            .await?
    };
    let mut response = json_response(StatusCode::OK, &outcome, true);
    let headers = response.headers_mut();
    if let Ok(location) = HeaderValue::from_str(&outcome.url) {
        headers.insert(header::LOCATION, location);
    }
    if let Some(etag) = outcome
        .details_etag
        .as_deref()
        .and_then(|e| HeaderValue::from_str(e).ok())
    {
        headers.insert(header::ETAG, etag);
    }
    Ok(response)
}

/// Approves a pending version: it is published now, as a publish would.
#[utoipa::path(
    post,
    path = "/reviews/{review_id}/approve",
    params(("review_id" = String, Path, description = "slug@version")),
    request_body(content = ReviewDecisionRequest, description = "An optional comment; an empty body is fine"),
    responses(
        (status = 200, description = "Approved and published (`Location`: the plugin)", body = ReviewOutcome),
        (status = 400, description = "Not JSON"),
        (status = 401, description = "No key or session"),
        (status = 403, description = "No `review` scope"),
        (status = 404, description = "No such review (`review_not_found`)"),
        (status = 409, description = "Already approved or rejected (`review_decided`)"),
        (status = 413, description = "A body over 16 KiB"),
        (status = 415, description = "Not JSON"),
        (status = 422, description = "A comment over 2000 characters"),
    ),
    security(("api_key" = [])),
    tag = "review"
)]
pub async fn approve_review(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    decide(&state, caller, &id, &headers, body, true).await
}

/// Rejects a pending version, saying why; its version string stays taken.
#[utoipa::path(
    post,
    path = "/reviews/{review_id}/reject",
    params(("review_id" = String, Path, description = "slug@version")),
    request_body = ReviewDecisionRequest,
    responses(
        (status = 200, description = "Rejected (`Location`: the review)", body = ReviewOutcome),
        (status = 400, description = "Not JSON"),
        (status = 401, description = "No key or session"),
        (status = 403, description = "No `review` scope"),
        (status = 404, description = "No such review (`review_not_found`)"),
        (status = 409, description = "Already approved or rejected (`review_decided`)"),
        (status = 413, description = "A body over 16 KiB"),
        (status = 415, description = "Not JSON"),
        (status = 422, description = "No comment, or one over 2000 characters"),
    ),
    security(("api_key" = [])),
    tag = "review"
)]
pub async fn reject_review(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    decide(&state, caller, &id, &headers, body, false).await
}

/// A check's answer: `pass` or `fail`, with a link to its report. Authenticated
/// by the token the check's delivery carried (`data.check.token`), not by a key.
#[utoipa::path(
    post,
    path = "/reviews/{review_id}/checks/{check}",
    params(
        ("review_id" = String, Path, description = "slug@version"),
        ("check" = String, Path, description = "The check's name"),
    ),
    request_body = CheckAnswerRequest,
    responses(
        (status = 200, description = "Recorded", body = CheckView),
        (status = 400, description = "Not JSON"),
        (status = 401, description = "No token, or not this run's (`unauthenticated`)"),
        (status = 404, description = "No such review, or no such check of it"),
        (status = 409, description = "The review was decided (`review_decided`), or the check answered already or ran out of time (`check_closed`)"),
        (status = 413, description = "A body over 16 KiB"),
        (status = 415, description = "A body that is not `application/json`"),
        (status = 422, description = "A conclusion other than pass or fail, a link that is not http(s), a summary too long"),
    ),
    security(("api_key" = [])),
    tag = "review"
)]
pub async fn answer_check(
    State(state): State<Arc<AppState>>,
    Path((id, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    if media_type(&headers).is_some_and(|t| t != "application/json") {
        return Err(ApiError::unsupported_media_type(
            "send the answer as application/json",
        ));
    }
    let bytes = read_limited(&headers, body, MAX_DECISION_BODY).await?;
    let answer: CheckAnswerRequest = parse_json(&bytes)?;
    let view = state
        .registry
        .answer_check(&id, &name, token, &answer)
        .await?;
    Ok(json_response(StatusCode::OK, &view, true))
}

/// Runs a check again (reviewers): a new token and time to answer, sent to its
/// subscription as a new `version.pending_review` delivery.
#[utoipa::path(
    post,
    path = "/reviews/{review_id}/checks/{check}/rerun",
    params(
        ("review_id" = String, Path, description = "slug@version"),
        ("check" = String, Path, description = "The check's name"),
    ),
    responses(
        (status = 202, description = "Asked again", body = CheckView),
        (status = 401, description = "No key or session"),
        (status = 403, description = "No `review` scope"),
        (status = 404, description = "No such review or check, or no webhooks here"),
        (status = 409, description = "The review was decided (`review_decided`), or the check's subscription is gone (`check_closed`)"),
    ),
    security(("api_key" = [])),
    tag = "review"
)]
pub async fn rerun_check(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path((id, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let caller = caller.required()?;
    let view = state.registry.rerun_check(Some(caller), &id, &name).await?;
    Ok(json_response(StatusCode::ACCEPTED, &view, true))
}
