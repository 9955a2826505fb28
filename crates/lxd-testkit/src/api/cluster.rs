//! `/1.0/cluster`: a simulated cluster. Members are records (all report Online); the server
//! itself is the first member; instances are placed on members with `?target=`; join tokens
//! are real token operations. Joining a real cluster is not implemented.

use std::collections::BTreeMap;
use std::sync::Arc;

use lxd_proto::{LifecycleAction, OperationClass};
use serde_json::{Map, Value, json};

use crate::events::context;
use crate::http::{ApiError, ApiResult, Reply, Req};
use crate::operations::OpSpec;
use crate::server::Inner;
use crate::state::{MemberRec, State};
use crate::util::{self, api_url};

fn member_url(name: &str) -> String {
    api_url(&["cluster", "members", name], "")
}

fn render(member: &MemberRec) -> Value {
    json!({
        "architecture": member.architecture,
        "config": member.config,
        "database": member.roles.iter().any(|r| r == "database"),
        "description": member.description,
        "failure_domain": member.failure_domain,
        "groups": member.groups,
        "message": member.message,
        "roles": member.roles,
        "server_name": member.name,
        "status": member.status,
        "url": member.url,
    })
}

fn etag(member: &MemberRec) -> String {
    util::etag_of(&json!([
        member.name,
        member.description,
        member.roles,
        member.failure_domain,
        member.config,
        member.groups
    ]))
}

fn clustered(state: &State) -> Result<(), ApiError> {
    if state.clustered {
        Ok(())
    } else {
        Err(ApiError::internal("Server is not clustered"))
    }
}

fn not_found() -> ApiError {
    ApiError::not_found("Cluster member not found")
}

/// `GET /1.0/cluster`.
pub(crate) fn get(inner: &Arc<Inner>) -> ApiResult {
    let state = inner.state();
    let member_config: Vec<Value> = state
        .pools
        .iter()
        .map(|p| {
            json!({
                "entity": "storage-pool",
                "name": p.name,
                "key": "source",
                "value": "",
                "description": format!("\"source\" property for storage pool \"{}\"", p.name),
            })
        })
        .collect();
    Ok(Reply::sync(json!({
        "server_name": if state.clustered { state.server_name.clone() } else { String::new() },
        "enabled": state.clustered,
        "member_config": member_config,
    })))
}

/// `PUT /1.0/cluster`: enabling clustering on a standalone server bootstraps a one-member
/// cluster; joining another cluster and disabling are not implemented.
pub(crate) fn put(inner: &Arc<Inner>, req: &Req) -> ApiResult {
    let body = req.json_object()?;
    let enabled = body
        .get("enabled")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let address = super::text(&body, "cluster_address");
    if !enabled {
        return Err(ApiError::not_implemented(
            "lxd-testkit does not implement disabling clustering",
        ));
    }
    if !address.is_empty() {
        return Err(ApiError::not_implemented(
            "lxd-testkit does not implement joining a cluster",
        ));
    }
    let server_name = super::text(&body, "server_name").to_string();
    if inner.state().clustered {
        return Err(ApiError::bad_request("This server is already clustered"));
    }
    let op = inner
        .ops
        .create(OpSpec::task("Creating bootstrap node", ""));
    let task_inner = inner.clone();
    let requestor = req.requestor();
    Ok(inner
        .ops
        .start(&op, req.faults.operation.clone(), async move {
            let inner = task_inner;
            let location = {
                let mut state = inner.state();
                if !server_name.is_empty() {
                    state.server_name = server_name;
                }
                let url = state
                    .addresses
                    .first()
                    .map(|a| format!("https://{a}"))
                    .unwrap_or_else(|| "https://127.0.0.1:8443".into());
                let name = state.server_name.clone();
                crate::seed::apply(&mut state, &crate::seed::Seed::Member(name.clone()))?;
                if let Some(first) = state.members.first_mut() {
                    first.url = url;
                }
                for instance in state.instances.iter_mut() {
                    instance.location = name.clone();
                }
                state.location()
            };
            inner.events.set_location(&location);
            inner.ops.set_location(&location);
            inner.events.lifecycle(
                "default",
                LifecycleAction::ClusterEnabled,
                api_url(&["cluster"], ""),
                Map::new(),
                Some(requestor),
            );
            Ok(())
        }))
}

