//! `openworkflow plugin audit SLUG` (a plugin's owners) and `openworkflow audit`
//! (admins): the audit log, newest first.

use clap::Args;
use registry_core::api::audit::{AuditEntry, AuditLog};

use crate::output::Output;

use super::Context;
use super::failure::Failure;

/// Which page of the log.
#[derive(Debug, Args)]
pub(super) struct AuditPage {
    /// At most this many records (1 to 100).
    #[arg(long, default_value_t = 50)]
    limit: usize,
    /// Only records older than this one (the `next` a previous page printed).
    #[arg(long, value_name = "RECORD_ID")]
    before: Option<String>,
}

fn describe_entry(entry: &AuditEntry) -> String {
    let detail = entry.detail.to_string();
    format!(
        "{}  {:<20} {:<24} by {} ({}) with {} in {}{}",
        entry.at,
        entry.action.as_str(),
        entry.subject,
        entry.actor_name.escape_debug(),
        entry.actor,
        entry.credential.as_deref().unwrap_or("-"),
        entry.request_id.as_deref().unwrap_or("-"),
        if detail.is_empty() {
            String::new()
        } else {
            // Notes are people's words: nothing in them moves the terminal.
            format!(": {}", detail.escape_debug())
        }
    )
}

fn describe_log(log: &AuditLog) -> String {
    if log.records.is_empty() {
        return "No records".to_owned();
    }
    let mut lines: Vec<String> = log.records.iter().map(describe_entry).collect();
    if let Some(next) = &log.next_before {
        lines.push(format!("Older records: --before {next}"));
    }
    lines.join("\n")
}

/// Prints a page of `slug`'s log, or of the whole log.
pub(super) async fn audit(
    slug: Option<&str>,
    page: AuditPage,
    cx: &Context,
    out: &Output,
) -> Result<(), Failure> {
    let log = cx
        .client()?
        .audit(slug, page.before.as_deref(), Some(page.limit))
        .await?;
    out.result(|| describe_log(&log), || &log);
    Ok(())
}
