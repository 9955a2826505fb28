//! `GET /1.0/resources`: a fixed, plausible machine (2 CPUs, 8 GiB, one disk, one NIC), in
//! the shape LXD 5.0 reports hardware.

use std::sync::Arc;

use serde_json::json;

use crate::http::{ApiError, ApiResult, Reply, Req};
use crate::server::Inner;

/// `GET /1.0/resources` (`?target=` names a cluster member).
pub(crate) fn get(inner: &Arc<Inner>, req: &Req) -> ApiResult {
    if let Some(target) = req.query("target").filter(|t| !t.is_empty()) {
        let state = inner.state();
        if !state.clustered {
            return Err(ApiError::bad_request("Target only allowed when clustered"));
        }
        if !state.members.iter().any(|m| m.name == target) {
            return Err(ApiError::not_found("Cluster member not found"));
        }
    }
    let thread =
        |id: u64| json!({"id": id, "numa_node": 0, "thread": 0, "online": true, "isolated": false});
    let core = |id: u64| json!({"core": id, "die": 0, "threads": [thread(id)]});
    // Fields Go omits when empty (frequencies, disk models, ...) are left out, as LXD does on
    // a virtual machine.
    Ok(Reply::sync(json!({
        "cpu": {
            "architecture": "x86_64",
            "sockets": [{
                "name": "lxd-testkit virtual CPU",
                "vendor": "GenuineIntel",
                "socket": 0,
                "cache": [
                    {"level": 1, "type": "Data", "size": 32768},
                    {"level": 1, "type": "Instruction", "size": 32768},
                    {"level": 2, "type": "Unified", "size": 524_288},
                ],
                "cores": [core(0), core(1)],
            }],
            "total": 2,
        },
        "memory": {
            "nodes": [{"numa_node": 0, "hugepages_used": 0, "hugepages_total": 0, "used": 1_073_741_824u64, "total": 8_589_934_592u64}],
            "hugepages_total": 0,
            "hugepages_used": 0,
            "hugepages_size": 2_097_152,
            "used": 1_073_741_824u64,
            "total": 8_589_934_592u64,
        },
        "gpu": {"cards": [], "total": 0},
        "network": {
            "cards": [{
                "driver": "virtio_net",
                "driver_version": "1.0.0",
                "ports": [{
                    "id": "eth0", "address": "00:16:3e:00:00:01", "port": 0, "protocol": "ethernet",
                    "port_type": "other", "transceiver_type": "internal",
                    "auto_negotiation": false, "link_detected": true,
                }],
                "numa_node": 0,
                "pci_address": "0000:00:03.0",
                "vendor_id": "1af4",
                "product_id": "0001",
            }],
            "total": 1,
        },
        "storage": {
            "disks": [{
                "id": "vda", "device": "252:0", "type": "virtio", "read_only": false,
                "size": 107_374_182_400u64, "removable": false, "numa_node": 0,
                "block_size": 0, "rpm": 1, "device_id": "", "partitions": [],
                "pci_address": "0000:00:04.0",
            }],
            "total": 1,
        },
        "usb": {"devices": [], "total": 0},
        "pci": {"devices": [], "total": 0},
        "system": {
            "uuid": "",
            "vendor": "lxd-testkit",
            "product": "in-process LXD imitation",
            "family": "",
            "version": env!("CARGO_PKG_VERSION"),
            "sku": "",
            "serial": "",
            "type": "container",
            "firmware": null,
            "chassis": null,
            "motherboard": null,
        },
    })))
}
