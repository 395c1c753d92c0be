//! The server's bounded waits and connection caps, with real slow and idle
//! clients on loopback. Every wait here is bounded, so a server that never closes
//! a connection fails the test instead of hanging it.

use std::net::SocketAddr;
use std::time::Duration;

use openworkflow_registry::ConnectionLimits;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::helpers::*;

/// How long a test waits for the server to act before calling it stuck.
const PATIENCE: Duration = Duration::from_secs(10);

async fn app_with(limits: ConnectionLimits) -> TestApp {
    // The bounds do not depend on the storage backend: one run is enough.
    TestApp::spawn_configured_on(TestBackend::Embedded, |config| config.connections = limits).await
}

fn quick_timeouts() -> ConnectionLimits {
    ConnectionLimits {
        header_timeout: Duration::from_secs(1),
        body_timeout: Duration::from_secs(1),
        ..ConnectionLimits::default()
    }
}

fn server_addr(app: &TestApp) -> SocketAddr {
    app.base.trim_start_matches("http://").parse().unwrap()
}

/// A connection from another loopback address, so per-client caps tell it apart
/// from the test's own client on 127.0.0.1.
async fn connect_from(source: &str, server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    socket.connect(server).await.unwrap()
}

/// A connection from `source` that the server has admitted: it has answered one
/// request on it, and the connection stays open (keep-alive). Connections are
/// accepted by several threads, so one merely connected may not be counted yet.
async fn admitted_from(source: &str, server: SocketAddr) -> TcpStream {
    let mut stream = connect_from(source, server).await;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: registry\r\n\r\n")
        .await
        .unwrap();
    let mut head = [0u8; 12];
    tokio::time::timeout(PATIENCE, stream.read_exact(&mut head))
        .await
        .expect("the server answers")
        .unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    stream
}

/// Everything the server sends until it closes the connection.
async fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut received))
        .await
        .expect("the server closes the connection")
        .expect("read");
    String::from_utf8_lossy(&received).into_owned()
}

fn problem_code(response: &str) -> Value {
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    serde_json::from_str::<Value>(body).unwrap_or_default()["code"].clone()
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed() {
    let app = app_with(quick_timeouts()).await;
    let mut silent = TcpStream::connect(server_addr(&app)).await.unwrap();
    assert_eq!(
        read_until_closed(&mut silent).await,
        "",
        "closed without a word"
    );
}

#[tokio::test]
async fn a_head_trickled_past_the_timeout_gets_408_and_the_connection_closes() {
    let app = app_with(quick_timeouts()).await;
    let mut slow = TcpStream::connect(server_addr(&app)).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: registry\r\nX-Slow: ")
        .await
        .unwrap();
    let (mut reader, mut writer) = slow.into_split();
    let trickle = tokio::spawn(async move {
        for _ in 0..40 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if writer.write_all(b"a").await.is_err() {
                break;
            }
        }
    });
    let mut received = Vec::new();
    tokio::time::timeout(PATIENCE, reader.read_to_end(&mut received))
        .await
        .expect("the server closes the connection")
        .unwrap();
    trickle.abort();
    let response = String::from_utf8_lossy(&received);
    assert!(response.starts_with("HTTP/1.1 408 "), "{response}");
    assert_eq!(problem_code(&response), "request_timeout");
}

#[tokio::test]
async fn a_body_trickled_past_the_timeout_gets_408() {
    let app = app_with(quick_timeouts()).await;
    let mut slow = TcpStream::connect(server_addr(&app)).await.unwrap();
    let head = format!(
        "POST /plugins HTTP/1.1\r\nHost: registry\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/yaml\r\nContent-Length: 100000\r\n\r\nslug: slow\n",
        app.admin_key
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    let (mut reader, mut writer) = slow.into_split();
    let trickle = tokio::spawn(async move {
        for _ in 0..40 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if writer.write_all(b"#\n").await.is_err() {
                break;
            }
        }
    });
    let mut received = Vec::new();
    tokio::time::timeout(PATIENCE, reader.read_to_end(&mut received))
        .await
        .expect("the server answers and closes")
        .unwrap();
    trickle.abort();
    let response = String::from_utf8_lossy(&received);
    assert!(response.starts_with("HTTP/1.1 408 "), "{response}");
    assert!(
        response.to_ascii_lowercase().contains("connection: close"),
        "{response}"
    );
    assert_eq!(problem_code(&response), "request_timeout");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_its_response() {
    let app = app_with(quick_timeouts()).await;
    let mut idle = TcpStream::connect(server_addr(&app)).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: registry\r\n\r\n")
        .await
        .unwrap();
    let response = read_until_closed(&mut idle).await;
    assert!(response.starts_with("HTTP/1.1 200 "), "{response}");
    assert_eq!(
        response.matches("HTTP/1.1").count(),
        1,
        "one response, then the idle connection closes: {response}"
    );
}

#[tokio::test]
async fn past_the_per_client_cap_new_connections_get_429_while_others_are_served() {
    let app = app_with(ConnectionLimits {
        max_connections_per_client: 4,
        ..ConnectionLimits::default()
    })
    .await;
    let server = server_addr(&app);
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(admitted_from("127.0.0.2", server).await);
    }
    let mut one_too_many = connect_from("127.0.0.2", server).await;
    let refused = read_until_closed(&mut one_too_many).await;
    assert!(refused.starts_with("HTTP/1.1 429 "), "{refused}");
    assert_eq!(problem_code(&refused), "too_many_connections");
    // Another client is served while the first holds its connections open.
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    // A place freed is a place taken again.
    drop(held.pop());
    let mut admitted = None;
    for _ in 0..50 {
        let mut again = connect_from("127.0.0.2", server).await;
        again
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: r\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let response = read_until_closed(&mut again).await;
        if response.starts_with("HTTP/1.1 200 ") {
            admitted = Some(response);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        admitted.is_some(),
        "a freed place is given to the next connection"
    );
}

#[tokio::test]
async fn past_the_server_cap_new_connections_get_503() {
    let app = app_with(ConnectionLimits {
        max_connections: 6,
        max_connections_per_client: 0,
        ..ConnectionLimits::default()
    })
    .await;
    let server = server_addr(&app);
    let mut held = Vec::new();
    for _ in 0..6 {
        held.push(admitted_from("127.0.0.3", server).await);
    }
    let mut one_too_many = TcpStream::connect(server).await.unwrap();
    let refused = read_until_closed(&mut one_too_many).await;
    assert!(refused.starts_with("HTTP/1.1 503 "), "{refused}");
    assert_eq!(problem_code(&refused), "too_many_connections");
}
