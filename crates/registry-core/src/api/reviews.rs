//! The review API's bodies: `GET /reviews`, `GET /reviews/{id}` and the
//! decisions `POST /reviews/{id}/approve|reject`.

use serde::{Deserialize, Serialize};

use crate::auth::PrincipalId;
use crate::manifest::Manifest;
use crate::timestamp::Timestamp;

/// A reviewer's decision.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewDecisionRequest {
    /// Why: optional for an approval, required for a rejection (the owners read
    /// it); at most 2000 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// An artifact of a version under review, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReviewedArtifact {
    /// Its SHA-256, hex.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
    /// Where reviewers and owners fetch it (never cached, never counted).
    pub url: String,
}

/// What a reviewer decided, with why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReviewDecisionView {
    /// `rejected`.
    pub state: String,
    /// The reviewer.
    #[schema(value_type = String)]
    pub decided_by: PrincipalId,
    /// When.
    #[schema(value_type = String)]
    pub decided_at: Timestamp,
    /// Why.
    pub comment: String,
}

/// A version under review, as reviewers and the plugin's owners see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReviewView {
    /// `slug@version`.
    pub id: String,
    /// The plugin.
    pub slug: String,
    /// The version submitted.
    pub version: String,
    /// `pending` or `rejected`.
    pub state: String,
    /// When it was submitted.
    #[schema(value_type = String)]
    pub submitted_at: Timestamp,
    /// Who submitted it.
    #[schema(value_type = String)]
    pub submitted_by: PrincipalId,
    /// The version readers see today, if any (what this one would follow).
    pub current_version: Option<String>,
    /// The validated manifest: every field passed the publish checks.
    #[schema(value_type = Object)]
    pub manifest: Manifest,
    /// The schema document exactly as submitted.
    pub schema: ReviewedArtifact,
    /// The bundle, when submitted as one (its ZIP passed the bundle checks).
    pub bundle: Option<ReviewedArtifact>,
    /// The rejection, once rejected.
    pub decision: Option<ReviewDecisionView>,
    /// The checks it waits for (webhook subscriptions marked as checks): it is
    /// approved only once each passed.
    #[serde(default)]
    pub checks: Vec<CheckView>,
}

/// The answer to an approval or a rejection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReviewOutcome {
    /// `slug@version`.
    pub id: String,
    /// `approved` or `rejected`.
    pub state: String,
    /// The plugin's URL (approved versions are readable there now).
    pub url: String,
    /// ETag of the approved version's details, when the index was built in
    /// process.
    #[serde(skip)]
    pub details_etag: Option<String>,
}

/// `GET /reviews`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReviewList {
    /// The reviews, the longest waiting first.
    pub reviews: Vec<ReviewView>,
}

/// An upload to an org's catalog held for review, as the org's reviewers and
/// writers see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrgReviewView {
    /// The catalog row (`plg_...`).
    #[schema(value_type = String)]
    pub plugin_id: crate::catalog::CatalogPluginId,
    /// The plugin's id (its manifest slug).
    pub pid: String,
    /// The version uploaded.
    pub version: String,
    /// Its name.
    pub name: String,
    /// What it does.
    pub description: String,
    /// `pending` or `rejected`.
    pub state: String,
    /// When it was uploaded.
    #[schema(value_type = String)]
    pub submitted_at: Timestamp,
    /// Who uploaded it.
    #[schema(value_type = String)]
    pub submitted_by: PrincipalId,
    /// The rejection, once rejected.
    pub decision: Option<ReviewDecisionView>,
}

/// `GET /api/orgs/{org_id}/reviews`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrgReviewList {
    /// The org's uploads under review, the longest waiting first.
    pub reviews: Vec<OrgReviewView>,
}

/// `PUT /api/orgs/{org_id}/review-policy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgReviewPolicy {
    /// `none` (uploads are live at once) or `required` (each waits for a member
    /// with `cadence:org:plugins:review`).
    pub review: String,
    /// Uploads by these principals, or by members of these teams (`prn_…`),
    /// skip review.
    #[serde(default)]
    pub auto_approve_publishers: Vec<String>,
    /// Patch releases of a plugin the org's catalog shows (same major and
    /// minor as its highest shown version, no pre-release) skip review.
    #[serde(default)]
    pub auto_approve_patches: bool,
}

/// A check's answer, as it sends it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckAnswerRequest {
    /// `pass` or `fail`.
    pub conclusion: String,
    /// Where its report is (http or https).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// What it found, in a line or two (at most 1000 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
}

/// A check as reviewers and owners see it (never its token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CheckView {
    /// Its name.
    pub name: String,
    /// `pending`, `passed`, `failed` or `timed_out`.
    pub status: crate::review::CheckStatus,
    /// When it was asked.
    #[schema(value_type = String, format = DateTime)]
    pub requested_at: Timestamp,
    /// When it fails unanswered.
    #[schema(value_type = String, format = DateTime)]
    pub deadline: Timestamp,
    /// When it answered.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub answered_at: Option<Timestamp>,
    /// Its report.
    pub url: Option<String>,
    /// What it found.
    pub summary: Option<String>,
}

impl CheckView {
    /// The view of `run` at `now`.
    pub fn of(run: &crate::review::CheckRun, now: Timestamp) -> Self {
        Self {
            name: run.name.clone(),
            status: run.status(now),
            requested_at: run.requested_at,
            deadline: run.deadline,
            answered_at: run.answer.as_ref().map(|a| a.at),
            url: run.answer.as_ref().and_then(|a| a.url.clone()),
            summary: run.answer.as_ref().and_then(|a| a.summary.clone()),
        }
    }
}
