//! `/1.0/networks`: managed networks are records (no interfaces, no traffic); the host's
//! unmanaged interfaces (`lo`, `eth0`) are listed read-only, like LXD lists them.

use std::sync::Arc;

use lxd_proto::{Devices, LifecycleAction};
use serde_json::{Map, Value, json};

use crate::api::check_etag;
use crate::api::writes::{self, Lifecycle, WriteOp};
use crate::events::context;
use crate::http::{ApiError, ApiResult, Reply, Req};
use crate::server::Inner;
use crate::state::{NetworkRec, State, clean_config, config_from_json, map_json};
use crate::util::{self, api_url};

const TYPES: &[&str] = &["bridge", "macvlan", "sriov", "ovn", "physical"];

fn url(project: &str, name: &str) -> String {
    api_url(&["networks", name], project)
}

fn not_found() -> ApiError {
    ApiError::not_found("Network not found")
}

fn uses(devices: &Devices, network: &str) -> bool {
    devices.values().any(|d| {
        d.get("type").map(String::as_str) == Some("nic")
            && (d.get("network").map(String::as_str) == Some(network)
                || d.get("parent").map(String::as_str) == Some(network))
    })
}

fn used_by(state: &State, network: &NetworkRec) -> Vec<String> {
    let mut out = Vec::new();
    for profile in &state.profiles {
        if uses(&profile.devices, &network.name) {
            out.push(api_url(&["profiles", &profile.name], &profile.project));
        }
    }
    for instance in &state.instances {
        if uses(&instance.devices, &network.name) {
            out.push(crate::api::instances::url(instance));
        }
    }
    out
}

fn render(state: &State, network: &NetworkRec) -> Value {
    let used = used_by(state, network);
    json!({
        "config": map_json(&network.config),
        "description": network.description,
        "locations": if network.managed { json!([state.location()]) } else { Value::Null },
        "managed": network.managed,
        "name": network.name,
        "status": if network.managed { "Created" } else { "" },
        "type": network.kind,
        "used_by": if used.is_empty() && !network.managed && network.kind != "loopback" { Value::Null } else { json!(used) },
    })
}

fn etag(network: &NetworkRec) -> String {
    util::etag_of(&json!([
        network.name,
        network.managed,
        network.kind,
        network.description,
        network.config
    ]))
}

fn networks_project(state: &State, req: &Req) -> Result<String, ApiError> {
    let project = req.project();
    if !state.has_project(&project) {
        return Err(ApiError::not_found(format!(
            "Failed loading project {project:?}: Project not found"
        )));
    }
    Ok(state.networks_project(&project))
}

fn find<'a>(state: &'a State, req: &Req, name: &str) -> Result<&'a NetworkRec, ApiError> {
    let project = networks_project(state, req)?;
    state
        .networks
        .iter()
        .find(|n| n.name == name && (!n.managed || n.project == project))
        .ok_or_else(not_found)
}

/// `GET /1.0/networks`.
pub(crate) fn list(inner: &Arc<Inner>, req: &Req) -> ApiResult {
    let state = inner.state();
    let project = networks_project(&state, req)?;
    let items: Vec<Value> = state
        .networks
        .iter()
        .filter(|n| !n.managed || n.project == project)
        .map(|n| {
            if req.recursion() > 0 {
                render(&state, n)
            } else {
                Value::String(url(&req.project(), &n.name))
            }
        })
        .collect();
    Ok(Reply::sync(items))
}

/// `GET /1.0/networks/<name>`.
pub(crate) fn get(inner: &Arc<Inner>, req: &Req, name: &str) -> ApiResult {
    let state = inner.state();
    let network = find(&state, req, name)?;
    Ok(Reply::with_etag(render(&state, network), etag(network)))
}

/// Addresses LXD picks for a new bridge when none are given.
fn auto_addresses(config: &mut std::collections::BTreeMap<String, String>) {
    let hex = util::secret();
    let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or(1);
    if !config.contains_key("ipv4.address") {
        config.insert(
            "ipv4.address".into(),
            format!("10.{}.{}.1/24", byte(0), byte(2)),
        );
        config
            .entry("ipv4.nat".into())
            .or_insert_with(|| "true".into());
    }
    if !config.contains_key("ipv6.address") {
        config.insert(
            "ipv6.address".into(),
            format!("fd42:{}:{}::1/64", &hex[4..8], &hex[8..12]),
        );
        config
            .entry("ipv6.nat".into())
            .or_insert_with(|| "true".into());
    }
}

