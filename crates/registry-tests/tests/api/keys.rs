//! API keys and principals.

use registry_core::timestamp::Clock;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

async fn create_key(app: &TestApp, key: &str, body: Value) -> reqwest::Response {
    app.send_body(
        reqwest::Method::POST,
        "/auth/keys",
        Some(key),
        "application/json",
        body.to_string(),
    )
    .await
}

#[tokio::test]
async fn keys_are_created_listed_without_secrets_and_revoked() {
    let app = TestApp::spawn().await;
    let response = create_key(&app, &app.admin_key, json!({"name": "CI/CD Pipeline", "scopes": ["publish"], "new_principal": {"name": "ci", "kind": "team"}})).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    let secret = created["key"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("sk_") && secret.len() >= 3 + 64);
    assert_eq!(created["scopes"], json!(["publish"]));

    let listing = app
        .get_with_key("/auth/keys", &app.admin_key)
        .await
        .text()
        .await
        .unwrap();
    assert!(listing.contains("CI/CD Pipeline"));
    assert!(!listing.contains(&secret[3..]), "secrets are never listed");
    let own: Value = app
        .get_with_key("/auth/keys", &secret)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        own["keys"].as_array().unwrap().len(),
        1,
        "a principal sees only its own keys"
    );

    app.publish_ok(&secret, "ci-plugin", "1.0.0").await;
    let id = created["id"].as_str().unwrap();
    let revoke = app
        .client
        .delete(app.url(&format!("/auth/keys/{id}")))
        .bearer_auth(&app.admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), StatusCode::OK);
    assert!(revoke.json::<Value>().await.unwrap()["revoked_at"].is_string());
    expect_problem(
        app.publish_yaml(&secret, &plugin_yaml("ci-plugin", "1.1.0"))
            .await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    let missing = app
        .client
        .delete(app.url("/auth/keys/key_nope"))
        .bearer_auth(&app.admin_key)
        .send()
        .await
        .unwrap();
    expect_problem(missing, StatusCode::NOT_FOUND, "key_not_found").await;
}

