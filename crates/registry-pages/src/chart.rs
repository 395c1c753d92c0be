//! A plugin's downloads per day as a small SVG bar chart, drawn by the download
//! roll-up and shown on the plugin's page with `<img>`.
//!
//! The chart is numbers and two dates, nothing a manifest wrote, and it uses
//! presentation attributes only (no `<style>`, no script), so the pages' CSP
//! holds for it too. Its colours read on a light and a dark background alike.

use std::fmt::Write;

use time::{Date, Duration};

/// Media type of a chart.
pub const SVG_CONTENT_TYPE: &str = "image/svg+xml";

/// Days a chart covers, ending with the day it is drawn.
pub const CHART_DAYS: u16 = 90;

const BAR_WIDTH: u32 = 4;
const WIDTH: u32 = BAR_WIDTH * CHART_DAYS as u32;
/// Height of the tallest bar; the dates sit below the bars.
const BARS_HEIGHT: u32 = 64;
const HEIGHT: u32 = BARS_HEIGHT + 18;
const BAR_COLOUR: &str = "#3b82f6";
const TEXT_COLOUR: &str = "#6b7280";

/// The first day a chart drawn on `last_day` shows.
pub fn chart_first_day(last_day: Date) -> Date {
    last_day - Duration::days(i64::from(CHART_DAYS) - 1)
}

/// The chart of `days` ((day, downloads) as the catalog counts them; days outside
/// the window are ignored) over the [`CHART_DAYS`] ending with `last_day`.
pub fn downloads_chart(days: &[(Date, u64)], last_day: Date) -> String {
    let first_day = chart_first_day(last_day);
    let shown: Vec<(u32, u64)> = days
        .iter()
        .filter(|(day, count)| *day >= first_day && *day <= last_day && *count > 0)
        .map(|(day, count)| {
            let offset = (*day - first_day).whole_days();
            (u32::try_from(offset).unwrap_or(0), *count)
        })
        .collect();
    let total: u64 = shown.iter().map(|(_, count)| count).sum();
    let most = shown.iter().map(|(_, count)| *count).max().unwrap_or(0);
    let summary = format!(
        "Downloads per day from {first_day} to {last_day}: {total} in all, at most {most} in one day"
    );

    let mut svg = String::with_capacity(256 + shown.len() * 64);
    // Writing to a String cannot fail.
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" \
         width=\"{WIDTH}\" height=\"{HEIGHT}\" role=\"img\" aria-label=\"{summary}\">\
         <title>{summary}</title>"
    );
    for (offset, count) in shown {
        // Scaled to the busiest day, and at least one pixel: a day with a
        // download never looks like a day without.
        let height = (u128::from(count) * u128::from(BARS_HEIGHT))
            .div_ceil(u128::from(most.max(1)))
            .clamp(1, u128::from(BARS_HEIGHT));
        let _ = write!(
            svg,
            "<rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{height}\" fill=\"{BAR_COLOUR}\"/>",
            x = offset * BAR_WIDTH,
            y = u128::from(BARS_HEIGHT) - height,
            w = BAR_WIDTH - 1,
        );
    }
    let _ = write!(
        svg,
        "<line x1=\"0\" y1=\"{BARS_HEIGHT}.5\" x2=\"{WIDTH}\" y2=\"{BARS_HEIGHT}.5\" stroke=\"{TEXT_COLOUR}\"/>\
         <text x=\"0\" y=\"{HEIGHT}\" dy=\"-4\" font-family=\"sans-serif\" font-size=\"11\" fill=\"{TEXT_COLOUR}\">{first_day}</text>\
         <text x=\"{WIDTH}\" y=\"{HEIGHT}\" dy=\"-4\" text-anchor=\"end\" font-family=\"sans-serif\" font-size=\"11\" fill=\"{TEXT_COLOUR}\">{last_day}</text>\
         </svg>"
    );
    svg
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use proptest::prelude::*;

    fn day(n: u16) -> Date {
        Date::from_ordinal_date(2026, n).unwrap()
    }

    #[test]
    fn a_chart_spans_ninety_days_ending_on_the_day_it_is_drawn() {
        assert_eq!(chart_first_day(day(100)), day(11));
        let svg = downloads_chart(&[(day(10), 7), (day(11), 2), (day(100), 4)], day(100));
        assert!(svg.contains("from 2026-01-11 to 2026-04-10: 6 in all, at most 4 in one day"));
        // The day before the window is not drawn; the first and last are.
        assert_eq!(svg.matches("<rect").count(), 2);
        assert!(svg.contains("<rect x=\"0\" y=\"32\" width=\"3\" height=\"32\""));
        assert!(svg.contains("<rect x=\"356\" y=\"0\" width=\"3\" height=\"64\""));
    }

    #[test]
    fn a_chart_without_downloads_has_no_bars() {
        let svg = downloads_chart(&[], day(100));
        assert_eq!(svg.matches("<rect").count(), 0);
        assert!(svg.contains("0 in all, at most 0 in one day"));
    }

    proptest! {
        #[test]
        fn every_day_with_downloads_in_the_window_is_one_bar_inside_the_chart(
            counts in proptest::collection::btree_map(1u16..=200, 0u64..1_000_000_000, 0..120),
        ) {
            let last = day(150);
            let days: Vec<(Date, u64)> = counts.iter().map(|(d, c)| (day(*d), *c)).collect();
            let svg = downloads_chart(&days, last);
            let in_window = days
                .iter()
                .filter(|(d, c)| *d >= chart_first_day(last) && *d <= last && *c > 0)
                .count();
            prop_assert_eq!(svg.matches("<rect").count(), in_window);
            for rect in svg.split("<rect").skip(1) {
                let attr = |name: &str| -> u32 {
                    rect.split(&format!(" {name}=\"")).nth(1).unwrap()
                        .split('"').next().unwrap().parse().unwrap()
                };
                prop_assert!(attr("height") >= 1 && attr("y") + attr("height") == BARS_HEIGHT);
                prop_assert!(attr("width") < BAR_WIDTH && attr("x") + attr("width") <= WIDTH);
            }
        }
    }
}
