//! `/1.0/instances` and `/1.0/instances/<name>`: list (recursion, filter, all projects),
//! create (image alias or fingerprint, none, copy; containers and simulated VMs, placement
//! with `target`), get, PUT/PATCH with ETags, rename, delete.

use std::collections::BTreeMap;
use std::sync::Arc;

use lxd_proto::{
    Devices, Instance, InstancePut, InstanceSourceType, InstanceState, InstanceStateCpu,
    InstanceStateMemory, InstanceStateNetwork, InstanceStateNetworkCounters, InstanceType,
    InstancesPost, LifecycleAction,
};
use serde_json::{Map, Value, json};

use crate::api::check_etag;
use crate::events::context;
use crate::filter;
use crate::fs::Fs;
use crate::http::{ApiError, ApiResult, Reply, Req};
use crate::operations::OpSpec;
use crate::server::Inner;
use crate::state::{
    InstanceRec, Power, SnapshotRec, State, clean_config, config_from_json, devices_from_json,
    strings_from_json,
};
use crate::util::{self, api_url};

pub(crate) fn not_found() -> ApiError {
    ApiError::not_found("Instance not found")
}

/// The URL of an instance.
pub(crate) fn url(rec: &InstanceRec) -> String {
    api_url(&["instances", &rec.name], &rec.project)
}

/// The ETag LXD computes for an instance: its writable local fields.
pub(crate) fn etag(rec: &InstanceRec) -> String {
    util::etag_of(&json!([
        rec.architecture,
        rec.config,
        rec.devices,
        rec.ephemeral,
        rec.profiles
    ]))
}

/// The instance as `GET` shows it.
pub(crate) fn render(state: &State, rec: &InstanceRec) -> Instance {
    let (expanded_config, expanded_devices) =
        state.expand(&rec.project, &rec.profiles, &rec.config, &rec.devices);
    let (status, status_code) = rec.power.status();
    Instance {
        architecture: rec.architecture.clone(),
        config: rec.config.clone(),
        devices: rec.devices.clone(),
        ephemeral: rec.ephemeral,
        profiles: rec.profiles.clone(),
        stateful: rec.stateful,
        description: rec.description.clone(),
        created_at: rec.created_at.clone(),
        expanded_config,
        expanded_devices,
        name: rec.name.clone(),
        status: status.into(),
        status_code,
        last_used_at: rec.last_used_at.clone(),
        location: rec.location.clone(),
        instance_type: rec.kind.clone(),
        project: rec.project.clone(),
        extra: rec.extra.clone(),
    }
}

/// The runtime state (`GET /1.0/instances/<name>/state`).
pub(crate) fn render_state(rec: &InstanceRec) -> InstanceState {
    let (status, status_code) = rec.power.status();
    let active = rec.power != Power::Stopped;
    let network = active.then(|| {
        BTreeMap::from([(
            "lo".to_string(),
            InstanceStateNetwork {
                addresses: Vec::new(),
                counters: InstanceStateNetworkCounters::default(),
                mtu: 65536,
                state: "down".into(),
                network_type: "loopback".into(),
                ..Default::default()
            },
        )])
    });
    InstanceState {
        status: status.into(),
        status_code,
        disk: Some(BTreeMap::new()),
        memory: InstanceStateMemory {
            usage: if active { 372_736 } else { 0 },
            usage_peak: if active { 1_368_064 } else { 0 },
            ..Default::default()
        },
        network,
        pid: if active { rec.pid } else { 0 },
        processes: if !active {
            0
        } else if rec.is_container() {
            1
        } else {
            -1
        },
        cpu: InstanceStateCpu {
            usage: if active { 11_451_175 } else { 0 },
            ..Default::default()
        },
        extra: Map::new(),
    }
}

/// A snapshot as the API shows it (`InstanceSnapshot`).
pub(crate) fn render_snapshot(state: &State, rec: &InstanceRec, snap: &SnapshotRec) -> Value {
    let (expanded_config, expanded_devices) =
        state.expand(&rec.project, &snap.profiles, &snap.config, &snap.devices);
    json!({
        "architecture": snap.architecture,
        "config": snap.config,
        "created_at": snap.created_at,
        "devices": snap.devices,
        "ephemeral": snap.ephemeral,
        "expanded_config": expanded_config,
        "expanded_devices": expanded_devices,
        "expires_at": snap.expires_at,
        "last_used_at": util::GO_ZERO_TIME,
        "name": snap.name,
        "profiles": snap.profiles,
        "size": snap.fs.usage(),
        "stateful": snap.stateful,
    })
}

