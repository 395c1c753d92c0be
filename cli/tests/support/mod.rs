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
    pub fn start(data: &Path) -> Self {
        let mut child = Command::new(registry_binary())
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
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
