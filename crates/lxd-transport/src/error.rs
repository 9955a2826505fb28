//! The transport's error type.

use std::path::PathBuf;

/// A boxed error kept as the `source` of a transport error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong below the LXD protocol: finding the daemon, TLS, bytes on the
/// wire, websocket upgrades.
///
/// It says nothing about LXD's own answers (a 404 from LXD is a successful transport exchange);
/// `lxd-client` judges those.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No LXD unix socket was found at any of the places looked at.
    #[error("no LXD unix socket found; tried: {}", display_paths(tried))]
    SocketNotFound {
        /// Every path looked at, in order.
        tried: Vec<PathBuf>,
    },

    /// The caller gave an endpoint that cannot be used (bad URL, wrong scheme, ...).
    #[error("invalid endpoint {endpoint:?}: {reason}")]
    InvalidEndpoint {
        /// The endpoint as given.
        endpoint: String,
        /// Why it cannot be used.
        reason: String,
    },

    /// The caller gave a certificate, key or fingerprint that cannot be used.
    #[error("invalid {what}: {reason}")]
    InvalidCertificate {
        /// Which input was wrong ("client certificate", "server fingerprint", ...).
        what: &'static str,
        /// Why.
        reason: String,
    },

    /// The caller gave a request that cannot be sent (bad path, bad header value).
    #[error("invalid request: {0}")]
    InvalidRequest(String),

    /// The connection to the daemon could not be made (nothing listening, refused, unreachable).
    #[error("could not connect to {endpoint}: {}", with_cause(.source))]
    Connect {
        /// The endpoint dialled.
        endpoint: String,
        /// The underlying error.
        #[source]
        source: BoxError,
    },

    /// The TLS handshake failed: the server certificate did not verify (including a pin
    /// mismatch), or the server refused ours. No request was sent.
    #[error("TLS with {endpoint} failed: {message}")]
    Tls {
        /// The endpoint dialled.
        endpoint: String,
        /// What failed, in words.
        message: String,
    },

    /// A request or connect timeout configured by the caller ran out.
    #[error("timed out talking to {endpoint}")]
    Timeout {
        /// The endpoint.
        endpoint: String,
    },

    /// The exchange broke after the connection was made (reset, cut body, protocol error).
    #[error("HTTP exchange with {endpoint} failed: {}", with_cause(.source))]
    Http {
        /// The endpoint.
        endpoint: String,
        /// The underlying error.
        #[source]
        source: BoxError,
    },

    /// The server refused to upgrade a request to a websocket.
    #[error("websocket upgrade of {path} refused with HTTP {status}: {body}")]
    WebSocketRefused {
        /// The path requested.
        path: String,
        /// The HTTP status returned instead of 101.
        status: u16,
        /// The start of the body returned (LXD's error envelope, usually).
        body: String,
    },

    /// A websocket failed after it was open, or its handshake was malformed.
    #[error("websocket error: {0}")]
    WebSocket(#[from] tokio_tungstenite::tungstenite::Error),
}

impl Error {
    /// True when nothing could be reached at all: no socket, connection refused, TLS refused.
    ///
    /// ```
    /// use lxd_transport::Transport;
    /// let err = Transport::unix_builder(Some("/no/such/unix.socket".as_ref()))
    ///     .build()
    ///     .unwrap_err();
    /// assert!(err.is_connect(), "{err}"); // no daemon there: worth a retry or a hint to the user
    /// assert!(!err.is_timeout());
    /// ```
    ///
    /// A refused HTTPS connection says so in its message (the cause at the end of the chain):
    ///
    /// ```
    /// use lxd_transport::{Request, ServerTrust, Transport, http::Method};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// // A port nobody listens on any more.
    /// let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    /// let t = Transport::https_builder(format!("127.0.0.1:{port}"))
    ///     .server_trust(ServerTrust::Pinned("ab".repeat(32).parse()?))
    ///     .build()?;
    /// let err = t.send(Request::new(Method::GET, "/1.0")).await.unwrap_err();
    /// assert!(err.is_connect());
    /// assert!(err.to_string().contains("refused"), "{err}");
    /// # Ok(()) }
    /// ```
    pub fn is_connect(&self) -> bool {
        matches!(
            self,
            Error::SocketNotFound { .. } | Error::Connect { .. } | Error::Tls { .. }
        )
    }

    /// True for a TLS failure (certificate not verified, pin mismatch, client certificate
    /// refused).
    ///
    /// ```
    /// use lxd_transport::Error;
    /// let err = Error::Tls {
    ///     endpoint: "https://10.0.0.5:8443".into(),
    ///     message: "server certificate fingerprint does not match the pinned one".into(),
    /// };
    /// assert!(err.is_tls());
    /// assert!(err.is_connect(), "a refused handshake also means nothing was reached");
    /// ```
    pub fn is_tls(&self) -> bool {
        matches!(self, Error::Tls { .. })
    }

    /// True when a caller-configured timeout ran out.
    ///
    /// ```
    /// use lxd_transport::{Request, Transport, http::Method};
    /// use std::time::Duration;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// // A listener that never answers the TLS handshake.
    /// let silent = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let t = Transport::https_builder(silent.local_addr()?.to_string())
    ///     .timeout(Duration::from_millis(100))
    ///     .build()?;
    /// let err = t.send(Request::new(Method::GET, "/1.0")).await.unwrap_err();
    /// assert!(err.is_timeout(), "{err}");
    /// # Ok(()) }
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout { .. })
    }

    /// Sorts a reqwest error into connect / TLS / timeout / exchange failures.
    pub(crate) fn from_reqwest(endpoint: &str, err: reqwest::Error) -> Error {
        let endpoint = endpoint.to_string();
        if err.is_timeout() {
            return Error::Timeout { endpoint };
        }
        if let Some(message) = tls_message(&err) {
            return Error::Tls { endpoint, message };
        }
        if err.is_connect() {
            return Error::Connect {
                endpoint,
                source: Box::new(err),
            };
        }
        Error::Http {
            endpoint,
            source: Box::new(err),
        }
    }
}

/// An error's text and, when its chain goes deeper, the innermost cause's: reqwest's own text
/// ("error sending request for url (...)") does not say that the connection was refused or
/// reset, the io error at the end of the chain does.
fn with_cause(err: &BoxError) -> String {
    let top = err.to_string();
    let mut innermost: &(dyn std::error::Error + 'static) = &**err;
    while let Some(next) = innermost.source() {
        innermost = next;
    }
    let cause = innermost.to_string();
    if std::ptr::addr_eq(innermost, &**err) || top.contains(&cause) {
        top
    } else {
        format!("{top}: {cause}")
    }
}

/// Finds a rustls error in the source chain and words it (a pin mismatch names both
/// fingerprints).
pub(crate) fn tls_message(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(mismatch) = e.downcast_ref::<crate::tls::PinMismatch>() {
            return Some(mismatch.to_string());
        }
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            // A pin mismatch travels inside rustls::Error::InvalidCertificate(Other(..)).
            if let rustls::Error::InvalidCertificate(rustls::CertificateError::Other(other)) = tls
                && let Some(mismatch) = other.0.downcast_ref::<crate::tls::PinMismatch>()
            {
                return Some(mismatch.to_string());
            }
            return Some(tls.to_string());
        }
        // io::Error::source() skips the error it wraps; rustls's travels inside one.
        current = match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    None
}

fn display_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The transport's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
