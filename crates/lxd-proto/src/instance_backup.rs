//! Instance backups: `/1.0/instances/<name>/backups`.

use crate::util::is_false;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A backup of an instance kept by the server
/// (`GET /1.0/instances/<name>/backups/<backup>`); its tarball is fetched with `.../export`.
///
/// ```
/// use lxd_proto::InstanceBackup;
///
/// let backup: InstanceBackup = serde_json::from_str(r#"{"name": "backup0",
///     "created_at": "2026-11-27T01:56:15Z", "expires_at": "2030-01-01T00:00:00Z",
///     "instance_only": true, "container_only": true, "optimized_storage": false}"#).unwrap();
/// assert!(backup.instance_only);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct InstanceBackup {
    /// Name (the backup's own, without the instance's).
    pub name: String,
    /// Creation time (RFC 3339).
    pub created_at: String,
    /// When LXD deletes the backup by itself (RFC 3339; `0001-01-01T00:00:00Z` for never).
    pub expires_at: String,
    /// Whether snapshots were left out.
    pub instance_only: bool,
    /// Same as `instance_only` (deprecated spelling LXD still sends).
    pub container_only: bool,
    /// Whether the tarball holds the storage driver's own binary format rather than files.
    pub optimized_storage: bool,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `POST /1.0/instances/<name>/backups`: make a backup. Only what is set is sent.
///
/// ```
/// use lxd_proto::InstanceBackupsPost;
///
/// let request = InstanceBackupsPost {
///     name: "nightly".into(),
///     instance_only: true,
///     ..Default::default()
/// };
/// assert_eq!(
///     serde_json::to_string(&request).unwrap(),
///     r#"{"name":"nightly","instance_only":true}"#,
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct InstanceBackupsPost {
    /// Name (LXD picks `backup0`, `backup1`, ... when empty).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// When LXD deletes the backup by itself (RFC 3339; empty: never).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub expires_at: String,
    /// Leave the snapshots out.
    #[serde(skip_serializing_if = "is_false")]
    pub instance_only: bool,
    /// Deprecated spelling of `instance_only` (LXD honours either).
    #[serde(skip_serializing_if = "is_false")]
    pub container_only: bool,
    /// Use the storage driver's binary format (faster; restorable only on the same driver).
    #[serde(skip_serializing_if = "is_false")]
    pub optimized_storage: bool,
    /// Compression (`gzip`, `xz`, `none`, ...; API extension `backup_compression_algorithm`).
    /// Empty: the server's `backups.compression_algorithm`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub compression_algorithm: String,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `POST /1.0/instances/<name>/backups/<backup>`: rename a backup.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct InstanceBackupPost {
    /// New name.
    pub name: String,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `GET /1.0/instances/<name>/backups/backup0` from LXD 5.0.2, byte for byte.
    const FIXTURE: &str = include_str!("../tests/fixtures/instance_backup.json");

    #[test]
    fn real_backup_round_trips() {
        let value: Value = serde_json::from_str(FIXTURE).unwrap();
        let backup: InstanceBackup = serde_json::from_value(value["metadata"].clone()).unwrap();
        assert_eq!(backup.name, "backup0");
        assert_eq!(backup.expires_at, "2030-01-01T00:00:00Z");
        assert!(!backup.instance_only && !backup.optimized_storage);
        assert!(backup.extra.is_empty(), "{:?}", backup.extra);
        assert_eq!(serde_json::to_value(&backup).unwrap(), value["metadata"]);
    }

    #[test]
    fn empty_request_is_empty() {
        assert_eq!(
            serde_json::to_string(&InstanceBackupsPost::default()).unwrap(),
            "{}"
        );
        assert_eq!(
            serde_json::to_string(&InstanceBackupPost {
                name: "b1".into(),
                ..Default::default()
            })
            .unwrap(),
            r#"{"name":"b1"}"#
        );
    }
}
