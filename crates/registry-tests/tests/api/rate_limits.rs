//! Rate limits per principal over HTTP, on the backend under test: a burst of
//! new plugins then one per period, 64 concurrent versions all published (a CI
//! matrix) and the next one told when to come back, admin keys exempt.

use reqwest::StatusCode;

use crate::helpers::{TestApp, expect_problem, plugin_yaml};

#[tokio::test]
async fn new_plugins_are_a_burst_of_five_then_one_per_ten_minutes() {
    let app = TestApp::spawn().await;
    let author = app.new_principal_key("author", &["publish"]).await;
    for n in 1..=5 {
        app.publish_ok(&author, &format!("burst-{n}"), "1.0.0")
            .await;
    }
    let refused = app
        .publish_yaml(&author, &plugin_yaml("burst-6", "1.0.0"))
        .await;
    assert_eq!(refused.headers()["retry-after"], "600");
    let problem = expect_problem(refused, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert!(
        problem["detail"].as_str().unwrap().contains("5/10m"),
        "{problem}"
    );
    expect_problem(
        app.get("/plugins/burst-6").await,
        StatusCode::NOT_FOUND,
        "plugin_not_found",
    )
    .await;

    // Another principal has its own allowance; an admin key has none to spend.
    let other = app.new_principal_key("other", &["publish"]).await;
    app.publish_ok(&other, "someone-else", "1.0.0").await;
    for n in 1..=7 {
        app.publish_ok(&app.admin_key, &format!("operator-{n}"), "1.0.0")
            .await;
    }
    // Versions of existing plugins are counted apart from new plugins.
    app.publish_ok(&author, "burst-1", "1.1.0").await;

    app.clock.advance(time::Duration::seconds(599));
    let still = app
        .publish_yaml(&author, &plugin_yaml("burst-6", "1.0.0"))
        .await;
    assert_eq!(still.headers()["retry-after"], "1");
    app.clock.advance(time::Duration::seconds(1));
    app.publish_ok(&author, "burst-6", "1.0.0").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_concurrent_versions_all_succeed_and_the_next_waits_a_minute() {
    let app = TestApp::spawn().await;
    let ci = app.new_principal_key("ci", &["publish"]).await;
    app.publish_ok(&ci, "matrix", "1.0.0").await;
    let tasks: Vec<_> = (1..=64)
        .map(|patch| {
            let request = app
                .client
                .post(app.url("/plugins"))
                .bearer_auth(&ci)
                .header("content-type", "application/yaml")
                .body(plugin_yaml("matrix", &format!("1.0.{patch}")));
            tokio::spawn(async move {
                let response = request.send().await.unwrap();
                (response.status(), response.text().await.unwrap())
            })
        })
        .collect();
    let mut refused = Vec::new();
    for task in tasks {
        let (status, body) = task.await.unwrap();
        if status != StatusCode::CREATED {
            refused.push((status, body));
        }
    }
    assert!(refused.is_empty(), "{} refused: {refused:?}", refused.len());
    let next = app
        .publish_yaml(&ci, &plugin_yaml("matrix", "1.0.65"))
        .await;
    assert_eq!(next.headers()["retry-after"], "60");
    expect_problem(next, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    app.clock.advance(time::Duration::seconds(60));
    app.publish_ok(&ci, "matrix", "1.0.65").await;
}
