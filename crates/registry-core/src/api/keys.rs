//! API keys: creating, listing and revoking them.

use serde::{Deserialize, Serialize};

use crate::auth::{PrincipalKind, Scope};
pub use crate::registry::KeyInfo;

/// A key to create.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    /// Label, such as "CI/CD Pipeline".
    pub name: String,
    /// Scopes (default: `publish`).
    #[serde(default)]
    pub scopes: Option<Vec<Scope>>,
    /// Attach to this existing principal (admin keys only, unless it is the caller's).
    #[serde(default)]
    pub principal: Option<String>,
    /// Or create this principal for the key (admin keys only).
    #[serde(default)]
    pub new_principal: Option<NewPrincipalRequest>,
    /// Days until the key expires, 1 to 365; default 90. Admin keys may make keys
    /// that never expire by leaving it out.
    #[serde(default)]
    pub expires_in_days: Option<u32>,
    /// Limit the key to these plugins (1 to 100 slugs): it can publish to,
    /// deprecate and unpublish only them (`403 key_not_for_plugin` otherwise).
    /// Default: every plugin of its principal.
    #[serde(default)]
    pub plugins: Option<Vec<String>>,
}

/// A principal to create with the key (admin keys only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPrincipalRequest {
    /// Display name.
    pub name: String,
    /// `user`, `team` or `org`.
    pub kind: PrincipalKind,
}

/// A created key; `key` is shown only this once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreatedKeyResponse {
    /// The secret, `sk_...`: store it now, it cannot be shown again.
    pub key: String,
    /// Everything else about it.
    #[serde(flatten)]
    pub info: KeyInfo,
}

/// A list of keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KeyList {
    /// The keys, oldest first, without secrets.
    pub keys: Vec<KeyInfo>,
}
