//! Webhooks: subscriptions to the registry's events, and the signed deliveries
//! that carry each event to a subscriber's URL.
//!
//! Deliveries follow the Standard Webhooks specification (1.0): the body is
//! `{"id", "type", "timestamp", "data"}` and three headers carry the event's id,
//! the time of sending and `v1,<base64 HMAC-SHA256>` over `id.timestamp.body`
//! with the subscription's `whsec_` secret. Receivers can verify with any of
//! that project's libraries or a few lines of their own (the README has some).
//!
//! A delivery is stored before anyone is told of it and is retried with
//! exponential backoff and jitter until its receiver answers 2xx or its
//! [`RetrySchedule::window`] passes, when it is *dead* (the dead-letter state).
//! Retries and redeliveries keep the event's id, so a receiver that saw it
//! already can tell.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{KeyInit as _, Mac as _};
use serde::{Deserialize, Serialize};

use crate::auth::{PrincipalId, random_hex};
use crate::mcp_router::TargetUrl;
use crate::org::OrgId;
use crate::slug::Slug;
use crate::timestamp::Timestamp;

/// Header naming the event (the same on every attempt and redelivery).
pub const HEADER_ID: &str = "webhook-id";
/// Header with the time of sending, in Unix seconds.
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
/// Header with the signature: `v1,` and the base64 HMAC-SHA256.
pub const HEADER_SIGNATURE: &str = "webhook-signature";

/// Most subscriptions one scope may hold.
pub const MAX_SUBSCRIPTIONS_PER_SCOPE: usize = 20;
/// Most deliveries one log page shows.
pub const MAX_DELIVERY_PAGE: usize = 100;
/// Longest error text kept with an attempt.
pub const MAX_ATTEMPT_ERROR: usize = 300;
/// How long a finished delivery stays in the log.
pub const DELIVERY_LOG_DAYS: i64 = 30;

/// Sends deliveries over the network: the HTTP side of webhooks, kept behind
/// a port so the services never touch a client (and tests can stand in).
#[async_trait::async_trait]
pub trait WebhookSender: Send + Sync {
    /// The addresses `host` resolves to, for checking a target before it is stored.
    async fn resolve(&self, host: &str, port: u16) -> Result<Vec<std::net::IpAddr>, String>;

    /// POSTs `body` (JSON) with `headers` to `url`, following no redirect and
    /// connecting only to addresses the policy allows: the status answered, or
    /// why there was none.
    async fn post(
        &self,
        url: &TargetUrl,
        headers: &[(&'static str, String)],
        body: &str,
    ) -> Result<u16, String>;
}

/// Tells the delivery side that deliveries were stored and are due: self-hosted
/// it wakes the delivery worker (the delivery table is the queue); on AWS it
/// puts them on the SQS queue the delivery function reads.
#[async_trait::async_trait]
pub trait DeliveryQueue: Send + Sync {
    /// `deliveries`, stored, are due now.
    async fn enqueue(&self, deliveries: &[Delivery]) -> Result<(), crate::store::BackendError>;

    /// `delivery`, stored and pending, is due at its `next_attempt_at` (a retry,
    /// or a message that came early). Where the store is the queue, nothing to do.
    async fn enqueue_retry(
        &self,
        _delivery: &Delivery,
        _now: Timestamp,
    ) -> Result<(), crate::store::BackendError> {
        Ok(())
    }
}

/// What happened.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub enum EventKind {
    /// A version became readable (published, or approved after review).
    #[serde(rename = "version.published")]
    VersionPublished,
    /// A version was submitted and waits for a reviewer.
    #[serde(rename = "version.pending_review")]
    VersionPendingReview,
    /// A reviewer approved a version (a `version.published` follows).
    #[serde(rename = "version.approved")]
    VersionApproved,
    /// A reviewer rejected a version.
    #[serde(rename = "version.rejected")]
    VersionRejected,
    /// A version was deprecated.
    #[serde(rename = "version.deprecated")]
    VersionDeprecated,
    /// A version was unpublished.
    #[serde(rename = "version.unpublished")]
    VersionUnpublished,
    /// The MCP router took an instance out after failed health checks.
    #[serde(rename = "router.instance_removed")]
    RouterInstanceRemoved,
}

impl EventKind {
    /// Every kind, in documentation order.
    pub const ALL: [EventKind; 7] = [
        Self::VersionPublished,
        Self::VersionPendingReview,
        Self::VersionApproved,
        Self::VersionRejected,
        Self::VersionDeprecated,
        Self::VersionUnpublished,
        Self::RouterInstanceRemoved,
    ];

