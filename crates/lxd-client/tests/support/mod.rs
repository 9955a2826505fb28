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
