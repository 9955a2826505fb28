//! The server: its shared core, the unix socket and HTTPS listeners (every connection
//! served concurrently, so an idle connection never holds up another), and [`TestServer`].

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::events::Events;
use crate::faults::Faults;
use crate::flavor::ServerFlavor;
use crate::http::{ApiError, Body, Identity, Req, error_response, render};
use crate::operations::Operations;
use crate::requests::{RequestLog, SeenRequest};
use crate::seed::Seed;
use crate::state::State;
use crate::tls::ServerIdentity;

/// The shared core every handler works on.
pub(crate) struct Inner {
    state: Mutex<State>,
    pub(crate) ops: Arc<Operations>,
    pub(crate) events: Arc<Events>,
    pub(crate) faults: Faults,
    /// Every request received, for [`TestServer::requests`].
    pub(crate) requests: RequestLog,
    pub(crate) identity: ServerIdentity,
    /// The server presented: LXD or Incus.
    pub(crate) flavor: ServerFlavor,
    /// Flips to true when the server stops; long-running tasks end then.
    pub(crate) shutdown: watch::Sender<bool>,
    /// What `environment.server_pid` says.
    pub(crate) pid: i64,
    /// (project, instance) whose processes all died (stop, restart): exec sessions end.
    pub(crate) killed: tokio::sync::broadcast::Sender<(String, String)>,
    /// Request body bytes read so far, all connections together: what tests check to
    /// prove a refused body was not read.
    pub(crate) body_bytes_read: std::sync::atomic::AtomicU64,
}

impl Inner {
    /// The state, locked. Never hold the guard across an `await`.
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Resolves when the server stops.
    pub(crate) async fn stopped(&self) {
        let mut rx = self.shutdown.subscribe();
        let _ = rx.wait_for(|stopped| *stopped).await;
    }
}

/// Why a server could not start.
#[derive(Debug)]
pub struct Error {
    message: String,
}

impl Error {
    pub(crate) fn new(message: impl Into<String>) -> Error {
        Error {
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Configures a [`TestServer`] before it starts: where it lives, HTTPS, trust, and what it
/// holds from the start (seeding).
///
/// ```no_run
/// # async fn demo() -> Result<(), lxd_testkit::Error> {
/// use lxd_testkit::{ImageSeed, TestServer};
///
/// let server = TestServer::builder()
///     .https()
///     .trust_password("s3cret")
///     .image(ImageSeed::new("alpine").property("os", "alpine"))
///     .profile("web", &[("limits.cpu", "2")])
///     .project("dev")
///     .cluster_member("node2")
///     .start()
///     .await?;
/// println!("{}", server.https_url().unwrap());
/// # Ok(()) }
/// ```
#[must_use]
pub struct TestServerBuilder {
    dir: Option<PathBuf>,
    https: Option<SocketAddr>,
    server_name: String,
    operation_expiry: Duration,
    seeds: Vec<Seed>,
    busybox: bool,
    trust_password: Option<String>,
    flavor: ServerFlavor,
}

impl std::fmt::Debug for TestServerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServerBuilder")
            .field("dir", &self.dir)
            .field("https", &self.https)
            .field("server_name", &self.server_name)
            .field("flavor", &self.flavor)
            .finish_non_exhaustive()
    }
}

impl Default for TestServerBuilder {
    fn default() -> Self {
        TestServerBuilder {
            dir: None,
            https: None,
            server_name: "lxd-testkit".into(),
            operation_expiry: Duration::from_secs(5),
            seeds: Vec::new(),
            busybox: true,
            trust_password: None,
            flavor: ServerFlavor::Lxd,
        }
    }
}

impl TestServerBuilder {
    /// Serves in `dir` (created if missing): the socket is `<dir>/unix.socket`, so
    /// `LXD_DIR=<dir>` points `lxc` at it. `dir` is left in place when the server stops
    /// (only the socket is removed). Default: a fresh directory under the system temp
    /// directory, removed when the server stops. A unix socket path is limited to 107 bytes.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), lxd_testkit::Error> {
    /// let dir = std::env::temp_dir().join(format!("tk-doc-{}", std::process::id()));
    /// let server = lxd_testkit::TestServer::builder().dir(&dir).start().await?;
    /// assert_eq!(server.socket_path(), dir.canonicalize().unwrap().join("unix.socket"));
    /// drop(server);
    /// assert!(dir.exists()); // left for you to inspect (server.crt, ...) or remove
    /// std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok(()) }
    /// ```
    pub fn dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Also listens on HTTPS at `127.0.0.1` on a free port.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = lxd_testkit::TestServer::builder().https().start().await?;
    /// let client = lxd_client::Client::https(server.https_url().unwrap())
    ///     .server_fingerprint(server.certificate_fingerprint())
    ///     .build()?;
    /// assert!(!client.trusted().await?); // reached over TLS, but no trusted certificate yet
    /// # Ok(()) }
    /// ```
    pub fn https(mut self) -> Self {
        self.https = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
        self
    }

    /// Also listens on HTTPS at `address`, which must be a loopback address (port 0 picks
    /// a free port): the testkit never listens on the network.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use lxd_testkit::TestServer;
    /// let address: std::net::SocketAddr = "127.0.0.2:0".parse()?; // port 0: any free port
    /// let server = TestServer::builder().https_address(address).start().await?;
    /// assert_eq!(server.https_address().unwrap().ip(), address.ip());
    /// // Never on the network:
    /// assert!(TestServer::builder().https_address("0.0.0.0:8443".parse()?).start().await.is_err());
    /// # Ok(()) }
    /// ```
    pub fn https_address(mut self, address: SocketAddr) -> Self {
        self.https = Some(address);
        self
    }

    /// The server's name (`environment.server_name`, the first cluster member's name).
    /// Default `lxd-testkit`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = lxd_testkit::TestServer::builder().server_name("node1").start().await?;
    /// let client = lxd_client::Client::unix(server.socket_path())?;
    /// assert_eq!(client.server().await?.environment.server_name, "node1");
    /// # Ok(()) }
    /// ```
    pub fn server_name(mut self, name: &str) -> Self {
        self.server_name = name.to_string();
        self
    }

