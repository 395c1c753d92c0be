//! A plugin's usage, for its owners: downloads per period and version, and who
//! downloads it.
//!
//! Day and week figures come from the daily counters, so they reach back as far
//! as the retention; month figures reach back forever, from the monthly totals
//! where the days are gone.

use std::collections::BTreeMap;

use time::{Date, Duration};

use super::Registry;
use crate::api::analytics::{
    ClientShare, Granularity, PeriodDownloads, PeriodInstances, PluginAnalytics, RegistryAnalytics,
    RegistryDay, RegistryWeek, TopPlugin, VersionDownloads,
};
use crate::auth::{Caller, Scope};
use crate::downloads::{DownloadClient, YearMonth};
use crate::error::RegistryError;
use crate::slug::Slug;
use crate::usage::{RegistryUsage, RegistryUsageTally, USAGE_WEEKS, usage_start};
use crate::version::PluginVersion;

/// Most periods one answer holds: about two years of days or weeks, twenty years
/// of months.
pub const MAX_PERIODS: usize = 750;

impl Granularity {
    /// Reads `day`, `week` or `month`.
    pub fn parse(raw: &str) -> Result<Self, RegistryError> {
        Self::ALL
            .into_iter()
            .find(|g| g.as_str() == raw)
            .ok_or_else(|| RegistryError::InvalidParameter {
                name: "granularity",
                detail: format!("{raw:?} is not day, week or month"),
            })
    }

    /// The first day of the period holding `day`.
    pub fn period_of(self, day: Date) -> Date {
        match self {
            Self::Day => day,
            Self::Week => day - Duration::days(i64::from(day.weekday().number_days_from_monday())),
            Self::Month => YearMonth::of(day).first_day(),
        }
    }

    /// The first day of the period after the one starting on `start`.
    fn next(self, start: Date) -> Date {
        match self {
            Self::Day => start + Duration::days(1),
            Self::Week => start + Duration::days(7),
            Self::Month => YearMonth::of(start).next().first_day(),
        }
    }

    /// The default span when `from` is not given: 30 days, 12 weeks or 12 months.
    fn default_from(self, to: Date) -> Date {
        match self {
            Self::Day => to - Duration::days(29),
            Self::Week => self.period_of(to) - Duration::weeks(11),
            Self::Month => {
                let mut month = YearMonth::of(to);
                for _ in 0..11 {
                    month = previous_month(month);
                }
                month.first_day()
            }
        }
    }
}

fn previous_month(month: YearMonth) -> YearMonth {
    match month.month {
        time::Month::January => YearMonth {
            year: month.year - 1,
            month: time::Month::December,
        },
        other => YearMonth {
            year: month.year,
            month: other.previous(),
        },
    }
}

/// What a caller asks for: a range of days and how to group them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnalyticsQuery {
    /// The first day (default: `days` before `to`, else 30 days, 12 weeks or 12
    /// months before it).
    pub from: Option<Date>,
    /// How many days the range holds, `to` included, when `from` is not given.
    pub days: Option<u16>,
    /// The last day (default: today).
    pub to: Option<Date>,
    /// The grouping (default: day).
    pub granularity: Granularity,
}

impl AnalyticsQuery {
    /// The query a request's parameters name: days as `YYYY-MM-DD`, `granularity`
    /// as `day` (the default), `week` or `month`.
    pub fn from_params(
        from: Option<&str>,
        to: Option<&str>,
        days: Option<&str>,
        granularity: Option<&str>,
    ) -> Result<Self, RegistryError> {
        let day = |name: &'static str, raw: Option<&str>| {
            raw.map(|raw| {
                crate::timestamp::parse_day(raw).ok_or_else(|| RegistryError::InvalidParameter {
                    name,
                    detail: format!("{raw:?} is not a day (YYYY-MM-DD)"),
                })
            })
            .transpose()
        };
        let days = days
            .map(|raw| {
                raw.parse::<u16>().ok().filter(|&n| n >= 1).ok_or_else(|| {
                    RegistryError::InvalidParameter {
                        name: "days",
                        detail: format!("{raw:?} is not a number of days from 1 up"),
                    }
                })
            })
            .transpose()?;
        Ok(Self {
            from: day("from", from)?,
            days,
            to: day("to", to)?,
            granularity: granularity
                .map(Granularity::parse)
                .transpose()?
                .unwrap_or(Granularity::Day),
        })
    }
}

