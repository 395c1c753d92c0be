//! Download counting: who downloaded (the client, never the person), the counter
//! keys every backend stores, how long daily counters are kept, and the log-file
//! parts a CDN log is counted in exactly once.
//!
//! No IP address, key or principal ever enters a counter: a count is a plugin, a
//! version, a UTC day, a client label and a number.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::{Date, Duration, Month};

use crate::slug::Slug;
use crate::version::PluginVersion;

/// The client label of everything that is not the OpenWorkflow CLI.
pub const OTHER_CLIENT: &str = "other";

/// The CLI's `User-Agent` product name (`openworkflow/0.4.1`).
pub const CLI_PRODUCT: &str = "openworkflow";

/// Largest version component a CLI label keeps. Labels are chosen by strangers (a
/// `User-Agent` is free text), so their number is bounded: at most 100³ CLI labels,
/// each a row only where someone downloaded with it.
const MAX_CLI_COMPONENT: u64 = 99;

/// Who downloaded, as far as a count needs to know: the CLI and its version, or
/// any other client, grouped.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum DownloadClient {
    /// The OpenWorkflow CLI at a release version (`openworkflow/0.4.1`).
    Cli {
        /// Major version.
        major: u8,
        /// Minor version.
        minor: u8,
        /// Patch version.
        patch: u8,
    },
    /// Browsers, SDKs, scripts, mirrors: every other `User-Agent`, or none.
    Other,
}

impl DownloadClient {
    /// The client a `User-Agent` header names. Only `openworkflow/X.Y.Z` (release
    /// versions, each part at most 99, optionally followed by comments) is the CLI;
    /// anything else, pre-releases included, is [`DownloadClient::Other`].
    pub fn from_user_agent(user_agent: Option<&str>) -> Self {
        user_agent
            .and_then(|agent| agent.split_whitespace().next())
            .and_then(|product| product.strip_prefix(CLI_PRODUCT)?.strip_prefix('/'))
            .and_then(parse_cli_version)
            .unwrap_or(Self::Other)
    }

    /// The label stored and reported: `openworkflow/0.4.1` or `other`.
    pub fn label(&self) -> String {
        self.to_string()
    }
}

/// `X.Y.Z` with each part a plain number of at most two digits' worth.
fn parse_cli_version(text: &str) -> Option<DownloadClient> {
    let mut parts = text.split('.');
    let mut next = || -> Option<u8> {
        let part = parts.next()?;
        if part.is_empty() || part.len() > 2 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if part.len() > 1 && part.starts_with('0') {
            return None;
        }
        let value: u64 = part.parse().ok()?;
        (value <= MAX_CLI_COMPONENT).then(|| u8::try_from(value).ok())?
    };
    let (major, minor, patch) = (next()?, next()?, next()?);
    if parts.next().is_some() {
        return None;
    }
    Some(DownloadClient::Cli {
        major,
        minor,
        patch,
    })
}

impl fmt::Display for DownloadClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cli {
                major,
                minor,
                patch,
            } => write!(f, "{CLI_PRODUCT}/{major}.{minor}.{patch}"),
            Self::Other => f.write_str(OTHER_CLIENT),
        }
    }
}

impl From<DownloadClient> for String {
    fn from(client: DownloadClient) -> Self {
        client.to_string()
    }
}

impl TryFrom<String> for DownloadClient {
    type Error = String;

    /// Reads a stored label back; anything but a label this type wrote is refused.
    fn try_from(label: String) -> Result<Self, Self::Error> {
        if label == OTHER_CLIENT {
            return Ok(Self::Other);
        }
        label
            .strip_prefix(CLI_PRODUCT)
            .and_then(|rest| rest.strip_prefix('/'))
            .and_then(parse_cli_version)
            .ok_or_else(|| format!("{label:?} is not a download client label"))
    }
}

/// One counter: a version's downloads by one client on one UTC day.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DownloadKey {
    /// The plugin.
    pub slug: Slug,
    /// The version downloaded.
    pub version: PluginVersion,
    /// The UTC day of the download.
    pub day: Date,
    /// Who downloaded.
    pub client: DownloadClient,
}

/// A counter and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadCount {
    /// What was counted.
    pub key: DownloadKey,
    /// How many downloads.
    pub count: u64,
}

/// A calendar month (UTC), the unit of the totals kept forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct YearMonth {
    /// The year.
    pub year: i32,
    /// The month.
    pub month: Month,
}

