//! The testkit as LXD 6.9 (no real LXD 6 runs here; what it must answer comes from LXD's
//! REST spec and source at tag lxd-6.9): `GET /1.0`, network and storage pool writes
//! answered with operations that run and can fail, recorded exec output under
//! `logs/exec-output/`, and no trust password. Each difference is checked against the LXD
//! 5.0 flavor too, so a test fails if a flavor leaks into the other.

mod support;

use lxd_testkit::{ServerFlavor, TestServer};
use lxd_transport::http::{Method, StatusCode};
use serde_json::{Value, json};
use support::{Api, Reply, client_identity};

async fn lxd6() -> (TestServer, Api) {
    let server = TestServer::builder()
        .flavor(ServerFlavor::Lxd6)
        .start()
        .await
        .unwrap();
    assert_eq!(server.flavor(), ServerFlavor::Lxd6);
    let api = Api::unix(&server);
    (server, api)
}

/// The operation of a 202 reply, as the reply shows it (Running, not yet waited for).
fn started(reply: &Reply, description: &str) -> Value {
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{reply:?}");
    assert_eq!(reply.json["type"], "async");
    let op = reply.metadata().clone();
    assert_eq!(op["class"], "task");
    assert_eq!(op["description"], description);
    assert_eq!(op["status"], "Running", "{op}");
    assert_eq!(op["err_code"], 0, "{op}");
    op
}

