//! The download counter port in SQLite: daily counters per version and client,
//! monthly totals, and the CDN log parts and files already counted.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, TransactionBehavior, params};
use time::Date;

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
use crate::{SqliteStore, backend};

/// Adds `count` to one daily counter.
const ADD_TO_DAY: &str = "INSERT INTO daily_downloads (slug, version, day, client, count)
     VALUES (?1, ?2, ?3, ?4, ?5)
     ON CONFLICT (slug, version, day, client) DO UPDATE SET count = count + excluded.count";

fn count_from(raw: i64) -> u64 {
    u64::try_from(raw).unwrap_or(0)
}

fn stored_count(count: u64) -> Result<i64, StorageError> {
    i64::try_from(count).map_err(|_| StorageError::Corrupt(format!("download count {count}")))
}

/// A counter row as `version, period, client, count` (a day's or a month's).
fn counter_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String, String, i64)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
}

fn corrupt_row(what: &str, raw: &str) -> StorageError {
    StorageError::Corrupt(format!("download counter {what} {raw:?}"))
}

/// A plugin's counter row read back.
fn download_count(
    slug: &Slug,
    version: &str,
    day: &str,
    client: String,
    count: i64,
) -> Result<DownloadCount, StorageError> {
    Ok(DownloadCount {
        key: DownloadKey {
            slug: slug.clone(),
            version: PluginVersion::parse(version).map_err(|_| corrupt_row("version", version))?,
            day: parse_day(day).ok_or_else(|| corrupt_row("day", day))?,
            client: DownloadClient::try_from(client).map_err(StorageError::Corrupt)?,
        },
        count: count_from(count),
    })
}

#[async_trait]
impl DownloadCounters for SqliteStore {
    async fn record_download(
        &self,
        key: &DownloadKey,
        _retention: Retention,
    ) -> Result<(), StorageError> {
        let key = key.clone();
        self.with_conn(move |conn| {
            conn.prepare_cached(ADD_TO_DAY)
                .and_then(|mut s| {
                    s.execute(params![
                        key.slug.as_str(),
                        key.version.to_string(),
                        key.day.to_string(),
                        key.client.label(),
                        1
                    ])
                })
                .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn count_log_part(
        &self,
        part: &LogPart,
        counts: &[DownloadCount],
        _retention: Retention,
    ) -> Result<LogPartOutcome, StorageError> {
        let (part, counts) = (part.clone(), counts.to_vec());
        let counted_on = counts.iter().map(|c| c.key.day).max().unwrap_or(Date::MIN);
        self.with_conn(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend)?;
            let new = tx
                .execute(
                    "INSERT OR IGNORE INTO counted_log_parts (log_file, part, counted_on) VALUES (?1, ?2, ?3)",
                    params![part.file, part.number, counted_on.to_string()],
                )
                .map_err(backend)?;
            if new == 0 {
                return Ok(LogPartOutcome::AlreadyCounted);
            }
            {
                let mut add = tx.prepare_cached(ADD_TO_DAY).map_err(backend)?;
                for count in &counts {
                    let key = &count.key;
                    add.execute(params![
                        key.slug.as_str(),
                        key.version.to_string(),
                        key.day.to_string(),
                        key.client.label(),
                        stored_count(count.count)?
                    ])
                    .map_err(backend)?;
                }
            }
            tx.commit().map_err(backend)?;
            Ok(LogPartOutcome::Counted)
        })
        .await
    }

    async fn log_file_counted(&self, file: &str) -> Result<bool, StorageError> {
        let file = file.to_owned();
        self.with_conn(move |conn| {
            conn.query_row(
                "SELECT 1 FROM counted_log_files WHERE log_file = ?1",
                params![file],
                |_| Ok(()),
            )
            .optional()
            .map(|found| found.is_some())
            .map_err(backend)
        })
        .await
    }

    async fn mark_log_file_counted(
        &self,
        file: &str,
        at: Timestamp,
        _retention: Retention,
    ) -> Result<(), StorageError> {
        let file = file.to_owned();
        self.with_conn(move |conn| {
            conn.execute(
                "INSERT OR IGNORE INTO counted_log_files (log_file, counted_on) VALUES (?1, ?2)",
                params![file, at.day().to_string()],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn downloads_since(
        &self,
        slug: &Slug,
        version: &PluginVersion,
        since: Date,
    ) -> Result<u64, StorageError> {
        let (slug, version) = (slug.clone(), version.to_string());
        self.with_conn(move |conn| {
            let total: i64 = conn
                .query_row(
                    "SELECT COALESCE(SUM(count), 0) FROM daily_downloads WHERE slug = ?1 AND version = ?2 AND day >= ?3",
                    params![slug.as_str(), version, since.to_string()],
                    |r| r.get(0),
                )
                .map_err(backend)?;
            Ok(count_from(total))
        })
        .await
    }

    async fn daily_downloads(
        &self,
        slug: &Slug,
        since: Date,
    ) -> Result<Vec<(Date, u64)>, StorageError> {
        let slug = slug.clone();
        self.with_conn(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT day, SUM(count) FROM daily_downloads WHERE slug = ?1 AND day >= ?2
                     GROUP BY day ORDER BY day",
                )
                .map_err(backend)?;
            let rows = stmt
                .query_map(params![slug.as_str(), since.to_string()], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
                })
                .map_err(backend)?;
            rows.map(|row| {
                let (day, count) = row.map_err(backend)?;
                let day = parse_day(&day).ok_or_else(|| corrupt_row("day", &day))?;
                Ok((day, count_from(count)))
            })
            .collect()
        })
        .await
    }

    async fn download_counts(
        &self,
        slug: &Slug,
        from: Date,
        to: Date,
    ) -> Result<Vec<DownloadCount>, StorageError> {
        let slug = slug.clone();
        self.with_conn(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT version, day, client, count FROM daily_downloads
                     WHERE slug = ?1 AND day >= ?2 AND day <= ?3",
                )
                .map_err(backend)?;
            let rows = stmt
                .query_map(
                    params![slug.as_str(), from.to_string(), to.to_string()],
                    counter_row,
                )
                .map_err(backend)?;
            let mut counts = rows
                .map(|row| {
                    let (version, day, client, count) = row.map_err(backend)?;
                    download_count(&slug, &version, &day, client, count)
                })
                .collect::<Result<Vec<_>, StorageError>>()?;
            counts.sort_by(|a, b| a.key.cmp(&b.key));
            Ok(counts)
        })
        .await
    }

