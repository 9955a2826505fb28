//! Shared helpers for the tests that run against a REAL LXD daemon.
//!
//! `cargo xtask integration` starts a private daemon and sets:
//! - `LXD_IT=1`: we are inside the harness, so anything missing is a failure, not a skip;
//! - `LXD_IT_SOCKET`: the daemon's unix socket;
//! - `LXD_IT_HTTPS`: its HTTPS address on loopback;
//! - `LXD_IT_SERVER_CERT`: its server certificate (PEM);
//! - `LXD_IT_IMAGE`: the alias of the local busybox image;
//! - `LXD_IT_PROJECT`: the project the tests work in;
//! - `LXD_IT_SERVER`: `lxd` or `incus`, and for its private daemons `LXD_IT_SERVER_SERIES`:
//!   the version series it started (`5.0`, `6.0`, `7.0`);
//! - `LXD_IT_DAEMON_ROOT`: only for a daemon running in a root file system of its own
//!   (Incus 7.0 in a Debian sid root): that root, where the daemon's paths are on the host.
//!
//! Outside the harness (a plain `cargo test`), every test prints a loud SKIP line and returns.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use lxd_client::Client;

/// What the harness told us about the daemon.
#[derive(Debug, Clone)]
pub struct Env {
    /// The unix socket.
    pub socket: PathBuf,
    /// The HTTPS address (`127.0.0.1:PORT`).
    pub https: String,
    /// The server certificate, PEM.
    pub server_cert: Vec<u8>,
    /// The image alias to launch from.
    pub image: String,
    /// The project to work in.
    pub project: String,
    /// Which server: `lxd` or `incus` (`LXD_IT_SERVER`; LXD when unset).
    pub server: String,
    /// The version series the harness started (`LXD_IT_SERVER_SERIES`, e.g. `7.0`); `None`
    /// for a daemon given with `--socket` (any version).
    pub series: Option<String>,
    /// The root file system the daemon runs in when not the host's (`LXD_IT_DAEMON_ROOT`):
    /// a path the daemon reports (a pool's `source`) is there on the host.
    pub daemon_root: Option<PathBuf>,
}

/// Reads the harness's environment. Outside `cargo xtask integration` it prints a loud SKIP
/// and returns `None`; inside, a missing variable fails the test.
pub fn env(test: &str) -> Option<Env> {
    let inside = std::env::var("LXD_IT").is_ok_and(|v| v == "1");
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let Some(socket) = var("LXD_IT_SOCKET") else {
        assert!(
            !inside,
            "LXD_IT=1 but LXD_IT_SOCKET is not set: the harness did not start a daemon"
        );
        eprintln!(
            "SKIPPED {test}: no real LXD (run `cargo xtask integration` to start one and run this)"
        );
        return None;
    };
    let need = |k: &str| var(k).unwrap_or_else(|| panic!("{k} is not set (LXD_IT_SOCKET is)"));
    let cert_path = need("LXD_IT_SERVER_CERT");
    Some(Env {
        socket: socket.into(),
        https: need("LXD_IT_HTTPS"),
        server_cert: std::fs::read(&cert_path)
            .unwrap_or_else(|e| panic!("reading LXD_IT_SERVER_CERT={cert_path}: {e}")),
        image: var("LXD_IT_IMAGE").unwrap_or_else(|| "busybox".into()),
        project: var("LXD_IT_PROJECT").unwrap_or_else(|| "default".into()),
        server: var("LXD_IT_SERVER").unwrap_or_else(|| "lxd".into()),
        series: var("LXD_IT_SERVER_SERIES"),
        daemon_root: var("LXD_IT_DAEMON_ROOT").map(PathBuf::from),
    })
}

/// Skips the test (loudly) unless a real daemon is there: `let env = require!();`
#[macro_export]
macro_rules! require {
    () => {
        match $crate::env(module_path!()) {
            Some(env) => env,
            None => return,
        }
    };
}

impl Env {
    /// Whether the daemon is Incus (LXD's fork) rather than LXD.
    pub fn is_incus(&self) -> bool {
        self.server == "incus"
    }

    /// Skips (loudly, with the reason) on Incus: for what Incus does not have or does
    /// differently in a way the test cannot express. Returns whether the caller must return.
    pub fn skip_on_incus(&self, test: &str, reason: &str) -> bool {
        if self.is_incus() {
            eprintln!("SKIPPED {test} on Incus: {reason}");
        }
        self.is_incus()
    }