/// `GET /1.0/cluster/members`.
pub(crate) fn members_list(inner: &Arc<Inner>, req: &Req) -> ApiResult {
    let state = inner.state();
    clustered(&state)?;
    let items: Vec<Value> = state
        .members
        .iter()
        .map(|m| {
            if req.recursion() > 0 {
                render(m)
            } else {
                Value::String(member_url(&m.name))
            }
        })
        .collect();
    Ok(Reply::sync(items))
}

/// `GET /1.0/cluster/members/<name>`.
pub(crate) fn member_get(inner: &Arc<Inner>, name: &str) -> ApiResult {
    let state = inner.state();
    clustered(&state)?;
    let member = state
        .members
        .iter()
        .find(|m| m.name == name)
        .ok_or_else(not_found)?;
    Ok(Reply::with_etag(render(member), etag(member)))
}

/// `GET /1.0/cluster/members/<name>/state`.
pub(crate) fn member_state(inner: &Arc<Inner>, name: &str) -> ApiResult {
    let state = inner.state();
    clustered(&state)?;
    state
        .members
        .iter()
        .find(|m| m.name == name)
        .ok_or_else(not_found)?;
    let pools: BTreeMap<String, Value> = state
        .pools
        .iter()
        .map(|p| {
            (
                p.name.clone(),
                json!({"space": {"used": 0, "total": 107_374_182_400u64}, "inodes": {"used": 0, "total": 6_553_600}}),
            )
        })
        .collect();
    Ok(Reply::sync(json!({
        "storage_pools": pools,
        "sysinfo": {
            "uptime": 3600, "load_averages": [0.1, 0.1, 0.1], "total_ram": 8_589_934_592u64,
            "free_ram": 4_294_967_296u64, "shared_ram": 0, "buffered_ram": 0, "total_swap": 0,
            "free_swap": 0, "processes": 100, "logical_cpus": 2,
        },
    })))
}

