//! What every Lambda function's `main` shares: logs, configuration from the
//! environment, the AWS clients built once per container, and the runtime loop.

use registry_core::rate_limit::{Rate, RateLimits, parse_setting};
use registry_core::request::RequestId;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use registry_aws::secrets::read_secret_with;
use registry_aws::{AwsClients, AwsSettings, s3_needs_path_style};
use registry_core::auth::PrincipalId;
use registry_core::downloads::{RETENTION_SETTING, Retention};
use registry_core::mcp_router::TargetPolicy;
use registry_core::registry::{
    DEFAULT_CHECK_CONCURRENCY, DEFAULT_FAILURE_THRESHOLD, McpRouterSettings, OrgStores, SignInParts,
};
use registry_core::review::{AutoApproval, ReviewPolicy};
use registry_core::timestamp::SystemClock;
use registry_core::{Registry, RegistryConfig};
use registry_identity::{
    CiService, CiTokenIssuers, CiTokenSettings, GitHubSettings, OidcSettings, ProviderHttp,
    SignInSettings,
};
use registry_mail::{MailSettings, SmtpMailer};

use lambda_http::LambdaEvent;

use registry_aws::webhook_queue::SqsDeliveryQueue;
use registry_core::registry::{WebhookParts, WebhookSettings};
use registry_core::webhook::RetrySchedule;
use registry_http::routes::{ApiRoutes, serve_routes};
use registry_http::state::AppState;
use registry_outbound::{DEFAULT_CHECK_TIMEOUT, HttpWebhookSender, http_mcp_router};

use crate::scheduled::{ScheduledEvent, run_health_checks};

/// A function's settings, from the environment its template gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LambdaConfig {
    /// `OPENWORKFLOW_REGISTRY_TABLE`
    pub table: String,
    /// `OPENWORKFLOW_REGISTRY_BUCKET`
    pub bucket: String,
    /// `OPENWORKFLOW_REGISTRY_PUBLIC_URL`: the CloudFront URL written into responses.
    pub public_url: String,
    /// `OPENWORKFLOW_REGISTRY_PRIVATE=1`
    pub private: bool,
    /// `OPENWORKFLOW_REGISTRY_SEARCH_REVALIDATE_MS`: how long a warm search function
    /// trusts its in-memory index before revalidating it by ETag (default 2000).
    pub search_revalidate: Duration,
    /// The MCP router: `OPENWORKFLOW_REGISTRY_HEALTH_FAILURES` (default 3),
    /// `OPENWORKFLOW_REGISTRY_HEALTH_CONCURRENCY` (default 64) and
    /// `OPENWORKFLOW_REGISTRY_ALLOW_LOOPBACK_TARGETS=1` (never in production).
    pub router: McpRouterSettings,
    /// `OPENWORKFLOW_REGISTRY_HEALTH_TIMEOUT_MS`: one health check's time limit
    /// (default 5000).
    pub check_timeout: Duration,
    /// The sign-in providers: `OPENWORKFLOW_REGISTRY_OIDC_ISSUER`, `_OIDC_CLIENT_ID`,
    /// `_OIDC_NAME` and the client secret (`_OIDC_CLIENT_SECRET`, or the Secrets
    /// Manager secret `_OIDC_CLIENT_SECRET_ARN` names); GitHub's
    /// `_GITHUB_CLIENT_ID`, its secret likewise, `_GITHUB_URL` and `_GITHUB_API_URL`.
    pub sign_in: SignInSettings,
    /// Publishing limits per principal: `OPENWORKFLOW_REGISTRY_RATE_NEW_PLUGINS`
    /// (default `5/10m`) and `_RATE_NEW_VERSIONS` (default `64/1m`), or `off`.
    pub rate_limits: RateLimits,
    /// The CI issuers trusted publishing accepts:
    /// `OPENWORKFLOW_REGISTRY_GITHUB_ACTIONS_ISSUER` and `_GITLAB_ISSUER` (GitHub
    /// Actions' and GitLab.com's by default; empty: none).
    pub ci_issuers: Vec<(CiService, String)>,
    /// The SMTP relay owners' notices go through: `OPENWORKFLOW_REGISTRY_MAIL_FROM`
    /// and the relay's URL (`OPENWORKFLOW_REGISTRY_SMTP_URL`, or the Secrets
    /// Manager secret `_SMTP_URL_ARN` names, since the URL holds a password).
    pub mail: Option<MailSettings>,
    /// `OPENWORKFLOW_REGISTRY_DOWNLOAD_RETENTION_DAYS`: how long daily download
    /// counters are kept (default and minimum 90).
    pub download_retention: Retention,
    /// `OPENWORKFLOW_REGISTRY_REVIEW_POLICY` (`none` or `required`) and its
    /// auto-approval rules (`..._REVIEW_AUTO_APPROVE`, a comma-separated list of
    /// principals and teams; `..._TRUSTED_PUBLISHING` and `..._PATCHES`, `true`).
    pub review: ReviewPolicy,
    /// `OPENWORKFLOW_REGISTRY_WEBHOOK_QUEUE_URL`: the SQS queue webhook
    /// deliveries go through (none: no webhooks).
    pub webhook_queue_url: Option<String>,
    /// Webhook targets and retries: `OPENWORKFLOW_REGISTRY_WEBHOOK_ALLOW_PRIVATE_TARGETS`,
    /// `..._RETRY_FIRST_SECS` (30), `..._RETRY_LONGEST_SECS` (7200),
    /// `..._RETRY_WINDOW_SECS` (86400) and `..._TIMEOUT_MS` (10000); loopback as
    /// for the router.
    pub webhooks: WebhookSettings,
}

