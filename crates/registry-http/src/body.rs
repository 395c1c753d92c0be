//! Reading request bodies under a byte cap, counted while streaming.

use axum::body::Body;
use axum::http::HeaderMap;
use axum::http::header;
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use registry_core::upload::UploadId;

use crate::deadline::deadline_passed;
use crate::problem::ApiError;

/// Reads at most `limit` bytes; 413 as soon as the body (or its declared length)
/// goes past it, without buffering the excess.
pub async fn read_limited(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(ApiError::payload_too_large(limit));
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            Err(ApiError::payload_too_large(limit))
        }
        Err(e) if let Some(passed) = deadline_passed(&*e) => Err(ApiError::request_timeout(passed)),
        Err(e) => Err(ApiError::bad_request(
            "unreadable_body",
            format!("the request body could not be read: {e}"),
        )),
    }
}

/// The upload a request names with `?upload_id=`; such a request must have no body.
pub async fn named_upload(
    headers: &HeaderMap,
    body: Body,
    upload_id: &str,
) -> Result<UploadId, ApiError> {
    read_limited(headers, body, 0).await.map_err(|_| {
        ApiError::bad_request(
            "ambiguous_body",
            "send either a body or ?upload_id=, not both",
        )
    })?;
    Ok(UploadId::parse(upload_id)?)
}

/// Parses a JSON body: 400 for broken JSON, 422 for JSON of the wrong shape.
pub fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data => ApiError::new(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                format!("the JSON body has the wrong shape: {e}"),
            ),
            _ => {
                ApiError::bad_request("malformed_json", format!("the body is not valid JSON: {e}"))
            }
        }
    })
}

/// The media type of a request, lowercased, parameters dropped.
pub fn media_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
}

/// The `filename` parameter of a `Content-Disposition` header, if any.
pub fn disposition_file_name(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_DISPOSITION)?.to_str().ok()?;
    value.split(';').map(str::trim).find_map(|part| {
        let (key, raw) = part.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("filename")
            .then(|| raw.trim().trim_matches('"').to_owned())
    })
}
