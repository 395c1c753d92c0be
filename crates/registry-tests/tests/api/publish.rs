//! Publishing and updating.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn publishes_the_spec_github_example_and_serves_the_spec_details() {
    let app = TestApp::spawn().await;
    let response = app.publish_yaml(&app.admin_key, GITHUB_YAML).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(
        response.headers()["location"],
        app.url("/plugins/github").as_str()
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"status": "published", "slug": "github", "version": "1.2.0", "url": app.url("/plugins/github")})
    );

    let details = app.get_json("/plugins/github?version=1.2.0").await;
    for (field, expected) in [
        ("slug", json!("github")),
        ("version", json!("1.2.0")),
        ("name", json!("GitHub Integration")),
        ("license", json!("MIT")),
        ("tags", json!(["vcs", "github", "git", "development"])),
        ("runtime", json!({"memory": "512MB", "timeout": 60})),
        ("versions", json!(["1.2.0"])),
        ("downloads", json!(0)),
        ("deprecated", Value::Null),
        ("schema_url", json!(app.url("/plugins/github/1.2.0/schema"))),
        ("created_at", json!("2026-03-02T12:00:00Z")),
    ] {
        assert_eq!(details[field], expected, "{field}");
    }
    assert_eq!(
        details["actions"][1],
        json!({"name": "list_repos", "description": "List repositories"})
    );
    assert_eq!(
        details["environment"][0],
        json!({"name": "GITHUB_TOKEN", "description": "GitHub personal access token", "required": true})
    );
    assert!(details.get("bundle_url").is_none());

    let schema = app.get("/plugins/github/1.2.0/schema").await;
    assert_eq!(schema.status(), StatusCode::OK);
    assert_eq!(schema.headers()["content-type"], "application/yaml");
    let bytes = schema.bytes().await.unwrap();
    assert_eq!(
        &bytes[..],
        GITHUB_YAML.as_bytes(),
        "the schema is served exactly as published"
    );
    assert_eq!(details["sha256"], sha256_hex(&bytes));
}

#[tokio::test]
async fn json_documents_are_served_back_byte_for_byte_as_json() {
    let app = TestApp::spawn().await;
    let doc = r#"{"slug":"weather","version":"1.0.0","name":"Weather","description":"Forecasts",
        "author":"A","homepage":"https://w.example","repository":"https://github.com/a/w","license":"MIT OR Apache-2.0",
        "icon":"https://w.example/i.png","tags":["weather"],"actions":[{"name":"get_forecast","description":"Forecast",
        "input":{"city":"string"}}]}"#;
    assert_eq!(
        app.publish(&app.admin_key, "application/json; charset=utf-8", doc)
            .await
            .status(),
        StatusCode::CREATED
    );
    let schema = app.get("/plugins/weather/1.0.0/schema").await;
    assert_eq!(schema.headers()["content-type"], "application/json");
    assert_eq!(schema.text().await.unwrap(), doc);
    let details = app.get_json("/plugins/weather").await;
    assert_eq!(details["actions"][0]["input"], json!({"city": "string"}));
    assert_eq!(details["sha256"], sha256_hex(doc.as_bytes()));
}

