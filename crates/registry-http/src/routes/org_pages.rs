//! The org catalog in the browser, for a signed-in member: `GET
//! /account/orgs/{org_id}`, `GET /account/orgs/{org_id}/plugins/{pid}` and the
//! enable/disable form's `POST /account/orgs/{org_id}/enablement`.
//!
//! A session passes exactly the gates a key passes on `/api/orgs/...` (the
//! permission, then membership), so a page never shows what the API would
//! refuse; the buttons appear only for a person who may write, and the form's
//! post is checked again.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use registry_core::RegistryError;
use registry_core::registry::CatalogFilter;
use registry_pages::{OrgCatalogView, OrgPluginView, Site};
use serde::Deserialize;

use crate::routes::org_catalog::{SettingsSchemaParams, parse_source};
use crate::routes::plugins::search::page_failed;
use crate::routes::query;
use crate::session::{
    BrowserSession, SignedInForm, asked_for, browser_answer, personal_page, see_other,
    sign_in_first,
};
use crate::state::AppState;

/// Filters of an org's catalog page.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct OrgPageParams {
    /// Only plugins with this tag (any case).
    tag: Option<String>,
}

/// An org's catalog as a page, for its signed-in members.
#[utoipa::path(
    get,
    path = "/account/orgs/{org_id}",
    params(("org_id" = String, Path, description = "The org"), OrgPageParams),
    responses(
        (status = 200, description = "The org's plugins (its own and the system's), filtered by tag, with enable and disable buttons for those who may write", content_type = "text/html"),
        (status = 303, description = "Not signed in: to the sign-in page, returning here"),
        (status = 400, description = "A query that is not one", content_type = "text/html"),
        (status = 403, description = "Missing cadence:org:plugins:read, or not a member", content_type = "text/html"),
        (status = 404, description = "No such org", content_type = "text/html"),
    ),
    tag = "org catalog"
)]
pub async fn org_catalog_page(
    State(state): State<Arc<AppState>>,
    session: BrowserSession,
    Path(org_id): Path<String>,
    params: Result<Query<OrgPageParams>, QueryRejection>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let site = Site::new(&state.registry.config().public_url);
        let params = query(params)?;
        let Some(session) = session.0 else {
            return Ok(sign_in_first(&site, asked_for(&uri)));
        };
        let access = state
            .registry
            .authorize_org_page(Some(&session.caller), &org_id)
            .await?;
        let all = state
            .registry
            .list_org_plugins(&access.reader, &CatalogFilter::default())
            .await?;
        let filter = CatalogFilter {
            tag: params.tag.clone(),
            ..CatalogFilter::default()
        };
        let shown: Vec<_> = all.iter().filter(|p| filter.admits(p)).cloned().collect();
        let csrf = session.secret.csrf_token();
        let html = registry_pages::org_catalog_page(
            &site,
            &OrgCatalogView {
                org: &access.org,
                all: &all,
                shown: &shown,
                tag: params.tag.as_deref(),
                csrf_token: access.writer.is_some().then_some(csrf.as_str()),
            },
        )
        .map_err(page_failed)?;
        Ok(personal_page(StatusCode::OK, html))
    }
    .await;
    browser_answer(&state, &headers, result)
}

/// One plugin of an org's catalog as a page: its versions and a read-only
/// preview of a version's settings form.
#[utoipa::path(
    get,
    path = "/account/orgs/{org_id}/plugins/{pid}",
    params(("org_id" = String, Path, description = "The org"), ("pid" = String, Path, description = "The plugin id (slug)"), SettingsSchemaParams),
    responses(
        (status = 200, description = "The plugin's versions, with enable and disable buttons for those who may write, and the settings form of the version asked for (else of the one the list shows), `writeOnly` fields masked", content_type = "text/html"),
        (status = 303, description = "Not signed in: to the sign-in page, returning here"),
        (status = 400, description = "A source or version that is not one", content_type = "text/html"),
        (status = 403, description = "Missing cadence:org:plugins:read, or not a member", content_type = "text/html"),
        (status = 404, description = "No such org, plugin or version", content_type = "text/html"),
    ),
    tag = "org catalog"
)]
pub async fn org_plugin_page(
    State(state): State<Arc<AppState>>,
    session: BrowserSession,
    Path((org_id, pid)): Path<(String, String)>,
    params: Result<Query<SettingsSchemaParams>, QueryRejection>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let site = Site::new(&state.registry.config().public_url);
        let params = query(params)?;
        let Some(session) = session.0 else {
            return Ok(sign_in_first(&site, asked_for(&uri)));
        };
        let access = state
            .registry
            .authorize_org_page(Some(&session.caller), &org_id)
            .await?;
        let source = parse_source(params.source.as_deref())?;
        let overview = state
            .registry
            .org_plugin_overview(&access.reader, &pid, params.version.as_deref(), source)
            .await?;
        let csrf = session.secret.csrf_token();
        let html = registry_pages::org_plugin_page(
            &site,
            &OrgPluginView {
                org: &access.org,
                versions: &overview.versions,
                settings: &overview.settings,
                csrf_token: access.writer.is_some().then_some(csrf.as_str()),
            },
        )
        .map_err(page_failed)?;
        Ok(personal_page(StatusCode::OK, html))
    }
    .await;
    browser_answer(&state, &headers, result)
}

/// Enables or disables one catalog plugin (a version) for the org, from its
/// pages; the same gate as `PATCH /api/orgs/{org_id}/plugins/{plugin_id}`.
#[utoipa::path(
    post,
    path = "/account/orgs/{org_id}/enablement",
    params(("org_id" = String, Path, description = "The org")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`csrf`, `plugin_id` (the row: one plugin at one version from one source), `enabled` (`true` or `false`) and `from` (`list` or `plugin`: the page to go back to)"),
    responses(
        (status = 303, description = "Changed: back to the page the form was on"),
        (status = 400, description = "`enabled` is not true or false", content_type = "text/html"),
        (status = 403, description = "Missing cadence:org:plugins:write, not a member, or a form from another site", content_type = "text/html"),
        (status = 404, description = "No such org, or no such plugin in its catalog", content_type = "text/html"),
        (status = 409, description = "A system plugin the platform disabled cannot be enabled for one org", content_type = "text/html"),
        (status = 415, description = "Not a form"),
    ),
    security(("session" = [])),
    tag = "org catalog"
)]
pub async fn org_enablement_form(
    State(state): State<Arc<AppState>>,
    Path(org_id): Path<String>,
    headers: HeaderMap,
    SignedInForm { session, form }: SignedInForm,
) -> Response {
    let result = async {
        let writer = state
            .registry
            .authorize_org_write(Some(&session.caller), &org_id)
            .await?;
        let enabled = match form.first("enabled") {
            Some("true") => true,
            Some("false") => false,
            other => {
                return Err(RegistryError::InvalidParameter {
                    name: "enabled",
                    detail: format!("{:?} is not true or false", other.unwrap_or_default()),
                }
                .into());
            }
        };
        let plugin_id = form.first("plugin_id").unwrap_or_default();
        let changed = state
            .registry
            .set_catalog_plugin_enabled(&writer, plugin_id, enabled)
            .await?;
        let site = Site::new(&state.registry.config().public_url);
        let back = if form.first("from") == Some("plugin") {
            format!(
                "{}/account/orgs/{org_id}/plugins/{}?{}",
                site.base(),
                changed.pid,
                url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("source", changed.source.as_str())
                    .finish()
            )
        } else {
            format!("{}/account/orgs/{org_id}", site.base())
        };
        Ok(see_other(&back))
    }
    .await;
    browser_answer(&state, &headers, result)
}
