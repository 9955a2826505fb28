//! `/1.0/warnings`: list (per project or all), get, acknowledge or reset, delete.

use std::sync::Arc;

use lxd_proto::LifecycleAction;
use serde_json::{Map, Value, json};

use crate::http::{ApiError, ApiResult, Reply, Req};
use crate::server::Inner;
use crate::state::WarningRec;
use crate::util::api_url;

fn url(uuid: &str) -> String {
    api_url(&["warnings", uuid], "")
}

fn render(w: &WarningRec) -> Value {
    json!({
        "count": w.count,
        "entity_url": w.entity_url,
        "first_seen_at": w.first_seen_at,
        "last_message": w.last_message,
        "last_seen_at": w.last_seen_at,
        "location": w.location,
        "project": w.project,
        "severity": w.severity,
        "status": w.status,
        "type": w.kind,
        "uuid": w.uuid,
    })
}

fn not_found() -> ApiError {
    ApiError::not_found("Warning not found")
}

/// `GET /1.0/warnings` (`?project=` narrows to one project).
pub(crate) fn list(inner: &Arc<Inner>, req: &Req) -> ApiResult {
    let project = req.query("project").unwrap_or_default().to_string();
    let state = inner.state();
    let items: Vec<Value> = state
        .warnings
        .iter()
        .filter(|w| project.is_empty() || w.project == project)
        .map(|w| {
            if req.recursion() > 0 {
                render(w)
            } else {
                Value::String(url(&w.uuid))
            }
        })
        .collect();
    Ok(Reply::sync(items))
}

/// `GET /1.0/warnings/<uuid>`.
pub(crate) fn get(inner: &Arc<Inner>, uuid: &str) -> ApiResult {
    let state = inner.state();
    let warning = state
        .warnings
        .iter()
        .find(|w| w.uuid == uuid)
        .ok_or_else(not_found)?;
    Ok(Reply::sync(render(warning)))
}

/// `PUT`/`PATCH /1.0/warnings/<uuid>`: `status` is `new` or `acknowledged`.
pub(crate) fn update(inner: &Arc<Inner>, req: &Req, uuid: &str, _patch: bool) -> ApiResult {
    let body = req.json_object()?;
    let status = super::text(&body, "status").to_string();
    if status != "new" && status != "acknowledged" {
        return Err(ApiError::bad_request(
            "Status may only be set to \"acknowledge\" or \"new\"",
        ));
    }
    let project = {
        let mut state = inner.state();
        let warning = state
            .warnings
            .iter_mut()
            .find(|w| w.uuid == uuid)
            .ok_or_else(not_found)?;
        warning.status = status.clone();
        warning.project.clone()
    };
    let action = if status == "acknowledged" {
        LifecycleAction::WarningAcknowledged
    } else {
        LifecycleAction::WarningReset
    };
    inner.events.lifecycle(
        if project.is_empty() {
            "default"
        } else {
            &project
        },
        action,
        url(uuid),
        Map::new(),
        Some(req.requestor()),
    );
    Ok(Reply::empty())
}

/// `DELETE /1.0/warnings/<uuid>`.
pub(crate) fn delete(inner: &Arc<Inner>, req: &Req, uuid: &str) -> ApiResult {
    let project = {
        let mut state = inner.state();
        let index = state
            .warnings
            .iter()
            .position(|w| w.uuid == uuid)
            .ok_or_else(not_found)?;
        state.warnings.remove(index).project
    };
    inner.events.lifecycle(
        if project.is_empty() {
            "default"
        } else {
            &project
        },
        LifecycleAction::WarningDeleted,
        url(uuid),
        Map::new(),
        Some(req.requestor()),
    );
    Ok(Reply::empty())
}
