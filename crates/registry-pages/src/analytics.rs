//! A plugin's analytics as a page, for its owners: downloads over time as a
//! stacked bar chart (one bar a period, one colour a version), and each version's
//! and client's share. Rendered per request behind sign-in, never stored in the
//! index.
//!
//! The chart is inline SVG drawn from numbers, dates and version strings (which
//! the registry validated as semver), with presentation attributes only, so the
//! pages' CSP holds for it; it is still escaped like everything else.

use std::fmt::Write;

use askama::Template;
use registry_core::api::analytics::{Granularity, PeriodInstances, PluginAnalytics};

use crate::RenderError;
use crate::site::{Chrome, Site};

/// Versions with a colour of their own; the rest share the last colour.
const NAMED_VERSIONS: usize = 6;
/// One colour a named version, then one for the rest (readable on light and dark).
const COLOURS: [&str; NAMED_VERSIONS + 1] = [
    "#2563eb", "#16a34a", "#d97706", "#9333ea", "#dc2626", "#0891b2", "#6b7280",
];
const BARS_HEIGHT: u32 = 120;
const HEIGHT: u32 = BARS_HEIGHT + 18;
const TEXT_COLOUR: &str = "#6b7280";

/// A series in the chart: a version, or the versions without a colour of their own.
struct Series {
    label: String,
    colour: &'static str,
    downloads: u64,
    share: String,
}

struct ClientRow {
    client: String,
    downloads: u64,
    share: String,
}

struct PeriodRow {
    start: String,
    downloads: u64,
}

/// A range the page links to.
struct RangeLink {
    label: &'static str,
    url: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "analytics.html")]
struct AnalyticsPage<'a> {
    chrome: Chrome<'a>,
    slug: &'a str,
    plugin_url: String,
    account_url: String,
    from: &'a str,
    to: &'a str,
    unit: &'static str,
    total: u64,
    chart: String,
    series: Vec<Series>,
    clients: Vec<ClientRow>,
    periods: Vec<PeriodRow>,
    instances: &'a [PeriodInstances],
    ranges: Vec<RangeLink>,
}

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "0%".to_owned();
    }
    format!("{:.1}%", part as f64 * 100.0 / whole as f64)
}

/// Text safe inside SVG markup (versions and dates never need it; it is cheap).
fn escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The series of `analytics`: its busiest versions by name, the rest together.
fn series_of(analytics: &PluginAnalytics) -> (Vec<Series>, Vec<String>) {
    let mut by_downloads: Vec<(&str, u64)> = analytics
        .versions
        .iter()
        .map(|v| (v.version.as_str(), v.downloads))
        .collect();
    by_downloads.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let named: Vec<String> = by_downloads
        .iter()
        .take(NAMED_VERSIONS)
        .map(|(v, _)| (*v).to_owned())
        .collect();
    let mut series: Vec<Series> = by_downloads
        .iter()
        .take(NAMED_VERSIONS)
        .zip(COLOURS)
        .map(|((version, downloads), colour)| Series {
            label: (*version).to_owned(),
            colour,
            downloads: *downloads,
            share: percent(*downloads, analytics.total),
        })
        .collect();
    let rest: u64 = by_downloads
        .iter()
        .skip(NAMED_VERSIONS)
        .map(|(_, d)| d)
        .sum();
    if by_downloads.len() > NAMED_VERSIONS {
        series.push(Series {
            label: format!("{} other versions", by_downloads.len() - NAMED_VERSIONS),
            colour: COLOURS[NAMED_VERSIONS],
            downloads: rest,
            share: percent(rest, analytics.total),
        });
    }
    (series, named)
}

