//! Details, downloads, search, private registries, OpenAPI.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn details_pick_versions_and_refuse_unknown_ones() {
    let app = TestApp::spawn().await;
    for v in ["1.0.0", "1.10.0", "1.2.0", "2.0.0-beta.1"] {
        app.publish_ok(&app.admin_key, "multi", v).await;
    }
    let latest = app.get_json("/plugins/multi").await;
    assert_eq!(
        latest["version"], "1.10.0",
        "pre-releases are not latest while a release exists"
    );
    assert_eq!(
        latest["versions"],
        json!(["2.0.0-beta.1", "1.10.0", "1.2.0", "1.0.0"])
    );
    assert_eq!(
        app.get_json("/plugins/multi?version=1.10.0").await,
        latest,
        "the latest version's details are the plugin's"
    );
    let older = app.get_json("/plugins/multi?version=1.2.0").await;
    assert_eq!(older["version"], "1.2.0");
    for plugin_wide in ["versions", "downloads", "healthy_instances", "updated_at"] {
        assert!(
            older.get(plugin_wide).is_none(),
            "{plugin_wide} moves with the plugin, so only its latest details carry it"
        );
    }
    assert_eq!(older["created_at"], latest["created_at"]);
    expect_problem(
        app.get("/plugins/multi?version=9.9.9").await,
        StatusCode::NOT_FOUND,
        "version_not_found",
    )
    .await;
    expect_problem(
        app.get("/plugins/multi?version=banana").await,
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
    )
    .await;
    expect_problem(
        app.get("/plugins/absent").await,
        StatusCode::NOT_FOUND,
        "plugin_not_found",
    )
    .await;
    expect_problem(
        app.get("/plugins/absent/1.0.0/schema").await,
        StatusCode::NOT_FOUND,
        "plugin_not_found",
    )
    .await;
    expect_problem(
        app.get("/plugins/multi/9.0.0/schema").await,
        StatusCode::NOT_FOUND,
        "version_not_found",
    )
    .await;
    expect_problem(
        app.get("/plugins/multi/1.0.0/bundle").await,
        StatusCode::NOT_FOUND,
        "no_bundle",
    )
    .await;
    expect_problem(
        app.get("/no/such/route").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn downloads_count_per_day_and_reach_details_at_roll_up() {
    let app = TestApp::spawn().await;
    app.publish_ok(&app.admin_key, "counted", "1.0.0").await;
    for _ in 0..3 {
        assert_eq!(
            app.get("/plugins/counted/1.0.0/schema").await.status(),
            StatusCode::OK
        );
    }
    assert_eq!(
        app.get_json("/plugins/counted").await["downloads"],
        0,
        "not before the roll-up"
    );
    app.roll_up().await;
    assert_eq!(app.get_json("/plugins/counted").await["downloads"], 3);
}

/// A download is a body sent: a `HEAD`, a 304 or an error is none, and the CDN's
/// own path to the file (`/index/plugins/...`) counts like the protocol's.
#[tokio::test]
async fn only_bodies_sent_count_on_every_path() {
    let app = TestApp::spawn().await;
    app.publish_ok(&app.admin_key, "paths", "1.0.0").await;
    let schema = "/plugins/paths/1.0.0/schema";
    for _ in 0..2 {
        let head = app.client.head(app.url(schema)).send().await.unwrap();
        assert_eq!(head.status(), StatusCode::OK);
    }
    let first = app.get(schema).await;
    assert_eq!(first.status(), StatusCode::OK);
    let etag = first.headers()[reqwest::header::ETAG].clone();
    let revalidated = app
        .client
        .get(app.url(schema))
        .header(reqwest::header::IF_NONE_MATCH, etag)
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);
    for _ in 0..3 {
        let direct = app.get("/index/plugins/paths/1.0.0/schema").await;
        assert_eq!(direct.status(), StatusCode::OK);
    }
    assert_eq!(
        app.get("/plugins/paths/1.0.0/bundle").await.status(),
        StatusCode::NOT_FOUND
    );
    // The server never answers part of a body (no 206): a ranged GET gets the
    // whole of it, and counts as the download it is.
    let whole = first.bytes().await.unwrap();
    for path in [schema, "/index/plugins/paths/1.0.0/schema"] {
        let ranged = app
            .client
            .get(app.url(path))
            .header(reqwest::header::RANGE, "bytes=5-9")
            .send()
            .await
            .unwrap();
        assert_eq!(ranged.status(), StatusCode::OK, "{path}");
        assert!(
            ranged
                .headers()
                .get(reqwest::header::ACCEPT_RANGES)
                .is_none()
        );
        assert_eq!(ranged.bytes().await.unwrap(), whole, "{path}");
    }
    app.roll_up().await;
    assert_eq!(
        app.get_json("/plugins/paths").await["downloads"],
        6,
        "two GETs of the protocol's path and four of the index's, ranged or not"
    );
}

