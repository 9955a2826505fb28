//! Network ACLs (`/1.0/network-acls`, API extension `network_acl`): named rule sets applied to
//! networks and NICs with `security.acls`.

use crate::string_enum::string_enum;
use crate::util::nullable;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

string_enum! {
    /// What a rule does with matching traffic (`action`).
    pub enum NetworkAclRuleAction {
        /// Let it through.
        Allow = "allow",
        /// Refuse it actively (TCP reset, ICMP unreachable).
        Reject = "reject",
        /// Drop it silently.
        Drop = "drop",
        /// Let it through without connection tracking (Incus; not in LXD).
        AllowStateless = "allow-stateless",
    }
}

string_enum! {
    /// Whether a rule is in force (`state`).
    pub enum NetworkAclRuleState {
        /// In force.
        Enabled = "enabled",
        /// Ignored.
        Disabled = "disabled",
        /// In force, and matches are logged.
        Logged = "logged",
    }
    default = Enabled;
}

/// One rule of an ACL. Empty fields are not sent (LXD reads them as "any").
///
/// ```
/// use lxd_proto::{NetworkAclRule, NetworkAclRuleAction};
///
/// let rule = NetworkAclRule {
///     action: NetworkAclRuleAction::Allow,
///     protocol: "tcp".into(),
///     destination_port: "22".into(),
///     ..Default::default()
/// };
/// assert_eq!(
///     serde_json::to_string(&rule).unwrap(),
///     r#"{"action":"allow","protocol":"tcp","destination_port":"22","state":"enabled"}"#,
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkAclRule {
    /// Allow, reject or drop.
    pub action: NetworkAclRuleAction,
    /// Sources: CIDR subnets, ranges, addresses, ACL names or `@internal`/`@external`,
    /// comma separated.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub source: String,
    /// Destinations, same syntax as `source`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub destination: String,
    /// `tcp`, `udp`, `icmp4` or `icmp6`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub protocol: String,
    /// Source ports or ranges (tcp/udp), comma separated.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub source_port: String,
    /// Destination ports or ranges (tcp/udp), comma separated.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub destination_port: String,
    /// ICMP type (icmp4/icmp6).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub icmp_type: String,
    /// ICMP code (icmp4/icmp6).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub icmp_code: String,
    /// Description.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Enabled (default), disabled or logged.
    pub state: NetworkAclRuleState,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A network ACL (`GET /1.0/network-acls/<name>`).
///
/// ```
/// use lxd_proto::{NetworkAcl, NetworkAclRuleState};
///
/// let acl: NetworkAcl = serde_json::from_str(r#"{"name": "web", "description": "",
///     "egress": [], "ingress": [{"action": "allow", "destination_port": "80",
///     "protocol": "tcp", "state": "logged"}], "config": {}, "used_by": []}"#).unwrap();
/// assert_eq!(acl.ingress[0].state, NetworkAclRuleState::Logged);
/// assert_eq!(acl.writable().ingress, acl.ingress);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkAcl {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Rules for traffic leaving the instances (order does not matter).
    #[serde(deserialize_with = "nullable")]
    pub egress: Vec<NetworkAclRule>,
    /// Rules for traffic reaching the instances (order does not matter).
    #[serde(deserialize_with = "nullable")]
    pub ingress: Vec<NetworkAclRule>,
    /// Configuration (`user.*`).
    #[serde(deserialize_with = "nullable")]
    pub config: BTreeMap<String, String>,
    /// URLs of the networks, NICs and ACLs using this ACL.
    #[serde(deserialize_with = "nullable")]
    pub used_by: Vec<String>,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl NetworkAcl {
    /// The writable part, for `PUT /1.0/network-acls/<name>`.
    ///
    /// Unknown fields are carried over so a writable field added by a newer server is not
    /// reset; LXD ignores read-only ones.
    ///
    /// ```
    /// use lxd_proto::{NetworkAcl, NetworkAclRule};
    ///
    /// let acl: NetworkAcl = serde_json::from_str(r#"{"name": "web", "egress": [],
    ///     "ingress": [{"action": "allow", "protocol": "tcp", "destination_port": "80",
    ///                  "state": "enabled"}], "used_by": ["/1.0/instances/web1"]}"#).unwrap();
    /// // Also let HTTPS in.
    /// let mut put = acl.writable();
    /// let https = NetworkAclRule { destination_port: "443".into(), ..put.ingress[0].clone() };
    /// put.ingress.push(https);
    /// assert_eq!(put.ingress[1].protocol, "tcp");
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/network-acls/network_acl_put)
    pub fn writable(&self) -> NetworkAclPut {
        NetworkAclPut {
            description: self.description.clone(),
            egress: self.egress.clone(),
            ingress: self.ingress.clone(),
            config: self.config.clone(),
            extra: self.extra.clone(),
        }
    }
}

/// `PUT`/`PATCH /1.0/network-acls/<name>`: the writable part of [`NetworkAcl`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkAclPut {
    /// Description.
    pub description: String,
    /// Egress rules.
    #[serde(deserialize_with = "nullable")]
    pub egress: Vec<NetworkAclRule>,
    /// Ingress rules.
    #[serde(deserialize_with = "nullable")]
    pub ingress: Vec<NetworkAclRule>,
    /// Configuration.
    #[serde(deserialize_with = "nullable")]
    pub config: BTreeMap<String, String>,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `POST /1.0/network-acls`: create an ACL. Unset fields are not sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkAclsPost {
    /// Name.
    pub name: String,
    /// Description.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Egress rules.
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub egress: Vec<NetworkAclRule>,
    /// Ingress rules.
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub ingress: Vec<NetworkAclRule>,
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

/// `POST /1.0/network-acls/<name>`: rename an ACL.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkAclPost {
    /// The new name.
    pub name: String,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
