//! Clustering (`/1.0/cluster`): the cluster itself, its members, member evacuation, join
//! tokens, cluster groups and the cluster certificate.

use crate::certificate::{decode_token, encode_token, token_parts};
use crate::string_enum::string_enum;
use crate::util::{is_false, nullable, redact, redact_opt, redact_str};
use crate::{Operation, ResourcesStoragePool};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;

/// The cluster as the answering server sees it (`GET /1.0/cluster`).
///
/// ```
/// use lxd_proto::Cluster;
///
/// let cluster: Cluster = serde_json::from_str(r#"{"server_name": "node3", "enabled": true,
///     "member_config": [{"entity": "storage-pool", "name": "local", "key": "source",
///         "value": "", "description": "\"source\" property for storage pool \"local\""}]}"#)
///     .unwrap();
/// assert!(cluster.enabled);
/// assert_eq!(cluster.member_config[0].entity, "storage-pool");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Cluster {
    /// Name of the member answering the request (empty when not clustered).
    pub server_name: String,
    /// Whether clustering is enabled.
    pub enabled: bool,
    /// The member-specific keys a joining server must provide (storage pool sources,
    /// network interfaces...), with empty values.
    #[serde(deserialize_with = "nullable")]
    pub member_config: Vec<ClusterMemberConfigKey>,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A member-specific configuration key a joining server must provide (see
/// [`Cluster::member_config`] and [`ClusterPut::member_config`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClusterMemberConfigKey {
    /// The kind of object (`storage-pool`, `network`).
    pub entity: String,
    /// The object's name.
    pub name: String,
    /// The key (`source`, `parent`...).
    pub key: String,
    /// The value (empty in `GET`; the joining member's value in a join request).
    pub value: String,
    /// Human description.
    pub description: String,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `PUT /1.0/cluster`: enable clustering on a standalone server (bootstrap), or join a
/// cluster.
///
/// Bootstrap: `server_name` and `enabled: true`. Join: also `cluster_address`,
/// `cluster_certificate` (the cluster's PEM), `server_address`, the `member_config` values,
/// and the join secret: on LXD 5.0 the join token's `secret` in `cluster_password`, on newer
/// servers (API extension `explicit_trust_token`) the whole token in `cluster_token`. Empty
/// join fields are not sent. `Debug` redacts `cluster_password` and `cluster_token`.
///
/// ```
/// use lxd_proto::ClusterPut;
///
/// let bootstrap = ClusterPut { server_name: "node1".into(), enabled: true, ..Default::default() };
/// assert_eq!(
///     serde_json::to_string(&bootstrap).unwrap(),
///     r#"{"server_name":"node1","enabled":true}"#,
/// );
/// ```
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClusterPut {
    /// Name of this member in the cluster.
    pub server_name: String,
    /// Whether clustering is enabled.
    pub enabled: bool,
    /// Member-specific configuration for a join.
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub member_config: Vec<ClusterMemberConfigKey>,
    /// Address of an existing member to join.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cluster_address: String,
    /// The cluster's certificate (PEM) expected when joining.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cluster_certificate: String,
    /// This server's address for cluster traffic.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub server_address: String,
    /// The join secret (LXD 5.0: a join token's `secret`, or the trust password). Secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_password: Option<String>,
    /// The whole join token, encoded (newer servers, `explicit_trust_token`). Secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster_token: Option<String>,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl fmt::Debug for ClusterPut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterPut")
            .field("server_name", &self.server_name)
            .field("enabled", &self.enabled)
            .field("member_config", &self.member_config)
            .field("cluster_address", &self.cluster_address)
            .field("cluster_certificate", &self.cluster_certificate)
            .field("server_address", &self.server_address)
            .field("cluster_password", &redact_opt(&self.cluster_password))
            .field("cluster_token", &redact_opt(&self.cluster_token))
            .field("extra", &redact(&Value::Object(self.extra.clone())))
            .finish()
    }
}

