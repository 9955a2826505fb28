//! A hostile or failing server, hand-made on a unix socket: redirects are refused (and the
//! host they point to never hears from us), bodies past their cap fail while streaming,
//! a body or upload that stalls fails with the idle timeout, and a connection that goes
//! away mid-body is recognisable as such.
//!
//! Every server here is a tokio listener scripted byte by byte, so each case does exactly
//! what a broken server would; outer timeouts only turn a hang (the old behaviour) into a
//! failure, they never synchronise anything.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use lxd_transport::http::Method;
use lxd_transport::{Body, Request, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

/// A temporary directory removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new() -> Dir {
        static N: AtomicU64 = AtomicU64::new(0);
        let p = std::env::temp_dir().join(format!(
            "lxd-transport-hostile-{}-{}",
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

/// Serves every connection with `script`, after reading the request head.
fn serve<F, Fut>(script: F) -> (Dir, Transport)
where
    F: Fn(UnixStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let dir = Dir::new();
    let path = dir.0.join("unix.socket");
    let listener = UnixListener::bind(&path).unwrap();
    let script = Arc::new(script);
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let script = script.clone();
            tokio::spawn(async move {
                if read_head(&mut conn).await {
                    script(conn).await;
                }
            });
        }
    });
    let transport = Transport::unix_builder(Some(&path))
        .idle_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    (dir, transport)
}

/// Reads up to the end of a request head; false when the client went first.
async fn read_head(conn: &mut UnixStream) -> bool {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match conn.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => return false,
        }
    }
    true
}

/// Fails a test that would hang with the old code instead of letting it hang.
async fn bounded<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .unwrap_or_else(|_| panic!("{what} hung"))
}

