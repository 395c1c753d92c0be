//! The registry's usage as a whole, for its admins and analysts: publishes, new
//! plugins and downloads per week over the last [`USAGE_WEEKS`] weeks, downloads
//! per day, and the busiest plugins.
//!
//! A [`RegistryUsageTally`] is fed the facts (each plugin's downloads per day, each
//! publish, each new plugin) and folds them into a [`RegistryUsage`]: the SQL
//! stores tally on every read, DynamoDB once per roll-up, from the scan the roll-up
//! makes anyway, and keeps the result as one item. Either way the figures are the
//! same for the same facts.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use time::{Date, Duration};

use crate::api::analytics::Granularity;

/// Weeks the registry's usage covers: the current (partial) week and the eleven
/// before it, which every retention (at least 90 days) keeps whole.
pub const USAGE_WEEKS: usize = 12;

/// Plugins named among the busiest for each span.
pub const TOP_PLUGINS: usize = 20;

/// One plugin's downloads over a span.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginDownloads {
    /// The plugin.
    pub slug: String,
    /// Its downloads in the span.
    pub downloads: u64,
}

/// One week's activity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeekUsage {
    /// Versions published (every version counts, the first of a plugin included).
    pub publishes: u64,
    /// Plugins created.
    pub new_plugins: u64,
    /// Downloads of every plugin.
    pub downloads: u64,
}

/// The registry's usage up to a day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryUsage {
    /// The last day counted.
    #[serde(with = "day_text")]
    pub as_of: Date,
    /// Each of the [`USAGE_WEEKS`] weeks up to `as_of`, oldest first; the first
    /// starts on [`usage_start`] of `as_of`.
    pub weeks: Vec<WeekUsage>,
    /// Downloads on each day from [`usage_start`] to `as_of`, in order.
    pub daily_downloads: Vec<u64>,
    /// `top_plugins[k - 1]`: the busiest plugins over the last `k` weeks, most
    /// downloads first (ties by slug), at most [`TOP_PLUGINS`].
    pub top_plugins: Vec<Vec<PluginDownloads>>,
}

/// The first day counted in the usage up to `as_of`: the Monday [`USAGE_WEEKS`]
/// minus one weeks before `as_of`'s week.
pub fn usage_start(as_of: Date) -> Date {
    Granularity::Week.period_of(as_of) - Duration::weeks(USAGE_WEEKS as i64 - 1)
}

/// Folds facts into a [`RegistryUsage`]; facts outside its days are ignored, so a
/// store may hand over more than it needs.
#[derive(Debug, Clone)]
pub struct RegistryUsageTally {
    as_of: Date,
    start: Date,
    weeks: Vec<WeekUsage>,
    daily: Vec<u64>,
    /// Each plugin's downloads per week.
    plugins: HashMap<String, [u64; USAGE_WEEKS]>,
}

impl RegistryUsageTally {
    /// An empty tally of the weeks up to `as_of`.
    pub fn new(as_of: Date) -> Self {
        let start = usage_start(as_of);
        let days = (as_of - start).whole_days() as usize + 1;
        Self {
            as_of,
            start,
            weeks: vec![WeekUsage::default(); USAGE_WEEKS],
            daily: vec![0; days],
            plugins: HashMap::new(),
        }
    }

    /// The first day it counts (facts before it may be left out).
    pub fn start(&self) -> Date {
        self.start
    }

    /// The day's index, when the tally counts it.
    fn day_index(&self, day: Date) -> Option<usize> {
        (self.start..=self.as_of)
            .contains(&day)
            .then(|| (day - self.start).whole_days() as usize)
    }

    /// Adds a plugin's downloads on a day.
    pub fn add_downloads(&mut self, slug: &str, day: Date, count: u64) {
        let Some(index) = self.day_index(day) else {
            return;
        };
        self.daily[index] += count;
        self.weeks[index / 7].downloads += count;
        self.plugins
            .entry(slug.to_owned())
            .or_insert([0; USAGE_WEEKS])[index / 7] += count;
    }

    /// Adds a version published on `day`.
    pub fn add_publish(&mut self, day: Date) {
        if let Some(index) = self.day_index(day) {
            self.weeks[index / 7].publishes += 1;
        }
    }

    /// Adds a plugin created on `day`.
    pub fn add_new_plugin(&mut self, day: Date) {
        if let Some(index) = self.day_index(day) {
            self.weeks[index / 7].new_plugins += 1;
        }
    }

