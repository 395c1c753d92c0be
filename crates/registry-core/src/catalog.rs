//! The org-scoped plugin catalog's rows: one plugin (`pid`) at one version from
//! one source, system or org, with what discovery found in its ZIP.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::artifact::StoredArtifact;
use crate::auth::{PrincipalId, random_hex};
use crate::org::OrgId;
use crate::slug::Slug;
use crate::timestamp::Timestamp;
use crate::version::PluginVersion;

/// Where a catalog row comes from.
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
#[serde(rename_all = "lowercase")]
pub enum CatalogSource {
    /// Uploaded by the org itself; visible only to that org.
    Org,
    /// Uploaded by a platform admin; visible to every org.
    System,
}

impl CatalogSource {
    /// The source's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Org => "org",
            Self::System => "system",
        }
    }

    /// Parses a wire name.
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "org" => Ok(Self::Org),
            "system" => Ok(Self::System),
            other => Err(format!("unknown source {other:?}; expected org or system")),
        }
    }
}

/// Which catalog a row lives in: the system catalog or one org's.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum CatalogScope {
    /// The platform-wide system catalog.
    System,
    /// One org's own catalog.
    Org(OrgId),
}

impl CatalogScope {
    /// The row's source as clients see it.
    pub fn source(&self) -> CatalogSource {
        match self {
            Self::System => CatalogSource::System,
            Self::Org(_) => CatalogSource::Org,
        }
    }

    /// The storage name (`system` or `org:{org_id}`: the `{registry}` part of DynamoDB keys).
    pub fn storage_name(&self) -> String {
        match self {
            Self::System => "system".to_owned(),
            Self::Org(org) => format!("org:{org}"),
        }
    }

    /// The artifact-key prefix of the scope's bundles.
    pub fn artifact_prefix(&self) -> String {
        match self {
            Self::System => "catalog/system".to_owned(),
            Self::Org(org) => format!("catalog/orgs/{org}"),
        }
    }
}

impl TryFrom<String> for CatalogScope {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        match raw.strip_prefix("org:") {
            None if raw == "system" => Ok(Self::System),
            Some(org) => Ok(Self::Org(OrgId::parse(org)?)),
            None => Err(format!("{raw:?} is not a catalog scope")),
        }
    }
}

impl From<CatalogScope> for String {
    fn from(scope: CatalogScope) -> Self {
        scope.storage_name()
    }
}

impl fmt::Display for CatalogScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.storage_name())
    }
}

/// Identifier of one catalog row (`plg_` + 16 hex characters).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CatalogPluginId(String);

impl CatalogPluginId {
    /// A fresh random id.
    pub fn generate() -> Result<Self, getrandom::Error> {
        Ok(Self(format!("plg_{}", random_hex(8)?)))
    }

    /// Parses an id from a request path; `None` when it cannot be one of ours.
    pub fn parse(raw: &str) -> Option<Self> {
        raw.strip_prefix("plg_")
            .is_some_and(|hex| hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| Self(raw.to_ascii_lowercase()))
    }

    /// Wraps an id read back from a store.
    pub fn from_stored(raw: impl Into<String>) -> Self {
        Self(raw.into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CatalogPluginId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One catalog row: a pid at one version in one scope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogRow {
    /// The row's id.
    pub plugin_id: CatalogPluginId,
    /// The catalog it lives in.
    pub scope: CatalogScope,
    /// The plugin's id: its manifest slug.
    pub pid: Slug,
    /// The version.
    pub version: PluginVersion,
    /// Display name.
    pub name: String,
    /// What it does.
    pub description: String,
    /// Its tags (for `?tag=`).
    pub tags: Vec<String>,
    /// What it can do.
    pub capabilities: Vec<String>,
    /// The configuration form (JSON Schema), if it has settings.
    pub settings_schema: Option<serde_json::Value>,
    /// The uploaded ZIP.
    pub artifact: StoredArtifact,
    /// Enabled in its own scope. For a system row, also whether any org may use it.
    pub enabled: bool,
    /// Who uploaded it.
    pub uploaded_by: PrincipalId,
    /// When it was uploaded.
    pub uploaded_at: Timestamp,
    /// When its enablement last changed.
    pub updated_at: Timestamp,
    /// Its review, while it waits for one (an org that requires review) or after
    /// a rejection; such a row is in no list and no read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<crate::review::ReviewState>,
}

impl CatalogRow {
    /// Applies a reviewer's decision (`None`: approved) to a row waiting for
    /// one; a row not waiting is refused with [`Conflict::RevisionChanged`].
    pub fn decide_review(
        &mut self,
        decision: Option<&crate::review::ReviewState>,
    ) -> Result<(), crate::store::Conflict> {
        if !self
            .review
            .as_ref()
            .is_some_and(crate::review::ReviewState::is_pending)
        {
            return Err(crate::store::Conflict::RevisionChanged);
        }
        self.review = decision.cloned();
        Ok(())
    }
}

/// An org's own choice about one system row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrgChoice {
    /// Whether the org enabled it.
    pub enabled: bool,
    /// When it chose.
    pub at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_round_trip_their_storage_names() {
        let org = CatalogScope::Org(OrgId::parse("acme").unwrap_or_else(|e| panic!("{e}")));
        for scope in [CatalogScope::System, org] {
            assert_eq!(
                CatalogScope::try_from(scope.storage_name()).as_ref(),
                Ok(&scope)
            );
        }
        assert!(CatalogScope::try_from("org:".to_owned()).is_err());
        assert!(CatalogScope::try_from("public".to_owned()).is_err());
    }

    #[test]
    fn plugin_ids_have_one_shape() {
        let id = CatalogPluginId::generate().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(CatalogPluginId::parse(id.as_str()), Some(id));
        for bad in [
            "plg_",
            "plg_xyz",
            "key_0123456789abcdef",
            "plg_0123456789abcdef0",
        ] {
            assert_eq!(CatalogPluginId::parse(bad), None, "{bad}");
        }
    }
}
