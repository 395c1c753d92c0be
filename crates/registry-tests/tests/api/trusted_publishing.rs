//! Trusted publishing over HTTP, on the backend under test: an owner registers a
//! CI workflow; a job's OIDC token (signed by a key the test generates and serves
//! as a JWKS from a loopback issuer) is exchanged for a publish token that
//! publishes that plugin alone. Each kind of bad token is refused with its own
//! problem code; a pending publisher creates its plugin.

use registry_core::timestamp::Clock as _;
use registry_core::trusted_publishing::PUBLISH_TOKEN_LIFETIME;
use registry_testkit::ci_issuer::{CiIssuer, GithubJob};
use registry_testkit::smtp::SmtpServer;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, expect_problem, plugin_yaml};
use crate::oidc_issuer::{TestIssuer, TokenPlan};
use crate::owners::{Person, call, ok_json, person, principal_of};
use crate::sign_in::{Browser, oidc_settings};

/// A registry that trusts `issuer` as GitHub Actions'.
async fn app_trusting(issuer: &CiIssuer) -> TestApp {
    let issuer = issuer.issuer().to_owned();
    TestApp::spawn_configured(move |config| {
        config.ci_issuers = vec![(openworkflow_registry::CiService::GithubActions, issuer)];
    })
    .await
}

pub(crate) fn now(app: &TestApp) -> i64 {
    app.clock.now().unix_seconds()
}

fn github_publisher(job: &GithubJob) -> Value {
    json!({
        "provider": "github_actions",
        "repository": job.repository,
        "repository_id": job.repository_id,
        "repository_owner_id": job.repository_owner_id,
        "workflow": job.workflow,
    })
}

pub(crate) async fn register(app: &TestApp, owner: &Person, slug: &str, job: &GithubJob) -> Value {
    ok_json(
        call(
            app,
            Method::POST,
            &format!("/plugins/{slug}/trusted-publishers"),
            &owner.key,
            github_publisher(job),
        )
        .await,
        StatusCode::CREATED,
    )
    .await
}

async fn exchange(app: &TestApp, token: &str) -> reqwest::Response {
    app.send_body(
        Method::POST,
        "/auth/oidc/exchange",
        None,
        "application/json",
        json!({ "token": token }).to_string(),
    )
    .await
}

pub(crate) async fn publish_token(app: &TestApp, token: &str) -> Value {
    ok_json(exchange(app, token).await, StatusCode::OK).await
}

