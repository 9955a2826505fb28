//! Instance snapshots: `/1.0/instances/<name>/snapshots`.

use crate::Devices;
use crate::util::{is_false, nullable};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Go's zero `time.Time` as LXD writes it: an `expires_at` with this value never expires,
/// a `last_used_at` with it was never used.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// A snapshot of an instance (`GET /1.0/instances/<name>/snapshots/<snapshot>`).
///
/// ```
/// use lxd_proto::InstanceSnapshot;
///
/// let snapshot: InstanceSnapshot = serde_json::from_str(r#"{"name": "snap0",
///     "architecture": "x86_64", "config": {"image.os": "busybox"}, "devices": {},
///     "ephemeral": false, "profiles": ["default"], "stateful": false, "size": -1,
///     "created_at": "2026-11-27T01:53:29Z", "expires_at": "0001-01-01T00:00:00Z",
///     "last_used_at": "0001-01-01T00:00:00Z"}"#).unwrap();
/// assert_eq!(snapshot.name, "snap0");
/// assert!(!snapshot.expires());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct InstanceSnapshot {
    /// Architecture.
    pub architecture: String,
    /// The instance's local configuration when the snapshot was taken.
    #[serde(deserialize_with = "nullable")]
    pub config: BTreeMap<String, String>,
    /// Creation time (RFC 3339).
    pub created_at: String,
    /// The instance's local devices when the snapshot was taken.
    #[serde(deserialize_with = "nullable")]
    pub devices: Devices,
    /// Whether the instance was ephemeral.
    pub ephemeral: bool,
    /// Configuration with profiles applied (not written when empty).
    #[serde(
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub expanded_config: BTreeMap<String, String>,
    /// Devices with profiles applied (not written when empty).
    #[serde(
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub expanded_devices: Devices,
    /// When LXD deletes the snapshot by itself (RFC 3339; [`ZERO_TIME`] when it does not).
    pub expires_at: String,
    /// Last start time of the instance (RFC 3339).
    pub last_used_at: String,
    /// The snapshot's own name (without the instance's).
    pub name: String,
    /// Profiles, in order of application.
    #[serde(deserialize_with = "nullable")]
    pub profiles: Vec<String>,
    /// Whether the snapshot holds the running state.
    pub stateful: bool,
    /// Size on disk in bytes (-1 when the storage driver does not tell).
    pub size: i64,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl InstanceSnapshot {
    /// Whether the snapshot has an expiry date.
    ///
    /// ```
    /// use lxd_proto::InstanceSnapshot;
    ///
    /// let manual: InstanceSnapshot = serde_json::from_str(
    ///     r#"{"name": "snap0", "expires_at": "0001-01-01T00:00:00Z"}"#,
    /// ).unwrap();
    /// assert!(!manual.expires());
    ///
    /// // Taken by `snapshots.schedule` with `snapshots.expiry: 7d`.
    /// let scheduled: InstanceSnapshot = serde_json::from_str(
    ///     r#"{"name": "snap1", "expires_at": "2026-12-04T07:00:00Z"}"#,
    /// ).unwrap();
    /// assert!(scheduled.expires());
    /// ```
    pub fn expires(&self) -> bool {
        !self.expires_at.is_empty() && self.expires_at != ZERO_TIME
    }

    /// The writable part, for `PUT /1.0/instances/<name>/snapshots/<snapshot>`.
    ///
    /// Unknown fields are carried over (as for [`Instance::writable`](crate::Instance::writable))
    /// so a writable field added by a newer server is sent back rather than reset.
    ///
    /// ```
    /// use lxd_proto::{InstanceSnapshot, ZERO_TIME};
    ///
    /// let snapshot: InstanceSnapshot = serde_json::from_str(r#"{"name": "snap1",
    ///     "stateful": false, "expires_at": "2026-12-04T07:00:00Z"}"#).unwrap();
    /// // Keep the snapshot forever.
    /// let mut put = snapshot.writable();
    /// put.expires_at = ZERO_TIME.into();
    /// assert_eq!(
    ///     serde_json::to_string(&put).unwrap(),
    ///     r#"{"expires_at":"0001-01-01T00:00:00Z"}"#,
    /// );
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_snapshot_put)
    pub fn writable(&self) -> InstanceSnapshotPut {
        InstanceSnapshotPut {
            expires_at: self.expires_at.clone(),
            extra: self.extra.clone(),
        }
    }
}

