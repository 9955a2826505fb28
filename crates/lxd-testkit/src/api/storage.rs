//! `/1.0/storage-pools`: pools, their volumes (custom volumes are records; instance and
//! snapshot volumes are derived from the instances) and custom volume snapshots.

use std::sync::Arc;

use lxd_proto::LifecycleAction;
use serde_json::{Map, Value, json};

use crate::api::check_etag;
use crate::api::writes::{self, Lifecycle, WriteOp};
use crate::events::context;
use crate::http::{ApiError, ApiResult, Reply, Req};
use crate::operations::OpSpec;
use crate::server::Inner;
use crate::state::{
    PoolRec, State, VolumeRec, VolumeSnapshotRec, clean_config, config_from_json, map_json,
};
use crate::util::{self, api_url};

const DRIVERS: &[&str] = &["dir", "btrfs", "lvm", "zfs", "ceph", "cephfs", "cephobject"];

fn pool_url(name: &str) -> String {
    api_url(&["storage-pools", name], "")
}

fn volume_url(project: &str, pool: &str, kind: &str, name: &str) -> String {
    api_url(&["storage-pools", pool, "volumes", kind, name], project)
}

fn snapshot_url(project: &str, pool: &str, kind: &str, name: &str, snapshot: &str) -> String {
    api_url(
        &[
            "storage-pools",
            pool,
            "volumes",
            kind,
            name,
            "snapshots",
            snapshot,
        ],
        project,
    )
}

fn pool_not_found() -> ApiError {
    ApiError::not_found("Storage pool not found")
}

fn volume_not_found() -> ApiError {
    ApiError::not_found("Storage volume not found")
}

/// Whether `devices` attach the custom volume `name` of `pool`.
fn attaches(devices: &lxd_proto::Devices, pool: &str, name: &str) -> bool {
    devices.values().any(|d| {
        d.get("type").map(String::as_str) == Some("disk")
            && d.get("pool").map(String::as_str) == Some(pool)
            && d.get("source").map(String::as_str) == Some(name)
    })
}

/// A volume as the API shows it, custom or derived from an instance.
#[derive(Clone)]
struct VolumeView {
    rec: VolumeRec,
    used_by: Vec<String>,
}

/// Every volume of `pool`: instance volumes (and their snapshots) first, then custom ones.
fn volumes(state: &State, pool: &str) -> Vec<VolumeView> {
    let mut out = Vec::new();
    for instance in &state.instances {
        let (_, devices) = state.expand(
            &instance.project,
            &instance.profiles,
            &instance.config,
            &instance.devices,
        );
        if crate::api::instances::root_pool(&devices).as_deref() != Some(pool) {
            continue;
        }
        let (kind, content_type) = if instance.is_container() {
            ("container", "filesystem")
        } else {
            ("virtual-machine", "block")
        };
        let base = VolumeRec {
            pool: pool.to_string(),
            project: instance.project.clone(),
            kind: kind.into(),
            name: instance.name.clone(),
            content_type: content_type.into(),
            created_at: util::GO_ZERO_TIME.into(),
            location: instance.location.clone(),
            ..Default::default()
        };
        out.push(VolumeView {
            rec: base.clone(),
            used_by: vec![crate::api::instances::url(instance)],
        });
        for snap in &instance.snapshots {
            out.push(VolumeView {
                rec: VolumeRec {
                    name: format!("{}/{}", instance.name, snap.name),
                    ..base.clone()
                },
                used_by: vec![api_url(
                    &["instances", &instance.name, "snapshots", &snap.name],
                    &instance.project,
                )],
            });
        }
    }
    for volume in state.volumes.iter().filter(|v| v.pool == pool) {
        let mut used_by = Vec::new();
        for instance in &state.instances {
            if instance.project == volume.project && attaches(&instance.devices, pool, &volume.name)
            {
                used_by.push(crate::api::instances::url(instance));
            }
        }
        for profile in &state.profiles {
            if attaches(&profile.devices, pool, &volume.name) {
                used_by.push(api_url(&["profiles", &profile.name], &profile.project));
            }
        }
        out.push(VolumeView {
            rec: volume.clone(),
            used_by,
        });
    }
    out
}

