//! The server's state, all in memory: projects, instances and their snapshots and file
//! systems, images and aliases, profiles, networks, storage pools and volumes, trusted
//! certificates, warnings and the (simulated) cluster.
//!
//! Everything sits behind one mutex that is never held across an `await`.

use std::collections::BTreeMap;

use bytes::Bytes;
use lxd_proto::{Devices, InstanceType, StatusCode};
use serde_json::{Map, Value};

use crate::fs::Fs;
use crate::util;

/// Power state of an instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Power {
    Stopped,
    Running,
    Frozen,
}

impl Power {
    pub(crate) fn status(self) -> (&'static str, StatusCode) {
        match self {
            Power::Stopped => ("Stopped", StatusCode::STOPPED),
            Power::Running => ("Running", StatusCode::RUNNING),
            Power::Frozen => ("Frozen", StatusCode::FROZEN),
        }
    }
}

/// An instance.
#[derive(Clone, Debug)]
pub(crate) struct InstanceRec {
    pub(crate) name: String,
    pub(crate) project: String,
    pub(crate) kind: InstanceType,
    pub(crate) architecture: String,
    pub(crate) config: BTreeMap<String, String>,
    pub(crate) devices: Devices,
    pub(crate) ephemeral: bool,
    pub(crate) profiles: Vec<String>,
    pub(crate) stateful: bool,
    pub(crate) description: String,
    pub(crate) created_at: String,
    pub(crate) last_used_at: String,
    pub(crate) power: Power,
    pub(crate) location: String,
    pub(crate) snapshots: Vec<SnapshotRec>,
    pub(crate) fs: Fs,
    pub(crate) pid: i64,
    /// Log files (`exec_<operation>.stdout` of recorded execs).
    pub(crate) logs: BTreeMap<String, Bytes>,
    /// Writable fields this testkit does not know, kept like LXD keeps nothing (dropped on
    /// the next PUT); here only to avoid losing a client's extra fields between reads.
    pub(crate) extra: Map<String, Value>,
}

impl InstanceRec {
    pub(crate) fn is_container(&self) -> bool {
        self.kind == InstanceType::Container
    }
}

/// A snapshot of an instance.
#[derive(Clone, Debug)]
pub(crate) struct SnapshotRec {
    pub(crate) name: String,
    pub(crate) created_at: String,
    pub(crate) expires_at: String,
    pub(crate) architecture: String,
    pub(crate) config: BTreeMap<String, String>,
    pub(crate) devices: Devices,
    pub(crate) ephemeral: bool,
    pub(crate) profiles: Vec<String>,
    pub(crate) stateful: bool,
    pub(crate) description: String,
    pub(crate) fs: Fs,
}

/// An image.
#[derive(Clone, Debug)]
pub(crate) struct ImageRec {
    pub(crate) fingerprint: String,
    pub(crate) project: String,
    pub(crate) filename: String,
    pub(crate) size: i64,
    pub(crate) architecture: String,
    pub(crate) kind: String,
    pub(crate) public: bool,
    pub(crate) auto_update: bool,
    pub(crate) cached: bool,
    pub(crate) properties: BTreeMap<String, String>,
    pub(crate) profiles: Vec<String>,
    pub(crate) created_at: String,
    pub(crate) uploaded_at: String,
    pub(crate) expires_at: String,
    pub(crate) last_used_at: String,
    /// The uploaded file (unified tarball, or the metadata part of a split image).
    pub(crate) data: Bytes,
    /// The rootfs part of a split image.
    pub(crate) rootfs_data: Option<Bytes>,
    /// What instances created from it start with.
    pub(crate) rootfs: Fs,
}

/// An image alias.
#[derive(Clone, Debug)]
pub(crate) struct AliasRec {
    pub(crate) name: String,
    pub(crate) project: String,
    pub(crate) description: String,
    pub(crate) target: String,
    pub(crate) kind: String,
}

/// A profile.
#[derive(Clone, Debug, Default)]
pub(crate) struct ProfileRec {
    pub(crate) name: String,
    pub(crate) project: String,
    pub(crate) description: String,
    pub(crate) config: BTreeMap<String, String>,
    pub(crate) devices: Devices,
}

