//! `POST /uploads`: a presigned PUT for a bundle too large for a Lambda request.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use registry_core::RegistryError;
use registry_core::checksum::Sha256Digest;
use registry_core::upload::UploadRequest;
use serde::{Deserialize, Serialize};

use crate::auth::MaybeCaller;
use crate::body::{parse_json, read_limited};
use crate::problem::ApiError;
use crate::routes::json_response;
use crate::state::AppState;

const MAX_UPLOAD_REQUEST_BODY: usize = 4 * 1024;

/// What the client will upload.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUploadRequest {
    /// The ZIP's exact size in bytes (at most 5 MB).
    size: u64,
    /// The ZIP's SHA-256, 64 lowercase hex digits.
    sha256: String,
}

/// Where and how to send the bytes, then which id to publish.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UploadTicketResponse {
    /// Name it in `POST /plugins?upload_id=` (or `PUT /plugins/{slug}?upload_id=`).
    upload_id: String,
    /// Always `PUT`.
    method: &'static str,
    /// The presigned URL.
    url: String,
    /// Send exactly these headers; they are signed.
    headers: BTreeMap<String, String>,
    /// When the URL stops working (RFC 3339).
    expires_at: String,
}

/// Opens an upload for a bundle: returns a presigned PUT for exactly that size and digest.
#[utoipa::path(
    post,
    path = "/uploads",
    request_body = CreateUploadRequest,
    responses(
        (status = 201, description = "Upload opened", body = UploadTicketResponse),
        (status = 403, description = "Key lacks publish"),
        (status = 404, description = "This registry takes bundles directly in POST /plugins"),
        (status = 413, description = "Declared size above 5 MB"),
        (status = 422, description = "Invalid size or sha256"),
    ),
    security(("api_key" = [])),
    tag = "publishing"
)]
pub async fn create_upload(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let caller = caller.required()?;
    let bytes = read_limited(&headers, body, MAX_UPLOAD_REQUEST_BODY).await?;
    let request: CreateUploadRequest = parse_json(&bytes)?;
    let sha256 = Sha256Digest::parse(&request.sha256)
        .map_err(|detail| RegistryError::invalid_field("sha256", detail))?;
    let ticket = state
        .registry
        .create_upload(
            caller,
            UploadRequest {
                size: request.size,
                sha256,
            },
        )
        .await?;
    Ok(json_response(
        StatusCode::CREATED,
        &UploadTicketResponse {
            upload_id: ticket.upload_id.to_string(),
            method: "PUT",
            url: ticket.put.url,
            headers: ticket.put.headers.into_iter().collect(),
            expires_at: ticket.expires_at.to_string(),
        },
        true,
    ))
}