/// The full form (`recursion=2`, `instance_get_full`): with state, snapshots and backups.
pub(crate) fn render_full(state: &State, rec: &InstanceRec) -> Value {
    let mut value = serde_json::to_value(render(state, rec)).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.insert("backups".into(), Value::Null);
        map.insert(
            "state".into(),
            serde_json::to_value(render_state(rec)).unwrap_or(Value::Null),
        );
        let snapshots: Vec<Value> = rec
            .snapshots
            .iter()
            .map(|s| render_snapshot(state, rec, s))
            .collect();
        map.insert(
            "snapshots".into(),
            if snapshots.is_empty() {
                Value::Null
            } else {
                Value::Array(snapshots)
            },
        );
    }
    value
}

/// `GET /1.0/instances`.
pub(crate) fn list(inner: &Arc<Inner>, req: &Req) -> ApiResult {
    let all_projects = req.all_projects();
    if all_projects && req.query("project").is_some_and(|p| !p.is_empty()) {
        return Err(ApiError::bad_request(
            "Cannot specify a project when requesting all projects",
        ));
    }
    let clauses = match req.query("filter") {
        Some(text) if !text.trim().is_empty() => filter::parse(text)
            .map_err(|e| ApiError::bad_request(format!("Invalid filter: {e}")))?,
        _ => Vec::new(),
    };
    let project = req.project();
    let recursion = req.recursion();
    // `instance-type` narrows to containers or virtual machines (LXD 5.0 reads it here).
    let kind = match req.query("instance-type") {
        None | Some("") => None,
        Some("container") => Some(InstanceType::Container),
        Some("virtual-machine") => Some(InstanceType::VirtualMachine),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "Invalid instance type {other:?}"
            )));
        }
    };
    let state = inner.state();
    let mut items = Vec::new();
    for rec in state
        .instances
        .iter()
        .filter(|i| all_projects || i.project == project)
        .filter(|i| kind.as_ref().is_none_or(|k| &i.kind == k))
    {
        if !clauses.is_empty() {
            let object = render_full(&state, rec);
            if !filter::matches(&object, &clauses) {
                continue;
            }
        }
        items.push(match recursion {
            0 => Value::String(url(rec)),
            1 => serde_json::to_value(render(&state, rec)).unwrap_or(Value::Null),
            _ => render_full(&state, rec),
        });
    }
    Ok(Reply::sync(items))
}

/// `GET /1.0/instances/<name>` (full form with `recursion`).
pub(crate) fn get(inner: &Arc<Inner>, req: &Req, name: &str) -> ApiResult {
    let state = inner.state();
    let rec = state.instance(&req.project(), name).ok_or_else(not_found)?;
    let value = if req.recursion() > 0 {
        render_full(&state, rec)
    } else {
        serde_json::to_value(render(&state, rec)).unwrap_or(Value::Null)
    };
    Ok(Reply::with_etag(value, etag(rec)))
}

/// Words for generated names (LXD uses petnames: adjective-animal).
const ADJECTIVES: &[&str] = &[
    "able", "brave", "calm", "eager", "fancy", "gentle", "happy", "jolly", "keen", "lively",
    "merry", "nice", "proud", "quick", "sunny", "witty",
];
const ANIMALS: &[&str] = &[
    "ant", "bat", "cat", "dog", "eel", "fox", "gnu", "hen", "ibis", "jay", "koi", "lynx", "mole",
    "newt", "owl", "pug",
];

fn generate_name(state: &State, project: &str) -> String {
    loop {
        let bytes = util::secret();
        let pick =
            |i: usize, len: usize| usize::from_str_radix(&bytes[i..i + 2], 16).unwrap_or(0) % len;
        let name = format!(
            "{}-{}",
            ADJECTIVES[pick(0, ADJECTIVES.len())],
            ANIMALS[pick(2, ANIMALS.len())]
        );
        if state.instance(project, &name).is_none() {
            return name;
        }
    }
}

/// Where an instance's root disk lives: the pool of the `root` disk device.
pub(crate) fn root_pool(devices: &Devices) -> Option<String> {
    devices
        .values()
        .find(|d| {
            d.get("type").map(String::as_str) == Some("disk")
                && d.get("path").map(String::as_str) == Some("/")
        })
        .and_then(|d| d.get("pool").cloned())
}

