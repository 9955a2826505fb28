//! `/1.0/instances/<name>/logs`: the logs an instance keeps. The testkit keeps only
//! recorded exec output (`record-output`); LXD 5.0 lists it among the logs, LXD 6 and Incus
//! under `logs/exec-output/` (LXD 6.9's and Incus 6.0.4's `instance_logs.go`).

use std::sync::Arc;

use serde_json::Value;

use crate::api::instances::not_found;
use crate::flavor::ServerFlavor;
use crate::http::{ApiError, ApiResult, Reply, Req};
use crate::server::Inner;
use crate::util;

/// The URL of a recorded exec output file: among the logs, or under `logs/exec-output/`
/// where the flavor keeps them apart (LXD 6, Incus).
pub(crate) fn exec_output_url(
    flavor: ServerFlavor,
    instance: &str,
    file: &str,
    project: &str,
) -> String {
    if flavor.exec_output_has_its_own_dir() {
        util::api_url(
            &["instances", instance, "logs", "exec-output", file],
            project,
        )
    } else {
        util::api_url(&["instances", instance, "logs", file], project)
    }
}

/// Whether `file` is a recorded exec output (LXD's `validExecOutputFileName`).
fn is_exec_output(file: &str) -> bool {
    file.starts_with("exec_") && (file.ends_with(".stdout") || file.ends_with(".stderr"))
}

/// `GET /1.0/instances/<name>/logs`: where exec output has its own directory, only the
/// server's own logs, of which the testkit keeps none.
pub(crate) fn logs_list(inner: &Arc<Inner>, req: &Req, name: &str) -> ApiResult {
    let apart = inner.flavor.exec_output_has_its_own_dir();
    let state = inner.state();
    let rec = state.instance(&req.project(), name).ok_or_else(not_found)?;
    let items: Vec<Value> = rec
        .logs
        .keys()
        .filter(|_| !apart)
        .map(|file| {
            Value::String(util::api_url(
                &["instances", name, "logs", file],
                &req.project(),
            ))
        })
        .collect();
    Ok(Reply::sync(items))
}

/// The server's own log names (LXD 6.9's and Incus 6.0.4's `validLogFileName`, merged):
/// valid under `logs/`, though the testkit keeps none of them.
fn is_server_log(file: &str) -> bool {
    [
        "lxc.log",
        "lxc.conf",
        "qemu.log",
        "qemu.conf",
        "qemu.early.log",
        "qemu.qmp.log",
        "edk2.log",
    ]
    .contains(&file)
        || file.starts_with("migration_")
        || file.starts_with("snapshot_")
}

/// Where exec output has its own directory, `logs/<file>` takes only the server's own log
/// names: anything else is a 400, a valid name the testkit does not keep a 404.
fn check_server_log(inner: &Arc<Inner>, req: &Req, name: &str, file: &str) -> ApiResult {
    inner
        .state()
        .instance(&req.project(), name)
        .ok_or_else(not_found)?;
    if is_server_log(file) {
        Err(ApiError::not_found("Log file not found"))
    } else {
        Err(ApiError::bad_request(format!(
            "Log file name {file:?} not valid"
        )))
    }
}

/// `GET /1.0/instances/<name>/logs/<file>`.
pub(crate) fn log_get(inner: &Arc<Inner>, req: &Req, name: &str, file: &str) -> ApiResult {
    if inner.flavor.exec_output_has_its_own_dir() {
        return check_server_log(inner, req, name, file);
    }
    send_log(inner, req, name, file)
}

/// `DELETE /1.0/instances/<name>/logs/<file>`; LXD 6.9 has no such method (501).
pub(crate) fn log_delete(inner: &Arc<Inner>, req: &Req, name: &str, file: &str) -> ApiResult {
    if !inner.flavor.deletes_logs() {
        return Err(ApiError::not_implemented("not implemented"));
    }
    if inner.flavor.exec_output_has_its_own_dir() {
        return check_server_log(inner, req, name, file);
    }
    remove_log(inner, req, name, file)
}

/// `GET /1.0/instances/<name>/logs/exec-output` (LXD 6, Incus): the recorded exec
/// outputs. The servers read a directory made by the first recorded exec, so before one
/// (here: while none is kept) the answer is a 404.
pub(crate) fn exec_outputs_list(inner: &Arc<Inner>, req: &Req, name: &str) -> ApiResult {
    let state = inner.state();
    let rec = state.instance(&req.project(), name).ok_or_else(not_found)?;
    let items: Vec<Value> = rec
        .logs
        .keys()
        .filter(|file| is_exec_output(file))
        .map(|file| Value::String(exec_output_url(inner.flavor, name, file, &req.project())))
        .collect();
    if items.is_empty() {
        return Err(ApiError::not_found("not found"));
    }
    Ok(Reply::sync(items))
}

/// Checks an exec output file name as LXD 6.9 does, after the instance.
fn check_exec_output(
    inner: &Arc<Inner>,
    req: &Req,
    name: &str,
    file: &str,
) -> Result<(), ApiError> {
    inner
        .state()
        .instance(&req.project(), name)
        .ok_or_else(not_found)?;
    if is_exec_output(file) {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "Exec record-output file name {file:?} not valid"
        )))
    }
}

/// `GET /1.0/instances/<name>/logs/exec-output/<file>` (LXD 6, Incus).
pub(crate) fn exec_output_get(inner: &Arc<Inner>, req: &Req, name: &str, file: &str) -> ApiResult {
    check_exec_output(inner, req, name, file)?;
    send_log(inner, req, name, file)
}

/// `DELETE /1.0/instances/<name>/logs/exec-output/<file>` (LXD 6, Incus).
pub(crate) fn exec_output_delete(
    inner: &Arc<Inner>,
    req: &Req,
    name: &str,
    file: &str,
) -> ApiResult {
    check_exec_output(inner, req, name, file)?;
    remove_log(inner, req, name, file)
}

/// Sends a kept log file's content.
fn send_log(inner: &Arc<Inner>, req: &Req, name: &str, file: &str) -> ApiResult {
    let state = inner.state();
    let rec = state.instance(&req.project(), name).ok_or_else(not_found)?;
    let data = rec
        .logs
        .get(file)
        .cloned()
        .ok_or_else(|| ApiError::not_found("Log file not found"))?;
    let mut response = http::Response::new(crate::http::full(data));
    response.headers_mut().insert(
        "content-type",
        http::HeaderValue::from_static("application/octet-stream"),
    );
    Ok(Reply::Raw(response))
}

/// Removes a kept log file.
fn remove_log(inner: &Arc<Inner>, req: &Req, name: &str, file: &str) -> ApiResult {
    let mut state = inner.state();
    let rec = state
        .instance_mut(&req.project(), name)
        .ok_or_else(not_found)?;
    rec.logs
        .remove(file)
        .ok_or_else(|| ApiError::not_found("Log file not found"))?;
    Ok(Reply::empty())
}