/// A secret as the environment gives it: the value, or where it is kept.
enum SecretSource {
    Value(String),
    SecretsManager(String),
}

/// The secret in variable `name`, or in the Secrets Manager secret `{name}_ARN` names.
fn secret_source(name: &str) -> Option<SecretSource> {
    set_var(name)
        .map(SecretSource::Value)
        .or_else(|| set_var(&format!("{name}_ARN")).map(SecretSource::SecretsManager))
}

/// The secret `source` holds, read from Secrets Manager where it names one.
async fn read_secret_source(
    sdk: &aws_config::SdkConfig,
    source: SecretSource,
) -> anyhow::Result<String> {
    match source {
        SecretSource::Value(value) => Ok(value),
        SecretSource::SecretsManager(arn) => read_secret_with(sdk, &arn)
            .await
            .with_context(|| format!("reading the secret {arn}")),
    }
}

/// The mail relay the environment configures, its URL read from Secrets
/// Manager where it names one (once per container).
async fn mail_settings(sdk: &aws_config::SdkConfig) -> anyhow::Result<Option<MailSettings>> {
    let (Some(source), Some(from)) = (
        secret_source("OPENWORKFLOW_REGISTRY_SMTP_URL"),
        set_var("OPENWORKFLOW_REGISTRY_MAIL_FROM"),
    ) else {
        return Ok(None);
    };
    Ok(Some(MailSettings {
        smtp_url: read_secret_source(sdk, source).await?,
        from,
    }))
}