/// `POST /1.0/networks`. LXD 6.9 checks the name and type at once and finds a duplicate
/// only inside the operation ("The network already exists"), as `networksPost` does.
pub(crate) fn create(inner: &Arc<Inner>, req: &Req) -> ApiResult {
    let body = req.json_object()?;
    let text = |k: &str| super::text(&body, k).to_string();
    let name = text("name");
    let kind = match text("type") {
        t if t.is_empty() => "bridge".to_string(),
        t => t,
    };
    if name.is_empty() {
        return Err(ApiError::bad_request("No name provided"));
    }
    util::validate_entity_name("Network", &name).map_err(ApiError::bad_request)?;
    if name.len() > 15 {
        return Err(ApiError::bad_request(format!(
            "Network name {name:?} is too long (max 15 characters)"
        )));
    }
    if !TYPES.contains(&kind.as_str()) {
        return Err(ApiError::bad_request(format!(
            "Unrecognised network type {kind:?}"
        )));
    }
    let mut config =
        clean_config(config_from_json(body.get("config")).map_err(ApiError::bad_request)?);
    if kind == "bridge" {
        auto_addresses(&mut config);
    }
    let project = networks_project(&inner.state(), req)?;
    let source = url(&req.project(), &name);
    let record = NetworkRec {
        name: name.clone(),
        project,
        description: text("description"),
        kind,
        managed: true,
        config,
    };
    let in_operation = inner.flavor.network_and_pool_writes_are_async();
    let (server, event) = (inner.clone(), Lifecycle::new(req, &source));
    let work = move || {
        {
            let mut state = server.state();
            if state
                .networks
                .iter()
                .any(|n| n.name == record.name && (!n.managed || n.project == record.project))
            {
                return Err(if in_operation {
                    ApiError::bad_request("The network already exists")
                } else {
                    ApiError::conflict(format!("Network {:?} already exists", record.name))
                });
            }
            state.networks.push(record);
        }
        event.send(&server, LifecycleAction::NetworkCreated, Map::new());
        Ok(())
    };
    let op = WriteOp::new("Creating network", req, &source);
    writes::answer(inner, req, op, Reply::created(source), work)
}

/// `PUT`/`PATCH /1.0/networks/<name>`.
pub(crate) fn update(inner: &Arc<Inner>, req: &Req, name: &str, patch: bool) -> ApiResult {
    let body = req.json_object()?;
    let config = config_from_json(body.get("config")).map_err(ApiError::bad_request)?;
    let current = {
        let state = inner.state();
        let current = find(&state, req, name)?.clone();
        if !current.managed {
            return Err(ApiError::bad_request(
                "Only managed networks can be modified",
            ));
        }
        check_etag(req, &etag(&current))?;
        current
    };
    let description = (!patch || body.contains_key("description"))
        .then(|| super::text(&body, "description").to_string());
    let source = url(&req.project(), name);
    let (server, event) = (inner.clone(), Lifecycle::new(req, &source));
    let work = move || {
        {
            let mut state = server.state();
            let network = state
                .networks
                .iter_mut()
                .find(|n| n.managed && n.project == current.project && n.name == current.name)
                .ok_or_else(not_found)?;
            if patch {
                network.config.extend(config);
            } else {
                network.config = config;
            }
            network.config = clean_config(std::mem::take(&mut network.config));
            if let Some(description) = description {
                network.description = description;
            }
        }
        event.send(&server, LifecycleAction::NetworkUpdated, Map::new());
        Ok(())
    };
    let op = WriteOp::new("Updating network", req, &source);
    writes::answer(inner, req, op, Reply::empty(), work)
}