/// `POST /1.0/cluster/members`: ask for a join token for a new member named `server_name`.
///
/// ```
/// use lxd_proto::ClusterMembersPost;
///
/// let request = ClusterMembersPost { server_name: "node4".into(), ..Default::default() };
/// assert_eq!(serde_json::to_string(&request).unwrap(), r#"{"server_name":"node4"}"#);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClusterMembersPost {
    /// Name the new member will join under.
    pub server_name: String,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A cluster join token: what `lxc cluster add` prints (base64 of this JSON).
///
/// The server hands its parts out as the metadata of a `token` class operation (keys
/// `serverName`, `fingerprint`, `addresses`, `secret`, `expiresAt`), see
/// [`ClusterMemberJoinToken::from_operation`]; the joining side pastes the encoded string,
/// see [`ClusterMemberJoinToken::decode`].
///
/// `Debug` redacts `secret`.
///
/// ```
/// use lxd_proto::ClusterMemberJoinToken;
///
/// let token = ClusterMemberJoinToken {
///     server_name: "node4".into(),
///     fingerprint: "f350117f".into(),
///     addresses: vec!["10.0.0.3:8443".into()],
///     secret: "s3cr3t".into(),
///     ..Default::default()
/// };
/// let encoded = token.encode();
/// assert_eq!(ClusterMemberJoinToken::decode(&encoded).unwrap(), token);
/// assert!(!format!("{token:?}").contains("s3cr3t"));
/// ```
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClusterMemberJoinToken {
    /// Name the new member joins under.
    pub server_name: String,
    /// Fingerprint of the cluster certificate (pin it when joining).
    pub fingerprint: String,
    /// Addresses of the cluster's online members.
    #[serde(deserialize_with = "nullable")]
    pub addresses: Vec<String>,
    /// The join secret. Secret.
    pub secret: String,
    /// Expiry (RFC 3339); empty when unknown. Not written when empty (LXD's Go decoder
    /// rejects an empty time string).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub expires_at: String,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ClusterMemberJoinToken {
    /// Reads the token from the metadata of a `token` class operation (the reply to
    /// `POST /1.0/cluster/members`, or an entry of `GET /1.0/operations`). `None` if the
    /// metadata lacks the server name, fingerprint, addresses or secret (for example a
    /// certificate add token or an image download token).
    ///
    /// ```
    /// use lxd_proto::{ClusterMemberJoinToken, Operation};
    ///
    /// let op: Operation = serde_json::from_str(r#"{"class": "token", "status_code": 103,
    ///     "resources": {"cluster": null},
    ///     "metadata": {"serverName": "node4", "fingerprint": "f350117f",
    ///         "addresses": ["10.0.0.1:8443", "10.0.0.2:8443"], "secret": "s3cr3t",
    ///         "expiresAt": "2026-11-28T07:00:00Z"}}"#).unwrap();
    /// let token = ClusterMemberJoinToken::from_operation(&op).unwrap();
    /// assert_eq!(token.server_name, "node4");
    /// assert_eq!(token.expires_at, "2026-11-28T07:00:00Z");
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/cluster/cluster_members_post)
    pub fn from_operation(operation: &Operation) -> Option<Self> {
        let metadata = operation.metadata_object()?;
        let server_name = metadata.get("serverName")?.as_str()?.to_owned();
        let (fingerprint, addresses, secret, expires_at) = token_parts(metadata)?;
        Some(Self {
            server_name,
            fingerprint,
            addresses,
            secret,
            expires_at,
            extra: Map::new(),
        })
    }

    /// The token string users copy around: standard base64 of the JSON form.
    ///
    /// ```
    /// use lxd_proto::{ClusterMemberJoinToken, ClusterPut};
    ///
    /// let token = ClusterMemberJoinToken {
    ///     server_name: "node4".into(),
    ///     fingerprint: "f350117f".into(),
    ///     addresses: vec!["10.0.0.3:8443".into()],
    ///     secret: "s3cr3t".into(),
    ///     ..Default::default()
    /// };
    /// // Newer servers take the whole encoded token in a join request.
    /// let join = ClusterPut { cluster_token: Some(token.encode()), ..Default::default() };
    /// assert!(join.cluster_token.unwrap().starts_with("eyJzZXJ2ZXJfbmFtZSI6Im5vZGU0Ii"));
    /// ```
    pub fn encode(&self) -> String {
        encode_token(self)
    }

    /// Parses a token string (surrounding whitespace is ignored).
    ///
    /// ```
    /// use lxd_proto::ClusterMemberJoinToken;
    ///
    /// // What `lxc cluster add node4` printed.
    /// let token = ClusterMemberJoinToken::decode(concat!(
    ///     "eyJzZXJ2ZXJfbmFtZSI6Im5vZGU0IiwiZmluZ2VycHJpbnQiOiJmMzUwMTE3ZiIsImFkZHJlc3NlcyI6",
    ///     "WyIxMC4wLjAuMzo4NDQzIl0sInNlY3JldCI6InMzY3IzdCIsImV4cGlyZXNfYXQiOiIyMDI2LTExLTI4",
    ///     "VDA3OjAwOjAwWiJ9",
    /// )).unwrap();
    /// assert_eq!(token.server_name, "node4");
    /// assert_eq!(token.addresses, ["10.0.0.3:8443"]);
    /// ```
    pub fn decode(token: &str) -> Result<Self, serde_json::Error> {
        decode_token(token, "cluster join token")
    }
}