#[tokio::test]
async fn publishing_needs_a_valid_key_with_the_publish_scope() {
    let app = TestApp::spawn().await;
    let doc = plugin_yaml("needs-key", "1.0.0");
    let anonymous = app
        .send_body(
            reqwest::Method::POST,
            "/plugins",
            None,
            "application/yaml",
            doc.clone(),
        )
        .await;
    let body = expect_problem(anonymous, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    assert!(body["detail"].as_str().unwrap().contains("Bearer"));

    let bogus = format!("sk_{}", "0".repeat(64));
    expect_problem(
        app.publish_yaml(&bogus, &doc).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    let malformed = app
        .send_body(
            reqwest::Method::POST,
            "/plugins",
            None,
            "application/yaml",
            doc.clone(),
        )
        .await;
    assert_eq!(malformed.status(), StatusCode::UNAUTHORIZED);

    let reader = app.new_principal_key("reader", &["read"]).await;
    let body = expect_problem(
        app.publish_yaml(&reader, &doc).await,
        StatusCode::FORBIDDEN,
        "missing_scope",
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("publish"));
}

#[tokio::test]
async fn an_invalid_plugin_gets_every_problem_at_once() {
    let app = TestApp::spawn().await;
    let doc = "slug: Bad_Slug\nversion: '1.0'\nname: ''\nlicense: NOT-A-LICENSE\nhomepage: ftp://x\ntags: [ok, ok]\n\
               actions:\n  - name: run\n    description: a\n  - name: run\n    description: b\nsurprise: 1\n";
    let body = expect_problem(
        app.publish_yaml(&app.admin_key, doc).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for expected in [
        "slug",
        "version",
        "name",
        "description",
        "author",
        "homepage",
        "repository",
        "icon",
        "license",
        "tags[1]",
        "actions[1].name",
        "surprise",
    ] {
        assert!(
            fields.contains(&expected),
            "missing {expected} in {fields:?}"
        );
    }
    assert!(
        body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| !e["message"].as_str().unwrap().is_empty())
    );
}

#[tokio::test]
async fn malformed_documents_and_wrong_types_are_refused_clearly() {
    let app = TestApp::spawn().await;
    expect_problem(
        app.publish_yaml(&app.admin_key, "slug: [unclosed").await,
        StatusCode::BAD_REQUEST,
        "malformed_document",
    )
    .await;
    expect_problem(
        app.publish(&app.admin_key, "application/json", "{not json")
            .await,
        StatusCode::BAD_REQUEST,
        "malformed_document",
    )
    .await;
    expect_problem(
        app.publish(&app.admin_key, "text/plain", "hello").await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let huge = format!(
        "{}\nchangelog: {}\n",
        plugin_yaml("huge", "1.0.0"),
        "x".repeat(300 * 1024)
    );
    expect_problem(
        app.publish_yaml(&app.admin_key, &huge).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;
}

#[tokio::test]
async fn reserved_slugs_are_refused() {
    let app = TestApp::spawn().await;
    let body = expect_problem(
        app.publish_yaml(&app.admin_key, &plugin_yaml("search", "1.0.0"))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "slug");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("reserved")
    );
}

#[tokio::test]
async fn a_published_version_cannot_be_published_again() {
    let app = TestApp::spawn().await;
    app.publish_ok(&app.admin_key, "dup", "1.0.0").await;
    expect_problem(
        app.publish_yaml(&app.admin_key, &plugin_yaml("dup", "1.0.0"))
            .await,
        StatusCode::CONFLICT,
        "version_exists",
    )
    .await;
    // A backport (any unused version) is fine through POST.
    app.publish_ok(&app.admin_key, "dup", "2.0.0").await;
    app.publish_ok(&app.admin_key, "dup", "1.0.1").await;
    assert_eq!(
        app.get_json("/plugins/dup").await["versions"],
        json!(["2.0.0", "1.0.1", "1.0.0"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_publishes_of_one_version_have_exactly_one_winner() {
    let app = TestApp::spawn().await;
    let doc = plugin_yaml("racy", "1.0.0");
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let request = app
                .client
                .post(app.url("/plugins"))
                .bearer_auth(&app.admin_key)
                .header("content-type", "application/yaml")
                .body(doc.clone());
            tokio::spawn(async move { request.send().await.map(|r| r.status()) })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap().unwrap());
    }
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CONFLICT)
            .count(),
        7,
        "{statuses:?}"
    );
    assert_eq!(
        app.get_json("/plugins/racy").await["versions"],
        json!(["1.0.0"])
    );
}

/// Matrix CI jobs publish many versions of one plugin at once; nothing conflicts,
/// so every one must land (the revision race is the registry's to absorb).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_publishes_of_different_versions_all_succeed() {
    let app = TestApp::spawn().await;
    app.publish_ok(&app.admin_key, "matrix", "0.1.0").await;
    let tasks: Vec<_> = (0..50)
        .map(|minor| {
            let request = app
                .client
                .post(app.url("/plugins"))
                .bearer_auth(&app.admin_key)
                .header("content-type", "application/yaml")
                .body(plugin_yaml("matrix", &format!("1.{minor}.0")));
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
    let details = app.get_json("/plugins/matrix").await;
    assert_eq!(details["versions"].as_array().unwrap().len(), 51);
    assert_eq!(details["version"], "1.49.0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_publishes_by_two_principals_leave_one_owner() {
    let app = TestApp::spawn().await;
    let (a, b) = (
        app.new_principal_key("a", &["publish"]).await,
        app.new_principal_key("b", &["publish"]).await,
    );
    let (doc_a, doc_b) = (
        plugin_yaml("contested", "1.0.0"),
        plugin_yaml("contested", "1.1.0"),
    );
    let (ra, rb) = tokio::join!(app.publish_yaml(&a, &doc_a), app.publish_yaml(&b, &doc_b));
    let mut statuses = [ra.status(), rb.status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::CREATED, StatusCode::FORBIDDEN]);
    assert_eq!(
        app.get_json("/plugins/contested").await["versions"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn update_needs_a_greater_version_and_reports_the_previous_one() {
    let app = TestApp::spawn().await;
    app.publish_ok(&app.admin_key, "upd", "1.0.0").await;
    let response = app
        .update(&app.admin_key, "upd", &plugin_yaml("upd", "1.1.0"))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"status": "updated", "slug": "upd", "version": "1.1.0", "previous_version": "1.0.0"})
    );
    let body = expect_problem(
        app.update(&app.admin_key, "upd", &plugin_yaml("upd", "1.0.5"))
            .await,
        StatusCode::CONFLICT,
        "version_not_incremented",
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("1.1.0"));
    expect_problem(
        app.update(&app.admin_key, "upd", &plugin_yaml("upd", "1.1.0"))
            .await,
        StatusCode::CONFLICT,
        "version_exists",
    )
    .await;
    expect_problem(
        app.update(&app.admin_key, "nope", &plugin_yaml("nope", "1.0.0"))
            .await,
        StatusCode::NOT_FOUND,
        "plugin_not_found",
    )
    .await;
    let body = expect_problem(
        app.update(&app.admin_key, "upd", &plugin_yaml("other", "2.0.0"))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "slug");
}

#[tokio::test]
async fn only_the_owning_principal_may_change_a_plugin() {
    let app = TestApp::spawn().await;
    let owner = app.new_principal_key("owner", &["publish"]).await;
    let stranger = app.new_principal_key("stranger", &["publish"]).await;
    app.publish_ok(&owner, "owned", "1.0.0").await;
    expect_problem(
        app.publish_yaml(&stranger, &plugin_yaml("owned", "1.1.0"))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    expect_problem(
        app.update(&stranger, "owned", &plugin_yaml("owned", "1.1.0"))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    expect_problem(
        app.deprecate(&stranger, "owned", "1.0.0", json!({"reason": "mine now"}))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    expect_problem(
        app.unpublish(&stranger, "owned", "1.0.0").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_eq!(
        app.update(&owner, "owned", &plugin_yaml("owned", "1.1.0"))
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn no_one_takes_a_slug_confusable_with_an_existing_one() {
    let app = TestApp::spawn().await;
    let author = app.new_principal_key("author", &["publish"]).await;
    let squatter = app.new_principal_key("squatter", &["publish"]).await;
    app.publish_ok(&author, "my-plugin", "1.0.0").await;
    for (key, look_alike) in [
        (&squatter, "myplugin"),
        (&squatter, "my-p1ugin"),
        (&author, "myp-lugin"),
        (&app.admin_key, "rny-plugin"),
    ] {
        let problem = expect_problem(
            app.publish_yaml(key, &plugin_yaml(look_alike, "1.0.0"))
                .await,
            StatusCode::CONFLICT,
            "slug_confusable",
        )
        .await;
        assert!(
            problem["detail"].as_str().unwrap().contains("'my-plugin'"),
            "{problem}"
        );
        expect_problem(
            app.get(&format!("/plugins/{look_alike}")).await,
            StatusCode::NOT_FOUND,
            "plugin_not_found",
        )
        .await;
    }
    expect_problem(
        app.publish_yaml(&author, &plugin_yaml("1ndex", "1.0.0"))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    // The plugin itself goes on, and distinct slugs are free.
    app.publish_ok(&author, "my-plugin", "1.1.0").await;
    app.publish_ok(&squatter, "my-plugins", "1.0.0").await;
}
