//! LXD's reply envelope, then what the client does next with it: the operation id of an
//! async reply and its metadata as an operation or an instance.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lxd_proto::{Instance, Operation, Response};

fuzz_target!(|data: &[u8]| {
    if let Ok(response) = serde_json::from_slice::<Response>(data) {
        let _ = format!("{response:?}");
        let _ = response.is_error();
        let _ = response.is_async();
        let _ = response.operation_id();
        let _ = response.metadata_as::<Operation>();
        let _ = response.metadata_as::<Instance>();
        let encoded = serde_json::to_vec(&response).expect("encodes");
        serde_json::from_slice::<Response>(&encoded).expect("re-encoded envelope decodes");
    }
});
