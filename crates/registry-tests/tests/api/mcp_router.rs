//! MCP router registration, the routing table and the health checks, against
//! instances that are real HTTP servers on loopback.

use std::time::Duration;

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, expect_problem, plugin_yaml};
use crate::instances::{Answer, FakeInstance};

/// A registration of `slug@version` instance `id` checked at `health_url`.
fn registration(slug: &str, version: &str, id: &str, health_url: &str) -> Value {
    json!({
        "plugin_slug": slug,
        "version": version,
        "url": health_url.trim_end_matches("/healthz"),
        "actions": ["run"],
        "health_check_url": health_url,
        "metadata": {"instance_id": id, "region": "us-east-1"}
    })
}

impl TestApp {
    async fn register(&self, key: &str, body: &Value) -> Response {
        self.send_body(
            Method::POST,
            "/register",
            Some(key),
            "application/json",
            body.to_string(),
        )
        .await
    }

    async fn register_ok(&self, key: &str, body: &Value) -> Value {
        let response = self.register(key, body).await;
        assert_eq!(response.status(), StatusCode::CREATED, "{body}");
        response.json().await.unwrap()
    }

    async fn deregister(&self, key: &str, slug: &str, id: &str) -> Response {
        self.client
            .delete(self.url(&format!("/register/{slug}/{id}")))
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
    }