    /// The kind's wire name (`version.published`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::VersionPublished => "version.published",
            Self::VersionPendingReview => "version.pending_review",
            Self::VersionApproved => "version.approved",
            Self::VersionRejected => "version.rejected",
            Self::VersionDeprecated => "version.deprecated",
            Self::VersionUnpublished => "version.unpublished",
            Self::RouterInstanceRemoved => "router.instance_removed",
        }
    }

    /// Parses a wire name, saying which exist when it is none of them.
    pub fn parse(raw: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == raw)
            .ok_or_else(|| {
                let known: Vec<&str> = Self::ALL.iter().map(|k| k.as_str()).collect();
                format!("unknown event {raw:?}: one of {}", known.join(", "))
            })
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whose events a subscription receives.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HookScope {
    /// Every event of the registry's plugins (admins).
    Registry,
    /// One plugin's events (its owners).
    Plugin(Slug),
    /// One org catalog's events (its reviewers and platform admins).
    Org(OrgId),
}

impl HookScope {
    /// The scope as stored: `registry`, `plugin:{slug}` or `org:{id}`.
    pub fn storage_name(&self) -> String {
        match self {
            Self::Registry => "registry".to_owned(),
            Self::Plugin(slug) => format!("plugin:{slug}"),
            Self::Org(org) => format!("org:{org}"),
        }
    }

    /// Reads [`Self::storage_name`]'s form back.
    pub fn from_storage_name(raw: &str) -> Result<Self, String> {
        match raw.split_once(':') {
            None if raw == "registry" => Ok(Self::Registry),
            Some(("plugin", slug)) => Slug::parse(slug).map(Self::Plugin),
            Some(("org", org)) => OrgId::parse(org).map(Self::Org),
            _ => Err(format!("not a webhook scope: {raw:?}")),
        }
    }
}

impl Serialize for HookScope {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.storage_name())
    }
}

impl<'de> Deserialize<'de> for HookScope {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::from_storage_name(&raw).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for HookScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.storage_name())
    }
}

/// Defines an id type of `prefix` + random hex.
macro_rules! hook_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a stored id.
            pub fn from_stored(raw: impl Into<String>) -> Self {
                Self(raw.into())
            }

            /// An id a client named, if it has the shape of one.
            pub fn parse(raw: &str) -> Option<Self> {
                crate::auth::id_shaped(raw, $prefix).then(|| Self(raw.to_owned()))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

hook_id!(
    /// A subscription's id: `whk_` + 16 hex characters.
    SubscriptionId,
    "whk_"
);
hook_id!(
    /// An event's id: `evt_` + 24 hex characters; the `webhook-id` header.
    EventId,
    "evt_"
);
hook_id!(
    /// A delivery's id: `dlv_`, the creation time (10 hex digits of Unix
    /// seconds) and 12 random hex characters, so ids sort by creation.
    DeliveryId,
    "dlv_"
);

impl SubscriptionId {
    /// A fresh random id.
    pub fn generate() -> Result<Self, getrandom::Error> {
        Ok(Self(format!("whk_{}", random_hex(8)?)))
    }
}

impl EventId {
    /// A fresh random id.
    pub fn generate() -> Result<Self, getrandom::Error> {
        Ok(Self(format!("evt_{}", random_hex(12)?)))
    }
}

impl DeliveryId {
    /// A fresh id for a delivery created `at`.
    pub fn generate(at: Timestamp) -> Result<Self, getrandom::Error> {
        let seconds = u64::try_from(at.unix_seconds()).unwrap_or(0);
        Ok(Self(format!("dlv_{seconds:010x}{}", random_hex(6)?)))
    }
}

/// A subscription's signing secret: `whsec_` + base64 of 32 random bytes. It is
/// shown once, when the subscription is made, and kept to sign with.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SigningSecret(String);

impl SigningSecret {
    /// A fresh random secret.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key)?;
        Ok(Self(format!("whsec_{}", BASE64.encode(key))))
    }

    /// Wraps a stored secret.
    pub fn from_stored(raw: impl Into<String>) -> Self {
        Self(raw.into())
    }

    /// The secret as text, to show its owner once or to store.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The HMAC key: the base64 after `whsec_` decoded (the whole text's bytes
    /// for a secret of another form, as Standard Webhooks libraries do).
    fn key(&self) -> Vec<u8> {
        self.0
            .strip_prefix("whsec_")
            .and_then(|b64| BASE64.decode(b64).ok())
            .unwrap_or_else(|| self.0.as_bytes().to_vec())
    }

    /// The `webhook-signature` value of `body` for event `id` sent at `sent_at`
    /// (Unix seconds): `v1,` + base64 HMAC-SHA256 of `{id}.{sent_at}.{body}`.
    pub fn sign(&self, id: &EventId, sent_at: i64, body: &str) -> String {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.key())
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(id.as_str().as_bytes());
        mac.update(b".");
        mac.update(sent_at.to_string().as_bytes());
        mac.update(b".");
        mac.update(body.as_bytes());
        format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(***)")
    }
}

