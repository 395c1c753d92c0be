//! A real SMTP server on a free loopback port for the notice tests: PyPI's
//! `aiosmtpd` (RFC 5321, installed by `./scripts/test.sh` into its own venv),
//! delivering every message it accepts into a Maildir the test reads.

use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::process::ServerProcess;

/// How long the server may take to listen.
const START_WAIT: Duration = Duration::from_secs(30);

/// The server's process and its Maildir; the process is killed on drop.
pub struct SmtpServer {
    /// The URL the registry is configured with (`smtp://127.0.0.1:PORT`, no TLS:
    /// loopback only).
    pub url: String,
    maildir: tempfile::TempDir,
    child: ServerProcess,
    log: tempfile::NamedTempFile,
}

/// A message as the server stored it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMail {
    /// Its headers, names in lower case, in order.
    pub headers: Vec<(String, String)>,
    /// Its body, transfer encoding undone.
    pub body: String,
}

impl ReceivedMail {
    /// The first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl SmtpServer {
    /// Starts the server and waits until it accepts connections.
    pub fn start() -> Self {
        let python = std::env::var("AIOSMTPD_PYTHON").unwrap_or_else(|_| {
            panic!("AIOSMTPD_PYTHON is not set: run ./scripts/test.sh, which installs aiosmtpd")
        });
        let port = TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let maildir = tempfile::tempdir().expect("maildir");
        let log = tempfile::NamedTempFile::new().expect("log file");
        let child = Command::new(&python)
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            // A path that does not exist yet: Python's Maildir makes it whole
            // (cur/, new/, tmp/) only then.
            .arg(maildir.path().join("Maildir"))
            .stdin(Stdio::null())
            .stdout(log.reopen().expect("log file"))
            .stderr(log.reopen().expect("log file"))
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {python} -m aiosmtpd: {e}"));
        let mut server = Self {
            url: format!("smtp://127.0.0.1:{port}"),
            maildir,
            child: ServerProcess(child),
            log,
        };
        let started = Instant::now();
        let address = SocketAddrV4::new(Ipv4Addr::LOCALHOST, port);
        while TcpStream::connect_timeout(&address.into(), Duration::from_millis(200)).is_err() {
            let exited = server.child.0.try_wait().ok().flatten();
            if exited.is_some() || started.elapsed() > START_WAIT {
                let said = std::fs::read_to_string(server.log.path()).unwrap_or_default();
                panic!("aiosmtpd did not listen on {address} ({exited:?}); it said:\n{said}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// Every message delivered so far, oldest first. The server writes a
    /// message into the Maildir before it answers the client's final `.`, so
    /// a notice the registry says was sent is here.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        let new: PathBuf = self.maildir.path().join("Maildir").join("new");
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(&new)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| {
                        let modified = e
                            .metadata()
                            .and_then(|m| m.modified())
                            .expect("a message's time");
                        (modified, e.path())
                    })
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
            .into_iter()
            .map(|(_, path)| parse(&std::fs::read_to_string(&path).expect("a stored message")))
            .collect()
    }
}

/// Splits a stored message into unfolded headers and its decoded body.
fn parse(raw: &str) -> ReceivedMail {
    let raw = raw.replace("\r\n", "\n");
    let (head, body) = raw.split_once("\n\n").unwrap_or((raw.as_str(), ""));
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = headers.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let mail = ReceivedMail {
        headers,
        body: String::new(),
    };
    let body = match mail.header("content-transfer-encoding") {
        Some(e) if e.eq_ignore_ascii_case("quoted-printable") => quoted_printable(body),
        _ => body.to_owned(),
    };
    ReceivedMail { body, ..mail }
}

/// Undoes quoted-printable (RFC 2045 section 6.7): soft line breaks and `=XX`.
fn quoted_printable(encoded: &str) -> String {
    let joined = encoded.replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && let Some(hex) = joined.get(i + 1..i + 3)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).expect("a UTF-8 body")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_message_reads_back_unfolded_and_decoded() {
        let mail = parse(
            "To: ada@example.test\r\nSubject: a long\r\n subject\r\n\
             Content-Transfer-Encoding: quoted-printable\r\n\r\n\
             caf=C3=A9 and a soft=\r\n break\r\n",
        );
        assert_eq!(mail.header("to"), Some("ada@example.test"));
        assert_eq!(mail.header("Subject"), Some("a long subject"));
        assert_eq!(mail.body, "café and a soft break\n");
    }
}
