//! The DynamoDB adapters of the storage ports, on one table: the store, its item
//! helpers and transactions here; each port in its own file, as in `registry-sqlite`.
//!
//! Every item's key comes from [`item_key`], which lays the table out.
//!
//! Multi-item changes are one `TransactWriteItems`; each condition's failure maps to
//! the same `Conflict` the SQLite adapter reports. The catalog revision is bumped
//! after a successful write rather than inside it: a counter in every transaction
//! would make unrelated concurrent writes conflict with each other.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use registry_core::store::codec::timestamp_from_stored;
pub(crate) use registry_core::store::codec::{from_json, to_json};
use registry_core::store::{Conflict, StorageError};
use registry_core::timestamp::Timestamp;

use self::item_key::ItemKey;
use crate::error::{corrupt, storage_error};

pub mod accounts;
mod audit;
mod catalog;
mod downloads;
pub mod item_key;
mod keys;
mod mcp_router;
mod orgs;
mod ownership;
mod rate_limits;
mod reports;
mod trusted_publishing;
mod webhooks;

/// Partition key attribute.
pub const PK: &str = "PK";
/// Sort key attribute.
pub const SK: &str = "SK";
/// The listing index.
pub const GSI1: &str = "GSI1";
/// The listing index's partition key attribute.
pub const GSI1_PK: &str = "GSI1PK";
/// The listing index's sort key attribute.
pub const GSI1_SK: &str = "GSI1SK";

/// How often a transaction cancelled only by a concurrent transaction is retried.
const TRANSACTION_CONFLICT_RETRIES: u32 = 5;

pub(crate) type Item = HashMap<String, AttributeValue>;

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// Which partition [`DynamoStore::newest_items`] reads.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Partition<'a> {
    /// A `PK` of the table.
    Table(&'a str),
    /// A `GSI1PK` of the global index.
    Gsi1(&'a str),
}

pub(crate) fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(crate) fn get_s<'a>(item: &'a Item, name: &str) -> Result<&'a str, StorageError> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v),
        _ => Err(corrupt(
            "item attribute",
            format!("{name} is missing or not a string"),
        )),
    }
}

pub(crate) fn get_n(item: &Item, name: &str) -> Result<u64, StorageError> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse().map_err(|e| corrupt(name, e)),
        None => Ok(0),
        _ => Err(corrupt("item attribute", format!("{name} is not a number"))),
    }
}

pub(crate) fn opt_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Some(v),
        _ => None,
    }
}

pub(crate) fn timestamp(item: &Item, name: &str) -> Result<Timestamp, StorageError> {
    timestamp_from_stored(name, get_s(item, name)?)
}

/// A builder left without a required field; every call site sets them all.
pub(crate) fn built<T>(
    result: Result<T, aws_sdk_dynamodb::error::BuildError>,
) -> Result<T, StorageError> {
    result.map_err(|e| StorageError::Backend(Box::new(e)))
}

/// How a transaction failed.
pub(crate) enum TransactionOutcome {
    /// Item `index`'s condition failed.
    ConditionFailed(usize),
    /// The storage failed otherwise.
    Failed(StorageError),
}

/// The store on one DynamoDB table: every port `registry_core::store` names.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    pub(crate) client: Client,
    pub(crate) table: String,
}

impl DynamoStore {
    /// A store over `table`.
    pub fn new(client: Client, table: String) -> Self {
        Self { client, table }
    }

