//! Storage volumes and their snapshots
//! (`/1.0/storage-pools/<pool>/volumes/<type>/<name>[/snapshots/<snapshot>]`).

use crate::string_enum::string_enum;
use crate::util::{REDACTED, is_false, nullable};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;

string_enum! {
    /// Type of a storage volume: the `<type>` segment of its URL.
    pub enum StorageVolumeType {
        /// A volume made by users, attachable to instances as a disk device.
        Custom = "custom",
        /// The root volume of a container.
        Container = "container",
        /// The root volume of a virtual machine.
        VirtualMachine = "virtual-machine",
        /// An unpacked image (drivers that keep images as volumes: btrfs, zfs, lvm, ceph).
        Image = "image",
    }
    default = Custom;
}

string_enum! {
    /// What a volume holds (`content_type`, API extension `custom_block_volumes`).
    pub enum StorageVolumeContentType {
        /// A file system.
        Filesystem = "filesystem",
        /// A raw block device.
        Block = "block",
        /// An ISO image (newer LXD).
        Iso = "iso",
    }
    default = Filesystem;
}

/// A storage volume (`GET /1.0/storage-pools/<pool>/volumes/<type>/<name>`).
///
/// ```
/// use lxd_proto::{StorageVolume, StorageVolumeType};
///
/// let volume: StorageVolume = serde_json::from_str(r#"{"name": "data", "type": "custom",
///     "description": "", "config": {"size": "10GiB"}, "used_by": [], "location": "none",
///     "content_type": "filesystem", "project": "default"}"#).unwrap();
/// assert_eq!(volume.volume_type, StorageVolumeType::Custom);
/// assert_eq!(volume.writable().config["size"], "10GiB");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StorageVolume {
    /// Configuration (`size`, `security.shifted`, `snapshots.*`, driver keys...).
    #[serde(deserialize_with = "nullable")]
    pub config: BTreeMap<String, String>,
    /// Description.
    pub description: String,
    /// Name (`<volume>/<snapshot>` for the snapshots a volume list includes).
    pub name: String,
    /// Custom, container, virtual-machine or image.
    #[serde(rename = "type")]
    pub volume_type: StorageVolumeType,
    /// URLs of the instances and profiles using the volume.
    #[serde(deserialize_with = "nullable")]
    pub used_by: Vec<String>,
    /// Cluster member the volume lives on (`none` when not clustered).
    pub location: String,
    /// Filesystem or block.
    pub content_type: StorageVolumeContentType,
    /// Project of the volume.
    pub project: String,
    /// Creation time (RFC 3339; LXD 5.0 sends the zero time `0001-01-01T00:00:00Z`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub created_at: String,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl StorageVolume {
    /// The writable part, for `PUT .../volumes/<type>/<name>`.
    ///
    /// Unknown fields are carried over so a writable field added by a newer server is not
    /// reset; LXD ignores read-only ones.
    ///
    /// ```
    /// use lxd_proto::StorageVolume;
    ///
    /// let volume: StorageVolume = serde_json::from_str(r#"{"name": "data", "type": "custom",
    ///     "config": {"size": "10GiB"}, "content_type": "filesystem"}"#).unwrap();
    /// // Grow the volume.
    /// let mut put = volume.writable();
    /// put.config.insert("size".into(), "50GiB".into());
    /// assert_eq!(put.restore, None);
    /// assert_eq!(
    ///     serde_json::to_string(&put).unwrap(),
    ///     r#"{"config":{"size":"50GiB"},"description":""}"#,
    /// );
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/storage/storage_pool_volume_type_put)
    pub fn writable(&self) -> StorageVolumePut {
        StorageVolumePut {
            config: self.config.clone(),
            description: self.description.clone(),
            restore: None,
            extra: self.extra.clone(),
        }
    }
}

