//! Analytics over HTTP, on the backend under test: the figures are the downloads
//! the test made, per day, version and client; owners, `analytics` keys and
//! admins read them, anyone else gets 403.

use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, USER_AGENT};
use serde_json::{Value, json};

use crate::helpers::{TestApp, expect_problem, plugin_yaml};

const CLI: &str = "openworkflow/0.4.1";

/// `n` downloads of a version's schema, sent with `agent`.
async fn download(app: &TestApp, version: &str, agent: &str, n: usize) {
    for _ in 0..n {
        let response = app
            .client
            .get(app.url(&format!("/plugins/stats/{version}/schema")))
            .header(USER_AGENT, agent)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
}

async fn analytics(app: &TestApp, key: &str, query: &str) -> reqwest::Response {
    app.get_with_key(&format!("/plugins/stats/analytics{query}"), key)
        .await
}

async fn analytics_json(app: &TestApp, key: &str, query: &str) -> Value {
    let response = analytics(app, key, query).await;
    assert_eq!(response.status(), StatusCode::OK, "GET analytics{query}");
    assert_eq!(
        response.headers()[CACHE_CONTROL],
        "private, no-store",
        "never kept by a shared cache"
    );
    response.json().await.unwrap()
}

#[tokio::test]
async fn owners_see_downloads_per_day_version_and_client() {
    let app = TestApp::spawn().await;
    let owner = app.new_principal_key("stats-owner", &["publish"]).await;
    app.publish_ok(&owner, "stats", "1.0.0").await;
    let updated = app
        .update(&owner, "stats", &plugin_yaml("stats", "1.1.0"))
        .await;
    assert_eq!(updated.status(), StatusCode::OK);

    // Monday 2 March: three of 1.0.0 (two by the CLI); Tuesday: three of 1.1.0.
    download(&app, "1.0.0", CLI, 2).await;
    download(&app, "1.0.0", "Mozilla/5.0 (X11; Linux x86_64)", 1).await;
    app.clock.advance(time::Duration::days(1));
    download(&app, "1.1.0", CLI, 3).await;
    // Not downloads: a HEAD, and a revalidation.
    let head = app
        .client
        .head(app.url("/plugins/stats/1.1.0/schema"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);

    let figures = analytics_json(&app, &owner, "?from=2026-03-02&to=2026-03-04").await;
    assert_eq!(
        figures,
        json!({
            "slug": "stats",
            "from": "2026-03-02",
            "to": "2026-03-04",
            "granularity": "day",
            "total": 6,
            "periods": [
                { "start": "2026-03-02", "downloads": 3, "versions": { "1.0.0": 3 } },
                { "start": "2026-03-03", "downloads": 3, "versions": { "1.1.0": 3 } },
                { "start": "2026-03-04", "downloads": 0, "versions": {} }
            ],
            "versions": [
                { "version": "1.1.0", "downloads": 3 },
                { "version": "1.0.0", "downloads": 3 }
            ],
            "clients": [
                { "client": CLI, "downloads": 5, "share": 5.0 / 6.0 },
                { "client": "other", "downloads": 1, "share": 1.0 / 6.0 }
            ],
            "instances": []
        })
    );

    // `days` counts back from `to`, which it includes.
    let two = analytics_json(&app, &owner, "?days=2&to=2026-03-03").await;
    assert_eq!(
        (two["from"].as_str(), two["total"].as_u64()),
        (Some("2026-03-02"), Some(6))
    );

    // The defaults: the 30 days up to today.
    let recent = analytics_json(&app, &owner, "").await;
    assert_eq!(recent["to"], "2026-03-03");
    assert_eq!(recent["from"], "2026-02-02");
    assert_eq!(recent["periods"].as_array().unwrap().len(), 30);
    assert_eq!(recent["total"], 6);

    // Weeks start on Monday; months are whole months.
    let weekly = analytics_json(
        &app,
        &owner,
        "?from=2026-02-25&to=2026-03-03&granularity=week",
    )
    .await;
    let weeks: Vec<(&str, u64)> = weekly["periods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["start"].as_str().unwrap(),
                p["downloads"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(weeks, [("2026-02-23", 0), ("2026-03-02", 6)]);
    let monthly = analytics_json(&app, &owner, "?from=2025-12-10&granularity=month").await;
    assert_eq!(monthly["from"], "2025-12-01");
    assert_eq!(monthly["to"], "2026-03-31");
    let months: Vec<u64> = monthly["periods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["downloads"].as_u64().unwrap())
        .collect();
    assert_eq!(months, [0, 0, 0, 6]);
}

#[tokio::test]
async fn only_owners_analytics_keys_and_admins_read_them() {
    let app = TestApp::spawn().await;
    let owner = app.new_principal_key("stats-owner", &["publish"]).await;
    app.publish_ok(&owner, "stats", "1.0.0").await;
    download(&app, "1.0.0", CLI, 2).await;

    let stranger = app.new_principal_key("stranger", &["publish"]).await;
    expect_problem(
        analytics(&app, &stranger, "").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let anonymous = app.get("/plugins/stats/analytics").await;
    expect_problem(anonymous, StatusCode::UNAUTHORIZED, "unauthenticated").await;

    let analyst = app.new_principal_key("analyst", &["analytics"]).await;
    let admin = app.admin_key.clone();
    for key in [&owner, &analyst, &admin] {
        assert_eq!(analytics_json(&app, key, "").await["total"], 2);
    }
    expect_problem(
        app.get_with_key("/plugins/nothing-here/analytics", &analyst)
            .await,
        StatusCode::NOT_FOUND,
        "plugin_not_found",
    )
    .await;
}

#[tokio::test]
async fn bad_ranges_say_what_to_ask_instead() {
    let app = TestApp::spawn().await;
    let owner = app.new_principal_key("stats-owner", &["publish"]).await;
    app.publish_ok(&owner, "stats", "1.0.0").await;
    for (query, status, code) in [
        (
            "?from=2026-03-05&to=2026-03-01",
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        ),
        ("?from=March", StatusCode::BAD_REQUEST, "invalid_parameter"),
        (
            "?granularity=hour",
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        ),
        (
            "?from=2020-01-01&granularity=day",
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        ),
        // Daily counters are kept 90 days: older days and weeks are months now.
        (
            "?from=2025-11-01&granularity=week",
            StatusCode::UNPROCESSABLE_ENTITY,
            "range_beyond_retention",
        ),
    ] {
        let problem = expect_problem(analytics(&app, &owner, query).await, status, code).await;
        assert!(
            problem["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{query}: {problem}"
        );
    }
    let months = analytics_json(&app, &owner, "?from=2025-11-01&granularity=month").await;
    assert_eq!(months["periods"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn analysts_read_the_registrys_publishes_new_plugins_and_downloads() {
    let app = TestApp::spawn().await;
    let owner = app.new_principal_key("stats-owner", &["publish"]).await;
    let analyst = app.new_principal_key("analyst", &["analytics"]).await;
    // Monday 2 March: two new plugins, three versions; downloads on two days.
    app.publish_ok(&owner, "stats", "1.0.0").await;
    let updated = app
        .update(&owner, "stats", &plugin_yaml("stats", "1.1.0"))
        .await;
    assert_eq!(updated.status(), StatusCode::OK);
    app.publish_ok(&app.admin_key, "quiet", "0.1.0").await;
    download(&app, "1.0.0", CLI, 3).await;
    app.clock.advance(time::Duration::days(1));
    download(&app, "1.1.0", "curl/8.5.0", 1).await;
    // On AWS the figures are the roll-up's; elsewhere it changes nothing here.
    app.roll_up().await;

    let registry = |key: Option<&str>, query: &'static str| {
        let app = &app;
        let key = key.map(str::to_owned);
        async move {
            let url = format!("/analytics/registry{query}");
            match key {
                Some(key) => app.get_with_key(&url, &key).await,
                None => app.client.get(app.url(&url)).send().await.unwrap(),
            }
        }
    };
    expect_problem(
        registry(None, "").await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    expect_problem(
        registry(Some(&owner), "").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    for (query, complaint) in [
        ("?weeks=0", "\"0\""),
        ("?weeks=13", "\"13\""),
        ("?weeks=x", "\"x\""),
    ] {
        let problem = expect_problem(
            registry(Some(&analyst), query).await,
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        )
        .await;
        assert!(
            problem["detail"].as_str().unwrap().contains(complaint),
            "{query}: {problem}"
        );
    }

    for key in [&analyst, &app.admin_key] {
        let response = registry(Some(key), "").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[CACHE_CONTROL], "private, no-store");
        let figures: Value = response.json().await.unwrap();
        assert_eq!(
            (figures["from"].as_str(), figures["to"].as_str()),
            (Some("2025-12-15"), Some("2026-03-03")),
            "twelve weeks from a Monday to today"
        );
        let weeks = figures["weeks"].as_array().unwrap();
        assert_eq!(weeks.len(), 12);
        assert_eq!(weeks[0]["start"], "2025-12-15");
        assert_eq!(
            weeks[11],
            json!({"start": "2026-03-02", "publishes": 3, "new_plugins": 2, "downloads": 4})
        );
        let days = figures["days"].as_array().unwrap();
        assert_eq!(days.len(), 11 * 7 + 2, "every day of the range");
        assert_eq!(
            days[days.len() - 2..],
            [
                json!({"day": "2026-03-02", "downloads": 3}),
                json!({"day": "2026-03-03", "downloads": 1})
            ]
        );
        assert_eq!(
            figures["top_plugins"],
            json!([{"slug": "stats", "downloads": 4}]),
            "a plugin never downloaded is not among the busiest"
        );
    }

    let last_week: Value = registry(Some(&analyst), "?weeks=1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(last_week["from"], "2026-03-02");
    assert_eq!(last_week["weeks"].as_array().unwrap().len(), 1);
    assert_eq!(last_week["days"].as_array().unwrap().len(), 2);
}
