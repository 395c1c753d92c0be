//! The HTTP side of the requests the registry makes to others' servers: the
//! router's health checks and webhook deliveries. Each uses a `reqwest` client
//! that resolves names itself and connects only to addresses the
//! [`TargetPolicy`] allows, follows no redirect, uses no proxy, gives up after
//! the timeout and reads at most [`MAX_HEALTH_ANSWER`] bytes of an answer (a
//! webhook receiver's answer is not read at all: only its status counts).
//!
//! Checking addresses in the resolver, not only at registration, is what stops
//! DNS rebinding: a name that resolved to a public address when registered and to
//! the metadata service later is refused at the moment of connecting.

use std::error::Error as _;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use std::sync::Arc;

use async_trait::async_trait;
use bytes::BytesMut;
use registry_core::mcp_router::{HealthProbe, ProbeAnswer, TargetPolicy, TargetUrl};
use registry_core::registry::{McpRouterParts, McpRouterSettings};
use registry_core::store::McpRouterStore;
use registry_core::webhook::WebhookSender;

/// How long one health check may take, by default.
pub const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest health answer read; the spec's answer is a few hundred bytes.
pub const MAX_HEALTH_ANSWER: usize = 64 * 1024;

/// The router over `store`, checking instances over HTTP(S) within `timeout` each.
pub fn http_mcp_router(
    store: Arc<dyn McpRouterStore>,
    settings: McpRouterSettings,
    timeout: Duration,
) -> Result<McpRouterParts, reqwest::Error> {
    Ok(McpRouterParts {
        store,
        probe: Arc::new(HttpHealthProbe::new(settings.policy, timeout)?),
        settings,
    })
}

/// Health checks over HTTP(S).
pub struct HttpHealthProbe {
    client: reqwest::Client,
    policy: TargetPolicy,
    timeout: Duration,
}

impl HttpHealthProbe {
    /// A probe that calls only what `policy` allows, each call within `timeout`.
    pub fn new(policy: TargetPolicy, timeout: Duration) -> Result<Self, reqwest::Error> {
        let client = policy_client(
            policy,
            timeout,
            concat!(
                "openworkflow-registry-health-check/",
                env!("CARGO_PKG_VERSION")
            ),
        )?;
        Ok(Self {
            client,
            policy,
            timeout,
        })
    }

    fn describe(&self, error: &reqwest::Error) -> String {
        describe(error, self.timeout)
    }
}

/// Why a request got no answer, with the innermost causes.
fn describe(error: &reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        return format!("no answer within {timeout:?}");
    }
    // The innermost causes say what happened (refused, reset, forbidden address).
    let mut text = if error.is_connect() {
        "could not connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = error.source();
    while let Some(cause) = source {
        let line = cause.to_string();
        if !text.ends_with(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        source = cause.source();
    }
    text
}

/// A client that calls only what `policy` allows, each call within `timeout`,
/// naming itself `agent`.
fn policy_client(
    policy: TargetPolicy,
    timeout: Duration,
    agent: &str,
) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(timeout)
        .connect_timeout(timeout)
        .dns_resolver(PolicyResolver { policy })
        .user_agent(agent)
        .build()
}

/// Webhook deliveries over HTTP(S).
pub struct HttpWebhookSender {
    client: reqwest::Client,
    policy: TargetPolicy,
    timeout: Duration,
}

impl HttpWebhookSender {
    /// A sender that calls only what `policy` allows, each call within `timeout`.
    pub fn new(policy: TargetPolicy, timeout: Duration) -> Result<Self, reqwest::Error> {
        Ok(Self {
            client: policy_client(
                policy,
                timeout,
                concat!("openworkflow-registry-webhooks/", env!("CARGO_PKG_VERSION")),
            )?,
            policy,
            timeout,
        })
    }
}

#[async_trait]
impl WebhookSender for HttpWebhookSender {
    async fn resolve(&self, host: &str, port: u16) -> Result<Vec<IpAddr>, String> {
        lookup(host, port).await
    }

    async fn post(
        &self,
        url: &TargetUrl,
        headers: &[(&'static str, String)],
        body: &str,
    ) -> Result<u16, String> {
        if let Some(ip) = url.ip_literal() {
            // The resolver never sees a literal address.
            self.policy.check_ip(ip)?;
        }
        let mut request = self
            .client
            .post(url.url().clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_owned());
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        // Only the status counts; the answer's body is never read.
        let response = request
            .send()
            .await
            .map_err(|e| describe(&e, self.timeout))?;
        Ok(response.status().as_u16())
    }
}

#[async_trait]
impl HealthProbe for HttpHealthProbe {
    async fn resolve(&self, host: &str, port: u16) -> Result<Vec<IpAddr>, String> {
        lookup(host, port).await
    }

    async fn get(&self, url: &TargetUrl) -> Result<ProbeAnswer, String> {
        if let Some(ip) = url.ip_literal() {
            // The resolver never sees a literal address.
            self.policy.check_ip(ip)?;
        }
        let mut response = self
            .client
            .get(url.url().clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| self.describe(&e))?;
        let status = response.status().as_u16();
        if status != 200 {
            // Only the status matters; an error page is not read.
            return Ok(ProbeAnswer {
                status,
                body: bytes::Bytes::new(),
            });
        }
        let too_large = || format!("the answer is over {MAX_HEALTH_ANSWER} bytes");
        if response
            .content_length()
            .is_some_and(|len| len > MAX_HEALTH_ANSWER as u64)
        {
            return Err(too_large());
        }
        let mut body = BytesMut::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.describe(&e))? {
            if body.len() + chunk.len() > MAX_HEALTH_ANSWER {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(ProbeAnswer {
            status,
            body: body.freeze(),
        })
    }
}

async fn lookup(host: &str, port: u16) -> Result<Vec<IpAddr>, String> {
    tokio::net::lookup_host((host, port))
        .await
        .map(|addrs| addrs.map(|a| a.ip()).collect())
        .map_err(|e| e.to_string())
}

/// Resolves like the system does, then refuses the name unless every address is
/// one the policy allows.
struct PolicyResolver {
    policy: TargetPolicy,
}

impl reqwest::dns::Resolve for PolicyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let (policy, host) = (self.policy, name.as_str().to_owned());
        Box::pin(async move {
            let ips = lookup(&host, 0)
                .await
                .map_err(|e| -> Box<dyn std::error::Error + Send + Sync> { e.into() })?;
            policy
                .check_resolved(&host, &ips)
                .map_err(|e| -> Box<dyn std::error::Error + Send + Sync> { e.into() })?;
            // The connector puts the URL's port on each address.
            let addrs: reqwest::dns::Addrs =
                Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}
