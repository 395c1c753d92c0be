//! The OpenAPI 3.1 document, assembled from the handlers' annotations.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{keys, mcp_router, org_catalog, orgs, plugins, uploads};

/// The registry API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "OpenWorkflow Plugin Registry",
        description = "The OpenWorkflow Registry Protocol: search, details, downloads, publish, update, deprecate, unpublish, API keys, the org-scoped plugin catalog, and MCP router registration with health checks.",
        version = "0.1.0"
    ),
    paths(
        plugins::search::search_plugins,
        plugins::details::get_plugin,
        plugins::download::download_schema,
        plugins::download::download_bundle,
        plugins::publish::publish_plugin,
        plugins::publish::update_plugin,
        uploads::create_upload,
        plugins::deprecate::deprecate_version,
        plugins::unpublish::unpublish_version,
        keys::create_key,
        keys::list_keys,
        keys::revoke_key,
        org_catalog::list_org_plugins,
        org_catalog::org_plugin_versions,
        org_catalog::org_plugin_settings_schema,
        org_catalog::upload_org_plugin,
        org_catalog::patch_org_plugin,
        org_catalog::delete_org_plugin,
        org_catalog::list_system_plugins,
        org_catalog::upload_system_plugin,
        org_catalog::patch_system_plugin,
        org_catalog::delete_system_plugin,
        orgs::create_org,
        orgs::list_orgs,
        orgs::list_members,
        orgs::add_member,
        orgs::remove_member,
        orgs::list_permissions,
        orgs::grant_permission,
        orgs::revoke_permission,
        mcp_router::register_instance,
        mcp_router::deregister_instance,
        mcp_router::get_routing_table,
    ),
    components(schemas(crate::problem::Problem)),
    modifiers(&BearerAuth),
    tags(
        (name = "plugins", description = "Discover and download plugins"),
        (name = "publishing", description = "Publish and manage versions (API key with the publish scope)"),
        (name = "keys", description = "API keys"),
        (name = "org catalog", description = "An org's private catalog: its own plugins and the system plugins (cadence:org:plugins:read|write and membership)"),
        (name = "system catalog", description = "Platform-wide system plugins (sys_admin)"),
        (name = "administration", description = "Orgs, members and permissions (an admin key of a sys_admin)"),
        (name = "router", description = "MCP router registration, health-checked routing tables (API key with the router scope)"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("sk_...")
                    .build(),
            ),
        );
    }
}
