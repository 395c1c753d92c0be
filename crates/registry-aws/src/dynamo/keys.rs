//! The key port on the single DynamoDB table: principals and API keys.

use std::collections::HashMap;

use async_trait::async_trait;
use registry_core::auth::{ApiKeyRecord, KeyId, Principal, PrincipalId, PrincipalKind, SecretHash};
use registry_core::store::codec::{
    plugins_from_stored, plugins_to_stored, scopes_from_stored, scopes_to_stored,
    secret_hash_from_stored, timestamp_from_stored,
};
use registry_core::store::{Conflict, KeyStore, StorageError};
use registry_core::timestamp::Timestamp;

use super::item_key::{API_KEY_PREFIX, ItemKey, KEY, keys_of_principal};
use super::{DynamoStore, GSI1, GSI1_PK, GSI1_SK, Item, PK, SK, get_s, opt_s, s, timestamp};
use crate::error::{conditional, corrupt, storage_error};

fn key_record(item: &Item) -> Result<ApiKeyRecord, StorageError> {
    Ok(ApiKeyRecord {
        id: KeyId::from_stored(get_s(item, "key_id")?),
        hash: secret_hash_from_stored(get_s(item, "hash")?)?,
        principal: PrincipalId::from_stored(get_s(item, "principal")?),
        name: get_s(item, "name")?.to_owned(),
        scopes: scopes_from_stored(get_s(item, "scopes")?)?,
        created_at: timestamp(item, "created_at")?,
        revoked_at: opt_s(item, "revoked_at")
            .map(|t| timestamp_from_stored("revoked_at", t))
            .transpose()?,
        expires_at: opt_s(item, "expires_at")
            .map(|t| timestamp_from_stored("expires_at", t))
            .transpose()?,
        last_used_at: opt_s(item, "last_used_at")
            .map(|t| timestamp_from_stored("last_used_at", t))
            .transpose()?,
        plugins: opt_s(item, "plugins")
            .map(plugins_from_stored)
            .transpose()?,
    })
}

fn sort_keys(keys: &mut [ApiKeyRecord]) {
    keys.sort_by(|a, b| {
        a.created_at
            .cmp(&b.created_at)
            .then_with(|| a.id.cmp(&b.id))
    });
}

