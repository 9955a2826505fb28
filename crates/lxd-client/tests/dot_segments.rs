//! Dot segments never reach the wire. `.`, `..` and an empty name cannot be one path segment:
//! URL handling resolves `.`/`..` (and their `%2E` forms) away and an empty segment names the
//! collection, so `operations().get("..")` once went out as `GET /1.0/` and `cancel(".")` as
//! `DELETE /1.0/operations/`. Every name- or id-taking entry point must refuse them as invalid
//! input before any request: the test server records every request it receives, and each
//! refusal must leave that record unchanged. Names with dots that are not dot segments
//! (`...`) still go out, one segment deep. An operation id a server sends that could not be
//! sent back is the server's error, and nothing follows it.

use std::fmt::Debug;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use lxd_client::proto::StorageVolumeType;
use lxd_client::{Client, Error};
use lxd_testkit::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixListener;

/// Names no path may carry as a segment of its own.
const DOT_NAMES: &[&str] = &[".", "..", ""];

struct Wire {
    server: TestServer,
    client: Client,
    checked: usize,
}

impl Wire {
    async fn new() -> Wire {
        let server = TestServer::start().await.unwrap();
        let client = Client::unix(server.socket_path()).unwrap();
        // Settle what the client fetches once (server info for extension checks), so a
        // refusal is compared with a quiet server.
        client.server().await.unwrap();
        Wire {
            server,
            client,
            checked: 0,
        }
    }

    fn sent(&self) -> Vec<(String, String)> {
        self.server
            .requests()
            .into_iter()
            .map(|r| (r.method, r.path))
            .collect()
    }

    /// `call` fails with invalid input naming `what`, and the server receives nothing.
    async fn refuses<T: Debug>(
        &mut self,
        what: &str,
        input: &str,
        call: impl Future<Output = lxd_client::Result<T>>,
    ) {
        let before = self.sent();
        let result = call.await;
        let after = self.sent();
        assert_eq!(
            after[before.len()..],
            [],
            "{what}({input:?}) reached the server"
        );
        match result {
            Ok(value) => panic!("{what}({input:?}) was accepted: {value:?}"),
            Err(error) => assert!(
                error.is_invalid_input() && matches!(error, Error::InvalidInput { .. }),
                "{what}({input:?}): {error:?}"
            ),
        }
        self.checked += 1;
    }

    /// `call` reaches the server as exactly `method path` (whatever it answers).
    async fn sends<T: Debug>(
        &mut self,
        method: &str,
        path: &str,
        call: impl Future<Output = lxd_client::Result<T>>,
    ) {
        let before = self.sent().len();
        let _ = call.await;
        let sent = self.sent();
        assert_eq!(
            sent[before..],
            [(method.to_string(), path.to_string())],
            "expected {method} {path}"
        );
    }
}

#[tokio::test]
async fn operation_ids_that_are_dot_segments_never_reach_the_wire() {
    let mut w = Wire::new().await;
    let client = w.client.clone();
    let ops = client.operations();
    for id in DOT_NAMES.iter().chain(&["../x", "a/b"]) {
        w.refuses("operations.get", id, ops.get(id)).await;
        w.refuses("operations.cancel", id, ops.cancel(id)).await;
        w.refuses("operations.wait", id, ops.wait(id, None)).await;
        w.refuses(
            "Operation::get",
            id,
            lxd_client::Operation::get(&client, id),
        )
        .await;
    }
    // Dots that are not a dot segment are an id like any other, one segment deep.
    w.sends("GET", "/1.0/operations/...", ops.get("...")).await;
    w.sends("DELETE", "/1.0/operations/...", ops.cancel("..."))
        .await;
    assert_eq!(w.checked, 20);
}