/// A network.
#[derive(Clone, Debug, Default)]
pub(crate) struct NetworkRec {
    pub(crate) name: String,
    pub(crate) project: String,
    pub(crate) description: String,
    pub(crate) kind: String,
    pub(crate) managed: bool,
    pub(crate) config: BTreeMap<String, String>,
}

/// A storage pool.
#[derive(Clone, Debug, Default)]
pub(crate) struct PoolRec {
    pub(crate) name: String,
    pub(crate) driver: String,
    pub(crate) description: String,
    pub(crate) config: BTreeMap<String, String>,
}

/// A storage volume (custom, or the volume of an instance or image).
#[derive(Clone, Debug, Default)]
pub(crate) struct VolumeRec {
    pub(crate) pool: String,
    pub(crate) project: String,
    pub(crate) kind: String,
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) config: BTreeMap<String, String>,
    pub(crate) content_type: String,
    pub(crate) created_at: String,
    pub(crate) location: String,
    pub(crate) snapshots: Vec<VolumeSnapshotRec>,
}

/// A snapshot of a storage volume.
#[derive(Clone, Debug, Default)]
pub(crate) struct VolumeSnapshotRec {
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) config: BTreeMap<String, String>,
    pub(crate) created_at: String,
    pub(crate) expires_at: String,
}

/// A trusted certificate.
#[derive(Clone, Debug)]
pub(crate) struct CertRec {
    pub(crate) fingerprint: String,
    pub(crate) name: String,
    pub(crate) kind: String,
    pub(crate) restricted: bool,
    pub(crate) projects: Vec<String>,
    pub(crate) pem: String,
}

/// A warning.
#[derive(Clone, Debug)]
pub(crate) struct WarningRec {
    pub(crate) uuid: String,
    pub(crate) project: String,
    pub(crate) kind: String,
    pub(crate) count: i64,
    pub(crate) first_seen_at: String,
    pub(crate) last_seen_at: String,
    pub(crate) last_message: String,
    pub(crate) severity: String,
    pub(crate) status: String,
    pub(crate) entity_url: String,
    pub(crate) location: String,
}

/// A cluster member (simulated: only the records exist).
#[derive(Clone, Debug)]
pub(crate) struct MemberRec {
    pub(crate) name: String,
    pub(crate) url: String,
    pub(crate) description: String,
    pub(crate) roles: Vec<String>,
    pub(crate) failure_domain: String,
    pub(crate) config: BTreeMap<String, String>,
    pub(crate) groups: Vec<String>,
    pub(crate) status: String,
    pub(crate) message: String,
    pub(crate) architecture: String,
}

/// The whole state.
pub(crate) struct State {
    /// Server configuration (`core.*`, `images.*`, ...), without the trust password.
    pub(crate) config: BTreeMap<String, String>,
    pub(crate) trust_password: Option<String>,
    /// The host name LXD reports (`environment.server_name`).
    pub(crate) server_name: String,
    pub(crate) projects: BTreeMap<String, lxd_proto::Project>,
    pub(crate) instances: Vec<InstanceRec>,
    pub(crate) images: Vec<ImageRec>,
    pub(crate) aliases: Vec<AliasRec>,
    pub(crate) profiles: Vec<ProfileRec>,
    pub(crate) networks: Vec<NetworkRec>,
    pub(crate) pools: Vec<PoolRec>,
    pub(crate) volumes: Vec<VolumeRec>,
    pub(crate) certificates: Vec<CertRec>,
    pub(crate) warnings: Vec<WarningRec>,
    pub(crate) clustered: bool,
    pub(crate) members: Vec<MemberRec>,
    /// Where the API listens on the network (`environment.addresses`).
    pub(crate) addresses: Vec<String>,
    /// Directory of the server (storage pool sources live below it).
    pub(crate) dir: String,
}

/// Project features and whether they default to on for new projects.
pub(crate) const PROJECT_FEATURES: &[(&str, bool)] = &[
    ("features.images", true),
    ("features.profiles", true),
    ("features.storage.volumes", true),
    ("features.networks", false),
];

