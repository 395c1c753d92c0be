//! Shared by the function tests and the cold-start bench (`#[path]`-included by
//! both): a registry on DynamoDB Local and moto, fixture events rendered for it, and
//! built function binaries run against the emulated Runtime API.
#![allow(dead_code)]

use std::sync::Arc;

use axum::Router;
use http_body_util::BodyExt;
use registry_aws::setup::ensure_resources;
use registry_aws::{AwsClients, AwsSettings};
use registry_core::mcp_router::TargetPolicy;
use registry_core::registry::McpRouterSettings;
use registry_core::timestamp::SystemClock;
use registry_http::routes::ApiRoutes;
use registry_http::state::AppState;
use registry_index::lambda::IndexFunction;
use registry_index::{IndexBuilder, IndexSettings, IndexSigningKey};
use registry_lambda::runtime::{LambdaConfig, function_router, lambda_state};
use serde_json::Value;
use tower::ServiceExt;

use crate::runtime_api::RuntimeApi;

/// The spec's GitHub example, with the `icon` its own field list requires.
pub const GITHUB_YAML: &str = include_str!("../../../registry-tests/fixtures/github.yaml");

/// One registry's table and bucket on the local servers, its state and an admin key.
pub struct Functions {
    pub state: Arc<AppState>,
    pub config: LambdaConfig,
    pub key: String,
    pub clients: AwsClients,
    /// The `index-builder` function over the same table and bucket.
    pub index_builder: IndexFunction,
}

/// The index key the tests sign with.
pub const INDEX_KEY_HEX: &str = "2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a";

impl Functions {
    pub async fn start() -> Self {
        Self::start_trusting(Vec::new()).await
    }

    /// As [`Self::start`], trusting `ci_issuers` for trusted publishing.
    pub async fn start_trusting(ci_issuers: Vec<(registry_identity::CiService, String)>) -> Self {
        Self::start_configured(|config| config.ci_issuers = ci_issuers).await
    }

    /// As [`Self::start`], with `configure` applied to the functions' settings.
    pub async fn start_configured(configure: impl FnOnce(&mut LambdaConfig)) -> Self {
        assert!(
            std::env::var_os("AWS_ENDPOINT_URL_DYNAMODB").is_some(),
            "needs DynamoDB Local and moto: run ./scripts/test.sh"
        );
        let mut suffix = [0u8; 4];
        getrandom::fill(&mut suffix).unwrap();
        let name = format!("lambda-{}", hex::encode(suffix));
        let settings = AwsSettings {
            table: name.clone(),
            bucket: name.clone(),
            force_path_style: true,
        };
        let clients = AwsClients::from_env(true).await;
        ensure_resources(&clients, &settings).await.unwrap();
        let config = LambdaConfig {
            table: name.clone(),
            bucket: name,
            public_url: "https://registry.example.com".into(),
            private: false,
            // Tests publish then search at once; a warm function would wait 2 s.
            search_revalidate: std::time::Duration::ZERO,
            // The instances the tests register are servers on loopback.
            router: McpRouterSettings {
                policy: TargetPolicy {
                    allow_loopback: true,
                    allow_private: true,
                },
                ..McpRouterSettings::default()
            },
            check_timeout: std::time::Duration::from_secs(2),
            rate_limits: registry_core::rate_limit::RateLimits::default(),
            // None unless a test serves a stand-in issuer on loopback.
            ci_issuers: Vec::new(),
            // Signing in is offered; the tests hand sessions to the store and never
            // reach this (unrouted) GitHub.
            sign_in: registry_identity::SignInSettings {
                oidc: None,
                github: Some(registry_identity::GitHubSettings {
                    client_id: "lambda-tests".into(),
                    client_secret: "lambda-tests-secret".into(),
                    web_url: "http://127.0.0.1:9".into(),
                    api_url: "http://127.0.0.1:9/api".into(),
                }),
            },
            // No relay unless a test serves one on loopback.
            mail: None,
            download_retention: registry_core::downloads::Retention::default(),
            review: registry_core::review::ReviewPolicy::default(),
            // None unless a test makes a queue on moto.
            webhook_queue_url: None,
            webhooks: registry_core::registry::WebhookSettings::default(),
        };
        let mut config = config;
        configure(&mut config);
        let state = lambda_state(&clients, &config).unwrap();
        let key = state
            .registry
            .bootstrap_admin_key()
            .await
            .unwrap()
            .unwrap()
            .secret
            .expose()
            .to_owned();
        let catalog = clients.dynamo_store(&settings);
        let builder = IndexBuilder::new(
            catalog.clone(),
            clients.s3_store(&settings),
            clients.index_store(&settings),
            IndexSigningKey::from_hex(INDEX_KEY_HEX).unwrap(),
            IndexSettings::public(config.public_url.clone()),
            Arc::new(SystemClock),
        );
        let index_builder = IndexFunction::new(Arc::new(builder), catalog, None);
        Self {
            state,
            config,
            key,
            clients,
            index_builder,
        }
    }

    /// The registry's DynamoDB table, as its own store: what a test sets up or
    /// checks behind the functions' backs.
    pub fn store(&self) -> Arc<registry_aws::DynamoStore> {
        self.clients.dynamo_store(&AwsSettings {
            table: self.config.table.clone(),
            bucket: self.config.bucket.clone(),
            force_path_style: true,
        })
    }

