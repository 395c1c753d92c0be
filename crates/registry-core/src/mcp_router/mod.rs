//! The MCP router's model: registered instances, their health, and the rules for
//! the addresses the registry agrees to call.
//!
//! A plugin deployment registers each running instance (`POST /register`); the
//! health checker calls every instance's `health_check_url` on a schedule and takes
//! an instance out of the routing table after `N` consecutive failed checks.

mod health;
mod target;

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

pub use health::{HealthResponse, MAX_CHECKS, judge_health_response};
pub use target::{MAX_TARGET_URL_LEN, TargetPolicy, TargetUrl};

use crate::auth::PrincipalId;
use crate::slug::Slug;
use crate::timestamp::Timestamp;
use crate::version::PluginVersion;

/// Longest instance id.
pub const MAX_INSTANCE_ID_LEN: usize = 128;
/// Longest region label.
pub const MAX_REGION_LEN: usize = 64;
/// Most actions one instance may declare.
pub const MAX_ACTIONS: usize = 256;
/// Longest `last_error` kept (longer ones are cut, so a chatty failure stays small).
pub const MAX_ERROR_LEN: usize = 300;

/// An instance's id, unique within its plugin: 1 to 128 characters of ASCII
/// letters, digits, `.`, `_`, `-` and `:`, so it is one safe path segment.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct InstanceId(String);

impl InstanceId {
    /// Checks `raw` against the rules above.
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.is_empty() || raw.len() > MAX_INSTANCE_ID_LEN {
            return Err(format!(
                "must be 1 to {MAX_INSTANCE_ID_LEN} characters (got {})",
                raw.len()
            ));
        }
        if let Some(bad) = raw
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':')))
        {
            return Err(format!(
                "may use only ASCII letters, digits, '.', '_', '-' and ':' (found {bad:?})"
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One day of a plugin's healthy instances: the fewest and the most that passed
/// a health pass that day. Passes count instances that answered, so a dip below
/// the routing table's size shows before the failures remove anyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyHealthyInstances {
    /// The UTC day.
    pub day: time::Date,
    /// The fewest healthy instances one pass found that day.
    pub lowest: u32,
    /// The most healthy instances one pass found that day.
    pub highest: u32,
}

impl DailyHealthyInstances {
    /// A day as a store keeps it: the day as `YYYY-MM-DD` and two counts.
    pub fn from_stored(
        day: &str,
        lowest: i64,
        highest: i64,
    ) -> Result<Self, crate::store::StorageError> {
        let corrupt =
            || crate::store::StorageError::Corrupt(format!("healthy instances of day {day:?}"));
        Ok(Self {
            day: crate::timestamp::parse_day(day).ok_or_else(corrupt)?,
            lowest: u32::try_from(lowest).map_err(|_| corrupt())?,
            highest: u32::try_from(highest).map_err(|_| corrupt())?,
        })
    }
}

/// The result of the checks so far of one instance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceHealth {
    /// Failed checks since the last passing one.
    pub consecutive_failures: u32,
    /// When it was last checked; `None` until the first check.
    pub last_checked_at: Option<Timestamp>,
    /// When a check last passed.
    pub last_ok_at: Option<Timestamp>,
    /// Why the last check failed; `None` when it passed.
    pub last_error: Option<String>,
    /// The `checks` the instance reported in its last passing answer.
    pub checks: BTreeMap<String, String>,
}

impl InstanceHealth {
    /// The state after a passing check at `at` that reported `checks`.
    pub fn passed(&self, at: Timestamp, checks: BTreeMap<String, String>) -> Self {
        Self {
            consecutive_failures: 0,
            last_checked_at: Some(at),
            last_ok_at: Some(at),
            last_error: None,
            checks,
        }
    }

    /// The state after a check at `at` that failed with `error`.
    pub fn failed(&self, at: Timestamp, error: &str) -> Self {
        let mut error = error.to_owned();
        if error.len() > MAX_ERROR_LEN {
            let mut cut = MAX_ERROR_LEN;
            while !error.is_char_boundary(cut) {
                cut -= 1;
            }
            error.truncate(cut);
            error.push('…');
        }
        Self {
            consecutive_failures: self.consecutive_failures.saturating_add(1),
            last_checked_at: Some(at),
            last_ok_at: self.last_ok_at,
            last_error: Some(error),
            checks: self.checks.clone(),
        }
    }

    /// `pending` before the first check, then `passing` or `failing`.
    pub fn status(&self) -> HealthStatus {
        match (self.last_checked_at, self.consecutive_failures) {
            (None, _) => HealthStatus::Pending,
            (Some(_), 0) => HealthStatus::Passing,
            (Some(_), _) => HealthStatus::Failing,
        }
    }
}

/// Where an instance stands, as the routing table shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    /// Registered, not checked yet.
    Pending,
    /// The last check passed.
    Passing,
    /// The last check failed, fewer than the threshold times in a row.
    Failing,
}

