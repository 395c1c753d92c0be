//! The catalog port in PostgreSQL: plugins and versions (download counters are
//! in `downloads.rs`).

use std::collections::HashMap;

use async_trait::async_trait;
use tokio_postgres::{Row, Transaction};

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
use crate::webhooks::insert_delivery_rows;
use crate::{PostgresStore, backend, corrupt, from_json, signed, to_json, unsigned};

/// The columns [`plugin_of_row`] reads, in its order.
const PLUGIN_COLUMNS: &str = "slug, owner, created_at, updated_at, downloads, revision, latest, healthy_instances, quarantine";

/// What `plugin` reads of each version record: the record without its manifest and
/// artifacts, cut down by PostgreSQL, so a plugin's summaries cost a few hundred
/// bytes a version however large its manifests are.
const SUMMARY_OF_RECORD: &str =
    "(record::jsonb - 'manifest' - 'schema' - 'bundle' - 'published_by')::text";

/// The `review` column of a version's row: its review state's name, `NULL` once
/// approved, so the pending ones are one indexed lookup.
fn review_column(record: &VersionRecord) -> Option<&'static str> {
    record.review.as_ref().map(ReviewState::as_str)
}

async fn insert_version_row(
    tx: &Transaction<'_>,
    slug: &Slug,
    record: &VersionRecord,
) -> Result<(), StorageError> {
    let inserted = tx
        .execute(
            "INSERT INTO versions (slug, version, sort_key, record, review) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT DO NOTHING",
            &[
                &slug.as_str(),
                &record.version.to_string(),
                &record.version.sort_key(),
                &to_json(record)?,
                &review_column(record),
            ],
        )
        .await
        .map_err(backend)?;
    if inserted == 0 {
        return Err(StorageError::Conflict(Conflict::VersionExists));
    }
    Ok(())
}

fn plugin_of_row(row: &Row, versions: Vec<VersionSummary>) -> Result<PluginRecord, StorageError> {
    Ok(head_of_row(row)?.with_versions(versions))
}

fn head_of_row(row: &Row) -> Result<PluginHead, StorageError> {
    let slug: &str = row.get(0);
    let latest: Option<&str> = row.get(6);
    let quarantine: Option<&str> = row.get(8);
    Ok(PluginHead {
        slug: Slug::parse(slug).map_err(|e| corrupt("slug", e))?,
        owner: PrincipalId::from_stored(row.get::<_, String>(1)),
        created_at: timestamp_from_stored("created_at", row.get(2))?,
        updated_at: timestamp_from_stored("updated_at", row.get(3))?,
        downloads: unsigned(row.get(4)),
        revision: unsigned(row.get(5)),
        healthy_instances: unsigned(row.get(7)),
        latest: latest
            .map(|raw| from_json("latest summary", raw))
            .transpose()?,
        quarantined: quarantine
            .map(|raw| from_json("quarantine", raw))
            .transpose()?,
    })
}

fn listing_of_row(row: &Row) -> Result<PluginListing, StorageError> {
    let latest: Option<&str> = row.get(6);
    Ok(PluginListing {
        slug: Slug::parse(row.get::<_, &str>(0)).map_err(|e| corrupt("slug", e))?,
        created_at: timestamp_from_stored("created_at", row.get(2))?,
        updated_at: timestamp_from_stored("updated_at", row.get(3))?,
        downloads: unsigned(row.get(4)),
        latest: latest
            .map(|raw| from_json("latest summary", raw))
            .transpose()?,
    })
}

