//! Each Lambda function's router, fed real API Gateway HTTP API (v2) events through
//! `lambda_http`'s own event parsing, over DynamoDB Local and moto's S3 server.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

#[path = "support/functions.rs"]
mod functions;
#[path = "support/runtime_api.rs"]
mod runtime_api;

use std::io::Write;

use base64::Engine;
use functions::{Bootstrap, Functions, GITHUB_YAML};
use registry_core::checksum::Sha256Digest;
use registry_functions::routes::{
    deprecate_routes, key_routes, publish_routes, read_routes, unpublish_routes,
};
use registry_functions::scheduled::{HealthCheckError, ScheduledEvent, run_health_checks};
use runtime_api::{Outcome, RuntimeApi};
use serde_json::Value;

#[tokio::test]
async fn each_function_answers_its_api_gateway_events() {
    let f = Functions::start().await;
    let (status, body) = f
        .invoke(publish_routes, "apigw/publish_yaml.json", GITHUB_YAML)
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["url"], "https://registry.example.com/plugins/github");

    let (status, body) = f.invoke(read_routes, "apigw/search.json", "").await;
    assert_eq!(status, 200);
    assert_eq!(body["total"], 1);
    assert_eq!(body["results"][0]["slug"], "github");

    let (status, body) = f
        .invoke(read_routes, "apigw/details_version.json", "")
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["version"], "1.2.0");
    assert_eq!(
        body["schema_url"],
        "https://registry.example.com/plugins/github/1.2.0/schema"
    );

    let (status, body) = f.invoke(deprecate_routes, "apigw/deprecate.json", "").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["deprecated"]["reason"],
        "Security vulnerability fixed in 1.3.0"
    );

    let (status, body) = f.invoke(key_routes, "apigw/create_key.json", "").await;
    assert_eq!(status, 201, "{body}");
    assert!(body["key"].as_str().unwrap().starts_with("sk_"));

    let (status, body) = f.invoke(unpublish_routes, "apigw/unpublish.json", "").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = f
        .invoke(read_routes, "apigw/details_version.json", "")
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (410, Some("version_unpublished"))
    );
}

#[tokio::test]
async fn a_base64_encoded_bundle_event_publishes_the_bundle() {
    let f = Functions::start().await;
    let zip = zip_with_manifest("zipped");
    let encoded = base64::engine::general_purpose::STANDARD.encode(&zip);
    let (status, body) = f
        .invoke(publish_routes, "apigw/publish_zip_base64.json", &encoded)
        .await;
    assert_eq!(status, 201, "{body}");
    let details = f
        .state
        .registry
        .plugin_details("zipped", None)
        .await
        .unwrap();
    assert_eq!(
        details.bundle_sha256.map(|d| d.to_hex()),
        Some(Sha256Digest::of(&zip).to_hex())
    );
}

fn zip_with_manifest(slug: &str) -> Vec<u8> {
    let manifest = GITHUB_YAML.replace("slug: github", &format!("slug: {slug}"));
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    writer
        .start_file("plugin.yaml", zip::write::SimpleFileOptions::default())
        .unwrap();
    writer.write_all(manifest.as_bytes()).unwrap();
    writer.finish().unwrap().into_inner()
}

/// What `POST /uploads` returned, sent on to S3 as a client would.
async fn put_to_presigned_url(ticket: &Value, bytes: Vec<u8>) -> reqwest::StatusCode {
    let mut request = reqwest::Client::new().put(ticket["url"].as_str().unwrap());
    for (name, value) in ticket["headers"].as_object().unwrap() {
        request = request.header(name.as_str(), value.as_str().unwrap());
    }
    request.body(bytes).send().await.unwrap().status()
}

#[tokio::test]
async fn a_bundle_uploaded_with_a_presigned_put_publishes_through_the_publish_function() {
    let f = Functions::start().await;
    let zip = zip_with_manifest("uploaded");
    let sha256 = Sha256Digest::of(&zip).to_hex();
    let request = serde_json::json!({ "size": zip.len(), "sha256": sha256 }).to_string();
    let (status, ticket) = f
        .invoke(publish_routes, "apigw/create_upload.json", &request)
        .await;
    assert_eq!(status, 201, "{ticket}");
    let url = ticket["url"].as_str().unwrap();
    assert!(url.contains("/uploads/prn_"), "quarantine prefix: {url}");
    assert!(url.contains("X-Amz-Expires=600"), "short expiry: {url}");
    let signed = url
        .split('&')
        .find_map(|p| p.strip_prefix("X-Amz-SignedHeaders="))
        .unwrap();
    for header in ["content-length", "content-type", "x-amz-meta-sha256"] {
        assert!(signed.contains(header), "{header} must be signed: {signed}");
    }
    assert_eq!(ticket["headers"]["content-length"], zip.len().to_string());

    assert!(
        put_to_presigned_url(&ticket, zip.clone())
            .await
            .is_success()
    );
    let upload_id = ticket["upload_id"].as_str().unwrap();
    let (status, body) = f
        .invoke_with(
            publish_routes,
            "apigw/publish_upload.json",
            "",
            &[("{{UPLOAD_ID}}", upload_id)],
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let details = f
        .state
        .registry
        .plugin_details("uploaded", None)
        .await
        .unwrap();
    assert_eq!(details.bundle_sha256.map(|d| d.to_hex()), Some(sha256));

    // Published uploads leave quarantine: the id cannot be used twice.
    let (status, body) = f
        .invoke_with(
            publish_routes,
            "apigw/publish_upload.json",
            "",
            &[("{{UPLOAD_ID}}", upload_id)],
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("upload_not_found"))
    );
}

