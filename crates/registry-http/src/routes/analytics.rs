//! `GET /plugins/{slug}/analytics`: a plugin's downloads per period, version and
//! client, for its owners and keys with the `analytics` scope; `GET
//! /analytics/registry`: the registry's activity, for admins and that scope.
//! Never cached by a shared cache.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use registry_core::RegistryError;
use registry_core::registry::{AnalyticsQuery, PluginAnalytics, RegistryAnalytics};
use serde::Deserialize;

use crate::auth::MaybeCaller;
use crate::problem::ApiError;
use crate::routes::{json_response, query};
use crate::state::AppState;

/// Which days, grouped how.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AnalyticsParams {
    /// The first day, `YYYY-MM-DD` (default: 30 days, 12 weeks or 12 months before `to`). Day and week ranges reach back as far as the daily counters are kept (90 days by default); months reach back forever.
    from: Option<String>,
    /// The last day, `YYYY-MM-DD` (default: today, UTC).
    to: Option<String>,
    /// Instead of `from`: the range holds this many days, `to` included.
    days: Option<String>,
    /// `day` (default), `week` (ISO weeks, from Monday) or `month`.
    granularity: Option<String>,
}

impl AnalyticsParams {
    /// The query these parameters name.
    pub(crate) fn query(&self) -> Result<AnalyticsQuery, RegistryError> {
        AnalyticsQuery::from_params(
            self.from.as_deref(),
            self.to.as_deref(),
            self.days.as_deref(),
            self.granularity.as_deref(),
        )
    }
}

/// A plugin's downloads per period (every period of the range, empty ones
/// included), per version and per client (the CLI by version, other clients
/// together).
#[utoipa::path(
    get,
    path = "/plugins/{slug}/analytics",
    params(("slug" = String, Path, description = "The plugin"), AnalyticsParams),
    responses(
        (status = 200, description = "The plugin's downloads", body = PluginAnalytics),
        (status = 400, description = "A day that is not YYYY-MM-DD, `from` after `to`, an unknown `granularity`, or more than 750 periods (`invalid_parameter`)"),
        (status = 401, description = "No key or session"),
        (status = 403, description = "Not an owner of the plugin and no `analytics` scope"),
        (status = 404, description = "No such plugin"),
        (status = 422, description = "A day or week range starting before the first day the daily counters keep (`range_beyond_retention`): ask for months"),
    ),
    security(("api_key" = [])),
    tag = "analytics"
)]
pub async fn plugin_analytics(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path(slug): Path<String>,
    params: Result<Query<AnalyticsParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let caller = caller.required()?;
    let query = query(params)?.query()?;
    let analytics = state
        .registry
        .plugin_analytics(Some(caller), &slug, query)
        .await?;
    Ok(json_response(StatusCode::OK, &analytics, true))
}

/// How many weeks.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct RegistryAnalyticsParams {
    /// Weeks up to and including the current one, 1 to 12 (default 12).
    weeks: Option<String>,
}

/// The registry's activity: versions published, plugins created and downloads
/// per week, downloads per day, and the plugins downloaded most.
#[utoipa::path(
    get,
    path = "/analytics/registry",
    params(RegistryAnalyticsParams),
    responses(
        (status = 200, description = "The registry's activity", body = RegistryAnalytics),
        (status = 400, description = "`weeks` not a number from 1 to 12 (`invalid_parameter`)"),
        (status = 401, description = "No key or session"),
        (status = 403, description = "Neither an admin nor a key with the `analytics` scope"),
    ),
    security(("api_key" = [])),
    tag = "analytics"
)]
pub async fn registry_analytics(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    params: Result<Query<RegistryAnalyticsParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let caller = caller.required()?;
    let params = query(params)?;
    let analytics = state
        .registry
        .registry_analytics(Some(caller), params.weeks.as_deref())
        .await?;
    Ok(json_response(StatusCode::OK, &analytics, true))
}
