//! Small helpers: time in LXD's formats, random ids and secrets, hashing, names, paths.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ring::rand::{SecureRandom, SystemRandom};
use serde::Serialize;

/// Seconds and nanoseconds since the epoch, split into a civil UTC date.
struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    nanos: u32,
    weekday: u32, // 0 = Sunday
}

fn civil(t: SystemTime) -> Civil {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let secs = since.as_secs() as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    Civil {
        year,
        month,
        day,
        hour: (rem / 3600) as u32,
        minute: (rem % 3600 / 60) as u32,
        second: (rem % 60) as u32,
        nanos: since.subsec_nanos(),
        weekday: (days + 4).rem_euclid(7) as u32,
    }
}

/// Go's `time.RFC3339Nano` in UTC, as LXD writes timestamps: `2026-11-27T01:53:29.059428078Z`
/// (trailing zeros of the fraction dropped, no fraction when zero).
pub(crate) fn rfc3339(t: SystemTime) -> String {
    let c = civil(t);
    let mut out = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    );
    if c.nanos != 0 {
        let fraction = format!("{:09}", c.nanos);
        out.push('.');
        out.push_str(fraction.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// The current time in LXD's format.
pub(crate) fn now() -> String {
    rfc3339(SystemTime::now())
}

/// The zero time of Go (`0001-01-01T00:00:00Z`), which LXD sends for "never".
pub(crate) const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// The Unix epoch in LXD's format (`last_used_at` of a never-started instance).
pub(crate) const EPOCH: &str = "1970-01-01T00:00:00Z";

const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// An HTTP date (`Last-Modified`): `Fri, 27 Nov 2026 01:56:07 GMT`.
pub(crate) fn http_date(t: SystemTime) -> String {
    let c = civil(t);
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        WEEKDAYS[c.weekday as usize],
        c.day,
        MONTHS[(c.month - 1) as usize],
        c.year,
        c.hour,
        c.minute,
        c.second
    )
}

/// Go's `Time.String()` of a UTC time at second precision, as in `X-LXD-modified`:
/// `2026-11-27 01:56:07 +0000 UTC`.
pub(crate) fn go_time_string(t: SystemTime) -> String {
    let c = civil(t);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} +0000 UTC",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    SystemRandom::new()
        .fill(&mut out)
        .expect("the system random generator works");
    out
}

/// A random (version 4) UUID, as LXD names operations and warnings.
pub(crate) fn uuid() -> String {
    let mut b = random_bytes::<16>();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex = hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// A random secret like LXD's `RandomCryptoString`: 32 random bytes as 64 hex digits.
pub(crate) fn secret() -> String {
    hex(&random_bytes::<32>())
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// SHA-256 as hex (image fingerprints, certificate fingerprints, ETags).
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, data).as_ref())
}

