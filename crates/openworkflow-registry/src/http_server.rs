//! The HTTP/1.1 server: every wait bounded and the number of connections capped,
//! so no client, nor a crowd of sockets held open, starves the others.
//!
//! - The head of each request must arrive within `header_timeout`, counted from
//!   the connection's start or the end of the previous response: this one limit
//!   closes silent connections, trickled headers and idle keep-alive alike. A client
//!   cut off mid-head gets `408`; an idle one is closed without a word, as HTTP
//!   allows.
//! - The whole body must arrive within `body_timeout` (`408` from the body readers).
//! - At most `max_connections` are open, kept below the process's file-descriptor
//!   limit, and at most `max_connections_per_client` from one address (an IPv6
//!   client is its /64): past either, a new connection is answered `503` or `429`
//!   and closed, while those already open are served.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use registry_http::deadline::DeadlineBody;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// The server's bounds on waits and connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Longest wait for a request's head (also how long a keep-alive connection may idle).
    pub header_timeout: Duration,
    /// Longest wait for a request's whole body.
    pub body_timeout: Duration,
    /// Most connections open at once (lowered to fit the file-descriptor limit).
    pub max_connections: usize,
    /// Most connections open at once from one client address; 0 for no limit
    /// (behind a reverse proxy every connection comes from the proxy).
    pub max_connections_per_client: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(15),
            body_timeout: Duration::from_secs(60),
            max_connections: 10_000,
            max_connections_per_client: 256,
        }
    }
}

/// File descriptors kept free of connections: the catalog, artifacts and index
/// files a request opens, and the health checker's outgoing sockets.
const RESERVED_DESCRIPTORS: u64 = 512;

/// Threads each HTTP thread may lend to blocking work: file reads of the index and
/// of artifacts (SQLite has a thread of its own). Each thread that allocates gets
/// an allocator arena of its own, whose high-water mark stays resident: the soak
/// at 8 a core ran 25 threads and its memory grew by 3.5 MB in five minutes, at 2 a
/// core 13 threads and 3.0 MB, at the same throughput (see the README's soak).
const BLOCKING_THREADS_PER_CORE: usize = 2;

/// How long shutdown waits for requests in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Most refusals being written at once; past it a connection is closed unanswered,
/// so refusing cannot itself use up descriptors.
const MAX_REFUSALS_IN_FLIGHT: usize = 64;

/// How long a refusal may take to write and drain.
const REFUSAL_WAIT: Duration = Duration::from_secs(1);

/// Serves `app` on `listener` under `limits` until `shutdown` resolves, then lets
/// requests in flight finish for up to 10 s.
///
/// Connections are served by one thread per core, each running its own
/// single-threaded runtime and accepting from the same listening socket: a
/// connection lives on the thread that accepted it, so a request never wakes
/// another thread (on two cores that churn cost a tenth of the throughput). The
/// rest of the server (index updates, health checks) stays on the main runtime.
pub async fn serve_http(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let admission = Arc::new(Admission::new(limits));
    let body_timeout = limits.body_timeout;
    let app = app.layer(axum::middleware::map_request(
        move |request: Request| async move {
            request.map(|body| DeadlineBody::wrap(body, body_timeout))
        },
    ));
    let listener = listener.into_std()?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let mut serving = Vec::with_capacity(threads);
    for n in 0..threads {
        let (listener, app, admission, stopped) = (
            listener.try_clone()?,
            app.clone(),
            Arc::clone(&admission),
            stopped.clone(),
        );
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .max_blocking_threads(BLOCKING_THREADS_PER_CORE)
            .build()?;
        serving.push(
            std::thread::Builder::new()
                .name(format!("http-{n}"))
                .spawn(move || {
                    runtime.block_on(async move {
                        let listener = TcpListener::from_std(listener)?;
                        accept_connections(listener, app, limits, admission, stopped).await;
                        Ok::<_, io::Error>(())
                    })
                })?,
        );
    }
    drop(listener);
    shutdown.await;
    let _ = stop.send(true);
    tokio::task::spawn_blocking(move || {
        for thread in serving {
            match thread.join() {
                Ok(Err(error)) => tracing::warn!(
                    error = &error as &dyn std::error::Error,
                    "an HTTP thread failed"
                ),
                Err(_) => tracing::error!("an HTTP thread panicked"),
                Ok(Ok(())) => {}
            }
        }
    })
    .await
    .map_err(io::Error::other)
}

