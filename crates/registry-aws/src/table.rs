//! The single-table DynamoDB catalog and key store.
//!
//! Every item's key comes from [`crate::item_key`], which lays the table out.
//!
//! The org ports are in [`crate::org_table`], the router's in
//! [`crate::mcp_router_table`].
//!
//! Multi-item changes are one `TransactWriteItems`; each condition's failure maps to
//! the same [`Conflict`] the SQLite adapter reports. The catalog revision is bumped
//! after a successful write rather than inside it: a counter in every transaction
//! would make unrelated concurrent writes conflict with each other.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use registry_core::auth::{
    ApiKeyRecord, KeyHash, KeyId, Principal, PrincipalId, PrincipalKind, Scope, Scopes,
};
use registry_core::slug::Slug;
use registry_core::store::{
    CatalogStore, Conflict, KeyStore, LatestSummary, PluginListing, PluginRecord, StorageError,
    VersionChange, VersionRecord, VersionSummary,
};
use registry_core::timestamp::Timestamp;
use registry_core::version::PluginVersion;

use crate::error::{corrupt, storage_error};
use crate::item_key::{
    API_KEY_PREFIX, DOWNLOADS_PREFIX, ItemKey, KEY, META, PUBLIC_LISTING, PUBLIC_PLUGIN_PREFIX,
    VERSION_PREFIX, downloads_prefix, keys_of_principal,
};

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

pub(crate) fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// The slug of a public plugin's partition key.
fn slug_of_partition(pk: &str) -> Result<Slug, StorageError> {
    pk.strip_prefix(PUBLIC_PLUGIN_PREFIX)
        .and_then(|raw| Slug::parse(raw).ok())
        .ok_or_else(|| StorageError::Corrupt(format!("not a public plugin key: {pk}")))
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

fn get_n(item: &Item, name: &str) -> Result<u64, StorageError> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse().map_err(|e| corrupt(name, e)),
        None => Ok(0),
        _ => Err(corrupt("item attribute", format!("{name} is not a number"))),
    }
}

fn opt_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Some(v),
        _ => None,
    }
}