    /// A unix-socket client scoped to the test project.
    pub fn client(&self) -> Client {
        let client = Client::unix(&self.socket).expect("unix client");
        if self.project == "default" {
            client
        } else {
            client.with_project(&self.project).expect("project")
        }
    }

    /// Where a path the daemon reports (e.g. a storage pool's `source`) is on this host: the
    /// same path, or that path inside the daemon's own root file system.
    pub fn host_path(&self, daemon_path: impl AsRef<Path>) -> PathBuf {
        let path = daemon_path.as_ref();
        match &self.daemon_root {
            Some(root) => root.join(path.strip_prefix("/").unwrap_or(path)),
            None => path.to_owned(),
        }
    }

    /// A create request for `name` from the test image.
    pub fn from_image(&self, name: &str) -> lxd_client::proto::InstancesPost {
        lxd_client::proto::InstancesPost {
            name: name.to_string(),
            source: lxd_client::proto::InstanceSource::image_alias(&self.image),
            ..Default::default()
        }
    }

    /// Removes a certificate from the daemon's trust store (over the trusted socket).
    pub async fn forget_certificate(&self, cert_pem: &str) {
        let fingerprint = lxd_client::transport::Fingerprint::of_pem(cert_pem.as_bytes())
            .expect("certificate PEM");
        self.client()
            .raw(
                lxd_client::Method::DELETE,
                format!("/1.0/certificates/{fingerprint}"),
            )
            .without_project()
            .send()
            .await
            .expect("deleting the test certificate");
    }

    /// A join token for a client certificate called `name`, encoded as `lxc config trust
    /// add` prints it. Asked for with a raw request over the trusted unix socket, so tests of
    /// the client's token use do not rest on its own token creation.
    pub async fn join_token(&self, name: &str) -> String {
        let op = self
            .client()
            .raw(lxd_client::Method::POST, "/1.0/certificates")
            .without_project()
            .json(&serde_json::json!({"name": name, "type": "client", "token": true}))
            .expect("token request body")
            .operation()
            .await
            .expect("a token operation");
        lxd_client::proto::CertificateAddToken::from_operation(op.info())
            .expect("token metadata")
            .encode()
    }

    /// An HTTPS builder for the daemon, pinned to its certificate, with no client certificate.
    pub fn https_builder(&self) -> lxd_client::ClientBuilder {
        Client::https(self.https.clone()).server_certificate_pem(&self.server_cert)
    }
}

/// The cgroup controllers the server says it cannot find on this host, lower-case (`memory`,
/// `pids`, `cpu`, `blkio`, ...), read from its warnings ("Couldn't find the CGroup memory
/// controller"). Without one, the server measures and limits less: Incus 7.0 in its own pure
/// cgroup2 here has none but hugetlb, so it reports no memory or CPU usage, and freezes a
/// container before a forced stop (its fork-bomb guard when it cannot cap the pids).
pub async fn missing_cgroup_controllers(client: &Client) -> Vec<String> {
    client
        .warnings()
        .list()
        .await
        .expect("listing the server's warnings")
        .iter()
        .filter_map(|w| {
            let what = w.warning_type.strip_prefix("Couldn't find the CGroup ")?;
            let name = what.strip_suffix(" controller").unwrap_or(what);
            Some(name.to_lowercase())
        })
        .collect()
}

/// A name no other test (or earlier run) uses: `prefix-<pid>-<n>`.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A fresh directory under the system temp dir, removed by [`Scratch::drop`].
pub struct Scratch(pub PathBuf);

