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
    #[error("operation {id} ({description}) was cancelled{}", reason(message))]
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

    /// The connection carrying a stream (an exec or console channel) was lost before the
    /// stream's end: the server went away, or the websocket closed without a close frame.
    /// What the server did meanwhile is unknown.
    #[error("{context}: connection lost ({reason})")]
    ConnectionLost {
        /// Which stream ("exec stdout", "exec control", ...).
        context: String,
        /// What was seen (a reset, a socket closed without a close frame, ...).
        reason: String,
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
        Error::Malformed {
            context: context.into(),
            reason: reason.to_string(),
            snippet: snippet(body),
        }
    }

    pub(crate) fn lost(context: impl Into<String>, reason: impl ToString) -> Error {
        Error::ConnectionLost {
            context: context.into(),
            reason: reason.to_string(),
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
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = lxd_testkit::TestServer::start().await?;
    /// # let client = lxd_client::Client::unix(server.socket_path())?;
    /// let err = client.instances().get("ghost").await.unwrap_err();
    /// assert_eq!(err.status(), Some(404));
    /// // Errors that are not LXD's answer have no status.
    /// assert_eq!(lxd_client::Client::unix("/run/no-such-lxd.socket").unwrap_err().status(), None);
    /// # Ok(()) }
    /// ```
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// LXD's own message, for API errors and failed or cancelled operations.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = lxd_testkit::TestServer::start().await?;
    /// # let client = lxd_client::Client::unix(server.socket_path())?;
    /// # use lxd_testkit::{Fault, FaultRule};
    /// # let offline = Fault::Error { status: 503, message: "Cluster member is offline".into() };
    /// # server.faults().add(FaultRule::new(offline).path("/1.0/instances").times(1));
    /// let err = client.instances().list_names().await.unwrap_err();
    /// assert_eq!(err.lxd_message(), Some("Cluster member is offline"));
    /// // The whole error also says which request failed:
    /// assert!(err.to_string().starts_with("LXD refused GET /1.0/instances"));
    /// # Ok(()) }
    /// ```
    pub fn lxd_message(&self) -> Option<&str> {
        match self {
            Error::Api { message, .. }
            | Error::OperationFailed { message, .. }
            | Error::OperationCancelled { message, .. } => Some(message),
            _ => None,
        }
    }

    /// 404: the object does not exist.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = lxd_testkit::TestServer::start().await?;
    /// # let client = lxd_client::Client::unix(server.socket_path())?;
    /// use lxd_client::proto::ProfilesPost;
    /// let profiles = client.profiles();
    /// match profiles.get("ci").await {
    ///     Err(e) if e.is_not_found() => profiles.create(&ProfilesPost { name: "ci".into(), ..Default::default() }).await?,
    ///     other => drop(other?),
    /// }
    /// assert!(profiles.exists("ci").await?);
    /// # Ok(()) }
    /// ```
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// 409: the object already exists, or the change conflicts.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = lxd_testkit::TestServer::start().await?;
    /// # let client = lxd_client::Client::unix(server.socket_path())?;
    /// use lxd_client::proto::ProfilesPost;
    /// let request = ProfilesPost { name: "ci".into(), ..Default::default() };
    /// client.profiles().create(&request).await?;
    /// let again = client.profiles().create(&request).await.unwrap_err();
    /// assert!(again.is_conflict()); // already there: fine for an idempotent setup script
    /// # Ok(()) }
    /// ```
    pub fn is_conflict(&self) -> bool {
        self.status() == Some(409)
    }

    /// 403: the client is not allowed (often: not trusted).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = lxd_testkit::TestServer::builder().https().start().await?;
    /// # let url = server.https_url().unwrap();
    /// # let generated = lxd_testkit::ClientCertificate::generate("ci")?;
    /// # let client = lxd_client::Client::https(url)
    /// #     .client_certificate_pem(generated.certificate_pem.as_bytes(), generated.key_pem.as_bytes())
    /// #     .server_certificate_pem(server.certificate_pem().as_bytes())
    /// #     .build()?;
    /// // `client` presents a certificate the server does not trust (yet).
    /// let err = client.instances().list_names().await.unwrap_err();
    /// assert!(err.is_forbidden()); // `client.authenticate(token)` first
    /// # Ok(()) }
    /// ```
    pub fn is_forbidden(&self) -> bool {
        self.status() == Some(403)
    }

    /// 401: not authenticated.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = lxd_testkit::TestServer::start().await?;
    /// # let client = lxd_client::Client::unix(server.socket_path())?;
    /// # use lxd_testkit::{Fault, FaultRule};
    /// # let fault = Fault::Error { status: 401, message: "Unauthorized".into() };
    /// # server.faults().add(FaultRule::new(fault).times(1));
    /// // E.g. an authenticating proxy in front of LXD that wants credentials:
    /// let err = client.instances().list_names().await.unwrap_err();
    /// assert!(err.is_unauthorized());
    /// # Ok(()) }
    /// ```
    pub fn is_unauthorized(&self) -> bool {
        self.status() == Some(401)
    }

    /// 412: the ETag given with a change no longer matches: someone changed the object.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = lxd_testkit::TestServer::start().await?;
    /// # let client = lxd_client::Client::unix(server.socket_path())?;
    /// let profiles = client.profiles();
    /// let seen = profiles.get_with_etag("default").await?;
    /// let mut put = seen.writable();
    /// put.description = "edited by us".into();
    /// // Someone else changes the profile meanwhile...
    /// profiles.patch("default", &serde_json::json!({"description": "edited by them"}), None).await?;
    /// let err = profiles.update("default", &put, seen.etag.as_ref()).await.unwrap_err();
    /// assert!(err.is_precondition_failed()); // read it again, reapply the change
    /// # Ok(()) }
    /// ```
    pub fn is_precondition_failed(&self) -> bool {
        self.status() == Some(412)
    }

    /// 400: LXD judged the request invalid.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = lxd_testkit::TestServer::start().await?;
    /// # let client = lxd_client::Client::unix(server.socket_path())?;
    /// # use lxd_client::proto::{InstanceSource, InstancesPost, ProfilesPost};
    /// # client.profiles().create(&ProfilesPost { name: "small".into(), ..Default::default() }).await?;
    /// # let web = InstancesPost {
    /// #     name: "web".into(),
    /// #     source: InstanceSource::image_alias("busybox"),
    /// #     profiles: Some(vec!["default".into(), "small".into()]),
    /// #     ..Default::default()
    /// # };
    /// # client.instances().create(&web).await?.wait().await?;
    /// // The instance `web` still uses the profile `small`:
    /// let err = client.profiles().delete("small").await.unwrap_err();
    /// assert!(err.is_bad_request());
    /// println!("{}", err.lxd_message().unwrap_or_default()); // Profile is currently in use
    /// # Ok(()) }
    /// ```
    pub fn is_bad_request(&self) -> bool {
        self.status() == Some(400)
    }

    /// The daemon could not be reached at all (socket, refused, TLS).
    ///
    /// ```
    /// match lxd_client::Client::unix("/var/snap/lxd/common/lxd/unix.socket") {
    ///     Err(e) if e.is_connect() => eprintln!("is LXD installed and running? {e}"),
    ///     Err(e) => return Err(e),
    ///     Ok(client) => println!("found {}", client.endpoint()),
    /// }
    /// assert!(lxd_client::Client::unix("/run/no-such-lxd/unix.socket").unwrap_err().is_connect());
    /// # Ok::<(), lxd_client::Error>(())
    /// ```
    pub fn is_connect(&self) -> bool {
        matches!(self, Error::Transport(t) if t.is_connect())
    }

    /// A TLS failure (server certificate not verified, pin mismatch).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = lxd_testkit::TestServer::builder().https().start().await?;
    /// # let url = server.https_url().unwrap();
    /// // Pinned to the certificate the server had before it was reinstalled:
    /// let client = lxd_client::Client::https(url)
    ///     .server_fingerprint("6c1fb9c17d558b98e968d3684d212d6fc8793c05cc50dda4c6db793511a79d96")
    ///     .build()?;
    /// let err = client.server().await.unwrap_err();
    /// assert!(err.is_tls() && err.is_connect());
    /// # Ok(()) }
    /// ```
    pub fn is_tls(&self) -> bool {
        matches!(self, Error::Transport(t) if t.is_tls())
    }

    /// A timeout ran out: the caller's transport timeout, or an operation wait's deadline.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = lxd_testkit::TestServer::start().await?;
    /// # let client = lxd_client::Client::unix(server.socket_path())?;
    /// # use lxd_testkit::{Fault, FaultRule};
    /// # use std::time::Duration;
    /// # server.faults().add(FaultRule::new(Fault::Latency(Duration::from_secs(2))).path("/1.0/instances"));
    /// # let client = lxd_client::ClientBuilder::unix(server.socket_path()).timeout(Duration::from_millis(100)).build()?;
    /// // `client` was built with `.timeout(Duration::from_millis(100))`, and the server is slow:
    /// let err = client.instances().list_names().await.unwrap_err();
    /// assert!(err.is_timeout());
    /// # Ok(()) }
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::OperationTimeout { .. })
            || matches!(self, Error::Transport(t) if t.is_timeout())
    }

    /// The server lacks an API extension.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = lxd_testkit::TestServer::start().await?;
    /// # let client = lxd_client::Client::unix(server.socket_path())?;
    /// // LXD 5.0 cannot change the owner of an existing file while writing it.
    /// let err = client.require_api_extension("instances_files_modify_permissions").await.unwrap_err();
    /// assert!(err.is_missing_extension()); // there: delete the file, then push it anew
    /// # Ok(()) }
    /// ```
    pub fn is_missing_extension(&self) -> bool {
        matches!(self, Error::MissingExtension { .. })
    }

    /// The server sent something malformed.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = lxd_testkit::TestServer::start().await?;
    /// # let client = lxd_client::Client::unix(server.socket_path())?;
    /// # use lxd_testkit::{Fault, FaultRule};
    /// # server.faults().add(FaultRule::new(Fault::MalformedJson).path("/1.0/profiles").times(1));
    /// // Something that is not LXD (a misconfigured proxy) answered:
    /// let err = client.profiles().list_names().await.unwrap_err();
    /// assert!(err.is_malformed());
    /// # Ok(()) }
    /// ```
    pub fn is_malformed(&self) -> bool {
        matches!(self, Error::Malformed { .. })
    }

    /// An operation failed.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = lxd_testkit::TestServer::start().await?;
    /// # let client = lxd_client::Client::unix(server.socket_path())?;
    /// # use lxd_testkit::{Fault, FaultRule};
    /// # let fault = Fault::FailOperation("Failed creating instance record: no space left on device".into());
    /// # server.faults().add(FaultRule::new(fault).method("POST").path("/1.0/instances").times(1));
    /// use lxd_client::proto::{InstanceSource, InstancesPost};
    /// let request = InstancesPost { name: "c1".into(), source: InstanceSource::image_alias("busybox"), ..Default::default() };
    /// let err = client.instances().create(&request).await?.wait().await.unwrap_err();
    /// assert!(err.is_operation_failed());
    /// assert!(err.lxd_message().unwrap().contains("no space left"));
    /// # Ok(()) }
    /// ```
    pub fn is_operation_failed(&self) -> bool {
        matches!(self, Error::OperationFailed { .. })
    }

    /// An operation was cancelled.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = lxd_testkit::TestServer::start().await?;
    /// # let client = lxd_client::Client::unix(server.socket_path())?;
    /// # use lxd_testkit::{Fault, FaultRule};
    /// # server.faults().add(FaultRule::new(Fault::StallOperation).method("POST").path("/1.0/instances").times(1));
    /// use lxd_client::proto::{InstanceSource, InstancesPost};
    /// let request = InstancesPost { name: "c1".into(), source: InstanceSource::image_alias("busybox"), ..Default::default() };
    /// let creation = client.instances().create(&request).await?;
    /// creation.cancel().await?;
    /// assert!(creation.wait().await.unwrap_err().is_cancelled());
    /// # Ok(()) }
    /// ```
    pub fn is_cancelled(&self) -> bool {
        matches!(self, Error::OperationCancelled { .. })
    }

    /// A local file or stream could not be read or written.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = lxd_testkit::TestServer::start().await?;
    /// # let client = lxd_client::Client::unix(server.socket_path())?;
    /// # use lxd_client::proto::{InstanceSource, InstancesPost};
    /// # let web = InstancesPost { name: "web".into(), source: InstanceSource::image_alias("busybox"), ..Default::default() };
    /// # client.instances().create(&web).await?.wait().await?;
    /// let files = client.instances().files("web");
    /// let err = files.get_to_path("/etc/hostname", "/no/such/dir/hostname").await.unwrap_err();
    /// assert!(err.is_io()); // this machine's side failed, not LXD
    /// # Ok(()) }
    /// ```
    pub fn is_io(&self) -> bool {
        matches!(self, Error::Io { .. })
    }

    /// The server went away: the connection was reset or closed before the reply, a body
    /// or a stream ended (a download cut mid-way, an exec channel closed without a close
    /// frame), or a write (a signal, stdin) found the connection gone. Neither
    /// [`is_connect`](Self::is_connect) (the daemon was reached) nor
    /// [`is_io`](Self::is_io) (nothing local failed).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = lxd_testkit::TestServer::start().await?;
    /// # let client = lxd_client::Client::unix(server.socket_path())?;
    /// # use lxd_testkit::{Fault, FaultRule};
    /// # server.faults().add(FaultRule::new(Fault::ResetMidResponse).path("/1.0/instances").times(1));
    /// // The daemon restarts while it sends the reply:
    /// let err = client.instances().list_names().await.unwrap_err();
    /// assert!(err.is_disconnected(), "{err}"); // retry once it is back
    /// assert!(!err.is_connect() && !err.is_io() && !err.is_timeout());
    /// # Ok(()) }
    /// ```
    pub fn is_disconnected(&self) -> bool {
        match self {
            Error::ConnectionLost { .. } => true,
            Error::Transport(t) => t.is_disconnected(),
            _ => false,
        }
    }

    /// A reply was larger than the cap configured for it (JSON replies, listings, error
    /// replies: see [`ClientBuilder::max_json_size`](crate::ClientBuilder::max_json_size)
    /// and its siblings). Reading stopped at the cap.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = lxd_testkit::TestServer::start().await?;
    /// let client = lxd_client::ClientBuilder::unix(server.socket_path())
    ///     .max_json_size(64) // far too small for any real reply
    ///     .build()?;
    /// let err = client.server().await.unwrap_err();
    /// assert!(err.is_body_too_large(), "{err}");
    /// # Ok(()) }
    /// ```
    pub fn is_body_too_large(&self) -> bool {
        matches!(self, Error::Transport(t) if t.is_body_too_large())
    }

    /// The server answered with a redirect (HTTP 3xx). LXD never redirects; the client never
    /// follows one (it would re-send credentials to wherever it points).
    ///
    /// ```
    /// let err = lxd_client::Error::Transport(lxd_client::transport::Error::Redirected {
    ///     endpoint: "https://10.0.0.5:8443".into(),
    ///     method: "POST".into(),
    ///     path: "/1.0/certificates".into(),
    ///     status: 307,
    ///     location: "http://198.51.100.7/1.0/certificates".into(),
    /// });
    /// assert!(err.is_redirect());
    /// ```
    pub fn is_redirect(&self) -> bool {
        matches!(self, Error::Transport(t) if t.is_redirect())
    }

    /// The server sent nothing for longer than the idle timeout while a body was read or
    /// sent (see [`ClientBuilder::idle_timeout`](crate::ClientBuilder::idle_timeout)). Also
    /// [`is_timeout`](Self::is_timeout).
    ///
    /// ```
    /// use std::time::Duration;
    /// let err = lxd_client::Error::Transport(lxd_client::transport::Error::IdleTimeout {
    ///     endpoint: "unix:/var/snap/lxd/common/lxd/unix.socket".into(),
    ///     idle: Duration::from_secs(60),
    /// });
    /// assert!(err.is_idle_timeout() && err.is_timeout());
    /// ```
    pub fn is_idle_timeout(&self) -> bool {
        matches!(self, Error::Transport(t) if t.is_idle_timeout())
    }

    /// The caller's input was refused before any request: a bad name or path here, or a
    /// certificate, key, fingerprint or request the transport cannot use.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = lxd_testkit::TestServer::start().await?;
    /// # let client = lxd_client::Client::unix(server.socket_path())?;
    /// let files = client.instances().files("web");
    /// let err = files.get_bytes("etc/hostname").await.unwrap_err();
    /// assert!(err.is_invalid_input()); // paths in an instance are absolute; nothing was sent
    /// # Ok(()) }
    /// ```
    pub fn is_invalid_input(&self) -> bool {
        matches!(
            self,
            Error::InvalidInput { .. }
                | Error::Transport(
                    lxd_transport::Error::InvalidCertificate { .. }
                        | lxd_transport::Error::InvalidRequest(_)
                )
        )
    }
}