#[tokio::test]
async fn search_matches_filters_pages_and_ranks() {
    let app = TestApp::spawn().await;
    let key = &app.admin_key;
    for (slug, name, description, tags) in [
        (
            "github",
            "GitHub Integration",
            "Interact with GitHub repositories",
            &["vcs", "github", "git"][..],
        ),
        (
            "gitlab",
            "GitLab",
            "Work with GitLab projects and git repositories",
            &["vcs", "git"][..],
        ),
        (
            "weather",
            "Weather",
            "Forecasts for any city",
            &["weather"][..],
        ),
        (
            "slack",
            "Slack",
            "Post messages; integrates with github webhooks",
            &["chat"][..],
        ),
    ] {
        let response = app
            .publish_yaml(
                key,
                &TestPlugin::new(slug, "1.0.0")
                    .name(name)
                    .description(description)
                    .tags(tags)
                    .yaml(),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let spec_example = app.get_json("/plugins/search?q=github&tag=vcs").await;
    assert_eq!(spec_example["total"], 1);
    let hit = &spec_example["results"][0];
    assert_eq!(hit["slug"], "github");
    let mut keys: Vec<&str> = hit
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "author",
            "created_at",
            "description",
            "downloads",
            "name",
            "slug",
            "tags",
            "updated_at",
            "version"
        ]
    );

    let by_relevance = app.get_json("/plugins/search?q=github").await;
    let order: Vec<&str> = by_relevance["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["slug"].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        ["github", "slack"],
        "a name match outranks a description match"
    );

    // Equal relevance: more downloads first.
    for _ in 0..2 {
        app.get("/plugins/gitlab/1.0.0/schema").await;
    }
    app.roll_up().await;
    let git = app.get_json("/plugins/search?q=git&tag=vcs").await;
    assert_eq!(git["total"], 2);
    assert_eq!(git["results"][0]["slug"], "gitlab");
    assert_eq!(git["results"][0]["downloads"], 2);

    let page = app.get_json("/plugins/search?limit=2&offset=1").await;
    assert_eq!(page["total"], 4, "total counts every match, not the page");
    assert_eq!(page["results"].as_array().unwrap().len(), 2);
    assert_eq!(
        app.get_json("/plugins/search?q=nothing-like-this").await,
        json!({"total": 0, "results": []})
    );
    assert_eq!(
        app.get_json("/plugins/search?q=fore").await["results"][0]["slug"],
        "weather",
        "prefix match"
    );

    expect_problem(
        app.get("/plugins/search?limit=101").await,
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
    )
    .await;
    expect_problem(
        app.get("/plugins/search?limit=abc").await,
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
    )
    .await;
    expect_problem(
        app.get("/plugins/search?offset=-1").await,
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
    )
    .await;
    assert_eq!(app.get_json("/plugins/search?limit=100").await["total"], 4);
}