/// `PUT`/`PATCH .../volumes/<type>/<name>`: the writable part of [`StorageVolume`], or a
/// snapshot restore.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StorageVolumePut {
    /// Configuration.
    #[serde(deserialize_with = "nullable")]
    pub config: BTreeMap<String, String>,
    /// Description.
    pub description: String,
    /// A snapshot to restore. LXD restores first, then applies `config` and `description`
    /// too (an empty config clears the volume's): a restore request should carry `restore`
    /// alone, as `lxd-client`'s `StorageVolumeSnapshots::restore` sends it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restore: Option<String>,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `POST /1.0/storage-pools/<pool>/volumes[/<type>]`: create a volume, empty or as a copy.
/// Unset fields are not sent.
///
/// ```
/// use lxd_proto::{StorageVolumeSource, StorageVolumesPost};
///
/// let empty = StorageVolumesPost { name: "data".into(), ..Default::default() };
/// assert_eq!(serde_json::to_string(&empty).unwrap(), r#"{"name":"data","type":"custom"}"#);
///
/// let copy = StorageVolumesPost {
///     name: "data2".into(),
///     source: Some(StorageVolumeSource::copy("default", "data")),
///     ..Default::default()
/// };
/// assert_eq!(
///     serde_json::to_string(&copy).unwrap(),
///     r#"{"name":"data2","type":"custom","source":{"name":"data","type":"copy","pool":"default"}}"#,
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StorageVolumesPost {
    /// Name.
    pub name: String,
    /// Type (only `custom` volumes are created by users).
    #[serde(rename = "type")]
    pub volume_type: StorageVolumeType,
    /// Description.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Configuration.
    #[serde(
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub config: BTreeMap<String, String>,
    /// Where the volume comes from (`None`: a new empty volume).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<StorageVolumeSource>,
    /// Filesystem (default) or block.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<StorageVolumeContentType>,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `source` of a [`StorageVolumesPost`]: a copy of another volume, or a migration.
///
/// `Debug` redacts the migration websocket `secrets`.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StorageVolumeSource {
    /// Source volume name.
    pub name: String,
    /// `copy` or `migration`.
    #[serde(rename = "type")]
    pub source_type: String,
    /// Source pool (copy).
    pub pool: String,
    /// Source server certificate (migration).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub certificate: String,
    /// `pull` or `push` (migration).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub mode: String,
    /// Source operation URL (migration).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub operation: String,
    /// Migration websocket secrets. Secret.
    #[serde(
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub secrets: BTreeMap<String, String>,
    /// Copy without the snapshots.
    #[serde(skip_serializing_if = "is_false")]
    pub volume_only: bool,
    /// Refresh an existing target volume instead of failing (`custom_volume_refresh`).
    #[serde(skip_serializing_if = "is_false")]
    pub refresh: bool,
    /// Source project (`storage_api_project`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub project: String,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl StorageVolumeSource {
    /// A copy of the custom volume `name` of `pool` (same server).
    ///
    /// ```
    /// use lxd_proto::{StorageVolumeSource, StorageVolumesPost};
    ///
    /// // `lxc storage volume copy default/data fast/data-copy`, sent to the `fast` pool.
    /// let request = StorageVolumesPost {
    ///     name: "data-copy".into(),
    ///     source: Some(StorageVolumeSource::copy("default", "data")),
    ///     ..Default::default()
    /// };
    /// let body = serde_json::to_value(&request).unwrap();
    /// assert_eq!(body["source"], serde_json::json!({"name": "data", "type": "copy",
    ///                                               "pool": "default"}));
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/storage/storage_pool_volumes_type_post)
    pub fn copy(pool: &str, name: &str) -> StorageVolumeSource {
        StorageVolumeSource {
            name: name.to_string(),
            source_type: "copy".to_string(),
            pool: pool.to_string(),
            ..Default::default()
        }
    }
}

impl fmt::Debug for StorageVolumeSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StorageVolumeSource")
            .field("name", &self.name)
            .field("source_type", &self.source_type)
            .field("pool", &self.pool)
            .field("certificate", &self.certificate)
            .field("mode", &self.mode)
            .field("operation", &self.operation)
            .field("secrets", &redacted_keys(&self.secrets))
            .field("volume_only", &self.volume_only)
            .field("refresh", &self.refresh)
            .field("project", &self.project)
            .field(
                "extra",
                &crate::util::redact(&Value::Object(self.extra.clone())),
            )
            .finish()
    }
}