fn render_volume(view: &VolumeView) -> Value {
    let v = &view.rec;
    json!({
        "config": map_json(&v.config),
        "content_type": v.content_type,
        "created_at": v.created_at,
        "description": v.description,
        "location": v.location,
        "name": v.name,
        "project": v.project,
        "type": v.kind,
        "used_by": view.used_by,
    })
}

fn volume_etag(v: &VolumeRec) -> String {
    util::etag_of(&json!([v.name, v.kind, v.config]))
}

fn pool_used_by(state: &State, pool: &PoolRec) -> Vec<String> {
    let mut out: Vec<String> = volumes(state, &pool.name)
        .iter()
        .flat_map(|v| {
            if v.rec.kind == "custom" {
                vec![volume_url(
                    &v.rec.project,
                    &pool.name,
                    "custom",
                    &v.rec.name,
                )]
            } else {
                v.used_by.clone()
            }
        })
        .collect();
    for profile in &state.profiles {
        let uses = profile.devices.values().any(|d| {
            d.get("type").map(String::as_str) == Some("disk")
                && d.get("pool").map(String::as_str) == Some(pool.name.as_str())
        });
        if uses {
            out.push(api_url(&["profiles", &profile.name], &profile.project));
        }
    }
    out.sort();
    out
}

fn render_pool(state: &State, pool: &PoolRec) -> Value {
    json!({
        "config": map_json(&pool.config),
        "description": pool.description,
        "driver": pool.driver,
        "locations": [state.location()],
        "name": pool.name,
        "status": "Created",
        "used_by": pool_used_by(state, pool),
    })
}

fn pool_etag(pool: &PoolRec) -> String {
    util::etag_of(&json!([
        pool.name,
        pool.driver,
        pool.description,
        pool.config
    ]))
}

/// `GET /1.0/storage-pools`.
pub(crate) fn pools_list(inner: &Arc<Inner>, req: &Req) -> ApiResult {
    let state = inner.state();
    let items: Vec<Value> = state
        .pools
        .iter()
        .map(|p| {
            if req.recursion() > 0 {
                render_pool(&state, p)
            } else {
                Value::String(pool_url(&p.name))
            }
        })
        .collect();
    Ok(Reply::sync(items))
}

/// `GET /1.0/storage-pools/<pool>`.
pub(crate) fn pool_get(inner: &Arc<Inner>, _req: &Req, name: &str) -> ApiResult {
    let state = inner.state();
    let pool = state.pool(name).ok_or_else(pool_not_found)?;
    Ok(Reply::with_etag(render_pool(&state, pool), pool_etag(pool)))
}

/// `POST /1.0/storage-pools`. LXD 6.9 finds a duplicate only inside the operation
/// (`storagePoolDBCreate`, 409 as the operation's `err_code`).
pub(crate) fn pool_create(inner: &Arc<Inner>, req: &Req) -> ApiResult {
    let body = req.json_object()?;
    let text = |k: &str| super::text(&body, k).to_string();
    let (name, driver) = (text("name"), text("driver"));
    if name.is_empty() {
        return Err(ApiError::bad_request("No name provided"));
    }
    util::validate_entity_name("Storage pool", &name).map_err(ApiError::bad_request)?;
    if !DRIVERS.contains(&driver.as_str()) {
        return Err(ApiError::bad_request(format!(
            "Storage driver {driver:?} is not supported"
        )));
    }
    let mut config =
        clean_config(config_from_json(body.get("config")).map_err(ApiError::bad_request)?);
    let source = pool_url(&name);
    let description = text("description");
    let (server, event) = (inner.clone(), Lifecycle::new(req, &source).global());
    let work = move || {
        {
            let mut state = server.state();
            if state.pool(&name).is_some() {
                return Err(ApiError::conflict(format!(
                    "Storage pool {name:?} already exists"
                )));
            }
            config
                .entry("source".into())
                .or_insert_with(|| format!("{}/storage-pools/{name}", state.dir));
            state.pools.push(PoolRec {
                name,
                driver,
                description,
                config,
            });
        }
        event.send(&server, LifecycleAction::StoragePoolCreated, Map::new());
        Ok(())
    };
    let op = WriteOp::new("Creating storage pool", req, &source);
    writes::answer(inner, req, op, Reply::created(source), work)
}

