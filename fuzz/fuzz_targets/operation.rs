//! An operation, and the exec metadata (websocket secrets, return code) it may carry.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lxd_proto::{ExecOperationMetadata, Operation};

fuzz_target!(|data: &[u8]| {
    if let Ok(op) = serde_json::from_slice::<Operation>(data) {
        let _ = format!("{op:?}");
        let _ = op.status_code.is_final();
        if let Some(metadata) = &op.metadata {
            if let Ok(exec) = serde_json::from_value::<ExecOperationMetadata>(metadata.clone()) {
                let _ = format!("{exec:?}");
            }
        }
        let encoded = serde_json::to_vec(&op).expect("encodes");
        serde_json::from_slice::<Operation>(&encoded).expect("re-encoded operation decodes");
    }
});
