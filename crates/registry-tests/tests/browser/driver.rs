//! `Browser`: Debian's headless Chromium, driven over WebDriver by its own
//! chromedriver on a free loopback port, with axe-core injected through the
//! driver for accessibility audits.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator, elements::Element};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

/// How long any one wait in a browser test may take before the test fails.
const WAIT: Duration = Duration::from_secs(20);

/// A chromedriver process and everything it started, stopped on drop.
struct DriverProcess {
    child: Child,
}

impl Drop for DriverProcess {
    fn drop(&mut self) {
        // chromedriver and the Chromium it launched share the process group made
        // at spawn, so a failing test leaves no browser behind.
        if let Some(group) = rustix::process::Pid::from_raw(self.child.id() as i32) {
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        }
        let _ = self.child.wait();
    }
}

/// A headless Chromium session.
pub struct Browser {
    client: Client,
    axe: String,
    _driver: DriverProcess,
}

/// An axe-core rule a page broke, as the audit reports it.
#[derive(Debug, serde::Deserialize)]
#[allow(dead_code)] // Read through `Debug` when an audit fails.
struct Violation {
    id: String,
    impact: Option<String>,
    help: String,
    nodes: Vec<String>,
}

fn required_path(var: &str, what: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is not set: {what}; run ./scripts/test.sh, which installs it and sets {var}")
    })
}

/// How many times a chromedriver that exits before listening is started again:
/// on a loaded machine one occasionally does (seen once in CI, with eight
/// suites' servers alive), and that is not what any browser test checks.
const DRIVER_STARTS: usize = 3;

/// Starts chromedriver on a port it picks and returns it with that port.
fn start_chromedriver() -> (DriverProcess, u16) {
    let mut failures = Vec::new();
    for _ in 0..DRIVER_STARTS {
        match try_start_chromedriver() {
            Ok(started) => return started,
            Err(why) => failures.push(why),
        }
    }
    panic!(
        "chromedriver exited before it said which port it listens on, {DRIVER_STARTS} times:\n{}",
        failures.join("\n")
    );
}

/// One start of chromedriver; why it did not listen, with what it printed to
/// stderr (kept in a file, so a chatty driver never blocks on a full pipe).
fn try_start_chromedriver() -> Result<(DriverProcess, u16), String> {
    let binary = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".to_owned());
    let mut stderr = tempfile::tempfile().expect("a temporary file for chromedriver's stderr");
    let mut child = Command::new(&binary)
        .arg("--port=0")
        .stdout(Stdio::piped())
        .stderr(stderr.try_clone().expect("stderr file"))
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start {binary} ({e}): install Debian's chromium-driver, or run ./scripts/test.sh")
        });
    let stdout = child.stdout.take().expect("chromedriver stdout");
    let mut driver = DriverProcess { child };
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("chromedriver output");
        if let Some(rest) = line.split("started successfully on port ").nth(1) {
            let port = rest
                .trim_end_matches('.')
                .parse()
                .expect("chromedriver port");
            return Ok((driver, port));
        }
    }
    let status = driver.child.wait().map(|s| s.to_string());
    let mut printed = String::new();
    let _ = std::io::Seek::rewind(&mut stderr)
        .and_then(|()| std::io::Read::read_to_string(&mut stderr, &mut printed));
    Err(format!("{status:?}; stderr: {:?}", printed.trim()))
}

/// A command of chromedriver's beyond fantoccini's: a POST to a session path.
#[derive(Debug)]
struct SessionPost {
    path: &'static str,
    body: Value,
}

impl WebDriverCompatibleCommand for SessionPost {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/{}",
            session_id.unwrap_or_default(),
            self.path
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.body.to_string()))
    }
}

