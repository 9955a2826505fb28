//! Uploads an image with a textual progress bar, gives it an alias, exports it back to a file
//! (streamed), and deletes it.
//!
//! ```text
//! cargo run -p lxd-client --example image_upload_progress                  # a generated image
//! cargo run -p lxd-client --example image_upload_progress -- busybox.tar.gz # an image of yours
//! ```
//!
//! Without an argument it writes a small unified image (an uncompressed tarball with
//! `metadata.yaml` and a `rootfs/` holding 24 MiB of filler, so the bar has something to
//! show). The upload streams from the file. Against the LXD found in the environment, or an
//! embedded lxd-testkit server when there is none (see `examples/common/mod.rs`).

mod common;

use std::path::{Path, PathBuf};

use lxd_client::ImageUpload;
use tokio::io::AsyncWriteExt;

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("image_upload_progress failed: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let target = common::connect().await?;
    let client = &target.client;
    let scratch = std::env::temp_dir().join(common::unique("lxdrs-image"));
    tokio::fs::create_dir_all(&scratch).await?;
    let file = match std::env::args_os().nth(1) {
        Some(path) => PathBuf::from(path),
        None => write_unified_image(&scratch.join("image.tar"), 24 << 20).await?,
    };
    let alias = common::unique("lxdrs-upload");

    println!("uploading {}", file.display());
    let upload = ImageUpload::unified_from_path(&file)
        .await?
        .alias(&alias)
        .property(
            "description",
            "uploaded by lxd-rs's image_upload_progress example",
        )
        .with_progress(|sent, total| common::progress_bar("upload", sent, total));
    let image = client.images().upload_and_wait(upload).await?;
    println!(
        "image {} ({} bytes) alias {alias}",
        image.fingerprint, image.size
    );

    let exported = scratch.join("exported.tar");
    let export = client
        .images()
        .export_to_path(&image.fingerprint, &exported)
        .await;
    client
        .images()
        .delete(&image.fingerprint)
        .await?
        .wait()
        .await?;
    println!("deleted the image");
    let export = export?;
    println!(
        "exported {} bytes to {} (fingerprint checked: {})",
        export.bytes,
        exported.display(),
        export.fingerprint
    );
    tokio::fs::remove_dir_all(&scratch).await?;
    Ok(())
}

/// Writes a minimal unified image: a POSIX tar with `metadata.yaml`, `rootfs/` and a filler
/// file of `filler` bytes, streamed to disk.
async fn write_unified_image(path: &Path, filler: u64) -> std::io::Result<PathBuf> {
    let mut out = tokio::fs::File::create(path).await?;
    let created = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let metadata = format!(
        "architecture: x86_64\ncreation_date: {created}\nproperties:\n  description: lxd-rs example image\n  os: none\n"
    );
    out.write_all(&tar_header("metadata.yaml", b'0', metadata.len() as u64))
        .await?;
    out.write_all(metadata.as_bytes()).await?;
    out.write_all(&padding(metadata.len() as u64)).await?;
    out.write_all(&tar_header("rootfs/", b'5', 0)).await?;
    out.write_all(&tar_header("rootfs/filler", b'0', filler))
        .await?;
    // A pattern rather than zeros, so the image's fingerprint is not trivially shared.
    let chunk: Vec<u8> = (0..1u32 << 16).map(|i| (i * 7 % 253) as u8).collect();
    let mut left = filler;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        out.write_all(&chunk[..n]).await?;
        left -= n as u64;
    }
    out.write_all(&padding(filler)).await?;
    // Two empty blocks end the archive.
    out.write_all(&[0u8; 1024]).await?;
    out.flush().await?;
    Ok(path.to_path_buf())
}

/// A ustar header block for a regular file (`b'0'`) or directory (`b'5'`).
fn tar_header(name: &str, kind: u8, size: u64) -> [u8; 512] {
    let mut h = [0u8; 512];
    let octal = |field: &mut [u8], value: u64| {
        let text = format!("{value:0width$o}", width = field.len() - 1);
        field[..text.len()].copy_from_slice(text.as_bytes());
    };
    h[..name.len()].copy_from_slice(name.as_bytes());
    octal(&mut h[100..108], if kind == b'5' { 0o755 } else { 0o644 });
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    octal(&mut h[124..136], size);
    octal(&mut h[136..148], 0);
    h[156] = kind;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    // The checksum is computed with its own field as spaces.
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
    let text = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(text.as_bytes());
    h
}

/// Zeros up to the next 512-byte boundary.
fn padding(size: u64) -> Vec<u8> {
    vec![0u8; ((512 - size % 512) % 512) as usize]
}