    /// A live session of `principal` (called `login`), signed in now, as the
    /// sign-in function would have stored it; returns its cookie's secret.
    pub async fn signed_in(
        &self,
        id: &str,
        principal: &registry_core::auth::PrincipalId,
        login: &str,
    ) -> registry_core::account::OpaqueSecret {
        use registry_core::account::{OpaqueSecret, SessionId, SessionRecord};
        use registry_core::store::AccountStore;
        use registry_core::timestamp::Clock;
        let secret = OpaqueSecret::generate().unwrap();
        let now = SystemClock.now();
        self.store()
            .insert_session(&SessionRecord {
                id: SessionId::from_stored(id),
                hash: secret.hash(),
                principal: principal.clone(),
                login: login.into(),
                created_at: now,
                expires_at: now.plus(time::Duration::hours(1)),
            })
            .await
            .unwrap();
        secret
    }

    /// Delivers the fixture stream batch naming `slug` (and `other`) to the
    /// `index-builder` function, as Lambda's event source mapping would.
    pub async fn stream_changes(&self, slug: &str, other: &str) -> Value {
        let event = self.render(
            "dynamodb/catalog_changes.json",
            "",
            &[
                ("{{SLUG}}", slug),
                ("{{OTHER_SLUG}}", other),
                (
                    "{{VERSION_KEY}}",
                    "00000000000000000001.00000000000000000002.00000000000000000000~",
                ),
            ],
        );
        self.index_builder
            .handle(serde_json::from_str(&event).unwrap())
            .await
            .unwrap()
    }

    pub fn router(&self, routes: fn() -> ApiRoutes) -> Router {
        function_router(routes(), Arc::clone(&self.state))
    }

    /// Sends a fixture event to a function, the way `lambda_http::run` would.
    pub async fn invoke(
        &self,
        routes: fn() -> ApiRoutes,
        fixture: &str,
        body: &str,
    ) -> (u16, Value) {
        self.invoke_with(routes, fixture, body, &[]).await
    }

    /// A fixture event with its placeholders filled in: the key, the body (and its
    /// length), and any other `{{NAME}}` in `vars`.
    pub fn render(&self, fixture: &str, body: &str, vars: &[(&str, &str)]) -> String {
        let path = format!("{}/tests/fixtures/{fixture}", env!("CARGO_MANIFEST_DIR"));
        // `vars` first, so a test may send another key than the admin's.
        let event = std::fs::read_to_string(path).unwrap();
        vars.iter()
            .fold(event, |event, (name, value)| event.replace(name, value))
            .replace("{{API_KEY}}", &self.key)
            .replace("{{BODY_LENGTH}}", &body.len().to_string())
            .replace("\"{{BODY}}\"", &serde_json::to_string(body).unwrap())
    }

    /// As [`Self::invoke`], filling in the fixture's other `{{NAME}}` placeholders.
    pub async fn invoke_with(
        &self,
        routes: fn() -> ApiRoutes,
        fixture: &str,
        body: &str,
        vars: &[(&str, &str)],
    ) -> (u16, Value) {
        let (status, _, bytes) = self.invoke_raw(routes, fixture, body, vars).await;
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        };
        (status, json)
    }

    /// As [`Self::invoke_with`], answering the status, the content type and the
    /// body as sent (for answers that are not JSON).
    pub async fn invoke_raw(
        &self,
        routes: fn() -> ApiRoutes,
        fixture: &str,
        body: &str,
        vars: &[(&str, &str)],
    ) -> (u16, String, bytes::Bytes) {
        let event = self.render(fixture, body, vars);
        let request = lambda_http::request::from_str(&event).expect("a valid API Gateway v2 event");
        let response = self
            .router(routes)
            .oneshot(request.map(axum::body::Body::new))
            .await
            .unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, content_type, bytes)
    }
}

/// A built function binary, running against the emulated Runtime API.
pub struct Bootstrap(pub std::process::Child);

impl Bootstrap {
    pub fn spawn(bin: &str, f: &Functions, api: &RuntimeApi) -> Self {
        Self::spawn_with(bin, f, api, &[])
    }

    /// As [`Self::spawn`], with `envs` set as well.
    pub fn spawn_with(bin: &str, f: &Functions, api: &RuntimeApi, envs: &[(&str, &str)]) -> Self {
        let child = std::process::Command::new(bin)
            .envs(envs.iter().copied())
            .envs(api.lambda_env("registry-function"))
            .env("OPENWORKFLOW_REGISTRY_TABLE", &f.config.table)
            .env("OPENWORKFLOW_REGISTRY_BUCKET", &f.config.bucket)
            .env("OPENWORKFLOW_REGISTRY_PUBLIC_URL", &f.config.public_url)
            .env(
                "OPENWORKFLOW_REGISTRY_ALLOW_LOOPBACK_TARGETS",
                if f.config.router.policy.allow_loopback {
                    "1"
                } else {
                    "0"
                },
            )
            .env("RUST_LOG", "warn")
            .spawn()
            .unwrap();
        Self(child)
    }
}

impl Drop for Bootstrap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
