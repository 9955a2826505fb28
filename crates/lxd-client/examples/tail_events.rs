//! Follows LXD's event stream (lifecycle, operation and logging events) and prints each one
//! as it arrives, like `lxc monitor`.
//!
//! ```text
//! cargo run -p lxd-client --example tail_events                # 30 s, then stops
//! cargo run -p lxd-client --example tail_events -- 0 --demo    # until Ctrl-C, with activity
//! ```
//!
//! The first argument is how many seconds to follow (0: until Ctrl-C). With `--demo`, and
//! always against the embedded lxd-testkit server (see `examples/common/mod.rs`), it also
//! creates, starts, stops and deletes a container so there is something to see; it then
//! stops once that container's deletion has been seen.

mod common;

use std::time::Duration;

use futures::StreamExt;
use lxd_client::EventItem;
use lxd_client::proto::{EventPayload, InstanceSource, InstancesPost, LifecycleAction};

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("tail_events failed: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = match args.next() {
        Some(text) => text.parse()?,
        None => 30,
    };
    let demo_flag = args.any(|a| a == "--demo");
    let target = common::connect().await?;
    let client = target.client.clone();
    let demo = demo_flag || target.is_embedded();

    // Connected (and registered with LXD) before anything is done, so nothing is missed.
    let mut events = client.events().connect().await?;
    println!("following events of {}", client.endpoint());

    let name = common::unique("lxdrs-events");
    let activity = demo.then(|| {
        let client = client.clone();
        let image = target.image();
        let name = name.clone();
        tokio::spawn(async move {
            let mut instance = client
                .instances()
                .create_and_wait(&InstancesPost {
                    name,
                    source: InstanceSource::image_alias(image),
                    ..Default::default()
                })
                .await?;
            instance.start().await?;
            instance.stop(true).await?;
            instance.delete().await
        })
    });

    let follow = async {
        while let Some(item) = events.next().await {
            match item? {
                EventItem::Event(event) => {
                    let line = match &event.payload {
                        EventPayload::Lifecycle(l) => format!("{} {}", l.action, l.source),
                        EventPayload::Operation(op) => {
                            format!("{} ({})", op.description, op.status)
                        }
                        EventPayload::Logging(log) => format!("[{}] {}", log.level, log.message),
                        other => format!("{other:?}"),
                    };
                    println!(
                        "{} {:<9} {line}",
                        event.timestamp,
                        event.event_type().to_string()
                    );
                    if let EventPayload::Lifecycle(l) = &event.payload
                        && l.action == LifecycleAction::InstanceDeleted
                        && l.source.ends_with(&format!("/{name}"))
                        && demo
                    {
                        return Ok::<(), lxd_client::Error>(());
                    }
                }
                // A reconnection or a slow consumer: events may be missing here.
                gap => println!("(gap: {gap:?})"),
            }
        }
        Ok(())
    };
    let outcome = if seconds == 0 {
        tokio::select! {
            r = follow => r,
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    } else {
        match tokio::time::timeout(Duration::from_secs(seconds), follow).await {
            Ok(r) => r,
            Err(_) => {
                println!("({seconds} s passed)");
                Ok(())
            }
        }
    };
    if let Some(activity) = activity {
        activity.await??;
    }
    outcome?;
    Ok(())
}