/// `PUT /1.0/instances/<name>/snapshots/<snapshot>`: the writable part of a snapshot.
///
/// [`ZERO_TIME`] means "never expires". An empty `expires_at` is not sent, which LXD reads
/// as "leave the expiry as it is".
///
/// ```
/// use lxd_proto::InstanceSnapshotPut;
///
/// let put = InstanceSnapshotPut { expires_at: "2030-01-01T00:00:00Z".into(), ..Default::default() };
/// assert_eq!(serde_json::to_string(&put).unwrap(), r#"{"expires_at":"2030-01-01T00:00:00Z"}"#);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct InstanceSnapshotPut {
    /// When LXD deletes the snapshot by itself (RFC 3339; [`ZERO_TIME`]: never; empty: not
    /// sent, unchanged).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub expires_at: String,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `POST /1.0/instances/<name>/snapshots`: take a snapshot. Only what is set is sent.
///
/// ```
/// use lxd_proto::InstanceSnapshotsPost;
///
/// let request = InstanceSnapshotsPost { name: "before-upgrade".into(), ..Default::default() };
/// assert_eq!(serde_json::to_string(&request).unwrap(), r#"{"name":"before-upgrade"}"#);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct InstanceSnapshotsPost {
    /// Name (LXD picks `snap0`, `snap1`, ... when empty).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Also save the running state (needs CRIU for containers).
    #[serde(skip_serializing_if = "is_false")]
    pub stateful: bool,
    /// When LXD deletes the snapshot by itself (RFC 3339; API extension
    /// `snapshot_expiry_creation`). `None` applies the instance's `snapshots.expiry`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `POST /1.0/instances/<name>/snapshots/<snapshot>`: rename (or migrate) a snapshot. Only
/// what is set is sent.
///
/// ```
/// use lxd_proto::InstanceSnapshotPost;
///
/// let rename = InstanceSnapshotPost { name: "kept".into(), ..Default::default() };
/// assert_eq!(serde_json::to_string(&rename).unwrap(), r#"{"name":"kept"}"#);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct InstanceSnapshotPost {
    /// New name.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// A migration request rather than a rename.
    #[serde(skip_serializing_if = "is_false")]
    pub migration: bool,
    /// Push-mode migration target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<crate::InstancePostTarget>,
    /// Live migration.
    #[serde(skip_serializing_if = "is_false")]
    pub live: bool,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `GET /1.0/instances/<name>/snapshots/snap0` from LXD 5.0.2, byte for byte.
    const FIXTURE: &str = include_str!("../tests/fixtures/instance_snapshot.json");

    #[test]
    fn real_snapshot_round_trips() {
        let value: Value = serde_json::from_str(FIXTURE).unwrap();
        let snapshot: InstanceSnapshot = serde_json::from_value(value["metadata"].clone()).unwrap();
        assert_eq!(snapshot.name, "snap0");
        assert_eq!(snapshot.architecture, "x86_64");
        assert_eq!(snapshot.profiles, ["default"]);
        assert_eq!(snapshot.expanded_devices["root"]["type"], "disk");
        assert_eq!(snapshot.expires_at, ZERO_TIME);
        assert!(!snapshot.expires());
        assert!(snapshot.extra.is_empty(), "{:?}", snapshot.extra);
        assert_eq!(serde_json::to_value(&snapshot).unwrap(), value["metadata"]);
    }

    #[test]
    fn requests_send_only_what_is_set() {
        let post = InstanceSnapshotsPost {
            name: "s1".into(),
            stateful: true,
            expires_at: Some("2030-01-01T00:00:00Z".into()),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&post).unwrap(),
            json!({"name": "s1", "stateful": true, "expires_at": "2030-01-01T00:00:00Z"})
        );
        assert_eq!(
            serde_json::to_value(InstanceSnapshotsPost::default()).unwrap(),
            json!({})
        );
        let expiring = InstanceSnapshot {
            expires_at: "2030-01-01T00:00:00Z".into(),
            ..Default::default()
        };
        assert!(expiring.expires());
        assert_eq!(
            serde_json::to_value(expiring.writable()).unwrap(),
            json!({"expires_at": "2030-01-01T00:00:00Z"})
        );
    }
}
