//! RFC 9457 problem details: the one error type of the HTTP edge.
//!
//! Every refusal has a stable machine `code` and a `detail` that says what to fix.
//! Unexpected failures are logged in full and answered with a generic 500 (or 503
//! when storage is only temporarily unavailable), never leaking internals.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use registry_core::RegistryError;
use registry_core::bundle::BundleError;
use registry_core::manifest::FieldError;
use registry_core::store::StorageError;
use registry_core::trusted_publishing::CiTokenError;

use crate::deadline::BodyDeadlinePassed;

pub use registry_core::api::Problem;
pub use registry_core::error::{PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_BASE};

/// The `detail` of the 404 for a path no route matches.
pub const NO_SUCH_ROUTE: &str = "no such route; see /openapi.json for the API";

/// An error answered as problem+json.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    detail: String,
    errors: Vec<FieldError>,
    /// Seconds to send as `Retry-After` (a rate limit's 429).
    retry_after: Option<u64>,
}

impl ApiError {
    /// A problem with a status, code and detail.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            errors: Vec::new(),
            retry_after: None,
        }
    }

    /// 400 for a malformed request.
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    /// 404 for an unknown route or resource.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    /// 404 for a path no route matches (the router's fallback).
    pub fn no_such_route() -> Self {
        Self::not_found(NO_SUCH_ROUTE)
    }

    /// 408 for a body that did not arrive by its deadline; the connection closes,
    /// since the rest of the body may still be on its way.
    pub fn request_timeout(passed: BodyDeadlinePassed) -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!(
                "{passed}; send the body faster, or a large bundle through POST /uploads where the registry offers it"
            ),
        )
    }

    /// 413 for a body over `limit` bytes.
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body exceeds the {limit}-byte limit"),
        )
    }

    /// 415 for a body type the route does not take.
    pub fn unsupported_media_type(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            detail,
        )
    }

    /// The status this error answers with.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Its stable problem code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// What it says to fix.
    pub fn detail(&self) -> &str {
        &self.detail
    }
}

fn title_of(status: StatusCode) -> &'static str {
    status.canonical_reason().unwrap_or("Error")
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Problem {
            errors: self.errors,
            ..Problem::new(
                self.status.as_u16(),
                title_of(self.status),
                self.code,
                self.detail,
            )
        };
        let bytes = serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec());
        let mut response = (self.status, bytes).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(PROBLEM_CONTENT_TYPE),
        );
        if self.status == StatusCode::REQUEST_TIMEOUT {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"openworkflow-registry\""),
            );
        }
        response
    }
}

