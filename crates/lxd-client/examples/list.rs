//! Lists what an LXD holds: instances (with state), images, profiles, networks, storage pools
//! and projects.
//!
//! ```text
//! cargo run -p lxd-client --example list
//! ```
//!
//! Against the LXD found in the environment, or an embedded lxd-testkit server when there is
//! none (see `examples/common/mod.rs`).

mod common;

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("list failed: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let target = common::connect().await?;
    let client = &target.client;
    println!("LXD at {}", client.endpoint());

    let instances = client.instances().list().await?;
    println!("{} instance(s)", instances.len());
    for i in &instances {
        println!("  {:<24} {:<10} {}", i.name, i.status, i.instance_type);
    }
    let images = client.images().list().await?;
    println!("{} image(s)", images.len());
    for image in &images {
        let aliases: Vec<&str> = image.aliases.iter().map(|a| a.name.as_str()).collect();
        println!(
            "  {} {:>10} bytes  {}",
            &image.fingerprint[..12.min(image.fingerprint.len())],
            image.size,
            aliases.join(", ")
        );
    }
    println!(
        "profiles: {}",
        client.profiles().list_names().await?.join(", ")
    );
    println!(
        "networks: {}",
        client.networks().list_names().await?.join(", ")
    );
    println!(
        "storage pools: {}",
        client.storage_pools().list_names().await?.join(", ")
    );
    println!(
        "projects: {}",
        client.projects().list_names().await?.join(", ")
    );
    Ok(())
}
