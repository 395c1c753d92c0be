//! MCP router registration and health: who may register what, an identical
//! registration changes nothing, and the threshold's failed checks in a row take
//! an instance out while the plugin stays.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use registry_core::auth::Scope;
use registry_core::mcp_router::{HealthProbe, ProbeAnswer, TargetUrl};
use registry_core::registry::NewRegistration;
use registry_testkit::TestPlugin;

use crate::{Services, refusal};

/// Every name resolves to one public address; health checks answer as `healthy`
/// says. Nothing leaves the process: the HTTP suite tests the real probe.
#[derive(Debug)]
pub struct FakeNetwork {
    healthy: AtomicBool,
}

impl Default for FakeNetwork {
    fn default() -> Self {
        Self {
            healthy: AtomicBool::new(true),
        }
    }
}

impl FakeNetwork {
    pub fn set_healthy(&self, healthy: bool) {
        self.healthy.store(healthy, Ordering::SeqCst);
    }
}

#[async_trait]
impl HealthProbe for FakeNetwork {
    async fn resolve(&self, _host: &str, _port: u16) -> Result<Vec<IpAddr>, String> {
        Ok(vec![IpAddr::V4(Ipv4Addr::new(93, 184, 216, 34))])
    }

    async fn get(&self, _url: &TargetUrl) -> Result<ProbeAnswer, String> {
        if self.healthy.load(Ordering::SeqCst) {
            Ok(ProbeAnswer {
                status: 200,
                body: Bytes::from_static(br#"{"status": "ok", "version": "1.0.0", "checks": {}}"#),
            })
        } else {
            Err("connection refused".to_owned())
        }
    }
}

fn registration(instance: &str, version: &str, actions: &[&str]) -> NewRegistration {
    NewRegistration {
        plugin_slug: "weather".to_owned(),
        version: version.to_owned(),
        url: format!("http://{instance}.example.com:8000"),
        actions: actions.iter().map(|a| (*a).to_owned()).collect(),
        health_check_url: format!("http://{instance}.example.com:8000/health"),
        instance_id: instance.to_owned(),
        region: None,
    }
}

#[tokio::test]
async fn an_instance_registers_once_and_leaves_after_the_third_failed_check() {
    let s = Services::start().await;
    let r = &s.registry;
    let owner = s.caller("owner", &[Scope::Publish]).await;
    s.publish(&owner, &TestPlugin::new("weather", "1.0.0"), None)
        .await
        .unwrap();
    let router = s.caller("router", &[Scope::Router]).await;
    let other_router = s.caller("router-2", &[Scope::Router]).await;

    let first = r
        .register_instance(&router, registration("w1", "1.0.0", &["run"]))
        .await
        .unwrap();
    assert!(first.changed);
    let again = r
        .register_instance(&router, registration("w1", "1.0.0", &["run"]))
        .await
        .unwrap();
    assert!(!again.changed, "the same registration changes nothing");

    let table = [
        (
            "a publish key",
            refusal(
                r.register_instance(&owner, registration("w2", "1.0.0", &["run"]))
                    .await,
            ),
            "MissingScope",
        ),
        (
            "an action the version does not declare",
            refusal(
                r.register_instance(&router, registration("w2", "1.0.0", &["fly"]))
                    .await,
            ),
            "Invalid",
        ),
        (
            "a version never published",
            refusal(
                r.register_instance(&router, registration("w2", "9.9.9", &["run"]))
                    .await,
            ),
            "Invalid",
        ),
        (
            "another principal's instance id",
            refusal(
                r.register_instance(&other_router, registration("w1", "1.0.0", &["run"]))
                    .await,
            ),
            "InstanceTaken",
        ),
        (
            "another principal's deregistration",
            refusal(r.deregister_instance(&other_router, "weather", "w1").await),
            "Forbidden",
        ),
    ];
    for (case, got, expected) in table {
        assert_eq!(got, expected, "{case}");
    }

    s.network.set_healthy(false);
    let mut removed = Vec::new();
    for _ in 0..3 {
        removed.push(r.run_health_pass().await.unwrap().removed);
    }
    assert_eq!(removed, [0, 0, 1], "removed on the third failure in a row");
    let table = r.routing_table(Some(&router), "weather").await.unwrap();
    assert!(table.instances.is_empty());
    let details = r.plugin_details("weather", None).await.unwrap();
    assert_eq!(
        details.healthy_instances,
        Some(0),
        "the plugin stays, with no instance"
    );
}
