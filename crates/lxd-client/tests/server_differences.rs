//! Where today's servers differ, followed by what each server answers (its URLs, a 404 on one
//! path, its API extensions), never by its name or version: recorded exec output (LXD 5.0
//! among the logs; LXD 5.15+ and Incus under `logs/exec-output/`), the cluster join token
//! (an extension of another name on Incus), and a `GET /1.0` that nulls its lists (Incus 7
//! to an untrusted client). Served by hand-made servers on a unix socket.

mod support;

use std::sync::{Arc, Mutex};

use futures::TryStreamExt;
use lxd_client::Client;
use lxd_client::proto::ClusterPut;
use support::{SeenRequest, serve_requests};

/// A route: method, path (without query), HTTP status, body (a JSON envelope, or raw text).
type Route = (&'static str, &'static str, u16, String);

fn sync(metadata: serde_json::Value) -> String {
    serde_json::json!({"type": "sync", "status": "Success", "status_code": 200, "metadata": metadata})
        .to_string()
}

fn error(code: u16, message: &str) -> String {
    serde_json::json!({"type": "error", "error": message, "error_code": code}).to_string()
}

fn server(name: &str, version: &str, extensions: &[&str]) -> String {
    sync(serde_json::json!({
        "api_extensions": extensions, "auth": "trusted",
        "environment": {"server": name, "server_version": version}
    }))
}

/// A server that answers `routes` and 404 to everything else; the log of what it was asked.
fn serve(routes: Vec<Route>) -> (support::SocketDir, Client, Arc<Mutex<Vec<SeenRequest>>>) {
    let routes = Arc::new(routes);
    let (dir, path, log) = serve_requests("differences", move |request| {
        let routes = routes.clone();
        async move {
            routes
                .iter()
                .find(|(m, p, _, _)| *m == request.method && *p == request.path())
                .map(|(_, _, status, body)| (*status, body.clone()))
                .unwrap_or_else(|| (404, error(404, "not found")))
        }
    });
    (dir, Client::unix(&path).unwrap(), log)
}

fn lines(log: &Arc<Mutex<Vec<SeenRequest>>>) -> Vec<String> {
    log.lock().unwrap().iter().map(SeenRequest::line).collect()
}

const LOGS: &str = "/1.0/instances/c1/logs";

/// LXD 6 (and 5.15+): exec output apart, with no API extension saying so; the old path is
/// no route at all (404).
fn lxd6_logs() -> Vec<Route> {
    vec![
        (
            "GET",
            "/1.0",
            200,
            server("lxd", "6.8", &["container_exec_recording"]),
        ),
        (
            "GET",
            LOGS,
            200,
            sync(serde_json::json!([format!("{LOGS}/lxc.log")])),
        ),
        (
            "GET",
            "/1.0/instances/c1/logs/exec-output",
            200,
            sync(serde_json::json!([format!(
                "{LOGS}/exec-output/exec_1.stdout"
            )])),
        ),
        (
            "GET",
            "/1.0/instances/c1/logs/exec-output/exec_1.stdout",
            200,
            "out\n".into(),
        ),
        (
            "DELETE",
            "/1.0/instances/c1/logs/exec-output/exec_1.stdout",
            200,
            sync(serde_json::json!({})),
        ),
    ]
}

/// LXD 5.0: exec output among the logs; `logs/exec-output` is taken for a log file's name
/// and refused (400).
fn lxd50_logs() -> Vec<Route> {
    vec![
        (
            "GET",
            "/1.0",
            200,
            server("lxd", "5.0.2", &["container_exec_recording"]),
        ),
        (
            "GET",
            LOGS,
            200,
            sync(serde_json::json!([
                format!("{LOGS}/lxc.log"),
                format!("{LOGS}/exec_1.stdout")
            ])),
        ),
        (
            "GET",
            "/1.0/instances/c1/logs/exec-output",
            400,
            error(400, "Log file name is not valid"),
        ),
        (
            "GET",
            "/1.0/instances/c1/logs/exec_1.stdout",
            200,
            "out\n".into(),
        ),
        (
            "DELETE",
            "/1.0/instances/c1/logs/exec_1.stdout",
            200,
            sync(serde_json::json!({})),
        ),
    ]
}

#[tokio::test]
async fn exec_output_is_found_apart_on_lxd_6() {
    let (_dir, client, log) = serve(lxd6_logs());
    let logs = client.instances().logs("c1");
    assert_eq!(logs.list().await.unwrap(), ["lxc.log", "exec_1.stdout"]);
    let chunks: Vec<_> = logs
        .get("exec_1.stdout")
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(chunks.concat(), b"out\n");
    let mut out = Vec::new();
    logs.get_to("exec_1.stdout", &mut out).await.unwrap();
    assert_eq!(out, b"out\n");
    logs.delete("exec_1.stdout").await.unwrap();
    assert!(
        lines(&log).contains(&"DELETE /1.0/instances/c1/logs/exec-output/exec_1.stdout".into()),
        "{:?}",
        lines(&log)
    );
}

