//! The download counter port in PostgreSQL: daily counters per version and client,
//! monthly totals, and the CDN log parts and files already counted.

use async_trait::async_trait;
use time::Date;
use tokio_postgres::Row;

use registry_core::downloads::{
    DownloadClient, DownloadCount, DownloadKey, LogPart, LogPartOutcome, MonthlyDownloadCount,
    Retention, YearMonth, month_is_sealed,
};
use registry_core::slug::Slug;
use registry_core::store::{ChangeScope, DownloadCounters, StorageError};
use registry_core::timestamp::{Timestamp, parse_day};
use registry_core::usage::{RegistryUsage, RegistryUsageTally};
use registry_core::version::PluginVersion;

use crate::journal::record_change;
use crate::{PostgresStore, backend, signed, unsigned};

/// Adds `$5` to one daily counter; one statement, so atomic on its own.
const ADD_TO_DAY: &str = "INSERT INTO daily_downloads (slug, version, day, client, count)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (slug, version, day, client) DO UPDATE SET count = daily_downloads.count + EXCLUDED.count";

fn corrupt_row(what: &str, raw: &str) -> StorageError {
    StorageError::Corrupt(format!("download counter {what} {raw:?}"))
}

fn version_of(raw: &str) -> Result<PluginVersion, StorageError> {
    PluginVersion::parse(raw).map_err(|_| corrupt_row("version", raw))
}

fn client_of(raw: &str) -> Result<DownloadClient, StorageError> {
    DownloadClient::try_from(raw.to_owned()).map_err(StorageError::Corrupt)
}

/// A `(version, day, client, count)` row of `slug`'s daily counters.
fn daily_of_row(slug: &Slug, row: &Row) -> Result<DownloadCount, StorageError> {
    let day: &str = row.get(1);
    Ok(DownloadCount {
        key: DownloadKey {
            slug: slug.clone(),
            version: version_of(row.get(0))?,
            day: parse_day(day).ok_or_else(|| corrupt_row("day", day))?,
            client: client_of(row.get(2))?,
        },
        count: unsigned(row.get(3)),
    })
}

