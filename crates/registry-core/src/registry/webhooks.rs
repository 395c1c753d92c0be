//! Webhooks: who may subscribe to what, the events the other services emit,
//! and the delivery pass that sends what is due.
//!
//! Emitting never slows or fails the change it reports: it stores one delivery
//! per interested subscription (a read and a write) and wakes the delivery
//! side; sending happens elsewhere. A delivery pass claims what is due, signs
//! and POSTs each, and records the attempt, with the next try scheduled or the
//! delivery finished.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;

use super::{Registry, require_scope};
use crate::api::webhooks::{
    CreatedWebhook, DeliveryList, DeliveryView, NewWebhook, WebhookList, WebhookView,
};
use crate::auth::{Caller, Scope};
use crate::error::RegistryError;
use crate::manifest::FieldError;
use crate::mcp_router::{TargetPolicy, TargetUrl};
use crate::review::check_name_problem;
use crate::slug::Slug;
use crate::store::{Conflict, StorageError, WebhookStore};
use crate::webhook::{
    CheckInvite, CheckSettings, DeliveryAttempt, DeliveryId, DeliveryQueue, DeliveryState,
    EventData, EventKind, HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, HookScope,
    MAX_DELIVERY_PAGE, MAX_SUBSCRIPTIONS_PER_SCOPE, RetrySchedule, SigningSecret, Subscription,
    SubscriptionId, WebhookEvent, WebhookSender, random_jitter,
};

/// How long one delivery attempt may take, by default.
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Seconds a check has to answer, unless its subscription says otherwise.
pub const DEFAULT_CHECK_TIMEOUT_SECS: u64 = 3600;
/// The times a check may be given to answer, in seconds: a minute to a week.
pub const CHECK_TIMEOUT_SECS: std::ops::RangeInclusive<u64> = 60..=604_800;
/// Deliveries one pass claims at most.
const DELIVERY_BATCH: usize = 32;
/// Deliveries in flight at once within a pass.
const DELIVERY_CONCURRENCY: usize = 8;
/// How long past an attempt's timeout a claim stays leased: time to record it.
const LEASE_MARGIN: Duration = Duration::from_secs(5);

/// Webhook deliveries attempted, by `outcome` (`delivered`, `retrying`, `dead`,
/// `not_recorded`).
const DELIVERIES_TOTAL: &str = "registry_webhook_deliveries_total";

/// How webhooks behave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookSettings {
    /// Which addresses subscriptions may name.
    pub policy: TargetPolicy,
    /// When failed deliveries are tried again.
    pub retry: RetrySchedule,
    /// How long one attempt may take.
    pub attempt_timeout: Duration,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            policy: TargetPolicy::STRICT,
            retry: RetrySchedule::default(),
            attempt_timeout: DEFAULT_ATTEMPT_TIMEOUT,
        }
    }
}

/// What webhooks need: their store, the network, the queue, their settings.
#[derive(Clone)]
pub struct WebhookParts {
    /// Subscriptions and deliveries: the catalog's own backend, since the
    /// catalog writes a change's deliveries in the change's transaction.
    pub store: Arc<dyn WebhookStore>,
    /// Sends deliveries.
    pub sender: Arc<dyn WebhookSender>,
    /// Hears of new deliveries.
    pub queue: Arc<dyn DeliveryQueue>,
    /// How they behave.
    pub settings: WebhookSettings,
}

/// What became of one queue message's delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QueuedDeliveryOutcome {
    /// It was attempted; its state now.
    Attempted(DeliveryState),
    /// Its next attempt is later: it went back on the queue.
    NotYetDue,
    /// Another attempt holds it now.
    Leased,
    /// It was delivered or is dead already.
    Finished,
    /// It (or its subscription) was removed.
    Gone,
    /// The message names no delivery.
    NotADelivery,
}

/// What one delivery pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DeliveryPassReport {
    /// Deliveries claimed and attempted.
    pub attempted: usize,
    /// Of those, how many their receivers took.
    pub delivered: usize,
    /// How many failed and wait for another try.
    pub retrying: usize,
    /// How many failed for the last time (dead) or lost their subscription.
    pub dead: usize,
    /// How many could not be recorded (they are tried again once their lease
    /// runs out).
    pub not_recorded: usize,
}

