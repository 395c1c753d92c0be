//! The download counter port's contract: atomic increments per version, day and
//! client; CDN log parts counted exactly once; monthly totals that outlive the
//! daily counters; sealed months that late counts no longer move.

use std::sync::Arc;

use time::Date;
use time::macros::date;

use super::catalog::create_plugin_at;
use super::{RACERS, race, slug};
use crate::downloads::{
    DownloadClient, DownloadCount, DownloadKey, LOG_PART_MAX_COUNTS, LogPart, LogPartOutcome,
    MonthlyDownloadCount, Retention, YearMonth,
};
use crate::slug::Slug;
use crate::store::CatalogStore;
use crate::version::PluginVersion;

/// How a store drops daily counters past their retention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DailyExpiry {
    /// The roll-up deletes them (SQLite, PostgreSQL).
    RollUpDeletes,
    /// The store expires them on its own time (DynamoDB's TTL); the adapter's own
    /// tests check the expiry each counter carries.
    StoreExpires,
}

/// Runs every download counter check against `catalog`.
pub(super) async fn download_counter_contract(
    catalog: Arc<dyn CatalogStore>,
    prefix: &str,
    expiry: DailyExpiry,
) {
    downloads_count_atomically_and_roll_up(Arc::clone(&catalog), prefix).await;
    a_full_log_part_counts_at_once(Arc::clone(&catalog), prefix).await;
    clients_log_parts_and_months(Arc::clone(&catalog), prefix, expiry).await;
    // Last: its roll-up is years after the others' days.
    registry_usage_counts_publishes_new_plugins_and_downloads(catalog, prefix).await;
}

/// The largest part a log file is cut into is one write (DynamoDB: one
/// transaction of 100 actions, the marker and 99 counters).
async fn a_full_log_part_counts_at_once(catalog: Arc<dyn CatalogStore>, prefix: &str) {
    let s = slug(&format!("{prefix}-full-part"));
    create_plugin_at(catalog.as_ref(), &s, "1.0.0").await;
    let day = date!(2025 - 03 - 01);
    let counts: Vec<DownloadCount> = (0..LOG_PART_MAX_COUNTS as u64)
        .map(|n| DownloadCount {
            key: key(&s, &format!("1.0.{n}"), day, &DownloadClient::Other),
            count: n + 1,
        })
        .collect();
    let part = LogPart {
        file: format!("{prefix}/full.gz"),
        number: 0,
    };
    assert_eq!(
        catalog
            .count_log_part(&part, &counts, Retention::default())
            .await
            .unwrap(),
        LogPartOutcome::Counted
    );
    let expected: u64 = counts.iter().map(|c| c.count).sum();
    assert_eq!(
        catalog.daily_downloads(&s, day).await.unwrap(),
        vec![(day, expected)]
    );
}

fn key(slug: &Slug, version: &str, day: Date, client: &DownloadClient) -> DownloadKey {
    DownloadKey {
        slug: slug.clone(),
        version: PluginVersion::parse(version).expect("version"),
        day,
        client: client.clone(),
    }
}