/// `PUT`/`PATCH /1.0/storage-pools/<pool>`.
pub(crate) fn pool_update(inner: &Arc<Inner>, req: &Req, name: &str, patch: bool) -> ApiResult {
    let body = req.json_object()?;
    let config = config_from_json(body.get("config")).map_err(ApiError::bad_request)?;
    {
        let state = inner.state();
        let pool = state.pool(name).ok_or_else(pool_not_found)?;
        check_etag(req, &pool_etag(pool))?;
    }
    let description = (!patch || body.contains_key("description"))
        .then(|| super::text(&body, "description").to_string());
    let source = pool_url(name);
    let (server, event) = (inner.clone(), Lifecycle::new(req, &source).global());
    let name = name.to_string();
    let work = move || {
        {
            let mut state = server.state();
            let pool = state
                .pools
                .iter_mut()
                .find(|p| p.name == name)
                .ok_or_else(pool_not_found)?;
            let source = pool.config.get("source").cloned();
            if patch {
                pool.config.extend(config);
            } else {
                pool.config = config;
            }
            pool.config = clean_config(std::mem::take(&mut pool.config));
            // `source` cannot change after creation; LXD keeps it.
            if let Some(source) = source {
                pool.config.insert("source".into(), source);
            }
            if let Some(description) = description {
                pool.description = description;
            }
        }
        event.send(&server, LifecycleAction::StoragePoolUpdated, Map::new());
        Ok(())
    };
    let op = WriteOp::new("Updating storage pool", req, &source);
    writes::answer(inner, req, op, Reply::empty(), work)
}

/// `DELETE /1.0/storage-pools/<pool>`. LXD 6.9 still refuses a pool in use at once.
pub(crate) fn pool_delete(inner: &Arc<Inner>, req: &Req, name: &str) -> ApiResult {
    {
        let state = inner.state();
        let pool = state.pool(name).ok_or_else(pool_not_found)?;
        if !pool_used_by(&state, pool).is_empty() {
            return Err(ApiError::bad_request(
                "The storage pool is currently in use",
            ));
        }
    }
    let source = pool_url(name);
    let (server, event) = (inner.clone(), Lifecycle::new(req, &source).global());
    let name = name.to_string();
    let work = move || {
        server.state().pools.retain(|p| p.name != name);
        event.send(&server, LifecycleAction::StoragePoolDeleted, Map::new());
        Ok(())
    };
    let op = WriteOp::new("Deleting storage pool", req, &source);
    writes::answer(inner, req, op, Reply::empty(), work)
}

/// `GET /1.0/storage-pools/<pool>/resources`.
pub(crate) fn pool_resources(inner: &Arc<Inner>, name: &str) -> ApiResult {
    let state = inner.state();
    state.pool(name).ok_or_else(pool_not_found)?;
    let used: u64 = state.instances.iter().map(|i| i.fs.usage()).sum();
    Ok(Reply::sync(json!({
        "space": {"used": used, "total": 107_374_182_400u64},
        "inodes": {"used": 1024, "total": 6_553_600},
    })))
}

/// The project a volume request addresses: custom volumes follow
/// `features.storage.volumes`, instance volumes live in the instance's project.
fn volume_project(state: &State, req: &Req, kind: &str) -> Result<String, ApiError> {
    let project = req.project();
    if !state.has_project(&project) {
        return Err(ApiError::not_found(format!(
            "Failed loading project {project:?}: Project not found"
        )));
    }
    Ok(if kind == "custom" {
        state.volumes_project(&project)
    } else {
        project
    })
}

fn check_kind(kind: &str) -> Result<(), ApiError> {
    if ["custom", "container", "virtual-machine", "image"].contains(&kind) {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "Invalid storage volume type {kind:?}"
        )))
    }
}

/// `GET /1.0/storage-pools/<pool>/volumes[/<type>]`.
pub(crate) fn volumes_list(
    inner: &Arc<Inner>,
    req: &Req,
    pool: &str,
    kind: Option<&str>,
) -> ApiResult {
    if let Some(kind) = kind {
        check_kind(kind)?;
    }
    let state = inner.state();
    state.pool(pool).ok_or_else(pool_not_found)?;
    let project = req.project();
    let custom_project = volume_project(&state, req, "custom")?;
    let items: Vec<Value> = volumes(&state, pool)
        .iter()
        .filter(|v| kind.is_none_or(|k| v.rec.kind == k))
        .filter(|v| {
            if v.rec.kind == "custom" {
                v.rec.project == custom_project
            } else {
                v.rec.project == project
            }
        })
        .map(|v| {
            if req.recursion() > 0 {
                render_volume(v)
            } else {
                Value::String(volume_url(&project, pool, &v.rec.kind, &v.rec.name))
            }
        })
        .collect();
    Ok(Reply::sync(items))
}