/// One thread's accept loop: admits, serves and, once `stopped` turns true, lets
/// its connections finish within the grace.
async fn accept_connections(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    admission: Arc<Admission>,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of descriptors or memory: wait for some to free up
                    // rather than spin.
                    tracing::warn!(error = &error as &dyn std::error::Error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = stopped.wait_for(|stop| *stop) => break,
        };
        let ticket = match admission.admit(peer) {
            Ok(ticket) => ticket,
            Err(refusal) => {
                admission.refuse(stream, refusal);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let connection = Arc::new(Connection {
            stream,
            mid_request: AtomicBool::new(false),
        });
        let serving = http.serve_connection(
            TokioIo::new(SharedStream(Arc::clone(&connection))),
            TowerToHyperService::new(app.clone()),
        );
        let serving = graceful.watch(serving);
        let header_timeout = limits.header_timeout;
        tokio::spawn(async move {
            if let Err(error) = serving.await
                && error.is_timeout()
                && connection.mid_request.load(Ordering::Relaxed)
            {
                answer_request_timeout(&connection.stream, header_timeout).await;
            }
            linger(&connection.stream).await;
            drop(ticket);
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still running after the shutdown grace; closing them");
    }
}

/// Most a closing connection reads and discards, and for how long.
const LINGER_BYTES: usize = 16 * 1024 * 1024;
const LINGER_WAIT: Duration = Duration::from_secs(2);
/// How long a closing connection waits to see whether the client is still sending.
const LINGER_PEEK: Duration = Duration::from_millis(50);

/// Before closing, reads what the client is still sending (the rest of a body
/// answered early, say with 413): closing with unread bytes resets the connection,
/// and the client, still writing, never reads its answer. Only when bytes arrive,
/// and bounded, as nginx's lingering close is; an idle connection closes after a
/// 50 ms look.
async fn linger(stream: &TcpStream) {
    let mut sink = vec![0u8; 64 * 1024];
    // A client mid-body sends its next bytes within moments; one that is done
    // either closed (0 bytes) or sends nothing in that time.
    if tokio::time::timeout(LINGER_PEEK, stream.readable())
        .await
        .is_err()
    {
        return;
    }
    match stream.try_read(&mut sink) {
        Ok(0) | Err(_) => return,
        Ok(_) => {}
    }
    let _ = socket2::SockRef::from(stream).shutdown(std::net::Shutdown::Write);
    let drain = async {
        let mut drained = 0;
        while drained < LINGER_BYTES {
            if stream.readable().await.is_err() {
                return;
            }
            match stream.try_read(&mut sink) {
                Ok(0) => return,
                Ok(n) => drained += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => return,
            }
        }
    };
    let _ = tokio::time::timeout(LINGER_WAIT, drain).await;
}

/// Writes the 408 a client cut off mid-head is owed, bounded like any refusal.
async fn answer_request_timeout(stream: &TcpStream, header_timeout: Duration) {
    let response = problem_response(
        408,
        "Request Timeout",
        "request_timeout",
        &format!(
            "the request head did not arrive within {} s",
            header_timeout.as_secs()
        ),
    );
    let _ = tokio::time::timeout(REFUSAL_WAIT, write_all_shared(stream, &response)).await;
}

async fn write_all_shared(stream: &TcpStream, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        stream.writable().await?;
        match stream.try_write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A whole HTTP/1.1 response with a problem+json body, closing the connection.
fn problem_response(status: u16, reason: &str, code: &str, detail: &str) -> Vec<u8> {
    let problem = registry_http::problem::Problem::new(status, reason, code, detail);
    let body = serde_json::to_string(&problem).unwrap_or_else(|_| "{}".to_owned());
    format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/problem+json\r\n\
         content-length: {}\r\nconnection: close\r\nretry-after: 1\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Why a new connection is turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// The server holds its maximum of connections (503).
    Full,
    /// This client holds its maximum (429).
    ClientFull,
}

/// Counts open connections, in all and per client.
struct Admission {
    max_connections: usize,
    max_per_client: usize,
    open: AtomicUsize,
    per_client: Mutex<HashMap<IpAddr, usize>>,
    refusing: Arc<AtomicUsize>,
}

impl Admission {
    fn new(limits: ConnectionLimits) -> Self {
        let max_connections = fit_to_descriptor_limit(limits.max_connections);
        tracing::debug!(max_connections, "connection limit");
        Self {
            max_connections,
            max_per_client: limits.max_connections_per_client,
            open: AtomicUsize::new(0),
            per_client: Mutex::new(HashMap::new()),
            refusing: Arc::new(AtomicUsize::new(0)),
        }
    }

    fn admit(self: &Arc<Self>, peer: SocketAddr) -> Result<Ticket, Refusal> {
        let client = client_of(peer.ip());
        let mut per_client = self.per_client.lock().unwrap_or_else(|p| p.into_inner());
        if self.open.load(Ordering::Relaxed) >= self.max_connections {
            return Err(Refusal::Full);
        }
        let held = per_client.entry(client).or_insert(0);
        if self.max_per_client > 0 && *held >= self.max_per_client {
            return Err(Refusal::ClientFull);
        }
        *held += 1;
        self.open.fetch_add(1, Ordering::Relaxed);
        Ok(Ticket {
            admission: Arc::clone(self),
            client,
        })
    }

    /// Answers a turned-away connection in the background, within bounds.
    fn refuse(&self, stream: TcpStream, refusal: Refusal) {
        if self.refusing.fetch_add(1, Ordering::Relaxed) >= MAX_REFUSALS_IN_FLIGHT {
            self.refusing.fetch_sub(1, Ordering::Relaxed);
            return;
        }
        let refusing = Arc::clone(&self.refusing);
        let response = match refusal {
            Refusal::Full => problem_response(
                503,
                "Service Unavailable",
                "too_many_connections",
                "the server holds its maximum of open connections; retry shortly",
            ),
            Refusal::ClientFull => problem_response(
                429,
                "Too Many Requests",
                "too_many_connections",
                "your address holds the most connections one client may open at once; reuse them or close some",
            ),
        };
        tokio::spawn(async move {
            let _ = tokio::time::timeout(REFUSAL_WAIT, answer_and_drain(stream, &response)).await;
            refusing.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

/// Writes `response`, then reads what the client sent until it closes: closing
/// with unread bytes would reset the connection and lose the answer.
async fn answer_and_drain(mut stream: TcpStream, response: &[u8]) -> io::Result<()> {
    use tokio::io::AsyncReadExt;
    stream.write_all(response).await?;
    stream.shutdown().await?;
    let mut sink = [0u8; 4096];
    let mut drained = 0;
    while drained < 65_536 {
        match stream.read(&mut sink).await? {
            0 => break,
            n => drained += n,
        }
    }
    Ok(())
}

/// One admitted connection; dropping it frees the place.
struct Ticket {
    admission: Arc<Admission>,
    client: IpAddr,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut per_client = self
            .admission
            .per_client
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(held) = per_client.get_mut(&self.client) {
            *held -= 1;
            if *held == 0 {
                per_client.remove(&self.client);
            }
        }
        self.admission.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The address a client is counted under: IPv4 as is (mapped IPv6 unwrapped), IPv6
/// by its /64, the smallest block one subscriber is given.
fn client_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// `wanted`, or fewer if the process may not open that many descriptors (after
/// raising its soft limit to the hard one), so a crowd of connections meets a
/// clear refusal instead of `accept` failing for everyone.
fn fit_to_descriptor_limit(wanted: usize) -> usize {
    let limit = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(error) => {
            tracing::warn!(
                error = &error as &dyn std::error::Error,
                "could not read the file-descriptor limit"
            );
            return wanted;
        }
    };
    let room = if limit > 2 * RESERVED_DESCRIPTORS {
        limit - RESERVED_DESCRIPTORS
    } else {
        limit / 2
    };
    let fitted = wanted.min(usize::try_from(room).unwrap_or(usize::MAX));
    if fitted < wanted {
        tracing::warn!(
            wanted,
            fitted,
            descriptor_limit = limit,
            "fewer connections than configured fit the file-descriptor limit (raise it with ulimit -n)"
        );
    }
    fitted
}

/// A connection's socket, shared between hyper and the task serving it (which
/// answers 408 after hyper gives up on a slow head), and whether a request has
/// begun arriving since the last response.
struct Connection {
    stream: TcpStream,
    mid_request: AtomicBool,
}

/// hyper's handle on a [`Connection`].
struct SharedStream(Arc<Connection>);

impl AsyncRead for SharedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let connection = &self.0;
        loop {
            ready!(connection.stream.poll_read_ready(cx))?;
            match connection.stream.try_read(buf.initialize_unfilled()) {
                Ok(n) => {
                    if n > 0 {
                        connection.mid_request.store(true, Ordering::Relaxed);
                    }
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for SharedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.write_with(cx, |stream| stream.try_write(buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.write_with(cx, |stream| stream.try_write_vectored(bufs))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        let socket = socket2::SockRef::from(&self.0.stream);
        Poll::Ready(match socket.shutdown(std::net::Shutdown::Write) {
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
            other => other,
        })
    }
}

impl SharedStream {
    fn write_with(
        &self,
        cx: &mut Context<'_>,
        mut write: impl FnMut(&TcpStream) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        let connection = &self.0;
        loop {
            ready!(connection.stream.poll_write_ready(cx))?;
            match write(&connection.stream) {
                Ok(n) => {
                    // A response is going out: the request it answers is complete.
                    connection.mid_request.store(false, Ordering::Relaxed);
                    return Poll::Ready(Ok(n));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_are_counted_by_address_and_ipv6_by_its_64() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(client_of(ip("192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(client_of(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(client_of(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(
            client_of(ip("2001:db8:1:2:ffff::9")),
            client_of(ip("2001:db8:1:2::1"))
        );
    }
}
