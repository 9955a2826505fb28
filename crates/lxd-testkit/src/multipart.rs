//! Just enough `multipart/form-data` for split images: parsing uploads (metadata and rootfs
//! parts) and writing exports the way Go's `mime/multipart` does.

use bytes::{BufMut, Bytes, BytesMut};

/// One part: its form name, file name and contents.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Part {
    pub(crate) name: String,
    pub(crate) filename: String,
    pub(crate) data: Bytes,
}

/// The `boundary` parameter of a `Content-Type` header.
pub(crate) fn boundary(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (key, value) = param.trim().split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| value.trim().trim_matches('"').to_string())
    })
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    (from..=haystack.len() - needle.len()).find(|&i| &haystack[i..i + needle.len()] == needle)
}

/// A `name="value"` parameter of a `Content-Disposition` header.
fn disposition_param(header: &str, key: &str) -> String {
    header
        .split(';')
        .skip(1)
        .find_map(|param| {
            let (k, v) = param.trim().split_once('=')?;
            (k.trim() == key).then(|| v.trim().trim_matches('"').to_string())
        })
        .unwrap_or_default()
}

/// Splits a multipart body into parts; `Err` says what is wrong.
pub(crate) fn parse(body: &Bytes, boundary: &str) -> Result<Vec<Part>, String> {
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let mut parts = Vec::new();
    let mut pos = find(body, delimiter, 0).ok_or("multipart: NextPart: EOF")?;
    loop {
        pos += delimiter.len();
        if body[pos..].starts_with(b"--") {
            return Ok(parts);
        }
        // Skip the CRLF after the delimiter.
        pos = find(body, b"\r\n", pos).ok_or("multipart: malformed delimiter line")? + 2;
        let headers_end =
            find(body, b"\r\n\r\n", pos).ok_or("multipart: malformed part headers")?;
        let headers = String::from_utf8_lossy(&body[pos..headers_end]).into_owned();
        let data_start = headers_end + 4;
        let mut next_delimiter = Vec::with_capacity(delimiter.len() + 2);
        next_delimiter.extend_from_slice(b"\r\n");
        next_delimiter.extend_from_slice(delimiter);
        let data_end =
            find(body, &next_delimiter, data_start).ok_or("multipart: unexpected EOF in part")?;
        let disposition = headers
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition:"))
            .unwrap_or_default();
        parts.push(Part {
            name: disposition_param(disposition, "name"),
            filename: disposition_param(disposition, "filename"),
            data: body.slice(data_start..data_end),
        });
        pos = data_end + 2;
    }
}

/// Writes parts as `multipart/form-data` with `boundary`.
pub(crate) fn write(parts: &[Part], boundary: &str) -> Bytes {
    let mut out = BytesMut::new();
    for part in parts {
        out.put_slice(format!("--{boundary}\r\n").as_bytes());
        out.put_slice(
            format!(
                "Content-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\nContent-Type: application/octet-stream\r\n\r\n",
                part.name, part.filename
            )
            .as_bytes(),
        );
        out.put_slice(&part.data);
        out.put_slice(b"\r\n");
    }
    out.put_slice(format!("--{boundary}--\r\n").as_bytes());
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let parts = vec![
            Part {
                name: "metadata".into(),
                filename: "meta.tar.xz".into(),
                data: Bytes::from_static(b"meta\r\ndata"),
            },
            Part {
                name: "rootfs".into(),
                filename: "rootfs.squashfs".into(),
                data: Bytes::from_static(b"rootfs"),
            },
        ];
        let body = write(&parts, "XyZ");
        assert_eq!(parse(&body, "XyZ").unwrap(), parts);
        assert_eq!(
            boundary("multipart/form-data; boundary=\"XyZ\"").as_deref(),
            Some("XyZ")
        );
        assert!(parse(&Bytes::from_static(b"nothing"), "XyZ").is_err());
    }
}