#[tokio::test]
async fn a_private_registry_needs_a_read_key_for_every_read() {
    let app = TestApp::spawn_private().await;
    app.publish_ok(&app.admin_key, "secret", "1.0.0").await;
    for path in [
        "/plugins/secret",
        "/plugins/search?q=secret",
        "/plugins/secret/1.0.0/schema",
    ] {
        expect_problem(
            app.get(path).await,
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        )
        .await;
    }
    let reader = app.new_principal_key("reader", &["read"]).await;
    let router = app.new_principal_key("router-only", &["router"]).await;
    let details = app.get_with_key("/plugins/secret", &reader).await;
    assert_eq!(details.status(), StatusCode::OK);
    assert_eq!(details.headers()["cache-control"], "private, no-store");
    assert_eq!(
        app.get_with_key("/plugins/secret/1.0.0/schema", &reader)
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.get_with_key("/plugins/search?q=secret", &router)
            .await
            .status(),
        StatusCode::OK
    );
    // Whether a plugin exists is private too: no answer may land in a shared cache.
    for (path, key, status) in [
        ("/plugins/absent", Some(&reader), StatusCode::NOT_FOUND),
        (
            "/plugins/secret?version=9.0.0",
            Some(&reader),
            StatusCode::NOT_FOUND,
        ),
        (
            "/plugins/secret/9.0.0/schema",
            Some(&reader),
            StatusCode::NOT_FOUND,
        ),
        ("/no/such/route", Some(&reader), StatusCode::NOT_FOUND),
        ("/plugins/secret", None, StatusCode::UNAUTHORIZED),
        (
            "/plugins/secret?version=x",
            Some(&reader),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let response = match key {
            Some(key) => app.get_with_key(path, key).await,
            None => app.get(path).await,
        };
        assert_eq!(response.status(), status, "{path}");
        assert_eq!(
            response
                .headers()
                .get("cache-control")
                .map(|v| v.to_str().unwrap()),
            Some("private, no-store"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn healthz_says_alive_and_readyz_names_each_dependency_it_checked() {
    let app = TestApp::spawn().await;
    let health: Value = app.get_json("/healthz").await;
    assert_eq!(health["status"], "ok");
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), StatusCode::OK);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(
        ready,
        json!({"status": "ok", "checks": {"catalog": "ok", "storage": "ok"}})
    );
}

/// Tag case is presentation: `AI` is the tag `ai` in details and search, while the
/// stored schema (which checksums and signatures cover) keeps the author's bytes.
#[tokio::test]
async fn tags_of_any_case_are_normalized_in_details_and_search_only() {
    let app = TestApp::spawn().await;
    let yaml = TestPlugin::new("comfy", "1.0.0")
        .tags(&["AI", "Image-Gen"])
        .yaml()
        .replace(
            "actions:\n",
            "environment:\n  - name: comfy_url\n    description: ComfyUI's URL\n  - name: google_access_token\n    description: A token\nactions:\n",
        );
    let response = app.publish_yaml(&app.admin_key, &yaml).await;
    assert_eq!(
        response.status(),
        StatusCode::CREATED,
        "{}",
        response.text().await.unwrap()
    );

    let details = app.get_json("/plugins/comfy").await;
    assert_eq!(details["tags"], json!(["ai", "image-gen"]));
    assert_eq!(details["environment"][0]["name"], "comfy_url");
    let schema = app.get("/plugins/comfy/1.0.0/schema").await;
    assert_eq!(
        schema.text().await.unwrap(),
        yaml,
        "the stored bytes are the author's"
    );
    for tag in ["ai", "AI", "Ai"] {
        let found = app.get_json(&format!("/plugins/search?tag={tag}")).await;
        assert_eq!(found["results"][0]["slug"], "comfy", "tag={tag}: {found}");
    }
    let found = app.get_json("/plugins/search?q=image-gen").await;
    assert_eq!(found["results"][0]["tags"], json!(["ai", "image-gen"]));
}

#[tokio::test]
async fn every_answer_names_a_request_id_of_its_own() {
    let app = TestApp::spawn().await;
    let mut seen = std::collections::BTreeSet::new();
    for path in [
        "/healthz",
        "/healthz",
        "/plugins/no-such-plugin",
        "/no/such/route",
    ] {
        let response = app.get(path).await;
        let id = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(id.starts_with("req_") && id.len() == 20, "{path}: {id}");
        assert!(seen.insert(id), "{path}: each request has its own id");
    }
    let refused = app
        .send_body(
            reqwest::Method::POST,
            "/plugins",
            Some("sk_unknown"),
            "application/yaml",
            "slug: x",
        )
        .await;
    assert!(
        refused.headers().contains_key("x-request-id"),
        "refusals name theirs too"
    );
}
