//! `GET /plugins/{slug}/analytics`: a plugin's downloads per period, version and
//! client; `GET /analytics/registry`: the registry's as a whole.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How downloads are grouped in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Granularity {
    /// One period a UTC day.
    Day,
    /// One period an ISO week, Monday to Sunday.
    Week,
    /// One period a calendar month.
    Month,
}

impl Granularity {
    /// Every granularity, in order of length.
    pub const ALL: [Self; 3] = [Self::Day, Self::Week, Self::Month];

    /// The wire name: `day`, `week` or `month`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
        }
    }
}

/// One period's downloads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PeriodDownloads {
    /// The period's first day.
    #[schema(value_type = String, example = "2026-11-30")]
    pub start: String,
    /// Downloads in it, every version together.
    pub downloads: u64,
    /// Downloads in it per version (versions without any are left out).
    pub versions: BTreeMap<String, u64>,
}

/// One version's downloads over the whole range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VersionDownloads {
    /// The version.
    pub version: String,
    /// Its downloads in the range.
    pub downloads: u64,
}

/// One client's part of the range's downloads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ClientShare {
    /// `openworkflow/X.Y.Z` for the CLI at that version, `other` for every other client.
    pub client: String,
    /// Its downloads in the range.
    pub downloads: u64,
    /// Its part of the range's downloads, from 0 to 1.
    pub share: f64,
}

/// One period's healthy router instances: the fewest and the most that passed a
/// health pass in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PeriodInstances {
    /// The period's first day.
    #[schema(value_type = String, example = "2026-11-30")]
    pub start: String,
    /// The fewest instances one pass found healthy.
    pub lowest: u32,
    /// The most instances one pass found healthy.
    pub highest: u32,
}

/// The body of `GET /plugins/{slug}/analytics`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PluginAnalytics {
    /// The plugin.
    pub slug: String,
    /// The first day counted (a month's first day for months).
    #[schema(value_type = String, example = "2026-11-01")]
    pub from: String,
    /// The last day counted.
    #[schema(value_type = String, example = "2026-11-30")]
    pub to: String,
    /// How the periods are grouped.
    pub granularity: Granularity,
    /// Downloads in the range.
    pub total: u64,
    /// Every period of the range in order, those without downloads included.
    pub periods: Vec<PeriodDownloads>,
    /// Versions downloaded in the range, newest first.
    pub versions: Vec<VersionDownloads>,
    /// Clients, most downloads first.
    pub clients: Vec<ClientShare>,
    /// For a plugin with router instances: the periods health passes checked
    /// them, in order (periods without a pass are left out; empty otherwise).
    #[serde(default)]
    pub instances: Vec<PeriodInstances>,
}

/// One week of the registry's activity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RegistryWeek {
    /// The week's Monday.
    #[schema(value_type = String, example = "2026-11-30")]
    pub start: String,
    /// Versions published in it (a new plugin's first version included).
    pub publishes: u64,
    /// Plugins created in it.
    pub new_plugins: u64,
    /// Downloads of every plugin in it.
    pub downloads: u64,
}

/// One day's downloads of every plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RegistryDay {
    /// The UTC day.
    #[schema(value_type = String, example = "2026-12-03")]
    pub day: String,
    /// Downloads on it.
    pub downloads: u64,
}

/// A plugin among the busiest of a range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TopPlugin {
    /// The plugin.
    pub slug: String,
    /// Its downloads in the range.
    pub downloads: u64,
}

/// The body of `GET /analytics/registry`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RegistryAnalytics {
    /// The first day counted (a Monday).
    #[schema(value_type = String, example = "2026-09-14")]
    pub from: String,
    /// The last day counted: today, or on AWS the day of the last roll-up.
    #[schema(value_type = String, example = "2026-12-03")]
    pub to: String,
    /// Every week of the range, oldest first (the last may be partial).
    pub weeks: Vec<RegistryWeek>,
    /// Every day of the range, in order.
    pub days: Vec<RegistryDay>,
    /// The plugins downloaded most in the range, most first (at most 20).
    pub top_plugins: Vec<TopPlugin>,
}