/// The start of a reply for an error message, with secrets redacted: a hostile or broken
/// server's reply may carry websocket secrets (an exec operation's `fds`), tokens or
/// passwords, and error messages reach logs.
pub(crate) fn snippet(body: &[u8]) -> String {
    // Redacted before it is cut, so a secret cut by the end is still found; the margin
    // covers a secret whose key starts before the cut.
    let end = body.len().min(SNIPPET_LEN * 8);
    let text = redact(&String::from_utf8_lossy(&body[..end]));
    let mut cut = text.len().min(SNIPPET_LEN);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text[..cut].to_string()
}

/// Keys whose values are secrets wherever they appear in a reply (`fds` holds an exec's or
/// console's websocket secrets, one per channel).
const SECRET_KEYS: &[&str] = &[
    "secret",
    "secrets",
    "fds",
    "password",
    "trust_token",
    "token",
];

/// Replaces the values of secret keys in JSON-ish text (strings, and every string inside
/// an object or array value) with `<redacted>`, and `secret=` query values likewise. Works
/// on broken JSON too (a cut reply): an unterminated secret is redacted to the end.
pub(crate) fn redact(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    // Set after `"<secret key>" :`, until the value's first token.
    let mut pending = false;
    // Nesting depth inside a secret object or array value: every string there is redacted.
    let mut depth = 0usize;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' => {
                let start = i + 1;
                let mut j = start;
                while j < chars.len() && chars[j] != '"' {
                    j += if chars[j] == '\\' { 2 } else { 1 };
                }
                let end = j.min(chars.len());
                let content: String = chars[start..end].iter().collect();
                if pending || depth > 0 {
                    out.push_str("\"<redacted>");
                    pending = false;
                } else {
                    out.push('"');
                    out.push_str(&content);
                    // A key? Look past whitespace for ':'.
                    let mut k = j + 1;
                    while k < chars.len() && chars[k].is_whitespace() {
                        k += 1;
                    }
                    if k < chars.len()
                        && chars[k] == ':'
                        && SECRET_KEYS.contains(&content.to_ascii_lowercase().as_str())
                    {
                        pending = true;
                    }
                }
                if j < chars.len() {
                    out.push('"');
                }
                i = j + 1;
                continue;
            }
            '{' | '[' if pending || depth > 0 => {
                pending = false;
                depth += 1;
            }
            '}' | ']' if depth > 0 => depth -= 1,
            ':' | ' ' | '\t' | '\n' | '\r' => {}
            _ if pending => pending = false,
            _ => {}
        }
        out.push(c);
        i += 1;
    }
    redact_query_secrets(&out)
}

