//! The README's first command: connect to the local LXD, print what it is and its instances.
//!
//! ```text
//! cargo run -p lxd-client --example quickstart
//! ```
//!
//! It finds LXD like every lxd-rs client: `LXD_URL` (HTTPS, see `Client::from_env`), else the
//! unix socket from `LXD_SOCKET`, `$LXD_DIR/unix.socket`, the snap path or
//! `/var/lib/lxd/unix.socket`. When there is no LXD at all, it says so and runs the same
//! steps against an embedded `lxd-testkit` server (an in-process LXD imitation: nothing real
//! is created), so the example runs to the end anywhere.

use lxd_client::{Client, Error};
use lxd_testkit::TestServer;

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("quickstart failed: {e}");
        std::process::exit(1);
    }
}

/// Whether an error means "no LXD here" (nothing listening, no socket), as opposed to an LXD
/// that answered badly or a TLS setup that is wrong (those are real errors to show).
fn no_lxd(error: &Error) -> bool {
    error.is_connect() && !error.is_tls()
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    // The embedded server must outlive the client that talks to it.
    let mut _embedded: Option<TestServer> = None;
    let found = match Client::from_env() {
        Ok(client) => match client.server().await {
            Ok(_) => Ok(client),
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    let client = match found {
        Ok(client) => client,
        Err(e) if no_lxd(&e) => {
            println!("No LXD found on this machine: {e}");
            println!(
                "Falling back to an embedded lxd-testkit server: an in-process imitation of \
                 LXD 5.0, state in memory, no real containers."
            );
            println!(
                "(For a real LXD: Debian `apt-get install lxd`, or `cargo xtask integration \
                 --keep` and `export LXD_DIR=/var/lib/lxdrs-it`.)"
            );
            let server = TestServer::start().await?;
            let client = Client::unix(server.socket_path())?;
            _embedded = Some(server);
            client
        }
        Err(e) => return Err(e.into()),
    };
    let server = client.server().await?;
    println!(
        "Connected to {} over {}",
        server.environment.server,
        client.endpoint()
    );
    println!(
        "  version {} (API {}, {} extensions), auth: {}",
        server.environment.server_version,
        server.api_version,
        server.api_extensions.len(),
        server.auth
    );
    if !server.is_trusted() {
        println!("  this client is not trusted: see docs/connecting.md to authenticate");
        return Ok(());
    }
    println!(
        "  kernel {}, storage {}, clustered: {}",
        server.environment.kernel_version,
        server.environment.storage,
        server.environment.server_clustered
    );
    let instances = client.instances().list().await?;
    println!("{} instance(s):", instances.len());
    for i in &instances {
        println!("  {:<24} {:<10} {}", i.name, i.status, i.instance_type);
    }
    if _embedded.is_some() {
        println!("(embedded lxd-testkit server: it stops with this program)");
    }
    Ok(())
}
