//! The testkit's objects have the shape of the real LXD 5.0.2's: every fixture captured from
//! a real daemon (`crates/lxd-proto/tests/fixtures`) is compared, field names and JSON types,
//! with what the testkit answers for the same kind of object. Free-form maps (`config`,
//! `devices`, ...) are compared as maps, not key by key.

mod support;

use std::collections::BTreeSet;
use std::path::PathBuf;

use lxd_testkit::{ClientCertificate, TestServer};
use lxd_transport::http::Method;
use serde_json::{Value, json};
use support::Api;

/// Keys whose values are maps of arbitrary keys.
const FREE_FORM: &[&str] = &[
    "config",
    "devices",
    "expanded_config",
    "expanded_devices",
    "properties",
    "kernel_features",
    "lxc_features",
    "context",
    "resources",
    "metadata",
    "disk",
    "fds",
    "environment",
    "storage_pools",
];

fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../lxd-proto/tests/fixtures")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// The metadata of an envelope fixture, or the fixture itself.
fn fixture_metadata(name: &str) -> Value {
    let value = fixture(name);
    match value.get("type").and_then(Value::as_str) {
        Some("sync" | "async") => value["metadata"].clone(),
        _ => value,
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Differences between two JSON shapes, as readable lines.
fn compare(real: &Value, ours: &Value, path: &str, free_form: bool, out: &mut Vec<String>) {
    match (real, ours) {
        (Value::Object(a), Value::Object(b)) => {
            if free_form {
                return;
            }
            let ka: BTreeSet<&String> = a.keys().collect();
            let kb: BTreeSet<&String> = b.keys().collect();
            for missing in ka.difference(&kb) {
                out.push(format!("{path}.{missing}: missing"));
            }
            for extra in kb.difference(&ka) {
                out.push(format!("{path}.{extra}: not in LXD's"));
            }
            for key in ka.intersection(&kb) {
                compare(
                    &a[*key],
                    &b[*key],
                    &format!("{path}.{key}"),
                    FREE_FORM.contains(&key.as_str()),
                    out,
                );
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            if let (Some(x), Some(y)) = (a.first(), b.first()) {
                compare(x, y, &format!("{path}[0]"), false, out);
            }
        }
        // LXD sends null for an empty Go slice or map; an empty one is as good.
        (Value::Null, Value::Array(_) | Value::Object(_))
        | (Value::Array(_) | Value::Object(_), Value::Null) => {}
        (a, b) if kind(a) != kind(b) => out.push(format!(
            "{path}: LXD sends {}, the testkit {}",
            kind(a),
            kind(b)
        )),
        _ => {}
    }
}

fn assert_same_shape(fixture_name: &str, ours: &Value) {
    compare_with(fixture_name, &fixture_metadata(fixture_name), ours);
}

/// Compares a whole envelope, not only its metadata.
fn assert_same_envelope(fixture_name: &str, ours: &Value) {
    compare_with(fixture_name, &fixture(fixture_name), ours);
}

fn compare_with(fixture_name: &str, real: &Value, ours: &Value) {
    let mut out = Vec::new();
    compare(real, ours, "", false, &mut out);
    assert!(
        out.is_empty(),
        "{fixture_name} vs the testkit:\n  {}\nours: {ours:#}",
        out.join("\n  ")
    );
}

#[tokio::test]
async fn objects_have_lxds_shape() {
    let server = TestServer::builder()
        .https()
        .warning("Test warning", "seeded")
        .start()
        .await
        .unwrap();
    let api = Api::unix(&server);

    assert_same_shape("server_trusted.json", api.get("/1.0").await.metadata());
    let untrusted = Api::https(&server, None);
    assert_same_shape(
        "server_untrusted.json",
        untrusted.get("/1.0").await.metadata(),
    );

    api.launch("c1").await;
    api.run(
        Method::POST,
        "/1.0/instances/c1/snapshots",
        Some(json!({"name": "s0"})),
    )
    .await;
    assert_same_shape(
        "instance.json",
        api.get("/1.0/instances/c1").await.metadata(),
    );
    assert_same_shape(
        "instance_full.json",
        api.get("/1.0/instances/c1?recursion=1").await.metadata(),
    );
    assert_same_shape(
        "instance_state.json",
        api.get("/1.0/instances/c1/state").await.metadata(),
    );
    assert_same_shape(
        "instance_snapshot.json",
        api.get("/1.0/instances/c1/snapshots/s0").await.metadata(),
    );
    let create = api
        .post(
            "/1.0/instances",
            json!({"name": "c2", "source": {"type": "none"}}),
        )
        .await;
    assert_same_envelope("response_async.json", &create.json);
    let done = api.wait(&create).await;
    assert_same_shape("operation_success.json", &done);
    assert_same_shape(
        "instance_state_stopped.json",
        api.get("/1.0/instances/c2/state").await.metadata(),
    );

    assert_same_envelope(
        "response_error.json",
        &api.get("/1.0/instances/nope").await.json,
    );
    assert_same_envelope("response_sync.json", &api.get("/").await.json);

    assert_same_shape(
        "project.json",
        api.get("/1.0/projects/default").await.metadata(),
    );
    assert_same_shape(
        "project_state.json",
        api.get("/1.0/projects/default/state").await.metadata(),
    );
    assert_same_shape(
        "profile.json",
        api.get("/1.0/profiles/default").await.metadata(),
    );
    assert_same_shape("image_published.json", api_image(&api).await.metadata());

    api.post(
        "/1.0/networks",
        json!({"name": "br0", "config": {"ipv4.address": "none", "ipv6.address": "none"}}),
    )
    .await;
    assert_same_shape(
        "network.json",
        api.get("/1.0/networks/br0").await.metadata(),
    );
    assert_same_shape(
        "network_unmanaged.json",
        api.get("/1.0/networks/eth0").await.metadata(),
    );
    assert_same_shape(
        "network_state.json",
        api.get("/1.0/networks/br0/state").await.metadata(),
    );
    assert_same_shape(
        "network_leases.json",
        api.get("/1.0/networks/br0/leases").await.metadata(),
    );

    assert_same_shape(
        "storage_pool.json",
        api.get("/1.0/storage-pools/default").await.metadata(),
    );
    assert_same_shape(
        "storage_pool_resources.json",
        api.get("/1.0/storage-pools/default/resources")
            .await
            .metadata(),
    );
    api.post(
        "/1.0/storage-pools/default/volumes/custom",
        json!({"name": "v1", "config": {"user.purpose": "x"}}),
    )
    .await;
    api.run(
        Method::POST,
        "/1.0/storage-pools/default/volumes/custom/v1/snapshots",
        Some(json!({"name": "vs0"})),
    )
    .await;
    assert_same_shape(
        "storage_volume.json",
        api.get("/1.0/storage-pools/default/volumes/custom/v1")
            .await
            .metadata(),
    );
    assert_same_shape(
        "storage_volume_snapshot.json",
        api.get("/1.0/storage-pools/default/volumes/custom/v1/snapshots/vs0")
            .await
            .metadata(),
    );
    let warnings = api.get("/1.0/warnings?recursion=1").await;
    assert_same_shape("warning.json", &warnings.metadata()[0]);
    assert_same_shape("resources.json", api.get("/1.0/resources").await.metadata());

    let cert = ClientCertificate::generate("robot").unwrap();
    server
        .trust_certificate("robot", &cert.certificate_pem)
        .unwrap();
    assert_same_shape(
        "certificate.json",
        api.get(&format!("/1.0/certificates/{}", cert.fingerprint))
            .await
            .metadata(),
    );
    let token = api
        .post("/1.0/certificates", json!({"token": true, "name": "t"}))
        .await;
    let token_op = api.get(token.json["operation"].as_str().unwrap()).await;
    assert_same_shape("certificate_token_operation.json", token_op.metadata());
}

/// The busybox image, fetched on its own.
async fn api_image(api: &Api) -> support::Reply {
    let list = api.get("/1.0/images").await;
    let url = list.metadata()[0].as_str().unwrap().to_string();
    api.get(&url).await
}

#[tokio::test]
async fn events_have_lxds_shape() {
    let server = TestServer::start().await.unwrap();
    let api = Api::unix(&server);
    api.launch("c1").await;
    api.run(
        Method::POST,
        "/1.0/instances/c1/exec",
        Some(json!({"command": ["true"]})),
    )
    .await;
    api.run(
        Method::PUT,
        "/1.0/instances/c1/state",
        Some(json!({"action": "stop", "force": true})),
    )
    .await;
    api.run(Method::DELETE, "/1.0/instances/c1", None).await;
    let events: Vec<Value> = server
        .events()
        .iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .collect();
    let find = |event_type: &str, action: Option<&str>| -> Value {
        events
            .iter()
            .find(|e| {
                e["type"] == event_type && action.is_none_or(|a| e["metadata"]["action"] == a)
            })
            .cloned()
            .unwrap_or_else(|| panic!("no {event_type} {action:?} event"))
    };
    assert_same_shape(
        "event_lifecycle_instance_created.json",
        &find("lifecycle", Some("instance-created")),
    );
    assert_same_shape(
        "event_lifecycle_instance_started.json",
        &find("lifecycle", Some("instance-started")),
    );
    assert_same_shape(
        "event_lifecycle_instance_stopped.json",
        &find("lifecycle", Some("instance-stopped")),
    );
    assert_same_shape(
        "event_lifecycle_instance_exec.json",
        &find("lifecycle", Some("instance-exec")),
    );
    assert_same_shape(
        "event_lifecycle_instance_deleted.json",
        &find("lifecycle", Some("instance-deleted")),
    );
    assert_same_shape("event_operation.json", &find("operation", None));
    assert_same_shape("event_logging.json", &find("logging", None));
}
