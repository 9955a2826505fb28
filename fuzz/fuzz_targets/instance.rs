//! Instances as `GET /1.0/instances/<name>` (plain, `?recursion=2` full) and their state.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lxd_proto::{Instance, InstanceFull, InstanceState};

fuzz_target!(|data: &[u8]| {
    if let Ok(instance) = serde_json::from_slice::<Instance>(data) {
        let _ = format!("{instance:?}");
        let encoded = serde_json::to_vec(&instance).expect("encodes");
        serde_json::from_slice::<Instance>(&encoded).expect("re-encoded instance decodes");
    }
    if let Ok(full) = serde_json::from_slice::<InstanceFull>(data) {
        let _ = format!("{full:?}");
    }
    if let Ok(state) = serde_json::from_slice::<InstanceState>(data) {
        let _ = format!("{state:?}");
    }
});