impl HealthStatus {
    /// The status's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Passing => "passing",
            Self::Failing => "failing",
        }
    }
}

/// One registered instance of a plugin version, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct McpRouterInstance {
    /// The plugin it serves.
    pub slug: Slug,
    /// Its id within the plugin.
    pub instance_id: InstanceId,
    /// Changes with every registration that changes the instance, so a health
    /// result computed for an earlier registration is never written onto a later one.
    pub registration: String,
    /// The version it runs.
    pub version: PluginVersion,
    /// Where the router sends calls.
    pub url: TargetUrl,
    /// What the health checker calls.
    pub health_check_url: TargetUrl,
    /// The actions it serves.
    pub actions: Vec<String>,
    /// Where it runs, as the instance says.
    pub region: Option<String>,
    /// When this registration was made.
    pub registered_at: Timestamp,
    /// The principal whose key registered it; only it may change or remove it.
    pub registered_by: PrincipalId,
    /// Its checks so far.
    pub health: InstanceHealth,
}

impl McpRouterInstance {
    /// Whether `other` registers the same thing (everything but the registration's
    /// identity, time and health): registering it again changes nothing.
    pub fn same_registration(&self, other: &Self) -> bool {
        self.slug == other.slug
            && self.instance_id == other.instance_id
            && self.version == other.version
            && self.url == other.url
            && self.health_check_url == other.health_check_url
            && self.actions == other.actions
            && self.region == other.region
            && self.registered_by == other.registered_by
    }
}

/// An instance's answer to a health check, as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeAnswer {
    /// The HTTP status.
    pub status: u16,
    /// The body, never more than the probe's cap.
    pub body: Bytes,
}

/// The network as the router sees it: name resolution and the health-check call.
/// The HTTP adapter lives with the functions; the rules stay here.
#[async_trait]
pub trait HealthProbe: Send + Sync {
    /// The addresses `host` resolves to (port `port`).
    async fn resolve(&self, host: &str, port: u16) -> Result<Vec<IpAddr>, String>;

    /// One `GET` of `url` under the probe's time limit and body cap, following no
    /// redirect and connecting only to addresses its [`TargetPolicy`] allows; `Err`
    /// says why no answer came.
    async fn get(&self, url: &TargetUrl) -> Result<ProbeAnswer, String>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_ids_are_one_safe_path_segment() {
        assert!(InstanceId::parse("weather-abc123").is_ok());
        assert!(InstanceId::parse("pod:10.0.0.1_a.b").is_ok());
        for bad in ["", "a/b", "a b", "é", "..%2f", &"x".repeat(129)] {
            assert!(InstanceId::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn failures_count_up_and_a_pass_resets_them() {
        let at = Timestamp::parse("2026-01-01T00:00:00Z").unwrap_or_else(|e| panic!("{e}"));
        let fresh = InstanceHealth::default();
        assert_eq!(fresh.status(), HealthStatus::Pending);
        let once = fresh.failed(at, "boom");
        let twice = once.failed(at, &"x".repeat(1000));
        assert_eq!(twice.consecutive_failures, 2);
        assert_eq!(twice.status(), HealthStatus::Failing);
        assert!(
            twice
                .last_error
                .as_ref()
                .is_some_and(|e| e.len() <= MAX_ERROR_LEN + 3)
        );
        let ok = twice.passed(at, BTreeMap::new());
        assert_eq!(ok.consecutive_failures, 0);
        assert_eq!(ok.status(), HealthStatus::Passing);
        assert_eq!(ok.last_error, None);
    }
}
