//! Profiles (`/1.0/profiles`): configuration and devices shared by instances.

use crate::Devices;
use crate::util::nullable;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A profile (`GET /1.0/profiles/<name>`).
///
/// ```
/// use lxd_proto::Profile;
///
/// let profile: Profile = serde_json::from_str(r#"{"name": "default",
///     "description": "Default LXD profile", "config": {},
///     "devices": {"root": {"path": "/", "pool": "default", "type": "disk"}},
///     "used_by": ["/1.0/instances/c1"]}"#).unwrap();
/// assert_eq!(profile.devices["root"]["pool"], "default");
/// let mut put = profile.writable();
/// put.config.insert("limits.cpu".into(), "2".into());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Profile {
    /// Instance configuration applied by the profile.
    #[serde(deserialize_with = "nullable")]
    pub config: BTreeMap<String, String>,
    /// Description.
    pub description: String,
    /// Devices applied by the profile.
    #[serde(deserialize_with = "nullable")]
    pub devices: Devices,
    /// Name.
    pub name: String,
    /// URLs of the instances using the profile.
    #[serde(deserialize_with = "nullable")]
    pub used_by: Vec<String>,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Profile {
    /// The writable part, for `PUT /1.0/profiles/<name>`.
    ///
    /// Unknown fields are carried over so a writable field added by a newer server is not
    /// reset; LXD ignores read-only ones.
    ///
    /// ```
    /// use lxd_proto::Profile;
    ///
    /// let profile: Profile = serde_json::from_str(r#"{"name": "web", "config": {},
    ///     "devices": {"eth0": {"type": "nic", "network": "lxdbr0", "name": "eth0"}},
    ///     "used_by": ["/1.0/instances/web1"]}"#).unwrap();
    /// let mut put = profile.writable();
    /// put.devices.remove("eth0");
    /// put.config.insert("security.nesting".into(), "true".into());
    /// assert!(put.devices.is_empty());
    /// assert!(serde_json::to_value(&put).unwrap().get("used_by").is_none());
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/profiles/profile_put)
    pub fn writable(&self) -> ProfilePut {
        ProfilePut {
            config: self.config.clone(),
            description: self.description.clone(),
            devices: self.devices.clone(),
            extra: self.extra.clone(),
        }
    }
}

/// `PUT`/`PATCH /1.0/profiles/<name>`: the writable part of [`Profile`].
///
/// A `PATCH` merges `config` and `devices` by key (a device given replaces that device).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProfilePut {
    /// Instance configuration.
    #[serde(deserialize_with = "nullable")]
    pub config: BTreeMap<String, String>,
    /// Description.
    pub description: String,
    /// Devices.
    #[serde(deserialize_with = "nullable")]
    pub devices: Devices,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `POST /1.0/profiles`: create a profile. Unset fields are not sent.
///
/// ```
/// use lxd_proto::ProfilesPost;
///
/// let request = ProfilesPost { name: "web".into(), ..Default::default() };
/// assert_eq!(serde_json::to_string(&request).unwrap(), r#"{"name":"web"}"#);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProfilesPost {
    /// Name.
    pub name: String,
    /// Description.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Instance configuration.
    #[serde(
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub config: BTreeMap<String, String>,
    /// Devices.
    #[serde(
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub devices: Devices,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `POST /1.0/profiles/<name>`: rename a profile.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProfilePost {
    /// The new name.
    pub name: String,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