#[tokio::test]
async fn a_rotated_key_keeps_ownership_because_the_principal_owns_the_plugin() {
    let app = TestApp::spawn().await;
    let old = app.new_principal_key("team", &["publish"]).await;
    app.publish_ok(&old, "rotated", "1.0.0").await;
    let response = create_key(
        &app,
        &old,
        json!({"name": "new CI key", "scopes": ["publish"]}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    let new = created["key"].as_str().unwrap().to_owned();
    let keys: Value = app
        .get_with_key("/auth/keys", &old)
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "both keys belong to the one principal");
    let old_id = ids
        .iter()
        .find(|id| **id != created["id"].as_str().unwrap())
        .unwrap()
        .to_string();
    let revoke = app
        .client
        .delete(app.url(&format!("/auth/keys/{old_id}")))
        .bearer_auth(&new)
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), StatusCode::OK);
    assert_eq!(
        app.update(&new, "rotated", &plugin_yaml("rotated", "1.1.0"))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.update(&old, "rotated", &plugin_yaml("rotated", "1.2.0"))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn non_admin_keys_cannot_escalate_or_reach_other_principals() {
    let app = TestApp::spawn().await;
    let publisher = app.new_principal_key("pub", &["publish"]).await;
    let other = app.new_principal_key("other", &["publish"]).await;
    expect_problem(
        create_key(&app, &publisher, json!({"name": "x", "scopes": ["admin"]})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    expect_problem(
        create_key(
            &app,
            &publisher,
            json!({"name": "x", "new_principal": {"name": "evil", "kind": "user"}}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let theirs: Value = app
        .get_with_key("/auth/keys", &other)
        .await
        .json()
        .await
        .unwrap();
    let their_id = theirs["keys"][0]["id"].as_str().unwrap();
    let their_principal = theirs["keys"][0]["principal"].as_str().unwrap();
    let attempt = app
        .client
        .delete(app.url(&format!("/auth/keys/{their_id}")))
        .bearer_auth(&publisher)
        .send()
        .await
        .unwrap();
    expect_problem(attempt, StatusCode::NOT_FOUND, "key_not_found").await;
    expect_problem(
        app.get_with_key(
            &format!("/auth/keys?principal={their_principal}"),
            &publisher,
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    expect_problem(
        create_key(&app, &publisher, json!({"name": "", "scopes": []})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    expect_problem(
        app.get("/auth/keys").await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
}

#[tokio::test]
async fn the_first_admin_key_is_written_owner_only() {
    let app = TestApp::spawn().await;
    let path = app.data.path().join("admin.key");
    let written = std::fs::read_to_string(&path).unwrap();
    assert_eq!(written.trim(), app.admin_key);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    assert!(
        app.registry.bootstrap_admin_key().await.unwrap().is_none(),
        "only on first start"
    );
}

#[tokio::test]
async fn keys_made_by_people_expire_and_an_expired_key_says_so() {
    let app = TestApp::spawn().await;
    // An operator's key (made with the admin key, no expiry asked) never expires.
    let team = create_key(&app, &app.admin_key, json!({"name": "router", "scopes": ["publish", "read"], "new_principal": {"name": "team", "kind": "team"}})).await;
    assert_eq!(team.status(), StatusCode::CREATED);
    let team: Value = team.json().await.unwrap();
    assert_eq!(team["expires_at"], Value::Null);
    let team_key = team["key"].as_str().unwrap();

    // A key made by anyone else gets 90 days unless it asks for fewer.
    let now = app.clock.now();
    let default = create_key(&app, team_key, json!({"name": "laptop"})).await;
    assert_eq!(default.status(), StatusCode::CREATED);
    let default: Value = default.json().await.unwrap();
    assert_eq!(
        default["expires_at"],
        json!(now.plus(time::Duration::days(90)).to_string())
    );
    for (days, why) in [(366, "longer than a year"), (0, "no time at all")] {
        let refused = create_key(
            &app,
            team_key,
            json!({"name": "too long", "expires_in_days": days}),
        )
        .await;
        let problem = expect_problem(
            refused,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(problem["errors"][0]["field"], "expires_in_days", "{why}");
    }
    // Even an admin's expiry must be a date: past a century, "never" is the answer.
    let refused = create_key(
        &app,
        &app.admin_key,
        json!({"name": "forever and a day", "expires_in_days": u32::MAX}),
    )
    .await;
    expect_problem(
        refused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;

    let short = create_key(
        &app,
        team_key,
        json!({"name": "one day", "expires_in_days": 1}),
    )
    .await;
    assert_eq!(short.status(), StatusCode::CREATED);
    let short: Value = short.json().await.unwrap();
    let short_key = short["key"].as_str().unwrap();
    app.publish_ok(short_key, "short-lived", "1.0.0").await;

    app.clock.advance(time::Duration::days(1));
    let problem = expect_problem(
        app.publish_yaml(short_key, &plugin_yaml("short-lived", "1.1.0"))
            .await,
        StatusCode::UNAUTHORIZED,
        "key_expired",
    )
    .await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains(short["expires_at"].as_str().unwrap()),
        "{problem}"
    );
    // Its owner still sees it listed, with its expiry; the other keys still work.
    let listed: Value = app
        .get_with_key("/auth/keys", team_key)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        listed["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["id"] == short["id"] && k["expires_at"] == short["expires_at"]),
        "{listed}"
    );
    let laptop = default["key"].as_str().unwrap();
    app.publish_ok(laptop, "short-lived", "1.1.0").await;
    app.publish_ok(team_key, "short-lived", "1.2.0").await;
}

#[tokio::test]
async fn a_keys_last_use_is_recorded_at_most_hourly() {
    let app = TestApp::spawn().await;
    let key = app.new_principal_key("ci", &["publish", "read"]).await;
    let last_used = || async {
        let listed: Value = app
            .get_with_key("/auth/keys", &app.admin_key)
            .await
            .json()
            .await
            .unwrap();
        listed["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["name"] == "ci")
            .unwrap()["last_used_at"]
            .clone()
    };
    assert_eq!(last_used().await, Value::Null, "made, never used");

    let first = app.clock.now();
    app.publish_ok(&key, "used-key", "1.0.0").await;
    assert_eq!(last_used().await, json!(first.to_string()));

    app.clock.advance(time::Duration::minutes(59));
    app.publish_ok(&key, "used-key", "1.1.0").await;
    assert_eq!(
        last_used().await,
        json!(first.to_string()),
        "a use within the hour writes nothing"
    );

    app.clock.advance(time::Duration::minutes(2));
    let later = app.clock.now();
    app.publish_ok(&key, "used-key", "1.2.0").await;
    assert_eq!(last_used().await, json!(later.to_string()));
}

#[tokio::test]
async fn a_key_limited_to_some_plugins_acts_on_them_alone() {
    let app = TestApp::spawn().await;
    let owner = app.new_principal_key("project-team", &["publish"]).await;
    app.publish_ok(&owner, "weather", "1.0.0").await;
    app.publish_ok(&owner, "github-tools", "1.0.0").await;

    let response = create_key(
        &app,
        &owner,
        json!({"name": "weather CI", "plugins": ["weather", "weather-extras"]}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["plugins"], json!(["weather", "weather-extras"]));
    let limited = created["key"].as_str().unwrap().to_owned();

    // Its own plugins: an update, and the first publish of a listed slug.
    assert_eq!(
        app.update(&limited, "weather", &plugin_yaml("weather", "1.1.0"))
            .await
            .status(),
        StatusCode::OK
    );
    app.publish_ok(&limited, "weather-extras", "0.1.0").await;
    let deprecated = app
        .deprecate(&limited, "weather", "1.0.0", json!({"reason": "use 1.1.0"}))
        .await;
    assert_eq!(deprecated.status(), StatusCode::OK);

    // Any other plugin, even one of the same principal, or one that does not
    // exist (without saying whether it does).
    for response in [
        app.update(
            &limited,
            "github-tools",
            &plugin_yaml("github-tools", "1.1.0"),
        )
        .await,
        app.publish_yaml(&limited, &plugin_yaml("brand-new", "1.0.0"))
            .await,
        app.deprecate(&limited, "github-tools", "1.0.0", json!({"reason": "x"}))
            .await,
        app.unpublish(&limited, "github-tools", "1.0.0").await,
        app.unpublish(&limited, "no-such-plugin", "1.0.0").await,
    ] {
        let problem = expect_problem(response, StatusCode::FORBIDDEN, "key_not_for_plugin").await;
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("weather, weather-extras"),
            "{problem}"
        );
    }

    let listed: Value = app
        .get_with_key("/auth/keys", &owner)
        .await
        .json()
        .await
        .unwrap();
    let keys = listed["keys"].as_array().unwrap();
    assert!(
        keys.iter()
            .any(|k| k["plugins"] == json!(["weather", "weather-extras"]))
    );
    assert!(
        keys.iter()
            .any(|k| k["name"] == "project-team" && k["plugins"].is_null()),
        "a key without a limit lists none"
    );

    for plugins in [json!([]), json!(["Not A Slug"])] {
        expect_problem(
            create_key(&app, &owner, json!({"name": "bad", "plugins": plugins})).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }
}
