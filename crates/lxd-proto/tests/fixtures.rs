//! Decodes every fixture captured from a real LXD 5.0.2 daemon (raw bytes as it sent them),
//! checks meaningful fields, and re-encodes it: the result must equal the original JSON
//! exactly, unknown fields included.

use lxd_proto::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::fmt::Debug;

/// The raw JSON of `tests/fixtures/<name>`.
fn raw(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).unwrap_or_else(|err| panic!("{path}: {err}"));
    serde_json::from_slice(&bytes).unwrap_or_else(|err| panic!("{path}: {err}"))
}

/// Decodes `value` as `T` and asserts that encoding it gives `value` back.
fn round_trip<T: DeserializeOwned + Serialize + Debug>(value: &Value) -> T {
    let decoded: T = serde_json::from_value(value.clone()).expect("decodes");
    let encoded = serde_json::to_value(&decoded).expect("encodes");
    assert_eq!(
        &encoded, value,
        "round trip changed the JSON of {decoded:?}"
    );
    decoded
}

/// Decodes a fixture holding a reply envelope; round-trips both the envelope and its metadata
/// as `T`.
fn envelope<T: DeserializeOwned + Serialize + Debug>(name: &str) -> (Response, T) {
    let response: Response = round_trip(&raw(name));
    let metadata: T = round_trip(&response.metadata);
    (response, metadata)
}

/// Decodes a fixture holding one event frame.
fn event(name: &str) -> Event {
    round_trip(&raw(name))
}

#[test]
fn server_trusted() {
    let (response, server): (_, Server) = envelope("server_trusted.json");
    assert_eq!(response.response_type, ResponseType::Sync);
    assert_eq!(response.status_code, StatusCode::SUCCESS);
    assert!(server.is_trusted());
    assert_eq!(server.auth, "trusted");
    assert!(server.has_api_extension("etag"));
    assert!(server.has_api_extension("instances"));
    assert!(!server.has_api_extension("no_such_extension"));
    assert_eq!(server.api_status, ApiStatus::Stable);
    assert_eq!(server.api_version, "1.0");
    assert_eq!(server.auth_methods, [AuthMethod::Tls]);
    assert_eq!(server.config["core.https_address"], "127.0.0.1:8443");

    let env = &server.environment;
    assert_eq!(env.server, "lxd");
    assert_eq!(env.server_version, "5.0.2");
    assert_eq!(env.driver, "lxc");
    assert_eq!(env.project, "default");
    assert_eq!(env.storage, "dir");
    assert!(env.server_pid > 0);
    assert!(!env.server_clustered);
    assert_eq!(env.certificate_fingerprint.len(), 64);
    assert!(env.certificate.starts_with("-----BEGIN CERTIFICATE-----"));
    assert_eq!(env.kernel_features["seccomp_listener"], "true");
    assert_eq!(env.lxc_features["cgroup2"], "true");
    assert_eq!(env.storage_supported_drivers[0].name, "dir");
    assert!(!env.storage_supported_drivers[0].remote);
    // Everything LXD 5.0.2 sends is modelled.
    assert!(server.extra.is_empty(), "{:?}", server.extra);
    assert!(env.extra.is_empty(), "{:?}", env.extra);

    let put = server.to_put();
    assert_eq!(put.config, server.config);
}

#[test]
fn server_untrusted() {
    let (_, server): (_, Server) = envelope("server_untrusted.json");
    assert!(!server.is_trusted());
    assert_eq!(server.auth, "untrusted");
    assert!(server.has_api_extension("etag"));
    assert!(server.environment.is_empty());
    assert!(server.config.is_empty());
}

#[test]
fn response_sync() {
    let (response, urls): (_, Vec<String>) = envelope("response_sync.json");
    assert!(!response.is_error() && !response.is_async());
    assert_eq!(response.status, "Success");
    assert_eq!(urls, ["/1.0/instances/c1"]);
}

#[test]
fn response_async() {
    let (response, operation): (_, Operation) = envelope("response_async.json");
    assert!(response.is_async());
    assert_eq!(response.status_code, StatusCode::OPERATION_CREATED);
    assert_eq!(response.status, "Operation created");
    assert_eq!(
        response.operation,
        format!("/1.0/operations/{}", operation.id)
    );
    assert_eq!(response.operation_id(), Some(operation.id.clone()));
    assert_eq!(operation.class, OperationClass::Task);
    assert_eq!(operation.description, "Creating instance");
    assert_eq!(operation.status_code, StatusCode::RUNNING);
    assert_eq!(
        operation.resources_of("instances"),
        ["/1.0/instances/fx-c2"]
    );
    assert_eq!(operation.metadata, None);
    assert_eq!(operation.progress(), None);
}

