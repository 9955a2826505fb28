//! Networks (`/1.0/networks`): managed networks (bridge, macvlan, sriov, ovn, physical) and
//! the host interfaces LXD reports as unmanaged; their live state and DHCP leases.

use crate::string_enum::string_enum;
use crate::util::nullable;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

string_enum! {
    /// Type of a network (`type`). Managed networks are one of the first five; unmanaged host
    /// interfaces are reported with their kernel kind.
    pub enum NetworkType {
        /// A LXD bridge (the default for new networks in the default project).
        Bridge = "bridge",
        /// Macvlan on a parent interface.
        Macvlan = "macvlan",
        /// SR-IOV virtual functions of a parent interface.
        Sriov = "sriov",
        /// An OVN virtual network (the default in projects with `features.networks`).
        Ovn = "ovn",
        /// A physical uplink interface.
        Physical = "physical",
        /// An unmanaged loopback interface.
        Loopback = "loopback",
        /// An unmanaged bond.
        Bond = "bond",
        /// An unmanaged VLAN interface.
        Vlan = "vlan",
        /// An interface of a kind LXD does not know.
        Unknown = "unknown",
    }
}

string_enum! {
    /// Status of a managed network (`status`); empty for unmanaged ones.
    pub enum NetworkStatus {
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

/// A network (`GET /1.0/networks/<name>`).
///
/// ```
/// use lxd_proto::{Network, NetworkStatus, NetworkType};
///
/// let network: Network = serde_json::from_str(r#"{"name": "lxdbr0", "type": "bridge",
///     "description": "", "managed": true, "status": "Created", "locations": ["none"],
///     "config": {"ipv4.address": "none"}, "used_by": null}"#).unwrap();
/// assert_eq!(network.network_type, NetworkType::Bridge);
/// assert_eq!(network.status, NetworkStatus::Created);
/// assert!(network.used_by.is_empty());
/// assert_eq!(network.writable().config["ipv4.address"], "none");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Network {
    /// Configuration (`ipv4.address`, `bridge.mtu`, `security.acls`, ...).
    #[serde(deserialize_with = "nullable")]
    pub config: BTreeMap<String, String>,
    /// Description.
    pub description: String,
    /// Name.
    pub name: String,
    /// Bridge, macvlan, ... (or the kernel kind of an unmanaged interface).
    #[serde(rename = "type")]
    pub network_type: NetworkType,
    /// URLs of the objects using the network (instances, profiles, forwards...).
    #[serde(deserialize_with = "nullable")]
    pub used_by: Vec<String>,
    /// Whether LXD manages the network (false for plain host interfaces).
    pub managed: bool,
    /// Status of a managed network.
    pub status: NetworkStatus,
    /// Cluster members on which the network is defined (`["none"]` when not clustered).
    #[serde(deserialize_with = "nullable")]
    pub locations: Vec<String>,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Network {
    /// The writable part, for `PUT /1.0/networks/<name>`.
    ///
    /// Unknown fields are carried over so a writable field added by a newer server is not
    /// reset; LXD ignores read-only ones.
    ///
    /// ```
    /// use lxd_proto::Network;
    ///
    /// let network: Network = serde_json::from_str(r#"{"name": "lxdbr0", "type": "bridge",
    ///     "managed": true, "status": "Created",
    ///     "config": {"ipv4.address": "10.0.0.1/24", "ipv6.address": "fd42::1/64"}}"#).unwrap();
    /// // Turn IPv6 off on the bridge.
    /// let mut put = network.writable();
    /// put.config.insert("ipv6.address".into(), "none".into());
    /// assert_eq!(put.config["ipv4.address"], "10.0.0.1/24");
    /// assert!(serde_json::to_value(&put).unwrap().get("type").is_none());
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/networks/network_put)
    pub fn writable(&self) -> NetworkPut {
        NetworkPut {
            config: self.config.clone(),
            description: self.description.clone(),
            extra: self.extra.clone(),
        }
    }
}

/// `PUT`/`PATCH /1.0/networks/<name>`: the writable part of [`Network`].
///
/// On `PUT`, config keys that are missing are reset (LXD keeps the node-specific ones);
/// `PATCH` changes only the keys given.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkPut {
    /// Configuration.
    #[serde(deserialize_with = "nullable")]
    pub config: BTreeMap<String, String>,
    /// Description.
    pub description: String,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `POST /1.0/networks`: create a network. Unset fields are not sent.
///
/// ```
/// use lxd_proto::{NetworkType, NetworksPost};
///
/// let request = NetworksPost {
///     name: "br1".into(),
///     network_type: Some(NetworkType::Bridge),
///     config: [("ipv4.address".to_string(), "none".to_string())].into(),
///     ..Default::default()
/// };
/// assert_eq!(
///     serde_json::to_string(&request).unwrap(),
///     r#"{"name":"br1","type":"bridge","config":{"ipv4.address":"none"}}"#,
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworksPost {
    /// Name.
    pub name: String,
    /// Type; `None` lets LXD choose (bridge, or OVN in a project with its own networks).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub network_type: Option<NetworkType>,
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

/// `POST /1.0/networks/<name>`: rename a network.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkPost {
    /// The new name.
    pub name: String,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `GET /1.0/networks/<name>/state`: the live state of the network's interface (API
/// extension `network_state`).
///
/// `bond`, `bridge`, `vlan` and `ovn` are `None` unless the interface is of that kind.
///
/// ```
/// use lxd_proto::NetworkState;
///
/// let state: NetworkState = serde_json::from_str(r#"{"addresses": [], "counters":
///     {"bytes_received": 0, "bytes_sent": 10, "packets_received": 0, "packets_sent": 1},
///     "hwaddr": "00:16:3e:b6:c5:b4", "mtu": 1500, "state": "up", "type": "broadcast",
///     "bond": null, "bridge": {"id": "8000.00163eb6c5b4", "stp": false, "forward_delay": 1500,
///     "vlan_default": 0, "vlan_filtering": false, "upper_devices": []},
///     "vlan": null, "ovn": null}"#).unwrap();
/// assert_eq!(state.counters.bytes_sent, 10);
/// assert!(state.bridge.is_some() && state.bond.is_none());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkState {
    /// Addresses of the interface.
    #[serde(deserialize_with = "nullable")]
    pub addresses: Vec<NetworkStateAddress>,
    /// Traffic counters.
    pub counters: NetworkStateCounters,
    /// MAC address.
    pub hwaddr: String,
    /// MTU.
    pub mtu: i64,
    /// Link state (`up`, `down`).
    pub state: String,
    /// Interface type (`broadcast`, `loopback`, `point-to-point`, ...).
    #[serde(rename = "type")]
    pub interface_type: String,
    /// Bond details.
    pub bond: Option<NetworkStateBond>,
    /// Bridge details.
    pub bridge: Option<NetworkStateBridge>,
    /// VLAN details.
    pub vlan: Option<NetworkStateVlan>,
    /// OVN details.
    pub ovn: Option<NetworkStateOvn>,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One address of a network interface.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkStateAddress {
    /// `inet` or `inet6`.
    pub family: String,
    /// The address.
    pub address: String,
    /// Prefix length (CIDR), as a string.
    pub netmask: String,
    /// Scope (`global`, `link`, `local`).
    pub scope: String,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Traffic counters of a network interface.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkStateCounters {
    /// Bytes received.
    pub bytes_received: i64,
    /// Bytes sent.
    pub bytes_sent: i64,
    /// Packets received.
    pub packets_received: i64,
    /// Packets sent.
    pub packets_sent: i64,
    /// Fields this crate does not know (error and drop counters of newer servers), kept and
    /// written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Bond details of a network interface.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkStateBond {
    /// Bonding mode.
    pub mode: String,
    /// Transmit hash policy.
    pub transmit_policy: String,
    /// Delay on link up (ms).
    pub up_delay: u64,
    /// Delay on link down (ms).
    pub down_delay: u64,
    /// MII monitoring frequency (ms).
    pub mii_frequency: u64,
    /// MII link state.
    pub mii_state: String,
    /// Member interfaces.
    #[serde(deserialize_with = "nullable")]
    pub lower_devices: Vec<String>,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Bridge details of a network interface.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkStateBridge {
    /// Bridge id.
    pub id: String,
    /// Whether STP is on.
    pub stp: bool,
    /// Forward delay (ms).
    pub forward_delay: u64,
    /// Default VLAN id.
    pub vlan_default: u64,
    /// Whether VLAN filtering is on.
    pub vlan_filtering: bool,
    /// Interfaces in the bridge.
    #[serde(deserialize_with = "nullable")]
    pub upper_devices: Vec<String>,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// VLAN details of a network interface.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkStateVlan {
    /// Parent interface.
    pub lower_device: String,
    /// VLAN id.
    pub vid: u64,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// OVN details of a network.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkStateOvn {
    /// Chassis hosting the network's router.
    pub chassis: String,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A DHCP lease or static allocation (`GET /1.0/networks/<name>/leases`, API extension
/// `network_leases`).
///
/// ```
/// use lxd_proto::NetworkLease;
///
/// let lease: NetworkLease = serde_json::from_str(r#"{"hostname": "c1",
///     "hwaddr": "00:16:3e:2c:89:d9", "address": "10.0.0.98", "type": "dynamic",
///     "location": "none"}"#).unwrap();
/// assert_eq!(lease.lease_type, "dynamic");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkLease {
    /// Host name.
    pub hostname: String,
    /// MAC address.
    pub hwaddr: String,
    /// IP address.
    pub address: String,
    /// `static` or `dynamic`.
    #[serde(rename = "type")]
    pub lease_type: String,
    /// Cluster member the lease was found on.
    pub location: String,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
