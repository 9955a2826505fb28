//! Keep-alive on the unix socket, against a hand-made HTTP/1.1 server that counts its
//! connections and, for each, the requests it received.
//!
//! The rule under test: every connection the transport opens carries a request at once
//! (LXD 5.0.2 stalls every later connection while one that sent nothing is open), and
//! connections that have carried one are reused. Also: a connection the server closed while
//! it waited idle does not fail the next request, a request is only sent twice when that is
//! safe, and a reply cut short is still a typed error.
//!
//! Nothing here waits on a clock to synchronise: "every connection has been accepted" is
//! known from a probe connection answered after them (the accept loop takes connections in
//! order), and closes are awaited through a watch channel. Outer timeouts only turn a hang
//! into a failure.

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use futures::future::join_all;
use lxd_transport::http::Method;
use lxd_transport::{Body, Request, Timeout, Transport};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::watch;

/// A temporary directory removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new() -> Dir {
        static N: AtomicU64 = AtomicU64::new(0);
        let p = std::env::temp_dir().join(format!(
            "lxd-transport-keepalive-{}-{}",
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

/// What the server does with one request.
#[derive(Clone, Copy, Debug)]
enum Action {
    /// Answers (after `delay_us` microseconds) and keeps the connection open.
    Reply { delay_us: u64 },
    /// Answers, then closes the connection (with no `Connection: close` to warn).
    ReplyAndClose,
    /// Closes the connection without answering.
    Hangup,
    /// Sends the head and part of the body, then closes.
    CutBody,
    /// Sends the head and part of the body, then nothing, connection open.
    StallBody,
    /// Sends a 4 MiB body (more than the socket buffers hold), then keeps the connection.
    BigBody,
}

/// One connection as the server saw it.
#[derive(Default, Debug)]
struct Conn {
    /// Requests read in full.
    requests: AtomicUsize,
    /// A probe of the test's own (not the transport's).
    probe: AtomicBool,
}

/// What a request looked like.
#[derive(Debug)]
struct Seen {
    method: String,
    path: String,
    body: Vec<u8>,
}

/// The server's script: (connection index, request index on it, the request) to an action.
type Script = dyn Fn(usize, usize, &Seen) -> Action + Send + Sync;

struct Server {
    _dir: Dir,
    path: PathBuf,
    conns: Arc<Mutex<Vec<Arc<Conn>>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
    /// How many connections are open right now.
    open: watch::Receiver<usize>,
}

impl Server {
    fn start(script: impl Fn(usize, usize, &Seen) -> Action + Send + Sync + 'static) -> Server {
        let dir = Dir::new();
        let path = dir.0.join("unix.socket");
        let listener = UnixListener::bind(&path).unwrap();
        let conns: Arc<Mutex<Vec<Arc<Conn>>>> = Arc::default();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let (open_tx, open) = watch::channel(0usize);
        let open_tx = Arc::new(open_tx);
        let script: Arc<Script> = Arc::new(script);
        let (c, s) = (conns.clone(), seen.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                // Registered here, in accept order, before anything is read.
                let conn = Arc::new(Conn::default());
                let index = {
                    let mut all = c.lock().unwrap();
                    all.push(conn.clone());
                    all.len() - 1
                };
                open_tx.send_modify(|n| *n += 1);
                let (script, seen, open_tx) = (script.clone(), s.clone(), open_tx.clone());
                tokio::spawn(async move {
                    serve(stream, index, &conn, &*script, &seen).await;
                    open_tx.send_modify(|n| *n -= 1);
                });
            }
        });
        Server {
            _dir: dir,
            path,
            conns,
            seen,
            open,
        }
    }

    /// A server that answers everything, after `delay` (microseconds, per request).
    fn answering(delay: impl Fn() -> u64 + Send + Sync + 'static) -> Server {
        Server::start(move |_, _, _| Action::Reply { delay_us: delay() })
    }

    fn transport(&self) -> Transport {
        Transport::unix_builder(Some(&self.path)).build().unwrap()
    }

    /// The transport's connections so far (the test's probes left out): requests of each.
    fn connections(&self) -> Vec<usize> {
        self.conns
            .lock()
            .unwrap()
            .iter()
            .filter(|c| !c.probe.load(Ordering::SeqCst))
            .map(|c| c.requests.load(Ordering::SeqCst))
            .collect()
    }

    /// A raw connection of our own that sends `GET /probe` and reads the answer. Once it is
    /// answered, every connection opened before it has been accepted and registered.
    async fn probe(&self) {
        let mut stream = UnixStream::connect(&self.path).await.unwrap();
        stream
            .write_all(b"GET /probe HTTP/1.1\r\nHost: lxd\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut reply = Vec::new();
        bounded("the probe", stream.read_to_end(&mut reply))
            .await
            .unwrap();
        assert!(reply.starts_with(b"HTTP/1.1 200"), "{reply:?}");
    }

    /// Waits until at most `n` connections are open.
    async fn open_at_most(&self, n: usize) {
        let mut open = self.open.clone();
        bounded("the connections to close", open.wait_for(|&now| now <= n))
            .await
            .unwrap();
    }
}

/// Serves one connection until it closes or the script ends it.
async fn serve(
    stream: UnixStream,
    index: usize,
    conn: &Conn,
    script: &Script,
    seen: &Mutex<Vec<Seen>>,
) {
    let mut stream = BufReader::new(stream);
    let mut on_this = 0;
    loop {
        let Some(request) = read_request(&mut stream).await else {
            return;
        };
        if request.path == "/probe" {
            conn.probe.store(true, Ordering::SeqCst);
        }
        conn.requests.fetch_add(1, Ordering::SeqCst);
        let action = if request.path == "/probe" {
            Action::ReplyAndClose
        } else {
            script(index, on_this, &request)
        };
        on_this += 1;
        let body = format!(
            "{{\"conn\":{index},\"method\":\"{}\",\"path\":\"{}\",\"body\":{}}}",
            request.method,
            request.path,
            request.body.len()
        );
        seen.lock().unwrap().push(request);
        let io = stream.get_mut();
        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
        match action {
            Action::Reply { delay_us } => {
                if delay_us > 0 {
                    tokio::time::sleep(Duration::from_micros(delay_us)).await;
                }
                if io.write_all((head + &body).as_bytes()).await.is_err() {
                    return;
                }
            }
            Action::ReplyAndClose => {
                let _ = io.write_all((head + &body).as_bytes()).await;
                return;
            }
            Action::Hangup => return,
            Action::CutBody => {
                let _ = io
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"type\":")
                    .await;
                return;
            }
            Action::BigBody => {
                let size = 4 << 20;
                let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n");
                if io.write_all(head.as_bytes()).await.is_err()
                    || io.write_all(&vec![b'x'; size]).await.is_err()
                {
                    return;
                }
            }
            Action::StallBody => {
                let _ = io
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"type\":")
                    .await;
                std::future::pending::<()>().await;
            }
        }
    }
}

