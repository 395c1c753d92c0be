//! The webhook port: subscriptions, and deliveries that are both the delivery
//! log and, self-hosted, the persisted queue the delivery worker claims from.

use async_trait::async_trait;

use super::StorageError;
use crate::timestamp::Timestamp;
use crate::webhook::{Delivery, DeliveryId, HookScope, Subscription, SubscriptionId};

/// Subscriptions and their deliveries.
///
/// The deliveries of a change to a registry plugin are written by the catalog
/// in the change's own transaction ([`super::CatalogStore::add_version`] and its
/// kin), so a committed change is never left untold whatever crashes after it:
/// a backend's webhook store reads the deliveries its catalog writes.
///
/// Claiming is what lets several nodes share the queue: a claimed delivery is
/// leased to its claimer until `lease_until`, and no other claim returns it
/// before then, so each attempt is made by one node (a node that dies
/// mid-attempt leaves the lease to run out, and the delivery is tried again).
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Stores a new subscription; [`super::Conflict::AlreadyExists`] if its id is taken.
    async fn insert_subscription(&self, subscription: &Subscription) -> Result<(), StorageError>;

    /// One subscription.
    async fn subscription(&self, id: &SubscriptionId)
    -> Result<Option<Subscription>, StorageError>;

    /// The subscriptions of one scope, oldest first.
    async fn subscriptions(&self, scope: &HookScope) -> Result<Vec<Subscription>, StorageError>;

    /// Removes a subscription and its pending deliveries (its finished ones stay
    /// in the log until they age out); [`super::Conflict::Missing`] if absent.
    async fn delete_subscription(&self, id: &SubscriptionId) -> Result<(), StorageError>;

    /// Stores new deliveries, all or none.
    async fn insert_deliveries(&self, deliveries: &[Delivery]) -> Result<(), StorageError>;

    /// One delivery of a subscription.
    async fn delivery(
        &self,
        subscription: &SubscriptionId,
        id: &DeliveryId,
    ) -> Result<Option<Delivery>, StorageError>;

    /// A subscription's deliveries, newest first, at most `limit`.
    async fn deliveries(
        &self,
        subscription: &SubscriptionId,
        limit: usize,
    ) -> Result<Vec<Delivery>, StorageError>;

    /// Leases up to `limit` pending deliveries due by `now` (and not leased past
    /// `now`) until `lease_until`, earliest due first.
    async fn claim_due_deliveries(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<Delivery>, StorageError>;

    /// Leases one delivery until `lease_until` if it is pending, due by `now`
    /// and not leased past `now`: what a queue message naming it claims. `None`
    /// when it is not (finished, not yet due, leased by another, or gone).
    async fn claim_delivery(
        &self,
        subscription: &SubscriptionId,
        id: &DeliveryId,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Option<Delivery>, StorageError>;

    /// Writes a claimed delivery's new state (its attempts, state and next due
    /// time) and ends its lease. [`super::Conflict::Missing`] if it is gone (its
    /// subscription was removed meanwhile).
    async fn record_delivery(&self, delivery: &Delivery) -> Result<(), StorageError>;

    /// Drops finished deliveries made before `before`; how many went.
    async fn prune_deliveries(&self, before: Timestamp) -> Result<usize, StorageError>;
}