impl fmt::Debug for ClusterMemberJoinToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterMemberJoinToken")
            .field("server_name", &self.server_name)
            .field("fingerprint", &self.fingerprint)
            .field("addresses", &self.addresses)
            .field("secret", &redact_str(&self.secret))
            .field("expires_at", &self.expires_at)
            .field("extra", &redact(&Value::Object(self.extra.clone())))
            .finish()
    }
}

string_enum! {
    /// Status of a cluster member, as LXD spells it in the API (`lxc` prints it upper-case).
    pub enum ClusterMemberStatus {
        /// Heartbeats arrive; the member serves.
        Online = "Online",
        /// No heartbeat within `cluster.offline_threshold`.
        Offline = "Offline",
        /// Evacuated: its instances were stopped or moved; nothing is placed on it.
        Evacuated = "Evacuated",
        /// Running a different LXD version or API extension set than the others.
        Blocked = "Blocked",
    }
}

/// A cluster member (`GET /1.0/cluster/members/<name>`).
///
/// ```
/// use lxd_proto::{ClusterMember, ClusterMemberStatus};
///
/// let member: ClusterMember = serde_json::from_str(r#"{"server_name": "node4",
///     "url": "https://127.0.0.4:8443", "database": true, "status": "Online",
///     "message": "Fully operational", "architecture": "x86_64", "roles": ["database"],
///     "failure_domain": "default", "description": "", "config": {}, "groups": ["default"]}"#)
///     .unwrap();
/// assert_eq!(member.status, ClusterMemberStatus::Online);
/// assert_eq!(member.address(), "127.0.0.4:8443");
/// assert_eq!(member.writable().groups, ["default"]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClusterMember {
    /// The member's name.
    pub server_name: String,
    /// URL it is reached at (`https://10.0.0.1:8443`).
    pub url: String,
    /// Whether it is a database member (voter or stand-by).
    pub database: bool,
    /// Online, Offline, Evacuated or Blocked.
    pub status: ClusterMemberStatus,
    /// Details of the status ("Fully operational", "Unavailable due to maintenance").
    pub message: String,
    /// Primary architecture (`x86_64`).
    pub architecture: String,
    /// Roles (`database`, `database-leader`, `database-standby`, `event-hub`,
    /// `ovn-chassis`).
    #[serde(deserialize_with = "nullable")]
    pub roles: Vec<String>,
    /// Failure domain (`default` unless set).
    pub failure_domain: String,
    /// Description.
    pub description: String,
    /// Member configuration (`scheduler.instance`, `user.*`).
    #[serde(deserialize_with = "nullable")]
    pub config: BTreeMap<String, String>,
    /// Cluster groups it belongs to.
    #[serde(deserialize_with = "nullable")]
    pub groups: Vec<String>,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ClusterMember {
    /// The writable part, for `PUT /1.0/cluster/members/<name>`.
    ///
    /// ```
    /// use lxd_proto::ClusterMember;
    ///
    /// let member: ClusterMember = serde_json::from_str(r#"{"server_name": "node4",
    ///     "url": "https://10.0.0.4:8443", "status": "Online", "roles": ["database"],
    ///     "failure_domain": "default", "config": {}, "groups": ["default"]}"#).unwrap();
    /// // Move the member to rack 2; the `database` role is sent back as it was.
    /// let mut put = member.writable();
    /// put.failure_domain = "rack2".into();
    /// assert_eq!(put.roles, ["database"]);
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/cluster/cluster_member_put)
    pub fn writable(&self) -> ClusterMemberPut {
        ClusterMemberPut {
            roles: self.roles.clone(),
            failure_domain: self.failure_domain.clone(),
            description: self.description.clone(),
            config: self.config.clone(),
            groups: self.groups.clone(),
            extra: Map::new(),
        }
    }

    /// The `host:port` of [`url`](Self::url) (the URL itself if it has no `https://`).
    ///
    /// ```
    /// use lxd_proto::ClusterMember;
    ///
    /// let member: ClusterMember = serde_json::from_str(
    ///     r#"{"server_name": "node1", "url": "https://[fd42::1]:8443"}"#,
    /// ).unwrap();
    /// assert_eq!(member.address(), "[fd42::1]:8443");
    /// ```
    pub fn address(&self) -> &str {
        self.url.strip_prefix("https://").unwrap_or(&self.url)
    }
}

