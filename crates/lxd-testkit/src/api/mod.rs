//! The REST API: routing and the checks every endpoint shares (trust, ETags, projects).
//! One module per resource.

pub(crate) mod certificates;
pub(crate) mod cluster;
pub(crate) mod events;
pub(crate) mod exec;
pub(crate) mod files;
pub(crate) mod images;
pub(crate) mod instance_state;
pub(crate) mod instances;
pub(crate) mod logs;
pub(crate) mod networks;
pub(crate) mod operations;
pub(crate) mod profiles;
pub(crate) mod projects;
pub(crate) mod resources;
pub(crate) mod server;
pub(crate) mod snapshots;
pub(crate) mod storage;
pub(crate) mod warnings;
pub(crate) mod writes;

use std::sync::Arc;

use serde_json::json;

use crate::http::{ApiError, ApiResult, Reply, Req};
use crate::server::Inner;

/// 501, LXD's answer to a method an endpoint does not have.
fn not_implemented() -> ApiResult {
    Err(ApiError::not_implemented("not implemented"))
}

/// Endpoints an untrusted HTTPS client may use (LXD's `AllowUntrusted` handlers).
fn public_endpoint(req: &Req) -> bool {
    let segs: Vec<&str> = req.segments.iter().map(String::as_str).collect();
    match (req.method.as_str(), segs.as_slice()) {
        ("GET", []) => true,
        ("POST", ["certificates"]) => true,
        ("GET", ["images"]) => true,
        ("GET", ["images", "aliases"]) => true,
        ("GET", ["images", "aliases", _]) => true,
        ("GET", ["images", _]) => true,
        ("GET", ["images", _, "export"]) => true,
        ("GET", ["operations", _, "websocket"]) => true,
        ("GET", ["operations", _, "wait"]) => req.query("secret").is_some_and(|s| !s.is_empty()),
        _ => false,
    }
}

/// Checks `If-Match` against the current ETag: a mismatch is LXD's 412.
pub(crate) fn check_etag(req: &Req, current: &str) -> Result<(), ApiError> {
    let Some(wanted) = req.header("if-match") else {
        return Ok(());
    };
    let wanted = wanted.trim_matches('"');
    if wanted.is_empty() || wanted == current {
        return Ok(());
    }
    Err(ApiError::precondition_failed(format!(
        "ETag doesn't match: {current} vs {wanted}"
    )))
}

/// A string field of a request body. A missing or non-string field reads as "", as in LXD,
/// which decodes bodies into Go structs (zero values).
pub(crate) fn text<'a>(body: &'a serde_json::Map<String, serde_json::Value>, key: &str) -> &'a str {
    body.get(key)
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
}

/// The checks that need no body: the API version prefix and trust. The listener runs them
/// before reading a body, so an untrusted client's body is never read.
pub(crate) fn precheck(req: &Req) -> Result<(), ApiError> {
    let path = req.path.as_str();
    if path == "/" || path.is_empty() {
        return Ok(());
    }
    if path != "/1.0" && !path.starts_with("/1.0/") {
        return Err(ApiError::not_found("not found"));
    }
    if !req.trusted && !public_endpoint(req) {
        return Err(ApiError::forbidden());
    }
    Ok(())
}

/// The most a request body may hold: 16 MiB for JSON (LXD's objects are far smaller), no
/// cap for the endpoints that take uploads (file pushes, images, backups, volume imports),
/// which the handlers stream into their state anyway.
pub(crate) fn body_limit(req: &Req) -> Option<usize> {
    const JSON_BODY_LIMIT: usize = 16 << 20;
    let segs: Vec<&str> = req.segments.iter().map(String::as_str).collect();
    let json = req.header("content-type") == Some("application/json");
    let upload = req.method == http::Method::POST
        && match segs.as_slice() {
            ["instances", _, "files"] => true,
            ["images"] | ["instances"] | ["storage-pools", _, "volumes", ..] => !json,
            _ => false,
        };
    (!upload || !req.trusted).then_some(JSON_BODY_LIMIT)
}

