//! The web catalog as a person uses it, in headless Chromium against the real
//! server: find a plugin, read it, copy its install command, follow a tag; every
//! page type passes an accessibility audit; a stranger's manifest stays text.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::driver::Browser;
use crate::helpers::{GITHUB_YAML, TestApp, plugin_yaml};

/// The spec's GitHub example at another version.
fn github_at(version: &str) -> String {
    GITHUB_YAML.replacen("version: 1.2.0", &format!("version: {version}"), 1)
}

/// A registry holding the GitHub example at 1.0.0 (unpublished), 1.1.0
/// (deprecated for 1.2.0) and 1.2.0, downloaded twice, beside two other plugins.
async fn catalog() -> TestApp {
    let app = TestApp::spawn().await;
    let key = app.admin_key.clone();
    for version in ["1.0.0", "1.1.0", "1.2.0"] {
        let response = app.publish_yaml(&key, &github_at(version)).await;
        assert_eq!(response.status(), StatusCode::CREATED, "github@{version}");
    }
    for slug in ["weather", "slack-notify"] {
        app.publish_ok(&key, slug, "1.0.0").await;
    }
    let deprecated = app
        .deprecate(
            &key,
            "github",
            "1.1.0",
            json!({"reason": "Leaks the token into logs.", "replacement_version": "1.2.0"}),
        )
        .await;
    assert_eq!(deprecated.status(), StatusCode::OK);
    let unpublished = app.unpublish(&key, "github", "1.0.0").await;
    assert_eq!(unpublished.status(), StatusCode::OK);
    for _ in 0..2 {
        let download = app.get("/plugins/github/1.2.0/schema").await;
        assert_eq!(download.status(), StatusCode::OK);
    }
    app.roll_up().await;
    app
}