/// `POST /1.0/cluster/members`: a join token for a new member (a token operation).
pub(crate) fn member_token(inner: &Arc<Inner>, req: &Req) -> ApiResult {
    let body = req.json_object()?;
    let server_name = super::text(&body, "server_name").to_string();
    let addresses: Vec<String> = {
        let state = inner.state();
        if !state.clustered {
            return Err(ApiError::bad_request("This server is not clustered"));
        }
        state
            .members
            .iter()
            .map(|m| m.url.trim_start_matches("https://").to_string())
            .collect()
    };
    // Single use: an older token for the same name goes.
    for op in inner.ops.all() {
        let same = op.class == OperationClass::Token
            && op.status() == lxd_proto::StatusCode::RUNNING
            && op
                .metadata()
                .and_then(|m| {
                    m.get("serverName")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
                .is_some_and(|n| n == server_name);
        if same {
            let _ = inner.ops.cancel(&op);
        }
    }
    let mut spec = OpSpec::task("Executing operation", "default");
    spec.resources = Some(BTreeMap::from([("cluster".to_string(), Vec::new())]));
    spec.class = OperationClass::Token;
    spec.may_cancel = true;
    spec.metadata = Some(json!({
        "serverName": server_name,
        "secret": util::secret(),
        "fingerprint": inner.identity.fingerprint,
        "addresses": addresses,
        "expiresAt": util::rfc3339(std::time::SystemTime::now() + std::time::Duration::from_secs(3 * 3600)),
    }));
    let op = inner.ops.create(spec);
    let reply = inner.ops.start_token(&op);
    inner.events.lifecycle(
        &req.project(),
        LifecycleAction::ClusterTokenCreated,
        api_url(&["cluster", "members"], ""),
        Map::new(),
        Some(req.requestor()),
    );
    Ok(reply)
}

/// `PUT`/`PATCH /1.0/cluster/members/<name>`.
pub(crate) fn member_update(inner: &Arc<Inner>, req: &Req, name: &str, patch: bool) -> ApiResult {
    let body = req.json_object()?;
    {
        let mut state = inner.state();
        clustered(&state)?;
        let member = state
            .members
            .iter_mut()
            .find(|m| m.name == name)
            .ok_or_else(not_found)?;
        crate::api::check_etag(req, &etag(member))?;
        let set = |key: &str| !patch || body.contains_key(key);
        if set("description") {
            member.description = super::text(&body, "description").to_string();
        }
        if set("roles") {
            member.roles = crate::state::strings_from_json(body.get("roles"))
                .map_err(ApiError::bad_request)?;
        }
        if set("failure_domain") {
            member.failure_domain = body
                .get("failure_domain")
                .and_then(Value::as_str)
                .filter(|d| !d.is_empty())
                .unwrap_or("default")
                .to_string();
        }
        if set("config") {
            let config = crate::state::config_from_json(body.get("config"))
                .map_err(ApiError::bad_request)?;
            if patch {
                member.config.extend(config);
            } else {
                member.config = config;
            }
        }
        if set("groups") && body.contains_key("groups") {
            member.groups = crate::state::strings_from_json(body.get("groups"))
                .map_err(ApiError::bad_request)?;
        }
    }
    inner.events.lifecycle(
        "default",
        LifecycleAction::ClusterMemberUpdated,
        member_url(name),
        Map::new(),
        Some(req.requestor()),
    );
    Ok(Reply::empty())
}

/// `POST /1.0/cluster/members/<name>`: rename.
pub(crate) fn member_rename(inner: &Arc<Inner>, req: &Req, name: &str) -> ApiResult {
    let body = req.json_object()?;
    let new_name = super::text(&body, "server_name").to_string();
    util::validate_hostname(&new_name).map_err(ApiError::bad_request)?;
    let location = {
        let mut state = inner.state();
        clustered(&state)?;
        if state.members.iter().any(|m| m.name == new_name) {
            return Err(ApiError::bad_request(format!(
                "The cluster member {new_name:?} already exists"
            )));
        }
        let member = state
            .members
            .iter_mut()
            .find(|m| m.name == name)
            .ok_or_else(not_found)?;
        member.name = new_name.clone();
        for instance in state.instances.iter_mut().filter(|i| i.location == name) {
            instance.location = new_name.clone();
        }
        if state.server_name == name {
            state.server_name = new_name.clone();
        }
        state.location()
    };
    inner.events.set_location(&location);
    inner.ops.set_location(&location);
    inner.events.lifecycle(
        "default",
        LifecycleAction::ClusterMemberRenamed,
        member_url(&new_name),
        context(&[("old_name", Value::String(name.to_string()))]),
        Some(req.requestor()),
    );
    Ok(Reply::created(member_url(&new_name)))
}

/// `DELETE /1.0/cluster/members/<name>`: refused while instances live there, and for the
/// server itself.
pub(crate) fn member_delete(inner: &Arc<Inner>, req: &Req, name: &str) -> ApiResult {
    {
        let mut state = inner.state();
        clustered(&state)?;
        if !state.members.iter().any(|m| m.name == name) {
            return Err(not_found());
        }
        if state.server_name == name {
            return Err(ApiError::bad_request(
                "lxd-testkit cannot remove the member it runs as",
            ));
        }
        let left: Vec<String> = state
            .instances
            .iter()
            .filter(|i| i.location == name)
            .map(|i| i.name.clone())
            .collect();
        if !left.is_empty() {
            return Err(ApiError::bad_request(format!(
                "Node still has the following instances: {}",
                left.join(", ")
            )));
        }
        state.members.retain(|m| m.name != name);
    }
    inner.events.lifecycle(
        "default",
        LifecycleAction::ClusterMemberRemoved,
        member_url(name),
        Map::new(),
        Some(req.requestor()),
    );
    Ok(Reply::empty())
}
