//! What a server refuses reaches the caller whichever way the server answers: network and
//! storage pool writes that LXD 5.0 and Incus refuse with an error reply and LXD 6 with a
//! failed background operation (`storage_and_network_operations`); and recorded exec
//! output, found where each server keeps it (among the logs on LXD 5.0, under
//! `logs/exec-output/` on LXD 6 and Incus).

use lxd_client::Client;
use lxd_client::proto::{NetworksPost, StoragePoolsPost};
use lxd_testkit::{Fault, FaultRule, ServerFlavor};
use serde_json::json;

#[macro_use]
mod support;
use support::launch;

fn bridge(name: &str) -> NetworksPost {
    NetworksPost {
        name: name.into(),
        config: [
            ("ipv4.address".to_string(), "none".to_string()),
            ("ipv6.address".to_string(), "none".to_string()),
        ]
        .into(),
        ..Default::default()
    }
}

async fn refused_network_and_pool_writes_are_errors(flavor: ServerFlavor) {
    let server = support::start(flavor).await;
    let client = Client::unix(server.socket_path()).unwrap();
    let networks = client.networks();
    networks.create(&bridge("tkbr0")).await.unwrap();
    assert!(networks.get("tkbr0").await.unwrap().managed);

    let duplicate = networks.create(&bridge("tkbr0")).await.unwrap_err();
    assert!(
        duplicate.to_string().contains("already exists"),
        "{duplicate}"
    );

    // A network a profile uses cannot go; it stays.
    client
        .profiles()
        .patch(
            "default",
            &json!({"devices": {"eth0": {"type": "nic", "network": "tkbr0", "name": "eth0"}}}),
            None,
        )
        .await
        .unwrap();
    let in_use = networks.delete("tkbr0").await.unwrap_err();
    assert!(in_use.to_string().contains("currently in use"), "{in_use}");
    assert!(networks.get("tkbr0").await.unwrap().managed);

    let pools = client.storage_pools();
    let pool = StoragePoolsPost {
        name: "p1".into(),
        driver: "dir".into(),
        ..Default::default()
    };
    pools.create(&pool).await.unwrap();
    let again = pools.create(&pool).await.unwrap_err();
    assert!(
        again
            .to_string()
            .contains("Storage pool \"p1\" already exists"),
        "{again}"
    );
    pools.delete("p1").await.unwrap();
    assert!(!pools.exists("p1").await.unwrap());
}

async fn recorded_exec_output_is_listed_read_and_deleted(flavor: ServerFlavor) {
    let server = support::start(flavor).await;
    let client = Client::unix(server.socket_path()).unwrap();
    launch(&client, "c1").await;
    let recorded = client
        .instances()
        .exec("c1", ["sh", "-c", "echo out; echo err >&2"])
        .run_recorded()
        .await
        .unwrap();
    assert_eq!(recorded.exit_code, 0);

    let logs = client.instances().logs("c1");
    let mut files: Vec<String> = logs
        .list()
        .await
        .unwrap()
        .into_iter()
        .filter(|f| f.starts_with("exec_"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(files[0].ends_with(".stderr") && files[1].ends_with(".stdout"));
    let mut out = Vec::new();
    logs.get_to(&files[1], &mut out).await.unwrap();
    assert_eq!(out, b"out\n");
    logs.delete(&files[1]).await.unwrap();
    let missing = logs.get_to(&files[1], &mut Vec::new()).await.unwrap_err();
    assert!(missing.is_not_found(), "{missing}");
    let left: Vec<String> = logs.list().await.unwrap();
    assert_eq!(left, [files[0].clone()]);
}

each_flavor!(
    refused_network_and_pool_writes_are_errors,
    recorded_exec_output_is_listed_read_and_deleted,
);

/// LXD 6 only (the others write networks synchronously): a network create whose
/// operation fails is the caller's error with the server's message, and nothing is made.
#[tokio::test]
async fn lxd6_a_failed_network_operation_is_the_callers_error() {
    let server = support::start(ServerFlavor::Lxd6).await;
    server.faults().add(
        FaultRule::new(Fault::FailOperation("bridge setup failed".into()))
            .path("/1.0/networks")
            .times(1),
    );
    let client = Client::unix(server.socket_path()).unwrap();
    let failed = client
        .networks()
        .create(&bridge("tkbr1"))
        .await
        .unwrap_err();
    assert!(failed.is_operation_failed(), "{failed}");
    assert!(
        failed.to_string().contains("bridge setup failed"),
        "{failed}"
    );
    assert!(!client.networks().exists("tkbr1").await.unwrap());
}