/// The keys of a secrets map with every value hidden.
fn redacted_keys(secrets: &BTreeMap<String, String>) -> BTreeMap<&str, &'static str> {
    secrets.keys().map(|k| (k.as_str(), REDACTED)).collect()
}

/// `POST .../volumes/<type>/<name>`: rename a volume, move it to another pool or project,
/// or migrate it. Unset fields are not sent.
///
/// ```
/// use lxd_proto::StorageVolumePost;
///
/// let rename = StorageVolumePost { name: "new".into(), ..Default::default() };
/// assert_eq!(serde_json::to_string(&rename).unwrap(), r#"{"name":"new"}"#);
/// let moved = StorageVolumePost { name: "data".into(), pool: "fast".into(), ..Default::default() };
/// assert_eq!(serde_json::to_string(&moved).unwrap(), r#"{"name":"data","pool":"fast"}"#);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StorageVolumePost {
    /// The (new) name.
    pub name: String,
    /// The target pool of a move (`storage_api_local_volume_handling`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pool: String,
    /// Start a migration (`storage_api_remote_volume_handling`).
    #[serde(skip_serializing_if = "is_false")]
    pub migration: bool,
    /// Migration target (push mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<StorageVolumePostTarget>,
    /// Move without the snapshots.
    #[serde(skip_serializing_if = "is_false")]
    pub volume_only: bool,
    /// The target project of a move (`storage_volume_project_move`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub project: String,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `target` of a [`StorageVolumePost`]: where a push migration goes.
///
/// `Debug` redacts the websocket `secrets`.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StorageVolumePostTarget {
    /// The target's certificate.
    pub certificate: String,
    /// The target's operation URL.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub operation: String,
    /// Migration websocket secrets. Secret.
    #[serde(
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub secrets: BTreeMap<String, String>,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl fmt::Debug for StorageVolumePostTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StorageVolumePostTarget")
            .field("certificate", &self.certificate)
            .field("operation", &self.operation)
            .field("secrets", &redacted_keys(&self.secrets))
            .field(
                "extra",
                &crate::util::redact(&Value::Object(self.extra.clone())),
            )
            .finish()
    }
}

