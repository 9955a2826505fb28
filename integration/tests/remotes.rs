//! Remotes of the real `lxc` command: a configuration directory written by `lxc remote add`
//! at test time (join token, accepted server certificate, unix socket address), read by
//! `LxcConfig` and used to reach the real daemon.

use std::path::{Path, PathBuf};
use std::process::Command;

use lxd_client::LxcConfig;
use lxd_client::transport::Fingerprint;
use lxd_integration::{Env, fresh_identity, require, unique};

/// A private `LXD_CONF` directory; on drop it removes the trust entry its client certificate
/// got (through the daemon's trusted socket, with the real `lxc`) and the directory, so a
/// failed assertion still cleans up.
struct LxcDir {
    dir: PathBuf,
    socket: PathBuf,
}

impl LxcDir {
    fn new(env: &Env, prefix: &str) -> LxcDir {
        let dir = std::env::temp_dir().join(unique(prefix));
        std::fs::create_dir_all(&dir).unwrap();
        LxcDir {
            dir,
            socket: env.socket.clone(),
        }
    }

    /// Runs the real `lxc` with `LXD_CONF` set to this directory.
    fn lxc(&self, args: &[&str]) -> String {
        let out = Command::new("lxc")
            .args(args)
            .env("LXD_CONF", &self.dir)
            .env_remove("LXD_DIR")
            .env_remove("LXD_SOCKET")
            .output()
            .expect("running lxc (the harness installs lxd-client)");
        assert!(
            out.status.success(),
            "lxc {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for LxcDir {
    fn drop(&mut self) {
        if let Ok(cert) = std::fs::read(self.dir.join("client.crt"))
            && let Ok(fp) = Fingerprint::of_pem(&cert)
        {
            // Absent when the test never got trusted: that failure is ignored on purpose.
            let _ = Command::new("lxc")
                .args([
                    "--force-local",
                    "config",
                    "trust",
                    "remove",
                    &fp.to_string(),
                ])
                .env("LXD_SOCKET", &self.socket)
                .env("LXD_DIR", self.socket.parent().unwrap_or(Path::new("/")))
                .env("LXD_CONF", &self.dir)
                .output();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test]
async fn https_remote_added_by_lxc_with_a_token_connects_trusted_and_pinned() {
    let env = require!();
    if env.skip_on_incus(
        "https_remote_added_by_lxc_with_a_token_connects_trusted_and_pinned",
        "it drives LXD's `lxc remote add` (Incus users have the `incus` command, whose \
         config LxcConfig does not read); the unix remote test runs on both",
    ) {
        return;
    }
    let conf = LxcDir::new(&env, "lxdrs-lxc");
    let token = env.join_token(&unique("it-lxc-remote")).await;
    conf.lxc(&["remote", "add", "it", &token, "--accept-certificate"]);
    conf.lxc(&["remote", "switch", "it"]);

    let config = LxcConfig::from_dir(&conf.dir).unwrap();
    assert_eq!(config.default_remote(), "it");
    let remote = config.remote("it").unwrap();
    assert!(remote.addr().starts_with("https://"), "{remote:?}");
    assert!(!remote.is_public());
    // The certificate lxc accepted is the daemon's, and it is the one pinned.
    let pinned = std::fs::read(config.server_certificate_path("it")).unwrap();
    assert_eq!(
        Fingerprint::of_pem(&pinned).unwrap(),
        Fingerprint::of_pem(&env.server_cert).unwrap()
    );

    let client = config.client("it").unwrap();
    assert!(client.endpoint().to_string().starts_with("https://"));
    let server = client.server().await.unwrap();
    assert!(
        server.is_trusted(),
        "lxc's client.crt is trusted: {}",
        server.auth
    );
    client.instances().list_names().await.unwrap();
    // lxc, through the same directory, reaches the same server.
    let theirs: serde_json::Value = serde_json::from_str(&conf.lxc(&["query", "it:/1.0"])).unwrap();
    assert_eq!(
        theirs["environment"]["certificate_fingerprint"].as_str(),
        Some(server.environment.certificate_fingerprint.as_str())
    );

    // Pinning is strict: another certificate in servercerts/it.crt refuses the real server.
    let (other, _) = fresh_identity("not-the-server");
    std::fs::write(config.server_certificate_path("it"), other).unwrap();
    let err = LxcConfig::from_dir(&conf.dir)
        .unwrap()
        .client("it")
        .unwrap()
        .server()
        .await
        .unwrap_err();
    assert!(err.is_tls(), "{err:?}");
}

#[tokio::test]
async fn unix_remote_and_image_servers() {
    let env = require!();
    let conf = LxcDir::new(&env, "lxdrs-lxc-unix");
    let addr = format!("unix://{}", env.socket.display());
    conf.lxc(&["remote", "add", "sock", &addr]);
    conf.lxc(&[
        "remote",
        "add",
        "pics",
        "https://images.invalid",
        "--protocol",
        "simplestreams",
    ]);

    let config = LxcConfig::from_dir(&conf.dir).unwrap();
    let sock = config.remote("sock").unwrap();
    assert!(sock.is_unix());
    let client = config.client("sock").unwrap();
    assert_eq!(
        client.endpoint().to_string(),
        format!("unix:{}", env.socket.display())
    );
    assert!(client.server().await.unwrap().is_trusted());
    client.instances().list_names().await.unwrap();

    // `local` is there even though lxc wrote `unix://` only; it is the discovered socket.
    assert_eq!(config.remote("local").unwrap().addr(), "unix://");
    // An image server is refused before any request, naming the remote.
    let err = config.client("pics").unwrap_err();
    assert!(err.is_invalid_input(), "{err:?}");
    assert!(err.to_string().contains("\"pics\""), "{err}");
    let err = config.client("missing").unwrap_err();
    assert!(err.to_string().contains("config.yml"), "{err}");
}
