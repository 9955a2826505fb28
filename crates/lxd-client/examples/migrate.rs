//! Copies a container to another server and moves it back: the copy and move calls of
//! `docs/cluster.md` (pull, push or relay, whichever the two servers allow).
//!
//! ```text
//! # Two real servers (what `cargo xtask integration --keep` leaves running):
//! LXD_SOCKET=/var/lib/lxdrs-it/unix.socket LXD_TARGET_SOCKET=/var/lib/lxdrs-it2/unix.socket \
//!     cargo run -p lxd-client --example migrate
//! # One server (or the embedded lxd-testkit): the copy and the move stay on it.
//! cargo run -p lxd-client --example migrate
//! ```
//!
//! The source is the LXD found in the environment (or an embedded lxd-testkit server when
//! there is none, see `examples/common/mod.rs`); the destination is the server whose unix
//! socket `LXD_TARGET_SOCKET` names, else the source itself. Both must trust the client: over
//! unix sockets as root they do; over HTTPS, authenticate first (`remote_https_token`).
//! `LXD_MIGRATION_MODE` = `pull`, `push` or `relay` picks how the data travels (default: what
//! the pair allows).

mod common;

use lxd_client::proto::{InstanceSource, InstancesPost};
use lxd_client::{Client, MigrationMode};

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("migrate failed: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let source = common::connect().await?;
    let here = &source.client;
    let there = match std::env::var("LXD_TARGET_SOCKET") {
        Ok(path) if !path.is_empty() && !source.is_embedded() => Client::unix(path)?,
        _ => {
            println!("no LXD_TARGET_SOCKET: copying and moving on one server");
            here.clone()
        }
    };
    let mode = match std::env::var("LXD_MIGRATION_MODE").as_deref() {
        Ok("pull") => MigrationMode::Pull,
        Ok("push") => MigrationMode::Push,
        Ok("relay") => MigrationMode::Relay,
        _ => MigrationMode::Auto,
    };
    let name = common::unique("lxdrs-migrate");
    let copy = format!("{name}-copy");
    println!("creating {name} from {:?}", source.image());
    here.instances()
        .create_and_wait(&InstancesPost {
            name: name.clone(),
            source: InstanceSource::image_alias(source.image()),
            ..Default::default()
        })
        .await?;

    let outcome = async {
        // A copy: the source stays.
        let copied = there
            .instances()
            .copy_from(here, &name)
            .name(&copy)
            .config("user.copied-from", &name)
            .mode(mode)
            .run()
            .await?;
        println!(
            "copied {name} to {} (status {}, user.copied-from={:?})",
            copied.name(),
            copied.model().status,
            copied.model().config.get("user.copied-from")
        );
        // A move back under a new name: the copy is gone from where it was.
        let back = format!("{name}-back");
        let moved = here
            .instances()
            .move_from(&there, &copy)
            .name(&back)
            .mode(mode)
            .run()
            .await?;
        println!(
            "moved {copy} back as {}; still at the destination: {}",
            moved.name(),
            there.instances().exists(&copy).await?
        );
        moved.delete().await?;
        Ok::<(), lxd_client::Error>(())
    }
    .await;
    // Whatever happened, the example's own containers go.
    for (client, instance) in [(here, &name), (&there, &copy)] {
        if client.instances().exists(instance).await? {
            client.instances().delete(instance).await?.wait().await?;
        }
    }
    println!("deleted {name}");
    Ok(outcome?)
}
