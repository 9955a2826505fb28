//! The client's error type: "could not connect" vs "LXD said no" vs "missing API extension"
//! vs "the server sent something malformed" vs "the caller gave bad input".

use lxd_proto::StatusCode;

/// Everything a client call can fail with.
///
/// Match on the variant, or ask a predicate (`is_not_found()`, `is_conflict()`, ...): the
/// predicates also see through failed operations that carry an HTTP-like status.
///
/// ```no_run
/// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
/// match client.instances().get("web").await {
///     Ok(i) => println!("{} is {}", i.name, i.status),
///     Err(e) if e.is_not_found() => println!("no such instance"),
///     Err(e) => return Err(e),
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The daemon could not be reached, or the bytes could not be exchanged (socket missing,
    /// connection refused, TLS refused, connection cut, caller's timeout).
    #[error(transparent)]
    Transport(#[from] lxd_transport::Error),

    /// LXD answered with an error: its HTTP status and its own message.
    #[error("LXD refused {method} {path}: {message} (HTTP {status})")]
    Api {
        /// The HTTP status (LXD's `error_code`).
        status: u16,
        /// LXD's error text.
        message: String,
        /// The request's method.
        method: String,
        /// The request's path (without the query).
        path: String,
    },

    /// An operation ended in failure; `message` is LXD's own text.
    #[error("operation {id} ({description}) failed: {message}")]
    OperationFailed {
        /// The operation's id.
        id: String,
        /// The operation's description ("Creating instance", ...).
        description: String,
        /// LXD's error text (`err` of the operation).
        message: String,
        /// The final status code (400 Failure).
        status_code: StatusCode,
    },

    /// An operation was cancelled.
    #[error("operation {id} ({description}) was cancelled: {message}")]
    OperationCancelled {
        /// The operation's id.
        id: String,
        /// The operation's description.
        description: String,
        /// LXD's text, if any.
        message: String,
    },

    /// A wait for an operation reached its deadline; the operation may still be running.
    #[error("operation {id} did not finish within {waited:?}")]
    OperationTimeout {
        /// The operation's id.
        id: String,
        /// How long was waited.
        waited: std::time::Duration,
    },

    /// The server lacks an API extension the call needs.
    #[error("the server lacks the API extension {extension:?} ({server} {version})")]
    MissingExtension {
        /// The extension's name.
        extension: String,
        /// The server's kind (`lxd`, `incus`).
        server: String,
        /// The server's version.
        version: String,
    },

    /// The server sent something that is not what LXD sends (bad JSON, wrong envelope).
    #[error("malformed reply to {context}: {reason}; reply starts with {snippet:?}")]
    Malformed {
        /// Which request or stream.
        context: String,
        /// What was wrong.
        reason: String,
        /// The start of what was received.
        snippet: String,
    },

    /// Reading or writing a local file or stream failed (a file transfer's source or
    /// destination on this machine).
    #[error("{context}: {source}")]
    Io {
        /// What was being done, and on which path.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// The caller's input cannot be used: a bad name, an empty command, a relative path
    /// (refused before anything is sent), or a request that contradicts what is there (a
    /// directory where a file was asked for, found by a first read).
    #[error("invalid {what}: {reason}")]
    InvalidInput {
        /// What was wrong (`instance name`, `project name`, ...).
        what: &'static str,
        /// Why.
        reason: String,
    },
}

/// How much of a malformed reply is kept in the error.
pub(crate) const SNIPPET_LEN: usize = 200;

impl Error {
    pub(crate) fn malformed(
        context: impl Into<String>,
        reason: impl ToString,
        body: &[u8],
    ) -> Error {
        let end = body.len().min(SNIPPET_LEN);
        Error::Malformed {
            context: context.into(),
            reason: reason.to_string(),
            snippet: String::from_utf8_lossy(&body[..end]).into_owned(),
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn invalid(what: &'static str, reason: impl Into<String>) -> Error {
        Error::InvalidInput {
            what,
            reason: reason.into(),
        }
    }

    /// LXD's HTTP status for an API error.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// LXD's own message, for API errors and failed or cancelled operations.
    pub fn lxd_message(&self) -> Option<&str> {
        match self {
            Error::Api { message, .. }
            | Error::OperationFailed { message, .. }
            | Error::OperationCancelled { message, .. } => Some(message),
            _ => None,
        }
    }

    /// 404: the object does not exist.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// 409: the object already exists, or the change conflicts.
    pub fn is_conflict(&self) -> bool {
        self.status() == Some(409)
    }

    /// 403: the client is not allowed (often: not trusted).
    pub fn is_forbidden(&self) -> bool {
        self.status() == Some(403)
    }

    /// 401: not authenticated.
    pub fn is_unauthorized(&self) -> bool {
        self.status() == Some(401)
    }

    /// 412: the ETag given with a change no longer matches: someone changed the object.
    pub fn is_precondition_failed(&self) -> bool {
        self.status() == Some(412)
    }

    /// 400: LXD judged the request invalid.
    pub fn is_bad_request(&self) -> bool {
        self.status() == Some(400)
    }

    /// The daemon could not be reached at all (socket, refused, TLS).
    pub fn is_connect(&self) -> bool {
        matches!(self, Error::Transport(t) if t.is_connect())
    }

    /// A TLS failure (server certificate not verified, pin mismatch).
    pub fn is_tls(&self) -> bool {
        matches!(self, Error::Transport(t) if t.is_tls())
    }

    /// A timeout ran out: the caller's transport timeout, or an operation wait's deadline.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::OperationTimeout { .. })
            || matches!(self, Error::Transport(t) if t.is_timeout())
    }

    /// The server lacks an API extension.
    pub fn is_missing_extension(&self) -> bool {
        matches!(self, Error::MissingExtension { .. })
    }

    /// The server sent something malformed.
    pub fn is_malformed(&self) -> bool {
        matches!(self, Error::Malformed { .. })
    }

    /// An operation failed.
    pub fn is_operation_failed(&self) -> bool {
        matches!(self, Error::OperationFailed { .. })
    }

    /// An operation was cancelled.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, Error::OperationCancelled { .. })
    }

    /// A local file or stream could not be read or written.
    pub fn is_io(&self) -> bool {
        matches!(self, Error::Io { .. })
    }

    /// The caller's input was refused before any request.
    pub fn is_invalid_input(&self) -> bool {
        matches!(self, Error::InvalidInput { .. })
    }
}

/// Turns a lookup into an existence check: found is `true`, LXD's 404 is `false`, any other
/// error stays an error (so "cannot tell" is never read as "absent").
pub(crate) fn found<T>(lookup: Result<T>) -> Result<bool> {
    match lookup {
        Ok(_) => Ok(true),
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(e),
    }
}

/// The client's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16) -> Error {
        Error::Api {
            status,
            message: "x".into(),
            method: "GET".into(),
            path: "/1.0".into(),
        }
    }

    #[test]
    fn predicates_follow_status() {
        assert!(api(404).is_not_found() && !api(404).is_conflict());
        assert!(api(409).is_conflict());
        assert!(api(403).is_forbidden());
        assert!(api(412).is_precondition_failed());
        assert!(!api(500).is_not_found());
        assert_eq!(api(404).lxd_message(), Some("x"));
    }

    #[test]
    fn malformed_snippet_is_bounded() {
        let body = vec![b'a'; 10_000];
        let e = Error::malformed("GET /1.0", "bad", &body);
        match e {
            Error::Malformed { snippet, .. } => assert_eq!(snippet.len(), SNIPPET_LEN),
            _ => unreachable!(),
        }
    }
}
