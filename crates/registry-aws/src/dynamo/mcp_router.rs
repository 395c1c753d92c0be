//! The router port on the single DynamoDB table.
//!
//! Its keys come from [`super::item_key`].
//!
//! A plugin's instances share a partition (its routing table is one query); every
//! instance is also in the listing index under `ROUTES`, so a health pass lists all
//! of them with one query instead of a table scan. The plugin's `healthy_instances`
//! on its `META` item moves in the same transaction as each insert and removal.
//! The index builder's stream filter passes only `PLUGIN#public#` keys, so health
//! results written every pass never invoke it; a count change on `META` does.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Delete, TransactWriteItem, Update};
use futures_util::{StreamExt, TryStreamExt};
use registry_core::downloads::Retention;
use registry_core::mcp_router::{
    DailyHealthyInstances, InstanceHealth, InstanceId, McpRouterInstance,
};
use registry_core::slug::Slug;
use registry_core::store::{Conflict, McpRouterStore, StorageError};

use super::accounts::TTL_ATTRIBUTE;
use super::item_key::{HEALTHY_PREFIX, INSTANCE_PREFIX, ItemKey, ROUTES, route_partition};
use super::{
    DynamoStore, GSI1, GSI1_PK, GSI1_SK, Item, PK, SK, TransactionOutcome, built, from_json, get_n,
    get_s, n, s, to_json,
};
use crate::error::{conditional, is_condition_failure, storage_error};

/// Days of healthy instances written at once during one pass.
const HEALTHY_WRITES_IN_FLIGHT: usize = 16;

/// An instance item: its registration, with the health that changes after it.
fn instance_of(item: &Item) -> Result<McpRouterInstance, StorageError> {
    let mut instance: McpRouterInstance = from_json("router instance", get_s(item, "record")?)?;
    instance.health = from_json("instance health", get_s(item, "health")?)?;
    Ok(instance)
}

impl DynamoStore {
    fn instance_item(&self, instance: &McpRouterInstance) -> Result<Item, StorageError> {
        let key = ItemKey::router_instance(&instance.slug, &instance.instance_id);
        Ok(HashMap::from([
            (PK.to_owned(), s(key.pk)),
            (SK.to_owned(), s(key.sk)),
            (GSI1_PK.to_owned(), s(ROUTES)),
            (
                GSI1_SK.to_owned(),
                s(format!("{}#{}", instance.slug, instance.instance_id)),
            ),
            ("registration".to_owned(), s(&instance.registration)),
            ("record".to_owned(), s(to_json(instance)?)),
            ("health".to_owned(), s(to_json(&instance.health)?)),
        ]))
    }

    /// The `META` update moving a plugin's `healthy_instances` by one.
    fn count_instance(&self, slug: &Slug, up: bool) -> Result<TransactWriteItem, StorageError> {
        let plugin = ItemKey::plugin(slug);
        let update = Update::builder()
            .table_name(&self.table)
            .key(PK, s(plugin.pk))
            .key(SK, s(plugin.sk))
            .expression_attribute_names("#count", "healthy_instances")
            .expression_attribute_values(":one", n(1));
        let update = if up {
            update
                .update_expression("SET #count = if_not_exists(#count, :zero) + :one")
                .condition_expression("attribute_exists(#pk)")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_values(":zero", n(0))
        } else {
            // Never below zero, and never creating a META item that is not there.
            update
                .update_expression("SET #count = #count - :one")
                .condition_expression("#count >= :one")
        };
        Ok(TransactWriteItem::builder()
            .update(built(update.build())?)
            .build())
    }

    /// Moves one bound of a plugin's day (`lowest` down or `highest` up) to
    /// `count` when `count` goes past it: a conditional write, so racing passes
    /// keep the true extreme, and one that finds nothing to move writes nothing.
    async fn widen_healthy_day(
        &self,
        key: &ItemKey,
        bound: &str,
        count: u32,
        ttl: u64,
    ) -> Result<(), StorageError> {
        let past = if bound == "lowest" { ">" } else { "<" };
        let result = self
            .update_item_at(&key.pk, &key.sk)
            .update_expression("SET #bound = :count, #ttl = :ttl")
            .condition_expression(format!(
                "attribute_not_exists(#bound) OR #bound {past} :count"
            ))
            .expression_attribute_names("#bound", bound)
            .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
            .expression_attribute_values(":count", n(u64::from(count)))
            .expression_attribute_values(":ttl", n(ttl))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(storage_error(e)),
        }
    }

    fn delete_instance(
        &self,
        slug: &Slug,
        id: &InstanceId,
        registration: Option<&str>,
    ) -> Result<TransactWriteItem, StorageError> {
        let key = ItemKey::router_instance(slug, id);
        let mut delete = Delete::builder()
            .table_name(&self.table)
            .key(PK, s(key.pk))
            .key(SK, s(key.sk))
            .expression_attribute_names("#pk", PK);
        delete = match registration {
            Some(registration) => delete
                .condition_expression("attribute_exists(#pk) AND #reg = :reg")
                .expression_attribute_names("#reg", "registration")
                .expression_attribute_values(":reg", s(registration)),
            None => delete.condition_expression("attribute_exists(#pk)"),
        };
        Ok(TransactWriteItem::builder()
            .delete(built(delete.build())?)
            .build())
    }
}

