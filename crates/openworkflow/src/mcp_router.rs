//! The MCP router's registration API, as the client sees it: what a plugin
//! instance sends when it starts (`POST /register`) and what a router reads
//! (`GET /register/{plugin_slug}`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The spec's registration body.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstanceRegistration {
    /// The plugin the instance serves.
    pub plugin_slug: String,
    /// The published version it runs.
    pub version: String,
    /// Where the router sends calls.
    pub url: String,
    /// The actions it serves; each must be declared by that version.
    pub actions: Vec<String>,
    /// What the registry's health checker calls.
    pub health_check_url: String,
    /// The instance's identity.
    pub metadata: InstanceMetadata,
}

/// An instance's identity and placement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceMetadata {
    /// Unique within the plugin.
    pub instance_id: String,
    /// Where it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

/// The registry's answer to a registration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Registration {
    /// The plugin.
    pub plugin_slug: String,
    /// The instance.
    pub instance_id: String,
    /// When this registration was made; an identical re-registration keeps it.
    pub registered_at: String,
    /// False when the registry already held exactly this registration (200, not 201).
    #[serde(default)]
    pub changed: bool,
}

/// The registry's answer to a deregistration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deregistration {
    /// The plugin.
    pub plugin_slug: String,
    /// The instance removed.
    pub instance_id: String,
}

/// A plugin's live routing table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoutingTable {
    /// The plugin.
    pub plugin_slug: String,
    /// Consecutive failed checks that take an instance out of the table.
    pub failure_threshold: u32,
    /// Instances in the table, in id order.
    pub instances: Vec<RoutedInstance>,
}

/// One instance in a routing table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoutedInstance {
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
    pub health: InstanceHealth,
}

/// An instance's health, per check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceHealth {
    /// `pending` (not checked yet), `passing` or `failing`.
    pub status: String,
    /// Failed checks since the last passing one.
    pub consecutive_failures: u32,
    /// When it was last checked.
    #[serde(default)]
    pub last_checked_at: Option<String>,
    /// When a check last passed.
    #[serde(default)]
    pub last_ok_at: Option<String>,
    /// Why the last check failed.
    #[serde(default)]
    pub last_error: Option<String>,
    /// The sub-checks of its last passing answer.
    #[serde(default)]
    pub checks: BTreeMap<String, String>,
}
