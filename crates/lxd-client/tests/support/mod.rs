//! What several of lxd-client's test binaries share: making busybox containers on a
//! testkit server, and hand-made servers on a unix socket.

use lxd_client::Client;
use lxd_client::proto::{InstanceSource, InstanceStatePut, InstancesPost};

/// The creation request of a container `name` from the `busybox` image.
#[allow(dead_code)] // each test binary uses part of this module
pub fn busybox(name: &str) -> InstancesPost {
    InstancesPost {
        name: name.into(),
        source: InstanceSource::image_alias("busybox"),
        ..Default::default()
    }
}

/// Creates and starts `name` from `busybox`, waiting for both.
#[allow(dead_code)]
pub async fn launch(client: &Client, name: &str) {
    let instances = client.instances();
    instances
        .create(&busybox(name))
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    instances
        .set_state(name, &InstanceStatePut::start())
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
}

/// A fresh directory under the temp dir for a hand-made server's unix socket, removed on
/// drop.
#[allow(dead_code)] // not every test binary serves by hand
pub struct SocketDir(pub std::path::PathBuf);

#[allow(dead_code)]
impl SocketDir {
    pub fn new(tag: &str) -> SocketDir {
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "lxd-client-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        SocketDir(dir)
    }

    pub fn socket(&self) -> std::path::PathBuf {
        self.0.join("unix.socket")
    }
}

impl Drop for SocketDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A hand-made server on a fresh unix socket: for every connection it reads the request
/// head (up to its blank line) and hands the connection and the head to `script`, which
/// answers byte by byte as the test needs. A connection closed before its head is dropped.
#[allow(dead_code)]
pub fn serve_heads<F, Fut>(tag: &str, script: F) -> (SocketDir, std::path::PathBuf)
where
    F: Fn(tokio::net::UnixStream, String) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    use tokio::io::AsyncReadExt;
    let dir = SocketDir::new(tag);
    let path = dir.socket();
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    let script = std::sync::Arc::new(script);
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let script = script.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match conn.read(&mut byte).await {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                script(conn, String::from_utf8_lossy(&head).into_owned()).await;
            });
        }
    });
    (dir, path)
}

/// Runs each named scenario, an `async fn NAME(flavor: ServerFlavor)`, once per server
/// flavor the testkit imitates: tests `NAME::lxd` (LXD 5.0), `NAME::lxd6` (LXD 6.9, which
/// cannot run here as a real daemon) and `NAME::incus` (Incus 6.0), so one plain `cargo
/// test` walks every scenario on all three. A module and a function may share a name, so
/// the scenario keeps its own.
#[allow(unused_macros)] // not every test binary has flavored scenarios
macro_rules! each_flavor {
    ($($scenario:ident),+ $(,)?) => {
        $(
            mod $scenario {
                #[tokio::test]
                async fn lxd() {
                    super::$scenario(lxd_testkit::ServerFlavor::Lxd).await
                }

                #[tokio::test]
                async fn lxd6() {
                    super::$scenario(lxd_testkit::ServerFlavor::Lxd6).await
                }

                #[tokio::test]
                async fn incus() {
                    super::$scenario(lxd_testkit::ServerFlavor::Incus).await
                }
            }
        )+
    };
}

/// A testkit server of `flavor`, the builder's other defaults kept.
#[allow(dead_code)]
pub async fn start(flavor: lxd_testkit::ServerFlavor) -> lxd_testkit::TestServer {
    lxd_testkit::TestServer::builder()
        .flavor(flavor)
        .start()
        .await
        .unwrap()
}

/// One request as a hand-made server of [`serve_requests`] read it.
#[allow(dead_code)]
#[derive(Clone, Debug)]
pub struct SeenRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The request target: path and query (`/1.0/operations/op1/wait?timeout=-1`).
    pub target: String,
    /// The body (JSON for LXD's writes), empty when there was none.
    pub body: String,
}

#[allow(dead_code)]
impl SeenRequest {
    /// The path without the query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }

    /// `METHOD target`, for asserting on a whole exchange at once.
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.target)
    }
}

/// A hand-made server on a fresh unix socket that speaks keep-alive HTTP/1.1: it reads each
/// request whole (head, then a `Content-Length` body), records it, and sends back the
/// `(status, JSON body)` that `answer` gives. Returns the socket's directory, its path, and
/// the log of every request in arrival order.
#[allow(dead_code)]
pub fn serve_requests<F, Fut>(
    tag: &str,
    answer: F,
) -> (
    SocketDir,
    std::path::PathBuf,
    std::sync::Arc<std::sync::Mutex<Vec<SeenRequest>>>,
)
where
    F: Fn(SeenRequest) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = (u16, String)> + Send + 'static,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let answer = std::sync::Arc::new(answer);
    let (dir, path) = serve_heads(tag, move |mut conn, first_head| {
        let (answer, log) = (answer.clone(), log.clone());
        async move {
            let mut head = first_head;
            loop {
                let mut lines = head.lines();
                let mut start = lines.next().unwrap_or_default().split(' ');
                let method = start.next().unwrap_or_default().to_string();
                let target = start.next().unwrap_or_default().to_string();
                let length: usize = lines
                    .filter_map(|l| l.split_once(':'))
                    .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
                    .and_then(|(_, v)| v.trim().parse().ok())
                    .unwrap_or(0);
                let mut body = vec![0u8; length];
                if conn.read_exact(&mut body).await.is_err() {
                    return;
                }
                let request = SeenRequest {
                    method,
                    target,
                    body: String::from_utf8_lossy(&body).into_owned(),
                };
                log.lock().unwrap().push(request.clone());
                let (status, json) = answer(request).await;
                let reply = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{json}",
                    json.len()
                );
                if conn.write_all(reply.as_bytes()).await.is_err() {
                    return;
                }
                // The next request's head on the same connection, if the client keeps it.
                let mut next = Vec::new();
                let mut byte = [0u8; 1];
                while !next.ends_with(b"\r\n\r\n") {
                    match conn.read(&mut byte).await {
                        Ok(1) => next.push(byte[0]),
                        _ => return,
                    }
                }
                head = String::from_utf8_lossy(&next).into_owned();
            }
        }
    });
    (dir, path, seen)
}
