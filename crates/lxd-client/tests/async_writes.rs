//! Writes that a server may answer sync or with an operation (LXD 6.8's
//! `storage_and_network_operations` moved networks, ACLs, forwards and storage pools to
//! operations): the reply decides. A sync reply is the end (one request, nothing more); an
//! async reply's operation is waited for, and its failure is the caller's error with the
//! server's message. Served by a hand-made server on a unix socket.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use lxd_client::proto::{
    NetworkAclPut, NetworkAclsPost, NetworkForwardPut, NetworkForwardsPost, NetworkPut,
    NetworksPost, ProfilePut, ProfilesPost, ProjectPut, ProjectsPost, StoragePoolPut,
    StoragePoolsPost,
};
use lxd_client::{Client, Result};
use support::{SeenRequest, serve_requests};
use tokio::sync::Notify;

/// How the server answers a write.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    /// `type: sync`, done.
    Sync,
    /// An operation that ends in success.
    Async,
    /// An operation that ends in failure.
    AsyncFails,
}

const FAILURE: &str = "Failed creating network: the bridge is busy";

fn server_info() -> String {
    serde_json::json!({
        "type": "sync", "status": "Success", "status_code": 200,
        "metadata": {
            "api_extensions": ["network", "network_acl", "network_forward", "projects",
                               "storage_and_network_operations"],
            "auth": "trusted",
            "environment": {"server": "lxd", "server_version": "6.8"}
        }
    })
    .to_string()
}

fn operation(status: &str, code: u16, err: &str) -> serde_json::Value {
    serde_json::json!({
        "id": "op1", "class": "task", "description": "Network write",
        "status": status, "status_code": code, "err": err, "may_cancel": false,
        "resources": {}, "metadata": null,
        "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"
    })
}

/// The server's side of one exchange: `GET /1.0`, a write answered as `mode` says, and the
/// operation's `/wait` (held until `gate` is opened when there is one).
struct Script {
    mode: Mode,
    gate: Option<Arc<Gate>>,
}

/// Lets a test hold the operation's end: the server reports the `/wait` it got, then answers
/// it only once the test opens the gate, and says that it answered.
#[derive(Default)]
struct Gate {
    waiting: Notify,
    open: Notify,
    ended: AtomicBool,
}

async fn answer(script: Arc<Script>, request: SeenRequest) -> (u16, String) {
    if request.method == "GET" && request.path() == "/1.0" {
        return (200, server_info());
    }
    if request.method == "GET" && request.path() == "/1.0/operations/op1/wait" {
        if let Some(gate) = &script.gate {
            gate.waiting.notify_one();
            gate.open.notified().await;
            gate.ended.store(true, Ordering::SeqCst);
        }
        let op = match script.mode {
            Mode::AsyncFails => operation("Failure", 400, FAILURE),
            _ => operation("Success", 200, ""),
        };
        let body = serde_json::json!({
            "type": "sync", "status": "Success", "status_code": 200, "metadata": op
        });
        return (200, body.to_string());
    }
    if request.method == "GET" {
        return (
            404,
            r#"{"type":"error","error":"not found","error_code":404}"#.into(),
        );
    }
    match script.mode {
        Mode::Sync => (
            200,
            r#"{"type":"sync","status":"Success","status_code":200,"metadata":{}}"#.into(),
        ),
        Mode::Async | Mode::AsyncFails => {
            let body = serde_json::json!({
                "type": "async", "status": "Operation created", "status_code": 100,
                "operation": "/1.0/operations/op1",
                "metadata": operation("Running", 103, "")
            });
            (202, body.to_string())
        }
    }
}

type Log = Arc<Mutex<Vec<SeenRequest>>>;