/// A non-empty variable, or `None`.
fn set_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The providers the environment configures, their secrets read from Secrets
/// Manager where it names them (once per container).
async fn sign_in_settings(sdk: &aws_config::SdkConfig) -> anyhow::Result<SignInSettings> {
    let secret = |source: SecretSource| read_secret_source(sdk, source);
    let mut settings = SignInSettings::default();
    let oidc = "OPENWORKFLOW_REGISTRY_OIDC";
    if let (Some(issuer), Some(client_id), Some(source)) = (
        set_var(&format!("{oidc}_ISSUER")),
        set_var(&format!("{oidc}_CLIENT_ID")),
        secret_source(&format!("{oidc}_CLIENT_SECRET")),
    ) {
        settings.oidc = Some(OidcSettings {
            id: "oidc".to_owned(),
            display_name: set_var(&format!("{oidc}_NAME"))
                .unwrap_or_else(|| "OpenID Connect".to_owned()),
            issuer,
            client_id,
            client_secret: secret(source).await?,
        });
    }
    let github = "OPENWORKFLOW_REGISTRY_GITHUB";
    if let (Some(client_id), Some(source)) = (
        set_var(&format!("{github}_CLIENT_ID")),
        secret_source(&format!("{github}_CLIENT_SECRET")),
    ) {
        settings.github = Some(GitHubSettings {
            client_id,
            client_secret: secret(source).await?,
            web_url: set_var(&format!("{github}_URL"))
                .unwrap_or_else(|| registry_identity::GITHUB_WEB_URL.to_owned()),
            api_url: set_var(&format!("{github}_API_URL"))
                .unwrap_or_else(|| registry_identity::GITHUB_API_URL.to_owned()),
        });
    }
    Ok(settings)
}

/// How long a warm search function trusts its in-memory index by default.
pub const DEFAULT_SEARCH_REVALIDATE: Duration = Duration::from_secs(2);

impl LambdaConfig {
    /// Reads the settings, naming any that is missing.
    pub fn from_env() -> anyhow::Result<Self> {
        let var = |name: &str| std::env::var(name).with_context(|| format!("{name} is not set"));
        Ok(Self {
            table: var("OPENWORKFLOW_REGISTRY_TABLE")?,
            bucket: var("OPENWORKFLOW_REGISTRY_BUCKET")?,
            public_url: var("OPENWORKFLOW_REGISTRY_PUBLIC_URL")?,
            private: std::env::var("OPENWORKFLOW_REGISTRY_PRIVATE")
                .is_ok_and(|v| v == "1" || v == "true"),
            search_revalidate: match std::env::var("OPENWORKFLOW_REGISTRY_SEARCH_REVALIDATE_MS") {
                Ok(raw) => Duration::from_millis(raw.parse().with_context(|| {
                    format!("OPENWORKFLOW_REGISTRY_SEARCH_REVALIDATE_MS must be milliseconds (got {raw:?})")
                })?),
                Err(_) => DEFAULT_SEARCH_REVALIDATE,
            },
            router: McpRouterSettings {
                policy: TargetPolicy {
                    allow_loopback: std::env::var("OPENWORKFLOW_REGISTRY_ALLOW_LOOPBACK_TARGETS")
                        .is_ok_and(|v| v == "1" || v == "true"),
                    allow_private: true,
                },
                failure_threshold: positive_var(
                    "OPENWORKFLOW_REGISTRY_HEALTH_FAILURES",
                    DEFAULT_FAILURE_THRESHOLD,
                )?,
                check_concurrency: positive_var(
                    "OPENWORKFLOW_REGISTRY_HEALTH_CONCURRENCY",
                    DEFAULT_CHECK_CONCURRENCY,
                )?,
            },
            check_timeout: Duration::from_millis(positive_var(
                "OPENWORKFLOW_REGISTRY_HEALTH_TIMEOUT_MS",
                DEFAULT_CHECK_TIMEOUT.as_millis() as u64,
            )?),
            sign_in: SignInSettings::default(),
            rate_limits: RateLimits {
                new_plugins: rate_var(
                    "OPENWORKFLOW_REGISTRY_RATE_NEW_PLUGINS",
                    RateLimits::default().new_plugins,
                )?,
                new_versions: rate_var(
                    "OPENWORKFLOW_REGISTRY_RATE_NEW_VERSIONS",
                    RateLimits::default().new_versions,
                )?,
                reports: rate_var(
                    "OPENWORKFLOW_REGISTRY_RATE_REPORTS",
                    RateLimits::default().reports,
                )?,
            },
            ci_issuers: ci_issuers_from_env(),
            mail: None,
            download_retention: Retention::from_setting(set_var(RETENTION_SETTING).as_deref())
                .map_err(anyhow::Error::msg)?,
            review: review_policy_from_env()?,
            webhook_queue_url: set_var("OPENWORKFLOW_REGISTRY_WEBHOOK_QUEUE_URL"),
            webhooks: webhook_settings_from_env()?,
        })
    }
}

