//! `/1.0/operations`: list, get, wait (with timeout), cancel, and the websockets of
//! websocket-class operations.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use lxd_proto::{LifecycleAction, OperationClass, StatusCode};
use serde_json::{Map, Value};

use crate::http::{ApiError, ApiResult, Reply, Req};
use crate::server::Inner;

fn not_found() -> ApiError {
    ApiError::not_found("Operation not found")
}

/// `GET /1.0/operations`: operations of the project grouped by lowercase status.
pub(crate) fn list(inner: &Arc<Inner>, req: &Req) -> ApiResult {
    let project = req.project();
    let recursion = req.recursion() > 0;
    let mut groups: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for op in inner.ops.list(&project) {
        let rendered = op.render();
        let key = rendered.status.to_lowercase();
        let entry = if recursion {
            serde_json::to_value(&rendered).unwrap_or(Value::Null)
        } else {
            Value::String(op.url())
        };
        groups.entry(key).or_default().push(entry);
    }
    Ok(Reply::json(&groups))
}

/// `GET /1.0/operations/<id>`.
pub(crate) fn get(inner: &Arc<Inner>, id: &str) -> ApiResult {
    let op = inner.ops.get(id).ok_or_else(not_found)?;
    Ok(Reply::json(&op.render()))
}

/// `DELETE /1.0/operations/<id>`: cancel.
pub(crate) fn cancel(inner: &Arc<Inner>, req: &Req, id: &str) -> ApiResult {
    let op = inner.ops.get(id).ok_or_else(not_found)?;
    inner.ops.cancel(&op).map_err(ApiError::bad_request)?;
    let project = if op.project.is_empty() {
        "default".to_string()
    } else {
        op.project.clone()
    };
    inner.events.lifecycle(
        &project,
        LifecycleAction::OperationCancelled,
        op.url(),
        Map::new(),
        Some(req.requestor()),
    );
    Ok(Reply::empty())
}

/// `GET /1.0/operations/<id>/wait?timeout=N`: the operation once final, or as it is when
/// the timeout passes (-1 or none: no limit). Untrusted clients may wait on a token
/// operation with its `secret`.
pub(crate) async fn wait(inner: &Arc<Inner>, req: &Req, id: &str) -> ApiResult {
    let timeout = match req.query("timeout") {
        None | Some("") => -1,
        Some(text) => text.parse::<i64>().map_err(|_| {
            ApiError::internal(format!("strconv.Atoi: parsing {text:?}: invalid syntax"))
        })?,
    };
    let op = inner.ops.get(id).ok_or_else(not_found)?;
    if let Some(secret) = req.query("secret").filter(|s| !s.is_empty()) {
        let matches = op
            .metadata()
            .and_then(|m| m.get("secret").and_then(Value::as_str).map(|s| s == secret))
            .unwrap_or(false);
        if !matches {
            return Err(ApiError::forbidden());
        }
    }
    let limit = (timeout >= 0).then(|| Duration::from_secs(timeout as u64));
    tokio::select! {
        _ = op.wait(limit) => {}
        _ = inner.stopped() => {}
    }
    Ok(Reply::json(&op.render()))
}

/// `GET /1.0/operations/<id>/websocket?secret=...`: joins a websocket of an exec.
pub(crate) fn websocket(inner: &Arc<Inner>, mut req: Req, id: &str) -> ApiResult {
    let op = inner.ops.get(id).ok_or_else(not_found)?;
    if op.class != OperationClass::Websocket {
        return Err(ApiError::internal(
            "Only websocket operations can be connected",
        ));
    }
    if op.status() != StatusCode::RUNNING {
        return Err(ApiError::internal(
            "Only running operations can be connected",
        ));
    }
    let secret = req.query("secret").unwrap_or_default().to_string();
    if secret.is_empty() {
        return Err(ApiError::internal("missing secret"));
    }
    let Some(connector) = op.websockets.clone() else {
        return Err(ApiError::internal(
            "Only websocket operations can be connected",
        ));
    };
    let Some((response, upgrade)) = crate::websocket::switch(&mut req) else {
        return Ok(Reply::Raw(crate::websocket::not_a_websocket()));
    };
    connector.connect(&secret, upgrade)?;
    Ok(Reply::Raw(response))
}