/// The stacked bar chart: one `<g data-period>` a period (every period, empty
/// ones too), one `<rect>` a series with downloads in it, busiest series lowest.
pub fn stacked_chart(analytics: &PluginAnalytics) -> String {
    let (series, named) = series_of(analytics);
    let periods = &analytics.periods;
    let bar_width: u32 = if periods.len() <= 60 { 8 } else { 4 };
    let width = bar_width * u32::try_from(periods.len()).unwrap_or(0).max(1);
    let busiest = periods
        .iter()
        .map(|p| p.downloads)
        .max()
        .unwrap_or(0)
        .max(1);
    let summary = format!(
        "Downloads of {} per {} from {} to {}: {} in all",
        analytics.slug,
        analytics.granularity.as_str(),
        analytics.from,
        analytics.to,
        analytics.total
    );
    let mut svg = String::with_capacity(512 + periods.len() * 160);
    // Writing to a String cannot fail.
    let _ = write!(
        svg,
        "<svg class=\"downloads-chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {HEIGHT}\" \
         width=\"{width}\" height=\"{HEIGHT}\" role=\"img\" aria-label=\"{label}\"><title>{label}</title>",
        label = escaped(&summary)
    );
    for (index, period) in periods.iter().enumerate() {
        let x = u32::try_from(index).unwrap_or(0) * bar_width;
        let _ = write!(
            svg,
            "<g data-period=\"{start}\" data-downloads=\"{downloads}\"><title>{start}: {downloads} downloads</title>",
            start = escaped(&period.start),
            downloads = period.downloads
        );
        // Stack from the bottom, in the legend's order.
        let mut segments: Vec<(u64, &'static str)> = series
            .iter()
            .take(NAMED_VERSIONS)
            .map(|s| {
                (
                    period.versions.get(&s.label).copied().unwrap_or(0),
                    s.colour,
                )
            })
            .collect();
        let rest: u64 = period
            .versions
            .iter()
            .filter(|(v, _)| !named.contains(v))
            .map(|(_, d)| d)
            .sum();
        segments.push((rest, COLOURS[NAMED_VERSIONS]));
        let mut below = 0u64;
        for (count, colour) in segments {
            if count == 0 {
                continue;
            }
            let scaled = |n: u64| {
                u32::try_from(u128::from(n) * u128::from(BARS_HEIGHT) / u128::from(busiest))
                    .unwrap_or(BARS_HEIGHT)
            };
            let bottom = BARS_HEIGHT - scaled(below);
            let top = BARS_HEIGHT - scaled(below + count);
            // At least one pixel: a version downloaded never vanishes.
            let height = (bottom - top).max(1);
            let _ = write!(
                svg,
                "<rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{height}\" fill=\"{colour}\"/>",
                y = bottom - height,
                w = bar_width - 1,
            );
            below += count;
        }
        svg.push_str("</g>");
    }
    let last = periods.last().map(|p| p.start.as_str()).unwrap_or("");
    let first = periods.first().map(|p| p.start.as_str()).unwrap_or("");
    let _ = write!(
        svg,
        "<line x1=\"0\" y1=\"{BARS_HEIGHT}.5\" x2=\"{width}\" y2=\"{BARS_HEIGHT}.5\" stroke=\"{TEXT_COLOUR}\"/>\
         <text x=\"0\" y=\"{HEIGHT}\" dy=\"-4\" font-family=\"sans-serif\" font-size=\"11\" fill=\"{TEXT_COLOUR}\">{first}</text>\
         <text x=\"{width}\" y=\"{HEIGHT}\" dy=\"-4\" text-anchor=\"end\" font-family=\"sans-serif\" font-size=\"11\" fill=\"{TEXT_COLOUR}\">{last}</text></svg>",
        first = escaped(first),
        last = escaped(last)
    );
    svg
}

/// The page of `analytics`, one of `slug`'s ranges.
pub fn analytics_page(site: &Site, analytics: &PluginAnalytics) -> Result<String, RenderError> {
    let slug = analytics.slug.as_str();
    let (series, _) = series_of(analytics);
    let page_url = site.plugin_analytics_page_url(slug);
    let ranges = [
        ("Last 30 days", "", Granularity::Day, 30usize),
        ("Last 90 days", "?days=90", Granularity::Day, 90),
        ("Last 12 weeks", "?granularity=week", Granularity::Week, 12),
        (
            "Last 12 months",
            "?granularity=month",
            Granularity::Month,
            12,
        ),
    ]
    .into_iter()
    .map(|(label, query, granularity, periods)| RangeLink {
        label,
        url: format!("{page_url}{query}"),
        current: analytics.granularity == granularity && analytics.periods.len() == periods,
    })
    .collect();
    AnalyticsPage {
        chrome: Chrome::new(
            site,
            format!("Downloads of {slug} · OpenWorkflow plugins"),
            String::new(),
        ),
        slug,
        plugin_url: site.plugin_url(slug),
        account_url: site.account_url(),
        from: &analytics.from,
        to: &analytics.to,
        unit: analytics.granularity.as_str(),
        total: analytics.total,
        chart: stacked_chart(analytics),
        series,
        clients: analytics
            .clients
            .iter()
            .map(|c| ClientRow {
                client: c.client.clone(),
                downloads: c.downloads,
                share: percent(c.downloads, analytics.total),
            })
            .collect(),
        periods: analytics
            .periods
            .iter()
            .map(|p| PeriodRow {
                start: p.start.clone(),
                downloads: p.downloads,
            })
            .collect(),
        instances: &analytics.instances,
        ranges,
    }
    .render()
    .map_err(RenderError::of("analytics"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::BTreeMap;

    use registry_core::api::analytics::{PeriodDownloads, VersionDownloads};

    use super::*;

    fn analytics(periods: &[&[(&str, u64)]]) -> PluginAnalytics {
        let mut totals: BTreeMap<String, u64> = BTreeMap::new();
        let periods: Vec<PeriodDownloads> = periods
            .iter()
            .enumerate()
            .map(|(day, versions)| {
                let versions: BTreeMap<String, u64> = versions
                    .iter()
                    .map(|(v, n)| ((*v).to_owned(), *n))
                    .collect();
                for (v, n) in &versions {
                    *totals.entry(v.clone()).or_default() += n;
                }
                PeriodDownloads {
                    start: format!("2026-11-{:02}", day + 1),
                    downloads: versions.values().sum(),
                    versions,
                }
            })
            .collect();
        PluginAnalytics {
            slug: "weather".to_owned(),
            from: "2026-11-01".to_owned(),
            to: format!("2026-11-{:02}", periods.len()),
            granularity: Granularity::Day,
            total: totals.values().sum(),
            periods,
            versions: totals
                .into_iter()
                .rev()
                .map(|(version, downloads)| VersionDownloads { version, downloads })
                .collect(),
            clients: Vec::new(),
            instances: Vec::new(),
        }
    }

    #[test]
    fn every_period_is_a_bar_and_every_version_in_it_a_segment() {
        let chart = stacked_chart(&analytics(&[
            &[("1.0.0", 3), ("1.1.0", 1)],
            &[],
            &[("1.1.0", 8)],
        ]));
        assert_eq!(chart.matches("<g data-period=").count(), 3);
        assert_eq!(chart.matches("<rect").count(), 3);
        assert!(chart.contains("<g data-period=\"2026-11-02\" data-downloads=\"0\">"));
        // The busiest period is the full height; its one version fills it.
        assert!(chart.contains("<rect x=\"16\" y=\"0\" width=\"7\" height=\"120\""));
    }

    #[test]
    fn versions_past_six_share_one_colour() {
        let day: Vec<(String, u64)> = (0..9).map(|n| (format!("1.{n}.0"), 10 - n)).collect();
        let day: Vec<(&str, u64)> = day.iter().map(|(v, n)| (v.as_str(), *n)).collect();
        let analytics = analytics(&[&day]);
        let (series, named) = series_of(&analytics);
        assert_eq!(named.len(), 6);
        assert_eq!(series.len(), 7);
        assert_eq!(series[6].label, "3 other versions");
        assert_eq!(series[6].downloads, 2 + 3 + 4);
        // Six named segments and one for the rest.
        assert_eq!(stacked_chart(&analytics).matches("<rect").count(), 7);
    }

    #[test]
    fn healthy_instances_get_a_table_only_when_there_are_any() {
        let site = Site::new("https://registry.example.org");
        let mut figures = analytics(&[&[("1.0.0", 1)]]);
        let page = analytics_page(&site, &figures).unwrap();
        assert!(!page.contains("class=\"instances\""));
        figures.instances = vec![PeriodInstances {
            start: "2026-11-01".to_owned(),
            lowest: 1,
            highest: 3,
        }];
        let page = analytics_page(&site, &figures).unwrap();
        assert!(
            page.contains("<tr><td>2026-11-01</td><td>1</td><td>3</td></tr>"),
            "{page}"
        );
    }
}