    /// Presents the server as LXD (the default) or as Incus: `GET /1.0` says
    /// `environment.server: "incus"` with Incus's version, extensions and `auth_user_*`
    /// fields, the files and images APIs speak `X-Incus-*` headers and image exports carry
    /// `X-Incus-Type`. Everything else (state, endpoints, errors) stays LXD 5.0's.
    ///
    /// ```
    /// use lxd_testkit::{ServerFlavor, TestServer};
    ///
    /// let server = TestServer::builder()
    ///     .flavor(ServerFlavor::Incus)
    ///     .start_blocking()
    ///     .unwrap();
    /// assert_eq!(server.flavor(), ServerFlavor::Incus);
    /// ```
    pub fn flavor(mut self, flavor: ServerFlavor) -> Self {
        self.flavor = flavor;
        self
    }

    /// Presents the server as Incus: short for `.flavor(ServerFlavor::Incus)`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use lxd_client::{Client, Flavor};
    /// let server = lxd_testkit::TestServer::builder().incus().start().await?;
    /// let client = Client::unix(server.socket_path())?;
    /// assert_eq!(client.flavor().await?, Flavor::Incus);
    /// # Ok(()) }
    /// ```
    pub fn incus(self) -> Self {
        self.flavor(ServerFlavor::Incus)
    }

    /// How long finished operations stay listed (LXD: 5 seconds).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use lxd_client::proto::{InstanceSource, InstancesPost};
    /// let server = lxd_testkit::TestServer::builder()
    ///     .operation_expiry(Duration::from_millis(100))
    ///     .start()
    ///     .await?;
    /// let client = lxd_client::Client::unix(server.socket_path())?;
    /// let c1 = InstancesPost { name: "c1".into(), source: InstanceSource::image_alias("busybox"), ..Default::default() };
    /// client.instances().create_and_wait(&c1).await?;
    /// assert_eq!(client.operations().list().await?.len(), 1);
    /// tokio::time::sleep(Duration::from_millis(300)).await;
    /// assert!(client.operations().list().await?.is_empty());
    /// # Ok(()) }
    /// ```
    pub fn operation_expiry(mut self, expiry: Duration) -> Self {
        self.operation_expiry = expiry;
        self
    }

    /// Sets `core.trust_password`: HTTPS clients presenting it in `POST /1.0/certificates`
    /// become trusted. The LXD 6 flavor has no trust password (LXD 6 answers one with 501)
    /// and ignores it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use lxd_testkit::{ClientCertificate, TestServer};
    /// let server = TestServer::builder().https().trust_password("s3cret").start().await?;
    /// let cert = ClientCertificate::generate("laptop")?;
    /// let client = lxd_client::Client::https(server.https_url().unwrap())
    ///     .client_certificate_pem(cert.certificate_pem.as_bytes(), cert.key_pem.as_bytes())
    ///     .server_fingerprint(server.certificate_fingerprint())
    ///     .build()?;
    /// assert!(client.authenticate("wrong").await.is_err());
    /// client.authenticate("s3cret").await?;
    /// assert!(client.trusted().await?);
    /// # Ok(()) }
    /// ```
    pub fn trust_password(mut self, password: &str) -> Self {
        self.trust_password = Some(password.to_string());
        self
    }

    /// Trusts this client certificate (PEM) from the start, under `name`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use lxd_testkit::{ClientCertificate, TestServer};
    /// let cert = ClientCertificate::generate("ci")?;
    /// let server = TestServer::builder().https().trust_certificate("ci", &cert.certificate_pem).start().await?;
    /// let client = lxd_client::Client::https(server.https_url().unwrap())
    ///     .client_certificate_pem(cert.certificate_pem.as_bytes(), cert.key_pem.as_bytes())
    ///     .server_fingerprint(server.certificate_fingerprint())
    ///     .build()?;
    /// assert!(client.trusted().await?);
    /// # Ok(()) }
    /// ```
    pub fn trust_certificate(mut self, name: &str, pem: &str) -> Self {
        self.seeds.push(Seed::Certificate {
            name: name.to_string(),
            pem: pem.to_string(),
        });
        self
    }

    /// Leaves out the default `busybox` image.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = lxd_testkit::TestServer::builder().without_busybox().start().await?;
    /// let client = lxd_client::Client::unix(server.socket_path())?;
    /// assert!(client.images().list_fingerprints().await?.is_empty());
    /// # Ok(()) }
    /// ```
    pub fn without_busybox(mut self) -> Self {
        self.busybox = false;
        self
    }

    /// Adds an image (with its aliases).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use lxd_testkit::{ImageSeed, TestServer};
    /// let server = TestServer::builder()
    ///     .image(ImageSeed::new("alpine").property("release", "3.20"))
    ///     .start()
    ///     .await?;
    /// let client = lxd_client::Client::unix(server.socket_path())?;
    /// assert_eq!(client.images().list_fingerprints().await?.len(), 2); // with busybox
    /// # Ok(()) }
    /// ```
    pub fn image(mut self, image: crate::ImageSeed) -> Self {
        self.seeds.push(Seed::Image(image));
        self
    }

    /// Adds a profile to the default project with these config keys.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = lxd_testkit::TestServer::builder()
    ///     .profile("small", &[("limits.cpu", "1"), ("limits.memory", "256MiB")])
    ///     .start()
    ///     .await?;
    /// let client = lxd_client::Client::unix(server.socket_path())?;
    /// assert_eq!(client.profiles().get("small").await?.config["limits.cpu"], "1");
    /// # Ok(()) }
    /// ```
    pub fn profile(mut self, name: &str, config: &[(&str, &str)]) -> Self {
        self.seeds
            .push(Seed::Profile(crate::ProfileSeed::new(name).configs(config)));
        self
    }

    /// Adds a profile described in full.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use lxd_testkit::{ProfileSeed, TestServer};
    /// let web = ProfileSeed::new("web").device("eth0", &[("type", "nic"), ("network", "br0")]);
    /// let server = TestServer::builder().network("br0", &[]).profile_seed(web).start().await?;
    /// let client = lxd_client::Client::unix(server.socket_path())?;
    /// assert_eq!(client.profiles().get("web").await?.devices["eth0"]["network"], "br0");
    /// # Ok(()) }
    /// ```
    pub fn profile_seed(mut self, profile: crate::ProfileSeed) -> Self {
        self.seeds.push(Seed::Profile(profile));
        self
    }