    /// An `UpdateItem` of the item at `pk`/`sk` in this store's table, for the
    /// caller to give its expressions.
    pub(crate) fn update_item_at(
        &self,
        pk: &str,
        sk: &str,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(pk))
            .key(SK, s(sk))
    }

    /// Sets `attribute` of the existing item at `pk`/`sk` to `at` unless it is
    /// already `since` or later; returns whether it was set. (A bookkeeping time
    /// written at most once per period however often it is asked: a key's last
    /// use, a device sign-in's last poll.)
    pub(crate) async fn set_time_unless_since(
        &self,
        pk: &str,
        sk: &str,
        attribute: &str,
        at: Timestamp,
        since: Timestamp,
    ) -> Result<bool, StorageError> {
        // Stored times are RFC 3339 in UTC to the second: string order is time order.
        let result = self
            .update_item_at(pk, sk)
            .update_expression("SET #time = :at")
            .condition_expression(
                "attribute_exists(#pk) AND (attribute_not_exists(#time) OR #time < :since)",
            )
            .expression_attribute_names("#time", attribute)
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":at", s(at.to_string()))
            .expression_attribute_values(":since", s(since.to_string()))
            .send()
            .await;
        match crate::error::conditional(result, Conflict::Missing) {
            Ok(()) => Ok(true),
            Err(StorageError::Conflict(Conflict::Missing)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub(crate) async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StorageError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(pk))
            .key(SK, s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(storage_error)?;
        Ok(output.item)
    }

    /// Runs a transaction, retrying when another transaction (not a condition) got
    /// in the way, since the conditions may still hold.
    pub(crate) async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<(), TransactionOutcome> {
        let mut attempt = 0;
        loop {
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            let error = match result {
                Ok(_) => return Ok(()),
                Err(error) => error,
            };
            if let SdkError::ServiceError(service) = &error
                && let TransactWriteItemsError::TransactionCanceledException(cancelled) =
                    service.err()
            {
                let reasons = cancelled.cancellation_reasons();
                if let Some(index) = reasons
                    .iter()
                    .position(|r| r.code() == Some("ConditionalCheckFailed"))
                {
                    return Err(TransactionOutcome::ConditionFailed(index));
                }
                if reasons
                    .iter()
                    .any(|r| r.code() == Some("TransactionConflict"))
                    && attempt < TRANSACTION_CONFLICT_RETRIES
                {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(10 * (1 << attempt))).await;
                    continue;
                }
            }
            return Err(TransactionOutcome::Failed(storage_error(error)));
        }
    }

    /// Runs a transaction whose every condition means the same conflict: any
    /// failed condition is `on_condition`, and nothing was written.
    pub(crate) async fn transact_or(
        &self,
        items: Vec<TransactWriteItem>,
        on_condition: Conflict,
    ) -> Result<(), StorageError> {
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TransactionOutcome::ConditionFailed(_)) => {
                Err(StorageError::Conflict(on_condition))
            }
            Err(TransactionOutcome::Failed(e)) => Err(e),
        }
    }

    /// Writes `items` in one transaction, each only if its key is absent:
    /// [`Conflict::AlreadyExists`] if any is taken, and nothing is written.
    pub(crate) async fn put_all_new(&self, items: Vec<Item>) -> Result<(), StorageError> {
        let puts = items
            .into_iter()
            .map(|item| self.conditional_put(item, "attribute_not_exists"))
            .collect::<Result<Vec<_>, _>>()?;
        self.transact_or(puts, Conflict::AlreadyExists).await
    }

    async fn bump_catalog_revision(&self) -> Result<(), StorageError> {
        let key = ItemKey::catalog_revision();
        self.add_one(&key.pk, &key.sk, "revision").await
    }

    /// Atomically adds 1 to a numeric attribute, creating the item at 1 if absent.
    async fn add_one(&self, pk: &str, sk: &str, attribute: &str) -> Result<(), StorageError> {
        self.update_item_at(pk, sk)
            .update_expression("ADD #counter :one")
            .expression_attribute_names("#counter", attribute)
            .expression_attribute_values(":one", n(1))
            .send()
            .await
            .map_err(storage_error)?;
        Ok(())
    }

    /// A consistent query of one partition's items whose sort key starts with
    /// `prefix`, reading only the `projection` attributes (all when empty); they are
    /// aliased, since names such as `count` are DynamoDB reserved words.
    fn prefix_query(&self, pk: &str, prefix: &str, projection: &[&str]) -> QueryFluentBuilder {
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":prefix", s(prefix))
            .consistent_read(true);
        if !projection.is_empty() {
            let aliases: Vec<String> = (0..projection.len()).map(|i| format!("#p{i}")).collect();
            request = request.projection_expression(aliases.join(", "));
            for (alias, name) in aliases.iter().zip(projection) {
                request = request.expression_attribute_names(alias, *name);
            }
        }
        request
    }

    /// Up to `limit` items of one partition whose sort key starts with `prefix`,
    /// after the sort key `after`, in sort-key order; only the `projection`
    /// attributes (all when empty).
    pub(crate) async fn query_prefix_page(
        &self,
        pk: &str,
        prefix: &str,
        after: Option<String>,
        limit: usize,
        projection: &[&str],
    ) -> Result<Vec<Item>, StorageError> {
        let start = after.map(|sk| HashMap::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))]));
        let output = self
            .prefix_query(pk, prefix, projection)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(storage_error)?;
        Ok(output.items.unwrap_or_default())
    }

    /// Every item of one partition whose sort key starts with `prefix`; only the
    /// `projection` attributes (all when empty).
    pub(crate) async fn query_prefix(
        &self,
        pk: &str,
        prefix: &str,
        projection: &[&str],
    ) -> Result<Vec<Item>, StorageError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .prefix_query(pk, prefix, projection)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(storage_error)?;
            items.extend(output.items.unwrap_or_default());
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    /// Writes a new item holding `record` (JSON) at `key`, listed in GSI1 under
    /// `listing` (`GSI1PK`, `GSI1SK`); [`Conflict::AlreadyExists`] if the key is
    /// taken, and nothing is written.
    pub(crate) async fn put_new_record(
        &self,
        key: ItemKey,
        listing: (&str, &str),
        record: String,
    ) -> Result<(), StorageError> {
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(key.pk))
            .item(SK, s(key.sk))
            .item(GSI1_PK, s(listing.0))
            .item(GSI1_SK, s(listing.1))
            .item("record", s(record))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK);
        crate::error::conditional(request.send().await, Conflict::AlreadyExists)
    }

    /// Up to `limit` items of one partition, highest sort key first, below the
    /// sort key `below` when given: a partition of the table (read consistently)
    /// or of GSI1 (which may lag a write by a moment).
    pub(crate) async fn newest_items(
        &self,
        partition: Partition<'_>,
        below: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Item>, StorageError> {
        let (partition_name, sort_name, value) = match partition {
            Partition::Table(pk) => (PK, SK, pk),
            Partition::Gsi1(pk) => (GSI1_PK, GSI1_SK, pk),
        };
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .expression_attribute_names("#pk", partition_name)
            .expression_attribute_values(":pk", s(value))
            .scan_index_forward(false)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX));
        request = match below {
            Some(below) => request
                .key_condition_expression("#pk = :pk AND #sk < :below")
                .expression_attribute_names("#sk", sort_name)
                .expression_attribute_values(":below", s(below)),
            None => request.key_condition_expression("#pk = :pk"),
        };
        request = match partition {
            Partition::Table(_) => request.consistent_read(true),
            Partition::Gsi1(_) => request.index_name(GSI1),
        };
        let output = request.send().await.map_err(storage_error)?;
        Ok(output.items.unwrap_or_default())
    }

    /// Every item whose `GSI1PK` is `partition`, in `GSI1SK` order. The index is
    /// eventually consistent: it may lag a write by a moment.
    pub(crate) async fn query_gsi1(&self, partition: &str) -> Result<Vec<Item>, StorageError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(GSI1)
                .key_condition_expression("#gpk = :partition")
                .expression_attribute_names("#gpk", GSI1_PK)
                .expression_attribute_values(":partition", s(partition))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(storage_error)?;
            items.extend(output.items.unwrap_or_default());
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    /// A transaction item writing `item` only if the item is absent (`attribute_not_exists`)
    /// or only if it exists (`attribute_exists`).
    pub(crate) fn conditional_put(
        &self,
        item: Item,
        condition: &str,
    ) -> Result<TransactWriteItem, StorageError> {
        let put = built(
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression(format!("{condition}(#pk)"))
                .expression_attribute_names("#pk", PK)
                .build(),
        )?;
        Ok(TransactWriteItem::builder().put(put).build())
    }
}
