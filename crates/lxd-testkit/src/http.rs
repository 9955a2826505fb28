//! Requests and replies as handlers see them, and LXD's reply envelope exactly as the real
//! daemon writes it (field order, trailing newlines, headers, status codes).

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode};
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use hyper::upgrade::OnUpgrade;
use lxd_proto::{EventLifecycleRequestor, Response, ResponseType};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::faults::RequestFaults;
use crate::util::percent_decode;

/// Error type of response bodies.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body of every response.
pub(crate) type Body = UnsyncBoxBody<Bytes, BoxError>;

/// A whole body.
pub(crate) fn full(bytes: impl Into<Bytes>) -> Body {
    http_body_util::Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// An empty body.
pub(crate) fn empty() -> Body {
    full(Bytes::new())
}

/// Who is asking.
#[derive(Clone, Debug)]
pub(crate) enum Identity {
    /// The local unix socket: always trusted, like LXD (root).
    Unix,
    /// HTTPS, with the client certificate (DER) and its fingerprint if one was presented.
    Tls {
        fingerprint: Option<String>,
        certificate: Option<std::sync::Arc<Vec<u8>>>,
        address: String,
    },
}

/// A request, read and decoded.
pub(crate) struct Req {
    pub(crate) method: Method,
    /// Path segments after `/1.0`, percent-decoded (`/1.0/instances/a%20b` → `["instances", "a b"]`).
    pub(crate) segments: Vec<String>,
    /// The raw path.
    pub(crate) path: String,
    /// Query pairs, decoded.
    pub(crate) query: Vec<(String, String)>,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) identity: Identity,
    /// Whether the identity is trusted (decided when the request arrived).
    pub(crate) trusted: bool,
    /// The connection upgrade of a websocket request.
    pub(crate) upgrade: Option<OnUpgrade>,
    /// Faults that act on what this request starts (operations, exec websockets).
    pub(crate) faults: RequestFaults,
}

impl Req {
    /// Splits a raw path and query into a request skeleton (no body yet).
    pub(crate) fn new(
        method: Method,
        path: &str,
        query: Option<&str>,
        headers: HeaderMap,
        identity: Identity,
    ) -> Req {
        let segments = path
            .trim_start_matches('/')
            .split('/')
            .skip(1) // "1.0"
            .filter(|s| !s.is_empty())
            .map(|s| percent_decode(s, false))
            .collect();
        let query = query
            .unwrap_or_default()
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                (percent_decode(k, true), percent_decode(v, true))
            })
            .collect();
        Req {
            method,
            segments,
            path: path.to_string(),
            query,
            headers,
            body: Bytes::new(),
            identity,
            trusted: false,
            upgrade: None,
            faults: RequestFaults::default(),
        }
    }

    /// A query parameter (the first, like Go's `FormValue`).
    pub(crate) fn query(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The project of the request: `?project=`, else `default`.
    pub(crate) fn project(&self) -> String {
        match self.query("project") {
            Some(p) if !p.is_empty() => p.to_string(),
            _ => "default".to_string(),
        }
    }

    /// `?recursion=` (0, 1 or 2; anything unparsable is 0, like LXD).
    pub(crate) fn recursion(&self) -> u8 {
        self.query("recursion")
            .and_then(|r| r.parse::<i64>().ok())
            .map_or(0, |r| r.clamp(0, 2) as u8)
    }

    /// `?all-projects=true`.
    pub(crate) fn all_projects(&self) -> bool {
        self.query("all-projects").is_some_and(crate::util::is_true)
    }

    /// A request header as text.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Decodes the JSON body; LXD answers 400 with the decoder's message when that fails.
    pub(crate) fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        serde_json::from_slice(&self.body).map_err(|e| ApiError::bad_request(go_json_error(&e)))
    }

    /// The JSON body as an object (`{}` when the body is empty).
    pub(crate) fn json_object(&self) -> Result<serde_json::Map<String, Value>, ApiError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(serde_json::Map::new());
        }
        match self.json::<Value>()? {
            Value::Object(map) => Ok(map),
            other => Err(ApiError::bad_request(format!(
                "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                go_kind(&other)
            ))),
        }
    }

    /// Who made the request, as lifecycle events name it.
    pub(crate) fn requestor(&self) -> EventLifecycleRequestor {
        match &self.identity {
            Identity::Unix => EventLifecycleRequestor {
                username: "root".into(),
                protocol: "unix".into(),
                address: "@".into(),
                ..Default::default()
            },
            Identity::Tls {
                fingerprint,
                address,
                ..
            } => EventLifecycleRequestor {
                username: fingerprint.clone().unwrap_or_default(),
                protocol: "tls".into(),
                address: address.clone(),
                ..Default::default()
            },
        }
    }

    /// Whether this is a websocket upgrade request.
    pub(crate) fn is_websocket(&self) -> bool {
        self.header("upgrade")
            .is_some_and(|u| u.eq_ignore_ascii_case("websocket"))
    }
}