/// `GET .../volumes/<type>/<name>/state`: usage of a volume (API extension
/// `storage_volume_state`). Drivers that cannot measure answer with an error (LXD 5.0's
/// `dir` driver: "Not supported").
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StorageVolumeState {
    /// Usage, when the driver knows it.
    pub usage: Option<StorageVolumeStateUsage>,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `usage` of a [`StorageVolumeState`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StorageVolumeStateUsage {
    /// Bytes used.
    #[serde(skip_serializing_if = "is_zero")]
    pub used: u64,
    /// Size of the volume in bytes (`storage_volume_state_total`; -1 when unlimited).
    pub total: i64,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

/// A snapshot of a storage volume (`GET .../volumes/<type>/<name>/snapshots/<snapshot>`).
///
/// ```
/// use lxd_proto::StorageVolumeSnapshot;
///
/// let snapshot: StorageVolumeSnapshot = serde_json::from_str(r#"{"name": "snap0",
///     "description": "", "config": {}, "content_type": "filesystem",
///     "expires_at": "0001-01-01T00:00:00Z", "created_at": "0001-01-01T00:00:00Z"}"#).unwrap();
/// assert_eq!(snapshot.name, "snap0");
/// assert!(!snapshot.expires());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StorageVolumeSnapshot {
    /// Description.
    pub description: String,
    /// Expiry (RFC 3339); the zero time `0001-01-01T00:00:00Z` or `None` when it does not
    /// expire.
    pub expires_at: Option<String>,
    /// Name (of the snapshot alone).
    pub name: String,
    /// Configuration of the volume at snapshot time.
    #[serde(deserialize_with = "nullable")]
    pub config: BTreeMap<String, String>,
    /// Filesystem or block.
    pub content_type: StorageVolumeContentType,
    /// Creation time (RFC 3339; LXD 5.0 sends the zero time).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub created_at: String,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl StorageVolumeSnapshot {
    /// Whether the snapshot has an expiry (not unset, not Go's zero time).
    ///
    /// ```
    /// use lxd_proto::StorageVolumeSnapshot;
    ///
    /// let snapshot: StorageVolumeSnapshot = serde_json::from_str(
    ///     r#"{"name": "nightly-3", "expires_at": "2026-12-27T03:00:00Z"}"#,
    /// ).unwrap();
    /// assert!(snapshot.expires());
    ///
    /// let kept: StorageVolumeSnapshot =
    ///     serde_json::from_str(r#"{"name": "golden", "expires_at": null}"#).unwrap();
    /// assert!(!kept.expires());
    /// ```
    pub fn expires(&self) -> bool {
        self.expires_at
            .as_deref()
            .is_some_and(|t| !t.is_empty() && !t.starts_with("0001-01-01"))
    }

    /// The writable part, for `PUT .../snapshots/<snapshot>`.
    ///
    /// ```
    /// use lxd_proto::StorageVolumeSnapshot;
    ///
    /// let snapshot: StorageVolumeSnapshot = serde_json::from_str(
    ///     r#"{"name": "snap0", "description": "", "expires_at": "0001-01-01T00:00:00Z"}"#,
    /// ).unwrap();
    /// // Describe the snapshot and let LXD delete it at the end of the year.
    /// let mut put = snapshot.writable();
    /// put.description = "before the schema migration".into();
    /// put.expires_at = Some("2026-12-31T23:59:59Z".into());
    /// assert!(serde_json::to_value(&put).unwrap().get("name").is_none());
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/storage/storage_pool_volumes_type_snapshot_put)
    pub fn writable(&self) -> StorageVolumeSnapshotPut {
        StorageVolumeSnapshotPut {
            description: self.description.clone(),
            expires_at: self.expires_at.clone(),
            extra: self.extra.clone(),
        }
    }
}

/// `PUT`/`PATCH .../snapshots/<snapshot>`: the writable part of [`StorageVolumeSnapshot`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StorageVolumeSnapshotPut {
    /// Description.
    pub description: String,
    /// Expiry (RFC 3339); `None` for none.
    pub expires_at: Option<String>,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `POST .../volumes/<type>/<name>/snapshots`: take a snapshot. Unset fields are not sent.
///
/// ```
/// use lxd_proto::StorageVolumeSnapshotsPost;
///
/// let request = StorageVolumeSnapshotsPost { name: "snap0".into(), ..Default::default() };
/// assert_eq!(serde_json::to_string(&request).unwrap(), r#"{"name":"snap0"}"#);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StorageVolumeSnapshotsPost {
    /// Name (empty: LXD picks one from `snapshots.pattern`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Expiry (RFC 3339, `custom_volume_snapshot_expiry`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `POST .../snapshots/<snapshot>`: rename a snapshot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StorageVolumeSnapshotPost {
    /// The new name.
    pub name: String,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn debug_hides_migration_secrets() {
        let mut source = StorageVolumeSource::copy("p", "v");
        source.secrets.insert("control".into(), "s3cr3t".into());
        let target = StorageVolumePostTarget {
            secrets: [("fs".to_string(), "hunter2".to_string())].into(),
            ..Default::default()
        };
        let text = format!("{source:?} {target:?}");
        assert!(
            !text.contains("s3cr3t") && !text.contains("hunter2"),
            "{text}"
        );
        assert!(
            text.contains("control") && text.contains(REDACTED),
            "{text}"
        );
        assert_eq!(
            serde_json::to_value(&source).unwrap(),
            json!({"name": "v", "type": "copy", "pool": "p", "secrets": {"control": "s3cr3t"}})
        );
    }

    #[test]
    fn snapshot_expiry() {
        let mut snapshot = StorageVolumeSnapshot::default();
        assert!(!snapshot.expires());
        snapshot.expires_at = Some("2030-01-01T00:00:00Z".into());
        assert!(snapshot.expires());
        assert_eq!(
            serde_json::to_value(snapshot.writable()).unwrap(),
            json!({"description": "", "expires_at": "2030-01-01T00:00:00Z"})
        );
    }
}