fn find_volume(
    state: &State,
    req: &Req,
    pool: &str,
    kind: &str,
    name: &str,
) -> Result<VolumeView, ApiError> {
    check_kind(kind)?;
    state.pool(pool).ok_or_else(pool_not_found)?;
    let project = volume_project(state, req, kind)?;
    volumes(state, pool)
        .into_iter()
        .find(|v| v.rec.kind == kind && v.rec.name == name && v.rec.project == project)
        .ok_or_else(volume_not_found)
}

/// `GET /1.0/storage-pools/<pool>/volumes/<type>/<name>`.
pub(crate) fn volume_get(
    inner: &Arc<Inner>,
    req: &Req,
    pool: &str,
    kind: &str,
    name: &str,
) -> ApiResult {
    let state = inner.state();
    let view = find_volume(&state, req, pool, kind, name)?;
    Ok(Reply::with_etag(
        render_volume(&view),
        volume_etag(&view.rec),
    ))
}

/// `GET .../volumes/<type>/<name>/state`.
pub(crate) fn volume_state(
    inner: &Arc<Inner>,
    req: &Req,
    pool: &str,
    kind: &str,
    name: &str,
) -> ApiResult {
    let state = inner.state();
    let view = find_volume(&state, req, pool, kind, name)?;
    let used = state
        .instances
        .iter()
        .find(|i| i.project == view.rec.project && i.name == view.rec.name)
        .map_or(0, |i| i.fs.usage());
    Ok(Reply::sync(json!({"usage": {"used": used, "total": -1}})))
}

/// `POST /1.0/storage-pools/<pool>/volumes[/custom]`: create (sync) or copy (operation).
pub(crate) fn volume_create(inner: &Arc<Inner>, req: &Req, pool: &str, kind: &str) -> ApiResult {
    let body = req.json_object()?;
    let text = |k: &str| super::text(&body, k).to_string();
    let name = text("name");
    if name.is_empty() {
        return Err(ApiError::bad_request("No name provided"));
    }
    if name.contains('/') {
        return Err(ApiError::bad_request(
            "Storage volume names may not contain slashes",
        ));
    }
    let kind = match text("type") {
        t if t.is_empty() => kind.to_string(),
        t => t,
    };
    if kind != "custom" {
        return Err(ApiError::bad_request(format!(
            "Currently not allowed to create storage volumes of type {kind:?}"
        )));
    }
    let content_type = match text("content_type") {
        t if t.is_empty() => "filesystem".to_string(),
        t if t == "filesystem" || t == "block" => t,
        t => return Err(ApiError::bad_request(format!("Invalid content type {t:?}"))),
    };
    let config = clean_config(config_from_json(body.get("config")).map_err(ApiError::bad_request)?);
    let source = body
        .get("source")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let source_name = source
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let project = {
        let state = inner.state();
        state.pool(pool).ok_or_else(pool_not_found)?;
        let project = volume_project(&state, req, "custom")?;
        if state
            .volumes
            .iter()
            .any(|v| v.pool == pool && v.project == project && v.name == name)
        {
            return Err(ApiError::conflict("Volume by that name already exists"));
        }
        project
    };
    let mut rec = VolumeRec {
        pool: pool.to_string(),
        project: project.clone(),
        kind: "custom".into(),
        name: name.clone(),
        description: text("description"),
        config,
        content_type,
        created_at: util::now(),
        location: inner.state().location(),
        snapshots: Vec::new(),
    };
    let announce = {
        let inner = inner.clone();
        let requestor = req.requestor();
        let request_project = req.project();
        move |rec: &VolumeRec| {
            inner.events.lifecycle(
                &request_project,
                LifecycleAction::StorageVolumeCreated,
                volume_url(&request_project, &rec.pool, "custom", &rec.name),
                context(&[("type", Value::String("custom".into()))]),
                Some(requestor),
            );
        }
    };
    if source_name.is_empty() {
        inner.state().volumes.push(rec.clone());
        announce(&rec);
        return Ok(Reply::empty());
    }
    let source_pool = source
        .get("pool")
        .and_then(Value::as_str)
        .unwrap_or(pool)
        .to_string();
    let volume_only = source.get("volume_only").and_then(Value::as_bool) == Some(true);
    let op = inner
        .ops
        .create(OpSpec::task("Copying storage volume", &req.project()));
    let task_inner = inner.clone();
    Ok(inner
        .ops
        .start(&op, req.faults.operation.clone(), async move {
            let inner = task_inner;
            {
                let mut state = inner.state();
                let (parent, snapshot) = match source_name.split_once('/') {
                    Some((p, s)) => (p.to_string(), Some(s.to_string())),
                    None => (source_name.clone(), None),
                };
                let original = state
                    .volumes
                    .iter()
                    .find(|v| v.pool == source_pool && v.project == project && v.name == parent)
                    .cloned()
                    .ok_or_else(|| "Storage volume not found".to_string())?;
                if let Some(snapshot) = snapshot {
                    let snap = original
                        .snapshots
                        .iter()
                        .find(|s| s.name == snapshot)
                        .ok_or_else(|| "Storage volume snapshot not found".to_string())?;
                    rec.config.extend(snap.config.clone());
                } else {
                    rec.config.extend(original.config.clone());
                    if !volume_only {
                        rec.snapshots = original.snapshots.clone();
                    }
                }
                rec.content_type = original.content_type.clone();
                if state
                    .volumes
                    .iter()
                    .any(|v| v.pool == rec.pool && v.project == rec.project && v.name == rec.name)
                {
                    return Err("Volume by that name already exists".into());
                }
                state.volumes.push(rec.clone());
            }
            announce(&rec);
            Ok(())
        }))
}