/// Downloads gathered from counters before they are laid out.
#[derive(Default)]
struct Gathered {
    /// (period start, version) → downloads.
    by_period: BTreeMap<(Date, PluginVersion), u64>,
    /// client → downloads.
    by_client: BTreeMap<DownloadClient, u64>,
}

impl Gathered {
    fn add(&mut self, period: Date, version: PluginVersion, client: DownloadClient, count: u64) {
        *self.by_period.entry((period, version)).or_default() += count;
        *self.by_client.entry(client).or_default() += count;
    }
}

impl Registry {
    /// A plugin's downloads over a range, for its owners (and members of owning
    /// teams), keys with the `analytics` scope, and admins.
    pub async fn plugin_analytics(
        &self,
        caller: Option<&Caller>,
        slug: &str,
        query: AnalyticsQuery,
    ) -> Result<PluginAnalytics, RegistryError> {
        let caller = caller.ok_or_else(|| RegistryError::Unauthenticated {
            detail: "analytics need an API key or a session: send 'Authorization: Bearer sk_...'"
                .to_owned(),
        })?;
        let not_found = || RegistryError::PluginNotFound {
            slug: slug.to_owned(),
        };
        let parsed = Slug::parse(slug).map_err(|_| not_found())?;
        let head = self
            .catalog
            .plugin_head(&parsed)
            .await?
            .ok_or_else(not_found)?;
        if !caller.can(Scope::Analytics) {
            let owners = self.owner_roster(&head).await?;
            if !self.acts_as_owner(caller, &owners).await? {
                return Err(RegistryError::Forbidden {
                    detail: format!(
                        "only the owners of plugin '{slug}' and keys with the analytics scope may read its analytics"
                    ),
                });
            }
        }
        let today = self.clock.now().day();
        let granularity = query.granularity;
        let to = query.to.unwrap_or(today);
        let from = match (query.from, query.days) {
            (Some(from), _) => from,
            (None, Some(days)) => to - Duration::days(i64::from(days) - 1),
            (None, None) => granularity.default_from(to),
        };
        if from > to {
            return Err(RegistryError::InvalidParameter {
                name: "from",
                detail: format!("{from} is after to ({to})"),
            });
        }
        let (from, to) = match granularity {
            // Whole months: the first of from's month to the last of to's.
            Granularity::Month => (
                granularity.period_of(from),
                YearMonth::of(to).next().first_day() - Duration::days(1),
            ),
            _ => (from, to),
        };
        let periods = period_starts(granularity, from, to);
        if periods.len() > MAX_PERIODS {
            return Err(RegistryError::InvalidParameter {
                name: "from",
                detail: format!(
                    "the range holds {} periods; at most {MAX_PERIODS} fit one answer (ask for weeks or months)",
                    periods.len()
                ),
            });
        }
        let first_kept = self.download_retention.first_kept_day(today);
        if granularity != Granularity::Month && from < first_kept {
            return Err(RegistryError::RangeBeyondRetention {
                detail: format!(
                    "daily figures are kept for {} days, so day and week ranges start on {first_kept} at the earliest; ask for granularity=month to go further back",
                    self.download_retention.in_days()
                ),
            });
        }
        let gathered = self
            .gather_downloads(&parsed, granularity, from, to, first_kept)
            .await?;
        let mut analytics = lay_out(slug, granularity, from, to, &periods, gathered);
        analytics.instances = self
            .healthy_instances_by_period(&parsed, granularity, from, to)
            .await?;
        Ok(analytics)
    }

