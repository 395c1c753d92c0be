//! Reports: anyone signed in may tell the registry's admins that a plugin (or one
//! of its versions) is malware, spam, an impersonation or otherwise harmful.
//! Admins list the open reports and resolve each, saying what they did.
//!
//! A report names its reporter to the admins alone: it never enters the
//! plugin's audit log, which its owners read.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::auth::{PrincipalId, random_hex};
use crate::slug::Slug;
use crate::timestamp::Timestamp;
use crate::version::PluginVersion;

/// Longest report text, in characters.
pub const MAX_REPORT_DETAILS: usize = 2000;

/// Longest resolution note, in characters.
pub const MAX_RESOLUTION_NOTE: usize = 500;

/// The most reports one page lists.
pub const MAX_REPORT_PAGE: usize = 100;

/// A report's id: `rpt_` + 16 hex characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ReportId(String);

impl ReportId {
    /// A fresh random id.
    pub fn generate() -> Result<Self, getrandom::Error> {
        Ok(Self(format!("rpt_{}", random_hex(8)?)))
    }

    /// Wraps a stored id.
    pub fn from_stored(raw: impl Into<String>) -> Self {
        Self(raw.into())
    }

    /// An id a client named, if it has the shape of one.
    pub fn parse(raw: &str) -> Option<Self> {
        crate::auth::id_shaped(raw, "rpt_").then(|| Self(raw.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ReportId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What is wrong with the plugin, as the reporter sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportReason {
    /// It does harm: steals secrets, runs what it should not.
    Malware,
    /// Junk, advertising, or a slug squatted with no real plugin.
    Spam,
    /// It pretends to be another project or organisation.
    Impersonation,
    /// Its text or content is abusive or unlawful.
    Abuse,
    /// It breaks a licence.
    License,
    /// Something else: the details say what.
    Other,
}

impl ReportReason {
    /// The reason's name, as the API writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Malware => "malware",
            Self::Spam => "spam",
            Self::Impersonation => "impersonation",
            Self::Abuse => "abuse",
            Self::License => "license",
            Self::Other => "other",
        }
    }
}

impl fmt::Display for ReportReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an admin closed a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Resolution {
    /// The admin's principal.
    #[schema(value_type = String)]
    pub by: PrincipalId,
    /// When.
    #[schema(value_type = String)]
    pub at: Timestamp,
    /// What was done, or why nothing was.
    pub note: String,
}

/// Why and by whom a plugin or a version is hidden: admins quarantine what
/// reports show to be harmful, and lift it again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Quarantine {
    /// Why, shown to the plugin's owners.
    pub reason: String,
    /// The admin's principal.
    #[schema(value_type = String)]
    pub by: PrincipalId,
    /// Since when.
    #[schema(value_type = String)]
    pub at: Timestamp,
}

/// One report, as stored and as admins list it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PluginReport {
    /// Its id.
    #[schema(value_type = String)]
    pub id: ReportId,
    /// The plugin reported.
    #[schema(value_type = String)]
    pub slug: Slug,
    /// The version reported, if one.
    #[schema(value_type = Option<String>)]
    pub version: Option<PluginVersion>,
    /// Why.
    pub reason: ReportReason,
    /// What the reporter saw, in their words.
    pub details: String,
    /// Who reported it.
    #[schema(value_type = String)]
    pub reporter: PrincipalId,
    /// When.
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    /// How it was closed; `null` while open.
    pub resolution: Option<Resolution>,
}
