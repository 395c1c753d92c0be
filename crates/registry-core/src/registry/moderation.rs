//! Reporting a plugin to the admins, and the admins' side: the list of
//! reports and closing each one.

use std::sync::Arc;

use super::Registry;
use super::contention::RaceRetry;
use super::read::parse_version;
use crate::audit::{AuditAction, AuditDetail, AuditSubject};
use crate::auth::{Caller, Scope};
use crate::error::RegistryError;
use crate::moderation::{
    MAX_REPORT_DETAILS, MAX_REPORT_PAGE, MAX_RESOLUTION_NOTE, PluginReport, Quarantine, ReportId,
    ReportReason, Resolution,
};
use crate::rate_limit::LimitedAction;
use crate::store::{Conflict, ReportStore, StorageError, VersionChange};

/// What a reporter says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReport {
    /// The version, if the report is about one.
    pub version: Option<String>,
    /// Why.
    pub reason: ReportReason,
    /// What they saw.
    pub details: String,
}

/// Whether `text` is 1 to `max` characters with no control character but
/// newlines and tabs: what a person writes in a form.
fn is_written_text(text: &str, max: usize) -> bool {
    let count = text.chars().count();
    (1..=max).contains(&count)
        && text
            .chars()
            .all(|c| !c.is_control() || matches!(c, '\n' | '\t' | '\r'))
}

impl Registry {
    /// Keeps reports of plugins in `store`.
    #[must_use]
    pub fn with_reports(mut self, store: Arc<dyn ReportStore>) -> Self {
        self.reports = Some(store);
        self
    }

    fn report_store(&self) -> Result<&Arc<dyn ReportStore>, RegistryError> {
        self.reports
            .as_ref()
            .ok_or(RegistryError::ReportsUnavailable)
    }

    /// Reports `slug` (or one of its versions) to the admins: any principal
    /// with a key or a session, within its rate limit.
    pub async fn report_plugin(
        &self,
        caller: &Caller,
        slug: &str,
        report: NewReport,
    ) -> Result<PluginReport, RegistryError> {
        let store = self.report_store()?;
        self.authorize_read(Some(caller))?;
        let details = report.details.trim();
        if !is_written_text(details, MAX_REPORT_DETAILS) {
            return Err(RegistryError::invalid_field(
                "details",
                format!(
                    "say what is wrong in 1 to {MAX_REPORT_DETAILS} characters (no control characters)"
                ),
            ));
        }
        let plugin = self.find_plugin(slug).await?;
        let version = match report.version.as_deref() {
            None => None,
            Some(raw) => {
                let version = parse_version(raw)?;
                if !plugin.versions.iter().any(|v| v.version == version) {
                    return Err(RegistryError::VersionNotFound {
                        slug: plugin.slug.to_string(),
                        version: version.to_string(),
                    });
                }
                Some(version)
            }
        };
        self.take_allowance(caller, LimitedAction::Report).await?;
        let stored = PluginReport {
            id: ReportId::generate()?,
            slug: plugin.slug,
            version,
            reason: report.reason,
            details: details.to_owned(),
            reporter: caller.principal.clone(),
            created_at: self.clock.now(),
            resolution: None,
        };
        store.insert_report(&stored).await?;
        tracing::info!(report = %stored.id, slug = %stored.slug, reason = %stored.reason, "plugin reported");
        Ok(stored)
    }

    /// The reports, newest first: the open ones, or every one (admins).
    pub async fn list_reports(
        &self,
        caller: &Caller,
        open_only: bool,
        limit: Option<usize>,
    ) -> Result<Vec<PluginReport>, RegistryError> {
        super::require_scope(Some(caller), Scope::Admin)?;
        let limit = limit.unwrap_or(MAX_REPORT_PAGE);
        if !(1..=MAX_REPORT_PAGE).contains(&limit) {
            return Err(RegistryError::InvalidParameter {
                name: "limit",
                detail: format!("{limit} is not 1 to {MAX_REPORT_PAGE}"),
            });
        }
        Ok(self.report_store()?.reports(open_only, limit).await?)
    }

    /// Closes an open report, saying what was done (admins).
    pub async fn resolve_report(
        &self,
        caller: &Caller,
        id: &str,
        note: &str,
    ) -> Result<PluginReport, RegistryError> {
        super::require_scope(Some(caller), Scope::Admin)?;
        let store = self.report_store()?;
        let note = note.trim();
        if !is_written_text(note, MAX_RESOLUTION_NOTE) {
            return Err(RegistryError::invalid_field(
                "note",
                format!("say what was done in 1 to {MAX_RESOLUTION_NOTE} characters"),
            ));
        }
        let not_found = || RegistryError::ReportNotFound { id: id.to_owned() };
        let id = ReportId::parse(id).ok_or_else(not_found)?;
        let report = store.report(&id).await?.ok_or_else(not_found)?;
        let resolution = Resolution {
            by: caller.principal.clone(),
            at: self.clock.now(),
            note: note.to_owned(),
        };
        match store.resolve_report(&id, &resolution).await {
            Ok(()) => {}
            // Closed since it was read (or just before): say so, change nothing.
            Err(StorageError::Conflict(Conflict::Missing)) => {
                return Err(RegistryError::ReportResolved { id: id.to_string() });
            }
            Err(other) => return Err(other.into()),
        }
        tracing::info!(report = %id, principal = %caller.principal, "report resolved");
        Ok(PluginReport {
            resolution: Some(resolution),
            ..report
        })
    }
}