fn custom_mut<'a>(
    state: &'a mut State,
    project: &str,
    pool: &str,
    name: &str,
) -> Option<&'a mut VolumeRec> {
    state
        .volumes
        .iter_mut()
        .find(|v| v.pool == pool && v.project == project && v.name == name)
}

/// `PUT`/`PATCH .../volumes/<type>/<name>` (custom volumes; instance volumes have no
/// writable config here).
pub(crate) fn volume_update(
    inner: &Arc<Inner>,
    req: &Req,
    pool: &str,
    kind: &str,
    name: &str,
    patch: bool,
) -> ApiResult {
    let body = req.json_object()?;
    let config = config_from_json(body.get("config")).map_err(ApiError::bad_request)?;
    {
        let mut state = inner.state();
        let view = find_volume(&state, req, pool, kind, name)?;
        check_etag(req, &volume_etag(&view.rec))?;
        if kind != "custom" {
            return Err(ApiError::bad_request(format!(
                "lxd-testkit keeps no config for {kind} volumes"
            )));
        }
        let volume = custom_mut(&mut state, &view.rec.project, pool, name).expect("found above");
        // `restore` brings back a snapshot (its config) instead of updating.
        if let Some(snapshot) = body
            .get("restore")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        {
            let snap = volume
                .snapshots
                .iter()
                .find(|s| s.name == snapshot)
                .ok_or_else(|| ApiError::not_found("Storage volume snapshot not found"))?;
            volume.config = snap.config.clone();
            drop(state);
            inner.events.lifecycle(
                &req.project(),
                LifecycleAction::StorageVolumeRestored,
                volume_url(&req.project(), pool, kind, name),
                context(&[("snapshot", Value::String(snapshot.to_string()))]),
                Some(req.requestor()),
            );
            return Ok(Reply::empty());
        }
        if patch {
            volume.config.extend(config);
        } else {
            volume.config = config;
        }
        volume.config = clean_config(std::mem::take(&mut volume.config));
        if !patch || body.contains_key("description") {
            volume.description = super::text(&body, "description").to_string();
        }
    }
    inner.events.lifecycle(
        &req.project(),
        LifecycleAction::StorageVolumeUpdated,
        volume_url(&req.project(), pool, kind, name),
        Map::new(),
        Some(req.requestor()),
    );
    Ok(Reply::empty())
}

