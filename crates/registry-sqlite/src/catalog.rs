//! The catalog port in SQLite: plugins and versions (download counters are in
//! `downloads.rs`).

use std::collections::HashMap;

use async_trait::async_trait;
use rusqlite::{OptionalExtension, TransactionBehavior, params};

use registry_core::auth::PrincipalId;
use registry_core::moderation::Quarantine;
use registry_core::review::ReviewState;
use registry_core::slug::Slug;
use registry_core::store::codec::timestamp_from_stored;
use registry_core::store::{
    CatalogStore, ChangeScope, Conflict, LatestSummary, PluginHead, PluginListing, PluginRecord,
    StorageError, VersionChange, VersionRecord, VersionSummary,
};
use registry_core::timestamp::Timestamp;
use registry_core::version::PluginVersion;
use registry_core::webhook::Delivery;

use crate::journal::record_change;
use crate::webhooks::{delivery_rows, insert_delivery_rows};
use crate::{SqliteStore, backend, corrupt, from_json, to_json};

/// The `review` column of a version's row: its review state's name, `NULL` once
/// approved, so the pending ones are one indexed lookup.
fn review_column(record: &VersionRecord) -> Option<&'static str> {
    record.review.as_ref().map(ReviewState::as_str)
}

fn insert_version_row(
    tx: &rusqlite::Transaction<'_>,
    slug: &Slug,
    record: &VersionRecord,
) -> Result<(), StorageError> {
    let inserted = tx
        .execute(
            "INSERT OR IGNORE INTO versions (slug, version, sort_key, record, review) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![slug.as_str(), record.version.to_string(), record.version.sort_key(), to_json(record)?, review_column(record)],
        )
        .map_err(backend)?;
    if inserted == 0 {
        return Err(StorageError::Conflict(Conflict::VersionExists));
    }
    Ok(())
}

/// One row of `plugins`, as read (columns in [`PLUGIN_COLUMNS`] order).
struct PluginRow {
    slug: String,
    owner: String,
    created_at: String,
    updated_at: String,
    downloads: i64,
    revision: i64,
    latest: Option<String>,
    healthy_instances: i64,
    quarantine: Option<String>,
}

/// The columns [`plugin_row`] reads, in its order.
const PLUGIN_COLUMNS: &str = "slug, owner, created_at, updated_at, downloads, revision, latest, healthy_instances, quarantine";

/// A plugin row and its raw version records, parsed.
fn plugin_with_records(
    row: PluginRow,
    raw_records: &[String],
) -> Result<(PluginRecord, Vec<VersionRecord>), StorageError> {
    let records = raw_records
        .iter()
        .map(|raw| from_json::<VersionRecord>("version record", raw))
        .collect::<Result<Vec<_>, _>>()?;
    let plugin = plugin_of_row(row, records.iter().map(VersionSummary::of).collect())?;
    Ok((plugin, records))
}

/// A plugin row and its versions' summaries (see [`SUMMARY_OF_RECORD`]): what a
/// publish checks.
fn plugin_with_summaries(
    row: PluginRow,
    raw_records: &[String],
) -> Result<PluginRecord, StorageError> {
    let summaries = raw_records
        .iter()
        .map(|raw| from_json::<VersionSummary>("version record", raw))
        .collect::<Result<Vec<_>, _>>()?;
    plugin_of_row(row, summaries)
}

fn plugin_of_row(
    row: PluginRow,
    versions: Vec<VersionSummary>,
) -> Result<PluginRecord, StorageError> {
    Ok(head_of_row(row)?.with_versions(versions))
}