/// Longest quarantine reason, in characters.
pub const MAX_QUARANTINE_REASON: usize = 500;

/// A plugin's quarantine as it now stands, after a change.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct QuarantineState {
    /// The plugin.
    pub slug: String,
    /// The version, when the change was to one version.
    pub version: Option<String>,
    /// The quarantine now in force there; `null` once lifted.
    pub quarantine: Option<Quarantine>,
}

impl Registry {
    /// Puts a plugin, or one version of it, in quarantine (admins): hidden
    /// from reads, search, pages and installs; its owners still see it, with
    /// `reason`. Quarantining again replaces the reason.
    pub async fn quarantine(
        &self,
        caller: &Caller,
        slug: &str,
        version: Option<&str>,
        reason: &str,
    ) -> Result<QuarantineState, RegistryError> {
        super::require_scope(Some(caller), Scope::Admin)?;
        let reason = reason.trim();
        if !is_written_text(reason, MAX_QUARANTINE_REASON) {
            return Err(RegistryError::invalid_field(
                "reason",
                format!("say why in 1 to {MAX_QUARANTINE_REASON} characters; the owners read it"),
            ));
        }
        let quarantine = Quarantine {
            reason: reason.to_owned(),
            by: caller.principal.clone(),
            at: self.clock.now(),
        };
        self.set_quarantine(caller, slug, version, Some(quarantine))
            .await
    }

    /// Lifts the quarantine of a plugin or a version (admins); lifting what is
    /// not quarantined changes nothing.
    pub async fn lift_quarantine(
        &self,
        caller: &Caller,
        slug: &str,
        version: Option<&str>,
    ) -> Result<QuarantineState, RegistryError> {
        super::require_scope(Some(caller), Scope::Admin)?;
        self.set_quarantine(caller, slug, version, None).await
    }

    async fn set_quarantine(
        &self,
        caller: &Caller,
        slug: &str,
        version: Option<&str>,
        quarantine: Option<Quarantine>,
    ) -> Result<QuarantineState, RegistryError> {
        let version = version.map(parse_version).transpose()?;
        let plugin = match &version {
            Some(version) => {
                let change = VersionChange::Quarantine(quarantine.clone());
                self.change_with_retries(caller, slug, version, None, |_| Ok(change.clone()))
                    .await?;
                self.find_plugin(slug).await?
            }
            None => {
                let mut retry = RaceRetry::default();
                loop {
                    if !retry.another_attempt().await {
                        return Err(RegistryError::ConcurrentUpdate {
                            slug: slug.to_owned(),
                        });
                    }
                    let plugin = self.find_plugin(slug).await?;
                    match self
                        .catalog
                        .set_plugin_quarantine(
                            &plugin.slug,
                            plugin.revision,
                            quarantine.as_ref(),
                            self.clock.now(),
                        )
                        .await
                    {
                        Ok(()) => break plugin,
                        Err(StorageError::Conflict(Conflict::RevisionChanged)) => continue,
                        Err(other) => return Err(other.into()),
                    }
                }
            }
        };
        let (action, note) = match (&quarantine, &version) {
            (Some(q), None) => (AuditAction::PluginQuarantined, Some(q.reason.clone())),
            (Some(q), Some(_)) => (AuditAction::VersionQuarantined, Some(q.reason.clone())),
            (None, _) => (AuditAction::QuarantineLifted, None),
        };
        self.record(
            caller,
            AuditSubject::Plugin(plugin.slug.clone()),
            action,
            AuditDetail {
                version: version.clone(),
                note,
                ..AuditDetail::default()
            },
        )
        .await;
        tracing::info!(slug = %plugin.slug, version = ?version.as_ref().map(ToString::to_string), %action, principal = %caller.principal, "quarantine changed");
        self.notify_changed(&plugin.slug, None).await;
        Ok(QuarantineState {
            slug: plugin.slug.to_string(),
            version: version.map(|v| v.to_string()),
            quarantine,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_text_allows_lines_and_refuses_other_control_characters() {
        assert!(is_written_text("it reads ~/.ssh\nand sends it", 100));
        assert!(!is_written_text("", 100));
        assert!(!is_written_text("bell\u{7}", 100));
        assert!(!is_written_text("escape \u{1b}[31m", 100));
        assert!(!is_written_text(&"x".repeat(101), 100));
    }
}
