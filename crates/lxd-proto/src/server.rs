//! The server itself (`GET/PUT/PATCH /1.0`).

use crate::string_enum::string_enum;
use crate::util::nullable;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

string_enum! {
    /// Stability of the API (`api_status`).
    pub enum ApiStatus {
        /// Stable API.
        Stable = "stable",
        /// Development API.
        Development = "development",
        /// Deprecated API.
        Deprecated = "deprecated",
    }
}

string_enum! {
    /// An authentication method the server offers (`auth_methods`).
    pub enum AuthMethod {
        /// TLS client certificates.
        Tls = "tls",
        /// Candid (macaroons), LXD 5.0 and older.
        Candid = "candid",
        /// OpenID Connect, newer LXD and Incus.
        Oidc = "oidc",
    }
}

/// `GET /1.0`: the server, as a trusted or an untrusted client sees it.
///
/// One type for both: an untrusted client only gets `api_extensions`, `api_status`,
/// `api_version`, `auth`, `public` and `auth_methods`; everything else then stays empty and
/// is not written back (so both replies round-trip exactly).
///
/// ```
/// use lxd_proto::Server;
///
/// let server: Server = serde_json::from_str(r#"{
///     "api_extensions": ["etag", "instances"], "api_status": "stable", "api_version": "1.0",
///     "auth": "untrusted", "public": false, "auth_methods": ["tls"]
/// }"#).unwrap();
/// assert!(!server.is_trusted());
/// assert!(server.has_api_extension("etag"));
/// assert!(server.environment.server_version.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Server {
    /// API extensions the server supports; see [`Server::has_api_extension`].
    #[serde(deserialize_with = "nullable")]
    pub api_extensions: Vec<String>,
    /// Stability of the API.
    pub api_status: ApiStatus,
    /// API version, `"1.0"`.
    pub api_version: String,
    /// `"trusted"` or `"untrusted"`; see [`Server::is_trusted`].
    pub auth: String,
    /// Authentication methods offered.
    #[serde(deserialize_with = "nullable")]
    pub auth_methods: Vec<AuthMethod>,
    /// Whether the server is public (image server).
    pub public: bool,
    /// User name the server authenticated (newer LXD, trusted only).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub auth_user_name: String,
    /// How the user was authenticated (newer LXD, trusted only).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub auth_user_method: String,
    /// Host and daemon details (trusted only).
    #[serde(skip_serializing_if = "ServerEnvironment::is_empty")]
    pub environment: ServerEnvironment,
    /// Server configuration (trusted only; values are normally strings).
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Map::is_empty")]
    pub config: Map<String, Value>,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Server {
    /// Whether the client is trusted (`auth == "trusted"`).
    ///
    /// ```
    /// use lxd_proto::Server;
    ///
    /// let server: Server = serde_json::from_str(r#"{"auth": "trusted",
    ///     "environment": {"server_name": "lxd01", "server_version": "5.0.2"}}"#).unwrap();
    /// assert!(server.is_trusted());
    /// assert_eq!(server.environment.server_version, "5.0.2");
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/server/server_get)
    pub fn is_trusted(&self) -> bool {
        self.auth == "trusted"
    }

    /// Whether the server supports the API extension `name` (e.g. `"instances"`).
    ///
    /// Check it before using a feature older servers lack.
    ///
    /// ```
    /// use lxd_proto::Server;
    ///
    /// let server: Server = serde_json::from_str(
    ///     r#"{"api_extensions": ["instances", "project_usage"]}"#,
    /// ).unwrap();
    /// assert!(server.has_api_extension("project_usage"));
    /// assert!(!server.has_api_extension("instance_bulk_state_change"));
    /// ```
    pub fn has_api_extension(&self, name: &str) -> bool {
        self.api_extensions
            .iter()
            .any(|extension| extension == name)
    }

    /// The writable part, for `PUT /1.0`.
    ///
    /// Unknown fields are carried over, so a writable field added by a newer server is sent
    /// back unchanged rather than reset; LXD ignores read-only fields in a PUT body.
    ///
    /// ```
    /// use lxd_proto::Server;
    ///
    /// let server: Server = serde_json::from_str(r#"{"auth": "trusted", "api_version": "1.0",
    ///     "config": {"core.https_address": ":8443"}}"#).unwrap();
    /// let mut put = server.to_put();
    /// put.config.insert("images.auto_update_interval".into(), "0".into());
    /// assert_eq!(put.config["core.https_address"], ":8443");
    /// assert_eq!(put.config.len(), 2);
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/server/server_put)
    pub fn to_put(&self) -> ServerPut {
        ServerPut {
            config: self.config.clone(),
            extra: self.extra.clone(),
        }
    }
}