/// `POST /1.0/networks/<name>`: rename.
pub(crate) fn rename(inner: &Arc<Inner>, req: &Req, name: &str) -> ApiResult {
    let body = req.json_object()?;
    let new_name = super::text(&body, "name").to_string();
    util::validate_entity_name("Network", &new_name).map_err(ApiError::bad_request)?;
    let current = {
        let state = inner.state();
        let current = find(&state, req, name)?.clone();
        if !current.managed {
            return Err(ApiError::bad_request(
                "Only managed networks can be renamed",
            ));
        }
        if !used_by(&state, &current).is_empty() {
            return Err(ApiError::bad_request("Network is currently in use"));
        }
        if state
            .networks
            .iter()
            .any(|n| n.name == new_name && (!n.managed || n.project == current.project))
        {
            return Err(ApiError::conflict(format!(
                "Network {new_name:?} already exists"
            )));
        }
        current
    };
    let source = url(&req.project(), &new_name);
    let (server, event) = (inner.clone(), Lifecycle::new(req, &source));
    let work = move || {
        if let Some(network) = server
            .state()
            .networks
            .iter_mut()
            .find(|n| n.managed && n.project == current.project && n.name == current.name)
        {
            network.name = new_name;
        }
        let context = context(&[("old_name", Value::String(current.name))]);
        event.send(&server, LifecycleAction::NetworkRenamed, context);
        Ok(())
    };
    let op =
        WriteOp::new("Renaming network", req, &source).renamed_from(&url(&req.project(), name));
    writes::answer(inner, req, op, Reply::created(source), work)
}

/// `DELETE /1.0/networks/<name>`. LXD 6.9 answers a missing network at once but finds it
/// in use only inside the operation (`doNetworkDelete`).
pub(crate) fn delete(inner: &Arc<Inner>, req: &Req, name: &str) -> ApiResult {
    let current = {
        let state = inner.state();
        let current = find(&state, req, name)?.clone();
        if !current.managed {
            return Err(ApiError::bad_request(
                "Only managed networks can be removed",
            ));
        }
        current
    };
    let source = url(&req.project(), name);
    let (server, event) = (inner.clone(), Lifecycle::new(req, &source));
    let work = move || {
        {
            let mut state = server.state();
            if !used_by(&state, &current).is_empty() {
                return Err(ApiError::bad_request("The network is currently in use"));
            }
            state
                .networks
                .retain(|n| !(n.managed && n.project == current.project && n.name == current.name));
        }
        event.send(&server, LifecycleAction::NetworkDeleted, Map::new());
        Ok(())
    };
    let op = WriteOp::new("Deleting network", req, &source);
    writes::answer(inner, req, op, Reply::empty(), work)
}

/// A stable MAC address in LXD's `00:16:3e` range.
fn hwaddr(name: &str) -> String {
    let hash = util::sha256_hex(name.as_bytes());
    format!("00:16:3e:{}:{}:{}", &hash[0..2], &hash[2..4], &hash[4..6])
}

/// `GET /1.0/networks/<name>/state`.
pub(crate) fn state(inner: &Arc<Inner>, req: &Req, name: &str) -> ApiResult {
    let state = inner.state();
    let network = find(&state, req, name)?;
    let (kind, mtu, up) = match network.kind.as_str() {
        "loopback" => ("loopback", 65536, true),
        _ => ("broadcast", 1500, network.managed || network.name == "eth0"),
    };
    let mut addresses = Vec::new();
    for (key, family) in [("ipv4.address", "inet"), ("ipv6.address", "inet6")] {
        if let Some((address, netmask)) = network.config.get(key).and_then(|a| a.split_once('/')) {
            addresses.push(json!({"family": family, "address": address, "netmask": netmask, "scope": "global"}));
        }
    }
    Ok(Reply::sync(json!({
        "addresses": addresses,
        "counters": {"bytes_received": 0, "bytes_sent": 0, "packets_received": 0, "packets_sent": 0},
        "hwaddr": if kind == "loopback" { String::new() } else { hwaddr(&network.name) },
        "mtu": mtu,
        "state": if up { "up" } else { "down" },
        "type": kind,
        "bond": null,
        "bridge": if network.kind == "bridge" { json!({"id": "8000.00163e000000", "stp": false, "forward_delay": 1500, "vlan_default": 1, "vlan_filtering": false, "upper_devices": []}) } else { Value::Null },
        "vlan": null,
        "ovn": null,
    })))
}

/// `GET /1.0/networks/<name>/leases`: nothing is ever leased here.
pub(crate) fn leases(inner: &Arc<Inner>, req: &Req, name: &str) -> ApiResult {
    let state = inner.state();
    let network = find(&state, req, name)?;
    if !network.managed {
        return Err(ApiError::bad_request(
            "Networks not managed by LXD don't have leases",
        ));
    }
    Ok(Reply::sync(json!([])))
}
