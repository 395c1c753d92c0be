//! Plugin owners, invitations, transfers and teams over HTTP, on the backend
//! under test; and deleting an account, which leaves its plugins with their
//! other owners or orphaned.

use registry_testkit::oidc::csrf_token;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, expect_problem, plugin_yaml};
use crate::oidc_issuer::TestIssuer;
use crate::sign_in::{Browser, app_with};

/// A person made by the admin key: their key (publish scope), its id, and
/// their principal id.
pub(crate) struct Person {
    pub(crate) key: String,
    pub(crate) key_id: String,
    pub(crate) id: String,
}

pub(crate) async fn person(app: &TestApp, name: &str) -> Person {
    let response = app
        .send_body(
            Method::POST,
            "/auth/keys",
            Some(&app.admin_key),
            "application/json",
            json!({"name": name, "scopes": ["publish"], "new_principal": {"name": name, "kind": "user"}})
                .to_string(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    Person {
        key: body["key"].as_str().unwrap().to_owned(),
        key_id: body["id"].as_str().unwrap().to_owned(),
        id: body["principal"].as_str().unwrap().to_owned(),
    }
}

/// The principal behind `key`.
pub(crate) async fn principal_of(app: &TestApp, key: &str) -> String {
    let keys = ok_json(app.get_with_key("/auth/keys", key).await, StatusCode::OK).await;
    keys["keys"][0]["principal"].as_str().unwrap().to_owned()
}

pub(crate) async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    key: &str,
    body: Value,
) -> reqwest::Response {
    app.send_body(
        method,
        path,
        Some(key),
        "application/json",
        body.to_string(),
    )
    .await
}

pub(crate) async fn ok_json(response: reqwest::Response, status: StatusCode) -> Value {
    let got = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(got, status, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn owner_ids(owners: &Value) -> Vec<String> {
    owners["owners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["principal"].as_str().unwrap().to_owned())
        .collect()
}

pub(crate) async fn invite(
    app: &TestApp,
    by: &Person,
    slug: &str,
    who: &str,
    transfer: bool,
) -> reqwest::Response {
    call(
        app,
        Method::POST,
        &format!("/plugins/{slug}/owners"),
        &by.key,
        json!({"principal": who, "transfer": transfer}),
    )
    .await
}

pub(crate) async fn accept(
    app: &TestApp,
    by: &Person,
    slug: &str,
    invitee: &str,
) -> reqwest::Response {
    call(
        app,
        Method::POST,
        &format!("/plugins/{slug}/invitations/{invitee}/accept"),
        &by.key,
        Value::Null,
    )
    .await
}

async fn publishes(app: &TestApp, key: &str, slug: &str, version: &str) -> StatusCode {
    app.publish_yaml(key, &plugin_yaml(slug, version))
        .await
        .status()
}

#[tokio::test]
async fn a_plugin_is_owned_by_its_first_publisher_and_others_join_only_by_accepting() {
    let app = TestApp::spawn().await;
    let (ada, bob, carol) = (
        person(&app, "ada").await,
        person(&app, "bob").await,
        person(&app, "carol").await,
    );
    app.publish_ok(&ada.key, "shared-tool", "1.0.0").await;

    let public = app.get_json("/plugins/shared-tool/owners").await;
    assert_eq!(owner_ids(&public), vec![ada.id.clone()]);
    assert_eq!(public["owners"][0]["kind"], "user");
    assert_eq!(public["orphaned"], false);
    assert!(
        public.get("invitations").is_none(),
        "strangers do not see invitations"
    );
    assert_eq!(
        publishes(&app, &bob.key, "shared-tool", "1.1.0").await,
        StatusCode::FORBIDDEN
    );

    let invitation = ok_json(
        invite(&app, &ada, "shared-tool", &bob.id, false).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(invitation["invitee"], bob.id.as_str());
    assert_eq!(invitation["invited_by"], ada.id.as_str());
    assert_eq!(invitation["expires_at"], "2026-04-01T12:00:00Z", "30 days");
    expect_problem(
        invite(&app, &ada, "shared-tool", &bob.id, false).await,
        StatusCode::CONFLICT,
        "invitation_exists",
    )
    .await;
    expect_problem(
        invite(&app, &ada, "shared-tool", &ada.id, false).await,
        StatusCode::CONFLICT,
        "already_owner",
    )
    .await;
    expect_problem(
        invite(&app, &ada, "shared-tool", "prn_nobody", false).await,
        StatusCode::NOT_FOUND,
        "principal_not_found",
    )
    .await;
    expect_problem(
        invite(&app, &carol, "shared-tool", &carol.id, false).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_eq!(
        publishes(&app, &bob.key, "shared-tool", "1.1.0").await,
        StatusCode::FORBIDDEN,
        "an invitation alone grants nothing"
    );

    let seen_by_owner = ok_json(
        app.get_with_key("/plugins/shared-tool/owners", &ada.key)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(seen_by_owner["invitations"][0]["invitee"], bob.id.as_str());
    let bobs = ok_json(
        app.get_with_key("/invitations", &bob.key).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(bobs["invitations"][0]["slug"], "shared-tool");
    let carols = ok_json(
        app.get_with_key("/invitations", &carol.key).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(carols["invitations"], json!([]));
    expect_problem(
        accept(&app, &carol, "shared-tool", &bob.id).await,
        StatusCode::NOT_FOUND,
        "invitation_not_found",
    )
    .await;

    let owners = ok_json(
        accept(&app, &bob, "shared-tool", &bob.id).await,
        StatusCode::OK,
    )
    .await;
    let mut expected = vec![ada.id.clone(), bob.id.clone()];
    expected.sort();
    assert_eq!(owner_ids(&owners), expected);
    assert_eq!(
        publishes(&app, &bob.key, "shared-tool", "1.1.0").await,
        StatusCode::CREATED
    );
    expect_problem(
        accept(&app, &bob, "shared-tool", &bob.id).await,
        StatusCode::NOT_FOUND,
        "invitation_not_found",
    )
    .await;

    let after = ok_json(
        call(
            &app,
            Method::DELETE,
            &format!("/plugins/shared-tool/owners/{}", ada.id),
            &bob.key,
            Value::Null,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(owner_ids(&after), vec![bob.id.clone()]);
    assert_eq!(
        publishes(&app, &ada.key, "shared-tool", "1.2.0").await,
        StatusCode::FORBIDDEN,
        "a removed owner publishes no more"
    );
    expect_problem(
        call(
            &app,
            Method::DELETE,
            &format!("/plugins/shared-tool/owners/{}", bob.id),
            &bob.key,
            Value::Null,
        )
        .await,
        StatusCode::CONFLICT,
        "last_owner",
    )
    .await;
    expect_problem(
        call(
            &app,
            Method::DELETE,
            &format!("/plugins/shared-tool/owners/{}", carol.id),
            &bob.key,
            Value::Null,
        )
        .await,
        StatusCode::NOT_FOUND,
        "owner_not_found",
    )
    .await;
    expect_problem(
        app.send_body(
            Method::POST,
            "/plugins/shared-tool/owners",
            None,
            "application/json",
            "{}",
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
}

#[tokio::test]
async fn a_transfer_hands_ownership_over_and_a_declined_or_lapsed_invitation_gives_nothing() {
    let app = TestApp::spawn().await;
    let (ada, bob, carol) = (
        person(&app, "ada").await,
        person(&app, "bob").await,
        person(&app, "carol").await,
    );
    app.publish_ok(&ada.key, "handed-over", "1.0.0").await;

    invite(&app, &ada, "handed-over", &bob.id, true).await;
    let declined = call(
        &app,
        Method::DELETE,
        &format!("/plugins/handed-over/invitations/{}", bob.id),
        &bob.key,
        Value::Null,
    )
    .await;
    assert_eq!(declined.status(), StatusCode::NO_CONTENT);
    expect_problem(
        accept(&app, &bob, "handed-over", &bob.id).await,
        StatusCode::NOT_FOUND,
        "invitation_not_found",
    )
    .await;

    let lapsing = ok_json(
        invite(&app, &ada, "handed-over", &carol.id, true).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(lapsing["transfer"], true);
    app.clock.advance(time::Duration::days(31));
    expect_problem(
        accept(&app, &carol, "handed-over", &carol.id).await,
        StatusCode::NOT_FOUND,
        "invitation_not_found",
    )
    .await;
    // A lapsed invitation makes way for a new one.
    ok_json(
        invite(&app, &ada, "handed-over", &carol.id, true).await,
        StatusCode::CREATED,
    )
    .await;
    let owners = ok_json(
        accept(&app, &carol, "handed-over", &carol.id).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        owner_ids(&owners),
        vec![carol.id.clone()],
        "the inviter left on acceptance"
    );
    assert_eq!(
        publishes(&app, &ada.key, "handed-over", "1.1.0").await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        publishes(&app, &carol.key, "handed-over", "1.1.0").await,
        StatusCode::CREATED
    );

    // An owner may withdraw an invitation it made.
    invite(&app, &carol, "handed-over", &bob.id, false).await;
    let withdrawn = call(
        &app,
        Method::DELETE,
        &format!("/plugins/handed-over/invitations/{}", bob.id),
        &carol.key,
        Value::Null,
    )
    .await;
    assert_eq!(withdrawn.status(), StatusCode::NO_CONTENT);
    let bobs = ok_json(
        app.get_with_key("/invitations", &bob.key).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(bobs["invitations"], json!([]));
}

#[tokio::test]
async fn teams_own_plugins_for_their_members_and_always_keep_a_maintainer() {
    let app = TestApp::spawn().await;
    let (ada, bob, carol) = (
        person(&app, "ada").await,
        person(&app, "bob").await,
        person(&app, "carol").await,
    );
    let team = ok_json(
        call(
            &app,
            Method::POST,
            "/teams",
            &ada.key,
            json!({"name": "Weather maintainers"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let team_id = team["id"].as_str().unwrap().to_owned();
    assert_eq!(team["members"][0]["principal"], ada.id.as_str());
    assert_eq!(team["members"][0]["role"], "maintainer");
    for refused in [" ", "red\u{1b}[31m team"] {
        expect_problem(
            call(
                &app,
                Method::POST,
                "/teams",
                &ada.key,
                json!({"name": refused}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }

    let member_path = |who: &str| format!("/teams/{team_id}/members/{who}");
    let with_bob = ok_json(
        call(
            &app,
            Method::PUT,
            &member_path(&bob.id),
            &ada.key,
            json!({"role": "member"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(with_bob["members"].as_array().unwrap().len(), 2);
    expect_problem(
        call(
            &app,
            Method::PUT,
            &member_path(&carol.id),
            &bob.key,
            json!({"role": "member"}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    expect_problem(
        call(
            &app,
            Method::PUT,
            &member_path(&team_id),
            &ada.key,
            json!({"role": "member"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    expect_problem(
        app.get_with_key(&format!("/teams/{team_id}"), &carol.key)
            .await,
        StatusCode::NOT_FOUND,
        "team_not_found",
    )
    .await;

    app.publish_ok(&ada.key, "team-tool", "1.0.0").await;
    invite(&app, &ada, "team-tool", &team_id, false).await;
    expect_problem(
        accept(&app, &bob, "team-tool", &team_id).await,
        StatusCode::NOT_FOUND,
        "invitation_not_found",
    )
    .await;
    let owners = ok_json(
        accept(&app, &ada, "team-tool", &team_id).await,
        StatusCode::OK,
    )
    .await;
    assert!(
        owner_ids(&owners).contains(&team_id),
        "a maintainer accepts for the team"
    );
    let owners = ok_json(
        call(
            &app,
            Method::DELETE,
            &format!("/plugins/team-tool/owners/{}", ada.id),
            &ada.key,
            Value::Null,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(owner_ids(&owners), vec![team_id.clone()]);
    assert_eq!(owners["owners"][0]["kind"], "team");
    assert_eq!(
        publishes(&app, &bob.key, "team-tool", "1.1.0").await,
        StatusCode::CREATED,
        "a member publishes the team's plugin"
    );
    assert_eq!(
        publishes(&app, &ada.key, "team-tool", "1.2.0").await,
        StatusCode::CREATED,
        "so does a maintainer, owner in person no more"
    );
    assert_eq!(
        publishes(&app, &carol.key, "team-tool", "1.3.0").await,
        StatusCode::FORBIDDEN
    );

    expect_problem(
        call(
            &app,
            Method::PUT,
            &member_path(&ada.id),
            &ada.key,
            json!({"role": "member"}),
        )
        .await,
        StatusCode::CONFLICT,
        "last_maintainer",
    )
    .await;
    expect_problem(
        call(
            &app,
            Method::DELETE,
            &member_path(&ada.id),
            &ada.key,
            Value::Null,
        )
        .await,
        StatusCode::CONFLICT,
        "last_maintainer",
    )
    .await;
    let bobs_teams = ok_json(app.get_with_key("/teams", &bob.key).await, StatusCode::OK).await;
    assert_eq!(bobs_teams["teams"][0]["id"], team_id.as_str());
    assert_eq!(bobs_teams["teams"][0]["role"], "member");
    let left = call(
        &app,
        Method::DELETE,
        &member_path(&bob.id),
        &bob.key,
        Value::Null,
    )
    .await;
    assert_eq!(left.status(), StatusCode::OK, "a member may leave");
    let bobs_teams = ok_json(app.get_with_key("/teams", &bob.key).await, StatusCode::OK).await;
    assert_eq!(bobs_teams["teams"], json!([]));
    assert_eq!(
        publishes(&app, &bob.key, "team-tool", "1.4.0").await,
        StatusCode::FORBIDDEN,
        "who left the team publishes its plugins no more"
    );
}

#[tokio::test]
async fn owners_racing_to_remove_each_other_leave_one_owner() {
    let app = TestApp::spawn().await;
    let (ada, bob) = (person(&app, "ada").await, person(&app, "bob").await);
    app.publish_ok(&ada.key, "contested", "1.0.0").await;
    invite(&app, &ada, "contested", &bob.id, false).await;
    ok_json(
        accept(&app, &bob, "contested", &bob.id).await,
        StatusCode::OK,
    )
    .await;

    let (remove_bob, remove_ada) = (
        format!("/plugins/contested/owners/{}", bob.id),
        format!("/plugins/contested/owners/{}", ada.id),
    );
    let (first, second) = tokio::join!(
        call(&app, Method::DELETE, &remove_bob, &ada.key, Value::Null),
        call(&app, Method::DELETE, &remove_ada, &bob.key, Value::Null),
    );
    let statuses = [first.status(), second.status()];
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "exactly one removal lands: {statuses:?}"
    );
    let owners = app.get_json("/plugins/contested/owners").await;
    assert_eq!(owner_ids(&owners).len(), 1, "the plugin keeps an owner");
}

#[tokio::test]
async fn a_key_limited_to_other_plugins_manages_no_owners_and_an_admin_may() {
    let app = TestApp::spawn().await;
    let (ada, bob) = (person(&app, "ada").await, person(&app, "bob").await);
    app.publish_ok(&ada.key, "limited", "1.0.0").await;
    let limited = ok_json(
        call(
            &app,
            Method::POST,
            "/auth/keys",
            &ada.key,
            json!({"name": "one plugin", "plugins": ["other"]}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let limited = Person {
        key: limited["key"].as_str().unwrap().to_owned(),
        key_id: limited["id"].as_str().unwrap().to_owned(),
        id: ada.id.clone(),
    };
    expect_problem(
        invite(&app, &limited, "limited", &bob.id, false).await,
        StatusCode::FORBIDDEN,
        "key_not_for_plugin",
    )
    .await;
    let admin = Person {
        key: app.admin_key.clone(),
        key_id: String::new(),
        id: String::new(),
    };
    ok_json(
        invite(&app, &admin, "limited", &bob.id, false).await,
        StatusCode::CREATED,
    )
    .await;
    let seen = ok_json(
        app.get_with_key("/plugins/limited/owners", &app.admin_key)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(seen["invitations"][0]["invitee"], bob.id.as_str());
    assert_eq!(
        publishes(&app, &app.admin_key, "limited", "1.1.0").await,
        StatusCode::FORBIDDEN,
        "an admin manages owners but never publishes into another's plugin"
    );
}

#[tokio::test]
async fn a_deleted_account_leaves_its_plugins_to_the_other_owners_or_orphaned() {
    let issuer = TestIssuer::start().await;
    let app = app_with(&issuer).await;
    let mut browser = Browser::new(&app);
    browser.sign_in_as(&issuer, "subject-ada", "ada").await;
    let ada_key = browser.create_key("laptop", "30").await;
    let ada = Person {
        id: principal_of(&app, &ada_key).await,
        key: ada_key,
        key_id: String::new(),
    };
    let bob = person(&app, "bob").await;
    app.publish_ok(&ada.key, "kept-on", "1.0.0").await;
    app.publish_ok(&ada.key, "left-alone", "1.0.0").await;
    invite(&app, &ada, "kept-on", &bob.id, false).await;
    ok_json(accept(&app, &bob, "kept-on", &bob.id).await, StatusCode::OK).await;
    let team = ok_json(
        call(
            &app,
            Method::POST,
            "/teams",
            &ada.key,
            json!({"name": "crew"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let team_id = team["id"].as_str().unwrap().to_owned();
    call(
        &app,
        Method::PUT,
        &format!("/teams/{team_id}/members/{}", bob.id),
        &ada.key,
        json!({"role": "member"}),
    )
    .await;

    let page = browser.account_page().await;
    for shown in ["kept-on", "left-alone", "crew", ada.id.as_str()] {
        assert!(page.contains(shown), "the account page shows {shown}");
    }
    let csrf = csrf_token(&page);
    let unconfirmed = browser
        .post_form("/account/delete", &[("csrf", &csrf), ("confirm", "yes")])
        .await;
    assert_eq!(unconfirmed.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        publishes(&app, &ada.key, "left-alone", "1.1.0").await,
        StatusCode::CREATED,
        "an unconfirmed deletion deletes nothing"
    );
    let deleted = browser
        .post_form(
            "/account/delete",
            &[("csrf", &csrf), ("confirm", "delete my account")],
        )
        .await;
    assert_eq!(deleted.status(), StatusCode::SEE_OTHER);
    assert!(!browser.has_session(), "the browser is signed out");

    expect_problem(
        app.get_with_key("/auth/keys", &ada.key).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    let kept = app.get_json("/plugins/kept-on/owners").await;
    assert_eq!(owner_ids(&kept), vec![bob.id.clone()]);
    let orphan = app.get_json("/plugins/left-alone/owners").await;
    assert_eq!(orphan["orphaned"], true);
    assert_eq!(orphan["owners"], json!([]));
    assert_eq!(
        app.get_json("/plugins/left-alone").await["version"],
        "1.1.0",
        "an orphaned plugin is still there to install"
    );
    let crew = ok_json(
        app.get_with_key(&format!("/teams/{team_id}"), &bob.key)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(crew["members"][0]["principal"], bob.id.as_str());
    assert_eq!(
        crew["members"][0]["role"], "maintainer",
        "the remaining member inherits the team"
    );

    // The audit log says who left, by their own session.
    let kept_log = ok_json(
        app.get_with_key("/plugins/kept-on/audit", &bob.key).await,
        StatusCode::OK,
    )
    .await;
    let left = &kept_log["records"][0];
    assert_eq!(left["action"], "owner_removed", "{kept_log:#}");
    assert_eq!(left["actor"], ada.id.as_str());
    assert_eq!(left["detail"]["note"], "their account was deleted");
    assert!(
        left["credential"].as_str().unwrap().starts_with("ses_"),
        "{left}"
    );
    let whole = ok_json(
        app.get_with_key("/audit", &app.admin_key).await,
        StatusCode::OK,
    )
    .await;
    let deletion = whole["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["action"] == "account_deleted")
        .unwrap_or_else(|| panic!("no account_deleted record: {whole:#}"));
    assert_eq!(deletion["subject"], format!("principal:{}", ada.id));
    assert_eq!(
        deletion["detail"]["note"],
        "1 key(s) revoked, 1 plugin(s) orphaned"
    );

    // An admin brings an orphan back by invitation.
    let admin = Person {
        key: app.admin_key.clone(),
        key_id: String::new(),
        id: String::new(),
    };
    ok_json(
        invite(&app, &admin, "left-alone", &bob.id, false).await,
        StatusCode::CREATED,
    )
    .await;
    let adopted = ok_json(
        accept(&app, &bob, "left-alone", &bob.id).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(owner_ids(&adopted), vec![bob.id.clone()]);
    assert_eq!(adopted["orphaned"], false);

    // Signing in again with the same identity makes a new account that owns nothing.
    browser.sign_in_as(&issuer, "subject-ada", "ada").await;
    let page = browser.account_page().await;
    assert!(!page.contains(ada.id.as_str()), "a new principal");
    assert!(!page.contains("kept-on"), "owning nothing of the old one's");
}
