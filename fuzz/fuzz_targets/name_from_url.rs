//! Object names from the URLs a list answers with (`/1.0/instances/c1?project=p`), and the
//! client's own encoding of names into paths: any name but "", "." and ".." (which every
//! entry point refuses) must come back from the URL the client would build, and no encoded
//! name may be a dot segment or carry a `/`, `?` or `#`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lxd_client::__fuzz::{name_from_url, segment};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(name) = name_from_url(&text) {
        assert!(!name.is_empty());
    }
    let encoded = segment(&text);
    let lower = encoded.to_ascii_lowercase().replace("%2e", ".");
    assert!(
        !encoded.is_empty() && lower != "." && lower != "..",
        "{text:?} -> {encoded:?}"
    );
    assert!(
        !encoded.contains(['/', '?', '#', '\\']),
        "{text:?} -> {encoded:?}"
    );
    if !matches!(&*text, "" | "." | "..") {
        let url = format!("/1.0/instances/{encoded}?project=p");
        assert_eq!(name_from_url(&url).ok().as_deref(), Some(&*text), "{url}");
    }
});
