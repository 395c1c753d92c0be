//! Review and webhook pages, behind sign-in and never stored in the index: the
//! reviews of a person's plugins, one version under review (its checks, its
//! artifacts, a rejection's reason), and a webhook subscription's deliveries.
//! Everything on them came from someone (comments, check summaries, URLs,
//! receivers' errors), so it reaches the page only through the template's
//! escaping, and only http(s) URLs become links.

use askama::Template;
use registry_core::api::webhooks::{DeliveryList, WebhookView};
use registry_core::registry::ReviewView;
use registry_core::review::CheckStatus;

use crate::RenderError;
use crate::link::safe_link;
use crate::site::{Chrome, Site};

struct ReviewRow {
    id: String,
    page_url: String,
    state: String,
    submitted_at: String,
    follows: String,
}

#[derive(Template)]
#[template(path = "review_queue.html")]
struct ReviewQueuePage<'a> {
    chrome: Chrome<'a>,
    account_url: String,
    rows: Vec<ReviewRow>,
}

/// The reviews of the signed-in person's plugins: pending and rejected.
pub fn review_queue_page(site: &Site, reviews: &[ReviewView]) -> Result<String, RenderError> {
    let rows = reviews
        .iter()
        .map(|r| ReviewRow {
            id: r.id.clone(),
            page_url: site.review_page_url(&r.id),
            state: r.state.clone(),
            submitted_at: r.submitted_at.to_string(),
            follows: r
                .current_version
                .clone()
                .map_or_else(|| "a new plugin".to_owned(), |v| format!("after {v}")),
        })
        .collect();
    ReviewQueuePage {
        chrome: Chrome::new(
            site,
            "Your reviews · OpenWorkflow plugins".to_owned(),
            String::new(),
        ),
        account_url: site.account_url(),
        rows,
    }
    .render()
    .map_err(RenderError::of("review queue"))
}

struct CheckRow {
    name: String,
    status: &'static str,
    deadline: String,
    answered_at: String,
    url: Option<String>,
    summary: String,
}

struct ArtifactRow {
    what: &'static str,
    url: String,
    sha256: String,
    size: u64,
}

#[derive(Template)]
#[template(path = "review.html")]
struct ReviewPage<'a> {
    chrome: Chrome<'a>,
    account_url: String,
    queue_url: String,
    review: &'a ReviewView,
    checks: Vec<CheckRow>,
    artifacts: Vec<ArtifactRow>,
    rejection: Option<(String, String, String)>,
}

fn status_text(status: CheckStatus) -> &'static str {
    match status {
        CheckStatus::Pending => "waiting for its answer",
        CheckStatus::Passed => "passed",
        CheckStatus::Failed => "failed",
        CheckStatus::TimedOut => "did not answer in time (failed)",
    }
}

/// One version under review, as its owners (and reviewers) see it.
pub fn review_page(site: &Site, review: &ReviewView) -> Result<String, RenderError> {
    let checks = review
        .checks
        .iter()
        .map(|c| CheckRow {
            name: c.name.clone(),
            status: status_text(c.status),
            deadline: c.deadline.to_string(),
            answered_at: c.answered_at.map(|t| t.to_string()).unwrap_or_default(),
            url: c.url.as_deref().and_then(safe_link),
            summary: c.summary.clone().unwrap_or_default(),
        })
        .collect();
    let mut artifacts = vec![ArtifactRow {
        what: "schema",
        url: review.schema.url.clone(),
        sha256: review.schema.sha256.clone(),
        size: review.schema.size,
    }];
    if let Some(bundle) = &review.bundle {
        artifacts.push(ArtifactRow {
            what: "bundle",
            url: bundle.url.clone(),
            sha256: bundle.sha256.clone(),
            size: bundle.size,
        });
    }
    ReviewPage {
        chrome: Chrome::new(
            site,
            format!("Review of {} · OpenWorkflow plugins", review.id),
            String::new(),
        ),
        account_url: site.account_url(),
        queue_url: site.review_queue_url(),
        review,
        checks,
        artifacts,
        rejection: review.decision.as_ref().map(|d| {
            (
                d.decided_by.to_string(),
                d.decided_at.to_string(),
                d.comment.clone(),
            )
        }),
    }
    .render()
    .map_err(RenderError::of("review"))
}

struct DeliveryRow {
    id: String,
    event_type: &'static str,
    state: &'static str,
    created_at: String,
    answers: String,
    next_attempt_at: String,
}

#[derive(Template)]
#[template(path = "deliveries.html")]
struct DeliveriesPage<'a> {
    chrome: Chrome<'a>,
    account_url: String,
    webhook: &'a WebhookView,
    events: String,
    rows: Vec<DeliveryRow>,
}

/// A webhook subscription's deliveries, newest first, each with its attempts.
pub fn deliveries_page(
    site: &Site,
    webhook: &WebhookView,
    log: &DeliveryList,
) -> Result<String, RenderError> {
    let rows = log
        .deliveries
        .iter()
        .map(|d| DeliveryRow {
            id: d.id.clone(),
            event_type: d.event_type.as_str(),
            state: d.state.as_str(),
            created_at: d.created_at.to_string(),
            answers: d
                .attempts
                .iter()
                .map(|a| match (a.status, &a.error) {
                    (Some(status), _) => format!("{status} ({} ms)", a.duration_ms),
                    (None, Some(error)) => error.clone(),
                    (None, None) => "no answer".to_owned(),
                })
                .collect::<Vec<_>>()
                .join("; "),
            next_attempt_at: d.next_attempt_at.map(|t| t.to_string()).unwrap_or_default(),
        })
        .collect();
    DeliveriesPage {
        chrome: Chrome::new(
            site,
            format!("Deliveries of {} · OpenWorkflow plugins", webhook.id),
            String::new(),
        ),
        account_url: site.account_url(),
        events: webhook
            .events
            .iter()
            .map(|e| e.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        webhook,
        rows,
    }
    .render()
    .map_err(RenderError::of("deliveries"))
}