/// `environment` of [`Server`]: host and daemon details (trusted clients only).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerEnvironment {
    /// Addresses the API listens on.
    #[serde(deserialize_with = "nullable")]
    pub addresses: Vec<String>,
    /// Architectures the server can run instances of.
    #[serde(deserialize_with = "nullable")]
    pub architectures: Vec<String>,
    /// The server certificate (PEM).
    pub certificate: String,
    /// SHA-256 fingerprint of the server certificate (hex).
    pub certificate_fingerprint: String,
    /// Instance drivers, e.g. `"lxc"` or `"lxc | qemu"`.
    pub driver: String,
    /// Driver versions, same order as `driver`.
    pub driver_version: String,
    /// Firewall driver (`"nftables"`, `"xtables"`).
    pub firewall: String,
    /// Kernel name (`"Linux"`).
    pub kernel: String,
    /// Kernel architecture.
    pub kernel_architecture: String,
    /// Kernel features (`"true"`/`"false"` strings).
    #[serde(deserialize_with = "nullable")]
    pub kernel_features: BTreeMap<String, String>,
    /// Kernel version.
    pub kernel_version: String,
    /// LXC features (`"true"`/`"false"` strings).
    #[serde(deserialize_with = "nullable")]
    pub lxc_features: BTreeMap<String, String>,
    /// Host OS name.
    pub os_name: String,
    /// Host OS version.
    pub os_version: String,
    /// Project the request was made in.
    pub project: String,
    /// Server implementation: `"lxd"` (Incus says `"incus"`).
    pub server: String,
    /// Whether the server is part of a cluster.
    pub server_clustered: bool,
    /// Event distribution mode (`"full-mesh"`, `"hub-server"`, `"hub-client"`).
    pub server_event_mode: String,
    /// Name of this server (cluster member name or host name).
    pub server_name: String,
    /// PID of the daemon.
    pub server_pid: i64,
    /// Daemon version, e.g. `"5.0.2"`.
    pub server_version: String,
    /// Storage drivers in use, e.g. `"dir"` or `"zfs | dir"`.
    pub storage: String,
    /// Storage driver versions, same order as `storage`.
    pub storage_version: String,
    /// Storage drivers the server supports.
    #[serde(deserialize_with = "nullable")]
    pub storage_supported_drivers: Vec<ServerStorageDriverInfo>,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ServerEnvironment {
    /// Whether nothing is set (the untrusted view of the server has no environment).
    ///
    /// ```
    /// use lxd_proto::Server;
    ///
    /// let untrusted: Server = serde_json::from_str(r#"{"auth": "untrusted"}"#).unwrap();
    /// assert!(untrusted.environment.is_empty());
    ///
    /// let trusted: Server = serde_json::from_str(
    ///     r#"{"auth": "trusted", "environment": {"server_name": "lxd01"}}"#,
    /// ).unwrap();
    /// assert!(!trusted.environment.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// One entry of `storage_supported_drivers`.
///
/// LXD sends these keys capitalised (`Name`, `Version`, `Remote`: the Go struct has no JSON
/// tags); lowercase keys are accepted too.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerStorageDriverInfo {
    /// Driver name (`"dir"`, `"zfs"`, ...).
    #[serde(rename = "Name", alias = "name")]
    pub name: String,
    /// Driver version.
    #[serde(rename = "Version", alias = "version")]
    pub version: String,
    /// Whether the driver is remote (shared between cluster members).
    #[serde(rename = "Remote", alias = "remote")]
    pub remote: bool,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `PUT /1.0` (and `PATCH`): the writable part of [`Server`].
///
/// `config` is always sent: on `PUT`, LXD resets keys that are not in it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerPut {
    /// Server configuration.
    #[serde(deserialize_with = "nullable")]
    pub config: Map<String, Value>,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lowercase_driver_keys_are_accepted() {
        let info: ServerStorageDriverInfo =
            serde_json::from_value(json!({"name": "zfs", "version": "2.1", "remote": false}))
                .unwrap();
        assert_eq!(info.name, "zfs");
        assert_eq!(info.version, "2.1");
        assert!(info.extra.is_empty());
        assert_eq!(
            serde_json::to_value(&info).unwrap(),
            json!({"Name": "zfs", "Version": "2.1", "Remote": false})
        );
    }

    #[test]
    fn to_put_keeps_config_and_unknown_fields() {
        let server: Server = serde_json::from_value(json!({
            "auth": "trusted",
            "config": {"core.https_address": ":8443"},
            "future_writable": 1
        }))
        .unwrap();
        let put = server.to_put();
        assert_eq!(
            serde_json::to_value(&put).unwrap(),
            json!({"config": {"core.https_address": ":8443"}, "future_writable": 1})
        );
        assert_eq!(
            serde_json::to_value(ServerPut::default()).unwrap(),
            json!({"config": {}})
        );
    }

    #[test]
    fn nulls_decode_as_empty() {
        let server: Server =
            serde_json::from_value(json!({"api_extensions": null, "config": null})).unwrap();
        assert!(server.api_extensions.is_empty());
        assert!(server.config.is_empty());
        assert_eq!(server.api_status, ApiStatus::Other(String::new()));
    }

    /// `GET /1.0` of Incus 7.0.2 to an untrusted client over HTTPS, in the shape it sends
    /// (`ServerUntrusted`: the list of extensions is withheld as `null`).
    const INCUS7_UNTRUSTED: &str = r#"{"config":{},"api_extensions":null,"api_status":"stable",
        "api_version":"1.0","auth":"untrusted","public":false,"auth_methods":["tls"]}"#;

    /// The environment of Incus 7.0.2 (trusted) where a map or list is empty or unset.
    const INCUS7_TRUSTED: &str = r#"{"config":{},"api_extensions":["etag","dev_incus_events"],
        "api_status":"stable","api_version":"1.0","auth":"trusted","public":false,
        "auth_methods":["tls"],"auth_user_name":"root","auth_user_method":"unix",
        "environment":{"addresses":null,"architectures":["x86_64","i686"],"certificate":"",
        "certificate_fingerprint":"","driver":"lxc","driver_version":"7.0.0","firewall":"nftables",
        "kernel":"Linux","kernel_architecture":"x86_64","kernel_features":{},
        "kernel_version":"6.1.0","lxc_features":null,"os_name":"Debian GNU/Linux",
        "os_version":"","project":"default","server":"incus","server_clustered":false,
        "server_event_mode":"full-mesh","server_name":"sid","server_pid":42,
        "server_version":"7.0.2","storage":"dir","storage_version":"1",
        "storage_supported_drivers":null}}"#;

    #[test]
    fn incus_7_shapes_decode() {
        let untrusted: Server = serde_json::from_str(INCUS7_UNTRUSTED).unwrap();
        assert!(untrusted.api_extensions.is_empty());
        assert!(!untrusted.is_trusted());
        assert_eq!(untrusted.auth_methods, [AuthMethod::Tls]);
        assert!(untrusted.environment.is_empty());

        let trusted: Server = serde_json::from_str(INCUS7_TRUSTED).unwrap();
        assert!(trusted.is_trusted());
        let env = &trusted.environment;
        assert!(env.kernel_features.is_empty());
        assert!(env.lxc_features.is_empty());
        assert!(env.addresses.is_empty());
        assert!(env.storage_supported_drivers.is_empty());
        assert_eq!(env.server_version, "7.0.2");
        assert!(trusted.has_api_extension("dev_incus_events"));
    }
}