    /// Adds a managed bridge network with these config keys.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = lxd_testkit::TestServer::builder()
    ///     .network("br0", &[("ipv4.address", "10.10.0.1/24"), ("ipv6.address", "none")])
    ///     .start()
    ///     .await?;
    /// let client = lxd_client::Client::unix(server.socket_path())?;
    /// let br0 = client.networks().get("br0").await?;
    /// assert!(br0.managed);
    /// assert_eq!(br0.config["ipv4.address"], "10.10.0.1/24");
    /// # Ok(()) }
    /// ```
    pub fn network(mut self, name: &str, config: &[(&str, &str)]) -> Self {
        self.seeds.push(Seed::Network {
            name: name.to_string(),
            config: pairs(config),
        });
        self
    }

    /// Adds a storage pool (driver `dir`) besides `default`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = lxd_testkit::TestServer::builder().storage_pool("fast", "zfs").start().await?;
    /// let client = lxd_client::Client::unix(server.socket_path())?;
    /// assert_eq!(client.storage_pools().get("fast").await?.driver, "zfs");
    /// assert_eq!(client.storage_pools().list_names().await?, ["default", "fast"]);
    /// # Ok(()) }
    /// ```
    pub fn storage_pool(mut self, name: &str, driver: &str) -> Self {
        self.seeds.push(Seed::Pool {
            name: name.to_string(),
            driver: driver.to_string(),
        });
        self
    }

    /// Adds a project with LXD's default features (and its own `default` profile).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = lxd_testkit::TestServer::builder().project("staging").start().await?;
    /// let client = lxd_client::Client::unix(server.socket_path())?;
    /// let staging = client.projects().get("staging").await?;
    /// assert_eq!(staging.config["features.profiles"], "true");
    /// assert!(client.with_project("staging")?.profiles().exists("default").await?);
    /// # Ok(()) }
    /// ```
    pub fn project(mut self, name: &str) -> Self {
        self.seeds.push(Seed::Project {
            name: name.to_string(),
            config: Vec::new(),
        });
        self
    }

    /// Adds a project with these config keys (e.g. `features.images=false`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = lxd_testkit::TestServer::builder()
    ///     .project_with("shared", &[("features.images", "false"), ("limits.instances", "5")])
    ///     .start()
    ///     .await?;
    /// let client = lxd_client::Client::unix(server.socket_path())?;
    /// assert_eq!(client.projects().get("shared").await?.config["limits.instances"], "5");
    /// # Ok(()) }
    /// ```
    pub fn project_with(mut self, name: &str, config: &[(&str, &str)]) -> Self {
        self.seeds.push(Seed::Project {
            name: name.to_string(),
            config: pairs(config),
        });
        self
    }

    /// Makes the server a cluster and adds a member named `name` (simulated: it exists in
    /// the API, instances can be placed on it with `?target=`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = lxd_testkit::TestServer::builder()
    ///     .server_name("node1")
    ///     .cluster_member("node2")
    ///     .start()
    ///     .await?;
    /// let client = lxd_client::Client::unix(server.socket_path())?;
    /// assert_eq!(client.cluster().members().list_names().await?, ["node1", "node2"]);
    /// # Ok(()) }
    /// ```
    pub fn cluster_member(mut self, name: &str) -> Self {
        self.seeds.push(Seed::Member(name.to_string()));
        self
    }

    /// Adds a warning (type, message) in the default project.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = lxd_testkit::TestServer::builder()
    ///     .warning("Disk nearly full", "90% of pool default used")
    ///     .start()
    ///     .await?;
    /// let client = lxd_client::Client::unix(server.socket_path())?;
    /// let warnings = client.warnings().list().await?;
    /// assert_eq!(warnings[0].last_message, "90% of pool default used");
    /// # Ok(()) }
    /// ```
    pub fn warning(mut self, kind: &str, message: &str) -> Self {
        self.seeds.push(Seed::Warning {
            kind: kind.to_string(),
            message: message.to_string(),
        });
        self
    }

    /// Starts the server on the current tokio runtime.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = lxd_testkit::TestServer::builder().https().project("ci").start().await?;
    /// let client = lxd_client::Client::unix(server.socket_path())?.with_project("ci")?;
    /// assert!(client.instances().list_names().await?.is_empty());
    /// # Ok(()) }
    /// ```
    pub async fn start(self) -> Result<TestServer, Error> {
        TestServer::launch(self).await
    }

    /// Starts the server on a runtime of its own, for tests that are not async (a sync
    /// client, a subprocess such as `lxc` or pylxd). Not for use inside an async context.
    ///
    /// ```
    /// let server = lxd_testkit::TestServer::builder().start_blocking().unwrap();
    /// assert!(server.socket_path().exists());
    /// ```
    pub fn start_blocking(self) -> Result<BlockingTestServer, Error> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("lxd-testkit")
            .enable_all()
            .build()
            .map_err(|e| Error::new(format!("starting a runtime: {e}")))?;
        let server = runtime.block_on(self.start())?;
        Ok(BlockingTestServer {
            server: Some(server),
            runtime: Some(runtime),
        })
    }
}

