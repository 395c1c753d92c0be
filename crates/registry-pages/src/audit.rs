//! A plugin's audit log as a page, for its owners: rendered per request behind
//! sign-in, never stored in the index. Every value in it was written by someone
//! (notes, names), so it reaches the page only through the template's escaping.

use askama::Template;
use registry_core::registry::AuditLog;

use crate::RenderError;
use crate::site::{Chrome, Site};

struct AuditRow {
    at: String,
    action: &'static str,
    actor: String,
    actor_id: String,
    credential: String,
    request_id: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage<'a> {
    chrome: Chrome<'a>,
    slug: &'a str,
    plugin_url: String,
    account_url: String,
    rows: Vec<AuditRow>,
    older_url: Option<String>,
}

/// The page of `slug`'s audit log showing `log`.
pub fn audit_page(site: &Site, slug: &str, log: &AuditLog) -> Result<String, RenderError> {
    let rows = log
        .records
        .iter()
        .map(|e| AuditRow {
            at: e.at.to_string(),
            action: e.action.as_str(),
            actor: e.actor_name.clone(),
            actor_id: e.actor.to_string(),
            credential: e.credential.clone().unwrap_or_default(),
            request_id: e.request_id.clone().unwrap_or_default(),
            detail: e.detail.to_string(),
        })
        .collect();
    let older_url = log.next_before.as_ref().map(|before| {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("before", before)
            .finish();
        format!("{}?{query}", site.plugin_audit_page_url(slug))
    });
    AuditPage {
        chrome: Chrome::new(
            site,
            format!("Audit log of {slug} · OpenWorkflow plugins"),
            String::new(),
        ),
        slug,
        plugin_url: site.plugin_url(slug),
        account_url: site.account_url(),
        rows,
        older_url,
    }
    .render()
    .map_err(RenderError::of("audit"))
}