#[tokio::test]
async fn a_redirect_is_an_error_and_is_not_followed() {
    // The host the redirect points to: plain HTTP on loopback. It must hear nothing.
    let mut elsewhere = mockito::Server::new_async().await;
    let hit = elsewhere
        .mock("POST", mockito::Matcher::Any)
        .with_status(200)
        .with_body(r#"{"type":"sync","status_code":200,"metadata":{}}"#)
        .expect(0)
        .create_async()
        .await;
    let location = format!(
        "{}/1.0/certificates?secret=redirect-secret",
        elsewhere.url()
    );
    for status in [301u16, 302, 303, 307, 308] {
        let location = location.clone();
        let (_dir, transport) = serve(move |mut conn| {
            let location = location.clone();
            async move {
                let reply = format!(
                    "HTTP/1.1 {status} Moved\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n"
                );
                let _ = conn.write_all(reply.as_bytes()).await;
            }
        });
        let request = Request::new(Method::POST, "/1.0/certificates")
            .json(br#"{"type":"client","password":"the-trust-password"}"#.to_vec());
        let err = bounded("the redirected request", transport.send(request))
            .await
            .expect_err("a redirect is not success");
        assert!(err.is_redirect(), "{status}: {err}");
        let text = format!("{err} {err:?}");
        assert!(text.contains(&status.to_string()), "{text}");
        assert!(
            text.contains("/1.0/certificates"),
            "names the Location: {text}"
        );
        assert!(
            !text.contains("redirect-secret"),
            "the query is left out: {text}"
        );
    }
    hit.assert_async().await;
}

/// A server that sends an endless chunked body, counting what it managed to send.
fn endless(sent: Arc<AtomicU64>, announce: Option<u64>) -> (Dir, Transport) {
    serve(move |mut conn| {
        let sent = sent.clone();
        async move {
            let head = match announce {
                Some(n) => format!("HTTP/1.1 200 OK\r\nContent-Length: {n}\r\n\r\n"),
                None => "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_string(),
            };
            if conn.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let data = vec![b'a'; 64 * 1024];
            let chunk = match announce {
                Some(_) => data.clone(),
                None => [
                    format!("{:x}\r\n", data.len()).into_bytes(),
                    data,
                    b"\r\n".to_vec(),
                ]
                .concat(),
            };
            // 256 MiB at most, as in the report; the client should stop us long before.
            for _ in 0..4096 {
                if conn.write_all(&chunk).await.is_err() {
                    return;
                }
                sent.fetch_add(64 * 1024, Ordering::Relaxed);
            }
        }
    })
}

#[tokio::test]
async fn a_body_past_its_cap_fails_while_streaming() {
    let sent = Arc::new(AtomicU64::new(0));
    let (_dir, transport) = endless(sent.clone(), None);
    let cap = 1024 * 1024;
    let response = transport
        .send(Request::new(Method::GET, "/1.0/instances"))
        .await
        .unwrap();
    let err = bounded("the capped read", response.bytes_limited(cap))
        .await
        .unwrap_err();
    assert!(err.is_body_too_large(), "{err}");
    assert!(err.to_string().contains(&cap.to_string()), "{err}");
    // Reading stopped at the cap: the server could not push much past it (socket buffers).
    let pushed = sent.load(Ordering::Relaxed);
    assert!(
        pushed < 16 * cap,
        "the client read {pushed} bytes for a cap of {cap}"
    );
}

#[tokio::test]
async fn the_transport_cap_bounds_bytes_and_an_announced_length_past_it_fails_at_once() {
    let sent = Arc::new(AtomicU64::new(0));
    let (dir, _) = endless(sent.clone(), Some(256 * 1024 * 1024));
    let transport = Transport::unix_builder(Some(&dir.0.join("unix.socket")))
        .max_body_size(512 * 1024)
        .build()
        .unwrap();
    assert_eq!(transport.max_body_size(), 512 * 1024);
    let response = transport
        .send(Request::new(Method::GET, "/1.0/instances"))
        .await
        .unwrap();
    let err = bounded("the capped read", response.bytes())
        .await
        .unwrap_err();
    assert!(err.is_body_too_large(), "{err}");
    assert!(sent.load(Ordering::Relaxed) < 16 * 1024 * 1024);
}

#[tokio::test]
async fn a_body_that_stalls_fails_with_the_idle_timeout() {
    let (_dir, transport) = serve(|mut conn| async move {
        let _ = conn
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"type\":")
            .await;
        // Then nothing, with the connection open, for longer than any test runs.
        tokio::time::sleep(Duration::from_secs(3600)).await;
    });
    // Whole body, chunk by chunk, and as a stream: each read is bounded.
    let response = transport
        .send(Request::new(Method::GET, "/1.0"))
        .await
        .unwrap();
    let err = bounded("the stalled body", response.bytes())
        .await
        .unwrap_err();
    assert!(err.is_idle_timeout() && err.is_timeout(), "{err}");
    assert!(!err.is_disconnected(), "{err}");

    let mut response = transport
        .send(Request::new(Method::GET, "/1.0"))
        .await
        .unwrap();
    let first = response.chunk().await.unwrap().unwrap();
    assert_eq!(&first[..], b"{\"type\":");
    let err = bounded("the stalled chunk", response.chunk())
        .await
        .unwrap_err();
    assert!(err.is_idle_timeout(), "{err}");

    use futures::StreamExt;
    let response = transport
        .send(Request::new(Method::GET, "/1.0"))
        .await
        .unwrap();
    let mut stream = Box::pin(response.into_stream());
    assert!(stream.next().await.unwrap().is_ok());
    let err = bounded("the stalled stream", stream.next())
        .await
        .unwrap()
        .unwrap_err();
    assert!(err.is_idle_timeout(), "{err}");
    assert!(stream.next().await.is_none(), "nothing follows the error");
}

#[tokio::test]
async fn an_upload_the_server_stops_reading_fails_with_the_idle_timeout() {
    // Reads the head, then never reads the body nor answers.
    let (_dir, transport) = serve(|conn| async move {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        drop(conn);
    });
    let endless = futures::stream::repeat_with(|| Ok(Bytes::from(vec![0u8; 64 * 1024])));
    let request = Request::new(Method::POST, "/1.0/instances/c1/files")
        .query("path", "/root/big")
        .body(Body::stream(endless, None));
    let err = bounded("the stalled upload", transport.send(request))
        .await
        .unwrap_err();
    assert!(err.is_idle_timeout(), "{err}");
}

#[tokio::test]
async fn a_slow_source_is_not_a_stalled_server() {
    // The server reads everything and answers; our source takes longer than the idle
    // timeout between chunks, which must not count against the server.
    let (_dir, transport) = serve(|mut conn| async move {
        let mut body = Vec::new();
        let _ = conn.read_to_end(&mut body).await;
    });
    let slow = futures::stream::unfold(0, |n| async move {
        if n == 2 {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(700)).await;
        Some((Ok(Bytes::from_static(b"slow")), n + 1))
    });
    let request = Request::new(Method::POST, "/1.0/instances/c1/files")
        .query("path", "/root/slow")
        .body(Body::stream(slow, Some(8)));
    // The server never answers (it waits for an end of body that a Content-Length
    // request does not send), so this ends with the outer bound, not the idle timeout.
    let outcome = tokio::time::timeout(Duration::from_millis(2500), transport.send(request)).await;
    if let Ok(result) = outcome {
        let err = result.unwrap_err();
        assert!(
            !err.is_idle_timeout(),
            "a slow source blamed on the server: {err}"
        );
    }
}

#[tokio::test]
async fn a_body_cut_mid_way_is_a_disconnection() {
    // Closed cleanly half-way through the announced length.
    let (_dir, closing) = serve(|mut conn| async move {
        let _ = conn
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n{\"type\":\"sync\"")
            .await;
        let _ = conn.shutdown().await;
    });
    // Reset: closed with unread data in its receive buffer (a unix socket's peer then sees
    // ECONNRESET), after part of a chunked body.
    let (_dir2, resetting) = serve(|mut conn| async move {
        let _ = conn
            .write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
            .await;
        let mut more = [0u8; 1];
        let _ = tokio::time::timeout(Duration::from_millis(50), conn.read(&mut more)).await;
    });
    for transport in [closing, resetting] {
        let request = Request::new(Method::POST, "/1.0/instances").json(vec![b' '; 256 * 1024]);
        let outcome = bounded("the cut body", async {
            transport.send(request).await?.bytes().await
        })
        .await;
        let err = outcome.unwrap_err();
        assert!(err.is_disconnected(), "{err} / {err:?}");
        assert!(!err.is_connect() && !err.is_timeout(), "{err}");
        assert!(err.to_string().contains("lost"), "{err}");
    }
}

#[tokio::test]
async fn a_server_that_hangs_up_before_answering_is_a_disconnection() {
    let (_dir, transport) = serve(|conn| async move { drop(conn) });
    let err = bounded(
        "the unanswered request",
        transport.send(Request::new(Method::GET, "/1.0")),
    )
    .await
    .unwrap_err();
    assert!(err.is_disconnected(), "{err} / {err:?}");
}
