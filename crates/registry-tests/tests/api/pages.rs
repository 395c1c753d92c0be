//! The web catalog over HTTP: one URL answers people with a page and programs
//! with the spec's JSON, and everything strangers uploaded is served so that a
//! browser cannot run it.

use crate::helpers::*;
use reqwest::StatusCode;
use reqwest::header::{
    CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_SECURITY_POLICY, CONTENT_TYPE, VARY,
    X_CONTENT_TYPE_OPTIONS,
};

/// What Chromium sends for a page.
const BROWSER: &str =
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";

async fn get_accepting(app: &TestApp, path: &str, accept: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .header("accept", accept)
        .send()
        .await
        .expect("GET")
}

fn header(response: &reqwest::Response, name: reqwest::header::HeaderName) -> &str {
    response
        .headers()
        .get(&name)
        .unwrap_or_else(|| panic!("{name} is set"))
        .to_str()
        .unwrap()
}

fn assert_is_page(response: &reqwest::Response) {
    assert_eq!(header(response, CONTENT_TYPE), "text/html; charset=utf-8");
    assert!(header(response, CONTENT_SECURITY_POLICY).contains("default-src 'self'"));
    assert!(!header(response, CONTENT_SECURITY_POLICY).contains("unsafe-inline"));
    assert_eq!(header(response, X_CONTENT_TYPE_OPTIONS), "nosniff");
}

