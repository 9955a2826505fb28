//! Networks, ACLs, profiles, storage, warnings, resources and project state: fixtures captured
//! from a real LXD 5.0.2 daemon (raw bytes as it sent them), decoded, checked, and re-encoded
//! to exactly the original JSON.

use lxd_proto::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::fmt::Debug;

fn raw(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).unwrap_or_else(|err| panic!("{path}: {err}"));
    serde_json::from_slice(&bytes).unwrap_or_else(|err| panic!("{path}: {err}"))
}

fn round_trip<T: DeserializeOwned + Serialize + Debug>(value: &Value) -> T {
    let decoded: T = serde_json::from_value(value.clone()).expect("decodes");
    let encoded = serde_json::to_value(&decoded).expect("encodes");
    assert_eq!(
        &encoded, value,
        "round trip changed the JSON of {decoded:?}"
    );
    decoded
}

/// The metadata of an envelope fixture, round-tripped as `T`.
fn metadata<T: DeserializeOwned + Serialize + Debug>(name: &str) -> T {
    let response: Response = round_trip(&raw(name));
    round_trip(&response.metadata)
}

#[test]
fn network() {
    let network: Network = metadata("network.json");
    assert_eq!(network.name, "fx-net0");
    assert_eq!(network.network_type, NetworkType::Bridge);
    assert!(network.managed);
    assert_eq!(network.status, NetworkStatus::Created);
    assert_eq!(network.locations, ["none"]);
    assert_eq!(network.config["security.acls"], "fx-acl");
    assert_eq!(network.used_by, ["/1.0/profiles/fx-prof"]);
    assert!(network.extra.is_empty(), "{:?}", network.extra);
    let put: NetworkPut = round_trip(&serde_json::to_value(network.writable()).unwrap());
    assert_eq!(put.description, "fixture bridge");
}

#[test]
fn unmanaged_network_with_nulls() {
    // An unmanaged host interface: `used_by` and `locations` are null, `status` empty.
    let response: Response = round_trip(&raw("network_unmanaged.json"));
    let network: Network = serde_json::from_value(response.metadata).unwrap();
    assert!(!network.managed);
    assert_eq!(network.network_type, NetworkType::Physical);
    assert!(network.used_by.is_empty() && network.locations.is_empty());
    assert_eq!(network.status, NetworkStatus::Other(String::new()));
}

#[test]
fn network_state() {
    let state: NetworkState = metadata("network_state.json");
    assert_eq!(state.state, "up");
    assert_eq!(state.interface_type, "broadcast");
    assert_eq!(state.mtu, 1500);
    assert_eq!(state.hwaddr.len(), 17);
    let bridge = state.bridge.as_ref().expect("a bridge");
    assert_eq!(bridge.forward_delay, 1500);
    assert!(state.bond.is_none() && state.vlan.is_none() && state.ovn.is_none());
    assert!(state.addresses.is_empty());
}

#[test]
fn network_leases() {
    let leases: Vec<NetworkLease> = metadata("network_leases.json");
    assert!(leases.is_empty());
    // The shape LXD documents, for a network that has leases.
    let lease: NetworkLease = round_trip(&json!({"hostname": "c1",
        "hwaddr": "00:16:3e:2c:89:d9", "address": "10.0.0.98", "type": "dynamic",
        "location": "none"}));
    assert_eq!(lease.address, "10.0.0.98");
}

#[test]
fn network_acl() {
    let acl: NetworkAcl = metadata("network_acl.json");
    assert_eq!(acl.name, "fx-acl");
    assert_eq!(acl.used_by, ["/1.0/networks/fx-net0"]);
    assert_eq!(acl.ingress[0].action, NetworkAclRuleAction::Allow);
    assert_eq!(acl.ingress[0].destination_port, "22");
    assert_eq!(acl.ingress[0].description, "ssh");
    assert_eq!(acl.egress[0].action, NetworkAclRuleAction::Reject);
    assert_eq!(acl.egress[0].state, NetworkAclRuleState::Logged);
    assert_eq!(acl.config["user.k"], "v");
    let put: NetworkAclPut = round_trip(&serde_json::to_value(acl.writable()).unwrap());
    assert_eq!(put.ingress, acl.ingress);
}