/// LXD's ETag of a value: SHA-256 of its JSON encoding followed by a newline (Go's
/// `json.Encoder`), as hex. The header carries it in quotes.
pub(crate) fn etag_of<T: Serialize + ?Sized>(value: &T) -> String {
    let mut json = serde_json::to_vec(value).unwrap_or_default();
    json.push(b'\n');
    sha256_hex(&json)
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (certificates in `POST /1.0/certificates`, tokens).
pub(crate) fn base64_encode(input: &[u8]) -> String {
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let group = u32::from_be_bytes([0, b[0], b[1], b[2]]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(BASE64[((group >> (18 - 6 * i)) & 0x3f) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Standard base64, padding optional; `None` on anything else (like Go's decoder refusing).
pub(crate) fn base64_decode(input: &str) -> Option<Vec<u8>> {
    let input = input.trim_end_matches('=').as_bytes();
    if input.len() % 4 == 1 {
        return None;
    }
    let value = |c: u8| BASE64.iter().position(|&a| a == c).map(|p| p as u32);
    let mut out = Vec::with_capacity(input.len() * 3 / 4);
    for chunk in input.chunks(4) {
        let mut group = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            group |= value(c)? << (18 - 6 * i);
        }
        out.extend_from_slice(&group.to_be_bytes()[1..chunk.len()]);
    }
    Some(out)
}

/// Decodes `%XX` escapes and (in query strings) `+` as space. Invalid escapes stay as they are.
pub(crate) fn percent_decode(text: &str, plus_is_space: bool) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = |b: u8| (b as char).to_digit(16);
                if let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    out.push((hi * 16 + lo) as u8);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b'+' if plus_is_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes a path segment the way Go's `url.PathEscape` does (LXD builds resource
/// URLs with it): unreserved characters and `$&+,:;=@` stay, the rest is escaped.
pub(crate) fn path_escape(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        let keep = b.is_ascii_alphanumeric() || b"-._~$&+,:;=@".contains(&b);
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Percent-encodes a query value the way Go's `url.QueryEscape` does.
pub(crate) fn query_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else if b == b' ' {
            out.push('+');
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An API URL of a resource: `/1.0/<parts...>` with each part escaped, plus `?project=` when
/// the project is not `default` (LXD's `api.NewURL().Path(...).Project(...)`).
pub(crate) fn api_url(parts: &[&str], project: &str) -> String {
    let mut url = String::from("/1.0");
    for part in parts {
        url.push('/');
        url.push_str(&path_escape(part));
    }
    if !project.is_empty() && project != "default" {
        url.push_str("?project=");
        url.push_str(&query_escape(project));
    }
    url
}

/// LXD's hostname rule for instance (and cluster member) names.
pub(crate) fn validate_hostname(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 63 {
        return Err("Name must be 1-63 characters long".into());
    }
    if name.starts_with('-') {
        return Err(r#"Name must not start with "-" character"#.into());
    }
    if name.ends_with('-') {
        return Err(r#"Name must not end with "-" character"#.into());
    }
    if name.as_bytes()[0].is_ascii_digit() {
        return Err("Name must not start with a number".into());
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err("Name can only contain alphanumeric and hyphen characters".into());
    }
    Ok(())
}

/// LXD's rule for instance names (`instance.ValidName`), with its messages.
pub(crate) fn validate_instance_name(name: &str) -> Result<(), String> {
    if name.contains('/') {
        return Err(r#"The character "/" is reserved for snapshots"#.into());
    }
    validate_hostname(name).map_err(|e| format!("Invalid instance name: {e}"))
}

/// LXD's rule for snapshot names.
pub(crate) fn validate_snapshot_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("Invalid instance snapshot name: Cannot be empty".into());
    }
    if name.contains([' ', '/']) {
        return Err("Invalid instance snapshot name: Cannot contain space or / characters".into());
    }
    Ok(())
}

/// LXD's rule for most other entity names (profiles, networks, pools, projects, volumes):
/// non-empty, no `/`, not `.` or `..`, no whitespace.
pub(crate) fn validate_entity_name(what: &str, name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("No name provided".to_string());
    }
    if name.contains('/') {
        return Err(format!("{what} names may not contain slashes"));
    }
    if name == "." || name == ".." {
        return Err(format!("Invalid {} name {name:?}", what.to_lowercase()));
    }
    if name.chars().any(char::is_whitespace) {
        return Err(format!("{what} names may not contain spaces"));
    }
    Ok(())
}

/// Whether a query or config value means "true" the way LXD's `shared.IsTrue` reads it.
pub(crate) fn is_true(value: &str) -> bool {
    matches!(
        value.to_ascii_lowercase().as_str(),
        "true" | "1" | "yes" | "on"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_formats() {
        let t = UNIX_EPOCH + Duration::new(1_795_744_567, 59_428_000);
        assert_eq!(rfc3339(t), "2026-11-27T01:56:07.059428Z");
        assert_eq!(rfc3339(UNIX_EPOCH), EPOCH);
        assert_eq!(http_date(t), "Fri, 27 Nov 2026 01:56:07 GMT");
        assert_eq!(go_time_string(t), "2026-11-27 01:56:07 +0000 UTC");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn ids_and_secrets() {
        let id = uuid();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert_ne!(uuid(), id);
        assert_eq!(secret().len(), 64);
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn escaping() {
        assert_eq!(percent_decode("a%20b+c", true), "a b c");
        assert_eq!(percent_decode("a%2Fb+c", false), "a/b+c");
        assert_eq!(percent_decode("100%", false), "100%");
        assert_eq!(percent_decode("%4", false), "%4");
        assert_eq!(path_escape("a b/c"), "a%20b%2Fc");
        assert_eq!(
            api_url(&["instances", "c1"], "default"),
            "/1.0/instances/c1"
        );
        assert_eq!(
            api_url(&["instances", "c1"], "my proj"),
            "/1.0/instances/c1?project=my+proj"
        );
    }

    #[test]
    fn names() {
        assert!(validate_instance_name("c1").is_ok());
        assert_eq!(
            validate_instance_name("bad_name").unwrap_err(),
            "Invalid instance name: Name can only contain alphanumeric and hyphen characters"
        );
        assert!(validate_instance_name("1abc").is_err());
        assert!(validate_instance_name("a/b").is_err());
        assert!(validate_snapshot_name("s 0").is_err());
        assert!(validate_entity_name("Profile", "a/b").is_err());
        assert!(is_true("TRUE") && !is_true("0"));
    }
}
