//! Shared helpers for the tests that run against a REAL LXD daemon.
//!
//! `cargo xtask integration` starts a private daemon and sets:
//! - `LXD_IT=1`: we are inside the harness, so anything missing is a failure, not a skip;
//! - `LXD_IT_SOCKET`: the daemon's unix socket;
//! - `LXD_IT_HTTPS`: its HTTPS address on loopback;
//! - `LXD_IT_SERVER_CERT`: its server certificate (PEM);
//! - `LXD_IT_IMAGE`: the alias of the local busybox image;
//! - `LXD_IT_PROJECT`: the project the tests work in.
//!
//! Outside the harness (a plain `cargo test`), every test prints a loud SKIP line and returns.

use std::path::PathBuf;
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
    /// A unix-socket client scoped to the test project.
    pub fn client(&self) -> Client {
        let client = Client::unix(&self.socket).expect("unix client");
        if self.project == "default" {
            client
        } else {
            client.with_project(&self.project).expect("project")
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

    /// An HTTPS builder for the daemon, pinned to its certificate, with no client certificate.
    pub fn https_builder(&self) -> lxd_client::ClientBuilder {
        Client::https(self.https.clone()).server_certificate_pem(&self.server_cert)
    }
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

/// A fresh self-signed ECDSA P-384 client certificate and key (PEM), like `lxc` makes.
pub fn fresh_identity(name: &str) -> (String, String) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).expect("key");
    let cert = rcgen::CertificateParams::new(vec![name.to_string()])
        .expect("params")
        .self_signed(&key)
        .expect("cert");
    (cert.pem(), key.serialize_pem())
}