pub(crate) fn json<T: serde::Serialize>(value: &T) -> Result<String, StorageError> {
    serde_json::to_string(value).map_err(|e| StorageError::Backend(Box::new(e)))
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(
    what: &str,
    raw: &str,
) -> Result<T, StorageError> {
    serde_json::from_str(raw).map_err(|e| corrupt(what, e))
}

pub(crate) fn timestamp(item: &Item, name: &str) -> Result<Timestamp, StorageError> {
    Timestamp::parse(get_s(item, name)?).map_err(|e| corrupt(name, e))
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

/// DynamoDB-backed [`CatalogStore`] and [`KeyStore`].
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

    async fn bump_catalog_revision(&self) -> Result<(), StorageError> {
        let key = ItemKey::catalog_revision();
        self.add_one(&key.pk, &key.sk, "revision").await
    }

    /// Atomically adds 1 to a numeric attribute, creating the item at 1 if absent.
    async fn add_one(&self, pk: &str, sk: &str, attribute: &str) -> Result<(), StorageError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(pk))
            .key(SK, s(sk))
            .update_expression("ADD #counter :one")
            .expression_attribute_names("#counter", attribute)
            .expression_attribute_values(":one", n(1))
            .send()
            .await
            .map_err(storage_error)?;
        Ok(())
    }

    /// Every item of one partition whose sort key starts with `prefix`.
    /// Only the `projection` attributes are read (all when empty); they are aliased,
    /// since names such as `count` are DynamoDB reserved words.
    pub(crate) async fn query_prefix(
        &self,
        pk: &str,
        prefix: &str,
        projection: &[&str],
    ) -> Result<Vec<Item>, StorageError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let mut request = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#sk", SK)
                .expression_attribute_values(":pk", s(pk))
                .expression_attribute_values(":prefix", s(prefix))
                .consistent_read(true)
                .set_exclusive_start_key(start);
            if !projection.is_empty() {
                let aliases: Vec<String> =
                    (0..projection.len()).map(|i| format!("#p{i}")).collect();
                request = request.projection_expression(aliases.join(", "));
                for (alias, name) in aliases.iter().zip(projection) {
                    request = request.expression_attribute_names(alias, *name);
                }
            }
            let output = request.send().await.map_err(storage_error)?;
            items.extend(output.items.unwrap_or_default());
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    fn version_item(&self, slug: &Slug, record: &VersionRecord) -> Result<Item, StorageError> {
        let key = ItemKey::version(slug, &record.version);
        Ok(HashMap::from([
            (PK.to_owned(), s(key.pk)),
            (SK.to_owned(), s(key.sk)),
            ("version".to_owned(), s(record.version.to_string())),
            ("summary".to_owned(), s(json(&VersionSummary::of(record))?)),
            ("record".to_owned(), s(json(record)?)),
        ]))
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

    fn put_version(
        &self,
        slug: &Slug,
        record: &VersionRecord,
    ) -> Result<TransactWriteItem, StorageError> {
        self.conditional_put(self.version_item(slug, record)?, "attribute_not_exists")
    }

    /// Runs a plugin's two-item transaction and bumps the catalog revision, mapping
    /// a failed condition on the first item to `first` and on the second to `second`.
    async fn write_plugin(
        &self,
        items: Vec<TransactWriteItem>,
        first: Conflict,
        second: Conflict,
    ) -> Result<(), StorageError> {
        match self.transact(items).await {
            Ok(()) => self.bump_catalog_revision().await,
            Err(TransactionOutcome::ConditionFailed(0)) => Err(StorageError::Conflict(first)),
            Err(TransactionOutcome::ConditionFailed(_)) => Err(StorageError::Conflict(second)),
            Err(TransactionOutcome::Failed(e)) => Err(e),
        }
    }

    /// The plugin-row update of every change: bump the revision it was read at,
    /// stamp `updated_at`, and set or remove the latest summary.
    fn update_plugin_row(
        &self,
        slug: &Slug,
        expected_revision: u64,
        latest: Option<&LatestSummary>,
        at: Timestamp,
    ) -> Result<TransactWriteItem, StorageError> {
        let plugin = ItemKey::plugin(slug);
        let mut update = Update::builder()
            .table_name(&self.table)
            .key(PK, s(plugin.pk))
            .key(SK, s(plugin.sk))
            .condition_expression("#rev = :expected")
            .expression_attribute_names("#rev", "revision")
            .expression_attribute_names("#updated", "updated_at")
            .expression_attribute_names("#latest", "latest")
            .expression_attribute_values(":expected", n(expected_revision))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":at", s(at.to_string()));
        update = match latest {
            Some(latest) => update
                .update_expression("SET #rev = #rev + :one, #updated = :at, #latest = :latest")
                .expression_attribute_values(":latest", s(json(latest)?)),
            None => {
                update.update_expression("SET #rev = #rev + :one, #updated = :at REMOVE #latest")
            }
        };
        Ok(TransactWriteItem::builder()
            .update(built(update.build())?)
            .build())
    }
}

fn listing_of(item: &Item) -> Result<PluginListing, StorageError> {
    Ok(PluginListing {
        slug: Slug::parse(get_s(item, "slug")?).map_err(|e| corrupt("slug", e))?,
        created_at: timestamp(item, "created_at")?,
        updated_at: timestamp(item, "updated_at")?,
        downloads: get_n(item, "downloads")?,
        latest: opt_s(item, "latest")
            .map(|raw| from_json("latest summary", raw))
            .transpose()?,
    })
}

#[async_trait]
impl CatalogStore for DynamoStore {
    async fn plugin(&self, slug: &Slug) -> Result<Option<PluginRecord>, StorageError> {
        let key = ItemKey::plugin(slug);
        let Some(meta) = self.get(&key.pk, &key.sk).await? else {
            return Ok(None);
        };
        let versions = self
            .query_prefix(&key.pk, VERSION_PREFIX, &["summary"])
            .await?
            .iter()
            .map(|item| from_json::<VersionSummary>("version summary", get_s(item, "summary")?))
            .collect::<Result<Vec<_>, _>>()?;
        let listing = listing_of(&meta)?;
        Ok(Some(PluginRecord {
            slug: listing.slug,
            owner: PrincipalId::from_stored(get_s(&meta, "owner")?),
            created_at: listing.created_at,
            updated_at: listing.updated_at,
            downloads: listing.downloads,
            healthy_instances: get_n(&meta, "healthy_instances")?,
            revision: get_n(&meta, "revision")?,
            latest: listing.latest,
            versions,
        }))
    }

    async fn version(
        &self,
        slug: &Slug,
        version: &PluginVersion,
    ) -> Result<Option<VersionRecord>, StorageError> {
        let key = ItemKey::version(slug, version);
        self.get(&key.pk, &key.sk)
            .await?
            .map(|item| from_json("version record", get_s(&item, "record")?))
            .transpose()
    }

