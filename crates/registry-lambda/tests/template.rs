//! `infra/template.yaml` against the code: every Lambda binary is deployed, every
//! API route reaches a function whose router really serves it, and no function
//! is deployed without a binary.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::body::Body;
use http_body_util::BodyExt;
use registry_core::registry::OrgStores;
use registry_core::store::FileArtifactStore;
use registry_core::timestamp::SystemClock;
use registry_core::{Registry, RegistryConfig};
use registry_http::problem::NO_SUCH_ROUTE;
use registry_http::routes::{
    ApiRoutes, deprecate_routes, key_routes, mcp_router_routes, org_catalog_routes, publish_routes,
    search_function_routes, sign_in_routes, unpublish_routes,
};
use registry_http::state::AppState;
use registry_index::FileIndexStore;
use registry_lambda::runtime::function_router;
use registry_sqlite::SqliteStore;
use serde_json::Value;
use tower::ServiceExt;

const TEMPLATE: &str = include_str!("../../../infra/template.yaml");

/// The value after `key:` on a trimmed line, if the line is that key.
fn value_of<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.trim()
        .strip_prefix(key)?
        .strip_prefix(':')
        .map(str::trim)
}

/// (route key, integration resource) for every `AWS::ApiGatewayV2::Route`.
fn template_routes() -> Vec<(String, String)> {
    let mut routes = Vec::new();
    let mut pending: Option<String> = None;
    for line in TEMPLATE.lines() {
        if let Some(key) = value_of(line, "RouteKey") {
            pending = Some(key.to_owned());
        } else if let Some(target) = value_of(line, "Target")
            && let Some(key) = pending.take()
        {
            let integration = target
                .split("integrations/${")
                .nth(1)
                .and_then(|rest| rest.split('}').next())
                .expect("Target: !Sub \"integrations/${SomeIntegration}\"");
            routes.push((key, integration.to_owned()));
        }
    }
    routes
}

/// Every `Binary:` a function is built from.
fn template_binaries() -> BTreeSet<String> {
    TEMPLATE
        .lines()
        .filter_map(|l| value_of(l, "Binary"))
        .map(str::to_owned)
        .collect()
}

fn routes_of_integration(integration: &str) -> fn() -> ApiRoutes {
    match integration {
        "PublishIntegration" => publish_routes,
        "DeprecateIntegration" => deprecate_routes,
        "UnpublishIntegration" => unpublish_routes,
        "SearchIntegration" => search_function_routes,
        "KeysIntegration" => key_routes,
        "OrgCatalogIntegration" => org_catalog_routes,
        "RouterIntegration" => mcp_router_routes,
        "SignInIntegration" => sign_in_routes,
        other => panic!("no function router is known for {other}"),
    }
}

fn embedded_state(dir: &std::path::Path) -> Arc<AppState> {
    let store = Arc::new(SqliteStore::open(&dir.join("catalog.sqlite3")).unwrap());
    let registry = Registry::new(
        store.clone(),
        Arc::new(FileArtifactStore::new(dir)),
        store.clone(),
        Arc::new(SystemClock),
        RegistryConfig {
            public_url: "https://registry.example.com".into(),
            private: false,
        },
    )
    .with_org_catalog(OrgStores {
        orgs: store.clone(),
        catalog: store.clone(),
    })
    .with_mcp_router(
        registry_outbound::http_mcp_router(
            store,
            Default::default(),
            std::time::Duration::from_secs(1),
        )
        .unwrap(),
    );
    Arc::new(AppState::new(
        Arc::new(registry),
        Arc::new(FileIndexStore::new(dir.join("index"))),
        std::time::Duration::ZERO,
    ))
}

