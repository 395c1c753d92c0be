//! The MCP router's registration API: what an instance sends when it starts
//! (`POST /register`) and what the registry answers and lists.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::mcp_router::{HealthStatus, McpRouterInstance};

/// The spec's registration body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// The plugin the instance serves.
    pub plugin_slug: String,
    /// The published version it runs.
    pub version: String,
    /// Where the router sends calls (http or https).
    pub url: String,
    /// The actions it serves; each must be declared by that version.
    pub actions: Vec<String>,
    /// What the health checker calls (http or https).
    pub health_check_url: String,
    /// The instance's identity.
    pub metadata: InstanceMetadata,
}

/// An instance's identity and placement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstanceMetadata {
    /// Unique within the plugin: letters, digits, `.`, `_`, `-`, `:` (1 to 128).
    pub instance_id: String,
    /// Where it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

/// The spec's registration answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RegisterResponse {
    /// `registered`
    pub status: String,
    /// The plugin.
    pub plugin_slug: String,
    /// The instance.
    pub instance_id: String,
    /// When this registration was made (unchanged by an identical re-registration).
    pub registered_at: String,
}

/// The answer to a deregistration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeregisterResponse {
    /// `deregistered`
    pub status: String,
    /// The plugin.
    pub plugin_slug: String,
    /// The instance removed.
    pub instance_id: String,
}

/// A plugin's live routing table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RoutingTableResponse {
    /// The plugin.
    pub plugin_slug: String,
    /// Consecutive failed checks that take an instance out of the table.
    pub failure_threshold: u32,
    /// Instances in the table, in id order.
    pub instances: Vec<InstanceView>,
}

/// One instance in the routing table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InstanceView {
    /// Its id.
    pub instance_id: String,
    /// The version it runs.
    pub version: String,
    /// Where to send calls.
    pub url: String,
    /// The actions it serves.
    pub actions: Vec<String>,
    /// What the health checker calls.
    pub health_check_url: String,
    /// Its identity, as registered.
    pub metadata: InstanceMetadata,
    /// When it registered.
    pub registered_at: String,
    /// Its checks so far.
    pub health: HealthView,
}

/// An instance's health, per check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HealthView {
    /// `pending` (not checked yet), `passing` or `failing`.
    pub status: HealthStatus,
    /// Failed checks since the last passing one.
    pub consecutive_failures: u32,
    /// When it was last checked.
    pub last_checked_at: Option<String>,
    /// When a check last passed.
    pub last_ok_at: Option<String>,
    /// Why the last check failed.
    pub last_error: Option<String>,
    /// The sub-checks of its last passing answer.
    pub checks: BTreeMap<String, String>,
}

impl From<McpRouterInstance> for InstanceView {
    fn from(i: McpRouterInstance) -> Self {
        Self {
            metadata: InstanceMetadata {
                instance_id: i.instance_id.to_string(),
                region: i.region,
            },
            instance_id: i.instance_id.to_string(),
            version: i.version.to_string(),
            url: i.url.to_string(),
            actions: i.actions,
            health_check_url: i.health_check_url.to_string(),
            registered_at: i.registered_at.to_string(),
            health: HealthView {
                status: i.health.status(),
                consecutive_failures: i.health.consecutive_failures,
                last_checked_at: i.health.last_checked_at.map(|t| t.to_string()),
                last_ok_at: i.health.last_ok_at.map(|t| t.to_string()),
                last_error: i.health.last_error,
                checks: i.health.checks,
            },
        }
    }
}
