//! `GET /openapi.json`, `GET /healthz` (alive), `GET /readyz` (ready) and
//! `GET /metrics` (Prometheus)

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::openapi::api_document_json;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The OpenAPI 3.1 description of this API, generated from the code.
#[utoipa::path(
    get,
    path = "/openapi.json",
    responses((status = 200, description = "This document", content_type = "application/json")),
    tag = "meta"
)]
pub async fn openapi_document() -> Response {
    let mut response = (StatusCode::OK, api_document_json()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// That the process serves: `{"status": "ok"}`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct HealthStatus {
    /// `ok`.
    status: &'static str,
}

/// Liveness: 200 whenever the process answers, whatever its database and storage
/// do (an orchestrator restarting the process would not bring them back; that is
/// what `/readyz` tells a load balancer).
#[utoipa::path(
    get,
    path = "/healthz",
    responses((status = 200, description = "The process serves", body = HealthStatus)),
    tag = "meta"
)]
pub async fn health() -> Response {
    (StatusCode::OK, axum::Json(HealthStatus { status: "ok" })).into_response()
}

/// Whether the registry can serve requests now, and what each dependency said.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Readiness {
    /// `ok` when every check passed, else `unavailable`.
    status: &'static str,
    /// `catalog` (the database) and `storage` (the index's directory or bucket):
    /// `ok`, or what is wrong (`the S3 bucket "x" does not exist`).
    checks: BTreeMap<&'static str, String>,
}

/// Readiness: 200 when the catalog's database and the index's storage both
/// answer, else 503 naming what does not.
#[utoipa::path(
    get,
    path = "/readyz",
    responses(
        (status = 200, description = "The database and the storage answer", body = Readiness),
        (status = 503, description = "One of them does not; `checks` says which and why", body = Readiness),
    ),
    tag = "meta"
)]
pub async fn readiness(State(state): State<Arc<AppState>>) -> Response {
    let (catalog, storage) = tokio::join!(
        state.registry.catalog_revision(),
        state.index.check_reachable()
    );
    let checks = BTreeMap::from([
        ("catalog", outcome(catalog.map(|_| ()))),
        ("storage", outcome(storage)),
    ]);
    let ready = checks.values().all(|c| c == "ok");
    if !ready {
        tracing::warn!(?checks, "not ready");
    }
    let (code, status) = if ready {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    };
    (code, axum::Json(Readiness { status, checks })).into_response()
}

/// `ok`, or the error with its causes (`storage temporarily unavailable: the S3
/// bucket "x" does not exist`).
fn outcome<E: std::error::Error>(result: Result<(), E>) -> String {
    let Err(error) = result else {
        return "ok".to_owned();
    };
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}

/// Media type of the Prometheus text exposition format.
const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The process's metrics in the Prometheus text format: requests by route and
/// status with latency histograms, publishes, index updates and their lag, health
/// checks, database pool use. 404 where nothing collects them (the Lambda
/// functions).
#[utoipa::path(
    get,
    path = "/metrics",
    responses(
        (status = 200, description = "Every metric", content_type = "text/plain; version=0.0.4"),
        (status = 404, description = "This deployment collects no metrics"),
    ),
    tag = "meta"
)]
pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let Some(metrics) = &state.metrics else {
        return crate::problem::ApiError::no_such_route().into_response();
    };
    let mut response = (StatusCode::OK, metrics.render()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(PROMETHEUS_CONTENT_TYPE),
    );
    response
}