#[test]
fn response_error() {
    let (response, metadata): (_, Value) = envelope("response_error.json");
    assert!(response.is_error());
    assert_eq!(response.error_code, 404);
    assert_eq!(response.error, "Instance not found");
    // Error envelopes carry no status at all.
    assert_eq!(response.status_code, StatusCode(0));
    assert_eq!(response.status, "");
    assert_eq!(metadata, Value::Null);
}

#[test]
fn operation_running() {
    let (_, operation): (_, Operation) = envelope("operation_running.json");
    assert_eq!(operation.class, OperationClass::Websocket);
    assert_eq!(operation.description, "Executing command");
    assert!(!operation.is_final());
    let secrets = operation.websocket_secrets().expect("exec has fds");
    assert_eq!(
        secrets.keys().map(String::as_str).collect::<Vec<_>>(),
        ["0", "1", "2", "control"]
    );
    // The secrets never show up in Debug output.
    let debug = format!("{operation:?}");
    for secret in secrets.values() {
        assert!(!debug.contains(secret.as_str()), "{debug}");
    }
}

#[test]
fn operation_success() {
    let (_, operation): (_, Operation) = envelope("operation_success.json");
    assert!(operation.is_final() && operation.is_success());
    assert_eq!(operation.status, "Success");
    assert_eq!(operation.err, "");
    let progress = operation.progress().expect("unpack progress");
    assert_eq!(progress.stage, "create_instance_from_image_unpack");
    assert_eq!(progress.percent, Some(100));
    assert!(progress.text.starts_with("Unpack: 100%"), "{progress:?}");
    assert!(progress.speed.is_some());
}

#[test]
fn operation_failure() {
    let (_, operation): (_, Operation) = envelope("operation_failure.json");
    assert!(operation.is_final() && !operation.is_success());
    assert_eq!(operation.status_code, StatusCode::FAILURE);
    assert!(
        operation
            .err
            .starts_with("Failed getting remote image info"),
        "{}",
        operation.err
    );
}

#[test]
fn operation_cancelled() {
    let (_, operation): (_, Operation) = envelope("operation_cancelled.json");
    assert!(operation.is_final());
    assert_eq!(operation.status_code, StatusCode::CANCELLED);
    assert_eq!(operation.class, OperationClass::Token);
    assert_eq!(operation.resources, None);
}

#[test]
fn certificate_token_operation() {
    let (_, operation): (_, Operation) = envelope("certificate_token_operation.json");
    assert_eq!(operation.class, OperationClass::Token);
    assert!(operation.may_cancel);
    let token = CertificateAddToken::from_operation(&operation).expect("token metadata");
    assert_eq!(token.client_name, "fx-client2");
    assert_eq!(token.addresses, ["127.0.0.1:8443"]);
    assert_eq!(token.fingerprint.len(), 64);
    assert_eq!(token.secret.len(), 64);
    assert!(token.expires_at.starts_with("2026-"), "{token:?}");
    assert_eq!(CertificateAddToken::decode(&token.encode()).unwrap(), token);
    assert!(!format!("{token:?}").contains(&token.secret));
    assert!(!format!("{operation:?}").contains(&token.secret));
}

#[test]
fn certificate() {
    let (_, certificate): (_, Certificate) = envelope("certificate.json");
    assert_eq!(certificate.name, "fx-cert");
    assert_eq!(certificate.certificate_type, CertificateType::Client);
    assert!(certificate.restricted);
    assert_eq!(certificate.projects, ["fx-p1"]);
    assert_eq!(certificate.fingerprint.len(), 64);
    let put = certificate.writable();
    assert_eq!(put.name, "fx-cert");
    assert_eq!(put.certificate, certificate.certificate);
}

