//! The OpenAPI document: snapshotted whole, so every API change shows in review,
//! and held to what the routes answer: every documented operation is routed (none
//! reaches the fallback), and whatever a caller sends, the status that comes back is
//! one the operation documents.

use registry_http::problem::NO_SUCH_ROUTE;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{GITHUB_YAML, TestApp};

#[tokio::test]
async fn the_openapi_document_is_as_reviewed() {
    let app = TestApp::spawn().await;
    let document = app.get_json("/openapi.json").await;
    insta::assert_json_snapshot!("openapi", document);
}

/// A value for each path parameter the spec's tables name: real ones, so a probe
/// reaches the handler's rules rather than a 404 for everything.
fn sample(parameter: &str) -> &'static str {
    match parameter {
        "slug" | "pid" | "plugin_slug" => "github",
        "version" => "1.2.0",
        "org_id" => "acme",
        "plugin_id" => "plg_0123456789abcdef",
        "principal_id" | "principal" | "invitee" | "team" => "prn_0123456789abcdef",
        "answer" => "accept",
        "permission" => "sys_admin",
        "key_id" => "key_0123456789abcdef",
        "report_id" => "rpt_0123456789abcdef",
        "publisher_id" => "tp_0123456789abcdef",
        "instance_id" => "github-1",
        "provider" => "oidc",
        "review_id" => "github@1.2.0",
        "webhook_id" => "whk_0123456789abcdef",
        "check" => "malware-scan",
        "delivery_id" => "dlv_00692e7a3c0123456789ab",
        other => panic!("no sample for the path parameter {{{other}}}: add one"),
    }
}

/// A value of the right name but the wrong form, where the form is checked.
fn malformed(parameter: &str) -> &'static str {
    match parameter {
        "version" => "not-a-version",
        "slug" | "pid" | "plugin_slug" => "Not_A_Slug",
        "permission" => "no:such:permission",
        _ => "%00",
    }
}

fn fill(template: &str, value: impl Fn(&str) -> &'static str) -> String {
    let mut path = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}').expect("closing brace") + open;
        path.push_str(&rest[..open]);
        path.push_str(value(&rest[open + 1..close]));
        rest = &rest[close + 1..];
    }
    path.push_str(rest);
    path
}

/// One way a stranger might call an operation.
struct Probe {
    name: &'static str,
    malformed_path: bool,
    key: Option<&'static str>,
    body: Option<(&'static str, &'static str)>,
}

const PROBES: &[Probe] = &[
    Probe {
        name: "anonymous, no body",
        malformed_path: false,
        key: None,
        body: None,
    },
    Probe {
        name: "an unknown key",
        malformed_path: false,
        key: Some("sk_unknown"),
        body: None,
    },
    Probe {
        name: "admin, no body",
        malformed_path: false,
        key: Some("admin"),
        body: None,
    },
    Probe {
        name: "admin, broken JSON",
        malformed_path: false,
        key: Some("admin"),
        body: Some(("application/json", "{\"name\":")),
    },
    Probe {
        name: "admin, JSON of the wrong shape",
        malformed_path: false,
        key: Some("admin"),
        body: Some(("application/json", "[1, 2, 3]")),
    },
    Probe {
        name: "admin, a body of an unknown type",
        malformed_path: false,
        key: Some("admin"),
        body: Some(("text/plain", "hello")),
    },
    Probe {
        name: "admin, malformed path parameters",
        malformed_path: true,
        key: Some("admin"),
        body: None,
    },
];

#[tokio::test]
async fn every_documented_operation_is_routed_and_answers_only_what_it_documents() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.publish_yaml(&app.admin_key, GITHUB_YAML).await.status(),
        StatusCode::CREATED
    );
    let document = app.get_json("/openapi.json").await;
    let paths = document["paths"].as_object().expect("paths");
    let mut calls = 0;
    let mut undocumented = Vec::new();
    for (template, item) in paths {
        for (method, operation) in item.as_object().expect("path item") {
            let Ok(method) = method.to_uppercase().parse::<Method>() else {
                continue;
            };
            let documented = operation["responses"].as_object().expect("responses");
            for probe in PROBES {
                let path = if probe.malformed_path {
                    fill(template, malformed)
                } else {
                    fill(template, sample)
                };
                let mut request = app.client.request(method.clone(), app.url(&path));
                match probe.key {
                    Some("admin") => request = request.bearer_auth(&app.admin_key),
                    Some(key) => request = request.bearer_auth(key),
                    None => {}
                }
                if let Some((content_type, body)) = probe.body {
                    request = request.header("content-type", content_type).body(body);
                }
                let response = request.send().await.expect("request");
                calls += 1;
                let status = response.status();
                let body: Value = response.json().await.unwrap_or(Value::Null);
                let call = format!("{method} {path} ({})", probe.name);
                assert_ne!(
                    body["detail"].as_str(),
                    Some(NO_SUCH_ROUTE),
                    "{call} reached the fallback: the route and its document disagree"
                );
                assert_ne!(
                    status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{call} is documented but not routed for that method"
                );
                assert!(
                    status.as_u16() < 500,
                    "{call} failed unexpectedly: {status} {body}"
                );
                if !documented.contains_key(status.as_str()) {
                    undocumented.push(format!("{call} answered {status}: {}", body["code"]));
                }
            }
        }
    }
    assert!(
        calls > 200,
        "only {calls} calls: the document lost its paths"
    );
    assert!(
        undocumented.is_empty(),
        "statuses the document does not list:\n{}",
        undocumented.join("\n")
    );
}
