//! `Operation::progress()`: on every operation that decodes (both progress shapes reach it
//! through mutation), and on the input as raw progress text in both shapes. It once panicked
//! on "é5%" (a multibyte character before the digits).
#![no_main]

use libfuzzer_sys::fuzz_target;
use lxd_proto::Operation;
use serde_json::json;

fn check(op: &Operation) {
    if let Some(progress) = op.progress() {
        assert!(progress.percent.is_none_or(|p| p <= 100), "{progress:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(op) = serde_json::from_slice::<Operation>(data) {
        check(&op);
    }
    let text = String::from_utf8_lossy(data);
    for metadata in [
        json!({ "download_progress": text }),
        json!({ "progress": {"stage": "unpack", "percent": text}, "unpack_progress": text }),
    ] {
        let op = Operation {
            metadata: Some(metadata),
            ..Default::default()
        };
        check(&op);
    }
});