async fn text_of(browser: &Browser, css: &str) -> String {
    browser.find(css).await.text().await.expect("text")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_searches_opens_a_plugin_copies_its_install_command_and_follows_a_tag() {
    let app = catalog().await;
    let browser = Browser::launch().await;

    assert_eq!(browser.open(&app.url("/")).await, 200);
    let search = browser.find("header form[role=search] input[name=q]").await;
    search.send_keys("github").await.expect("type");
    browser
        .find("header form[role=search] button[type=submit]")
        .await
        .click()
        .await
        .expect("search");
    browser.wait_for_address("/search", Some("q=github")).await;
    assert_eq!(browser.status().await, 200);

    browser
        .link(".plugin-list", "GitHub Integration")
        .await
        .click()
        .await
        .expect("open the result");
    browser.wait_for_address("/plugins/github", None).await;
    assert!(
        text_of(&browser, "h1")
            .await
            .starts_with("GitHub Integration")
    );

    // The downloads chart the roll-up drew is an image the page shows.
    let chart = browser
        .script_async(
            "const done = arguments[arguments.length - 1];
             const img = document.querySelector('.chart img');
             img.scrollIntoView();
             img.decode().then(() => done([img.naturalWidth, img.alt]), (e) => done(String(e)));",
        )
        .await;
    assert_eq!(
        chart,
        json!([360, "Downloads per day over the last 90 days"])
    );

    // The versions table marks 1.1.0 deprecated, with its reason and a link to
    // the replacement; the unpublished 1.0.0 is not offered.
    let versions = text_of(&browser, "table.versions tbody").await;
    assert!(versions.contains("1.2.0"), "{versions}");
    assert!(versions.contains("deprecated"), "{versions}");
    assert!(
        versions.contains("Leaks the token into logs."),
        "{versions}"
    );
    assert!(!versions.contains("1.0.0"), "{versions}");
    browser
        .link("table.versions", "1.1.0")
        .await
        .click()
        .await
        .expect("open 1.1.0");
    browser
        .wait_for_address("/plugins/github", Some("version=1.1.0"))
        .await;
    let notice = text_of(&browser, ".deprecated").await;
    assert!(notice.contains("Leaks the token into logs."), "{notice}");
    browser
        .link(".deprecated", "version 1.2.0")
        .await
        .click()
        .await
        .expect("follow the replacement");
    browser
        .wait_for_address("/plugins/github", Some("version=1.2.0"))
        .await;

    // The copy button puts the install command on the clipboard.
    browser.grant("clipboard-read").await;
    browser.grant("clipboard-write").await;
    let copy = browser.find("button.copy").await;
    assert!(
        copy.is_displayed().await.expect("displayed"),
        "no copy button"
    );
    copy.click().await.expect("copy");
    let copied = browser
        .script_async(
            "const done = arguments[arguments.length - 1];
             navigator.clipboard.readText().then(done, (e) => done('failed: ' + e));",
        )
        .await;
    assert_eq!(copied, "openworkflow plugin install github@1.2.0");
    assert_eq!(copy.text().await.expect("label"), "Copied");

    // A tag is a search.
    browser
        .link("ul.tags", "vcs")
        .await
        .click()
        .await
        .expect("follow the tag");
    browser.wait_for_address("/search", Some("tag=vcs")).await;
    let results = text_of(&browser, ".plugin-list").await;
    assert!(results.contains("GitHub"), "{results}");
    assert!(!results.contains("weather"), "{results}");

    // An unpublished version is gone, and says so.
    assert_eq!(
        browser
            .open(&app.url("/plugins/github?version=1.0.0"))
            .await,
        410
    );
    let heading = text_of(&browser, "h1").await;
    assert!(heading.to_lowercase().contains("unpublished"), "{heading}");

    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_on_the_search_page_updates_the_results_and_the_address_in_place() {
    let app = catalog().await;
    let browser = Browser::launch().await;
    assert_eq!(browser.open(&app.url("/search?q=github")).await, 200);
    // A mark on this document: a navigation would lose it.
    browser.script("window.sameDocument = true;").await;
    let input = browser.find("header form[role=search] input[name=q]").await;
    input.clear().await.expect("clear");
    input.send_keys("weather").await.expect("type");
    browser
        .wait_until(
            "the results follow the text",
            "return document.querySelector('#results .plugin-list').textContent.includes('weather plugin');",
        )
        .await;
    let results = text_of(&browser, "#results").await;
    assert!(!results.contains("GitHub Integration"), "{results}");
    browser.wait_for_address("/search", Some("q=weather")).await;
    assert_eq!(
        browser.script("return window.sameDocument === true;").await,
        true,
        "the page was not reloaded"
    );
    assert!(
        browser
            .script("return document.title;")
            .await
            .as_str()
            .unwrap()
            .contains("weather")
    );
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_url_a_publish_answers_opens_the_plugin_page_and_stays_json_for_curl() {
    let app = TestApp::spawn().await;
    let answer: Value = app
        .publish_yaml(&app.admin_key, &plugin_yaml("weather", "2.0.0"))
        .await
        .json()
        .await
        .expect("publish answer");
    let url = answer["url"].as_str().expect("url").to_owned();

    let browser = Browser::launch().await;
    assert_eq!(browser.open(&url).await, 200);
    assert_eq!(
        browser.script("return document.contentType;").await,
        "text/html"
    );
    let install = browser.find("#install-command").await;
    assert_eq!(
        install.prop("value").await.expect("value").as_deref(),
        Some("openworkflow plugin install weather@2.0.0")
    );
    browser.close().await;

    // What curl sends.
    let details: Value = app
        .client
        .get(&url)
        .header("accept", "*/*")
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("the spec's JSON");
    assert_eq!(details["slug"], "weather");
    assert_eq!(details["version"], "2.0.0");
}

/// One page of each type, with the status it arrives with.
const EVERY_PAGE_TYPE: [(&str, &str, u16); 9] = [
    ("the home page", "/", 200),
    ("a search", "/search?q=github", 200),
    ("a tag search", "/search?tag=vcs", 200),
    (
        "a search that finds nothing",
        "/search?q=nothing-matches-this",
        200,
    ),
    ("a plugin page", "/plugins/github", 200),
    (
        "a deprecated version's page",
        "/plugins/github?version=1.1.0",
        200,
    ),
    ("the not-found page", "/plugins/absent", 404),
    ("the unpublished page", "/plugins/github?version=1.0.0", 410),
    ("the bad-request page", "/search?page=0", 400),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_type_passes_an_accessibility_audit_in_light_and_dark() {
    let app = catalog().await;
    let browser = Browser::launch().await;
    for (what, path, status) in EVERY_PAGE_TYPE {
        assert_eq!(browser.open(&app.url(path)).await, status, "{what}");
        browser.assert_accessible(what).await;
    }
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_type_fits_a_phone_screen_and_starts_with_a_skip_link() {
    let app = catalog().await;
    let browser = Browser::launch().await;
    browser.resize(390, 844).await;
    for (what, path, status) in EVERY_PAGE_TYPE {
        assert_eq!(browser.open(&app.url(path)).await, status, "{what}");
        let width = browser.script("return window.innerWidth;").await;
        assert!(
            width.as_u64().unwrap() <= 390,
            "the viewport is {width} wide"
        );
        let overflow = browser
            .script("return document.documentElement.scrollWidth - document.documentElement.clientWidth;")
            .await;
        assert_eq!(overflow, 0, "{what} scrolls sideways on a phone");
        // The keyboard's first stop skips the header to the content.
        browser.press_tab().await;
        let focused = browser
            .script("return document.activeElement.getAttribute('href');")
            .await;
        assert_eq!(focused, "#main", "{what}");
    }
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manifest_full_of_html_script_and_javascript_urls_renders_inert() {
    let app = TestApp::spawn().await;
    let published = app
        .publish(
            &app.admin_key,
            "application/json",
            include_str!("../../fixtures/hostile.json"),
        )
        .await;
    assert_eq!(published.status(), StatusCode::CREATED);

    let browser = Browser::launch().await;
    for path in ["/plugins/hostile", "/", "/search?q=hostile"] {
        assert_eq!(browser.open(&app.url(path)).await, 200, "{path}");
        // The page's own script has run (it reveals the copy button) by the time
        // the page is loaded, so anything the manifest smuggled in had its chance.
        let findings = browser
            .script(
                "const own = new URL(document.querySelector('script[src]').src);
                 return {
                   ran: window.hostileRan === undefined ? null : window.hostileRan,
                   scripts: [...document.scripts].filter((s) => !s.src || new URL(s.src).href !== own.href).length,
                   ownScriptIsTheSites: own.origin === location.origin && own.pathname.startsWith('/index/assets/site.'),
                   handlers: [...document.querySelectorAll('*')].flatMap((e) =>
                     [...e.attributes].filter((a) => a.name.startsWith('on')).map((a) => e.tagName + ' ' + a.name)),
                   badLinks: [...document.querySelectorAll('a[href], area[href]')]
                     .filter((a) => !['http:', 'https:', 'mailto:'].includes(a.protocol)).map((a) => a.getAttribute('href')),
                   embedded: document.querySelectorAll('iframe, object, embed, form[action], img, svg, style, link:not([rel=stylesheet])').length
                     - document.querySelectorAll('form[role=search]').length,
                   styled: document.querySelectorAll('[style]').length,
                 };",
            )
            .await;
        assert_eq!(
            findings,
            json!({
                "ran": null, "scripts": 0, "ownScriptIsTheSites": true,
                "handlers": [], "badLinks": [], "embedded": 0, "styled": 0,
            }),
            "{path}"
        );
    }
    // The text is all there, as text.
    browser.open(&app.url("/plugins/hostile")).await;
    let heading = text_of(&browser, "h1").await;
    assert!(
        heading.starts_with("<script>window.hostileRan=1</script>Hostile"),
        "{heading}"
    );
    browser.close().await;
}
