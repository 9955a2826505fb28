//! Running commands in an instance: `POST /1.0/instances/<name>/exec`, the messages of its
//! control websocket, and the metadata of the operation it returns.

use crate::util::{is_false, nullable, redact};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;

/// `POST /1.0/instances/<name>/exec`: a command to run.
///
/// With `wait_for_websocket`, LXD answers with a websocket operation whose metadata holds one
/// secret per channel (`"0"`, `"1"`, `"2"`, `"control"`; only `"0"` and `"control"` when
/// `interactive`), and starts the command once the client has connected them. Without it, the
/// command runs detached; with `record_output` its output goes to log files whose URLs the
/// final operation lists (see [`ExecOperationMetadata`]).
///
/// Fields left at their defaults are not written (`user`, `group` and `cwd` need the
/// `container_exec_user_group_cwd` API extension). `Debug` shows the environment's names,
/// not its values (they often carry tokens).
///
/// ```
/// use lxd_proto::InstanceExecPost;
///
/// let request = InstanceExecPost {
///     command: vec!["sh".into(), "-c".into(), "echo $GREETING".into()],
///     wait_for_websocket: true,
///     environment: [("GREETING".to_string(), "hi".to_string())].into(),
///     cwd: "/tmp".into(),
///     ..Default::default()
/// };
/// assert_eq!(
///     serde_json::to_string(&request).unwrap(),
///     r#"{"command":["sh","-c","echo $GREETING"],"wait-for-websocket":true,"environment":{"GREETING":"hi"},"cwd":"/tmp"}"#,
/// );
/// ```
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct InstanceExecPost {
    /// The command and its arguments (not interpreted by a shell).
    #[serde(deserialize_with = "nullable")]
    pub command: Vec<String>,
    /// Wait for the websockets to be connected before starting the command.
    #[serde(rename = "wait-for-websocket", skip_serializing_if = "is_false")]
    pub wait_for_websocket: bool,
    /// One pseudo-terminal for input and output instead of three pipes.
    #[serde(skip_serializing_if = "is_false")]
    pub interactive: bool,
    /// Environment variables added to (and overriding) LXD's defaults (`PATH`, `HOME`,
    /// `USER`, `LANG`) and the instance's `environment.*` configuration.
    #[serde(
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub environment: BTreeMap<String, String>,
    /// Terminal width in columns (interactive).
    #[serde(skip_serializing_if = "is_zero")]
    pub width: u32,
    /// Terminal height in rows (interactive).
    #[serde(skip_serializing_if = "is_zero")]
    pub height: u32,
    /// Write stdout and stderr to log files of the instance (not with `wait_for_websocket` or
    /// `interactive`). Needs API extension `container_exec_recording`.
    #[serde(rename = "record-output", skip_serializing_if = "is_false")]
    pub record_output: bool,
    /// User id to run as (default: root).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<u32>,
    /// Group id to run as (default: root).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<u32>,
    /// Working directory (default: the user's home, `/root`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cwd: String,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl fmt::Debug for InstanceExecPost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InstanceExecPost")
            .field("command", &self.command)
            .field("wait_for_websocket", &self.wait_for_websocket)
            .field("interactive", &self.interactive)
            .field("environment", &EnvNames(&self.environment))
            .field("width", &self.width)
            .field("height", &self.height)
            .field("record_output", &self.record_output)
            .field("user", &self.user)
            .field("group", &self.group)
            .field("cwd", &self.cwd)
            .field("extra", &redact(&Value::Object(self.extra.clone())))
            .finish()
    }
}

/// Debug view of an environment: names, values hidden.
struct EnvNames<'a>(&'a BTreeMap<String, String>);

impl fmt::Debug for EnvNames<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.keys().map(|k| (k, format_args!("<redacted>"))))
            .finish()
    }
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}

fn is_zero_i32(value: &i32) -> bool {
    *value == 0
}

/// A message on the exec `control` websocket: forward a signal, or resize the terminal.
///
/// LXD reads `args.width` and `args.height` as decimal strings.
///
/// ```
/// use lxd_proto::InstanceExecControl;
///
/// assert_eq!(
///     serde_json::to_string(&InstanceExecControl::signal(15)).unwrap(),
///     r#"{"command":"signal","signal":15}"#,
/// );
/// assert_eq!(
///     serde_json::to_string(&InstanceExecControl::window_resize(120, 40)).unwrap(),
///     r#"{"command":"window-resize","args":{"height":"40","width":"120"}}"#,
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct InstanceExecControl {
    /// `signal` or `window-resize`.
    pub command: String,
    /// Arguments (`width`, `height` for `window-resize`).
    #[serde(
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub args: BTreeMap<String, String>,
    /// The signal number (`signal`).
    #[serde(skip_serializing_if = "is_zero_i32")]
    pub signal: i32,
}