#[test]
fn instance() {
    let (_, instance): (_, Instance) = envelope("instance.json");
    assert_eq!(instance.name, "c1");
    assert_eq!(instance.instance_type, InstanceType::Container);
    assert!(instance.is_running());
    assert_eq!(instance.status, "Running");
    assert_eq!(instance.profiles, ["default"]);
    assert_eq!(instance.config["image.os"], "busybox");
    assert!(instance.devices.is_empty());
    assert_eq!(instance.expanded_devices["root"]["type"], "disk");
    assert_eq!(instance.location, "none");
    assert_eq!(instance.project, "default");
    assert!(instance.extra.is_empty(), "{:?}", instance.extra);

    let put = round_trip::<InstancePut>(&serde_json::to_value(instance.writable()).unwrap());
    assert_eq!(put.config, instance.config);
    assert_eq!(put.profiles, instance.profiles);
}

#[test]
fn instance_state_running() {
    let (_, state): (_, InstanceState) = envelope("instance_state.json");
    assert_eq!(state.status_code, StatusCode::RUNNING);
    assert!(state.pid > 0);
    assert!(state.processes > 0);
    assert!(state.cpu.usage > 0);
    assert!(state.memory.usage > 0);
    let network = state.network.as_ref().expect("running has network state");
    assert_eq!(network["lo"].network_type, "loopback");
    assert_eq!(network["lo"].mtu, 65536);
    assert_eq!(state.addresses().count(), 0);
}

#[test]
fn instance_state_stopped() {
    let (_, state): (_, InstanceState) = envelope("instance_state_stopped.json");
    assert_eq!(state.status_code, StatusCode::STOPPED);
    assert_eq!(state.pid, 0);
    // LXD sends `"network": null` for a stopped instance.
    assert_eq!(state.network, None);
    assert_eq!(state.disk, Some(Default::default()));
}

#[test]
fn project() {
    let (_, project): (_, Project) = envelope("project.json");
    assert_eq!(project.name, "fx-p1");
    assert_eq!(project.description, "fixture project");
    assert_eq!(project.config["features.images"], "false");
    assert_eq!(project.used_by, ["/1.0/profiles/default?project=fx-p1"]);
    let put = project.writable();
    assert_eq!(put.description, "fixture project");
}

#[test]
fn event_operation() {
    let event = event("event_operation.json");
    assert_eq!(event.event_type(), EventType::Operation);
    assert_eq!(event.project, "default");
    assert_eq!(event.location, "none");
    let EventPayload::Operation(operation) = &event.payload else {
        panic!("{event:?}")
    };
    assert_eq!(operation.description, "Creating instance");
    let progress = operation.progress().unwrap();
    assert_eq!(progress.percent, Some(42));
    assert_eq!(progress.speed, Some(69_569_352));
}

#[test]
fn event_logging() {
    let event = event("event_logging.json");
    assert_eq!(event.event_type(), EventType::Logging);
    // Logging events carry no project.
    assert_eq!(event.project, "");
    let EventPayload::Logging(log) = &event.payload else {
        panic!("{event:?}")
    };
    assert_eq!(log.message, "Creating instance");
    assert_eq!(log.level, "info");
    assert_eq!(log.context["instance"], "fx-c4");
}

fn lifecycle(name: &str, action: LifecycleAction) -> LifecycleEvent {
    let event = event(name);
    assert_eq!(event.event_type(), EventType::Lifecycle);
    let EventPayload::Lifecycle(lifecycle) = event.payload else {
        panic!("{name}: {:?}", event.payload)
    };
    assert_eq!(lifecycle.action, action, "{name}");
    assert!(lifecycle.extra.is_empty(), "{name}: {:?}", lifecycle.extra);
    lifecycle
}

#[test]
fn event_lifecycle_instances() {
    let created = lifecycle(
        "event_lifecycle_instance_created.json",
        LifecycleAction::InstanceCreated,
    );
    assert_eq!(created.source, "/1.0/instances/fx-c4");
    assert_eq!(created.resource_name().as_deref(), Some("fx-c4"));
    assert_eq!(created.context["type"], "container");
    assert_eq!(created.requestor, None);

    let started = lifecycle(
        "event_lifecycle_instance_started.json",
        LifecycleAction::InstanceStarted,
    );
    let requestor = started.requestor.expect("API request");
    assert_eq!(
        (
            requestor.username.as_str(),
            requestor.protocol.as_str(),
            requestor.address.as_str()
        ),
        ("root", "unix", "@")
    );

    lifecycle(
        "event_lifecycle_instance_stopped.json",
        LifecycleAction::InstanceStopped,
    );
    let deleted = lifecycle(
        "event_lifecycle_instance_deleted.json",
        LifecycleAction::InstanceDeleted,
    );
    assert!(deleted.context.is_empty());

    let exec = lifecycle(
        "event_lifecycle_instance_exec.json",
        LifecycleAction::InstanceExec,
    );
    // Lifecycle context values are not all strings.
    assert_eq!(exec.context["command"], json!(["true"]));
}

