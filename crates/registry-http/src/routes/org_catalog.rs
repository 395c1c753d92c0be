//! The org-scoped catalog: `/api/orgs/{org_id}/plugins...` and the system
//! catalog's `/api/system/plugins...`.
//!
//! Every handler passes the gate (key, permission, membership) before it reads a
//! request body, so an unauthorised upload is refused without being received.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use registry_core::RegistryError;
use registry_core::artifact::ZIP_CONTENT_TYPE;
use registry_core::bundle::MAX_BUNDLE_BYTES;
use registry_core::catalog::CatalogSource;
use registry_core::registry::{
    CatalogFilter, CatalogPlugin, CatalogUploadBody, CatalogWriter, SettingsSchema,
};
use serde::{Deserialize, Serialize};

use crate::auth::MaybeCaller;
use crate::body::{disposition_file_name, media_type, named_upload, parse_json, read_limited};
use crate::multipart::read_zip_part;
use crate::problem::ApiError;
use crate::routes::{json_response, query};
use crate::state::AppState;

const MAX_PATCH_BODY: usize = 4 * 1024;

/// An org's catalog.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CatalogList {
    /// One entry per plugin and source: its highest enabled version, or its highest
    /// version when none is enabled.
    plugins: Vec<CatalogPlugin>,
    /// How many entries there are.
    total: usize,
}

/// Every version of one plugin.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CatalogVersions {
    /// The plugin.
    pid: String,
    /// Its versions, highest first (org before system at equal versions).
    versions: Vec<CatalogPlugin>,
}

/// Filters of the catalog list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct CatalogListParams {
    /// Only plugins with this tag.
    tag: Option<String>,
    /// `true`: only plugins this org may use; `false`: only disabled ones.
    enabled: Option<String>,
    /// `org` or `system`.
    source: Option<String>,
}

/// Which versions to list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct SourceParams {
    /// `org` or `system` (default: both).
    source: Option<String>,
}

/// Which settings schema to read.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct SettingsSchemaParams {
    /// A version (default: the one the list shows).
    pub(crate) version: Option<String>,
    /// `org` or `system` (default: the org's own plugin when both exist).
    pub(crate) source: Option<String>,
}

/// Names a ZIP uploaded through `POST /uploads` instead of sending a body.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct CatalogUploadParams {
    /// The id `POST /uploads` returned; the request then has no body.
    upload_id: Option<String>,
}

/// The change a PATCH makes.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnablementRequest {
    /// Enable (`true`) or disable (`false`) the plugin for this catalog.
    enabled: bool,
}

pub(crate) fn parse_source(raw: Option<&str>) -> Result<Option<CatalogSource>, ApiError> {
    raw.map(CatalogSource::parse).transpose().map_err(|detail| {
        RegistryError::InvalidParameter {
            name: "source",
            detail,
        }
        .into()
    })
}

fn parse_enabled(raw: Option<&str>) -> Result<Option<bool>, ApiError> {
    match raw {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(other) => Err(RegistryError::InvalidParameter {
            name: "enabled",
            detail: format!("{other:?} is not true or false"),
        }
        .into()),
    }
}

/// Lists an org's catalog: its own plugins and the system plugins together.
#[utoipa::path(
    get,
    path = "/api/orgs/{org_id}/plugins",
    params(("org_id" = String, Path, description = "The org"), CatalogListParams),
    responses(
        (status = 200, description = "The catalog", body = CatalogList),
        (status = 400, description = "Bad filter"),
        (status = 403, description = "Missing cadence:org:plugins:read, or not a member"),
        (status = 404, description = "No such org"),
    ),
    security(("api_key" = [])),
    tag = "org catalog"
)]
pub async fn list_org_plugins(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path(org_id): Path<String>,
    params: Result<Query<CatalogListParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let reader = state
        .registry
        .authorize_org_read(caller.0.as_ref(), &org_id)
        .await?;
    let params = query(params)?;
    let filter = CatalogFilter {
        tag: params.tag,
        enabled: parse_enabled(params.enabled.as_deref())?,
        source: parse_source(params.source.as_deref())?,
    };
    let plugins = state.registry.list_org_plugins(&reader, &filter).await?;
    let total = plugins.len();
    Ok(json_response(
        StatusCode::OK,
        &CatalogList { plugins, total },
        true,
    ))
}