impl Registry {
    /// Sends webhooks through `parts`.
    #[must_use]
    pub fn with_webhooks(mut self, parts: WebhookParts) -> Self {
        self.webhooks = Some(parts);
        self
    }

    /// Whether this registry sends webhooks.
    pub fn sends_webhooks(&self) -> bool {
        self.webhooks.is_some()
    }

    fn webhook_parts(&self) -> Result<&WebhookParts, RegistryError> {
        self.webhooks
            .as_ref()
            .ok_or(RegistryError::WebhooksUnavailable)
    }

    /// The scope a request names, if `caller` may manage its subscriptions:
    /// the registry's (admins), a plugin's (its owners and admins) or an org's
    /// (its reviewers and platform admins).
    async fn managed_scope(
        &self,
        caller: Option<&Caller>,
        plugin: Option<&str>,
        org: Option<&str>,
    ) -> Result<HookScope, RegistryError> {
        match (plugin, org) {
            (Some(_), Some(_)) => Err(RegistryError::invalid_field(
                "plugin",
                "name a plugin or an org, not both",
            )),
            (Some(raw), None) => {
                let caller = require_scope(caller, Scope::Publish)?;
                let slug = Slug::parse(raw).map_err(|_| RegistryError::PluginNotFound {
                    slug: raw.to_owned(),
                })?;
                let head = self.catalog.plugin_head(&slug).await?.ok_or_else(|| {
                    RegistryError::PluginNotFound {
                        slug: raw.to_owned(),
                    }
                })?;
                self.require_owner(caller, &head, true).await?;
                Ok(HookScope::Plugin(slug))
            }
            (None, Some(raw)) => Ok(HookScope::Org(self.org_reviewer(caller, raw).await?.id)),
            (None, None) => {
                require_scope(caller, Scope::Admin)?;
                Ok(HookScope::Registry)
            }
        }
    }

    /// The subscription `raw_id`, if `caller` manages its scope; 404 otherwise,
    /// so its existence is not told to others.
    async fn managed_subscription(
        &self,
        caller: Option<&Caller>,
        raw_id: &str,
    ) -> Result<Subscription, RegistryError> {
        let parts = self.webhook_parts()?;
        let not_found = || RegistryError::WebhookNotFound {
            id: raw_id.to_owned(),
        };
        let id = SubscriptionId::parse(raw_id).ok_or_else(not_found)?;
        let subscription = parts.store.subscription(&id).await?.ok_or_else(not_found)?;
        let (plugin, org) = match &subscription.scope {
            HookScope::Registry => (None, None),
            HookScope::Plugin(slug) => (Some(slug.to_string()), None),
            HookScope::Org(org) => (None, Some(org.to_string())),
        };
        match self
            .managed_scope(caller, plugin.as_deref(), org.as_deref())
            .await
        {
            Ok(_) => Ok(subscription),
            // Who the caller is, and whether the stores answered, are no secret
            // of the subscription's: only a refusal hides that it exists.
            Err(
                error @ (RegistryError::Unauthenticated { .. }
                | RegistryError::Storage(_)
                | RegistryError::Entropy),
            ) => Err(error),
            Err(_) => Err(not_found()),
        }
    }

