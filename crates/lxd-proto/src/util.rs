//! Small serde helpers and secret redaction shared by the resource modules.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// Deserializes `null` as the type's default.
///
/// LXD is written in Go, where a nil slice or map without `omitempty` is sent as `null`. Those
/// fields are modelled as plain `Vec`/`BTreeMap` (an empty list and a missing list mean the same
/// to LXD), so `null` must decode instead of failing the whole reply.
pub(crate) fn nullable<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// `skip_serializing_if` helper for booleans that LXD treats as false when absent.
pub(crate) fn is_false(value: &bool) -> bool {
    !*value
}

/// Replacement text for secrets in `Debug` output.
pub(crate) const REDACTED: &str = "<redacted>";

/// Keys whose values are secrets wherever they appear in free-form metadata:
/// websocket secrets of exec/console/migration operations (`fds`, `secrets`), join-token
/// secrets (`secret`), trust passwords and tokens in echoed requests.
const SECRET_KEYS: &[&str] = &["fds", "secrets", "secret", "password", "trust_token"];

/// A copy of `value` with every secret-bearing value replaced by `"<redacted>"`, for `Debug`.
pub(crate) fn redact(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, inner)| {
                    let inner = if SECRET_KEYS.contains(&key.as_str()) {
                        redact_all(inner)
                    } else {
                        redact(inner)
                    };
                    (key.clone(), inner)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        other => other.clone(),
    }
}

/// Replaces every non-empty string below `value` (an empty string is shown, it reveals nothing
/// and helps debugging "why was no password sent").
fn redact_all(value: &Value) -> Value {
    match value {
        Value::String(text) if !text.is_empty() => Value::String(REDACTED.to_owned()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, inner)| (key.clone(), redact_all(inner)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact_all).collect()),
        other => other.clone(),
    }
}

/// Debug helper: shows `Some("<redacted>")` / `None` for an optional secret.
pub(crate) fn redact_opt(secret: &Option<String>) -> Option<&'static str> {
    secret.as_ref().map(|_| REDACTED)
}

/// Debug helper: shows `"<redacted>"` for a non-empty secret, `""` for an empty one.
pub(crate) fn redact_str(secret: &str) -> &'static str {
    if secret.is_empty() { "" } else { REDACTED }
}

/// Last path segment of an LXD URL such as `/1.0/operations/<id>` or
/// `/1.0/instances/c1?project=p`, with `%XX` escapes decoded. `None` if empty.
pub(crate) fn last_path_segment(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    let segment = path.trim_end_matches('/').rsplit('/').next()?;
    if segment.is_empty() {
        return None;
    }
    Some(percent_decode(segment))
}

/// Decodes `%XX` escapes (LXD escapes names in resource URLs); invalid escapes are kept as is.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn redacts_nested_secrets() {
        let value = json!({
            "fds": {"0": "abc", "control": "def"},
            "secret": "s3cr3t",
            "request": {"password": "", "name": "x", "trust_token": "tok"},
            "list": [{"secret": "x"}],
            "count": 1
        });
        assert_eq!(
            redact(&value),
            json!({
                "fds": {"0": REDACTED, "control": REDACTED},
                "secret": REDACTED,
                "request": {"password": "", "name": "x", "trust_token": REDACTED},
                "list": [{"secret": REDACTED}],
                "count": 1
            })
        );
    }

    #[test]
    fn path_segments() {
        assert_eq!(
            last_path_segment("/1.0/operations/abc-1").as_deref(),
            Some("abc-1")
        );
        assert_eq!(
            last_path_segment("/1.0/instances/c1?project=p").as_deref(),
            Some("c1")
        );
        assert_eq!(
            last_path_segment("/1.0/instances/a%20b/").as_deref(),
            Some("a b")
        );
        assert_eq!(last_path_segment("/1.0/x/100%").as_deref(), Some("100%"));
        assert_eq!(last_path_segment("/1.0/x/%4").as_deref(), Some("%4"));
        assert_eq!(last_path_segment(""), None);
    }
}
