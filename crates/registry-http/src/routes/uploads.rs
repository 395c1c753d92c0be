//! `POST /uploads`: a presigned PUT for a bundle too large for a Lambda request.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use registry_core::RegistryError;
use registry_core::checksum::Sha256Digest;
use registry_core::upload::UploadRequest;

use crate::auth::PublishingCaller;
use crate::body::{parse_json, read_limited};
use crate::problem::ApiError;
use crate::routes::json_response;
use crate::state::AppState;
use registry_core::api::plugins::{CreateUploadRequest, UploadTicketResponse};

const MAX_UPLOAD_REQUEST_BODY: usize = 4 * 1024;

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
    PublishingCaller(caller): PublishingCaller,
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
            method: "PUT".to_owned(),
            url: ticket.put.url,
            headers: ticket.put.headers.into_iter().collect(),
            expires_at: ticket.expires_at.to_string(),
        },
        true,
    ))
}
