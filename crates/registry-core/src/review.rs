//! Review: a registry (or an org) may require that a reviewer approve each new
//! version before anyone can read it.
//!
//! A version under review is a version record with a [`ReviewState`]: its version
//! string is taken the moment it is submitted (the catalog's own conditional write
//! decides races), and every reader treats it as absent until it is approved.
//! Approval clears the state and starts the version's life then; rejection keeps
//! the record, so the string stays taken, and says why.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::auth::PrincipalId;
use crate::slug::Slug;
use crate::timestamp::Timestamp;
use crate::version::PluginVersion;

/// Longest reviewer's comment, in characters.
pub const MAX_REVIEW_COMMENT: usize = 2000;

/// Most reviews one listing returns.
pub const MAX_REVIEW_PAGE: usize = 500;

/// Where a version stands in review; a version without one is approved (or was
/// published where no review was required).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ReviewState {
    /// Waiting for a reviewer.
    Pending {
        /// When it was submitted.
        submitted_at: Timestamp,
        /// The checks it waits for (webhook subscriptions marked as checks).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        checks: Vec<CheckRun>,
    },
    /// Refused: the version string stays taken and the version is never shown.
    Rejected {
        /// When it was submitted.
        submitted_at: Timestamp,
        /// Who refused it.
        decided_by: PrincipalId,
        /// When.
        decided_at: Timestamp,
        /// Why, for the owners.
        comment: String,
    },
}

impl ReviewState {
    /// Whether it still waits for a decision.
    pub fn is_pending(&self) -> bool {
        matches!(self, Self::Pending { .. })
    }

    /// The state's wire name: `pending` or `rejected`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Pending { .. } => "pending",
            Self::Rejected { .. } => "rejected",
        }
    }

    /// When the version was submitted.
    pub fn submitted_at(&self) -> Timestamp {
        match self {
            Self::Pending { submitted_at, .. } | Self::Rejected { submitted_at, .. } => {
                *submitted_at
            }
        }
    }
}

/// Longest check name.
pub const MAX_CHECK_NAME: usize = 40;
/// Longest summary a check answers with.
pub const MAX_CHECK_SUMMARY: usize = 1000;

/// One run of a check a review waits for: a webhook subscription marked as a
/// check was sent the pending version with a token, and answers with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckRun {
    /// The check's name (its subscription's), unique within the review.
    pub name: String,
    /// The subscription it was sent to.
    pub subscription: crate::webhook::SubscriptionId,
    /// SHA-256 (hex) of the token this run answers with; the token itself is
    /// only in the delivery.
    pub token_sha256: String,
    /// When it was asked.
    pub requested_at: Timestamp,
    /// When it fails unanswered.
    pub deadline: Timestamp,
    /// Its answer, once given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<CheckAnswer>,
}

/// What a check answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckAnswer {
    /// Whether it passed.
    pub passed: bool,
    /// When it answered.
    pub at: Timestamp,
    /// Where its report is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// What it found, in a line or two.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
}

/// Where a check stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// Asked, not answered, within its time.
    Pending,
    /// Answered: passed.
    Passed,
    /// Answered: failed.
    Failed,
    /// Not answered in time: counts as failed until it is run again.
    TimedOut,
}

impl CheckRun {
    /// Where it stands at `now`.
    pub fn status(&self, now: Timestamp) -> CheckStatus {
        match &self.answer {
            Some(answer) if answer.passed => CheckStatus::Passed,
            Some(_) => CheckStatus::Failed,
            None if now > self.deadline => CheckStatus::TimedOut,
            None => CheckStatus::Pending,
        }
    }
}

/// A check's name as a subscription gives it: lowercase letters, digits and
/// dashes, starting with a letter or digit.
pub fn check_name_problem(name: &str) -> Option<String> {
    let valid = !name.is_empty()
        && name.len() <= MAX_CHECK_NAME
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    (!valid).then(|| {
        format!(
            "a check's name is 1 to {MAX_CHECK_NAME} lowercase letters, digits and dashes (got {name:?})"
        )
    })
}