    /// Subscribes a URL to events of a scope; the answer carries the signing
    /// secret, shown this once.
    pub async fn add_webhook(
        &self,
        caller: Option<&Caller>,
        body: &NewWebhook,
    ) -> Result<CreatedWebhook, RegistryError> {
        let parts = self.webhook_parts()?;
        let caller = require_scope(caller, Scope::Read)?;
        let scope = self
            .managed_scope(Some(caller), body.plugin.as_deref(), body.org.as_deref())
            .await?;
        let mut problems = Vec::new();
        let url = match TargetUrl::parse(&body.url) {
            Ok(url) => {
                let sender = &parts.sender;
                if let Err(message) = parts
                    .settings
                    .policy
                    .check_url(&url, |host, port| async move {
                        sender.resolve(&host, port).await
                    })
                    .await
                {
                    problems.push(FieldError {
                        field: "url".to_owned(),
                        message,
                    });
                }
                Some(url)
            }
            Err(message) => {
                problems.push(FieldError {
                    field: "url".to_owned(),
                    message,
                });
                None
            }
        };
        let mut events = std::collections::BTreeSet::new();
        for raw in &body.events {
            match EventKind::parse(raw) {
                Ok(kind) => {
                    events.insert(kind);
                }
                Err(message) => problems.push(FieldError {
                    field: "events".to_owned(),
                    message,
                }),
            }
        }
        let check = match &body.check {
            None => None,
            Some(asked) => {
                if let Some(message) = check_name_problem(&asked.name) {
                    problems.push(FieldError {
                        field: "check.name".to_owned(),
                        message,
                    });
                }
                let timeout_secs = asked.timeout_secs.unwrap_or(DEFAULT_CHECK_TIMEOUT_SECS);
                if !CHECK_TIMEOUT_SECS.contains(&timeout_secs) {
                    problems.push(FieldError {
                        field: "check.timeout_secs".to_owned(),
                        message: format!(
                            "between {} and {} seconds (got {timeout_secs})",
                            CHECK_TIMEOUT_SECS.start(),
                            CHECK_TIMEOUT_SECS.end()
                        ),
                    });
                }
                if matches!(scope, HookScope::Org(_)) {
                    problems.push(FieldError {
                        field: "check".to_owned(),
                        message: "checks gate the registry's reviews: subscribe one for the registry or a plugin".to_owned(),
                    });
                }
                // A check receives what it decides on.
                events.insert(EventKind::VersionPendingReview);
                Some(CheckSettings {
                    name: asked.name.clone(),
                    timeout_secs,
                })
            }
        };
        if body.events.is_empty() && check.is_none() {
            problems.push(FieldError {
                field: "events".to_owned(),
                message: "name at least one event".to_owned(),
            });
        }
        let Some(url) = url.filter(|_| problems.is_empty()) else {
            return Err(RegistryError::Invalid { problems });
        };
        let existing = parts.store.subscriptions(&scope).await?;
        if existing.len() >= MAX_SUBSCRIPTIONS_PER_SCOPE {
            return Err(RegistryError::TooManyWebhooks {
                scope: scope.storage_name(),
                max: MAX_SUBSCRIPTIONS_PER_SCOPE,
            });
        }
        if let Some(check) = &check {
            let mut rivals = existing;
            if let HookScope::Plugin(_) = &scope {
                rivals.extend(parts.store.subscriptions(&HookScope::Registry).await?);
            }
            if rivals
                .iter()
                .filter_map(|s| s.check.as_ref())
                .any(|other| other.name == check.name)
            {
                return Err(RegistryError::invalid_field(
                    "check.name",
                    format!(
                        "a check named {:?} already decides these reviews",
                        check.name
                    ),
                ));
            }
        }
        let subscription = Subscription {
            id: SubscriptionId::generate().map_err(|_| RegistryError::Entropy)?,
            scope,
            url,
            events,
            secret: SigningSecret::generate().map_err(|_| RegistryError::Entropy)?,
            created_by: caller.principal.clone(),
            created_at: self.clock.now(),
            check,
        };
        parts.store.insert_subscription(&subscription).await?;
        tracing::info!(
            webhook = %subscription.id,
            scope = %subscription.scope,
            by = %caller.principal,
            "webhook subscription added"
        );
        Ok(CreatedWebhook {
            webhook: WebhookView::of(&subscription),
            secret: subscription.secret.expose().to_owned(),
        })
    }

    /// The subscriptions of a scope `caller` manages.
    pub async fn list_webhooks(
        &self,
        caller: Option<&Caller>,
        plugin: Option<&str>,
        org: Option<&str>,
    ) -> Result<WebhookList, RegistryError> {
        let parts = self.webhook_parts()?;
        let scope = self.managed_scope(caller, plugin, org).await?;
        let webhooks = parts.store.subscriptions(&scope).await?;
        Ok(WebhookList {
            webhooks: webhooks.iter().map(WebhookView::of).collect(),
        })
    }

    /// One subscription `caller` manages.
    pub async fn webhook(
        &self,
        caller: Option<&Caller>,
        id: &str,
    ) -> Result<WebhookView, RegistryError> {
        Ok(WebhookView::of(
            &self.managed_subscription(caller, id).await?,
        ))
    }

    /// Removes a subscription `caller` manages, with its pending deliveries.
    pub async fn remove_webhook(
        &self,
        caller: Option<&Caller>,
        id: &str,
    ) -> Result<(), RegistryError> {
        let subscription = self.managed_subscription(caller, id).await?;
        match self
            .webhook_parts()?
            .store
            .delete_subscription(&subscription.id)
            .await
        {
            Err(StorageError::Conflict(Conflict::Missing)) => {
                Err(RegistryError::WebhookNotFound { id: id.to_owned() })
            }
            other => Ok(other?),
        }
    }