async fn downloads_count_atomically_and_roll_up(catalog: Arc<dyn CatalogStore>, prefix: &str) {
    let s = slug(&format!("{prefix}-dl"));
    let first = create_plugin_at(catalog.as_ref(), &s, "1.0.0").await;
    let day = |d: u8| Date::from_calendar_date(2026, time::Month::March, d).expect("date");
    let retention = Retention::default();
    let results = race(|i| {
        let (catalog, s) = (Arc::clone(&catalog), s.clone());
        async move {
            let on = day(if i % 4 == 0 { 1 } else { 5 });
            catalog
                .record_download(&key(&s, "1.0.0", on, &DownloadClient::Other), retention)
                .await
        }
    })
    .await;
    for result in results {
        result.expect("counted");
    }
    assert_eq!(
        catalog
            .downloads_since(&s, &first.version, day(1))
            .await
            .unwrap(),
        RACERS as u64,
        "no lost increments"
    );
    assert_eq!(
        catalog
            .downloads_since(&s, &first.version, day(2))
            .await
            .unwrap(),
        (RACERS - RACERS / 4) as u64
    );
    assert_eq!(
        catalog
            .downloads_since(&s, &first.version, day(6))
            .await
            .unwrap(),
        0
    );

    // Per day, every version and client together: a second version's downloads
    // join the first's on the same day.
    catalog
        .record_download(&key(&s, "1.1.0", day(5), &DownloadClient::Other), retention)
        .await
        .unwrap();
    assert_eq!(
        catalog.daily_downloads(&s, day(1)).await.unwrap(),
        vec![
            (day(1), (RACERS / 4) as u64),
            (day(5), (RACERS - RACERS / 4 + 1) as u64)
        ]
    );
    assert_eq!(
        catalog.daily_downloads(&s, day(2)).await.unwrap(),
        vec![(day(5), (RACERS - RACERS / 4 + 1) as u64)],
        "days before `since` are left out"
    );
    assert!(
        catalog
            .daily_downloads(&s, day(6))
            .await
            .unwrap()
            .is_empty()
    );
    let other = slug(&format!("{prefix}-dl-other"));
    create_plugin_at(catalog.as_ref(), &other, "1.0.0").await;
    assert!(
        catalog
            .daily_downloads(&other, day(1))
            .await
            .unwrap()
            .is_empty(),
        "another plugin's counters are its own"
    );

    assert_eq!(
        catalog.plugin(&s).await.unwrap().unwrap().downloads,
        0,
        "counting never touches the plugin row"
    );
    assert!(
        catalog
            .roll_up_downloads(day(6), retention)
            .await
            .unwrap()
            .contains(&s)
    );
    assert_eq!(
        catalog.plugin(&s).await.unwrap().unwrap().downloads,
        RACERS as u64 + 1
    );
    let revision = catalog.catalog_revision().await.unwrap();
    assert!(
        catalog
            .roll_up_downloads(day(6), retention)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        catalog.catalog_revision().await.unwrap(),
        revision,
        "an idle roll-up changes nothing"
    );
}

