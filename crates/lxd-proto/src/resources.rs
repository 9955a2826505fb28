//! Host resources (`GET /1.0/resources`, API extension `resources`) and storage pool usage
//! (`GET /1.0/storage-pools/<name>/resources`).
//!
//! The top level (totals, memory, the system) is typed; the per-device details (CPU sockets
//! and cores, GPU and network cards, disks, USB and PCI devices) vary a lot between kernels,
//! hardware and LXD versions, so they are kept as JSON values: read them with `serde_json`
//! indexing, or decode them into your own types.

use crate::util::nullable;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

fn is_zero(value: &u64) -> bool {
    *value == 0
}

/// `GET /1.0/resources`: what the host has.
///
/// ```
/// use lxd_proto::Resources;
///
/// let resources: Resources = serde_json::from_str(r#"{
///     "cpu": {"architecture": "x86_64", "sockets": [{"socket": 0, "cores": []}], "total": 2},
///     "memory": {"hugepages_total": 0, "hugepages_used": 0, "hugepages_size": 2097152,
///                "used": 942006272, "total": 25769803776},
///     "gpu": {"cards": [], "total": 0}, "network": {"cards": [], "total": 0},
///     "storage": {"disks": [{"id": "vda", "size": 274877906944}], "total": 1},
///     "usb": {"devices": [], "total": 0}, "pci": {"devices": [], "total": 0},
///     "system": {"type": "container"}}"#).unwrap();
/// assert_eq!(resources.cpu.total, 2);
/// assert_eq!(resources.storage.disks[0]["id"], "vda");
/// assert_eq!(resources.system.system_type, "container");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Resources {
    /// CPUs.
    pub cpu: ResourcesCpu,
    /// Memory.
    pub memory: ResourcesMemory,
    /// GPUs.
    pub gpu: ResourcesGpu,
    /// Network cards.
    pub network: ResourcesNetwork,
    /// Disks.
    pub storage: ResourcesStorage,
    /// USB devices.
    pub usb: ResourcesUsb,
    /// PCI devices.
    pub pci: ResourcesPci,
    /// The machine (DMI data; mostly empty inside a container or VM).
    pub system: ResourcesSystem,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `cpu` of [`Resources`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResourcesCpu {
    /// Architecture (`x86_64`, ...).
    pub architecture: String,
    /// Sockets with their caches, cores and threads (as JSON).
    #[serde(deserialize_with = "nullable")]
    pub sockets: Vec<Value>,
    /// Number of CPU threads over all sockets.
    pub total: u64,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `memory` of [`Resources`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResourcesMemory {
    /// Per-NUMA-node memory (as JSON).
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<Value>,
    /// Huge pages in total (bytes).
    pub hugepages_total: u64,
    /// Huge pages used (bytes).
    pub hugepages_used: u64,
    /// Size of a huge page (bytes).
    pub hugepages_size: u64,
    /// Memory used (bytes).
    pub used: u64,
    /// Memory in total (bytes).
    pub total: u64,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `gpu` of [`Resources`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResourcesGpu {
    /// Cards (as JSON).
    #[serde(deserialize_with = "nullable")]
    pub cards: Vec<Value>,
    /// Number of cards.
    pub total: u64,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `network` of [`Resources`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResourcesNetwork {
    /// Cards with their ports (as JSON).
    #[serde(deserialize_with = "nullable")]
    pub cards: Vec<Value>,
    /// Number of cards.
    pub total: u64,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `storage` of [`Resources`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResourcesStorage {
    /// Disks with their partitions (as JSON).
    #[serde(deserialize_with = "nullable")]
    pub disks: Vec<Value>,
    /// Number of disks.
    pub total: u64,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `usb` of [`Resources`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResourcesUsb {
    /// Devices (as JSON).
    #[serde(deserialize_with = "nullable")]
    pub devices: Vec<Value>,
    /// Number of devices.
    pub total: u64,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `pci` of [`Resources`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResourcesPci {
    /// Devices (as JSON).
    #[serde(deserialize_with = "nullable")]
    pub devices: Vec<Value>,
    /// Number of devices.
    pub total: u64,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `system` of [`Resources`]: DMI data of the machine.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResourcesSystem {
    /// System UUID.
    pub uuid: String,
    /// Vendor.
    pub vendor: String,
    /// Product.
    pub product: String,
    /// Family.
    pub family: String,
    /// Version.
    pub version: String,
    /// SKU.
    pub sku: String,
    /// Serial number.
    pub serial: String,
    /// `physical`, `virtual-machine`, `container` or `unknown`.
    #[serde(rename = "type")]
    pub system_type: String,
    /// Firmware (as JSON; `None` when unknown).
    pub firmware: Option<Value>,
    /// Chassis (as JSON; `None` when unknown).
    pub chassis: Option<Value>,
    /// Motherboard (as JSON; `None` when unknown).
    pub motherboard: Option<Value>,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `GET /1.0/storage-pools/<name>/resources`: space and inodes of a pool.
///
/// ```
/// use lxd_proto::ResourcesStoragePool;
///
/// let usage: ResourcesStoragePool = serde_json::from_str(r#"{"space": {"used": 16427925504,
///     "total": 270553174016}, "inodes": {"used": 409207, "total": 16777216}}"#).unwrap();
/// assert!(usage.space.used < usage.space.total);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResourcesStoragePool {
    /// Disk space.
    pub space: ResourcesStoragePoolSpace,
    /// Inodes.
    pub inodes: ResourcesStoragePoolInodes,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `space` of [`ResourcesStoragePool`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResourcesStoragePoolSpace {
    /// Bytes used (not sent when unknown).
    #[serde(skip_serializing_if = "is_zero")]
    pub used: u64,
    /// Bytes in total.
    pub total: u64,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `inodes` of [`ResourcesStoragePool`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResourcesStoragePoolInodes {
    /// Inodes used.
    pub used: u64,
    /// Inodes in total.
    pub total: u64,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
