//! The OpenAPI 3.1 document: the handlers' own annotations (collected by the routes
//! that mount them), this crate's title and tags, and [`StandardResponses`], the one
//! place that says what every operation of a kind can answer.

use std::sync::LazyLock;

use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::problem::PROBLEM_CONTENT_TYPE;
use crate::routes::api_routes;

/// The registry API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "OpenWorkflow Plugin Registry",
        description = "The OpenWorkflow Registry Protocol: search, details, downloads, publish, update, deprecate, unpublish, API keys, the org-scoped plugin catalog, and MCP router registration with health checks.",
        version = "0.1.0"
    ),
    components(schemas(crate::problem::Problem)),
    modifiers(&BearerAuth),
    tags(
        (name = "plugins", description = "Discover and download plugins"),
        (name = "publishing", description = "Publish and manage versions (API key with the publish scope)"),
        (name = "keys", description = "API keys"),
        (name = "owners", description = "A plugin's owners (people and teams) and invitations to join them; the last owner is never removed"),
        (name = "review", description = "Versions held for review where the registry requires it: reviewers list, read, approve and reject them; owners follow their own"),
        (name = "webhooks", description = "Signed HTTP callbacks (Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature`) when versions are published, held for review, approved, rejected, deprecated or unpublished, and when the router removes an instance; retried with backoff for 24 hours, each delivery logged"),
        (name = "analytics", description = "A plugin's downloads per day, week or month, per version and per client, for its owners and keys with the analytics scope; never cached by a shared cache"),
        (name = "audit", description = "The audit log: every change of state, with who made it, the key or session (by id) and the request id; a plugin's for its owners, all of it for admins"),
        (name = "moderation", description = "Anyone with a key reports a plugin or a version to the admins, who list the reports and resolve them; a report's author is shown to admins only"),
        (name = "trusted publishing", description = "CI workflows publish with no stored secret: owners register a GitHub Actions workflow or GitLab pipeline by its ids, and a job exchanges its OIDC token for a publish token of at most 15 minutes for those plugins alone"),
        (name = "teams", description = "Teams own plugins for their members; maintainers manage the members"),
        (name = "sign-in", description = "People sign in through an OpenID Connect provider or GitHub, and manage their account in the browser (HTML pages; forms carry the session's anti-forgery token)"),
        (name = "org catalog", description = "An org's private catalog: its own plugins and the system plugins (cadence:org:plugins:read|write and membership)"),
        (name = "system catalog", description = "Platform-wide system plugins (sys_admin)"),
        (name = "administration", description = "Orgs, members and permissions (an admin key of a sys_admin)"),
        (name = "meta", description = "This API's description and the registry's own health"),
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
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::session::SESSION_COOKIE,
                "A browser session from signing in; it authenticates the account pages only, never the API",
            ))),
        );
    }
}

/// The whole document, whichever function serves it: the same for every entry point.
pub fn api_document() -> utoipa::openapi::OpenApi {
    let mut document = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(api_routes())
        .into_openapi();
    StandardResponses.modify(&mut document);
    document
}

/// [`api_document`] as JSON, made once per process.
pub fn api_document_json() -> &'static str {
    static JSON: LazyLock<String> = LazyLock::new(|| {
        api_document()
            .to_pretty_json()
            .unwrap_or_else(|_| "{}".to_owned())
    });
    &JSON
}

/// What every operation of a kind can answer, said once instead of in each
/// handler's annotation: every error answer is a problem+json body; an operation
/// that takes parameters or a body can answer 400, one with a body 408 and 413, one
/// that reads a key 401 and 403; every operation 429 (a client over its share of
/// connections or requests); and every operation can fail unexpectedly (500) or
/// find storage briefly unavailable (503). A handler's own description of a status
/// is kept; these only fill what it leaves out.
pub struct StandardResponses;

impl StandardResponses {
    const MALFORMED: &str =
        "Malformed request: a path segment, query parameter or body that does not parse";
    const UNAUTHENTICATED: &str = "No API key where one is needed, or a key that is unknown, revoked (`unauthenticated`) or expired (`key_expired`)";
    const FORBIDDEN: &str =
        "The key may not do this: its scopes, the principal's ownership, permissions or membership";
    const TOO_LARGE: &str = "The body is over this operation's size limit";
    const TOO_SLOW: &str =
        "The body did not arrive within the server's body timeout; the connection closes";
    const TOO_MANY: &str = "Too many connections from this client at once (self-hosted server), or requests (AWS throttling): retry shortly";
    const UNEXPECTED: &str =
        "An unexpected failure (500), or storage briefly unavailable (503): retry later";

    fn complete(operation: &mut Operation) {
        let takes_input = operation.parameters.as_ref().is_some_and(|p| !p.is_empty())
            || operation.request_body.is_some();
        let reads_key = operation.security.is_some();
        let responses = &mut operation.responses.responses;
        let mut add = |status: &str, description: &str| {
            responses.entry(status.to_owned()).or_insert_with(|| {
                RefOr::T(ResponseBuilder::new().description(description).build())
            });
        };
        if takes_input {
            add("400", Self::MALFORMED);
        }
        if reads_key {
            add("401", Self::UNAUTHENTICATED);
            add("403", Self::FORBIDDEN);
        }
        if operation.request_body.is_some() {
            add("408", Self::TOO_SLOW);
            add("413", Self::TOO_LARGE);
        }
        add("429", Self::TOO_MANY);
        add("default", Self::UNEXPECTED);
        for (status, response) in responses.iter_mut() {
            if let RefOr::T(response) = response
                && is_error(status)
                && response.content.is_empty()
            {
                set_problem_body(response);
            }
        }
    }
}

impl Modify for StandardResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            for operation in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
                &mut item.head,
                &mut item.options,
                &mut item.trace,
            ]
            .into_iter()
            .flatten()
            {
                Self::complete(operation);
            }
        }
    }
}

/// 4xx, 5xx and `default` answers are failures.
fn is_error(status: &str) -> bool {
    status == "default" || status.starts_with('4') || status.starts_with('5')
}

fn set_problem_body(response: &mut Response) {
    response.content.insert(
        PROBLEM_CONTENT_TYPE.to_owned(),
        RefOr::T(Content::new(Some(Ref::from_schema_name("Problem")))),
    );
}
