//! The download counter port on the single DynamoDB table: daily counters per
//! version and client (expired by the table's TTL after the retention), monthly
//! totals kept forever, and the CDN log parts and files already counted.
//!
//! A log part is one transaction: a marker written only if absent, and the
//! part's counter increments. A redelivered part fails the marker's condition
//! and adds nothing, so a log file counts exactly once however often it arrives
//! and wherever a previous attempt stopped.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use time::Date;

use registry_core::downloads::{
    DownloadClient, DownloadCount, DownloadKey, LogPart, LogPartOutcome, MonthlyDownloadCount,
    Retention, YearMonth, month_is_sealed,
};
use registry_core::slug::Slug;
use registry_core::store::{DownloadCounters, StorageError};
use registry_core::timestamp::Timestamp;
use registry_core::usage::{RegistryUsage, RegistryUsageTally};
use registry_core::version::PluginVersion;

use super::accounts::TTL_ATTRIBUTE;
use super::item_key::{
    DOWNLOADS_PREFIX, ItemKey, META, MONTHLY_DOWNLOADS_PREFIX, PUBLIC_PLUGIN_PREFIX,
    VERSION_PREFIX, daily_downloads_of, downloads_prefix, monthly_downloads_of, plugin_partition,
};
use super::{DynamoStore, Item, PK, SK, TransactionOutcome, built, get_n, get_s, n, s};
use crate::error::{is_condition_failure, storage_error};

/// The attribute holding a counter's value.
const COUNT: &str = "count";
/// The attribute holding the registry's usage as the last roll-up tallied it.
const USAGE: &str = "usage";

/// `ADD count :n SET ttl = :ttl`: an increment that also (re)sets the counter's
/// expiry, as one atomic update.
const ADD_AND_EXPIRE: &str = "ADD #count :n SET #ttl = :ttl";

fn corrupt_key(sk: &str) -> StorageError {
    StorageError::Corrupt(format!("download counter key {sk}"))
}

fn ttl_of(unix_seconds: i64) -> AttributeValue {
    n(u64::try_from(unix_seconds).unwrap_or(0))
}

/// The slug of a public plugin's partition key.
fn slug_of(pk: &str) -> Result<Slug, StorageError> {
    pk.strip_prefix(PUBLIC_PLUGIN_PREFIX)
        .and_then(|raw| Slug::parse(raw).ok())
        .ok_or_else(|| StorageError::Corrupt(format!("not a public plugin key: {pk}")))
}

/// One item of a public plugin's partition that the roll-up reads.
enum UsageItem {
    /// A counter (`DL#…`) or a month's total (`DM#…`): `(PK, SK, count)`.
    Downloads(String, String, u64),
    /// A plugin created on a day.
    Plugin(Date),
    /// A version published on a day.
    Version(Date),
}

/// The one field of a version's summary the roll-up needs.
#[derive(serde::Deserialize)]
struct PublishedAt {
    published_at: Timestamp,
}

impl UsageItem {
    fn of(item: &Item) -> Result<Self, StorageError> {
        let sk = get_s(item, SK)?;
        if sk == META {
            let at = get_s(item, "created_at")?;
            let at = Timestamp::parse(at)
                .map_err(|e| StorageError::Corrupt(format!("plugin created_at {at:?}: {e}")))?;
            Ok(Self::Plugin(at.day()))
        } else if sk.starts_with(VERSION_PREFIX) {
            let summary: PublishedAt =
                super::from_json("version summary", get_s(item, "summary")?)?;
            Ok(Self::Version(summary.published_at.day()))
        } else {
            Ok(Self::Downloads(
                get_s(item, PK)?.to_owned(),
                sk.to_owned(),
                get_n(item, COUNT)?,
            ))
        }
    }
}