/// Config keys copied from an image onto the instance (LXD's `image.*` keys).
fn image_config(properties: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    properties
        .iter()
        .map(|(k, v)| (format!("image.{k}"), v.clone()))
        .collect()
}

/// What a new instance starts from.
struct Source {
    fs: Fs,
    config: BTreeMap<String, String>,
    kind: Option<InstanceType>,
    architecture: Option<String>,
    /// Set when the operation must fail (LXD fails these inside the operation).
    failure: Option<String>,
}

fn resolve_source(state: &State, project: &str, post: &InstancesPost) -> Result<Source, ApiError> {
    let source = &post.source;
    match &source.source_type {
        InstanceSourceType::Image => {
            if !source.server.is_empty() {
                return Ok(Source {
                    fs: Fs::skeleton(),
                    config: BTreeMap::new(),
                    kind: None,
                    architecture: None,
                    failure: Some(format!(
                        "Failed getting remote image info: lxd-testkit serves only local images (asked for {})",
                        source.server
                    )),
                });
            }
            let image = if !source.alias.is_empty() {
                let alias = state
                    .alias(project, &source.alias)
                    .ok_or_else(|| ApiError::not_found("Image alias not found"))?;
                state
                    .image_by_fingerprint(project, &alias.target)
                    .ok_or_else(|| ApiError::not_found("Image not found"))?
            } else if !source.fingerprint.is_empty() {
                state
                    .image_by_fingerprint(project, &source.fingerprint)
                    .ok_or_else(|| ApiError::not_found("Image not found"))?
            } else if !source.properties.is_empty() {
                let images_project = state.images_project(project);
                state
                    .images
                    .iter()
                    .filter(|i| i.project == images_project)
                    .filter(|i| {
                        source
                            .properties
                            .iter()
                            .all(|(k, v)| i.properties.get(k) == Some(v))
                    })
                    .max_by(|a, b| a.created_at.cmp(&b.created_at))
                    .ok_or_else(|| ApiError::not_found("Image not found"))?
            } else {
                return Err(ApiError::bad_request(
                    "Must specify one of alias, fingerprint or properties for init from image",
                ));
            };
            let mut config = image_config(&image.properties);
            config.insert("volatile.base_image".into(), image.fingerprint.clone());
            Ok(Source {
                fs: image.rootfs.clone(),
                config,
                kind: Some(InstanceType::from(image.kind.as_str())),
                architecture: Some(image.architecture.clone()),
                failure: None,
            })
        }
        InstanceSourceType::None => Ok(Source {
            fs: Fs::new(),
            config: BTreeMap::new(),
            kind: None,
            architecture: None,
            failure: None,
        }),
        InstanceSourceType::Copy => {
            let source_project = if source.project.is_empty() {
                project
            } else {
                source.project.as_str()
            };
            let (parent, snapshot) = match source.source.split_once('/') {
                Some((p, s)) => (p, Some(s)),
                None => (source.source.as_str(), None),
            };
            let rec = state
                .instance(source_project, parent)
                .ok_or_else(not_found)?;
            let (fs, config) = match snapshot {
                Some(snap) => {
                    let snap = rec
                        .snapshots
                        .iter()
                        .find(|s| s.name == snap)
                        .ok_or_else(not_found)?;
                    (snap.fs.clone(), snap.config.clone())
                }
                None => (rec.fs.clone(), rec.config.clone()),
            };
            let config = config
                .into_iter()
                .filter(|(k, _)| !k.starts_with("volatile.") || k == "volatile.base_image")
                .collect();
            Ok(Source {
                fs,
                config,
                kind: Some(rec.kind.clone()),
                architecture: Some(rec.architecture.clone()),
                failure: None,
            })
        }
        InstanceSourceType::Migration => Err(ApiError::not_implemented(
            "lxd-testkit does not implement migration sources",
        )),
        other => Err(ApiError::bad_request(format!(
            "Unknown source type {other}"
        ))),
    }
}