impl Scratch {
    /// Makes `<temp dir>/<unique(prefix)>`.
    pub fn new(prefix: &str) -> Scratch {
        let dir = std::env::temp_dir().join(unique(prefix));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs a command to its end; panics with its stderr if it fails.
pub fn run(cmd: &mut Command) {
    let out = cmd.output().expect("running a command");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Writes an image's `metadata.yaml` (with a unique description, so every build has its
/// own fingerprint) and a `rootfs/` with the static busybox into `dir`.
pub fn layout(dir: &Path, tag: &str) {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    std::fs::write(
        dir.join("metadata.yaml"),
        format!(
            "architecture: x86_64\ncreation_date: {stamp}\nproperties:\n  description: {tag}\n  os: busybox\n"
        ),
    )
    .unwrap();
    let bin = dir.join("rootfs/bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy("/bin/busybox", bin.join("busybox")).unwrap();
    std::fs::write(dir.join("rootfs/tag"), tag).unwrap();
}

/// An uncompressed tarball of `dir`'s `metadata.yaml` + `rootfs/` (LXD accepts plain tar).
pub fn tar_plain(dir: &Path) -> PathBuf {
    let path = dir.join("image.tar");
    run(Command::new("tar")
        .args(["--numeric-owner", "--owner=0", "--group=0", "-cf"])
        .arg(&path)
        .arg("-C")
        .arg(dir)
        .args(["metadata.yaml", "rootfs"]));
    path
}

/// Creates the instance `request` describes and starts it, waiting for both operations;
/// panics with LXD's message if either fails.
pub async fn launch(client: &Client, request: &lxd_client::proto::InstancesPost) {
    let instances = client.instances();
    instances
        .create(request)
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    instances
        .set_state(&request.name, &lxd_client::proto::InstanceStatePut::start())
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
}

/// Stops an instance (forcefully, if it runs) and deletes it. The stop's outcome is ignored
/// (a stopped instance refuses it); the deletion's is returned.
pub async fn kill_and_delete(client: &Client, name: &str) -> Result<(), lxd_client::Error> {
    let stop = lxd_client::proto::InstanceStatePut::stop().with_force(true);
    if let Ok(op) = client.instances().set_state(name, &stop).await {
        let _ = op.wait().await;
    }
    client.instances().delete(name).await?.wait().await?;
    Ok(())
}

/// Creates an empty profile `name` in the client's project, with a raw request (the events
/// tests need an event that no client manager of theirs is under test for).
pub async fn create_profile(client: &Client, name: &str) {
    client
        .raw(lxd_client::Method::POST, "/1.0/profiles")
        .json(&serde_json::json!({"name": name}))
        .expect("profile body")
        .send()
        .await
        .expect("creating the test profile");
}

/// Deletes profile `name` from the client's project, with a raw request.
pub async fn delete_profile(client: &Client, name: &str) {
    client
        .raw(lxd_client::Method::DELETE, format!("/1.0/profiles/{name}"))
        .send()
        .await
        .expect("deleting the test profile");
}

/// The name of the profile a `profile-created` lifecycle event is about.
pub fn profile_created(event: &lxd_client::proto::Event) -> Option<String> {
    match &event.payload {
        lxd_client::proto::EventPayload::Lifecycle(l)
            if l.action == lxd_client::proto::LifecycleAction::ProfileCreated =>
        {
            l.resource_name()
        }
        _ => None,
    }
}

/// Runs a clean-up to its end from `Drop`, which cannot await: on a thread of its own with
/// its own runtime (the test's runtime may be the one unwinding).
pub fn clean_up_from_drop(cleanup: impl std::future::Future<Output = ()> + Send + 'static) {
    let _ = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime for the clean-up")
            .block_on(cleanup);
    })
    .join();
}

/// A fresh self-signed ECDSA P-384 client certificate and key (PEM), like `lxc` makes.
pub fn fresh_identity(name: &str) -> (String, String) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).expect("key");
    let cert = rcgen::CertificateParams::new(vec![name.to_string()])
        .expect("params")
        .self_signed(&key)
        .expect("cert");
    (cert.pem(), key.serialize_pem())
}

// ---------------------------------------------------------------------------------------
// The other servers: a second standalone daemon and a three-member cluster

/// Another real server started by the harness (the second daemon, or a cluster member).
#[derive(Debug, Clone)]
pub struct Peer {
    /// Its name: `second`, or the cluster member's name (`node3`...).
    pub name: String,
    /// Its unix socket (we run as root, so it is trusted there).
    pub socket: PathBuf,
    /// Its HTTPS address (`127.0.0.x:PORT`).
    pub https: String,
    /// The certificate it serves (PEM): its own, or the cluster's.
    pub server_cert: Vec<u8>,
}

/// The harness's cluster: its members in order, and its storage pool.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// The members (`node3`, `node4`, `node5`).
    pub members: Vec<Peer>,
    /// The storage pool every member has.
    pub pool: String,
}

/// Why the peers are absent, if the harness said they are (`--socket`, `--no-peers`); then
/// their tests skip loudly with that reason. Otherwise a missing variable fails the test.
fn peers_absent(test: &str) -> bool {
    match std::env::var("LXD_IT_NO_PEERS") {
        Ok(reason) if !reason.is_empty() => {
            eprintln!("SKIPPED {test}: {reason}");
            true
        }
        _ => false,
    }
}