/// A [`TestServer`] running on a runtime of its own ([`TestServerBuilder::start_blocking`]).
/// Dereferences to the server; stops (with its runtime) when dropped.
#[derive(Debug)]
pub struct BlockingTestServer {
    server: Option<TestServer>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::ops::Deref for BlockingTestServer {
    type Target = TestServer;

    fn deref(&self) -> &TestServer {
        self.server.as_ref().expect("present until dropped")
    }
}

impl Drop for BlockingTestServer {
    fn drop(&mut self) {
        drop(self.server.take());
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

fn pairs(config: &[(&str, &str)]) -> Vec<(String, String)> {
    config
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A running in-process LXD imitation. Stops when dropped.
///
/// ```no_run
/// # async fn demo() -> Result<(), lxd_testkit::Error> {
/// let server = lxd_testkit::TestServer::start().await?;
/// println!("LXD_DIR={}", server.dir().display());
/// println!("socket {}", server.socket_path().display());
/// # Ok(()) }
/// ```
pub struct TestServer {
    inner: Arc<Inner>,
    dir: PathBuf,
    /// The default directory, removed on drop: `TempDir` removes it with std's
    /// `remove_dir_all`, which never follows a symlink out of the tree.
    owned_dir: Option<tempfile::TempDir>,
    socket: PathBuf,
    https: Option<SocketAddr>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer")
            .field("socket", &self.socket)
            .field("https", &self.https)
            .finish_non_exhaustive()
    }
}

impl TestServer {
    /// Starts a server with the defaults: unix socket only, in a fresh temporary directory,
    /// with the `busybox` image, the `default` profile, project and storage pool.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), lxd_testkit::Error> {
    /// let server = lxd_testkit::TestServer::start().await?;
    /// assert!(server.socket_path().ends_with("unix.socket"));
    /// assert!(server.https_url().is_none());
    /// # Ok(()) }
    /// ```
    pub async fn start() -> Result<TestServer, Error> {
        TestServerBuilder::default().start().await
    }

    /// Configures a server before starting it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), lxd_testkit::Error> {
    /// use lxd_testkit::{ImageSeed, TestServer};
    /// let server = TestServer::builder()
    ///     .without_busybox()
    ///     .image(ImageSeed::new("alpine"))
    ///     .start()
    ///     .await?;
    /// # let _ = server;
    /// # Ok(()) }
    /// ```
    pub fn builder() -> TestServerBuilder {
        TestServerBuilder::default()
    }

    async fn launch(builder: TestServerBuilder) -> Result<TestServer, Error> {
        // The default directory gets an unpredictable name, created exclusively with mode
        // 0700 (tempfile): a name derived from the pid could be planted in advance by another
        // local user as a symlink, which would then receive `server.key` and be emptied
        // when the server drops.
        let (dir, owned_dir) = match &builder.dir {
            Some(dir) => {
                std::fs::create_dir_all(dir)
                    .map_err(|e| Error::new(format!("creating {}: {e}", dir.display())))?;
                (dir.clone(), None)
            }
            None => {
                use std::os::unix::fs::PermissionsExt;
                // mkdir(2) fails on an existing entry (a planted link included), so the
                // directory is ours; tempfile retries with another random name then.
                let temp = tempfile::Builder::new()
                    .prefix("lxd-testkit-")
                    .permissions(std::fs::Permissions::from_mode(0o700))
                    .tempdir()
                    .map_err(|e| Error::new(format!("creating a temporary directory: {e}")))?;
                (temp.path().to_path_buf(), Some(temp))
            }
        };
        let dir = dir.canonicalize().unwrap_or(dir);
        let socket = dir.join("unix.socket");
        if socket.as_os_str().len() > 107 {
            return Err(Error::new(format!(
                "{} is longer than a unix socket path may be (107 bytes)",
                socket.display()
            )));
        }
        let listener = bind_unix(&socket)?;

        let identity = ServerIdentity::generate(&builder.server_name).map_err(Error::new)?;
        write_identity(&dir, &identity)?;

        let https_listener = match builder.https {
            Some(address) => {
                if !address.ip().is_loopback() {
                    return Err(Error::new(format!(
                        "{address} is not a loopback address: the testkit only listens locally"
                    )));
                }
                Some(
                    TcpListener::bind(address)
                        .await
                        .map_err(|e| Error::new(format!("binding {address}: {e}")))?,
                )
            }
            None => None,
        };
        let https = match &https_listener {
            Some(l) => Some(
                l.local_addr()
                    .map_err(|e| Error::new(format!("HTTPS address: {e}")))?,
            ),
            None => None,
        };

        let mut state = State::new(&builder.server_name, &dir.display().to_string());
        if let Some(address) = https {
            state
                .config
                .insert("core.https_address".into(), address.to_string());
            state.addresses = vec![address.to_string()];
        }
        if builder.flavor.takes_trust_password() {
            state.trust_password = builder.trust_password.clone();
        }
        crate::seed::apply_defaults(&mut state, builder.busybox);
        for seed in &builder.seeds {
            crate::seed::apply(&mut state, seed).map_err(Error::new)?;
        }
        let location = state.location();

        let events = Arc::new(Events::new(&location));
        let (shutdown, _) = watch::channel(false);
        let ops = Arc::new(Operations::new(
            events.clone(),
            builder.operation_expiry,
            &location,
            builder.flavor.operations_carry_err_code(),
            shutdown.subscribe(),
        ));
        let inner = Arc::new(Inner {
            state: Mutex::new(state),
            ops,
            events,
            faults: Faults::default(),
            requests: RequestLog::default(),
            identity,
            flavor: builder.flavor,
            shutdown,
            pid: i64::from(std::process::id()),
            killed: tokio::sync::broadcast::channel(64).0,
            body_bytes_read: std::sync::atomic::AtomicU64::new(0),
        });

        let mut tasks = vec![tokio::spawn(accept_unix(inner.clone(), listener))];
        if let Some(listener) = https_listener {
            let config = inner.identity.server_config().map_err(Error::new)?;
            let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
            tasks.push(tokio::spawn(accept_https(
                inner.clone(),
                listener,
                acceptor,
            )));
        }
        tracing::debug!(socket = %socket.display(), ?https, "lxd-testkit started");
        Ok(TestServer {
            inner,
            dir,
            owned_dir,
            socket,
            https,
            tasks,
        })
    }

    /// The server's directory: `LXD_DIR` for `lxc`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), lxd_testkit::Error> {
    /// let server = lxd_testkit::TestServer::start().await?;
    /// // Laid out like LXD's own directory.
    /// assert!(server.dir().join("server.crt").exists());
    /// assert_eq!(server.socket_path(), server.dir().join("unix.socket"));
    /// # Ok(()) }
    /// ```
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The unix socket (`<dir>/unix.socket`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = lxd_testkit::TestServer::start().await?;
    /// let client = lxd_client::Client::unix(server.socket_path())?;
    /// assert!(client.images().exists("busybox").await?);
    /// # Ok(()) }
    /// ```
    pub fn socket_path(&self) -> &Path {
        &self.socket
    }

    /// The HTTPS address, when HTTPS is on.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), lxd_testkit::Error> {
    /// let server = lxd_testkit::TestServer::builder().https().start().await?;
    /// let address = server.https_address().unwrap();
    /// assert!(address.ip().is_loopback() && address.port() != 0);
    /// # Ok(()) }
    /// ```
    pub fn https_address(&self) -> Option<SocketAddr> {
        self.https
    }

    /// The HTTPS URL (`https://127.0.0.1:<port>`), when HTTPS is on.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), lxd_testkit::Error> {
    /// let server = lxd_testkit::TestServer::builder().https().start().await?;
    /// assert!(server.https_url().unwrap().starts_with("https://127.0.0.1:"));
    /// assert_eq!(server.certificate_fingerprint().len(), 64);
    /// # Ok(()) }
    /// ```
    pub fn https_url(&self) -> Option<String> {
        self.https.map(|a| format!("https://{a}"))
    }

    /// The server certificate (PEM), also written to `<dir>/server.crt`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = lxd_testkit::TestServer::builder().https().start().await?;
    /// let client = lxd_client::Client::https(server.https_url().unwrap())
    ///     .server_certificate_pem(server.certificate_pem().as_bytes())
    ///     .build()?;
    /// assert!(!client.trusted().await?); // the pinned certificate checked out
    /// assert_eq!(std::fs::read_to_string(server.dir().join("server.crt"))?, server.certificate_pem());
    /// # Ok(()) }
    /// ```
    pub fn certificate_pem(&self) -> &str {
        &self.inner.identity.cert_pem
    }

    /// The SHA-256 fingerprint of the server certificate (64 hex digits).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = lxd_testkit::TestServer::builder().https().start().await?;
    /// let pem = server.certificate_pem().as_bytes();
    /// let fingerprint = lxd_transport::Fingerprint::of_pem(pem)?;
    /// assert_eq!(fingerprint.to_string(), server.certificate_fingerprint());
    /// # Ok(()) }
    /// ```
    pub fn certificate_fingerprint(&self) -> &str {
        &self.inner.identity.fingerprint
    }

    /// The fault rules; see [`Faults`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use lxd_testkit::{Fault, FaultRule, TestServer};
    /// let server = TestServer::start().await?;
    /// let client = lxd_client::Client::unix(server.socket_path())?;
    /// let gone = Fault::Error { status: 404, message: "Profile not found".into() };
    /// server.faults().add(FaultRule::new(gone).path("/1.0/profiles/default").times(1));
    /// assert!(client.profiles().get("default").await.unwrap_err().is_not_found());
    /// # Ok(()) }
    /// ```
    pub fn faults(&self) -> &Faults {
        &self.inner.faults
    }

    /// The server this one presents itself as ([`TestServerBuilder::flavor`]).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), lxd_testkit::Error> {
    /// use lxd_testkit::{ServerFlavor, TestServer};
    /// let server = TestServer::start().await?;
    /// assert_eq!(server.flavor(), ServerFlavor::Lxd); // unless built with .incus()
    /// # Ok(()) }
    /// ```
    pub fn flavor(&self) -> ServerFlavor {
        self.inner.flavor
    }

    /// Environment variables that point the `incus` command at this server: `INCUS_DIR`
    /// and `INCUS_SOCKET` (read first). Meant for a server started in Incus mode
    /// ([`TestServerBuilder::incus`]); use `incus --force-local` too.
    ///
    /// ```no_run
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = lxd_testkit::TestServer::builder().incus().start().await?;
    /// let status = std::process::Command::new("incus")
    ///     .args(["--force-local", "launch", "busybox", "c1"])
    ///     .envs(server.incus_env())
    ///     .status()?;
    /// assert!(status.success());
    /// # Ok(()) }
    /// ```
    pub fn incus_env(&self) -> Vec<(String, String)> {
        vec![
            ("INCUS_DIR".into(), self.dir.display().to_string()),
            ("INCUS_SOCKET".into(), self.socket.display().to_string()),
        ]
    }

    /// Environment variables that point the `lxc` command at this server: `LXD_DIR` and
    /// `LXD_SOCKET` (lxc 5.0 reads `LXD_SOCKET` first). Use `lxc --force-local` too.
    ///
    /// ```no_run
    /// # async fn demo(server: lxd_testkit::TestServer) {
    /// let status = std::process::Command::new("lxc")
    ///     .args(["--force-local", "list"])
    ///     .envs(server.lxc_env())
    ///     .status()
    ///     .unwrap();
    /// assert!(status.success());
    /// # }
    /// ```
    pub fn lxc_env(&self) -> Vec<(String, String)> {
        vec![
            ("LXD_DIR".into(), self.dir.display().to_string()),
            ("LXD_SOCKET".into(), self.socket.display().to_string()),
        ]
    }

    /// Trusts a client certificate (PEM) under `name`, as `lxc config trust add` does.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use lxd_testkit::{ClientCertificate, TestServer};
    /// let server = TestServer::builder().https().start().await?;
    /// let cert = ClientCertificate::generate("ci")?;
    /// let client = lxd_client::Client::https(server.https_url().unwrap())
    ///     .client_certificate_pem(cert.certificate_pem.as_bytes(), cert.key_pem.as_bytes())
    ///     .server_fingerprint(server.certificate_fingerprint())
    ///     .build()?;
    /// assert!(!client.trusted().await?);
    /// server.trust_certificate("ci", &cert.certificate_pem)?; // `lxc config trust add`
    /// // `trusted()` reads the client's cached `GET /1.0`: ask again.
    /// assert_eq!(client.refresh_server().await?.auth, "trusted");
    /// # Ok(()) }
    /// ```
    pub fn trust_certificate(&self, name: &str, pem: &str) -> Result<(), Error> {
        crate::seed::apply(
            &mut self.inner.state(),
            &Seed::Certificate {
                name: name.to_string(),
                pem: pem.to_string(),
            },
        )
        .map_err(Error::new)
    }

    /// Issues a certificate add token for a client named `name` (what `lxc config trust
    /// add --name` prints). Needs HTTPS. Single use.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), lxd_testkit::Error> {
    /// let server = lxd_testkit::TestServer::builder().https().start().await?;
    /// let token = server.trust_token("laptop")?;
    /// let decoded = lxd_testkit::proto::CertificateAddToken::decode(&token).unwrap();
    /// assert_eq!(decoded.client_name, "laptop");
    /// assert_eq!(decoded.fingerprint, server.certificate_fingerprint());
    /// # Ok(()) }
    /// ```
    pub fn trust_token(&self, name: &str) -> Result<String, Error> {
        crate::api::certificates::issue_token(&self.inner, name, None)
            .map_err(|e| Error::new(e.message))
    }

    /// Adds an image while running.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = lxd_testkit::TestServer::start().await?;
    /// server.add_image(lxd_testkit::ImageSeed::new("alpine"))?;
    /// let client = lxd_client::Client::unix(server.socket_path())?;
    /// assert!(client.images().exists("alpine").await?);
    /// # Ok(()) }
    /// ```
    pub fn add_image(&self, image: crate::ImageSeed) -> Result<(), Error> {
        crate::seed::apply(&mut self.inner.state(), &Seed::Image(image)).map_err(Error::new)
    }

    /// The events the server has sent so far (operation, lifecycle and logging), oldest
    /// first, whether or not anyone listened (the last 5,000 to 10,000 on a long run).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use lxd_testkit::proto::{EventPayload, LifecycleAction};
    ///
    /// let server = lxd_testkit::TestServer::start().await?;
    /// let client = lxd_client::Client::unix(server.socket_path())?;
    /// client.profiles().create(&lxd_client::proto::ProfilesPost {
    ///     name: "web".into(),
    ///     ..Default::default()
    /// }).await?;
    /// let created = server.events().into_iter().any(|event| matches!(
    ///     &event.payload,
    ///     EventPayload::Lifecycle(l) if l.action == LifecycleAction::ProfileCreated
    /// ));
    /// assert!(created);
    /// # Ok(()) }
    /// ```
    pub fn events(&self) -> Vec<lxd_proto::Event> {
        self.inner.events.history()
    }

    /// Every request the server received so far, oldest first (the last 10,000): what a
    /// test checks when it must prove what its code sent, and what it did not.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use lxd_client::proto::ProfilesPost;
    ///
    /// let server = lxd_testkit::TestServer::start().await?;
    /// let client = lxd_client::Client::unix(server.socket_path())?;
    /// let web = ProfilesPost { name: "web".into(), ..Default::default() };
    /// client.profiles().create(&web).await?;
    /// client.profiles().delete("web").await?;
    ///
    /// let sent: Vec<(String, String)> = server
    ///     .requests()
    ///     .into_iter()
    ///     .map(|r| (r.method, r.path))
    ///     .filter(|(_, path)| path.starts_with("/1.0/profiles"))
    ///     .collect();
    /// assert_eq!(
    ///     sent,
    ///     [("POST".into(), "/1.0/profiles".into()), ("DELETE".into(), "/1.0/profiles/web".into())]
    /// );
    /// let create = server.requests().into_iter().find(|r| r.method == "POST").unwrap();
    /// assert_eq!(create.json.unwrap()["name"], "web");
    /// # Ok(()) }
    /// ```
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.inner.requests.all()
    }

    /// Names of the instances of `project`, for assertions.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use lxd_client::proto::{InstanceSource, InstancesPost};
    /// let server = lxd_testkit::TestServer::start().await?;
    /// let client = lxd_client::Client::unix(server.socket_path())?;
    /// let web1 = InstancesPost { name: "web1".into(), source: InstanceSource::image_alias("busybox"), ..Default::default() };
    /// client.instances().create_and_wait(&web1).await?; // e.g. your provisioning code
    /// assert_eq!(server.instance_names("default"), ["web1"]);
    /// # Ok(()) }
    /// ```
    pub fn instance_names(&self, project: &str) -> Vec<String> {
        self.inner
            .state()
            .instances
            .iter()
            .filter(|i| i.project == project)
            .map(|i| i.name.clone())
            .collect()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.inner.shutdown.send_replace(true);
        for task in &self.tasks {
            task.abort();
        }
        let _ = std::fs::remove_file(&self.socket);
        if let Some(dir) = self.owned_dir.take() {
            let _ = dir.close();
        }
    }
}

/// Binds the unix socket, replacing a stale socket file but never a live server.
fn bind_unix(path: &Path) -> Result<UnixListener, Error> {
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(Error::new(format!(
                "{} is in use by a running server",
                path.display()
            )));
        }
        std::fs::remove_file(path)
            .map_err(|e| Error::new(format!("removing stale {}: {e}", path.display())))?;
    }
    let listener = UnixListener::bind(path)
        .map_err(|e| Error::new(format!("binding {}: {e}", path.display())))?;
    // LXD's socket is group-accessible (it runs with --group); here only the owner needs it.
    Ok(listener)
}

/// Writes `server.crt` and `server.key` like LXD does in its directory, never through a
/// symlink: an existing entry is unlinked (a link goes, its target stays untouched), then
/// the file is created exclusively (`O_CREAT | O_EXCL` refuses any link found at the path).
fn write_identity(dir: &Path, identity: &ServerIdentity) -> Result<(), Error> {
    write_new(&dir.join("server.crt"), identity.cert_pem.as_bytes(), 0o644)?;
    write_new(&dir.join("server.key"), identity.key_pem.as_bytes(), 0o600)
}

fn write_new(path: &Path, contents: &[u8], mode: u32) -> Result<(), Error> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let failed = |e: std::io::Error| Error::new(format!("writing {}: {e}", path.display()));
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(failed(e)),
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(failed)?;
    file.write_all(contents).map_err(failed)
}