fn records_of(rows: &[Row], column: usize) -> Result<Vec<VersionRecord>, StorageError> {
    rows.iter()
        .map(|row| from_json("version record", row.get(column)))
        .collect()
}

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
async fn bump_plugin_row(
    tx: &Transaction<'_>,
    slug: &str,
    expected: u64,
    at: Timestamp,
    column: PluginColumn,
    value: Option<&str>,
) -> Result<(), StorageError> {
    // Column names come from this enum alone, never from a caller's text.
    let sql = match column {
        PluginColumn::Latest => {
            "UPDATE plugins SET revision = revision + 1, updated_at = $3, latest = $4
             WHERE slug = $1 AND revision = $2"
        }
        PluginColumn::Quarantine => {
            "UPDATE plugins SET revision = revision + 1, updated_at = $3, quarantine = $4
             WHERE slug = $1 AND revision = $2"
        }
    };
    let updated = tx
        .execute(sql, &[&slug, &signed(expected), &at.to_string(), &value])
        .await
        .map_err(backend)?;
    if updated == 0 {
        return Err(StorageError::Conflict(Conflict::RevisionChanged));
    }
    Ok(())
}

impl PostgresStore {
    /// A plugin's row and its versions' rows (`column` of each record, such as
    /// [`SUMMARY_OF_RECORD`]), read from one snapshot.
    async fn plugin_row_and_records(
        &self,
        slug: &Slug,
        column: &'static str,
    ) -> Result<Option<(Row, Vec<Row>)>, StorageError> {
        self.read((slug.as_str(), column), |tx, (slug, column)| {
            Box::pin(async move {
                let Some(row) = tx
                    .query_opt(
                        &format!("SELECT {PLUGIN_COLUMNS} FROM plugins WHERE slug = $1"),
                        &[slug],
                    )
                    .await
                    .map_err(backend)?
                else {
                    return Ok(None);
                };
                let records = tx
                    .query(
                        &format!("SELECT {column} FROM versions WHERE slug = $1"),
                        &[slug],
                    )
                    .await
                    .map_err(backend)?;
                Ok(Some((row, records)))
            })
        })
        .await
    }
}

#[async_trait]
impl CatalogStore for PostgresStore {
    async fn plugin(&self, slug: &Slug) -> Result<Option<PluginRecord>, StorageError> {
        let Some((row, records)) = self.plugin_row_and_records(slug, SUMMARY_OF_RECORD).await?
        else {
            return Ok(None);
        };
        let summaries = records
            .iter()
            .map(|r| from_json::<VersionSummary>("version record", r.get(0)))
            .collect::<Result<Vec<_>, _>>()?;
        plugin_of_row(&row, summaries).map(Some)
    }

    async fn plugin_head(&self, slug: &Slug) -> Result<Option<PluginHead>, StorageError> {
        let client = self.client().await?;
        client
            .query_opt(
                &format!("SELECT {PLUGIN_COLUMNS} FROM plugins WHERE slug = $1"),
                &[&slug.as_str()],
            )
            .await
            .map_err(backend)?
            .as_ref()
            .map(head_of_row)
            .transpose()
    }