    /// The registry's activity over the last `weeks` weeks (default and most:
    /// [`USAGE_WEEKS`]), for admins and keys with the `analytics` scope.
    pub async fn registry_analytics(
        &self,
        caller: Option<&Caller>,
        weeks: Option<&str>,
    ) -> Result<RegistryAnalytics, RegistryError> {
        let caller = caller.ok_or_else(|| RegistryError::Unauthenticated {
            detail: "registry analytics need an API key or a session: send 'Authorization: Bearer sk_...'"
                .to_owned(),
        })?;
        if !caller.can(Scope::Analytics) {
            return Err(RegistryError::Forbidden {
                detail: "registry analytics are for admins and keys with the analytics scope"
                    .to_owned(),
            });
        }
        let weeks = match weeks {
            None => USAGE_WEEKS,
            Some(raw) => raw
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=USAGE_WEEKS).contains(n))
                .ok_or_else(|| RegistryError::InvalidParameter {
                    name: "weeks",
                    detail: format!("{raw:?} is not a number of weeks from 1 to {USAGE_WEEKS}"),
                })?,
        };
        let today = self.clock.now().day();
        // A store that tallies at roll-up has nothing before its first one.
        let usage = match self.catalog.registry_usage(today).await? {
            Some(usage) => usage,
            None => RegistryUsageTally::new(today).finish(),
        };
        Ok(registry_analytics_of(&usage, weeks))
    }

    /// A plugin's healthy router instances per period, from the days health
    /// passes recorded (none without a router).
    async fn healthy_instances_by_period(
        &self,
        slug: &Slug,
        granularity: Granularity,
        from: Date,
        to: Date,
    ) -> Result<Vec<PeriodInstances>, RegistryError> {
        let Some(router) = &self.router else {
            return Ok(Vec::new());
        };
        let mut periods: BTreeMap<Date, (u32, u32)> = BTreeMap::new();
        for day in router
            .store
            .healthy_instance_history(slug, from, to)
            .await?
        {
            let (lowest, highest) = periods
                .entry(granularity.period_of(day.day))
                .or_insert((day.lowest, day.highest));
            *lowest = (*lowest).min(day.lowest);
            *highest = (*highest).max(day.highest);
        }
        Ok(periods
            .into_iter()
            .map(|(start, (lowest, highest))| PeriodInstances {
                start: start.to_string(),
                lowest,
                highest,
            })
            .collect())
    }

    /// Downloads of `slug` from `from` to `to`, grouped by period, version and
    /// client: from the daily counters, and from monthly totals for the months
    /// whose days may be gone.
    async fn gather_downloads(
        &self,
        slug: &Slug,
        granularity: Granularity,
        from: Date,
        to: Date,
        first_kept: Date,
    ) -> Result<Gathered, RegistryError> {
        let mut gathered = Gathered::default();
        // Months that began before the first kept day may have lost days: their
        // totals come from the monthly figures (month granularity only).
        let daily_from = if granularity == Granularity::Month && from < first_kept {
            let first_whole = YearMonth::of(first_kept);
            let daily_from = if first_whole.first_day() == first_kept {
                first_kept
            } else {
                first_whole.next().first_day()
            };
            let last_monthly = YearMonth::of(daily_from - Duration::days(1));
            if YearMonth::of(from) <= last_monthly {
                for total in self
                    .catalog
                    .monthly_download_counts(slug, YearMonth::of(from), last_monthly)
                    .await?
                {
                    gathered.add(
                        total.month.first_day(),
                        total.version,
                        total.client,
                        total.count,
                    );
                }
            }
            daily_from
        } else {
            from
        };
        if daily_from <= to {
            for count in self.catalog.download_counts(slug, daily_from, to).await? {
                let key = count.key;
                gathered.add(
                    granularity.period_of(key.day),
                    key.version,
                    key.client,
                    count.count,
                );
            }
        }
        Ok(gathered)
    }
}

