//! Network forwards (`/1.0/networks/<name>/forwards`, API extension `network_forward`): an
//! external listen address of a bridge or OVN network forwarded to addresses inside it.

use crate::util::nullable;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// One port rule of a forward.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkForwardPort {
    /// Description.
    pub description: String,
    /// `tcp` or `udp`.
    pub protocol: String,
    /// Listen ports or ranges, comma separated (`80,8000-8010`).
    pub listen_port: String,
    /// Target ports or ranges (empty: the listen ports; one port: many-to-one).
    pub target_port: String,
    /// The address inside the network to forward to.
    pub target_address: String,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A network forward (`GET /1.0/networks/<network>/forwards/<listen_address>`). Forwards are
/// named by their listen address and cannot be renamed.
///
/// ```
/// use lxd_proto::NetworkForward;
///
/// let forward: NetworkForward = serde_json::from_str(r#"{"listen_address": "192.0.2.1",
///     "description": "", "config": {"target_address": "10.0.0.2"},
///     "ports": [{"description": "", "protocol": "tcp", "listen_port": "80",
///                "target_port": "8080", "target_address": "10.0.0.3"}],
///     "location": "none"}"#).unwrap();
/// assert_eq!(forward.ports[0].target_port, "8080");
/// assert_eq!(forward.writable().config["target_address"], "10.0.0.2");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkForward {
    /// The listen address (the forward's key).
    pub listen_address: String,
    /// Description.
    pub description: String,
    /// Configuration (`target_address`: the default target for ports without rules).
    #[serde(deserialize_with = "nullable")]
    pub config: BTreeMap<String, String>,
    /// Port rules.
    #[serde(deserialize_with = "nullable")]
    pub ports: Vec<NetworkForwardPort>,
    /// Cluster member the forward lives on.
    pub location: String,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl NetworkForward {
    /// The writable part, for `PUT /1.0/networks/<network>/forwards/<listen_address>`.
    ///
    /// Unknown fields are carried over so a writable field added by a newer server is not
    /// reset; LXD ignores read-only ones.
    ///
    /// ```
    /// use lxd_proto::{NetworkForward, NetworkForwardPort};
    ///
    /// let forward: NetworkForward = serde_json::from_str(r#"{"listen_address": "192.0.2.1",
    ///     "config": {}, "ports": [], "location": "none"}"#).unwrap();
    /// // Forward SSH on the listen address to an instance.
    /// let mut put = forward.writable();
    /// put.ports.push(NetworkForwardPort { protocol: "tcp".into(), listen_port: "2222".into(),
    ///     target_port: "22".into(), target_address: "10.0.0.5".into(), ..Default::default() });
    /// assert!(serde_json::to_value(&put).unwrap().get("listen_address").is_none());
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/network-forwards/network_forward_put)
    pub fn writable(&self) -> NetworkForwardPut {
        NetworkForwardPut {
            description: self.description.clone(),
            config: self.config.clone(),
            ports: self.ports.clone(),
            extra: self.extra.clone(),
        }
    }
}

/// `PUT`/`PATCH` of a forward: the writable part of [`NetworkForward`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkForwardPut {
    /// Description.
    pub description: String,
    /// Configuration.
    #[serde(deserialize_with = "nullable")]
    pub config: BTreeMap<String, String>,
    /// Port rules.
    #[serde(deserialize_with = "nullable")]
    pub ports: Vec<NetworkForwardPort>,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `POST /1.0/networks/<network>/forwards`: create a forward. Unset fields are not sent.
///
/// ```
/// use lxd_proto::NetworkForwardsPost;
///
/// let request = NetworkForwardsPost { listen_address: "192.0.2.1".into(), ..Default::default() };
/// assert_eq!(serde_json::to_string(&request).unwrap(), r#"{"listen_address":"192.0.2.1"}"#);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkForwardsPost {
    /// The listen address.
    pub listen_address: String,
    /// Description.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Configuration.
    #[serde(
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub config: BTreeMap<String, String>,
    /// Port rules.
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<NetworkForwardPort>,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
