//! Warnings (`/1.0/warnings`, API extension `warnings`): problems the server noticed
//! (missing kernel features, failed tasks...).

use crate::string_enum::string_enum;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

string_enum! {
    /// Status of a warning (`status`).
    pub enum WarningStatus {
        /// Not acknowledged yet.
        New = "new",
        /// Acknowledged by a user (stays acknowledged while it recurs).
        Acknowledged = "acknowledged",
        /// The server found the problem gone.
        Resolved = "resolved",
    }
}

string_enum! {
    /// Severity of a warning (`severity`).
    pub enum WarningSeverity {
        /// Low.
        Low = "low",
        /// Moderate.
        Moderate = "moderate",
        /// High.
        High = "high",
    }
}

/// A warning (`GET /1.0/warnings/<uuid>`).
///
/// ```
/// use lxd_proto::{Warning, WarningSeverity, WarningStatus};
///
/// let warning: Warning = serde_json::from_str(r#"{"status": "new", "uuid": "55d76e3b",
///     "location": "none", "project": "", "type": "AppArmor support has been disabled",
///     "count": 12, "first_seen_at": "2026-11-27T01:46:20.39Z",
///     "last_seen_at": "2026-11-27T01:51:19.54Z",
///     "last_message": "Disabled because of lack of kernel support", "severity": "low",
///     "entity_url": ""}"#).unwrap();
/// assert_eq!(warning.status, WarningStatus::New);
/// assert_eq!(warning.severity, WarningSeverity::Low);
/// assert_eq!(warning.count, 12);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Warning {
    /// New, acknowledged or resolved.
    pub status: WarningStatus,
    /// UUID (the warning's key).
    pub uuid: String,
    /// Cluster member it occurred on.
    pub location: String,
    /// Project it occurred in (empty for server-wide warnings).
    pub project: String,
    /// Kind of warning, as text.
    #[serde(rename = "type")]
    pub warning_type: String,
    /// How often it occurred.
    pub count: i64,
    /// First occurrence (RFC 3339).
    pub first_seen_at: String,
    /// Last occurrence (RFC 3339).
    pub last_seen_at: String,
    /// The last message.
    pub last_message: String,
    /// Severity.
    pub severity: WarningSeverity,
    /// URL of the affected object, if any.
    pub entity_url: String,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `PUT`/`PATCH /1.0/warnings/<uuid>`: the writable part of a [`Warning`]. LXD accepts
/// `acknowledged` and `new` only.
///
/// ```
/// use lxd_proto::{WarningPut, WarningStatus};
///
/// let put = WarningPut::new(WarningStatus::Acknowledged);
/// assert_eq!(serde_json::to_string(&put).unwrap(), r#"{"status":"acknowledged"}"#);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WarningPut {
    /// The new status.
    pub status: WarningStatus,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl WarningPut {
    /// A change to `status`.
    ///
    /// ```
    /// use lxd_proto::{Warning, WarningPut, WarningStatus};
    ///
    /// let warning: Warning = serde_json::from_str(
    ///     r#"{"uuid": "55d76e3b", "status": "acknowledged", "severity": "low"}"#,
    /// ).unwrap();
    /// // Bring an acknowledged warning back to attention.
    /// let put = WarningPut::new(WarningStatus::New);
    /// assert_ne!(put.status, warning.status);
    /// assert_eq!(serde_json::to_string(&put).unwrap(), r#"{"status":"new"}"#);
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/warnings/warning_put)
    pub fn new(status: WarningStatus) -> WarningPut {
        WarningPut {
            status,
            extra: Map::new(),
        }
    }
}
