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
    #[error("websocket upgrade of {path} refused with HTTP {status}: {}", snippet(.body))]
    WebSocketRefused {
        /// The path requested.
        path: String,
        /// The HTTP status returned instead of 101.
        status: u16,
        /// The start of the body returned (LXD's error envelope, usually), up to the
        /// transport's error body cap; the message shows its first 512 bytes.
        body: String,
    },

    /// A websocket failed after it was open, or its handshake was malformed.
    #[error("websocket error: {0}")]
    WebSocket(#[from] tokio_tungstenite::tungstenite::Error),

    /// The server went away: the connection was reset or closed before the reply, the body
    /// or the stream ended, or a write found the peer gone.
    #[error("connection to {endpoint} lost: {}", with_cause(.source))]
    Disconnected {
        /// The endpoint.
        endpoint: String,
        /// The underlying error.
        #[source]
        source: BoxError,
    },

    /// A body held in memory grew past its configured cap (see
    /// [`TransportBuilder::max_body_size`](crate::TransportBuilder::max_body_size)); reading
    /// stopped there, nothing past the cap was buffered.
    #[error("the body from {endpoint} exceeds the limit of {limit} bytes")]
    BodyTooLarge {
        /// The endpoint.
        endpoint: String,
        /// The cap, in bytes.
        limit: u64,
    },

    /// The server sent nothing for longer than the idle timeout while a body was read or
    /// sent (see [`TransportBuilder::idle_timeout`](crate::TransportBuilder::idle_timeout)).
    #[error("{endpoint} sent nothing for {idle:?} (idle timeout)")]
    IdleTimeout {
        /// The endpoint.
        endpoint: String,
        /// The idle timeout that ran out.
        idle: std::time::Duration,
    },

    /// The server answered with a redirect. LXD never redirects, and redirects are not
    /// followed (they would re-send credentials to another host).
    #[error(
        "{endpoint} answered {method} {path} with a redirect (HTTP {status}) to {location:?}; redirects are not followed"
    )]
    Redirected {
        /// The endpoint.
        endpoint: String,
        /// The request's method.
        method: String,
        /// The request's path (without the query).
        path: String,
        /// The 3xx status.
        status: u16,
        /// The `Location` header, without its query (which could carry a secret).
        location: String,
    },
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
        matches!(self, Error::Timeout { .. } | Error::IdleTimeout { .. })
    }

    /// True when the server sent nothing for longer than the idle timeout while a body was
    /// read or sent (a stalled transfer), as opposed to a whole-request timeout. Also
    /// [`is_timeout`](Self::is_timeout).
    ///
    /// ```
    /// use lxd_transport::Error;
    /// use std::time::Duration;
    /// let err = Error::IdleTimeout { endpoint: "unix:/run/lxd.socket".into(), idle: Duration::from_secs(60) };
    /// assert!(err.is_idle_timeout() && err.is_timeout());
    /// assert!(!Error::Timeout { endpoint: "unix:/run/lxd.socket".into() }.is_idle_timeout());
    /// ```
    pub fn is_idle_timeout(&self) -> bool {
        matches!(self, Error::IdleTimeout { .. })
    }

    /// True when a body was larger than its configured cap.
    ///
    /// ```
    /// use lxd_transport::Error;
    /// let err = Error::BodyTooLarge { endpoint: "unix:/run/lxd.socket".into(), limit: 1024 };
    /// assert!(err.is_body_too_large());
    /// assert!(err.to_string().contains("1024 bytes"));
    /// ```
    pub fn is_body_too_large(&self) -> bool {
        matches!(self, Error::BodyTooLarge { .. })
    }

    /// True when the server answered with a redirect (3xx), which is never followed.
    ///
    /// ```
    /// use lxd_transport::Error;
    /// let err = Error::Redirected {
    ///     endpoint: "https://10.0.0.5:8443".into(),
    ///     method: "POST".into(),
    ///     path: "/1.0/certificates".into(),
    ///     status: 307,
    ///     location: "http://elsewhere.example/1.0/certificates".into(),
    /// };
    /// assert!(err.is_redirect());
    /// assert!(err.to_string().contains("HTTP 307"));
    /// ```
    pub fn is_redirect(&self) -> bool {
        matches!(self, Error::Redirected { .. })
    }

    /// True when the server went away: the connection was reset or closed before the reply,
    /// the body or the stream ended (a body cut mid-way, a websocket closed without a close
    /// frame), or a write found the peer gone. Nothing is known about what the server did
    /// with the request.
    ///
    /// ```
    /// use lxd_transport::{Error, tungstenite};
    /// use tungstenite::error::ProtocolError;
    /// let cut = Error::WebSocket(tungstenite::Error::Protocol(ProtocolError::ResetWithoutClosingHandshake));
    /// assert!(cut.is_disconnected());
    /// let reset = Error::Disconnected {
    ///     endpoint: "unix:/run/lxd.socket".into(),
    ///     source: std::io::Error::from(std::io::ErrorKind::ConnectionReset).into(),
    /// };
    /// assert!(reset.is_disconnected() && !reset.is_connect());
    /// ```
    pub fn is_disconnected(&self) -> bool {
        match self {
            Error::Disconnected { .. } => true,
            Error::WebSocket(e) => websocket_gone(e),
            _ => false,
        }
    }

    /// The error for a websocket that failed: a connection that went away becomes
    /// [`Error::Disconnected`], anything else [`Error::WebSocket`].
    ///
    /// ```
    /// use lxd_transport::{Error, tungstenite};
    /// let err = Error::from_websocket("unix:/run/lxd.socket", tungstenite::Error::ConnectionClosed);
    /// assert!(matches!(err, Error::Disconnected { .. }));
    /// assert!(err.to_string().contains("lost"), "{err}");
    /// ```
    pub fn from_websocket(
        endpoint: impl Into<String>,
        err: tokio_tungstenite::tungstenite::Error,
    ) -> Error {
        if websocket_gone(&err) {
            Error::Disconnected {
                endpoint: endpoint.into(),
                source: Box::new(err),
            }
        } else {
            Error::WebSocket(err)
        }
    }

    /// Sorts a reqwest error into connect / TLS / timeout / exchange failures.
    ///
    /// The URL reqwest keeps in its error loses its query first: a websocket's carries its
    /// secret, and the error's text and `Debug` would show it.
    pub(crate) fn from_reqwest(endpoint: &str, mut err: reqwest::Error) -> Error {
        if let Some(url) = err.url_mut() {
            url.set_query(None);
            url.set_fragment(None);
        }
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
        if connection_gone(&err) {
            return Error::Disconnected {
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

impl Error {
    /// Sorts an error of hyper's (the unix socket's keep-alive path) into a disconnection
    /// or another failure of the exchange, as [`Error::from_reqwest`] does for reqwest's.
    pub(crate) fn from_hyper(endpoint: &str, err: hyper::Error) -> Error {
        let endpoint = endpoint.to_string();
        if hyper_gone(&err) {
            Error::Disconnected {
                endpoint,
                source: Box::new(err),
            }
        } else {
            Error::Http {
                endpoint,
                source: Box::new(err),
            }
        }
    }
}

/// Whether a hyper error says the connection went away (closed, reset, cut short).
pub(crate) fn hyper_gone(err: &hyper::Error) -> bool {
    connection_gone(err)
}

/// Whether an io error says the other end has gone (reset, closed, early end of file).
pub(crate) fn io_gone(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::BrokenPipe
            | std::io::ErrorKind::UnexpectedEof
            | std::io::ErrorKind::NotConnected
    )
}

/// Whether a chain of errors ends in the connection going away: an io error of that kind,
/// or hyper's "connection closed before message completed".
fn connection_gone(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if io_gone(io) {
                return true;
            }
            if let Some(inner) = io.get_ref() {
                current = Some(inner as &(dyn std::error::Error + 'static));
                continue;
            }
        }
        if let Some(h) = e.downcast_ref::<hyper::Error>() {
            // Our own upload source failed: a local error, whatever its kind.
            if h.is_user() {
                return false;
            }
            // hyper aborts a body being read with this when its connection fails (reset,
            // closed early, broken framing): the exchange is over.
            let body_aborted = std::error::Error::source(h)
                .is_some_and(|cause| cause.to_string() == "connection error");
            if h.is_incomplete_message() || h.is_closed() || h.is_canceled() || body_aborted {
                return true;
            }
        }
        current = e.source();
    }
    false
}

/// Whether a websocket error means the connection went away (rather than a protocol error).
fn websocket_gone(err: &tokio_tungstenite::tungstenite::Error) -> bool {
    use tokio_tungstenite::tungstenite::Error as Ws;
    use tokio_tungstenite::tungstenite::error::ProtocolError;
    match err {
        Ws::ConnectionClosed
        | Ws::AlreadyClosed
        | Ws::Protocol(ProtocolError::ResetWithoutClosingHandshake) => true,
        Ws::Io(io) => io_gone(io),
        _ => false,
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

/// The start of a refusal's body, for a message.
fn snippet(body: &str) -> &str {
    let mut end = body.len().min(512);
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    &body[..end]
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