#[async_trait]
impl DownloadCounters for PostgresStore {
    async fn record_download(
        &self,
        key: &DownloadKey,
        _retention: Retention,
    ) -> Result<(), StorageError> {
        let client = self.client().await?;
        client
            .execute(
                ADD_TO_DAY,
                &[
                    &key.slug.as_str(),
                    &key.version.to_string(),
                    &key.day.to_string(),
                    &key.client.label(),
                    &1i64,
                ],
            )
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn count_log_part(
        &self,
        part: &LogPart,
        counts: &[DownloadCount],
        _retention: Retention,
    ) -> Result<LogPartOutcome, StorageError> {
        let counted_on = counts.iter().map(|c| c.key.day).max().unwrap_or(Date::MIN);
        self.write((part, counts, counted_on), |tx, (part, counts, counted_on)| {
            Box::pin(async move {
                let new = tx
                    .execute(
                        "INSERT INTO counted_log_parts (log_file, part, counted_on) VALUES ($1, $2, $3)
                         ON CONFLICT DO NOTHING",
                        &[&part.file, &i64::from(part.number), &counted_on.to_string()],
                    )
                    .await
                    .map_err(backend)?;
                if new == 0 {
                    return Ok(LogPartOutcome::AlreadyCounted);
                }
                let add = tx.prepare(ADD_TO_DAY).await.map_err(backend)?;
                for count in counts.iter() {
                    let key = &count.key;
                    tx.execute(
                        &add,
                        &[
                            &key.slug.as_str(),
                            &key.version.to_string(),
                            &key.day.to_string(),
                            &key.client.label(),
                            &signed(count.count),
                        ],
                    )
                    .await
                    .map_err(backend)?;
                }
                Ok(LogPartOutcome::Counted)
            })
        })
        .await
    }

    async fn log_file_counted(&self, file: &str) -> Result<bool, StorageError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT 1 FROM counted_log_files WHERE log_file = $1",
                &[&file],
            )
            .await
            .map_err(backend)?;
        Ok(row.is_some())
    }

    async fn mark_log_file_counted(
        &self,
        file: &str,
        at: Timestamp,
        _retention: Retention,
    ) -> Result<(), StorageError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO counted_log_files (log_file, counted_on) VALUES ($1, $2)
                 ON CONFLICT DO NOTHING",
                &[&file, &at.day().to_string()],
            )
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn downloads_since(
        &self,
        slug: &Slug,
        version: &PluginVersion,
        since: Date,
    ) -> Result<u64, StorageError> {
        let client = self.client().await?;
        let total: i64 = client
            .query_one(
                "SELECT COALESCE(SUM(count), 0)::BIGINT FROM daily_downloads
                 WHERE slug = $1 AND version = $2 AND day >= $3",
                &[&slug.as_str(), &version.to_string(), &since.to_string()],
            )
            .await
            .map_err(backend)?
            .get(0);
        Ok(unsigned(total))
    }

    async fn daily_downloads(
        &self,
        slug: &Slug,
        since: Date,
    ) -> Result<Vec<(Date, u64)>, StorageError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT day, SUM(count)::BIGINT FROM daily_downloads WHERE slug = $1 AND day >= $2
                 GROUP BY day ORDER BY day",
                &[&slug.as_str(), &since.to_string()],
            )
            .await
            .map_err(backend)?;
        rows.iter()
            .map(|row| {
                let day: &str = row.get(0);
                let day = parse_day(day).ok_or_else(|| corrupt_row("day", day))?;
                Ok((day, unsigned(row.get(1))))
            })
            .collect()
    }

    async fn download_counts(
        &self,
        slug: &Slug,
        from: Date,
        to: Date,
    ) -> Result<Vec<DownloadCount>, StorageError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT version, day, client, count FROM daily_downloads
                 WHERE slug = $1 AND day >= $2 AND day <= $3",
                &[&slug.as_str(), &from.to_string(), &to.to_string()],
            )
            .await
            .map_err(backend)?;
        let mut counts = rows
            .iter()
            .map(|row| daily_of_row(slug, row))
            .collect::<Result<Vec<_>, _>>()?;
        counts.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(counts)
    }

    async fn monthly_download_counts(
        &self,
        slug: &Slug,
        from: YearMonth,
        to: YearMonth,
    ) -> Result<Vec<MonthlyDownloadCount>, StorageError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT version, month, client, count FROM monthly_downloads
                 WHERE slug = $1 AND month >= $2 AND month <= $3",
                &[&slug.as_str(), &from.key(), &to.key()],
            )
            .await
            .map_err(backend)?;
        let mut totals = rows
            .iter()
            .map(|row| {
                let month: &str = row.get(1);
                Ok(MonthlyDownloadCount {
                    slug: slug.clone(),
                    version: version_of(row.get(0))?,
                    month: YearMonth::parse(month).ok_or_else(|| corrupt_row("month", month))?,
                    client: client_of(row.get(2))?,
                    count: unsigned(row.get(3)),
                })
            })
            .collect::<Result<Vec<_>, StorageError>>()?;
        totals.sort_by(|a, b| {
            (&a.version, a.month, &a.client).cmp(&(&b.version, b.month, &b.client))
        });
        Ok(totals)
    }

    async fn roll_up_downloads(
        &self,
        today: Date,
        retention: Retention,
    ) -> Result<Vec<Slug>, StorageError> {
        let first_kept = retention.first_kept_day(today).to_string();
        let changed: Vec<String> = self
            .write(first_kept, |tx, first_kept| {
                Box::pin(async move {
                    // Months not sealed are summed again from their days; sealed ones stay.
                    tx.batch_execute(
                        "DELETE FROM monthly_downloads
                             WHERE month NOT IN (SELECT month FROM sealed_download_months);
                         INSERT INTO monthly_downloads (slug, version, month, client, count)
                             SELECT slug, version, substr(day, 1, 7), client, SUM(count)::BIGINT
                             FROM daily_downloads
                             WHERE substr(day, 1, 7) NOT IN (SELECT month FROM sealed_download_months)
                             GROUP BY slug, version, substr(day, 1, 7), client;",
                    )
                    .await
                    .map_err(backend)?;
                    let open = tx
                        .query(
                            "SELECT DISTINCT month FROM monthly_downloads
                             WHERE month NOT IN (SELECT month FROM sealed_download_months)",
                            &[],
                        )
                        .await
                        .map_err(backend)?;
                    for row in &open {
                        let month: &str = row.get(0);
                        let parsed =
                            YearMonth::parse(month).ok_or_else(|| corrupt_row("month", month))?;
                        if month_is_sealed(parsed, today) {
                            tx.execute(
                                "INSERT INTO sealed_download_months (month) VALUES ($1)",
                                &[&month],
                            )
                            .await
                            .map_err(backend)?;
                        }
                    }
                    tx.execute(
                        "DELETE FROM daily_downloads WHERE day < $1
                         AND substr(day, 1, 7) IN (SELECT month FROM sealed_download_months)",
                        &[first_kept],
                    )
                    .await
                    .map_err(backend)?;
                    tx.execute(
                        "DELETE FROM counted_log_parts WHERE counted_on < $1",
                        &[first_kept],
                    )
                    .await
                    .map_err(backend)?;
                    tx.execute(
                        "DELETE FROM counted_log_files WHERE counted_on < $1",
                        &[first_kept],
                    )
                    .await
                    .map_err(backend)?;
                    let rows = tx
                        .query(
                            "UPDATE plugins SET downloads = totals.total
                             FROM (SELECT slug, SUM(count)::BIGINT AS total FROM monthly_downloads GROUP BY slug) AS totals
                             WHERE plugins.slug = totals.slug AND plugins.downloads != totals.total
                             RETURNING plugins.slug",
                            &[],
                        )
                        .await
                        .map_err(backend)?;
                    let changed: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
                    for slug in &changed {
                        record_change(tx, slug, &ChangeScope::Latest).await?;
                    }
                    Ok(changed)
                })
            })
            .await?;
        let mut slugs = changed
            .iter()
            .map(|raw| Slug::parse(raw).map_err(StorageError::Corrupt))
            .collect::<Result<Vec<_>, _>>()?;
        slugs.sort();
        Ok(slugs)
    }

    async fn registry_usage(&self, today: Date) -> Result<Option<RegistryUsage>, StorageError> {
        let since = RegistryUsageTally::new(today).start().to_string();
        // One snapshot, so downloads, publishes and new plugins agree.
        let (downloads, publishes, created) = self
            .read(since, |tx, since| {
                Box::pin(async move {
                    let downloads = tx
                        .query(
                            "SELECT slug, day, SUM(count)::BIGINT FROM daily_downloads
                             WHERE day >= $1 GROUP BY slug, day",
                            &[since],
                        )
                        .await
                        .map_err(backend)?;
                    // Stored times are RFC 3339 text, which sorts as time does.
                    let publishes = tx
                        .query(
                            "SELECT published_at FROM (
                                 SELECT record::jsonb ->> 'published_at' AS published_at FROM versions
                             ) AS published WHERE published_at >= $1",
                            &[since],
                        )
                        .await
                        .map_err(backend)?;
                    let created = tx
                        .query("SELECT created_at FROM plugins WHERE created_at >= $1", &[since])
                        .await
                        .map_err(backend)?;
                    Ok((downloads, publishes, created))
                })
            })
            .await?;
        let mut tally = RegistryUsageTally::new(today);
        for row in &downloads {
            let (slug, day, count): (&str, &str, i64) = (row.get(0), row.get(1), row.get(2));
            let day = parse_day(day).ok_or_else(|| corrupt_row("day", day))?;
            tally.add_downloads(slug, day, unsigned(count));
        }
        let day_of = |row: &Row| {
            let at: &str = row.get(0);
            Timestamp::parse(at)
                .map(|at| at.day())
                .map_err(|_| corrupt_row("time", at))
        };
        for row in &publishes {
            tally.add_publish(day_of(row)?);
        }
        for row in &created {
            tally.add_new_plugin(day_of(row)?);
        }
        Ok(Some(tally.finish()))
    }
}
