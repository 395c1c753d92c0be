//! `GET /openapi.json` and `GET /healthz`

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

/// Whether the registry can serve: `{"status": "ok"}` or `{"status": "unavailable"}`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct HealthStatus {
    /// `ok` or `unavailable`.
    status: &'static str,
}

/// The registry's own health: 200 when its catalog answers, 503 otherwise.
#[utoipa::path(
    get,
    path = "/healthz",
    responses(
        (status = 200, description = "The catalog answers", body = HealthStatus),
        (status = 503, description = "The catalog does not answer", body = HealthStatus),
    ),
    tag = "meta"
)]
pub async fn health(State(state): State<Arc<AppState>>) -> Response {
    match state.registry.catalog_revision().await {
        Ok(_) => (StatusCode::OK, axum::Json(HealthStatus { status: "ok" })).into_response(),
        Err(error) => {
            tracing::warn!(
                error = &error as &dyn std::error::Error,
                "health check failed"
            );
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(HealthStatus {
                    status: "unavailable",
                }),
            )
                .into_response()
        }
    }
}
