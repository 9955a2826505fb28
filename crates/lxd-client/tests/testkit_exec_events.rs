//! The client's exec and events against `lxd-testkit` over its real unix socket: the same
//! websocket protocol LXD speaks (fds 0-2 and control, the exit code in the operation), and
//! typed lifecycle events. The real-LXD suite (integration/tests/exec.rs, events.rs) proves
//! the same calls against LXD itself; these run anywhere `cargo test` runs.

use std::time::Duration;

use futures::StreamExt;
use lxd_client::proto::{EventPayload, EventType, LifecycleAction};
use lxd_client::{Client, EventItem};
use lxd_testkit::ServerFlavor;

#[macro_use]
mod support;
use support::launch;

async fn exec_collects_output_exit_codes_and_stdin(flavor: ServerFlavor) {
    let server = support::start(flavor).await;
    let client = Client::unix(server.socket_path()).unwrap();
    launch(&client, "t1").await;
    let instances = client.instances();

    let out = instances.exec("t1", ["echo", "hello"]).run().await.unwrap();
    assert_eq!(out.exit_code, 0, "{out:?}");
    assert_eq!(out.stdout, b"hello\n");
    assert!(out.stderr.is_empty());

    let out = instances
        .exec("t1", ["sh", "-c", "exit 42"])
        .run()
        .await
        .unwrap();
    assert_eq!(out.exit_code, 42, "{out:?}");

    let input: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    let out = instances
        .exec("t1", ["cat"])
        .stdin_bytes(input.clone())
        .run()
        .await
        .unwrap();
    assert_eq!(out.exit_code, 0);
    assert_eq!(out.stdout.len(), input.len());
    assert!(out.stdout == input, "cat must return stdin byte for byte");

    // Checked before any request: an empty command.
    let err = instances
        .exec("t1", Vec::<String>::new())
        .run()
        .await
        .unwrap_err();
    assert!(err.is_invalid_input(), "{err:?}");
}

async fn lifecycle_events_arrive_typed_and_in_order(flavor: ServerFlavor) {
    {
        let server = support::start(flavor).await;
        let client = Client::unix(server.socket_path()).unwrap();
        let mut events = client
            .events()
            .types([EventType::Lifecycle])
            .connect()
            .await
            .unwrap();
        launch(&client, "t2").await;
        let mut seen = Vec::new();
        let collect = async {
            while let Some(item) = events.next().await {
                if let EventItem::Event(event) = item.unwrap()
                    && let EventPayload::Lifecycle(l) = event.payload
                    && l.resource_name().as_deref() == Some("t2")
                {
                    seen.push(l.action);
                    if seen.contains(&LifecycleAction::InstanceStarted) {
                        return;
                    }
                }
            }
            panic!("event stream ended");
        };
        tokio::time::timeout(Duration::from_secs(20), collect)
            .await
            .expect("instance-started within 20 s");
        assert_eq!(
            seen,
            [
                LifecycleAction::InstanceCreated,
                LifecycleAction::InstanceStarted
            ],
            "{:?}",
            client.flavor().await
        );
    }
}

each_flavor!(
    exec_collects_output_exit_codes_and_stdin,
    lifecycle_events_arrive_typed_and_in_order,
);
