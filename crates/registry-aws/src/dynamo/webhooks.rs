//! The webhook port on the single DynamoDB table. A subscription and its
//! deliveries share a partition, so its delivery log is one query; pending
//! deliveries are also listed in GSI1's `DELIVERIES#due` partition by due time,
//! which is what a claim reads. Claiming is a conditional update per delivery
//! (the index may lag, so the item itself is checked), walking the due list
//! until enough are leased: racing claimers each take what the others did not.
//! Deliveries carry a `ttl`, so the log ages out without a sweep.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use registry_core::store::codec::{from_json, to_json};
use registry_core::store::{Conflict, StorageError, WebhookStore};
use registry_core::timestamp::Timestamp;
use registry_core::webhook::{
    DELIVERY_LOG_DAYS, Delivery, DeliveryId, DeliveryState, HookScope, Subscription, SubscriptionId,
};

use super::item_key::{
    DELIVERY_PREFIX, DUE_DELIVERIES, ItemKey, due_delivery_key, hook_partition, hooks_of_scope,
};
use super::{DynamoStore, GSI1, GSI1_PK, GSI1_SK, Item, PK, Partition, SK, get_s, s};
use crate::error::{conditional, is_condition_failure, storage_error};

/// How many due deliveries one query reads while claiming.
const DUE_PAGE: i32 = 100;

fn number(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn delivery_of(item: &Item) -> Result<Delivery, StorageError> {
    from_json("delivery", get_s(item, "record")?)
}

fn subscription_of(item: &Item) -> Result<Subscription, StorageError> {
    from_json("webhook subscription", get_s(item, "record")?)
}

fn expiry(delivery: &Delivery) -> i64 {
    delivery
        .created_at
        .plus(time::Duration::days(DELIVERY_LOG_DAYS + 1))
        .unix_seconds()
}

fn delivery_item(delivery: &Delivery) -> Result<Item, StorageError> {
    let key = ItemKey::webhook_delivery(&delivery.subscription, &delivery.id);
    let mut item = HashMap::from([
        (PK.to_owned(), s(key.pk)),
        (SK.to_owned(), s(key.sk)),
        ("record".to_owned(), s(to_json(delivery)?)),
        ("state".to_owned(), s(delivery.state.as_str())),
        ("ttl".to_owned(), number(expiry(delivery))),
    ]);
    if let Some(due) = delivery.due_at_seconds() {
        item.insert(GSI1_PK.to_owned(), s(DUE_DELIVERIES));
        item.insert(GSI1_SK.to_owned(), s(due_delivery_key(due, &delivery.id)));
        item.insert("due_at".to_owned(), number(due));
    }
    Ok(item)
}

impl DynamoStore {
    /// Puts of a change's deliveries, for the change's own transaction: they
    /// go after its items, so a failed condition's index still names the
    /// change's conflict. An event reaches at most 40 subscriptions (two scopes
    /// of at most 20) and a change makes at most two, so a change's own few
    /// items and its deliveries fit a transaction's 100.
    pub(crate) fn delivery_puts(
        &self,
        told: &[Delivery],
    ) -> Result<Vec<aws_sdk_dynamodb::types::TransactWriteItem>, StorageError> {
        told.iter()
            .map(|d| self.conditional_put(delivery_item(d)?, "attribute_not_exists"))
            .collect()
    }

    /// Leases the delivery at `pk`/`sk`, if it is still due and free.
    async fn lease_delivery(
        &self,
        pk: &str,
        sk: &str,
        now: i64,
        lease_until: i64,
    ) -> Result<Option<Delivery>, StorageError> {
        let result = self
            .update_item_at(pk, sk)
            .update_expression("SET lease_until = :lease")
            .condition_expression(
                "attribute_exists(#pk) AND #state = :pending AND due_at <= :now \
                 AND (attribute_not_exists(lease_until) OR lease_until <= :now)",
            )
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":lease", number(lease_until))
            .expression_attribute_values(":pending", s(DeliveryState::Pending.as_str()))
            .expression_attribute_values(":now", number(now))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(output) => output.attributes.as_ref().map(delivery_of).transpose(),
            Err(e) if is_condition_failure(&e) => Ok(None),
            Err(e) => Err(storage_error(e)),
        }
    }
}

#[async_trait]
impl WebhookStore for DynamoStore {
    async fn insert_subscription(&self, subscription: &Subscription) -> Result<(), StorageError> {
        self.put_new_record(
            ItemKey::webhook_subscription(&subscription.id),
            (
                &hooks_of_scope(&subscription.scope),
                &format!("{}#{}", subscription.created_at, subscription.id),
            ),
            to_json(subscription)?,
        )
        .await
    }

    async fn subscription(
        &self,
        id: &SubscriptionId,
    ) -> Result<Option<Subscription>, StorageError> {
        let key = ItemKey::webhook_subscription(id);
        self.get(&key.pk, &key.sk)
            .await?
            .as_ref()
            .map(subscription_of)
            .transpose()
    }

    async fn subscriptions(&self, scope: &HookScope) -> Result<Vec<Subscription>, StorageError> {
        self.query_gsi1(&hooks_of_scope(scope))
            .await?
            .iter()
            .map(subscription_of)
            .collect()
    }