/// A subscription: where to send which events of a scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    /// Its id.
    pub id: SubscriptionId,
    /// Whose events it receives.
    pub scope: HookScope,
    /// Where deliveries are POSTed.
    pub url: TargetUrl,
    /// The events it receives (never empty).
    pub events: BTreeSet<EventKind>,
    /// What signs its deliveries.
    pub secret: SigningSecret,
    /// Who made it.
    pub created_by: PrincipalId,
    /// When.
    pub created_at: Timestamp,
    /// Set when reviews wait for its answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<CheckSettings>,
}

/// A subscription that is a check: each version submitted for review waits for
/// its answer, given within `timeout_secs` or counted as failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CheckSettings {
    /// The check's name, as the review lists it (`malware-scan`).
    pub name: String,
    /// Seconds it has to answer.
    pub timeout_secs: u64,
}

/// What a check's delivery carries so that it can answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CheckInvite {
    /// The check's name.
    pub name: String,
    /// Where to answer: `POST` `{"conclusion": "pass"|"fail", "url", "summary"}`.
    pub answer_url: String,
    /// The bearer token that answer carries (this run's only).
    pub token: String,
    /// The time to answer by.
    #[schema(value_type = String, format = DateTime)]
    pub deadline: Timestamp,
}

impl Subscription {
    /// Whether it receives `kind`.
    pub fn wants(&self, kind: EventKind) -> bool {
        self.events.contains(&kind)
    }
}

/// What an event is about; fields that do not apply are absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EventData {
    /// The registry plugin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slug: Option<String>,
    /// The org whose catalog it happened in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    /// The org catalog's plugin id (`{pid}@{version}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin_id: Option<String>,
    /// The version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The review's id, for review events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_id: Option<String>,
    /// The router instance, for `router.instance_removed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// Who acted (a principal id; absent for the registry's own acts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// Why: a reviewer's comment, a deprecation's reason, a health check's error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Where to read more (the version's API URL, the review's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// For a check's `version.pending_review`: how to answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<CheckInvite>,
}

/// An event, as every delivery of it carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WebhookEvent {
    /// The event's id, also the `webhook-id` header.
    #[schema(value_type = String, example = "evt_8f14e45fceea167a5a36dedd")]
    pub id: EventId,
    /// What happened.
    #[serde(rename = "type")]
    pub kind: EventKind,
    /// When it happened.
    #[schema(value_type = String, format = DateTime)]
    pub timestamp: Timestamp,
    /// What it is about.
    pub data: EventData,
}

impl WebhookEvent {
    /// A new event of `kind` about `data`, happening `at`.
    pub fn new(kind: EventKind, at: Timestamp, data: EventData) -> Result<Self, getrandom::Error> {
        Ok(Self {
            id: EventId::generate()?,
            kind,
            timestamp: at,
            data,
        })
    }

