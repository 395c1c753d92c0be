//! Webhooks over HTTP: subscriptions, signed deliveries to real receivers on
//! loopback, retries on the test's clock, the dead-letter state, redelivery, a
//! restart mid-retry, and the address policy.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use reqwest::Response;
use serde_json::{Value, json};

use crate::helpers::{TestApp, expect_problem};

/// One request a receiver got.
#[derive(Debug, Clone)]
struct Received {
    headers: HeaderMap,
    body: Bytes,
}

/// A webhook receiver on loopback: it answers from a script (then 204) and
/// keeps every request.
struct Receiver {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    async fn start(script: Vec<u16>) -> Self {
        Self::start_on("127.0.0.1:0", script).await
    }

    /// A receiver on `address` (a port the test chose).
    async fn start_on(address: &str, script: Vec<u16>) -> Self {
        let listener = tokio::net::TcpListener::bind(address).await.expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let received = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        let kept = Arc::clone(&received);
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let (kept, script) = (Arc::clone(&kept), Arc::clone(&script));
                async move {
                    kept.lock().unwrap().push(Received { headers, body });
                    let status = script.lock().unwrap().pop_front().unwrap_or(204);
                    StatusCode::from_u16(status).unwrap()
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, received }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until `count` requests have arrived.
    async fn wait_for(&self, count: usize) -> Vec<Received> {
        for _ in 0..400 {
            let got = self.received();
            if got.len() >= count {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!(
            "the receiver got {} of {count} requests",
            self.received().len()
        );
    }
}

async fn json_of(response: Response, status: StatusCode) -> Value {
    let got = response.status();
    let body: Value = response.json().await.expect("json");
    assert_eq!(got, status, "{body}");
    body
}

async fn post_json(app: &TestApp, path: &str, key: &str, body: &Value) -> Response {
    app.client
        .post(app.url(path))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .expect("request")
}

async fn get_json_with(app: &TestApp, path: &str, key: &str) -> Response {
    app.get_with_key(path, key).await
}

/// Subscribes `url` to `events` of `plugin` as `key`; the created subscription.
async fn subscribe(app: &TestApp, key: &str, plugin: &str, url: &str, events: &[&str]) -> Value {
    json_of(
        post_json(
            app,
            "/webhooks",
            key,
            &json!({"url": url, "events": events, "plugin": plugin}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await
}

async fn deliveries(app: &TestApp, key: &str, webhook: &str) -> Vec<Value> {
    let log = json_of(
        get_json_with(app, &format!("/webhooks/{webhook}/deliveries"), key).await,
        StatusCode::OK,
    )
    .await;
    log["deliveries"].as_array().expect("deliveries").clone()
}

/// Waits until the newest delivery's log shows `attempts` attempts.
async fn wait_for_attempts(app: &TestApp, key: &str, webhook: &str, attempts: usize) -> Value {
    for _ in 0..400 {
        let log = deliveries(app, key, webhook).await;
        if let Some(newest) = log.first()
            && newest["attempts"].as_array().map(Vec::len) == Some(attempts)
        {
            return newest.clone();
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!(
        "no delivery reached {attempts} attempts: {:?}",
        deliveries(app, key, webhook).await
    );
}

/// Runs the README's verification snippet (between its `webhook-verify`
/// markers) with Python on `received`: whether it accepts it.
fn readme_recipe_accepts(secret: &str, received: &Received, body: &[u8]) -> bool {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README");
    let start = readme
        .find("<!-- webhook-verify -->")
        .expect("start marker");
    let end = readme.find("<!-- /webhook-verify -->").expect("end marker");
    let snippet = readme[start..end]
        .lines()
        .skip_while(|l| !l.starts_with("```python"))
        .skip(1)
        .take_while(|l| !l.starts_with("```"))
        .collect::<Vec<_>>()
        .join("\n");
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("body"), body).expect("body");
    let headers: serde_json::Map<String, Value> =
        ["webhook-id", "webhook-timestamp", "webhook-signature"]
            .into_iter()
            .map(|name| {
                let value = received.headers[name].to_str().expect("header text");
                (name.to_owned(), Value::from(value))
            })
            .collect();
    std::fs::write(
        dir.path().join("headers.json"),
        serde_json::to_vec(&headers).expect("json"),
    )
    .expect("headers");
    // The test's clock is not the wall clock: the window is opened wide here,
    // and the timestamp is checked against the test's clock by the caller.
    let program = format!(
        "{snippet}\n\nimport json, sys\nheaders = json.load(open(sys.argv[2]))\nbody = open(sys.argv[3], 'rb').read()\nsys.exit(0 if verify(sys.argv[1], headers, body, tolerance=10**10) else 1)\n"
    );
    let status = std::process::Command::new("python3")
        .arg("-c")
        .arg(program)
        .arg(secret)
        .arg(dir.path().join("headers.json"))
        .arg(dir.path().join("body"))
        .status()
        .expect("python3 runs");
    status.success()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_verify_with_the_documented_recipe_and_a_changed_body_does_not() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start(vec![]).await;
    let owner = app.new_principal_key("owner", &["publish"]).await;
    app.publish_ok(&owner, "hooked", "1.0.0").await;
    let created = subscribe(
        &app,
        &owner,
        "hooked",
        &receiver.url,
        &["version.published", "version.deprecated"],
    )
    .await;
    let secret = created["secret"].as_str().expect("secret").to_owned();
    assert!(secret.starts_with("whsec_"));
    assert_eq!(created["scope"], "plugin:hooked");

    app.publish_ok(&owner, "hooked", "1.1.0").await;
    let got = receiver.wait_for(1).await;
    let delivery = &got[0];
    assert!(readme_recipe_accepts(&secret, delivery, &delivery.body));
    let mut changed = delivery.body.to_vec();
    let last = changed.len() - 2;
    changed[last] ^= 1;
    assert!(!readme_recipe_accepts(&secret, delivery, &changed));
    assert!(!readme_recipe_accepts(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        delivery,
        &delivery.body
    ));

    let event: Value = serde_json::from_slice(&delivery.body).expect("json body");
    assert_eq!(event["type"], "version.published");
    assert_eq!(
        event["id"],
        delivery.headers["webhook-id"].to_str().unwrap()
    );
    assert_eq!(event["data"]["slug"], "hooked");
    assert_eq!(event["data"]["version"], "1.1.0");
    assert_eq!(event["timestamp"], app.clock_now());
    assert_eq!(
        delivery.headers["webhook-timestamp"].to_str().unwrap(),
        app.clock_unix_seconds().to_string(),
        "sent at the registry's time"
    );
    assert_eq!(delivery.headers["content-type"], "application/json");

    // Events the subscription did not ask for are not sent.
    let other = app.new_principal_key("other", &["publish"]).await;
    app.publish_ok(&other, "unhooked", "1.0.0").await;
    let log = wait_for_attempts(&app, &owner, created["id"].as_str().unwrap(), 1).await;
    assert_eq!(log["state"], "delivered");
    assert_eq!(log["attempts"][0]["status"], 204);
    assert_eq!(receiver.received().len(), 1);

    // A deprecation is one of its events.
    let deprecated = app
        .deprecate(&owner, "hooked", "1.0.0", json!({"reason": "use 1.1.0"}))
        .await;
    assert_eq!(deprecated.status(), StatusCode::OK);
    let got = receiver.wait_for(2).await;
    let event: Value = serde_json::from_slice(&got[1].body).expect("json body");
    assert_eq!(event["type"], "version.deprecated");
    assert_eq!(event["data"]["reason"], "use 1.1.0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_failing_twice_then_succeeding_gets_one_successful_delivery() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start(vec![500, 503]).await;
    let created = json_of(
        post_json(
            &app,
            "/webhooks",
            &app.admin_key,
            &json!({"url": receiver.url, "events": ["version.published"]}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let webhook = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["scope"], "registry");
    app.publish_ok(&app.admin_key, "flaky", "1.0.0").await;

    let first = wait_for_attempts(&app, &app.admin_key, &webhook, 1).await;
    assert_eq!(first["state"], "pending");
    // Not due until the clock reaches the retry: nothing more arrives meanwhile.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 1);
    app.clock.advance(time::Duration::seconds(30));
    let second = wait_for_attempts(&app, &app.admin_key, &webhook, 2).await;
    assert_eq!(second["state"], "pending");
    app.clock.advance(time::Duration::seconds(60));
    let third = wait_for_attempts(&app, &app.admin_key, &webhook, 3).await;
    assert_eq!(third["state"], "delivered");
    let statuses: Vec<&Value> = third["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["status"])
        .collect();
    assert_eq!(statuses, [&json!(500), &json!(503), &json!(204)]);

    let got = receiver.received();
    assert_eq!(got.len(), 3, "one request per attempt, no more");
    let ids: Vec<&str> = got
        .iter()
        .map(|r| r.headers["webhook-id"].to_str().unwrap())
        .collect();
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "retries keep the event id: {ids:?}"
    );
    assert_eq!(deliveries(&app, &app.admin_key, &webhook).await.len(), 1);
    app.clock.advance(time::Duration::hours(2));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        receiver.received().len(),
        3,
        "a delivered delivery is never sent again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_down_for_the_whole_window_ends_dead_and_can_be_redelivered() {
    let app = TestApp::spawn_configured(|config| {
        config.webhooks.retry.window = Duration::from_secs(100);
    })
    .await;
    // A port nothing listens on: every attempt is refused.
    let address = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let closed = format!("http://{address}/hook");
    let owner = app.new_principal_key("owner", &["publish"]).await;
    app.publish_ok(&owner, "lonely", "1.0.0").await;
    let created = subscribe(&app, &owner, "lonely", &closed, &["version.published"]).await;
    let webhook = created["id"].as_str().unwrap().to_owned();
    app.publish_ok(&owner, "lonely", "1.1.0").await;

    let mut attempts = 1;
    let mut newest = wait_for_attempts(&app, &owner, &webhook, attempts).await;
    while newest["state"] == "pending" {
        let due = time::OffsetDateTime::parse(
            newest["next_attempt_at"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        let now = time::OffsetDateTime::parse(
            &app.clock_now(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        app.clock.advance(due - now);
        attempts += 1;
        newest = wait_for_attempts(&app, &owner, &webhook, attempts).await;
    }
    assert_eq!(newest["state"], "dead");
    assert!(attempts >= 3, "retried before giving up: {newest}");
    assert!(
        newest["attempts"][0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("connect")),
        "{newest}"
    );
    assert_eq!(newest["next_attempt_at"], Value::Null);

    // Once the receiver is back, a redelivery gets through.
    let receiver = Receiver::start_on(&address.to_string(), vec![]).await;
    let dead_id = newest["id"].as_str().unwrap().to_owned();
    let again = json_of(
        app.client
            .post(app.url(&format!(
                "/webhooks/{webhook}/deliveries/{dead_id}/redeliver"
            )))
            .bearer_auth(&owner)
            .send()
            .await
            .unwrap(),
        StatusCode::ACCEPTED,
    )
    .await;
    assert_eq!(again["event_id"], newest["event_id"]);
    assert_ne!(again["id"], newest["id"]);
    assert_eq!(again["state"], "pending");
    let got = receiver.wait_for(1).await;
    assert_eq!(
        got[0].headers["webhook-id"].to_str().unwrap(),
        newest["event_id"].as_str().unwrap(),
        "a redelivery carries the event's id"
    );
    let delivered = wait_for_attempts(&app, &owner, &webhook, 1).await;
    assert_eq!(
        (&delivered["id"], &delivered["state"]),
        (&again["id"], &json!("delivered"))
    );
    let missing = app
        .client
        .post(app.url(&format!(
            "/webhooks/{webhook}/deliveries/dlv_00692e7a3c0123456789ab/redeliver"
        )))
        .bearer_auth(&owner)
        .send()
        .await
        .unwrap();
    expect_problem(missing, StatusCode::NOT_FOUND, "delivery_not_found").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarting_the_server_mid_retry_loses_no_delivery() {
    let mut first = TestApp::spawn().await;
    let receiver = Receiver::start(vec![502]).await;
    let owner = first.new_principal_key("owner", &["publish"]).await;
    first.publish_ok(&owner, "durable", "1.0.0").await;
    let created = subscribe(
        &first,
        &owner,
        "durable",
        &receiver.url,
        &["version.published"],
    )
    .await;
    let webhook = created["id"].as_str().unwrap().to_owned();
    first.publish_ok(&owner, "durable", "1.1.0").await;
    let failed = wait_for_attempts(&first, &owner, &webhook, 1).await;
    assert_eq!(failed["state"], "pending");

    first.stop().await;
    let second = first.spawn_beside(|_| {}).await;
    second.clock.advance(time::Duration::seconds(30));
    let done = wait_for_attempts(&second, &owner, &webhook, 2).await;
    assert_eq!(done["state"], "delivered");
    let got = receiver.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].headers["webhook-id"], got[1].headers["webhook-id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_are_for_those_who_manage_their_scope() {
    let app = TestApp::spawn().await;
    let owner = app.new_principal_key("owner", &["publish"]).await;
    let stranger = app.new_principal_key("stranger", &["publish"]).await;
    app.publish_ok(&owner, "guarded", "1.0.0").await;
    let url = "http://127.0.0.1:9/hook";

    let refused = post_json(
        &app,
        "/webhooks",
        &stranger,
        &json!({"url": url, "events": ["version.published"], "plugin": "guarded"}),
    )
    .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let registry_wide = post_json(
        &app,
        "/webhooks",
        &owner,
        &json!({"url": url, "events": ["version.published"]}),
    )
    .await;
    assert_eq!(registry_wide.status(), StatusCode::FORBIDDEN);
    let unknown = post_json(
        &app,
        "/webhooks",
        &owner,
        &json!({"url": url, "events": ["version.published"], "plugin": "nobody"}),
    )
    .await;
    expect_problem(unknown, StatusCode::NOT_FOUND, "plugin_not_found").await;

    let created = subscribe(&app, &owner, "guarded", url, &["version.unpublished"]).await;
    let id = created["id"].as_str().unwrap();
    assert!(created.get("secret").is_some());
    let listed = json_of(
        get_json_with(&app, "/webhooks?plugin=guarded", &owner).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed["webhooks"].as_array().unwrap().len(), 1);
    assert!(
        listed["webhooks"][0].get("secret").is_none(),
        "the secret is shown once"
    );
    let by_admin = get_json_with(&app, &format!("/webhooks/{id}"), &app.admin_key).await;
    assert_eq!(by_admin.status(), StatusCode::OK);

    // A stranger learns nothing of it.
    for path in [
        format!("/webhooks/{id}"),
        format!("/webhooks/{id}/deliveries"),
    ] {
        let hidden = get_json_with(&app, &path, &stranger).await;
        expect_problem(hidden, StatusCode::NOT_FOUND, "webhook_not_found").await;
    }
    let delete = app
        .client
        .delete(app.url(&format!("/webhooks/{id}")))
        .bearer_auth(&stranger)
        .send()
        .await
        .unwrap();
    expect_problem(delete, StatusCode::NOT_FOUND, "webhook_not_found").await;
    let delete = app
        .client
        .delete(app.url(&format!("/webhooks/{id}")))
        .bearer_auth(&owner)
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), StatusCode::NO_CONTENT);
    let gone = get_json_with(&app, &format!("/webhooks/{id}"), &owner).await;
    expect_problem(gone, StatusCode::NOT_FOUND, "webhook_not_found").await;
    let anonymous = app.client.get(app.url("/webhooks")).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn targets_and_events_are_checked_before_anything_is_stored() {
    let app = TestApp::spawn().await;
    for (url, says) in [
        ("http://10.1.2.3/hook", "private network"),
        ("http://192.168.0.10/hook", "private network"),
        ("http://[fd00::1]/hook", "private network"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://[::ffff:172.16.0.1]/hook", "private network"),
        ("ftp://example.com/hook", "http or https"),
        ("http://user:pw@example.com/hook", "user name"),
    ] {
        let refused = post_json(
            &app,
            "/webhooks",
            &app.admin_key,
            &json!({"url": url, "events": ["version.published"]}),
        )
        .await;
        let problem = expect_problem(
            refused,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert!(problem.to_string().contains(says), "{url}: {problem}");
    }
    let unknown_event = post_json(
        &app,
        "/webhooks",
        &app.admin_key,
        &json!({"url": "http://127.0.0.1:9/", "events": ["version.eaten"]}),
    )
    .await;
    let problem = expect_problem(
        unknown_event,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(
        problem.to_string().contains("version.published"),
        "{problem}"
    );
    let no_event = post_json(
        &app,
        "/webhooks",
        &app.admin_key,
        &json!({"url": "http://127.0.0.1:9/", "events": []}),
    )
    .await;
    expect_problem(
        no_event,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let not_json = app
        .client
        .post(app.url("/webhooks"))
        .bearer_auth(&app.admin_key)
        .header("content-type", "text/plain")
        .body("url=x")
        .send()
        .await
        .unwrap();
    expect_problem(
        not_json,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let listed = json_of(
        get_json_with(&app, "/webhooks", &app.admin_key).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed["webhooks"], json!([]), "nothing refused was stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_networks_are_allowed_only_where_the_operator_says() {
    let app = TestApp::spawn_configured(|config| {
        config.webhooks.policy.allow_private = true;
    })
    .await;
    let created = post_json(
        &app,
        "/webhooks",
        &app.admin_key,
        &json!({"url": "http://10.1.2.3/hook", "events": ["version.published"]}),
    )
    .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let metadata = post_json(
        &app,
        "/webhooks",
        &app.admin_key,
        &json!({"url": "http://169.254.169.254/", "events": ["version.published"]}),
    )
    .await;
    assert_eq!(
        metadata.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "metadata stays refused"
    );
}

/// The check's invitation in a delivery: its answer URL and token.
fn invitation(received: &Received) -> (String, String) {
    let event: Value = serde_json::from_slice(&received.body).expect("json body");
    assert_eq!(event["type"], "version.pending_review", "{event}");
    (
        event["data"]["check"]["answer_url"]
            .as_str()
            .expect("answer_url")
            .to_owned(),
        event["data"]["check"]["token"]
            .as_str()
            .expect("token")
            .to_owned(),
    )
}

async fn answer(app: &TestApp, url: &str, token: Option<&str>, body: Value) -> Response {
    let mut request = app.client.post(url).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("request")
}

async fn approve(app: &TestApp, id: &str) -> Response {
    app.client
        .post(app.url(&format!("/reviews/{id}/approve")))
        .bearer_auth(&app.admin_key)
        .send()
        .await
        .expect("request")
}

async fn check_status(app: &TestApp, id: &str) -> Value {
    let review = json_of(
        get_json_with(app, &format!("/reviews/{id}"), &app.admin_key).await,
        StatusCode::OK,
    )
    .await;
    review["checks"][0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_check_blocks_approval_until_it_is_run_again_and_passes() {
    let app = TestApp::spawn_configured(|config| config.review.required = true).await;
    let receiver = Receiver::start(vec![]).await;
    let created = json_of(
        post_json(
            &app,
            "/webhooks",
            &app.admin_key,
            &json!({"url": receiver.url, "events": [], "check": {"name": "malware-scan", "timeout_secs": 600}}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(created["events"], json!(["version.pending_review"]));
    assert_eq!(
        created["check"],
        json!({"name": "malware-scan", "timeout_secs": 600})
    );
    let owner = app.new_principal_key("owner", &["publish"]).await;
    let held = app
        .publish(
            &owner,
            "application/yaml",
            crate::helpers::plugin_yaml("scanned", "1.0.0"),
        )
        .await;
    assert_eq!(held.status(), StatusCode::ACCEPTED);
    let id = "scanned@1.0.0";

    let got = receiver.wait_for(1).await;
    let (answer_url, token) = invitation(&got[0]);
    assert_eq!(
        answer_url,
        app.url(&format!("/reviews/{id}/checks/malware-scan"))
    );
    assert!(token.starts_with("chk_"));
    assert_eq!(check_status(&app, id).await["status"], "pending");
    let waiting = approve(&app, id).await;
    let problem = expect_problem(waiting, StatusCode::CONFLICT, "checks_not_passed").await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("malware-scan has not answered")
    );

    // Only this run's token answers; a key does not.
    for wrong in [None, Some("chk_0000"), Some(app.admin_key.as_str())] {
        let refused = answer(&app, &answer_url, wrong, json!({"conclusion": "pass"})).await;
        expect_problem(refused, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    }
    let odd = answer(
        &app,
        &answer_url,
        Some(&token),
        json!({"conclusion": "maybe"}),
    )
    .await;
    expect_problem(odd, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let failed = json_of(
        answer(
            &app,
            &answer_url,
            Some(&token),
            json!({"conclusion": "fail", "url": "https://scanner.example/r/1", "summary": "reads ~/.ssh"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(failed["status"], "failed");
    let blocked = approve(&app, id).await;
    let problem = expect_problem(blocked, StatusCode::CONFLICT, "checks_not_passed").await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("malware-scan failed")
    );
    let again = answer(
        &app,
        &answer_url,
        Some(&token),
        json!({"conclusion": "pass"}),
    )
    .await;
    expect_problem(again, StatusCode::CONFLICT, "check_closed").await;
    let shown = check_status(&app, id).await;
    assert_eq!(shown["url"], "https://scanner.example/r/1");
    assert_eq!(shown["summary"], "reads ~/.ssh");
    assert!(shown.get("token").is_none() && shown.get("token_sha256").is_none());

    // A reviewer runs it again: a new token, sent to the check alone.
    let rerun = app
        .client
        .post(app.url(&format!("/reviews/{id}/checks/malware-scan/rerun")))
        .bearer_auth(&app.admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_of(rerun, StatusCode::ACCEPTED).await["status"],
        "pending"
    );
    let got = receiver.wait_for(2).await;
    let (_, fresh) = invitation(&got[1]);
    assert_ne!(fresh, token);
    let stale = answer(
        &app,
        &answer_url,
        Some(&token),
        json!({"conclusion": "pass"}),
    )
    .await;
    expect_problem(stale, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let passed = answer(
        &app,
        &answer_url,
        Some(&fresh),
        json!({"conclusion": "pass"}),
    )
    .await;
    assert_eq!(json_of(passed, StatusCode::OK).await["status"], "passed");
    assert_eq!(approve(&app, id).await.status(), StatusCode::OK);
    assert_eq!(app.get("/plugins/scanned").await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_that_does_not_answer_in_time_fails_closed() {
    let app = TestApp::spawn_configured(|config| config.review.required = true).await;
    let receiver = Receiver::start(vec![]).await;
    json_of(
        post_json(
            &app,
            "/webhooks",
            &app.admin_key,
            &json!({"url": receiver.url, "events": ["version.published"], "check": {"name": "licence", "timeout_secs": 60}}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let owner = app.new_principal_key("owner", &["publish"]).await;
    let held = app
        .publish(
            &owner,
            "application/yaml",
            crate::helpers::plugin_yaml("slow", "1.0.0"),
        )
        .await;
    assert_eq!(held.status(), StatusCode::ACCEPTED);
    let (answer_url, token) = invitation(&receiver.wait_for(1).await[0]);
    app.clock.advance(time::Duration::seconds(59));
    assert_eq!(check_status(&app, "slow@1.0.0").await["status"], "pending");
    app.clock.advance(time::Duration::seconds(2));
    assert_eq!(
        check_status(&app, "slow@1.0.0").await["status"],
        "timed_out"
    );
    let refused = approve(&app, "slow@1.0.0").await;
    let problem = expect_problem(refused, StatusCode::CONFLICT, "checks_not_passed").await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("licence did not answer in time")
    );
    let late = answer(
        &app,
        &answer_url,
        Some(&token),
        json!({"conclusion": "pass"}),
    )
    .await;
    expect_problem(late, StatusCode::CONFLICT, "check_closed").await;
    // Rejecting needs no check.
    let rejected = app
        .client
        .post(app.url("/reviews/slow@1.0.0/reject"))
        .bearer_auth(&app.admin_key)
        .json(&json!({"comment": "no licence report"}))
        .send()
        .await
        .unwrap();
    assert_eq!(rejected.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_names_are_checked_and_unique_where_they_decide() {
    let app = TestApp::spawn().await;
    let make = |check: Value| {
        let body = json!({"url": "http://127.0.0.1:9/hook", "events": [], "check": check});
        let app = &app;
        async move { post_json(app, "/webhooks", &app.admin_key, &body).await }
    };
    for bad in [
        json!({"name": "Malware Scan"}),
        json!({"name": "scan", "timeout_secs": 5}),
        json!({"name": ""}),
    ] {
        expect_problem(
            make(bad).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }
    assert_eq!(
        make(json!({"name": "scan"})).await.status(),
        StatusCode::CREATED
    );
    let twice = make(json!({"name": "scan"})).await;
    let problem =
        expect_problem(twice, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert!(problem.to_string().contains("already decides"), "{problem}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owners_follow_their_reviews_and_deliveries_on_pages_behind_sign_in() {
    let issuer = crate::oidc_issuer::TestIssuer::start().await;
    let settings = crate::sign_in::oidc_settings(&issuer);
    let app = TestApp::spawn_configured(move |config| {
        config.sign_in.oidc = Some(settings);
        config.review.required = true;
    })
    .await;
    let receiver = Receiver::start(vec![503]).await;
    let mut ada = crate::sign_in::Browser::new(&app);
    ada.sign_in_as(&issuer, "subject-ada", "ada").await;
    let key = ada.create_key("laptop", "30").await;
    let held = app
        .publish(
            &key,
            "application/yaml",
            crate::helpers::plugin_yaml("paged", "1.0.0"),
        )
        .await;
    assert_eq!(held.status(), StatusCode::ACCEPTED);
    // The owner's plugin exists once a version is approved; then a hook on it.
    assert_eq!(approve(&app, "paged@1.0.0").await.status(), StatusCode::OK);
    let hook = subscribe(
        &app,
        &key,
        "paged",
        &receiver.url,
        &["version.pending_review"],
    )
    .await;
    let hook_id = hook["id"].as_str().unwrap().to_owned();
    let held = app
        .publish(
            &key,
            "application/yaml",
            crate::helpers::plugin_yaml("paged", "1.1.0"),
        )
        .await;
    assert_eq!(held.status(), StatusCode::ACCEPTED);
    wait_for_attempts(&app, &key, &hook_id, 1).await;

    let account = ada.account_page().await;
    assert!(
        account.contains("/account/reviews"),
        "the account page links the reviews"
    );
    let queue = ada.get("/account/reviews", true).await;
    assert_eq!(queue.status(), StatusCode::OK);
    let queue = queue.text().await.unwrap();
    assert!(queue.contains("/account/reviews/paged@1.1.0"), "{queue}");
    let page = ada.get("/account/reviews/paged@1.1.0", true).await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    assert!(
        page.contains("Review of paged@1.1.0") && page.contains("pending"),
        "{page}"
    );
    let deliveries = ada.get(&format!("/account/webhooks/{hook_id}"), true).await;
    assert_eq!(deliveries.status(), StatusCode::OK);
    let deliveries = deliveries.text().await.unwrap();
    assert!(
        deliveries.contains("version.pending_review") && deliveries.contains("503"),
        "{deliveries}"
    );

    let mut eve = crate::sign_in::Browser::new(&app);
    eve.sign_in_as(&issuer, "subject-eve", "eve").await;
    for path in [
        "/account/reviews/paged@1.1.0".to_owned(),
        format!("/account/webhooks/{hook_id}"),
    ] {
        let refused = eve.get(&path, true).await;
        assert_eq!(refused.status(), StatusCode::NOT_FOUND, "{path}");
        let page = refused.text().await.unwrap();
        assert!(
            !page.contains("Review of") && !page.contains("version.pending_review"),
            "nothing of it: {page}"
        );
    }
    let theirs = eve
        .get("/account/reviews", true)
        .await
        .text()
        .await
        .unwrap();
    assert!(theirs.contains("Nothing of yours is under review."));
    let mut stranger = crate::sign_in::Browser::new(&app);
    let redirected = stranger.get("/account/reviews", true).await;
    assert_eq!(redirected.status(), StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reviewer_runs_a_timed_out_check_again_and_approves_on_the_reviews_page() {
    let issuer = crate::oidc_issuer::TestIssuer::start().await;
    let settings = crate::sign_in::oidc_settings(&issuer);
    let app = TestApp::spawn_configured(move |config| {
        config.sign_in.oidc = Some(settings);
        config.review.required = true;
    })
    .await;
    let receiver = Receiver::start(vec![]).await;
    json_of(
        post_json(
            &app,
            "/webhooks",
            &app.admin_key,
            &json!({"url": receiver.url, "events": [], "check": {"name": "licence", "timeout_secs": 60}}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let owner = app.new_principal_key("owner", &["publish"]).await;
    let held = app
        .publish(
            &owner,
            "application/yaml",
            crate::helpers::plugin_yaml("slow", "1.0.0"),
        )
        .await;
    assert_eq!(held.status(), StatusCode::ACCEPTED);
    receiver.wait_for(1).await;
    app.clock.advance(time::Duration::seconds(61));

    let (mut ada, principal, csrf) = crate::reviews::signed_in(&app, &issuer, "ada").await;
    crate::reviews::set_permission(&app, reqwest::Method::PUT, &principal, "registry:review").await;

    let page = ada
        .get("/account/reviews/slow@1.0.0", true)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("did not answer in time (failed)")
            && page.contains("action=\"/account/reviews/slow@1.0.0/checks/licence/rerun\""),
        "{page}"
    );
    let blocked = ada
        .post_form(
            "/account/reviews/slow@1.0.0/decision",
            &[("csrf", &csrf), ("decision", "approve")],
        )
        .await;
    crate::reviews::refused_on_the_page(
        blocked,
        StatusCode::CONFLICT,
        "licence did not answer in time",
    )
    .await;

    let rerun = ada
        .post_form(
            "/account/reviews/slow@1.0.0/checks/licence/rerun",
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(rerun.status(), StatusCode::SEE_OTHER);
    assert_eq!(rerun.headers()["location"], "/account/reviews/slow@1.0.0");
    assert_eq!(check_status(&app, "slow@1.0.0").await["status"], "pending");
    let (answer_url, token) = invitation(&receiver.wait_for(2).await[1]);
    let passed = answer(
        &app,
        &answer_url,
        Some(&token),
        json!({"conclusion": "pass"}),
    )
    .await;
    assert_eq!(passed.status(), StatusCode::OK);
    let approved = ada
        .post_form(
            "/account/reviews/slow@1.0.0/decision",
            &[("csrf", &csrf), ("decision", "approve")],
        )
        .await;
    assert_eq!(approved.status(), StatusCode::SEE_OTHER);
    let details = json_of(app.get("/plugins/slow").await, StatusCode::OK).await;
    assert_eq!(details["version"], "1.0.0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_failing_while_a_subscription_is_checked_is_a_server_error_not_a_404() {
    let app = TestApp::spawn_on(crate::helpers::TestBackend::Embedded).await;
    let owner = app.new_principal_key("owner", &["publish"]).await;
    let published = app
        .publish(
            &owner,
            "application/yaml",
            crate::helpers::plugin_yaml("broken", "1.0.0"),
        )
        .await;
    assert_eq!(published.status(), StatusCode::CREATED);
    let receiver = Receiver::start(vec![]).await;
    let hook = subscribe(
        &app,
        &owner,
        "broken",
        &receiver.url,
        &["version.published"],
    )
    .await;
    let path = format!("/webhooks/{}", hook["id"].as_str().unwrap());
    assert_eq!(
        get_json_with(&app, &path, &owner).await.status(),
        StatusCode::OK
    );
    // The owners' table goes away under the running server: reading who may
    // manage the subscription now fails, which is the server's fault, not a
    // subscription that does not exist.
    let db = app.data.path().join(openworkflow_registry::CATALOG_FILE);
    rusqlite::Connection::open(db)
        .unwrap()
        .execute_batch("ALTER TABLE roster_entries RENAME TO roster_entries_gone")
        .unwrap();
    let failed = get_json_with(&app, &path, &owner).await;
    assert_eq!(failed.status(), StatusCode::INTERNAL_SERVER_ERROR);
}
