//! The trusted-publishing port on the single DynamoDB table. A publisher is one
//! item in its plugin's partition, listed in GSI1 under its CI identity so a
//! token's exchange finds it with one query (the index may lag a new publisher
//! by a moment). A publish token and the claim of its CI token's `jti` are
//! written in one transaction, each only if absent: a replayed CI token finds
//! its claim taken and nothing is written. Both carry a `ttl`.

use std::collections::HashMap;

use async_trait::async_trait;
use registry_core::auth::SecretHash;
use registry_core::slug::Slug;
use registry_core::store::codec::{from_json, to_json};
use registry_core::store::{Conflict, StorageError, TrustedPublishingStore};
use registry_core::trusted_publishing::{
    PublishTokenRecord, PublisherId, PublishingLock, TrustedPublisher,
};

use super::accounts::{TTL_ATTRIBUTE, ttl};
use super::item_key::{ItemKey, trusted_publishers_for_ci, trusted_publishers_of};
use super::{DynamoStore, GSI1_PK, GSI1_SK, Item, PK, SK, get_s, s};
use crate::error::conditional;

/// What every publisher id (its sort key) starts with: a partition query needs a
/// non-empty sort-key prefix.
const PUBLISHER_ID_PREFIX: &str = "tp_";

fn decoded(item: &Item) -> Result<TrustedPublisher, StorageError> {
    from_json("trusted publisher", get_s(item, "record")?)
}

fn publisher_item(publisher: &TrustedPublisher) -> Result<Item, StorageError> {
    let key = ItemKey::trusted_publisher(&publisher.plugin, &publisher.id);
    Ok(HashMap::from([
        (PK.to_owned(), s(key.pk)),
        (SK.to_owned(), s(key.sk)),
        (
            GSI1_PK.to_owned(),
            s(trusted_publishers_for_ci(&publisher.ci.lookup_key())),
        ),
        (
            GSI1_SK.to_owned(),
            s(format!("{}#{}", publisher.created_at, publisher.id)),
        ),
        ("record".to_owned(), s(to_json(publisher)?)),
    ]))
}

fn oldest_first(mut publishers: Vec<TrustedPublisher>) -> Vec<TrustedPublisher> {
    publishers.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    publishers
}

#[async_trait]
impl TrustedPublishingStore for DynamoStore {
    async fn insert_publisher(&self, publisher: &TrustedPublisher) -> Result<(), StorageError> {
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(publisher_item(publisher)?))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK);
        conditional(request.send().await, Conflict::AlreadyExists)
    }

    async fn publishers_of(&self, slug: &Slug) -> Result<Vec<TrustedPublisher>, StorageError> {
        let items = self
            .query_prefix(&trusted_publishers_of(slug), PUBLISHER_ID_PREFIX, &[])
            .await?;
        Ok(oldest_first(
            items.iter().map(decoded).collect::<Result<_, _>>()?,
        ))
    }

    async fn publishers_for_ci(
        &self,
        lookup_key: &str,
    ) -> Result<Vec<TrustedPublisher>, StorageError> {
        let items = self
            .query_gsi1(&trusted_publishers_for_ci(lookup_key))
            .await?;
        Ok(oldest_first(
            items.iter().map(decoded).collect::<Result<_, _>>()?,
        ))
    }

    async fn replace_publisher(&self, publisher: &TrustedPublisher) -> Result<(), StorageError> {
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(publisher_item(publisher)?))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK);
        conditional(request.send().await, Conflict::Missing)
    }

    async fn remove_publisher(&self, slug: &Slug, id: &PublisherId) -> Result<(), StorageError> {
        let key = ItemKey::trusted_publisher(slug, id);
        let request = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(key.pk))
            .key(SK, s(key.sk))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK);
        conditional(request.send().await, Conflict::Missing)
    }

    async fn insert_publish_token(&self, token: &PublishTokenRecord) -> Result<(), StorageError> {
        let token_key = ItemKey::publish_token(&token.hash);
        let claim_key = ItemKey::ci_token_claim(&token.issuer, &token.jti);
        let token_item = HashMap::from([
            (PK.to_owned(), s(token_key.pk)),
            (SK.to_owned(), s(token_key.sk)),
            ("record".to_owned(), s(to_json(token)?)),
            (TTL_ATTRIBUTE.to_owned(), ttl(token.retain_until)),
        ]);
        let claim_item = HashMap::from([
            (PK.to_owned(), s(claim_key.pk)),
            (SK.to_owned(), s(claim_key.sk)),
            ("token".to_owned(), s(token.id.as_str())),
            (TTL_ATTRIBUTE.to_owned(), ttl(token.retain_until)),
        ]);
        self.put_all_new(vec![claim_item, token_item]).await
    }

    async fn publish_token(
        &self,
        hash: &SecretHash,
    ) -> Result<Option<PublishTokenRecord>, StorageError> {
        let key = ItemKey::publish_token(hash);
        self.get(&key.pk, &key.sk)
            .await?
            .map(|item| from_json("publish token", get_s(&item, "record")?))
            .transpose()
    }

    async fn publishing_lock(&self, slug: &Slug) -> Result<Option<PublishingLock>, StorageError> {
        let key = ItemKey::publishing_lock(slug);
        self.get(&key.pk, &key.sk)
            .await?
            .map(|item| from_json("publishing lock", get_s(&item, "record")?))
            .transpose()
    }

    async fn set_publishing_lock(
        &self,
        slug: &Slug,
        lock: Option<&PublishingLock>,
    ) -> Result<(), StorageError> {
        let key = ItemKey::publishing_lock(slug);
        match lock {
            Some(lock) => self
                .client
                .put_item()
                .table_name(&self.table)
                .item(PK, s(key.pk))
                .item(SK, s(key.sk))
                .item("record", s(to_json(lock)?))
                .send()
                .await
                .map(|_| ())
                .map_err(crate::error::storage_error),
            None => self
                .client
                .delete_item()
                .table_name(&self.table)
                .key(PK, s(key.pk))
                .key(SK, s(key.sk))
                .send()
                .await
                .map(|_| ())
                .map_err(crate::error::storage_error),
        }
    }
}