    /// A subscription's delivery log, newest first.
    pub async fn webhook_deliveries(
        &self,
        caller: Option<&Caller>,
        id: &str,
    ) -> Result<DeliveryList, RegistryError> {
        let subscription = self.managed_subscription(caller, id).await?;
        let deliveries = self
            .webhook_parts()?
            .store
            .deliveries(&subscription.id, MAX_DELIVERY_PAGE)
            .await?;
        Ok(DeliveryList {
            deliveries: deliveries.iter().map(DeliveryView::of).collect(),
        })
    }

    /// Sends a delivery's event again, as a new delivery due at once (with the
    /// same event id, so a receiver that took it before can tell).
    pub async fn redeliver(
        &self,
        caller: Option<&Caller>,
        id: &str,
        delivery: &str,
    ) -> Result<DeliveryView, RegistryError> {
        let subscription = self.managed_subscription(caller, id).await?;
        let parts = self.webhook_parts()?;
        let not_found = || RegistryError::DeliveryNotFound {
            subscription: id.to_owned(),
            id: delivery.to_owned(),
        };
        let delivery_id = DeliveryId::parse(delivery).ok_or_else(not_found)?;
        let earlier = parts
            .store
            .delivery(&subscription.id, &delivery_id)
            .await?
            .ok_or_else(not_found)?;
        let again = earlier
            .again(self.clock.now())
            .map_err(|_| RegistryError::Entropy)?;
        parts
            .store
            .insert_deliveries(std::slice::from_ref(&again))
            .await?;
        self.wake_delivery(parts, std::slice::from_ref(&again))
            .await;
        Ok(DeliveryView::of(&again))
    }

    /// The deliveries of an event about one of a registry plugin's versions
    /// (`actor` did `kind`, for `reason` when there is one; each check in
    /// `invites` told how to answer), for the catalog to write with the change
    /// itself. None when this registry sends no webhooks.
    pub(super) async fn version_deliveries(
        &self,
        kind: EventKind,
        slug: &Slug,
        version: &crate::version::PluginVersion,
        actor: Option<&crate::auth::PrincipalId>,
        reason: Option<&str>,
        invites: &[(SubscriptionId, CheckInvite)],
    ) -> Result<Vec<crate::webhook::Delivery>, RegistryError> {
        let data = self.version_event_data(kind, slug, version, actor, reason);
        self.plugin_deliveries(kind, slug, data, invites).await
    }

    /// The deliveries of the events a decision on one of a registry plugin's
    /// versions makes ([`decision_events`]), for one catalog write.
    pub(super) async fn decision_deliveries(
        &self,
        slug: &Slug,
        version: &crate::version::PluginVersion,
        approve: bool,
        actor: Option<&crate::auth::PrincipalId>,
        comment: Option<&str>,
    ) -> Result<Vec<crate::webhook::Delivery>, RegistryError> {
        let mut told = Vec::new();
        for (kind, reason) in decision_events(approve, comment) {
            told.extend(
                self.version_deliveries(kind, slug, version, actor, reason, &[])
                    .await?,
            );
        }
        Ok(told)
    }

    /// Tells the delivery side of deliveries a change has just committed
    /// with itself (a failure leaves them to the next pass).
    pub(super) async fn told(&self, deliveries: &[crate::webhook::Delivery]) {
        if let (Some(parts), false) = (&self.webhooks, deliveries.is_empty()) {
            tracing::debug!(
                deliveries = deliveries.len(),
                "webhook deliveries committed with their change"
            );
            self.wake_delivery(parts, deliveries).await;
        }
    }

    /// What a version's event says.
    pub(super) fn version_event_data(
        &self,
        kind: EventKind,
        slug: &Slug,
        version: &crate::version::PluginVersion,
        actor: Option<&crate::auth::PrincipalId>,
        reason: Option<&str>,
    ) -> EventData {
        let in_review = matches!(
            kind,
            EventKind::VersionPendingReview
                | EventKind::VersionApproved
                | EventKind::VersionRejected
        );
        let review_id = format!("{slug}@{version}");
        let base = &self.config.public_url;
        EventData {
            slug: Some(slug.to_string()),
            version: Some(version.to_string()),
            url: Some(if in_review {
                format!("{base}/reviews/{review_id}")
            } else {
                format!("{base}/plugins/{slug}/versions/{version}")
            }),
            review_id: in_review.then_some(review_id),
            actor: actor.map(ToString::to_string),
            reason: reason.map(str::to_owned),
            ..EventData::default()
        }
    }