async fn accept_unix(inner: Arc<Inner>, listener: UnixListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        tokio::spawn(serve_connection(inner.clone(), stream, Identity::Unix));
    }
}

async fn accept_https(
    inner: Arc<Inner>,
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let inner = inner.clone();
        let acceptor = acceptor.clone();
        // The handshake runs in its own task: a client that connects and says nothing holds
        // up nobody.
        tokio::spawn(async move {
            let handshake = tokio::time::timeout(Duration::from_secs(30), acceptor.accept(stream));
            let Ok(Ok(tls)) = handshake.await else {
                return;
            };
            let certificate = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|chain| chain.first())
                .map(|cert| Arc::new(cert.to_vec()));
            let identity = Identity::Tls {
                fingerprint: certificate
                    .as_deref()
                    .map(|der| crate::util::sha256_hex(der)),
                certificate,
                address: peer.to_string(),
            };
            serve_connection(inner, tls, identity).await;
        });
    }
}

/// Serves one connection (HTTP/1.1, keep-alive, upgrades), until it closes or the server
/// stops.
async fn serve_connection<S>(inner: Arc<Inner>, stream: S, identity: Identity)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service_inner = inner.clone();
    let service = service_fn(move |request: hyper::Request<Incoming>| {
        let inner = service_inner.clone();
        let identity = identity.clone();
        async move { Ok::<_, Infallible>(handle(inner, identity, request).await) }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .title_case_headers(true)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::select! {
        _ = connection => {}
        _ = inner.stopped() => {}
    }
}

/// One request: faults, body, trust, the handler, the reply (and its faults).
async fn handle(
    inner: Arc<Inner>,
    identity: Identity,
    request: hyper::Request<Incoming>,
) -> http::Response<Body> {
    let (mut parts, body) = request.into_parts();
    let mut req = Req::new(
        parts.method.clone(),
        parts.uri.path(),
        parts.uri.query(),
        std::mem::take(&mut parts.headers),
        identity,
    );
    req.faults = inner.faults.for_request(&req.method, &req.path);
    if !req.faults.latency.is_zero() {
        tokio::time::sleep(req.faults.latency).await;
    }
    if let Some((status, message)) = req.faults.error.clone() {
        inner.requests.record(&req);
        return error_response(&ApiError::new(status, message));
    }
    // Trust and route first: an untrusted client is refused before a byte of its body is
    // read (LXD answers 403 the same way), so it cannot make the server buffer anything.
    req.trusted = match &req.identity {
        Identity::Unix => true,
        Identity::Tls { fingerprint, .. } => fingerprint
            .as_deref()
            .is_some_and(|fp| inner.state().is_trusted(fp)),
    };
    if let Err(refusal) = crate::api::precheck(&req) {
        inner.requests.record(&req);
        return error_response(&refusal);
    }
    if req.is_websocket() {
        req.upgrade = parts.extensions.remove::<hyper::upgrade::OnUpgrade>();
    } else {
        match read_body(&inner, body, crate::api::body_limit(&req)).await {
            Ok(bytes) => req.body = bytes,
            Err(error) => {
                inner.requests.record(&req);
                return error_response(&error);
            }
        }
    }
    inner.requests.record(&req);
    let reply_fault = req.faults.reply;
    tracing::debug!(method = %req.method, path = %req.path, "request");
    let response = render(crate::api::handle(&inner, req).await);
    match reply_fault {
        Some(fault) => crate::faults::break_reply(fault, response).await,
        None => response,
    }
}

/// Reads a request body, at most `limit` bytes (none for uploads: file pushes, images,
/// backups). A body announced larger than the limit is refused unread; one that grows past
/// it (chunked) is refused as soon as it does, not after the end.
async fn read_body(
    inner: &Inner,
    mut body: Incoming,
    limit: Option<usize>,
) -> Result<bytes::Bytes, ApiError> {
    use hyper::body::Body as _;
    let too_large = |limit: usize| {
        ApiError::new(
            413,
            format!("Request body is larger than {limit} bytes (the testkit's cap)"),
        )
    };
    if let Some(limit) = limit
        && body.size_hint().lower() > limit as u64
    {
        return Err(too_large(limit));
    }
    let mut collected = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ApiError::bad_request(e.to_string()))?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        inner
            .body_bytes_read
            .fetch_add(data.len() as u64, std::sync::atomic::Ordering::Relaxed);
        if let Some(limit) = limit
            && collected.len() + data.len() > limit
        {
            return Err(too_large(limit));
        }
        collected.extend_from_slice(&data);
    }
    Ok(collected.freeze())
}

