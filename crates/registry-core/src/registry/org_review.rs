//! Review in an org's catalog: an org that requires it holds each upload (from
//! anyone but its own reviewers) until a member with
//! `cadence:org:plugins:review`, or a platform admin, decides.
//!
//! A held upload is a catalog row with a review state: its version is taken at
//! once (the row's uniqueness decides races), and the org's lists, versions and
//! settings never show it until it is approved.

use super::notices::notices_note;
use super::review::{decision_action, review_comment};
use super::{OrgInfo, Registry, require_scope};
use crate::api::reviews::{
    OrgReviewList, OrgReviewPolicy, OrgReviewView, ReviewDecisionView, ReviewView,
};
use crate::audit::{AuditDetail, AuditSubject};
use crate::auth::{Caller, Scope};
use crate::catalog::{CatalogPluginId, CatalogRow, CatalogScope};
use crate::error::RegistryError;
use crate::notice::Notice;
use crate::org::{Org, OrgId, Permission};
use crate::ownership::{Role, Roster, RosterEntry};
use crate::review::{ReviewPolicy, ReviewState};
use crate::store::{Conflict, StorageError};

/// What waits for one reviewer's decision.
#[derive(Debug, Clone, Default)]
pub struct DecisionQueue {
    /// The registry's pending versions; `None` for a caller who does not review
    /// the registry.
    pub registry: Option<Vec<ReviewView>>,
    /// Each org the caller reviews in, with its pending uploads.
    pub orgs: Vec<OrgDecisions>,
}

impl DecisionQueue {
    /// Whether the caller reviews anything: the registry's queue or an org's.
    pub fn reviews_anything(&self) -> bool {
        self.registry.is_some() || !self.orgs.is_empty()
    }

    /// How many versions and uploads wait, everywhere the caller reviews.
    pub fn waiting(&self) -> usize {
        self.registry.as_ref().map_or(0, Vec::len)
            + self.orgs.iter().map(|o| o.reviews.len()).sum::<usize>()
    }
}

/// One org's uploads waiting for a decision.
#[derive(Debug, Clone)]
pub struct OrgDecisions {
    /// The org.
    pub org: OrgInfo,
    /// Its pending uploads, the longest waiting first.
    pub reviews: Vec<OrgReviewView>,
}