#[tokio::test]
async fn server_description_is_lxd_6_9() {
    let (_server, api) = lxd6().await;
    let server = api.get("/1.0").await;
    let server = server.metadata();
    assert_eq!(server["environment"]["server"], "lxd");
    assert_eq!(server["environment"]["server_version"], "6.9");
    assert_eq!(server["environment"]["server_lts"], false);
    assert_eq!(
        server["environment"]["instance_types"],
        json!(["container", "virtual-machine"])
    );
    assert_eq!(
        server["environment"]["backup_metadata_version_range"],
        json!([1, 2])
    );
    assert_eq!(server["auth_user_name"], "root");
    assert_eq!(server["auth_user_method"], "unix");
    assert_eq!(server["client_certificate"], false, "the unix socket");
    let extensions: Vec<&str> = server["api_extensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert_eq!(extensions.len(), 477);
    for name in [
        "storage_and_network_operations",
        "explicit_trust_token",
        "instance_file_head",
        "operation_metadata_entity_url",
        "bulk_operations",
    ] {
        assert!(extensions.contains(&name), "{name}");
    }

    // LXD 5.0 has none of it.
    let old = TestServer::start().await.unwrap();
    let old = Api::unix(&old).get("/1.0").await;
    let old = old.metadata();
    assert_eq!(old["environment"]["server_version"], "5.0.2");
    for field in [
        "server_lts",
        "instance_types",
        "backup_metadata_version_range",
    ] {
        assert!(old["environment"].get(field).is_none(), "{field}");
    }
    assert!(old.get("client_certificate").is_none());
    assert!(
        !old["api_extensions"]
            .as_array()
            .unwrap()
            .contains(&json!("storage_and_network_operations"))
    );
}

#[tokio::test]
async fn network_writes_answer_with_operations_that_do_the_work() {
    let (_server, api) = lxd6().await;
    let reply = api
        .post(
            "/1.0/networks",
            json!({"name": "br6", "config": {"ipv4.address": "none"}}),
        )
        .await;
    let op = started(&reply, "Creating network");
    assert_eq!(op["metadata"]["entity_url"], "/1.0/networks/br6");
    assert_eq!(api.wait(&reply).await["status"], "Success");
    let network = api.get("/1.0/networks/br6").await;
    assert_eq!(network.status, StatusCode::OK);
    assert_eq!(network.metadata()["config"]["ipv4.address"], "none");

    let reply = api
        .patch(
            "/1.0/networks/br6",
            json!({"config": {"ipv6.address": "none"}}),
        )
        .await;
    let op = started(&reply, "Updating network");
    assert_eq!(op["metadata"]["entity_url"], "/1.0/networks/br6");
    assert_eq!(api.wait(&reply).await["status"], "Success");
    let network = api.get("/1.0/networks/br6").await;
    assert_eq!(network.metadata()["config"]["ipv6.address"], "none");

    let reply = api.post("/1.0/networks/br6", json!({"name": "br7"})).await;
    let op = started(&reply, "Renaming network");
    assert_eq!(op["metadata"]["original_entity_url"], "/1.0/networks/br6");
    assert_eq!(op["metadata"]["entity_url"], "/1.0/networks/br7");
    assert_eq!(api.wait(&reply).await["status"], "Success");
    assert_eq!(
        api.get("/1.0/networks/br6").await.status,
        StatusCode::NOT_FOUND
    );

    let reply = api.delete("/1.0/networks/br7").await;
    started(&reply, "Deleting network");
    assert_eq!(api.wait(&reply).await["status"], "Success");
    assert_eq!(
        api.get("/1.0/networks/br7").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_refused_network_write_is_a_failed_operation_not_an_error_reply() {
    let (_server, api) = lxd6().await;
    api.run(Method::POST, "/1.0/networks", Some(json!({"name": "br6"})))
        .await;

    // A duplicate: LXD 6.9 finds it inside the operation. The reply is a plain 202, so a
    // client that does not wait never learns the create failed.
    let reply = api.post("/1.0/networks", json!({"name": "br6"})).await;
    started(&reply, "Creating network");
    let failed = api.wait(&reply).await;
    assert_eq!(failed["status"], "Failure", "{failed}");
    assert_eq!(failed["err"], "The network already exists");
    assert_eq!(failed["err_code"], 400);

    // A network in use: the delete's operation fails and the network stays.
    api.put(
        "/1.0/profiles/default",
        json!({"devices": {
            "root": {"type": "disk", "path": "/", "pool": "default"},
            "eth0": {"type": "nic", "network": "br6", "name": "eth0"}
        }}),
    )
    .await;
    let reply = api.delete("/1.0/networks/br6").await;
    started(&reply, "Deleting network");
    let failed = api.wait(&reply).await;
    assert_eq!(failed["status"], "Failure", "{failed}");
    assert_eq!(failed["err"], "The network is currently in use");
    assert_eq!(failed["err_code"], 400);
    assert_eq!(api.get("/1.0/networks/br6").await.status, StatusCode::OK);

    // What LXD 6.9 still checks before the operation stays an error reply.
    let bad = api.post("/1.0/networks", json!({"name": ""})).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.json["error"], "No name provided");
    let missing = api.delete("/1.0/networks/nope").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let renamed = api.post("/1.0/networks/br6", json!({"name": "br7"})).await;
    assert_eq!(renamed.status, StatusCode::BAD_REQUEST, "in use");

    // LXD 5.0 answers the same duplicate and the same delete at once.
    let old = TestServer::start().await.unwrap();
    let old = Api::unix(&old);
    let created = old.post("/1.0/networks", json!({"name": "br6"})).await;
    assert_eq!(created.status, StatusCode::CREATED);
    let again = old.post("/1.0/networks", json!({"name": "br6"})).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.json["error"], "Network \"br6\" already exists");
}

#[tokio::test]
async fn storage_pool_writes_answer_with_operations() {
    let (_server, api) = lxd6().await;
    let reply = api
        .post("/1.0/storage-pools", json!({"name": "p1", "driver": "dir"}))
        .await;
    let op = started(&reply, "Creating storage pool");
    assert_eq!(op["metadata"]["entity_url"], "/1.0/storage-pools/p1");
    assert_eq!(api.wait(&reply).await["status"], "Success");
    assert_eq!(
        api.get("/1.0/storage-pools/p1").await.status,
        StatusCode::OK
    );

    let reply = api
        .post("/1.0/storage-pools", json!({"name": "p1", "driver": "dir"}))
        .await;
    started(&reply, "Creating storage pool");
    let failed = api.wait(&reply).await;
    assert_eq!(failed["status"], "Failure", "{failed}");
    assert_eq!(failed["err"], "Storage pool \"p1\" already exists");
    assert_eq!(failed["err_code"], 409);

    let reply = api
        .patch(
            "/1.0/storage-pools/p1",
            json!({"description": "six", "config": {}}),
        )
        .await;
    started(&reply, "Updating storage pool");
    api.wait(&reply).await;
    let pool = api.get("/1.0/storage-pools/p1").await;
    assert_eq!(pool.metadata()["description"], "six");

    // A pool in use is still refused before any operation (LXD 6.9's `storagePoolDelete`).
    let busy = api.delete("/1.0/storage-pools/default").await;
    assert_eq!(busy.status, StatusCode::BAD_REQUEST);

    let reply = api.delete("/1.0/storage-pools/p1").await;
    started(&reply, "Deleting storage pool");
    assert_eq!(api.wait(&reply).await["status"], "Success");
    assert_eq!(
        api.get("/1.0/storage-pools/p1").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn recorded_exec_output_lives_under_exec_output() {
    let (_server, api) = lxd6().await;
    api.launch("c1").await;
    // Until the first recorded exec there is no such directory to list.
    let none = api.get("/1.0/instances/c1/logs/exec-output").await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);
    let op = api
        .run(
            Method::POST,
            "/1.0/instances/c1/exec",
            Some(json!({"command": ["sh", "-c", "echo out; echo err >&2"], "record-output": true})),
        )
        .await;
    let stdout = op["metadata"]["output"]["1"].as_str().unwrap().to_string();
    let stderr = op["metadata"]["output"]["2"].as_str().unwrap().to_string();
    let prefix = "/1.0/instances/c1/logs/exec-output/exec_";
    assert!(
        stdout.starts_with(prefix) && stdout.ends_with(".stdout"),
        "{stdout}"
    );
    assert!(
        stderr.starts_with(prefix) && stderr.ends_with(".stderr"),
        "{stderr}"
    );

    let listed = api.get("/1.0/instances/c1/logs/exec-output").await;
    let mut listed: Vec<String> = serde_json::from_value(listed.metadata().clone()).unwrap();
    listed.sort();
    assert_eq!(listed, [stderr.clone(), stdout.clone()]);
    assert_eq!(&api.get(&stdout).await.body[..], b"out\n");
    assert_eq!(&api.get(&stderr).await.body[..], b"err\n");

    // The logs proper hold none of it: not listed, not served, no DELETE there.
    let logs = api.get("/1.0/instances/c1/logs").await;
    assert_eq!(logs.metadata(), &json!([]));
    let file = stdout.rsplit('/').next().unwrap();
    let old_path = format!("/1.0/instances/c1/logs/{file}");
    let refused = api.get(&old_path).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        refused.json["error"],
        format!("Log file name {file:?} not valid")
    );
    assert_eq!(
        api.delete(&old_path).await.status,
        StatusCode::NOT_IMPLEMENTED
    );
    let bad = api.get("/1.0/instances/c1/logs/exec-output/lxc.log").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    assert_eq!(api.delete(&stdout).await.status, StatusCode::OK);
    assert_eq!(api.get(&stdout).await.status, StatusCode::NOT_FOUND);
    let listed = api.get("/1.0/instances/c1/logs/exec-output").await;
    assert_eq!(listed.metadata(), &json!([stderr]));

    // LXD 5.0 keeps them among the logs, and has no exec-output directory.
    let old = TestServer::start().await.unwrap();
    let old = Api::unix(&old);
    old.launch("c1").await;
    let op = old
        .run(
            Method::POST,
            "/1.0/instances/c1/exec",
            Some(json!({"command": ["echo", "out"], "record-output": true})),
        )
        .await;
    let stdout = op["metadata"]["output"]["1"].as_str().unwrap();
    assert!(!stdout.contains("exec-output"), "{stdout}");
    assert_eq!(&old.get(stdout).await.body[..], b"out\n");
    assert_eq!(
        old.get("/1.0/instances/c1/logs/exec-output").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn there_is_no_trust_password() {
    let server = TestServer::builder()
        .flavor(ServerFlavor::Lxd6)
        .https()
        .trust_password("s3cret")
        .start()
        .await
        .unwrap();
    let (_, identity) = client_identity("laptop");
    let untrusted = Api::https(&server, Some(identity));
    let info = untrusted.get("/1.0").await;
    assert_eq!(info.metadata()["auth"], "untrusted");
    assert_eq!(info.metadata()["client_certificate"], true);
    let refused = untrusted
        .post(
            "/1.0/certificates",
            json!({"type": "client", "password": "s3cret"}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::NOT_IMPLEMENTED);
    assert_eq!(
        refused.json["error"],
        "Password authentication is no longer supported, please update your client"
    );

    let api = Api::unix(&server);
    let config = api.get("/1.0").await;
    assert!(
        config.metadata()["config"]
            .get("core.trust_password")
            .is_none()
    );
    let set = api
        .patch("/1.0", json!({"config": {"core.trust_password": "x"}}))
        .await;
    assert_eq!(set.status, StatusCode::BAD_REQUEST);
}
