//! The storage ports' contract, written once and run against every adapter (SQLite
//! and files in `registry-sqlite`; DynamoDB and S3 in `registry-aws`): one file
//! per port, the fault-injecting wrappers in [`faults`], and here what they share.
//!
//! Each check panics with a message naming the broken guarantee, as tests do.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

/// Implements [`crate::store::DownloadCounters`] for a test wrapper by handing every
/// call to its `$inner` store, as wrappers that watch the catalog need.
#[macro_export]
macro_rules! delegate_download_counters {
    ($wrapper:ty, $inner:ident) => {
        #[::async_trait::async_trait]
        impl $crate::store::DownloadCounters for $wrapper {
            async fn record_download(
                &self,
                key: &$crate::downloads::DownloadKey,
                retention: $crate::downloads::Retention,
            ) -> Result<(), $crate::store::StorageError> {
                self.$inner.record_download(key, retention).await
            }
            async fn count_log_part(
                &self,
                part: &$crate::downloads::LogPart,
                counts: &[$crate::downloads::DownloadCount],
                retention: $crate::downloads::Retention,
            ) -> Result<$crate::downloads::LogPartOutcome, $crate::store::StorageError> {
                self.$inner.count_log_part(part, counts, retention).await
            }
            async fn log_file_counted(
                &self,
                file: &str,
            ) -> Result<bool, $crate::store::StorageError> {
                self.$inner.log_file_counted(file).await
            }
            async fn mark_log_file_counted(
                &self,
                file: &str,
                at: $crate::timestamp::Timestamp,
                retention: $crate::downloads::Retention,
            ) -> Result<(), $crate::store::StorageError> {
                self.$inner.mark_log_file_counted(file, at, retention).await
            }
            async fn downloads_since(
                &self,
                slug: &$crate::slug::Slug,
                version: &$crate::version::PluginVersion,
                since: time::Date,
            ) -> Result<u64, $crate::store::StorageError> {
                self.$inner.downloads_since(slug, version, since).await
            }
            async fn daily_downloads(
                &self,
                slug: &$crate::slug::Slug,
                since: time::Date,
            ) -> Result<Vec<(time::Date, u64)>, $crate::store::StorageError> {
                self.$inner.daily_downloads(slug, since).await
            }
            async fn download_counts(
                &self,
                slug: &$crate::slug::Slug,
                from: time::Date,
                to: time::Date,
            ) -> Result<Vec<$crate::downloads::DownloadCount>, $crate::store::StorageError> {
                self.$inner.download_counts(slug, from, to).await
            }
            async fn monthly_download_counts(
                &self,
                slug: &$crate::slug::Slug,
                from: $crate::downloads::YearMonth,
                to: $crate::downloads::YearMonth,
            ) -> Result<Vec<$crate::downloads::MonthlyDownloadCount>, $crate::store::StorageError>
            {
                self.$inner.monthly_download_counts(slug, from, to).await
            }
            async fn roll_up_downloads(
                &self,
                today: time::Date,
                retention: $crate::downloads::Retention,
            ) -> Result<Vec<$crate::slug::Slug>, $crate::store::StorageError> {
                self.$inner.roll_up_downloads(today, retention).await
            }

            async fn registry_usage(
                &self,
                today: time::Date,
            ) -> Result<Option<$crate::usage::RegistryUsage>, $crate::store::StorageError> {
                self.$inner.registry_usage(today).await
            }
        }
    };
}

mod accounts;
mod artifacts;
mod audit;
mod catalog;
mod coordination;
mod downloads;
pub mod faults;
mod index;
mod journal;
mod keys;
mod mcp_router;
mod orgs;
mod ownership;
mod rate_limits;
mod reports;
mod trusted_publishing;
mod webhooks;

pub use accounts::account_store_contract;
pub use artifacts::artifact_store_contract;
pub use audit::audit_store_contract;
pub use catalog::catalog_contract;
pub use coordination::node_coordination_contract;
pub use downloads::DailyExpiry;
pub use index::index_store_contract;
pub use journal::change_journal_contract;
pub use keys::key_store_contract;
pub use mcp_router::{mcp_router_store_contract, sample_instance};
pub use orgs::{org_catalog_store_contract, org_store_contract, sample_catalog_row};
pub use ownership::ownership_store_contract;
pub use rate_limits::rate_limit_store_contract;
pub use reports::report_store_contract;
pub use trusted_publishing::trusted_publishing_store_contract;
pub use webhooks::{deliveries_commit_with_their_change_contract, webhook_store_contract};

