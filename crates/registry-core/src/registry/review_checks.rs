//! Checks that decide: webhook subscriptions marked as checks are sent each
//! version submitted for review with a token of that run's own, and answer
//! `pass` or `fail` with it. A version is approved only once every check it
//! waits for passed; one that does not answer in its time counts as failed
//! (fails closed), and a reviewer may run a check again.
//!
//! The runs live in the version's pending review, so they are written by the
//! same compare-and-set as every other change of the plugin, on every backend.

use super::Registry;
use super::contention::RaceRetry;
use crate::api::reviews::{CheckAnswerRequest, CheckView};
use crate::auth::{Caller, SecretHash, random_hex};
use crate::error::RegistryError;
use crate::review::{CheckAnswer, CheckRun, CheckStatus, MAX_CHECK_SUMMARY, ReviewId, ReviewState};
use crate::slug::Slug;
use crate::store::{Conflict, StorageError, VersionChange};
use crate::timestamp::Timestamp;
use crate::version::PluginVersion;
use crate::webhook::{CheckInvite, Delivery, HookScope, SubscriptionId};

/// Longest link a check answers with.
const MAX_CHECK_URL: usize = 2048;

/// Refuses approval unless every check in `checks` passed.
pub(super) fn require_passed(
    id: &ReviewId,
    checks: &[CheckRun],
    now: Timestamp,
) -> Result<(), RegistryError> {
    let open: Vec<String> = checks
        .iter()
        .filter(|run| run.status(now) != CheckStatus::Passed)
        .map(|run| {
            let status = match run.status(now) {
                CheckStatus::Pending => "has not answered",
                CheckStatus::Failed => "failed",
                CheckStatus::TimedOut => "did not answer in time",
                CheckStatus::Passed => "passed",
            };
            format!("{} {status}", run.name)
        })
        .collect();
    if open.is_empty() {
        Ok(())
    } else {
        Err(RegistryError::ChecksNotPassed {
            id: id.to_string(),
            detail: open.join(", "),
        })
    }
}

/// A fresh run of the check `name` (of `subscription`, with `timeout_secs`),
/// and the invitation its delivery carries.
fn new_run(
    base: &str,
    id: &ReviewId,
    name: &str,
    subscription: &SubscriptionId,
    timeout_secs: u64,
    now: Timestamp,
) -> Result<(CheckRun, CheckInvite), RegistryError> {
    let token = format!(
        "chk_{}",
        random_hex(24).map_err(|_| RegistryError::Entropy)?
    );
    let deadline = now.plus(time::Duration::seconds(
        i64::try_from(timeout_secs).unwrap_or(i64::MAX),
    ));
    let run = CheckRun {
        name: name.to_owned(),
        subscription: subscription.clone(),
        token_sha256: SecretHash::of(token.as_bytes()).to_hex(),
        requested_at: now,
        deadline,
        answer: None,
    };
    let invite = CheckInvite {
        name: name.to_owned(),
        answer_url: format!("{base}/reviews/{id}/checks/{name}"),
        token,
        deadline,
    };
    Ok((run, invite))
}

impl Registry {
    /// The checks a version of `slug` submitted `now` waits for (the
    /// registry's and the plugin's check subscriptions, one per name), and
    /// the invitations their deliveries carry.
    pub(super) async fn start_checks(
        &self,
        slug: &Slug,
        version: &PluginVersion,
        now: Timestamp,
    ) -> Result<(Vec<CheckRun>, Vec<(SubscriptionId, CheckInvite)>), RegistryError> {
        let Some(parts) = &self.webhooks else {
            return Ok((Vec::new(), Vec::new()));
        };
        let id = ReviewId {
            slug: slug.clone(),
            version: version.clone(),
        };
        let (mut runs, mut invites) = (Vec::new(), Vec::new());
        for scope in [HookScope::Registry, HookScope::Plugin(slug.clone())] {
            for subscription in parts.store.subscriptions(&scope).await? {
                let Some(check) = &subscription.check else {
                    continue;
                };
                if runs.iter().any(|run: &CheckRun| run.name == check.name) {
                    continue;
                }
                let (run, invite) = new_run(
                    &self.config.public_url,
                    &id,
                    &check.name,
                    &subscription.id,
                    check.timeout_secs,
                    now,
                )?;
                runs.push(run);
                invites.push((subscription.id.clone(), invite));
            }
        }
        Ok((runs, invites))
    }

    /// Changes the checks of the pending review `raw_id` by `change`, which
    /// also gives the webhook deliveries the change makes (written with it,
    /// then told), retrying on races with other changes of the plugin.
    async fn change_checks<T>(
        &self,
        raw_id: &str,
        change: impl Fn(&mut Vec<CheckRun>, Timestamp) -> Result<(T, Vec<Delivery>), RegistryError>,
    ) -> Result<(ReviewId, T), RegistryError> {
        let not_found = || RegistryError::ReviewNotFound {
            id: raw_id.to_owned(),
        };
        let id = ReviewId::parse(raw_id).ok_or_else(not_found)?;
        let mut retry = RaceRetry::default();
        while retry.another_attempt().await {
            let plugin = self.catalog.plugin(&id.slug).await?.ok_or_else(not_found)?;
            let mut checks = super::review::pending_review(&plugin, &id)
                .ok_or_else(not_found)??
                .1
                .to_vec();
            let now = self.clock.now();
            let (out, told) = change(&mut checks, now)?;
            let head = plugin.head();
            match self
                .catalog
                .change_version(
                    &id.slug,
                    plugin.revision,
                    &id.version,
                    &VersionChange::Checks(checks),
                    head.latest.as_ref(),
                    now,
                    &told,
                )
                .await
            {
                Ok(()) => {
                    self.told(&told).await;
                    return Ok((id, out));
                }
                Err(StorageError::Conflict(Conflict::RevisionChanged)) => continue,
                Err(StorageError::Conflict(Conflict::Missing)) => return Err(not_found()),
                Err(e) => return Err(e.into()),
            }
        }
        Err(RegistryError::ConcurrentUpdate {
            slug: id.slug.to_string(),
        })
    }

