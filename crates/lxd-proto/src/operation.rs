//! Background operations (`/1.0/operations/<id>`): what async replies and `operation` events
//! carry.

use crate::StatusCode;
use crate::string_enum::string_enum;
use crate::util::redact;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;

string_enum! {
    /// The class of an operation.
    pub enum OperationClass {
        /// A background task (create, start, copy...).
        Task = "task",
        /// Needs websocket connections (exec, console, migration); secrets in `metadata.fds`.
        Websocket = "websocket",
        /// A token (certificate add token, cluster join token); secret in `metadata.secret`.
        Token = "token",
    }
    default = Task;
}

/// An LXD operation.
///
/// `created_at`/`updated_at` are kept as the RFC 3339 strings LXD sends (this crate has no
/// time dependency). `resources` and `metadata` are `None` when LXD sends `null`, so they
/// round-trip exactly.
///
/// `Debug` redacts websocket and token secrets found in `metadata`.
///
/// ```
/// use lxd_proto::{Operation, OperationClass, StatusCode};
///
/// let op: Operation = serde_json::from_str(r#"{
///     "id": "cf01a679", "class": "task", "description": "Creating instance",
///     "created_at": "2026-11-27T01:29:52.408684087Z", "updated_at": "2026-11-27T01:29:52.4Z",
///     "status": "Running", "status_code": 103,
///     "resources": {"instances": ["/1.0/instances/fx-c2"]},
///     "metadata": {"create_instance_from_image_unpack_progress": "Unpack: 42% (69.57MB/s)",
///                  "progress": {"percent": "42", "speed": "69569352",
///                               "stage": "create_instance_from_image_unpack"}},
///     "may_cancel": false, "err": "", "location": "none"
/// }"#).unwrap();
/// assert_eq!(op.class, OperationClass::Task);
/// assert!(!op.is_final());
/// let progress = op.progress().unwrap();
/// assert_eq!(progress.percent, Some(42));
/// assert_eq!(progress.text, "Unpack: 42% (69.57MB/s)");
/// assert_eq!(op.resources_of("instances"), ["/1.0/instances/fx-c2"]);
/// ```
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Operation {
    /// UUID of the operation.
    pub id: String,
    /// Task, websocket or token.
    pub class: OperationClass,
    /// Human description ("Creating instance").
    pub description: String,
    /// Creation time (RFC 3339).
    pub created_at: String,
    /// Last update time (RFC 3339).
    pub updated_at: String,
    /// Status text ("Running", "Success", ...).
    pub status: String,
    /// Status code; see [`StatusCode::is_final`].
    pub status_code: StatusCode,
    /// Affected resources by kind ("instances", "containers", ...) as URLs. A kind LXD
    /// sends as `null` (a cluster join token has `{"cluster": null}`) decodes as empty.
    #[serde(deserialize_with = "resources_nullable_lists")]
    pub resources: Option<BTreeMap<String, Vec<String>>>,
    /// Operation-specific data (progress, websocket secrets, exec return code, ...).
    pub metadata: Option<Value>,
    /// Whether the operation can be cancelled (`DELETE /1.0/operations/<id>`).
    pub may_cancel: bool,
    /// Error message of a failed operation.
    pub err: String,
    /// Cluster member running the operation ("none" when not clustered).
    pub location: String,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `resources` where each kind's list may be `null` (Go's nil slice).
fn resources_nullable_lists<'de, D>(
    deserializer: D,
) -> Result<Option<BTreeMap<String, Vec<String>>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let raw = Option::<BTreeMap<String, Option<Vec<String>>>>::deserialize(deserializer)?;
    Ok(raw.map(|kinds| {
        kinds
            .into_iter()
            .map(|(kind, urls)| (kind, urls.unwrap_or_default()))
            .collect()
    }))
}

/// Progress of an operation, read best-effort from its metadata by [`Operation::progress`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OperationProgress {
    /// Stage name, e.g. `create_instance_from_image_unpack`, `fs`, `container`, `download`.
    pub stage: String,
    /// LXD's human text, e.g. `Unpack: 42% (69.57MB/s)`; may be empty.
    pub text: String,
    /// Percent done, when known.
    pub percent: Option<u8>,
    /// Bytes processed, when known.
    pub processed: Option<u64>,
    /// Speed in bytes per second, when known.
    pub speed: Option<u64>,
}

