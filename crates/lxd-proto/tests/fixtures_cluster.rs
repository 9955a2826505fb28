//! Decodes the cluster fixtures captured from a real 3-member LXD 5.0.2 cluster (raw bytes as
//! it sent them), checks meaningful fields, and re-encodes them: the result must equal the
//! original JSON exactly, unknown fields included.

use lxd_proto::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
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

/// Round-trips a reply envelope and its metadata as `T`.
fn metadata<T: DeserializeOwned + Serialize + Debug>(name: &str) -> T {
    let response: Response = round_trip(&raw(name));
    assert_eq!(response.status_code, StatusCode::SUCCESS);
    round_trip(&response.metadata)
}

#[test]
fn cluster() {
    let cluster: Cluster = metadata("cluster.json");
    assert!(cluster.enabled);
    assert_eq!(cluster.server_name, "node3");
    let key = &cluster.member_config[0];
    assert_eq!(
        (key.entity.as_str(), key.name.as_str(), key.key.as_str()),
        ("storage-pool", "local", "source")
    );
    assert!(key.value.is_empty());
    assert!(key.description.contains("local"));
}

#[test]
fn cluster_member() {
    let member: ClusterMember = metadata("cluster_member.json");
    assert_eq!(member.server_name, "node4");
    assert_eq!(member.url, "https://127.0.0.4:8443");
    assert_eq!(member.address(), "127.0.0.4:8443");
    assert_eq!(member.status, ClusterMemberStatus::Online);
    assert!(member.status.is_known());
    assert!(member.database);
    assert_eq!(member.roles, ["database"]);
    assert_eq!(member.groups, ["default"]);
    assert_eq!(member.failure_domain, "default");
    assert_eq!(member.message, "Fully operational");
    assert!(member.extra.is_empty(), "{:?}", member.extra);
    // The writable part carries what PUT takes and nothing read-only.
    let put = serde_json::to_value(member.writable()).unwrap();
    let mut keys: Vec<_> = put.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["config", "description", "failure_domain", "groups", "roles"]
    );
}

#[test]
fn cluster_members() {
    let members: Vec<ClusterMember> = metadata("cluster_members.json");
    let names: Vec<_> = members.iter().map(|m| m.server_name.as_str()).collect();
    assert_eq!(names, ["node3", "node4", "node5"]);
    assert!(members[0].roles.iter().any(|r| r == "database-leader"));
    assert!(
        members
            .iter()
            .all(|m| m.status == ClusterMemberStatus::Online)
    );
}

#[test]
fn cluster_group() {
    let group: ClusterGroup = metadata("cluster_group.json");
    assert_eq!(group.name, "default");
    assert_eq!(group.description, "Default cluster group");
    assert_eq!(group.members, ["node3", "node4", "node5"]);
    assert!(group.used_by.is_empty());
}

#[test]
fn cluster_join_token_operation() {
    // The async reply to `POST /1.0/cluster/members`: a running `token` operation whose
    // resources hold `{"cluster": null}` (which must decode) and whose metadata is the token.
    let response: Response = round_trip(&raw("cluster_join_token_operation.json"));
    assert!(response.is_async());
    let operation: Operation = serde_json::from_value(response.metadata.clone()).unwrap();
    assert_eq!(operation.class, OperationClass::Token);
    assert_eq!(operation.status_code, StatusCode::RUNNING);
    assert!(operation.may_cancel);
    assert_eq!(operation.location, "node3");
    assert_eq!(operation.resources_of("cluster"), &[] as &[String]);
    // Everything but the null list round-trips.
    let mut encoded = serde_json::to_value(&operation).unwrap();
    encoded["resources"]["cluster"] = Value::Null;
    assert_eq!(encoded, response.metadata);

    let token = ClusterMemberJoinToken::from_operation(&operation).unwrap();
    assert_eq!(token.server_name, "fixture-never");
    assert_eq!(
        token.addresses,
        ["127.0.0.3:8443", "127.0.0.4:8443", "127.0.0.5:8443"]
    );
    assert_eq!(token.fingerprint.len(), 64);
    assert_eq!(token.secret.len(), 64);
    assert!(token.expires_at.starts_with("2026-11-27T07:19:03"));
    assert!(!format!("{token:?}").contains(&token.secret));
    // Encoded like `lxc cluster add` prints it, and back.
    let decoded = ClusterMemberJoinToken::decode(&token.encode()).unwrap();
    assert_eq!(decoded, token);
    // Not a certificate add token.
    assert_eq!(CertificateAddToken::from_operation(&operation), None);
}

#[test]
fn join_token_as_lxc_prints_it() {
    // `lxc cluster list-tokens` on the same cluster (a token since revoked).
    let printed = "eyJzZXJ2ZXJfbmFtZSI6ImZpeHR1cmUtbmV2ZXIiLCJmaW5nZXJwcmludCI6ImYzNTAxMTdmNzRjYzk2Y2Q1YTViYTJmY2JiMmUyZTI0ZGFiYzE1MjJiYzhhZTgzMDFmY2YxZWM5ODczMjI2MDkiLCJhZGRyZXNzZXMiOlsiMTI3LjAuMC4zOjg0NDMiLCIxMjcuMC4wLjQ6ODQ0MyIsIjEyNy4wLjAuNTo4NDQzIl0sInNlY3JldCI6IjE1OGYzNjNkODZlNTgwODMyNGE5MzJiNzYzNTM5YzZhYzBkYzk4ZWY1YzFlM2RmYjM3OWI0NDY2OTE0MzkzNWUiLCJleHBpcmVzX2F0IjoiMjAyNi0xMS0yN1QwNzoxODo1NC42NjcyNzM3MTZaIn0=";
    let token = ClusterMemberJoinToken::decode(printed).unwrap();
    assert_eq!(token.server_name, "fixture-never");
    assert_eq!(
        token.fingerprint,
        "f350117f74cc96cd5a5ba2fcbb2e2e24dabc1522bc8ae8301fcf1ec987322609"
    );
    assert_eq!(token.addresses.len(), 3);
    assert_eq!(token.expires_at, "2026-11-27T07:18:54.667273716Z");
    assert!(token.extra.is_empty());
    // Our encoding is byte for byte what lxc printed.
    assert_eq!(token.encode(), printed);
}

#[test]
fn cluster_member_evacuated() {
    // `lxc cluster evacuate node5`, then `GET /1.0/cluster/members/node5`.
    let member: ClusterMember = metadata("cluster_member_evacuated.json");
    assert_eq!(member.server_name, "node5");
    assert_eq!(member.status, ClusterMemberStatus::Evacuated);
    assert_eq!(member.message, "Unavailable due to maintenance");
}

#[test]
fn cluster_member_state_as_newer_servers_send_it() {
    // LXD 5.0.2 lacks `cluster_member_state`; the shape of `shared/api/cluster_state.go`.
    let state: ClusterMemberState = round_trip(&serde_json::json!({
        "sysinfo": {"uptime": 3600, "load_averages": [0.5, 0.25, 0.125],
            "total_ram": 8589934592u64, "free_ram": 4294967296u64, "shared_ram": 0,
            "buffered_ram": 0, "total_swap": 0, "free_swap": 0, "processes": 120,
            "logical_cpus": 2},
        "storage_pools": {"local": {"space": {"used": 1024, "total": 107374182400u64},
            "inodes": {"used": 10, "total": 6553600}}}
    }));
    assert_eq!(state.sysinfo.logical_cpus, 2);
    assert_eq!(state.sysinfo.load_averages, [0.5, 0.25, 0.125]);
    assert_eq!(state.storage_pools["local"].space.total, 107_374_182_400);
}