impl DynamoStore {
    /// A plugin's daily counters, read back.
    async fn daily_counters_of(&self, slug: &Slug) -> Result<Vec<DownloadCount>, StorageError> {
        let items = self
            .query_prefix(&plugin_partition(slug), DOWNLOADS_PREFIX, &[SK, COUNT])
            .await?;
        items
            .iter()
            .map(|item| {
                let sk = get_s(item, SK)?;
                let (version, day, client) =
                    daily_downloads_of(sk).ok_or_else(|| corrupt_key(sk))?;
                Ok(DownloadCount {
                    key: DownloadKey {
                        slug: slug.clone(),
                        version,
                        day,
                        client,
                    },
                    count: get_n(item, COUNT)?,
                })
            })
            .collect()
    }

    /// Every public plugin's download counters and totals, plugin items and
    /// version items (the facts of the registry's usage), in one scan.
    async fn scan_usage_items(&self) -> Result<Vec<UsageItem>, StorageError> {
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression(
                    "begins_with(#pk, :public) AND (begins_with(#sk, :daily) OR begins_with(#sk, :monthly) OR #sk = :meta OR begins_with(#sk, :version))",
                )
                .projection_expression("#pk, #sk, #count, #created, #summary")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#sk", SK)
                .expression_attribute_names("#count", COUNT)
                .expression_attribute_names("#created", "created_at")
                .expression_attribute_names("#summary", "summary")
                .expression_attribute_values(":public", s(PUBLIC_PLUGIN_PREFIX))
                .expression_attribute_values(":daily", s(DOWNLOADS_PREFIX))
                .expression_attribute_values(":monthly", s(MONTHLY_DOWNLOADS_PREFIX))
                .expression_attribute_values(":meta", s(META))
                .expression_attribute_values(":version", s(VERSION_PREFIX))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(storage_error)?;
            for item in output.items.unwrap_or_default() {
                found.push(UsageItem::of(&item)?);
            }
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(found);
            }
        }
    }

    /// The months whose totals are sealed.
    async fn sealed_months(&self) -> Result<BTreeSet<YearMonth>, StorageError> {
        let key = ItemKey::sealed_download_months();
        let Some(item) = self.get(&key.pk, &key.sk).await? else {
            return Ok(BTreeSet::new());
        };
        let months = match item.get("months") {
            Some(AttributeValue::Ss(months)) => months,
            _ => return Ok(BTreeSet::new()),
        };
        months
            .iter()
            .map(|m| {
                YearMonth::parse(m)
                    .ok_or_else(|| StorageError::Corrupt(format!("sealed month {m}")))
            })
            .collect()
    }
}

#[async_trait]
impl DownloadCounters for DynamoStore {
    async fn record_download(
        &self,
        key: &DownloadKey,
        retention: Retention,
    ) -> Result<(), StorageError> {
        let item = ItemKey::daily_downloads(key);
        self.update_item_at(&item.pk, &item.sk)
            .update_expression(ADD_AND_EXPIRE)
            .expression_attribute_names("#count", COUNT)
            .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
            .expression_attribute_values(":n", n(1))
            .expression_attribute_values(":ttl", ttl_of(retention.expiry_of(key.day)))
            .send()
            .await
            .map_err(storage_error)?;
        Ok(())
    }

    async fn count_log_part(
        &self,
        part: &LogPart,
        counts: &[DownloadCount],
        retention: Retention,
    ) -> Result<LogPartOutcome, StorageError> {
        let marker = ItemKey::log_part(part);
        let last_day = counts.iter().map(|c| c.key.day).max().unwrap_or(Date::MIN);
        let mut actions = vec![self.conditional_put(
            HashMap::from([
                (PK.to_owned(), s(marker.pk)),
                (SK.to_owned(), s(marker.sk)),
                (
                    TTL_ATTRIBUTE.to_owned(),
                    ttl_of(retention.expiry_of(last_day)),
                ),
            ]),
            "attribute_not_exists",
        )?];
        for count in counts {
            let key = ItemKey::daily_downloads(&count.key);
            let update = built(
                Update::builder()
                    .table_name(&self.table)
                    .key(PK, s(key.pk))
                    .key(SK, s(key.sk))
                    .update_expression(ADD_AND_EXPIRE)
                    .expression_attribute_names("#count", COUNT)
                    .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
                    .expression_attribute_values(":n", n(count.count))
                    .expression_attribute_values(":ttl", ttl_of(retention.expiry_of(count.key.day)))
                    .build(),
            )?;
            actions.push(TransactWriteItem::builder().update(update).build());
        }
        match self.transact(actions).await {
            Ok(()) => Ok(LogPartOutcome::Counted),
            Err(TransactionOutcome::ConditionFailed(0)) => Ok(LogPartOutcome::AlreadyCounted),
            Err(TransactionOutcome::ConditionFailed(index)) => Err(StorageError::Corrupt(format!(
                "log part update {index} had a condition it was not given"
            ))),
            Err(TransactionOutcome::Failed(e)) => Err(e),
        }
    }

