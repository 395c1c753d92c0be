//! Moderation. Reports of plugins: `POST /plugins/{slug}/reports` for anyone
//! with a key, `GET /reports` and `POST /reports/{report_id}/resolve` for
//! admins. Quarantine: `PUT` and `DELETE /plugins/{slug}/quarantine` for admins.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use registry_core::api::moderation::{
    PluginReport, QuarantineRequest, ReportList, ReportRequest, ResolveReportRequest,
};
use registry_core::registry::{NewReport, QuarantineState};
use serde::Deserialize;

use crate::auth::MaybeCaller;
use crate::body::{parse_json, read_limited};
use crate::problem::ApiError;
use crate::routes::{json_response, query};
use crate::state::AppState;

const MAX_REPORT_BODY: usize = 16 * 1024;

/// Which reports to list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ReportListParams {
    /// `open` (the default) or `all`.
    status: Option<String>,
    /// At most this many, 1 to 100 (default 100).
    limit: Option<usize>,
}

/// Reports a plugin, or one of its versions, to the registry's admins.
#[utoipa::path(
    post,
    path = "/plugins/{slug}/reports",
    params(("slug" = String, Path, description = "The plugin")),
    request_body = ReportRequest,
    responses(
        (status = 201, description = "Reported; the admins will look", body = PluginReport),
        (status = 400, description = "Not JSON"),
        (status = 401, description = "No key: reports are made signed in"),
        (status = 404, description = "No such plugin or version"),
        (status = 413, description = "A body over 16 KiB"),
        (status = 415, description = "Not JSON"),
        (status = 422, description = "A reason that is not one of the list, or details that are empty, over 2000 characters or hold control characters"),
        (status = 429, description = "Too many reports from this principal (`rate_limited`); `Retry-After` says when to try again"),
    ),
    security(("api_key" = [])),
    tag = "moderation"
)]
pub async fn report_plugin(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path(slug): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let caller = caller.required()?;
    let bytes = read_limited(&headers, body, MAX_REPORT_BODY).await?;
    let request: ReportRequest = parse_json(&bytes)?;
    let report = state
        .registry
        .report_plugin(
            caller,
            &slug,
            NewReport {
                version: request.version,
                reason: request.reason,
                details: request.details,
            },
        )
        .await?;
    Ok(json_response(StatusCode::CREATED, &report, true))
}

/// The reports, newest first: open ones, or all (admin keys).
#[utoipa::path(
    get,
    path = "/reports",
    params(ReportListParams),
    responses(
        (status = 200, description = "The reports", body = ReportList),
        (status = 400, description = "A `status` other than `open` or `all`, or a `limit` outside 1 to 100"),
        (status = 401, description = "No key"),
        (status = 403, description = "Not an admin key"),
    ),
    security(("api_key" = [])),
    tag = "moderation"
)]
pub async fn list_reports(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    params: Result<Query<ReportListParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let caller = caller.required()?;
    let params = query(params)?;
    let open_only = match params.status.as_deref() {
        None | Some("open") => true,
        Some("all") => false,
        Some(other) => {
            return Err(registry_core::RegistryError::InvalidParameter {
                name: "status",
                detail: format!("{other:?} is not open or all"),
            }
            .into());
        }
    };
    let reports = state
        .registry
        .list_reports(caller, open_only, params.limit)
        .await?;
    Ok(json_response(StatusCode::OK, &ReportList { reports }, true))
}

/// Closes a report, saying what was done (admin keys).
#[utoipa::path(
    post,
    path = "/reports/{report_id}/resolve",
    params(("report_id" = String, Path, description = "The report (rpt_...)")),
    request_body = ResolveReportRequest,
    responses(
        (status = 200, description = "Closed", body = PluginReport),
        (status = 400, description = "Not JSON"),
        (status = 401, description = "No key"),
        (status = 403, description = "Not an admin key"),
        (status = 404, description = "No such report (`report_not_found`)"),
        (status = 409, description = "Already resolved (`report_resolved`)"),
        (status = 413, description = "A body over 16 KiB"),
        (status = 415, description = "Not JSON"),
        (status = 422, description = "A note that is empty or over 500 characters"),
    ),
    security(("api_key" = [])),
    tag = "moderation"
)]
pub async fn resolve_report(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path(report_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let caller = caller.required()?;
    let bytes = read_limited(&headers, body, MAX_REPORT_BODY).await?;
    let request: ResolveReportRequest = parse_json(&bytes)?;
    let report = state
        .registry
        .resolve_report(caller, &report_id, &request.note)
        .await?;
    Ok(json_response(StatusCode::OK, &report, true))
}

/// Which version's quarantine to lift.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct LiftParams {
    /// The version; without it, the whole plugin's quarantine.
    version: Option<String>,
}

/// Puts a plugin, or one version (`version`), in quarantine (admin keys): it
/// is hidden from reads, search, pages and installs, while its owners see it
/// with the reason. Again: replaces the reason.
#[utoipa::path(
    put,
    path = "/plugins/{slug}/quarantine",
    params(("slug" = String, Path, description = "The plugin")),
    request_body = QuarantineRequest,
    responses(
        (status = 200, description = "In quarantine", body = QuarantineState),
        (status = 400, description = "Not JSON, or not a version"),
        (status = 401, description = "No key"),
        (status = 403, description = "Not an admin key"),
        (status = 404, description = "No such plugin or version"),
        (status = 409, description = "A concurrent change kept winning (`concurrent_update`)"),
        (status = 410, description = "The version was unpublished"),
        (status = 413, description = "A body over 16 KiB"),
        (status = 415, description = "Not JSON"),
        (status = 422, description = "A reason that is empty or over 500 characters"),
    ),
    security(("api_key" = [])),
    tag = "moderation"
)]
pub async fn quarantine(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path(slug): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let caller = caller.required()?;
    let bytes = read_limited(&headers, body, MAX_REPORT_BODY).await?;
    let request: QuarantineRequest = parse_json(&bytes)?;
    let changed = state
        .registry
        .quarantine(caller, &slug, request.version.as_deref(), &request.reason)
        .await?;
    Ok(json_response(StatusCode::OK, &changed, true))
}

/// Lifts the quarantine of a plugin, or of one version (`?version=`), so it
/// shows again (admin keys).
#[utoipa::path(
    delete,
    path = "/plugins/{slug}/quarantine",
    params(("slug" = String, Path, description = "The plugin"), LiftParams),
    responses(
        (status = 200, description = "Lifted (or never there)", body = QuarantineState),
        (status = 400, description = "Not a version"),
        (status = 401, description = "No key"),
        (status = 403, description = "Not an admin key"),
        (status = 404, description = "No such plugin or version"),
        (status = 409, description = "A concurrent change kept winning (`concurrent_update`)"),
        (status = 410, description = "The version was unpublished"),
    ),
    security(("api_key" = [])),
    tag = "moderation"
)]
pub async fn lift_quarantine(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path(slug): Path<String>,
    params: Result<Query<LiftParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let caller = caller.required()?;
    let params = query(params)?;
    let changed = state
        .registry
        .lift_quarantine(caller, &slug, params.version.as_deref())
        .await?;
    Ok(json_response(StatusCode::OK, &changed, true))
}