/// Go's name of a JSON value's kind in unmarshal errors.
fn go_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A decoder error worded like Go's `encoding/json` where the two usually agree (an empty
/// body is "EOF", a truncated one "unexpected EOF").
fn go_json_error(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Eof if e.column() <= 1 && e.line() <= 1 => "EOF".to_string(),
        Category::Eof => "unexpected EOF".to_string(),
        _ => e.to_string(),
    }
}

/// An error reply: LXD's `error_code` and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub(crate) status: u16,
    pub(crate) message: String,
}

impl ApiError {
    pub(crate) fn new(status: u16, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, message)
    }

    pub(crate) fn forbidden() -> ApiError {
        ApiError::new(403, "not authorized")
    }

    pub(crate) fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(404, message)
    }

    pub(crate) fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(409, message)
    }

    pub(crate) fn precondition_failed(message: impl Into<String>) -> ApiError {
        ApiError::new(412, message)
    }

    pub(crate) fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(500, message)
    }

    pub(crate) fn not_implemented(message: impl Into<String>) -> ApiError {
        ApiError::new(501, message)
    }
}

/// What a handler answers.
pub(crate) enum Reply {
    /// A sync reply.
    Sync {
        metadata: Value,
        etag: Option<String>,
        /// 200, or 201 with `location`.
        location: Option<String>,
        headers: Vec<(HeaderName, String)>,
    },
    /// An async reply (202) carrying an operation as it was when the reply was made.
    Async {
        url: String,
        operation: lxd_proto::Operation,
    },
    /// Anything else (file downloads, websocket switches).
    Raw(http::Response<Body>),
}

impl Reply {
    /// A sync reply with `metadata`.
    pub(crate) fn sync(metadata: impl Into<Value>) -> Reply {
        Reply::Sync {
            metadata: metadata.into(),
            etag: None,
            location: None,
            headers: Vec::new(),
        }
    }

    /// A sync reply of a serializable value.
    pub(crate) fn json<T: serde::Serialize>(value: &T) -> Reply {
        Reply::sync(serde_json::to_value(value).unwrap_or(Value::Null))
    }

    /// A sync reply with an ETag (hash of `etag_source`, LXD's `SyncResponseETag`).
    pub(crate) fn with_etag(metadata: impl Into<Value>, etag: String) -> Reply {
        Reply::Sync {
            metadata: metadata.into(),
            etag: Some(etag),
            location: None,
            headers: Vec::new(),
        }
    }

    /// LXD's `EmptySyncResponse`: metadata `{}`.
    pub(crate) fn empty() -> Reply {
        Reply::sync(Value::Object(serde_json::Map::new()))
    }

    /// LXD's `SyncResponseLocation`: 201 Created, a `Location` header, metadata null.
    pub(crate) fn created(location: String) -> Reply {
        Reply::Sync {
            metadata: Value::Null,
            etag: None,
            location: Some(location),
            headers: Vec::new(),
        }
    }
}

/// Handler result.
pub(crate) type ApiResult = Result<Reply, ApiError>;

/// Serializes an envelope the way Go's `json.Encoder` does (compact, newline-terminated).
fn encode(envelope: &Response) -> Vec<u8> {
    let mut body = serde_json::to_vec(envelope).unwrap_or_default();
    body.push(b'\n');
    body
}

