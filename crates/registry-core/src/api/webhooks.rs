//! The webhook API's bodies: subscriptions (`POST /webhooks`, `GET /webhooks`,
//! `GET|DELETE /webhooks/{id}`) and their delivery log
//! (`GET /webhooks/{id}/deliveries`, `POST .../{delivery_id}/redeliver`).

use serde::{Deserialize, Serialize};

use crate::auth::PrincipalId;
use crate::timestamp::Timestamp;
use crate::webhook::{
    CheckSettings, Delivery, DeliveryAttempt, DeliveryState, EventKind, Subscription,
};

/// A new subscription. Name a `plugin` (its owners) or an `org` (its reviewers
/// and platform admins), or neither for every event of the registry (admins).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    /// Where deliveries are POSTed: an http(s) URL whose host is public (private
    /// networks only where the operator allows them).
    pub url: String,
    /// The events to receive, by name (`version.published`, ...); at least one.
    pub events: Vec<String>,
    /// The plugin whose events to receive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<String>,
    /// The org catalog whose events to receive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    /// Make it a check: each version submitted for review (in the registry or
    /// the plugin) waits for its answer. It receives `version.pending_review`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<NewCheck>,
}

/// A check's settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCheck {
    /// Its name, as reviews list it: lowercase letters, digits and dashes.
    pub name: String,
    /// Seconds it has to answer (60 to 604800; default 3600): unanswered, it
    /// fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u64>,
}

/// A subscription as the people who manage it see it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhookView {
    /// Its id (`whk_...`).
    pub id: String,
    /// Whose events: `registry`, `plugin:{slug}` or `org:{id}`.
    pub scope: String,
    /// Where deliveries go.
    pub url: String,
    /// The events it receives.
    pub events: Vec<EventKind>,
    /// Who made it.
    #[schema(value_type = String)]
    pub created_by: PrincipalId,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Set for a check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<CheckSettings>,
}

impl WebhookView {
    /// The view of `subscription`.
    pub fn of(subscription: &Subscription) -> Self {
        Self {
            id: subscription.id.to_string(),
            scope: subscription.scope.storage_name(),
            url: subscription.url.to_string(),
            events: subscription.events.iter().copied().collect(),
            created_by: subscription.created_by.clone(),
            created_at: subscription.created_at,
            check: subscription.check.clone(),
        }
    }
}

/// A subscription just made, with the secret its deliveries are signed with:
/// shown this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreatedWebhook {
    /// The subscription.
    #[serde(flatten)]
    pub webhook: WebhookView,
    /// `whsec_...`: verify each delivery's `webhook-signature` with it.
    pub secret: String,
}

/// Subscriptions of one scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhookList {
    /// Oldest first.
    pub webhooks: Vec<WebhookView>,
}

/// One delivery of an event to a subscription, with its attempts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeliveryView {
    /// Its id (`dlv_...`).
    pub id: String,
    /// The event's id: the `webhook-id` header, the same on every attempt and redelivery.
    pub event_id: String,
    /// The event's type.
    pub event_type: EventKind,
    /// `pending`, `delivered` or `dead` (its retry window passed without a 2xx).
    pub state: DeliveryState,
    /// When it was made.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// When it is next tried, while pending.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub next_attempt_at: Option<Timestamp>,
    /// Its attempts, oldest first.
    pub attempts: Vec<DeliveryAttempt>,
    /// The body sent, exactly.
    pub body: String,
}

impl DeliveryView {
    /// The view of `delivery`.
    pub fn of(delivery: &Delivery) -> Self {
        Self {
            id: delivery.id.to_string(),
            event_id: delivery.event.to_string(),
            event_type: delivery.kind,
            state: delivery.state,
            created_at: delivery.created_at,
            next_attempt_at: delivery.next_attempt_at,
            attempts: delivery.attempts.clone(),
            body: delivery.body.clone(),
        }
    }
}

/// A subscription's deliveries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeliveryList {
    /// Newest first, at most 100, from the last 30 days.
    pub deliveries: Vec<DeliveryView>,
}
