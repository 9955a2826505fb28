//! Building request paths and checking names before anything is sent.

use crate::error::{Error, Result};

/// Percent-encodes one path segment: everything but RFC 3986 unreserved characters, so a name
/// can never add a segment, a query or a fragment.
pub(crate) fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Checks an instance (or snapshot-less instance) name as LXD does: 1 to 63 characters,
/// ASCII letters, digits and hyphens, not starting with a digit or a hyphen, not ending with a
/// hyphen.
///
/// ```
/// assert!(lxd_client::validate_instance_name("web-1").is_ok());
/// assert!(lxd_client::validate_instance_name("1web").is_err());
/// assert!(lxd_client::validate_instance_name("a/b").is_err());
/// ```
pub fn validate_instance_name(name: &str) -> Result<()> {
    let bad = |reason: &str| {
        Err(Error::invalid(
            "instance name",
            format!("{name:?}: {reason}"),
        ))
    };
    if name.is_empty() {
        return bad("empty");
    }
    if name.len() > 63 {
        return bad("longer than 63 characters");
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return bad("only ASCII letters, digits and '-' are allowed");
    }
    let first = name.as_bytes()[0];
    if first.is_ascii_digit() || first == b'-' {
        return bad("must not start with a digit or '-'");
    }
    if name.ends_with('-') {
        return bad("must not end with '-'");
    }
    Ok(())
}

/// Checks a project name as LXD does: not empty, no '/', not "." or "..", no spaces, no
/// control characters.
///
/// ```
/// assert!(lxd_client::validate_project_name("team-a").is_ok());
/// assert!(lxd_client::validate_project_name("a/b").is_err());
/// ```
pub fn validate_project_name(name: &str) -> Result<()> {
    let bad = |reason: &str| {
        Err(Error::invalid(
            "project name",
            format!("{name:?}: {reason}"),
        ))
    };
    if name.is_empty() {
        return bad("empty");
    }
    if name == "." || name == ".." {
        return bad("reserved");
    }
    if name.contains(['/', ' ', '\'', '"', '?', '#', '&', '%'])
        || name.chars().any(char::is_control)
    {
        return bad(
            "must not contain '/', spaces, quotes, '?', '#', '&', '%' or control characters",
        );
    }
    Ok(())
}

/// The last path segment of an object URL as LXD lists them (`/1.0/instances/c1?project=p`),
/// percent-decoded.
pub(crate) fn name_from_url(url: &str) -> Result<String> {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    let last = path.rsplit('/').next().unwrap_or_default();
    let bytes = last.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    let name = String::from_utf8(out)
        .map_err(|_| Error::malformed("object URL", "not UTF-8", url.as_bytes()))?;
    if name.is_empty() {
        return Err(Error::malformed(
            "object URL",
            "no name in URL",
            url.as_bytes(),
        ));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_cannot_escape() {
        assert_eq!(segment("c1"), "c1");
        assert_eq!(segment("../x"), "..%2Fx");
        assert_eq!(segment("a b?c#d"), "a%20b%3Fc%23d");
        assert_eq!(segment("é"), "%C3%A9");
    }

    #[test]
    fn names_from_urls() {
        assert_eq!(name_from_url("/1.0/instances/c1").unwrap(), "c1");
        assert_eq!(name_from_url("/1.0/instances/c1?project=p").unwrap(), "c1");
        assert_eq!(name_from_url("/1.0/images/aliases/a%2Fb").unwrap(), "a/b");
        assert_eq!(name_from_url("/1.0/x/100%").unwrap(), "100%");
        assert!(name_from_url("/1.0/instances/").is_err());
    }

    #[test]
    fn instance_names() {
        for ok in ["a", "c1", "web-01", &"a".repeat(63)] {
            assert!(validate_instance_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-a",
            "a-",
            "1a",
            "a_b",
            "a.b",
            "a/b",
            "ä",
            &"a".repeat(64),
        ] {
            let e = validate_instance_name(bad).unwrap_err();
            assert!(e.is_invalid_input(), "{bad}");
        }
    }

    #[test]
    fn project_names() {
        assert!(validate_project_name("default").is_ok());
        for bad in ["", ".", "..", "a/b", "a b", "a\n"] {
            assert!(validate_project_name(bad).is_err(), "{bad:?}");
        }
    }
}
