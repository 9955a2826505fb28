//! Storage pools (`/1.0/storage-pools`).

use crate::string_enum::string_enum;
use crate::util::nullable;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

string_enum! {
    /// Status of a storage pool (`status`).
    pub enum StoragePoolStatus {
        /// Fully created.
        Created = "Created",
        /// Pending creation on other cluster members.
        Pending = "Pending",
        /// Creation failed.
        Errored = "Errored",
        /// Unknown.
        Unknown = "Unknown",
        /// Failed to initialise on this member.
        Unavailable = "Unavailable",
    }
}

/// A storage pool (`GET /1.0/storage-pools/<name>`).
///
/// ```
/// use lxd_proto::{StoragePool, StoragePoolStatus};
///
/// let pool: StoragePool = serde_json::from_str(r#"{"name": "default", "driver": "dir",
///     "description": "", "config": {"source": "/var/lib/lxd/storage-pools/default"},
///     "used_by": null, "status": "Created", "locations": ["none"]}"#).unwrap();
/// assert_eq!(pool.driver, "dir");
/// assert_eq!(pool.status, StoragePoolStatus::Created);
/// assert_eq!(pool.writable().config["source"], "/var/lib/lxd/storage-pools/default");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StoragePool {
    /// Configuration (`source`, `size`, `volume.*` defaults, driver keys...).
    #[serde(deserialize_with = "nullable")]
    pub config: BTreeMap<String, String>,
    /// Description.
    pub description: String,
    /// Name.
    pub name: String,
    /// Driver (`dir`, `btrfs`, `lvm`, `zfs`, `ceph`, `cephfs`, `cephobject`).
    pub driver: String,
    /// URLs of the objects using the pool (volumes, instances, profiles, images).
    #[serde(deserialize_with = "nullable")]
    pub used_by: Vec<String>,
    /// Status.
    pub status: StoragePoolStatus,
    /// Cluster members on which the pool is defined (`["none"]` when not clustered).
    #[serde(deserialize_with = "nullable")]
    pub locations: Vec<String>,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl StoragePool {
    /// The writable part, for `PUT /1.0/storage-pools/<name>`.
    ///
    /// Unknown fields are carried over so a writable field added by a newer server is not
    /// reset; LXD ignores read-only ones.
    ///
    /// ```
    /// use lxd_proto::StoragePool;
    ///
    /// let pool: StoragePool = serde_json::from_str(r#"{"name": "fast", "driver": "zfs",
    ///     "config": {"source": "tank/lxd", "volume.size": "10GiB"},
    ///     "status": "Created", "used_by": []}"#).unwrap();
    /// // Give new volumes of the pool a bigger default size.
    /// let mut put = pool.writable();
    /// put.config.insert("volume.size".into(), "20GiB".into());
    /// assert_eq!(put.config["source"], "tank/lxd");
    /// assert!(serde_json::to_value(&put).unwrap().get("driver").is_none());
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/storage/storage_pool_put)
    pub fn writable(&self) -> StoragePoolPut {
        StoragePoolPut {
            config: self.config.clone(),
            description: self.description.clone(),
            extra: self.extra.clone(),
        }
    }
}

/// `PUT`/`PATCH /1.0/storage-pools/<name>`: the writable part of [`StoragePool`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StoragePoolPut {
    /// Configuration.
    #[serde(deserialize_with = "nullable")]
    pub config: BTreeMap<String, String>,
    /// Description.
    pub description: String,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `POST /1.0/storage-pools`: create a pool, whole definition at once. Unset fields are not
/// sent.
///
/// ```
/// use lxd_proto::StoragePoolsPost;
///
/// let request = StoragePoolsPost {
///     name: "fast".into(),
///     driver: "dir".into(),
///     ..Default::default()
/// };
/// assert_eq!(serde_json::to_string(&request).unwrap(), r#"{"name":"fast","driver":"dir"}"#);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StoragePoolsPost {
    /// Name.
    pub name: String,
    /// Driver.
    pub driver: String,
    /// Description.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Configuration.
    #[serde(
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub config: BTreeMap<String, String>,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