/// The webhook settings the environment names (the defaults where unset).
fn webhook_settings_from_env() -> anyhow::Result<WebhookSettings> {
    let defaults = WebhookSettings::default();
    let seconds = |name: &str, default: Duration| -> anyhow::Result<Duration> {
        Ok(Duration::from_secs(positive_var(name, default.as_secs())?))
    };
    Ok(WebhookSettings {
        policy: TargetPolicy {
            allow_loopback: set_var("OPENWORKFLOW_REGISTRY_ALLOW_LOOPBACK_TARGETS")
                .is_some_and(|v| v == "1" || v == "true"),
            allow_private: set_var("OPENWORKFLOW_REGISTRY_WEBHOOK_ALLOW_PRIVATE_TARGETS")
                .is_some_and(|v| v == "1" || v == "true"),
        },
        retry: RetrySchedule {
            first: seconds(
                "OPENWORKFLOW_REGISTRY_WEBHOOK_RETRY_FIRST_SECS",
                defaults.retry.first,
            )?,
            longest: seconds(
                "OPENWORKFLOW_REGISTRY_WEBHOOK_RETRY_LONGEST_SECS",
                defaults.retry.longest,
            )?,
            window: seconds(
                "OPENWORKFLOW_REGISTRY_WEBHOOK_RETRY_WINDOW_SECS",
                defaults.retry.window,
            )?,
        },
        attempt_timeout: Duration::from_millis(positive_var(
            "OPENWORKFLOW_REGISTRY_WEBHOOK_TIMEOUT_MS",
            u64::try_from(defaults.attempt_timeout.as_millis()).unwrap_or(10_000),
        )?),
    })
}

/// The review policy the environment names (none when unset).
fn review_policy_from_env() -> anyhow::Result<ReviewPolicy> {
    let flag = |name: &str| set_var(name).is_some_and(|v| v.trim() == "true");
    let publishers = set_var("OPENWORKFLOW_REGISTRY_REVIEW_AUTO_APPROVE")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            PrincipalId::parse(p).ok_or_else(|| {
                anyhow::anyhow!(
                    "OPENWORKFLOW_REGISTRY_REVIEW_AUTO_APPROVE: {p:?} is not a principal id"
                )
            })
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(ReviewPolicy {
        required: match set_var("OPENWORKFLOW_REGISTRY_REVIEW_POLICY") {
            None => false,
            Some(raw) => ReviewPolicy::parse_mode(&raw)
                .map_err(|e| anyhow::anyhow!("OPENWORKFLOW_REGISTRY_REVIEW_POLICY: {e}"))?,
        },
        auto_approve: AutoApproval {
            publishers,
            trusted_publishing: flag(
                "OPENWORKFLOW_REGISTRY_REVIEW_AUTO_APPROVE_TRUSTED_PUBLISHING",
            ),
            patch_releases: flag("OPENWORKFLOW_REGISTRY_REVIEW_AUTO_APPROVE_PATCHES"),
        },
    })
}

/// The trusted CI issuers: each variable's value, its default when unset, none
/// when set empty.
fn ci_issuers_from_env() -> Vec<(CiService, String)> {
    CiTokenSettings::public_ci("")
        .issuers
        .into_iter()
        .filter_map(|(service, default)| {
            let name = match service {
                CiService::GithubActions => "OPENWORKFLOW_REGISTRY_GITHUB_ACTIONS_ISSUER",
                CiService::GitlabCi => "OPENWORKFLOW_REGISTRY_GITLAB_ISSUER",
            };
            let issuer = std::env::var(name).unwrap_or(default);
            (!issuer.trim().is_empty()).then_some((service, issuer))
        })
        .collect()
}