/// `secret=<value>` (a websocket URL's query) becomes `secret=<redacted>`.
fn redact_query_secrets(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("secret=") {
        let value_start = at + "secret=".len();
        out.push_str(&rest[..value_start]);
        let tail = &rest[value_start..];
        let value_len = tail
            .find(|c: char| c == '&' || c == '"' || c == '\'' || c.is_whitespace())
            .unwrap_or(tail.len());
        if value_len > 0 {
            out.push_str("<redacted>");
        }
        rest = &tail[value_len..];
    }
    out.push_str(rest);
    out
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

/// `: <text>` when LXD gave a reason, nothing when it did not.
fn reason(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(": {message}")
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
    fn snippets_lose_their_secrets() {
        let reply = br#"{"type":"async","metadata":{"id":"6916","metadata":{"fds":{"0":"s3cr3t-stdin","control":"s3cr3t-control"}},"x":1},"secret":"s3cr3t-ws","password":"pw","token":"eyJ0b2tlbiI=""#;
        for text in [
            snippet(reply),
            redact(&String::from_utf8_lossy(reply)),
            snippet(b"GET /1.0/operations/1/websocket?secret=s3cr3t-url&project=p"),
            snippet(br#"{"secret": "s3cr3t-cut-off-at-the-end"#),
        ] {
            for secret in ["s3cr3t", "\"pw\"", "eyJ0b2tlbiI"] {
                assert!(!text.contains(secret), "{secret} in {text}");
            }
        }
        // What is not a secret stays readable.
        assert!(
            redact(r#"{"type":"async","fds":{"0":"x"},"id":"6916"}"#).contains(r#""id":"6916""#)
        );
        assert!(snippet(b"project=p&secret=abc").ends_with("secret=<redacted>"));
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