/// A client of a fresh scripted server whose `GET /1.0` is already cached, and the server's
/// request log (emptied, so it holds only what the test sends next).
async fn scripted(mode: Mode, gate: Option<Arc<Gate>>) -> (support::SocketDir, Client, Log) {
    let script = Arc::new(Script { mode, gate });
    let (dir, path, log) = serve_requests("async-writes", move |r| answer(script.clone(), r));
    let client = Client::unix(&path).unwrap();
    client.server().await.unwrap();
    log.lock().unwrap().clear();
    (dir, client, log)
}

type Write = fn(Client) -> BoxFuture<'static, Result<()>>;

/// Every write that returns `()` on the managers LXD 6.8 moved to operations, plus profiles
/// and projects (same collection code).
fn writes() -> Vec<(&'static str, &'static str, Write)> {
    vec![
        ("POST", "/1.0/networks", |c| {
            Box::pin(async move {
                let request = NetworksPost {
                    name: "br1".into(),
                    ..Default::default()
                };
                c.networks().create(&request).await
            })
        }),
        ("PUT", "/1.0/networks/br1", |c| {
            Box::pin(async move {
                c.networks()
                    .update("br1", &NetworkPut::default(), None)
                    .await
            })
        }),
        ("PATCH", "/1.0/networks/br1", |c| {
            Box::pin(async move {
                let body = serde_json::json!({"description": "x"});
                c.networks().patch("br1", &body, None).await
            })
        }),
        ("POST", "/1.0/networks/br1", |c| {
            Box::pin(async move { c.networks().rename("br1", "br2").await })
        }),
        ("DELETE", "/1.0/networks/br1", |c| {
            Box::pin(async move { c.networks().delete("br1").await })
        }),
        ("POST", "/1.0/network-acls", |c| {
            Box::pin(async move {
                let request = NetworkAclsPost {
                    name: "web".into(),
                    ..Default::default()
                };
                c.network_acls().create(&request).await
            })
        }),
        ("PUT", "/1.0/network-acls/web", |c| {
            Box::pin(async move {
                c.network_acls()
                    .update("web", &NetworkAclPut::default(), None)
                    .await
            })
        }),
        ("POST", "/1.0/network-acls/web", |c| {
            Box::pin(async move { c.network_acls().rename("web", "web2").await })
        }),
        ("DELETE", "/1.0/network-acls/web", |c| {
            Box::pin(async move { c.network_acls().delete("web").await })
        }),
        ("POST", "/1.0/networks/br1/forwards", |c| {
            Box::pin(async move {
                let request = NetworkForwardsPost {
                    listen_address: "127.0.0.9".into(),
                    ..Default::default()
                };
                c.networks().forwards("br1").create(&request).await
            })
        }),
        ("PUT", "/1.0/networks/br1/forwards/127.0.0.9", |c| {
            Box::pin(async move {
                c.networks()
                    .forwards("br1")
                    .update("127.0.0.9", &NetworkForwardPut::default(), None)
                    .await
            })
        }),
        ("PATCH", "/1.0/networks/br1/forwards/127.0.0.9", |c| {
            Box::pin(async move {
                let body = serde_json::json!({"description": "x"});
                c.networks()
                    .forwards("br1")
                    .patch("127.0.0.9", &body, None)
                    .await
            })
        }),
        ("DELETE", "/1.0/networks/br1/forwards/127.0.0.9", |c| {
            Box::pin(async move { c.networks().forwards("br1").delete("127.0.0.9").await })
        }),
        ("POST", "/1.0/storage-pools", |c| {
            Box::pin(async move {
                let request = StoragePoolsPost {
                    name: "p1".into(),
                    driver: "dir".into(),
                    ..Default::default()
                };
                c.storage_pools().create(&request).await
            })
        }),
        ("PUT", "/1.0/storage-pools/p1", |c| {
            Box::pin(async move {
                c.storage_pools()
                    .update("p1", &StoragePoolPut::default(), None)
                    .await
            })
        }),
        ("PATCH", "/1.0/storage-pools/p1", |c| {
            Box::pin(async move {
                let body = serde_json::json!({"description": "x"});
                c.storage_pools().patch("p1", &body, None).await
            })
        }),
        ("DELETE", "/1.0/storage-pools/p1", |c| {
            Box::pin(async move { c.storage_pools().delete("p1").await })
        }),
        ("POST", "/1.0/profiles", |c| {
            Box::pin(async move {
                let request = ProfilesPost {
                    name: "web".into(),
                    ..Default::default()
                };
                c.profiles().create(&request).await
            })
        }),
        ("PUT", "/1.0/profiles/web", |c| {
            Box::pin(async move {
                c.profiles()
                    .update("web", &ProfilePut::default(), None)
                    .await
            })
        }),
        ("DELETE", "/1.0/profiles/web", |c| {
            Box::pin(async move { c.profiles().delete("web").await })
        }),
        ("POST", "/1.0/projects", |c| {
            Box::pin(async move {
                let request = ProjectsPost {
                    name: "dev".into(),
                    ..Default::default()
                };
                c.projects().create(&request).await
            })
        }),
        ("PUT", "/1.0/projects/dev", |c| {
            Box::pin(async move {
                c.projects()
                    .update("dev", &ProjectPut::default(), None)
                    .await
            })
        }),
        ("DELETE", "/1.0/projects/dev", |c| {
            Box::pin(async move { c.projects().delete("dev").await })
        }),
    ]
}