impl InstanceExecControl {
    /// Forward signal `signal` (a Linux signal number: 2 SIGINT, 9 SIGKILL, 15 SIGTERM, ...)
    /// to the command.
    ///
    /// ```
    /// use lxd_proto::InstanceExecControl;
    ///
    /// // Ctrl-C pressed locally: interrupt the remote command.
    /// let interrupt = InstanceExecControl::signal(2);
    /// assert_eq!(interrupt.command, "signal");
    /// assert_eq!(serde_json::to_value(&interrupt).unwrap()["signal"], 2);
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_exec_post)
    pub fn signal(signal: i32) -> Self {
        Self {
            command: "signal".into(),
            args: BTreeMap::new(),
            signal,
        }
    }

    /// Resize the terminal of an interactive command.
    ///
    /// ```
    /// use lxd_proto::InstanceExecControl;
    ///
    /// let resize = InstanceExecControl::window_resize(200, 50);
    /// assert_eq!(resize.args["width"], "200");
    /// // No signal is written for a resize.
    /// assert!(serde_json::to_value(&resize).unwrap().get("signal").is_none());
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_exec_post)
    pub fn window_resize(width: u32, height: u32) -> Self {
        Self {
            command: "window-resize".into(),
            args: [
                ("width".to_string(), width.to_string()),
                ("height".to_string(), height.to_string()),
            ]
            .into(),
            signal: 0,
        }
    }
}

/// The metadata of an exec operation, as LXD fills it in over the operation's life.
///
/// - A websocket exec (`wait-for-websocket`) starts with `fds` (channel to secret),
///   `command`, `environment` and `interactive`.
/// - A finished exec has `return`: the exit code (128 + N when killed by signal N).
/// - A `record-output` exec has `output`: `"1"` and `"2"` to the URLs of the log files.
///
/// `Debug` redacts the secrets.
///
/// ```
/// use lxd_proto::ExecOperationMetadata;
///
/// let started: ExecOperationMetadata = serde_json::from_str(r#"{"command":["true"],
///     "environment":{"PATH":"/bin"},"fds":{"0":"s0","1":"s1","2":"s2","control":"sc"},
///     "interactive":false}"#).unwrap();
/// assert_eq!(started.fds["control"], "sc");
/// assert!(!format!("{started:?}").contains("s1"));
///
/// let done: ExecOperationMetadata = serde_json::from_str(r#"{"output":{
///     "1":"/1.0/instances/c1/logs/exec_x.stdout","2":"/1.0/instances/c1/logs/exec_x.stderr"},
///     "return":3}"#).unwrap();
/// assert_eq!(done.return_code, Some(3));
/// assert_eq!(done.output["1"], "/1.0/instances/c1/logs/exec_x.stdout");
/// ```
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExecOperationMetadata {
    /// Websocket secrets by channel: `"0"`, `"1"`, `"2"`, `"control"`.
    #[serde(
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub fds: BTreeMap<String, String>,
    /// The command as LXD runs it.
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// The environment as LXD runs it (with its defaults filled in).
    #[serde(
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub environment: BTreeMap<String, String>,
    /// Whether the command has a terminal.
    #[serde(skip_serializing_if = "is_false")]
    pub interactive: bool,
    /// The exit code, once the command has ended.
    #[serde(rename = "return", skip_serializing_if = "Option::is_none")]
    pub return_code: Option<i32>,
    /// Recorded output: `"1"` (stdout) and `"2"` (stderr) to log file URLs.
    #[serde(
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub output: BTreeMap<String, String>,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl fmt::Debug for ExecOperationMetadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let channels: Vec<&str> = self.fds.keys().map(String::as_str).collect();
        f.debug_struct("ExecOperationMetadata")
            .field("fds", &format_args!("<redacted> for {channels:?}"))
            .field("command", &self.command)
            .field("environment", &EnvNames(&self.environment))
            .field("interactive", &self.interactive)
            .field("return_code", &self.return_code)
            .field("output", &self.output)
            .field("extra", &redact(&Value::Object(self.extra.clone())))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn exec_post_writes_only_what_is_set_and_keeps_unknown_fields() {
        let minimal = InstanceExecPost {
            command: vec!["true".into()],
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&minimal).unwrap(),
            json!({"command": ["true"]})
        );
        let full = json!({
            "command": ["sh"], "wait-for-websocket": true, "interactive": true,
            "environment": {"A": "b"}, "width": 80, "height": 24, "user": 1000, "group": 0,
            "cwd": "/srv", "newer-field": [1]
        });
        let post: InstanceExecPost = serde_json::from_value(full.clone()).unwrap();
        assert_eq!(post.user, Some(1000));
        assert_eq!(post.group, Some(0));
        assert_eq!(post.extra["newer-field"], json!([1]));
        assert_eq!(serde_json::to_value(&post).unwrap(), full);
    }

    #[test]
    fn go_nulls_decode() {
        let post: InstanceExecPost =
            serde_json::from_value(json!({"command": null, "environment": null})).unwrap();
        assert!(post.command.is_empty() && post.environment.is_empty());
        let control: InstanceExecControl =
            serde_json::from_value(json!({"command": "signal", "args": null, "signal": 2}))
                .unwrap();
        assert_eq!(control, InstanceExecControl::signal(2));
    }

    #[test]
    fn debug_hides_environment_values() {
        let post = InstanceExecPost {
            command: vec!["env".into()],
            environment: [("API_TOKEN".to_string(), "s3cr3t".to_string())].into(),
            ..Default::default()
        };
        let debug = format!("{post:?}");
        assert!(
            debug.contains("API_TOKEN") && !debug.contains("s3cr3t"),
            "{debug}"
        );
    }

    #[test]
    fn metadata_debug_hides_secrets() {
        let metadata: ExecOperationMetadata = serde_json::from_value(json!({
            "fds": {"0": "secret-zero", "control": "secret-control"},
            "interactive": true,
            "secret": "x"
        }))
        .unwrap();
        let debug = format!("{metadata:?}");
        assert!(!debug.contains("secret-zero") && !debug.contains("secret-control"));
        assert!(debug.contains("control"), "{debug}");
        assert_eq!(metadata.return_code, None);
    }
}
