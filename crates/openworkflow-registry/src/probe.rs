//! The container's health check: one `GET` of the running server's `/readyz` (or
//! `/healthz`) over loopback, so an image needs no `curl`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Bytes of the answer read at most: the status line and the problem's detail.
const ANSWER_LIMIT: u64 = 16 * 1024;

/// Which of the server's checks the probe asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// `/healthz`: the process answers.
    Live,
    /// `/readyz`: its database and storage answer too.
    Ready,
}

impl Probe {
    fn path(self) -> &'static str {
        match self {
            Self::Live => "/healthz",
            Self::Ready => "/readyz",
        }
    }
}

/// Why the server is not healthy, in words for the operator.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// Nothing answered in time.
    #[error("{0} did not answer within {1:?}")]
    TimedOut(SocketAddr, Duration),
    /// The connection failed.
    #[error("could not reach {0}: {1}")]
    Unreachable(SocketAddr, std::io::Error),
    /// The server answered something other than 200.
    #[error("{path} answered {status_line}: {body}")]
    Unhealthy {
        /// The path asked for.
        path: &'static str,
        /// The answer's status line.
        status_line: String,
        /// The answer's body (the problem naming what does not answer).
        body: String,
    },
}

/// Where to probe a server listening on `listen`: a wildcard address (as in the
/// image, `0.0.0.0:8080`) is probed on loopback.
pub fn probe_address(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

/// Asks the server at `address` for `probe`; `Ok` with its body when it answers
/// 200 within `timeout`.
pub async fn probe_server(
    address: SocketAddr,
    probe: Probe,
    timeout: Duration,
) -> Result<String, ProbeError> {
    tokio::time::timeout(timeout, ask(address, probe))
        .await
        .map_err(|_| ProbeError::TimedOut(address, timeout))?
}

async fn ask(address: SocketAddr, probe: Probe) -> Result<String, ProbeError> {
    let unreachable = |e| ProbeError::Unreachable(address, e);
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .map_err(unreachable)?;
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {address}\r\nUser-Agent: openworkflow-registry-healthcheck\r\nConnection: close\r\n\r\n",
        probe.path()
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(unreachable)?;
    let mut answer = Vec::new();
    stream
        .take(ANSWER_LIMIT)
        .read_to_end(&mut answer)
        .await
        .map_err(unreachable)?;
    let answer = String::from_utf8_lossy(&answer);
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status_line = head.lines().next().unwrap_or_default().to_owned();
    let mut parts = status_line.split(' ');
    let ok = parts.next().is_some_and(|v| v.starts_with("HTTP/1.")) && parts.next() == Some("200");
    if ok {
        Ok(body.to_owned())
    } else {
        Err(ProbeError::Unhealthy {
            path: probe.path(),
            status_line,
            body: body.trim().to_owned(),
        })
    }
}
