//! Snapshots of the bodies users read, timestamps and digests redacted.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

#[tokio::test]
async fn details_of_the_spec_example() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.publish_yaml(&app.admin_key, GITHUB_YAML).await.status(),
        StatusCode::CREATED
    );
    let mut details = app.get_json("/plugins/github").await;
    details["schema_url"] = Value::from(
        details["schema_url"]
            .as_str()
            .unwrap()
            .replace(&app.base, "{base}"),
    );
    insta::assert_json_snapshot!(details, {
        ".created_at" => "[timestamp]",
        ".updated_at" => "[timestamp]",
        ".published_at" => "[timestamp]",
        ".sha256" => "[sha256]",
    });
}

#[tokio::test]
async fn problem_for_an_invalid_plugin() {
    let app = TestApp::spawn().await;
    let doc = "slug: x\nversion: 1.0\nname: Tool\ndescription: Does it\nauthor: Me\nhomepage: https://h.io\n\
               repository: git@github.com:me/tool.git\nlicense: MIT AND\nicon: https://h.io/i.png\ntags: [dev tools]\n\
               actions:\n  - name: -first\n    description: First\n";
    let response = app.publish_yaml(&app.admin_key, doc).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = response.json().await.unwrap();
    insta::assert_json_snapshot!(body);
}
