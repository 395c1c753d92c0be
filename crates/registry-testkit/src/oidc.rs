//! The certified OpenID provider (npm's `oidc-provider`, run by
//! `oidc_provider.mjs`) on a free loopback port, and a cookie-keeping HTTP
//! client that signs a person in through it the way a browser would.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Lines, Write};
use std::os::unix::process::CommandExt;
use std::process::{ChildStdin, ChildStdout, Command, Stdio};

use crate::process::ServerProcess;
use reqwest::header::{CONTENT_TYPE, LOCATION, SET_COOKIE};

/// The registry's client id at the provider.
pub const CLIENT_ID: &str = "openworkflow-registry";
/// Its secret.
pub const CLIENT_SECRET: &str = "test-suite-client-secret";

/// The provider's node process, killed on drop.
pub struct CertifiedProvider {
    /// Its issuer URL.
    pub issuer: String,
    // Held for its drop, which ends the provider.
    _process: ServerProcess,
    stdin: Option<ChildStdin>,
    lines: Option<Lines<BufReader<ChildStdout>>>,
    log: tempfile::NamedTempFile,
}

impl CertifiedProvider {
    /// Starts the provider on a free loopback port; it serves once told the
    /// registry's callback URL ([`Self::serve_for`]).
    pub fn start() -> Self {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/oidc_provider.mjs");
        let node = std::env::var("NODE").unwrap_or_else(|_| "node".to_owned());
        // Its warnings (development keys, in-memory storage) would clutter the
        // test output; they are kept in a file and shown if it fails.
        let log = tempfile::NamedTempFile::new().expect("log file");
        let mut child = Command::new(&node)
            .arg(script)
            .args([CLIENT_ID, CLIENT_SECRET])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log.reopen().expect("log file"))
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {node} ({e}): install Node.js, or run ./scripts/test.sh")
            });
        let lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let stdin = child.stdin.take();
        let mut provider = Self {
            issuer: String::new(),
            _process: ServerProcess(child),
            stdin,
            lines: Some(lines),
            log,
        };
        let first = provider.next_line("saying its port");
        let port = first
            .strip_prefix("listening ")
            .unwrap_or_else(|| panic!("oidc-provider said {first:?}, not its port"));
        provider.issuer = format!("http://127.0.0.1:{port}");
        provider
    }

    fn next_line(&mut self, what: &str) -> String {
        let next = self.lines.as_mut().and_then(Iterator::next);
        match next {
            Some(line) => line.expect("oidc-provider output"),
            None => {
                let said = std::fs::read_to_string(self.log.path()).unwrap_or_default();
                panic!("oidc-provider exited before {what}; it said:\n{said}")
            }
        }
    }

    /// Registers the registry whose callback is `callback_url` and waits until
    /// the provider serves.
    pub fn serve_for(&mut self, callback_url: &str) {
        let mut stdin = self.stdin.take().expect("told once");
        writeln!(stdin, "{callback_url}").expect("tell the callback URL");
        let ready = self.next_line("being ready");
        assert_eq!(ready, "ready", "oidc-provider did not start");
        // Keep reading what it prints: with its stdout closed, its next line
        // would end it (EPIPE) in the middle of a sign-in.
        if let Some(lines) = self.lines.take() {
            std::thread::spawn(move || lines.for_each(drop));
        }
    }
}

/// An HTTP client that keeps each origin's cookies and follows no redirect: a
/// browser, as far as the registry and the provider can tell.
pub struct CookieClient {
    client: reqwest::Client,
    jars: HashMap<String, HashMap<String, String>>,
}

impl Default for CookieClient {
    fn default() -> Self {
        Self::new()
    }
}

impl CookieClient {
    /// A client with no cookies.
    pub fn new() -> Self {
        Self {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            jars: HashMap::new(),
        }
    }

    async fn send(
        &mut self,
        request: reqwest::RequestBuilder,
        url: &url::Url,
    ) -> reqwest::Response {
        let jar = self
            .jars
            .entry(url.origin().ascii_serialization())
            .or_default();
        let cookie = jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let response = request
            .header("cookie", cookie)
            .send()
            .await
            .unwrap_or_else(|e| panic!("request to {url}: {e}"));
        for value in response.headers().get_all(SET_COOKIE) {
            let text = value.to_str().expect("cookie text");
            let pair = text.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                if text.contains("Max-Age=0") {
                    jar.remove(name);
                } else {
                    jar.insert(name.to_owned(), value.to_owned());
                }
            }
        }
        response
    }

    /// A GET with this client's cookies.
    pub async fn get(&mut self, url: &url::Url) -> reqwest::Response {
        let request = self.client.get(url.clone());
        self.send(request, url).await
    }

    /// A form POST with this client's cookies.
    pub async fn post_form(
        &mut self,
        url: &url::Url,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let request = self
            .client
            .post(url.clone())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body);
        self.send(request, url).await
    }

    /// Starts a sign-in at the registry at `base` and walks the provider's
    /// development sign-in as `login`; returns the callback URL the provider
    /// sends the browser back to, not yet visited.
    pub async fn sign_in_at_provider(&mut self, base: &str, login: &str) -> url::Url {
        let callback = format!("{base}/auth/callback/oidc");
        let mut at = url::Url::parse(&format!("{base}/auth/login/oidc")).expect("url");
        for _ in 0..12 {
            let response = self.get(&at).await;
            let next = if response.status().is_redirection() {
                at.join(location(&response)).expect("location")
            } else {
                assert_eq!(response.status(), reqwest::StatusCode::OK, "at {at}");
                let page = response.text().await.expect("page");
                let prompt = if page.contains("value=\"consent\"") {
                    "consent"
                } else {
                    "login"
                };
                let target = at.join(&form_action(&page)).expect("form action");
                let answer = self
                    .post_form(
                        &target,
                        &[
                            ("prompt", prompt),
                            ("login", login),
                            ("password", "anything"),
                        ],
                    )
                    .await;
                assert!(answer.status().is_redirection(), "posting to {target}");
                target.join(location(&answer)).expect("location")
            };
            if next.as_str().starts_with(&callback) {
                return next;
            }
            at = next;
        }
        panic!("the provider never sent the browser back to the registry");
    }

    /// Signs in at the registry at `base` as `login`, all the way: afterwards
    /// this client holds a session.
    pub async fn sign_in(&mut self, base: &str, login: &str) {
        let callback = self.sign_in_at_provider(base, login).await;
        let answer = self.get(&callback).await;
        assert_eq!(
            answer.status(),
            reqwest::StatusCode::SEE_OTHER,
            "the callback signs in"
        );
    }
}

fn location(response: &reqwest::Response) -> &str {
    response.headers()[LOCATION]
        .to_str()
        .expect("location text")
}

/// The action of the first form on `page`.
pub fn form_action(page: &str) -> String {
    let start = page.find("action=\"").expect("a form") + "action=\"".len();
    let end = page[start..].find('"').expect("end of the action") + start;
    page[start..end].replace("&amp;", "&")
}

/// The value of the first hidden `csrf` field on `page`.
pub fn csrf_token(page: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = page.find(marker).expect("a form with a csrf token") + marker.len();
    let end = page[start..].find('"').expect("end of the token") + start;
    page[start..end].to_owned()
}
