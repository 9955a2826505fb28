//! The README's first command: connect to the local LXD, print what it is and its instances.
//!
//! ```text
//! cargo run -p lxd-client --example quickstart
//! ```
//!
//! It finds LXD like every lxd-rs client: `LXD_URL` (HTTPS, see `Client::from_env`), else the
//! unix socket from `LXD_SOCKET`, `$LXD_DIR/unix.socket`, the snap path or
//! `/var/lib/lxd/unix.socket`.

use lxd_client::{Client, Error};

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("quickstart failed: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Error> {
    let client = match Client::from_env() {
        Ok(c) => c,
        Err(e) if e.is_connect() => {
            println!("No LXD found on this machine: {e}");
            println!(
                "Install LXD (Debian: apt-get install lxd), or start a private one with \
                 `cargo xtask integration --keep` and `export LXD_DIR=/var/lib/lxdrs-it`."
            );
            std::process::exit(2);
        }
        Err(e) => return Err(e),
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
    Ok(())
}
