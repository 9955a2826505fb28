//! One message of the `/1.0/events` websocket.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lxd_proto::Event;

fuzz_target!(|data: &[u8]| {
    if let Ok(event) = serde_json::from_slice::<Event>(data) {
        let _ = format!("{event:?}");
        let _ = event.event_type();
        let encoded = serde_json::to_vec(&event).expect("encodes");
        serde_json::from_slice::<Event>(&encoded).expect("re-encoded event decodes");
    }
});