async fn clients_log_parts_and_months(
    catalog: Arc<dyn CatalogStore>,
    prefix: &str,
    expiry: DailyExpiry,
) {
    let s = slug(&format!("{prefix}-usage"));
    create_plugin_at(catalog.as_ref(), &s, "1.0.0").await;
    let retention = Retention::default();
    let cli = DownloadClient::from_user_agent(Some("openworkflow/0.4.1"));
    let other = DownloadClient::Other;
    let (jan30, jan31, feb1) = (
        date!(2025 - 01 - 30),
        date!(2025 - 01 - 31),
        date!(2025 - 02 - 01),
    );
    for counted in [&cli, &cli, &other] {
        catalog
            .record_download(&key(&s, "1.0.0", jan30, counted), retention)
            .await
            .unwrap();
    }

    // A CDN log file, counted in two parts; a redelivered part adds nothing.
    let file = format!("{prefix}/E2ABCDEF.2025-02-01-00.1a2b3c4d.gz");
    let part = |number| LogPart {
        file: file.clone(),
        number,
    };
    let count = |version, day, client: &DownloadClient, count| DownloadCount {
        key: key(&s, version, day, client),
        count,
    };
    let first_part = vec![
        count("1.0.0", jan31, &cli, 5),
        count("1.1.0", feb1, &other, 7),
    ];
    assert_eq!(
        catalog
            .count_log_part(&part(0), &first_part, retention)
            .await
            .unwrap(),
        LogPartOutcome::Counted
    );
    assert_eq!(
        catalog
            .count_log_part(&part(0), &first_part, retention)
            .await
            .unwrap(),
        LogPartOutcome::AlreadyCounted,
        "a redelivered part counts nothing twice"
    );
    assert_eq!(
        catalog
            .count_log_part(&part(1), &[count("1.1.0", feb1, &cli, 3)], retention)
            .await
            .unwrap(),
        LogPartOutcome::Counted,
        "the file's next part is its own"
    );
    assert!(!catalog.log_file_counted(&file).await.unwrap());
    catalog
        .mark_log_file_counted(&file, super::at("2025-02-01T01:00:00Z"), retention)
        .await
        .unwrap();
    assert!(catalog.log_file_counted(&file).await.unwrap());
    assert!(
        !catalog
            .log_file_counted(&format!("{file}.other"))
            .await
            .unwrap()
    );

    assert_eq!(
        catalog.download_counts(&s, jan30, feb1).await.unwrap(),
        vec![
            count("1.0.0", jan30, &cli, 2),
            count("1.0.0", jan30, &other, 1),
            count("1.0.0", jan31, &cli, 5),
            count("1.1.0", feb1, &cli, 3),
            count("1.1.0", feb1, &other, 7),
        ],
        "per version, day and client, in key order"
    );
    assert_eq!(
        catalog.download_counts(&s, jan31, jan31).await.unwrap(),
        vec![count("1.0.0", jan31, &cli, 5)],
        "both ends of the range are included, nothing outside"
    );

    // January is sealed two days after it ends; February is still open.
    let (january, february) = (YearMonth::of(jan30), YearMonth::of(feb1));
    let monthly = |version: &str, month, client: &DownloadClient, count| MonthlyDownloadCount {
        slug: s.clone(),
        version: PluginVersion::parse(version).expect("version"),
        month,
        client: client.clone(),
        count,
    };
    let feb3 = date!(2025 - 02 - 03);
    assert!(
        catalog
            .roll_up_downloads(feb3, retention)
            .await
            .unwrap()
            .contains(&s)
    );
    assert_eq!(catalog.plugin(&s).await.unwrap().unwrap().downloads, 18);
    assert_eq!(
        catalog
            .monthly_download_counts(&s, january, february)
            .await
            .unwrap(),
        vec![
            monthly("1.0.0", january, &cli, 7),
            monthly("1.0.0", january, &other, 1),
            monthly("1.1.0", february, &cli, 3),
            monthly("1.1.0", february, &other, 7),
        ]
    );
    assert_eq!(
        catalog
            .monthly_download_counts(&s, february, february)
            .await
            .unwrap()
            .len(),
        2,
        "months outside the range are left out"
    );

    // A count arriving for sealed January no longer moves the total; one for
    // open February does.
    for late in [
        key(&s, "1.0.0", jan31, &other),
        key(&s, "1.1.0", feb1, &other),
    ] {
        catalog.record_download(&late, retention).await.unwrap();
    }
    catalog.roll_up_downloads(feb3, retention).await.unwrap();
    assert_eq!(catalog.plugin(&s).await.unwrap().unwrap().downloads, 19);

    // Past the retention, daily counters may go; monthly totals never do.
    let may15 = date!(2025 - 05 - 15);
    catalog.roll_up_downloads(may15, retention).await.unwrap();
    assert_eq!(catalog.plugin(&s).await.unwrap().unwrap().downloads, 19);
    assert_eq!(
        catalog
            .monthly_download_counts(&s, january, february)
            .await
            .unwrap(),
        vec![
            monthly("1.0.0", january, &cli, 7),
            monthly("1.0.0", january, &other, 1),
            monthly("1.1.0", february, &cli, 3),
            monthly("1.1.0", february, &other, 8),
        ],
        "the sealed months keep their totals"
    );
    if expiry == DailyExpiry::RollUpDeletes {
        assert!(
            catalog
                .download_counts(&s, jan30, feb1)
                .await
                .unwrap()
                .is_empty(),
            "daily counters older than the retention are dropped once their month is sealed"
        );
        assert!(
            !catalog.log_file_counted(&file).await.unwrap(),
            "and so are the log files counted then"
        );
    }
}