    async fn delete_subscription(&self, id: &SubscriptionId) -> Result<(), StorageError> {
        let key = ItemKey::webhook_subscription(id);
        let request = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(&key.pk))
            .key(SK, s(&key.sk))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK);
        conditional(request.send().await, Conflict::Missing)?;
        // Then its pending deliveries; a claim racing this finds the item gone
        // or, having leased it first, finds the subscription gone.
        for item in self
            .query_prefix(&hook_partition(id), DELIVERY_PREFIX, &[SK, "state"])
            .await?
        {
            if get_s(&item, "state")? != DeliveryState::Pending.as_str() {
                continue;
            }
            let result = self
                .client
                .delete_item()
                .table_name(&self.table)
                .key(PK, s(&key.pk))
                .key(SK, s(get_s(&item, SK)?))
                .condition_expression("#state = :pending")
                .expression_attribute_names("#state", "state")
                .expression_attribute_values(":pending", s(DeliveryState::Pending.as_str()))
                .send()
                .await;
            match result {
                Ok(_) => {}
                Err(e) if is_condition_failure(&e) => {}
                Err(e) => return Err(storage_error(e)),
            }
        }
        Ok(())
    }

    async fn insert_deliveries(&self, deliveries: &[Delivery]) -> Result<(), StorageError> {
        // A transaction holds at most 100 items; an event reaches fewer
        // subscriptions than that (two scopes of at most 20 each).
        for chunk in deliveries.chunks(100) {
            let items = chunk
                .iter()
                .map(delivery_item)
                .collect::<Result<Vec<_>, _>>()?;
            self.put_all_new(items).await?;
        }
        Ok(())
    }

    async fn delivery(
        &self,
        subscription: &SubscriptionId,
        id: &DeliveryId,
    ) -> Result<Option<Delivery>, StorageError> {
        let key = ItemKey::webhook_delivery(subscription, id);
        self.get(&key.pk, &key.sk)
            .await?
            .as_ref()
            .map(delivery_of)
            .transpose()
    }

    async fn deliveries(
        &self,
        subscription: &SubscriptionId,
        limit: usize,
    ) -> Result<Vec<Delivery>, StorageError> {
        let partition = hook_partition(subscription);
        let mut found = Vec::new();
        let mut below: Option<String> = None;
        // The subscription's own item sorts after its deliveries (`HOOK` >
        // `DELIVERY#`), so pages may hold it: skip it and read on.
        loop {
            let page = self
                .newest_items(Partition::Table(&partition), below.as_deref(), limit + 1)
                .await?;
            let full = page.len() > limit;
            for item in &page {
                let sk = get_s(item, SK)?;
                if sk.starts_with(DELIVERY_PREFIX) && found.len() < limit {
                    found.push(delivery_of(item)?);
                }
            }
            below = page
                .last()
                .map(|i| get_s(i, SK).map(str::to_owned))
                .transpose()?;
            if found.len() >= limit || !full || below.is_none() {
                return Ok(found);
            }
        }
    }

    async fn claim_due_deliveries(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<Delivery>, StorageError> {
        let (now, lease_until) = (now.unix_seconds(), lease_until.unix_seconds());
        let mut claimed = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(GSI1)
                .key_condition_expression("#gpk = :due AND #gsk < :after_now")
                .expression_attribute_names("#gpk", GSI1_PK)
                .expression_attribute_names("#gsk", GSI1_SK)
                .expression_attribute_values(":due", s(DUE_DELIVERIES))
                // `{now}#~` sorts after every key due at `now`.
                .expression_attribute_values(":after_now", s(format!("{now:012}#~")))
                .limit(DUE_PAGE)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(storage_error)?;
            for listed in output.items.unwrap_or_default() {
                let (pk, sk) = (get_s(&listed, PK)?, get_s(&listed, SK)?);
                if let Some(delivery) = self.lease_delivery(pk, sk, now, lease_until).await? {
                    claimed.push(delivery);
                    if claimed.len() >= limit {
                        return Ok(claimed);
                    }
                }
            }
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(claimed);
            }
        }
    }

    async fn claim_delivery(
        &self,
        subscription: &SubscriptionId,
        id: &DeliveryId,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Option<Delivery>, StorageError> {
        let key = ItemKey::webhook_delivery(subscription, id);
        self.lease_delivery(
            &key.pk,
            &key.sk,
            now.unix_seconds(),
            lease_until.unix_seconds(),
        )
        .await
    }

    async fn record_delivery(&self, delivery: &Delivery) -> Result<(), StorageError> {
        let key = ItemKey::webhook_delivery(&delivery.subscription, &delivery.id);
        let mut request = self
            .update_item_at(&key.pk, &key.sk)
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#gpk", GSI1_PK)
            .expression_attribute_names("#gsk", GSI1_SK)
            .expression_attribute_values(":record", s(to_json(delivery)?))
            .expression_attribute_values(":state", s(delivery.state.as_str()));
        request = match delivery.due_at_seconds() {
            Some(due) => request
                .update_expression(
                    "SET #record = :record, #state = :state, #gpk = :due_list, \
                     #gsk = :due_key, due_at = :due REMOVE lease_until",
                )
                .expression_attribute_values(":due_list", s(DUE_DELIVERIES))
                .expression_attribute_values(":due_key", s(due_delivery_key(due, &delivery.id)))
                .expression_attribute_values(":due", number(due)),
            None => request.update_expression(
                "SET #record = :record, #state = :state REMOVE #gpk, #gsk, due_at, lease_until",
            ),
        };
        request = request.expression_attribute_names("#record", "record");
        conditional(request.send().await, Conflict::Missing)
    }

    async fn prune_deliveries(&self, _before: Timestamp) -> Result<usize, StorageError> {
        // Each delivery's `ttl` ages it out of the table.
        Ok(0)
    }
}