/// A rate from `name` (`BURST/PERIOD` or `off`), or `default` when it is not set.
fn rate_var(name: &str, default: Option<Rate>) -> anyhow::Result<Option<Rate>> {
    match set_var(name) {
        None => Ok(default),
        Some(raw) => parse_setting(&raw).map_err(|e| anyhow::anyhow!("{name}: {e}")),
    }
}

/// A whole number above zero from `name`, or `default` when it is not set.
fn positive_var<T>(name: &str, default: T) -> anyhow::Result<T>
where
    T: std::str::FromStr + PartialOrd + From<u8>,
{
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(raw) => match raw.trim().parse::<T>() {
            Ok(value) if value > T::from(0) => Ok(value),
            _ => anyhow::bail!("{name} must be a whole number above zero (got {raw:?})"),
        },
    }
}

/// The state a function's routes share, over DynamoDB and S3.
pub fn lambda_state(clients: &AwsClients, config: &LambdaConfig) -> anyhow::Result<Arc<AppState>> {
    let settings = AwsSettings {
        table: config.table.clone(),
        bucket: config.bucket.clone(),
        force_path_style: s3_needs_path_style(),
    };
    let store = clients.dynamo_store(&settings);
    let registry = Registry::new(
        store.clone(),
        clients.s3_store(&settings),
        store.clone(),
        Arc::new(SystemClock),
        RegistryConfig {
            public_url: config.public_url.clone(),
            private: config.private,
        },
    )
    .with_uploads(clients.upload_store(&settings))
    .with_download_retention(config.download_retention)
    .with_review_policy(config.review.clone())
    .with_ownership(store.clone())
    .with_audit(store.clone())
    .with_reports(store.clone())
    .with_trusted_publishing(store.clone())
    .with_rate_limits(store.clone(), config.rate_limits)
    .with_org_catalog(OrgStores {
        orgs: store.clone(),
        catalog: store.clone(),
    })
    .with_mcp_router(
        http_mcp_router(store.clone(), config.router, config.check_timeout)
            .context("building the health-check HTTP client")?,
    );
    let registry = match &config.webhook_queue_url {
        Some(queue_url) => registry.with_webhooks(WebhookParts {
            store: store.clone(),
            sender: Arc::new(
                HttpWebhookSender::new(config.webhooks.policy, config.webhooks.attempt_timeout)
                    .context("building the webhook HTTP client")?,
            ),
            queue: Arc::new(SqsDeliveryQueue::new(clients.sqs.clone(), queue_url)),
            settings: config.webhooks,
        }),
        None => registry,
    };
    let registry = if config.ci_issuers.is_empty() {
        registry
    } else {
        registry.with_ci_tokens(Arc::new(CiTokenIssuers::new(
            CiTokenSettings {
                audience: config.public_url.trim_end_matches('/').to_owned(),
                issuers: config.ci_issuers.clone(),
            },
            ProviderHttp::new().context("building the CI token issuers' HTTP client")?,
        )))
    };
    let registry = match &config.mail {
        Some(mail) => registry.with_mailer(Arc::new(
            SmtpMailer::new(mail)
                .map_err(|e| anyhow::anyhow!("configuring e-mail notices: {e}"))?,
        )),
        None => registry,
    };
    let registry = if config.sign_in.any() {
        registry.with_sign_in(SignInParts {
            store,
            providers: config
                .sign_in
                .providers()
                .map_err(|e| anyhow::anyhow!("configuring sign-in: {e}"))?,
        })
    } else {
        // The sign-in function makes the sessions; every other function reads
        // them, so a private registry's pages know who is signed in.
        registry.with_sessions(store)
    };
    Ok(Arc::new(AppState::new(
        Arc::new(registry),
        clients.index_store(&settings),
        config.search_revalidate,
    )))
}

/// A function's router: its routes, the problem+json fallbacks, its state.
pub fn function_router(routes: ApiRoutes, state: Arc<AppState>) -> Router {
    serve_routes(routes, state).layer(axum::middleware::map_request(gateway_request_id))
}