    async fn routing_table(&self, key: &str, slug: &str) -> Value {
        let response = self.get_with_key(&format!("/register/{slug}"), key).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    /// Instance ids in the table, with each one's health status.
    async fn table_states(&self, key: &str, slug: &str) -> Vec<(String, String)> {
        let table = self.routing_table(key, slug).await;
        table["instances"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["instance_id"].as_str().unwrap().to_owned(),
                    i["health"]["status"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    async fn healthy_instances(&self, slug: &str) -> u64 {
        self.get_json(&format!("/plugins/{slug}"))
            .await
            .get("healthy_instances")
            .and_then(Value::as_u64)
            .expect("details carry healthy_instances")
    }

    async fn health_pass(&self) -> registry_core::registry::HealthPassReport {
        self.registry.run_health_pass().await.expect("health pass")
    }
}

/// A registry with `weather@1.0.0` published and a router key.
async fn with_weather() -> (TestApp, String) {
    let app = TestApp::spawn().await;
    app.publish_ok(&app.admin_key, "weather", "1.0.0").await;
    let router = app.new_principal_key("router", &["router"]).await;
    (app, router)
}

#[tokio::test]
async fn registration_needs_a_router_key_and_a_published_version_it_declares() {
    let (app, router) = with_weather().await;
    let instance = FakeInstance::start(vec![Answer::Healthy("1.0.0")]).await;
    let good = registration("weather", "1.0.0", "weather-abc123", &instance.health_url());

    let anonymous = app
        .send_body(
            Method::POST,
            "/register",
            None,
            "application/json",
            good.to_string(),
        )
        .await;
    expect_problem(anonymous, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let publisher = app.new_principal_key("ci", &["publish"]).await;
    expect_problem(
        app.register(&publisher, &good).await,
        StatusCode::FORBIDDEN,
        "missing_scope",
    )
    .await;

    app.publish_ok(&app.admin_key, "weather", "1.1.0").await;
    app.unpublish(&app.admin_key, "weather", "1.1.0").await;
    let mut wrong = good.clone();
    for (field, value, complaint) in [
        ("plugin_slug", json!("nowhere"), "no plugin 'nowhere'"),
        ("version", json!("9.9.9"), "no version 9.9.9"),
        ("version", json!("1.1.0"), "unpublished"),
        ("actions", json!(["run", "fly"]), "does not declare fly"),
        ("actions", json!([]), "1 to 256"),
        ("url", json!("ftp://weather:21/"), "http or https"),
        (
            "health_check_url",
            json!("http://user:pw@weather/healthz"),
            "password",
        ),
    ] {
        wrong[field] = value;
        let body = expect_problem(
            app.register(&router, &wrong).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        let problem = &body["errors"][0];
        assert_eq!(problem["field"], field, "{body}");
        assert!(
            problem["message"].as_str().unwrap().contains(complaint),
            "{field}: {body}"
        );
        wrong = good.clone();
    }
    let mut two = good.clone();
    two["url"] = json!("gopher://weather");
    two["metadata"]["instance_id"] = json!("a/b");
    let body = expect_problem(
        app.register(&router, &two).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"].as_array().unwrap().len(), 2, "{body}");

    let mut unknown = good.clone();
    unknown["healthcheck_url"] = json!("typo");
    let body = expect_problem(
        app.register(&router, &unknown).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    )
    .await;
    assert!(
        body["detail"].as_str().unwrap().contains("healthcheck_url"),
        "{body}"
    );
    expect_problem(
        app.send_body(
            Method::POST,
            "/register",
            Some(&router),
            "application/json",
            "{".to_owned(),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "malformed_json",
    )
    .await;
    assert_eq!(
        app.healthy_instances("weather").await,
        0,
        "nothing refused was registered"
    );

    let registered = app.register_ok(&router, &good).await;
    assert_eq!(registered["status"], "registered");
    assert_eq!(registered["plugin_slug"], "weather");
    assert_eq!(registered["instance_id"], "weather-abc123");
    assert_eq!(registered["registered_at"], "2026-03-02T12:00:00Z");
    assert_eq!(app.healthy_instances("weather").await, 1);
    assert_eq!(
        instance.calls(),
        0,
        "registration itself never calls the instance"
    );
}

#[tokio::test]
async fn re_registration_is_idempotent_and_only_the_owner_may_change_an_instance() {
    let (app, router) = with_weather().await;
    let instance = FakeInstance::start(vec![Answer::Status(500), Answer::Healthy("1.0.0")]).await;
    let body = registration("weather", "1.0.0", "w-1", &instance.health_url());
    let first = app.register_ok(&router, &body).await;
    app.health_pass().await;

    app.clock.advance(time::Duration::minutes(5));
    let again = app.register(&router, &body).await;
    assert_eq!(
        again.status(),
        StatusCode::OK,
        "the same registration changes nothing"
    );
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["registered_at"], first["registered_at"]);
    let table = app.routing_table(&router, "weather").await;
    assert_eq!(table["instances"].as_array().unwrap().len(), 1);
    assert_eq!(
        table["instances"][0]["health"]["consecutive_failures"], 1,
        "an identical re-registration keeps the health record"
    );

    let mut moved = body.clone();
    moved["metadata"]["region"] = json!("eu-west-1");
    let replaced = app.register_ok(&router, &moved).await;
    assert_eq!(replaced["registered_at"], "2026-03-02T12:05:00Z");
    let table = app.routing_table(&router, "weather").await;
    assert_eq!(table["instances"][0]["metadata"]["region"], "eu-west-1");
    assert_eq!(table["instances"][0]["health"]["status"], "pending");
    assert_eq!(
        app.healthy_instances("weather").await,
        1,
        "a replacement is still one instance"
    );

    let rival = app.new_principal_key("rival", &["router"]).await;
    expect_problem(
        app.register(&rival, &body).await,
        StatusCode::CONFLICT,
        "instance_taken",
    )
    .await;
    expect_problem(
        app.deregister(&rival, "weather", "w-1").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_eq!(app.table_states(&router, "weather").await.len(), 1);
}

#[tokio::test]
async fn deregistration_removes_the_instance_and_its_count() {
    let (app, router) = with_weather().await;
    let a = FakeInstance::start(vec![Answer::Healthy("1.0.0")]).await;
    let b = FakeInstance::start(vec![Answer::Healthy("1.0.0")]).await;
    app.register_ok(
        &router,
        &registration("weather", "1.0.0", "a", &a.health_url()),
    )
    .await;
    app.register_ok(
        &router,
        &registration("weather", "1.0.0", "b", &b.health_url()),
    )
    .await;
    assert_eq!(app.healthy_instances("weather").await, 2);

    let response = app.deregister(&router, "weather", "a").await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"status": "deregistered", "plugin_slug": "weather", "instance_id": "a"})
    );
    assert_eq!(
        app.table_states(&router, "weather").await,
        [("b".to_owned(), "pending".to_owned())]
    );
    assert_eq!(app.healthy_instances("weather").await, 1);
    expect_problem(
        app.deregister(&router, "weather", "a").await,
        StatusCode::NOT_FOUND,
        "instance_not_found",
    )
    .await;
    expect_problem(
        app.deregister(&router, "nowhere", "a").await,
        StatusCode::NOT_FOUND,
        "instance_not_found",
    )
    .await;

    // An admin key may remove anyone's instance (an operator cleaning up).
    let response = app.deregister(&app.admin_key, "weather", "b").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(app.healthy_instances("weather").await, 0);
    app.health_pass().await;
    assert_eq!(
        (a.calls(), b.calls()),
        (0, 0),
        "deregistered instances are not checked"
    );
}

#[tokio::test]
async fn the_routing_table_is_for_routers_and_shows_each_check() {
    let (app, router) = with_weather().await;
    let instance = FakeInstance::start(vec![Answer::Healthy("1.0.0"), Answer::Status(503)]).await;
    app.register_ok(
        &router,
        &registration("weather", "1.0.0", "w-1", &instance.health_url()),
    )
    .await;

    expect_problem(
        app.get("/register/weather").await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    let reader = app.new_principal_key("reader", &["read"]).await;
    expect_problem(
        app.get_with_key("/register/weather", &reader).await,
        StatusCode::FORBIDDEN,
        "missing_scope",
    )
    .await;
    expect_problem(
        app.get_with_key("/register/nowhere", &router).await,
        StatusCode::NOT_FOUND,
        "plugin_not_found",
    )
    .await;

    let table = app.routing_table(&router, "weather").await;
    assert_eq!(table["plugin_slug"], "weather");
    assert_eq!(table["failure_threshold"], 3);
    let entry = &table["instances"][0];
    assert_eq!(
        entry["url"],
        format!("{}/", instance.url),
        "URLs are stored normalised"
    );
    assert_eq!(entry["actions"], json!(["run"]));
    assert_eq!(entry["health"]["status"], "pending");
    assert_eq!(entry["health"]["last_checked_at"], Value::Null);

    app.clock.advance(time::Duration::minutes(1));
    app.health_pass().await;
    let health = app.routing_table(&router, "weather").await["instances"][0]["health"].clone();
    assert_eq!(health["status"], "passing");
    assert_eq!(health["last_checked_at"], "2026-03-02T12:01:00Z");
    assert_eq!(health["last_ok_at"], "2026-03-02T12:01:00Z");
    assert_eq!(health["checks"], json!({"database": "healthy"}));

    app.clock.advance(time::Duration::minutes(1));
    app.health_pass().await;
    let health = app.routing_table(&router, "weather").await["instances"][0]["health"].clone();
    assert_eq!(health["status"], "failing");
    assert_eq!(health["consecutive_failures"], 1);
    assert_eq!(health["last_checked_at"], "2026-03-02T12:02:00Z");
    assert_eq!(health["last_ok_at"], "2026-03-02T12:01:00Z");
    assert!(
        health["last_error"].as_str().unwrap().contains("HTTP 503"),
        "{health}"
    );
}

#[tokio::test]
async fn each_kind_of_failure_counts_and_the_third_in_a_row_removes_the_instance() {
    let (app, router) = with_weather().await;
    let cases = [
        ("healthy", Answer::Healthy("1.0.0"), ""),
        ("error-500", Answer::Status(500), "HTTP 500"),
        (
            "too-slow",
            Answer::Slow(Duration::from_secs(3)),
            "no answer within",
        ),
        (
            "not-json",
            Answer::Body("<html>fine</html>"),
            "not the health JSON",
        ),
        (
            "wrong-json",
            Answer::Body(r#"{"healthy":true}"#),
            "not the health JSON",
        ),
        (
            "not-ok",
            Answer::Body(r#"{"status":"degraded","version":"1.0.0"}"#),
            "\"degraded\"",
        ),
        (
            "old-version",
            Answer::Healthy("0.9.0"),
            "reported version \"0.9.0\"",
        ),
        ("redirects", Answer::Redirect, "do not follow redirects"),
        ("oversized", Answer::Huge, "over 65536 bytes"),
    ];
    let mut instances = Vec::new();
    for (id, answer, _) in &cases {
        let instance = FakeInstance::start(vec![answer.clone()]).await;
        app.register_ok(
            &router,
            &registration("weather", "1.0.0", id, &instance.health_url()),
        )
        .await;
        instances.push(instance);
    }
    assert_eq!(app.healthy_instances("weather").await, 9);

    for pass in 1..=2 {
        let report = app.health_pass().await;
        assert_eq!(
            (report.checked, report.passed, report.failed, report.removed),
            (9, 1, 8, 0)
        );
        let table = app.routing_table(&router, "weather").await;
        for (entry, (id, _, reason)) in table["instances"].as_array().unwrap().iter().zip({
            let mut sorted: Vec<_> = cases.iter().collect();
            sorted.sort_by_key(|(id, _, _)| *id);
            sorted
        }) {
            assert_eq!(entry["instance_id"], *id);
            let health = &entry["health"];
            if *id == "healthy" {
                assert_eq!(health["status"], "passing", "{health}");
            } else {
                assert_eq!(health["consecutive_failures"], pass, "{id}: {health}");
                let error = health["last_error"].as_str().unwrap_or_default();
                assert!(
                    error.contains(reason),
                    "{id}: {error:?} should say {reason:?}"
                );
            }
        }
        assert_eq!(
            app.healthy_instances("weather").await,
            9,
            "not removed before the third"
        );
    }
    let report = app.health_pass().await;
    assert_eq!((report.checked, report.passed, report.removed), (9, 1, 8));
    assert_eq!(
        app.table_states(&router, "weather").await,
        [("healthy".to_owned(), "passing".to_owned())]
    );
    assert_eq!(app.healthy_instances("weather").await, 1);
    let report = app.health_pass().await;
    assert_eq!(report.checked, 1, "removed instances are no longer checked");
    // The plugin's catalog entry stays.
    assert_eq!(app.get_json("/plugins/weather").await["slug"], "weather");
}

#[tokio::test]
async fn a_flapping_instance_is_removed_exactly_on_its_third_consecutive_failure() {
    let (app, router) = with_weather().await;
    let (fail, ok) = (Answer::Status(500), Answer::Healthy("1.0.0"));
    let instance = FakeInstance::start(vec![
        fail.clone(),
        fail.clone(),
        ok,
        fail.clone(),
        fail.clone(),
        fail,
    ])
    .await;
    app.register_ok(
        &router,
        &registration("weather", "1.0.0", "flappy", &instance.health_url()),
    )
    .await;
    let expected_failures = [1, 2, 0, 1, 2];
    for (pass, failures) in expected_failures.into_iter().enumerate() {
        app.health_pass().await;
        let table = app.routing_table(&router, "weather").await;
        assert_eq!(
            table["instances"][0]["health"]["consecutive_failures"],
            failures,
            "after pass {}: {table}",
            pass + 1
        );
    }
    let report = app.health_pass().await;
    assert_eq!(
        report.removed, 1,
        "the sixth check is the third failure in a row"
    );
    assert!(app.table_states(&router, "weather").await.is_empty());
    assert_eq!(instance.calls(), 6);
}

#[tokio::test]
async fn a_pass_checks_the_instances_checked_longest_ago_first() {
    let app = TestApp::spawn_configured(|config| config.router.check_concurrency = 1).await;
    app.publish_ok(&app.admin_key, "weather", "1.0.0").await;
    let router = app.new_principal_key("router", &["router"]).await;
    let (a, b, late) = (
        FakeInstance::start(vec![Answer::Healthy("1.0.0")]).await,
        FakeInstance::start(vec![Answer::Healthy("1.0.0")]).await,
        FakeInstance::start(vec![Answer::Healthy("1.0.0")]).await,
    );
    for (id, instance) in [("a", &a), ("b", &b)] {
        app.register_ok(
            &router,
            &registration("weather", "1.0.0", id, &instance.health_url()),
        )
        .await;
    }
    assert_eq!(app.health_pass().await.passed, 2);
    assert!(a.last_check() < b.last_check(), "ties go in id order");

    // Registered after the first pass: never checked, so first in line, although
    // its id sorts last. A pass cut short (a Lambda timeout) therefore reaches a
    // different part of a large table next time instead of the same head again.
    app.register_ok(
        &router,
        &registration("weather", "1.0.0", "z-late", &late.health_url()),
    )
    .await;
    assert_eq!(app.health_pass().await.passed, 3);
    assert!(
        late.last_check() < a.last_check() && a.last_check() < b.last_check(),
        "order: z-late {}, a {}, b {}",
        late.last_check(),
        a.last_check(),
        b.last_check()
    );
}

#[tokio::test]
async fn the_failure_threshold_is_configurable() {
    let app = TestApp::spawn_configured(|config| config.router.failure_threshold = 1).await;
    app.publish_ok(&app.admin_key, "weather", "1.0.0").await;
    let router = app.new_principal_key("router", &["router"]).await;
    let instance = FakeInstance::start(vec![Answer::Status(500)]).await;
    app.register_ok(
        &router,
        &registration("weather", "1.0.0", "once", &instance.health_url()),
    )
    .await;
    assert_eq!(
        app.routing_table(&router, "weather").await["failure_threshold"],
        1
    );
    assert_eq!(app.health_pass().await.removed, 1);
}

#[tokio::test]
async fn without_the_loopback_allowance_loopback_and_metadata_targets_are_refused_and_never_called()
{
    let app = TestApp::spawn_configured(|config| config.router.policy.allow_loopback = false).await;
    app.publish_ok(&app.admin_key, "weather", "1.0.0").await;
    let router = app.new_principal_key("router", &["router"]).await;
    let instance = FakeInstance::start(vec![Answer::Healthy("1.0.0")]).await;
    let port = instance.url.rsplit(':').next().unwrap().to_owned();
    for target in [
        instance.health_url(),
        format!("http://localhost:{port}/healthz"),
        format!("http://[::ffff:127.0.0.1]:{port}/healthz"),
        format!("http://2130706433:{port}/healthz"),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "http://[fd00:ec2::254]/".to_owned(),
        "http://0.0.0.0/".to_owned(),
    ] {
        let body = expect_problem(
            app.register(&router, &registration("weather", "1.0.0", "w", &target))
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        let fields: Vec<&str> = body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["field"].as_str().unwrap())
            .collect();
        assert_eq!(fields, ["url", "health_check_url"], "{target}: {body}");
    }
    assert_eq!(instance.calls(), 0, "a refused target is never called");
    assert_eq!(app.healthy_instances("weather").await, 0);
}

#[tokio::test]
async fn metadata_addresses_stay_refused_when_loopback_is_allowed() {
    let (app, router) = with_weather().await;
    let body = expect_problem(
        app.register(
            &router,
            &registration(
                "weather",
                "1.0.0",
                "w",
                "http://169.254.169.254/latest/meta-data/",
            ),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(
        body["detail"].as_str().unwrap().contains("link-local"),
        "{body}"
    );
}

#[tokio::test]
async fn a_deprecated_version_with_live_instances_cannot_be_unpublished() {
    let (app, router) = with_weather().await;
    let instance = FakeInstance::start(vec![Answer::Healthy("1.0.0")]).await;
    app.register_ok(
        &router,
        &registration("weather", "1.0.0", "still-up", &instance.health_url()),
    )
    .await;
    app.clock.advance(time::Duration::hours(73));
    let response = app
        .deprecate(
            &app.admin_key,
            "weather",
            "1.0.0",
            json!({"reason": "replaced"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    app.clock.advance(time::Duration::days(8));
    let body = expect_problem(
        app.unpublish(&app.admin_key, "weather", "1.0.0").await,
        StatusCode::CONFLICT,
        "unpublish_refused",
    )
    .await;
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("router instance") && detail.contains("still-up"),
        "{detail}"
    );

    let response = app.deregister(&router, "weather", "still-up").await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = app.unpublish(&app.admin_key, "weather", "1.0.0").await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_local_server_runs_the_health_checks_on_its_timer() {
    let app = TestApp::spawn_configured(|config| {
        config.health_interval = Duration::from_millis(200);
    })
    .await;
    app.publish_ok(&app.admin_key, "weather", "1.0.0").await;
    let router = app.new_principal_key("router", &["router"]).await;
    let instance = FakeInstance::start(vec![Answer::Healthy("1.0.0")]).await;
    app.register_ok(
        &router,
        &registration("weather", "1.0.0", "timed", &instance.health_url()),
    )
    .await;
    // No pass is run by the test: the server's own timer must get there.
    let mut status = String::new();
    for _ in 0..100 {
        status = app.table_states(&router, "weather").await[0].1.clone();
        if status == "passing" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, "passing");
    assert!(instance.calls() >= 1);
}

#[tokio::test]
async fn router_keys_cannot_publish() {
    let (app, router) = with_weather().await;
    let response = app
        .publish_yaml(&router, &plugin_yaml("sneaky", "1.0.0"))
        .await;
    expect_problem(response, StatusCode::FORBIDDEN, "missing_scope").await;
}

#[tokio::test]
async fn health_checks_are_counted_by_outcome_in_the_metrics() {
    let (app, router) = with_weather().await;
    let healthy = FakeInstance::start(vec![Answer::Healthy("1.0.0")]).await;
    let failing = FakeInstance::start(vec![Answer::Status(500)]).await;
    app.register_ok(
        &router,
        &registration("weather", "1.0.0", "w-up", &healthy.health_url()),
    )
    .await;
    app.register_ok(
        &router,
        &registration("weather", "1.0.0", "w-down", &failing.health_url()),
    )
    .await;
    let before = crate::metrics::scrape(&app).await;
    let report = app.health_pass().await;
    assert_eq!((report.passed, report.failed), (1, 1));
    let after = crate::metrics::scrape(&app).await;
    for outcome in ["passed", "failed"] {
        let labels = [("outcome", outcome)];
        let grew = crate::metrics::total(&after, "registry_health_checks_total", &labels)
            - crate::metrics::total(&before, "registry_health_checks_total", &labels);
        assert!(grew >= 1.0, "{outcome}: grew by {grew}");
    }
}

#[tokio::test]
async fn owners_see_each_days_fewest_and_most_healthy_instances_in_their_analytics() {
    let (app, router) = with_weather().await;
    let steady = FakeInstance::start(vec![Answer::Healthy("1.0.0")]).await;
    let fading = FakeInstance::start(vec![Answer::Healthy("1.0.0"), Answer::Status(503)]).await;
    for (id, instance) in [("steady", &steady), ("fading", &fading)] {
        app.register_ok(
            &router,
            &registration("weather", "1.0.0", id, &instance.health_url()),
        )
        .await;
    }
    let analytics = |query: &'static str| {
        let app = &app;
        async move {
            let response = app
                .get_with_key(
                    &format!("/plugins/weather/analytics{query}"),
                    &app.admin_key,
                )
                .await;
            assert_eq!(response.status(), StatusCode::OK);
            response.json::<Value>().await.unwrap()["instances"].clone()
        }
    };
    assert_eq!(analytics("?days=2").await, json!([]), "no pass, no history");

    // Day one: both pass, then one fails (and stays in the table).
    app.health_pass().await;
    app.health_pass().await;
    // Day two: the failing one is removed on its third failure.
    app.clock.advance(time::Duration::days(1));
    app.health_pass().await;
    let report = app.health_pass().await;
    assert_eq!(report.removed, 1);
    app.health_pass().await;
    assert_eq!(
        analytics("?days=2").await,
        json!([
            {"start": "2026-03-02", "lowest": 1, "highest": 2},
            {"start": "2026-03-03", "lowest": 1, "highest": 1}
        ]),
        "a day's fewest and most instances that passed"
    );
    assert_eq!(
        analytics("?granularity=week").await,
        json!([{"start": "2026-03-02", "lowest": 1, "highest": 2}]),
        "weeks span their days"
    );
    assert_eq!(
        analytics("?from=2026-03-03").await,
        json!([{"start": "2026-03-03", "lowest": 1, "highest": 1}]),
        "only the range asked for"
    );
}
