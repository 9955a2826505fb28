//! Trust tokens as users paste them (certificate add tokens, cluster join tokens: base64 of
//! JSON) and as token operations carry them; the testkit applies the same decoders to what
//! untrusted clients send. What decodes must encode and decode to the same token.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lxd_proto::{CertificateAddToken, ClusterMemberJoinToken, Operation};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(token) = CertificateAddToken::decode(&text) {
        let _ = format!("{token:?}");
        let again = CertificateAddToken::decode(&token.encode()).expect("encoded token decodes");
        assert_eq!(again, token);
    }
    if let Ok(token) = ClusterMemberJoinToken::decode(&text) {
        let _ = format!("{token:?}");
        let again = ClusterMemberJoinToken::decode(&token.encode()).expect("encoded token decodes");
        assert_eq!(again, token);
    }
    if let Ok(op) = serde_json::from_slice::<Operation>(data) {
        if let Some(token) = CertificateAddToken::from_operation(&op) {
            let again = CertificateAddToken::decode(&token.encode()).expect("decodes");
            assert_eq!(again, token);
        }
        if let Some(token) = ClusterMemberJoinToken::from_operation(&op) {
            let again = ClusterMemberJoinToken::decode(&token.encode()).expect("decodes");
            assert_eq!(again, token);
        }
    }
});