    /// The deliveries of an event about an org catalog's row (`actor` did
    /// `kind`, for `reason` when there is one), for the org catalog to write
    /// with the change; a system row's events go to no org.
    pub(super) async fn org_row_deliveries(
        &self,
        kind: EventKind,
        row: &crate::catalog::CatalogRow,
        actor: &crate::auth::PrincipalId,
        reason: Option<&str>,
    ) -> Result<Vec<crate::webhook::Delivery>, RegistryError> {
        let (Some(parts), crate::catalog::CatalogScope::Org(org)) = (&self.webhooks, &row.scope)
        else {
            return Ok(Vec::new());
        };
        let data = EventData {
            org: Some(org.to_string()),
            plugin_id: Some(row.plugin_id.to_string()),
            slug: Some(row.pid.to_string()),
            version: Some(row.version.to_string()),
            actor: Some(actor.to_string()),
            reason: reason.map(str::to_owned),
            ..EventData::default()
        };
        self.event_deliveries(parts, kind, &[HookScope::Org(org.clone())], data, &[])
            .await
    }

    /// The deliveries of an event about a registry plugin, to its and the
    /// registry's subscribers (each check in `invites` told how to answer),
    /// for the store to write with the change. None when this registry sends
    /// no webhooks.
    pub(super) async fn plugin_deliveries(
        &self,
        kind: EventKind,
        slug: &Slug,
        data: EventData,
        invites: &[(SubscriptionId, CheckInvite)],
    ) -> Result<Vec<crate::webhook::Delivery>, RegistryError> {
        let Some(parts) = &self.webhooks else {
            return Ok(Vec::new());
        };
        let scopes = [HookScope::Registry, HookScope::Plugin(slug.clone())];
        self.event_deliveries(parts, kind, &scopes, data, invites)
            .await
    }

    /// A check's invitation to answer about a version waiting for review
    /// (asked again by `actor`), as one delivery to its own subscription: no
    /// other subscription hears of it.
    pub(super) fn check_invitation(
        &self,
        to: &SubscriptionId,
        slug: &Slug,
        version: &crate::version::PluginVersion,
        actor: &crate::auth::PrincipalId,
        invite: CheckInvite,
        now: crate::timestamp::Timestamp,
    ) -> Result<crate::webhook::Delivery, RegistryError> {
        let kind = EventKind::VersionPendingReview;
        let data = self.version_event_data(kind, slug, version, Some(actor), None);
        let event = WebhookEvent::new(kind, now, data).map_err(|_| RegistryError::Entropy)?;
        invitation(&event, invite, to, now)
    }

    /// One delivery of an event to each subscription in `scopes` that wants
    /// `kind` (a check's copy says how to answer: its token is its own).
    async fn event_deliveries(
        &self,
        parts: &WebhookParts,
        kind: EventKind,
        scopes: &[HookScope],
        data: EventData,
        invites: &[(SubscriptionId, CheckInvite)],
    ) -> Result<Vec<crate::webhook::Delivery>, RegistryError> {
        let mut targets = Vec::new();
        for scope in scopes {
            targets.extend(
                parts
                    .store
                    .subscriptions(scope)
                    .await?
                    .into_iter()
                    .filter(|s| s.wants(kind)),
            );
        }
        if targets.is_empty() {
            return Ok(Vec::new());
        }
        let now = self.clock.now();
        let event = WebhookEvent::new(kind, now, data).map_err(|_| RegistryError::Entropy)?;
        let body = event.body();
        targets
            .iter()
            .map(|s| match invites.iter().find(|(to, _)| to == &s.id) {
                Some((_, invite)) => invitation(&event, invite.clone(), &s.id, now),
                None => crate::webhook::Delivery::of(&event, &body, &s.id, now)
                    .map_err(|_| RegistryError::Entropy),
            })
            .collect()
    }