/// The registry's usage: publishes and new plugins by the day their records
/// carry, downloads by counter, the busiest plugins by span. Its days are years
/// after every other check's, which it must leave out.
async fn registry_usage_counts_publishes_new_plugins_and_downloads(
    catalog: Arc<dyn CatalogStore>,
    prefix: &str,
) {
    use crate::store::{LatestSummary, VersionRecord};
    use crate::timestamp::Timestamp;
    use crate::usage::{PluginDownloads, WeekUsage, usage_start};

    let released = |slug: &Slug, version: &str, at: &str| VersionRecord {
        published_at: Timestamp::parse(at).unwrap(),
        ..super::sample_version(slug.as_str(), version)
    };
    let owner = crate::auth::PrincipalId::from_stored("prn_owner");
    let (busy, quiet) = (
        slug(&format!("{prefix}-usage-busy")),
        slug(&format!("{prefix}-usage-quiet")),
    );
    // Thursday 12 June 2031; its week began on Monday the 9th.
    let today = date!(2031 - 06 - 12);
    let first = released(&busy, "1.0.0", "2031-06-10T10:00:00Z");
    catalog
        .create_plugin(&busy, &owner, &first, Some(&LatestSummary::of(&first)), &[])
        .await
        .unwrap();
    let update = released(&busy, "1.1.0", "2031-06-11T23:59:59Z");
    let revision = catalog.plugin(&busy).await.unwrap().unwrap().revision;
    super::add_as_latest(&*catalog, &busy, revision, &update)
        .await
        .unwrap();
    let old = released(&quiet, "0.1.0", "2031-06-02T00:00:00Z");
    catalog
        .create_plugin(&quiet, &owner, &old, Some(&LatestSummary::of(&old)), &[])
        .await
        .unwrap();
    let retention = Retention::default();
    for _ in 0..3 {
        catalog
            .record_download(
                &key(
                    &busy,
                    "1.0.0",
                    date!(2031 - 06 - 10),
                    &DownloadClient::Other,
                ),
                retention,
            )
            .await
            .unwrap();
    }
    let counts = [
        DownloadCount {
            key: key(
                &quiet,
                "0.1.0",
                date!(2031 - 06 - 03),
                &DownloadClient::Other,
            ),
            count: 2,
        },
        // Before the twelve weeks: not in the figures.
        DownloadCount {
            key: key(
                &quiet,
                "0.1.0",
                usage_start(today) - time::Duration::days(1),
                &DownloadClient::Other,
            ),
            count: 50,
        },
    ];
    let part = LogPart {
        file: format!("{prefix}/usage.gz"),
        number: 0,
    };
    catalog
        .count_log_part(&part, &counts, retention)
        .await
        .unwrap();

    catalog.roll_up_downloads(today, retention).await.unwrap();
    let usage = catalog
        .registry_usage(today)
        .await
        .unwrap()
        .expect("tallied by now");
    assert_eq!(usage.as_of, today);
    assert_eq!(
        usage.weeks[11],
        WeekUsage {
            publishes: 2,
            new_plugins: 1,
            downloads: 3
        },
        "this week: two versions of one new plugin, three downloads"
    );
    assert_eq!(
        usage.weeks[10],
        WeekUsage {
            publishes: 1,
            new_plugins: 1,
            downloads: 2
        }
    );
    assert_eq!(
        usage.weeks[..10]
            .iter()
            .map(|w| w.publishes + w.new_plugins + w.downloads)
            .sum::<u64>(),
        0,
        "nothing else in these weeks: {:?}",
        usage.weeks
    );
    let start = usage_start(today);
    let on = |day: Date| usage.daily_downloads[(day - start).whole_days() as usize];
    assert_eq!(
        (
            on(date!(2031 - 06 - 03)),
            on(date!(2031 - 06 - 10)),
            on(today)
        ),
        (2, 3, 0)
    );
    assert_eq!(usage.daily_downloads.iter().sum::<u64>(), 5);
    let plugin = |slug: &Slug, downloads| PluginDownloads {
        slug: slug.to_string(),
        downloads,
    };
    assert_eq!(usage.top_plugins[0], [plugin(&busy, 3)]);
    assert_eq!(usage.top_plugins[1], [plugin(&busy, 3), plugin(&quiet, 2)]);
}