/// `POST .../volumes/custom/<name>`: rename (migration and moves are not implemented).
pub(crate) fn volume_rename(
    inner: &Arc<Inner>,
    req: &Req,
    pool: &str,
    kind: &str,
    name: &str,
) -> ApiResult {
    let body = req.json_object()?;
    let new_name = super::text(&body, "name").to_string();
    if new_name.is_empty() {
        return Err(ApiError::bad_request("No name provided"));
    }
    if new_name.contains('/') {
        return Err(ApiError::bad_request(
            "Storage volume names may not contain slashes",
        ));
    }
    if kind != "custom" {
        return Err(ApiError::bad_request(format!(
            "Renaming storage volumes of type {kind:?} is not allowed"
        )));
    }
    if body.get("migration").and_then(Value::as_bool) == Some(true)
        || body
            .get("pool")
            .and_then(Value::as_str)
            .is_some_and(|p| !p.is_empty() && p != pool)
    {
        return Err(ApiError::not_implemented(
            "lxd-testkit does not implement moving storage volumes",
        ));
    }
    {
        let mut state = inner.state();
        let view = find_volume(&state, req, pool, kind, name)?;
        if state
            .volumes
            .iter()
            .any(|v| v.pool == pool && v.project == view.rec.project && v.name == new_name)
        {
            return Err(ApiError::conflict("Volume by that name already exists"));
        }
        if !view.used_by.is_empty() {
            return Err(ApiError::bad_request(
                "Volume is still in use by running instances",
            ));
        }
        custom_mut(&mut state, &view.rec.project, pool, name)
            .expect("found above")
            .name = new_name.clone();
    }
    let source = volume_url(&req.project(), pool, kind, &new_name);
    inner.events.lifecycle(
        &req.project(),
        LifecycleAction::StorageVolumeRenamed,
        source.clone(),
        context(&[("old_name", Value::String(name.to_string()))]),
        Some(req.requestor()),
    );
    Ok(Reply::created(source))
}

/// `DELETE .../volumes/<type>/<name>`.
pub(crate) fn volume_delete(
    inner: &Arc<Inner>,
    req: &Req,
    pool: &str,
    kind: &str,
    name: &str,
) -> ApiResult {
    if kind != "custom" && kind != "image" {
        return Err(ApiError::bad_request(format!(
            "Storage volumes of type {kind:?} cannot be deleted with the storage API"
        )));
    }
    {
        let mut state = inner.state();
        let view = find_volume(&state, req, pool, kind, name)?;
        if !view.used_by.is_empty() {
            return Err(ApiError::bad_request("The storage volume is still in use"));
        }
        let project = view.rec.project.clone();
        state
            .volumes
            .retain(|v| !(v.pool == pool && v.project == project && v.name == name));
    }
    inner.events.lifecycle(
        &req.project(),
        LifecycleAction::StorageVolumeDeleted,
        volume_url(&req.project(), pool, kind, name),
        Map::new(),
        Some(req.requestor()),
    );
    Ok(Reply::empty())
}

fn render_snapshot(volume: &VolumeRec, snap: &VolumeSnapshotRec) -> Value {
    json!({
        "config": map_json(&snap.config),
        "content_type": volume.content_type,
        "created_at": snap.created_at,
        "description": snap.description,
        "expires_at": snap.expires_at,
        "name": snap.name,
    })
}

fn snapshot_etag(snap: &VolumeSnapshotRec) -> String {
    util::etag_of(&json!([snap.name, snap.description, snap.config]))
}

/// The custom volume of a snapshot request.
fn custom_volume(
    state: &State,
    req: &Req,
    pool: &str,
    kind: &str,
    name: &str,
) -> Result<VolumeRec, ApiError> {
    let view = find_volume(state, req, pool, kind, name)?;
    if kind != "custom" {
        return Err(ApiError::bad_request(format!(
            "Invalid storage volume type {kind:?}"
        )));
    }
    Ok(view.rec)
}

/// `GET .../volumes/custom/<name>/snapshots`.
pub(crate) fn snapshots_list(
    inner: &Arc<Inner>,
    req: &Req,
    pool: &str,
    kind: &str,
    name: &str,
) -> ApiResult {
    let state = inner.state();
    let volume = custom_volume(&state, req, pool, kind, name)?;
    let items: Vec<Value> = volume
        .snapshots
        .iter()
        .map(|s| {
            if req.recursion() > 0 {
                render_snapshot(&volume, s)
            } else {
                Value::String(snapshot_url(&req.project(), pool, kind, name, &s.name))
            }
        })
        .collect();
    Ok(Reply::sync(items))
}