#[test]
fn every_lambda_binary_is_a_function_in_the_template_and_no_other() {
    let bin_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/bin");
    let mut binaries: BTreeSet<String> = std::fs::read_dir(bin_dir)
        .unwrap()
        .map(|e| {
            e.unwrap()
                .path()
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    // The one function outside this crate: the index builder, event-driven.
    let index_manifest = include_str!("../../registry-index/Cargo.toml");
    assert!(index_manifest.contains("name = \"index-builder\""));
    binaries.insert("index-builder".to_owned());
    assert_eq!(template_binaries(), binaries);
    let rust_builds = TEMPLATE.matches("BuildMethod: rust-cargolambda").count();
    assert_eq!(
        rust_builds,
        binaries.len(),
        "each function builds with cargo-lambda"
    );
}

#[tokio::test]
async fn every_api_route_reaches_a_function_that_serves_it() {
    let routes = template_routes();
    assert!(routes.len() >= 14, "found only {routes:?}");
    let mut by_function: BTreeMap<&str, usize> = BTreeMap::new();
    let dir = tempfile::tempdir().unwrap();
    let state = embedded_state(dir.path());
    for (key, integration) in &routes {
        *by_function.entry(integration).or_default() += 1;
        let (method, path) = key.split_once(' ').unwrap();
        let path = path
            .replace("{slug}", "github")
            .replace("{version}", "1.2.0")
            .replace("{key_id}", "key_0123456789abcdef")
            .replace("{org_id}", "acme")
            .replace("{plugin}", "web-search")
            .replace("{principal_id}", "prn_0123456789abcdef")
            .replace("{permission}", "sys_admin")
            .replace("{provider}", "oidc")
            .replace("{proxy+}", "plugins/github.html");
        let router = function_router(routes_of_integration(integration)(), Arc::clone(&state));
        let request = axum::http::Request::builder()
            .method(method)
            .uri(&path)
            .body(Body::empty())
            .unwrap();
        let response = router.oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        // The fallbacks answer unknown routes and wrong methods; a served route
        // answers anything else (here mostly 401 or 404 for the sample names).
        assert!(
            body["code"] != "method_not_allowed" && body["detail"] != NO_SUCH_ROUTE,
            "{key} via {integration}: {status} {body}"
        );
    }
    assert_eq!(
        by_function.keys().copied().collect::<Vec<_>>(),
        [
            "DeprecateIntegration",
            "KeysIntegration",
            "OrgCatalogIntegration",
            "PublishIntegration",
            "RouterIntegration",
            "SearchIntegration",
            "SignInIntegration",
            "UnpublishIntegration"
        ]
    );
}

#[test]
fn every_api_gateway_fixture_names_a_route_the_template_declares() {
    let declared: BTreeSet<String> = template_routes().into_iter().map(|(k, _)| k).collect();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/apigw");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let event: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let route = event["routeKey"].as_str().unwrap();
        assert_eq!(event["requestContext"]["routeKey"], route, "{path:?}");
        assert!(
            declared.contains(route),
            "{path:?}: {route} is not in the template"
        );
        checked += 1;
    }
    assert!(checked >= 9);
}

/// The headers CloudFront adds to what S3 serves are the ones the self-hosted
/// server sends: the pages' content security policy, and the downloads' sandbox
/// and attachment, on every download path.
#[test]
fn the_cdn_sends_the_same_browser_policies_as_the_server() {
    let quoted = |policy: &str| format!("ContentSecurityPolicy: \"{policy}\"");
    assert!(
        TEMPLATE.contains(&quoted(registry_pages::CONTENT_SECURITY_POLICY)),
        "the page headers policy carries registry-pages' CONTENT_SECURITY_POLICY"
    );
    assert!(
        TEMPLATE.contains(&quoted(registry_pages::DOWNLOAD_CONTENT_SECURITY_POLICY)),
        "the download headers policy carries DOWNLOAD_CONTENT_SECURITY_POLICY"
    );
    for pattern in ["/plugins/*/schema", "/plugins/*/bundle", "/artifacts/*"] {
        let behavior = TEMPLATE
            .split("- PathPattern: ")
            .find(|b| b.starts_with(pattern))
            .unwrap_or_else(|| panic!("a cache behavior for {pattern}"));
        let behavior = behavior.split("DefaultCacheBehavior:").next().unwrap();
        assert!(
            behavior.contains("ResponseHeadersPolicyId: !Ref DownloadHeadersPolicy"),
            "{pattern} is sent with the download headers"
        );
        assert!(
            behavior.contains("EdgeRouter.FunctionMetadata.FunctionARN"),
            "{pattern} is routed like every other read"
        );
    }
    let default = TEMPLATE
        .split("DefaultCacheBehavior:")
        .nth(1)
        .expect("a default behavior");
    assert!(default.contains("ResponseHeadersPolicyId: !Ref PageHeadersPolicy"));
}