    async fn highest_live_version(
        &self,
        slug: &Slug,
    ) -> Result<Option<PluginVersion>, StorageError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT version FROM versions
                 WHERE slug = $1 AND (record::jsonb ->> 'unpublished_at') IS NULL
                 ORDER BY sort_key DESC LIMIT 1",
                &[&slug.as_str()],
            )
            .await
            .map_err(backend)?;
        row.map(|r| PluginVersion::parse(r.get::<_, &str>(0)).map_err(|e| corrupt("version", e)))
            .transpose()
    }

    async fn plugin_with_versions(
        &self,
        slug: &Slug,
    ) -> Result<Option<(PluginRecord, Vec<VersionRecord>)>, StorageError> {
        let Some((row, records)) = self.plugin_row_and_records(slug, "record").await? else {
            return Ok(None);
        };
        let records = records_of(&records, 0)?;
        let plugin = plugin_of_row(&row, records.iter().map(VersionSummary::of).collect())?;
        Ok(Some((plugin, records)))
    }

    async fn version_records_page(
        &self,
        slug: &Slug,
        after: Option<&PluginVersion>,
        limit: usize,
    ) -> Result<Vec<VersionRecord>, StorageError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT record FROM versions WHERE slug = $1 AND version > $2
                 ORDER BY version LIMIT $3",
                &[
                    &slug.as_str(),
                    &after.map(ToString::to_string).unwrap_or_default(),
                    &signed(limit as u64),
                ],
            )
            .await
            .map_err(backend)?;
        records_of(&rows, 0)
    }

    async fn plugins_with_versions_page(
        &self,
        after: Option<&Slug>,
        limit: usize,
    ) -> Result<Vec<(PluginRecord, Vec<VersionRecord>)>, StorageError> {
        let after = after.map(|s| s.as_str().to_owned()).unwrap_or_default();
        let (rows, records) = self
            .read((after, signed(limit as u64)), |tx, (after, limit)| {
                Box::pin(async move {
                    let rows = tx
                        .query(
                            &format!(
                                "SELECT {PLUGIN_COLUMNS} FROM plugins
                                 WHERE slug > $1 ORDER BY slug LIMIT $2"
                            ),
                            &[after, limit],
                        )
                        .await
                        .map_err(backend)?;
                    let Some(last) = rows.last().map(|row| row.get::<_, String>(0)) else {
                        return Ok((rows, Vec::new()));
                    };
                    let records = tx
                        .query(
                            "SELECT slug, record FROM versions WHERE slug > $1 AND slug <= $2",
                            &[after, &last],
                        )
                        .await
                        .map_err(backend)?;
                    Ok((rows, records))
                })
            })
            .await?;
        let mut by_slug: HashMap<String, Vec<VersionRecord>> = HashMap::new();
        for row in &records {
            by_slug
                .entry(row.get(0))
                .or_default()
                .push(from_json("version record", row.get(1))?);
        }
        rows.iter()
            .map(|row| {
                let own = by_slug.remove(row.get::<_, &str>(0)).unwrap_or_default();
                let plugin = plugin_of_row(row, own.iter().map(VersionSummary::of).collect())?;
                Ok((plugin, own))
            })
            .collect()
    }

    async fn version(
        &self,
        slug: &Slug,
        version: &PluginVersion,
    ) -> Result<Option<VersionRecord>, StorageError> {
        let client = self.client().await?;
        client
            .query_opt(
                "SELECT record FROM versions WHERE slug = $1 AND version = $2",
                &[&slug.as_str(), &version.to_string()],
            )
            .await
            .map_err(backend)?
            .map(|row| from_json("version record", row.get(0)))
            .transpose()
    }

    async fn slug_with_skeleton(&self, skeleton: &str) -> Result<Option<Slug>, StorageError> {
        let client = self.client().await?;
        client
            .query_opt(
                "SELECT slug FROM slug_skeletons WHERE skeleton = $1",
                &[&skeleton],
            )
            .await
            .map_err(backend)?
            .map(|row| registry_core::store::codec::slug_from_stored(row.get(0)))
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
        let latest = latest.map(to_json).transpose()?;
        self.write(
            (slug, owner, first, latest, told),
            |tx, (slug, owner, first, latest, told)| {
                Box::pin(async move {
                    let at = first.published_at.to_string();
                    let inserted = tx
                        .execute(
                            "INSERT INTO plugins (slug, owner, created_at, updated_at, downloads, revision, latest)
                             VALUES ($1, $2, $3, $3, 0, 1, $4) ON CONFLICT DO NOTHING",
                            &[&slug.as_str(), &owner.as_str(), &at, latest],
                        )
                        .await
                        .map_err(backend)?;
                    if inserted == 0 {
                        return Err(StorageError::Conflict(Conflict::PluginExists));
                    }
                    let claimed = tx
                        .execute(
                            "INSERT INTO slug_skeletons (skeleton, slug) VALUES ($1, $2)
                             ON CONFLICT DO NOTHING",
                            &[&slug.skeleton(), &slug.as_str()],
                        )
                        .await
                        .map_err(backend)?;
                    if claimed == 0 {
                        // The transaction is rolled back: the plugin row goes too.
                        return Err(StorageError::Conflict(Conflict::Confusable));
                    }
                    insert_version_row(tx, slug, first).await?;
                    record_change(tx, slug.as_str(), &ChangeScope::Plugin).await?;
                    insert_delivery_rows(tx, told).await
                })
            },
        )
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
        let latest = latest.map(to_json).transpose()?;
        self.write(
            (slug, expected_revision, record, latest, told),
            |tx, (slug, expected, record, latest, told)| {
                Box::pin(async move {
                    bump_plugin_row(
                        tx,
                        slug.as_str(),
                        *expected,
                        record.published_at,
                        PluginColumn::Latest,
                        latest.as_deref(),
                    )
                    .await?;
                    insert_version_row(tx, slug, record).await?;
                    record_change(
                        tx,
                        slug.as_str(),
                        &ChangeScope::Version(record.version.clone()),
                    )
                    .await?;
                    insert_delivery_rows(tx, told).await
                })
            },
        )
        .await
    }

    async fn versions_pending_review(
        &self,
        limit: usize,
    ) -> Result<Vec<VersionRecord>, StorageError> {
        let client = self.client().await?;
        client
            .query(
                "SELECT record FROM versions WHERE review = 'pending'
                 ORDER BY record::jsonb -> 'review' ->> 'submitted_at', slug, sort_key LIMIT $1",
                &[&i64::try_from(limit).unwrap_or(i64::MAX)],
            )
            .await
            .map_err(backend)?
            .iter()
            .map(|row| from_json("version record", row.get(0)))
            .collect()
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
        let latest = latest.map(to_json).transpose()?;
        self.write(
            (
                slug,
                expected_revision,
                version.to_string(),
                change,
                latest,
                at,
                told,
            ),
            |tx, (slug, expected, version, change, latest, at, told)| {
                Box::pin(async move {
                    bump_plugin_row(
                        tx,
                        slug.as_str(),
                        *expected,
                        *at,
                        PluginColumn::Latest,
                        latest.as_deref(),
                    )
                    .await?;
                    let Some(row) = tx
                        .query_opt(
                            "SELECT record FROM versions WHERE slug = $1 AND version = $2",
                            &[&slug.as_str(), version],
                        )
                        .await
                        .map_err(backend)?
                    else {
                        return Err(StorageError::Conflict(Conflict::Missing));
                    };
                    let mut record: VersionRecord = from_json("version record", row.get(0))?;
                    change.apply(record.lifecycle());
                    tx.execute(
                        "UPDATE versions SET record = $3, review = $4 WHERE slug = $1 AND version = $2",
                        &[&slug.as_str(), version, &to_json(&record)?, &review_column(&record)],
                    )
                    .await
                    .map_err(backend)?;
                    record_change(
                        tx,
                        slug.as_str(),
                        &ChangeScope::Version(record.version.clone()),
                    )
                    .await?;
                    insert_delivery_rows(tx, told).await
                })
            },
        )
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
        self.write(
            (slug, expected_revision, quarantine, at),
            |tx, (slug, expected, quarantine, at)| {
                Box::pin(async move {
                    bump_plugin_row(
                        tx,
                        slug.as_str(),
                        *expected,
                        *at,
                        PluginColumn::Quarantine,
                        quarantine.as_deref(),
                    )
                    .await?;
                    record_change(tx, slug.as_str(), &ChangeScope::Plugin).await
                })
            },
        )
        .await
    }

    async fn catalog_revision(&self) -> Result<u64, StorageError> {
        let client = self.client().await?;
        let value: i64 = client
            .query_one(
                "SELECT value FROM meta WHERE name = 'catalog_revision'",
                &[],
            )
            .await
            .map_err(backend)?
            .get(0);
        Ok(unsigned(value))
    }

    async fn list_plugins(
        &self,
        after: Option<&Slug>,
        limit: usize,
    ) -> Result<Vec<PluginListing>, StorageError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {PLUGIN_COLUMNS} FROM plugins WHERE slug > $1 ORDER BY slug LIMIT $2"
                ),
                &[
                    &after.map(|s| s.as_str().to_owned()).unwrap_or_default(),
                    &signed(limit as u64),
                ],
            )
            .await
            .map_err(backend)?;
        rows.iter().map(listing_of_row).collect()
    }
}
