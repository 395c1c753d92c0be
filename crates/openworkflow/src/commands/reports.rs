//! `openworkflow plugin report` (anyone with a key) and `openworkflow report
//! list|resolve` (admins).

use clap::Subcommand;
use registry_core::api::moderation::{
    PluginReport, QuarantineRequest, ReportReason, ReportRequest,
};

use crate::output::Output;

use super::failure::{Failure, exit};
use super::{Context, split_plugin};

#[derive(Debug, Subcommand)]
pub(super) enum ReportCommand {
    /// The open reports, newest first (or every one, with --all).
    List {
        /// Resolved reports too.
        #[arg(long)]
        all: bool,
    },
    /// Hide a plugin (or `slug@version`) from every reader but its owners.
    Quarantine {
        /// `slug` or `slug@version`.
        plugin: String,
        /// Why: the owners read it.
        #[arg(long, required_unless_present = "lift")]
        reason: Option<String>,
        /// Lift the quarantine instead.
        #[arg(long, conflicts_with = "reason")]
        lift: bool,
    },
    /// Close a report, saying what was done.
    Resolve {
        /// The report's id (rpt_...).
        id: String,
        /// What was done, or why nothing was.
        #[arg(long)]
        note: String,
    },
}

/// Parses a reason as the API names it.
pub(super) fn parse_reason(raw: &str) -> Result<ReportReason, String> {
    serde_json::from_value(serde_json::Value::String(raw.to_owned())).map_err(|_| {
        format!("{raw:?} is not a reason: malware, spam, impersonation, abuse, license or other")
    })
}

fn describe_report(report: &PluginReport) -> String {
    let what = match &report.version {
        Some(version) => format!("{}@{version}", report.slug),
        None => report.slug.to_string(),
    };
    let mut text = format!(
        "{}  {what}  {} by {} at {}\n  {}",
        report.id,
        report.reason,
        report.reporter,
        report.created_at,
        report.details.escape_debug()
    );
    if let Some(resolution) = &report.resolution {
        text.push_str(&format!(
            "\n  resolved by {} at {}: {}",
            resolution.by,
            resolution.at,
            resolution.note.escape_debug()
        ));
    }
    text
}

/// Reports `spec` (`slug` or `slug@version`) to the admins.
pub(super) async fn report_plugin(
    spec: &str,
    reason: ReportReason,
    details: String,
    cx: &Context,
    out: &Output,
) -> Result<(), Failure> {
    let (slug, version) = split_plugin(spec)?;
    let report = cx
        .client()?
        .report_plugin(
            &slug,
            &ReportRequest {
                reason,
                details,
                version,
            },
        )
        .await?;
    out.result(
        || {
            format!(
                "Reported {spec} to the registry's admins as {}; your report is {}",
                report.reason, report.id
            )
        },
        || &report,
    );
    Ok(())
}

pub(super) async fn report(
    command: ReportCommand,
    cx: &Context,
    out: &Output,
) -> Result<(), Failure> {
    let client = cx.client()?;
    match command {
        ReportCommand::List { all } => {
            let list = client.reports(all).await?;
            out.result(
                || {
                    if list.reports.is_empty() {
                        "No reports".to_owned()
                    } else {
                        list.reports
                            .iter()
                            .map(describe_report)
                            .collect::<Vec<_>>()
                            .join("\n")
                    }
                },
                || &list,
            );
        }
        ReportCommand::Quarantine {
            plugin,
            reason,
            lift,
        } => {
            let (slug, version) = split_plugin(&plugin)?;
            let state = match (lift, reason) {
                (true, _) => client.lift_quarantine(&slug, version.as_deref()).await?,
                (false, reason) => {
                    let request = QuarantineRequest {
                        reason: reason.unwrap_or_default(),
                        version,
                    };
                    client.quarantine(&slug, &request).await?
                }
            };
            out.result(
                || match &state.quarantine {
                    Some(q) => format!("{plugin} is in quarantine: {}", q.reason.escape_debug()),
                    None => format!("{plugin} is out of quarantine"),
                },
                || &state,
            );
        }
        ReportCommand::Resolve { id, note } => {
            if note.trim().is_empty() {
                return Err(Failure::new(exit::USAGE, "say what was done with --note"));
            }
            let report = client.resolve_report(&id, &note).await?;
            out.result(|| describe_report(&report), || &report);
        }
    }
    Ok(())
}
