//! Building request paths and checking names before anything is sent.

use crate::error::{Error, Result};

/// Percent-encodes one path segment: everything but RFC 3986 unreserved characters, so a name
/// can never add a segment, a query or a fragment.
///
/// Every caller checks its name first (`""`, `.` and `..` are refused as invalid input), but
/// this never yields a dot segment or an empty one whatever it is given: URL parsers resolve
/// `.`, `..` and their percent-encoded forms (`%2E`, `.%2e`, ...) alike, and an empty segment
/// names the collection, so any of them would send the request to another endpoint (`GET
/// /1.0/operations/..` went out as `GET /1.0/`). Those three become a segment that no LXD object
/// can be named (the name, encoded, then an encoded NUL): the request stays on the endpoint
/// it was built for and the server answers that nothing has that name.
pub(crate) fn segment(s: &str) -> String {
    if is_dot_or_empty(s) {
        return format!("{}%00", s.replace('.', "%2E"));
    }
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

/// `""`, `.` or `..`: names that cannot be a path segment of their own.
fn is_dot_or_empty(s: &str) -> bool {
    matches!(s, "" | "." | "..")
}

/// Refuses, as invalid input, what can never be one path segment: empty, `.`, `..`, or
/// anything with a `/`. For values whose other rules belong to the server (operation ids,
/// volume types): every name and id sent in a path passes this or a stricter check first.
pub(crate) fn validate_segment(what: &'static str, s: &str) -> Result<()> {
    if is_dot_or_empty(s) {
        let reason = if s.is_empty() { "empty" } else { "reserved" };
        return Err(Error::invalid(what, format!("{s:?}: {reason}")));
    }
    if s.contains('/') {
        return Err(Error::invalid(what, format!("{s:?}: must not contain '/'")));
    }
    Ok(())
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

/// The checks every LXD object name shares: not empty, not `.` or `..`, no `/` (it would
/// change the URL's path, and LXD refuses it), no control characters.
fn plain_name(what: &'static str, name: &str) -> Result<()> {
    let bad = |reason: &str| Err(Error::invalid(what, format!("{name:?}: {reason}")));
    if name.is_empty() {
        return bad("empty");
    }
    if name == "." || name == ".." {
        return bad("reserved");
    }
    if name.contains('/') {
        return bad("must not contain '/'");
    }
    if name.chars().any(char::is_control) {
        return bad("must not contain control characters");
    }
    Ok(())
}

/// Checks a network name with the rules LXD applies to every network type: not empty, not
/// `.` or `..`, none of `/ ? & + :`, no spaces or control characters. (Bridges are further
/// limited by LXD to interface names: 2 to 15 characters of letters, digits, `-`, `_`, `.`.)
///
/// ```
/// assert!(lxd_client::validate_network_name("lxdbr0").is_ok());
/// assert!(lxd_client::validate_network_name("a:b").is_err());
/// ```
pub fn validate_network_name(name: &str) -> Result<()> {
    plain_name("network name", name)?;
    if name.contains(['?', '&', '+', ':', ' ']) {
        return Err(Error::invalid(
            "network name",
            format!("{name:?}: must not contain '?', '&', '+', ':' or spaces"),
        ));
    }
    Ok(())
}

/// Checks a network ACL name as LXD does: a host name (1 to 63 ASCII letters, digits and
/// `-`, not starting with a digit or `-`, not ending with `-`), so rules can tell it from an
/// address.
///
/// ```
/// assert!(lxd_client::validate_network_acl_name("web-in").is_ok());
/// assert!(lxd_client::validate_network_acl_name("@internal").is_err());
/// ```
pub fn validate_network_acl_name(name: &str) -> Result<()> {
    validate_instance_name(name).map_err(|e| match e {
        Error::InvalidInput { reason, .. } => Error::invalid("network ACL name", reason),
        other => other,
    })
}

/// Checks a profile name as LXD does: not empty, not `.` or `..`, no `/`.
///
/// ```
/// assert!(lxd_client::validate_profile_name("web servers").is_ok());
/// assert!(lxd_client::validate_profile_name("a/b").is_err());
/// ```
pub fn validate_profile_name(name: &str) -> Result<()> {
    plain_name("profile name", name)
}

/// Checks a storage pool name as LXD does: not empty, not `.` or `..`, no `/`.
///
/// ```
/// assert!(lxd_client::validate_storage_pool_name("default").is_ok());
/// assert!(lxd_client::validate_storage_pool_name("").is_err());
/// ```
pub fn validate_storage_pool_name(name: &str) -> Result<()> {
    plain_name("storage pool name", name)
}

/// Checks a storage volume (or volume snapshot) name: not empty, not `.` or `..`, no `/`
/// (LXD uses it to separate a volume from its snapshot).
///
/// ```
/// assert!(lxd_client::validate_storage_volume_name("data").is_ok());
/// assert!(lxd_client::validate_storage_volume_name("data/snap0").is_err());
/// ```
pub fn validate_storage_volume_name(name: &str) -> Result<()> {
    plain_name("storage volume name", name)
}

/// Checks a key made of hex digits and `-` (certificate fingerprints or their prefixes,
/// warning UUIDs, operation ids).
pub(crate) fn validate_hex_key(what: &'static str, key: &str) -> Result<()> {
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
        return Err(Error::invalid(
            what,
            format!("{key:?}: expected hex digits (and '-')"),
        ));
    }
    Ok(())
}

/// The names of objects from the URLs a list answers with.
pub(crate) fn names_from_urls(urls: &[String]) -> Result<Vec<String>> {
    urls.iter().map(|u| name_from_url(u)).collect()
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
        assert_eq!(segment("..."), "...");
        assert_eq!(segment(".x"), ".x");
    }

    /// What a URL parser makes of a segment: dot segments (`.`, `..`, and any mix of `.` and
    /// `%2e` forming one) and empty ones change the path's depth.
    fn is_dot_segment(seg: &str) -> bool {
        let lower = seg.to_ascii_lowercase().replace("%2e", ".");
        seg.is_empty() || lower == "." || lower == ".."
    }

    #[test]
    fn segments_are_never_dot_or_empty() {
        // Regression: "." and ".." became "%2E" and "%2E%2E", which URL parsers still resolve
        // (`GET /1.0/operations/%2E%2E` went out as `GET /1.0/`); "" named the collection.
        for name in ["", ".", "..", "%2E", "%2e%2E", ".%2e"] {
            let encoded = segment(name);
            assert!(!is_dot_segment(&encoded), "{name:?} -> {encoded:?}");
            assert!(!encoded.contains('/'), "{name:?} -> {encoded:?}");
        }
        assert_eq!(segment("."), "%2E%00");
        assert_eq!(segment(".."), "%2E%2E%00");
        assert_eq!(segment(""), "%00");
        // Any other input: one segment, not a dot one.
        let alphabet = ['.', '%', '2', 'e', 'E', '/', 'a', '\\', ' ', '\0'];
        let mut names = vec![String::new()];
        for _ in 0..4 {
            names = names
                .iter()
                .flat_map(|n| alphabet.iter().map(move |c| format!("{n}{c}")))
                .chain(names.iter().cloned())
                .collect();
            names.sort();
            names.dedup();
        }
        for name in &names {
            let encoded = segment(name);
            assert!(!is_dot_segment(&encoded), "{name:?} -> {encoded:?}");
            assert!(
                !encoded.contains(['/', '\\', '?', '#']),
                "{name:?} -> {encoded:?}"
            );
        }
    }

    #[test]
    fn bare_segments_are_checked() {
        for bad in ["", ".", "..", "a/b", "/"] {
            let e = validate_segment("operation id", bad).unwrap_err();
            assert!(e.is_invalid_input(), "{bad:?}");
            assert!(e.to_string().contains("operation id"), "{e}");
        }
        for ok in [
            "6916c8a6-9b7d-4abd-90b3-aedfec7ec7da",
            "...",
            "a.b",
            "x y",
            "é",
        ] {
            assert!(validate_segment("operation id", ok).is_ok(), "{ok:?}");
        }
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
    fn resource_names() {
        for ok in ["lxdbr0", "my-net_1.x"] {
            assert!(validate_network_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", ".", "..", "a/b", "a:b", "a?b", "a&b", "a+b", "a b", "a\nb",
        ] {
            assert!(
                validate_network_name(bad).unwrap_err().is_invalid_input(),
                "{bad:?}"
            );
        }
        assert!(validate_network_acl_name("web-in").is_ok());
        for bad in ["", "@internal", "1a", "a_b", "-a"] {
            let e = validate_network_acl_name(bad).unwrap_err();
            assert!(e.to_string().contains("network ACL name"), "{e}");
        }
        for ok in ["default", "web servers", "a.b"] {
            assert!(validate_profile_name(ok).is_ok(), "{ok}");
            assert!(validate_storage_pool_name(ok).is_ok(), "{ok}");
            assert!(validate_storage_volume_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "a\tb"] {
            assert!(validate_profile_name(bad).is_err(), "{bad:?}");
            assert!(validate_storage_pool_name(bad).is_err(), "{bad:?}");
            assert!(validate_storage_volume_name(bad).is_err(), "{bad:?}");
        }
        assert!(validate_hex_key("fingerprint", "ab12").is_ok());
        assert!(validate_hex_key("warning UUID", "55d76e3b-8202-4592").is_ok());
        assert!(validate_hex_key("fingerprint", "").is_err());
        assert!(validate_hex_key("fingerprint", "../x").is_err());
    }

    #[test]
    fn project_names() {
        assert!(validate_project_name("default").is_ok());
        for bad in ["", ".", "..", "a/b", "a b", "a\n"] {
            assert!(validate_project_name(bad).is_err(), "{bad:?}");
        }
    }
}