    async fn monthly_download_counts(
        &self,
        slug: &Slug,
        from: YearMonth,
        to: YearMonth,
    ) -> Result<Vec<MonthlyDownloadCount>, StorageError> {
        let slug = slug.clone();
        self.with_conn(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT version, month, client, count FROM monthly_downloads
                     WHERE slug = ?1 AND month >= ?2 AND month <= ?3",
                )
                .map_err(backend)?;
            let rows = stmt
                .query_map(params![slug.as_str(), from.key(), to.key()], counter_row)
                .map_err(backend)?;
            let mut totals = rows
                .map(|row| {
                    let (version, month, client, count) = row.map_err(backend)?;
                    Ok(MonthlyDownloadCount {
                        slug: slug.clone(),
                        version: PluginVersion::parse(&version)
                            .map_err(|_| corrupt_row("version", &version))?,
                        month: YearMonth::parse(&month)
                            .ok_or_else(|| corrupt_row("month", &month))?,
                        client: DownloadClient::try_from(client).map_err(StorageError::Corrupt)?,
                        count: count_from(count),
                    })
                })
                .collect::<Result<Vec<_>, StorageError>>()?;
            totals.sort_by(|a, b| {
                (&a.version, a.month, &a.client).cmp(&(&b.version, b.month, &b.client))
            });
            Ok(totals)
        })
        .await
    }

    async fn roll_up_downloads(
        &self,
        today: Date,
        retention: Retention,
    ) -> Result<Vec<Slug>, StorageError> {
        self.with_conn(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend)?;
            // Months not sealed are summed again from their days; sealed ones stay.
            tx.execute_batch(
                "DELETE FROM monthly_downloads
                     WHERE month NOT IN (SELECT month FROM sealed_download_months);
                 INSERT INTO monthly_downloads (slug, version, month, client, count)
                     SELECT slug, version, substr(day, 1, 7), client, SUM(count) FROM daily_downloads
                     WHERE substr(day, 1, 7) NOT IN (SELECT month FROM sealed_download_months)
                     GROUP BY slug, version, substr(day, 1, 7), client;",
            )
            .map_err(backend)?;
            let open: Vec<String> = {
                let mut stmt = tx
                    .prepare(
                        "SELECT DISTINCT month FROM monthly_downloads
                         WHERE month NOT IN (SELECT month FROM sealed_download_months)",
                    )
                    .map_err(backend)?;
                let rows = stmt.query_map([], |r| r.get(0)).map_err(backend)?;
                rows.collect::<Result<_, _>>().map_err(backend)?
            };
            for month in open {
                let parsed = YearMonth::parse(&month).ok_or_else(|| corrupt_row("month", &month))?;
                if month_is_sealed(parsed, today) {
                    tx.execute(
                        "INSERT INTO sealed_download_months (month) VALUES (?1)",
                        params![month],
                    )
                    .map_err(backend)?;
                }
            }
            let first_kept = retention.first_kept_day(today).to_string();
            tx.execute(
                "DELETE FROM daily_downloads WHERE day < ?1
                 AND substr(day, 1, 7) IN (SELECT month FROM sealed_download_months)",
                params![first_kept],
            )
            .map_err(backend)?;
            tx.execute(
                "DELETE FROM counted_log_parts WHERE counted_on < ?1",
                params![first_kept],
            )
            .map_err(backend)?;
            tx.execute(
                "DELETE FROM counted_log_files WHERE counted_on < ?1",
                params![first_kept],
            )
            .map_err(backend)?;
            let changed: Vec<String> = {
                let mut stmt = tx
                    .prepare(
                        "UPDATE plugins SET downloads = totals.total
                         FROM (SELECT slug, SUM(count) AS total FROM monthly_downloads GROUP BY slug) AS totals
                         WHERE plugins.slug = totals.slug AND plugins.downloads != totals.total
                         RETURNING plugins.slug",
                    )
                    .map_err(backend)?;
                let rows = stmt.query_map([], |r| r.get(0)).map_err(backend)?;
                rows.collect::<Result<_, _>>().map_err(backend)?
            };
            for slug in &changed {
                record_change(&tx, slug, &ChangeScope::Latest)?;
            }
            tx.commit().map_err(backend)?;
            let mut slugs = changed
                .iter()
                .map(|raw| Slug::parse(raw).map_err(StorageError::Corrupt))
                .collect::<Result<Vec<_>, _>>()?;
            slugs.sort();
            Ok(slugs)
        })
        .await
    }

    async fn registry_usage(&self, today: Date) -> Result<Option<RegistryUsage>, StorageError> {
        self.with_conn(move |conn| {
            let mut tally = RegistryUsageTally::new(today);
            let since = tally.start().to_string();
            let mut downloads = conn
                .prepare(
                    "SELECT slug, day, SUM(count) FROM daily_downloads
                     WHERE day >= ?1 GROUP BY slug, day",
                )
                .map_err(backend)?;
            let mut rows = downloads.query(params![since]).map_err(backend)?;
            while let Some(row) = rows.next().map_err(backend)? {
                let (slug, day, count): (String, String, i64) = (
                    row.get(0).map_err(backend)?,
                    row.get(1).map_err(backend)?,
                    row.get(2).map_err(backend)?,
                );
                let day = parse_day(&day).ok_or_else(|| corrupt_row("day", &day))?;
                tally.add_downloads(&slug, day, u64::try_from(count).unwrap_or(0));
            }
            // Stored times are RFC 3339 text, which sorts as time does.
            for (sql, new_plugin) in [
                (
                    "SELECT json_extract(record, '$.published_at') FROM versions
                     WHERE json_extract(record, '$.published_at') >= ?1",
                    false,
                ),
                (
                    "SELECT created_at FROM plugins WHERE created_at >= ?1",
                    true,
                ),
            ] {
                let mut stmt = conn.prepare(sql).map_err(backend)?;
                let mut rows = stmt.query(params![since]).map_err(backend)?;
                while let Some(row) = rows.next().map_err(backend)? {
                    let at: String = row.get(0).map_err(backend)?;
                    let day = Timestamp::parse(&at)
                        .map_err(|_| corrupt_row("time", &at))?
                        .day();
                    if new_plugin {
                        tally.add_new_plugin(day);
                    } else {
                        tally.add_publish(day);
                    }
                }
            }
            Ok(Some(tally.finish()))
        })
        .await
    }
}