#[async_trait]
impl McpRouterStore for DynamoStore {
    async fn insert_instance(&self, instance: &McpRouterInstance) -> Result<(), StorageError> {
        let items = vec![
            self.conditional_put(self.instance_item(instance)?, "attribute_not_exists")?,
            self.count_instance(&instance.slug, true)?,
        ];
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TransactionOutcome::ConditionFailed(0)) => {
                Err(StorageError::Conflict(Conflict::AlreadyExists))
            }
            Err(TransactionOutcome::ConditionFailed(_)) => {
                Err(StorageError::Conflict(Conflict::Missing))
            }
            Err(TransactionOutcome::Failed(e)) => Err(e),
        }
    }

    async fn replace_instance(
        &self,
        instance: &McpRouterInstance,
        expected_registration: &str,
    ) -> Result<(), StorageError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(self.instance_item(instance)?))
            .condition_expression("#reg = :expected")
            .expression_attribute_names("#reg", "registration")
            .expression_attribute_values(":expected", s(expected_registration))
            .send()
            .await;
        conditional(result, Conflict::RevisionChanged)
    }

    async fn instance(
        &self,
        slug: &Slug,
        id: &InstanceId,
    ) -> Result<Option<McpRouterInstance>, StorageError> {
        let key = ItemKey::router_instance(slug, id);
        self.get(&key.pk, &key.sk)
            .await?
            .map(|item| instance_of(&item))
            .transpose()
    }

    async fn instances(&self, slug: &Slug) -> Result<Vec<McpRouterInstance>, StorageError> {
        self.query_prefix(&route_partition(slug), INSTANCE_PREFIX, &[])
            .await?
            .iter()
            .map(instance_of)
            .collect()
    }

    async fn all_instances(&self) -> Result<Vec<McpRouterInstance>, StorageError> {
        let mut instances = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(GSI1)
                .key_condition_expression("#pk = :routes")
                .expression_attribute_names("#pk", GSI1_PK)
                .expression_attribute_values(":routes", s(ROUTES))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(storage_error)?;
            for item in output.items.unwrap_or_default() {
                instances.push(instance_of(&item)?);
            }
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(instances);
            }
        }
    }

    async fn record_check(
        &self,
        slug: &Slug,
        id: &InstanceId,
        registration: &str,
        health: &InstanceHealth,
    ) -> Result<(), StorageError> {
        let key = ItemKey::router_instance(slug, id);
        let result = self
            .update_item_at(&key.pk, &key.sk)
            .update_expression("SET #health = :health")
            .condition_expression("#reg = :reg")
            .expression_attribute_names("#health", "health")
            .expression_attribute_names("#reg", "registration")
            .expression_attribute_values(":health", s(to_json(health)?))
            .expression_attribute_values(":reg", s(registration))
            .send()
            .await;
        conditional(result, Conflict::Missing)
    }

    async fn remove_instance(
        &self,
        slug: &Slug,
        id: &InstanceId,
        registration: Option<&str>,
        told: &[registry_core::webhook::Delivery],
    ) -> Result<(), StorageError> {
        let mut items = vec![
            self.delete_instance(slug, id, registration)?,
            self.count_instance(slug, false)?,
        ];
        items.extend(self.delivery_puts(told)?);
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TransactionOutcome::ConditionFailed(0)) => {
                Err(StorageError::Conflict(Conflict::Missing))
            }
            // The count was already zero (or the plugin row is gone): remove the
            // instance anyway, so the table never keeps what it was told to drop.
            Err(TransactionOutcome::ConditionFailed(_)) => {
                let mut items = vec![self.delete_instance(slug, id, registration)?];
                items.extend(self.delivery_puts(told)?);
                match self.transact(items).await {
                    Ok(()) => Ok(()),
                    Err(TransactionOutcome::ConditionFailed(_)) => {
                        Err(StorageError::Conflict(Conflict::Missing))
                    }
                    Err(TransactionOutcome::Failed(e)) => Err(e),
                }
            }
            Err(TransactionOutcome::Failed(e)) => Err(e),
        }
    }

    async fn record_healthy_instances(
        &self,
        day: time::Date,
        counts: &[(Slug, u32)],
        // Each day carries its own expiry (the table's TTL).
        retention: Retention,
    ) -> Result<(), StorageError> {
        let ttl = u64::try_from(retention.expiry_of(day)).unwrap_or(0);
        let keys: Vec<_> = counts
            .iter()
            .map(|(slug, count)| (ItemKey::healthy_instances(slug, day), *count))
            .collect();
        // Collected first: a closure inside the stream trips the compiler's
        // higher-ranked lifetime check under `async_trait`.
        let writes: Vec<_> = keys
            .iter()
            .flat_map(|(key, count)| {
                ["lowest", "highest"].map(|bound| self.widen_healthy_day(key, bound, *count, ttl))
            })
            .collect();
        futures_util::stream::iter(writes)
            .buffer_unordered(HEALTHY_WRITES_IN_FLIGHT)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    async fn healthy_instance_history(
        &self,
        slug: &Slug,
        from: time::Date,
        to: time::Date,
    ) -> Result<Vec<DailyHealthyInstances>, StorageError> {
        let mut days = Vec::new();
        for item in self
            .query_prefix(
                &route_partition(slug),
                HEALTHY_PREFIX,
                &[SK, "lowest", "highest"],
            )
            .await?
        {
            let sk = get_s(&item, SK)?;
            let stored = DailyHealthyInstances::from_stored(
                sk.strip_prefix(HEALTHY_PREFIX).unwrap_or(sk),
                i64::try_from(get_n(&item, "lowest")?).unwrap_or(i64::MAX),
                i64::try_from(get_n(&item, "highest")?).unwrap_or(i64::MAX),
            )?;
            // A day past its expiry may linger until DynamoDB deletes it.
            if (from..=to).contains(&stored.day) {
                days.push(stored);
            }
        }
        Ok(days)
    }
}