/// Lists every version of a plugin, soft-deleted ones included.
#[utoipa::path(
    get,
    path = "/api/orgs/{org_id}/plugins/{pid}/versions",
    params(("org_id" = String, Path, description = "The org"), ("pid" = String, Path, description = "The plugin id (slug)"), SourceParams),
    responses(
        (status = 200, description = "The versions", body = CatalogVersions),
        (status = 403, description = "Missing permission, or not a member"),
        (status = 404, description = "No such org or plugin"),
    ),
    security(("api_key" = [])),
    tag = "org catalog"
)]
pub async fn org_plugin_versions(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path((org_id, pid)): Path<(String, String)>,
    params: Result<Query<SourceParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let reader = state
        .registry
        .authorize_org_read(caller.0.as_ref(), &org_id)
        .await?;
    let source = parse_source(query(params)?.source.as_deref())?;
    let versions = state
        .registry
        .org_plugin_versions(&reader, &pid, source)
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &CatalogVersions { pid, versions },
        true,
    ))
}

/// The settings a plugin needs, as JSON Schema, for a UI to render as a form.
#[utoipa::path(
    get,
    path = "/api/orgs/{org_id}/plugins/{pid}/settings-schema",
    params(("org_id" = String, Path, description = "The org"), ("pid" = String, Path, description = "The plugin id (slug)"), SettingsSchemaParams),
    responses(
        (status = 200, description = "The settings schema", body = SettingsSchema),
        (status = 403, description = "Missing permission, or not a member"),
        (status = 404, description = "No such org, plugin or version"),
    ),
    security(("api_key" = [])),
    tag = "org catalog"
)]
pub async fn org_plugin_settings_schema(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path((org_id, pid)): Path<(String, String)>,
    params: Result<Query<SettingsSchemaParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let reader = state
        .registry
        .authorize_org_read(caller.0.as_ref(), &org_id)
        .await?;
    let params = query(params)?;
    let source = parse_source(params.source.as_deref())?;
    let schema = state
        .registry
        .org_plugin_settings_schema(&reader, &pid, params.version.as_deref(), source)
        .await?;
    Ok(json_response(StatusCode::OK, &schema, true))
}

/// Uploads a plugin ZIP to an org's catalog.
#[utoipa::path(
    post,
    path = "/api/orgs/{org_id}/plugins/upload",
    params(("org_id" = String, Path, description = "The org"), CatalogUploadParams),
    request_body(description = "multipart/form-data with the ZIP in a part named `file` (or the ZIP itself as application/zip with a Content-Disposition filename)",
        content(("multipart/form-data"), ("application/zip"))),
    responses(
        (status = 201, description = "Uploaded and discovered", body = CatalogPlugin),
        (status = 202, description = "Uploaded, and held for the org's reviewers: in no list until approved", body = CatalogPlugin),
        (status = 200, description = "The same ZIP was already uploaded", body = CatalogPlugin),
        (status = 400, description = "Not a .zip name, not a ZIP, unsafe or malformed archive, no manifest"),
        (status = 403, description = "Missing cadence:org:plugins:write, or not a member"),
        (status = 404, description = "No such org"),
        (status = 409, description = "That version is already in the catalog with other content"),
        (status = 413, description = "Over 5 MB"),
        (status = 415, description = "Not multipart/form-data or application/zip"),
        (status = 422, description = "Invalid manifest or settings schema, field by field"),
    ),
    security(("api_key" = [])),
    tag = "org catalog"
)]
pub async fn upload_org_plugin(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path(org_id): Path<String>,
    params: Result<Query<CatalogUploadParams>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let writer = state
        .registry
        .authorize_org_write(caller.0.as_ref(), &org_id)
        .await?;
    upload(&state, &writer, params, &headers, body).await
}