impl State {
    pub(crate) fn new(server_name: &str, dir: &str) -> State {
        let mut projects = BTreeMap::new();
        projects.insert(
            "default".to_string(),
            lxd_proto::Project {
                name: "default".into(),
                description: "Default LXD project".into(),
                config: PROJECT_FEATURES
                    .iter()
                    .map(|(k, _)| (k.to_string(), "true".to_string()))
                    .collect(),
                ..Default::default()
            },
        );
        State {
            config: BTreeMap::new(),
            trust_password: None,
            server_name: server_name.to_string(),
            projects,
            instances: Vec::new(),
            images: Vec::new(),
            aliases: Vec::new(),
            profiles: vec![ProfileRec {
                name: "default".into(),
                project: "default".into(),
                description: "Default LXD profile".into(),
                ..Default::default()
            }],
            networks: Vec::new(),
            pools: Vec::new(),
            volumes: Vec::new(),
            certificates: Vec::new(),
            warnings: Vec::new(),
            clustered: false,
            members: Vec::new(),
            addresses: Vec::new(),
            dir: dir.to_string(),
        }
    }

    /// Whether a project exists.
    pub(crate) fn has_project(&self, name: &str) -> bool {
        self.projects.contains_key(name)
    }

    /// Whether `feature` (e.g. `features.images`) is on in `project`.
    fn feature(&self, project: &str, feature: &str) -> bool {
        self.projects
            .get(project)
            .and_then(|p| p.config.get(feature))
            .is_some_and(|v| util::is_true(v))
    }

    /// The project whose images `project` uses (itself with `features.images`, else default).
    pub(crate) fn images_project(&self, project: &str) -> String {
        if project == "default" || self.feature(project, "features.images") {
            project.to_string()
        } else {
            "default".to_string()
        }
    }

    /// The project whose profiles `project` uses.
    pub(crate) fn profiles_project(&self, project: &str) -> String {
        if project == "default" || self.feature(project, "features.profiles") {
            project.to_string()
        } else {
            "default".to_string()
        }
    }

    /// The project whose networks `project` uses.
    pub(crate) fn networks_project(&self, project: &str) -> String {
        if project == "default" || self.feature(project, "features.networks") {
            project.to_string()
        } else {
            "default".to_string()
        }
    }

    /// The project whose custom volumes `project` uses.
    pub(crate) fn volumes_project(&self, project: &str) -> String {
        if project == "default" || self.feature(project, "features.storage.volumes") {
            project.to_string()
        } else {
            "default".to_string()
        }
    }

    pub(crate) fn instance(&self, project: &str, name: &str) -> Option<&InstanceRec> {
        self.instances
            .iter()
            .find(|i| i.project == project && i.name == name)
    }

    pub(crate) fn instance_mut(&mut self, project: &str, name: &str) -> Option<&mut InstanceRec> {
        self.instances
            .iter_mut()
            .find(|i| i.project == project && i.name == name)
    }

    pub(crate) fn profile(&self, project: &str, name: &str) -> Option<&ProfileRec> {
        let project = self.profiles_project(project);
        self.profiles
            .iter()
            .find(|p| p.project == project && p.name == name)
    }

    /// Expanded config and devices of an instance-like object: profiles applied in order,
    /// then the local values.
    pub(crate) fn expand(
        &self,
        project: &str,
        profiles: &[String],
        config: &BTreeMap<String, String>,
        devices: &Devices,
    ) -> (BTreeMap<String, String>, Devices) {
        let mut expanded_config = BTreeMap::new();
        let mut expanded_devices = Devices::new();
        for name in profiles {
            if let Some(profile) = self.profile(project, name) {
                expanded_config.extend(profile.config.clone());
                expanded_devices.extend(profile.devices.clone());
            }
        }
        expanded_config.extend(config.clone());
        expanded_devices.extend(devices.clone());
        (expanded_config, expanded_devices)
    }

