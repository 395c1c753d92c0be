//! Review over HTTP, on the backend under test: a registry that requires review
//! holds each new version until a reviewer approves it; until then readers,
//! search, the index and downloads do not know it, while its owners and the
//! reviewers do.

use reqwest::header::{CACHE_CONTROL, ETAG, LOCATION};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestBackend, backend_under_test, expect_problem, plugin_yaml};
use crate::owners::{call, ok_json, person};

/// A registry that requires review, with an owner's and a reviewer's key.
async fn reviewed_registry() -> (TestApp, String, String) {
    let app = TestApp::spawn_configured(|config| config.review.required = true).await;
    let owner = person(&app, "owner").await.key;
    let reviewer = app.new_principal_key("reviewer", &["review"]).await;
    (app, owner, reviewer)
}

async fn submit(app: &TestApp, key: &str, slug: &str, version: &str) -> Value {
    let response = app.publish_yaml(key, &plugin_yaml(slug, version)).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED, "{slug}@{version}");
    assert_eq!(
        response.headers()[LOCATION],
        format!("{}/reviews/{slug}@{version}", app.base).as_str()
    );
    response.json().await.unwrap()
}

async fn decide(app: &TestApp, key: &str, id: &str, verb: &str, body: Value) -> reqwest::Response {
    call(
        app,
        Method::POST,
        &format!("/reviews/{id}/{verb}"),
        key,
        body,
    )
    .await
}

