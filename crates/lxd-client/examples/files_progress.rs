//! Pushes a file into a container and pulls it back, streaming both ways with a textual
//! progress bar, then checks the copy is identical.
//!
//! ```text
//! cargo run -p lxd-client --example files_progress            # a generated 32 MiB file
//! cargo run -p lxd-client --example files_progress -- big.iso # a file of yours
//! ```
//!
//! Nothing is held whole in memory: the push reads the local file as it sends, the pull
//! writes to disk as it receives. Against the LXD found in the environment, or an embedded
//! lxd-testkit server when there is none (see `examples/common/mod.rs`).

mod common;

use std::path::PathBuf;

use lxd_client::PutOptions;
use lxd_client::proto::{InstanceSource, InstancesPost};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("files_progress failed: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let target = common::connect().await?;
    let client = &target.client;
    let scratch = std::env::temp_dir().join(common::unique("lxdrs-files"));
    tokio::fs::create_dir_all(&scratch).await?;
    let local = match std::env::args_os().nth(1) {
        Some(path) => PathBuf::from(path),
        None => generate(&scratch.join("payload.bin"), 32 << 20).await?,
    };

    let name = common::unique("lxdrs-files");
    let instance = client
        .instances()
        .create_and_wait(&InstancesPost {
            name: name.clone(),
            source: InstanceSource::image_alias(target.image()),
            ..Default::default()
        })
        .await?;
    let outcome = transfer(client, &name, &local, &scratch).await;
    instance.delete().await?;
    tokio::fs::remove_dir_all(&scratch).await?;
    outcome
}

async fn transfer(
    client: &lxd_client::Client,
    name: &str,
    local: &std::path::Path,
    scratch: &std::path::Path,
) -> Result<(), Box<dyn std::error::Error>> {
    // The callback runs for every chunk: the bar is redrawn in place.
    let files = client
        .instances()
        .files(name)
        .with_progress(|p| common::progress_bar(p.path, p.bytes, p.total));

    println!("pushing {} to {name}:/root/payload", local.display());
    files
        .put_from_path("/root/payload", local, &PutOptions::new().mode(0o600))
        .await?;

    let back = scratch.join("pulled.bin");
    println!("pulling it back to {}", back.display());
    let done = files.get_to_path("/root/payload", &back).await?;
    println!("pulled {} bytes, mode {:o}", done.bytes, done.stat.mode);

    let same = same_content(local, &back).await?;
    println!("identical: {same}");
    if !same {
        return Err("the pulled copy differs".into());
    }
    Ok(())
}

/// Writes `size` bytes of a simple pattern to `path`, a chunk at a time.
async fn generate(path: &std::path::Path, size: usize) -> std::io::Result<PathBuf> {
    let mut file = tokio::fs::File::create(path).await?;
    let chunk: Vec<u8> = (0..1 << 16).map(|i: u32| (i * 31 % 251) as u8).collect();
    let mut written = 0;
    while written < size {
        let n = chunk.len().min(size - written);
        file.write_all(&chunk[..n]).await?;
        written += n;
    }
    file.flush().await?;
    Ok(path.to_path_buf())
}

/// Compares two files chunk by chunk (neither is read whole).
async fn same_content(a: &std::path::Path, b: &std::path::Path) -> std::io::Result<bool> {
    let (mut a, mut b) = (
        tokio::fs::File::open(a).await?,
        tokio::fs::File::open(b).await?,
    );
    if a.metadata().await?.len() != b.metadata().await?.len() {
        return Ok(false);
    }
    let (mut x, mut y) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    loop {
        let n = a.read(&mut x).await?;
        if n == 0 {
            return Ok(true);
        }
        b.read_exact(&mut y[..n]).await?;
        if x[..n] != y[..n] {
            return Ok(false);
        }
    }
}