#[tokio::test]
async fn exec_output_is_found_among_the_logs_on_lxd_5_0() {
    let (_dir, client, log) = serve(lxd50_logs());
    let logs = client.instances().logs("c1");
    assert_eq!(logs.list().await.unwrap(), ["lxc.log", "exec_1.stdout"]);
    // The listing already had exec output: no second request for the other place.
    assert_eq!(lines(&log), ["GET /1.0/instances/c1/logs"]);
    let mut out = Vec::new();
    logs.get_to("exec_1.stdout", &mut out).await.unwrap();
    assert_eq!(out, b"out\n");
    logs.delete("exec_1.stdout").await.unwrap();
    assert!(
        lines(&log).contains(&"DELETE /1.0/instances/c1/logs/exec_1.stdout".into()),
        "{:?}",
        lines(&log)
    );
}

#[tokio::test]
async fn exec_output_that_is_nowhere_is_not_found() {
    let (_dir, client, _log) = serve(lxd6_logs());
    let logs = client.instances().logs("c1");
    let err = logs
        .get_to("exec_2.stderr", &mut Vec::new())
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    // Any other refusal is the caller's error as the server said it.
    let (_dir, client, _log) = serve(vec![
        ("GET", "/1.0", 200, server("lxd", "6.8", &[])),
        ("GET", LOGS, 403, error(403, "not allowed")),
    ]);
    let err = client.instances().logs("c1").list().await.unwrap_err();
    assert_eq!(err.status(), Some(403), "{err:?}");
}

fn join(token: &str) -> ClusterPut {
    ClusterPut {
        server_name: "node4".into(),
        enabled: true,
        server_address: "127.0.0.4:8443".into(),
        cluster_token: Some(token.into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_cluster_token_is_accepted_by_incus() {
    let operation = serde_json::json!({
        "type": "async", "status": "Operation created", "status_code": 100,
        "operation": "/1.0/operations/op1",
        "metadata": {"id": "op1", "class": "task", "description": "Joining cluster",
                     "status": "Running", "status_code": 103, "err": "", "may_cancel": false}
    });
    // Incus 6.0: `cluster_token` under `clustering_join`, no `explicit_trust_token`.
    let (_dir, client, log) = serve(vec![
        (
            "GET",
            "/1.0",
            200,
            server("incus", "6.0.4", &["clustering", "clustering_join"]),
        ),
        ("PUT", "/1.0/cluster", 202, operation.to_string()),
    ]);
    let op = client
        .cluster()
        .update(&join("eyJzZXJ2ZXJfbmFtZSI6"), None)
        .await
        .unwrap();
    assert_eq!(op.id(), "op1");
    let put = log.lock().unwrap().last().cloned().unwrap();
    assert_eq!(put.line(), "PUT /1.0/cluster");
    assert!(
        put.body
            .contains(r#""cluster_token":"eyJzZXJ2ZXJfbmFtZSI6""#),
        "{}",
        put.body
    );
}

#[tokio::test]
async fn a_cluster_token_is_refused_before_sending_to_lxd_5_0() {
    // LXD 5.0 has `clustering_join` too, but takes the token's secret in `cluster_password`
    // and would ignore `cluster_token`.
    let (_dir, client, log) = serve(vec![(
        "GET",
        "/1.0",
        200,
        server(
            "lxd",
            "5.0.2",
            &["clustering", "clustering_join", "clustering_join_token"],
        ),
    )]);
    let err = client
        .cluster()
        .update(&join("eyJzZXJ2ZXJfbmFtZSI6"), None)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, lxd_client::Error::MissingExtension { extension, .. } if extension == "explicit_trust_token"),
        "{err:?}"
    );
    assert_eq!(lines(&log), ["GET /1.0"]);
}

#[tokio::test]
async fn a_server_that_nulls_its_lists_decodes_to_empty() {
    // Incus 7.0.2 to an untrusted client over HTTPS: `api_extensions: null`; trusted, its
    // `kernel_features` may be `{}`.
    let untrusted = r#"{"type":"sync","status":"Success","status_code":200,"metadata":
        {"config":{},"api_extensions":null,"api_status":"stable","api_version":"1.0",
         "auth":"untrusted","public":false,"auth_methods":["tls"]}}"#;
    let (_dir, client, _log) = serve(vec![("GET", "/1.0", 200, untrusted.into())]);
    let server = client.server().await.unwrap();
    assert!(server.api_extensions.is_empty());
    assert!(!client.trusted().await.unwrap());
    assert!(!client.has_api_extension("instances").await.unwrap());

    let trusted = r#"{"type":"sync","status":"Success","status_code":200,"metadata":
        {"config":{},"api_extensions":["instances"],"auth":"trusted","auth_methods":null,
         "environment":{"server":"incus","server_version":"7.0.2","kernel_features":{},
                        "lxc_features":null,"addresses":null,"storage_supported_drivers":null}}}"#;
    let (_dir, client, _log) = serve(vec![("GET", "/1.0", 200, trusted.into())]);
    let server = client.server().await.unwrap();
    assert!(server.environment.kernel_features.is_empty());
    assert!(server.environment.lxc_features.is_empty());
    assert!(server.environment.addresses.is_empty());
    assert!(client.has_api_extension("instances").await.unwrap());
}
