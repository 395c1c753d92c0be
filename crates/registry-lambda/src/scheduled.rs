//! The scheduled `health-check` function: EventBridge scheduled events in, one
//! health pass over every MCP router instance, a report out. It also sends the
//! webhook deliveries whose queue message was lost (overdue past
//! [`OVERDUE_DELIVERY_GRACE`]). A table that does not answer fails the
//! invocation (and so raises the function's error alarm).

use lambda_http::lambda_runtime::Diagnostic;
use serde::{Deserialize, Serialize};

use std::time::Duration;

use registry_core::registry::{DeliveryPassReport, HealthPassReport};
use registry_core::{Registry, RegistryError};

/// `detail-type` of the events an EventBridge schedule sends.
pub const SCHEDULED_EVENT_DETAIL_TYPE: &str = "Scheduled Event";
/// `source` of the events an EventBridge schedule sends.
pub const SCHEDULED_EVENT_SOURCE: &str = "aws.events";

/// An EventBridge event, as a schedule rule delivers it (the fields we read). Every
/// field defaults, so a stray event of another shape reaches [`run_health_checks`]
/// and is refused by name instead of failing deserialisation.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ScheduledEvent {
    /// Unique per delivery.
    pub id: String,
    /// `Scheduled Event` for schedules.
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    /// `aws.events` for schedules.
    pub source: String,
    /// When the schedule fired (RFC 3339).
    pub time: String,
    /// The rule that fired.
    pub resources: Vec<String>,
}

/// What one run did, returned as the invocation's result and logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthCheckReport {
    /// The event that triggered the run.
    pub event_id: String,
    /// When the schedule fired.
    pub scheduled_at: String,
    /// What the pass did.
    #[serde(flatten)]
    pub pass: HealthPassReport,
    /// Webhook deliveries found overdue (their queue message lost) and attempted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overdue_deliveries: Option<DeliveryPassReport>,
}

/// How long past its time a webhook delivery must be before the schedule sends
/// it: a queue message waits at most 15 minutes, and its attempt holds the
/// delivery a little longer, so anything later has lost its message.
pub const OVERDUE_DELIVERY_GRACE: Duration = Duration::from_secs(20 * 60);

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum HealthCheckError {
    /// The function was invoked by something other than a schedule.
    #[error(
        "expected an EventBridge scheduled event (detail-type {SCHEDULED_EVENT_DETAIL_TYPE:?}, source {SCHEDULED_EVENT_SOURCE:?}), got detail-type {detail_type:?} from {event_source:?}"
    )]
    NotScheduled {
        /// The event's detail-type.
        detail_type: String,
        /// The event's source.
        event_source: String,
    },
    /// The routing table (or the webhook deliveries) could not be read.
    #[error("the table did not answer: {0}")]
    Catalog(#[from] RegistryError),
}

impl From<HealthCheckError> for Diagnostic {
    fn from(error: HealthCheckError) -> Self {
        let error_type = match error {
            HealthCheckError::NotScheduled { .. } => "NotScheduled",
            HealthCheckError::Catalog(_) => "CatalogUnavailable",
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: error.to_string(),
        }
    }
}

/// Runs the scheduled checks for `event`.
pub async fn run_health_checks(
    registry: &Registry,
    event: ScheduledEvent,
) -> Result<HealthCheckReport, HealthCheckError> {
    if event.detail_type != SCHEDULED_EVENT_DETAIL_TYPE || event.source != SCHEDULED_EVENT_SOURCE {
        return Err(HealthCheckError::NotScheduled {
            detail_type: event.detail_type,
            event_source: event.source,
        });
    }
    let pass = registry.run_health_pass().await?;
    let overdue_deliveries = if registry.sends_webhooks() {
        Some(
            registry
                .deliver_overdue_webhooks(OVERDUE_DELIVERY_GRACE)
                .await?,
        )
    } else {
        None
    };
    let report = HealthCheckReport {
        event_id: event.id,
        scheduled_at: event.time,
        pass,
        overdue_deliveries,
    };
    tracing::info!(
        event = %report.event_id,
        checked = report.pass.checked,
        passed = report.pass.passed,
        failed = report.pass.failed,
        removed = report.pass.removed,
        "health checks done"
    );
    Ok(report)
}