fn head_of_row(row: PluginRow) -> Result<PluginHead, StorageError> {
    let PluginRow {
        slug,
        owner,
        created_at,
        updated_at,
        downloads,
        revision,
        latest,
        healthy_instances,
        quarantine,
    } = row;
    Ok(PluginHead {
        slug: Slug::parse(&slug).map_err(|e| corrupt("slug", e))?,
        owner: PrincipalId::from_stored(owner),
        created_at: timestamp_from_stored("created_at", &created_at)?,
        updated_at: timestamp_from_stored("updated_at", &updated_at)?,
        downloads: u64::try_from(downloads).unwrap_or(0),
        healthy_instances: u64::try_from(healthy_instances).unwrap_or(0),
        revision: u64::try_from(revision).unwrap_or(0),
        latest: latest
            .map(|raw| from_json("latest summary", &raw))
            .transpose()?,
        quarantined: quarantine
            .map(|raw| from_json("quarantine", &raw))
            .transpose()?,
    })
}

fn plugin_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<PluginRow> {
    Ok(PluginRow {
        slug: row.get(0)?,
        owner: row.get(1)?,
        created_at: row.get(2)?,
        updated_at: row.get(3)?,
        downloads: row.get(4)?,
        revision: row.get(5)?,
        latest: row.get(6)?,
        healthy_instances: row.get(7)?,
        quarantine: row.get(8)?,
    })
}

/// What `plugin` reads of each version record: the record without its manifest and
/// artifacts, cut down by SQLite, so a plugin's summaries cost a few hundred bytes
/// a version however large its manifests are.
const SUMMARY_OF_RECORD: &str =
    "json_remove(record, '$.manifest', '$.schema', '$.bundle', '$.published_by')";

/// The column of a plugin's row that a change sets, beside its revision and
/// `updated_at`.
#[derive(Debug, Clone, Copy)]
enum PluginColumn {
    /// The latest-version summary.
    Latest,
    /// The plugin's quarantine.
    Quarantine,
}

/// Moves `slug`'s row from revision `expected` to the next, stamped `at`, with
/// `column` set to `value`; [`Conflict::RevisionChanged`] if it is not at
/// `expected`, and nothing is written.
fn bump_plugin_row(
    tx: &rusqlite::Transaction<'_>,
    slug: &str,
    expected: u64,
    at: Timestamp,
    column: PluginColumn,
    value: Option<String>,
) -> Result<(), StorageError> {
    // Column names come from this enum alone, never from a caller's text.
    let sql = match column {
        PluginColumn::Latest => {
            "UPDATE plugins SET revision = revision + 1, updated_at = ?3, latest = ?4
             WHERE slug = ?1 AND revision = ?2"
        }
        PluginColumn::Quarantine => {
            "UPDATE plugins SET revision = revision + 1, updated_at = ?3, quarantine = ?4
             WHERE slug = ?1 AND revision = ?2"
        }
    };
    let updated = tx
        .execute(sql, params![slug, expected as i64, at.to_string(), value])
        .map_err(backend)?;
    if updated == 0 {
        return Err(StorageError::Conflict(Conflict::RevisionChanged));
    }
    Ok(())
}

impl SqliteStore {
    /// A plugin's row and its versions' raw records (`column` of each, such as
    /// [`SUMMARY_OF_RECORD`]), read in one trip.
    async fn plugin_row_and_records(
        &self,
        slug: &Slug,
        column: &'static str,
    ) -> Result<Option<(PluginRow, Vec<String>)>, StorageError> {
        let slug = slug.clone();

        self.with_conn(move |conn| {
            let row = conn
                .query_row(
                    &format!("SELECT {PLUGIN_COLUMNS} FROM plugins WHERE slug = ?1"),
                    [slug.as_str()],
                    plugin_row,
                )
                .optional()
                .map_err(backend)?;
            let Some(row) = row else {
                return Ok(None);
            };
            let mut stmt = conn
                .prepare_cached(&format!("SELECT {column} FROM versions WHERE slug = ?1"))
                .map_err(backend)?;
            let records = stmt
                .query_map([slug.as_str()], |r| r.get::<_, String>(0))
                .map_err(backend)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(backend)?;
            Ok(Some((row, records)))
        })
        .await
    }
}

