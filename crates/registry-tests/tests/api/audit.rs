//! The audit log over HTTP, on the backend under test: each change of state is
//! recorded with who made it, the key's id and the request's id; owners read
//! their plugin's log, admins read everything, others nothing.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, expect_problem, plugin_yaml};
use crate::oidc_issuer::TestIssuer;
use crate::owners::{accept, call, invite, ok_json, person};
use crate::sign_in::{Browser, app_with};

fn request_id(response: &reqwest::Response) -> String {
    response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned()
}

/// Asserts `response` succeeded; returns its request id.
async fn done(response: reqwest::Response) -> String {
    let id = request_id(&response);
    let status = response.status();
    let body = response.text().await.unwrap();
    assert!(status.is_success(), "{status}: {body}");
    id
}

fn actions(log: &Value) -> Vec<&str> {
    log["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect()
}

async fn read_log(app: &TestApp, path: &str, key: &str) -> Value {
    ok_json(app.get_with_key(path, key).await, StatusCode::OK).await
}

#[tokio::test]
async fn every_change_to_a_plugin_is_recorded_with_who_which_key_and_which_request() {
    let app = TestApp::spawn().await;
    let (ada, bob, carol) = (
        person(&app, "ada").await,
        person(&app, "bob").await,
        person(&app, "carol").await,
    );
    let published = done(
        app.publish_yaml(&ada.key, &plugin_yaml("audited", "1.0.0"))
            .await,
    )
    .await;
    done(
        app.update(&ada.key, "audited", &plugin_yaml("audited", "1.1.0"))
            .await,
    )
    .await;
    let deprecated = done(
        app.deprecate(
            &ada.key,
            "audited",
            "1.0.0",
            json!({"reason": "use 1.1.0 <script>"}),
        )
        .await,
    )
    .await;
    done(app.unpublish(&ada.key, "audited", "1.1.0").await).await;
    done(invite(&app, &ada, "audited", &bob.id, false).await).await;
    let accepted = done(accept(&app, &bob, "audited", &bob.id).await).await;
    done(invite(&app, &ada, "audited", &carol.id, false).await).await;
    done(
        call(
            &app,
            Method::DELETE,
            &format!("/plugins/audited/invitations/{}", carol.id),
            &carol.key,
            Value::Null,
        )
        .await,
    )
    .await;
    done(
        call(
            &app,
            Method::DELETE,
            &format!("/plugins/audited/owners/{}", bob.id),
            &ada.key,
            Value::Null,
        )
        .await,
    )
    .await;

    let log = read_log(&app, "/plugins/audited/audit", &ada.key).await;
    assert_eq!(
        actions(&log),
        vec![
            "owner_removed",
            "invitation_declined",
            "owner_invited",
            "owner_added",
            "owner_invited",
            "version_unpublished",
            "version_deprecated",
            "plugin_updated",
            "version_published",
        ],
        "newest first: {log:#}"
    );
    assert_eq!(log["next_before"], Value::Null, "one page holds them all");
    let records = log["records"].as_array().unwrap();
    let first = &records[8];
    assert_eq!(first["subject"], "plugin:audited");
    assert_eq!(first["actor"], ada.id.as_str());
    assert_eq!(first["actor_name"], "ada");
    assert_eq!(first["credential"], ada.key_id.as_str(), "the key, by id");
    assert_eq!(first["request_id"], published.as_str());
    assert_eq!(first["detail"]["version"], "1.0.0");
    assert_eq!(records[6]["request_id"], deprecated.as_str());
    assert_eq!(
        records[6]["detail"]["note"], "use 1.1.0 <script>",
        "kept as given: pages escape it"
    );
    let added = &records[3];
    assert_eq!(added["actor"], bob.id.as_str(), "the invitee accepted");
    assert_eq!(added["detail"]["principal"], bob.id.as_str());
    assert_eq!(added["request_id"], accepted.as_str());
    assert_eq!(records[1]["actor"], carol.id.as_str());
    assert_eq!(records[0]["detail"]["principal"], bob.id.as_str());

    // Page by page, the same records.
    let mut paged = Vec::new();
    let mut path = "/plugins/audited/audit?limit=4".to_owned();
    loop {
        let page = read_log(&app, &path, &ada.key).await;
        paged.extend(page["records"].as_array().unwrap().iter().cloned());
        match page["next_before"].as_str() {
            Some(before) => path = format!("/plugins/audited/audit?limit=4&before={before}"),
            None => break,
        }
    }
    assert_eq!(&paged, records);

    // Admins read it too; others may not, nor may anyone without a key.
    read_log(&app, "/plugins/audited/audit", &app.admin_key).await;
    expect_problem(
        app.get_with_key("/plugins/audited/audit", &carol.key).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    expect_problem(
        app.get("/plugins/audited/audit").await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    expect_problem(
        app.get_with_key("/plugins/no-such-plugin/audit", &ada.key)
            .await,
        StatusCode::NOT_FOUND,
        "plugin_not_found",
    )
    .await;
    for bad in [
        "limit=0",
        "limit=101",
        "limit=many",
        "before=aud_1' OR '1'='1",
    ] {
        expect_problem(
            app.get_with_key(&format!("/plugins/audited/audit?{bad}"), &ada.key)
                .await,
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
        )
        .await;
    }
}

#[tokio::test]
async fn keys_and_teams_are_recorded_under_their_principal_and_admins_read_the_whole_log() {
    let app = TestApp::spawn().await;
    let (ada, bob) = (person(&app, "ada").await, person(&app, "bob").await);
    let created = ok_json(
        call(
            &app,
            Method::POST,
            "/auth/keys",
            &ada.key,
            json!({"name": "ci", "scopes": ["publish"]}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let new_key = created["id"].as_str().unwrap();
    done(
        call(
            &app,
            Method::DELETE,
            &format!("/auth/keys/{new_key}"),
            &ada.key,
            Value::Null,
        )
        .await,
    )
    .await;
    let team = ok_json(
        call(
            &app,
            Method::POST,
            "/teams",
            &ada.key,
            json!({"name": "tooling"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let team_id = team["id"].as_str().unwrap();
    let members = format!("/teams/{team_id}/members/{}", bob.id);
    done(
        call(
            &app,
            Method::PUT,
            &members,
            &ada.key,
            json!({"role": "member"}),
        )
        .await,
    )
    .await;
    done(call(&app, Method::DELETE, &members, &ada.key, Value::Null).await).await;

    let log = read_log(&app, "/audit", &app.admin_key).await;
    let of = |subject: &str| -> Vec<(String, Value)> {
        log["records"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["subject"] == subject)
            .map(|r| {
                (
                    r["action"].as_str().unwrap().to_owned(),
                    r["detail"].clone(),
                )
            })
            .collect()
    };
    let ada_records = of(&format!("principal:{}", ada.id));
    assert_eq!(
        ada_records,
        vec![
            ("key_revoked".to_owned(), json!({"key": new_key})),
            (
                "key_created".to_owned(),
                json!({"key": new_key, "note": "scopes: publish"})
            ),
            // The admin made ada's first key.
            (
                "key_created".to_owned(),
                json!({"key": ada.key_id, "note": "scopes: publish"})
            ),
        ],
        "{log:#}"
    );
    let team_records: Vec<String> = of(&format!("principal:{team_id}"))
        .into_iter()
        .map(|(action, _)| action)
        .collect();
    assert_eq!(
        team_records,
        vec!["team_member_removed", "team_member_set", "team_created"]
    );
    expect_problem(
        app.get_with_key("/audit", &ada.key).await,
        StatusCode::FORBIDDEN,
        "missing_scope",
    )
    .await;
}

#[tokio::test]
async fn owners_read_the_log_on_a_page_behind_sign_in_with_everything_escaped() {
    let issuer = TestIssuer::start().await;
    let app = app_with(&issuer).await;
    let mut ada = Browser::new(&app);
    ada.sign_in_as(&issuer, "subject-ada", "ada").await;
    let key = ada.create_key("laptop", "30").await;
    app.publish_ok(&key, "paged-log", "1.0.0").await;
    done(
        app.deprecate(
            &key,
            "paged-log",
            "1.0.0",
            json!({"reason": "<script>alert(1)</script>"}),
        )
        .await,
    )
    .await;

    let account = ada.account_page().await;
    assert!(
        account.contains("/account/plugins/paged-log/audit"),
        "the account page links each plugin's log"
    );
    let response = ada.get("/account/plugins/paged-log/audit", true).await;
    assert_eq!(response.status(), StatusCode::OK);
    let page = response.text().await.unwrap();
    for shown in ["version_deprecated", "version_published", "ada"] {
        assert!(page.contains(shown), "the page shows {shown}");
    }
    assert!(
        page.contains("&#60;script&#62;alert(1)&#60;/script&#62;")
            && !page.contains("<script>alert"),
        "a note is text, never markup"
    );

    let mut eve = Browser::new(&app);
    eve.sign_in_as(&issuer, "subject-eve", "eve").await;
    let refused = eve.get("/account/plugins/paged-log/audit", true).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let page = refused.text().await.unwrap();
    assert!(!page.contains("version_published"), "nothing of the log");

    let mut stranger = Browser::new(&app);
    let sent = stranger.get("/account/plugins/paged-log/audit", true).await;
    assert_eq!(sent.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        sent.headers()["location"],
        "/auth/login?return_to=%2Faccount%2Fplugins%2Fpaged-log%2Faudit",
        "to sign in, then back"
    );
}