/// Dispatches a request.
pub(crate) async fn handle(inner: &Arc<Inner>, req: Req) -> ApiResult {
    let path = req.path.as_str();
    if path == "/" || path.is_empty() {
        return match req.method.as_str() {
            "GET" => Ok(Reply::sync(json!(["/1.0"]))),
            _ => not_implemented(),
        };
    }
    precheck(&req)?;
    let segments = req.segments.clone();
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    let method = req.method.as_str().to_string();
    let m = method.as_str();
    match segs.as_slice() {
        [] => match m {
            "GET" => server::get(inner, &req),
            "PUT" => server::update(inner, &req, false),
            "PATCH" => server::update(inner, &req, true),
            _ => not_implemented(),
        },
        ["events"] => match m {
            "GET" => events::get(inner, req).await,
            _ => not_implemented(),
        },
        ["resources"] => match m {
            "GET" => resources::get(inner, &req),
            _ => not_implemented(),
        },

        ["operations"] => match m {
            "GET" => operations::list(inner, &req),
            _ => not_implemented(),
        },
        ["operations", id] => match m {
            "GET" => operations::get(inner, id),
            "DELETE" => operations::cancel(inner, &req, id),
            _ => not_implemented(),
        },
        ["operations", id, "wait"] => match m {
            "GET" => operations::wait(inner, &req, id).await,
            _ => not_implemented(),
        },
        ["operations", id, "websocket"] => match m {
            "GET" => operations::websocket(inner, req, id),
            _ => not_implemented(),
        },

        ["projects"] => match m {
            "GET" => projects::list(inner, &req),
            "POST" => projects::create(inner, &req),
            _ => not_implemented(),
        },
        ["projects", name] => match m {
            "GET" => projects::get(inner, name),
            "PUT" => projects::update(inner, &req, name, false),
            "PATCH" => projects::update(inner, &req, name, true),
            "POST" => projects::rename(inner, &req, name),
            "DELETE" => projects::delete(inner, &req, name),
            _ => not_implemented(),
        },
        ["projects", name, "state"] => match m {
            "GET" => projects::state(inner, name),
            _ => not_implemented(),
        },

        ["instances"] => match m {
            "GET" => instances::list(inner, &req),
            "POST" => instances::create(inner, &req),
            "PUT" => instance_state::bulk(inner, &req),
            _ => not_implemented(),
        },
        ["instances", name] => match m {
            "GET" => instances::get(inner, &req, name),
            "PUT" => instances::put(inner, &req, name),
            "PATCH" => instances::patch(inner, &req, name),
            "POST" => instances::post(inner, &req, name),
            "DELETE" => instances::delete(inner, &req, name),
            _ => not_implemented(),
        },
        ["instances", name, "state"] => match m {
            "GET" => instance_state::get(inner, &req, name),
            "PUT" => instance_state::put(inner, &req, name),
            _ => not_implemented(),
        },
        ["instances", name, "exec"] => match m {
            "POST" => exec::post(inner, &req, name),
            _ => not_implemented(),
        },
        ["instances", name, "logs"] => match m {
            "GET" => logs::logs_list(inner, &req, name),
            _ => not_implemented(),
        },
        ["instances", name, "logs", "exec-output"]
            if inner.flavor.exec_output_has_its_own_dir() =>
        {
            match m {
                "GET" => logs::exec_outputs_list(inner, &req, name),
                _ => not_implemented(),
            }
        }
        ["instances", name, "logs", "exec-output", file]
            if inner.flavor.exec_output_has_its_own_dir() =>
        {
            match m {
                "GET" => logs::exec_output_get(inner, &req, name, file),
                "DELETE" => logs::exec_output_delete(inner, &req, name, file),
                _ => not_implemented(),
            }
        }
        ["instances", name, "logs", file] => match m {
            "GET" => logs::log_get(inner, &req, name, file),
            "DELETE" => logs::log_delete(inner, &req, name, file),
            _ => not_implemented(),
        },
        ["instances", name, "files"] => match m {
            "GET" => files::get(inner, &req, name, false),
            "HEAD" => files::get(inner, &req, name, true),
            "POST" => files::post(inner, &req, name),
            "DELETE" => files::delete(inner, &req, name),
            _ => not_implemented(),
        },
        ["instances", name, "snapshots"] => match m {
            "GET" => snapshots::list(inner, &req, name),
            "POST" => snapshots::create(inner, &req, name),
            _ => not_implemented(),
        },
        ["instances", name, "snapshots", snapshot] => match m {
            "GET" => snapshots::get(inner, &req, name, snapshot),
            "PUT" => snapshots::update(inner, &req, name, snapshot, false),
            "PATCH" => snapshots::update(inner, &req, name, snapshot, true),
            "POST" => snapshots::rename(inner, &req, name, snapshot),
            "DELETE" => snapshots::delete(inner, &req, name, snapshot),
            _ => not_implemented(),
        },

        ["images"] => match m {
            "GET" => images::list(inner, &req),
            "POST" => images::create(inner, &req),
            _ => not_implemented(),
        },
        ["images", "aliases"] => match m {
            "GET" => images::aliases_list(inner, &req),
            "POST" => images::alias_create(inner, &req),
            _ => not_implemented(),
        },
        ["images", "aliases", name] => match m {
            "GET" => images::alias_get(inner, &req, name),
            "PUT" => images::alias_update(inner, &req, name, false),
            "PATCH" => images::alias_update(inner, &req, name, true),
            "POST" => images::alias_rename(inner, &req, name),
            "DELETE" => images::alias_delete(inner, &req, name),
            _ => not_implemented(),
        },
        ["images", fingerprint] => match m {
            "GET" => images::get(inner, &req, fingerprint),
            "PUT" => images::update(inner, &req, fingerprint, false),
            "PATCH" => images::update(inner, &req, fingerprint, true),
            "DELETE" => images::delete(inner, &req, fingerprint),
            _ => not_implemented(),
        },
        ["images", fingerprint, "export"] => match m {
            "GET" => images::export(inner, &req, fingerprint),
            _ => not_implemented(),
        },

        ["profiles"] => match m {
            "GET" => profiles::list(inner, &req),
            "POST" => profiles::create(inner, &req),
            _ => not_implemented(),
        },
        ["profiles", name] => match m {
            "GET" => profiles::get(inner, &req, name),
            "PUT" => profiles::update(inner, &req, name, false),
            "PATCH" => profiles::update(inner, &req, name, true),
            "POST" => profiles::rename(inner, &req, name),
            "DELETE" => profiles::delete(inner, &req, name),
            _ => not_implemented(),
        },

        ["networks"] => match m {
            "GET" => networks::list(inner, &req),
            "POST" => networks::create(inner, &req),
            _ => not_implemented(),
        },
        ["networks", name] => match m {
            "GET" => networks::get(inner, &req, name),
            "PUT" => networks::update(inner, &req, name, false),
            "PATCH" => networks::update(inner, &req, name, true),
            "POST" => networks::rename(inner, &req, name),
            "DELETE" => networks::delete(inner, &req, name),
            _ => not_implemented(),
        },
        ["networks", name, "state"] => match m {
            "GET" => networks::state(inner, &req, name),
            _ => not_implemented(),
        },
        ["networks", name, "leases"] => match m {
            "GET" => networks::leases(inner, &req, name),
            _ => not_implemented(),
        },

        ["storage-pools"] => match m {
            "GET" => storage::pools_list(inner, &req),
            "POST" => storage::pool_create(inner, &req),
            _ => not_implemented(),
        },
        ["storage-pools", pool] => match m {
            "GET" => storage::pool_get(inner, &req, pool),
            "PUT" => storage::pool_update(inner, &req, pool, false),
            "PATCH" => storage::pool_update(inner, &req, pool, true),
            "DELETE" => storage::pool_delete(inner, &req, pool),
            _ => not_implemented(),
        },
        ["storage-pools", pool, "resources"] => match m {
            "GET" => storage::pool_resources(inner, pool),
            _ => not_implemented(),
        },
        ["storage-pools", pool, "volumes"] => match m {
            "GET" => storage::volumes_list(inner, &req, pool, None),
            "POST" => storage::volume_create(inner, &req, pool, "custom"),
            _ => not_implemented(),
        },
        ["storage-pools", pool, "volumes", kind] => match m {
            "GET" => storage::volumes_list(inner, &req, pool, Some(kind)),
            "POST" => storage::volume_create(inner, &req, pool, kind),
            _ => not_implemented(),
        },
        ["storage-pools", pool, "volumes", kind, name] => match m {
            "GET" => storage::volume_get(inner, &req, pool, kind, name),
            "PUT" => storage::volume_update(inner, &req, pool, kind, name, false),
            "PATCH" => storage::volume_update(inner, &req, pool, kind, name, true),
            "POST" => storage::volume_rename(inner, &req, pool, kind, name),
            "DELETE" => storage::volume_delete(inner, &req, pool, kind, name),
            _ => not_implemented(),
        },
        ["storage-pools", pool, "volumes", kind, name, "state"] => match m {
            "GET" => storage::volume_state(inner, &req, pool, kind, name),
            _ => not_implemented(),
        },
        ["storage-pools", pool, "volumes", kind, name, "snapshots"] => match m {
            "GET" => storage::snapshots_list(inner, &req, pool, kind, name),
            "POST" => storage::snapshot_create(inner, &req, pool, kind, name),
            _ => not_implemented(),
        },
        [
            "storage-pools",
            pool,
            "volumes",
            kind,
            name,
            "snapshots",
            snapshot,
        ] => match m {
            "GET" => storage::snapshot_get(inner, &req, pool, kind, name, snapshot),
            "PUT" => storage::snapshot_update(inner, &req, pool, kind, name, snapshot, false),
            "PATCH" => storage::snapshot_update(inner, &req, pool, kind, name, snapshot, true),
            "POST" => storage::snapshot_rename(inner, &req, pool, kind, name, snapshot),
            "DELETE" => storage::snapshot_delete(inner, &req, pool, kind, name, snapshot),
            _ => not_implemented(),
        },

        ["certificates"] => match m {
            "GET" => certificates::list(inner, &req),
            "POST" => certificates::create(inner, &req),
            _ => not_implemented(),
        },
        ["certificates", fingerprint] => match m {
            "GET" => certificates::get(inner, fingerprint),
            "PUT" => certificates::update(inner, &req, fingerprint, false),
            "PATCH" => certificates::update(inner, &req, fingerprint, true),
            "DELETE" => certificates::delete(inner, &req, fingerprint),
            _ => not_implemented(),
        },

        ["warnings"] => match m {
            "GET" => warnings::list(inner, &req),
            _ => not_implemented(),
        },
        ["warnings", uuid] => match m {
            "GET" => warnings::get(inner, uuid),
            "PUT" => warnings::update(inner, &req, uuid, false),
            "PATCH" => warnings::update(inner, &req, uuid, true),
            "DELETE" => warnings::delete(inner, &req, uuid),
            _ => not_implemented(),
        },

        ["cluster"] => match m {
            "GET" => cluster::get(inner),
            "PUT" => cluster::put(inner, &req),
            _ => not_implemented(),
        },
        ["cluster", "members"] => match m {
            "GET" => cluster::members_list(inner, &req),
            "POST" => cluster::member_token(inner, &req),
            _ => not_implemented(),
        },
        ["cluster", "members", name] => match m {
            "GET" => cluster::member_get(inner, name),
            "PUT" => cluster::member_update(inner, &req, name, false),
            "PATCH" => cluster::member_update(inner, &req, name, true),
            "POST" => cluster::member_rename(inner, &req, name),
            "DELETE" => cluster::member_delete(inner, &req, name),
            _ => not_implemented(),
        },
        ["cluster", "members", name, "state"] => match m {
            "GET" => cluster::member_state(inner, name),
            _ => not_implemented(),
        },

        _ => Err(ApiError::not_found("not found")),
    }
}
