//! `/1.0/instances/<name>/snapshots`: list, create (a copy of the instance's config and
//! file system), get, update `expires_at`, rename, delete. Restore is `PUT` on the instance.

use std::sync::Arc;

use lxd_proto::LifecycleAction;
use serde_json::{Map, Value, json};

use crate::api::check_etag;
use crate::api::instances::{not_found, render_snapshot};
use crate::events::context;
use crate::http::{ApiError, ApiResult, Reply, Req};
use crate::operations::OpSpec;
use crate::server::Inner;
use crate::state::SnapshotRec;
use crate::util::{self, api_url};

/// LXD 5.0's words for a missing snapshot.
fn snapshot_not_found(project: &str, instance: &str, snapshot: &str) -> ApiError {
    ApiError::not_found(format!(
        "Failed to fetch snapshot {snapshot:?} of instance {instance:?} in project {project:?}: InstanceSnapshot not found"
    ))
}

fn url(project: &str, instance: &str, snapshot: &str) -> String {
    api_url(&["instances", instance, "snapshots", snapshot], project)
}

fn etag(snap: &SnapshotRec) -> String {
    util::etag_of(&json!([snap.expires_at]))
}

/// `GET /1.0/instances/<name>/snapshots`.
pub(crate) fn list(inner: &Arc<Inner>, req: &Req, name: &str) -> ApiResult {
    let project = req.project();
    let state = inner.state();
    let rec = state.instance(&project, name).ok_or_else(not_found)?;
    let items: Vec<Value> = rec
        .snapshots
        .iter()
        .map(|snap| {
            if req.recursion() > 0 {
                render_snapshot(&state, rec, snap)
            } else {
                Value::String(url(&project, name, &snap.name))
            }
        })
        .collect();
    Ok(Reply::sync(items))
}

/// `POST /1.0/instances/<name>/snapshots`.
pub(crate) fn create(inner: &Arc<Inner>, req: &Req, name: &str) -> ApiResult {
    let body = req.json_object()?;
    let project = req.project();
    let (snap_name, is_container) = {
        let state = inner.state();
        let rec = state.instance(&project, name).ok_or_else(not_found)?;
        let snap_name = match body.get("name").and_then(Value::as_str) {
            Some(n) if !n.is_empty() => n.to_string(),
            _ => (0..)
                .map(|i| format!("snap{i}"))
                .find(|candidate| !rec.snapshots.iter().any(|s| &s.name == candidate))
                .expect("an unused name exists"),
        };
        (snap_name, rec.is_container())
    };
    util::validate_snapshot_name(&snap_name)
        .map_err(|e| ApiError::bad_request(format!("Invalid snapshot name: {e}")))?;
    let stateful = body.get("stateful").and_then(Value::as_bool) == Some(true);
    let expires_at = body
        .get("expires_at")
        .and_then(Value::as_str)
        .unwrap_or(util::GO_ZERO_TIME)
        .to_string();
    let op = inner
        .ops
        .create(OpSpec::task("Snapshotting instance", &project).instance(name, is_container));
    let task_inner = inner.clone();
    let name = name.to_string();
    let requestor = req.requestor();
    Ok(inner.ops.start(&op, req.faults.operation.clone(), async move {
        let inner = task_inner;
        {
            let mut state = inner.state();
            let rec = state
                .instance_mut(&project, &name)
                .ok_or_else(|| "Instance not found".to_string())?;
            if stateful {
                return Err("lxd-testkit does not implement stateful snapshots".into());
            }
            if rec.snapshots.iter().any(|s| s.name == snap_name) {
                return Err(format!(
                    "Failed creating instance snapshot record {snap_name:?}: Add snapshot info to the database: This \"instances_snapshots\" entry already exists"
                ));
            }
            let snap = SnapshotRec {
                name: snap_name.clone(),
                created_at: util::now(),
                expires_at,
                architecture: rec.architecture.clone(),
                config: rec.config.clone(),
                devices: rec.devices.clone(),
                ephemeral: rec.ephemeral,
                profiles: rec.profiles.clone(),
                stateful: false,
                description: rec.description.clone(),
                fs: rec.fs.clone(),
            };
            rec.snapshots.push(snap);
        }
        inner.events.lifecycle(
            &project,
            LifecycleAction::InstanceSnapshotCreated,
            url(&project, &name, &snap_name),
            Map::new(),
            Some(requestor),
        );
        Ok(())
    }))
}

/// `GET /1.0/instances/<name>/snapshots/<snapshot>`.
pub(crate) fn get(inner: &Arc<Inner>, req: &Req, name: &str, snapshot: &str) -> ApiResult {
    let project = req.project();
    let state = inner.state();
    let rec = state.instance(&project, name).ok_or_else(not_found)?;
    let snap = rec
        .snapshots
        .iter()
        .find(|s| s.name == snapshot)
        .ok_or_else(|| snapshot_not_found(&project, name, snapshot))?;
    Ok(Reply::with_etag(
        render_snapshot(&state, rec, snap),
        etag(snap),
    ))
}

