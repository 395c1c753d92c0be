//! Publishing and managing versions: the answers of publish, update, deprecate
//! and unpublish, and the presigned upload of a bundle.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::store::Deprecation;

/// `POST /plugins` answered 201.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PublishResponse {
    /// `published`
    pub status: String,
    /// The plugin.
    pub slug: String,
    /// The new version.
    pub version: String,
    /// The plugin's URL.
    pub url: String,
}

/// `POST /plugins` or `PUT /plugins/{slug}` answered 202: the version waits for a
/// reviewer and is not readable until approved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PendingReviewResponse {
    /// `pending_review`
    pub status: String,
    /// The plugin.
    pub slug: String,
    /// The version submitted (its string is taken now).
    pub version: String,
    /// The review's id, `slug@version`.
    pub review_id: String,
    /// Where the submitter follows the review.
    pub review_url: String,
}

/// `PUT /plugins/{slug}` answered 200.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UpdateResponse {
    /// `updated`
    pub status: String,
    /// The plugin.
    pub slug: String,
    /// The new version.
    pub version: String,
    /// The highest version before this one.
    #[serde(default)]
    pub previous_version: Option<String>,
}

/// What the client will upload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUploadRequest {
    /// The ZIP's exact size in bytes (at most 5 MB).
    pub size: u64,
    /// The ZIP's SHA-256, 64 lowercase hex digits.
    pub sha256: String,
}

/// Where and how to send the bytes, then which id to publish.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UploadTicketResponse {
    /// Name it in `POST /plugins?upload_id=` (or `PUT /plugins/{slug}?upload_id=`).
    pub upload_id: String,
    /// Always `PUT`.
    pub method: String,
    /// The presigned URL.
    pub url: String,
    /// Send exactly these headers; they are signed.
    pub headers: BTreeMap<String, String>,
    /// When the URL stops working (RFC 3339).
    pub expires_at: String,
}

/// The deprecation request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeprecateRequest {
    /// Why the version should no longer be used.
    pub reason: String,
    /// A published version to use instead.
    #[serde(default)]
    pub replacement_version: Option<String>,
}

/// Answer to a deprecation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeprecateResponse {
    /// `deprecated`
    pub status: String,
    /// The plugin.
    pub slug: String,
    /// The version.
    pub version: String,
    /// The notice now shown with it.
    pub deprecated: Deprecation,
}

/// Answer to an unpublish.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UnpublishResponse {
    /// `unpublished`
    pub status: String,
    /// The plugin.
    pub slug: String,
    /// The version removed (its string stays taken).
    pub version: String,
    /// When.
    pub unpublished_at: String,
}
