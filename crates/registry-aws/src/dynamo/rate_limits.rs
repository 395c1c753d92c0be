//! The rate-limit port on the single DynamoDB table: one item per principal and
//! action, changed by a conditional put; the table's TTL forgets it once its
//! mark has passed (a forgotten mark and a passed one mean the same).

use async_trait::async_trait;
use registry_core::store::{Conflict, RateLimitStore, StorageError};

use super::accounts::TTL_ATTRIBUTE;
use super::item_key::ItemKey;
use super::{DynamoStore, PK, get_n, n, s};
use crate::error::conditional;

/// A mark as the numeric attributes hold it; marks are after 1970.
fn stored(mark: i64) -> aws_sdk_dynamodb::types::AttributeValue {
    n(u64::try_from(mark).unwrap_or(0))
}

#[async_trait]
impl RateLimitStore for DynamoStore {
    async fn rate_mark(&self, key: &str) -> Result<Option<i64>, StorageError> {
        let item_key = ItemKey::rate_mark(key);
        let Some(item) = self.get(&item_key.pk, &item_key.sk).await? else {
            return Ok(None);
        };
        Ok(Some(
            i64::try_from(get_n(&item, "mark")?).unwrap_or(i64::MAX),
        ))
    }

    async fn swap_rate_mark(
        &self,
        key: &str,
        from: Option<i64>,
        to: i64,
    ) -> Result<(), StorageError> {
        let item_key = ItemKey::rate_mark(key);
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(item_key.pk))
            .item(super::SK, s(item_key.sk))
            .item("mark", stored(to))
            .item(TTL_ATTRIBUTE, stored(to));
        let request = match from {
            None => request
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PK),
            Some(from) => request
                .condition_expression("#mark = :from")
                .expression_attribute_names("#mark", "mark")
                .expression_attribute_values(":from", stored(from)),
        };
        conditional(request.send().await, Conflict::RevisionChanged)
    }
}