    async fn log_file_counted(&self, file: &str) -> Result<bool, StorageError> {
        let key = ItemKey::log_file(file);
        Ok(self.get(&key.pk, &key.sk).await?.is_some())
    }

    async fn mark_log_file_counted(
        &self,
        file: &str,
        at: Timestamp,
        retention: Retention,
    ) -> Result<(), StorageError> {
        let key = ItemKey::log_file(file);
        let item: Item = HashMap::from([
            (PK.to_owned(), s(key.pk)),
            (SK.to_owned(), s(key.sk)),
            ("counted_at".to_owned(), s(at.to_string())),
            (
                TTL_ATTRIBUTE.to_owned(),
                ttl_of(retention.expiry_of(at.day())),
            ),
        ]);
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(storage_error)?;
        Ok(())
    }

    async fn downloads_since(
        &self,
        slug: &Slug,
        version: &PluginVersion,
        since: Date,
    ) -> Result<u64, StorageError> {
        let items = self
            .query_prefix(
                &plugin_partition(slug),
                &downloads_prefix(version),
                &[SK, COUNT],
            )
            .await?;
        let mut total = 0;
        for item in &items {
            let sk = get_s(item, SK)?;
            let (_, day, _) = daily_downloads_of(sk).ok_or_else(|| corrupt_key(sk))?;
            if day >= since {
                total += get_n(item, COUNT)?;
            }
        }
        Ok(total)
    }

    async fn daily_downloads(
        &self,
        slug: &Slug,
        since: Date,
    ) -> Result<Vec<(Date, u64)>, StorageError> {
        let mut days: BTreeMap<Date, u64> = BTreeMap::new();
        for count in self.daily_counters_of(slug).await? {
            if count.key.day >= since {
                *days.entry(count.key.day).or_default() += count.count;
            }
        }
        Ok(days.into_iter().collect())
    }

    async fn download_counts(
        &self,
        slug: &Slug,
        from: Date,
        to: Date,
    ) -> Result<Vec<DownloadCount>, StorageError> {
        let mut counts: Vec<DownloadCount> = self
            .daily_counters_of(slug)
            .await?
            .into_iter()
            .filter(|c| (from..=to).contains(&c.key.day))
            .collect();
        counts.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(counts)
    }

    async fn monthly_download_counts(
        &self,
        slug: &Slug,
        from: YearMonth,
        to: YearMonth,
    ) -> Result<Vec<MonthlyDownloadCount>, StorageError> {
        let items = self
            .query_prefix(
                &plugin_partition(slug),
                MONTHLY_DOWNLOADS_PREFIX,
                &[SK, COUNT],
            )
            .await?;
        let mut totals = Vec::new();
        for item in &items {
            let sk = get_s(item, SK)?;
            let (version, month, client) =
                monthly_downloads_of(sk).ok_or_else(|| corrupt_key(sk))?;
            if (from..=to).contains(&month) {
                totals.push(MonthlyDownloadCount {
                    slug: slug.clone(),
                    version,
                    month,
                    client,
                    count: get_n(item, COUNT)?,
                });
            }
        }
        totals.sort_by(|a, b| {
            (&a.version, a.month, &a.client).cmp(&(&b.version, b.month, &b.client))
        });
        Ok(totals)
    }

