//! `/1.0/instances/<name>/files?path=`: read (file, directory listing, symlink target),
//! HEAD, write (file with overwrite or append, directory, symlink; `X-LXD-uid`, `-gid`,
//! `-mode`, `-type`, `-write` headers, `X-Incus-*` in Incus mode: see [`ServerFlavor`]) and
//! delete, on the instance's in-memory file system, answering like LXD 5.0 (its
//! SFTP-backed errors included).

use std::sync::Arc;
use std::time::SystemTime;

use http::HeaderValue;
use lxd_proto::LifecycleAction;
use serde_json::{Value, json};

use crate::api::instances::{self, not_found};
use crate::events::context;
use crate::flavor::ServerFlavor;
use crate::fs::{FsError, Kind, Node, normalize};
use crate::http::{ApiError, ApiResult, Reply, Req, full, sync_body};
use crate::server::Inner;
use crate::util;

fn path_of(req: &Req) -> Result<String, ApiError> {
    match req.query("path") {
        Some(p) if !p.is_empty() => Ok(p.to_string()),
        _ => Err(ApiError::bad_request("Missing path argument")),
    }
}

/// How LXD reports file system errors (SFTP errors wrapped by `SmartError`).
fn fs_error(e: FsError) -> ApiError {
    match e {
        FsError::NotFound => ApiError::not_found("Not Found"),
        other => ApiError::internal(format!("sftp: {:?} (SSH_FX_FAILURE)", other.to_string())),
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)`: one optional sign, then `0x` hex, `0o` or leading `0`
/// octal, `0b` binary, else decimal (`_` between digits after a prefix, as Go allows); `None`
/// past the range of an `i64`. Header values come from any client: nothing here may overflow.
fn parse_go_int(text: &str) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let lower = digits.to_ascii_lowercase();
    let (radix, body, prefixed) = if let Some(hex) = lower.strip_prefix("0x") {
        (16, hex, true)
    } else if let Some(oct) = lower.strip_prefix("0o") {
        (8, oct, true)
    } else if let Some(bin) = lower.strip_prefix("0b") {
        (2, bin, true)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..], true)
    } else {
        (10, lower.as_str(), false)
    };
    // Go allows `_` only with a base prefix, after it or between digits.
    if prefixed && (body.ends_with('_') || body.contains("__")) {
        return None;
    }
    let mut magnitude: u64 = 0;
    let mut any = false;
    for c in body.chars() {
        if c == '_' && prefixed {
            continue;
        }
        // `to_digit` refuses signs, so a second sign ("-0x-8...") is a syntax error as in Go.
        let digit = c.to_digit(radix)?;
        magnitude = magnitude
            .checked_mul(u64::from(radix))?
            .checked_add(u64::from(digit))?;
        any = true;
    }
    if !any {
        return None;
    }
    if negative {
        // -2^63 is the one magnitude whose negation fits and whose positive does not.
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// Go's `strconv.Atoi` on a 64-bit build: decimal with one optional sign, in range.
fn parse_go_atoi(text: &str) -> Option<i64> {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// LXD's `ParseLXDFileHeaders` mode rule: `Atoi` must accept the value (else -1: the
/// default mode), then `ParseInt(value, 0, 0)` reads it (so `0640` is octal); if that
/// fails the decimal value stands.
fn parse_mode(text: &str) -> i64 {
    match parse_go_atoi(text) {
        None => -1,
        Some(decimal) => parse_go_int(text).unwrap_or(decimal),
    }
}

/// `X-LXD-uid`, `-gid`, `-mode` (-1 when absent or unparsable), `-type` and `-write`.
struct FileHeaders {
    uid: i64,
    gid: i64,
    mode: i64,
    kind: String,
    write: String,
}

fn file_headers(flavor: ServerFlavor, req: &Req) -> FileHeaders {
    // LXD reads uid and gid with `ParseInt(value, 10, 64)`, -1 on any error.
    let id = |name: &str| {
        flavor
            .file_header(&req.headers, name)
            .and_then(|v| parse_go_atoi(&v))
            .unwrap_or(-1)
    };
    let text = |name: &str, default: &str| {
        flavor
            .file_header(&req.headers, name)
            .unwrap_or_else(|| default.to_string())
    };
    FileHeaders {
        uid: id("uid"),
        gid: id("gid"),
        mode: flavor
            .file_header(&req.headers, "mode")
            .map_or(-1, |v| parse_mode(&v)),
        kind: text("type", "file"),
        write: text("write", "overwrite"),
    }
}

fn set_header(response: &mut http::Response<crate::http::Body>, name: &str, value: &str) {
    if let (Ok(name), Ok(v)) = (
        http::HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_str(value),
    ) {
        response.headers_mut().insert(name, v);
    }
}

/// The `X-LXD-*` (`X-Incus-*`) headers describing a node.
fn describe(flavor: ServerFlavor, response: &mut http::Response<crate::http::Body>, node: &Node) {
    let header = |suffix| flavor.header(suffix);
    set_header(response, &header("uid"), &node.uid.to_string());
    set_header(response, &header("gid"), &node.gid.to_string());
    set_header(
        response,
        &header("mode"),
        &format!("{:04o}", node.mode & 0o7777 & !0o7000 | node.mode & 0o7000),
    );
    set_header(
        response,
        &header("modified"),
        &util::go_time_string(node.modified),
    );
    set_header(response, &header("type"), node.type_name());
}

/// `GET` (and `HEAD`) `/1.0/instances/<name>/files?path=`.
pub(crate) fn get(inner: &Arc<Inner>, req: &Req, name: &str, head: bool) -> ApiResult {
    let path = path_of(req)?;
    let project = req.project();
    let (node, target, listing, source) = {
        let state = inner.state();
        let rec = state.instance(&project, name).ok_or_else(not_found)?;
        let node = rec.fs.lstat(&path).map_err(fs_error)?.clone();
        let target = match &node.kind {
            Kind::Symlink(target) => {
                let base = normalize(&format!("{}/..", normalize(&path)));
                let joined = crate::fs::join(&base, target);
                Some(rec.fs.realpath(&joined).unwrap_or(joined))
            }
            _ => None,
        };
        let listing = match &node.kind {
            Kind::Dir(entries) => Some(entries.keys().cloned().collect::<Vec<_>>()),
            _ => None,
        };
        (node, target, listing, instances::url(rec))
    };
    let mut response = if head {
        let mut response = http::Response::new(crate::http::empty());
        match &node.kind {
            Kind::File(data) if inner.flavor.head_gives_file_size() => {
                set_header(&mut response, "content-type", "application/octet-stream");
                set_header(&mut response, "content-length", &data.len().to_string());
            }
            _ => set_header(&mut response, "content-type", "application/json"),
        }
        response
    } else if let Some(names) = listing {
        let mut response = http::Response::new(full(sync_body(json!(names))));
        set_header(&mut response, "content-type", "application/json");
        response
    } else {
        let (body, modified) = match (&node.kind, target) {
            (Kind::File(data), _) => (data.clone(), node.modified),
            (_, Some(target)) => (bytes::Bytes::from(target), SystemTime::now()),
            _ => (bytes::Bytes::new(), node.modified),
        };
        let base = normalize(&path)
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string();
        let mut response = http::Response::new(full(body));
        set_header(&mut response, "accept-ranges", "bytes");
        set_header(
            &mut response,
            "content-disposition",
            &format!("inline;filename={base}"),
        );
        set_header(&mut response, "content-type", "application/octet-stream");
        set_header(&mut response, "last-modified", &util::http_date(modified));
        response
    };
    describe(inner.flavor, &mut response, &node);
    if !head {
        inner.events.lifecycle(
            &project,
            LifecycleAction::InstanceFileRetrieved,
            source,
            context(&[("path", Value::String(path))]),
            Some(req.requestor()),
        );
    }
    Ok(Reply::Raw(response))
}

/// `POST /1.0/instances/<name>/files?path=`.
pub(crate) fn post(inner: &Arc<Inner>, req: &Req, name: &str) -> ApiResult {
    let path = path_of(req)?;
    let headers = file_headers(inner.flavor, req);
    if headers.write != "overwrite" && headers.write != "append" {
        return Err(ApiError::bad_request(format!(
            "Bad file write mode: {}",
            headers.write
        )));
    }
    let project = req.project();
    let source = {
        let mut state = inner.state();
        let rec = state.instance_mut(&project, name).ok_or_else(not_found)?;
        let owner = |default_mode: u32| {
            (
                headers.uid.max(0),
                headers.gid.max(0),
                if headers.mode >= 0 {
                    headers.mode as u32 & 0o7777
                } else {
                    default_mode
                },
            )
        };
        match headers.kind.as_str() {
            "file" => rec
                .fs
                .write(
                    &path,
                    req.body.clone(),
                    headers.write == "append",
                    Some(owner(0o644)),
                )
                .map_err(fs_error)?,
            "symlink" => {
                let target = String::from_utf8_lossy(&req.body).into_owned();
                rec.fs
                    .symlink(&path, &target, headers.uid.max(0), headers.gid.max(0))
                    .map_err(|e| match e {
                        // SFTP's symlink fails with a generic failure LXD maps to 404.
                        FsError::Exists(_) => ApiError::not_found("Not Found"),
                        other => fs_error(other),
                    })?
            }
            "directory" => {
                let (uid, gid, mode) = owner(inner.flavor.default_dir_mode());
                rec.fs.mkdir(&path, uid, gid, mode).map_err(fs_error)?
            }
            other => return Err(ApiError::bad_request(format!("Bad file type: {other}"))),
        }
        instances::url(rec)
    };
    inner.events.lifecycle(
        &project,
        LifecycleAction::InstanceFilePushed,
        source,
        context(&[("path", Value::String(path))]),
        Some(req.requestor()),
    );
    Ok(Reply::empty())
}

/// `DELETE /1.0/instances/<name>/files?path=`.
pub(crate) fn delete(inner: &Arc<Inner>, req: &Req, name: &str) -> ApiResult {
    let path = path_of(req)?;
    let project = req.project();
    let source = {
        let mut state = inner.state();
        let rec = state.instance_mut(&project, name).ok_or_else(not_found)?;
        rec.fs.remove(&path).map_err(fs_error)?;
        instances::url(rec)
    };
    inner.events.lifecycle(
        &project,
        LifecycleAction::InstanceFileDeleted,
        source,
        context(&[("path", Value::String(path))]),
        Some(req.requestor()),
    );
    Ok(Reply::empty())
}

#[cfg(test)]
mod tests {
    use super::{parse_go_atoi, parse_go_int, parse_mode};

    #[test]
    fn go_base_zero_ints() {
        assert_eq!(parse_go_int("0640"), Some(0o640));
        assert_eq!(parse_go_int("640"), Some(640));
        assert_eq!(parse_go_int("0o755"), Some(0o755));
        assert_eq!(parse_go_int("0x1ff"), Some(0o777));
        assert_eq!(parse_go_int("0"), Some(0));
        assert_eq!(parse_go_int("-1"), Some(-1));
        assert_eq!(parse_go_int("abc"), None);
        assert_eq!(parse_go_int("0x_1f"), Some(0x1f));
        assert_eq!(parse_go_int("0x"), None);
        assert_eq!(parse_go_int(""), None);
        assert_eq!(parse_go_int("-"), None);
    }

    /// Regression: `-0x-8000000000000000` used to negate `i64::MIN` (a panic in debug
    /// builds, reached by any client through `X-LXD-mode`).
    #[test]
    fn go_ints_never_overflow() {
        assert_eq!(parse_go_int("-0x-8000000000000000"), None);
        assert_eq!(parse_go_int("--1"), None);
        assert_eq!(parse_go_int("+-1"), None);
        assert_eq!(parse_go_int("-0x8000000000000000"), Some(i64::MIN));
        assert_eq!(parse_go_int("0x8000000000000000"), None);
        assert_eq!(parse_go_int("0x7fffffffffffffff"), Some(i64::MAX));
        assert_eq!(parse_go_int("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_go_int("9223372036854775808"), None);
        assert_eq!(parse_go_int("0xffffffffffffffffffff"), None);
        assert_eq!(parse_go_int("01777777777777777777777"), None); // 2^64 - 1
    }

    #[test]
    fn modes_follow_lxd() {
        assert_eq!(parse_mode("0640"), 0o640);
        assert_eq!(parse_mode("644"), 644); // decimal, as LXD reads it
        assert_eq!(parse_mode("0x1ff"), -1); // `Atoi` refuses it: the default mode
        assert_eq!(parse_mode("0999"), 999); // not octal: the decimal value stands
        assert_eq!(parse_mode("-0x-8000000000000000"), -1);
        assert_eq!(parse_mode("99999999999999999999"), -1);
        assert_eq!(parse_go_atoi("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_go_atoi("+7"), Some(7));
        assert_eq!(parse_go_atoi(" 7"), None);
    }
}
