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
//! is created), so the example runs to the end anywhere (see `examples/common/mod.rs`).

mod common;

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("quickstart failed: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    // The embedded server (if any) lives in `target` as long as the client is used.
    let target = common::connect().await?;
    let client = &target.client;
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
    if target.is_embedded() {
        println!("(embedded lxd-testkit server: it stops with this program)");
    }
    Ok(())
}
