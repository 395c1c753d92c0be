//! The OpenAPI 3.1 document, assembled from the handlers' annotations.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{keys, plugins, uploads};

/// The registry API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "OpenWorkflow Plugin Registry",
        description = "The OpenWorkflow Registry Protocol: search, details, downloads, publish, update, deprecate, unpublish, API keys.",
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
    ),
    components(schemas(crate::problem::Problem)),
    modifiers(&BearerAuth),
    tags(
        (name = "plugins", description = "Discover and download plugins"),
        (name = "publishing", description = "Publish and manage versions (API key with the publish scope)"),
        (name = "keys", description = "API keys"),
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
