//! How the client judges what a server sends back: real LXD envelopes, LXD errors, and bytes
//! no LXD would send (malformed JSON, HTML errors, cut bodies, closed connections). Served by a
//! tiny canned server on a real unix socket, so the whole stack (transport, envelope, errors)
//! runs. Every case must give a typed error, never a panic or a hang.

use std::path::PathBuf;
use std::time::Duration;

use lxd_client::{Client, Error};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixListener;

/// Serves `reply` (raw HTTP bytes) to every connection on a fresh socket; `None` closes the
/// connection right after reading the request.
fn serve(reply: Option<&'static [u8]>) -> (tempdir::Dir, PathBuf) {
    let dir = tempdir::Dir::new();
    let path = dir.0.join("unix.socket");
    let listener = UnixListener::bind(&path).unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                if let Some(reply) = reply {
                    let _ = conn.write_all(reply).await;
                }
                let _ = conn.shutdown().await;
            });
        }
    });
    (dir, path)
}

mod tempdir {
    /// A temporary directory removed on drop (no extra dependency for one test file).
    pub struct Dir(pub std::path::PathBuf);
    impl Dir {
        pub fn new() -> Dir {
            use std::sync::atomic::{AtomicU32, Ordering};
            static N: AtomicU32 = AtomicU32::new(0);
            let p = std::env::temp_dir().join(format!(
                "lxd-client-replies-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&p).unwrap();
            Dir(p)
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A whole HTTP reply with a correct Content-Length.
fn reply(status: &str, body: &str) -> &'static [u8] {
    let text = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    Box::leak(text.into_bytes().into_boxed_slice())
}

async fn get_server(reply: Option<&'static [u8]>) -> Result<(), Error> {
    let (_dir, path) = serve(reply);
    let client = Client::unix(&path).unwrap();
    // Every case must end well within this: a hang is a failure.
    tokio::time::timeout(Duration::from_secs(10), client.server())
        .await
        .expect("the client must not hang")
        .map(|_| ())
}

#[tokio::test]
async fn a_real_sync_envelope_decodes() {
    let body = include_str!("../../lxd-proto/tests/fixtures/server_trusted.json");
    let (_dir, path) = serve(Some(reply("200 OK", body)));
    let server = Client::unix(&path).unwrap().server().await.unwrap();
    assert!(server.is_trusted());
    assert_eq!(server.api_version, "1.0");
}

#[tokio::test]
async fn lxd_error_envelope_becomes_api_error() {
    let err = get_server(Some(reply(
        "404 Not Found",
        include_str!("../../lxd-proto/tests/fixtures/response_error.json"),
    )))
    .await
    .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert_eq!(err.lxd_message(), Some("Instance not found"));
}

#[tokio::test]
async fn malformed_json_is_a_malformed_error_with_a_snippet() {
    let err = get_server(Some(reply("200 OK", "{\"type\": \"sync\", ")))
        .await
        .unwrap_err();
    assert!(err.is_malformed(), "{err:?}");
    assert!(
        err.to_string().contains("type"),
        "the snippet shows the reply: {err}"
    );
}

#[tokio::test]
async fn json_that_is_not_an_envelope_is_malformed() {
    let err = get_server(Some(reply("200 OK", "[1,2,3]")))
        .await
        .unwrap_err();
    assert!(err.is_malformed(), "{err:?}");
}

#[tokio::test]
async fn wrong_metadata_shape_is_malformed() {
    let err = get_server(Some(reply(
        "200 OK",
        "{\"type\":\"sync\",\"status_code\":200,\"metadata\":\"x\"}",
    )))
    .await
    .unwrap_err();
    assert!(err.is_malformed(), "{err:?}");
}

#[tokio::test]
async fn html_error_page_is_an_api_error_with_its_text() {
    let err = get_server(Some(reply("502 Bad Gateway", "<h1>Bad Gateway</h1>")))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(502), "{err:?}");
    assert!(err.to_string().contains("Bad Gateway"));
}

#[tokio::test]
async fn body_cut_short_is_a_transport_error() {
    let err = get_server(Some(
        b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n{\"type\":\"sync\"",
    ))
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Transport(_)), "{err:?}");
}

#[tokio::test]
async fn connection_closed_before_a_reply_is_a_transport_error() {
    let err = get_server(None).await.unwrap_err();
    assert!(matches!(err, Error::Transport(_)), "{err:?}");
}

#[tokio::test]
async fn async_reply_without_operation_is_malformed() {
    let (_dir, path) = serve(Some(reply(
        "202 Accepted",
        "{\"type\":\"async\",\"status_code\":100,\"metadata\":{}}",
    )));
    let client = Client::unix(&path).unwrap();
    let err = client.instances().delete("c1").await.unwrap_err();
    assert!(err.is_malformed(), "{err:?}");
}

#[tokio::test]
async fn missing_socket_names_the_path() {
    let err = Client::unix("/nonexistent/lxd/unix.socket").unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    assert!(err.to_string().contains("/nonexistent/lxd/unix.socket"));
}