#[test]
fn network_forward_shape() {
    // LXD 5.0.2 cannot create forwards on bridges without addresses (the only bridges tests
    // may make here), so the documented shape stands in for a captured one.
    let forward: NetworkForward = round_trip(&json!({"listen_address": "192.0.2.1",
        "description": "web", "config": {"target_address": "10.0.0.2"},
        "ports": [{"description": "", "protocol": "tcp", "listen_port": "80,443",
                   "target_port": "8080", "target_address": "10.0.0.3"}],
        "location": "none"}));
    assert_eq!(forward.ports[0].listen_port, "80,443");
    let _: NetworkForwardPut = round_trip(&serde_json::to_value(forward.writable()).unwrap());
}

#[test]
fn profile() {
    let profile: Profile = metadata("profile.json");
    assert_eq!(profile.name, "fx-prof");
    assert_eq!(profile.description, "fixture profile");
    assert_eq!(profile.config["limits.cpu"], "1");
    assert_eq!(profile.devices["eth0"]["network"], "fx-net0");
    assert_eq!(profile.devices["data"]["source"], "fx-vol");
    assert!(profile.used_by.is_empty());
    assert!(profile.extra.is_empty(), "{:?}", profile.extra);
    let put: ProfilePut = round_trip(&serde_json::to_value(profile.writable()).unwrap());
    assert_eq!(put.devices, profile.devices);
}

#[test]
fn storage_pool() {
    let pool: StoragePool = metadata("storage_pool.json");
    assert_eq!(pool.name, "fx-pool");
    assert_eq!(pool.driver, "dir");
    assert_eq!(pool.status, StoragePoolStatus::Created);
    assert!(pool.config["source"].ends_with("/storage-pools/fx-pool"));
    assert_eq!(pool.used_by.len(), 3);
    assert!(pool.extra.is_empty(), "{:?}", pool.extra);
    let _: StoragePoolPut = round_trip(&serde_json::to_value(pool.writable()).unwrap());
}

#[test]
fn storage_pool_resources() {
    let usage: ResourcesStoragePool = metadata("storage_pool_resources.json");
    assert!(usage.space.total > 0 && usage.space.used <= usage.space.total);
    assert!(usage.inodes.total > 0);
}

#[test]
fn storage_volume() {
    let volume: StorageVolume = metadata("storage_volume.json");
    assert_eq!(volume.name, "fx-vol");
    assert_eq!(volume.volume_type, StorageVolumeType::Custom);
    assert_eq!(volume.content_type, StorageVolumeContentType::Filesystem);
    assert_eq!(volume.description, "fixture volume");
    assert_eq!(volume.config["user.purpose"], "fixture");
    assert_eq!(volume.project, "default");
    assert_eq!(volume.location, "none");
    assert_eq!(volume.used_by, ["/1.0/profiles/fx-prof"]);
    assert!(volume.extra.is_empty(), "{:?}", volume.extra);
    let put: StorageVolumePut = round_trip(&serde_json::to_value(volume.writable()).unwrap());
    assert_eq!(put.restore, None);
}

#[test]
fn storage_volume_snapshot() {
    let snapshot: StorageVolumeSnapshot = metadata("storage_volume_snapshot.json");
    assert_eq!(snapshot.name, "fx-snap");
    assert_eq!(snapshot.config["user.purpose"], "fixture");
    assert!(!snapshot.expires(), "zero time means no expiry");
    assert!(snapshot.extra.is_empty(), "{:?}", snapshot.extra);
    let _: StorageVolumeSnapshotPut =
        round_trip(&serde_json::to_value(snapshot.writable()).unwrap());
}

#[test]
fn warning() {
    let warning: Warning = metadata("warning.json");
    assert_eq!(warning.status, WarningStatus::New);
    assert_eq!(warning.severity, WarningSeverity::Low);
    assert_eq!(warning.uuid.len(), 36);
    assert!(warning.count > 0);
    assert!(warning.project.is_empty(), "a server-wide warning");
    assert!(warning.extra.is_empty(), "{:?}", warning.extra);
}

#[test]
fn resources() {
    let resources: Resources = metadata("resources.json");
    assert_eq!(resources.cpu.architecture, "x86_64");
    assert!(resources.cpu.total >= 1);
    assert!(resources.memory.total > resources.memory.used);
    assert_eq!(
        resources.storage.total as usize,
        resources.storage.disks.len()
    );
    assert_eq!(resources.system.system_type, "container");
    assert_eq!(resources.system.firmware, None);
    assert!(resources.extra.is_empty(), "{:?}", resources.extra);
}

#[test]
fn project_state() {
    let state: ProjectState = metadata("project_state.json");
    assert!(state.resources["instances"].is_unlimited());
    assert_eq!(
        state.resources["instances"].usage,
        state.resources["containers"].usage + state.resources["virtual-machines"].usage
    );
}