#[async_trait]
impl CatalogStore for SqliteStore {
    async fn plugin(&self, slug: &Slug) -> Result<Option<PluginRecord>, StorageError> {
        self.plugin_row_and_records(slug, SUMMARY_OF_RECORD)
            .await?
            .map(|(row, records)| plugin_with_summaries(row, &records))
            .transpose()
    }

    async fn plugin_head(&self, slug: &Slug) -> Result<Option<PluginHead>, StorageError> {
        let slug = slug.clone();
        self.with_conn(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {PLUGIN_COLUMNS} FROM plugins WHERE slug = ?1"
            ))
            .map_err(backend)?
            .query_row([slug.as_str()], plugin_row)
            .optional()
            .map_err(backend)
        })
        .await?
        .map(head_of_row)
        .transpose()
    }

    async fn highest_live_version(
        &self,
        slug: &Slug,
    ) -> Result<Option<PluginVersion>, StorageError> {
        let slug = slug.clone();
        let version: Option<String> = self
            .with_conn(move |conn| {
                conn.prepare_cached(
                    "SELECT version FROM versions
                     WHERE slug = ?1 AND json_extract(record, '$.unpublished_at') IS NULL
                     ORDER BY sort_key DESC LIMIT 1",
                )
                .map_err(backend)?
                .query_row([slug.as_str()], |r| r.get(0))
                .optional()
                .map_err(backend)
            })
            .await?;
        version
            .map(|v| PluginVersion::parse(&v).map_err(|e| corrupt("version", e)))
            .transpose()
    }

    async fn plugin_with_versions(
        &self,
        slug: &Slug,
    ) -> Result<Option<(PluginRecord, Vec<VersionRecord>)>, StorageError> {
        self.plugin_row_and_records(slug, "record")
            .await?
            .map(|(row, records)| plugin_with_records(row, &records))
            .transpose()
    }

    async fn version_records_page(
        &self,
        slug: &Slug,
        after: Option<&PluginVersion>,
        limit: usize,
    ) -> Result<Vec<VersionRecord>, StorageError> {
        let (slug, after) = (slug.clone(), after.map(ToString::to_string));
        let raw = self
            .with_conn(move |conn| {
                conn.prepare_cached(
                    "SELECT record FROM versions WHERE slug = ?1 AND version > ?2
                     ORDER BY version LIMIT ?3",
                )
                .map_err(backend)?
                .query_map(
                    params![
                        slug.as_str(),
                        after.unwrap_or_default(),
                        i64::try_from(limit).unwrap_or(i64::MAX)
                    ],
                    |r| r.get::<_, String>(0),
                )
                .map_err(backend)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(backend)
            })
            .await?;
        raw.iter()
            .map(|raw| from_json("version record", raw))
            .collect()
    }

    async fn plugins_with_versions_page(
        &self,
        after: Option<&Slug>,
        limit: usize,
    ) -> Result<Vec<(PluginRecord, Vec<VersionRecord>)>, StorageError> {
        let after = after.map(|s| s.as_str().to_owned()).unwrap_or_default();
        // Both queries in one trip; the JSON is parsed after the connection is
        // released, so parsing one page overlaps reading the next.
        let (rows, mut records) = self
            .with_conn(move |conn| {
                let rows = conn
                    .prepare_cached(&format!(
                        "SELECT {PLUGIN_COLUMNS} FROM plugins
                         WHERE slug > ?1 ORDER BY slug LIMIT ?2"
                    ))
                    .map_err(backend)?
                    .query_map(params![after, limit as i64], plugin_row)
                    .map_err(backend)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(backend)?;
                let Some(last) = rows.last().map(|row| row.slug.clone()) else {
                    return Ok((rows, HashMap::new()));
                };
                let mut records: HashMap<String, Vec<String>> = HashMap::new();
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT slug, record FROM versions WHERE slug > ?1 AND slug <= ?2",
                    )
                    .map_err(backend)?;
                let found = stmt
                    .query_map(params![after, last], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                    })
                    .map_err(backend)?;
                for row in found {
                    let (slug, record) = row.map_err(backend)?;
                    records.entry(slug).or_default().push(record);
                }
                Ok((rows, records))
            })
            .await?;
        rows.into_iter()
            .map(|row| {
                let own = records.remove(&row.slug).unwrap_or_default();
                plugin_with_records(row, &own)
            })
            .collect()
    }

    async fn version(
        &self,
        slug: &Slug,
        version: &PluginVersion,
    ) -> Result<Option<VersionRecord>, StorageError> {
        let (slug, version) = (slug.clone(), version.to_string());
        self.with_conn(move |conn| {
            conn.query_row(
                "SELECT record FROM versions WHERE slug = ?1 AND version = ?2",
                params![slug.as_str(), version],
                |r| r.get::<_, String>(0),
            )
            .optional()
            .map_err(backend)?
            .map(|raw| from_json("version record", &raw))
            .transpose()
        })
        .await
    }

    async fn slug_with_skeleton(&self, skeleton: &str) -> Result<Option<Slug>, StorageError> {
        let skeleton = skeleton.to_owned();
        self.with_conn(move |conn| {
            conn.query_row(
                "SELECT slug FROM slug_skeletons WHERE skeleton = ?1",
                [skeleton],
                |r| r.get::<_, String>(0),
            )
            .optional()
            .map_err(backend)?
            .map(|raw| registry_core::store::codec::slug_from_stored(&raw))
            .transpose()
        })
        .await
    }

    async fn create_plugin(
        &self,
        slug: &Slug,
        owner: &PrincipalId,
        first: &VersionRecord,
        latest: Option<&LatestSummary>,
        told: &[Delivery],
    ) -> Result<(), StorageError> {
        let (slug, owner, first, latest_json) = (
            slug.clone(),
            owner.clone(),
            first.clone(),
            latest.map(to_json).transpose()?,
        );
        let told = delivery_rows(told)?;
        self.with_conn(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
            let at = first.published_at.to_string();
            let inserted = tx
                .execute(
                    "INSERT OR IGNORE INTO plugins (slug, owner, created_at, updated_at, downloads, revision, latest)
                     VALUES (?1, ?2, ?3, ?3, 0, 1, ?4)",
                    params![slug.as_str(), owner.as_str(), at, latest_json],
                )
                .map_err(backend)?;
            if inserted == 0 {
                return Err(StorageError::Conflict(Conflict::PluginExists));
            }
            let claimed = tx
                .execute(
                    "INSERT OR IGNORE INTO slug_skeletons (skeleton, slug) VALUES (?1, ?2)",
                    params![slug.skeleton(), slug.as_str()],
                )
                .map_err(backend)?;
            if claimed == 0 {
                // Dropping the transaction takes the plugin row back out.
                return Err(StorageError::Conflict(Conflict::Confusable));
            }
            insert_version_row(&tx, &slug, &first)?;
            record_change(&tx, slug.as_str(), &ChangeScope::Plugin)?;
            insert_delivery_rows(&tx, &told)?;
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn add_version(
        &self,
        slug: &Slug,
        expected_revision: u64,
        record: &VersionRecord,
        latest: Option<&LatestSummary>,
        told: &[Delivery],
    ) -> Result<(), StorageError> {
        let (slug, record, latest_json) = (
            slug.clone(),
            record.clone(),
            latest.map(to_json).transpose()?,
        );
        let told = delivery_rows(told)?;
        self.with_conn(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend)?;
            bump_plugin_row(
                &tx,
                slug.as_str(),
                expected_revision,
                record.published_at,
                PluginColumn::Latest,
                latest_json,
            )?;
            insert_version_row(&tx, &slug, &record)?;
            record_change(
                &tx,
                slug.as_str(),
                &ChangeScope::Version(record.version.clone()),
            )?;
            insert_delivery_rows(&tx, &told)?;
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn versions_pending_review(
        &self,
        limit: usize,
    ) -> Result<Vec<VersionRecord>, StorageError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with_conn(move |conn| {
            let raw: Vec<String> = crate::orgs::select_all(
                conn,
                "SELECT record FROM versions WHERE review = 'pending'
                 ORDER BY json_extract(record, '$.review.submitted_at'), slug, sort_key LIMIT ?1",
                params![limit],
                |r| r.get(0),
            )?;
            raw.iter()
                .map(|record| from_json("version record", record))
                .collect()
        })
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
        told: &[Delivery],
    ) -> Result<(), StorageError> {
        let latest_json = latest.map(to_json).transpose()?;
        let (slug, version, change) = (slug.clone(), version.clone(), change.clone());
        let told = delivery_rows(told)?;
        self.with_conn(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend)?;
            bump_plugin_row(
                &tx,
                slug.as_str(),
                expected_revision,
                at,
                PluginColumn::Latest,
                latest_json,
            )?;
            let raw: Option<String> = tx
                .query_row(
                    "SELECT record FROM versions WHERE slug = ?1 AND version = ?2",
                    params![slug.as_str(), version.to_string()],
                    |r| r.get(0),
                )
                .optional()
                .map_err(backend)?;
            let Some(raw) = raw else {
                return Err(StorageError::Conflict(Conflict::Missing));
            };
            let mut record: VersionRecord = from_json("version record", &raw)?;
            change.apply(record.lifecycle());
            tx.execute(
                "UPDATE versions SET record = ?3, review = ?4 WHERE slug = ?1 AND version = ?2",
                params![
                    slug.as_str(),
                    version.to_string(),
                    to_json(&record)?,
                    review_column(&record)
                ],
            )
            .map_err(backend)?;
            record_change(
                &tx,
                slug.as_str(),
                &ChangeScope::Version(record.version.clone()),
            )?;
            insert_delivery_rows(&tx, &told)?;
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn set_plugin_quarantine(
        &self,
        slug: &Slug,
        expected_revision: u64,
        quarantine: Option<&Quarantine>,
        at: Timestamp,
    ) -> Result<(), StorageError> {
        let quarantine = quarantine.map(to_json).transpose()?;
        let slug = slug.clone();
        self.with_conn(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend)?;
            bump_plugin_row(
                &tx,
                slug.as_str(),
                expected_revision,
                at,
                PluginColumn::Quarantine,
                quarantine,
            )?;
            record_change(&tx, slug.as_str(), &ChangeScope::Plugin)?;
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn catalog_revision(&self) -> Result<u64, StorageError> {
        self.with_conn(|conn| {
            let value: i64 = conn
                .prepare_cached("SELECT value FROM meta WHERE name = 'catalog_revision'")
                .and_then(|mut s| s.query_row([], |r| r.get(0)))
                .map_err(backend)?;
            Ok(u64::try_from(value).unwrap_or(0))
        })
        .await
    }

    async fn list_plugins(
        &self,
        after: Option<&Slug>,
        limit: usize,
    ) -> Result<Vec<PluginListing>, StorageError> {
        let after = after.map(|s| s.as_str().to_owned()).unwrap_or_default();
        self.with_conn(move |conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {PLUGIN_COLUMNS} FROM plugins
                     WHERE slug > ?1 ORDER BY slug LIMIT ?2"
                ))
                .map_err(backend)?;
            let rows = stmt
                .query_map(params![after, limit as i64], plugin_row)
                .map_err(backend)?;
            rows.map(|row| {
                let row = row.map_err(backend)?;
                Ok(PluginListing {
                    slug: Slug::parse(&row.slug).map_err(|e| corrupt("slug", e))?,
                    created_at: timestamp_from_stored("created_at", &row.created_at)?,
                    updated_at: timestamp_from_stored("updated_at", &row.updated_at)?,
                    downloads: u64::try_from(row.downloads).unwrap_or(0),
                    latest: row
                        .latest
                        .map(|raw| from_json("latest summary", &raw))
                        .transpose()?,
                })
            })
            .collect()
        })
        .await
    }
}