/// `POST .../volumes/custom/<name>/snapshots` (an operation).
pub(crate) fn snapshot_create(
    inner: &Arc<Inner>,
    req: &Req,
    pool: &str,
    kind: &str,
    name: &str,
) -> ApiResult {
    let body = req.json_object()?;
    let volume = {
        let state = inner.state();
        custom_volume(&state, req, pool, kind, name)?
    };
    let snap_name = match body.get("name").and_then(Value::as_str) {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => (0..)
            .map(|i| format!("snap{i}"))
            .find(|c| !volume.snapshots.iter().any(|s| &s.name == c))
            .expect("an unused name exists"),
    };
    util::validate_snapshot_name(&snap_name)
        .map_err(|e| ApiError::bad_request(format!("Invalid snapshot name: {e}")))?;
    if volume.snapshots.iter().any(|s| s.name == snap_name) {
        return Err(ApiError::conflict(format!(
            "Snapshot {snap_name:?} already in use"
        )));
    }
    let expires_at = body
        .get("expires_at")
        .and_then(Value::as_str)
        .unwrap_or(util::GO_ZERO_TIME)
        .to_string();
    let op = inner.ops.create(
        OpSpec::task("Creating storage volume snapshot", &req.project())
            .resource("storage_volumes", &format!("{pool}/volumes/custom/{name}")),
    );
    let task_inner = inner.clone();
    let (pool, name, project) = (pool.to_string(), name.to_string(), volume.project.clone());
    let request_project = req.project();
    let requestor = req.requestor();
    Ok(inner
        .ops
        .start(&op, req.faults.operation.clone(), async move {
            let inner = task_inner;
            {
                let mut state = inner.state();
                let volume = custom_mut(&mut state, &project, &pool, &name)
                    .ok_or_else(|| "Storage volume not found".to_string())?;
                if volume.snapshots.iter().any(|s| s.name == snap_name) {
                    return Err(format!("Snapshot {snap_name:?} already in use"));
                }
                volume.snapshots.push(VolumeSnapshotRec {
                    name: snap_name.clone(),
                    description: volume.description.clone(),
                    config: volume.config.clone(),
                    created_at: util::now(),
                    expires_at,
                });
            }
            inner.events.lifecycle(
                &request_project,
                LifecycleAction::StorageVolumeSnapshotCreated,
                snapshot_url(&request_project, &pool, "custom", &name, &snap_name),
                Map::new(),
                Some(requestor),
            );
            Ok(())
        }))
}

/// `GET .../snapshots/<snapshot>`.
pub(crate) fn snapshot_get(
    inner: &Arc<Inner>,
    req: &Req,
    pool: &str,
    kind: &str,
    name: &str,
    snapshot: &str,
) -> ApiResult {
    let state = inner.state();
    let volume = custom_volume(&state, req, pool, kind, name)?;
    let snap = volume
        .snapshots
        .iter()
        .find(|s| s.name == snapshot)
        .ok_or_else(|| ApiError::not_found("Storage volume snapshot not found"))?;
    Ok(Reply::with_etag(
        render_snapshot(&volume, snap),
        snapshot_etag(snap),
    ))
}

/// `PUT`/`PATCH .../snapshots/<snapshot>`: description and `expires_at`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn snapshot_update(
    inner: &Arc<Inner>,
    req: &Req,
    pool: &str,
    kind: &str,
    name: &str,
    snapshot: &str,
    patch: bool,
) -> ApiResult {
    let body = req.json_object()?;
    {
        let mut state = inner.state();
        let volume = custom_volume(&state, req, pool, kind, name)?;
        let current = volume
            .snapshots
            .iter()
            .find(|s| s.name == snapshot)
            .ok_or_else(|| ApiError::not_found("Storage volume snapshot not found"))?;
        check_etag(req, &snapshot_etag(current))?;
        let target = custom_mut(&mut state, &volume.project, pool, name)
            .and_then(|v| v.snapshots.iter_mut().find(|s| s.name == snapshot))
            .expect("found above");
        if !patch || body.contains_key("description") {
            target.description = super::text(&body, "description").to_string();
        }
        if body.contains_key("expires_at") {
            target.expires_at = body
                .get("expires_at")
                .and_then(Value::as_str)
                .unwrap_or(util::GO_ZERO_TIME)
                .to_string();
        }
    }
    inner.events.lifecycle(
        &req.project(),
        LifecycleAction::StorageVolumeSnapshotUpdated,
        snapshot_url(&req.project(), pool, kind, name, snapshot),
        Map::new(),
        Some(req.requestor()),
    );
    Ok(Reply::empty())
}