    async fn roll_up_downloads(
        &self,
        today: Date,
        // Daily counters carry their own expiry (the table's TTL).
        _retention: Retention,
    ) -> Result<Vec<Slug>, StorageError> {
        let sealed = self.sealed_months().await?;
        type MonthKey = (String, PluginVersion, YearMonth, DownloadClient);
        let mut open_months: BTreeMap<MonthKey, u64> = BTreeMap::new();
        // Open months' totals as the last roll-up wrote them: unchanged ones are not
        // written again.
        let mut written: HashMap<MonthKey, u64> = HashMap::new();
        let mut totals: HashMap<String, u64> = HashMap::new();
        let mut usage = RegistryUsageTally::new(today);
        for item in self.scan_usage_items().await? {
            let (pk, sk, count) = match item {
                UsageItem::Downloads(pk, sk, count) => (pk, sk, count),
                UsageItem::Plugin(day) => {
                    usage.add_new_plugin(day);
                    continue;
                }
                UsageItem::Version(day) => {
                    usage.add_publish(day);
                    continue;
                }
            };
            if let Some((version, day, client)) = daily_downloads_of(&sk) {
                usage.add_downloads(&slug_of(&pk)?.to_string(), day, count);
                let month = YearMonth::of(day);
                if !sealed.contains(&month) {
                    *open_months.entry((pk, version, month, client)).or_default() += count;
                }
            } else if let Some((version, month, client)) = monthly_downloads_of(&sk) {
                // Open months' totals are summed again from their days below.
                if sealed.contains(&month) {
                    *totals.entry(pk).or_default() += count;
                } else {
                    written.insert((pk, version, month, client), count);
                }
            } else {
                return Err(corrupt_key(&sk));
            }
        }
        let mut newly_sealed = BTreeSet::new();
        for (open, count) in &open_months {
            let (pk, version, month, client) = open;
            *totals.entry(pk.clone()).or_default() += count;
            if month_is_sealed(*month, today) {
                newly_sealed.insert(month.key());
            }
            if written.get(open) == Some(count) {
                continue;
            }
            let key = ItemKey::monthly_downloads(&slug_of(pk)?, version, *month, client);
            self.client
                .put_item()
                .table_name(&self.table)
                .item(PK, s(key.pk))
                .item(SK, s(key.sk))
                .item(COUNT, n(*count))
                .send()
                .await
                .map_err(storage_error)?;
        }
        if !newly_sealed.is_empty() {
            let key = ItemKey::sealed_download_months();
            self.update_item_at(&key.pk, &key.sk)
                .update_expression("ADD #months :months")
                .expression_attribute_names("#months", "months")
                .expression_attribute_values(
                    ":months",
                    AttributeValue::Ss(newly_sealed.into_iter().collect()),
                )
                .send()
                .await
                .map_err(storage_error)?;
        }
        let mut changed = Vec::new();
        for (pk, total) in totals {
            let result = self
                .update_item_at(&pk, META)
                .update_expression("SET #downloads = :total")
                .condition_expression("attribute_exists(#pk) AND #downloads <> :total")
                .expression_attribute_names("#downloads", "downloads")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_values(":total", n(total))
                .send()
                .await;
            match result {
                Ok(_) => changed.push(slug_of(&pk)?),
                // Unchanged total (or a plugin gone since): nothing to write.
                Err(e) if is_condition_failure(&e) => {}
                Err(e) => return Err(storage_error(e)),
            }
        }
        let key = ItemKey::registry_usage();
        self.client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(key.pk))
            .item(SK, s(key.sk))
            .item(USAGE, s(super::to_json(&usage.finish())?))
            .send()
            .await
            .map_err(storage_error)?;
        if !changed.is_empty() {
            self.bump_catalog_revision().await?;
        }
        changed.sort();
        Ok(changed)
    }

    async fn registry_usage(&self, _today: Date) -> Result<Option<RegistryUsage>, StorageError> {
        let key = ItemKey::registry_usage();
        self.get(&key.pk, &key.sk)
            .await?
            .map(|item| super::from_json("registry usage", get_s(&item, USAGE)?))
            .transpose()
    }
}