/// `POST /1.0/instances`.
pub(crate) fn create(inner: &Arc<Inner>, req: &Req) -> ApiResult {
    let post: InstancesPost = req.json()?;
    let project = req.project();
    let state = inner.state();
    if !state.has_project(&project) {
        return Err(ApiError::not_found(
            "Failed loading project: Project not found",
        ));
    }
    let location = match req.query("target").filter(|t| !t.is_empty()) {
        Some(target) => {
            if !state.clustered {
                return Err(ApiError::bad_request("Target only allowed when clustered"));
            }
            if !state.members.iter().any(|m| m.name == target) {
                return Err(ApiError::not_found(format!(
                    "Failed to get cluster member {target:?}: Cluster member not found"
                )));
            }
            target.to_string()
        }
        None => state.location(),
    };
    let source = resolve_source(&state, &project, &post)?;
    let profiles = post
        .profiles
        .clone()
        .unwrap_or_else(|| vec!["default".into()]);
    for profile in &profiles {
        if state.profile(&project, profile).is_none() {
            return Err(ApiError::internal(format!(
                "Requested profile {profile:?} doesn't exist"
            )));
        }
    }
    let name = if post.name.is_empty() {
        generate_name(&state, &project)
    } else {
        post.name.clone()
    };
    util::validate_instance_name(&name).map_err(ApiError::bad_request)?;
    let kind = match post.instance_type.clone().or(source.kind.clone()) {
        None => InstanceType::Container,
        Some(InstanceType::Other(other)) if !other.is_empty() => {
            return Err(ApiError::bad_request(format!(
                "Invalid instance type {other:?}"
            )));
        }
        Some(InstanceType::Other(_)) => InstanceType::Container,
        Some(kind) => kind,
    };
    let devices = post.devices.clone();
    let (_, expanded_devices) = state.expand(&project, &profiles, &BTreeMap::new(), &devices);
    let pool = root_pool(&expanded_devices);
    let is_container = kind == InstanceType::Container;
    drop(state);

    let mut config = source.config.clone();
    config.extend(post.config.clone());
    config.insert("volatile.uuid".into(), util::uuid());
    let config = clean_config(config);
    let architecture = if post.architecture.is_empty() {
        source
            .architecture
            .clone()
            .unwrap_or_else(|| "x86_64".into())
    } else {
        post.architecture.clone()
    };
    let rec = InstanceRec {
        name: name.clone(),
        project: project.clone(),
        kind: kind.clone(),
        architecture,
        config,
        devices,
        ephemeral: post.ephemeral,
        profiles,
        stateful: false,
        description: post.description.clone(),
        created_at: util::now(),
        last_used_at: util::EPOCH.into(),
        power: Power::Stopped,
        location,
        snapshots: Vec::new(),
        fs: source.fs,
        pid: 0,
        logs: BTreeMap::new(),
        extra: Map::new(),
    };

    let op = inner
        .ops
        .create(OpSpec::task("Creating instance", &project).instance(&name, is_container));
    let task_inner = inner.clone();
    let failure = source.failure;
    Ok(inner.ops.start(&op, req.faults.operation.clone(), async move {
        let inner = task_inner;
        if let Some(failure) = failure {
            return Err(failure);
        }
        let Some(pool) = pool else {
            return Err("Failed initializing instance: Invalid devices: Failed detecting root disk device: No root device could be found".into());
        };
        {
            let mut state = inner.state();
            if state.instance(&rec.project, &rec.name).is_some() {
                return Err("Failed creating instance record: Add instance info to the database: This \"instances\" entry already exists".into());
            }
            if state.pool(&pool).is_none() {
                return Err(format!(
                    "Failed initializing instance: Failed loading storage pool: Storage pool {pool:?} not found"
                ));
            }
            state.instances.push(rec.clone());
        }
        inner.events.log(
            "info",
            "Created instance",
            &[
                ("ephemeral", if rec.ephemeral { "true" } else { "false" }),
                ("instance", &rec.name),
                ("instanceType", rec.kind.as_str()),
                ("project", &rec.project),
            ],
        );
        inner.events.lifecycle(
            &rec.project,
            LifecycleAction::InstanceCreated,
            url(&rec),
            context(&[
                ("storage-pool", Value::String(pool)),
                ("type", Value::String(rec.kind.to_string())),
            ]),
            None,
        );
        Ok(())
    }))
}

