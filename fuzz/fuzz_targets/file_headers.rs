//! The `X-LXD-*` headers of a file reply (`name: value` lines, prefix stripped), then the
//! stat the client builds from them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lxd_proto::{InstanceFileHeaders, InstanceFileStat};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let pairs = text.lines().filter_map(|line| line.split_once(':'));
    if let Ok(headers) = InstanceFileHeaders::from_pairs(pairs) {
        let _ = format!("{headers:?}");
        let again = InstanceFileHeaders::from_pairs(
            headers.to_pairs().iter().map(|(k, v)| (*k, v.as_str())),
        )
        .expect("encoded headers decode");
        assert_eq!(again.uid, headers.uid);
        let _ = InstanceFileStat::from_headers(&headers);
    }
});