    /// Records a check's answer, authenticated by the token its delivery
    /// carried (no key: a scanner holds nothing else).
    pub async fn answer_check(
        &self,
        raw_id: &str,
        name: &str,
        token: Option<&str>,
        answer: &CheckAnswerRequest,
    ) -> Result<CheckView, RegistryError> {
        let refused = || RegistryError::Unauthenticated {
            detail: "a check answers with the bearer token its delivery carried (data.check.token)"
                .to_owned(),
        };
        let presented = SecretHash::of(token.ok_or_else(refused)?.as_bytes());
        let passed = match answer.conclusion.as_str() {
            "pass" => true,
            "fail" => false,
            other => {
                return Err(RegistryError::invalid_field(
                    "conclusion",
                    format!("pass or fail (got {other:?})"),
                ));
            }
        };
        let url = match answer.url.as_deref() {
            Some(raw) => {
                let parsed = crate::mcp_router::TargetUrl::parse(raw)
                    .ok()
                    .filter(|_| raw.len() <= MAX_CHECK_URL)
                    .ok_or_else(|| {
                        RegistryError::invalid_field("url", "an http(s) URL of the check's report")
                    })?;
                Some(parsed.to_string())
            }
            None => None,
        };
        let summary = answer
            .summary
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        if let Some(summary) = summary
            && (summary.chars().count() > MAX_CHECK_SUMMARY
                || summary.chars().any(|c| c.is_control() && c != '\n'))
        {
            return Err(RegistryError::invalid_field(
                "summary",
                format!("at most {MAX_CHECK_SUMMARY} characters, no control characters"),
            ));
        }
        let (id, view) = self
            .change_checks(raw_id, |checks, now| {
                let run = checks
                    .iter_mut()
                    .find(|run| run.name == name)
                    .ok_or_else(|| RegistryError::CheckNotFound {
                        id: raw_id.to_owned(),
                        name: name.to_owned(),
                    })?;
                let expected = SecretHash::from_hex(&run.token_sha256).ok_or_else(refused)?;
                if !expected.matches(&presented) {
                    return Err(refused());
                }
                match run.status(now) {
                    CheckStatus::Pending => {}
                    CheckStatus::TimedOut => {
                        return Err(RegistryError::CheckClosed {
                            name: name.to_owned(),
                            detail: "its time to answer passed, so it failed; a reviewer may run it again".to_owned(),
                        });
                    }
                    CheckStatus::Passed | CheckStatus::Failed => {
                        return Err(RegistryError::CheckClosed {
                            name: name.to_owned(),
                            detail: "it answered already; a reviewer may run it again".to_owned(),
                        });
                    }
                }
                run.answer = Some(CheckAnswer {
                    passed,
                    at: now,
                    url: url.clone(),
                    summary: summary.map(str::to_owned),
                });
                Ok((CheckView::of(run, now), Vec::new()))
            })
            .await?;
        tracing::info!(review = %id, check = name, passed, "check answered");
        Ok(view)
    }

    /// Runs a check of the pending review `raw_id` again (reviewers): a new
    /// token and time to answer, sent to its subscription.
    pub async fn rerun_check(
        &self,
        caller: Option<&Caller>,
        raw_id: &str,
        name: &str,
    ) -> Result<CheckView, RegistryError> {
        let caller = Self::require_reviewer(caller)?;
        let parts = self
            .webhooks
            .as_ref()
            .ok_or(RegistryError::WebhooksUnavailable)?;
        let not_found = || RegistryError::CheckNotFound {
            id: raw_id.to_owned(),
            name: name.to_owned(),
        };
        let id = ReviewId::parse(raw_id).ok_or_else(not_found)?;
        let record = self
            .catalog
            .version(&id.slug, &id.version)
            .await?
            .ok_or_else(not_found)?;
        let Some(ReviewState::Pending { checks, .. }) = &record.review else {
            return Err(not_found());
        };
        let run = checks
            .iter()
            .find(|run| run.name == name)
            .ok_or_else(not_found)?;
        let subscription = parts
            .store
            .subscription(&run.subscription)
            .await?
            .filter(|s| s.check.as_ref().is_some_and(|c| c.name == name))
            .ok_or_else(|| RegistryError::CheckClosed {
                name: name.to_owned(),
                detail: "its subscription was removed, so nothing would answer".to_owned(),
            })?;
        let timeout = subscription
            .check
            .as_ref()
            .map_or(super::webhooks::DEFAULT_CHECK_TIMEOUT_SECS, |c| {
                c.timeout_secs
            });
        let base = self.config.public_url.clone();
        let (_, view) = self
            .change_checks(raw_id, |checks, now| {
                let run = checks
                    .iter_mut()
                    .find(|run| run.name == name)
                    .ok_or_else(not_found)?;
                let (fresh, invite) = new_run(&base, &id, name, &subscription.id, timeout, now)?;
                *run = fresh;
                // Only this check is asked again, with its new token.
                let invitation = self.check_invitation(
                    &subscription.id,
                    &id.slug,
                    &id.version,
                    &caller.principal,
                    invite,
                    now,
                )?;
                Ok((CheckView::of(run, now), vec![invitation]))
            })
            .await?;
        tracing::info!(review = %id, check = name, by = %caller.principal, "check run again");
        Ok(view)
    }
}
