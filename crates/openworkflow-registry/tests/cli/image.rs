//! The container image as its `Containerfile` declares it. No image can be built
//! on the test machine (README, **The container image**), so the binary is run
//! with the image's environment, entrypoint and command, and its HEALTHCHECK is
//! run the same way: what a container would do, minus the container.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};

use super::BIN;

/// What the runtime stage of the `Containerfile` declares.
struct Image {
    env: Vec<(String, String)>,
    entrypoint: Vec<String>,
    cmd: Vec<String>,
    healthcheck: Vec<String>,
}

impl Image {
    /// Reads the last stage of the repository's `Containerfile`.
    fn declared() -> Self {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Containerfile"))
                .unwrap();
        // Instructions, with continued lines joined and comments dropped.
        let mut instructions = Vec::new();
        let mut current = String::new();
        for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
            match line.trim_end().strip_suffix('\\') {
                Some(head) => current.push_str(head),
                None => {
                    current.push_str(line);
                    instructions.push(std::mem::take(&mut current));
                }
            }
        }
        let stage_start = instructions
            .iter()
            .rposition(|i| i.starts_with("FROM "))
            .unwrap();
        let mut image = Self {
            env: Vec::new(),
            entrypoint: Vec::new(),
            cmd: Vec::new(),
            healthcheck: Vec::new(),
        };
        let exec_form = |json: &str| -> Vec<String> { serde_json::from_str(json.trim()).unwrap() };
        for instruction in &instructions[stage_start..] {
            let (keyword, rest) = instruction.split_once(' ').unwrap_or((instruction, ""));
            match keyword {
                "ENV" => image.env.extend(rest.split_whitespace().map(|pair| {
                    let (name, value) = pair.split_once('=').unwrap();
                    (name.to_owned(), value.to_owned())
                })),
                "ENTRYPOINT" => image.entrypoint = exec_form(rest),
                "CMD" => image.cmd = exec_form(rest),
                "HEALTHCHECK" => image.healthcheck = exec_form(rest.split_once("CMD").unwrap().1),
                _ => {}
            }
        }
        image
    }

    fn env(&self, name: &str) -> &str {
        &self.env.iter().find(|(n, _)| n == name).unwrap().1
    }

    /// `argv` with the image's binary replaced by the one under test.
    fn command(&self, argv: &[String], overrides: &[(&str, &str)]) -> Command {
        assert_eq!(
            argv[0], "openworkflow-registry",
            "the image runs the registry"
        );
        let mut command = Command::new(BIN);
        command.args(&argv[1..]);
        for name in super::spec_config::STORAGE_VARIABLES {
            command.env_remove(name);
        }
        command.envs(self.env.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        command.envs(overrides.iter().copied());
        command
    }
}

#[test]
fn the_image_serves_on_every_interface_logs_json_and_its_healthcheck_asks_it() {
    let image = Image::declared();
    assert_eq!(image.env("OPENWORKFLOW_REGISTRY_LISTEN"), "0.0.0.0:8080");
    assert_eq!(image.env("OPENWORKFLOW_REGISTRY_LOG_FORMAT"), "json");
    assert_eq!(image.healthcheck, ["openworkflow-registry", "healthcheck"]);
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_str().unwrap();
    // Loopback and a port of its own, where the image has every interface and 8080.
    let argv: Vec<String> = image.entrypoint.iter().chain(&image.cmd).cloned().collect();
    let mut server = image
        .command(
            &argv,
            &[
                ("OPENWORKFLOW_REGISTRY_LISTEN", "127.0.0.1:0"),
                ("OPENWORKFLOW_REGISTRY_DATA", data_dir),
            ],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = BufReader::new(server.stderr.take().unwrap()).lines();
    let mut local = None;
    for line in log.by_ref() {
        let line = line.unwrap();
        let entry: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {line}"));
        assert!(
            entry["level"].is_string() && entry["timestamp"].is_string(),
            "{line}"
        );
        if entry["fields"]["message"] == "registry listening" {
            local = entry["fields"]["local"].as_str().map(str::to_owned);
            break;
        }
    }
    let local = local.expect("the server logs where it listens");
    let port = local.rsplit_once(':').unwrap().1;
    std::thread::spawn(move || log.for_each(drop));

    // Inside the container the healthcheck sees the image's listen address.
    let in_container = format!("0.0.0.0:{port}");
    let overrides = [("OPENWORKFLOW_REGISTRY_LISTEN", in_container.as_str())];
    for extra in [None, Some("--live")] {
        let argv: Vec<String> = image
            .healthcheck
            .iter()
            .cloned()
            .chain(extra.map(str::to_owned))
            .collect();
        let checked = image.command(&argv, &overrides).output().unwrap();
        let stdout = String::from_utf8_lossy(&checked.stdout);
        assert!(
            checked.status.success(),
            "{extra:?}: {stdout} {}",
            String::from_utf8_lossy(&checked.stderr)
        );
        let answer: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(answer["status"], "ok", "{extra:?}: {stdout}");
    }

    server.kill().unwrap();
    server.wait().unwrap();
    let checked = image
        .command(&image.healthcheck, &overrides)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&checked.stderr);
    assert_eq!(checked.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("could not reach 127.0.0.1:"), "{stderr}");
}

#[test]
fn the_healthcheck_fails_with_what_an_unready_server_says() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let answering = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = [0u8; 1024];
        let read = stream.read(&mut request).unwrap();
        let body = r#"{"status":"unavailable","detail":"the catalog's database does not answer"}"#;
        write!(
            stream,
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/problem+json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        String::from_utf8_lossy(&request[..read]).into_owned()
    });
    let checked = Command::new(BIN)
        .args(["healthcheck", "--listen", &address])
        .output()
        .unwrap();
    let request = answering.join().unwrap();
    assert!(request.starts_with("GET /readyz HTTP/1.1\r\n"), "{request}");
    let stderr = String::from_utf8_lossy(&checked.stderr);
    assert_eq!(checked.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("/readyz answered HTTP/1.1 503 Service Unavailable")
            && stderr.contains("database does not answer"),
        "{stderr}"
    );
}