/// `PUT`/`PATCH /1.0/instances/<name>/snapshots/<snapshot>`: only `expires_at` is
/// writable (PATCH is PUT, as in LXD).
pub(crate) fn update(
    inner: &Arc<Inner>,
    req: &Req,
    name: &str,
    snapshot: &str,
    _patch: bool,
) -> ApiResult {
    let body = req.json_object()?;
    let project = req.project();
    let is_container = {
        let state = inner.state();
        let rec = state.instance(&project, name).ok_or_else(not_found)?;
        let snap = rec
            .snapshots
            .iter()
            .find(|s| s.name == snapshot)
            .ok_or_else(|| snapshot_not_found(&project, name, snapshot))?;
        check_etag(req, &etag(snap))?;
        rec.is_container()
    };
    let expires_at = body
        .get("expires_at")
        .and_then(Value::as_str)
        .unwrap_or(util::GO_ZERO_TIME)
        .to_string();
    let op = inner.ops.create(
        OpSpec::task("Updating snapshot", &project)
            .instance(&format!("{name}/{snapshot}"), is_container),
    );
    let task_inner = inner.clone();
    let (name, snapshot) = (name.to_string(), snapshot.to_string());
    let requestor = req.requestor();
    Ok(inner
        .ops
        .start(&op, req.faults.operation.clone(), async move {
            let inner = task_inner;
            {
                let mut state = inner.state();
                let snap = state
                    .instance_mut(&project, &name)
                    .and_then(|rec| rec.snapshots.iter_mut().find(|s| s.name == snapshot))
                    .ok_or_else(|| "Instance snapshot not found".to_string())?;
                snap.expires_at = expires_at;
            }
            inner.events.lifecycle(
                &project,
                LifecycleAction::InstanceSnapshotUpdated,
                url(&project, &name, &snapshot),
                Map::new(),
                Some(requestor),
            );
            Ok(())
        }))
}

/// `POST /1.0/instances/<name>/snapshots/<snapshot>`: rename (migration is not
/// implemented).
pub(crate) fn rename(inner: &Arc<Inner>, req: &Req, name: &str, snapshot: &str) -> ApiResult {
    let body = req.json_object()?;
    if body.get("migration").and_then(Value::as_bool) == Some(true) {
        return Err(ApiError::not_implemented(
            "lxd-testkit does not implement snapshot migration",
        ));
    }
    let project = req.project();
    let new_name = body
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_request("Response key 'name' not present"))?
        .to_string();
    util::validate_snapshot_name(&new_name)
        .map_err(|e| ApiError::bad_request(format!("Invalid snapshot name: {e}")))?;
    let is_container = {
        let state = inner.state();
        let rec = state.instance(&project, name).ok_or_else(not_found)?;
        if !rec.snapshots.iter().any(|s| s.name == snapshot) {
            return Err(snapshot_not_found(&project, name, snapshot));
        }
        if rec.snapshots.iter().any(|s| s.name == new_name) {
            return Err(ApiError::conflict(format!(
                "Name '{name}/{new_name}' already in use"
            )));
        }
        rec.is_container()
    };
    let op = inner
        .ops
        .create(OpSpec::task("Renaming snapshot", &project).instance(name, is_container));
    let task_inner = inner.clone();
    let (name, snapshot) = (name.to_string(), snapshot.to_string());
    let requestor = req.requestor();
    Ok(inner
        .ops
        .start(&op, req.faults.operation.clone(), async move {
            let inner = task_inner;
            {
                let mut state = inner.state();
                let rec = state
                    .instance_mut(&project, &name)
                    .ok_or_else(|| "Instance not found".to_string())?;
                if rec.snapshots.iter().any(|s| s.name == new_name) {
                    return Err(format!("Name '{name}/{new_name}' already in use"));
                }
                let snap = rec
                    .snapshots
                    .iter_mut()
                    .find(|s| s.name == snapshot)
                    .ok_or_else(|| "Instance snapshot not found".to_string())?;
                snap.name = new_name.clone();
            }
            inner.events.lifecycle(
                &project,
                LifecycleAction::InstanceSnapshotRenamed,
                url(&project, &name, &new_name),
                context(&[("old_name", Value::String(snapshot))]),
                Some(requestor),
            );
            Ok(())
        }))
}

/// `DELETE /1.0/instances/<name>/snapshots/<snapshot>`.
pub(crate) fn delete(inner: &Arc<Inner>, req: &Req, name: &str, snapshot: &str) -> ApiResult {
    let project = req.project();
    let is_container = {
        let state = inner.state();
        let rec = state.instance(&project, name).ok_or_else(not_found)?;
        if !rec.snapshots.iter().any(|s| s.name == snapshot) {
            return Err(snapshot_not_found(&project, name, snapshot));
        }
        rec.is_container()
    };
    let op = inner.ops.create(
        OpSpec::task("Deleting snapshot", &project)
            .instance(&format!("{name}/{snapshot}"), is_container),
    );
    let task_inner = inner.clone();
    let (name, snapshot) = (name.to_string(), snapshot.to_string());
    let requestor = req.requestor();
    Ok(inner
        .ops
        .start(&op, req.faults.operation.clone(), async move {
            let inner = task_inner;
            {
                let mut state = inner.state();
                let rec = state
                    .instance_mut(&project, &name)
                    .ok_or_else(|| "Instance not found".to_string())?;
                let before = rec.snapshots.len();
                rec.snapshots.retain(|s| s.name != snapshot);
                if rec.snapshots.len() == before {
                    return Err("Instance snapshot not found".into());
                }
            }
            inner.events.lifecycle(
                &project,
                LifecycleAction::InstanceSnapshotDeleted,
                url(&project, &name, &snapshot),
                Map::new(),
                Some(requestor),
            );
            Ok(())
        }))
}
