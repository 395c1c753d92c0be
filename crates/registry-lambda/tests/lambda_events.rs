//! Each Lambda function's router, fed real API Gateway HTTP API (v2) events through
//! `lambda_http`'s own event parsing, over DynamoDB Local and moto's S3 server.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

#[path = "events/download_log.rs"]
mod download_log;
#[path = "support/functions.rs"]
mod functions;
#[path = "support/runtime_api.rs"]
mod runtime_api;
#[path = "events/webhook_delivery.rs"]
mod webhook_delivery;

use std::io::Write;

use base64::Engine;
use functions::{Bootstrap, Functions, GITHUB_YAML};
use registry_core::checksum::Sha256Digest;
use registry_http::routes::{
    deprecate_routes, key_routes, mcp_router_routes, org_catalog_routes, publish_routes,
    read_routes, search_function_routes, sign_in_routes, unpublish_routes,
};
use registry_lambda::scheduled::{HealthCheckError, ScheduledEvent, run_health_checks};
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
    // On AWS the index is built after the fact, from the table's stream.
    assert_eq!(
        f.stream_changes("github", "github").await,
        serde_json::json!({"batchItemFailures": []})
    );

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
    f.stream_changes("github", "github").await;
    let (status, body) = f
        .invoke(read_routes, "apigw/details_version.json", "")
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (410, Some("version_unpublished"))
    );

    // Every change above is in the plugin's audit log, each with the request
    // id API Gateway gave its event; the keys function reads the log.
    let (status, body) = f.invoke(key_routes, "apigw/plugin_audit.json", "").await;
    assert_eq!(status, 200, "{body}");
    let actions: Vec<(&str, &str)> = body["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap(),
                r["request_id"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("version_unpublished", "id"),
            ("version_deprecated", "id"),
            ("version_published", "id"),
        ]
    );
}

#[tokio::test]
async fn the_sign_in_function_exchanges_a_ci_token_and_the_publish_function_takes_the_result() {
    use registry_testkit::ci_issuer::{CiIssuer, GithubJob};

    let issuer = CiIssuer::start().await;
    let f = Functions::start_trusting(vec![(
        registry_identity::CiService::GithubActions,
        issuer.issuer().to_owned(),
    )])
    .await;
    // The admin registers a pending publisher for the spec's `github` plugin.
    let admin = f.state.registry.authenticate(&f.key).await.unwrap();
    let job = GithubJob::release();
    f.state
        .registry
        .add_trusted_publisher(
            &admin,
            "github",
            registry_core::trusted_publishing::CiIdentity::GithubActions {
                repository: job.repository.clone(),
                repository_id: job.repository_id.clone(),
                repository_owner_id: job.repository_owner_id.clone(),
                workflow: job.workflow.clone(),
                environment: None,
            },
        )
        .await
        .unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let ci_token = issuer.github_token(&job, &f.config.public_url, now);
    let body = serde_json::json!({ "token": ci_token }).to_string();
    let (status, issued) = f
        .invoke(sign_in_routes, "apigw/exchange_ci_token.json", &body)
        .await;
    assert_eq!(status, 200, "{issued}");
    assert_eq!(issued["plugins"], serde_json::json!(["github"]));
    let token = issued["token"].as_str().unwrap();

    let (status, body) = f
        .invoke_with(
            publish_routes,
            "apigw/publish_yaml.json",
            GITHUB_YAML,
            &[("{{API_KEY}}", token)],
        )
        .await;
    assert_eq!(status, 201, "{body}");
    // The same CI token, replayed through API Gateway, is refused.
    let body = serde_json::json!({ "token": ci_token }).to_string();
    let (status, refused) = f
        .invoke(sign_in_routes, "apigw/exchange_ci_token.json", &body)
        .await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (401, Some("oidc_token_replayed"))
    );
}

