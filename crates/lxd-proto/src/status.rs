//! LXD status codes (`status_code` of envelopes, operations and instances).

use serde::{Deserialize, Serialize};
use std::fmt;

/// An LXD status code, e.g. `200` (Success) or `103` (Running).
///
/// A newtype rather than an enum: LXD may send codes this crate does not know, and error
/// envelopes carry `0`. The associated constants name the codes LXD defines.
///
/// ```
/// use lxd_proto::StatusCode;
///
/// let code: StatusCode = serde_json::from_str("401").unwrap();
/// assert_eq!(code, StatusCode::CANCELLED);
/// assert!(code.is_final() && !code.is_success());
/// assert_eq!(code.name(), Some("Cancelled"));
/// assert_eq!(code.to_string(), "Cancelled (401)");
/// ```
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct StatusCode(pub u16);

impl StatusCode {
    /// 100: the operation was created (envelope of an async reply).
    pub const OPERATION_CREATED: Self = Self(100);
    /// 101: started.
    pub const STARTED: Self = Self(101);
    /// 102: stopped (instances).
    pub const STOPPED: Self = Self(102);
    /// 103: running (operations and instances).
    pub const RUNNING: Self = Self(103);
    /// 104: the operation is being cancelled.
    pub const CANCELLING: Self = Self(104);
    /// 105: the operation is pending.
    pub const PENDING: Self = Self(105);
    /// 106: the instance is starting.
    pub const STARTING: Self = Self(106);
    /// 107: the instance is stopping.
    pub const STOPPING: Self = Self(107);
    /// 108: aborting.
    pub const ABORTING: Self = Self(108);
    /// 109: the instance is freezing.
    pub const FREEZING: Self = Self(109);
    /// 110: the instance is frozen.
    pub const FROZEN: Self = Self(110);
    /// 111: the instance was thawed.
    pub const THAWED: Self = Self(111);
    /// 112: error (instances).
    pub const ERROR: Self = Self(112);
    /// 113: ready.
    pub const READY: Self = Self(113);
    /// 200: success (final).
    pub const SUCCESS: Self = Self(200);
    /// 400: failure (final).
    pub const FAILURE: Self = Self(400);
    /// 401: cancelled (final).
    pub const CANCELLED: Self = Self(401);

    /// The numeric value.
    ///
    /// ```
    /// use lxd_proto::StatusCode;
    ///
    /// assert_eq!(StatusCode::RUNNING.as_u16(), 103);
    /// assert_eq!(StatusCode(0).as_u16(), 0); // the status code of an error envelope
    /// ```
    pub const fn as_u16(self) -> u16 {
        self.0
    }

    /// Whether an operation with this status is finished: Success, Failure or Cancelled.
    ///
    /// A client polling `GET /1.0/operations/<id>` stops once this is true.
    ///
    /// ```
    /// use lxd_proto::StatusCode;
    ///
    /// assert!(StatusCode::SUCCESS.is_final());
    /// assert!(StatusCode::CANCELLED.is_final());
    /// assert!(!StatusCode::RUNNING.is_final());
    /// assert!(!StatusCode::CANCELLING.is_final()); // not yet
    /// ```
    pub const fn is_final(self) -> bool {
        matches!(self.0, 200 | 400 | 401)
    }

    /// Whether this is Success (200).
    ///
    /// ```
    /// use lxd_proto::StatusCode;
    ///
    /// let code: StatusCode = serde_json::from_str("200").unwrap();
    /// assert!(code.is_success());
    /// assert!(!StatusCode::FAILURE.is_success());
    /// ```
    pub const fn is_success(self) -> bool {
        self.0 == 200
    }

    /// Whether this is Failure (400).
    ///
    /// ```
    /// use lxd_proto::StatusCode;
    ///
    /// assert!(StatusCode(400).is_failure());
    /// assert!(!StatusCode::CANCELLED.is_failure()); // cancelled is not a failure
    /// ```
    pub const fn is_failure(self) -> bool {
        self.0 == 400
    }

    /// Whether this is Cancelled (401).
    ///
    /// ```
    /// use lxd_proto::StatusCode;
    ///
    /// assert!(StatusCode(401).is_cancelled());
    /// assert!(!StatusCode::CANCELLING.is_cancelled()); // 104: still in progress
    /// ```
    pub const fn is_cancelled(self) -> bool {
        self.0 == 401
    }

    /// LXD's own text for the code ("Success", "Running", ...), `None` for unknown codes.
    ///
    /// ```
    /// use lxd_proto::StatusCode;
    ///
    /// assert_eq!(StatusCode::FROZEN.name(), Some("Frozen"));
    /// assert_eq!(StatusCode(100).name(), Some("Operation created"));
    /// assert_eq!(StatusCode(999).name(), None);
    /// ```
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            100 => "Operation created",
            101 => "Started",
            102 => "Stopped",
            103 => "Running",
            104 => "Cancelling",
            105 => "Pending",
            106 => "Starting",
            107 => "Stopping",
            108 => "Aborting",
            109 => "Freezing",
            110 => "Frozen",
            111 => "Thawed",
            112 => "Error",
            113 => "Ready",
            200 => "Success",
            400 => "Failure",
            401 => "Cancelled",
            _ => return None,
        })
    }
}

impl From<u16> for StatusCode {
    fn from(code: u16) -> Self {
        Self(code)
    }
}

impl From<StatusCode> for u16 {
    fn from(code: StatusCode) -> Self {
        code.0
    }
}

impl fmt::Display for StatusCode {
    /// `"Running (103)"` for known codes, the bare number otherwise.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name} ({})", self.0),
            None => write!(f, "{}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finality() {
        for code in [
            StatusCode::SUCCESS,
            StatusCode::FAILURE,
            StatusCode::CANCELLED,
        ] {
            assert!(code.is_final(), "{code}");
        }
        for code in [
            StatusCode::RUNNING,
            StatusCode::PENDING,
            StatusCode::CANCELLING,
            StatusCode(0),
        ] {
            assert!(!code.is_final(), "{code}");
        }
        assert!(StatusCode::SUCCESS.is_success());
        assert!(!StatusCode::FAILURE.is_success());
        assert!(StatusCode::FAILURE.is_failure());
        assert!(StatusCode::CANCELLED.is_cancelled());
    }

    #[test]
    fn names_and_display() {
        assert_eq!(StatusCode::RUNNING.name(), Some("Running"));
        assert_eq!(
            StatusCode::OPERATION_CREATED.name(),
            Some("Operation created")
        );
        assert_eq!(StatusCode(0).name(), None);
        assert_eq!(StatusCode::SUCCESS.to_string(), "Success (200)");
        assert_eq!(StatusCode(999).to_string(), "999");
        assert_eq!(u16::from(StatusCode::FROZEN), 110);
        assert_eq!(StatusCode::from(113), StatusCode::READY);
    }

    #[test]
    fn serde_is_a_bare_number() {
        assert_eq!(serde_json::to_string(&StatusCode::STOPPED).unwrap(), "102");
        let code: StatusCode = serde_json::from_str("112").unwrap();
        assert_eq!(code, StatusCode::ERROR);
    }
}