/// The last `weeks` weeks of `usage` as the API answers them.
fn registry_analytics_of(usage: &RegistryUsage, weeks: usize) -> RegistryAnalytics {
    let start = usage_start(usage.as_of);
    let skipped = USAGE_WEEKS - weeks;
    let from = start + Duration::weeks(skipped as i64);
    RegistryAnalytics {
        from: from.to_string(),
        to: usage.as_of.to_string(),
        weeks: usage
            .weeks
            .iter()
            .enumerate()
            .skip(skipped)
            .map(|(index, week)| RegistryWeek {
                start: (start + Duration::weeks(index as i64)).to_string(),
                publishes: week.publishes,
                new_plugins: week.new_plugins,
                downloads: week.downloads,
            })
            .collect(),
        days: usage
            .daily_downloads
            .iter()
            .enumerate()
            .skip(skipped * 7)
            .map(|(index, downloads)| RegistryDay {
                day: (start + Duration::days(index as i64)).to_string(),
                downloads: *downloads,
            })
            .collect(),
        top_plugins: usage
            .top_plugins
            .get(weeks - 1)
            .into_iter()
            .flatten()
            .map(|plugin| TopPlugin {
                slug: plugin.slug.clone(),
                downloads: plugin.downloads,
            })
            .collect(),
    }
}

/// Every period's first day from `from` to `to`.
fn period_starts(granularity: Granularity, from: Date, to: Date) -> Vec<Date> {
    let mut starts = Vec::new();
    let mut start = granularity.period_of(from);
    while start <= to && starts.len() <= MAX_PERIODS {
        starts.push(start);
        start = granularity.next(start);
    }
    starts
}

/// The answer, from what was gathered.
fn lay_out(
    slug: &str,
    granularity: Granularity,
    from: Date,
    to: Date,
    periods: &[Date],
    gathered: Gathered,
) -> PluginAnalytics {
    let mut per_period: BTreeMap<Date, PeriodDownloads> = periods
        .iter()
        .map(|start| {
            (
                *start,
                PeriodDownloads {
                    start: start.to_string(),
                    downloads: 0,
                    versions: BTreeMap::new(),
                },
            )
        })
        .collect();
    let mut per_version: BTreeMap<PluginVersion, u64> = BTreeMap::new();
    for ((period, version), count) in gathered.by_period {
        if let Some(entry) = per_period.get_mut(&period) {
            entry.downloads += count;
            *entry.versions.entry(version.to_string()).or_default() += count;
        }
        *per_version.entry(version).or_default() += count;
    }
    let total: u64 = per_version.values().sum();
    let mut clients: Vec<ClientShare> = gathered
        .by_client
        .into_iter()
        .map(|(client, downloads)| ClientShare {
            client: client.label(),
            downloads,
            share: if total == 0 {
                0.0
            } else {
                downloads as f64 / total as f64
            },
        })
        .collect();
    clients.sort_by(|a, b| b.downloads.cmp(&a.downloads).then(a.client.cmp(&b.client)));
    PluginAnalytics {
        slug: slug.to_owned(),
        from: from.to_string(),
        to: to.to_string(),
        granularity,
        total,
        periods: per_period.into_values().collect(),
        versions: per_version
            .into_iter()
            .rev()
            .map(|(version, downloads)| VersionDownloads {
                version: version.to_string(),
                downloads,
            })
            .collect(),
        clients,
        instances: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn periods_start_on_days_mondays_and_firsts() {
        assert_eq!(
            Granularity::Week.period_of(date!(2026 - 12 - 03)),
            date!(2026 - 11 - 30)
        );
        assert_eq!(
            Granularity::Week.period_of(date!(2026 - 11 - 30)),
            date!(2026 - 11 - 30)
        );
        assert_eq!(
            Granularity::Month.period_of(date!(2026 - 12 - 31)),
            date!(2026 - 12 - 01)
        );
        assert_eq!(
            period_starts(
                Granularity::Week,
                date!(2026 - 11 - 18),
                date!(2026 - 12 - 01)
            ),
            [
                date!(2026 - 11 - 16),
                date!(2026 - 11 - 23),
                date!(2026 - 11 - 30)
            ]
        );
        assert_eq!(
            period_starts(
                Granularity::Day,
                date!(2026 - 12 - 01),
                date!(2026 - 12 - 01)
            )
            .len(),
            1
        );
        assert_eq!(
            Granularity::Month.default_from(date!(2026 - 03 - 15)),
            date!(2025 - 04 - 01),
            "twelve months, this one included"
        );
    }
}