impl From<RegistryError> for ApiError {
    fn from(error: RegistryError) -> Self {
        use StatusCode as S;
        let detail = error.to_string();
        let (status, code) = match &error {
            RegistryError::Unauthenticated { .. } => (S::UNAUTHORIZED, "unauthenticated"),
            RegistryError::KeyExpired { .. } => (S::UNAUTHORIZED, "key_expired"),
            RegistryError::MissingScope { .. } => (S::FORBIDDEN, "missing_scope"),
            RegistryError::SignInUnavailable { .. } => (S::NOT_FOUND, "sign_in_unavailable"),
            RegistryError::SignInRefused { code, .. } => (S::UNAUTHORIZED, *code),
            RegistryError::SignInProviderFailed { .. } => {
                (S::SERVICE_UNAVAILABLE, "sign_in_provider_failed")
            }
            RegistryError::CsrfRejected => (S::FORBIDDEN, "csrf_rejected"),
            RegistryError::DeviceFlow { code, .. } => (S::BAD_REQUEST, *code),
            RegistryError::Forbidden { .. } => (S::FORBIDDEN, "forbidden"),
            RegistryError::KeyNotForPlugin { .. } => (S::FORBIDDEN, "key_not_for_plugin"),
            RegistryError::InvalidParameter { .. } => (S::BAD_REQUEST, "invalid_parameter"),
            RegistryError::RangeBeyondRetention { .. } => {
                (S::UNPROCESSABLE_ENTITY, "range_beyond_retention")
            }
            RegistryError::MalformedDocument { .. } => (S::BAD_REQUEST, "malformed_document"),
            RegistryError::Invalid { problems } => {
                return Self {
                    status: S::UNPROCESSABLE_ENTITY,
                    code: "validation_failed",
                    detail,
                    errors: problems.clone(),
                    retry_after: None,
                };
            }
            RegistryError::Bundle(BundleError::TooLarge { .. }) => {
                (S::PAYLOAD_TOO_LARGE, "payload_too_large")
            }
            RegistryError::Bundle(_) => (S::BAD_REQUEST, "invalid_bundle"),
            RegistryError::PluginNotFound { .. } => (S::NOT_FOUND, "plugin_not_found"),
            RegistryError::VersionNotFound { .. } => (S::NOT_FOUND, "version_not_found"),
            RegistryError::NoBundle { .. } => (S::NOT_FOUND, "no_bundle"),
            RegistryError::KeyNotFound { .. } => (S::NOT_FOUND, "key_not_found"),
            RegistryError::UploadsUnsupported => (S::NOT_FOUND, "uploads_unsupported"),
            RegistryError::UploadNotFound { .. } => (S::NOT_FOUND, "upload_not_found"),
            RegistryError::UploadMismatch { .. } => (S::UNPROCESSABLE_ENTITY, "upload_mismatch"),
            RegistryError::VersionGone { .. } => (S::GONE, "version_unpublished"),
            RegistryError::VersionExists { .. } => (S::CONFLICT, "version_exists"),
            RegistryError::VersionNotIncremented { .. } => (S::CONFLICT, "version_not_incremented"),
            RegistryError::UnpublishRefused { .. } => (S::CONFLICT, "unpublish_refused"),
            RegistryError::ConcurrentUpdate { .. } => (S::CONFLICT, "concurrent_update"),
            RegistryError::MissingPermission { .. } => (S::FORBIDDEN, "missing_permission"),
            RegistryError::NotOrgMember { .. } => (S::FORBIDDEN, "not_org_member"),
            RegistryError::OrgNotFound { .. } => (S::NOT_FOUND, "org_not_found"),
            RegistryError::OrgExists { .. } => (S::CONFLICT, "org_exists"),
            RegistryError::PrincipalNotFound { .. } => (S::NOT_FOUND, "principal_not_found"),
            RegistryError::MemberNotFound { .. } => (S::NOT_FOUND, "member_not_found"),
            RegistryError::OwnershipConflict { code, .. } => (S::CONFLICT, *code),
            RegistryError::SlugConfusable { .. } => (S::CONFLICT, "slug_confusable"),
            RegistryError::RateLimited { retry_after, .. } => {
                return Self {
                    retry_after: Some(*retry_after),
                    ..Self::new(S::TOO_MANY_REQUESTS, "rate_limited", detail)
                };
            }
            RegistryError::InvitationNotFound { .. } => (S::NOT_FOUND, "invitation_not_found"),
            RegistryError::TeamNotFound { .. } => (S::NOT_FOUND, "team_not_found"),
            RegistryError::NotOnRoster { code, .. } => (S::NOT_FOUND, *code),
            RegistryError::OwnershipUnavailable => (S::NOT_FOUND, "owners_unavailable"),
            RegistryError::AuditUnavailable => (S::NOT_FOUND, "audit_unavailable"),
            RegistryError::ReportsUnavailable => (S::NOT_FOUND, "reports_unavailable"),
            RegistryError::PluginQuarantined { .. } => (S::FORBIDDEN, "plugin_quarantined"),
            RegistryError::ReportNotFound { .. } => (S::NOT_FOUND, "report_not_found"),
            RegistryError::VersionUnderReview { .. } => (S::CONFLICT, "version_under_review"),
            RegistryError::ReviewNotFound { .. } => (S::NOT_FOUND, "review_not_found"),
            RegistryError::ReviewDecided { .. } => (S::CONFLICT, "review_decided"),
            RegistryError::ReportResolved { .. } => (S::CONFLICT, "report_resolved"),
            RegistryError::PermissionNotHeld { .. } => (S::NOT_FOUND, "permission_not_held"),
            RegistryError::CatalogPluginNotFound { .. } => {
                (S::NOT_FOUND, "catalog_plugin_not_found")
            }
            RegistryError::SystemPluginDisabled { .. } => (S::CONFLICT, "system_plugin_disabled"),
            RegistryError::OrgCatalogUnavailable => (S::NOT_FOUND, "org_catalog_unavailable"),
            RegistryError::InstanceNotFound { .. } => (S::NOT_FOUND, "instance_not_found"),
            RegistryError::InstanceTaken { .. } => (S::CONFLICT, "instance_taken"),
            RegistryError::McpRouterUnavailable => (S::NOT_FOUND, "router_unavailable"),
            RegistryError::WebhookNotFound { .. } => (S::NOT_FOUND, "webhook_not_found"),
            RegistryError::DeliveryNotFound { .. } => (S::NOT_FOUND, "delivery_not_found"),
            RegistryError::TooManyWebhooks { .. } => (S::CONFLICT, "too_many_webhooks"),
            RegistryError::WebhooksUnavailable => (S::NOT_FOUND, "webhooks_unavailable"),
            RegistryError::ChecksNotPassed { .. } => (S::CONFLICT, "checks_not_passed"),
            RegistryError::CheckNotFound { .. } => (S::NOT_FOUND, "check_not_found"),
            RegistryError::CheckClosed { .. } => (S::CONFLICT, "check_closed"),
            RegistryError::CiTokenRefused(CiTokenError::IssuerUnavailable(_)) => {
                (S::SERVICE_UNAVAILABLE, "oidc_issuer_unavailable")
            }
            RegistryError::CiTokenRefused(refusal) => (S::UNAUTHORIZED, refusal.code()),
            RegistryError::CiTokenReplayed => (S::UNAUTHORIZED, "oidc_token_replayed"),
            RegistryError::PublishTokenExpired { .. } => (S::UNAUTHORIZED, "publish_token_expired"),
            RegistryError::ForbiddenTrigger { .. } => (S::FORBIDDEN, "forbidden_trigger"),
            RegistryError::NoTrustedPublisher { .. } => (S::FORBIDDEN, "no_trusted_publisher"),
            RegistryError::NotTrustedPublisher { .. } => (S::FORBIDDEN, "not_trusted_publisher"),
            RegistryError::PublisherNotFound { .. } => {
                (S::NOT_FOUND, "trusted_publisher_not_found")
            }
            RegistryError::PublisherExists { .. } => (S::CONFLICT, "trusted_publisher_exists"),
            RegistryError::TrustedPublishingRequired { .. } => {
                (S::FORBIDDEN, "trusted_publishing_required")
            }
            RegistryError::LockNeedsPublisher { .. } => (S::CONFLICT, "lock_needs_publisher"),
            RegistryError::FreshSignInRequired { .. } => (S::FORBIDDEN, "fresh_sign_in_required"),
            RegistryError::TrustedPublishingUnavailable => {
                (S::NOT_FOUND, "trusted_publishing_unavailable")
            }
            RegistryError::Storage(StorageError::Unavailable(_)) => {
                tracing::warn!(
                    error = &error as &dyn std::error::Error,
                    "storage unavailable"
                );
                return Self::new(
                    S::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the registry is busy; retry shortly",
                );
            }
            RegistryError::Storage(_)
            | RegistryError::MissingArtifact { .. }
            | RegistryError::Entropy => {
                tracing::error!(error = &error as &dyn std::error::Error, "internal error");
                return Self::new(
                    S::INTERNAL_SERVER_ERROR,
                    "internal",
                    "the registry failed; the failure is logged",
                );
            }
        };
        Self::new(status, code, detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_and_code(error: RegistryError) -> (u16, String) {
        let api = ApiError::from(error);
        (api.status.as_u16(), api.code.to_owned())
    }

    #[test]
    fn storage_failures_are_503_when_transient_and_500_otherwise_without_leaking() {
        let unavailable = RegistryError::Storage(StorageError::Unavailable("throttled".into()));
        assert_eq!(
            status_and_code(unavailable),
            (503, "unavailable".to_owned())
        );
        let broken = ApiError::from(RegistryError::Storage(StorageError::Backend(
            "secret table name".into(),
        )));
        assert_eq!((broken.status.as_u16(), broken.code), (500, "internal"));
        assert!(
            !broken.detail.contains("secret"),
            "internals never reach the client"
        );
    }

    #[test]
    fn conflicts_are_409_and_validation_is_422_with_every_problem() {
        let exists = RegistryError::VersionExists {
            detail: "x@1.0.0 is already published".into(),
        };
        assert_eq!(status_and_code(exists), (409, "version_exists".to_owned()));
        let invalid = ApiError::from(RegistryError::Invalid {
            problems: vec![
                FieldError {
                    field: "slug".into(),
                    message: "is required".into(),
                },
                FieldError {
                    field: "tags".into(),
                    message: "is required".into(),
                },
            ],
        });
        assert_eq!((invalid.status.as_u16(), invalid.errors.len()), (422, 2));
        let too_big = RegistryError::Bundle(BundleError::TooLarge { limit: 5 });
        assert_eq!(
            status_and_code(too_big),
            (413, "payload_too_large".to_owned())
        );
    }
}