impl Operation {
    /// Whether the operation has finished (Success, Failure or Cancelled).
    ///
    /// ```
    /// use lxd_proto::Operation;
    ///
    /// // What `GET /1.0/operations/<id>/wait` returns once the operation has failed.
    /// let op: Operation = serde_json::from_str(r#"{"id": "7c1e", "class": "task",
    ///     "status": "Failure", "status_code": 400, "err": "Failed to start"}"#).unwrap();
    /// assert!(op.is_final());
    /// assert!(!op.is_success());
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/operations/operation_wait_get)
    pub fn is_final(&self) -> bool {
        self.status_code.is_final()
    }

    /// Whether the operation finished successfully.
    ///
    /// ```
    /// use lxd_proto::Operation;
    ///
    /// let op: Operation = serde_json::from_str(
    ///     r#"{"id": "7c1e", "status": "Success", "status_code": 200, "err": ""}"#,
    /// ).unwrap();
    /// assert!(op.is_success() && op.is_final());
    /// assert!(op.err.is_empty());
    /// ```
    pub fn is_success(&self) -> bool {
        self.status_code.is_success()
    }

    /// The metadata as a JSON object, if it is one.
    ///
    /// ```
    /// use lxd_proto::Operation;
    ///
    /// // A finished exec operation: the command's exit code is in `metadata.return`.
    /// let op: Operation = serde_json::from_str(r#"{"class": "websocket", "status_code": 200,
    ///     "metadata": {"return": 2, "fds": {}}}"#).unwrap();
    /// let metadata = op.metadata_object().unwrap();
    /// assert_eq!(metadata["return"], 2);
    ///
    /// let no_metadata: Operation = serde_json::from_str(r#"{"metadata": null}"#).unwrap();
    /// assert!(no_metadata.metadata_object().is_none());
    /// ```
    pub fn metadata_object(&self) -> Option<&Map<String, Value>> {
        self.metadata.as_ref()?.as_object()
    }

    /// The URLs listed under `kind` in `resources` (e.g. `"instances"`), empty if none.
    ///
    /// ```
    /// use lxd_proto::Operation;
    ///
    /// let op: Operation = serde_json::from_str(r#"{"description": "Creating snapshot",
    ///     "resources": {"instances": ["/1.0/instances/c1"],
    ///                   "instances_snapshots": ["/1.0/instances/c1/snapshots/snap0"]}}"#)
    ///     .unwrap();
    /// assert_eq!(op.resources_of("instances_snapshots"), ["/1.0/instances/c1/snapshots/snap0"]);
    /// assert!(op.resources_of("images").is_empty());
    /// ```
    pub fn resources_of(&self, kind: &str) -> &[String] {
        self.resources
            .as_ref()
            .and_then(|resources| resources.get(kind))
            .map_or(&[], Vec::as_slice)
    }

    /// The websocket secrets of a websocket operation (`metadata.fds`): channel name
    /// (`"0"`, `"1"`, `"2"`, `"control"`) to secret.
    ///
    /// Each secret opens one channel with
    /// `GET /1.0/operations/<id>/websocket?secret=<secret>`.
    ///
    /// ```
    /// use lxd_proto::{Operation, OperationClass};
    ///
    /// // The operation returned by a non-interactive `POST /1.0/instances/c1/exec`.
    /// let op: Operation = serde_json::from_str(r#"{"class": "websocket", "status_code": 103,
    ///     "metadata": {"command": ["ls"], "fds": {"0": "a1", "1": "b2", "2": "c3",
    ///                                             "control": "d4"}}}"#).unwrap();
    /// assert_eq!(op.class, OperationClass::Websocket);
    /// let secrets = op.websocket_secrets().unwrap();
    /// assert_eq!(secrets["control"], "d4");
    /// assert_eq!(secrets.len(), 4);
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/operations/operation_websocket_get)
    pub fn websocket_secrets(&self) -> Option<BTreeMap<String, String>> {
        let fds = self.metadata_object()?.get("fds")?.as_object()?;
        Some(
            fds.iter()
                .filter_map(|(channel, secret)| {
                    Some((channel.clone(), secret.as_str()?.to_owned()))
                })
                .collect(),
        )
    }

    /// Best-effort progress from the metadata.
    ///
    /// LXD reports progress in two shapes (both are read):
    /// - `progress`: `{"stage": "...", "percent": "42", "processed": "...", "speed": "..."}`
    ///   (numbers as strings) together with `<stage>_progress`: the human text;
    /// - only a `<something>_progress` text key, e.g. `container_progress` ("Remapping
    ///   container filesystem"), `fs_progress`, `download_progress` ("rootfs: 45% (1.2MB/s)"),
    ///   whose percent is parsed from the text.
    ///
    /// `None` when there is no progress information (or only an empty text).
    ///
    /// ```
    /// use lxd_proto::Operation;
    ///
    /// // An image download reporting only a text.
    /// let op: Operation = serde_json::from_str(r#"{"status_code": 103,
    ///     "metadata": {"download_progress": "rootfs: 45% (1.2MB/s)"}}"#).unwrap();
    /// let progress = op.progress().unwrap();
    /// assert_eq!(progress.stage, "download");
    /// assert_eq!(progress.percent, Some(45));
    ///
    /// let quiet: Operation = serde_json::from_str(r#"{"metadata": {}}"#).unwrap();
    /// assert!(quiet.progress().is_none());
    /// ```
    pub fn progress(&self) -> Option<OperationProgress> {
        let metadata = self.metadata_object()?;

        if let Some(structured) = metadata.get("progress").and_then(Value::as_object) {
            let stage = structured
                .get("stage")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let text = metadata
                .get(&format!("{stage}_progress"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let number = |key: &str| structured.get(key).and_then(number_in);
            let percent = number("percent")
                .map(|p| p.min(100) as u8)
                .or_else(|| percent_in_text(&text));
            return Some(OperationProgress {
                stage,
                text,
                percent,
                processed: number("processed"),
                speed: number("speed"),
            });
        }

        // Older shape: a text-only `<stage>_progress` key. The first non-empty one wins
        // (metadata keys are sorted, so the choice is deterministic).
        metadata.iter().find_map(|(key, value)| {
            let stage = key.strip_suffix("_progress")?;
            let text = value.as_str().filter(|text| !text.is_empty())?;
            Some(OperationProgress {
                stage: stage.to_owned(),
                text: text.to_owned(),
                percent: percent_in_text(text),
                processed: None,
                speed: None,
            })
        })
    }
}

/// A non-negative number sent either as a JSON number or as a decimal string.
fn number_in(value: &Value) -> Option<u64> {
    match value {
        Value::Number(number) => number.as_u64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// The `NN` of the first `NN%` in an LXD progress text.
fn percent_in_text(text: &str) -> Option<u8> {
    let before = &text[..text.find('%')?];
    // Counted in bytes from the end: ASCII digits are whole characters, so the cut is on a
    // character boundary whatever precedes them (a server's text may be any UTF-8, "é5%").
    let digit_count = before.bytes().rev().take_while(u8::is_ascii_digit).count();
    let digits = &before[before.len() - digit_count..];
    let value: u64 = digits.parse().ok()?;
    Some(value.min(100) as u8)
}

impl fmt::Debug for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Operation")
            .field("id", &self.id)
            .field("class", &self.class)
            .field("description", &self.description)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .field("status", &self.status)
            .field("status_code", &self.status_code)
            .field("resources", &self.resources)
            .field("metadata", &self.metadata.as_ref().map(redact))
            .field("may_cancel", &self.may_cancel)
            .field("err", &self.err)
            .field("location", &self.location)
            .field("extra", &redact(&Value::Object(self.extra.clone())))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn with_metadata(metadata: Value) -> Operation {
        Operation {
            metadata: Some(metadata),
            ..Default::default()
        }
    }

    #[test]
    fn structured_progress() {
        let op = with_metadata(json!({
            "fs_progress": "Transfer: 10.00MB (2.00MB/s)",
            "progress": {"stage": "fs", "processed": "10000000", "speed": "2000000"}
        }));
        assert_eq!(
            op.progress(),
            Some(OperationProgress {
                stage: "fs".into(),
                text: "Transfer: 10.00MB (2.00MB/s)".into(),
                percent: None,
                processed: Some(10_000_000),
                speed: Some(2_000_000),
            })
        );
    }

    #[test]
    fn text_only_progress() {
        let op = with_metadata(json!({"download_progress": "rootfs: 45% (1.20MB/s)"}));
        let progress = op.progress().unwrap();
        assert_eq!(progress.stage, "download");
        assert_eq!(progress.percent, Some(45));

        let op = with_metadata(json!({"container_progress": "Remapping container filesystem"}));
        let progress = op.progress().unwrap();
        assert_eq!(progress.stage, "container");
        assert_eq!(progress.percent, None);

        assert_eq!(
            with_metadata(json!({"container_progress": ""})).progress(),
            None
        );
        assert_eq!(with_metadata(json!({"return": 0})).progress(), None);
        assert_eq!(Operation::default().progress(), None);
    }

    #[test]
    fn percent_parsing() {
        assert_eq!(percent_in_text("Unpack: 100% (34.03MB/s)"), Some(100));
        assert_eq!(percent_in_text("x: 7%"), Some(7));
        assert_eq!(percent_in_text("no percent"), None);
        assert_eq!(percent_in_text("% first"), None);
    }

    #[test]
    fn percent_after_multibyte_text_does_not_panic() {
        // Regression: the digits' start was found as "one byte after the last non-digit",
        // which is inside a multibyte character and panicked on slicing.
        assert_eq!(percent_in_text("é5%"), Some(5));
        assert_eq!(percent_in_text("é%"), None);
        assert_eq!(percent_in_text("Décompression 42% (1 Mo/s)"), Some(42));
        assert_eq!(percent_in_text("下载中99%"), Some(99));
        assert_eq!(percent_in_text("🦀100%"), Some(100));
        let op = with_metadata(json!({"download_progress": "é5%"}));
        assert_eq!(op.progress().unwrap().percent, Some(5));
        let op = with_metadata(json!({"progress": {"stage": "unpack"}, "unpack_progress": "ü7%"}));
        assert_eq!(op.progress().unwrap().percent, Some(7));
    }

    #[test]
    fn websocket_secrets_and_redaction() {
        let op = Operation {
            class: OperationClass::Websocket,
            metadata: Some(json!({"fds": {"0": "s0", "control": "sc"}, "interactive": false})),
            ..Default::default()
        };
        let secrets = op.websocket_secrets().unwrap();
        assert_eq!(secrets["0"], "s0");
        assert_eq!(secrets["control"], "sc");
        let debug = format!("{op:?}");
        assert!(!debug.contains("s0") && !debug.contains("sc\""), "{debug}");
        assert_eq!(Operation::default().websocket_secrets(), None);
    }

    #[test]
    fn null_resources_and_metadata_round_trip() {
        let wire = json!({
            "id": "x", "class": "token", "description": "", "created_at": "", "updated_at": "",
            "status": "Running", "status_code": 103, "resources": null, "metadata": null,
            "may_cancel": true, "err": "", "location": "none"
        });
        let op: Operation = serde_json::from_value(wire.clone()).unwrap();
        assert_eq!(op.resources, None);
        assert_eq!(op.resources_of("instances"), &[] as &[String]);
        assert_eq!(serde_json::to_value(&op).unwrap(), wire);
    }

    #[test]
    fn null_resource_lists_decode_as_empty() {
        // A cluster join token operation on LXD 5.0.2.
        let op: Operation =
            serde_json::from_value(json!({"class": "token", "resources": {"cluster": null}}))
                .unwrap();
        assert_eq!(op.resources_of("cluster"), &[] as &[String]);
        assert!(op.resources.unwrap().contains_key("cluster"));
    }
}