    /// The body every delivery of it sends.
    pub fn body(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| unreachable!("an event always serializes"))
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its next attempt.
    Pending,
    /// Its receiver answered 2xx.
    Delivered,
    /// Its retry window passed without a 2xx (the dead-letter state).
    Dead,
}

impl DeliveryState {
    /// The state's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Dead => "dead",
        }
    }

    /// Parses a wire name.
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "pending" => Ok(Self::Pending),
            "delivered" => Ok(Self::Delivered),
            "dead" => Ok(Self::Dead),
            other => Err(format!("not a delivery state: {other:?}")),
        }
    }
}

/// One try at a delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeliveryAttempt {
    /// When it started.
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    /// The status the receiver answered, if it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Why it failed without an answer (refused address, timeout, reset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
}

impl DeliveryAttempt {
    /// Whether the receiver took it.
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// One event on its way to one subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// Its id.
    pub id: DeliveryId,
    /// The subscription it goes to.
    pub subscription: SubscriptionId,
    /// The event's id (the `webhook-id` header).
    pub event: EventId,
    /// The event's kind.
    pub kind: EventKind,
    /// The body to send, exactly.
    pub body: String,
    /// When it was made (a redelivery's retry window starts then).
    pub created_at: Timestamp,
    /// Where it stands.
    pub state: DeliveryState,
    /// Its attempts so far, oldest first.
    pub attempts: Vec<DeliveryAttempt>,
    /// When it is next due, while pending.
    pub next_attempt_at: Option<Timestamp>,
}

impl Delivery {
    /// A delivery of `event` to `subscription`, due at once.
    pub fn of(
        event: &WebhookEvent,
        body: &str,
        subscription: &SubscriptionId,
        at: Timestamp,
    ) -> Result<Self, getrandom::Error> {
        Ok(Self {
            id: DeliveryId::generate(at)?,
            subscription: subscription.clone(),
            event: event.id.clone(),
            kind: event.kind,
            body: body.to_owned(),
            created_at: at,
            state: DeliveryState::Pending,
            attempts: Vec::new(),
            next_attempt_at: Some(at),
        })
    }

    /// A new delivery of the same event to the same subscription, due at once.
    pub fn again(&self, at: Timestamp) -> Result<Self, getrandom::Error> {
        Ok(Self {
            id: DeliveryId::generate(at)?,
            created_at: at,
            state: DeliveryState::Pending,
            attempts: Vec::new(),
            next_attempt_at: Some(at),
            ..self.clone()
        })
    }

    /// Records `attempt` and decides what follows: delivered on a 2xx, else the
    /// next try by `schedule`, else dead.
    pub fn record(&mut self, mut attempt: DeliveryAttempt, schedule: &RetrySchedule, jitter: f64) {
        if let Some(error) = &mut attempt.error {
            truncate_chars(error, MAX_ATTEMPT_ERROR);
        }
        let (at, succeeded) = (attempt.at, attempt.succeeded());
        self.attempts.push(attempt);
        if succeeded {
            self.state = DeliveryState::Delivered;
            self.next_attempt_at = None;
            return;
        }
        match schedule.next_attempt(self.created_at, at, self.attempts.len(), jitter) {
            Some(next) => self.next_attempt_at = Some(next),
            None => {
                self.state = DeliveryState::Dead;
                self.next_attempt_at = None;
            }
        }
    }

    /// When it is due, in Unix seconds, while pending: what a queue orders by.
    pub fn due_at_seconds(&self) -> Option<i64> {
        match self.state {
            DeliveryState::Pending => self.next_attempt_at.map(|t| t.unix_seconds()),
            DeliveryState::Delivered | DeliveryState::Dead => None,
        }
    }

    /// Ends a pending delivery that can never be made (its subscription is gone).
    pub fn abandon(&mut self, at: Timestamp, why: &str) {
        self.attempts.push(DeliveryAttempt {
            at,
            status: None,
            error: Some(why.to_owned()),
            duration_ms: 0,
        });
        self.state = DeliveryState::Dead;
        self.next_attempt_at = None;
    }
}

fn truncate_chars(text: &mut String, max: usize) {
    if let Some((cut, _)) = text.char_indices().nth(max) {
        text.truncate(cut);
        text.push('…');
    }
}