#[test]
fn event_lifecycle_project_renamed() {
    let renamed = lifecycle(
        "event_lifecycle_project_renamed.json",
        LifecycleAction::ProjectRenamed,
    );
    assert_eq!(renamed.context["old_name"], "fx-p2");
    assert_eq!(renamed.resource_name().as_deref(), Some("fx-p3"));
}

// ---- behaviour beyond the fixtures ----

#[test]
fn unknown_fields_are_kept_and_written_back() {
    let mut wire = raw("instance.json")["metadata"].clone();
    wire["future_field"] = json!({"nested": [1, 2, 3]});
    wire["expanded_devices"]["root"]["future_key"] = json!("x");
    let instance: Instance = round_trip(&wire);
    assert_eq!(instance.extra["future_field"], json!({"nested": [1, 2, 3]}));
    assert_eq!(instance.expanded_devices["root"]["future_key"], "x");
}

#[test]
fn unknown_enum_strings_become_other_and_round_trip() {
    let mut wire = raw("instance.json")["metadata"].clone();
    wire["type"] = json!("unikernel");
    let instance: Instance = round_trip(&wire);
    assert_eq!(
        instance.instance_type,
        InstanceType::Other("unikernel".into())
    );

    let mut wire = raw("response_async.json")["metadata"].clone();
    wire["class"] = json!("stream");
    let operation: Operation = round_trip(&wire);
    assert_eq!(operation.class, OperationClass::Other("stream".into()));
}

#[test]
fn unknown_event_type_is_kept() {
    let wire = json!({
        "type": "network-acl",
        "timestamp": "2026-11-27T01:30:35.887104372Z",
        "metadata": {"rule": "x"},
        "location": "none",
        "project": "default"
    });
    let event: Event = round_trip(&wire);
    assert_eq!(event.event_type(), EventType::Other("network-acl".into()));
    assert!(
        matches!(&event.payload, EventPayload::Other { metadata, .. } if metadata["rule"] == "x")
    );
}

#[test]
fn missing_fields_default() {
    let instance: Instance = serde_json::from_str(r#"{"name":"old"}"#).unwrap();
    assert_eq!(instance.instance_type, InstanceType::Container);
    assert!(instance.config.is_empty());
    let server: Server = serde_json::from_str("{}").unwrap();
    assert!(!server.is_trusted());
    let event: Event = serde_json::from_str(r#"{"type":"lifecycle","metadata":{}}"#).unwrap();
    assert!(matches!(event.payload, EventPayload::Lifecycle(_)));
}

#[test]
fn instances_post_minimal_wire_json() {
    let request = InstancesPost {
        name: "c1".into(),
        source: InstanceSource::image_alias("busybox"),
        ..Default::default()
    };
    assert_eq!(
        serde_json::to_value(&request).unwrap(),
        json!({"name": "c1", "source": {"type": "image", "alias": "busybox"}})
    );
    // LXD (and a test double) can read it back.
    let back: InstancesPost = round_trip(&serde_json::to_value(&request).unwrap());
    assert_eq!(back, request);
}

#[test]
fn certificates_post_debug_does_not_show_the_password() {
    let request = CertificatesPost {
        name: "ci".into(),
        password: Some("correct horse battery staple".into()),
        ..Default::default()
    };
    let debug = format!("{request:?}");
    assert!(!debug.contains("correct horse"), "{debug}");
    assert!(debug.contains("<redacted>"), "{debug}");
    assert_eq!(
        serde_json::to_value(&request).unwrap(),
        json!({"name": "ci", "type": "client", "password": "correct horse battery staple"})
    );
}

#[test]
fn status_code_helpers() {
    assert!(StatusCode::SUCCESS.is_final() && StatusCode::SUCCESS.is_success());
    assert!(StatusCode::FAILURE.is_final() && !StatusCode::FAILURE.is_success());
    assert!(StatusCode::CANCELLED.is_final());
    assert!(!StatusCode::RUNNING.is_final());
    assert_eq!(StatusCode::RUNNING.name(), Some("Running"));
    assert_eq!(StatusCode(0).name(), None);
}