/// `PUT`/`PATCH /1.0/cluster/members/<name>`: the writable part of [`ClusterMember`].
///
/// LXD keeps automatic roles (`database*`) itself: send back the roles `GET` showed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClusterMemberPut {
    /// Roles.
    #[serde(deserialize_with = "nullable")]
    pub roles: Vec<String>,
    /// Failure domain.
    pub failure_domain: String,
    /// Description.
    pub description: String,
    /// Member configuration.
    #[serde(deserialize_with = "nullable")]
    pub config: BTreeMap<String, String>,
    /// Cluster groups (extension `clustering_groups`).
    #[serde(deserialize_with = "nullable")]
    pub groups: Vec<String>,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `POST /1.0/cluster/members/<name>`: rename a member.
///
/// ```
/// use lxd_proto::ClusterMemberPost;
///
/// let request = ClusterMemberPost { server_name: "node9".into(), ..Default::default() };
/// assert_eq!(serde_json::to_string(&request).unwrap(), r#"{"server_name":"node9"}"#);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClusterMemberPost {
    /// The new name.
    pub server_name: String,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// State of a member (`GET /1.0/cluster/members/<name>/state`, API extension
/// `cluster_member_state`; LXD 5.0.2 lacks it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClusterMemberState {
    /// System figures.
    pub sysinfo: ClusterMemberSysInfo,
    /// Usage of each storage pool on the member.
    #[serde(deserialize_with = "nullable")]
    pub storage_pools: BTreeMap<String, ResourcesStoragePool>,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `sysinfo` of [`ClusterMemberState`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClusterMemberSysInfo {
    /// Seconds since boot.
    pub uptime: i64,
    /// 1, 5 and 15 minute load averages.
    #[serde(deserialize_with = "nullable")]
    pub load_averages: Vec<f64>,
    /// Total memory, bytes.
    pub total_ram: u64,
    /// Free memory, bytes.
    pub free_ram: u64,
    /// Shared memory, bytes.
    pub shared_ram: u64,
    /// Buffer memory, bytes.
    pub buffered_ram: u64,
    /// Total swap, bytes.
    pub total_swap: u64,
    /// Free swap, bytes.
    pub free_swap: u64,
    /// Number of processes.
    pub processes: u16,
    /// Logical CPUs.
    pub logical_cpus: u64,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

string_enum! {
    /// The action of a [`ClusterMemberStatePost`].
    pub enum ClusterMemberAction {
        /// Stop or move the member's instances away and take it out of placement.
        Evacuate = "evacuate",
        /// Bring the member back and its instances with it.
        Restore = "restore",
    }
}

string_enum! {
    /// How an evacuation treats instances (`mode` of a [`ClusterMemberStatePost`], API
    /// extension `clustering_evacuation_mode`; LXD 5.0.2 lacks it and uses each instance's
    /// `cluster.evacuate` setting, `auto` by default).
    pub enum ClusterEvacuateMode {
        /// Migrate where possible, else stop.
        Auto = "auto",
        /// Stop the instances in place.
        Stop = "stop",
        /// Migrate the instances to other members.
        Migrate = "migrate",
        /// Live-migrate the instances (virtual machines).
        LiveMigrate = "live-migrate",
        /// On restore: bring the member back without starting or moving instances back
        /// (API extension `clustering_restore_skip_mode`).
        Skip = "skip",
    }
}

/// `POST /1.0/cluster/members/<name>/state`: evacuate or restore a member. Unset fields
/// are not sent.
///
/// ```
/// use lxd_proto::{ClusterMemberAction, ClusterMemberStatePost};
///
/// let request = ClusterMemberStatePost::new(ClusterMemberAction::Evacuate);
/// assert_eq!(serde_json::to_string(&request).unwrap(), r#"{"action":"evacuate"}"#);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClusterMemberStatePost {
    /// Evacuate or restore.
    pub action: ClusterMemberAction,
    /// Override of the instances' evacuation mode (newer servers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<ClusterEvacuateMode>,
    /// Evacuate even below the voter majority (API extension `clustering_evacuation_force`).
    #[serde(skip_serializing_if = "is_false")]
    pub force: bool,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ClusterMemberStatePost {
    /// A request for `action`, with no mode.
    ///
    /// ```
    /// use lxd_proto::{ClusterEvacuateMode, ClusterMemberAction, ClusterMemberStatePost};
    ///
    /// // Evacuate by stopping the instances in place (newer servers).
    /// let mut request = ClusterMemberStatePost::new(ClusterMemberAction::Evacuate);
    /// request.mode = Some(ClusterEvacuateMode::Stop);
    /// assert_eq!(
    ///     serde_json::to_string(&request).unwrap(),
    ///     r#"{"action":"evacuate","mode":"stop"}"#,
    /// );
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/cluster/cluster_member_state_post)
    pub fn new(action: ClusterMemberAction) -> Self {
        Self {
            action,
            ..Default::default()
        }
    }
}

/// A cluster group (`GET /1.0/cluster/groups/<name>`, API extension `clustering_groups`).
///
/// ```
/// use lxd_proto::ClusterGroup;
///
/// let group: ClusterGroup = serde_json::from_str(r#"{"name": "default",
///     "description": "Default cluster group", "members": ["node3", "node4"]}"#).unwrap();
/// assert_eq!(group.writable().members, ["node3", "node4"]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClusterGroup {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Members in the group.
    #[serde(deserialize_with = "nullable")]
    pub members: Vec<String>,
    /// What refers to the group (newer servers, `clustering_groups_used_by`; LXD 5.0.2
    /// does not send it).
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub used_by: Vec<String>,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ClusterGroup {
    /// The writable part, for `PUT /1.0/cluster/groups/<name>`.
    ///
    /// ```
    /// use lxd_proto::ClusterGroup;
    ///
    /// let group: ClusterGroup = serde_json::from_str(r#"{"name": "fast",
    ///     "description": "NVMe members", "members": ["node3"]}"#).unwrap();
    /// let mut put = group.writable();
    /// put.members.push("node4".into());
    /// assert_eq!(
    ///     serde_json::to_value(&put).unwrap(),
    ///     serde_json::json!({"description": "NVMe members", "members": ["node3", "node4"]}),
    /// );
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/cluster-groups/cluster_group_put)
    pub fn writable(&self) -> ClusterGroupPut {
        ClusterGroupPut {
            description: self.description.clone(),
            members: self.members.clone(),
            extra: Map::new(),
        }
    }
}