use crate::artifact::{ArtifactKey, StoredArtifact};
use crate::auth::PrincipalId;
use crate::checksum::Sha256Digest;
use crate::manifest::{DocumentFormat, parse_document};
use crate::slug::Slug;
use crate::store::{Conflict, StorageError, VersionRecord};
use crate::timestamp::Timestamp;

/// Adds `record` to `slug` at `revision` as its latest version, telling no
/// subscriber.
pub(crate) async fn add_as_latest(
    catalog: &dyn crate::store::CatalogStore,
    slug: &Slug,
    revision: u64,
    record: &VersionRecord,
) -> Result<(), StorageError> {
    catalog
        .add_version(
            slug,
            revision,
            record,
            Some(&crate::store::LatestSummary::of(record)),
            &[],
        )
        .await
}

/// How many writers race in the concurrency checks.
pub const RACERS: usize = 16;

pub(crate) fn at(raw: &str) -> Timestamp {
    Timestamp::parse(raw).expect("timestamp")
}

/// A valid YAML manifest for `slug@version`.
pub fn sample_document(slug: &str, version: &str) -> String {
    registry_testkit::TestPlugin::new(slug, version).yaml()
}

/// A version record for `slug@version`, as the publish service would build it.
pub fn sample_version(slug: &str, version: &str) -> VersionRecord {
    let doc = sample_document(slug, version);
    let manifest =
        parse_document(doc.as_bytes(), DocumentFormat::Yaml).expect("sample manifest is valid");
    let sha256 = Sha256Digest::of(doc.as_bytes());
    VersionRecord {
        version: manifest.version.clone(),
        schema: StoredArtifact {
            key: ArtifactKey::schema(
                &manifest.slug,
                &manifest.version,
                &sha256,
                DocumentFormat::Yaml,
            ),
            sha256,
            size: doc.len() as u64,
            content_type: "application/yaml".into(),
        },
        manifest,
        bundle: None,
        published_at: at("2026-01-01T00:00:00Z"),
        published_by: PrincipalId::from_stored("prn_owner"),
        deprecated: None,
        unpublished_at: None,
        quarantined: None,
        review: None,
    }
}

pub(crate) fn slug(raw: &str) -> Slug {
    Slug::parse(raw).expect("slug")
}

pub(crate) fn conflict<T: std::fmt::Debug>(result: Result<T, StorageError>) -> Conflict {
    match result {
        Err(StorageError::Conflict(c)) => c,
        other => panic!("expected a conditional-write conflict, got {other:?}"),
    }
}

/// Starts `RACERS` copies of `attempt` at once and returns their results in order.
pub(crate) async fn race<T, Fut>(attempt: impl Fn(usize) -> Fut) -> Vec<T>
where
    T: Send + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    let tasks: Vec<_> = (0..RACERS).map(|i| tokio::spawn(attempt(i))).collect();
    let mut results = Vec::with_capacity(RACERS);
    for task in tasks {
        results.push(task.await.expect("racer task"));
    }
    results
}

/// Asserts that exactly one racer won and every other lost with `expected`;
/// returns the winner's index.
pub(crate) fn single_winner(
    results: Vec<Result<(), StorageError>>,
    expected: Conflict,
    guarantee: &str,
) -> usize {
    let mut winners = Vec::new();
    for (i, result) in results.into_iter().enumerate() {
        match result {
            Ok(()) => winners.push(i),
            Err(e) => assert_eq!(conflict::<()>(Err(e)), expected, "{guarantee}"),
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "{guarantee}: {} of {RACERS} racers won",
        winners.len()
    );
    winners[0]
}

/// Runs `RACERS` copies of `attempt` at once and checks exactly one succeeded and
/// every other lost with `expected`.
pub(crate) async fn exactly_one_wins<Fut>(
    attempt: impl Fn(usize) -> Fut,
    expected: Conflict,
    guarantee: &str,
) where
    Fut: Future<Output = Result<(), StorageError>> + Send + 'static,
{
    single_winner(race(attempt).await, expected, guarantee);
}
