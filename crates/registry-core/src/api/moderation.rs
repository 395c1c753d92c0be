//! Reports of plugins, and the admins' answers to them.

use serde::{Deserialize, Serialize};

pub use crate::moderation::{PluginReport, Quarantine, ReportReason, Resolution};
pub use crate::registry::QuarantineState;

/// A report to make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportRequest {
    /// `malware`, `spam`, `impersonation`, `abuse`, `license` or `other`.
    pub reason: ReportReason,
    /// What you saw, 1 to 2000 characters: the admins read it.
    pub details: String,
    /// The version, if the report is about one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// How an admin closes a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveReportRequest {
    /// What was done, or why nothing was (1 to 500 characters).
    pub note: String,
}

/// Reports, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReportList {
    /// The reports.
    pub reports: Vec<PluginReport>,
}

/// A quarantine to put in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuarantineRequest {
    /// Why (1 to 500 characters): the plugin's owners read it.
    pub reason: String,
    /// Only this version; without it, the whole plugin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}
