//! One pass of the router's health checks: every instance's `health_check_url`,
//! called concurrently, judged by the spec's rules, recorded; the Nth consecutive
//! failure takes an instance out of the routing table.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::StreamExt;

use super::Registry;
use super::mcp_router::McpRouterParts;
use crate::error::RegistryError;
use crate::mcp_router::{McpRouterInstance, judge_health_response};
use crate::slug::Slug;
use crate::store::{Conflict, StorageError};

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct HealthPassReport {
    /// Instances checked.
    pub checked: usize,
    /// Of those, how many passed.
    pub passed: usize,
    /// How many failed and stay in the table for now.
    pub failed: usize,
    /// How many failed for the threshold's time in a row and were removed.
    pub removed: usize,
    /// How many were re-registered or deregistered during the pass (their result
    /// was dropped) or whose result could not be stored.
    pub not_recorded: usize,
}

enum CheckOutcome {
    Passed,
    Failed,
    Removed(Slug),
    NotRecorded,
}

/// Router health checks made, by `outcome` (`passed`, `failed`, `removed`: failed
/// once too often, `not_recorded`).
const HEALTH_CHECKS_TOTAL: &str = "registry_health_checks_total";

impl Registry {
    /// Checks every registered instance once, at most the configured number at a
    /// time, and records each result.
    pub async fn run_health_pass(&self) -> Result<HealthPassReport, RegistryError> {
        let router = self.router()?;
        let mut instances = router.store.all_instances().await?;
        // Never checked first, then the longest ago (ties in id order, the sort being
        // stable): a pass cut short, such as by a Lambda timeout, leaves a different
        // part of a large table for next time instead of starving the same tail.
        instances.sort_by_key(|instance| instance.health.last_checked_at);
        let concurrency = router.settings.check_concurrency.max(1);
        let outcomes: Vec<(Slug, CheckOutcome)> = futures_util::stream::iter(instances)
            .map(|instance| async {
                let slug = instance.slug.clone();
                (slug, self.check_instance(router, instance).await)
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        let mut report = HealthPassReport {
            checked: outcomes.len(),
            ..HealthPassReport::default()
        };
        let mut shrunk = BTreeSet::new();
        // Every plugin checked, with how many of its instances passed.
        let mut healthy: BTreeMap<Slug, u32> = BTreeMap::new();
        for (slug, outcome) in outcomes {
            let passed = healthy.entry(slug).or_default();
            match outcome {
                CheckOutcome::Passed => {
                    report.passed += 1;
                    *passed += 1;
                }
                CheckOutcome::Failed => report.failed += 1,
                CheckOutcome::Removed(slug) => {
                    report.removed += 1;
                    shrunk.insert(slug);
                }
                CheckOutcome::NotRecorded => report.not_recorded += 1,
            }
        }
        for (outcome, count) in [
            ("passed", report.passed),
            ("failed", report.failed),
            ("removed", report.removed),
            ("not_recorded", report.not_recorded),
        ] {
            metrics::counter!(HEALTH_CHECKS_TOTAL, "outcome" => outcome).increment(count as u64);
        }
        let counts: Vec<(Slug, u32)> = healthy.into_iter().collect();
        if let Err(error) = router
            .store
            .record_healthy_instances(self.clock.now().day(), &counts, self.download_retention)
            .await
        {
            // The history is for owners' charts; routing never reads it, so the
            // pass's results stand.
            tracing::warn!(
                error = &error as &dyn std::error::Error,
                "recording the pass's healthy instances failed"
            );
        }
        // Only a removal changes a plugin's `healthy_instances`, so only then is
        // its static index rewritten.
        for slug in &shrunk {
            self.notify_changed(slug, None).await;
        }
        Ok(report)
    }

    async fn check_instance(
        &self,
        router: &McpRouterParts,
        instance: McpRouterInstance,
    ) -> CheckOutcome {
        // The probe refuses addresses the policy forbids, literal or resolved, as
        // it connects: the one place that calls out applies the rule.
        let verdict = match router.probe.get(&instance.health_check_url).await {
            Ok(answer) => judge_health_response(answer.status, &answer.body, &instance.version),
            Err(why) => Err(why),
        };
        let now = self.clock.now();
        let health = match &verdict {
            Ok(checks) => instance.health.passed(now, checks.clone()),
            Err(why) => instance.health.failed(now, why),
        };
        let (slug, id, registration) = (
            &instance.slug,
            &instance.instance_id,
            &instance.registration,
        );
        let threshold = router.settings.failure_threshold.max(1);
        let mut told = Vec::new();
        let written = if health.consecutive_failures >= threshold {
            let data = crate::webhook::EventData {
                slug: Some(slug.to_string()),
                version: Some(instance.version.to_string()),
                instance_id: Some(id.to_string()),
                reason: health.last_error.clone(),
                url: Some(instance.url.to_string()),
                ..crate::webhook::EventData::default()
            };
            let kind = crate::webhook::EventKind::RouterInstanceRemoved;
            match self.plugin_deliveries(kind, slug, data, &[]).await {
                Ok(deliveries) => told = deliveries,
                Err(error) => {
                    tracing::warn!(%slug, instance = %id, error = %error, "the removal's subscribers could not be read; the instance is removed untold");
                }
            }
            tracing::warn!(%slug, instance = %id, failures = health.consecutive_failures, error = health.last_error.as_deref().unwrap_or_default(), "instance removed from the routing table");
            router
                .store
                .remove_instance(slug, id, Some(registration), &told)
                .await
                .map(|()| CheckOutcome::Removed(slug.clone()))
        } else {
            if let Err(why) = &verdict {
                tracing::info!(%slug, instance = %id, failures = health.consecutive_failures, error = %why, "health check failed");
            }
            router
                .store
                .record_check(slug, id, registration, &health)
                .await
                .map(|()| {
                    if verdict.is_ok() {
                        CheckOutcome::Passed
                    } else {
                        CheckOutcome::Failed
                    }
                })
        };
        if let Ok(CheckOutcome::Removed(_)) = &written {
            self.told(&told).await;
        }
        match written {
            Ok(outcome) => outcome,
            // Re-registered or deregistered while it was being checked: the
            // result belongs to a registration that no longer exists.
            Err(StorageError::Conflict(Conflict::Missing)) => CheckOutcome::NotRecorded,
            Err(error) => {
                tracing::warn!(%slug, instance = %id, error = &error as &dyn std::error::Error, "recording a health check failed");
                CheckOutcome::NotRecorded
            }
        }
    }
}