    /// The image `reference` (fingerprint, unique fingerprint prefix) in `project`'s image
    /// project.
    pub(crate) fn image_by_fingerprint(&self, project: &str, reference: &str) -> Option<&ImageRec> {
        let project = self.images_project(project);
        let mut matches = self
            .images
            .iter()
            .filter(|i| i.project == project && i.fingerprint.starts_with(reference));
        let first = matches.next()?;
        if reference.is_empty() || matches.next().is_some() {
            return None;
        }
        Some(first)
    }

    pub(crate) fn alias(&self, project: &str, name: &str) -> Option<&AliasRec> {
        let project = self.images_project(project);
        self.aliases
            .iter()
            .find(|a| a.project == project && a.name == name)
    }

    pub(crate) fn pool(&self, name: &str) -> Option<&PoolRec> {
        self.pools.iter().find(|p| p.name == name)
    }

    /// The trusted certificate with this fingerprint.
    pub(crate) fn certificate(&self, fingerprint: &str) -> Option<&CertRec> {
        self.certificates
            .iter()
            .find(|c| c.fingerprint == fingerprint)
    }

    /// Whether a TLS client with this certificate fingerprint is trusted.
    pub(crate) fn is_trusted(&self, fingerprint: &str) -> bool {
        self.certificate(fingerprint)
            .is_some_and(|c| c.kind == "client" || c.kind == "server")
    }

    /// The cluster member name used as `location` ("none" when not clustered).
    pub(crate) fn location(&self) -> String {
        if self.clustered {
            self.server_name.clone()
        } else {
            "none".to_string()
        }
    }
}

/// Drops empty values: LXD does not store config keys set to "" (that is how keys are
/// unset).
pub(crate) fn clean_config(config: BTreeMap<String, String>) -> BTreeMap<String, String> {
    config.into_iter().filter(|(_, v)| !v.is_empty()).collect()
}

/// A config map from JSON, accepting LXD's habit of numbers and booleans as values.
pub(crate) fn config_from_json(value: Option<&Value>) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    match value {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (k, v) in map {
                let text = match v {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    Value::Null => String::new(),
                    _ => {
                        return Err(format!(
                            "json: cannot unmarshal {} into Go struct field of type string",
                            if v.is_array() { "array" } else { "object" }
                        ));
                    }
                };
                out.insert(k.clone(), text);
            }
        }
        Some(_) => {
            return Err(
                "json: cannot unmarshal value into Go struct field .config of type map[string]string"
                    .into(),
            );
        }
    }
    Ok(out)
}

/// Devices from JSON.
pub(crate) fn devices_from_json(value: Option<&Value>) -> Result<Devices, String> {
    match value {
        None | Some(Value::Null) => Ok(Devices::new()),
        Some(v) => serde_json::from_value(v.clone()).map_err(|e| e.to_string()),
    }
}

/// A string list from JSON (`null` is empty).
pub(crate) fn strings_from_json(value: Option<&Value>) -> Result<Vec<String>, String> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(v) => serde_json::from_value(v.clone()).map_err(|e| e.to_string()),
    }
}

/// JSON of a string map.
pub(crate) fn map_json(map: &BTreeMap<String, String>) -> Value {
    serde_json::to_value(map).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feature_projects() {
        let mut state = State::new("testkit", "/tmp/x");
        state.projects.insert(
            "p1".into(),
            lxd_proto::Project {
                name: "p1".into(),
                config: [("features.images".to_string(), "false".to_string())].into(),
                ..Default::default()
            },
        );
        assert_eq!(state.images_project("p1"), "default");
        assert_eq!(state.profiles_project("p1"), "default");
        assert_eq!(state.images_project("default"), "default");
        assert_eq!(state.location(), "none");
    }

    #[test]
    fn config_values() {
        let json = serde_json::json!({"a": "x", "b": 1, "c": true, "d": ""});
        let config = config_from_json(Some(&json)).unwrap();
        assert_eq!(config["b"], "1");
        assert_eq!(clean_config(config).len(), 3);
        assert!(config_from_json(Some(&serde_json::json!({"a": [1]}))).is_err());
    }
}