#[tokio::test]
async fn a_page_the_bucket_lacks_is_answered_by_the_search_function_with_the_not_found_page() {
    let f = Functions::start().await;
    let (status, body) = f
        .invoke(publish_routes, "apigw/publish_yaml.json", GITHUB_YAML)
        .await;
    assert_eq!(status, 201, "{body}");
    f.stream_changes("github", "github").await;

    // What CloudFront's origin group sends the API after the bucket's 404.
    let (status, content_type, page) = f
        .invoke_raw(
            read_routes,
            "apigw/index_page_miss.json",
            "",
            &[("{{SLUG}}", "absent")],
        )
        .await;
    let page = String::from_utf8(page.to_vec()).unwrap();
    assert_eq!(status, 404, "{page}");
    assert_eq!(content_type, "text/html; charset=utf-8");
    assert!(page.contains("<h1>Not found</h1>"), "{page}");

    // The same route serves a page that exists, should the bucket ever miss it.
    let (status, content_type, page) = f
        .invoke_raw(
            read_routes,
            "apigw/index_page_miss.json",
            "",
            &[("{{SLUG}}", "github")],
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(content_type, "text/html; charset=utf-8");
    assert!(
        String::from_utf8(page.to_vec())
            .unwrap()
            .contains("GitHub Integration")
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
        env!("CARGO_BIN_EXE_org-catalog"),
        env!("CARGO_BIN_EXE_router"),
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

/// A plugin instance's health endpoint on loopback answering `status` with `body`;
/// returns its URL.
async fn health_endpoint(status: u16, body: &'static str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().route(
        "/healthz",
        axum::routing::get(move || async move {
            (
                axum::http::StatusCode::from_u16(status).unwrap(),
                [("content-type", "application/json")],
                body,
            )
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/healthz")
}

/// Registers `instance_id` of github@1.2.0 through the `router` function.
async fn register(f: &Functions, instance_id: &str, health_check_url: &str) -> (u16, Value) {
    let body = serde_json::json!({
        "plugin_slug": "github",
        "version": "1.2.0",
        "url": health_check_url.trim_end_matches("/healthz"),
        "actions": ["create_issue"],
        "health_check_url": health_check_url,
        "metadata": {"instance_id": instance_id, "region": "us-east-1"}
    });
    f.invoke(mcp_router_routes, "apigw/register.json", &body.to_string())
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_function_registers_lists_and_deregisters_through_api_gateway_events() {
    let f = Functions::start().await;
    f.invoke(publish_routes, "apigw/publish_yaml.json", GITHUB_YAML)
        .await;
    let health = health_endpoint(200, r#"{"status":"ok","version":"1.2.0"}"#).await;

    let (status, body) = register(&f, "github-abc123", &health).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["status"], "registered");
    assert_eq!(body["instance_id"], "github-abc123");
    let (status, again) = register(&f, "github-abc123", &health).await;
    assert_eq!(
        (status, &again["registered_at"]),
        (200, &body["registered_at"])
    );

    let (status, table) = f
        .invoke(mcp_router_routes, "apigw/routing_table.json", "")
        .await;
    assert_eq!(status, 200, "{table}");
    assert_eq!(table["instances"][0]["instance_id"], "github-abc123");
    assert_eq!(table["instances"][0]["actions"][0], "create_issue");
    assert_eq!(table["instances"][0]["health"]["status"], "pending");
    let details = f
        .state
        .registry
        .plugin_details("github", None)
        .await
        .unwrap();
    assert_eq!(details.healthy_instances, Some(1));

    let (status, body) = f
        .invoke_with(
            mcp_router_routes,
            "apigw/deregister.json",
            "",
            &[("{{INSTANCE_ID}}", "github-abc123")],
        )
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("deregistered")),
        "{body}"
    );
    let (_, table) = f
        .invoke(mcp_router_routes, "apigw/routing_table.json", "")
        .await;
    assert_eq!(table["instances"], serde_json::json!([]));
    let details = f
        .state
        .registry
        .plugin_details("github", None)
        .await
        .unwrap();
    assert_eq!(details.healthy_instances, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_built_health_check_bootstrap_answers_a_real_eventbridge_schedule() {
    let f = Functions::start().await;
    f.invoke(publish_routes, "apigw/publish_yaml.json", GITHUB_YAML)
        .await;
    let healthy = health_endpoint(
        200,
        r#"{"status":"ok","version":"1.2.0","checks":{"api":"healthy"}}"#,
    )
    .await;
    let (status, body) = register(&f, "github-1", &healthy).await;
    assert_eq!(status, 201, "{body}");
    let scheduled = f.render("eventbridge/scheduled.json", "", &[]);
    let not_scheduled = f.render("apigw/search.json", "", &[]);
    let mut api = RuntimeApi::start(vec![scheduled, not_scheduled]).await;
    let _function = Bootstrap::spawn(env!("CARGO_BIN_EXE_health-check"), &f, &api);

    let Outcome::Response(report) = outcome_of(&mut api).await else {
        panic!("the health check failed on a scheduled event");
    };
    assert_eq!(report["event_id"], "cdc73f9d-aea9-11e3-9d5a-835b769c0d9c");
    assert_eq!(report["scheduled_at"], "1970-01-01T00:00:00Z");
    assert_eq!(
        (report["checked"].as_u64(), report["passed"].as_u64()),
        (Some(1), Some(1)),
        "{report}"
    );
    let (_, table) = f
        .invoke(mcp_router_routes, "apigw/routing_table.json", "")
        .await;
    assert_eq!(
        table["instances"][0]["health"]["status"], "passing",
        "{table}"
    );
    assert_eq!(table["instances"][0]["health"]["checks"]["api"], "healthy");

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_health_check_reports_on_a_schedule_and_refuses_other_events() {
    let f = Functions::start().await;
    f.invoke(publish_routes, "apigw/publish_yaml.json", GITHUB_YAML)
        .await;
    let failing = health_endpoint(503, r#"{"status":"down"}"#).await;
    register(&f, "github-down", &failing).await;
    let event: ScheduledEvent =
        serde_json::from_str(&f.render("eventbridge/scheduled.json", "", &[])).unwrap();
    let report = run_health_checks(&f.state.registry, event.clone())
        .await
        .unwrap();
    assert_eq!(report.event_id, "cdc73f9d-aea9-11e3-9d5a-835b769c0d9c");
    assert_eq!((report.pass.checked, report.pass.failed), (1, 1));
    let (_, table) = f
        .invoke(mcp_router_routes, "apigw/routing_table.json", "")
        .await;
    let health = &table["instances"][0]["health"];
    assert_eq!(health["consecutive_failures"], 1);
    assert!(
        health["last_error"].as_str().unwrap().contains("HTTP 503"),
        "{health}"
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

/// Publishes `slug@version` through the publish function.
async fn publish(f: &Functions, slug: &str, version: &str) {
    let doc = GITHUB_YAML
        .replace("slug: github", &format!("slug: {slug}"))
        .replace("version: 1.2.0", &format!("version: {version}"));
    let (status, body) = f
        .invoke(publish_routes, "apigw/publish_yaml.json", &doc)
        .await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn the_index_builder_skips_poison_and_foreign_records_and_replays_idempotently() {
    let f = Functions::start().await;
    publish(&f, "alpha", "1.2.0").await;
    publish(&f, "beta", "1.2.0").await;

    let mut event: Value = serde_json::from_str(&f.render(
        "dynamodb/catalog_changes.json",
        "",
        &[
            ("{{SLUG}}", "alpha"),
            ("{{OTHER_SLUG}}", "beta"),
            ("{{VERSION_KEY}}", "x"),
        ],
    ))
    .unwrap();
    // A poison record first: no keys at all, and one whose slug is not a slug.
    let records = event["Records"].as_array_mut().unwrap();
    let mut no_keys = records[1].clone();
    no_keys["dynamodb"].as_object_mut().unwrap().remove("Keys");
    let mut bad_slug = records[1].clone();
    bad_slug["dynamodb"]["Keys"]["PK"]["S"] = "PLUGIN#public#Not A Slug".into();
    records.insert(0, no_keys);
    records.insert(0, bad_slug);

    let answer = f.index_builder.handle(event.clone()).await.unwrap();
    assert_eq!(answer, serde_json::json!({"batchItemFailures": []}));
    let page = f
        .state
        .search
        .search(&registry_core::search::SearchQuery::from_params(None, None, None, None).unwrap())
        .await
        .unwrap();
    let slugs: Vec<&str> = page.results.iter().map(|h| h.slug.as_str()).collect();
    assert_eq!(slugs, ["alpha", "beta"]);

    // Delivered again (Lambda retries, or a replay): nothing changes.
    let timestamp = |f: &Functions| {
        let index = std::sync::Arc::clone(&f.state.index);
        async move {
            match index.get("timestamp.json", None).await.unwrap() {
                registry_core::store::Fetched::Found { etag, .. } => etag,
                other => panic!("no timestamp: {other:?}"),
            }
        }
    };
    let before = timestamp(&f).await;
    f.index_builder.handle(event).await.unwrap();
    assert_eq!(timestamp(&f).await, before, "a replay rewrites nothing");
}

#[tokio::test]
async fn a_failing_plugin_is_reported_so_only_it_and_later_records_are_retried() {
    let f = Functions::start().await;
    publish(&f, "alpha", "1.2.0").await;
    publish(&f, "broken", "1.2.0").await;
    f.stream_changes("alpha", "broken").await;
    publish(&f, "alpha", "1.3.0").await;
    publish(&f, "broken", "1.3.0").await;
    // The artifact the index must copy is gone: this plugin's update fails.
    let details = f
        .state
        .registry
        .plugin_details("broken", Some("1.3.0"))
        .await
        .unwrap();
    let key = format!("artifacts/broken/1.3.0/{}.yaml", details.sha256);
    f.clients
        .s3
        .delete_object()
        .bucket(&f.config.bucket)
        .key(&key)
        .send()
        .await
        .unwrap();

    let answer = f.stream_changes("alpha", "broken").await;
    assert_eq!(
        answer,
        serde_json::json!({"batchItemFailures": [{"itemIdentifier": "4421584500000000017450439095"}]}),
        "the first record naming the failing plugin"
    );
    let indexed = |path: &'static str| {
        let index = std::sync::Arc::clone(&f.state.index);
        async move {
            matches!(
                index.get(path, None).await.unwrap(),
                registry_core::store::Fetched::Found { .. }
            )
        }
    };
    assert!(
        indexed("plugins/alpha/1.3.0.json").await,
        "the plugin before it was indexed"
    );
    assert!(
        !indexed("plugins/broken/1.3.0.json").await,
        "nothing half-done for the failing one"
    );
}

#[tokio::test]
async fn the_index_builder_rolls_up_on_its_schedule_and_refuses_other_events() {
    let f = Functions::start().await;
    publish(&f, "alpha", "1.2.0").await;
    f.stream_changes("alpha", "alpha").await;
    let download = f
        .state
        .registry
        .download_schema("alpha", "1.2.0")
        .await
        .unwrap();
    f.state
        .registry
        .count_download(
            &download.slug,
            &download.version,
            registry_core::downloads::DownloadClient::Other,
        )
        .await;
    let event: Value =
        serde_json::from_str(&f.render("eventbridge/scheduled.json", "", &[])).unwrap();
    let report = f.index_builder.handle(event).await.unwrap();
    assert_eq!(report["rolled_up"], 1);
    assert!(report["files_written"].as_u64().unwrap() >= 4, "{report}");
    let details = f
        .invoke_with(
            read_routes,
            "apigw/details_version.json",
            "",
            &[("github", "alpha")],
        )
        .await
        .1;
    assert_eq!(
        details["downloads"], 1,
        "the index shows the rolled-up count"
    );

    let refused = f
        .index_builder
        .handle(serde_json::json!({"hello": "world"}))
        .await;
    assert!(matches!(
        refused,
        Err(registry_index::lambda::FunctionError::UnknownEvent)
    ));
}

/// The multipart body a browser or `curl -F file=@web-search.zip` sends.
fn multipart_upload(file_name: &str, zip: &[u8]) -> Vec<u8> {
    let boundary = "------------------------d74496d66958873e";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\n\
         Content-Type: application/zip\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(zip);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_org_catalog_function_answers_its_api_gateway_events() {
    let f = Functions::start().await;
    let (status, body) = f
        .invoke(org_catalog_routes, "apigw/create_org.json", "")
        .await;
    assert_eq!(
        status, 201,
        "the bootstrap admin is the platform admin: {body}"
    );
    assert_eq!(body["id"], "acme");
    let admin = f.state.registry.authenticate(&f.key).await.unwrap();
    f.state
        .registry
        .add_org_member(Some(&admin), "acme", &admin.principal)
        .await
        .unwrap();
    f.state
        .registry
        .grant_permission(Some(&admin), &admin.principal, "cadence:org:plugins:write")
        .await
        .unwrap();

    let manifest = GITHUB_YAML
        .replace("slug: github", "slug: web-search")
        .replace("tags: [vcs,", "tags: [search, vcs,");
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    writer
        .start_file("plugin.yaml", zip::write::SimpleFileOptions::default())
        .unwrap();
    writer.write_all(manifest.as_bytes()).unwrap();
    let zip = writer.finish().unwrap().into_inner();
    let encoded =
        base64::engine::general_purpose::STANDARD.encode(multipart_upload("web-search.zip", &zip));
    let (status, uploaded) = f
        .invoke(
            org_catalog_routes,
            "apigw/org_upload_multipart_base64.json",
            &encoded,
        )
        .await;
    assert_eq!(status, 201, "{uploaded}");
    assert_eq!(uploaded["pid"], "web-search");
    assert_eq!(uploaded["sha256"], Sha256Digest::of(&zip).to_hex());

    // The ZIP is in S3, under the org's private prefix.
    let key = registry_core::artifact::ArtifactKey::from_stored(format!(
        "catalog/orgs/acme/web-search/{}/{}.zip",
        uploaded["version"].as_str().unwrap(),
        uploaded["sha256"].as_str().unwrap()
    ));
    let settings = registry_aws::AwsSettings {
        table: f.config.table.clone(),
        bucket: f.config.bucket.clone(),
        force_path_style: true,
    };
    let stored = registry_core::store::ArtifactStore::get(&*f.clients.s3_store(&settings), &key)
        .await
        .unwrap();
    assert_eq!(stored.as_deref(), Some(zip.as_slice()));

    // The real bootstrap answers the list event through the Runtime API.
    let event = f.render("apigw/org_plugins.json", "", &[]);
    let mut api = RuntimeApi::start(vec![event]).await;
    let _function = Bootstrap::spawn(env!("CARGO_BIN_EXE_org-catalog"), &f, &api);
    let Outcome::Response(response) = outcome_of(&mut api).await else {
        panic!("the org-catalog function failed the invocation");
    };
    assert_eq!(response["statusCode"], 200, "{response}");
    let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["total"], 1, "{body}");
    assert_eq!(body["plugins"][0]["pid"], "web-search");
    assert_eq!(body["plugins"][0]["source"], "org");
}

/// API Gateway v2 carries cookies in the event's own `cookies` list, not in a
/// header: the sign-in function still finds the session among them.
#[tokio::test]
async fn the_sign_in_function_reads_the_session_from_an_api_gateway_events_cookies() {
    use registry_core::auth::PrincipalId;

    let f = Functions::start().await;
    let (status, content_type, page) = f
        .invoke_raw(sign_in_routes, "apigw/sign_in_page.json", "", &[])
        .await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let page = String::from_utf8(page.to_vec()).unwrap();
    assert!(page.contains("Sign in with GitHub"), "{page}");

    let secret = f
        .signed_in(
            "ses_lambda_events",
            &PrincipalId::from_stored("prn_lambda_events"),
            "lambda-person",
        )
        .await;
    let (status, _, page) = f
        .invoke_raw(
            sign_in_routes,
            "apigw/account_page.json",
            "",
            &[("{{SESSION}}", secret.expose())],
        )
        .await;
    let page = String::from_utf8(page.to_vec()).unwrap();
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(">lambda-person</h1>"), "{page}");

    let (status, _, _) = f
        .invoke_raw(
            sign_in_routes,
            "apigw/account_page.json",
            "",
            &[("{{SESSION}}", &"0".repeat(64))],
        )
        .await;
    assert_eq!(status, 303, "an unknown session is sent to sign in");
}

/// A private stack's search function answers a signed-in browser with the page:
/// it has no sign-in of its own, and reads the sessions the sign-in function
/// made. The session unlocks the page and nothing else.
#[tokio::test]
async fn a_private_stacks_search_function_shows_pages_to_the_sessions_the_sign_in_function_made() {
    use registry_core::auth::PrincipalId;

    let f = Functions::start_configured(|config| {
        config.private = true;
        config.sign_in = registry_identity::SignInSettings::default();
    })
    .await;
    let (status, body) = f
        .invoke(publish_routes, "apigw/publish_yaml.json", GITHUB_YAML)
        .await;
    assert_eq!(status, 201, "{body}");
    f.stream_changes("github", "github").await;
    let secret = f
        .signed_in(
            "ses_private_page",
            &PrincipalId::from_stored("prn_private_reader"),
            "reader",
        )
        .await;
    let page = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8";
    let unknown = "0".repeat(64);
    let read = |accept: &'static str, session: String| {
        let f = &f;
        async move {
            f.invoke_raw(
                search_function_routes,
                "apigw/private_plugin_page.json",
                "",
                &[("{{ACCEPT}}", accept), ("{{SESSION}}", &session)],
            )
            .await
        }
    };

    let (status, content_type, body) = read(page, secret.expose().to_owned()).await;
    let body = String::from_utf8(body.to_vec()).unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(content_type, "text/html; charset=utf-8");
    assert!(body.contains("GitHub Integration"), "{body}");
    let (status, _, _) = read("application/json", secret.expose().to_owned()).await;
    assert_eq!(status, 401, "a session never unlocks the JSON");
    let (status, _, _) = read(page, unknown).await;
    assert_eq!(status, 303, "an unknown session is sent to sign in");
}

#[tokio::test]
async fn a_function_answers_with_the_request_id_api_gateway_gave() {
    use tower::ServiceExt;
    let f = Functions::start().await;
    let event = f.render("apigw/search.json", "", &[]).replace(
        "\"requestId\": \"id\"",
        "\"requestId\": \"JKJaXmPLvHcESHA=\"",
    );
    let request = lambda_http::request::from_str(&event).expect("a valid API Gateway v2 event");
    let response = f
        .router(read_routes)
        .oneshot(request.map(axum::body::Body::new))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["x-request-id"],
        "JKJaXmPLvHcESHA=",
        "the gateway's id, so its access log and the function's logs agree"
    );
}

/// Lifting a trusted-publishing lock from a real API Gateway form event: the
/// sign-in function, configured with a relay, e-mails the owner through it.
#[tokio::test]
async fn the_sign_in_function_lifts_a_lock_and_emails_the_owners_through_the_relay() {
    use registry_core::account::{Account, EmailAddress, Identity};
    use registry_core::auth::{Principal, PrincipalId, PrincipalKind};
    use registry_core::ownership::{Role, RosterEntry, RosterKey};
    use registry_core::slug::Slug;
    use registry_core::store::{AccountStore, OwnershipStore, TrustedPublishingStore};
    use registry_core::timestamp::{Clock, SystemClock};
    use registry_core::trusted_publishing::PublishingLock;

    let relay = registry_testkit::smtp::SmtpServer::start();
    let smtp_url = relay.url.clone();
    let f = Functions::start_configured(move |config| {
        config.mail = Some(registry_mail::MailSettings {
            smtp_url,
            from: "registry@example.com".into(),
        });
    })
    .await;
    let (status, body) = f
        .invoke(publish_routes, "apigw/publish_yaml.json", GITHUB_YAML)
        .await;
    assert_eq!(status, 201, "{body}");
    let store = f.store();
    let now = SystemClock.now();
    let person = PrincipalId::from_stored("prn_lambda_owner");
    store
        .create_account(
            &Account {
                identity: Identity {
                    issuer: "https://github.com".into(),
                    subject: "4242".into(),
                },
                principal: person.clone(),
                login: "lambda-owner".into(),
                email: EmailAddress::parse("owner@example.com"),
                created_at: now,
                signed_in_at: now,
            },
            &Principal {
                id: person.clone(),
                name: "lambda-owner".into(),
                kind: PrincipalKind::User,
                created_at: now,
            },
        )
        .await
        .unwrap();
    let slug = Slug::parse("github").unwrap();
    let owners = RosterKey::PluginOwners(slug.clone());
    let roster = store.roster(&owners).await.unwrap();
    store
        .replace_roster(
            &owners,
            roster.revision,
            &roster.with(RosterEntry {
                principal: person.clone(),
                role: Role::Owner,
                since: now,
            }),
        )
        .await
        .unwrap();
    store
        .set_publishing_lock(
            &slug,
            Some(&PublishingLock {
                by: person.clone(),
                at: now,
            }),
        )
        .await
        .unwrap();
    let secret = f
        .signed_in("ses_lambda_unlock", &person, "lambda-owner")
        .await;

    let form = format!("csrf={}", secret.csrf_token());
    let (status, _, page) = f
        .invoke_raw(
            sign_in_routes,
            "apigw/unlock_plugin.json",
            &form,
            &[("{{SESSION}}", secret.expose())],
        )
        .await;
    assert_eq!(status, 303, "{}", String::from_utf8_lossy(&page));
    assert_eq!(store.publishing_lock(&slug).await.unwrap(), None);
    let mails = relay.messages();
    assert_eq!(mails.len(), 1, "the one owner with an address is told");
    assert_eq!(mails[0].header("to"), Some("owner@example.com"));
    assert_eq!(
        mails[0].header("subject"),
        Some("Trusted publishing lock lifted on github")
    );
    assert!(
        mails[0].body.contains("lambda-owner lifted the lock"),
        "{}",
        mails[0].body
    );
}