impl Browser {
    /// Launches headless Chromium with a fresh profile.
    pub async fn launch() -> Self {
        let axe_path = required_path("AXE_CORE_JS", "the path of axe-core's axe.min.js");
        let axe = std::fs::read_to_string(&axe_path)
            .unwrap_or_else(|e| panic!("cannot read {axe_path}: {e}"));
        let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
        let (driver, port) = start_chromedriver();
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": chromium,
                // Root in a container cannot use Chromium's sandbox; the pages
                // under test are the registry's own, on loopback.
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--window-size=1280,900",
                ],
            },
        });
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities.as_object().expect("object").clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a WebDriver session in headless Chromium");
        client
            .update_timeouts(fantoccini::wd::TimeoutConfiguration::new(
                Some(WAIT),
                Some(WAIT),
                Some(Duration::ZERO),
            ))
            .await
            .expect("timeouts");
        Self {
            client,
            axe,
            _driver: driver,
        }
    }

    /// Ends the session, which also quits Chromium.
    pub async fn close(self) {
        let Self {
            client, _driver, ..
        } = self;
        client.close().await.expect("end the session");
    }

    /// Opens `url` and returns the HTTP status the page arrived with.
    pub async fn open(&self, url: &str) -> u16 {
        self.client.goto(url).await.expect("navigate");
        self.status().await
    }

    /// The HTTP status of the document on screen.
    pub async fn status(&self) -> u16 {
        let status = self
            .script("return performance.getEntriesByType('navigation')[0].responseStatus;")
            .await;
        status.as_u64().expect("a navigation status") as u16
    }

    /// The address on screen.
    pub async fn url(&self) -> url::Url {
        self.client.current_url().await.expect("current url")
    }

    /// Runs `body` as a function in the page and returns what it returns.
    pub async fn script(&self, body: &str) -> Value {
        self.client
            .execute(body, vec![])
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{body}"))
    }

    /// Runs `body`, which must call its last argument with a value, and returns it.
    pub async fn script_async(&self, body: &str) -> Value {
        self.client
            .execute_async(body, vec![])
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{body}"))
    }

    /// The one element `css` selects, waiting for it to appear.
    pub async fn find(&self, css: &str) -> Element {
        match self
            .client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(element) => element,
            Err(e) => panic!("no element matches {css} on {}: {e}", self.here().await),
        }
    }

    /// Every element `css` selects now.
    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        self.client
            .find_all(Locator::Css(css))
            .await
            .expect("find elements")
    }

    /// The first link under `scope` whose text is `text`, waiting for it.
    pub async fn link(&self, scope: &str, text: &str) -> Element {
        let css = format!("{scope} a");
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            for link in self.find_all(&css).await {
                if link.text().await.expect("link text").trim() == text {
                    return link;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no link \"{text}\" under {scope} on {}",
                self.here().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until `script` returns `true` on the page, failing with `what`.
    pub async fn wait_until(&self, what: &str, script: &str) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while self.script(script).await != Value::Bool(true) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{what}: still not so on {}",
                self.here().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the address on screen has `path` as its path and `query` as its query.
    pub async fn wait_for_address(&self, path: &str, query: Option<&str>) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let here = self.url().await;
            if here.path() == path && here.query() == query {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "still on {here}, expected {path}?{query:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Makes the window `width` by `height` CSS pixels, as a phone's would be.
    pub async fn resize(&self, width: u32, height: u32) {
        self.client
            .set_window_size(width, height)
            .await
            .expect("resize the window");
    }

    /// Presses the Tab key, as a keyboard user moving to the next control would.
    pub async fn press_tab(&self) {
        let tab = KeyActions::new("keyboard".to_owned())
            .then(KeyAction::Down {
                value: Key::Tab.into(),
            })
            .then(KeyAction::Up {
                value: Key::Tab.into(),
            });
        self.client.perform_actions(tab).await.expect("press Tab");
    }

    /// Gives the page a permission, as a person clicking "allow" would.
    pub async fn grant(&self, permission: &str) {
        self.client
            .issue_cmd(SessionPost {
                path: "permissions",
                body: json!({"descriptor": {"name": permission}, "state": "granted"}),
            })
            .await
            .unwrap_or_else(|e| panic!("grant {permission}: {e}"));
    }

    /// Makes the page see `prefers-color-scheme: {scheme}`.
    pub async fn prefer_color_scheme(&self, scheme: &str) {
        self.client
            .issue_cmd(SessionPost {
                path: "goog/cdp/execute",
                body: json!({
                    "cmd": "Emulation.setEmulatedMedia",
                    "params": {"features": [{"name": "prefers-color-scheme", "value": scheme}]},
                }),
            })
            .await
            .unwrap_or_else(|e| panic!("emulate {scheme}: {e}"));
        let applied = self
            .script(&format!(
                "return matchMedia('(prefers-color-scheme: {scheme})').matches;"
            ))
            .await;
        assert_eq!(applied, true, "the page does not see the {scheme} scheme");
    }

    /// Runs axe-core on the page on screen, in the light and the dark scheme, and
    /// fails with its findings if any rule is broken.
    pub async fn assert_accessible(&self, what: &str) {
        // Injected through the driver: the pages' CSP forbids any script the
        // registry did not serve, and must stay that way.
        let loaded = self
            .script(&format!("{}\n;return typeof axe;", self.axe))
            .await;
        assert_eq!(loaded, "object", "axe-core did not load on {what}");
        for scheme in ["light", "dark"] {
            self.prefer_color_scheme(scheme).await;
            let found = self
                .script_async(
                    "const done = arguments[arguments.length - 1];
                     axe.run(document, {resultTypes: ['violations']}).then(
                       (r) => done(r.violations.map((v) => ({
                         id: v.id, impact: v.impact, help: v.help,
                         nodes: v.nodes.map((n) => n.html),
                       }))),
                       (e) => done({error: String(e)}));",
                )
                .await;
            let violations: Vec<Violation> = serde_json::from_value(found.clone())
                .unwrap_or_else(|_| panic!("axe-core failed on {what}: {found}"));
            assert!(
                violations.is_empty(),
                "{what} ({scheme} scheme) breaks accessibility rules: {violations:#?}"
            );
        }
        self.prefer_color_scheme("light").await;
    }

    async fn here(&self) -> String {
        self.client
            .current_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_default()
    }
}