fn need(key: &str) -> String {
    std::env::var(key)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| panic!("{key} is not set (the harness started the peers)"))
}

fn read_pem(key: &str) -> Vec<u8> {
    let path = need(key);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {key}={path}: {e}"))
}

/// The second standalone server, or `None` after a loud skip (outside the harness, or when
/// the harness started no peers).
pub fn second(test: &str) -> Option<Peer> {
    env(test)?;
    if peers_absent(test) {
        return None;
    }
    Some(Peer {
        name: "second".into(),
        socket: need("LXD_IT_SECOND_SOCKET").into(),
        https: need("LXD_IT_SECOND_HTTPS"),
        server_cert: read_pem("LXD_IT_SECOND_CERT"),
    })
}

/// The cluster, or `None` after a loud skip (as for [`second`]).
pub fn cluster(test: &str) -> Option<Cluster> {
    env(test)?;
    if peers_absent(test) {
        return None;
    }
    let list = |key: &str| need(key).split(',').map(str::to_owned).collect::<Vec<_>>();
    let (names, sockets, https) = (
        list("LXD_IT_CLUSTER_MEMBERS"),
        list("LXD_IT_CLUSTER_SOCKETS"),
        list("LXD_IT_CLUSTER_HTTPS"),
    );
    assert!(
        names.len() == sockets.len() && names.len() == https.len(),
        "LXD_IT_CLUSTER_* lists differ in length"
    );
    let cert = read_pem("LXD_IT_CLUSTER_CERT");
    let members = names
        .into_iter()
        .zip(sockets)
        .zip(https)
        .map(|((name, socket), https)| Peer {
            name,
            socket: socket.into(),
            https,
            server_cert: cert.clone(),
        })
        .collect();
    Some(Cluster {
        members,
        pool: need("LXD_IT_CLUSTER_POOL"),
    })
}

/// Skips the test (loudly) unless the second server is there: `let (env, second) =
/// require_second!();`
#[macro_export]
macro_rules! require_second {
    () => {
        match ($crate::env(module_path!()), $crate::second(module_path!())) {
            (Some(env), Some(second)) => (env, second),
            _ => return,
        }
    };
}

/// Skips the test (loudly) unless the cluster is there: `let cluster = require_cluster!();`
#[macro_export]
macro_rules! require_cluster {
    () => {
        match $crate::cluster(module_path!()) {
            Some(cluster) => cluster,
            None => return,
        }
    };
}

impl Peer {
    /// A unix-socket client (trusted: we are root).
    pub fn client(&self) -> Client {
        Client::unix(&self.socket).expect("unix client")
    }

    /// An HTTPS builder pinned to the peer's certificate, with no client certificate.
    pub fn https_builder(&self) -> lxd_client::ClientBuilder {
        Client::https(self.https.clone()).server_certificate_pem(&self.server_cert)
    }

    /// An HTTPS client with a fresh identity that the peer trusts (added over its socket);
    /// call [`Trusted::forget`] at the end of the test to remove it again.
    pub async fn trusted_https(&self, name: &str) -> Trusted {
        let (cert, key) = fresh_identity(name);
        self.client()
            .certificates()
            .add(&lxd_client::proto::CertificatesPost {
                name: name.to_string(),
                certificate: cert.clone(),
                ..Default::default()
            })
            .await
            .expect("trusting a fresh identity over the unix socket");
        let client = self
            .https_builder()
            .client_certificate_pem(cert.as_bytes(), key.as_bytes())
            .build()
            .expect("https client");
        Trusted {
            client,
            cert,
            peer: self.clone(),
        }
    }
}

/// An HTTPS client trusted by a peer for one test.
pub struct Trusted {
    /// The client.
    pub client: Client,
    /// Its certificate (PEM).
    pub cert: String,
    peer: Peer,
}

impl Trusted {
    /// Removes the certificate from the peer's trust store.
    pub async fn forget(self) {
        let fingerprint = lxd_client::transport::Fingerprint::of_pem(self.cert.as_bytes())
            .expect("certificate PEM");
        self.peer
            .client()
            .raw(
                lxd_client::Method::DELETE,
                format!("/1.0/certificates/{fingerprint}"),
            )
            .without_project()
            .send()
            .await
            .expect("deleting the test certificate");
    }
}
