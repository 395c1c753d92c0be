//! `POST /plugins` and `PUT /plugins/{slug}`

use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use registry_core::RegistryError;
use registry_core::api::plugins::{PendingReviewResponse, PublishResponse, UpdateResponse};
use registry_core::artifact::ZIP_CONTENT_TYPE;
use registry_core::bundle::MAX_BUNDLE_BYTES;
use registry_core::manifest::{DocumentFormat, MAX_SCHEMA_DOCUMENT_BYTES};
use registry_core::registry::{PublishBody, Published};
use registry_core::slug::Slug;
use serde::Deserialize;

use crate::auth::PublishingCaller;
use crate::body::{disposition_file_name, media_type, named_upload, read_limited};
use crate::problem::ApiError;
use crate::routes::json_response;
use crate::state::AppState;

/// Names a bundle uploaded through `POST /uploads` instead of sending a body.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct PublishParams {
    /// The id `POST /uploads` returned; the request then has no body.
    upload_id: Option<String>,
}

async fn read_publish_body(
    headers: &HeaderMap,
    body: Body,
    params: Result<Query<PublishParams>, QueryRejection>,
) -> Result<PublishBody, ApiError> {
    let Query(params) =
        params.map_err(|e| ApiError::bad_request("invalid_parameter", e.body_text()))?;
    if let Some(upload_id) = params.upload_id {
        return Ok(PublishBody::Upload {
            upload_id: named_upload(headers, body, &upload_id).await?,
        });
    }
    let media = media_type(headers).ok_or_else(|| {
        ApiError::unsupported_media_type(
            "set Content-Type to application/json, application/yaml or application/zip",
        )
    })?;
    if media == ZIP_CONTENT_TYPE {
        let bytes = read_limited(headers, body, MAX_BUNDLE_BYTES).await?;
        return Ok(PublishBody::Bundle {
            bytes,
            file_name: disposition_file_name(headers),
        });
    }
    let format = DocumentFormat::from_media_type(&media).ok_or_else(|| {
        ApiError::unsupported_media_type(format!(
            "Content-Type {media} is not accepted; use application/json, application/yaml or application/zip"
        ))
    })?;
    let bytes = read_limited(headers, body, MAX_SCHEMA_DOCUMENT_BYTES).await?;
    Ok(PublishBody::Document { bytes, format })
}

/// Publishes a version (a new plugin, or a version never used before).
#[utoipa::path(
    post,
    path = "/plugins",
    params(PublishParams),
    request_body(description = "The plugin schema (JSON or YAML) or a ZIP bundle with plugin.yaml/plugin.json at its root",
        content(("application/json"), ("application/yaml"), ("application/zip"))),
    responses(
        (status = 201, description = "Published", body = PublishResponse),
        (status = 202, description = "Submitted: the registry requires review, and the version waits for a reviewer (`Location`: the review)", body = PendingReviewResponse),
        (status = 400, description = "Malformed document or bundle"),
        (status = 403, description = "Slug owned by another principal, or key lacks publish"),
        (status = 409, description = "Version already used (`version_exists`), or a new slug too like an existing plugin's (`slug_confusable`)"),
        (status = 429, description = "Over the principal's limit of new plugins (default 5, then one per 10 minutes) or versions (64, then one a minute); `Retry-After` says when to try again"),
        (status = 413, description = "Body too large"),
        (status = 415, description = "Unsupported Content-Type"),
        (status = 422, description = "Invalid plugin, field by field"),
    ),
    security(("api_key" = [])),
    tag = "publishing"
)]
pub async fn publish_plugin(
    State(state): State<Arc<AppState>>,
    PublishingCaller(caller): PublishingCaller,
    params: Result<Query<PublishParams>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let caller = caller.required()?;
    let body = read_publish_body(&headers, body, params).await?;
    let published = state.registry.publish_version(caller, body).await?;
    if published.pending_review {
        return Ok(pending_review_response(&published));
    }
    let mut response = json_response(
        StatusCode::CREATED,
        &PublishResponse {
            status: "published".to_owned(),
            slug: published.slug.to_string(),
            version: published.version.to_string(),
            url: published.url.clone(),
        },
        true,
    );
    set_published_headers(&mut response, &published);
    Ok(response)
}

/// Publishes a new version that must be greater than the plugin's latest.
#[utoipa::path(
    put,
    path = "/plugins/{slug}",
    params(("slug" = String, Path, description = "Plugin slug; must match the document's"), PublishParams),
    request_body(description = "The updated plugin schema or bundle",
        content(("application/json"), ("application/yaml"), ("application/zip"))),
    responses(
        (status = 200, description = "Updated", body = UpdateResponse),
        (status = 202, description = "Submitted: the registry requires review, and the version waits for a reviewer (`Location`: the review)", body = PendingReviewResponse),
        (status = 400, description = "Malformed document or bundle"),
        (status = 403, description = "The plugin is owned by another principal, or the key lacks publish"),
        (status = 404, description = "No such plugin"),
        (status = 409, description = "Version not incremented or already used"),
        (status = 429, description = "Over the principal's limit of new versions (default 64, then one a minute); `Retry-After` says when to try again"),
        (status = 413, description = "Body too large"),
        (status = 415, description = "Unsupported Content-Type"),
        (status = 422, description = "Invalid plugin, or its slug is not the path's, field by field"),
    ),
    security(("api_key" = [])),
    tag = "publishing"
)]
pub async fn update_plugin(
    State(state): State<Arc<AppState>>,
    PublishingCaller(caller): PublishingCaller,
    Path(slug): Path<String>,
    params: Result<Query<PublishParams>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let caller = caller.required()?;
    let slug =
        Slug::parse(&slug).map_err(|_| RegistryError::PluginNotFound { slug: slug.clone() })?;
    let body = read_publish_body(&headers, body, params).await?;
    let published = state.registry.update_plugin(caller, &slug, body).await?;
    if published.pending_review {
        return Ok(pending_review_response(&published));
    }
    let mut response = json_response(
        StatusCode::OK,
        &UpdateResponse {
            status: "updated".to_owned(),
            slug: published.slug.to_string(),
            version: published.version.to_string(),
            previous_version: published.previous_version.as_ref().map(|v| v.to_string()),
        },
        true,
    );
    set_published_headers(&mut response, &published);
    Ok(response)
}

/// `Location` of the plugin and, when the index was built in process (the local
/// server), `ETag` of the new version's details: `GET /plugins/{slug}?version=`
/// with `If-None-Match` then answers 304 at once. On AWS the index is built from
/// the stream moments later, so there is no ETag yet and clients poll.
fn set_published_headers(response: &mut Response, published: &Published) {
    let headers = response.headers_mut();
    if let Ok(location) = HeaderValue::from_str(&published.url) {
        headers.insert(header::LOCATION, location);
    }
    if let Some(etag) = published
        .details_etag
        .as_deref()
        .and_then(|e| HeaderValue::from_str(e).ok())
    {
        headers.insert(header::ETAG, etag);
    }
}

/// 202 for a version held for review, with the review's address as `Location`.
fn pending_review_response(published: &Published) -> Response {
    let mut response = json_response(
        StatusCode::ACCEPTED,
        &PendingReviewResponse {
            status: "pending_review".to_owned(),
            slug: published.slug.to_string(),
            version: published.version.to_string(),
            review_id: format!("{}@{}", published.slug, published.version),
            review_url: published.url.clone(),
        },
        true,
    );
    if let Ok(location) = HeaderValue::from_str(&published.url) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}