async fn audit_actions(app: &TestApp, key: &str, slug: &str) -> Vec<String> {
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
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_held_version_is_nowhere_until_a_reviewer_approves_it() {
    let (app, owner, reviewer) = reviewed_registry().await;
    let stranger = person(&app, "stranger").await.key;
    let answer = submit(&app, &owner, "weather", "1.0.0").await;
    assert_eq!(
        answer,
        json!({
            "status": "pending_review",
            "slug": "weather",
            "version": "1.0.0",
            "review_id": "weather@1.0.0",
            "review_url": format!("{}/reviews/weather@1.0.0", app.base)
        })
    );

    // Nowhere for readers: details, versions, downloads, search, the index.
    for path in [
        "/plugins/weather",
        "/plugins/weather?version=1.0.0",
        "/index/plugins/weather.json",
        "/index/plugins/weather/1.0.0.json",
    ] {
        assert_eq!(
            app.get(path).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    expect_problem(
        app.get("/plugins/weather/1.0.0/schema").await,
        StatusCode::NOT_FOUND,
        "version_not_found",
    )
    .await;
    let search = app.get_json("/plugins/search?q=weather").await;
    assert_eq!(search["results"], json!([]), "{search}");

    // Its owners and the reviewers see it; a stranger learns nothing.
    let review = ok_json(
        app.get_with_key("/reviews/weather@1.0.0", &owner).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(review["state"], "pending");
    assert_eq!(review["submitted_at"], "2026-03-02T12:00:00Z");
    assert_eq!(review["manifest"]["slug"], "weather");
    assert_eq!(review["current_version"], Value::Null);
    let schema = app
        .get_with_key("/reviews/weather@1.0.0/schema", &reviewer)
        .await;
    assert_eq!(schema.status(), StatusCode::OK);
    assert_eq!(schema.headers()[CACHE_CONTROL], "private, no-store");
    assert_eq!(
        schema.text().await.unwrap(),
        plugin_yaml("weather", "1.0.0"),
        "the document exactly as submitted"
    );
    expect_problem(
        app.get_with_key("/reviews/weather@1.0.0", &stranger).await,
        StatusCode::NOT_FOUND,
        "review_not_found",
    )
    .await;
    expect_problem(
        app.get_with_key("/reviews", &owner).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let queue = ok_json(
        app.get_with_key("/reviews", &reviewer).await,
        StatusCode::OK,
    )
    .await;
    let ids: Vec<&str> = queue["reviews"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["weather@1.0.0"]);

    // The version string is taken, and the owner cannot act on it meanwhile.
    let again = expect_problem(
        app.publish_yaml(&owner, &plugin_yaml("weather", "1.0.0"))
            .await,
        StatusCode::CONFLICT,
        "version_exists",
    )
    .await;
    assert!(
        again["detail"]
            .as_str()
            .unwrap()
            .contains("waits for review")
    );
    expect_problem(
        app.deprecate(&owner, "weather", "1.0.0", json!({"reason": "x"}))
            .await,
        StatusCode::CONFLICT,
        "version_under_review",
    )
    .await;

    // Only a reviewer decides.
    expect_problem(
        decide(&app, &owner, "weather@1.0.0", "approve", json!({})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    app.clock.advance(time::Duration::hours(5));
    let approved = decide(
        &app,
        &reviewer,
        "weather@1.0.0",
        "approve",
        json!({"comment": "looks fine"}),
    )
    .await;
    assert_eq!(approved.status(), StatusCode::OK);
    let etag = approved.headers().get(ETAG).cloned();
    assert_eq!(approved.json::<Value>().await.unwrap()["state"], "approved");

    // Now it is everywhere a publish puts it, published as of the approval.
    let details = app.get("/plugins/weather").await;
    assert_eq!(details.status(), StatusCode::OK);
    if let Some(etag) = etag {
        assert_eq!(
            details.headers()[ETAG],
            etag,
            "the approval's ETag is the details'"
        );
    }
    let details: Value = details.json().await.unwrap();
    assert_eq!(details["version"], "1.0.0");
    assert_eq!(details["published_at"], "2026-03-02T17:00:00Z");
    assert_eq!(
        app.get("/plugins/weather/1.0.0/schema").await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.get("/index/plugins/weather.json").await.status(),
        StatusCode::OK
    );
    let search = app.get_json("/plugins/search?q=weather").await;
    assert_eq!(search["results"][0]["slug"], "weather", "{search}");
    expect_problem(
        decide(&app, &reviewer, "weather@1.0.0", "approve", json!({})).await,
        StatusCode::CONFLICT,
        "review_decided",
    )
    .await;
    let queue = ok_json(
        app.get_with_key("/reviews", &reviewer).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(queue["reviews"], json!([]));
    assert_eq!(
        audit_actions(&app, &owner, "weather").await,
        ["version_approved", "version_submitted_for_review"],
        "newest first"
    );
    if backend_under_test() == TestBackend::Embedded {
        verify_index(&app).await;
    }
}

/// The served index verifies against its key, every file it lists in place.
async fn verify_index(app: &TestApp) {
    let config: registry_index::format::IndexConfig =
        serde_json::from_slice(&app.get("/index/config.json").await.bytes().await.unwrap())
            .unwrap();
    let key =
        registry_index::IndexPublicKey::from_hex(&config.index_public_key.public_key).unwrap();
    let store = registry_index::FileIndexStore::new(app.data.path().join("index"));
    let now = registry_core::timestamp::Clock::now(&*app.clock);
    registry_index::verify::verify_index(&store, &key, now)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_rejected_version_keeps_its_string_and_its_owners_read_why() {
    let (app, owner, reviewer) = reviewed_registry().await;
    submit(&app, &owner, "maps", "1.0.0").await;
    let approved = decide(&app, &reviewer, "maps@1.0.0", "approve", json!({})).await;
    assert_eq!(approved.status(), StatusCode::OK);

    let update = app
        .update(&owner, "maps", &plugin_yaml("maps", "1.1.0"))
        .await;
    assert_eq!(update.status(), StatusCode::ACCEPTED);
    // An update exceeds every taken version, the one under review included.
    expect_problem(
        app.update(&owner, "maps", &plugin_yaml("maps", "1.0.5"))
            .await,
        StatusCode::CONFLICT,
        "version_not_incremented",
    )
    .await;
    assert_eq!(app.get_json("/plugins/maps").await["version"], "1.0.0");

    for (body, complaint) in [
        (json!({}), "why"),
        (json!({"comment": "x".repeat(2001)}), "2000"),
    ] {
        let problem = expect_problem(
            decide(&app, &reviewer, "maps@1.1.0", "reject", body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert!(problem.to_string().contains(complaint), "{problem}");
    }
    let rejected = decide(
        &app,
        &reviewer,
        "maps@1.1.0",
        "reject",
        json!({"comment": "the schema asks for a password in plain text"}),
    )
    .await;
    assert_eq!(rejected.status(), StatusCode::OK);

    let mine = ok_json(
        app.get_with_key("/reviews?plugin=maps", &owner).await,
        StatusCode::OK,
    )
    .await;
    let review = &mine["reviews"][0];
    assert_eq!(mine["reviews"].as_array().unwrap().len(), 1);
    assert_eq!(review["state"], "rejected");
    assert_eq!(review["current_version"], "1.0.0");
    assert_eq!(
        review["decision"]["comment"],
        "the schema asks for a password in plain text"
    );
    let details = app.get_json("/plugins/maps").await;
    assert_eq!(details["version"], "1.0.0");
    assert_eq!(details["versions"], json!(["1.0.0"]), "{details}");
    assert_eq!(
        app.get("/plugins/maps?version=1.1.0").await.status(),
        StatusCode::NOT_FOUND
    );
    let again = expect_problem(
        app.update(&owner, "maps", &plugin_yaml("maps", "1.1.0"))
            .await,
        StatusCode::CONFLICT,
        "version_exists",
    )
    .await;
    assert!(again["detail"].as_str().unwrap().contains("rejected"));
    expect_problem(
        decide(&app, &reviewer, "maps@1.1.0", "approve", json!({})).await,
        StatusCode::CONFLICT,
        "review_decided",
    )
    .await;
    let actions = audit_actions(&app, &owner, "maps").await;
    assert_eq!(actions[0], "version_rejected");
    assert_eq!(
        app.get_with_key("/reviews/nowhere@1.0.0", &reviewer)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn auto_approval_lets_listed_publishers_teams_and_patch_releases_through() {
    // Principals first, on a registry without review; then the same stores
    // under a policy that names them.
    let first = TestApp::spawn().await;
    let (trusted, member, other) = (
        person(&first, "trusted").await,
        person(&first, "member").await,
        person(&first, "other").await,
    );
    let team = ok_json(
        call(
            &first,
            Method::POST,
            "/teams",
            &trusted.key,
            json!({"name": "Release managers"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let team_id = team["id"].as_str().unwrap().to_owned();
    let added = call(
        &first,
        Method::PUT,
        &format!("/teams/{team_id}/members/{}", member.id),
        &trusted.key,
        json!({"role": "member"}),
    )
    .await;
    assert_eq!(added.status(), StatusCode::OK);
    let principal = |raw: &str| registry_core::auth::PrincipalId::parse(raw).unwrap();
    let (trusted_id, team_principal) = (principal(&trusted.id), principal(&team_id));
    let app = first
        .spawn_beside(|config| {
            config.review.required = true;
            config.review.auto_approve.publishers = vec![trusted_id, team_principal];
            config.review.auto_approve.patch_releases = true;
        })
        .await;

    let live = |response: reqwest::Response| {
        assert_eq!(response.status(), StatusCode::CREATED, "skips review");
    };
    live(
        app.publish_yaml(&trusted.key, &plugin_yaml("by-trusted", "1.0.0"))
            .await,
    );
    live(
        app.publish_yaml(&member.key, &plugin_yaml("by-member", "1.0.0"))
            .await,
    );
    // Anyone else waits, a patch of nothing included.
    submit(&app, &other.key, "by-other", "1.0.0").await;
    let reviewer = app.new_principal_key("reviewer", &["review"]).await;
    let approved = decide(&app, &reviewer, "by-other@1.0.0", "approve", json!({})).await;
    assert_eq!(approved.status(), StatusCode::OK);
    // A patch over what readers see goes through; a minor release waits.
    let patch = app
        .update(&other.key, "by-other", &plugin_yaml("by-other", "1.0.1"))
        .await;
    assert_eq!(
        patch.status(),
        StatusCode::OK,
        "a patch release skips review"
    );
    let minor = app
        .update(&other.key, "by-other", &plugin_yaml("by-other", "1.1.0"))
        .await;
    assert_eq!(
        minor.status(),
        StatusCode::ACCEPTED,
        "a minor release waits"
    );
    for slug in ["by-trusted", "by-member", "by-other"] {
        assert_eq!(
            app.get(&format!("/plugins/{slug}")).await.status(),
            StatusCode::OK
        );
    }
    assert_eq!(app.get_json("/plugins/by-other").await["version"], "1.0.1");
    assert_eq!(
        audit_actions(&app, &member.key, "by-member").await,
        ["version_published"],
        "an auto-approved publish is a publish"
    );
}

#[tokio::test]
async fn trusted_publishing_may_skip_review_while_keys_wait() {
    let issuer = registry_testkit::ci_issuer::CiIssuer::start().await;
    let trusted = issuer.issuer().to_owned();
    let app = TestApp::spawn_configured(move |config| {
        config.ci_issuers = vec![(openworkflow_registry::CiService::GithubActions, trusted)];
        config.review.required = true;
        config.review.auto_approve.trusted_publishing = true;
    })
    .await;
    let ada = person(&app, "ada").await;
    submit(&app, &ada.key, "tp-reviewed", "1.0.0").await;
    let approved = decide(
        &app,
        &app.admin_key,
        "tp-reviewed@1.0.0",
        "approve",
        json!({}),
    )
    .await;
    assert_eq!(
        approved.status(),
        StatusCode::OK,
        "an admin key reviews too"
    );
    let job = registry_testkit::ci_issuer::GithubJob::release();
    crate::trusted_publishing::register(&app, &ada, "tp-reviewed", &job).await;
    let ci_token = issuer.github_token(&job, &app.base, crate::trusted_publishing::now(&app));
    let issued = crate::trusted_publishing::publish_token(&app, &ci_token).await;
    let token = issued["token"].as_str().unwrap();
    let published = app
        .publish_yaml(token, &plugin_yaml("tp-reviewed", "2.0.0"))
        .await;
    assert_eq!(
        published.status(),
        StatusCode::CREATED,
        "the CI job's release skips review"
    );
    submit(&app, &ada.key, "tp-reviewed", "2.1.0").await;
    assert_eq!(
        app.get_json("/plugins/tp-reviewed").await["version"],
        "2.0.0"
    );
}

#[tokio::test]
async fn owners_read_each_decision_in_their_mail() {
    use crate::oidc_issuer::TestIssuer;
    use crate::sign_in::{Browser, oidc_settings};
    use registry_testkit::smtp::SmtpServer;

    let (people, relay) = (TestIssuer::start().await, SmtpServer::start());
    let (sign_in, smtp_url) = (oidc_settings(&people), relay.url.clone());
    let app = TestApp::spawn_configured(move |config| {
        config.review.required = true;
        config.sign_in.oidc = Some(sign_in);
        config.mail = Some(openworkflow_registry::MailSettings {
            smtp_url,
            from: "OpenWorkflow Registry <registry@example.test>".to_owned(),
        });
    })
    .await;
    let mut ada = Browser::new(&app);
    ada.sign_in_as(&people, "subject-ada", "ada").await;
    let ada_key = ada.create_key("laptop", "30").await;
    let reviewer = app.new_principal_key("reviewer", &["review"]).await;
    submit(&app, &ada_key, "mailed", "1.0.0").await;
    submit(&app, &ada_key, "mailed", "1.1.0").await;
    assert!(relay.messages().is_empty(), "a submission mails nobody");

    expect_problem(
        decide(
            &app,
            &reviewer,
            "mailed@1.1.0",
            "reject",
            json!({"comment": "bad\u{1b}[31m"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let rejected = decide(
        &app,
        &reviewer,
        "mailed@1.1.0",
        "reject",
        json!({"comment": "it asks for a password in plain text"}),
    )
    .await;
    assert_eq!(rejected.status(), StatusCode::OK);
    let approved = decide(&app, &reviewer, "mailed@1.0.0", "approve", json!({})).await;
    assert_eq!(approved.status(), StatusCode::OK);

    let mails = relay.messages();
    let subjects: Vec<&str> = mails.iter().filter_map(|m| m.header("subject")).collect();
    assert_eq!(
        subjects,
        [
            "mailed 1.1.0 was rejected in review",
            "mailed 1.0.0 was approved and published"
        ]
    );
    assert!(
        mails
            .iter()
            .all(|m| m.header("to") == Some("ada@example.test"))
    );
    assert!(
        mails[0]
            .body
            .contains("it asks for a password in plain text")
            && mails[0]
                .body
                .contains(&format!("{}/reviews/mailed@1.1.0", app.base)),
        "{}",
        mails[0].body
    );
    let log = ok_json(
        app.get_with_key("/plugins/mailed/audit", &ada_key).await,
        StatusCode::OK,
    )
    .await;
    let rejection = log["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["action"] == "version_rejected")
        .unwrap();
    assert_eq!(
        rejection["detail"]["note"],
        "it asks for a password in plain text (owners told by e-mail: 1 sent, 0 without a verified address, 0 failed)"
    );
}

/// `PUT` (grant) or `DELETE` (revoke) `permission` for `principal`, as the admin.
pub(crate) async fn set_permission(
    app: &TestApp,
    method: Method,
    principal: &str,
    permission: &str,
) {
    let response = app
        .client
        .request(
            method,
            app.url(&format!(
                "/api/principals/{principal}/permissions/{permission}"
            )),
        )
        .bearer_auth(&app.admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
}

/// Checks that a form was refused with `status`, on a page whose alert says
/// `says`.
pub(crate) async fn refused_on_the_page(
    response: reqwest::Response,
    status: StatusCode,
    says: &str,
) {
    assert_eq!(response.status(), status);
    let page = response.text().await.unwrap();
    let alert = page
        .find("role=\"alert\"")
        .map(|at| &page[at..])
        .unwrap_or_else(|| panic!("no alert on {page}"));
    let alert = &alert[..alert.find("</p>").unwrap_or(alert.len())];
    assert!(
        alert.contains(says),
        "the alert says {alert:?}, not {says:?}"
    );
}

/// `login`, signed in at `issuer`: their browser, principal id and form token.
pub(crate) async fn signed_in(
    app: &TestApp,
    issuer: &crate::oidc_issuer::TestIssuer,
    login: &str,
) -> (crate::sign_in::Browser, String, String) {
    let mut browser = crate::sign_in::Browser::new(app);
    browser
        .sign_in_as(issuer, &format!("subject-{login}"), login)
        .await;
    let account = browser.account_page().await;
    let principal = crate::org_catalog::principal_on(&account);
    let csrf = registry_testkit::oidc::csrf_token(&account);
    (browser, principal, csrf)
}

#[tokio::test]
async fn a_person_granted_registry_review_decides_held_versions_on_the_reviews_pages() {
    let issuer = crate::oidc_issuer::TestIssuer::start().await;
    let settings = crate::sign_in::oidc_settings(&issuer);
    let app = TestApp::spawn_configured(move |config| {
        config.sign_in.oidc = Some(settings);
        config.review.required = true;
    })
    .await;
    let owner = person(&app, "owner").await.key;
    let submitted = plugin_yaml("weather", "1.0.0");
    submit(&app, &owner, "weather", "1.0.0").await;
    submit(&app, &owner, "weather", "1.1.0").await;

    let (mut ada, principal, csrf) = signed_in(&app, &issuer, "ada").await;
    assert!(
        !ada.account_page().await.contains("wait for your review"),
        "no queue for someone who does not review"
    );
    let queue = ada
        .get("/account/reviews", true)
        .await
        .text()
        .await
        .unwrap();
    assert!(!queue.contains("Waiting for your review"), "{queue}");
    let refused = ada
        .post_form(
            "/account/reviews/weather@1.0.0/decision",
            &[("csrf", &csrf), ("decision", "approve")],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        ada.get("/account/reviews/weather@1.0.0", true)
            .await
            .status(),
        StatusCode::NOT_FOUND,
        "a stranger's review is not hers to read"
    );

    set_permission(&app, Method::PUT, &principal, "registry:review").await;
    let account = ada.account_page().await;
    assert!(
        account.contains("2 versions wait for your review"),
        "{account}"
    );
    let queue = ada
        .get("/account/reviews", true)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        queue.contains("Waiting for your review")
            && queue.contains("href=\"/account/reviews/weather@1.0.0\"")
            && queue.contains("href=\"/account/reviews/weather@1.1.0\""),
        "{queue}"
    );
    let page = ada.get("/account/reviews/weather@1.0.0", true).await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    assert!(
        page.contains("action=\"/account/reviews/weather@1.0.0/decision\""),
        "{page}"
    );
    let schema = ada
        .get("/account/reviews/weather@1.0.0/schema", false)
        .await;
    assert_eq!(schema.status(), StatusCode::OK);
    assert_eq!(schema.headers()["content-disposition"], "attachment");
    assert_eq!(schema.headers()[CACHE_CONTROL], "private, no-store");
    assert_eq!(schema.text().await.unwrap(), submitted, "byte for byte");

    // A rejection must say why: the page says so, and nothing changes.
    let unexplained = ada
        .post_form(
            "/account/reviews/weather@1.1.0/decision",
            &[("csrf", &csrf), ("decision", "reject"), ("comment", "  ")],
        )
        .await;
    refused_on_the_page(
        unexplained,
        StatusCode::UNPROCESSABLE_ENTITY,
        "say why it is rejected",
    )
    .await;
    let approved = ada
        .post_form(
            "/account/reviews/weather@1.0.0/decision",
            &[("csrf", &csrf), ("decision", "approve")],
        )
        .await;
    assert_eq!(approved.status(), StatusCode::SEE_OTHER);
    assert_eq!(approved.headers()[LOCATION], "/account/reviews");
    let details = ok_json(app.get("/plugins/weather").await, StatusCode::OK).await;
    assert_eq!(details["version"], "1.0.0", "live, as a publish would be");
    let rejected = ada
        .post_form(
            "/account/reviews/weather@1.1.0/decision",
            &[
                ("csrf", &csrf),
                ("decision", "reject"),
                ("comment", "it phones <home>"),
            ],
        )
        .await;
    assert_eq!(rejected.status(), StatusCode::SEE_OTHER);
    let again = ada
        .post_form(
            "/account/reviews/weather@1.1.0/decision",
            &[("csrf", &csrf), ("decision", "approve")],
        )
        .await;
    assert_eq!(again.status(), StatusCode::CONFLICT, "a decision is final");
    assert!(again.text().await.unwrap().contains("a decision is final"));
    let review = ok_json(
        app.get_with_key("/reviews/weather@1.1.0", &owner).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(review["state"], "rejected");
    assert_eq!(review["decision"]["comment"], "it phones <home>");
    assert_eq!(review["decision"]["decided_by"], principal.as_str());
    let actions = audit_actions(&app, &owner, "weather").await;
    assert!(
        actions.iter().any(|a| a == "version_approved")
            && actions.iter().any(|a| a == "version_rejected"),
        "{actions:?}"
    );

    // Revoked: the very next request of the same session no longer decides.
    submit(&app, &owner, "weather", "1.2.0").await;
    set_permission(&app, Method::DELETE, &principal, "registry:review").await;
    let revoked = ada
        .post_form(
            "/account/reviews/weather@1.2.0/decision",
            &[("csrf", &csrf), ("decision", "approve")],
        )
        .await;
    assert_eq!(revoked.status(), StatusCode::FORBIDDEN);
    let review = ok_json(
        app.get_with_key("/reviews/weather@1.2.0", &owner).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(review["state"], "pending");
}