impl Registry {
    /// Sets whether an org's uploads wait for review (platform admins).
    pub async fn set_org_review_policy(
        &self,
        caller: Option<&Caller>,
        org: &str,
        policy: &OrgReviewPolicy,
    ) -> Result<OrgReviewPolicy, RegistryError> {
        self.require_platform_admin(caller).await?;
        let required = ReviewPolicy::parse_mode(&policy.review)
            .map_err(|detail| RegistryError::invalid_field("review", detail))?;
        let publishers = policy
            .auto_approve_publishers
            .iter()
            .map(|raw| {
                crate::auth::PrincipalId::parse(raw.trim()).ok_or_else(|| {
                    RegistryError::invalid_field(
                        "auto_approve_publishers",
                        format!("{raw:?} is not a principal id (prn_ and 16 hex characters)"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let rules = crate::review::AutoApproval {
            publishers,
            trusted_publishing: false,
            patch_releases: policy.auto_approve_patches,
        };
        let org = self.existing_org(org).await?;
        match self
            .org_stores()?
            .orgs
            .set_org_review_policy(&org.id, required, &rules)
            .await
        {
            Err(StorageError::Conflict(Conflict::Missing)) => Err(RegistryError::OrgNotFound {
                org: org.id.to_string(),
            }),
            other => other.map_err(RegistryError::from),
        }?;
        tracing::info!(org = %org.id, required, "org review policy set");
        Ok(OrgReviewPolicy {
            review: if required { "required" } else { "none" }.to_owned(),
            auto_approve_publishers: rules.publishers.iter().map(ToString::to_string).collect(),
            auto_approve_patches: rules.patch_releases,
        })
    }

    /// Whether an upload of `pid` at `version` by `principal` into `org`'s
    /// catalog waits for review.
    pub(super) async fn org_upload_held(
        &self,
        scope: &CatalogScope,
        principal: &crate::auth::PrincipalId,
        pid: &crate::slug::Slug,
        version: &crate::version::PluginVersion,
    ) -> Result<bool, RegistryError> {
        let CatalogScope::Org(org) = scope else {
            return Ok(false);
        };
        let stores = self.org_stores()?;
        let Some(org) = stores.orgs.org(org).await? else {
            return Ok(false);
        };
        if !org.review_required {
            return Ok(false);
        }
        // Its own reviewers' uploads are theirs to approve: they go through.
        let held = stores.orgs.permissions(principal).await?;
        if held.contains(&Permission::OrgPluginsReview) || held.contains(&Permission::SysAdmin) {
            return Ok(false);
        }
        let rules = &org.review_auto_approve;
        if rules.publishers.contains(principal)
            || (!rules.publishers.is_empty()
                && self
                    .teams_of(principal)
                    .await?
                    .iter()
                    .any(|(team, _)| rules.publishers.contains(team)))
        {
            return Ok(false);
        }
        if rules.patch_releases {
            let shown = stores
                .catalog
                .rows(scope)
                .await?
                .into_iter()
                .filter(|row| &row.pid == pid && row.review.is_none())
                .map(|row| row.version)
                .max();
            if shown.is_some_and(|highest| crate::review::is_patch_release(&highest, version)) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The org a caller may review in: a platform admin, or a member holding
    /// `cadence:org:plugins:review`.
    pub(super) async fn org_reviewer(
        &self,
        caller: Option<&Caller>,
        org: &str,
    ) -> Result<Org, RegistryError> {
        let caller = require_scope(caller, Scope::Read)?;
        let held = self
            .org_stores()?
            .orgs
            .permissions(&caller.principal)
            .await?;
        if held.contains(&Permission::SysAdmin) && caller.can(Scope::Admin) {
            return self.existing_org(org).await;
        }
        self.org_context_with(caller, org, Permission::OrgPluginsReview, &held)
            .await
    }

    /// An org's uploads under review: for its reviewers, and for its writers
    /// (who uploaded them).
    pub async fn list_org_reviews(
        &self,
        caller: Option<&Caller>,
        org: &str,
    ) -> Result<OrgReviewList, RegistryError> {
        let scope = match self.org_reviewer(caller, org).await {
            Ok(org) => CatalogScope::Org(org.id),
            Err(RegistryError::MissingPermission { .. }) => {
                self.authorize_org_write(caller, org).await?.scope().clone()
            }
            Err(e) => return Err(e),
        };
        Ok(OrgReviewList {
            reviews: self.org_reviews_in(&scope).await?,
        })
    }

    /// The uploads under review in `scope`, pending and rejected, the longest
    /// waiting first.
    async fn org_reviews_in(
        &self,
        scope: &CatalogScope,
    ) -> Result<Vec<OrgReviewView>, RegistryError> {
        let mut reviews: Vec<OrgReviewView> = self
            .org_stores()?
            .catalog
            .rows(scope)
            .await?
            .into_iter()
            .filter_map(org_review_view)
            .collect();
        reviews.sort_by(|a, b| {
            a.submitted_at
                .cmp(&b.submitted_at)
                .then(a.plugin_id.cmp(&b.plugin_id))
        });
        Ok(reviews)
    }

    /// What waits for `caller` to decide: every pending version of the
    /// registry for a reviewer (`review`, which a session has through
    /// `registry:review`), and the pending uploads of each org it reviews in.
    pub async fn awaiting_decision(&self, caller: &Caller) -> Result<DecisionQueue, RegistryError> {
        let registry = if caller.can(Scope::Review) {
            Some(self.list_reviews(Some(caller), None).await?.reviews)
        } else {
            None
        };
        let mut orgs = Vec::new();
        for org in self.orgs_of_caller(caller).await? {
            let org = match self.org_reviewer(Some(caller), org.id.as_str()).await {
                Ok(org) => org,
                Err(
                    RegistryError::MissingPermission { .. } | RegistryError::NotOrgMember { .. },
                ) => {
                    continue;
                }
                Err(e) => return Err(e),
            };
            let scope = CatalogScope::Org(org.id.clone());
            let reviews = self
                .org_reviews_in(&scope)
                .await?
                .into_iter()
                .filter(|r| r.decision.is_none())
                .collect();
            orgs.push(OrgDecisions {
                org: org.into(),
                reviews,
            });
        }
        Ok(DecisionQueue { registry, orgs })
    }

    /// Approves (`approve`) or rejects an upload held for review in `org`.
    pub async fn decide_org_review(
        &self,
        caller: Option<&Caller>,
        org: &str,
        plugin_id: &str,
        approve: bool,
        comment: Option<&str>,
    ) -> Result<OrgReviewView, RegistryError> {
        let org = self.org_reviewer(caller, org).await?;
        let caller = require_scope(caller, Scope::Read)?;
        let comment = review_comment(comment, !approve)?;
        let not_found = || RegistryError::CatalogPluginNotFound {
            detail: format!(
                "no upload '{plugin_id}' waits for review in org '{}'",
                org.id
            ),
        };
        let id = CatalogPluginId::parse(plugin_id).ok_or_else(not_found)?;
        let catalog = &self.org_stores()?.catalog;
        let row = catalog
            .row(&id)
            .await?
            .filter(|row| row.scope == CatalogScope::Org(org.id.clone()))
            .ok_or_else(not_found)?;
        let Some(submitted_at) = row.review.as_ref().map(ReviewState::submitted_at) else {
            // Live already: approved, or uploaded before the org required review.
            return Err(RegistryError::ReviewDecided {
                id: id.to_string(),
                state: "approved",
            });
        };
        let now = self.clock.now();
        let decision = (!approve).then(|| ReviewState::Rejected {
            submitted_at,
            decided_by: caller.principal.clone(),
            decided_at: now,
            comment: comment.clone().unwrap_or_default(),
        });
        let decided = CatalogRow {
            review: decision.clone(),
            updated_at: now,
            ..row.clone()
        };
        let (by, why) = (&caller.principal, comment.as_deref());
        let mut deliveries = Vec::new();
        for (kind, reason) in super::webhooks::decision_events(approve, why) {
            deliveries.extend(self.org_row_deliveries(kind, &decided, by, reason).await?);
        }
        match catalog
            .decide_row_review(&id, decision.as_ref(), now, &deliveries)
            .await
        {
            Ok(()) => {}
            Err(StorageError::Conflict(Conflict::RevisionChanged)) => {
                return Err(RegistryError::ReviewDecided {
                    id: id.to_string(),
                    state: match &row.review {
                        Some(ReviewState::Rejected { .. }) => "rejected",
                        _ => "decided",
                    },
                });
            }
            Err(StorageError::Conflict(Conflict::Missing)) => return Err(not_found()),
            Err(e) => return Err(e.into()),
        }
        // Whoever uploaded it hears of the decision, as a plugin's owners do.
        let uploader = Roster {
            entries: vec![RosterEntry {
                principal: row.uploaded_by.clone(),
                role: Role::Owner,
                since: row.uploaded_at,
            }],
            revision: 0,
        };
        let told = self
            .tell_owners(&uploader, |to| {
                org_decision_notice(to, &org.id, &row, approve, comment.as_deref())
            })
            .await;
        self.record(
            caller,
            AuditSubject::Principal(caller.principal.clone()),
            decision_action(approve),
            AuditDetail {
                note: Some(format!(
                    "org {} catalog: {}@{} ({id}){} ({})",
                    org.id,
                    row.pid,
                    row.version,
                    comment
                        .as_deref()
                        .map_or_else(String::new, |c| format!(": {c}")),
                    notices_note(told)
                )),
                ..AuditDetail::version(&row.version)
            },
        )
        .await;
        tracing::info!(org = %org.id, plugin_id = %id, approve, "org upload decided");
        self.told(&deliveries).await;
        Ok(OrgReviewView {
            state: decided
                .review
                .as_ref()
                .map_or("approved", ReviewState::as_str)
                .to_owned(),
            ..org_review_view_of(&decided, submitted_at)
        })
    }
}

/// The review view of a row under review; `None` for a row that is not.
fn org_review_view(row: CatalogRow) -> Option<OrgReviewView> {
    let submitted_at = row.review.as_ref()?.submitted_at();
    Some(org_review_view_of(&row, submitted_at))
}

fn org_review_view_of(
    row: &CatalogRow,
    submitted_at: crate::timestamp::Timestamp,
) -> OrgReviewView {
    OrgReviewView {
        plugin_id: row.plugin_id.clone(),
        pid: row.pid.to_string(),
        version: row.version.to_string(),
        name: row.name.clone(),
        description: row.description.clone(),
        state: row
            .review
            .as_ref()
            .map_or("approved", ReviewState::as_str)
            .to_owned(),
        submitted_at,
        submitted_by: row.uploaded_by.clone(),
        decision: match &row.review {
            Some(ReviewState::Rejected {
                decided_by,
                decided_at,
                comment,
                ..
            }) => Some(ReviewDecisionView {
                state: "rejected".to_owned(),
                decided_by: decided_by.clone(),
                decided_at: *decided_at,
                comment: comment.clone(),
            }),
            _ => None,
        },
    }
}

/// The message telling an upload's uploader what a reviewer of `org` decided.
fn org_decision_notice(
    to: crate::account::EmailAddress,
    org: &OrgId,
    row: &CatalogRow,
    approved: bool,
    comment: Option<&str>,
) -> Notice {
    let (pid, version, id) = (&row.pid, &row.version, &row.plugin_id);
    let said = comment.map_or_else(String::new, |c| format!("\nThe reviewer wrote:\n\n  {c}\n"));
    let (subject, what) = if approved {
        (
            format!("{pid} {version} was approved in the {org} catalog"),
            format!(
                "A reviewer of {org} approved your upload {pid} {version} ({id}): the org's catalog shows it now.\n"
            ),
        )
    } else {
        (
            format!("{pid} {version} was rejected in the {org} catalog"),
            format!(
                "A reviewer of {org} rejected your upload {pid} {version} ({id}); the org's catalog will not show it. \
                 Its version stays taken there, so upload the fix as a new version.\n"
            ),
        )
    };
    Notice {
        to,
        subject,
        body: format!(
            "{what}{said}\nYou get this message because you uploaded it to {org}'s catalog.\n"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::super::orgs::grants;
    use super::*;

    #[test]
    fn the_review_permission_grants_reading_but_not_writing() {
        let held = [Permission::OrgPluginsReview].into_iter().collect();
        assert!(grants(&held, Permission::OrgPluginsRead));
        assert!(!grants(&held, Permission::OrgPluginsWrite));
    }
}