/// When failed deliveries are tried again: after `first`, doubling each time up
/// to `longest`, each wait shortened by a random part of up to half of it
/// (so receivers that fail together are not retried together), until `window`
/// after the delivery was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetrySchedule {
    /// The wait after the first failure.
    pub first: Duration,
    /// The longest wait.
    pub longest: Duration,
    /// How long after its creation a delivery is still tried.
    pub window: Duration,
}

impl Default for RetrySchedule {
    /// 30 s, doubling to 2 h, for 24 h: 19 attempts at most.
    fn default() -> Self {
        Self {
            first: Duration::from_secs(30),
            longest: Duration::from_secs(2 * 60 * 60),
            window: Duration::from_secs(24 * 60 * 60),
        }
    }
}

impl RetrySchedule {
    /// The wait after `failures` failed attempts, before jitter.
    pub fn backoff(&self, failures: usize) -> Duration {
        let doublings = u32::try_from(failures.saturating_sub(1)).unwrap_or(u32::MAX);
        let factor = 2u32.checked_pow(doublings.min(31)).unwrap_or(u32::MAX);
        self.first.saturating_mul(factor).min(self.longest)
    }

    /// When to try a delivery made at `created_at` again, after its
    /// `failures`-th failure at `failed_at`; `None` once past the window.
    /// `jitter` (0 to 1) takes up to half of the wait away.
    pub fn next_attempt(
        &self,
        created_at: Timestamp,
        failed_at: Timestamp,
        failures: usize,
        jitter: f64,
    ) -> Option<Timestamp> {
        let wait = self.backoff(failures);
        let wait = wait.mul_f64(1.0 - jitter.clamp(0.0, 1.0) / 2.0);
        // Whole seconds, as timestamps are; never less than one.
        let seconds = i64::try_from(wait.as_secs()).unwrap_or(i64::MAX).max(1);
        let next = failed_at.plus(time::Duration::seconds(seconds));
        let end =
            created_at.plus(time::Duration::try_from(self.window).unwrap_or(time::Duration::MAX));
        (next <= end).then_some(next)
    }
}

