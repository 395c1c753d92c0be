//! The catalog port on the single DynamoDB table: plugins and versions (download
//! counters are in `downloads.rs`).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
use registry_core::auth::PrincipalId;
use registry_core::moderation::Quarantine;
use registry_core::slug::Slug;
use registry_core::store::codec::slug_from_stored;
use registry_core::store::{
    CatalogStore, Conflict, LatestSummary, PluginHead, PluginListing, PluginRecord, StorageError,
    VersionChange, VersionRecord, VersionSummary,
};
use registry_core::timestamp::Timestamp;
use registry_core::version::PluginVersion;
use registry_core::webhook::Delivery;

use super::item_key::{ItemKey, PENDING_REVIEWS, PUBLIC_LISTING, VERSION_PREFIX};
use super::{
    DynamoStore, GSI1, GSI1_PK, GSI1_SK, Item, PK, Partition, SK, TransactionOutcome, built,
    from_json, get_n, get_s, n, opt_s, s, timestamp, to_json,
};
use crate::error::{corrupt, storage_error};

impl DynamoStore {
    fn version_item(&self, slug: &Slug, record: &VersionRecord) -> Result<Item, StorageError> {
        let key = ItemKey::version(slug, &record.version);
        let mut item = HashMap::from([
            (PK.to_owned(), s(key.pk)),
            (SK.to_owned(), s(key.sk)),
            ("version".to_owned(), s(record.version.to_string())),
            (
                "summary".to_owned(),
                s(to_json(&VersionSummary::of(record))?),
            ),
            ("record".to_owned(), s(to_json(record)?)),
        ]);
        // A pending version is listed for reviewers; the listing drops it as soon
        // as a decision rewrites the item without these.
        if let Some(review) = record.review.as_ref().filter(|r| r.is_pending()) {
            item.insert(GSI1_PK.to_owned(), s(PENDING_REVIEWS));
            item.insert(
                GSI1_SK.to_owned(),
                s(format!(
                    "{}#{slug}#{}",
                    review.submitted_at(),
                    record.version.sort_key()
                )),
            );
        }
        Ok(item)
    }

    fn put_version(
        &self,
        slug: &Slug,
        record: &VersionRecord,
    ) -> Result<TransactWriteItem, StorageError> {
        self.conditional_put(self.version_item(slug, record)?, "attribute_not_exists")
    }

    /// Runs a plugin's transaction and bumps the catalog revision, mapping a failed
    /// condition on item `i` to `conflicts[i]` (the last one past the end).
    async fn write_plugin(
        &self,
        mut items: Vec<TransactWriteItem>,
        conflicts: &[Conflict],
        told: &[Delivery],
    ) -> Result<(), StorageError> {
        items.extend(self.delivery_puts(told)?);
        match self.transact(items).await {
            Ok(()) => self.bump_catalog_revision().await,
            Err(TransactionOutcome::ConditionFailed(index)) => Err(StorageError::Conflict(
                conflicts
                    .get(index)
                    .or(conflicts.last())
                    .copied()
                    .unwrap_or(Conflict::RevisionChanged),
            )),
            Err(TransactionOutcome::Failed(e)) => Err(e),
        }
    }

    /// The plugin-row update of every change: bump the revision it was read at,
    /// stamp `updated_at`, and set (`Some`) or remove (`None`) the attribute
    /// `attribute` holding `value` as JSON: the latest summary, the quarantine.
    fn update_plugin_row(
        &self,
        slug: &Slug,
        expected_revision: u64,
        attribute: &'static str,
        value: Option<String>,
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
            .expression_attribute_names("#changed", attribute)
            .expression_attribute_values(":expected", n(expected_revision))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":at", s(at.to_string()));
        update = match value {
            Some(value) => update
                .update_expression("SET #rev = #rev + :one, #updated = :at, #changed = :value")
                .expression_attribute_values(":value", s(value)),
            None => {
                update.update_expression("SET #rev = #rev + :one, #updated = :at REMOVE #changed")
            }
        };
        Ok(TransactWriteItem::builder()
            .update(built(update.build())?)
            .build())
    }
}

/// The plugin item's attribute holding its latest summary (JSON).
const LATEST: &str = "latest";
/// The plugin item's attribute holding its quarantine (JSON), while it has one.
const QUARANTINE: &str = "quarantine";

fn listing_of(item: &Item) -> Result<PluginListing, StorageError> {
    Ok(PluginListing {
        slug: Slug::parse(get_s(item, "slug")?).map_err(|e| corrupt("slug", e))?,
        created_at: timestamp(item, "created_at")?,
        updated_at: timestamp(item, "updated_at")?,
        downloads: get_n(item, "downloads")?,
        latest: opt_s(item, LATEST)
            .map(|raw| from_json("latest summary", raw))
            .transpose()?,
    })
}

