//! Review and webhook pages, behind sign-in and never stored in the index: what
//! waits for a reviewer's decision (with the forms that decide it), the reviews
//! of a person's plugins, one version under review (its checks, its artifacts,
//! a rejection's reason), and a webhook subscription's deliveries.
//! Everything on them came from someone (comments, check summaries, URLs,
//! receivers' errors), so it reaches the page only through the template's
//! escaping, and only http(s) URLs become links.

use askama::Template;
use registry_core::api::webhooks::{DeliveryList, WebhookView};
use registry_core::registry::{DecisionQueue, ReviewView};
use registry_core::review::{CheckStatus, MAX_REVIEW_COMMENT};

use crate::RenderError;
use crate::link::safe_link;
use crate::site::{Chrome, Site};

struct ReviewRow {
    id: String,
    page_url: String,
    state: String,
    submitted_at: String,
    submitted_by: String,
    follows: String,
}

impl ReviewRow {
    fn of(site: &Site, review: &ReviewView) -> Self {
        Self {
            id: review.id.clone(),
            page_url: site.review_page_url(&review.id),
            state: review.state.clone(),
            submitted_at: review.submitted_at.to_string(),
            submitted_by: review.submitted_by.to_string(),
            follows: review
                .current_version
                .clone()
                .map_or_else(|| "a new plugin".to_owned(), |v| format!("after {v}")),
        }
    }
}

struct OrgUploadRow {
    label: String,
    name: String,
    description: String,
    submitted_at: String,
    submitted_by: String,
    decide_url: String,
    comment_id: String,
}

struct OrgQueue {
    heading_id: String,
    name: String,
    id: String,
    rows: Vec<OrgUploadRow>,
}

/// What the review queue page shows a signed-in person.
#[derive(Debug, Clone, Copy)]
pub struct ReviewQueueView<'a> {
    /// The reviews of the person's own plugins.
    pub own: &'a [ReviewView],
    /// What waits for the person's decision.
    pub decisions: &'a DecisionQueue,
    /// The session's anti-forgery token, for the decision forms.
    pub csrf_token: &'a str,
    /// What the last form must fix.
    pub error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "review_queue.html")]
struct ReviewQueuePage<'a> {
    chrome: Chrome<'a>,
    account_url: String,
    csrf_token: &'a str,
    error: Option<&'a str>,
    awaiting: Option<Vec<ReviewRow>>,
    orgs: Vec<OrgQueue>,
    rows: Vec<ReviewRow>,
    max_comment: usize,
}

/// The reviews page: what waits for the person's decision (the registry's
/// held versions for a reviewer, each org's held uploads for its reviewers,
/// with forms to decide those) and the reviews of the person's own plugins.
pub fn review_queue_page(site: &Site, view: &ReviewQueueView<'_>) -> Result<String, RenderError> {
    let orgs = view
        .decisions
        .orgs
        .iter()
        .map(|queue| {
            let org = queue.org.id.as_str();
            OrgQueue {
                heading_id: format!("org-{org}-heading"),
                name: queue.org.name.clone(),
                id: org.to_owned(),
                rows: queue
                    .reviews
                    .iter()
                    .map(|r| OrgUploadRow {
                        label: format!("{}@{}", r.pid, r.version),
                        name: r.name.clone(),
                        description: r.description.clone(),
                        submitted_at: r.submitted_at.to_string(),
                        submitted_by: r.submitted_by.to_string(),
                        decide_url: site.org_review_decision_url(org, r.plugin_id.as_str()),
                        comment_id: format!("comment-{}", r.plugin_id.as_str()),
                    })
                    .collect(),
            }
        })
        .collect();
    ReviewQueuePage {
        chrome: Chrome::new(
            site,
            "Reviews · OpenWorkflow plugins".to_owned(),
            String::new(),
        ),
        account_url: site.account_url(),
        csrf_token: view.csrf_token,
        error: view.error,
        awaiting: view
            .decisions
            .registry
            .as_ref()
            .map(|reviews| reviews.iter().map(|r| ReviewRow::of(site, r)).collect()),
        orgs,
        rows: view.own.iter().map(|r| ReviewRow::of(site, r)).collect(),
        max_comment: MAX_REVIEW_COMMENT,
    }
    .render()
    .map_err(RenderError::of("review queue"))
}

struct CheckRow {
    name: String,
    rerun_url: String,
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

/// What the review page shows besides the review itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReviewPageView<'a> {
    /// The session's anti-forgery token when the person may decide this
    /// review now (a reviewer, and it is pending): the page carries the forms.
    pub decide_csrf: Option<&'a str>,
    /// What the last form must fix.
    pub error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "review.html")]
struct ReviewPage<'a> {
    chrome: Chrome<'a>,
    account_url: String,
    queue_url: String,
    decide_url: String,
    csrf_token: Option<&'a str>,
    error: Option<&'a str>,
    max_comment: usize,
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

/// One version under review, as its owners see it, and as its reviewers do:
/// with the forms that decide it and run its checks again.
pub fn review_page(
    site: &Site,
    review: &ReviewView,
    view: ReviewPageView<'_>,
) -> Result<String, RenderError> {
    let checks = review
        .checks
        .iter()
        .map(|c| CheckRow {
            name: c.name.clone(),
            rerun_url: site.check_rerun_url(&review.id, &c.name),
            status: status_text(c.status),
            deadline: c.deadline.to_string(),
            answered_at: c.answered_at.map(|t| t.to_string()).unwrap_or_default(),
            url: c.url.as_deref().and_then(safe_link),
            summary: c.summary.clone().unwrap_or_default(),
        })
        .collect();
    // The API's addresses take a key; these take the session.
    let mut artifacts = vec![ArtifactRow {
        what: "schema",
        url: site.review_artifact_url(&review.id, "schema"),
        sha256: review.schema.sha256.clone(),
        size: review.schema.size,
    }];
    if let Some(bundle) = &review.bundle {
        artifacts.push(ArtifactRow {
            what: "bundle",
            url: site.review_artifact_url(&review.id, "bundle"),
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
        decide_url: site.review_decision_url(&review.id),
        csrf_token: view.decide_csrf,
        error: view.error,
        max_comment: MAX_REVIEW_COMMENT,
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