    /// The usage tallied.
    pub fn finish(self) -> RegistryUsage {
        let top_plugins = (1..=USAGE_WEEKS)
            .map(|span| {
                let mut busiest: Vec<PluginDownloads> = self
                    .plugins
                    .iter()
                    .map(|(slug, weeks)| PluginDownloads {
                        slug: slug.clone(),
                        downloads: weeks[USAGE_WEEKS - span..].iter().sum(),
                    })
                    .filter(|plugin| plugin.downloads > 0)
                    .collect();
                busiest.sort_by(|a, b| b.downloads.cmp(&a.downloads).then(a.slug.cmp(&b.slug)));
                busiest.truncate(TOP_PLUGINS);
                busiest
            })
            .collect();
        RegistryUsage {
            as_of: self.as_of,
            weeks: self.weeks,
            daily_downloads: self.daily,
            top_plugins,
        }
    }
}

/// A `Date` as `YYYY-MM-DD` in serde.
mod day_text {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::Date;

    pub fn serialize<S: Serializer>(day: &Date, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(day)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Date, D::Error> {
        let raw = String::deserialize(deserializer)?;
        crate::timestamp::parse_day(&raw)
            .ok_or_else(|| serde::de::Error::custom(format!("{raw:?} is not a day (YYYY-MM-DD)")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn weeks_start_on_mondays_and_end_on_the_day() {
        // Thursday 2026-12-03: its week began on Monday 30 November.
        let as_of = date!(2026 - 12 - 03);
        assert_eq!(usage_start(as_of), date!(2026 - 09 - 14));
        let mut tally = RegistryUsageTally::new(as_of);
        tally.add_downloads("weather", date!(2026 - 09 - 13), 100);
        tally.add_downloads("weather", date!(2026 - 09 - 14), 1);
        tally.add_downloads("weather", date!(2026 - 12 - 03), 2);
        tally.add_downloads("weather", date!(2026 - 12 - 04), 100);
        tally.add_downloads("maps", date!(2026 - 11 - 29), 5);
        tally.add_publish(date!(2026 - 11 - 30));
        tally.add_publish(date!(2026 - 11 - 30));
        tally.add_new_plugin(date!(2026 - 11 - 30));
        tally.add_new_plugin(date!(2026 - 09 - 13));
        let usage = tally.finish();
        assert_eq!(usage.daily_downloads.len(), 11 * 7 + 4);
        assert_eq!(
            usage.daily_downloads.iter().sum::<u64>(),
            8,
            "days outside dropped"
        );
        assert_eq!(usage.daily_downloads[0], 1);
        assert_eq!(usage.weeks[0].downloads, 1);
        assert_eq!(usage.weeks[10].downloads, 5, "Sunday 29 Nov ends week 11");
        assert_eq!(
            usage.weeks[11],
            WeekUsage {
                publishes: 2,
                new_plugins: 1,
                downloads: 2
            }
        );
        let top = |k: usize| -> Vec<(String, u64)> {
            usage.top_plugins[k - 1]
                .iter()
                .map(|p| (p.slug.clone(), p.downloads))
                .collect()
        };
        assert_eq!(top(1), [("weather".to_owned(), 2)], "this week only");
        assert_eq!(
            top(2),
            [("maps".to_owned(), 5), ("weather".to_owned(), 2)],
            "the last two weeks"
        );
        assert_eq!(top(12), [("maps".to_owned(), 5), ("weather".to_owned(), 3)]);
        let stored = serde_json::to_string(&usage).unwrap();
        assert!(stored.starts_with(r#"{"as_of":"2026-12-03""#), "{stored}");
        assert_eq!(
            serde_json::from_str::<RegistryUsage>(&stored).unwrap(),
            usage
        );
    }

    #[test]
    fn only_the_twenty_busiest_are_named() {
        let as_of = date!(2026 - 12 - 03);
        let mut tally = RegistryUsageTally::new(as_of);
        for n in 0..30u64 {
            tally.add_downloads(&format!("plugin-{n:02}"), as_of, n + 1);
        }
        let usage = tally.finish();
        assert_eq!(usage.top_plugins[0].len(), TOP_PLUGINS);
        assert_eq!(usage.top_plugins[0][0].slug, "plugin-29");
        assert_eq!(usage.top_plugins[0][19].slug, "plugin-10");
    }
}