    /// Tells the delivery side of stored deliveries; if that fails they are
    /// still stored, and the next pass finds them.
    async fn wake_delivery(&self, parts: &WebhookParts, deliveries: &[crate::webhook::Delivery]) {
        if let Err(e) = parts.queue.enqueue(deliveries).await {
            tracing::warn!(error = %e, "the delivery queue was not told of new deliveries; the next pass sends them");
        }
    }

    /// Claims the deliveries due now and attempts each, a few at a time.
    pub async fn deliver_due_webhooks(&self) -> Result<DeliveryPassReport, RegistryError> {
        self.deliver_due_at(self.clock.now()).await
    }

    /// Claims the deliveries due by `cut` and attempts each, a few at a time.
    async fn deliver_due_at(
        &self,
        cut: crate::timestamp::Timestamp,
    ) -> Result<DeliveryPassReport, RegistryError> {
        let parts = self.webhook_parts()?;
        let lease_until = self.lease_until(parts, self.clock.now());
        let claimed = parts
            .store
            .claim_due_deliveries(cut, lease_until, DELIVERY_BATCH)
            .await?;
        let attempts: Vec<_> = claimed
            .into_iter()
            .map(|delivery| self.attempt_delivery(parts, delivery))
            .collect();
        let outcomes: Vec<Option<DeliveryState>> = futures_util::stream::iter(attempts)
            .buffer_unordered(DELIVERY_CONCURRENCY)
            .collect()
            .await;
        let mut report = DeliveryPassReport {
            attempted: outcomes.len(),
            ..DeliveryPassReport::default()
        };
        for outcome in outcomes {
            let label = match outcome {
                Some(DeliveryState::Delivered) => {
                    report.delivered += 1;
                    "delivered"
                }
                Some(DeliveryState::Pending) => {
                    report.retrying += 1;
                    "retrying"
                }
                Some(DeliveryState::Dead) => {
                    report.dead += 1;
                    "dead"
                }
                None => {
                    report.not_recorded += 1;
                    "not_recorded"
                }
            };
            metrics::counter!(DELIVERIES_TOTAL, "outcome" => label).increment(1);
        }
        Ok(report)
    }

    /// Delivers what one queue message names (the AWS delivery function): the
    /// delivery is claimed, attempted and recorded, and a retry goes back on the
    /// queue. A message for a delivery that is finished, gone or leased to
    /// another attempt is done with; one that came early goes back on the queue
    /// until its time. `Err` means the message must be delivered again.
    pub async fn deliver_one(
        &self,
        subscription: &str,
        delivery: &str,
    ) -> Result<QueuedDeliveryOutcome, RegistryError> {
        let parts = self.webhook_parts()?;
        let (Some(subscription), Some(id)) = (
            SubscriptionId::parse(subscription),
            DeliveryId::parse(delivery),
        ) else {
            return Ok(QueuedDeliveryOutcome::NotADelivery);
        };
        let now = self.clock.now();
        if let Some(claimed) = parts
            .store
            .claim_delivery(&subscription, &id, now, self.lease_until(parts, now))
            .await?
        {
            return match self.attempt_delivery(parts, claimed).await {
                Some(state) => Ok(QueuedDeliveryOutcome::Attempted(state)),
                None => Err(RegistryError::Storage(StorageError::Unavailable(
                    "the attempt, or its retry, could not be recorded".into(),
                ))),
            };
        }
        match parts.store.delivery(&subscription, &id).await? {
            Some(pending)
                if pending.state == DeliveryState::Pending
                    && pending.next_attempt_at.is_some_and(|due| due > now) =>
            {
                parts
                    .queue
                    .enqueue_retry(&pending, now)
                    .await
                    .map_err(|e| RegistryError::Storage(StorageError::Unavailable(e)))?;
                Ok(QueuedDeliveryOutcome::NotYetDue)
            }
            Some(pending) if pending.state == DeliveryState::Pending => {
                Ok(QueuedDeliveryOutcome::Leased)
            }
            Some(_) => Ok(QueuedDeliveryOutcome::Finished),
            None => Ok(QueuedDeliveryOutcome::Gone),
        }
    }

    /// Attempts deliveries due for longer than `grace` (on AWS, those whose
    /// queue message was lost: a message waits at most 15 minutes).
    pub async fn deliver_overdue_webhooks(
        &self,
        grace: Duration,
    ) -> Result<DeliveryPassReport, RegistryError> {
        let cut = self
            .clock
            .now()
            .plus(-time::Duration::try_from(grace).unwrap_or(time::Duration::ZERO));
        self.deliver_due_at(cut).await
    }

