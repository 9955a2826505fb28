//! What every example shares: find an LXD, or fall back to an embedded `lxd-testkit` server.
//!
//! A real LXD is found like every lxd-rs client finds it (`Client::from_env`): `LXD_URL`
//! (HTTPS, with `LXD_CLIENT_CERT`, `LXD_CLIENT_KEY`, `LXD_SERVER_CERT`), else the unix socket
//! from `LXD_SOCKET`, `$LXD_DIR/unix.socket`, the snap path or `/var/lib/lxd/unix.socket`.
//! When there is no LXD at all, the examples run against an in-process imitation (nothing
//! real is created), so each one runs to the end anywhere. `LXD_EXAMPLE_EMBEDDED=1` forces the
//! imitation even when an LXD is there.

// Each example uses a different part of this module.
#![allow(dead_code)]

use lxd_client::{Client, Error};
use lxd_testkit::TestServer;

/// The client the example uses, and the embedded server it talks to when there is no LXD
/// (kept alive as long as the client is used).
pub struct Target {
    /// The client.
    pub client: Client,
    /// The embedded server, when one was started.
    pub embedded: Option<TestServer>,
}

impl Target {
    /// Whether the example runs against the embedded imitation.
    pub fn is_embedded(&self) -> bool {
        self.embedded.is_some()
    }

    /// The image alias to launch from: `LXD_IMAGE`, else `busybox` (what the embedded server
    /// and `cargo xtask integration` provide).
    pub fn image(&self) -> String {
        std::env::var("LXD_IMAGE")
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "busybox".into())
    }
}

/// Whether an error means "no LXD here" (nothing listening, no socket), as opposed to an LXD
/// that answered badly or a TLS setup that is wrong (those are real errors to show).
pub fn no_lxd(error: &Error) -> bool {
    error.is_connect() && !error.is_tls()
}

/// Starts an embedded lxd-testkit server (with HTTPS when `https`).
pub async fn embedded(https: bool) -> Result<TestServer, Box<dyn std::error::Error>> {
    let builder = TestServer::builder();
    let builder = if https { builder.https() } else { builder };
    Ok(builder.start().await?)
}

/// A client for the LXD found in the environment, or for an embedded server when there is
/// none (said on stdout, with how to get a real one).
pub async fn connect() -> Result<Target, Box<dyn std::error::Error>> {
    let forced = std::env::var("LXD_EXAMPLE_EMBEDDED").is_ok_and(|v| v == "1");
    let found = if forced {
        None
    } else {
        let attempt = match Client::from_env() {
            Ok(client) => client.server().await.map(|_| client),
            Err(e) => Err(e),
        };
        match attempt {
            Ok(client) => Some(client),
            Err(e) if no_lxd(&e) => {
                println!("No LXD found on this machine: {e}");
                None
            }
            Err(e) => return Err(e.into()),
        }
    };
    if let Some(client) = found {
        return Ok(Target {
            client,
            embedded: None,
        });
    }
    println!(
        "Using an embedded lxd-testkit server: an in-process imitation of LXD 5.0, state in \
         memory, no real containers."
    );
    if !forced {
        println!(
            "(For a real LXD: Debian `apt-get install lxd`, or `cargo xtask integration --keep` \
             and `export LXD_DIR=/var/lib/lxdrs-it`.)"
        );
    }
    let server = embedded(false).await?;
    let client = Client::unix(server.socket_path())?;
    Ok(Target {
        client,
        embedded: Some(server),
    })
}

/// A textual progress bar: `[#####.....]  42% 4.2 MiB of 10.0 MiB` (or bytes alone when the
/// total is unknown), redrawn in place on stderr.
pub fn progress_bar(label: &str, done: u64, total: Option<u64>) {
    const WIDTH: u64 = 30;
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    let line = match total {
        Some(total) if total > 0 => {
            let filled = (done.min(total) * WIDTH / total) as usize;
            format!(
                "{label} [{}{}] {:>3}% {:.1} MiB of {:.1} MiB",
                "#".repeat(filled),
                ".".repeat(WIDTH as usize - filled),
                done.min(total) * 100 / total,
                mib(done),
                mib(total)
            )
        }
        _ => format!("{label} {:.1} MiB", mib(done)),
    };
    eprint!("\r{line}");
    if total.is_some_and(|t| done >= t) {
        eprintln!();
    }
}

/// A name no other run uses: `prefix-<pid>`.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", std::process::id())
}