#[tokio::test]
async fn a_function_refuses_routes_it_does_not_own() {
    let f = Functions::start().await;
    // The search function does not publish: the event reaches no route.
    let (status, body) = f
        .invoke(read_routes, "apigw/publish_yaml.json", GITHUB_YAML)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("not_found")),
        "{body}"
    );
    // The unpublish function owns DELETE on that path, not GET.
    let (status, body) = f
        .invoke(unpublish_routes, "apigw/details_version.json", "")
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("not_found")),
        "{body}"
    );
    let (status, body) = f.invoke(key_routes, "apigw/search.json", "").await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
    // A bad request still gets problem+json through the Lambda path.
    let (status, body) = f
        .invoke(publish_routes, "apigw/publish_yaml.json", "slug: [unclosed")
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("malformed_document"))
    );
}

#[test]
fn a_function_without_its_configuration_names_what_is_missing() {
    for bin in [
        env!("CARGO_BIN_EXE_publish"),
        env!("CARGO_BIN_EXE_deprecate"),
        env!("CARGO_BIN_EXE_unpublish"),
        env!("CARGO_BIN_EXE_search"),
        env!("CARGO_BIN_EXE_keys"),
        env!("CARGO_BIN_EXE_health-check"),
    ] {
        let output = std::process::Command::new(bin)
            .env_clear()
            .output()
            .unwrap();
        assert!(
            !output.status.success(),
            "{bin} must not start unconfigured"
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("OPENWORKFLOW_REGISTRY_TABLE is not set"),
            "{bin}: {stderr}"
        );
    }
}

/// The next outcome, failing the test rather than hanging if none comes.
async fn outcome_of(api: &mut RuntimeApi) -> Outcome {
    tokio::time::timeout(std::time::Duration::from_secs(60), api.next_outcome())
        .await
        .expect("the function answered the Runtime API")
        .1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_built_publish_bootstrap_serves_an_api_gateway_event_through_the_runtime_api() {
    let f = Functions::start().await;
    let event = f.render("apigw/publish_yaml.json", GITHUB_YAML, &[]);
    let mut api = RuntimeApi::start(vec![event]).await;
    let _function = Bootstrap::spawn(env!("CARGO_BIN_EXE_publish"), &f, &api);
    let Outcome::Response(response) = outcome_of(&mut api).await else {
        panic!("the publish function failed the invocation");
    };
    assert_eq!(response["statusCode"], 201, "{response}");
    assert_eq!(
        response["headers"]["content-type"], "application/json",
        "{response}"
    );
    let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["url"], "https://registry.example.com/plugins/github");
    // It went on to wait for the next event rather than exiting.
    api.next_poll().await;
    api.next_poll().await;
    let details = f
        .state
        .registry
        .plugin_details("github", None)
        .await
        .unwrap();
    assert_eq!(details.manifest.version.to_string(), "1.2.0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_built_health_check_bootstrap_answers_a_real_eventbridge_schedule() {
    let f = Functions::start().await;
    let before = f.state.registry.catalog_revision().await.unwrap();
    f.invoke(publish_routes, "apigw/publish_yaml.json", GITHUB_YAML)
        .await;
    let scheduled = f.render("eventbridge/scheduled.json", "", &[]);
    let not_scheduled = f.render("apigw/search.json", "", &[]);
    let mut api = RuntimeApi::start(vec![scheduled, not_scheduled]).await;
    let _function = Bootstrap::spawn(env!("CARGO_BIN_EXE_health-check"), &f, &api);

    let Outcome::Response(report) = outcome_of(&mut api).await else {
        panic!("the health check failed on a scheduled event");
    };
    assert_eq!(report["event_id"], "cdc73f9d-aea9-11e3-9d5a-835b769c0d9c");
    assert_eq!(report["scheduled_at"], "1970-01-01T00:00:00Z");
    assert!(
        report["catalog_revision"].as_u64().unwrap() > before,
        "{report}"
    );
    assert_eq!(report["instances_checked"], 0);

    // Anything but a schedule is an invocation error, not a silent success.
    let Outcome::Error(error) = outcome_of(&mut api).await else {
        panic!("an API Gateway event must not pass as a schedule");
    };
    assert_eq!(error["errorType"], "NotScheduled", "{error}");
    assert!(
        error["errorMessage"]
            .as_str()
            .unwrap()
            .contains("expected an EventBridge scheduled event"),
        "{error}"
    );
}

#[tokio::test]
async fn the_health_check_reports_on_a_schedule_and_refuses_other_events() {
    let f = Functions::start().await;
    let event: ScheduledEvent =
        serde_json::from_str(&f.render("eventbridge/scheduled.json", "", &[])).unwrap();
    let report = run_health_checks(&f.state.registry, event.clone())
        .await
        .unwrap();
    assert_eq!(report.event_id, "cdc73f9d-aea9-11e3-9d5a-835b769c0d9c");
    assert_eq!(
        report.catalog_revision,
        f.state.registry.catalog_revision().await.unwrap()
    );
    let from_s3 = ScheduledEvent {
        source: "aws.s3".into(),
        detail_type: "Object Created".into(),
        ..event
    };
    let error = run_health_checks(&f.state.registry, from_s3)
        .await
        .unwrap_err();
    assert!(
        matches!(error, HealthCheckError::NotScheduled { .. }),
        "{error}"
    );
}
