//! A schema of its own in the PostgreSQL server `./scripts/postgres-local.sh`
//! starts (`./scripts/test.sh` does), for each test that stores in PostgreSQL:
//! tests share the server and run side by side.

use std::sync::atomic::{AtomicUsize, Ordering};

/// The variable `./scripts/postgres-local.sh` sets to the server's URL.
pub const URL_VARIABLE: &str = "OPENWORKFLOW_TEST_POSTGRES_URL";

/// The test server's URL; panics with the fix when the suite was not started
/// with a server.
pub fn server_url() -> String {
    std::env::var(URL_VARIABLE).unwrap_or_else(|_| {
        panic!("needs PostgreSQL: run under ./scripts/postgres-local.sh (./scripts/test.sh does)")
    })
}

/// Makes an empty schema named after `tag` (dropping one of that name left by
/// an earlier run) and returns a URL whose connections use it.
pub async fn fresh_schema_url(tag: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let url = server_url();
    let schema = format!(
        "t_{}_{}_{}",
        tag.replace(|c: char| !c.is_ascii_alphanumeric(), "_"),
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    );
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("connecting to the test PostgreSQL at {url}: {e}"));
    let driver = tokio::spawn(connection);
    client
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
        ))
        .await
        .unwrap_or_else(|e| panic!("creating schema {schema}: {e}"));
    drop(client);
    let _ = driver.await;
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options=-csearch_path%3D{schema}")
}

/// A PostgreSQL server of one test's own, for a test that stops and starts it
/// (the shared one must stay up for the others). Debian's `postgresql` must be
/// installed (`./scripts/postgres-local.sh` installs it); as root, the server runs
/// as the `postgres` user, which PostgreSQL requires.
pub struct PrivateServer {
    dir: tempfile::TempDir,
    bin: std::path::PathBuf,
    port: u16,
    tls: bool,
}

impl PrivateServer {
    /// Makes a cluster in a temporary directory and starts it on a free loopback port.
    pub fn start() -> Self {
        Self::start_with(false)
    }

    /// The same, also accepting TLS with a certificate for `127.0.0.1` and
    /// `localhost` signed by a CA of its own (see [`PrivateServer::ca_file`]).
    pub fn start_with_tls() -> Self {
        Self::start_with(true)
    }

    fn start_with(tls: bool) -> Self {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("Debian's postgresql is installed (./scripts/postgres-local.sh installs it)")
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|bin| bin.join("initdb").exists())
            .max()
            .expect("a PostgreSQL version with initdb");
        let dir = tempfile::Builder::new()
            .prefix("openworkflow-private-pg")
            .tempdir()
            .expect("a temporary directory");
        if rustix::process::geteuid().is_root() {
            run(std::process::Command::new("chown")
                .arg("postgres:")
                .arg(dir.path()));
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|probe| probe.local_addr())
            .expect("a free loopback port")
            .port();
        let server = Self {
            dir,
            bin,
            port,
            tls,
        };
        if tls {
            server.make_certificates();
        }
        server.as_server_user(
            "initdb",
            &[
                "-D",
                &server.data(),
                "-U",
                "registry",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ],
        );
        server.resume();
        server
    }

    /// The superuser URL of the server's `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://registry@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server (fast: open sessions are ended).
    pub fn stop(&self) {
        self.as_server_user("pg_ctl", &["stop", "-D", &self.data(), "-m", "fast", "-s"]);
    }

    /// Starts the stopped server again, on the same port, and waits until it accepts.
    pub fn resume(&self) {
        let mut options = format!(
            "-h 127.0.0.1 -p {} -k {} -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        if self.tls {
            let dir = self.dir.path().display();
            options.push_str(&format!(
                " -c ssl=on -c ssl_cert_file={dir}/server.crt -c ssl_key_file={dir}/server.key"
            ));
        }
        let log = self.dir.path().join("server.log");
        self.as_server_user(
            "pg_ctl",
            &[
                "start",
                "-D",
                &self.data(),
                "-l",
                log.to_str().expect("a UTF-8 temporary path"),
                "-w",
                "-t",
                "60",
                "-s",
                "-o",
                &options,
            ],
        );
    }

    /// The PEM file of the CA that signed the server's certificate.
    pub fn ca_file(&self) -> std::path::PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// A CA and a server certificate signed by it, by the `openssl` command, owned by
    /// the user the server runs as (PostgreSQL refuses a key others can read).
    fn make_certificates(&self) {
        let dir = self.dir.path();
        let openssl = |args: &[&str]| {
            run(std::process::Command::new("openssl")
                .current_dir(dir)
                .args(args));
        };
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=OpenWorkflow test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        openssl(&[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ]);
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
        )
        .expect("write the certificate's extensions");
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.crt",
        ]);
        if rustix::process::geteuid().is_root() {
            run(std::process::Command::new("chown")
                .arg("postgres:")
                .arg(dir.join("server.key"))
                .arg(dir.join("server.crt")));
        }
        run(std::process::Command::new("chmod")
            .arg("0600")
            .arg(dir.join("server.key")));
    }

    fn data(&self) -> String {
        self.dir
            .path()
            .join("data")
            .to_str()
            .expect("a UTF-8 temporary path")
            .to_owned()
    }

    fn as_server_user(&self, program: &str, args: &[&str]) {
        run(self.server_user_command(program).args(args));
    }

    /// `program` of the server's version, as the user the server runs as.
    fn server_user_command(&self, program: &str) -> std::process::Command {
        let program = self.bin.join(program);
        if rustix::process::geteuid().is_root() {
            let mut command = std::process::Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            std::process::Command::new(program)
        }
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        // A server the test left stopped makes this fail, which is fine.
        let _ = self
            .server_user_command("pg_ctl")
            .args(["stop", "-D", &self.data(), "-m", "immediate", "-s"])
            .output();
    }
}

/// Runs `command`, panicking with its output when it fails.
fn run(command: &mut std::process::Command) {
    let output = command.output().expect("run a PostgreSQL program");
    assert!(
        output.status.success(),
        "{command:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
