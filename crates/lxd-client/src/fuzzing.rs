//! NOT API. Entry points for the fuzz targets in `fuzz/` (cargo-fuzz), which need parsers of
//! server bytes that are private to this crate. Hidden from the docs, exempt from semver: any
//! release may change or remove them. Each is a thin wrapper that feeds bytes to the parser
//! exactly as the client does.

use crate::error::Result;
use crate::image_upload::{MultipartReader, PartEvent, multipart_boundary};

/// The boundary of a split image export's `Content-Type`, as the export reads it.
///
/// ```
/// let boundary = lxd_client::__fuzz::export_boundary("multipart/form-data; boundary=b1");
/// assert_eq!(boundary.as_deref(), Some("b1"));
/// ```
pub fn export_boundary(content_type: &str) -> Option<String> {
    multipart_boundary(content_type)
}

/// The parts of a split image export body, fed to the streaming multipart reader `chunk`
/// bytes at a time (at least 1), as the export loop feeds it network chunks.
///
/// ```
/// let body = concat!(
///     "--b1\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\r\nmeta\r\n",
///     "--b1\r\nContent-Disposition: form-data; name=\"rootfs\"\r\n\r\nroot\r\n--b1--\r\n",
/// );
/// let parts = lxd_client::__fuzz::export_parts("b1", body.as_bytes(), 3).unwrap();
/// assert_eq!(parts, [b"meta".to_vec(), b"root".to_vec()]);
/// ```
pub fn export_parts(boundary: &str, body: &[u8], chunk: usize) -> Result<Vec<Vec<u8>>> {
    let mut parser = MultipartReader::new(boundary, "fuzz".into());
    let mut parts: Vec<Vec<u8>> = Vec::new();
    let mut chunks = body.chunks(chunk.max(1));
    loop {
        match parser.next_event()? {
            Some(PartEvent::Start) => parts.push(Vec::new()),
            Some(PartEvent::Data(data)) => match parts.last_mut() {
                Some(part) => part.extend_from_slice(&data),
                // The export writes data to the part it counts; none begun is its bug.
                None => panic!("multipart data before any part"),
            },
            None => match chunks.next() {
                Some(bytes) => parser.feed(bytes),
                None => {
                    parser.finish()?;
                    return Ok(parts);
                }
            },
        }
    }
}

/// The object name in a URL as LXD lists them (`/1.0/instances/c1?project=p`).
///
/// ```
/// assert_eq!(lxd_client::__fuzz::name_from_url("/1.0/instances/c%2F1").unwrap(), "c/1");
/// ```
pub fn name_from_url(url: &str) -> Result<String> {
    crate::path::name_from_url(url)
}

/// A name as the client writes it into a request path (one segment, never a dot segment).
///
/// ```
/// assert_eq!(lxd_client::__fuzz::segment("a b"), "a%20b");
/// ```
pub fn segment(name: &str) -> String {
    crate::path::segment(name)
}