impl YearMonth {
    /// The month `day` falls in.
    pub fn of(day: Date) -> Self {
        Self {
            year: day.year(),
            month: day.month(),
        }
    }

    /// The month's first day.
    pub fn first_day(self) -> Date {
        // Day 1 exists in every month of every year `Date` can hold.
        Date::from_calendar_date(self.year, self.month, 1).unwrap_or(Date::MIN)
    }

    /// The month after this one.
    pub fn next(self) -> Self {
        match self.month {
            Month::December => Self {
                year: self.year + 1,
                month: Month::January,
            },
            month => Self {
                year: self.year,
                month: month.next(),
            },
        }
    }

    /// The month as stored: `2026-03`.
    pub fn key(self) -> String {
        format!("{:04}-{:02}", self.year, u8::from(self.month))
    }

    /// Reads a stored month (`2026-03`) back.
    pub fn parse(text: &str) -> Option<Self> {
        let (year, month) = text.split_once('-')?;
        if year.len() != 4 || month.len() != 2 {
            return None;
        }
        let month = Month::try_from(month.parse::<u8>().ok()?).ok()?;
        Some(Self {
            year: year.parse().ok()?,
            month,
        })
    }
}

impl fmt::Display for YearMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

/// A version's downloads by one client in one month: the totals kept forever.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthlyDownloadCount {
    /// The plugin.
    pub slug: Slug,
    /// The version downloaded.
    pub version: PluginVersion,
    /// The month.
    pub month: YearMonth,
    /// Who downloaded.
    pub client: DownloadClient,
    /// How many downloads.
    pub count: u64,
}

/// Days after a month ends before its total is sealed: CDN log entries can arrive
/// up to 24 hours late, and a roll-up may be a day behind.
pub const SEAL_AFTER_DAYS: i64 = 2;

/// Whether a roll-up on `today` seals `month`'s total for good.
pub fn month_is_sealed(month: YearMonth, today: Date) -> bool {
    month.next().first_day() + Duration::days(SEAL_AFTER_DAYS) <= today
}

/// The shortest daily-counter retention allowed: the 90-day chart and the
/// 7-day unpublish rule read daily counters, and a month's days must outlive its
/// sealing by a wide margin.
pub const MIN_RETENTION_DAYS: u16 = 90;

/// The environment variable every process that counts or rolls up reads its
/// retention from, in days.
pub const RETENTION_SETTING: &str = "OPENWORKFLOW_REGISTRY_DOWNLOAD_RETENTION_DAYS";

/// How long daily counters are kept before only their monthly totals remain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    days: u16,
}

impl Retention {
    /// A retention of `days`; at least [`MIN_RETENTION_DAYS`].
    pub fn days(days: u16) -> Result<Self, String> {
        if days < MIN_RETENTION_DAYS {
            return Err(format!(
                "download retention must be at least {MIN_RETENTION_DAYS} days, not {days}"
            ));
        }
        Ok(Self { days })
    }

    /// The retention a setting names (a number of days), or the default when unset.
    pub fn from_setting(setting: Option<&str>) -> Result<Self, String> {
        match setting.map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(Self::default()),
            Some(raw) => raw
                .parse::<u16>()
                .map_err(|_| format!("{RETENTION_SETTING} must be a number of days, not {raw:?}"))
                .and_then(Self::days),
        }
    }

    /// The retention in days.
    pub fn in_days(self) -> u16 {
        self.days
    }

    /// The first day still kept on `today`: older daily counters may be dropped.
    pub fn first_kept_day(self, today: Date) -> Date {
        today - Duration::days(i64::from(self.days))
    }

    /// The instant a daily counter of `day` may be dropped (a DynamoDB TTL), in
    /// Unix seconds: the end of the last day it is kept.
    pub fn expiry_of(self, day: Date) -> i64 {
        let last = day + Duration::days(i64::from(self.days) + 1);
        last.midnight().assume_utc().unix_timestamp()
    }
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            days: MIN_RETENTION_DAYS,
        }
    }
}

/// At most this many counters are written as one part of a log file: DynamoDB's
/// transaction limit (100 actions) less the part's own marker.
pub const LOG_PART_MAX_COUNTS: usize = 99;

/// One part of one CDN log file: its counters are added exactly once, however
/// often the file is delivered to the counter.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LogPart {
    /// The log file's object key.
    pub file: String,
    /// The part's number within the file (from 0, in counter order).
    pub number: u32,
}