#[cfg(test)]
mod tests {
    //! The listener against hostile clients: bodies refused before they are read.

    use std::sync::atomic::Ordering;
    use std::time::Duration;

    use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

    use super::TestServer;

    /// Accepts the testkit's own certificate (checked by DER, not by name).
    #[derive(Debug)]
    struct Pinned(Vec<u8>);

    impl rustls::client::danger::ServerCertVerifier for Pinned {
        fn verify_server_cert(
            &self,
            end_entity: &rustls_pki_types::CertificateDer<'_>,
            _: &[rustls_pki_types::CertificateDer<'_>],
            _: &rustls_pki_types::ServerName<'_>,
            _: &[u8],
            _: rustls_pki_types::UnixTime,
        ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
            assert_eq!(end_entity.as_ref(), self.0.as_slice(), "not the testkit");
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &rustls_pki_types::CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(
                message,
                cert,
                dss,
                &rustls::crypto::ring::default_provider().signature_verification_algorithms,
            )
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &rustls_pki_types::CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(
                message,
                cert,
                dss,
                &rustls::crypto::ring::default_provider().signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            rustls::crypto::ring::default_provider()
                .signature_verification_algorithms
                .supported_schemes()
        }
    }

    /// A TLS connection without a client certificate: an untrusted client.
    async fn untrusted(
        server: &TestServer,
    ) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
        let der = crate::tls::der_from_pem(server.certificate_pem()).unwrap();
        let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(std::sync::Arc::new(Pinned(der)))
        .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
        let tcp = tokio::net::TcpStream::connect(server.https_address().unwrap())
            .await
            .unwrap();
        let name = rustls_pki_types::ServerName::try_from("lxd-testkit").unwrap();
        connector.connect(name, tcp).await.unwrap()
    }

