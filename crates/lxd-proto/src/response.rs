//! The envelope every LXD REST reply is wrapped in.

use crate::StatusCode;
use crate::string_enum::string_enum;
use crate::util::{last_path_segment, redact};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

string_enum! {
    /// The `type` of a reply envelope.
    pub enum ResponseType {
        /// A synchronous result; `metadata` is the answer.
        Sync = "sync",
        /// An operation was started; `metadata` is the [`Operation`](crate::Operation).
        Async = "async",
        /// The request failed; see `error_code` and `error`.
        Error = "error",
    }
    default = Sync;
}

/// The LXD reply envelope (`type`, `status`, `metadata`, ...), for all three reply types.
///
/// What LXD 5.0 really sends:
/// - sync: `status` "Success", `status_code` 200, `operation` "", `error_code` 0;
/// - async (HTTP 202): `status` "Operation created", `status_code` 100, `operation`
///   `"/1.0/operations/<id>"`, `metadata` the operation object;
/// - error: `status` "", `status_code` 0, `error_code` the HTTP status (404, 400, ...),
///   `error` the message, `metadata` null.
///
/// ```
/// use lxd_proto::{Response, ResponseType};
///
/// let reply: Response = serde_json::from_str(
///     r#"{"type":"error","status":"","status_code":0,"operation":"","error_code":404,
///         "error":"Instance not found","metadata":null}"#,
/// ).unwrap();
/// assert!(reply.is_error());
/// assert_eq!(reply.response_type, ResponseType::Error);
/// assert_eq!((reply.error_code, reply.error.as_str()), (404, "Instance not found"));
///
/// let list: Response = serde_json::from_str(
///     r#"{"type":"sync","status":"Success","status_code":200,"operation":"","error_code":0,
///         "error":"","metadata":["/1.0/instances/c1"]}"#,
/// ).unwrap();
/// let urls: Vec<String> = list.metadata_as().unwrap();
/// assert_eq!(urls, ["/1.0/instances/c1"]);
/// ```
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Response {
    /// `sync`, `async` or `error`.
    #[serde(rename = "type")]
    pub response_type: ResponseType,
    /// Status text ("Success", "Operation created"; empty on errors).
    pub status: String,
    /// Status code (200, 100; 0 on errors).
    pub status_code: StatusCode,
    /// URL of the operation of an async reply (`/1.0/operations/<id>`), else empty.
    pub operation: String,
    /// HTTP status of an error reply, else 0.
    pub error_code: u16,
    /// Error message of an error reply, else empty.
    pub error: String,
    /// The payload (`null` on errors).
    pub metadata: Value,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Response {
    /// Whether this is an error reply.
    ///
    /// ```
    /// use lxd_proto::Response;
    ///
    /// let reply: Response = serde_json::from_str(r#"{"type":"error","status":"",
    ///     "status_code":0,"operation":"","error_code":403,"error":"not authorized",
    ///     "metadata":null}"#).unwrap();
    /// assert!(reply.is_error());
    /// assert_eq!(reply.error_code, 403);
    /// ```
    pub fn is_error(&self) -> bool {
        self.response_type == ResponseType::Error
    }

    /// Whether this is an async reply (its metadata is an operation).
    ///
    /// ```
    /// use lxd_proto::{Operation, Response};
    ///
    /// // The reply to `PUT /1.0/instances/c1/state` (start).
    /// let reply: Response = serde_json::from_str(r#"{"type":"async",
    ///     "status":"Operation created","status_code":100,
    ///     "operation":"/1.0/operations/5f3d","metadata":{"id":"5f3d","status_code":103}}"#)
    ///     .unwrap();
    /// assert!(reply.is_async());
    /// let operation: Operation = reply.metadata_as().unwrap();
    /// assert_eq!(operation.id, "5f3d");
    /// ```
    pub fn is_async(&self) -> bool {
        self.response_type == ResponseType::Async
    }

    /// Decodes `metadata` into `T` without consuming the envelope.
    ///
    /// ```
    /// use lxd_proto::{Profile, Response};
    ///
    /// let reply: Response = serde_json::from_str(r#"{"type":"sync","status":"Success",
    ///     "status_code":200,"metadata":{"name":"default","config":{"limits.cpu":"2"}}}"#)
    ///     .unwrap();
    /// let profile: Profile = reply.metadata_as().unwrap();
    /// assert_eq!(profile.config["limits.cpu"], "2");
    /// // The envelope is still there, e.g. to decode the metadata another way.
    /// assert!(reply.metadata_as::<Vec<String>>().is_err());
    /// ```
    pub fn metadata_as<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.metadata)
    }

    /// Consumes the envelope and decodes `metadata` into `T`.
    ///
    /// ```
    /// use lxd_proto::Response;
    ///
    /// // The reply to `GET /1.0/instances`.
    /// let reply: Response = serde_json::from_str(r#"{"type":"sync","status":"Success",
    ///     "status_code":200,"metadata":["/1.0/instances/c1","/1.0/instances/web"]}"#)
    ///     .unwrap();
    /// let urls: Vec<String> = reply.into_metadata().unwrap();
    /// assert_eq!(urls, ["/1.0/instances/c1", "/1.0/instances/web"]);
    /// ```
    pub fn into_metadata<T: DeserializeOwned>(self) -> Result<T, serde_json::Error> {
        serde_json::from_value(self.metadata)
    }

    /// The operation id of an async reply (last segment of `operation`).
    ///
    /// ```
    /// use lxd_proto::Response;
    ///
    /// let reply: Response = serde_json::from_str(r#"{"type":"async",
    ///     "operation":"/1.0/operations/b8a3d6b4-5e5f?project=ci"}"#).unwrap();
    /// assert_eq!(reply.operation_id().as_deref(), Some("b8a3d6b4-5e5f"));
    /// // A sync reply has no operation.
    /// assert_eq!(Response::default().operation_id(), None);
    /// ```
    pub fn operation_id(&self) -> Option<String> {
        last_path_segment(&self.operation)
    }
}