/// Runs `write` against a server in `mode`, bounded so a hang fails the test.
async fn run(mode: Mode, write: Write) -> (Result<()>, Vec<String>) {
    let (_dir, client, log) = scripted(mode, None).await;
    let result = tokio::time::timeout(Duration::from_secs(10), write(client))
        .await
        .expect("the write hung");
    let lines = log.lock().unwrap().iter().map(SeenRequest::line).collect();
    (result, lines)
}

#[tokio::test]
async fn a_sync_reply_is_the_end_in_one_request() {
    for (method, path, write) in writes() {
        let (result, lines) = run(Mode::Sync, write).await;
        result.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        assert_eq!(lines, [format!("{method} {path}")], "{method} {path}");
    }
}

#[tokio::test]
async fn an_async_reply_is_waited_for() {
    for (method, path, write) in writes() {
        let (result, lines) = run(Mode::Async, write).await;
        result.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        assert_eq!(
            lines,
            [
                format!("{method} {path}"),
                "GET /1.0/operations/op1/wait?timeout=-1".to_string()
            ],
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn a_failed_operation_is_the_callers_error() {
    for (method, path, write) in writes() {
        let (result, _) = run(Mode::AsyncFails, write).await;
        let err = result.expect_err(&format!("{method} {path} hid the failure"));
        assert!(err.is_operation_failed(), "{method} {path}: {err}");
        assert_eq!(err.lxd_message(), Some(FAILURE), "{method} {path}");
    }
}

#[tokio::test]
async fn the_call_returns_only_after_the_operation_ended() {
    let gate = Arc::new(Gate::default());
    let (_dir, client, _log) = scripted(Mode::Async, Some(gate.clone())).await;
    let mut call = tokio::spawn(async move {
        let request = NetworksPost {
            name: "br1".into(),
            ..Default::default()
        };
        client.networks().create(&request).await
    });
    // Either the client asks how the operation ends (and the server holds it running), or
    // the call returns without asking: the old code did the latter.
    tokio::select! {
        _ = gate.waiting.notified() => {}
        returned = &mut call => panic!("create returned while its operation ran: {returned:?}"),
    }
    assert!(
        !call.is_finished(),
        "create returned while its operation ran"
    );
    gate.open.notify_one();
    tokio::time::timeout(Duration::from_secs(10), call)
        .await
        .expect("create hung after the operation ended")
        .unwrap()
        .unwrap();
    assert!(gate.ended.load(Ordering::SeqCst));
}
