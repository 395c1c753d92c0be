//! Progress bars for schema and bundle transfers, drawn on stderr when it is a
//! terminal (and never in `--json` or `--quiet` mode).

use std::collections::HashMap;
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use openworkflow::client::{Direction, ProgressSink};

/// One bar per transfer in flight.
#[derive(Debug, Default)]
pub struct ProgressBars {
    bars: MultiProgress,
    active: Mutex<HashMap<String, ProgressBar>>,
}

impl ProgressSink for ProgressBars {
    fn started(&self, what: &str, direction: Direction, total: Option<u64>) {
        let bar = match total {
            Some(total) => ProgressBar::new(total).with_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            ),
            None => ProgressBar::new_spinner(),
        };
        let arrow = match direction {
            Direction::Download => "↓",
            Direction::Upload => "↑",
        };
        let bar = self.bars.add(bar.with_prefix(format!("{arrow} {what}")));
        let previous = self
            .active
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(what.to_owned(), bar);
        // A retried transfer starts again: its old bar goes.
        if let Some(old) = previous {
            old.finish_and_clear();
        }
    }

    fn advanced(&self, what: &str, bytes: u64) {
        if let Some(bar) = self
            .active
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(what)
        {
            bar.inc(bytes);
        }
    }

    fn finished(&self, what: &str) {
        if let Some(bar) = self
            .active
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(what)
        {
            bar.finish_and_clear();
        }
    }
}