/// A plugin's own row from its metadata item.
fn head_of(meta: &Item) -> Result<PluginHead, StorageError> {
    let listing = listing_of(meta)?;
    Ok(PluginHead {
        slug: listing.slug,
        owner: PrincipalId::from_stored(get_s(meta, "owner")?),
        created_at: listing.created_at,
        updated_at: listing.updated_at,
        downloads: listing.downloads,
        healthy_instances: get_n(meta, "healthy_instances")?,
        revision: get_n(meta, "revision")?,
        latest: listing.latest,
        quarantined: opt_s(meta, QUARANTINE)
            .map(|raw| from_json("quarantine", raw))
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
        Ok(Some(head_of(&meta)?.with_versions(versions)))
    }

    async fn highest_live_version(
        &self,
        slug: &Slug,
    ) -> Result<Option<PluginVersion>, StorageError> {
        // Version items sort by semver precedence; read them from the highest down
        // (every version key sorts below the prefix's last character raised by
        // one) until one is not unpublished: usually the first.
        const AT_ONCE: usize = 4;
        let partition = ItemKey::plugin(slug).pk;
        let mut below = format!("{}$", VERSION_PREFIX.trim_end_matches('#'));
        loop {
            let items = self
                .newest_items(Partition::Table(&partition), Some(&below), AT_ONCE)
                .await?;
            if items.is_empty() {
                return Ok(None);
            }
            for item in &items {
                let key = get_s(item, SK)?;
                if !key.starts_with(VERSION_PREFIX) {
                    return Ok(None);
                }
                let summary: VersionSummary =
                    from_json("version summary", get_s(item, "summary")?)?;
                if summary.unpublished_at.is_none() {
                    return Ok(Some(summary.version));
                }
                key.clone_into(&mut below);
            }
        }
    }

    async fn plugin_head(&self, slug: &Slug) -> Result<Option<PluginHead>, StorageError> {
        let key = ItemKey::plugin(slug);
        self.get(&key.pk, &key.sk)
            .await?
            .map(|meta| head_of(&meta))
            .transpose()
    }

    async fn version_records_page(
        &self,
        slug: &Slug,
        after: Option<&PluginVersion>,
        limit: usize,
    ) -> Result<Vec<VersionRecord>, StorageError> {
        let partition = ItemKey::plugin(slug).pk;
        let after = after.map(|v| ItemKey::version(slug, v).sk);
        self.query_prefix_page(&partition, VERSION_PREFIX, after, limit, &["record"])
            .await?
            .iter()
            .map(|item| from_json("version record", get_s(item, "record")?))
            .collect()
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
        latest: Option<&LatestSummary>,
        told: &[Delivery],
    ) -> Result<(), StorageError> {
        let at = first.published_at.to_string();
        let plugin = ItemKey::plugin(slug);
        let mut row = HashMap::from([
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
        ]);
        if let Some(latest) = latest {
            row.insert(LATEST.to_owned(), s(to_json(latest)?));
        }
        let claim = ItemKey::skeleton(&slug.skeleton());
        let claim = HashMap::from([
            (PK.to_owned(), s(claim.pk)),
            (SK.to_owned(), s(claim.sk)),
            ("slug".to_owned(), s(slug.as_str())),
        ]);
        let items = vec![
            self.conditional_put(row, "attribute_not_exists")?,
            self.conditional_put(claim, "attribute_not_exists")?,
            self.put_version(slug, first)?,
        ];
        self.write_plugin(
            items,
            &[
                Conflict::PluginExists,
                Conflict::Confusable,
                Conflict::VersionExists,
            ],
            told,
        )
        .await
    }

    async fn slug_with_skeleton(&self, skeleton: &str) -> Result<Option<Slug>, StorageError> {
        let claim = ItemKey::skeleton(skeleton);
        self.get(&claim.pk, &claim.sk)
            .await?
            .map(|item| slug_from_stored(get_s(&item, "slug")?))
            .transpose()
    }

    async fn add_version(
        &self,
        slug: &Slug,
        expected_revision: u64,
        record: &VersionRecord,
        latest: Option<&LatestSummary>,
        told: &[Delivery],
    ) -> Result<(), StorageError> {
        let items = vec![
            self.update_plugin_row(
                slug,
                expected_revision,
                LATEST,
                latest.map(to_json).transpose()?,
                record.published_at,
            )?,
            self.put_version(slug, record)?,
        ];
        self.write_plugin(
            items,
            &[Conflict::RevisionChanged, Conflict::VersionExists],
            told,
        )
        .await
    }

    async fn versions_pending_review(
        &self,
        limit: usize,
    ) -> Result<Vec<VersionRecord>, StorageError> {
        let mut records = Vec::new();
        let mut start = None;
        while records.len() < limit {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(GSI1)
                .key_condition_expression("#pk = :pending")
                .expression_attribute_names("#pk", GSI1_PK)
                .expression_attribute_values(":pending", s(PENDING_REVIEWS))
                .limit(i32::try_from(limit - records.len()).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(storage_error)?;
            for item in output.items.unwrap_or_default() {
                records.push(from_json("version record", get_s(&item, "record")?)?);
            }
            start = output.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        records.truncate(limit);
        Ok(records)
    }

    async fn change_version(
        &self,
        slug: &Slug,
        expected_revision: u64,
        version: &PluginVersion,
        change: &VersionChange,
        latest: Option<&LatestSummary>,
        at: Timestamp,
        told: &[Delivery],
    ) -> Result<(), StorageError> {
        // The record is read outside the transaction; the revision condition makes
        // the write fail if anything changed the plugin since.
        let Some(mut record) = self.version(slug, version).await? else {
            return Err(StorageError::Conflict(Conflict::Missing));
        };
        change.apply(record.lifecycle());
        let items = vec![
            self.update_plugin_row(
                slug,
                expected_revision,
                LATEST,
                latest.map(to_json).transpose()?,
                at,
            )?,
            self.conditional_put(self.version_item(slug, &record)?, "attribute_exists")?,
        ];
        self.write_plugin(items, &[Conflict::RevisionChanged, Conflict::Missing], told)
            .await
    }

    async fn set_plugin_quarantine(
        &self,
        slug: &Slug,
        expected_revision: u64,
        quarantine: Option<&Quarantine>,
        at: Timestamp,
    ) -> Result<(), StorageError> {
        let item = self.update_plugin_row(
            slug,
            expected_revision,
            QUARANTINE,
            quarantine.map(to_json).transpose()?,
            at,
        )?;
        self.write_plugin(vec![item], &[Conflict::RevisionChanged], &[])
            .await
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