/// Uploads a plugin ZIP to the system catalog (platform admins).
#[utoipa::path(
    post,
    path = "/api/system/plugins/upload",
    params(CatalogUploadParams),
    request_body(description = "multipart/form-data with the ZIP in a part named `file`",
        content(("multipart/form-data"), ("application/zip"))),
    responses(
        (status = 201, description = "Uploaded and discovered", body = CatalogPlugin),
        (status = 200, description = "The same ZIP was already uploaded", body = CatalogPlugin),
        (status = 400, description = "Bad ZIP"),
        (status = 403, description = "Not sys_admin"),
        (status = 409, description = "That version exists with other content"),
        (status = 413, description = "Over 5 MB"),
        (status = 415, description = "Not multipart/form-data or application/zip"),
        (status = 422, description = "Invalid manifest"),
    ),
    security(("api_key" = [])),
    tag = "system catalog"
)]
pub async fn upload_system_plugin(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    params: Result<Query<CatalogUploadParams>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let writer = state
        .registry
        .authorize_system_write(caller.0.as_ref())
        .await?;
    upload(&state, &writer, params, &headers, body).await
}

async fn upload(
    state: &AppState,
    writer: &CatalogWriter,
    params: Result<Query<CatalogUploadParams>, QueryRejection>,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body = match query(params)?.upload_id {
        Some(upload_id) => CatalogUploadBody::Upload {
            upload_id: named_upload(headers, body, &upload_id).await?,
        },
        None if media_type(headers).as_deref() == Some(ZIP_CONTENT_TYPE) => {
            let file_name = disposition_file_name(headers).ok_or_else(|| {
                ApiError::bad_request(
                    "missing_file_name",
                    "name the file: Content-Disposition: attachment; filename=\"plugin.zip\"",
                )
            })?;
            CatalogUploadBody::Bundle {
                bytes: read_limited(headers, body, MAX_BUNDLE_BYTES).await?,
                file_name: Some(file_name),
            }
        }
        None => {
            let file = read_zip_part(headers, body).await?;
            CatalogUploadBody::Bundle {
                bytes: file.bytes,
                file_name: Some(file.file_name),
            }
        }
    };
    let uploaded = state.registry.upload_catalog_plugin(writer, body).await?;
    let status = if uploaded.pending_review {
        StatusCode::ACCEPTED
    } else if uploaded.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(json_response(status, &uploaded.plugin, true))
}