/// A uniformly random number in `0..1`, for jitter.
pub fn random_jitter() -> f64 {
    let mut bytes = [0u8; 4];
    match getrandom::fill(&mut bytes) {
        Ok(()) => f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0),
        Err(_) => 0.5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(raw: &str) -> Timestamp {
        Timestamp::parse(raw).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The example of the Standard Webhooks specification and its reference
    /// libraries: this secret, id, time and body sign to this value.
    #[test]
    fn signatures_match_the_standard_webhooks_example() {
        let secret = SigningSecret::from_stored("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let id = EventId::from_stored("msg_p5jXN8AQM9LWM0D4loKWxJek");
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            secret.sign(&id, 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert_ne!(
            secret.sign(&id, 1614265330, r#"{"test": 2432232315}"#),
            secret.sign(&id, 1614265330, body)
        );
    }

    #[test]
    fn generated_secrets_decode_to_32_bytes_and_are_never_printed() {
        let secret = SigningSecret::generate().unwrap_or_else(|e| panic!("{e}"));
        assert!(secret.expose().starts_with("whsec_"));
        assert_eq!(secret.key().len(), 32);
        assert_eq!(format!("{secret:?}"), "SigningSecret(***)");
    }

    #[test]
    fn backoff_doubles_up_to_the_longest_wait() {
        let schedule = RetrySchedule::default();
        let waits: Vec<u64> = (1..=10).map(|n| schedule.backoff(n).as_secs()).collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1920, 3840, 7200, 7200]);
        assert_eq!(schedule.backoff(1000).as_secs(), 7200);
    }

    #[test]
    fn the_default_schedule_tries_for_a_day_and_then_gives_up() {
        let schedule = RetrySchedule::default();
        let created = at("2026-12-01T00:00:00Z");
        let mut now = created;
        let mut attempts = 1;
        while let Some(next) = schedule.next_attempt(created, now, attempts, 0.0) {
            assert!(next > now);
            now = next;
            attempts += 1;
        }
        assert!(now.since(created) <= time::Duration::hours(24));
        assert!(now.since(created) > time::Duration::hours(22));
        assert_eq!(attempts, 19);
    }

    #[test]
    fn jitter_shortens_a_wait_by_at_most_half() {
        let schedule = RetrySchedule::default();
        let t = at("2026-12-01T00:00:00Z");
        let wait = |jitter| {
            schedule
                .next_attempt(t, t, 3, jitter)
                .map(|n| n.since(t).whole_seconds())
        };
        assert_eq!(wait(0.0), Some(120));
        assert_eq!(wait(0.5), Some(90));
        assert_eq!(wait(1.0), Some(60));
        assert!((0..1000).all(|_| (0.0..1.0).contains(&random_jitter())));
    }

    fn delivery() -> Delivery {
        let event = WebhookEvent::new(
            EventKind::VersionPublished,
            at("2026-12-01T00:00:00Z"),
            EventData::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let sub = SubscriptionId::from_stored("whk_1");
        Delivery::of(&event, &event.body(), &sub, event.timestamp).unwrap_or_else(|e| panic!("{e}"))
    }

    fn attempt(at_: &str, status: Option<u16>) -> DeliveryAttempt {
        DeliveryAttempt {
            at: at(at_),
            status,
            error: status.is_none().then(|| "refused".repeat(100)),
            duration_ms: 3,
        }
    }

    #[test]
    fn a_delivery_retries_until_a_2xx_and_dies_past_its_window() {
        let schedule = RetrySchedule {
            first: Duration::from_secs(10),
            longest: Duration::from_secs(60),
            window: Duration::from_secs(100),
        };
        let mut d = delivery();
        d.record(attempt("2026-12-01T00:00:00Z", Some(500)), &schedule, 0.0);
        assert_eq!(d.state, DeliveryState::Pending);
        assert_eq!(d.next_attempt_at, Some(at("2026-12-01T00:00:10Z")));
        d.record(attempt("2026-12-01T00:00:10Z", None), &schedule, 0.0);
        assert_eq!(d.next_attempt_at, Some(at("2026-12-01T00:00:30Z")));
        assert!(
            d.attempts[1]
                .error
                .as_ref()
                .is_some_and(|e| e.chars().count() == MAX_ATTEMPT_ERROR + 1)
        );
        d.record(attempt("2026-12-01T00:00:30Z", Some(204)), &schedule, 0.0);
        assert_eq!(d.state, DeliveryState::Delivered);
        assert_eq!(d.next_attempt_at, None);

        let mut doomed = delivery();
        doomed.record(attempt("2026-12-01T00:01:35Z", Some(503)), &schedule, 0.0);
        assert_eq!(doomed.state, DeliveryState::Dead);
        let again = doomed
            .again(at("2026-12-02T00:00:00Z"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (again.state, again.attempts.len()),
            (DeliveryState::Pending, 0)
        );
        assert_eq!(again.event, doomed.event);
        assert_ne!(again.id, doomed.id);
    }

    #[test]
    fn scopes_and_kinds_round_trip_through_their_stored_names() {
        for scope in [
            HookScope::Registry,
            HookScope::Plugin(Slug::parse("weather").unwrap_or_else(|e| panic!("{e}"))),
            HookScope::Org(OrgId::parse("acme").unwrap_or_else(|e| panic!("{e}"))),
        ] {
            assert_eq!(
                HookScope::from_storage_name(&scope.storage_name()),
                Ok(scope)
            );
        }
        assert!(HookScope::from_storage_name("plugin:").is_err());
        for kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.as_str()), Ok(kind));
            assert_eq!(serde_json::to_value(kind).ok(), Some(kind.as_str().into()));
        }
        assert!(EventKind::parse("version.eaten").is_err_and(|e| e.contains("version.published")));
    }

    #[test]
    fn delivery_ids_sort_by_creation() {
        let early =
            DeliveryId::generate(at("2026-12-01T00:00:00Z")).unwrap_or_else(|e| panic!("{e}"));
        let late =
            DeliveryId::generate(at("2026-12-01T00:00:01Z")).unwrap_or_else(|e| panic!("{e}"));
        assert!(early < late);
        assert!(DeliveryId::parse(early.as_str()).is_some());
    }
}
