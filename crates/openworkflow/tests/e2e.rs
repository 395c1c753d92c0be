//! The real `openworkflow` binary against a real `openworkflow-registry serve`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

mod support;

use support::Registry;

use registry_testkit::TestPlugin;

const CLI: &str = env!("CARGO_BIN_EXE_openworkflow");

/// A user's machine: its own HOME (config, installed plugins, cache) and project
/// directory, and the registry in OPENWORKFLOW_REGISTRY_URL.
struct User {
    home: tempfile::TempDir,
    project: tempfile::TempDir,
    registry: String,
    key: Option<String>,
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn of(output: Output) -> Self {
        Self {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }

    #[track_caller]
    fn ok(self) -> Self {
        assert_eq!(
            self.code, 0,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    fn fails_with(self, code: i32) -> Self {
        assert_eq!(
            self.code, code,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {}", self.stdout))
    }
}

impl User {
    fn new(registry: &Registry) -> Self {
        Self {
            home: tempfile::tempdir().unwrap(),
            project: tempfile::tempdir().unwrap(),
            registry: registry.base.clone(),
            key: None,
        }
    }

    /// A user holding the registry's admin key.
    fn admin(registry: &Registry) -> Self {
        Self {
            key: Some(registry.admin_key()),
            ..Self::new(registry)
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(CLI);
        command
            .args(args)
            .current_dir(self.project.path())
            .env_clear()
            .env("HOME", self.home.path())
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("OPENWORKFLOW_REGISTRY_URL", &self.registry);
        if let Some(key) = &self.key {
            command.env("OPENWORKFLOW_REGISTRY_API_KEY", key);
        }
        command
    }

    fn run(&self, args: &[&str]) -> Run {
        Run::of(self.command(args).output().unwrap())
    }

    fn write(&self, name: &str, text: &str) -> String {
        let path = self.project.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        name.to_owned()
    }

    fn installed_dir(&self) -> PathBuf {
        self.home.path().join(".local/share/openworkflow/plugins")
    }
}

fn plugin_yaml(slug: &str, version: &str) -> String {
    TestPlugin::new(slug, version)
        .name(&format!("{slug} tool"))
        .description(&format!("Forecasts for {slug}"))
        .author("Example Org")
        .license("MIT")
        .tags(&["forecast", slug])
        .action("get_forecast", "The forecast")
        .yaml()
}

#[test]
fn an_author_publishes_from_ci_and_a_user_installs() {
    let data = tempfile::tempdir().unwrap();
    let registry = Registry::start(data.path());
    let mut author = User::new(&registry);

    // Validation runs locally and lists every problem with its field.
    let good = author.write("weather.yaml", &plugin_yaml("weather", "1.0.0"));
    let run = author.run(&["plugin", "validate", &good]).ok();
    assert!(
        run.stdout.contains("is valid: weather 1.0.0"),
        "{}",
        run.stdout
    );
    let bad = author.write("bad.yaml", "slug: Bad Slug\nversion: one\n");
    let run = author.run(&["plugin", "validate", &bad]).fails_with(1);
    for field in ["slug", "version", "actions", "license"] {
        assert!(
            run.stderr.contains(&format!("  - {field}:")),
            "{field} missing from:\n{}",
            run.stderr
        );
    }

    // No key: refused before anything is sent.
    let run = author.run(&["plugin", "publish", &good]).fails_with(3);
    assert!(
        run.stderr.contains("OPENWORKFLOW_REGISTRY_API_KEY"),
        "{}",
        run.stderr
    );

    // An admin creates a CI key; the author stores it with `auth login`.
    author.key = Some(registry.admin_key());
    let run = author
        .run(&["auth", "create-key", "--name", "CI/CD Pipeline"])
        .ok();
    let ci_key = run.stdout.trim().to_owned();
    assert!(ci_key.starts_with("sk_"), "{}", run.stdout);
    let limited = author
        .run(&[
            "auth",
            "create-key",
            "--name",
            "weather only",
            "--plugin",
            "weather",
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(limited["plugins"], serde_json::json!(["weather"]));
    let listing = author.run(&["auth", "list-keys"]).ok();
    assert!(
        listing
            .stdout
            .contains("weather only  [publish]  only weather"),
        "{}",
        listing.stdout
    );
    author.key = None;
    let run = author
        .run(&["auth", "login", "--key", "sk_not_a_real_key"])
        .fails_with(3);
    assert!(run.stderr.contains("not authenticated"), "{}", run.stderr);
    let config = author.home.path().join(".config/openworkflow/config.toml");
    assert!(!config.exists(), "a rejected key is not stored");
    let mut login = author.command(&["auth", "login", "--key-stdin"]);
    let mut child = login
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(
        &mut child.stdin.take().unwrap(),
        format!("{ci_key}\n").as_bytes(),
    )
    .unwrap();
    let run = Run::of(child.wait_with_output().unwrap()).ok();
    assert!(
        !run.stdout.contains(&ci_key),
        "the key is never echoed: {}",
        run.stdout
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&config).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    assert!(std::fs::read_to_string(&config).unwrap().contains(&ci_key));

    // A dry run sends nothing.
    let run = author.run(&["plugin", "publish", &good, "--dry-run"]).ok();
    assert!(run.stdout.contains("Nothing was sent"), "{}", run.stdout);
    assert!(run.stdout.contains("with your API key"), "{}", run.stdout);
    author.run(&["plugin", "install", "weather"]).fails_with(4);

    // Publish with the stored key; the second time the version is taken.
    let run = author.run(&["plugin", "publish", &good]).ok();
    assert!(
        run.stdout
            .contains(&format!("Published weather 1.0.0 to {}", registry.base)),
        "{}",
        run.stdout
    );
    let run = author.run(&["plugin", "publish", &good]).fails_with(5);
    assert!(run.stderr.contains("raise `version`"), "{}", run.stderr);
    let older = author.write("older.yaml", &plugin_yaml("weather", "0.9.0"));
    let run = author
        .run(&["plugin", "publish", &older, "--update"])
        .fails_with(5);
    assert!(
        run.stderr.contains("greater than the latest"),
        "{}",
        run.stderr
    );
    let next = author.write("weather.yaml", &plugin_yaml("weather", "1.1.0"));
    let run = author
        .run(&["plugin", "publish", &next, "--update", "--json"])
        .ok();
    let answer = run.json();
    assert_eq!(answer["previous_version"], "1.0.0");
    assert_eq!(answer["visible"], true);

    // A wrong key is refused, and says how to fix it.
    let mut intruder = User::new(&registry);
    intruder.key = Some("sk_wrong".to_owned());
    let third = intruder.write("w.yaml", &plugin_yaml("weather", "1.2.0"));
    let run = intruder
        .run(&["plugin", "publish", &third, "--update"])
        .fails_with(3);
    assert!(
        run.stderr
            .contains("hint: set OPENWORKFLOW_REGISTRY_API_KEY"),
        "{}",
        run.stderr
    );

    // A user installs, saves into the project, lists and verifies.
    let user = User::new(&registry);
    let run = user.run(&["plugin", "install", "weather", "--save"]).ok();
    assert!(
        run.stdout.contains("Installed weather 1.1.0"),
        "{}",
        run.stdout
    );
    assert_eq!(
        std::fs::read_to_string(user.project.path().join("plugins/weather.yaml")).unwrap(),
        plugin_yaml("weather", "1.1.0"),
        "--save writes the document exactly as published"
    );
    user.run(&["plugin", "install", "weather@1.0.0"]).ok();
    user.write(
        "plugins/local-tool.yaml",
        &plugin_yaml("local-tool", "0.1.0"),
    );
    let run = user.run(&["plugin", "list"]).ok();
    assert_eq!(
        run.stdout,
        format!(
            "local-tool 0.1.0 local\nweather 1.0.0 {0}\nweather 1.1.0 {0}\n",
            registry.base
        )
    );
    let run = user.run(&["plugin", "verify", "weather@1.1.0"]).ok();
    assert!(
        run.stdout.starts_with("✓ Checksum verified: "),
        "{}",
        run.stdout
    );
    let installed = user.installed_dir().join("weather/1.1.0/plugin.yaml");
    std::fs::write(
        &installed,
        plugin_yaml("weather", "1.1.0").replace("MIT", "GPL"),
    )
    .unwrap();
    let run = user
        .run(&["plugin", "verify", "weather@1.1.0"])
        .fails_with(7);
    assert!(run.stderr.contains("checksum mismatch"), "{}", run.stderr);

    // Search, then deprecation warnings that name the replacement.
    let run = user.run(&["plugin", "search", "forecast", "--json"]).ok();
    assert_eq!(run.json()["results"][0]["slug"], "weather");
    author
        .run(&[
            "plugin",
            "deprecate",
            "weather@1.0.0",
            "--reason",
            "uses the retired API",
            "--replacement",
            "1.1.0",
        ])
        .ok();
    let run = user.run(&["plugin", "install", "weather@1.0.0"]).ok();
    assert!(
        run.stderr.contains(
            "warning: weather 1.0.0 is deprecated: uses the retired API; use 1.1.0 instead"
        ),
        "{}",
        run.stderr
    );

    // Unpublish within 72 hours; the version is then gone.
    author.run(&["plugin", "unpublish", "weather@1.1.0"]).ok();
    let run = user
        .run(&["plugin", "install", "weather@1.1.0", "--json"])
        .fails_with(4);
    assert_eq!(
        run.json()["error"]["problem"]["code"],
        "version_unpublished"
    );
    user.run(&["plugin", "install", "no-such-plugin"])
        .fails_with(4);
}

/// What a person and a script see of an invalid plugin, exactly: every problem
/// with its field, on stderr for people and as one JSON document for scripts.
#[test]
fn an_invalid_plugin_reads_the_same_to_people_and_scripts() {
    let user = User {
        home: tempfile::tempdir().unwrap(),
        project: tempfile::tempdir().unwrap(),
        // Validation is local: nothing listens here and nothing is sent.
        registry: "http://127.0.0.1:9".to_owned(),
        key: None,
    };
    let bad = user.write("bad.yaml", "slug: Bad Slug\nversion: one\nname: Weather\n");
    let human = user.run(&["plugin", "validate", &bad]).fails_with(1);
    assert_eq!(human.stdout, "");
    insta::assert_snapshot!(human.stderr, @r"
    error: bad.yaml is not a valid plugin (10 problems)
      - slug: may contain only lowercase letters, digits and '-' (found 'B')
      - version: must be a semantic version like 1.2.0 (unexpected character 'o' while parsing major version number)
      - description: is required
      - author: is required
      - homepage: is required
      - repository: is required
      - icon: is required
      - license: is required
      - tags: is required
      - actions: is required
    ");
    let script = user
        .run(&["--json", "plugin", "validate", &bad])
        .fails_with(1);
    insta::assert_json_snapshot!(script.json(), @r#"
    {
      "error": {
        "errors": [
          {
            "field": "slug",
            "message": "may contain only lowercase letters, digits and '-' (found 'B')"
          },
          {
            "field": "version",
            "message": "must be a semantic version like 1.2.0 (unexpected character 'o' while parsing major version number)"
          },
          {
            "field": "description",
            "message": "is required"
          },
          {
            "field": "author",
            "message": "is required"
          },
          {
            "field": "homepage",
            "message": "is required"
          },
          {
            "field": "repository",
            "message": "is required"
          },
          {
            "field": "icon",
            "message": "is required"
          },
          {
            "field": "license",
            "message": "is required"
          },
          {
            "field": "tags",
            "message": "is required"
          },
          {
            "field": "actions",
            "message": "is required"
          }
        ],
        "exit_code": 1,
        "hint": null,
        "message": "bad.yaml is not a valid plugin (10 problems)",
        "problem": null
      }
    }
    "#);
}

#[test]
fn the_registry_flag_beats_the_environment_and_a_dead_registry_is_reported() {
    let data = tempfile::tempdir().unwrap();
    let registry = Registry::start(data.path());
    let mut user = User::new(&registry);
    // A port nothing listens on: bind, note it, close it.
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    user.registry = dead.clone();
    let run = user
        .run(&["plugin", "search", "x", "--registry", &registry.base])
        .ok();
    assert!(run.stdout.contains("(0 of 0 matches)"), "{}", run.stdout);
    let run = user.run(&["plugin", "search", "x"]).fails_with(6);
    assert!(
        run.stderr.contains("could not reach the registry"),
        "{}",
        run.stderr
    );
    let run = user
        .run(&["plugin", "search", "x", "--registry", "ftp://nope"])
        .fails_with(2);
    assert!(run.stderr.contains("http:// or https://"), "{}", run.stderr);
}

#[test]
fn downloads_are_revalidated_by_etag_and_a_damaged_cache_is_refetched() {
    let data = tempfile::tempdir().unwrap();
    let registry = Registry::start(data.path());
    let author = User::admin(&registry);
    let doc = author.write("tide.yaml", &plugin_yaml("tide", "2.0.0"));
    author.run(&["plugin", "publish", &doc]).ok();

    let user = User::new(&registry);
    user.run(&["plugin", "install", "tide@2.0.0"]).ok();
    let before = registry.responses_with(304);
    user.run(&["plugin", "install", "tide@2.0.0"]).ok();
    // The logger runs on another thread: give it a moment to see the lines.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while registry.responses_with(304) < before + 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(
        registry.responses_with(304) - before,
        2,
        "details and schema both answered 304 Not Modified"
    );

    // A damaged cached schema fails its checksum, is fetched again, and repaired.
    let cache = user.home.path().join(".cache/openworkflow/http");
    let cached_schema = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.extension().is_some_and(|e| e == "body")
                && std::fs::read_to_string(p).is_ok_and(|t| t.starts_with("slug: tide"))
        })
        .expect("the schema is cached");
    std::fs::write(&cached_schema, "slug: tampered\n").unwrap();
    user.run(&["plugin", "install", "tide@2.0.0"]).ok();
    assert_eq!(
        std::fs::read_to_string(&cached_schema).unwrap(),
        plugin_yaml("tide", "2.0.0")
    );
}

/// Runs the real `gpg` in `home` (a throwaway GNUPGHOME), feeding `stdin`.
fn gpg(home: &Path, args: &[&str], stdin: &[u8]) -> Vec<u8> {
    let mut child = Command::new("gpg")
        .arg("--homedir")
        .arg(home)
        .args([
            "--batch",
            "--yes",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
        ])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("gpg is installed (scripts/test.sh installs Debian's gnupg)");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), stdin).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "gpg {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// A new signing key in `home`; returns its fingerprint.
fn gpg_key(home: &Path, who: &str) -> String {
    gpg(
        home,
        &[
            "--quick-gen-key",
            &format!("{who} <{who}@example.com>"),
            "ed25519",
            "sign",
            "never",
        ],
        b"",
    );
    let listing =
        String::from_utf8(gpg(home, &["--with-colons", "--list-keys", who], b"")).unwrap();
    listing
        .lines()
        .find_map(|l| {
            l.strip_prefix("fpr:")
                .map(|r| r.trim_matches(':').to_owned())
        })
        .expect("a fingerprint")
}

/// `yaml` with a `signature` block holding `armored`.
fn with_signature(yaml: &str, key_id: &str, armored: &str) -> String {
    let indented: String = armored.lines().map(|l| format!("    {l}\n")).collect();
    format!("{yaml}signature:\n  type: gpg\n  key_id: \"{key_id}\"\n  signature: |\n{indented}")
}

#[test]
fn gpg_signatures_made_with_the_real_gpg_verify_and_tampering_is_caught() {
    let data = tempfile::tempdir().unwrap();
    let registry = Registry::start(data.path());
    let author = User::admin(&registry);
    let gnupg = tempfile::tempdir().unwrap();
    let fingerprint = gpg_key(gnupg.path(), "author");
    let key_id = format!("0x{}", &fingerprint[fingerprint.len() - 16..]);

    // Sign the canonical form the CLI prints, as the README tells authors to.
    let unsigned = author.write("signed.yaml", &plugin_yaml("signed", "1.0.0"));
    let canonical = author
        .command(&["plugin", "canonical", &unsigned])
        .output()
        .unwrap();
    assert!(canonical.status.success());
    assert!(
        canonical.stdout.starts_with(b"{\"actions\":["),
        "{:?}",
        String::from_utf8_lossy(&canonical.stdout)
    );
    let armored = String::from_utf8(gpg(
        gnupg.path(),
        &["--detach-sign", "--armor", "--local-user", &fingerprint],
        &canonical.stdout,
    ))
    .unwrap();
    let signed_yaml = with_signature(&plugin_yaml("signed", "1.0.0"), &key_id, &armored);
    let signed = author.write("signed.yaml", &signed_yaml);
    // Signing leaves the canonical form unchanged: the signature block is not in it.
    let again = author
        .command(&["plugin", "canonical", &signed])
        .output()
        .unwrap();
    assert_eq!(again.stdout, canonical.stdout);
    author.run(&["plugin", "publish", &signed]).ok();
    let keyring = author.write(
        "keyring.asc",
        &String::from_utf8(gpg(
            gnupg.path(),
            &["--export", "--armor", &fingerprint],
            b"",
        ))
        .unwrap(),
    );

    let user = User::new(&registry);
    let keyring_path = author.project.path().join(&keyring);
    let keyring_arg = keyring_path.to_str().unwrap();
    user.run(&["plugin", "install", "signed"]).ok();
    let run = user
        .run(&[
            "plugin",
            "verify",
            "signed@1.0.0",
            "--check-signature",
            "--keyring",
            keyring_arg,
        ])
        .ok();
    assert!(
        run.stdout.contains(&format!(
            "✓ Signature verified: key {fingerprint} ({key_id})"
        )),
        "{}",
        run.stdout
    );

    // A document changed after signing (the signature block kept) is refused.
    let tampered = author.write(
        "tampered.yaml",
        &with_signature(
            &plugin_yaml("signed", "1.0.1").replace("Forecasts for", "Now also mines coins for"),
            &key_id,
            &armored,
        ),
    );
    author
        .run(&["plugin", "publish", &tampered, "--update"])
        .ok();
    let run = user
        .run(&[
            "plugin",
            "verify",
            "signed@1.0.1",
            "--check-signature",
            "--keyring",
            keyring_arg,
        ])
        .fails_with(7);
    assert!(run.stderr.contains("does not verify"), "{}", run.stderr);

    // The right document, but a keyring holding only someone else's key.
    let other_home = tempfile::tempdir().unwrap();
    let other = gpg_key(other_home.path(), "someone-else");
    let other_keyring = user.write(
        "other.asc",
        &String::from_utf8(gpg(
            other_home.path(),
            &["--export", "--armor", &other],
            b"",
        ))
        .unwrap(),
    );
    let other_path = user.project.path().join(&other_keyring);
    let run = user
        .run(&[
            "plugin",
            "verify",
            "signed@1.0.0",
            "--check-signature",
            "--keyring",
            other_path.to_str().unwrap(),
        ])
        .fails_with(7);
    assert!(run.stderr.contains("does not verify"), "{}", run.stderr);

    // No keyring where the default says: told how to make one.
    let run = user
        .run(&["plugin", "verify", "signed@1.0.0", "--check-signature"])
        .fails_with(1);
    assert!(
        run.stderr.contains("gpg --export --armor"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_plugin_directory_is_published_as_a_bundle_and_installed_with_it() {
    let data = tempfile::tempdir().unwrap();
    let registry = Registry::start(data.path());
    let author = User::admin(&registry);
    author.write("tool/plugin.yaml", &plugin_yaml("bundled", "1.0.0"));
    author.write("tool/lib/run.py", "print('forecast')\n");
    author.write("tool/.env", "SECRET=never-shipped\n");
    author.run(&["plugin", "validate", "tool"]).ok();
    let run = author.run(&["plugin", "publish", "tool", "--json"]).ok();
    assert_eq!(run.json()["version"], "1.0.0");

    let user = User::new(&registry);
    user.run(&["plugin", "install", "bundled"]).ok();
    let bundle = std::fs::read(user.installed_dir().join("bundled/1.0.0/bundle.zip")).unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bundle)).unwrap();
    let mut names: Vec<String> = archive
        .file_names()
        .map(|n| n.unwrap().into_owned())
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["lib/run.py", "plugin.yaml"],
        "hidden files stay out"
    );
    let mut script = String::new();
    std::io::Read::read_to_string(&mut archive.by_name("lib/run.py").unwrap(), &mut script)
        .unwrap();
    assert_eq!(script, "print('forecast')\n");
    user.run(&["plugin", "verify", "bundled@1.0.0"]).ok();

    // A broken bundle is refused locally, before anything is sent.
    author.write("broken/lib/run.py", "print(1)\n");
    let run = author.run(&["plugin", "publish", "broken"]).fails_with(1);
    assert!(run.stderr.contains("plugin.yaml"), "{}", run.stderr);
}

#[test]
fn verify_checks_the_signed_index_chain_and_pins_its_key() {
    let data = tempfile::tempdir().unwrap();
    let registry = Registry::start(data.path());
    let author = User::admin(&registry);
    let doc = author.write("tide.yaml", &plugin_yaml("tide", "1.0.0"));
    author.run(&["plugin", "publish", &doc]).ok();

    let user = User::new(&registry);
    let run = user.run(&["plugin", "verify", "tide@1.0.0"]).ok();
    assert!(
        run.stdout.contains("✓ Index verified: signed snapshot of "),
        "{}",
        run.stdout
    );
    let config_path = user.home.path().join(".config/openworkflow/config.toml");
    let pinned = std::fs::read_to_string(&config_path).unwrap();
    assert!(pinned.contains("[index_keys]"), "{pinned}");

    // Another key pinned for this registry: the chain is refused.
    let other = registry_index::IndexSigningKey::from_seed([7; 32])
        .public_key()
        .info()
        .public_key;
    let registry_key = pinned
        .lines()
        .skip_while(|l| !l.starts_with("[index_keys]"))
        .nth(1)
        .and_then(|l| l.split('"').nth(3))
        .unwrap()
        .to_owned();
    std::fs::write(&config_path, pinned.replace(&registry_key, &other)).unwrap();
    let run = user.run(&["plugin", "verify", "tide@1.0.0"]).fails_with(7);
    assert!(run.stderr.contains("index key changed"), "{}", run.stderr);
    std::fs::write(&config_path, &pinned).unwrap();

    // The version bin listing the schema, altered on the server, no longer
    // matches the hash the plugin's signed bin gives it.
    let list = data.path().join("index/snapshot/plugins/tide/1-0-0.json");
    let text = std::fs::read_to_string(&list).unwrap();
    assert!(text.contains("plugins/tide/1.0.0/schema"), "{text}");
    std::fs::write(
        &list,
        text.replace("plugins/tide/1.0.0/schema", "plugins/tide/1.0.0/schemb"),
    )
    .unwrap();
    let run = user.run(&["plugin", "verify", "tide@1.0.0"]).fails_with(7);
    assert!(
        run.stderr.contains("index verification failed"),
        "{}",
        run.stderr
    );
}

#[test]
fn publish_waits_until_an_index_built_after_the_fact_shows_the_version() {
    use std::sync::atomic::Ordering;
    let late = support::LateIndexRegistry::start(2);
    let author = User {
        home: tempfile::tempdir().unwrap(),
        project: tempfile::tempdir().unwrap(),
        registry: late.base.clone(),
        key: Some("sk_ci".to_owned()),
    };
    let doc = author.write("late.yaml", &plugin_yaml("late", "1.0.0"));
    let run = author.run(&["plugin", "publish", &doc]).ok();
    assert!(
        run.stdout.contains("Published late 1.0.0"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr
            .contains("Waiting for late 1.0.0 to become visible"),
        "{}",
        run.stderr
    );
    assert_eq!(
        late.detail_reads.load(Ordering::SeqCst),
        3,
        "two misses, then seen"
    );

    let run = author
        .run(&["plugin", "publish", &doc, "--no-wait", "--quiet"])
        .ok();
    assert_eq!(run.stdout, "", "--quiet prints nothing on success");
    assert_eq!(
        late.detail_reads.load(Ordering::SeqCst),
        3,
        "--no-wait does not poll"
    );

    let never = support::LateIndexRegistry::start(usize::MAX);
    let mut impatient = author;
    impatient.registry = never.base.clone();
    let run = impatient
        .run(&["plugin", "publish", &doc, "--wait-timeout", "0"])
        .fails_with(6);
    assert!(
        run.stderr.contains("is not visible after 0 s"),
        "{}",
        run.stderr
    );
}

#[test]
fn completions_are_printed_for_the_shell_asked() {
    let registry_less = User {
        home: tempfile::tempdir().unwrap(),
        project: tempfile::tempdir().unwrap(),
        registry: "http://127.0.0.1:9".to_owned(),
        key: None,
    };
    let run = registry_less.run(&["completions", "bash"]).ok();
    assert!(run.stdout.contains("_openworkflow()"), "{}", run.stdout);
    assert!(run.stdout.contains("install"), "{}", run.stdout);
    registry_less
        .run(&["completions", "nushell-or-so"])
        .fails_with(2);
}

#[test]
fn bundles_go_through_presigned_uploads_where_the_registry_offers_them() {
    let data = tempfile::tempdir().unwrap();
    let registry = Registry::start_on_aws(data.path());
    let author = User::admin(&registry);
    author.write("tool/plugin.yaml", &plugin_yaml("uploaded", "1.0.0"));
    author.write("tool/lib/run.py", "print('uploaded')\n");
    author.run(&["plugin", "publish", "tool"]).ok();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !registry.answered("POST", "/uploads", 201) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        registry.answered("POST", "/uploads", 201),
        "the bundle went through POST /uploads and a presigned PUT"
    );

    let user = User::new(&registry);
    user.run(&["plugin", "install", "uploaded"]).ok();
    let bundle = std::fs::read(user.installed_dir().join("uploaded/1.0.0/bundle.zip")).unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bundle)).unwrap();
    let mut script = String::new();
    std::io::Read::read_to_string(&mut archive.by_name("lib/run.py").unwrap(), &mut script)
        .unwrap();
    assert_eq!(script, "print('uploaded')\n");
}

/// A plugin instance's health endpoint on loopback: answers the spec's health JSON
/// for `version`, or HTTP 503 once `failing` is set.
fn health_endpoint(version: &'static str, failing: Arc<AtomicBool>) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/health", listener.local_addr().unwrap());
    support::serve_http(listener, move |_| {
        if failing.load(Ordering::SeqCst) {
            ("503 Service Unavailable", "{}".to_owned())
        } else {
            (
                "200 OK",
                format!(r#"{{"status":"ok","version":"{version}","checks":{{"db":"ok"}}}}"#),
            )
        }
    });
    url
}

/// Polls `router table` until `done` holds, for up to 30 s.
#[track_caller]
fn table_until(user: &User, slug: &str, done: impl Fn(&serde_json::Value) -> bool) -> Run {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let run = user.run(&["router", "table", slug, "--json"]).ok();
        if done(&run.json()) {
            return run;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the routing table never got there: {}",
            run.stdout
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn a_plugin_instance_registers_is_health_checked_and_deregisters() {
    let data = tempfile::tempdir().unwrap();
    let registry = Registry::start_with(
        data.path(),
        &[
            ("OPENWORKFLOW_REGISTRY_ALLOW_LOOPBACK_TARGETS", "1"),
            ("OPENWORKFLOW_REGISTRY_HEALTH_INTERVAL_SECS", "1"),
            ("OPENWORKFLOW_REGISTRY_HEALTH_FAILURES", "100"),
        ],
    );
    let mut admin = User::admin(&registry);
    let plugin = admin.write("weather.yaml", &plugin_yaml("weather", "1.0.0"));
    admin.run(&["plugin", "publish", &plugin]).ok();
    let router_key = admin
        .run(&[
            "auth",
            "create-key",
            "--name",
            "router",
            "--scope",
            "router",
        ])
        .ok()
        .stdout
        .trim()
        .to_owned();
    let failing = Arc::new(AtomicBool::new(false));
    let health = health_endpoint("1.0.0", Arc::clone(&failing));
    let register = |user: &User, action: &str| {
        user.run(&[
            "router",
            "register",
            "weather@1.0.0",
            "--instance-id",
            "eu-1",
            "--url",
            "http://127.0.0.1:9/mcp",
            "--health-check-url",
            &health,
            "--action",
            action,
            "--region",
            "eu-west-1",
        ])
    };

    // A publish key is refused, with a hint naming the scope to ask for.
    let publisher_key = admin
        .run(&["auth", "create-key", "--name", "ci"])
        .ok()
        .stdout
        .trim()
        .to_owned();
    let publisher = User {
        key: Some(publisher_key),
        ..User::new(&registry)
    };
    let run = register(&publisher, "get_forecast").fails_with(3);
    assert!(run.stderr.contains("'router' scope"), "{}", run.stderr);
    assert!(run.stderr.contains("--scope"), "{}", run.stderr);

    // The registry checks the action against the version, field by field.
    let instance = User {
        key: Some(router_key),
        ..User::new(&registry)
    };
    let run = register(&instance, "no_such_action").fails_with(1);
    assert!(run.stderr.contains("no_such_action"), "{}", run.stderr);

    // Registered, then the same again changes nothing.
    let run = register(&instance, "get_forecast").ok();
    assert!(
        run.stdout.starts_with("Registered weather instance eu-1"),
        "{}",
        run.stdout
    );
    let run = register(&instance, "get_forecast").ok();
    assert!(run.stdout.contains("nothing changed"), "{}", run.stdout);

    // The server's own health timer checks it: passing, with its sub-checks.
    let run = table_until(&instance, "weather", |t| {
        t["instances"][0]["health"]["status"] == "passing"
    });
    let table = run.json();
    assert_eq!(table["instances"].as_array().unwrap().len(), 1);
    assert_eq!(
        table["instances"][0]["actions"],
        serde_json::json!(["get_forecast"])
    );
    assert_eq!(table["instances"][0]["metadata"]["region"], "eu-west-1");
    assert_eq!(table["instances"][0]["health"]["checks"]["db"], "ok");
    let run = instance.run(&["router", "table", "weather"]).ok();
    assert!(
        run.stdout
            .contains("eu-1  1.0.0  passing  http://127.0.0.1:9/mcp  [get_forecast]"),
        "{}",
        run.stdout
    );

    // It starts failing: people see the count and why.
    failing.store(true, Ordering::SeqCst);
    table_until(&instance, "weather", |t| {
        t["instances"][0]["health"]["status"] == "failing"
    });
    let run = instance.run(&["router", "table", "weather"]).ok();
    assert!(run.stdout.contains("  failing ("), "{}", run.stdout);
    assert!(run.stdout.contains("of 100)"), "{}", run.stdout);
    assert!(
        run.stdout.contains("last error: ") && run.stdout.contains("503"),
        "{}",
        run.stdout
    );

    // Deregistered on shutdown; the second time there is nothing to remove.
    let run = instance
        .run(&["router", "deregister", "weather", "eu-1", "--json"])
        .ok();
    assert_eq!(run.json()["instance_id"], "eu-1");
    let table = instance
        .run(&["router", "table", "weather", "--json"])
        .ok()
        .json();
    assert_eq!(table["instances"], serde_json::json!([]));
    instance
        .run(&["router", "deregister", "weather", "eu-1"])
        .fails_with(4);
    // An id that is not one path segment is sent as one, and simply not found.
    instance
        .run(&["router", "deregister", "weather", "../keys"])
        .fails_with(4);
    admin.key = None;
    admin.run(&["router", "table", "weather"]).fails_with(3);
}

#[test]
fn keys_are_listed_without_secrets_and_a_revoked_key_stops_working() {
    let data = tempfile::tempdir().unwrap();
    let registry = Registry::start(data.path());
    let admin = User::admin(&registry);
    let created = admin
        .run(&["auth", "create-key", "--name", "CI/CD Pipeline", "--json"])
        .ok()
        .json();
    let (ci_id, ci_secret) = (
        created["id"].as_str().unwrap().to_owned(),
        created["key"].as_str().unwrap().to_owned(),
    );
    let ci = User {
        key: Some(ci_secret.clone()),
        ..User::new(&registry)
    };

    let run = ci.run(&["auth", "list-keys"]).ok();
    let line = run
        .stdout
        .lines()
        .find(|l| l.starts_with(&ci_id))
        .unwrap_or_else(|| panic!("{ci_id} missing from:\n{}", run.stdout));
    assert!(line.contains("CI/CD Pipeline  [publish]"), "{line}");
    // The listing itself used the key, and its use is recorded before the list.
    assert!(line.contains("  used 20"), "{line}");
    // Made with the admin key, so it never expires.
    assert!(line.ends_with("live, never expires"), "{line}");
    assert!(!run.stdout.contains(&ci_secret), "secrets are never listed");

    // A key the pipeline makes itself expires: when it asks, or in 90 days.
    let short = ci
        .run(&[
            "auth",
            "create-key",
            "--name",
            "short",
            "--expires-in-days",
            "7",
            "--json",
        ])
        .ok()
        .json();
    let expires_at = short["expires_at"].as_str().unwrap().to_owned();
    let run = ci.run(&["auth", "list-keys"]).ok();
    let line = run
        .stdout
        .lines()
        .find(|l| l.starts_with(short["id"].as_str().unwrap()))
        .unwrap();
    assert!(
        line.ends_with(&format!("never used  live until {expires_at}")),
        "{line}"
    );
    let refused = ci.run(&[
        "auth",
        "create-key",
        "--name",
        "long",
        "--expires-in-days",
        "400",
    ]);
    assert!(
        refused.stderr.contains("expires_in_days"),
        "{}",
        refused.stderr
    );

    let run = admin.run(&["auth", "revoke-key", &ci_id]).ok();
    assert_eq!(
        run.stdout.trim(),
        format!("Revoked {ci_id} (CI/CD Pipeline)")
    );
    ci.run(&["auth", "list-keys"]).fails_with(3);
    let keys = admin.run(&["auth", "list-keys", "--json"]).ok().json();
    let revoked = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == ci_id.as_str())
        .unwrap();
    assert!(revoked["revoked_at"].is_string(), "{revoked}");
    admin
        .run(&["auth", "revoke-key", "key_no_such_key"])
        .fails_with(4);
}

/// `openworkflow auth login` with no key: the registry's device sign-in. The
/// terminal prints a page and a code; a person signed in (through the certified
/// OpenID provider) confirms it; the terminal stores its new key and publishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_login_signs_a_terminal_in_through_the_browser_then_it_publishes() {
    use registry_testkit::oidc::{CLIENT_ID, CLIENT_SECRET, CertifiedProvider, CookieClient};
    use std::io::BufRead;

    let mut provider = CertifiedProvider::start();
    let data = tempfile::tempdir().unwrap();
    let registry = Registry::start_with(
        data.path(),
        &[
            ("OPENWORKFLOW_REGISTRY_OIDC_ISSUER", &provider.issuer),
            ("OPENWORKFLOW_REGISTRY_OIDC_CLIENT_ID", CLIENT_ID),
            ("OPENWORKFLOW_REGISTRY_OIDC_CLIENT_SECRET", CLIENT_SECRET),
        ],
    );
    provider.serve_for(&format!("{}/auth/callback/oidc", registry.base));
    let author = User::new(&registry);

    let mut login = author
        .command(&["auth", "login", "--key-name", "e2e terminal"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut said = std::io::BufReader::new(login.stderr.take().unwrap()).lines();
    let page = said
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| {
            let start = line.find("http")?;
            line[start..]
                .contains("/device?user_code=")
                .then(|| line[start..].trim().to_owned())
        })
        .expect("the terminal says where to confirm the code");
    let rest = std::thread::spawn(move || said.map_while(Result::ok).collect::<Vec<_>>());
    let page = url::Url::parse(&page).unwrap();
    let user_code = page
        .query_pairs()
        .find(|(k, _)| k == "user_code")
        .map(|(_, v)| v.into_owned())
        .unwrap();

    let mut person = CookieClient::new();
    person.sign_in(&registry.base, "ada").await;
    let confirm = person.get(&page).await.text().await.unwrap();
    assert!(confirm.contains("e2e terminal"), "{confirm}");
    let approved = person
        .post_form(
            &page.join("/device").unwrap(),
            &[
                ("csrf", &registry_testkit::oidc::csrf_token(&confirm)),
                ("user_code", &user_code),
                ("decision", "approve"),
            ],
        )
        .await;
    assert_eq!(approved.status(), reqwest::StatusCode::OK);

    let output = tokio::task::spawn_blocking(move || login.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stderr = rest.join().unwrap().join("\n");
    let run = Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr,
    }
    .ok();
    assert!(run.stdout.contains("Logged in to"), "{}", run.stdout);

    let schema = author.write("weather.yaml", &plugin_yaml("weather", "1.0.0"));
    author.run(&["plugin", "publish", &schema]).ok();
    let keys = author.run(&["auth", "list-keys", "--json"]).ok().json();
    assert_eq!(keys["keys"][0]["name"], "e2e terminal");
}

/// A person with a key of their own (made by the admin over the API, since a
/// person's first key comes from signing in): the key and the principal id.
async fn person(registry: &Registry, name: &str) -> (User, String) {
    let created: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/auth/keys", registry.base))
        .bearer_auth(registry.admin_key())
        .json(&serde_json::json!({
            "name": name,
            "new_principal": {"name": name, "kind": "user"},
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let user = User {
        key: Some(created["key"].as_str().unwrap().to_owned()),
        ..User::new(registry)
    };
    (user, created["principal"].as_str().unwrap().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owners_and_teams_are_managed_from_the_terminal() {
    let data = tempfile::tempdir().unwrap();
    let registry = Registry::start(data.path());
    let (ada, ada_id) = person(&registry, "ada").await;
    let (bob, bob_id) = person(&registry, "bob").await;
    let file = ada.write("shared.yaml", &plugin_yaml("shared", "1.0.0"));
    ada.run(&["plugin", "publish", &file]).ok();

    let run = ada.run(&["plugin", "owner", "add", "shared", &bob_id]).ok();
    assert!(
        run.stdout.starts_with("Invited: shared for bob"),
        "{}",
        run.stdout
    );
    let run = bob.run(&["plugin", "owner", "invitations"]).ok();
    assert!(run.stdout.contains("shared for bob"), "{}", run.stdout);
    bob.run(&["plugin", "owner", "accept", "shared"]).ok();
    let owners = ada
        .run(&["plugin", "owner", "list", "shared", "--json"])
        .ok()
        .json();
    let mut ids: Vec<&str> = owners["owners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["principal"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    let mut expected = vec![ada_id.as_str(), bob_id.as_str()];
    expected.sort_unstable();
    assert_eq!(ids, expected);
    let update = bob.write("shared-1.1.yaml", &plugin_yaml("shared", "1.1.0"));
    bob.run(&["plugin", "publish", "--update", &update]).ok();

    let team = ada.run(&["team", "create", "crew", "--json"]).ok().json();
    let team_id = team["id"].as_str().unwrap().to_owned();
    let run = ada.run(&["team", "add", &team_id, &bob_id]).ok();
    assert!(
        run.stdout.contains(&format!("{bob_id}  bob (member)")),
        "{}",
        run.stdout
    );
    let run = bob.run(&["team", "list"]).ok();
    assert_eq!(run.stdout.trim(), format!("{team_id}  crew (member)"));
    // Only a maintainer changes the team: the CLI says so with the auth exit code.
    bob.run(&["team", "add", &team_id, &bob_id, "--role", "maintainer"])
        .fails_with(3);

    ada.run(&["plugin", "owner", "remove", "shared", &ada_id])
        .ok();
    let refused = bob
        .run(&["plugin", "owner", "remove", "shared", &bob_id])
        .fails_with(5);
    assert!(refused.stderr.contains("last owner"), "{}", refused.stderr);

    // Each of those changes is in the plugin's audit log, which its owner reads.
    let run = bob.run(&["plugin", "audit", "shared"]).ok();
    let actions: Vec<&str> = run
        .stdout
        .lines()
        .filter_map(|line| line.split_whitespace().nth(1))
        .collect();
    assert_eq!(
        actions,
        [
            "owner_removed",
            "plugin_updated",
            "owner_added",
            "owner_invited",
            "version_published"
        ],
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!("by bob ({bob_id})")),
        "{}",
        run.stdout
    );
    let paged = bob
        .run(&["plugin", "audit", "shared", "--limit", "2", "--json"])
        .ok()
        .json();
    let older = paged["next_before"].as_str().unwrap();
    let run = bob
        .run(&["plugin", "audit", "shared", "--before", older])
        .ok();
    assert!(
        run.stdout.lines().next().unwrap().contains("owner_added"),
        "{}",
        run.stdout
    );
    // The whole log is an admin's: a person's key is refused with the auth exit code.
    ada.run(&["audit"]).fails_with(3);

    // Anyone reports a plugin; the admins list the reports and resolve them.
    let run = ada
        .run(&[
            "plugin",
            "report",
            "shared@1.0.0",
            "--reason",
            "spam",
            "--details",
            "a test report",
        ])
        .ok();
    assert!(
        run.stdout
            .starts_with("Reported shared@1.0.0 to the registry's admins as spam"),
        "{}",
        run.stdout
    );
    ada.run(&[
        "plugin",
        "report",
        "shared",
        "--reason",
        "boring",
        "--details",
        "x",
    ])
    .fails_with(2);
    ada.run(&["report", "list"]).fails_with(3);
    let admin = User::admin(&registry);
    let open = admin.run(&["report", "list", "--json"]).ok().json();
    let id = open["reports"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(open["reports"][0]["reporter"], ada_id.as_str());
    let run = admin
        .run(&["report", "resolve", &id, "--note", "not spam"])
        .ok();
    assert!(run.stdout.contains("resolved by"), "{}", run.stdout);
    let run = admin.run(&["report", "list"]).ok();
    assert_eq!(run.stdout.trim(), "No reports");

    // An admin quarantines a version: its owner sees why; lifted, it is back.
    let run = admin
        .run(&[
            "report",
            "quarantine",
            "shared@1.1.0",
            "--reason",
            "under review",
        ])
        .ok();
    assert_eq!(
        run.stdout.trim(),
        "shared@1.1.0 is in quarantine: under review"
    );
    let run = bob.run(&["plugin", "owner", "list", "shared"]).ok();
    assert!(
        run.stdout.contains(": 1.1.0: under review"),
        "{}",
        run.stdout
    );
    bob.run(&["plugin", "install", "shared@1.1.0"])
        .fails_with(4);
    admin
        .run(&["report", "quarantine", "shared@1.1.0", "--lift"])
        .ok();
    bob.run(&["plugin", "install", "shared@1.1.0"]).ok();
}

/// The environment of a GitHub Actions job with `permissions: id-token: write`,
/// its runner played by `issuer`.
fn in_actions(command: &mut Command, issuer: &registry_testkit::ci_issuer::CiIssuer) {
    command
        .env(
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            format!("{}?api-version=2.0", issuer.runner_url()),
        )
        .env(
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
            registry_testkit::ci_issuer::ACTIONS_REQUEST_TOKEN,
        );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_github_actions_job_publishes_with_no_key_through_trusted_publishing() {
    use registry_testkit::ci_issuer::{CiIssuer, GithubJob};

    let issuer = CiIssuer::start().await;
    let data = tempfile::tempdir().unwrap();
    let registry = Registry::start_with(
        data.path(),
        &[(
            "OPENWORKFLOW_REGISTRY_GITHUB_ACTIONS_ISSUER",
            issuer.issuer(),
        )],
    );
    let (ada, ada_id) = person(&registry, "ada").await;
    let added = ada
        .run(&[
            "plugin",
            "publisher",
            "add",
            "ci-made",
            "--github",
            "octo-org/octo-plugins",
            "--repository-id",
            "4242",
            "--owner-id",
            "77",
            "--workflow",
            "release.yml",
            "--json",
        ])
        .ok()
        .json();
    assert_eq!(added["pending"], true, "{added}");

    let job = User::new(&registry);
    let schema = job.write("ci-made.yaml", &plugin_yaml("ci-made", "1.0.0"));
    let outside = job.run(&["plugin", "publish", &schema]).fails_with(3);
    assert!(
        outside.stderr.contains("id-token: write"),
        "{}",
        outside.stderr
    );

    issuer.serve_runner_tokens_for(&GithubJob::release());
    let mut publish = job.command(&["plugin", "publish", &schema]);
    in_actions(&mut publish, &issuer);
    let run = Run::of(publish.output().unwrap()).ok();
    assert!(run.stderr.contains("trusted publishing"), "{}", run.stderr);

    let owners = ada
        .run(&["plugin", "owner", "list", "ci-made", "--json"])
        .ok()
        .json();
    assert_eq!(
        owners["owners"][0]["principal"],
        ada_id.as_str(),
        "{owners}"
    );
    let publishers = ada
        .run(&["plugin", "publisher", "list", "ci-made", "--json"])
        .ok()
        .json();
    assert_eq!(
        publishers["publishers"][0]["pending"], false,
        "{publishers}"
    );

    // Another workflow of the same repository is not trusted.
    issuer.serve_runner_tokens_for(&GithubJob {
        workflow: "ci.yml".into(),
        ..GithubJob::release()
    });
    let newer = job.write("ci-made-2.yaml", &plugin_yaml("ci-made", "1.1.0"));
    let mut refused = job.command(&["plugin", "publish", &newer]);
    in_actions(&mut refused, &issuer);
    let run = Run::of(refused.output().unwrap());
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("no plugin trusts"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gitlab_job_publishes_with_the_id_token_it_was_given() {
    use registry_testkit::ci_issuer::{CiIssuer, GitlabJob};

    let issuer = CiIssuer::start().await;
    let data = tempfile::tempdir().unwrap();
    let registry = Registry::start_with(
        data.path(),
        &[("OPENWORKFLOW_REGISTRY_GITLAB_ISSUER", issuer.issuer())],
    );
    let (ada, _) = person(&registry, "ada").await;
    ada.run(&[
        "plugin",
        "publisher",
        "add",
        "gitlab-made",
        "--gitlab",
        "octo-group/tools",
        "--project-id",
        "99",
        "--ref",
        "refs/tags/v1.0.0",
    ])
    .ok();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let job = User::new(&registry);
    let schema = job.write("gitlab-made.yaml", &plugin_yaml("gitlab-made", "1.0.0"));
    let token = issuer.gitlab_token(&GitlabJob::tag_release(), &registry.base, now);
    let run = Run::of(
        job.command(&["plugin", "publish", &schema])
            .env("OPENWORKFLOW_REGISTRY_ID_TOKEN", &token)
            .output()
            .unwrap(),
    )
    .ok();
    assert!(
        run.stderr.contains("OPENWORKFLOW_REGISTRY_ID_TOKEN"),
        "{}",
        run.stderr
    );

    // A pipeline for a branch is not the tag pipeline the publisher names.
    let branch = GitlabJob {
        git_ref: "main".into(),
        ref_type: "branch".into(),
        ..GitlabJob::tag_release()
    };
    let newer = job.write("gitlab-made-2.yaml", &plugin_yaml("gitlab-made", "1.1.0"));
    let run = Run::of(
        job.command(&["plugin", "publish", &newer])
            .env(
                "OPENWORKFLOW_REGISTRY_ID_TOKEN",
                issuer.gitlab_token(&branch, &registry.base, now),
            )
            .output()
            .unwrap(),
    );
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("no plugin trusts"), "{}", run.stderr);
}

/// `GET path` on the registry with `key`, through curl, as JSON.
fn api_json(registry: &Registry, path: &str, key: &str) -> serde_json::Value {
    let output = Command::new("curl")
        .args(["-sS", "--fail-with-body", "-H"])
        .arg(format!("Authorization: Bearer {key}"))
        .arg(format!("{}{path}", registry.base))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn stats_chart_a_plugins_downloads_and_json_is_the_apis_answer() {
    let data = tempfile::tempdir().unwrap();
    let registry = Registry::start(data.path());
    let admin = User::admin(&registry);
    let file = admin.write("weather.yaml", &plugin_yaml("weather", "1.0.0"));
    admin.run(&["plugin", "publish", &file]).ok();
    // Two people install it: two downloads by this CLI.
    for _ in 0..2 {
        User::new(&registry)
            .run(&["plugin", "install", "weather"])
            .ok();
    }

    let cli = admin
        .run(&["plugin", "stats", "weather", "--days", "7", "--json"])
        .ok()
        .json();
    let query = format!(
        "/plugins/weather/analytics?from={}&to={}&granularity=day",
        cli["from"].as_str().unwrap(),
        cli["to"].as_str().unwrap()
    );
    assert_eq!(cli, api_json(&registry, &query, &registry.admin_key()));
    assert_eq!(cli["periods"].as_array().unwrap().len(), 7);
    assert_eq!(cli["total"], 2);
    assert_eq!(
        cli["clients"][0]["client"],
        format!("openworkflow/{}", env!("CARGO_PKG_VERSION"))
    );

    let run = admin
        .run(&["plugin", "stats", "weather", "--days", "7"])
        .ok();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(
        lines[0].starts_with("weather: 2 downloads in the 7 days"),
        "{}",
        run.stdout
    );
    // Seven days, the downloads all today: six blank days, then the full bar.
    assert_eq!(lines[1], "        █", "{}", run.stdout);
    assert!(
        lines
            .iter()
            .any(|l| l.trim_start().starts_with("1.0.0") && l.ends_with("100%")),
        "{}",
        run.stdout
    );

    // Someone who neither owns it nor holds the analytics scope is told so.
    let created = Command::new("curl")
        .args(["-sS", "--fail-with-body", "-H"])
        .arg(format!("Authorization: Bearer {}", registry.admin_key()))
        .args(["-H", "content-type: application/json", "--data"])
        .arg(r#"{"name":"someone else","scopes":["publish"],"new_principal":{"name":"someone else","kind":"team"}}"#)
        .arg(format!("{}/auth/keys", registry.base))
        .output()
        .unwrap();
    let created: serde_json::Value = serde_json::from_slice(&created.stdout).unwrap();
    let stranger = User {
        key: Some(created["key"].as_str().unwrap().to_owned()),
        ..User::new(&registry)
    };
    let refused = stranger.run(&["plugin", "stats", "weather"]);
    assert_ne!(refused.code, 0);
    assert!(refused.stderr.contains("analytics"), "{}", refused.stderr);
}

#[test]
fn a_publish_held_for_review_says_so_and_installs_once_approved() {
    let data = tempfile::tempdir().unwrap();
    let registry = Registry::start_with(
        data.path(),
        &[("OPENWORKFLOW_REGISTRY_REVIEW_POLICY", "required")],
    );
    let admin = User::admin(&registry);
    let file = admin.write("weather.yaml", &plugin_yaml("weather", "1.0.0"));
    let run = admin.run(&["plugin", "publish", &file]).ok();
    let review = format!("{}/reviews/weather@1.0.0", registry.base);
    assert!(
        run.stdout.contains(&format!(
            "Submitted weather 1.0.0 to {} for review: {review}",
            registry.base
        )),
        "{}",
        run.stdout
    );
    assert!(
        !run.stderr.contains("Waiting"),
        "no wait for a held version: {}",
        run.stderr
    );
    let user = User::new(&registry);
    let refused = user.run(&["plugin", "install", "weather"]);
    assert_ne!(
        refused.code, 0,
        "nothing to install yet: {}",
        refused.stdout
    );

    let queue = admin.run(&["review", "list"]).ok();
    assert!(
        queue
            .stdout
            .starts_with("weather@1.0.0  pending  submitted "),
        "{}",
        queue.stdout
    );
    assert!(queue.stdout.contains("(a new plugin)"), "{}", queue.stdout);
    let shown = admin.run(&["review", "show", "weather@1.0.0"]).ok();
    assert!(
        shown.stdout.contains(&format!("{review}/schema")),
        "{}",
        shown.stdout
    );
    let approved = admin.run(&["review", "approve", "weather@1.0.0"]).ok();
    assert_eq!(
        approved.stdout.trim(),
        format!(
            "Approved weather@1.0.0: published at {}/plugins/weather",
            registry.base
        )
    );
    user.run(&["plugin", "install", "weather"]).ok();

    let json_file = admin.write("weather2.yaml", &plugin_yaml("weather", "1.1.0"));
    let report = admin
        .run(&["plugin", "publish", &json_file, "--json"])
        .ok()
        .json();
    assert_eq!(report["status"], "pending_review");
    assert_eq!(report["visible"], false);
    let unsaid = admin.run(&["review", "reject", "weather@1.1.0", "--comment", " "]);
    assert_ne!(unsaid.code, 0, "a rejection says why");
    admin
        .run(&["review", "reject", "weather@1.1.0", "--comment", "no tests"])
        .ok();
    let mine = admin.run(&["review", "list", "--plugin", "weather"]).ok();
    assert!(
        mine.stdout.contains("weather@1.1.0  rejected"),
        "{}",
        mine.stdout
    );
    assert!(mine.stdout.contains(": no tests"), "{}", mine.stdout);
}

#[test]
fn webhooks_are_added_listed_delivered_with_retries_redelivered_and_removed() {
    use std::sync::atomic::AtomicUsize;
    let data = tempfile::tempdir().unwrap();
    let registry = Registry::start_with(
        data.path(),
        &[
            ("OPENWORKFLOW_REGISTRY_ALLOW_LOOPBACK_TARGETS", "1"),
            ("OPENWORKFLOW_REGISTRY_WEBHOOK_RETRY_FIRST_SECS", "1"),
        ],
    );
    // A receiver that fails its first request and takes the rest.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    support::serve_http(listener, move |_| {
        if counted.fetch_add(1, Ordering::SeqCst) == 0 {
            ("500 Internal Server Error", String::new())
        } else {
            ("204 No Content", String::new())
        }
    });
    let admin = User::admin(&registry);
    let first = admin.write("weather.yaml", &plugin_yaml("weather", "1.0.0"));
    admin.run(&["plugin", "publish", &first]).ok();

    let added = admin
        .run(&[
            "webhook",
            "add",
            &hook,
            "--plugin",
            "weather",
            "--event",
            "version.published",
        ])
        .ok();
    let id = added
        .stdout
        .split_whitespace()
        .find(|word| word.starts_with("whk_"))
        .expect("a subscription id")
        .to_owned();
    assert!(
        added.stdout.starts_with(&format!(
            "Subscribed {id}  plugin:weather  {hook}  version.published\nSigning secret (shown once): whsec_"
        )),
        "{}",
        added.stdout
    );
    let listed = admin.run(&["webhook", "list", "--plugin", "weather"]).ok();
    assert_eq!(
        listed.stdout.trim(),
        format!("{id}  plugin:weather  {hook}  version.published")
    );

    let second = admin.write("weather2.yaml", &plugin_yaml("weather", "1.1.0"));
    admin.run(&["plugin", "publish", &second]).ok();
    let mut log = String::new();
    for _ in 0..100 {
        log = admin.run(&["webhook", "deliveries", &id]).ok().stdout;
        if log.contains("delivered") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let line = log.lines().next().unwrap_or_default();
    assert!(
        line.starts_with("dlv_")
            && line.ends_with("version.published  delivered  2 attempt(s) (500, 204)"),
        "{log}"
    );
    let delivery = line.split_whitespace().next().unwrap();
    let again = admin.run(&["webhook", "redeliver", &id, delivery]).ok();
    assert!(
        again
            .stdout
            .starts_with(&format!("Queued {delivery} (event evt_")),
        "{}",
        again.stdout
    );
    for _ in 0..100 {
        if calls.load(Ordering::SeqCst) >= 3 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(calls.load(Ordering::SeqCst), 3, "the redelivery arrived");

    let removed = admin.run(&["webhook", "remove", &id]).ok();
    assert_eq!(removed.stdout.trim(), format!("Removed {id}"));
    let empty = admin.run(&["webhook", "list", "--plugin", "weather"]).ok();
    assert_eq!(empty.stdout.trim(), "No webhook subscriptions");
    let refused = admin.run(&["webhook", "list", "--plugin", "weather", "--org", "acme"]);
    assert_ne!(refused.code, 0, "a plugin or an org, not both");
}
