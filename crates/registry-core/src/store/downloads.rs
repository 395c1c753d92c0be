//! The download counter port: daily counters per version and client, the CDN log
//! parts they are counted from exactly once, and the monthly totals kept forever.

use async_trait::async_trait;
use time::Date;

use super::StorageError;
use crate::downloads::{
    DownloadCount, DownloadKey, LogPart, LogPartOutcome, MonthlyDownloadCount, Retention, YearMonth,
};
use crate::slug::Slug;
use crate::timestamp::Timestamp;
use crate::version::PluginVersion;

/// Download counters. Every catalog store is one (see [`super::CatalogStore`]); the
/// in-process counter and the CDN log counter write through the same port, so a
/// download is counted once whichever of them saw it.
#[async_trait]
pub trait DownloadCounters: Send + Sync {
    /// Counts one download (an atomic increment). The daily counter may be dropped
    /// once `retention` has passed; its month's total stays.
    async fn record_download(
        &self,
        key: &DownloadKey,
        retention: Retention,
    ) -> Result<(), StorageError>;

    /// Adds one part of a CDN log file's counters (at most
    /// [`crate::downloads::LOG_PART_MAX_COUNTS`]), all or nothing, and exactly once
    /// per part: a part counted before adds nothing and says so.
    async fn count_log_part(
        &self,
        part: &LogPart,
        counts: &[DownloadCount],
        retention: Retention,
    ) -> Result<LogPartOutcome, StorageError>;

    /// Whether a log file was counted to the end (see
    /// [`DownloadCounters::mark_log_file_counted`]).
    async fn log_file_counted(&self, file: &str) -> Result<bool, StorageError>;

    /// Records that every part of a log file was counted, so a redelivery skips
    /// the file without reading it. The record may be dropped after `retention`.
    async fn mark_log_file_counted(
        &self,
        file: &str,
        at: Timestamp,
        retention: Retention,
    ) -> Result<(), StorageError>;

    /// Downloads of a version on `since` and every later day.
    async fn downloads_since(
        &self,
        slug: &Slug,
        version: &PluginVersion,
        since: Date,
    ) -> Result<u64, StorageError>;

    /// A plugin's downloads per day, every version and client together, on `since`
    /// and every later day, in day order; days without a download are left out.
    async fn daily_downloads(
        &self,
        slug: &Slug,
        since: Date,
    ) -> Result<Vec<(Date, u64)>, StorageError>;

    /// A plugin's daily counters from `from` to `to`, both included, in key order.
    async fn download_counts(
        &self,
        slug: &Slug,
        from: Date,
        to: Date,
    ) -> Result<Vec<DownloadCount>, StorageError>;

    /// A plugin's monthly totals from `from` to `to`, both included, as of the last
    /// roll-up, in (version, month, client) order.
    async fn monthly_download_counts(
        &self,
        slug: &Slug,
        from: YearMonth,
        to: YearMonth,
    ) -> Result<Vec<MonthlyDownloadCount>, StorageError>;

    /// Folds daily counters into monthly totals (sealing each month
    /// [`crate::downloads::SEAL_AFTER_DAYS`] after it ends), drops daily counters
    /// older than `retention` whose month is sealed, and sets every plugin's
    /// `downloads` to the sum of its monthly totals; returns the plugins whose
    /// total changed.
    async fn roll_up_downloads(
        &self,
        today: Date,
        retention: Retention,
    ) -> Result<Vec<Slug>, StorageError>;

    /// The registry's usage up to `today` (see [`crate::usage`]), tallied when
    /// asked or as the last roll-up tallied it (then up to the roll-up's day);
    /// `None` from a store of the second kind that has not rolled up yet.
    async fn registry_usage(
        &self,
        today: Date,
    ) -> Result<Option<crate::usage::RegistryUsage>, StorageError>;
}
