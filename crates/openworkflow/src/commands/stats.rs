//! `openworkflow plugin stats SLUG [--days N] [--json]`: a plugin's downloads as a
//! terminal chart, one bar a day, with the figures beside it; `--json` prints the
//! API's answer as it came.

use registry_core::api::analytics::{Granularity, PluginAnalytics};
use registry_core::timestamp::{Clock, SystemClock};

use crate::output::Output;

use super::Context;
use super::failure::Failure;

/// The eight heights a day's bar can have; a day without downloads has none.
const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// Width of the share bars beside versions and clients.
const SHARE_WIDTH: u64 = 20;

/// Versions and clients listed; the rest are summed on one line.
const LISTED: usize = 8;

/// One bar per value, scaled to the largest: a sparkline.
pub(crate) fn sparkline(values: &[u64]) -> String {
    let peak = values.iter().copied().max().unwrap_or(0);
    values
        .iter()
        .map(|&value| {
            if value == 0 || peak == 0 {
                ' '
            } else {
                // 1..=8 of 8, never 0 for a day with a download.
                let level = (value * 8).div_ceil(peak).clamp(1, 8);
                BARS[usize::try_from(level - 1).unwrap_or(0)]
            }
        })
        .collect()
}

/// A bar `SHARE_WIDTH` long at most, for `part` of `whole`.
fn share_bar(part: u64, whole: u64) -> String {
    if whole == 0 {
        return String::new();
    }
    let width = (part * SHARE_WIDTH).div_ceil(whole).min(SHARE_WIDTH);
    "█".repeat(usize::try_from(width).unwrap_or(0))
}

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "-".to_owned();
    }
    format!("{:.0}%", part as f64 * 100.0 / whole as f64)
}

/// `(label, downloads)` rows, the first few by name and the rest summed.
fn table(title: &str, rows: Vec<(String, u64)>, total: u64) -> Vec<String> {
    let mut lines = vec![title.to_owned()];
    let width = rows
        .iter()
        .take(LISTED)
        .map(|(l, _)| l.len())
        .max()
        .unwrap_or(0);
    for (label, downloads) in rows.iter().take(LISTED) {
        lines.push(format!(
            "  {label:<width$}  {downloads:>8}  {:<bar$}  {}",
            share_bar(*downloads, total),
            percent(*downloads, total),
            bar = usize::try_from(SHARE_WIDTH).unwrap_or(20),
        ));
    }
    if rows.len() > LISTED {
        let rest: u64 = rows.iter().skip(LISTED).map(|(_, d)| d).sum();
        lines.push(format!(
            "  ({} more: {rest} downloads, {})",
            rows.len() - LISTED,
            percent(rest, total)
        ));
    }
    lines
}

/// The chart and figures, for a person.
pub(crate) fn describe(analytics: &PluginAnalytics) -> String {
    let daily: Vec<u64> = analytics.periods.iter().map(|p| p.downloads).collect();
    let days = daily.len();
    let mut lines = vec![format!(
        "{}: {} downloads in the {days} days {} to {}",
        analytics.slug, analytics.total, analytics.from, analytics.to
    )];
    let chart = sparkline(&daily);
    lines.push(format!("  {chart}"));
    let last = analytics
        .periods
        .last()
        .map(|p| p.start.as_str())
        .unwrap_or("");
    let gap = days
        .saturating_sub(analytics.from.len() + last.len())
        .max(1);
    lines.push(format!("  {}{}{last}", analytics.from, " ".repeat(gap)));
    if let Some(peak) = analytics.periods.iter().max_by_key(|p| p.downloads)
        && peak.downloads > 0
    {
        lines.push(format!(
            "  peak {} on {}, {:.1} a day on average",
            peak.downloads,
            peak.start,
            analytics.total as f64 / days.max(1) as f64
        ));
    }
    if analytics.total > 0 {
        lines.push(String::new());
        lines.extend(table(
            "Versions",
            analytics
                .versions
                .iter()
                .map(|v| (v.version.clone(), v.downloads))
                .collect(),
            analytics.total,
        ));
        lines.push(String::new());
        lines.extend(table(
            "Clients",
            analytics
                .clients
                .iter()
                .map(|c| (c.client.clone(), c.downloads))
                .collect(),
            analytics.total,
        ));
    }
    if let (Some(first), Some(last)) = (analytics.instances.first(), analytics.instances.last()) {
        let fewest = analytics.instances.iter().map(|p| p.lowest).min();
        let most = analytics.instances.iter().map(|p| p.highest).max();
        lines.push(String::new());
        lines.push(format!(
            "Healthy router instances from {} to {}: {} at the fewest, {} at the most",
            first.start,
            last.start,
            fewest.unwrap_or(0),
            most.unwrap_or(0)
        ));
    }
    lines.join("\n")
}

/// Prints `slug`'s downloads over the last `days` days (today included).
pub(super) async fn stats(
    slug: &str,
    days: u16,
    cx: &Context,
    out: &Output,
) -> Result<(), Failure> {
    let today = SystemClock.now().day();
    // A range of `days` days that ends today.
    let from = today - time::Duration::days(i64::from(days.max(1)) - 1);
    let analytics = cx
        .client()?
        .plugin_analytics(
            slug,
            Some(&from.to_string()),
            Some(&today.to_string()),
            Granularity::Day,
        )
        .await?;
    out.result(|| describe(&analytics), || &analytics);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sparkline_scales_to_the_peak_and_leaves_empty_days_blank() {
        assert_eq!(sparkline(&[0, 1, 4, 8, 2]), " ▁▄█▂");
        assert_eq!(sparkline(&[0, 0]), "  ");
        assert_eq!(sparkline(&[1, 1000]), "▁█", "a single download still shows");
    }

    #[test]
    fn shares_are_bars_and_percentages() {
        assert_eq!(share_bar(1, 2), "█".repeat(10));
        assert_eq!(percent(1, 3), "33%");
        let rows: Vec<(String, u64)> = (0..10).map(|n| (format!("1.{n}.0"), 1)).collect();
        let lines = table("Versions", rows, 10);
        assert_eq!(lines.len(), 1 + LISTED + 1);
        assert_eq!(
            lines.last().map(String::as_str),
            Some("  (2 more: 2 downloads, 20%)")
        );
    }

    #[test]
    fn healthy_instances_are_summed_up_under_the_downloads() {
        use registry_core::api::analytics::PeriodInstances;
        let instances = |list: &[(&str, u32, u32)]| {
            list.iter()
                .map(|(start, lowest, highest)| PeriodInstances {
                    start: (*start).to_owned(),
                    lowest: *lowest,
                    highest: *highest,
                })
                .collect()
        };
        let mut analytics = PluginAnalytics {
            slug: "weather".to_owned(),
            from: "2026-03-02".to_owned(),
            to: "2026-03-03".to_owned(),
            granularity: Granularity::Day,
            total: 0,
            periods: Vec::new(),
            versions: Vec::new(),
            clients: Vec::new(),
            instances: Vec::new(),
        };
        assert!(!describe(&analytics).contains("router"), "none, no line");
        analytics.instances = instances(&[("2026-03-02", 2, 3), ("2026-03-03", 1, 2)]);
        assert!(
            describe(&analytics).ends_with(
                "Healthy router instances from 2026-03-02 to 2026-03-03: 1 at the fewest, 3 at the most"
            ),
            "{}",
            describe(&analytics)
        );
    }
}