#[async_trait]
impl KeyStore for DynamoStore {
    async fn create_principal(&self, principal: &Principal) -> Result<(), StorageError> {
        let key = ItemKey::principal(&principal.id);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(key.pk))
            .item(SK, s(key.sk))
            .item("name", s(&principal.name))
            .item("kind", s(principal.kind.as_str()))
            .item("created_at", s(principal.created_at.to_string()))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await;
        conditional(result, Conflict::AlreadyExists)
    }

    async fn principal(&self, id: &PrincipalId) -> Result<Option<Principal>, StorageError> {
        let key = ItemKey::principal(id);
        let Some(item) = self.get(&key.pk, &key.sk).await? else {
            return Ok(None);
        };
        Ok(Some(Principal {
            id: id.clone(),
            name: get_s(&item, "name")?.to_owned(),
            kind: PrincipalKind::parse(get_s(&item, "kind")?)
                .map_err(|e| corrupt("principal kind", e))?,
            created_at: timestamp(&item, "created_at")?,
        }))
    }

    async fn insert_key(&self, key: &ApiKeyRecord) -> Result<(), StorageError> {
        let scopes = scopes_to_stored(&key.scopes);
        let key_key = ItemKey::api_key(&key.hash);
        let id_key = ItemKey::key_id(&key.id);
        let mut key_item = HashMap::from([
            (PK.to_owned(), s(key_key.pk)),
            (SK.to_owned(), s(key_key.sk)),
            (GSI1_PK.to_owned(), s(keys_of_principal(&key.principal))),
            (
                GSI1_SK.to_owned(),
                s(format!("{}#{}", key.created_at, key.id)),
            ),
            ("key_id".to_owned(), s(key.id.as_str())),
            ("hash".to_owned(), s(key.hash.to_hex())),
            ("principal".to_owned(), s(key.principal.as_str())),
            ("name".to_owned(), s(&key.name)),
            ("scopes".to_owned(), s(scopes)),
            ("created_at".to_owned(), s(key.created_at.to_string())),
        ]);
        // Kept after it passes (the key's owner still lists it), so not a TTL.
        if let Some(expires_at) = key.expires_at {
            key_item.insert("expires_at".to_owned(), s(expires_at.to_string()));
        }
        if let Some(plugins) = &key.plugins {
            key_item.insert("plugins".to_owned(), s(plugins_to_stored(plugins)));
        }
        let id_item = HashMap::from([
            (PK.to_owned(), s(id_key.pk)),
            (SK.to_owned(), s(id_key.sk)),
            ("hash".to_owned(), s(key.hash.to_hex())),
        ]);
        self.put_all_new(vec![key_item, id_item]).await?;
        // Idempotent marker for `any_key_exists`, outside the transaction so that
        // concurrent key creations never conflict over it.
        let marker = ItemKey::keys_exist();
        self.client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(marker.pk))
            .item(SK, s(marker.sk))
            .send()
            .await
            .map_err(storage_error)?;
        Ok(())
    }

    async fn key_by_hash(&self, hash: &SecretHash) -> Result<Option<ApiKeyRecord>, StorageError> {
        let key = ItemKey::api_key(hash);
        self.get(&key.pk, &key.sk)
            .await?
            .map(|item| key_record(&item))
            .transpose()
    }

    async fn key(&self, id: &KeyId) -> Result<Option<ApiKeyRecord>, StorageError> {
        let pointer_key = ItemKey::key_id(id);
        let Some(pointer) = self.get(&pointer_key.pk, &pointer_key.sk).await? else {
            return Ok(None);
        };
        let hash = secret_hash_from_stored(get_s(&pointer, "hash")?)?;
        self.key_by_hash(&hash).await
    }

    async fn list_keys(
        &self,
        principal: Option<&PrincipalId>,
    ) -> Result<Vec<ApiKeyRecord>, StorageError> {
        let mut keys = Vec::new();
        let mut start = None;
        loop {
            let (items, next) = match principal {
                Some(principal) => {
                    let output = self
                        .client
                        .query()
                        .table_name(&self.table)
                        .index_name(GSI1)
                        .key_condition_expression("#gpk = :keys")
                        .expression_attribute_names("#gpk", GSI1_PK)
                        .expression_attribute_values(":keys", s(keys_of_principal(principal)))
                        .set_exclusive_start_key(start)
                        .send()
                        .await
                        .map_err(storage_error)?;
                    (output.items.unwrap_or_default(), output.last_evaluated_key)
                }
                None => {
                    // Listing every key is an admin's rare question: a filtered scan.
                    let output = self
                        .client
                        .scan()
                        .table_name(&self.table)
                        .filter_expression("#sk = :key AND begins_with(#pk, :prefix)")
                        .expression_attribute_names("#sk", SK)
                        .expression_attribute_names("#pk", PK)
                        .expression_attribute_values(":key", s(KEY))
                        .expression_attribute_values(":prefix", s(API_KEY_PREFIX))
                        .set_exclusive_start_key(start)
                        .consistent_read(true)
                        .send()
                        .await
                        .map_err(storage_error)?;
                    (output.items.unwrap_or_default(), output.last_evaluated_key)
                }
            };
            for item in &items {
                keys.push(key_record(item)?);
            }
            start = next;
            if start.is_none() {
                break;
            }
        }
        sort_keys(&mut keys);
        Ok(keys)
    }

    async fn revoke_key(&self, id: &KeyId, at: Timestamp) -> Result<(), StorageError> {
        let pointer_key = ItemKey::key_id(id);
        let Some(pointer) = self.get(&pointer_key.pk, &pointer_key.sk).await? else {
            return Err(StorageError::Conflict(Conflict::Missing));
        };
        let raw = get_s(&pointer, "hash")?;
        let hash = secret_hash_from_stored(raw)?;
        let key = ItemKey::api_key(&hash);
        let result = self
            .update_item_at(&key.pk, &key.sk)
            .update_expression("SET #revoked = :at")
            .condition_expression("attribute_exists(#pk) AND attribute_not_exists(#revoked)")
            .expression_attribute_names("#revoked", "revoked_at")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":at", s(at.to_string()))
            .send()
            .await;
        conditional(result, Conflict::Missing)
    }

    async fn record_key_use(
        &self,
        hash: &SecretHash,
        at: Timestamp,
        since: Timestamp,
    ) -> Result<(), StorageError> {
        let key = ItemKey::api_key(hash);
        // A recent use already recorded is no error: nothing more to write.
        self.set_time_unless_since(&key.pk, &key.sk, "last_used_at", at, since)
            .await
            .map(drop)
    }

    async fn any_key_exists(&self) -> Result<bool, StorageError> {
        let marker = ItemKey::keys_exist();
        Ok(self.get(&marker.pk, &marker.sk).await?.is_some())
    }
}