#[tokio::test]
async fn names_that_are_dot_segments_never_reach_the_wire() {
    let mut w = Wire::new().await;
    let c = w.client.clone();
    let custom = || StorageVolumeType::Custom;
    for name in DOT_NAMES {
        w.refuses("instances.get", name, c.instances().get(name))
            .await;
        w.refuses("instances.delete", name, c.instances().delete(name))
            .await;
        w.refuses(
            "instances.snapshots.get",
            name,
            c.instances().snapshots("c1").get(name),
        )
        .await;
        w.refuses(
            "instances.snapshots(instance).get",
            name,
            c.instances().snapshots(name).get("s1"),
        )
        .await;
        w.refuses(
            "instances.backups.get",
            name,
            c.instances().backups("c1").get(name),
        )
        .await;
        w.refuses(
            "instances.logs.get",
            name,
            // A byte stream has no Debug: only whether it was refused matters.
            async { c.instances().logs("c1").get(name).await.map(|_| ()) },
        )
        .await;
        w.refuses("images.get", name, c.images().get(name)).await;
        w.refuses("images.aliases.get", name, c.images().aliases().get(name))
            .await;
        w.refuses(
            "images.aliases.delete",
            name,
            c.images().aliases().delete(name),
        )
        .await;
        w.refuses("profiles.get", name, c.profiles().get(name))
            .await;
        w.refuses("profiles.delete", name, c.profiles().delete(name))
            .await;
        w.refuses("networks.get", name, c.networks().get(name))
            .await;
        w.refuses(
            "networks.forwards.get",
            name,
            c.networks().forwards("lxdbr0").get(name),
        )
        .await;
        w.refuses(
            "networks.forwards(network).list",
            name,
            c.networks().forwards(name).list_addresses(),
        )
        .await;
        w.refuses("network_acls.get", name, c.network_acls().get(name))
            .await;
        w.refuses("storage_pools.get", name, c.storage_pools().get(name))
            .await;
        w.refuses(
            "storage_pools.volumes.get",
            name,
            c.storage_pools().volumes("default").get(custom(), name),
        )
        .await;
        w.refuses(
            "storage_pools.volumes(pool).get",
            name,
            c.storage_pools().volumes(name).get(custom(), "data"),
        )
        .await;
        w.refuses(
            "storage_pools.volumes.get(type)",
            name,
            c.storage_pools()
                .volumes("default")
                .get(StorageVolumeType::Other(name.to_string()), "data"),
        )
        .await;
        w.refuses(
            "storage_pools.volumes.snapshots.get",
            name,
            c.storage_pools()
                .volumes("default")
                .snapshots(custom(), "data")
                .get(name),
        )
        .await;
        w.refuses("projects.get", name, c.projects().get(name))
            .await;
        w.refuses("certificates.get", name, c.certificates().get(name))
            .await;
        w.refuses("cluster.members.get", name, c.cluster().members().get(name))
            .await;
        w.refuses("cluster.groups.get", name, c.cluster().groups().get(name))
            .await;
        w.refuses("warnings.get", name, c.warnings().get(name))
            .await;
    }
    println!("{} refusals checked", w.checked);
}

#[tokio::test]
async fn names_with_dots_go_out_one_segment_deep() {
    let mut w = Wire::new().await;
    let c = w.client.clone();
    w.sends("GET", "/1.0/profiles/...", c.profiles().get("..."))
        .await;
    w.sends(
        "GET",
        "/1.0/storage-pools/...",
        c.storage_pools().get("..."),
    )
    .await;
    w.sends(
        "GET",
        "/1.0/storage-pools/default/volumes/custom/...",
        c.storage_pools()
            .volumes("default")
            .get(StorageVolumeType::Custom, "..."),
    )
    .await;
    w.sends("GET", "/1.0/projects/...", c.projects().get("..."))
        .await;
    w.sends(
        "GET",
        "/1.0/images/aliases/...",
        c.images().aliases().get("..."),
    )
    .await;
}

/// A server that answers every request with `reply` (raw HTTP) and records request lines.
fn canned_server(reply: &'static str) -> (PathBuf, Arc<Mutex<Vec<String>>>) {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "lxd-client-dot-segments-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("unix.socket");
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let record = record.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&buf);
                let line = text.lines().next().unwrap_or_default().to_string();
                record.lock().unwrap().push(line);
                let _ = conn.write_all(reply.as_bytes()).await;
                let _ = conn.shutdown().await;
            });
        }
    });
    (path, seen)
}

#[tokio::test]
async fn a_server_sent_operation_id_that_is_a_dot_segment_is_malformed() {
    // An async reply whose operation is called "..": waiting on it would poll
    // `/1.0/operations/../wait`, that is `/1.0/wait`.
    const BODY: &str = r#"{"type":"async","status":"Operation created","status_code":100,"operation":"/1.0/operations/..","metadata":{"id":"..","class":"task","status":"Running","status_code":103}}"#;
    let reply = format!(
        "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nConnection: close\r\n\
         Content-Length: {}\r\n\r\n{BODY}",
        BODY.len()
    );
    let (socket, seen) = canned_server(Box::leak(reply.into_boxed_str()));
    let client = Client::unix(&socket).unwrap();
    let error = client
        .instances()
        .delete("c1")
        .await
        .expect_err("an operation id that is a dot segment");
    assert!(error.is_malformed(), "{error:?}");
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.iter().all(|line| !line.contains("/1.0/operations")
            && !line.starts_with("GET /1.0/wait")
            && !line.starts_with("GET /1.0/ ")),
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .any(|line| line.starts_with("DELETE /1.0/instances/c1")),
        "{seen:?}"
    );
    let _ = std::fs::remove_dir_all(socket.parent().unwrap());
}