/// What adding a log part did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogPartOutcome {
    /// Its counters were added now.
    Counted,
    /// It had been counted before; nothing was added.
    AlreadyCounted,
}

/// The parts a log file's counters are written in: sorted, so a redelivered file
/// makes exactly the same parts, each at most [`LOG_PART_MAX_COUNTS`] long.
pub fn log_parts(mut counts: Vec<DownloadCount>) -> Vec<Vec<DownloadCount>> {
    counts.sort_by(|a, b| a.key.cmp(&b.key));
    let mut parts = Vec::new();
    let mut rest = counts.into_iter().peekable();
    while rest.peek().is_some() {
        parts.push(rest.by_ref().take(LOG_PART_MAX_COUNTS).collect());
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn only_the_cli_at_a_release_version_is_named() {
        let cli = |ua| DownloadClient::from_user_agent(Some(ua)).label();
        assert_eq!(cli("openworkflow/0.4.1"), "openworkflow/0.4.1");
        assert_eq!(cli("openworkflow/1.20.3 (linux)"), "openworkflow/1.20.3");
        for other in [
            "openworkflow/0.4.1-beta.1",
            "openworkflow/0.4",
            "openworkflow/100.0.0",
            "openworkflow/01.2.3",
            "openworkflow/1.2.3.4",
            "openworkflowx/1.2.3",
            "curl/8.5.0",
            "Mozilla/5.0 openworkflow/1.2.3",
            "",
        ] {
            assert_eq!(cli(other), OTHER_CLIENT, "{other:?}");
        }
        assert_eq!(DownloadClient::from_user_agent(None), DownloadClient::Other);
    }

    #[test]
    fn labels_read_back_as_what_wrote_them() {
        for client in [
            DownloadClient::Other,
            DownloadClient::Cli {
                major: 0,
                minor: 99,
                patch: 7,
            },
        ] {
            assert_eq!(DownloadClient::try_from(client.label()), Ok(client));
        }
        assert!(DownloadClient::try_from("curl/8".to_owned()).is_err());
    }

    #[test]
    fn a_month_is_sealed_two_days_after_it_ends() {
        let november = YearMonth::of(date!(2026 - 11 - 17));
        assert_eq!(november.key(), "2026-11");
        assert_eq!(YearMonth::parse("2026-11"), Some(november));
        assert!(!month_is_sealed(november, date!(2026 - 12 - 02)));
        assert!(month_is_sealed(november, date!(2026 - 12 - 03)));
        let december = YearMonth::of(date!(2026 - 12 - 31));
        assert_eq!(december.next().key(), "2027-01");
        assert!(!month_is_sealed(december, date!(2027 - 01 - 02)));
    }

    #[test]
    fn retention_is_at_least_ninety_days() {
        assert!(Retention::days(89).is_err());
        assert_eq!(Retention::from_setting(None), Ok(Retention::default()));
        assert_eq!(
            Retention::from_setting(Some("400")).map(Retention::in_days),
            Ok(400)
        );
        assert!(Retention::from_setting(Some("30")).is_err());
        assert!(Retention::from_setting(Some("a year")).is_err());
        let retention = Retention::days(90).unwrap();
        assert_eq!(
            retention.first_kept_day(date!(2026 - 12 - 31)),
            date!(2026 - 10 - 02)
        );
        // Kept through day + 90, gone from the start of day + 91.
        assert_eq!(
            retention.expiry_of(date!(2026 - 01 - 01)),
            date!(2026 - 04 - 02)
                .midnight()
                .assume_utc()
                .unix_timestamp()
        );
    }

    #[test]
    fn parts_are_the_same_however_the_counts_arrive() {
        let slug = Slug::parse("github").unwrap();
        let counts: Vec<DownloadCount> = (0..250u64)
            .map(|n| DownloadCount {
                key: DownloadKey {
                    slug: slug.clone(),
                    version: PluginVersion::parse(&format!("1.0.{n}")).unwrap(),
                    day: date!(2026 - 12 - 01),
                    client: DownloadClient::Other,
                },
                count: n + 1,
            })
            .collect();
        let forward = log_parts(counts.clone());
        let backward = log_parts(counts.into_iter().rev().collect());
        assert_eq!(forward, backward);
        let sizes: Vec<usize> = forward.iter().map(Vec::len).collect();
        assert_eq!(sizes, [99, 99, 52]);
    }
}
