//! The streaming `multipart/form-data` reader of split image exports
//! (`GET /1.0/images/<fingerprint>/export`). The first byte chooses the network chunk size
//! (low 7 bits; 0: the whole body at once) and the mode (high bit):
//!
//! - raw: the `Content-Type` line up to `\n`, then the body, as a server sends them. Beyond
//!   "no panic, no hang": the parts must not depend on how the body was chunked, and their
//!   content cannot exceed the body.
//! - round trip: a boundary and parts are drawn from the input and written as LXD writes an
//!   export (each part with its headers); the reader must give back exactly those parts.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use lxd_client::__fuzz::{export_boundary, export_parts};

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(first & 0x7f);
    if first & 0x80 == 0 {
        raw(chunk, rest);
    } else {
        let _ = round_trip(chunk, rest);
    }
});

fn raw(chunk: usize, rest: &[u8]) {
    let (content_type, body) = match rest.iter().position(|&b| b == b'\n') {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (rest, &[][..]),
    };
    let content_type = String::from_utf8_lossy(content_type);
    let boundary = export_boundary(&content_type).unwrap_or_else(|| "lxd".to_string());
    let whole = body.len().max(1);
    let chunked = export_parts(&boundary, body, if chunk == 0 { whole } else { chunk });
    let at_once = export_parts(&boundary, body, whole);
    let byte_at_a_time = export_parts(&boundary, body, 1);
    match (&chunked, &at_once, &byte_at_a_time) {
        (Ok(a), Ok(b), Ok(c)) => {
            assert_eq!(a, b, "parts depend on chunking ({chunk})");
            assert_eq!(a, c, "parts depend on chunking (1)");
            assert!(a.iter().map(Vec::len).sum::<usize>() <= body.len());
        }
        (Err(_), Err(_), Err(_)) => {}
        _ => panic!(
            "chunk {chunk}: {:?}, whole: {:?}, 1: {:?}",
            chunked.map(|p| p.len()),
            at_once.map(|p| p.len()),
            byte_at_a_time.map(|p| p.len())
        ),
    }
}

fn round_trip(chunk: usize, rest: &[u8]) -> Result<()> {
    const ALNUM: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut u = Unstructured::new(rest);
    let len = u.int_in_range(1..=40)?;
    let boundary: String = (0..len)
        .map(|_| u.choose(ALNUM).map(|&b| char::from(b)))
        .collect::<Result<_>>()?;
    let count = u.int_in_range(0..=3)?;
    let mut parts: Vec<Vec<u8>> = Vec::new();
    for _ in 1..count {
        parts.push(u.arbitrary()?);
    }
    if count > 0 {
        // The last part takes what is left, so long contents are reachable.
        parts.push(u.take_rest().to_vec());
    }
    // A part holding the delimiter cannot be sent in this boundary (LXD's is random).
    let delimiter = format!("\r\n--{boundary}").into_bytes();
    if parts
        .iter()
        .any(|p| p.windows(delimiter.len()).any(|w| w == delimiter))
    {
        return Ok(());
    }
    let mut body = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let name = if i == 0 { "metadata" } else { "rootfs" };
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; \
                 filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(part);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let chunk = if chunk == 0 { body.len() } else { chunk };
    let content_type = format!("multipart/form-data; boundary={boundary}");
    assert_eq!(export_boundary(&content_type).as_deref(), Some(&*boundary));
    let got = export_parts(&boundary, &body, chunk).expect("an export as LXD writes it parses");
    assert_eq!(got, parts, "chunk {chunk}");
    Ok(())
}
