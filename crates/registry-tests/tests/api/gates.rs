//! Who may do what, as one table: each row is a caller, a request, and the status
//! and problem code it must get. A gate that opens or closes by mistake shows as
//! one wrong row; a new route adds its rows here.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{GITHUB_YAML, TestApp, plugin_yaml};

/// Who calls.
#[derive(Debug, Clone, Copy)]
enum Caller {
    Anonymous,
    /// A well-formed key the registry never issued.
    UnknownKey,
    /// The principal that published `github`.
    Owner,
    /// Another principal with the publish scope.
    OtherPublisher,
    /// A key with only the `read` scope.
    Reader,
    /// A key with only the `router` scope.
    Router,
    Admin,
}

struct Row {
    caller: Caller,
    method: Method,
    path: &'static str,
    body: Option<(&'static str, String)>,
    status: StatusCode,
    /// The problem code of a refusal; `None` for a success.
    code: Option<&'static str>,
}

fn row(
    caller: Caller,
    method: Method,
    path: &'static str,
    status: StatusCode,
    code: Option<&'static str>,
) -> Row {
    Row {
        caller,
        method,
        path,
        body: None,
        status,
        code,
    }
}

fn json_body(value: Value) -> Option<(&'static str, String)> {
    Some(("application/json", value.to_string()))
}

#[tokio::test]
async fn each_caller_gets_exactly_what_the_gate_table_says() {
    use Caller::*;
    use StatusCode as S;
    let app = TestApp::spawn().await;
    let owner = app.new_principal_key("owner", &["publish"]).await;
    let other = app.new_principal_key("other", &["publish"]).await;
    let reader = app.new_principal_key("reader", &["read"]).await;
    let router = app.new_principal_key("router", &["router"]).await;
    assert_eq!(
        app.publish_yaml(&owner, GITHUB_YAML).await.status(),
        S::CREATED
    );
    let update = Some((
        "application/yaml",
        GITHUB_YAML.replace("version: 1.2.0", "version: 1.3.0"),
    ));
    let deprecate = json_body(json!({"reason": "use 1.3.0"}));
    let rows = vec![
        // Public reads are open; a key that is sent must be a real one.
        row(Anonymous, Method::GET, "/plugins/github", S::OK, None),
        row(
            Anonymous,
            Method::GET,
            "/plugins/search?q=github",
            S::OK,
            None,
        ),
        row(
            UnknownKey,
            Method::GET,
            "/plugins/github",
            S::UNAUTHORIZED,
            Some("unauthenticated"),
        ),
        // Publishing needs a key with the publish scope, and the slug's owner.
        Row {
            body: Some(("application/yaml", plugin_yaml("fresh", "1.0.0"))),
            ..row(
                Anonymous,
                Method::POST,
                "/plugins",
                S::UNAUTHORIZED,
                Some("unauthenticated"),
            )
        },
        Row {
            body: Some(("application/yaml", plugin_yaml("fresh", "1.0.0"))),
            ..row(
                Reader,
                Method::POST,
                "/plugins",
                S::FORBIDDEN,
                Some("missing_scope"),
            )
        },
        Row {
            body: Some(("application/yaml", plugin_yaml("fresh", "1.0.0"))),
            ..row(
                Router,
                Method::POST,
                "/plugins",
                S::FORBIDDEN,
                Some("missing_scope"),
            )
        },
        Row {
            body: update.clone(),
            ..row(
                OtherPublisher,
                Method::PUT,
                "/plugins/github",
                S::FORBIDDEN,
                Some("forbidden"),
            )
        },
        Row {
            body: deprecate.clone(),
            ..row(
                OtherPublisher,
                Method::POST,
                "/plugins/github/1.2.0/deprecate",
                S::FORBIDDEN,
                Some("forbidden"),
            )
        },
        row(
            OtherPublisher,
            Method::DELETE,
            "/plugins/github/1.2.0",
            S::FORBIDDEN,
            Some("forbidden"),
        ),
        Row {
            body: deprecate.clone(),
            ..row(
                Anonymous,
                Method::POST,
                "/plugins/github/1.2.0/deprecate",
                S::UNAUTHORIZED,
                Some("unauthenticated"),
            )
        },
        Row {
            body: update,
            ..row(Owner, Method::PUT, "/plugins/github", S::OK, None)
        },
        Row {
            body: deprecate,
            ..row(
                Owner,
                Method::POST,
                "/plugins/github/1.2.0/deprecate",
                S::OK,
                None,
            )
        },
        // Keys: any live key sees its own; only admins see everyone's.
        row(
            Anonymous,
            Method::GET,
            "/auth/keys",
            S::UNAUTHORIZED,
            Some("unauthenticated"),
        ),
        row(Reader, Method::GET, "/auth/keys", S::OK, None),
        row(Admin, Method::GET, "/auth/keys", S::OK, None),
        // Orgs and permissions are administered with an admin key.
        row(
            OtherPublisher,
            Method::GET,
            "/api/orgs",
            S::FORBIDDEN,
            Some("missing_scope"),
        ),
        row(Admin, Method::GET, "/api/orgs", S::OK, None),
        row(
            Anonymous,
            Method::GET,
            "/api/system/plugins",
            S::UNAUTHORIZED,
            Some("unauthenticated"),
        ),
        // The routing table is for router keys.
        row(
            Anonymous,
            Method::GET,
            "/register/github",
            S::UNAUTHORIZED,
            Some("unauthenticated"),
        ),
        row(
            OtherPublisher,
            Method::GET,
            "/register/github",
            S::FORBIDDEN,
            Some("missing_scope"),
        ),
        row(Router, Method::GET, "/register/github", S::OK, None),
    ];
    let mut wrong = Vec::new();
    for row in rows {
        let key = match row.caller {
            Anonymous => None,
            UnknownKey => Some("sk_00000000000000000000000000000000000000000000000000000000000000"),
            Owner => Some(owner.as_str()),
            OtherPublisher => Some(other.as_str()),
            Reader => Some(reader.as_str()),
            Router => Some(router.as_str()),
            Admin => Some(app.admin_key.as_str()),
        };
        let mut request = app.client.request(row.method.clone(), app.url(row.path));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some((content_type, body)) = &row.body {
            request = request
                .header("content-type", *content_type)
                .body(body.clone());
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let code = body["code"].as_str();
        let expected_code = row.code;
        if status != row.status || (expected_code.is_some() && code != expected_code) {
            wrong.push(format!(
                "{:?} {} {}: expected {} {:?}, got {status} {code:?}",
                row.caller, row.method, row.path, row.status, expected_code
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "gates that answer otherwise:\n{}",
        wrong.join("\n")
    );
}