    /// When a claim made `now` runs out: the attempt's time and a margin to record it.
    fn lease_until(
        &self,
        parts: &WebhookParts,
        now: crate::timestamp::Timestamp,
    ) -> crate::timestamp::Timestamp {
        let lease = parts.settings.attempt_timeout + LEASE_MARGIN;
        now.plus(time::Duration::try_from(lease).unwrap_or(time::Duration::MINUTE))
    }

    /// One attempt at `delivery`: its new state, or `None` when its
    /// subscription is gone (or its result could not be stored).
    async fn attempt_delivery(
        &self,
        parts: &WebhookParts,
        mut delivery: crate::webhook::Delivery,
    ) -> Option<DeliveryState> {
        let subscription = match parts.store.subscription(&delivery.subscription).await {
            Ok(Some(subscription)) => subscription,
            Ok(None) => {
                delivery.abandon(self.clock.now(), "the subscription was removed");
                return parts
                    .store
                    .record_delivery(&delivery)
                    .await
                    .ok()
                    .map(|()| DeliveryState::Dead);
            }
            Err(e) => {
                // The lease runs out and a later pass tries again.
                tracing::warn!(delivery = %delivery.id, error = %e, "a delivery's subscription could not be read");
                return None;
            }
        };
        let sent_at = self.clock.now();
        let timestamp = sent_at.unix_seconds();
        let headers = [
            (HEADER_ID, delivery.event.to_string()),
            (HEADER_TIMESTAMP, timestamp.to_string()),
            (
                HEADER_SIGNATURE,
                subscription
                    .secret
                    .sign(&delivery.event, timestamp, &delivery.body),
            ),
        ];
        let started = Instant::now();
        let answer = parts
            .sender
            .post(&subscription.url, &headers, &delivery.body)
            .await;
        let attempt = DeliveryAttempt {
            at: sent_at,
            status: answer.as_ref().ok().copied(),
            error: answer.err(),
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        };
        delivery.record(attempt, &parts.settings.retry, random_jitter());
        match parts.store.record_delivery(&delivery).await {
            Ok(()) if delivery.state == DeliveryState::Pending => {
                if let Err(e) = parts.queue.enqueue_retry(&delivery, self.clock.now()).await {
                    // Recorded, so the overdue sweep finds it if nothing else does.
                    tracing::warn!(delivery = %delivery.id, error = %e, "a retry could not be queued");
                    return None;
                }
                Some(delivery.state)
            }
            Ok(()) => Some(delivery.state),
            Err(StorageError::Conflict(Conflict::Missing)) => None,
            Err(e) => {
                tracing::error!(delivery = %delivery.id, error = %e, "a delivery attempt could not be recorded; it will be made again");
                None
            }
        }
    }

    /// Drops finished deliveries older than the delivery log keeps; how many went.
    pub async fn prune_webhook_deliveries(&self) -> Result<usize, RegistryError> {
        let parts = self.webhook_parts()?;
        let before = self
            .clock
            .now()
            .plus(-time::Duration::days(crate::webhook::DELIVERY_LOG_DAYS));
        Ok(parts.store.prune_deliveries(before).await?)
    }
}

/// A check's own copy of `event`, saying how to answer (its token is its own).
fn invitation(
    event: &WebhookEvent,
    invite: CheckInvite,
    to: &SubscriptionId,
    now: crate::timestamp::Timestamp,
) -> Result<crate::webhook::Delivery, RegistryError> {
    let mut own = event.clone();
    own.data.check = Some(invite);
    crate::webhook::Delivery::of(&own, &own.body(), to, now).map_err(|_| RegistryError::Entropy)
}

/// The events a review decision makes, each with its reason: an approval is
/// `VersionApproved` then `VersionPublished`, a rejection `VersionRejected`.
pub(super) fn decision_events(
    approve: bool,
    comment: Option<&str>,
) -> Vec<(EventKind, Option<&str>)> {
    if approve {
        vec![
            (EventKind::VersionApproved, comment),
            (EventKind::VersionPublished, None),
        ]
    } else {
        vec![(EventKind::VersionRejected, comment)]
    }
}