    /// Reads one response head and its `Content-Length` body; `(status, body)`.
    async fn read_response(stream: &mut (impl AsyncRead + Unpin)) -> (u16, String) {
        let mut seen = Vec::new();
        let mut byte = [0u8; 1];
        while !seen.ends_with(b"\r\n\r\n") {
            let n = stream
                .read(&mut byte)
                .await
                .expect("a response, not a reset");
            assert_eq!(n, 1, "connection closed before a response: {seen:?}");
            seen.push(byte[0]);
        }
        let head = String::from_utf8(seen).unwrap();
        let status = head[9..12].parse().unwrap();
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().unwrap())
            })
            .unwrap_or(0);
        let mut body = vec![0u8; length];
        stream.read_exact(&mut body).await.unwrap();
        (status, String::from_utf8(body).unwrap())
    }

    /// Sends a request head announcing `announced` body bytes (chunked when `None`), then
    /// `sent` bytes of body (as chunks of 64 KiB when chunked), and waits for the answer
    /// without sending the rest: an answer proves the server did not wait for the body.
    async fn refused_before_the_body(
        stream: &mut (impl AsyncRead + AsyncWrite + Unpin),
        request_line: &str,
        announced: Option<u64>,
        sent: usize,
    ) -> (u16, String) {
        let framing = match announced {
            Some(length) => format!("Content-Length: {length}"),
            None => "Transfer-Encoding: chunked".to_string(),
        };
        let head = format!(
            "{request_line}\r\nHost: lxd\r\nContent-Type: application/json\r\n{framing}\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let chunk = vec![b' '; 64 << 10];
        let mut left = sent;
        while left > 0 {
            let n = left.min(chunk.len());
            let written = if announced.is_some() {
                stream.write_all(&chunk[..n]).await
            } else {
                let mut framed = format!("{n:x}\r\n").into_bytes();
                framed.extend_from_slice(&chunk[..n]);
                framed.extend_from_slice(b"\r\n");
                stream.write_all(&framed).await
            };
            if written.is_err() {
                break; // the server stopped reading and closed: what we want
            }
            left -= n;
        }
        let _ = stream.flush().await;
        tokio::time::timeout(Duration::from_secs(10), read_response(stream))
            .await
            .expect("no answer until the whole body is sent: the server waited for it")
    }

    /// Regression (issue #21): the listener read whole bodies before checking trust, so an
    /// untrusted HTTPS client could make it buffer anything it sent. Now it answers 403
    /// without reading the body (announced 1 GiB, 256 KiB sent, the rest never comes).
    #[tokio::test]
    async fn untrusted_writes_are_refused_before_their_body() {
        let server = TestServer::builder().https().start().await.unwrap();
        for (request_line, announced) in [
            ("POST /1.0/instances HTTP/1.1", Some(1u64 << 30)),
            ("PUT /1.0 HTTP/1.1", None),
            (
                "POST /1.0/instances/c1/files?path=/x HTTP/1.1",
                Some(1 << 30),
            ),
        ] {
            let before = server.inner.body_bytes_read.load(Ordering::Relaxed);
            let mut tls = untrusted(&server).await;
            let (status, body) =
                refused_before_the_body(&mut tls, request_line, announced, 256 << 10).await;
            assert_eq!(status, 403, "{request_line}: {body}");
            let reply: serde_json::Value = serde_json::from_str(body.trim()).unwrap();
            assert_eq!(reply["error"], "not authorized");
            assert_eq!(reply["error_code"], 403);
            let read = server.inner.body_bytes_read.load(Ordering::Relaxed) - before;
            assert_eq!(read, 0, "{request_line}: the server read {read} body bytes");
        }
    }

    /// Trusted JSON bodies are capped at 16 MiB: announced larger, refused unread (413);
    /// chunked and endless (bounded at 64 MiB here), refused once past the cap, not at the
    /// end. Uploads (file pushes) stay uncapped.
    #[tokio::test]
    async fn trusted_json_bodies_are_capped() {
        let server = TestServer::start().await.unwrap();
        let mut unix = tokio::net::UnixStream::connect(server.socket_path())
            .await
            .unwrap();
        let (status, body) =
            refused_before_the_body(&mut unix, "POST /1.0/profiles HTTP/1.1", Some(1 << 30), 0)
                .await;
        assert_eq!(status, 413, "{body}");
        assert_eq!(server.inner.body_bytes_read.load(Ordering::Relaxed), 0);

        let mut unix = tokio::net::UnixStream::connect(server.socket_path())
            .await
            .unwrap();
        let (status, body) =
            refused_before_the_body(&mut unix, "POST /1.0/profiles HTTP/1.1", None, 64 << 20).await;
        assert_eq!(status, 413, "{body}");
        let read = server.inner.body_bytes_read.load(Ordering::Relaxed);
        assert!(read <= (16 << 20) + (64 << 10), "read {read} bytes");

        // A file push is an upload: 20 MiB pass.
        let client = lxd_client_free_launch(&server).await;
        let push = format!(
            "POST /1.0/instances/{client}/files?path=/tmp/big HTTP/1.1\r\nHost: lxd\r\nContent-Length: {}\r\n\r\n",
            20 << 20
        );
        let mut unix = tokio::net::UnixStream::connect(server.socket_path())
            .await
            .unwrap();
        unix.write_all(push.as_bytes()).await.unwrap();
        unix.write_all(&vec![b'x'; 20 << 20]).await.unwrap();
        let (status, body) = read_response(&mut unix).await;
        assert_eq!(status, 200, "{body}");
    }

    /// Creates an instance straight in the state (this crate's unit tests have no client).
    async fn lxd_client_free_launch(server: &TestServer) -> String {
        let mut unix = tokio::net::UnixStream::connect(server.socket_path())
            .await
            .unwrap();
        let body = r#"{"name":"c1","source":{"type":"image","alias":"busybox"}}"#;
        let request = format!(
            "POST /1.0/instances HTTP/1.1\r\nHost: lxd\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        unix.write_all(request.as_bytes()).await.unwrap();
        let (status, reply) = read_response(&mut unix).await;
        assert_eq!(status, 202, "{reply}");
        let operation: serde_json::Value = serde_json::from_str(reply.trim()).unwrap();
        let wait = format!(
            "GET {}/wait HTTP/1.1\r\nHost: lxd\r\n\r\n",
            operation["operation"].as_str().unwrap()
        );
        unix.write_all(wait.as_bytes()).await.unwrap();
        let (status, reply) = read_response(&mut unix).await;
        assert_eq!(status, 200, "{reply}");
        "c1".to_string()
    }
}