impl fmt::Debug for Response {
    /// Async replies carry operations whose metadata holds websocket or token secrets; they
    /// are redacted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("response_type", &self.response_type)
            .field("status", &self.status)
            .field("status_code", &self.status_code)
            .field("operation", &self.operation)
            .field("error_code", &self.error_code)
            .field("error", &self.error)
            .field("metadata", &redact(&self.metadata))
            .field("extra", &redact(&Value::Object(self.extra.clone())))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_fields_and_types_round_trip() {
        let wire = json!({
            "type": "streaming",
            "status": "Success",
            "status_code": 200,
            "operation": "",
            "error_code": 0,
            "error": "",
            "metadata": {"a": 1},
            "new_field": [1, 2]
        });
        let reply: Response = serde_json::from_value(wire.clone()).unwrap();
        assert_eq!(reply.response_type, ResponseType::Other("streaming".into()));
        assert_eq!(reply.extra["new_field"], json!([1, 2]));
        assert_eq!(serde_json::to_value(&reply).unwrap(), wire);
    }

    #[test]
    fn missing_fields_default() {
        let reply: Response = serde_json::from_str(r#"{"metadata": 5}"#).unwrap();
        assert_eq!(reply.response_type, ResponseType::Sync);
        assert_eq!(reply.metadata_as::<u8>().unwrap(), 5);
        assert_eq!(reply.operation_id(), None);
    }

    #[test]
    fn operation_id_and_debug_redaction() {
        let reply = Response {
            response_type: ResponseType::Async,
            operation: "/1.0/operations/1234".into(),
            metadata: json!({"metadata": {"fds": {"0": "topsecret"}}}),
            ..Default::default()
        };
        assert!(reply.is_async());
        assert_eq!(reply.operation_id().as_deref(), Some("1234"));
        let debug = format!("{reply:?}");
        assert!(!debug.contains("topsecret"), "{debug}");
        assert!(debug.contains("<redacted>"), "{debug}");
    }
}