/// Reads one request (head, then a body framed by Content-Length or chunked); None when
/// the connection ends first.
async fn read_request(stream: &mut BufReader<UnixStream>) -> Option<Seen> {
    let mut line = String::new();
    if stream.read_line(&mut line).await.ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let (mut length, mut chunked) = (0usize, false);
    loop {
        line.clear();
        if stream.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = value.parse().ok()?;
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.eq_ignore_ascii_case("chunked");
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            stream.read_line(&mut line).await.ok()?;
            let size = usize::from_str_radix(line.trim(), 16).ok()?;
            let mut chunk = vec![0; size + 2];
            stream.read_exact(&mut chunk).await.ok()?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else {
        body.resize(length, 0);
        stream.read_exact(&mut body).await.ok()?;
    }
    Some(Seen { method, path, body })
}

/// Fails a test that would hang instead of letting it hang.
async fn bounded<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .unwrap_or_else(|_| panic!("{what} hung"))
}

/// A small xorshift generator: random delays without a dependency (seeded per test run).
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        eprintln!("random seed {seed}");
        Rng(seed | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

async fn get(transport: &Transport, path: &str) -> lxd_transport::Result<String> {
    let response = transport.send(Request::new(Method::GET, path)).await?;
    assert!(response.status().is_success());
    let body = response.bytes().await?;
    Ok(String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn sequential_requests_share_one_connection() {
    let server = Server::answering(|| 0);
    let transport = server.transport();
    for i in 0..20 {
        let body = bounded("a request", get(&transport, &format!("/1.0/r{i}")))
            .await
            .unwrap();
        assert!(body.contains(&format!("\"path\":\"/1.0/r{i}\"")), "{body}");
    }
    // Bodies both ways, each request kind on the same connection: JSON, a streamed upload
    // with its length and one without (sent chunked), and a streamed download.
    let json = Request::new(Method::POST, "/1.0/profiles").json(br#"{"name":"web"}"#.to_vec());
    let body = transport.send(json).await.unwrap().bytes().await.unwrap();
    assert!(body.ends_with(b"\"body\":14}"), "{body:?}");
    for length in [Some(11), None] {
        let chunks = futures::stream::iter([Ok(Bytes::from("hello ")), Ok(Bytes::from("world"))]);
        let push = Request::new(Method::POST, "/1.0/instances/c1/files")
            .query("path", "/root/a b")
            .body(Body::stream(chunks, length));
        let reply = transport.send(push).await.unwrap();
        let chunks: Vec<_> = reply.into_stream().collect().await;
        let text: Vec<u8> = chunks
            .into_iter()
            .flat_map(|c| c.unwrap().to_vec())
            .collect();
        assert!(text.ends_with(b"\"body\":11}"), "{length:?}: {text:?}");
    }
    let seen = server.seen.lock().unwrap();
    assert_eq!(seen.len(), 23);
    assert_eq!(seen[21].body, b"hello world");
    assert_eq!(seen[22].body, b"hello world");
    assert_eq!(seen[21].path, "/1.0/instances/c1/files?path=%2Froot%2Fa+b");
    drop(seen);
    assert_eq!(
        server.connections(),
        vec![23],
        "23 sequential requests on one connection"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bursts_never_leave_a_connection_that_sent_nothing() {
    let rng = Arc::new(Mutex::new(Rng::new()));
    let server_rng = rng.clone();
    let server = Server::answering(move || server_rng.lock().unwrap().below(2000));
    let transport = server.transport();
    for round in 0..6 {
        let requests = (0..32).map(|i| {
            let (transport, pause) = (transport.clone(), rng.lock().unwrap().below(1500));
            async move {
                tokio::time::sleep(Duration::from_micros(pause)).await;
                get(&transport, &format!("/1.0/b{round}-{i}")).await
            }
        });
        for result in bounded("a burst", join_all(requests)).await {
            result.unwrap();
        }
        // The client is still alive, with its idle connections: none may be silent.
        server.probe().await;
        let conns = server.connections();
        let silent = conns.iter().filter(|&&n| n == 0).count();
        assert_eq!(
            silent, 0,
            "round {round}: connections (requests each) {conns:?}"
        );
        assert_eq!(conns.iter().sum::<usize>(), 32 * (round + 1));
    }
    // Kept connections were reused: far fewer connections than requests.
    let conns = server.connections();
    assert!(conns.len() < 6 * 32, "{} connections", conns.len());
    // At most 8 stay idle; dropping the transport closes them all.
    server.open_at_most(8).await;
    drop(transport);
    server.open_at_most(0).await;
}

#[tokio::test]
async fn a_connection_the_server_closed_while_idle_does_not_fail_the_next_request() {
    // Every connection answers one request, then closes (no `Connection: close` said so).
    let server = Server::start(|_, _, _| Action::ReplyAndClose);
    let transport = server.transport();
    for i in 0..10 {
        bounded("a request", get(&transport, &format!("/1.0/c{i}")))
            .await
            .unwrap();
    }
    assert_eq!(server.connections(), vec![1; 10]);
}

#[tokio::test]
async fn a_get_on_a_connection_closed_under_it_is_sent_again_on_a_fresh_one() {
    // The first connection answers one request and hangs up on the next one (as a daemon
    // closing an idle connection just as a request arrives); later ones answer.
    let server = Server::start(|conn, nth, _| match (conn, nth) {
        (0, 1) => Action::Hangup,
        _ => Action::Reply { delay_us: 0 },
    });
    let transport = server.transport();
    get(&transport, "/1.0/first").await.unwrap();
    let body = bounded("the retried request", get(&transport, "/1.0/second"))
        .await
        .unwrap();
    assert!(
        body.contains("\"conn\":1"),
        "answered on a fresh connection: {body}"
    );
    assert_eq!(server.connections(), vec![2, 1]);
}

#[tokio::test]
async fn a_write_on_a_connection_closed_under_it_is_not_sent_twice() {
    for body in [
        Body::from(br#"{"name":"c1"}"#.to_vec()),
        Body::stream(futures::stream::iter([Ok(Bytes::from("data"))]), Some(4)),
        Body::stream(futures::stream::iter([Ok(Bytes::from("data"))]), None),
    ] {
        let server = Server::start(|conn, nth, _| match (conn, nth) {
            (0, 1) => Action::Hangup,
            _ => Action::Reply { delay_us: 0 },
        });
        let transport = server.transport();
        get(&transport, "/1.0/first").await.unwrap();
        let post = Request::new(Method::POST, "/1.0/instances").body(body);
        let err = bounded("the failed write", transport.send(post))
            .await
            .unwrap_err();
        assert!(err.is_disconnected(), "{err} / {err:?}");
        assert!(!err.is_connect() && !err.is_timeout(), "{err}");
        let methods: Vec<String> = server
            .seen
            .lock()
            .unwrap()
            .iter()
            .map(|s| s.method.clone())
            .collect();
        assert_eq!(methods, ["GET", "POST"], "the POST reached the server once");
        assert_eq!(server.connections(), vec![2]);
        // The transport is not stuck: the next request gets a fresh connection.
        get(&transport, "/1.0/after").await.unwrap();
        assert_eq!(server.connections(), vec![2, 1]);
    }
}

#[tokio::test]
async fn a_reply_cut_short_on_a_reused_connection_is_a_disconnection() {
    // The first connection answers once, then cuts its second reply; later ones cut theirs.
    let server = Server::start(|conn, nth, _| match (conn, nth) {
        (0, 0) => Action::Reply { delay_us: 0 },
        _ => Action::CutBody,
    });
    let transport = server.transport();
    get(&transport, "/1.0/first").await.unwrap();
    // The head arrived, so nothing is sent again: the body's end is the error.
    let response = transport
        .send(Request::new(Method::GET, "/1.0/second"))
        .await
        .unwrap();
    let err = bounded("the cut body", response.bytes()).await.unwrap_err();
    assert!(err.is_disconnected(), "{err} / {err:?}");
    assert!(err.to_string().contains("lost"), "{err}");
    assert_eq!(server.connections(), vec![2]);
    // A body cut on a fresh connection too.
    let err = bounded("the cut body", get(&transport, "/1.0/third"))
        .await
        .unwrap_err();
    assert!(err.is_disconnected(), "{err}");
}

#[tokio::test]
async fn a_body_dropped_unread_closes_its_connection_and_the_next_request_works() {
    let server = Server::start(|conn, _, _| match conn {
        0 => Action::BigBody,
        _ => Action::Reply { delay_us: 0 },
    });
    let transport = server.transport();
    // A download abandoned after its first chunk.
    let mut response = transport
        .send(Request::new(Method::GET, "/1.0/images/big/export"))
        .await
        .unwrap();
    assert!(response.chunk().await.unwrap().unwrap().starts_with(b"x"));
    drop(response);
    // The dropped body's connection is not reused (it could not be): it closes.
    server.open_at_most(0).await;
    get(&transport, "/1.0/next").await.unwrap();
    assert_eq!(server.connections(), vec![1, 1]);
}

#[tokio::test]
async fn the_request_timeout_also_bounds_the_body() {
    let server = Server::start(|_, _, _| Action::StallBody);
    let transport = Transport::unix_builder(Some(&server.path))
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let response = transport
        .send(Request::new(Method::GET, "/1.0/slow"))
        .await
        .unwrap();
    let err = bounded("the stalled body", response.bytes())
        .await
        .unwrap_err();
    assert!(err.is_timeout() && !err.is_idle_timeout(), "{err}");
    // A request without a limit waits on its body with the idle timeout only.
    let patient = Transport::unix_builder(Some(&server.path))
        .timeout(Duration::from_millis(300))
        .idle_timeout(Duration::from_millis(600))
        .build()
        .unwrap();
    let request = Request::new(Method::GET, "/1.0/slow").timeout(Timeout::None);
    let response = patient.send(request).await.unwrap();
    let err = bounded("the stalled body", response.bytes())
        .await
        .unwrap_err();
    assert!(err.is_idle_timeout(), "{err}");
}

#[tokio::test]
async fn a_get_lost_with_its_daemon_is_a_disconnection_not_a_refused_connect() {
    // The daemon dies under a request sent on a kept connection (an operation wait, say):
    // the request is sent again, the daemon cannot be reached, and what is reported is that
    // the request's connection was lost.
    let server = Server::start(|_, nth, _| match nth {
        0 => Action::Reply { delay_us: 0 },
        _ => Action::Hangup,
    });
    let transport = server.transport();
    get(&transport, "/1.0").await.unwrap();
    std::fs::remove_file(&server.path).unwrap();
    let err = bounded("the request", get(&transport, "/1.0/operations/x/wait"))
        .await
        .unwrap_err();
    assert!(
        err.is_disconnected() && !err.is_connect(),
        "{err} / {err:?}"
    );
    // Nothing reachable and no kept connection: a connect error.
    let err = bounded("the request", get(&transport, "/1.0"))
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{err} / {err:?}");
}

#[tokio::test]
async fn a_request_from_another_runtime_does_not_wait_on_this_ones_connection() {
    // A clean-up run from `Drop` on a runtime of its own, while this (current-thread)
    // runtime is blocked waiting for it: the connection kept here cannot be driven then,
    // so the other runtime must use one of its own. (The server runs on a runtime of its
    // own too, so it keeps serving while this one is blocked.)
    let serving = tokio::runtime::Runtime::new().unwrap();
    let server = {
        let _on = serving.enter();
        Server::answering(|| 0)
    };
    let transport = server.transport();
    get(&transport, "/1.0/here").await.unwrap();
    let other = transport.clone();
    let outcome = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async move {
                tokio::time::timeout(Duration::from_secs(5), get(&other, "/1.0/there")).await
            })
    })
    .join()
    .unwrap();
    let body = outcome
        .expect("the other runtime's request hung on this runtime's connection")
        .unwrap();
    assert!(body.contains("\"conn\":1"), "{body}");
    // Back here, the connection kept on this runtime is used again.
    let body = get(&transport, "/1.0/here-again").await.unwrap();
    assert!(body.contains("\"conn\":0"), "{body}");
    serving.shutdown_background();
}