/// Enables or disables a plugin for the org (a system plugin: for this org only).
#[utoipa::path(
    patch,
    path = "/api/orgs/{org_id}/plugins/{plugin_id}",
    params(("org_id" = String, Path, description = "The org"), ("plugin_id" = String, Path, description = "The catalog row (plg_...)")),
    request_body = EnablementRequest,
    responses(
        (status = 200, description = "Changed", body = CatalogPlugin),
        (status = 400, description = "Malformed JSON"),
        (status = 403, description = "Missing cadence:org:plugins:write, or not a member"),
        (status = 404, description = "No such org, or no such plugin in this org's catalog"),
        (status = 409, description = "The platform disabled this system plugin"),
        (status = 422, description = "Body of the wrong shape"),
    ),
    security(("api_key" = [])),
    tag = "org catalog"
)]
pub async fn patch_org_plugin(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path((org_id, plugin_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let writer = state
        .registry
        .authorize_org_write(caller.0.as_ref(), &org_id)
        .await?;
    set_enabled_from_body(&state, &writer, &plugin_id, &headers, body).await
}

/// Disables a plugin for the org (soft delete: the row and the ZIP stay; PATCH
/// re-enables it).
#[utoipa::path(
    delete,
    path = "/api/orgs/{org_id}/plugins/{plugin_id}",
    params(("org_id" = String, Path, description = "The org"), ("plugin_id" = String, Path, description = "The catalog row (plg_...)")),
    responses(
        (status = 200, description = "Disabled", body = CatalogPlugin),
        (status = 403, description = "Missing cadence:org:plugins:write, or not a member"),
        (status = 404, description = "No such org or plugin"),
    ),
    security(("api_key" = [])),
    tag = "org catalog"
)]
pub async fn delete_org_plugin(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path((org_id, plugin_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let writer = state
        .registry
        .authorize_org_write(caller.0.as_ref(), &org_id)
        .await?;
    let plugin = state
        .registry
        .set_catalog_plugin_enabled(&writer, &plugin_id, false)
        .await?;
    Ok(json_response(StatusCode::OK, &plugin, true))
}

/// Lists the system catalog with the platform's enablement (platform admins).
#[utoipa::path(
    get,
    path = "/api/system/plugins",
    responses(
        (status = 200, description = "Every system plugin version", body = CatalogList),
        (status = 403, description = "Not sys_admin"),
    ),
    security(("api_key" = [])),
    tag = "system catalog"
)]
pub async fn list_system_plugins(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
) -> Result<Response, ApiError> {
    let writer = state
        .registry
        .authorize_system_write(caller.0.as_ref())
        .await?;
    let plugins = state.registry.list_system_plugins(&writer).await?;
    let total = plugins.len();
    Ok(json_response(
        StatusCode::OK,
        &CatalogList { plugins, total },
        true,
    ))
}

/// Enables or disables a system plugin for every org (platform admins).
#[utoipa::path(
    patch,
    path = "/api/system/plugins/{plugin_id}",
    params(("plugin_id" = String, Path, description = "The system catalog row (plg_...)")),
    request_body = EnablementRequest,
    responses(
        (status = 200, description = "Changed", body = CatalogPlugin),
        (status = 403, description = "Not sys_admin"),
        (status = 404, description = "No such system plugin"),
        (status = 422, description = "Body of the wrong shape"),
    ),
    security(("api_key" = [])),
    tag = "system catalog"
)]
pub async fn patch_system_plugin(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path(plugin_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let writer = state
        .registry
        .authorize_system_write(caller.0.as_ref())
        .await?;
    set_enabled_from_body(&state, &writer, &plugin_id, &headers, body).await
}

/// Disables a system plugin for every org (platform admins; soft delete).
#[utoipa::path(
    delete,
    path = "/api/system/plugins/{plugin_id}",
    params(("plugin_id" = String, Path, description = "The system catalog row (plg_...)")),
    responses(
        (status = 200, description = "Disabled", body = CatalogPlugin),
        (status = 403, description = "Not sys_admin"),
        (status = 404, description = "No such system plugin"),
    ),
    security(("api_key" = [])),
    tag = "system catalog"
)]
pub async fn delete_system_plugin(
    State(state): State<Arc<AppState>>,
    caller: MaybeCaller,
    Path(plugin_id): Path<String>,
) -> Result<Response, ApiError> {
    let writer = state
        .registry
        .authorize_system_write(caller.0.as_ref())
        .await?;
    let plugin = state
        .registry
        .set_catalog_plugin_enabled(&writer, &plugin_id, false)
        .await?;
    Ok(json_response(StatusCode::OK, &plugin, true))
}

async fn set_enabled_from_body(
    state: &AppState,
    writer: &CatalogWriter,
    plugin_id: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_limited(headers, body, MAX_PATCH_BODY).await?;
    let request: EnablementRequest = parse_json(&bytes)?;
    let plugin = state
        .registry
        .set_catalog_plugin_enabled(writer, plugin_id, request.enabled)
        .await?;
    Ok(json_response(StatusCode::OK, &plugin, true))
}