/// The bytes of a sync envelope.
pub(crate) fn sync_body(metadata: Value) -> Vec<u8> {
    encode(&Response {
        response_type: ResponseType::Sync,
        status: "Success".into(),
        status_code: lxd_proto::StatusCode::SUCCESS,
        metadata,
        ..Default::default()
    })
}

/// The bytes of an error envelope (LXD writes an extra newline after it).
pub(crate) fn error_body(error: &ApiError) -> Vec<u8> {
    let mut body = encode(&Response {
        response_type: ResponseType::Error,
        error_code: error.status,
        error: error.message.clone(),
        metadata: Value::Null,
        ..Default::default()
    });
    body.push(b'\n');
    body
}

fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The HTTP response of an error.
pub(crate) fn error_response(error: &ApiError) -> http::Response<Body> {
    let mut response = http::Response::new(full(error_body(error)));
    *response.status_mut() =
        StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// The HTTP response of a reply.
pub(crate) fn render(reply: ApiResult) -> http::Response<Body> {
    match reply {
        Err(error) => error_response(&error),
        Ok(Reply::Raw(response)) => response,
        Ok(Reply::Sync {
            metadata,
            etag,
            location,
            headers,
        }) => {
            let mut response = http::Response::new(full(sync_body(metadata)));
            let map = response.headers_mut();
            map.insert("content-type", HeaderValue::from_static("application/json"));
            if let Some(etag) = etag {
                map.insert("etag", header_value(&format!("\"{etag}\"")));
            }
            for (name, value) in headers {
                map.insert(name, header_value(&value));
            }
            if let Some(location) = location {
                map.insert("location", header_value(&location));
                *response.status_mut() = StatusCode::CREATED;
            }
            response
        }
        Ok(Reply::Async { url, operation }) => {
            let body = encode(&Response {
                response_type: ResponseType::Async,
                status: "Operation created".into(),
                status_code: lxd_proto::StatusCode::OPERATION_CREATED,
                operation: url.clone(),
                metadata: serde_json::to_value(&operation).unwrap_or(Value::Null),
                ..Default::default()
            });
            let mut response = http::Response::new(full(body));
            *response.status_mut() = StatusCode::ACCEPTED;
            let map = response.headers_mut();
            map.insert("content-type", HeaderValue::from_static("application/json"));
            map.insert("location", header_value(&url));
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_match_lxd_bytes() {
        assert_eq!(
            String::from_utf8(error_body(&ApiError::not_found("Instance not found"))).unwrap(),
            "{\"type\":\"error\",\"status\":\"\",\"status_code\":0,\"operation\":\"\",\"error_code\":404,\"error\":\"Instance not found\",\"metadata\":null}\n\n"
        );
        assert_eq!(
            String::from_utf8(sync_body(serde_json::json!(["/1.0"]))).unwrap(),
            "{\"type\":\"sync\",\"status\":\"Success\",\"status_code\":200,\"operation\":\"\",\"error_code\":0,\"error\":\"\",\"metadata\":[\"/1.0\"]}\n"
        );
    }

    #[test]
    fn request_parsing() {
        let req = Req::new(
            Method::GET,
            "/1.0/instances/a%20b/files",
            Some("path=%2Ftmp%2Fx+y&recursion=2&project="),
            HeaderMap::new(),
            Identity::Unix,
        );
        assert_eq!(req.segments, ["instances", "a b", "files"]);
        assert_eq!(req.query("path"), Some("/tmp/x y"));
        assert_eq!(req.recursion(), 2);
        assert_eq!(req.project(), "default");
        assert!(!req.is_websocket());
    }

    #[test]
    fn json_errors_read_like_go() {
        let mut req = Req::new(
            Method::POST,
            "/1.0/instances",
            None,
            HeaderMap::new(),
            Identity::Unix,
        );
        req.body = Bytes::from_static(b"");
        assert_eq!(req.json::<Value>().unwrap_err().message, "EOF");
        req.body = Bytes::from_static(b"{\"a\":");
        assert_eq!(req.json::<Value>().unwrap_err().message, "unexpected EOF");
        req.body = Bytes::from_static(b"[1]");
        assert_eq!(req.json_object().unwrap_err().status, 400);
    }
}