#[tokio::test]
async fn the_url_a_publish_answers_is_a_page_for_browsers_and_json_for_programs() {
    let app = TestApp::spawn().await;
    let published: serde_json::Value = app
        .publish_yaml(&app.admin_key, &plugin_yaml("github", "1.2.0"))
        .await
        .json()
        .await
        .unwrap();
    let url = published["url"].as_str().unwrap().to_owned();
    let path = url.strip_prefix(&app.base).unwrap();

    let page = get_accepting(&app, path, BROWSER).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_is_page(&page);
    assert_eq!(header(&page, VARY), "accept");
    assert!(header(&page, CACHE_CONTROL).starts_with("public"));
    let html = page.text().await.unwrap();
    assert!(
        html.contains("openworkflow plugin install github@1.2.0"),
        "{html}"
    );

    for accept in [None, Some("*/*"), Some("application/json")] {
        let mut request = app.client.get(&url);
        if let Some(accept) = accept {
            request = request.header("accept", accept);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{accept:?}");
        assert_eq!(
            header(&response, CONTENT_TYPE),
            "application/json",
            "{accept:?}"
        );
        assert_eq!(header(&response, VARY), "accept", "{accept:?}");
        let details: serde_json::Value = response.json().await.unwrap();
        assert_eq!(details["slug"], "github", "{accept:?}");
    }

    let version_page = get_accepting(&app, "/plugins/github?version=1.2.0", BROWSER).await;
    assert_eq!(version_page.status(), StatusCode::OK);
    assert_is_page(&version_page);
}

#[tokio::test]
async fn browsers_get_not_found_and_gone_pages_while_programs_keep_problems() {
    let app = TestApp::spawn().await;
    app.publish_ok(&app.admin_key, "weather", "1.0.0").await;
    app.publish_ok(&app.admin_key, "weather", "1.1.0").await;
    assert_eq!(
        app.unpublish(&app.admin_key, "weather", "1.0.0")
            .await
            .status(),
        StatusCode::OK
    );

    let gone = get_accepting(&app, "/plugins/weather?version=1.0.0", BROWSER).await;
    assert_eq!(gone.status(), StatusCode::GONE);
    assert_is_page(&gone);
    assert!(gone.text().await.unwrap().contains("was unpublished"));
    expect_problem(
        app.get("/plugins/weather?version=1.0.0").await,
        StatusCode::GONE,
        "version_unpublished",
    )
    .await;

    for path in [
        "/plugins/absent",
        "/plugins/weather?version=9.9.9",
        "/no/such/page",
    ] {
        let missing = get_accepting(&app, path, BROWSER).await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND, "{path}");
        assert_is_page(&missing);
        assert_eq!(header(&missing, VARY), "accept");
    }
    expect_problem(
        app.get("/plugins/absent").await,
        StatusCode::NOT_FOUND,
        "plugin_not_found",
    )
    .await;
    expect_problem(
        app.get("/no/such/page").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn a_missing_index_page_is_the_not_found_page_and_other_missing_files_stay_problems() {
    // The CDN asks the API for a page object the bucket does not have; whoever
    // asks for a page gets a page.
    let app = TestApp::spawn().await;
    app.publish_ok(&app.admin_key, "weather", "1.0.0").await;
    for accept in ["*/*", BROWSER] {
        let missing = get_accepting(&app, "/index/plugins/absent.html", accept).await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND, "{accept}");
        assert_is_page(&missing);
        assert!(missing.text().await.unwrap().contains("<h1>Not found</h1>"));
    }
    let present = get_accepting(&app, "/index/plugins/weather.html", "*/*").await;
    assert_eq!(present.status(), StatusCode::OK);
    assert_is_page(&present);
    expect_problem(
        app.get("/index/plugins/absent.json").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn the_home_page_lists_what_was_published() {
    let app = TestApp::spawn().await;
    app.publish_ok(&app.admin_key, "github", "1.0.0").await;
    let home = get_accepting(&app, "/", BROWSER).await;
    assert_eq!(home.status(), StatusCode::OK);
    assert_is_page(&home);
    let html = home.text().await.unwrap();
    assert!(html.contains(r#"href="/plugins/github""#), "{html}");
    assert!(html.contains("1 plugins"), "{html}");
}

#[tokio::test]
async fn a_private_registrys_pages_are_for_signed_in_readers_and_unlock_nothing_else() {
    let issuer = crate::oidc_issuer::TestIssuer::start().await;
    let settings = crate::sign_in::oidc_settings(&issuer);
    let app = TestApp::spawn_configured(move |config| {
        config.private = true;
        config.sign_in.oidc = Some(settings);
    })
    .await;
    app.publish_ok(&app.admin_key, "github", "1.0.0").await;
    let mut browser = crate::sign_in::Browser::new(&app);

    // Not signed in: each page sends the browser to sign in, and back; a
    // program without a key is refused as before.
    for (page, back) in [
        ("/", "%2F"),
        (
            "/plugins/github?version=1.0.0",
            "%2Fplugins%2Fgithub%3Fversion%3D1.0.0",
        ),
        ("/search?q=git", "%2Fsearch%3Fq%3Dgit"),
    ] {
        let response = browser.get(page, true).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{page}");
        assert_eq!(
            header(&response, reqwest::header::LOCATION),
            format!("/auth/login?return_to={back}")
        );
    }
    expect_problem(
        browser.get("/plugins/github", false).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;

    // Signed in: the pages, never cached by anyone else, and what they load.
    browser.sign_in_as(&issuer, "sub-ada", "ada").await;
    for page in [
        "/",
        "/plugins/github",
        "/plugins/github?version=1.0.0",
        "/search?q=git",
    ] {
        let response = browser.get(page, true).await;
        assert_eq!(response.status(), StatusCode::OK, "{page}");
        assert_is_page(&response);
        assert_eq!(
            header(&response, CACHE_CONTROL),
            "private, no-store",
            "{page}"
        );
        let html = response.text().await.unwrap();
        assert!(html.contains("github"), "{page}: {html}");
    }
    let page = browser
        .get("/plugins/github", true)
        .await
        .text()
        .await
        .unwrap();
    let stylesheet = page
        .split("rel=\"stylesheet\" href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page links its stylesheet")
        .to_owned();
    let css = browser.get(&stylesheet, false).await;
    assert_eq!(css.status(), StatusCode::OK, "{stylesheet}");
    assert_eq!(header(&css, CONTENT_TYPE), "text/css; charset=utf-8");
    assert_eq!(
        browser.get("/plugins/nothing-here", true).await.status(),
        StatusCode::NOT_FOUND,
        "a page nobody has is the not-found page"
    );

    // The session unlocks pages only: JSON, downloads, index files and search
    // still want a key.
    for json in [
        "/plugins/github",
        "/plugins/github/1.0.0/schema",
        "/index/plugins/github.json",
        "/index/config.json",
        "/plugins/search?q=git",
    ] {
        expect_problem(
            browser.get(json, false).await,
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        )
        .await;
    }

    // A key asking for HTML gets the JSON, as programs always have.
    let response = app
        .client
        .get(app.url("/plugins/github"))
        .header("accept", BROWSER)
        .bearer_auth(&app.admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, CONTENT_TYPE), "application/json");
}

#[tokio::test]
async fn downloads_are_attachments_a_browser_will_not_render() {
    let app = TestApp::spawn().await;
    app.publish_ok(&app.admin_key, "github", "1.0.0").await;
    for accept in [BROWSER, "*/*"] {
        let schema = get_accepting(&app, "/plugins/github/1.0.0/schema", accept).await;
        assert_eq!(schema.status(), StatusCode::OK);
        assert_eq!(header(&schema, CONTENT_DISPOSITION), "attachment");
        assert_eq!(header(&schema, X_CONTENT_TYPE_OPTIONS), "nosniff");
        assert!(header(&schema, CONTENT_SECURITY_POLICY).starts_with("sandbox"));
    }
}

#[tokio::test]
async fn the_search_page_works_without_a_script_and_pages_by_twenty() {
    let app = TestApp::spawn().await;
    for i in 0..23 {
        let yaml = TestPlugin::new(&format!("git-tool-{i:02}"), "1.0.0")
            .description("Works with git repositories")
            .tags(&["vcs", "git"])
            .yaml();
        let response = app.publish_yaml(&app.admin_key, &yaml).await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    app.publish_ok(&app.admin_key, "weather", "1.0.0").await;

    let first = get_accepting(&app, "/search?q=git", BROWSER).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_is_page(&first);
    let html = first.text().await.unwrap();
    assert_eq!(
        html.matches(r#"<a class="plugin-name""#).count(),
        20,
        "{html}"
    );
    assert!(html.contains("23 plugins"), "{html}");
    assert!(
        html.contains(r#"href="/search?q=git&#38;page=2" rel="next""#),
        "{html}"
    );
    assert!(
        html.contains(r#"value="git""#),
        "the box keeps the query: {html}"
    );

    let second = get_accepting(&app, "/search?q=git&page=2", BROWSER).await;
    let html = second.text().await.unwrap();
    assert_eq!(
        html.matches(r#"<a class="plugin-name""#).count(),
        3,
        "{html}"
    );
    assert!(html.contains(r#"rel="prev""#), "{html}");

    // A tag page is a search, linked from every plugin page's tags.
    let tagged = get_accepting(&app, "/search?tag=vcs", BROWSER)
        .await
        .text()
        .await
        .unwrap();
    assert!(tagged.contains("Plugins tagged vcs"), "{tagged}");
    assert!(!tagged.contains(r#"href="/plugins/weather""#), "{tagged}");
    let plugin_page = get_accepting(&app, "/plugins/git-tool-00", BROWSER)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        plugin_page.contains(r#"href="/search?tag=vcs""#),
        "{plugin_page}"
    );
}

#[tokio::test]
async fn the_search_page_says_what_to_fix_and_echoes_only_text() {
    let app = TestApp::spawn().await;
    for page in ["0", "501", "two"] {
        let response = get_accepting(&app, &format!("/search?q=x&page={page}"), BROWSER).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "page={page}");
        assert_is_page(&response);
        assert!(response.text().await.unwrap().contains("from 1 to 500"));
    }
    let long = "a".repeat(300);
    let response = get_accepting(&app, &format!("/search?q={long}"), BROWSER).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    let response = get_accepting(
        &app,
        "/search?q=%22%3E%3Cscript%3Ewindow.x%3D1%3C%2Fscript%3E",
        BROWSER,
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    assert_eq!(
        html.matches("<script").count(),
        1,
        "only the site's script: {html}"
    );
    assert!(html.contains("&#34;&#62;&#60;script&#62;"), "{html}");
}

#[tokio::test]
async fn the_roll_up_draws_the_downloads_chart_the_plugin_page_shows() {
    let app = TestApp::spawn().await;
    app.publish_ok(&app.admin_key, "counted", "1.0.0").await;
    let chart = "/index/plugins/counted/downloads.svg";
    let page = get_accepting(&app, "/plugins/counted", BROWSER).await;
    assert!(!page.text().await.unwrap().contains(chart), "no chart yet");
    assert_eq!(app.get(chart).await.status(), StatusCode::NOT_FOUND);

    for _ in 0..3 {
        let download = app.get("/plugins/counted/1.0.0/schema").await;
        assert_eq!(download.status(), StatusCode::OK);
    }
    app.roll_up().await;
    let drawn = app.get(chart).await;
    assert_eq!(drawn.status(), StatusCode::OK);
    assert_eq!(header(&drawn, CONTENT_TYPE), "image/svg+xml");
    assert_eq!(header(&drawn, X_CONTENT_TYPE_OPTIONS), "nosniff");
    assert!(header(&drawn, CONTENT_SECURITY_POLICY).contains("script-src 'self'"));
    let svg = drawn.text().await.unwrap();
    assert!(
        svg.contains("from 2025-12-03 to 2026-03-02: 3 in all"),
        "{svg}"
    );
    let page = get_accepting(&app, "/plugins/counted", BROWSER).await;
    assert!(page.text().await.unwrap().contains(chart));

    // The next day's roll-up slides the window and counts the new downloads.
    app.clock.advance(time::Duration::days(1));
    app.get("/plugins/counted/1.0.0/schema").await;
    app.roll_up().await;
    let svg = app.get(chart).await.text().await.unwrap();
    assert!(
        svg.contains("from 2025-12-04 to 2026-03-03: 4 in all, at most 3 in one day"),
        "{svg}"
    );
}
