//! Recording changes in the audit log, and reading it: a plugin's log by its
//! owners, the whole log by admins.
//!
//! A record is appended once its change is committed. The two are separate
//! writes (the ports have no shared transaction), so a record whose append
//! fails is logged whole at error level instead: the change stands, and the
//! operator's logs still hold who made it.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::Registry;
use crate::audit::{
    AuditAction, AuditDetail, AuditId, AuditRecord, AuditSubject, DEFAULT_AUDIT_PAGE,
    MAX_AUDIT_PAGE,
};
use crate::auth::{Caller, PrincipalId, Scope};
use crate::error::RegistryError;
use crate::store::AuditStore;
use crate::timestamp::Timestamp;

/// One record of the audit log, as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// The record's id; ids order records in time.
    #[schema(value_type = String)]
    pub id: AuditId,
    /// When.
    #[schema(value_type = String)]
    pub at: Timestamp,
    /// What it is about: `plugin:{slug}` or `principal:{id}`.
    #[schema(value_type = String)]
    pub subject: String,
    /// What was done.
    pub action: AuditAction,
    /// Who did it.
    #[schema(value_type = String)]
    pub actor: PrincipalId,
    /// Their name now (their id, if the principal is gone).
    pub actor_name: String,
    /// The key or session used (`key_…`, `ses_…`), by id.
    pub credential: Option<String>,
    /// The request's id, as its `x-request-id` named it.
    pub request_id: Option<String>,
    /// The particulars.
    pub detail: AuditDetail,
}

/// A page of the audit log, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditLog {
    /// The records.
    pub records: Vec<AuditEntry>,
    /// Pass as `before` for the next, older page; `null` on the last page.
    pub next_before: Option<String>,
}

/// Which page of the log to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only records older than this id (a previous page's `next_before`).
    pub before: Option<String>,
    /// At most this many records (1 to [`MAX_AUDIT_PAGE`]; default [`DEFAULT_AUDIT_PAGE`]).
    pub limit: Option<usize>,
}

impl AuditQuery {
    fn checked(&self) -> Result<(Option<AuditId>, usize), RegistryError> {
        let before = match self.before.as_deref() {
            None | Some("") => None,
            Some(raw) => {
                Some(
                    AuditId::parse(raw).ok_or_else(|| RegistryError::InvalidParameter {
                        name: "before",
                        detail: "not a record id: pass a page's next_before as it was given"
                            .to_owned(),
                    })?,
                )
            }
        };
        let limit = self.limit.unwrap_or(DEFAULT_AUDIT_PAGE);
        if !(1..=MAX_AUDIT_PAGE).contains(&limit) {
            return Err(RegistryError::InvalidParameter {
                name: "limit",
                detail: format!("{limit} is not 1 to {MAX_AUDIT_PAGE}"),
            });
        }
        Ok((before, limit))
    }
}

impl Registry {
    /// Records changes of state in `store`.
    #[must_use]
    pub fn with_audit(mut self, store: Arc<dyn AuditStore>) -> Self {
        self.audit = Some(store);
        self
    }

    /// Records that `caller` did `action` to `subject`; call once the change is
    /// committed. Never fails the request: see the module's note.
    pub(crate) async fn record(
        &self,
        caller: &Caller,
        subject: AuditSubject,
        action: AuditAction,
        detail: AuditDetail,
    ) {
        let Some(store) = &self.audit else {
            return;
        };
        let id = match AuditId::generate(self.clock.now_micros()) {
            Ok(id) => id,
            Err(error) => {
                tracing::error!(%error, %subject, %action, "no entropy for an audit record id");
                return;
            }
        };
        let record = AuditRecord {
            id,
            at: self.clock.now(),
            subject,
            action,
            actor: caller.principal.clone(),
            credential: Some(caller.credential.to_string()),
            request: caller.request.as_ref().map(|r| r.as_str().to_owned()),
            detail,
        };
        if let Err(error) = store.append_audit(&record).await {
            let kept = serde_json::to_string(&record).unwrap_or_default();
            tracing::error!(%error, record = %kept, "could not append to the audit log");
        }
    }

    /// A plugin's audit log: for its owners and admins.
    pub async fn plugin_audit(
        &self,
        caller: &Caller,
        slug: &str,
        query: &AuditQuery,
    ) -> Result<AuditLog, RegistryError> {
        let (before, limit) = query.checked()?;
        let store = self.audit_store()?;
        let plugin = self.find_plugin(slug).await?;
        caller.check_plugin_limit(&plugin.slug)?;
        self.require_owner(caller, &plugin.head(), true).await?;
        let subject = AuditSubject::Plugin(plugin.slug);
        let records = store
            .audit_records(Some(&subject), before.as_ref(), limit)
            .await?;
        self.describe_audit(records, limit).await
    }

    /// The whole audit log: for admins.
    pub async fn audit_log(
        &self,
        caller: &Caller,
        query: &AuditQuery,
    ) -> Result<AuditLog, RegistryError> {
        super::require_scope(Some(caller), Scope::Admin)?;
        let (before, limit) = query.checked()?;
        let records = self
            .audit_store()?
            .audit_records(None, before.as_ref(), limit)
            .await?;
        self.describe_audit(records, limit).await
    }

    fn audit_store(&self) -> Result<&Arc<dyn AuditStore>, RegistryError> {
        self.audit.as_ref().ok_or(RegistryError::AuditUnavailable)
    }

    async fn describe_audit(
        &self,
        records: Vec<AuditRecord>,
        limit: usize,
    ) -> Result<AuditLog, RegistryError> {
        let next_before = (records.len() == limit)
            .then(|| records.last().map(|r| r.id.to_string()))
            .flatten();
        let mut names: BTreeMap<PrincipalId, String> = BTreeMap::new();
        let mut listed = Vec::with_capacity(records.len());
        for record in records {
            let actor_name = match names.get(&record.actor) {
                Some(name) => name.clone(),
                None => {
                    let (name, _) = self.principal_label(&record.actor).await?;
                    names.insert(record.actor.clone(), name.clone());
                    name
                }
            };
            listed.push(AuditEntry {
                id: record.id,
                at: record.at,
                subject: record.subject.storage_name(),
                action: record.action,
                actor: record.actor,
                actor_name,
                credential: record.credential,
                request_id: record.request,
                detail: record.detail,
            });
        }
        Ok(AuditLog {
            records: listed,
            next_before,
        })
    }
}