/// Applies a PUT body (`patch` = merge) to an instance; checks profiles exist.
fn apply_update(
    state: &State,
    rec: &InstanceRec,
    body: &Map<String, Value>,
    patch: bool,
) -> Result<InstanceRec, String> {
    let mut next = rec.clone();
    let put: InstancePut =
        serde_json::from_value(Value::Object(body.clone())).map_err(|e| e.to_string())?;
    let config = config_from_json(body.get("config"))?;
    let devices = devices_from_json(body.get("devices"))?;
    if patch {
        if body.contains_key("config") {
            next.config.extend(config);
        }
        if body.contains_key("devices") {
            next.devices.extend(devices);
        }
        if body.contains_key("profiles") {
            next.profiles = strings_from_json(body.get("profiles"))?;
        }
        // LXD 5.0's PATCH takes `description` as sent: left out, it becomes empty.
        next.description = put.description.clone();
        if body.contains_key("ephemeral") {
            next.ephemeral = put.ephemeral;
        }
        if body.contains_key("architecture") && !put.architecture.is_empty() {
            next.architecture = put.architecture.clone();
        }
    } else {
        // Volatile keys are LXD's own: a PUT that leaves them out keeps them.
        let mut merged: BTreeMap<String, String> = rec
            .config
            .iter()
            .filter(|(k, _)| k.starts_with("volatile."))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        merged.extend(config);
        next.config = merged;
        next.devices = devices;
        next.profiles = put.profiles.clone();
        next.description = put.description.clone();
        next.ephemeral = put.ephemeral;
        if !put.architecture.is_empty() {
            next.architecture = put.architecture.clone();
        }
    }
    next.config = clean_config(next.config);
    for profile in &next.profiles {
        if state.profile(&rec.project, profile).is_none() {
            return Err(format!("Requested profile {profile:?} doesn't exist"));
        }
    }
    Ok(next)
}

/// `PUT /1.0/instances/<name>`: replace the writable fields, or restore a snapshot
/// (`restore`); an operation either way.
pub(crate) fn put(inner: &Arc<Inner>, req: &Req, name: &str) -> ApiResult {
    let body = req.json_object()?;
    let project = req.project();
    let (is_container, restore) = {
        let state = inner.state();
        let rec = state.instance(&project, name).ok_or_else(not_found)?;
        check_etag(req, &etag(rec))?;
        // `restore` names the snapshot alone or as `<instance>/<snapshot>`.
        let restore = body
            .get("restore")
            .and_then(Value::as_str)
            .filter(|r| !r.is_empty())
            .map(|r| match r.split_once('/') {
                Some((_, snapshot)) => snapshot.to_string(),
                None => r.to_string(),
            });
        (rec.is_container(), restore)
    };
    let description = if restore.is_some() {
        "Restoring snapshot"
    } else {
        "Updating instance"
    };
    let op = inner
        .ops
        .create(OpSpec::task(description, &project).instance(name, is_container));
    let task_inner = inner.clone();
    let name = name.to_string();
    let requestor = req.requestor();
    Ok(inner
        .ops
        .start(&op, req.faults.operation.clone(), async move {
            let inner = task_inner;
            let (action, context_map, source) = {
                let mut state = inner.state();
                let rec = state
                    .instance(&project, &name)
                    .cloned()
                    .ok_or_else(|| "Instance not found".to_string())?;
                match &restore {
                    Some(snapshot) => {
                        let snap = rec
                            .snapshots
                            .iter()
                            .find(|s| &s.name == snapshot)
                            .cloned()
                            .ok_or_else(|| "Instance snapshot not found".to_string())?;
                        let target = state.instance_mut(&project, &name).expect("checked above");
                        target.config = snap.config.clone();
                        target.devices = snap.devices.clone();
                        target.profiles = snap.profiles.clone();
                        target.ephemeral = snap.ephemeral;
                        target.description = snap.description.clone();
                        target.fs = snap.fs.clone();
                        (
                            LifecycleAction::InstanceRestored,
                            context(&[("snapshot", Value::String(snapshot.clone()))]),
                            url(target),
                        )
                    }
                    None => {
                        let next = apply_update(&state, &rec, &body, false)?;
                        let target = state.instance_mut(&project, &name).expect("checked above");
                        *target = next;
                        (LifecycleAction::InstanceUpdated, Map::new(), url(target))
                    }
                }
            };
            inner
                .events
                .lifecycle(&project, action, source, context_map, Some(requestor));
            Ok(())
        }))
}

