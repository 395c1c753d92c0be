//! `openworkflow review list|show|approve|reject`: versions held for review
//! (reviewers decide; owners follow their own).

use clap::Subcommand;
use registry_core::api::reviews::ReviewView;

use crate::output::Output;

use super::Context;
use super::failure::{Failure, exit};

#[derive(Debug, Subcommand)]
pub(super) enum ReviewCommand {
    /// What waits for a reviewer, the longest waiting first (a key with the
    /// `review` scope); with --plugin, one plugin's pending and rejected versions
    /// (its owners too).
    List {
        /// Only this plugin's reviews.
        #[arg(long)]
        plugin: Option<String>,
    },
    /// One review: its state, manifest, artifacts and, once rejected, why.
    Show {
        /// `slug@version`.
        id: String,
    },
    /// Publish a held version now.
    Approve {
        /// `slug@version`.
        id: String,
        /// A note for the audit log.
        #[arg(long)]
        comment: Option<String>,
    },
    /// Refuse a held version; its version string stays taken.
    Reject {
        /// `slug@version`.
        id: String,
        /// Why: the owners read it.
        #[arg(long)]
        comment: String,
    },
}

/// A review on one line, and its rejection's reason under it.
fn describe_review(review: &ReviewView) -> String {
    let follows = review
        .current_version
        .as_deref()
        .map_or_else(|| "a new plugin".to_owned(), |v| format!("after {v}"));
    let mut text = format!(
        "{}  {}  submitted {} by {} ({follows})",
        review.id, review.state, review.submitted_at, review.submitted_by
    );
    if let Some(decision) = &review.decision {
        text.push_str(&format!(
            "\n  rejected by {} at {}: {}",
            decision.decided_by,
            decision.decided_at,
            decision.comment.escape_debug()
        ));
    }
    text
}

/// The whole of one review, for `show`.
fn describe_in_full(review: &ReviewView) -> String {
    let manifest = &review.manifest;
    let mut lines = vec![
        describe_review(review),
        format!(
            "  {}: {}",
            manifest.name.escape_debug(),
            manifest.description.escape_debug()
        ),
        format!("  author {}", manifest.author.escape_debug()),
        format!(
            "  schema sha256:{} ({} bytes) {}",
            review.schema.sha256, review.schema.size, review.schema.url
        ),
    ];
    if let Some(bundle) = &review.bundle {
        lines.push(format!(
            "  bundle sha256:{} ({} bytes) {}",
            bundle.sha256, bundle.size, bundle.url
        ));
    }
    for check in &review.checks {
        let status = serde_json::to_value(check.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let mut line = format!("  check {} {status}", check.name.escape_debug());
        if let Some(url) = &check.url {
            line.push_str(&format!(" {}", url.escape_debug()));
        }
        if let Some(summary) = &check.summary {
            line.push_str(&format!(": {}", summary.escape_debug()));
        }
        lines.push(line);
    }
    lines.join("\n")
}

pub(super) async fn review(
    command: ReviewCommand,
    cx: &Context,
    out: &Output,
) -> Result<(), Failure> {
    let client = cx.client()?;
    match command {
        ReviewCommand::List { plugin } => {
            let list = client.reviews(plugin.as_deref()).await?;
            out.result(
                || {
                    if list.reviews.is_empty() {
                        "Nothing waits for review".to_owned()
                    } else {
                        list.reviews
                            .iter()
                            .map(describe_review)
                            .collect::<Vec<_>>()
                            .join("\n")
                    }
                },
                || &list,
            );
        }
        ReviewCommand::Show { id } => {
            let review = client.review(&id).await?;
            out.result(|| describe_in_full(&review), || &review);
        }
        ReviewCommand::Approve { id, comment } => {
            let outcome = client.decide_review(&id, true, comment.as_deref()).await?;
            out.result(
                || format!("Approved {id}: published at {}", outcome.url),
                || &outcome,
            );
        }
        ReviewCommand::Reject { id, comment } => {
            if comment.trim().is_empty() {
                return Err(Failure::new(
                    exit::USAGE,
                    "say why with --comment: the owners read it",
                ));
            }
            let outcome = client.decide_review(&id, false, Some(&comment)).await?;
            out.result(|| format!("Rejected {id}"), || &outcome);
        }
    }
    Ok(())
}