/// Gives the request the id API Gateway gave it, so the function's logs, its
/// `x-request-id` and the gateway's access logs name the same request.
async fn gateway_request_id(mut request: axum::extract::Request) -> axum::extract::Request {
    use lambda_http::RequestExt;
    use lambda_http::request::RequestContext;
    let id = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.request_id.clone(),
        _ => None,
    };
    if let Some(id) = id.as_deref().and_then(RequestId::from_gateway) {
        request.extensions_mut().insert(id);
    }
    request
}

/// JSON logs for CloudWatch (the request id comes from the runtime's span), level
/// from `RUST_LOG`, default `info`.
fn init_logging() {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_current_span(false)
        .without_time()
        .init();
}

/// Configuration and clients, built once per container, outside the handler.
async fn load_state() -> anyhow::Result<Arc<AppState>> {
    let mut config = LambdaConfig::from_env()?;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    config.sign_in = sign_in_settings(&sdk).await?;
    config.mail = mail_settings(&sdk).await?;
    let clients = AwsClients::from_config(&sdk, s3_needs_path_style());
    lambda_state(&clients, &config)
}

/// The whole life of a Lambda function serving `routes`: logs, state, then the
/// runtime loop.
pub async fn run_function(routes: fn() -> ApiRoutes) -> Result<(), lambda_http::Error> {
    init_logging();
    let router = function_router(routes(), load_state().await?);
    lambda_http::run(router).await
}

/// The whole life of the scheduled `health-check` function.
pub async fn run_scheduled_health_checks() -> Result<(), lambda_http::Error> {
    init_logging();
    let state = load_state().await?;
    lambda_http::lambda_runtime::run(lambda_http::service_fn(
        move |event: LambdaEvent<ScheduledEvent>| {
            let state = Arc::clone(&state);
            async move { run_health_checks(&state.registry, event.payload).await }
        },
    ))
    .await
}

/// The whole life of the `webhook-delivery` function: an SQS queue of stored
/// webhook deliveries, each attempted and recorded, retries queued again.
pub async fn run_webhook_delivery() -> Result<(), lambda_http::Error> {
    init_logging();
    let state = load_state().await?;
    lambda_http::lambda_runtime::run(lambda_http::service_fn(
        move |event: LambdaEvent<serde_json::Value>| {
            let state = Arc::clone(&state);
            async move {
                let outcome =
                    crate::webhook_delivery::deliver_batch(&state.registry, &event.payload).await;
                Ok::<_, lambda_http::Error>(outcome.response)
            }
        },
    ))
    .await
}

/// The whole life of the `download-log` function: an SQS queue of S3 events
/// announcing CloudFront log files, counted into the table's download counters.
/// It needs only `OPENWORKFLOW_REGISTRY_TABLE` (and the retention setting).
pub async fn run_download_log_counter() -> Result<(), lambda_http::Error> {
    init_logging();
    let table = std::env::var("OPENWORKFLOW_REGISTRY_TABLE")
        .context("OPENWORKFLOW_REGISTRY_TABLE is not set")?;
    let retention = Retention::from_setting(set_var(RETENTION_SETTING).as_deref())
        .map_err(anyhow::Error::msg)?;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let clients = AwsClients::from_config(&sdk, s3_needs_path_style());
    let counters = clients.dynamo_store(&AwsSettings {
        table,
        bucket: String::new(),
        force_path_style: s3_needs_path_style(),
    });
    let function = Arc::new(crate::download_log::DownloadLogFunction::new(
        registry_aws::cdn_logs::CdnLogBucket::new(clients.s3.clone()),
        counters,
        retention,
        Arc::new(SystemClock),
    ));
    lambda_http::lambda_runtime::run(lambda_http::service_fn(
        move |event: LambdaEvent<serde_json::Value>| {
            let function = Arc::clone(&function);
            async move {
                let outcome = function.handle(&event.payload).await;
                Ok::<_, lambda_http::Error>(outcome.response)
            }
        },
    ))
    .await
}