/// `POST .../snapshots/<snapshot>`: rename (an operation).
pub(crate) fn snapshot_rename(
    inner: &Arc<Inner>,
    req: &Req,
    pool: &str,
    kind: &str,
    name: &str,
    snapshot: &str,
) -> ApiResult {
    let body = req.json_object()?;
    let new_name = super::text(&body, "name").to_string();
    util::validate_snapshot_name(&new_name)
        .map_err(|e| ApiError::bad_request(format!("Invalid snapshot name: {e}")))?;
    let volume = {
        let state = inner.state();
        custom_volume(&state, req, pool, kind, name)?
    };
    if !volume.snapshots.iter().any(|s| s.name == snapshot) {
        return Err(ApiError::not_found("Storage volume snapshot not found"));
    }
    if volume.snapshots.iter().any(|s| s.name == new_name) {
        return Err(ApiError::conflict(format!(
            "Snapshot {new_name:?} already in use"
        )));
    }
    let op = inner.ops.create(OpSpec::task(
        "Renaming storage volume snapshot",
        &req.project(),
    ));
    let task_inner = inner.clone();
    let (pool, name, snapshot, project) = (
        pool.to_string(),
        name.to_string(),
        snapshot.to_string(),
        volume.project.clone(),
    );
    let request_project = req.project();
    let requestor = req.requestor();
    Ok(inner
        .ops
        .start(&op, req.faults.operation.clone(), async move {
            let inner = task_inner;
            {
                let mut state = inner.state();
                let snap = custom_mut(&mut state, &project, &pool, &name)
                    .and_then(|v| v.snapshots.iter_mut().find(|s| s.name == snapshot))
                    .ok_or_else(|| "Storage volume snapshot not found".to_string())?;
                snap.name = new_name.clone();
            }
            inner.events.lifecycle(
                &request_project,
                LifecycleAction::StorageVolumeSnapshotRenamed,
                snapshot_url(&request_project, &pool, "custom", &name, &new_name),
                context(&[("old_name", Value::String(snapshot))]),
                Some(requestor),
            );
            Ok(())
        }))
}

/// `DELETE .../snapshots/<snapshot>` (an operation).
pub(crate) fn snapshot_delete(
    inner: &Arc<Inner>,
    req: &Req,
    pool: &str,
    kind: &str,
    name: &str,
    snapshot: &str,
) -> ApiResult {
    let volume = {
        let state = inner.state();
        custom_volume(&state, req, pool, kind, name)?
    };
    if !volume.snapshots.iter().any(|s| s.name == snapshot) {
        return Err(ApiError::not_found("Storage volume snapshot not found"));
    }
    let op = inner.ops.create(OpSpec::task(
        "Deleting storage volume snapshot",
        &req.project(),
    ));
    let task_inner = inner.clone();
    let (pool, name, snapshot, project) = (
        pool.to_string(),
        name.to_string(),
        snapshot.to_string(),
        volume.project.clone(),
    );
    let request_project = req.project();
    let requestor = req.requestor();
    Ok(inner
        .ops
        .start(&op, req.faults.operation.clone(), async move {
            let inner = task_inner;
            {
                let mut state = inner.state();
                let volume = custom_mut(&mut state, &project, &pool, &name)
                    .ok_or_else(|| "Storage volume not found".to_string())?;
                volume.snapshots.retain(|s| s.name != snapshot);
            }
            inner.events.lifecycle(
                &request_project,
                LifecycleAction::StorageVolumeSnapshotDeleted,
                snapshot_url(&request_project, &pool, "custom", &name, &snapshot),
                Map::new(),
                Some(requestor),
            );
            Ok(())
        }))
}
