//! A real `openworkflow-registry serve` for the tests, on a free loopback port.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const CLI: &str = env!("CARGO_BIN_EXE_openworkflow");

/// The registry binary, built beside this one (`cargo test --workspace` builds it;
/// a `cargo test -p openworkflow` run builds it here).
fn registry_binary() -> PathBuf {
    let path = Path::new(CLI).with_file_name("openworkflow-registry");
    if !path.exists() {
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "-p",
                "openworkflow-registry",
                "--bin",
                "openworkflow-registry",
            ])
            .status()
            .expect("run cargo");
        assert!(status.success(), "building openworkflow-registry failed");
    }
    path
}

pub struct Registry {
    child: Child,
    pub base: String,
    data: PathBuf,
    /// The server's log lines, requests included.
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Registry {
    /// The registry on embedded storage in `data`.
    pub fn start(data: &Path) -> Self {
        Self::start_with(data, &[])
    }

    /// The registry on DynamoDB Local and moto's S3 (as `./scripts/test.sh` starts
    /// them), in a table and bucket of its own, created here.
    pub fn start_on_aws(data: &Path) -> Self {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        assert!(
            std::env::var_os("AWS_ENDPOINT_URL_S3").is_some(),
            "run under ./scripts/aws-local.sh (./scripts/test.sh does)"
        );
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let name = format!("cli-e2e-{}-{n}", std::process::id());
        let envs = [
            ("OPENWORKFLOW_REGISTRY_BACKEND", "aws"),
            ("OPENWORKFLOW_REGISTRY_TABLE", name.as_str()),
            ("OPENWORKFLOW_REGISTRY_BUCKET", name.as_str()),
        ];
        let status = Command::new(registry_binary())
            .arg("init-aws")
            .envs(envs)
            .status()
            .expect("run init-aws");
        assert!(status.success(), "init-aws failed");
        Self::start_with(data, &envs)
    }

    /// The registry on embedded storage in `data`, with `envs` set (its settings).
    pub fn start_with(data: &Path, envs: &[(&str, &str)]) -> Self {
        let mut child = Command::new(registry_binary())
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .envs(envs.iter().copied())
            .env("RUST_LOG", "info,tower_http=debug")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the registry");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let base = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|line| {
                let addr = line.split("local=").nth(1)?.split_whitespace().next()?;
                line.contains("registry listening")
                    .then(|| format!("http://{addr}"))
            })
            .expect("the registry logs its address");
        // Keep draining the log so the server never blocks on a full pipe.
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = std::sync::Arc::clone(&log);
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Self {
            child,
            base,
            data: data.to_owned(),
            log,
        }
    }

    /// Whether a request to `path` was answered with `status`.
    pub fn answered(&self, method: &str, path: &str, status: u16) -> bool {
        let (request, wanted) = (
            format!("method={method} uri={path} "),
            format!("status={status}"),
        );
        self.log
            .lock()
            .unwrap()
            .iter()
            .any(|line| line.contains(&request) && line.contains(&wanted))
    }

    /// Responses logged with `status`, so far.
    pub fn responses_with(&self, status: u16) -> usize {
        let wanted = format!("status={status}");
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|line| line.contains("finished processing request") && line.contains(&wanted))
            .count()
    }

    pub fn admin_key(&self) -> String {
        std::fs::read_to_string(self.data.join("admin.key"))
            .unwrap()
            .trim()
            .to_owned()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A stand-in for a registry whose index is built after the fact (AWS): a
/// publish is accepted without an ETag, and the version's details answer 404
/// for the first `hidden_for` reads. Counts the reads.
pub struct LateIndexRegistry {
    pub base: String,
    pub detail_reads: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl LateIndexRegistry {
    pub fn start(hidden_for: usize) -> Self {
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let detail_reads = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let reads = std::sync::Arc::clone(&detail_reads);
        serve_http(listener, move |request_line| {
            if request_line.starts_with("POST /plugins ") {
                (
                    "201 Created",
                    r#"{"status":"published","slug":"late","version":"1.0.0","url":"x"}"#
                        .to_owned(),
                )
            } else if request_line.starts_with("GET /plugins/late?version=1.0.0 ") {
                if reads.fetch_add(1, Ordering::SeqCst) < hidden_for {
                    (
                        "404 Not Found",
                        r#"{"type":"about:blank","title":"Not Found","status":404,"detail":"no such version","code":"version_not_found"}"#
                            .to_owned(),
                    )
                } else {
                    (
                        "200 OK",
                        r#"{"slug":"late","version":"1.0.0","sha256":"00","schema_url":"x"}"#
                            .to_owned(),
                    )
                }
            } else {
                ("500 Internal Server Error", "{}".to_owned())
            }
        });
        Self { base, detail_reads }
    }
}

/// A bare HTTP/1.1 server on its own thread: each request (its body read and
/// dropped) is answered with the status line and JSON body `answer` gives for its
/// request line, then the connection is closed.
pub fn serve_http(
    listener: std::net::TcpListener,
    answer: impl Fn(&str) -> (&'static str, String) + Send + 'static,
) {
    use std::io::{Read, Write};
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            let head = String::from_utf8_lossy(&head).to_string();
            let length: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap_or(0))
                })
                .unwrap_or(0);
            let mut body = vec![0u8; length];
            let _ = stream.read_exact(&mut body);
            let (status, reply) = answer(head.lines().next().unwrap_or_default());
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                reply.len()
            );
        }
    });
}