    async fn create_plugin(
        &self,
        slug: &Slug,
        owner: &PrincipalId,
        first: &VersionRecord,
        latest: &LatestSummary,
    ) -> Result<(), StorageError> {
        let at = first.published_at.to_string();
        let plugin = ItemKey::plugin(slug);
        let meta = HashMap::from([
            (PK.to_owned(), s(plugin.pk)),
            (SK.to_owned(), s(plugin.sk)),
            (GSI1_PK.to_owned(), s(PUBLIC_LISTING)),
            (GSI1_SK.to_owned(), s(slug.as_str())),
            ("slug".to_owned(), s(slug.as_str())),
            ("owner".to_owned(), s(owner.as_str())),
            ("created_at".to_owned(), s(&at)),
            ("updated_at".to_owned(), s(&at)),
            ("downloads".to_owned(), n(0)),
            ("revision".to_owned(), n(1)),
            ("latest".to_owned(), s(json(latest)?)),
        ]);
        let items = vec![
            self.conditional_put(meta, "attribute_not_exists")?,
            self.put_version(slug, first)?,
        ];
        self.write_plugin(items, Conflict::PluginExists, Conflict::VersionExists)
            .await
    }

    async fn add_version(
        &self,
        slug: &Slug,
        expected_revision: u64,
        record: &VersionRecord,
        latest: &LatestSummary,
    ) -> Result<(), StorageError> {
        let items = vec![
            self.update_plugin_row(slug, expected_revision, Some(latest), record.published_at)?,
            self.put_version(slug, record)?,
        ];
        self.write_plugin(items, Conflict::RevisionChanged, Conflict::VersionExists)
            .await
    }

    async fn change_version(
        &self,
        slug: &Slug,
        expected_revision: u64,
        version: &PluginVersion,
        change: &VersionChange,
        latest: Option<&LatestSummary>,
        at: Timestamp,
    ) -> Result<(), StorageError> {
        // The record is read outside the transaction; the revision condition makes
        // the write fail if anything changed the plugin since.
        let Some(mut record) = self.version(slug, version).await? else {
            return Err(StorageError::Conflict(Conflict::Missing));
        };
        change.apply(&mut record.deprecated, &mut record.unpublished_at);
        let items = vec![
            self.update_plugin_row(slug, expected_revision, latest, at)?,
            self.conditional_put(self.version_item(slug, &record)?, "attribute_exists")?,
        ];
        self.write_plugin(items, Conflict::RevisionChanged, Conflict::Missing)
            .await
    }

    async fn record_download(
        &self,
        slug: &Slug,
        version: &PluginVersion,
        day: time::Date,
    ) -> Result<(), StorageError> {
        let key = ItemKey::daily_downloads(slug, version, day);
        self.add_one(&key.pk, &key.sk, "count").await
    }

    async fn downloads_since(
        &self,
        slug: &Slug,
        version: &PluginVersion,
        since: time::Date,
    ) -> Result<u64, StorageError> {
        let from = ItemKey::daily_downloads(slug, version, since);
        let items = self
            .query_prefix(&from.pk, &downloads_prefix(version), &[SK, "count"])
            .await?;
        let mut total = 0;
        for item in &items {
            if get_s(item, SK)? >= from.sk.as_str() {
                total += get_n(item, "count")?;
            }
        }
        Ok(total)
    }

