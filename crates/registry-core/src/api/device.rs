//! The CLI's sign-in from a terminal: RFC 8628's device authorization, as JSON.

use serde::{Deserialize, Serialize};

/// What `POST /auth/device` takes (the body may also be empty).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceAuthorizationRequest {
    /// The name the key will get ("openworkflow CLI on my-laptop"); default
    /// "openworkflow CLI".
    #[serde(default)]
    pub key_name: Option<String>,
}

/// A device sign-in begun (RFC 8628 section 3.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeviceAuthorizationResponse {
    /// The secret to poll with; keep it to yourself.
    pub device_code: String,
    /// The code the person confirms (`BCDF-GHJK`).
    pub user_code: String,
    /// The page to confirm it on.
    pub verification_uri: String,
    /// That page with the code filled in.
    pub verification_uri_complete: String,
    /// Seconds until both codes lapse.
    pub expires_in: u64,
    /// Seconds to wait between polls.
    pub interval: u32,
}

/// What `POST /auth/device/token` takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceTokenRequest {
    /// The device code `POST /auth/device` gave.
    pub device_code: String,
}
