//! What an operator's SIGTERM does: new connections are refused at once, and a
//! request already in flight is finished before the process exits.

use std::time::{Duration, Instant};

use registry_testkit::TestPlugin;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::Server;

#[tokio::test]
async fn a_publish_in_flight_at_sigterm_completes_and_new_connections_are_refused() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[]);
    let admin = std::fs::read_to_string(data.path().join("admin.key")).unwrap();
    let address = server.base.trim_start_matches("http://").to_owned();

    // A publish whose body is half sent when the signal arrives.
    let body = TestPlugin::new("in-flight", "1.0.0").yaml();
    let (first, rest) = body.as_bytes().split_at(body.len() / 2);
    let mut stream = served_connection(&address).await;
    let head = format!(
        "POST /plugins HTTP/1.1\r\nhost: {address}\r\nauthorization: Bearer {}\r\ncontent-type: application/yaml\r\ncontent-length: {}\r\n\r\n",
        admin.trim(),
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(first).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.send_sigterm();

    // The listener closes promptly; the connection in flight stays open.
    let deadline = Instant::now() + Duration::from_secs(5);
    while tokio::net::TcpStream::connect(&address).await.is_ok() {
        assert!(
            Instant::now() < deadline,
            "new connections are still accepted 5 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stream.write_all(rest).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .expect("the response came within the grace")
        .unwrap();
    let response = String::from_utf8_lossy(&response);
    assert!(
        response.starts_with("HTTP/1.1 201"),
        "the publish in flight completed: {response}"
    );
    assert!(
        response.to_ascii_lowercase().contains("connection: close"),
        "and its connection was closed after it: {response}"
    );
    let (status, _) = server.terminate_sent();
    assert!(status.success(), "a graceful stop exits 0: {status:?}");

    // What the 201 promised is there after a restart.
    let again = Server::start(data.path(), &[]);
    let details = reqwest::get(format!("{}/plugins/in-flight", again.base))
        .await
        .unwrap();
    assert_eq!(details.status(), 200);
    again.terminate();
}

/// The wait for requests in flight is bounded: a client that never finishes its
/// body holds the stop for the grace (10 s), not for its own timeouts.
#[tokio::test]
async fn a_request_that_never_finishes_cannot_hold_the_stop_past_the_grace() {
    let data = tempfile::tempdir().unwrap();
    let mut server = Server::start(
        data.path(),
        &[("OPENWORKFLOW_REGISTRY_BODY_TIMEOUT_SECS", "600")],
    );
    let address = server.base.trim_start_matches("http://").to_owned();
    let admin = std::fs::read_to_string(data.path().join("admin.key")).unwrap();
    let mut stream = served_connection(&address).await;
    let head = format!(
        "POST /plugins HTTP/1.1\r\nhost: {address}\r\nauthorization: Bearer {}\r\ncontent-type: application/yaml\r\ncontent-length: 1000\r\n\r\nname: stuck",
        admin.trim()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.send_sigterm();
    let signalled_at = Instant::now();
    let deadline = signalled_at + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "a stuck request held the stop for 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "still a clean exit: {status:?}");
    let waited = signalled_at.elapsed();
    assert!(
        waited >= Duration::from_secs(9),
        "the stop waited for the request in flight: exited {waited:?} after SIGTERM"
    );
    drop(stream);
}

/// A connection the server has accepted and answered once (`GET /healthz`), so a
/// signal sent next finds it being served, not waiting in the accept queue.
async fn served_connection(address: &str) -> tokio::net::TcpStream {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream
        .write_all(format!("GET /healthz HTTP/1.1\r\nhost: {address}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let read = stream.read(&mut buffer).await.unwrap();
        assert!(read > 0, "the server closed the connection: {seen:?}");
        seen.extend_from_slice(&buffer[..read]);
        let text = String::from_utf8_lossy(&seen).to_ascii_lowercase();
        let Some(end) = text.find("\r\n\r\n") else {
            continue;
        };
        let length: usize = text
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .map(|v| v.trim().parse().unwrap())
            .unwrap_or(0);
        if seen.len() >= end + 4 + length {
            assert!(text.starts_with("http/1.1 200"), "{text}");
            return stream;
        }
    }
}
