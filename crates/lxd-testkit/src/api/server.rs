//! `GET/PUT/PATCH /1.0`: the server, as a trusted or untrusted client sees it.

use std::collections::BTreeMap;
use std::sync::Arc;

use lxd_proto::{
    ApiStatus, AuthMethod, LifecycleAction, Server, ServerEnvironment, ServerPut,
    ServerStorageDriverInfo,
};
use serde_json::{Map, Value};

use crate::api::check_etag;
use crate::http::{ApiError, ApiResult, Identity, Reply, Req};
use crate::server::Inner;
use crate::state::State;
use crate::util;

/// Config keys the server accepts, by namespace (LXD 5.0's server options).
const CONFIG_NAMESPACES: &[&str] = &[
    "backups.", "candid.", "cluster.", "core.", "images.", "maas.", "network.", "rbac.", "storage.",
];

/// The config as `GET /1.0` shows it (the trust password only as `true`).
fn shown_config(state: &State) -> Map<String, Value> {
    let mut config: Map<String, Value> = state
        .config
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    if state.trust_password.is_some() {
        config.insert("core.trust_password".into(), Value::Bool(true));
    }
    config
}

fn kernel_version() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|_| "6.1.0".into())
}

/// `GET /1.0`.
pub(crate) fn get(inner: &Arc<Inner>, req: &Req) -> ApiResult {
    let state = inner.state();
    let mut server = Server {
        api_extensions: inner.flavor.api_extensions(),
        api_status: ApiStatus::Stable,
        api_version: "1.0".into(),
        auth: if req.trusted { "trusted" } else { "untrusted" }.into(),
        auth_methods: vec![AuthMethod::Tls],
        public: false,
        ..Default::default()
    };
    let config = shown_config(&state);
    if inner.flavor.reports_client_certificate() {
        let presented = matches!(
            &req.identity,
            Identity::Tls {
                certificate: Some(_),
                ..
            }
        );
        server
            .extra
            .insert("client_certificate".into(), presented.into());
    }
    if !req.trusted {
        return Ok(Reply::json(&server));
    }
    let flags = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    if inner.flavor.reports_auth_user() {
        // Incus names the requestor as its lifecycle events do (`root`/`unix` on the
        // socket, the certificate fingerprint/`tls` over HTTPS).
        let requestor = req.requestor();
        server.auth_user_name = requestor.username;
        server.auth_user_method = requestor.protocol;
    }
    server.environment = ServerEnvironment {
        addresses: state.addresses.clone(),
        architectures: vec!["x86_64".into(), "i686".into()],
        certificate: inner.identity.cert_pem.clone(),
        certificate_fingerprint: inner.identity.fingerprint.clone(),
        driver: "lxc | qemu".into(),
        driver_version: "5.0.2 | 7.2.0".into(),
        firewall: "nftables".into(),
        kernel: "Linux".into(),
        kernel_architecture: "x86_64".into(),
        kernel_features: flags(&[
            ("idmapped_mounts", "true"),
            ("netnsid_getifaddrs", "false"),
            ("seccomp_listener", "true"),
            ("seccomp_listener_continue", "true"),
            ("shiftfs", "false"),
            ("uevent_injection", "true"),
            ("unpriv_fscaps", "true"),
        ]),
        kernel_version: kernel_version(),
        lxc_features: flags(&[
            ("cgroup2", "true"),
            ("devpts_fd", "true"),
            ("idmapped_mounts_v2", "true"),
            ("mount_injection_file", "true"),
            ("network_gateway_device_route", "true"),
            ("network_ipvlan", "true"),
            ("network_l2proxy", "true"),
            ("network_phys_macvlan_mtu", "true"),
            ("network_veth_router", "true"),
            ("pidfd", "true"),
            ("seccomp_allow_deny_syntax", "true"),
            ("seccomp_notify", "true"),
            ("seccomp_proxy_send_notify_fd", "true"),
        ]),
        os_name: "lxd-testkit".into(),
        os_version: env!("CARGO_PKG_VERSION").into(),
        project: req.project(),
        server: inner.flavor.name().into(),
        server_clustered: state.clustered,
        server_event_mode: "full-mesh".into(),
        server_name: state.server_name.clone(),
        server_pid: inner.pid,
        server_version: inner.flavor.server_version().into(),
        storage: "dir".into(),
        storage_version: "1".into(),
        storage_supported_drivers: vec![ServerStorageDriverInfo {
            name: "dir".into(),
            version: "1".into(),
            remote: false,
            extra: Map::new(),
        }],
        extra: inner.flavor.environment_extra(),
    };
    server.config = config.clone();
    let mut value = serde_json::to_value(&server).unwrap_or(Value::Null);
    // LXD always sends `config`, `{}` when empty.
    if let Value::Object(map) = &mut value {
        map.insert("config".into(), Value::Object(config.clone()));
    }
    Ok(Reply::with_etag(value, util::etag_of(&config)))
}

/// `PUT /1.0` (replace the config) and `PATCH /1.0` (merge into it).
pub(crate) fn update(inner: &Arc<Inner>, req: &Req, patch: bool) -> ApiResult {
    let put: ServerPut = req.json()?;
    let mut state = inner.state();
    check_etag(req, &util::etag_of(&shown_config(&state)))?;
    let mut config = if patch {
        state.config.clone()
    } else {
        BTreeMap::new()
    };
    let mut password = if patch {
        state.trust_password.clone()
    } else {
        None
    };
    for (key, value) in &put.config {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        // LXD 6 dropped the trust password, and its key with it.
        let gone = key == "core.trust_password" && !inner.flavor.takes_trust_password();
        if gone || !CONFIG_NAMESPACES.iter().any(|ns| key.starts_with(ns)) {
            return Err(ApiError::bad_request(format!(
                "Cannot set config key {key:?}: unknown key"
            )));
        }
        if key == "core.trust_password" {
            // GET shows the password as `true`; writing that back keeps it.
            if value == &Value::Bool(true) {
                password = state.trust_password.clone();
            } else {
                password = (!text.is_empty()).then_some(text);
            }
            continue;
        }
        if text.is_empty() {
            config.remove(key);
        } else {
            config.insert(key.clone(), text);
        }
    }
    if !patch
        && state.config.contains_key("core.https_address")
        && !config.contains_key("core.https_address")
    {
        // The listener cannot be taken down here: keep the address honest.
        config.insert(
            "core.https_address".into(),
            state.config["core.https_address"].clone(),
        );
    }
    state.config = config;
    state.trust_password = password;
    drop(state);
    inner.events.lifecycle(
        "default",
        LifecycleAction::ConfigUpdated,
        "/1.0".into(),
        Map::new(),
        Some(req.requestor()),
    );
    Ok(Reply::empty())
}
