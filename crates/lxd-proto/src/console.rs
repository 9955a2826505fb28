//! An instance's console: `POST /1.0/instances/<name>/console` and its control messages.

use crate::string_enum::string_enum;
use crate::util::nullable;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

string_enum! {
    /// Which console to attach to.
    pub enum ConsoleType {
        /// The text console (`/dev/console` of a container, the serial console of a VM).
        Console = "console",
        /// The graphical console of a virtual machine (SPICE); API extension
        /// `console_vga_type`.
        Vga = "vga",
    }
    default = Console;
}

/// `POST /1.0/instances/<name>/console`: attach to the console.
///
/// LXD answers with a websocket operation whose metadata holds the secrets of channel `"0"`
/// (the console's bytes, both ways) and `"control"` (resize; closing it detaches).
///
/// ```
/// use lxd_proto::{ConsoleType, InstanceConsolePost};
///
/// let request = InstanceConsolePost { width: 80, height: 24, ..Default::default() };
/// assert_eq!(request.console_type, ConsoleType::Console);
/// assert_eq!(
///     serde_json::to_string(&request).unwrap(),
///     r#"{"width":80,"height":24,"type":"console"}"#,
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct InstanceConsolePost {
    /// Terminal width in columns (text console); 0 leaves it as it is.
    #[serde(skip_serializing_if = "is_zero")]
    pub width: u32,
    /// Terminal height in rows (text console); 0 leaves it as it is.
    #[serde(skip_serializing_if = "is_zero")]
    pub height: u32,
    /// Which console.
    #[serde(rename = "type")]
    pub console_type: ConsoleType,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}

/// A message on the console `control` websocket.
///
/// ```
/// use lxd_proto::InstanceConsoleControl;
///
/// assert_eq!(
///     serde_json::to_string(&InstanceConsoleControl::window_resize(100, 30)).unwrap(),
///     r#"{"command":"window-resize","args":{"height":"30","width":"100"}}"#,
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct InstanceConsoleControl {
    /// `window-resize`.
    pub command: String,
    /// Arguments (`width`, `height` as decimal strings).
    #[serde(
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub args: BTreeMap<String, String>,
}

impl InstanceConsoleControl {
    /// Resize the console's terminal.
    ///
    /// Sent on the `control` websocket when the local terminal changes size.
    ///
    /// ```
    /// use lxd_proto::InstanceConsoleControl;
    ///
    /// let resize = InstanceConsoleControl::window_resize(132, 43);
    /// assert_eq!(resize.command, "window-resize");
    /// assert_eq!((resize.args["width"].as_str(), resize.args["height"].as_str()), ("132", "43"));
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_console_post)
    pub fn window_resize(width: u32, height: u32) -> Self {
        Self {
            command: "window-resize".into(),
            args: [
                ("width".to_string(), width.to_string()),
                ("height".to_string(), height.to_string()),
            ]
            .into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn console_post_round_trips_with_unknown_fields() {
        let wire = json!({"type": "vga", "newer": 1});
        let post: InstanceConsolePost = serde_json::from_value(wire.clone()).unwrap();
        assert_eq!(post.console_type, ConsoleType::Vga);
        assert_eq!(serde_json::to_value(&post).unwrap(), wire);
        let missing: InstanceConsolePost = serde_json::from_value(json!({})).unwrap();
        assert_eq!(missing.console_type, ConsoleType::Console);
    }
}
