//! Launches a container, runs commands in it (output collected, then streamed with stdin),
//! and deletes it again.
//!
//! ```text
//! cargo run -p lxd-client --example launch_exec
//! LXD_IMAGE=ubuntu/22.04 cargo run -p lxd-client --example launch_exec
//! ```
//!
//! The image is the alias in `LXD_IMAGE` (default `busybox`, which `cargo xtask integration`
//! imports). Against the LXD found in the environment, or an embedded lxd-testkit server when
//! there is none (see `examples/common/mod.rs`).

mod common;

use lxd_client::proto::{InstanceSource, InstancesPost};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("launch_exec failed: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let target = common::connect().await?;
    let client = &target.client;
    let name = common::unique("lxdrs-example");
    println!("creating {name} from {:?}", target.image());
    let mut instance = client
        .instances()
        .create_and_wait(&InstancesPost {
            name: name.clone(),
            source: InstanceSource::image_alias(target.image()),
            ..Default::default()
        })
        .await?;
    // Whatever happens next, the container is deleted before returning.
    let outcome = exercise(client, &mut instance).await;
    instance.sync().await?;
    if instance.model().status == "Running" {
        instance.stop(true).await?;
    }
    instance.delete().await?;
    println!("deleted {name}");
    outcome
}

async fn exercise(
    client: &lxd_client::Client,
    instance: &mut lxd_client::InstanceObject,
) -> Result<(), Box<dyn std::error::Error>> {
    let name = instance.name().to_string();
    instance.start().await?;
    println!("started {name}: {}", instance.model().status);

    // One call: run, collect stdout and stderr, get the exit code.
    let output = client
        .instances()
        .exec(
            &name,
            ["sh", "-c", "echo hello; pwd; echo oops >&2; exit 3"],
        )
        .cwd("/tmp")
        .run()
        .await?;
    println!(
        "exit {} stdout {:?} stderr {:?}",
        output.exit_code,
        output.stdout_text(),
        output.stderr_text()
    );

    // Streaming: write to stdin, read stdout as it comes, then the exit status.
    let mut session = client.instances().exec(&name, ["cat"]).spawn().await?;
    let mut stdin = session.take_stdin().expect("stdin is taken once");
    let mut stdout = session.take_stdout().expect("stdout is taken once");
    stdin.write_all(b"streamed through cat\n").await?;
    stdin.shutdown().await?;
    drop(stdin);
    let mut echoed = String::new();
    stdout.read_to_string(&mut echoed).await?;
    let status = session.wait().await?;
    println!("cat echoed {echoed:?}, {status:?}");
    Ok(())
}