    async fn roll_up_downloads(&self) -> Result<Vec<Slug>, StorageError> {
        let mut totals: HashMap<String, u64> = HashMap::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("begins_with(#sk, :dl)")
                .expression_attribute_names("#sk", SK)
                .expression_attribute_values(":dl", s(DOWNLOADS_PREFIX))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(storage_error)?;
            for item in output.items.unwrap_or_default() {
                *totals.entry(get_s(&item, PK)?.to_owned()).or_default() += get_n(&item, "count")?;
            }
            start = output.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        let mut changed = Vec::new();
        for (pk, total) in totals {
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .key(PK, s(&pk))
                .key(SK, s(META))
                .update_expression("SET #downloads = :total")
                .condition_expression("attribute_exists(#pk) AND #downloads <> :total")
                .expression_attribute_names("#downloads", "downloads")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_values(":total", n(total))
                .send()
                .await;
            match result {
                Ok(_) => changed.push(slug_of_partition(&pk)?),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_conditional_check_failed_exception()) => {}
                Err(e) => return Err(storage_error(e)),
            }
        }
        if !changed.is_empty() {
            self.bump_catalog_revision().await?;
        }
        changed.sort();
        Ok(changed)
    }

    async fn catalog_revision(&self) -> Result<u64, StorageError> {
        let key = ItemKey::catalog_revision();
        match self.get(&key.pk, &key.sk).await? {
            Some(item) => get_n(&item, "revision"),
            None => Ok(0),
        }
    }

    async fn list_plugins(
        &self,
        after: Option<&Slug>,
        limit: usize,
    ) -> Result<Vec<PluginListing>, StorageError> {
        let mut listings = Vec::new();
        let mut start = None;
        while listings.len() < limit {
            let want = i32::try_from(limit - listings.len()).unwrap_or(i32::MAX);
            let mut request = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(GSI1)
                .expression_attribute_names("#gpk", GSI1_PK)
                .expression_attribute_values(":listing", s(PUBLIC_LISTING))
                .limit(want)
                .set_exclusive_start_key(start);
            // DynamoDB refuses an empty string in a key condition, so the first page
            // has no lower bound at all.
            request = match after {
                Some(after) => request
                    .key_condition_expression("#gpk = :listing AND #gsk > :after")
                    .expression_attribute_names("#gsk", GSI1_SK)
                    .expression_attribute_values(":after", s(after.as_str())),
                None => request.key_condition_expression("#gpk = :listing"),
            };
            let output = request.send().await.map_err(storage_error)?;
            for item in output.items.unwrap_or_default() {
                listings.push(listing_of(&item)?);
            }
            start = output.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        listings.truncate(limit);
        Ok(listings)
    }
}

fn key_record(item: &Item) -> Result<ApiKeyRecord, StorageError> {
    let scopes = get_s(item, "scopes")?
        .split(',')
        .filter(|s| !s.is_empty())
        .map(Scope::parse)
        .collect::<Result<Scopes, _>>()
        .map_err(|e| corrupt("scopes", e))?;
    Ok(ApiKeyRecord {
        id: KeyId::from_stored(get_s(item, "key_id")?),
        hash: KeyHash::from_hex(get_s(item, "hash")?)
            .ok_or_else(|| corrupt("key hash", "not hex"))?,
        principal: PrincipalId::from_stored(get_s(item, "principal")?),
        name: get_s(item, "name")?.to_owned(),
        scopes,
        created_at: timestamp(item, "created_at")?,
        revoked_at: opt_s(item, "revoked_at")
            .map(|t| Timestamp::parse(t).map_err(|e| corrupt("revoked_at", e)))
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
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Err(StorageError::Conflict(Conflict::AlreadyExists))
            }
            Err(e) => Err(storage_error(e)),
        }
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
        let scopes = key
            .scopes
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(",");
        let key_key = ItemKey::api_key(&key.hash);
        let id_key = ItemKey::key_id(&key.id);
        let key_item = HashMap::from([
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
        let id_item = HashMap::from([
            (PK.to_owned(), s(id_key.pk)),
            (SK.to_owned(), s(id_key.sk)),
            ("hash".to_owned(), s(key.hash.to_hex())),
        ]);
        let items = vec![
            self.conditional_put(key_item, "attribute_not_exists")?,
            self.conditional_put(id_item, "attribute_not_exists")?,
        ];
        match self.transact(items).await {
            Ok(()) => {}
            Err(TransactionOutcome::ConditionFailed(_)) => {
                return Err(StorageError::Conflict(Conflict::AlreadyExists));
            }
            Err(TransactionOutcome::Failed(e)) => return Err(e),
        }
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

    async fn key_by_hash(&self, hash: &KeyHash) -> Result<Option<ApiKeyRecord>, StorageError> {
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
        let hash = KeyHash::from_hex(get_s(&pointer, "hash")?)
            .ok_or_else(|| corrupt("key hash", "not hex"))?;
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
        let hash = KeyHash::from_hex(raw).ok_or_else(|| corrupt("key hash", raw))?;
        let key = ItemKey::api_key(&hash);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(key.pk))
            .key(SK, s(key.sk))
            .update_expression("SET #revoked = :at")
            .condition_expression("attribute_exists(#pk) AND attribute_not_exists(#revoked)")
            .expression_attribute_names("#revoked", "revoked_at")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":at", s(at.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Err(StorageError::Conflict(Conflict::Missing))
            }
            Err(e) => Err(storage_error(e)),
        }
    }

    async fn any_key_exists(&self) -> Result<bool, StorageError> {
        let marker = ItemKey::keys_exist();
        Ok(self.get(&marker.pk, &marker.sk).await?.is_some())
    }
}