/// A review's id, `{slug}@{version}`: a version string is never reused, so it
/// names one submission forever.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReviewId {
    /// The plugin.
    pub slug: Slug,
    /// The version under review.
    pub version: PluginVersion,
}

impl ReviewId {
    /// Reads `slug@version`; `None` for anything else.
    pub fn parse(raw: &str) -> Option<Self> {
        let (slug, version) = raw.split_once('@')?;
        Some(Self {
            slug: Slug::parse(slug).ok()?,
            version: PluginVersion::parse(version).ok()?,
        })
    }
}

impl fmt::Display for ReviewId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.slug, self.version)
    }
}

/// Which publishes skip review under a policy that requires it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoApproval {
    /// Publishes by these principals, or by members of these teams.
    pub publishers: Vec<PrincipalId>,
    /// Publishes through trusted publishing (a CI job's publish token).
    pub trusted_publishing: bool,
    /// Patch releases of a plugin that has an approved version: same major and
    /// minor as its highest shown version, no pre-release.
    pub patch_releases: bool,
}

/// A registry's (or an org's) review policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReviewPolicy {
    /// Whether a new version waits for a reviewer (`required`) or is live at once
    /// (`none`, the default).
    pub required: bool,
    /// Which publishes skip the wait.
    pub auto_approve: AutoApproval,
}

impl ReviewPolicy {
    /// Reads `none` or `required`.
    pub fn parse_mode(raw: &str) -> Result<bool, String> {
        match raw.trim() {
            "none" => Ok(false),
            "required" => Ok(true),
            other => Err(format!(
                "{other:?} is not a review policy: use none or required"
            )),
        }
    }
}

/// Whether `version` is a patch release over `highest_shown`, the highest
/// version readers see: the same major and minor, a higher patch, and neither a
/// pre-release.
pub fn is_patch_release(highest_shown: &PluginVersion, version: &PluginVersion) -> bool {
    let (old, new) = (highest_shown.semver(), version.semver());
    new.pre.is_empty()
        && old.pre.is_empty()
        && new.major == old.major
        && new.minor == old.minor
        && new.patch > old.patch
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(raw: &str) -> PluginVersion {
        PluginVersion::parse(raw).unwrap()
    }

    #[test]
    fn patch_releases_keep_major_and_minor() {
        assert!(is_patch_release(&v("1.2.3"), &v("1.2.4")));
        assert!(is_patch_release(&v("1.2.3"), &v("1.2.10")));
        assert!(!is_patch_release(&v("1.2.3"), &v("1.3.0")));
        assert!(!is_patch_release(&v("1.2.3"), &v("2.2.4")));
        assert!(!is_patch_release(&v("1.2.3"), &v("1.2.3")));
        assert!(!is_patch_release(&v("1.2.3"), &v("1.2.4-rc.1")));
        assert!(!is_patch_release(&v("1.2.3-rc.1"), &v("1.2.4")));
    }

    #[test]
    fn review_ids_are_slug_at_version() {
        let id = ReviewId::parse("weather@1.2.0").unwrap();
        assert_eq!(id.to_string(), "weather@1.2.0");
        assert!(ReviewId::parse("weather").is_none());
        assert!(ReviewId::parse("weather@one").is_none());
        assert!(ReviewId::parse("Bad Slug@1.0.0").is_none());
    }

    #[test]
    fn states_are_tagged_on_the_wire() {
        let at = Timestamp::parse("2026-03-02T12:00:00Z").unwrap();
        let pending = ReviewState::Pending {
            submitted_at: at,
            checks: Vec::new(),
        };
        assert_eq!(
            serde_json::to_string(&pending).unwrap(),
            r#"{"state":"pending","submitted_at":"2026-03-02T12:00:00Z"}"#
        );
        assert!(pending.is_pending());
        assert_eq!(pending.submitted_at(), at);
    }
}