#[tokio::test]
async fn a_registered_workflow_publishes_with_no_stored_secret() {
    let issuer = CiIssuer::start().await;
    let app = app_trusting(&issuer).await;
    let config = app.get_json("/index/config.json").await;
    assert_eq!(config["trusted_publishing"]["audience"], app.base.as_str());
    assert_eq!(
        config["trusted_publishing"]["exchange_url"],
        app.url("/auth/oidc/exchange")
    );
    let ada = person(&app, "ada").await;
    app.publish_ok(&ada.key, "tp-happy", "1.0.0").await;
    app.publish_ok(&ada.key, "tp-other", "1.0.0").await;
    let job = GithubJob::release();
    let registered = register(&app, &ada, "tp-happy", &job).await;
    assert_eq!(registered["pending"], false);
    assert_eq!(registered["ci"]["repository_id"], "4242");

    let ci_token = issuer.github_token(&job, &app.base, now(&app));
    let issued = publish_token(&app, &ci_token).await;
    let token = issued["token"].as_str().unwrap();
    assert!(token.starts_with("owpt_"), "{issued}");
    assert_eq!(issued["plugins"], json!(["tp-happy"]));
    let expires =
        registry_core::timestamp::Timestamp::parse(issued["expires_at"].as_str().unwrap()).unwrap();
    assert!(expires <= app.clock.now().plus(PUBLISH_TOKEN_LIFETIME));

    let published = app
        .publish_yaml(token, &plugin_yaml("tp-happy", "1.1.0"))
        .await;
    assert_eq!(published.status(), StatusCode::CREATED);

    // It publishes its plugins and does nothing else.
    expect_problem(
        app.publish_yaml(token, &plugin_yaml("tp-other", "1.1.0"))
            .await,
        StatusCode::FORBIDDEN,
        "key_not_for_plugin",
    )
    .await;
    expect_problem(
        app.deprecate(token, "tp-happy", "1.0.0", json!({"message": "old"}))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    expect_problem(
        app.get_with_key("/auth/keys", token).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    let log = ok_json(
        app.get_with_key("/plugins/tp-happy/audit", &ada.key).await,
        StatusCode::OK,
    )
    .await;
    let records = log["records"].as_array().unwrap();
    let action = |i: usize| records[i]["action"].as_str().unwrap();
    assert_eq!(
        (action(0), action(1), action(2)),
        (
            "version_published",
            "publish_token_issued",
            "trusted_publisher_added"
        ),
        "{log}"
    );
    assert_eq!(records[0]["credential"], issued["id"]);
    assert_eq!(records[0]["detail"]["version"], "1.1.0");
    assert!(
        records[1]["detail"]["note"]
            .as_str()
            .unwrap()
            .contains("octo-org/octo-plugins"),
        "{log}"
    );
}

#[tokio::test]
async fn each_bad_ci_token_is_refused_with_its_own_code() {
    let issuer = CiIssuer::start().await;
    let app = app_trusting(&issuer).await;
    let ada = person(&app, "ada").await;
    app.publish_ok(&ada.key, "tp-guarded", "1.0.0").await;
    let job = GithubJob::release();
    register(&app, &ada, "tp-guarded", &job).await;
    let at = now(&app);

    let wrong_audience = issuer.github_token(&job, "https://another-registry.example", at);
    expect_problem(
        exchange(&app, &wrong_audience).await,
        StatusCode::UNAUTHORIZED,
        "oidc_token_audience",
    )
    .await;

    let mut expired = issuer.github_claims(&job, &app.base, at - 600);
    expired["exp"] = json!(at - 120);
    expect_problem(
        exchange(&app, &issuer.sign(&expired)).await,
        StatusCode::UNAUTHORIZED,
        "oidc_token_expired",
    )
    .await;

    let mut early = issuer.github_claims(&job, &app.base, at);
    early["nbf"] = json!(at + 600);
    expect_problem(
        exchange(&app, &issuer.sign(&early)).await,
        StatusCode::UNAUTHORIZED,
        "oidc_token_not_yet_valid",
    )
    .await;

    let good = issuer.github_claims(&job, &app.base, at);
    expect_problem(
        exchange(&app, &issuer.sign_with_foreign_key(&good)).await,
        StatusCode::UNAUTHORIZED,
        "oidc_token_signature",
    )
    .await;

    let mut elsewhere = good.clone();
    elsewhere["iss"] = json!("https://token.actions.example.net");
    expect_problem(
        exchange(&app, &issuer.sign(&elsewhere)).await,
        StatusCode::UNAUTHORIZED,
        "oidc_token_issuer",
    )
    .await;

    expect_problem(
        exchange(&app, "not-a-jwt").await,
        StatusCode::UNAUTHORIZED,
        "oidc_token_malformed",
    )
    .await;

    // The same repository name under another id: deleted and re-created by
    // someone else, it is another repository.
    let impostor = GithubJob {
        repository_id: "9999".into(),
        ..job.clone()
    };
    expect_problem(
        exchange(&app, &issuer.github_token(&impostor, &app.base, at)).await,
        StatusCode::FORBIDDEN,
        "no_trusted_publisher",
    )
    .await;
    let other_workflow = GithubJob {
        workflow: "ci.yml".into(),
        ..job.clone()
    };
    expect_problem(
        exchange(&app, &issuer.github_token(&other_workflow, &app.base, at)).await,
        StatusCode::FORBIDDEN,
        "no_trusted_publisher",
    )
    .await;

    for trigger in ["pull_request_target", "workflow_run"] {
        let risky = GithubJob {
            event_name: trigger.into(),
            ..job.clone()
        };
        let body = expect_problem(
            exchange(&app, &issuer.github_token(&risky, &app.base, at)).await,
            StatusCode::FORBIDDEN,
            "forbidden_trigger",
        )
        .await;
        assert!(body["detail"].as_str().unwrap().contains(trigger), "{body}");
    }

    // A good token is exchanged once.
    let once = issuer.sign(&good);
    publish_token(&app, &once).await;
    expect_problem(
        exchange(&app, &once).await,
        StatusCode::UNAUTHORIZED,
        "oidc_token_replayed",
    )
    .await;
}

#[tokio::test]
async fn a_pending_publisher_creates_its_plugin_owned_by_whoever_registered_it() {
    let issuer = CiIssuer::start().await;
    let app = app_trusting(&issuer).await;
    let (ada, mallory) = (person(&app, "ada").await, person(&app, "mallory").await);
    let job = GithubJob::release();
    let pending = register(&app, &ada, "tp-fresh", &job).await;
    assert_eq!(pending["pending"], true);
    // Someone else's pending publisher for the same slug, from another repository.
    let squatter = GithubJob {
        repository: "mallory/tp-fresh".into(),
        repository_id: "31337".into(),
        repository_owner_id: "666".into(),
        ..job.clone()
    };
    register(&app, &mallory, "tp-fresh", &squatter).await;
    let listed = ok_json(
        app.get_with_key("/plugins/tp-fresh/trusted-publishers", &ada.key)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        listed["publishers"].as_array().unwrap().len(),
        1,
        "a registrant sees only their own pending publishers: {listed}"
    );

    let issued = publish_token(&app, &issuer.github_token(&job, &app.base, now(&app))).await;
    let token = issued["token"].as_str().unwrap();
    assert_eq!(issued["plugins"], json!(["tp-fresh"]));
    let created = app
        .publish_yaml(token, &plugin_yaml("tp-fresh", "1.0.0"))
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);

    let owners = ok_json(
        app.get_with_key("/plugins/tp-fresh/owners", &ada.key).await,
        StatusCode::OK,
    )
    .await;
    let owner_ids: Vec<&str> = owners["owners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["principal"].as_str().unwrap())
        .collect();
    assert_eq!(owner_ids, vec![ada.id.as_str()], "{owners}");
    let publishers = ok_json(
        app.get_with_key("/plugins/tp-fresh/trusted-publishers", &ada.key)
            .await,
        StatusCode::OK,
    )
    .await;
    let publishers = publishers["publishers"].as_array().unwrap();
    assert_eq!(
        publishers.len(),
        1,
        "the other pending publisher is dropped"
    );
    assert_eq!(publishers[0]["pending"], false);
    assert_eq!(publishers[0]["id"], pending["id"]);

    // The squatter's workflow now publishes nothing.
    expect_problem(
        exchange(&app, &issuer.github_token(&squatter, &app.base, now(&app))).await,
        StatusCode::FORBIDDEN,
        "no_trusted_publisher",
    )
    .await;
}

#[tokio::test]
async fn only_owners_register_publishers_and_a_removed_one_stops_publishing_at_once() {
    let issuer = CiIssuer::start().await;
    let app = app_trusting(&issuer).await;
    let (ada, bob) = (person(&app, "ada").await, person(&app, "bob").await);
    app.publish_ok(&ada.key, "tp-owned", "1.0.0").await;
    let job = GithubJob::release();
    expect_problem(
        call(
            &app,
            Method::POST,
            "/plugins/tp-owned/trusted-publishers",
            &bob.key,
            github_publisher(&job),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let mut by_name = github_publisher(&job);
    by_name["repository_id"] = json!("octo-org/octo-plugins");
    let body = expect_problem(
        call(
            &app,
            Method::POST,
            "/plugins/tp-owned/trusted-publishers",
            &ada.key,
            by_name,
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "repository_id", "{body}");
    let registered = register(&app, &ada, "tp-owned", &job).await;
    expect_problem(
        call(
            &app,
            Method::POST,
            "/plugins/tp-owned/trusted-publishers",
            &ada.key,
            github_publisher(&job),
        )
        .await,
        StatusCode::CONFLICT,
        "trusted_publisher_exists",
    )
    .await;

    let issued = publish_token(&app, &issuer.github_token(&job, &app.base, now(&app))).await;
    let token = issued["token"].as_str().unwrap();
    let id = registered["id"].as_str().unwrap();
    let removed = call(
        &app,
        Method::DELETE,
        &format!("/plugins/tp-owned/trusted-publishers/{id}"),
        &ada.key,
        Value::Null,
    )
    .await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    expect_problem(
        app.publish_yaml(token, &plugin_yaml("tp-owned", "1.1.0"))
            .await,
        StatusCode::FORBIDDEN,
        "not_trusted_publisher",
    )
    .await;
    expect_problem(
        call(
            &app,
            Method::DELETE,
            &format!("/plugins/tp-owned/trusted-publishers/{id}"),
            &ada.key,
            Value::Null,
        )
        .await,
        StatusCode::NOT_FOUND,
        "trusted_publisher_not_found",
    )
    .await;

    // A publish token expires with the registry's clock.
    register(&app, &ada, "tp-owned", &job).await;
    let issued = publish_token(&app, &issuer.github_token(&job, &app.base, now(&app))).await;
    app.clock
        .advance(PUBLISH_TOKEN_LIFETIME + time::Duration::seconds(1));
    expect_problem(
        app.publish_yaml(
            issued["token"].as_str().unwrap(),
            &plugin_yaml("tp-owned", "1.1.0"),
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "publish_token_expired",
    )
    .await;
}

#[tokio::test]
async fn a_locked_plugin_refuses_keys_and_only_a_fresh_sign_in_lifts_the_lock() {
    let (ci, people) = (CiIssuer::start().await, TestIssuer::start().await);
    let (github, sign_in) = (ci.issuer().to_owned(), oidc_settings(&people));
    let app = TestApp::spawn_configured(move |config| {
        config.ci_issuers = vec![(openworkflow_registry::CiService::GithubActions, github)];
        config.sign_in.oidc = Some(sign_in);
    })
    .await;
    let mut ada = Browser::new(&app);
    ada.sign_in_as(&people, "subject-ada", "ada").await;
    let key = ada.create_key("laptop", "30").await;
    app.publish_ok(&key, "tp-locked", "1.0.0").await;
    let lock = |key: String| {
        let app = &app;
        async move {
            call(
                app,
                Method::PUT,
                "/plugins/tp-locked/trusted-publishing-lock",
                &key,
                Value::Null,
            )
            .await
        }
    };
    expect_problem(
        lock(key.clone()).await,
        StatusCode::CONFLICT,
        "lock_needs_publisher",
    )
    .await;
    let job = GithubJob::release();
    ok_json(
        call(
            &app,
            Method::POST,
            "/plugins/tp-locked/trusted-publishers",
            &key,
            github_publisher(&job),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let bob = person(&app, "bob").await;
    expect_problem(
        lock(bob.key.clone()).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let locked = ok_json(lock(key.clone()).await, StatusCode::OK).await;
    assert!(locked["locked"]["at"].is_string(), "{locked}");

    expect_problem(
        app.publish_yaml(&key, &plugin_yaml("tp-locked", "1.1.0"))
            .await,
        StatusCode::FORBIDDEN,
        "trusted_publishing_required",
    )
    .await;
    let issued = publish_token(&app, &ci.github_token(&job, &app.base, now(&app))).await;
    let published = app
        .publish_yaml(
            issued["token"].as_str().unwrap(),
            &plugin_yaml("tp-locked", "1.1.0"),
        )
        .await;
    assert_eq!(published.status(), StatusCode::CREATED);

    // A session signed in more than ten minutes ago is sent to sign in again.
    app.clock.advance(time::Duration::minutes(11));
    let page = ada.account_page().await;
    assert!(page.contains("locked to trusted publishing"), "{page}");
    let csrf = registry_testkit::oidc::csrf_token(&page);
    let stale = ada
        .post_form("/account/plugins/tp-locked/unlock", &[("csrf", &csrf)])
        .await;
    assert_eq!(stale.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        stale.headers()["location"],
        "/auth/login?return_to=%2Faccount"
    );
    expect_problem(
        app.publish_yaml(&key, &plugin_yaml("tp-locked", "1.2.0"))
            .await,
        StatusCode::FORBIDDEN,
        "trusted_publishing_required",
    )
    .await;

    ada.sign_in_as(&people, "subject-ada", "ada").await;
    let csrf = registry_testkit::oidc::csrf_token(&ada.account_page().await);
    let lifted = ada
        .post_form("/account/plugins/tp-locked/unlock", &[("csrf", &csrf)])
        .await;
    assert_eq!(lifted.status(), StatusCode::SEE_OTHER);
    assert_eq!(lifted.headers()["location"], "/account");
    app.publish_ok(&key, "tp-locked", "1.2.0").await;

    let log = ok_json(
        app.get_with_key("/plugins/tp-locked/audit", &key).await,
        StatusCode::OK,
    )
    .await;
    let actions: Vec<&str> = log["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    let position = |action: &str| actions.iter().position(|a| *a == action);
    assert!(
        position("publishing_unlocked") < position("publishing_locked")
            && position("publishing_unlocked").is_some(),
        "{actions:?}"
    );
}

/// Registers a GitHub workflow as `slug`'s trusted publisher and locks it.
async fn lock_to_trusted_publishing(app: &TestApp, key: &str, slug: &str) {
    ok_json(
        call(
            app,
            Method::POST,
            &format!("/plugins/{slug}/trusted-publishers"),
            key,
            github_publisher(&GithubJob::release()),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    ok_json(
        call(
            app,
            Method::PUT,
            &format!("/plugins/{slug}/trusted-publishing-lock"),
            key,
            Value::Null,
        )
        .await,
        StatusCode::OK,
    )
    .await;
}

/// What the audit log of `slug` says of its lock's lifting.
async fn unlock_note(app: &TestApp, key: &str, slug: &str) -> String {
    let log = ok_json(
        app.get_with_key(&format!("/plugins/{slug}/audit"), key)
            .await,
        StatusCode::OK,
    )
    .await;
    log["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["action"] == "publishing_unlocked")
        .and_then(|r| r["detail"]["note"].as_str())
        .expect("the lift is in the log")
        .to_owned()
}

#[tokio::test]
async fn lifting_the_lock_emails_every_owner_with_a_verified_address_through_the_relay() {
    let (ci, people, relay) = (
        CiIssuer::start().await,
        TestIssuer::start().await,
        SmtpServer::start(),
    );
    let (github, sign_in, smtp_url) = (
        ci.issuer().to_owned(),
        oidc_settings(&people),
        relay.url.clone(),
    );
    let app = TestApp::spawn_configured(move |config| {
        config.ci_issuers = vec![(openworkflow_registry::CiService::GithubActions, github)];
        config.sign_in.oidc = Some(sign_in);
        config.mail = Some(openworkflow_registry::MailSettings {
            smtp_url,
            from: "OpenWorkflow Registry <registry@example.test>".to_owned(),
        });
    })
    .await;
    // Ada owns the plugin herself; a team owns it too, with Bob (whose provider
    // verified his address) and Carol (whose provider did not).
    let mut ada = Browser::new(&app);
    ada.sign_in_as(&people, "subject-ada", "ada").await;
    let page = ada.account_page().await;
    assert!(
        page.contains("go to <strong>ada@example.test</strong>"),
        "{page}"
    );
    let mut bob = Browser::new(&app);
    bob.sign_in_as(&people, "subject-bob", "bob").await;
    let mut carol = Browser::new(&app);
    carol
        .sign_in_with(
            &people,
            TokenPlan {
                email: Some(("carol@example.test".to_owned(), false)),
                ..TokenPlan::good("subject-carol", "carol")
            },
        )
        .await;
    let page = carol.account_page().await;
    assert!(
        page.contains("gave no verified e-mail address") && !page.contains("carol@example.test"),
        "an unverified address is never kept: {page}"
    );
    let ada_key = ada.create_key("laptop", "30").await;
    let bob_key = bob.create_key("laptop", "30").await;
    let carol_key = carol.create_key("laptop", "30").await;
    let carol_id = principal_of(&app, &carol_key).await;
    app.publish_ok(&ada_key, "tp-notice", "1.0.0").await;

    let team = ok_json(
        call(
            &app,
            Method::POST,
            "/teams",
            &bob_key,
            json!({"name": "Release crew"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let team_id = team["id"].as_str().unwrap().to_owned();
    ok_json(
        call(
            &app,
            Method::PUT,
            &format!("/teams/{team_id}/members/{carol_id}"),
            &bob_key,
            json!({"role": "member"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let invited = call(
        &app,
        Method::POST,
        "/plugins/tp-notice/owners",
        &ada_key,
        json!({"principal": team_id, "transfer": false}),
    )
    .await;
    assert!(invited.status().is_success(), "{:?}", invited.text().await);
    let accepted = call(
        &app,
        Method::POST,
        &format!("/plugins/tp-notice/invitations/{team_id}/accept"),
        &bob_key,
        Value::Null,
    )
    .await;
    assert!(
        accepted.status().is_success(),
        "{:?}",
        accepted.text().await
    );
    lock_to_trusted_publishing(&app, &ada_key, "tp-notice").await;
    assert!(relay.messages().is_empty(), "locking e-mails nobody");

    let csrf = registry_testkit::oidc::csrf_token(&ada.account_page().await);
    let lifted = ada
        .post_form("/account/plugins/tp-notice/unlock", &[("csrf", &csrf)])
        .await;
    assert_eq!(lifted.status(), StatusCode::SEE_OTHER);

    let note = unlock_note(&app, &ada_key, "tp-notice").await;
    let mails = relay.messages();
    let mut to: Vec<&str> = mails.iter().filter_map(|m| m.header("to")).collect();
    to.sort_unstable();
    assert_eq!(
        to,
        ["ada@example.test", "bob@example.test"],
        "one message per owner with a verified address, team members included ({note})"
    );
    for mail in &mails {
        assert_eq!(
            mail.header("from"),
            Some("\"OpenWorkflow Registry\" <registry@example.test>")
        );
        assert_eq!(
            mail.header("subject"),
            Some("Trusted publishing lock lifted on tp-notice")
        );
        assert_eq!(mail.header("auto-submitted"), Some("auto-generated"));
        assert!(
            mail.body
                .contains("ada lifted the lock to trusted publishing on the plugin tp-notice"),
            "{}",
            mail.body
        );
        assert!(
            mail.body
                .contains(&format!("{}/account/plugins/tp-notice/audit", app.base)),
            "{}",
            mail.body
        );
    }

    assert!(
        note.contains("owners told by e-mail: 2 sent, 1 without a verified address, 0 failed"),
        "{note}"
    );
}

#[tokio::test]
async fn a_relay_that_is_down_never_keeps_a_lock_from_lifting_and_the_log_says_nobody_was_told() {
    let (ci, people) = (CiIssuer::start().await, TestIssuer::start().await);
    // A loopback port nobody listens on: every connection is refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let (github, sign_in) = (ci.issuer().to_owned(), oidc_settings(&people));
    let app = TestApp::spawn_configured(move |config| {
        config.ci_issuers = vec![(openworkflow_registry::CiService::GithubActions, github)];
        config.sign_in.oidc = Some(sign_in);
        config.mail = Some(openworkflow_registry::MailSettings {
            smtp_url: format!("smtp://127.0.0.1:{closed}"),
            from: "registry@example.test".to_owned(),
        });
    })
    .await;
    let mut ada = Browser::new(&app);
    ada.sign_in_as(&people, "subject-ada", "ada").await;
    let key = ada.create_key("laptop", "30").await;
    app.publish_ok(&key, "tp-unheard", "1.0.0").await;
    lock_to_trusted_publishing(&app, &key, "tp-unheard").await;

    let csrf = registry_testkit::oidc::csrf_token(&ada.account_page().await);
    let lifted = ada
        .post_form("/account/plugins/tp-unheard/unlock", &[("csrf", &csrf)])
        .await;
    assert_eq!(lifted.status(), StatusCode::SEE_OTHER);
    app.publish_ok(&key, "tp-unheard", "1.1.0").await;
    let note = unlock_note(&app, &key, "tp-unheard").await;
    assert!(
        note.contains("owners told by e-mail: 0 sent, 0 without a verified address, 1 failed"),
        "{note}"
    );
}
