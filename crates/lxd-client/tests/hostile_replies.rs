//! What a hostile server cannot do to a client any more: fill its memory with a huge
//! reply (a listing, an object, an error body, a refused websocket upgrade), stall it for
//! ever mid-body, or redirect it elsewhere. And a server that goes away mid-reply is
//! recognisable as such (`is_disconnected`), not as a malformed reply.
//!
//! Each server is scripted byte by byte on a unix socket. Outer timeouts only turn a hang
//! (the old behaviour) into a failure; they never synchronise anything.

mod support;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use lxd_client::{Client, ClientBuilder, Error};
use support::{SocketDir, serve_heads};
use tokio::io::AsyncWriteExt;
use tokio::net::UnixStream;

/// Serves every connection with `script(conn, request head)`.
fn serve<F, Fut>(script: F) -> (SocketDir, PathBuf)
where
    F: Fn(UnixStream, String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    serve_heads("hostile", script)
}

async fn bounded<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), f)
        .await
        .unwrap_or_else(|_| panic!("{what} hung"))
}

/// Sends `head`, then `prefix`, then up to 256 MiB of `filler` in chunked encoding, counting
/// the bytes the client accepted.
async fn flood(mut conn: UnixStream, head: &str, prefix: &[u8], filler: u8, sent: &AtomicU64) {
    let head = format!("{head}\r\nTransfer-Encoding: chunked\r\n\r\n");
    if conn.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    let chunk = |data: &[u8]| [format!("{:x}\r\n", data.len()).as_bytes(), data, b"\r\n"].concat();
    if conn.write_all(&chunk(prefix)).await.is_err() {
        return;
    }
    let filler = chunk(&vec![filler; 64 * 1024]);
    for _ in 0..4096 {
        if conn.write_all(&filler).await.is_err() {
            return;
        }
        sent.fetch_add(64 * 1024, Ordering::Relaxed);
    }
}

#[tokio::test]
async fn a_256_mib_listing_is_refused_at_the_cap() {
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    let (_dir, socket) = serve(move |conn, _| {
        let sent = counter.clone();
        async move {
            // `["/1.0/instances/aaaa…` for ever: what list_names() reads.
            let prefix = br#"{"type":"sync","status":"Success","status_code":200,"metadata":["/1.0/instances/"#;
            flood(conn, "HTTP/1.1 200 OK", prefix, b'a', &sent).await;
        }
    });
    let client = Client::unix(&socket).unwrap();
    let err = bounded("list_names", client.instances().list_names())
        .await
        .unwrap_err();
    assert!(err.is_body_too_large(), "{err}");
    // A names listing is one object to the client: the JSON cap (8 MiB) applies; the
    // server could not push much past it.
    let pushed = sent.load(Ordering::Relaxed);
    assert!(pushed < 24 * 1024 * 1024, "read {pushed} bytes");

    // The caps are the caller's to choose: a listing (recursion) uses the listing cap.
    let small = ClientBuilder::unix(&socket)
        .max_listing_size(256 * 1024)
        .build()
        .unwrap();
    sent.store(0, Ordering::Relaxed);
    let err = bounded("list", small.instances().list()).await.unwrap_err();
    assert!(err.is_body_too_large(), "{err}");
    assert!(err.to_string().contains("262144"), "{err}");
    assert!(sent.load(Ordering::Relaxed) < 8 * 1024 * 1024);
}

#[tokio::test]
async fn an_error_body_past_its_cap_is_refused() {
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    let (_dir, socket) = serve(move |conn, _| {
        let sent = counter.clone();
        async move {
            let prefix = br#"{"type":"error","error_code":500,"error":""#;
            flood(
                conn,
                "HTTP/1.1 500 Internal Server Error",
                prefix,
                b'e',
                &sent,
            )
            .await;
        }
    });
    let client = Client::unix(&socket).unwrap();
    let err = bounded("an error reply", client.profiles().get("default"))
        .await
        .unwrap_err();
    assert!(err.is_body_too_large(), "{err}");
    assert!(sent.load(Ordering::Relaxed) < 8 * 1024 * 1024);
}

#[tokio::test]
async fn a_refused_websocket_upgrade_is_not_read_whole() {
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    let (_dir, socket) = serve(move |conn, _| {
        let sent = counter.clone();
        async move {
            let prefix = br#"{"type":"error","error_code":403,"error":"not authorized"}"#;
            flood(conn, "HTTP/1.1 403 Forbidden", prefix, b' ', &sent).await;
        }
    });
    let client = ClientBuilder::unix(&socket)
        .max_error_size(4096)
        .build()
        .unwrap();
    assert_eq!(client.transport().max_error_body_size(), 4096);
    let err = bounded("the refused upgrade", client.websocket("/1.0/events", &[]))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Transport(lxd_client::transport::Error::WebSocketRefused { status: 403, body, .. })
                if body.len() <= 4096 && body.contains("not authorized")
        ),
        "{err:?}"
    );
    assert!(sent.load(Ordering::Relaxed) < 8 * 1024 * 1024);
}

#[tokio::test]
async fn a_reply_that_stalls_fails_with_the_idle_timeout() {
    let (_dir, socket) = serve(|mut conn, _| async move {
        let _ = conn
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n{\"type\":\"sync\",")
            .await;
        tokio::time::sleep(Duration::from_secs(3600)).await;
    });
    let client = ClientBuilder::unix(&socket)
        .idle_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let err = bounded("the stalled reply", client.profiles().list_names())
        .await
        .unwrap_err();
    assert!(err.is_idle_timeout() && err.is_timeout(), "{err}");
}

#[tokio::test]
async fn a_redirect_is_refused() {
    let (_dir, socket) = serve(|mut conn, _| async move {
        let _ = conn
            .write_all(
                b"HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.1:9/1.0?secret=leak\r\nContent-Length: 0\r\n\r\n",
            )
            .await;
    });
    let client = Client::unix(&socket).unwrap();
    let err = bounded("the redirected request", client.server())
        .await
        .unwrap_err();
    assert!(err.is_redirect(), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("307") && text.contains("http://127.0.0.1:9/1.0"),
        "{text}"
    );
    assert!(!text.contains("leak"), "{text}");
}

#[tokio::test]
async fn a_reply_cut_mid_body_is_a_disconnection() {
    let (_dir, socket) = serve(|mut conn, _| async move {
        let _ = conn
            .write_all(
                b"HTTP/1.1 200 OK\r\nContent-Length: 4000\r\n\r\n{\"type\":\"sync\",\"metadata\":[\"/1.0/profiles/default\",",
            )
            .await;
        let _ = conn.shutdown().await;
    });
    let client = Client::unix(&socket).unwrap();
    let err = bounded("the cut reply", client.profiles().list_names())
        .await
        .unwrap_err();
    assert!(err.is_disconnected(), "{err}");
    assert!(!err.is_connect() && !err.is_io() && !err.is_timeout() && !err.is_malformed());
}
