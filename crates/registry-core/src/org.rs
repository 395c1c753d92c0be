//! Organisations, memberships and the permissions principals hold.
//!
//! A key authenticates a principal; what the principal may do in an org catalog
//! comes from its permissions (`cadence:org:plugins:read|write|review`,
//! `sys_admin`) and its memberships. The spec's `org_context` rule: a caller must
//! both hold the permission and belong to the org. One permission is the
//! registry's own: `registry:review` makes a person a reviewer of the registry's
//! review queue in their browser sessions.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::auth::PrincipalId;
use crate::timestamp::Timestamp;

/// Longest org id, in bytes.
pub const MAX_ORG_ID: usize = 64;
/// Longest org display name, in characters.
pub const MAX_ORG_NAME: usize = 100;

/// A permission attached to a principal.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub enum Permission {
    /// Browse an org's catalog (with membership).
    #[serde(rename = "cadence:org:plugins:read")]
    OrgPluginsRead,
    /// Upload, enable and disable in an org's catalog (with membership).
    #[serde(rename = "cadence:org:plugins:write")]
    OrgPluginsWrite,
    /// Approve and reject uploads held for review in an org's catalog (with
    /// membership; grants reading too).
    #[serde(rename = "cadence:org:plugins:review")]
    OrgPluginsReview,
    /// Approve and reject versions held by the registry's own review policy, from
    /// a browser session too (an API key decides with its `review` scope).
    #[serde(rename = "registry:review")]
    RegistryReview,
    /// Platform administrator: the system catalog, orgs, members and permissions.
    #[serde(rename = "sys_admin")]
    SysAdmin,
}

impl Permission {
    /// Every permission.
    pub const ALL: [Permission; 5] = [
        Permission::OrgPluginsRead,
        Permission::OrgPluginsWrite,
        Permission::OrgPluginsReview,
        Permission::RegistryReview,
        Permission::SysAdmin,
    ];

    /// The permission's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OrgPluginsRead => "cadence:org:plugins:read",
            Self::OrgPluginsWrite => "cadence:org:plugins:write",
            Self::OrgPluginsReview => "cadence:org:plugins:review",
            Self::RegistryReview => "registry:review",
            Self::SysAdmin => "sys_admin",
        }
    }

    /// Parses a wire name.
    pub fn parse(raw: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == raw)
            .ok_or_else(|| {
                format!(
                    "unknown permission {raw:?}; expected cadence:org:plugins:read, cadence:org:plugins:write, cadence:org:plugins:review, registry:review or sys_admin"
                )
            })
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An org's identifier: lowercase letters, digits and `-`, chosen at creation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OrgId(String);

impl OrgId {
    /// Parses an org id.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let valid = !raw.is_empty()
            && raw.len() <= MAX_ORG_ID
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !raw.starts_with('-')
            && !raw.ends_with('-');
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(format!(
                "{raw:?} is not an org id: use 1 to {MAX_ORG_ID} lowercase letters, digits and '-', not starting or ending with '-'"
            ))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for OrgId {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<OrgId> for String {
    fn from(id: OrgId) -> Self {
        id.0
    }
}

impl fmt::Display for OrgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Org {
    /// Its id.
    pub id: OrgId,
    /// Display name.
    pub name: String,
    /// When it was created.
    pub created_at: Timestamp,
    /// Whether each upload to its catalog waits for a reviewer (`false`: live at
    /// once, as before review existed).
    #[serde(default)]
    pub review_required: bool,
    /// Which uploads skip review where it is required: by these principals or
    /// members of these teams, or patch releases of a plugin the org shows.
    #[serde(default, skip_serializing_if = "is_default")]
    pub review_auto_approve: crate::review::AutoApproval,
}

fn is_default(rules: &crate::review::AutoApproval) -> bool {
    rules == &crate::review::AutoApproval::default()
}

/// One principal's membership of an org.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    /// The org.
    pub org: OrgId,
    /// The member.
    pub principal: PrincipalId,
    /// When it was added.
    pub added_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_round_trip_their_wire_names() {
        for permission in Permission::ALL {
            assert_eq!(Permission::parse(permission.as_str()), Ok(permission));
            let json = serde_json::to_string(&permission).unwrap_or_default();
            assert_eq!(json, format!("\"{permission}\""));
        }
        assert!(Permission::parse("admin").is_err());
    }

    #[test]
    fn org_ids_are_lowercase_slugs() {
        assert!(OrgId::parse("acme-2").is_ok());
        for bad in ["", "Acme", "-acme", "acme-", "a/b", &"a".repeat(65)] {
            assert!(OrgId::parse(bad).is_err(), "{bad:?}");
        }
    }
}
