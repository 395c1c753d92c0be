//! The HTTP API's wire types: the one definition of each body that the server
//! serializes and the client (the `openworkflow` CLI and library) deserializes.
//! Readers ignore fields they do not know, so a newer server never breaks an older
//! client; fields a client can do without default when absent.

use serde::{Deserialize, Serialize};

use crate::error::PROBLEM_TYPE_BASE;
use crate::manifest::FieldError;

pub mod analytics;
pub mod audit;
pub mod device;
pub mod keys;
pub mod mcp_router;
pub mod moderation;
pub mod owners;
pub mod plugins;
pub mod reviews;
pub mod trusted_publishing;
pub mod webhooks;

pub use crate::search::{SearchHit, SearchPage};

/// An RFC 9457 problem body: how every error is answered, and what the static
/// index holds at an unpublished version's paths.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Problem {
    /// URI identifying the problem kind: the registry's problem base URI and the code.
    #[serde(rename = "type", default)]
    #[schema(required = true)]
    pub kind: String,
    /// Short summary of the problem kind: the status's reason phrase.
    #[serde(default)]
    #[schema(required = true)]
    pub title: String,
    /// The HTTP status.
    #[serde(default)]
    #[schema(required = true)]
    pub status: u16,
    /// What happened and what to do about it.
    #[serde(default)]
    #[schema(required = true)]
    pub detail: String,
    /// Stable machine-readable code, such as `version_not_incremented`.
    #[serde(default)]
    #[schema(required = true)]
    pub code: String,
    /// Field-by-field problems, for validation failures.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

impl Problem {
    /// A problem with `status` (and its reason phrase as `title`), `code` and `detail`.
    pub fn new(status: u16, title: &str, code: &str, detail: impl Into<String>) -> Self {
        Self {
            kind: format!("{PROBLEM_TYPE_BASE}{}", code.replace('_', "-")),
            title: title.to_owned(),
            status,
            detail: detail.into(),
            code: code.to_owned(),
            errors: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::plugins::UpdateResponse;
    use super::*;

    #[test]
    fn a_problem_names_its_kind_after_its_code() {
        let problem = Problem::new(410, "Gone", "version_unpublished", "gone");
        assert_eq!(
            problem.kind,
            "https://registry.openworkflowspec.org/problems/version-unpublished"
        );
        assert_eq!(
            serde_json::to_string(&problem).unwrap_or_default(),
            r#"{"type":"https://registry.openworkflowspec.org/problems/version-unpublished","title":"Gone","status":410,"detail":"gone","code":"version_unpublished"}"#
        );
    }

    #[test]
    fn a_reader_ignores_fields_it_does_not_know() {
        let answer: Result<UpdateResponse, _> = serde_json::from_str(
            r#"{"status":"updated","slug":"a","version":"1.0.1","previous_version":"1.0.0","new_field":[1]}"#,
        );
        assert_eq!(
            answer.ok().and_then(|a| a.previous_version).as_deref(),
            Some("1.0.0")
        );
    }
}