/// `POST /1.0/cluster/groups`: a new cluster group.
///
/// ```
/// use lxd_proto::ClusterGroupsPost;
///
/// let request = ClusterGroupsPost { name: "fast".into(), members: vec!["node3".into()],
///     ..Default::default() };
/// assert_eq!(
///     serde_json::to_string(&request).unwrap(),
///     r#"{"name":"fast","description":"","members":["node3"]}"#,
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClusterGroupsPost {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Initial members.
    #[serde(deserialize_with = "nullable")]
    pub members: Vec<String>,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `PUT`/`PATCH /1.0/cluster/groups/<name>`: the writable part of [`ClusterGroup`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClusterGroupPut {
    /// Description.
    pub description: String,
    /// Members (the whole list: members left out leave the group).
    #[serde(deserialize_with = "nullable")]
    pub members: Vec<String>,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `POST /1.0/cluster/groups/<name>`: rename a cluster group.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClusterGroupPost {
    /// The new name.
    pub name: String,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `PUT /1.0/cluster/certificate`: replace the certificate and key every member serves
/// (API extension `clustering_update_cert`). `Debug` redacts the key.
///
/// ```
/// use lxd_proto::ClusterCertificatePut;
///
/// let put = ClusterCertificatePut {
///     cluster_certificate: "-----BEGIN CERTIFICATE-----...".into(),
///     cluster_certificate_key: "-----BEGIN EC PRIVATE KEY-----...".into(),
///     ..Default::default()
/// };
/// assert!(!format!("{put:?}").contains("PRIVATE KEY"));
/// ```
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClusterCertificatePut {
    /// The new certificate (PEM).
    pub cluster_certificate: String,
    /// Its private key (PEM). Secret.
    pub cluster_certificate_key: String,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl fmt::Debug for ClusterCertificatePut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterCertificatePut")
            .field("cluster_certificate", &self.cluster_certificate)
            .field(
                "cluster_certificate_key",
                &redact_str(&self.cluster_certificate_key),
            )
            .field("extra", &redact(&Value::Object(self.extra.clone())))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn join_token_from_operation_and_go_encoding() {
        let op: Operation = serde_json::from_value(json!({
            "class": "token", "resources": {"cluster": null},
            "metadata": {"addresses": ["127.0.0.3:8443"], "expiresAt": "2026-11-27T07:19:03Z",
                "fingerprint": "f350", "secret": "c240", "serverName": "node9"}
        }))
        .unwrap();
        let token = ClusterMemberJoinToken::from_operation(&op).unwrap();
        assert_eq!(token.server_name, "node9");
        assert_eq!(token.addresses, ["127.0.0.3:8443"]);
        assert_eq!(token.expires_at, "2026-11-27T07:19:03Z");
        // The field order and names LXD's `ClusterMemberJoinToken.String()` produces.
        let json = r#"{"server_name":"node9","fingerprint":"f350","addresses":["127.0.0.3:8443"],"secret":"c240","expires_at":"2026-11-27T07:19:03Z"}"#;
        assert_eq!(
            token.encode(),
            crate::certificate::base64::encode(json.as_bytes())
        );
        assert_eq!(
            ClusterMemberJoinToken::decode(&token.encode()).unwrap(),
            token
        );
        assert!(ClusterMemberJoinToken::decode("not base64!").is_err());
        let debug = format!("{token:?}");
        assert!(!debug.contains("c240"), "{debug}");
    }

    #[test]
    fn certificate_add_token_is_not_a_join_token() {
        let op: Operation = serde_json::from_value(json!({
            "class": "token",
            "metadata": {"addresses": [], "fingerprint": "ab", "secret": "s",
                "request": {"name": "laptop"}}
        }))
        .unwrap();
        assert_eq!(ClusterMemberJoinToken::from_operation(&op), None);
    }

    #[test]
    fn state_post_writes_only_what_is_set() {
        let mut request = ClusterMemberStatePost::new(ClusterMemberAction::Restore);
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            json!({"action": "restore"})
        );
        request.mode = Some(ClusterEvacuateMode::Skip);
        request.force = true;
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            json!({"action": "restore", "mode": "skip", "force": true})
        );
    }

    #[test]
    fn cluster_put_debug_hides_the_token() {
        let put = ClusterPut {
            cluster_token: Some("eyJzZXJ2ZXJfbmFtZSI6".into()),
            cluster_password: Some("c240953e".into()),
            ..Default::default()
        };
        let debug = format!("{put:?}");
        assert!(!debug.contains("eyJzZXJ2ZXJfbmFtZSI6"), "{debug}");
        assert!(!debug.contains("c240953e"), "{debug}");
    }
}