/// `PATCH /1.0/instances/<name>`: merge (sync, like LXD 5.0).
pub(crate) fn patch(inner: &Arc<Inner>, req: &Req, name: &str) -> ApiResult {
    let body = req.json_object()?;
    let project = req.project();
    let source = {
        let mut state = inner.state();
        let rec = state
            .instance(&project, name)
            .cloned()
            .ok_or_else(not_found)?;
        check_etag(req, &etag(&rec))?;
        let next = apply_update(&state, &rec, &body, true).map_err(ApiError::bad_request)?;
        let target = state.instance_mut(&project, name).expect("checked above");
        *target = next;
        url(target)
    };
    inner.events.lifecycle(
        &project,
        LifecycleAction::InstanceUpdated,
        source,
        Map::new(),
        Some(req.requestor()),
    );
    Ok(Reply::empty())
}

/// `POST /1.0/instances/<name>`: rename (an operation). Migration and moves between pools
/// or projects are not implemented.
pub(crate) fn post(inner: &Arc<Inner>, req: &Req, name: &str) -> ApiResult {
    let body = req.json_object()?;
    let project = req.project();
    let is_container = {
        let state = inner.state();
        state
            .instance(&project, name)
            .ok_or_else(not_found)?
            .is_container()
    };
    if body.get("migration").and_then(Value::as_bool) == Some(true) {
        return Err(ApiError::not_implemented(
            "lxd-testkit does not implement instance migration",
        ));
    }
    if body
        .get("pool")
        .and_then(Value::as_str)
        .is_some_and(|p| !p.is_empty())
        || body
            .get("project")
            .and_then(Value::as_str)
            .is_some_and(|p| !p.is_empty())
    {
        return Err(ApiError::not_implemented(
            "lxd-testkit does not implement moving instances between pools or projects",
        ));
    }
    let new_name = super::text(&body, "name").to_string();
    util::validate_instance_name(&new_name).map_err(ApiError::bad_request)?;
    let op = inner
        .ops
        .create(OpSpec::task("Renaming instance", &project).instance(name, is_container));
    let task_inner = inner.clone();
    let old = name.to_string();
    let requestor = req.requestor();
    Ok(inner
        .ops
        .start(&op, req.faults.operation.clone(), async move {
            let inner = task_inner;
            let source = {
                let mut state = inner.state();
                if state.instance(&project, &new_name).is_some() {
                    return Err(format!("Name {new_name:?} already in use"));
                }
                let rec = state
                    .instance_mut(&project, &old)
                    .ok_or_else(|| "Instance not found".to_string())?;
                if rec.power != Power::Stopped && rec.is_container() {
                    return Err("Renaming of running container not allowed".into());
                }
                rec.name = new_name.clone();
                url(rec)
            };
            inner.events.lifecycle(
                &project,
                LifecycleAction::InstanceRenamed,
                source,
                context(&[("old_name", Value::String(old))]),
                Some(requestor),
            );
            Ok(())
        }))
}

/// Removes an instance (used by delete and by ephemeral stops); its volumes go with it.
pub(crate) fn remove(inner: &Arc<Inner>, project: &str, name: &str) -> Option<String> {
    let mut state = inner.state();
    let index = state
        .instances
        .iter()
        .position(|i| i.project == project && i.name == name)?;
    let rec = state.instances.remove(index);
    Some(url(&rec))
}

/// `DELETE /1.0/instances/<name>`: refused while running (LXD: 400 "Instance is running").
pub(crate) fn delete(inner: &Arc<Inner>, req: &Req, name: &str) -> ApiResult {
    let project = req.project();
    let is_container = {
        let state = inner.state();
        let rec = state.instance(&project, name).ok_or_else(not_found)?;
        if rec.power != Power::Stopped {
            return Err(ApiError::bad_request("Instance is running"));
        }
        rec.is_container()
    };
    let op = inner
        .ops
        .create(OpSpec::task("Deleting instance", &project).instance(name, is_container));
    let task_inner = inner.clone();
    let name = name.to_string();
    Ok(inner
        .ops
        .start(&op, req.faults.operation.clone(), async move {
            let inner = task_inner;
            {
                let state = inner.state();
                match state.instance(&project, &name) {
                    None => return Err("Instance not found".into()),
                    Some(rec) if rec.power != Power::Stopped => {
                        return Err("Instance is running".into());
                    }
                    Some(_) => {}
                }
            }
            if let Some(source) = remove(&inner, &project, &name) {
                inner.events.lifecycle(
                    &project,
                    LifecycleAction::InstanceDeleted,
                    source,
                    Map::new(),
                    None,
                );
            }
            Ok(())
        }))
}
