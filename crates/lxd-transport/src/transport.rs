//! The transport: one cheap-to-clone handle over a unix socket or HTTPS.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use http::HeaderValue;

use crate::error::{Error, Result};
use crate::pool::UnixPool;
use crate::request::Request;
use crate::socket::discover_socket;
use crate::tls::{ClientIdentity, ServerTrust, client_config};

/// Where the daemon is.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Endpoint {
    /// A local unix socket.
    Unix(PathBuf),
    /// An HTTPS address (`https://host:port`).
    Https(reqwest::Url),
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Unix(p) => write!(f, "unix:{}", p.display()),
            Endpoint::Https(u) => write!(f, "{}", u.as_str().trim_end_matches('/')),
        }
    }
}

/// The default LXD HTTPS port.
pub const DEFAULT_HTTPS_PORT: u16 = 8443;

/// The default cap of a body read whole ([`Response::bytes`](crate::Response::bytes)): 64 MiB. LXD's largest
/// replies are listings with recursion (a few KiB per instance at `recursion=2`, so several
/// MiB for thousands of instances) and metrics; 64 MiB leaves a wide margin for those and
/// still stops a hostile server from filling memory.
pub const DEFAULT_MAX_BODY_SIZE: u64 = 64 * 1024 * 1024;

/// The default cap of an error body (a refused websocket upgrade's, and the client's LXD
/// error replies): 64 KiB. LXD's error envelopes are well under 1 KiB.
pub const DEFAULT_MAX_ERROR_BODY_SIZE: u64 = 64 * 1024;

/// The default idle timeout: 60 s without a byte while a body is read or sent.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Parses `https://host[:port]`, `host[:port]` or `[v6]:port` into an HTTPS URL (port 8443
/// when none is given). Plain `http://` is refused: LXD only speaks HTTPS on the network.
///
/// ```
/// let url = lxd_transport::parse_https_url("10.0.0.1")?;
/// assert_eq!(url.as_str(), "https://10.0.0.1:8443/");
/// assert!(lxd_transport::parse_https_url("http://10.0.0.1").is_err());
/// # Ok::<(), lxd_transport::Error>(())
/// ```
pub fn parse_https_url(address: &str) -> Result<reqwest::Url> {
    let bad = |reason: &str| Error::InvalidEndpoint {
        endpoint: address.to_string(),
        reason: reason.to_string(),
    };
    let text = address.trim();
    if text.is_empty() {
        return Err(bad("empty address"));
    }
    let with_scheme = if text.contains("://") {
        text.to_string()
    } else {
        format!("https://{text}")
    };
    let mut url = reqwest::Url::parse(&with_scheme).map_err(|e| bad(&e.to_string()))?;
    match url.scheme() {
        "https" => {}
        "http" => return Err(bad("plain HTTP is refused: LXD listens on HTTPS")),
        other => return Err(bad(&format!("unsupported scheme {other:?}"))),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("no host"));
    }
    if url.path() != "/" || url.query().is_some() || !url.username().is_empty() {
        return Err(bad("give only scheme, host and port"));
    }
    if url.port().is_none() {
        url.set_port(Some(DEFAULT_HTTPS_PORT))
            .map_err(|_| bad("cannot set port"))?;
    }
    Ok(url)
}

/// Builds a [`Transport`].
///
/// ```no_run
/// use lxd_transport::{ClientIdentity, ServerTrust, Transport};
/// # async fn demo() -> Result<(), lxd_transport::Error> {
/// let id = ClientIdentity::from_pem(b"...", b"...")?;
/// let t = Transport::https_builder("https://10.0.0.5:8443")
///     .client_identity(id)
///     .server_trust(ServerTrust::pinned_fingerprint("4f1c...")?)
///     .connect_timeout(std::time::Duration::from_secs(5))
///     .build()?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use]
pub struct TransportBuilder {
    target: Target,
    identity: Option<ClientIdentity>,
    trust: ServerTrust,
    connect_timeout: Option<Duration>,
    timeout: Option<Duration>,
    idle_timeout: Option<Duration>,
    max_body: u64,
    max_error_body: u64,
    user_agent: String,
    #[cfg(feature = "native-tls")]
    native_tls: bool,
}

#[derive(Debug)]
enum Target {
    Unix(Option<PathBuf>),
    Https(String),
}

impl TransportBuilder {
    /// Presents this client certificate (HTTPS only).
    ///
    /// ```
    /// use lxd_transport::{ClientIdentity, ServerTrust, Transport};
    /// # let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
    /// # let cert = rcgen::CertificateParams::new(vec!["ci".into()]).unwrap().self_signed(&key).unwrap();
    /// # let (cert_pem, key_pem) = (cert.pem(), key.serialize_pem());
    /// // LXD's client.crt and client.key (for example from ~/snap/lxd/common/config/).
    /// let id = ClientIdentity::from_pem(cert_pem.as_bytes(), key_pem.as_bytes())?;
    /// let t = Transport::https_builder("10.0.0.5")
    ///     .client_identity(id)
    ///     .server_trust(ServerTrust::pinned_fingerprint(&"4f".repeat(32))?)
    ///     .build()?;
    /// # let _ = t;
    /// # Ok::<(), lxd_transport::Error>(())
    /// ```
    pub fn client_identity(mut self, identity: ClientIdentity) -> Self {
        self.identity = Some(identity);
        self
    }

    /// Decides how the server is trusted (HTTPS only). Default: the system roots.
    ///
    /// ```
    /// use lxd_transport::{ServerTrust, Transport};
    /// # let ca_pem = rcgen::CertificateParams::new(vec!["ca".into()]).unwrap()
    /// #     .self_signed(&rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap()).unwrap().pem();
    /// // A cluster whose certificates are signed by our own CA (names must match).
    /// let t = Transport::https_builder("lxd.example.com")
    ///     .server_trust(ServerTrust::CaCertificates(vec![ca_pem.into_bytes()]))
    ///     .build()?;
    /// assert_eq!(t.endpoint().to_string(), "https://lxd.example.com:8443");
    /// # Ok::<(), lxd_transport::Error>(())
    /// ```
    pub fn server_trust(mut self, trust: ServerTrust) -> Self {
        self.trust = trust;
        self
    }

    /// Limits how long connecting may take. Default: no limit beyond the OS's.
    ///
    /// ```
    /// use lxd_transport::{ServerTrust, Transport};
    /// use std::time::Duration;
    /// // Fail fast when a cluster member is down instead of waiting for the OS's TCP timeout.
    /// let t = Transport::https_builder("10.0.0.7:8443")
    ///     .server_trust(ServerTrust::pinned_fingerprint(&"4f".repeat(32))?)
    ///     .connect_timeout(Duration::from_secs(3))
    ///     .build()?;
    /// # let _ = t;
    /// # Ok::<(), lxd_transport::Error>(())
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Limits every request that does not choose its own [`Timeout`](crate::Timeout). Long waits (operation
    /// waits, event streams, websockets, transfers) are not limited by this. Default: none.
    ///
    /// ```
    /// use lxd_transport::{ServerTrust, Transport};
    /// use std::time::Duration;
    /// let t = Transport::https_builder("10.0.0.5")
    ///     .server_trust(ServerTrust::pinned_fingerprint(&"4f".repeat(32))?)
    ///     .timeout(Duration::from_secs(30))
    ///     .build()?;
    /// assert_eq!(t.timeout(), Some(Duration::from_secs(30)));
    /// # Ok::<(), lxd_transport::Error>(())
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Fails a body read, or a streamed request body the server stops taking, when nothing
    /// moves for `idle` (with [`Error::IdleTimeout`]); `None` turns this off. Default:
    /// [`DEFAULT_IDLE_TIMEOUT`] (60 s).
    ///
    /// It applies to every read of a response body ([`Response::bytes`](crate::Response::bytes),
    /// [`Response::chunk`](crate::Response::chunk), [`Response::into_stream`](crate::Response::into_stream): JSON replies, file and image
    /// downloads, logs) and to streamed request bodies (file and image uploads). It is
    /// distinct from the request timeout: a transfer of any length is fine as long as bytes
    /// keep coming. It does not apply to the wait for a reply's head (the request timeout
    /// bounds that; an image upload's reply legitimately comes only once the server has
    /// unpacked it), nor to open websockets: event streams and exec output are legitimately
    /// silent for as long as nothing happens, and LXD keeps them alive with pings.
    ///
    /// ```
    /// use lxd_transport::{ServerTrust, Transport};
    /// use std::time::Duration;
    /// let t = Transport::https_builder("10.0.0.5")
    ///     .server_trust(ServerTrust::pinned_fingerprint(&"4f".repeat(32))?)
    ///     .idle_timeout(Duration::from_secs(20))
    ///     .build()?;
    /// assert_eq!(t.idle_timeout(), Some(Duration::from_secs(20)));
    /// let patient = Transport::https_builder("10.0.0.5")
    ///     .server_trust(ServerTrust::pinned_fingerprint(&"4f".repeat(32))?)
    ///     .idle_timeout(None)
    ///     .build()?;
    /// assert_eq!(patient.idle_timeout(), None);
    /// # Ok::<(), lxd_transport::Error>(())
    /// ```
    pub fn idle_timeout(mut self, idle: impl Into<Option<Duration>>) -> Self {
        self.idle_timeout = idle.into();
        self
    }

    /// Caps a body read whole ([`Response::bytes`](crate::Response::bytes)): past `bytes`, the read fails with
    /// [`Error::BodyTooLarge`] without holding more. Default: [`DEFAULT_MAX_BODY_SIZE`]
    /// (64 MiB). Streamed reads ([`Response::chunk`](crate::Response::chunk), [`Response::into_stream`](crate::Response::into_stream)) are not
    /// capped: they hold one chunk at a time.
    ///
    /// ```
    /// use lxd_transport::{ServerTrust, Transport};
    /// let t = Transport::https_builder("10.0.0.5")
    ///     .server_trust(ServerTrust::pinned_fingerprint(&"4f".repeat(32))?)
    ///     .max_body_size(8 * 1024 * 1024)
    ///     .build()?;
    /// assert_eq!(t.max_body_size(), 8 * 1024 * 1024);
    /// # Ok::<(), lxd_transport::Error>(())
    /// ```
    pub fn max_body_size(mut self, bytes: u64) -> Self {
        self.max_body = bytes;
        self
    }

    /// Caps an error body: a refused websocket upgrade's body is read up to `bytes` and the
    /// rest is left unread. Default: [`DEFAULT_MAX_ERROR_BODY_SIZE`] (64 KiB).
    ///
    /// ```
    /// use lxd_transport::{ServerTrust, Transport};
    /// let t = Transport::https_builder("10.0.0.5")
    ///     .server_trust(ServerTrust::pinned_fingerprint(&"4f".repeat(32))?)
    ///     .max_error_body_size(4096)
    ///     .build()?;
    /// assert_eq!(t.max_error_body_size(), 4096);
    /// # Ok::<(), lxd_transport::Error>(())
    /// ```
    pub fn max_error_body_size(mut self, bytes: u64) -> Self {
        self.max_error_body = bytes;
        self
    }

    /// Sets the User-Agent header.
    ///
    /// ```
    /// use lxd_transport::Transport;
    /// let builder = Transport::https_builder("10.0.0.5").user_agent("fleet-manager/2.1");
    /// # let _ = builder;
    /// // A value that cannot be a header is refused when building.
    /// let err = Transport::https_builder("10.0.0.5").user_agent("bad\nagent").build().unwrap_err();
    /// assert!(err.to_string().contains("user agent"));
    /// ```
    pub fn user_agent(mut self, agent: impl Into<String>) -> Self {
        self.user_agent = agent.into();
        self
    }

    /// Speaks HTTPS through the platform's TLS library (OpenSSL on Linux) instead of rustls
    /// (feature `native-tls`). Trust stays strict: a pinned certificate is the only trust
    /// anchor and only host names go unchecked. A pin given as a bare fingerprint
    /// ([`ServerTrust::Pinned`]) cannot be enforced by the platform library before a request
    /// is sent, so [`build`](Self::build) refuses it: pin the certificate itself
    /// ([`ServerTrust::pinned_pem`]). Ignored by unix-socket transports.
    ///
    /// ```no_run
    /// use lxd_transport::{ServerTrust, Transport};
    /// # fn demo(server_pem: &[u8]) -> Result<(), lxd_transport::Error> {
    /// let t = Transport::https_builder("10.0.0.5:8443")
    ///     .server_trust(ServerTrust::pinned_pem(server_pem)?)
    ///     .native_tls()
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "native-tls")]
    pub fn native_tls(mut self) -> Self {
        self.native_tls = true;
        self
    }

    /// Checks everything the caller gave and builds the transport. Nothing is sent yet: LXD
    /// 5.0's unix socket stalls every later connection while an idle, never-used one is open,
    /// so connections are made only for the request that uses them. Connections that have
    /// carried a request are kept alive and reused on both transports (on the unix socket at
    /// most 8, each for at most 30 s idle); websocket upgrades get a connection of their own.
    ///
    /// ```
    /// use lxd_transport::{Endpoint, ServerTrust, Transport};
    /// // Nothing is dialled yet: a daemon that is down only shows up on the first request.
    /// let t = Transport::https_builder("10.0.0.5")
    ///     .server_trust(ServerTrust::pinned_fingerprint(&"4f".repeat(32))?)
    ///     .build()?;
    /// assert!(matches!(t.endpoint(), Endpoint::Https(url) if url.port() == Some(8443)));
    /// // What can be checked without the network is: a bad address, a missing socket, ...
    /// assert!(Transport::https_builder("http://10.0.0.5").build().is_err());
    /// # Ok::<(), lxd_transport::Error>(())
    /// ```
    pub fn build(self) -> Result<Transport> {
        let agent = HeaderValue::from_str(&self.user_agent)
            .map_err(|_| Error::InvalidRequest(format!("bad user agent {:?}", self.user_agent)))?;
        // LXD never redirects; following one would re-send the request (a trust password,
        // a token) to wherever the server pointed, plain HTTP included. A 3xx is an error.
        let mut http = reqwest::Client::builder()
            .http1_only()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(agent.clone());
        let mut unix = None;
        if let Some(t) = self.connect_timeout {
            http = http.connect_timeout(t);
        }
        let (endpoint, base) = match self.target {
            Target::Unix(explicit) => {
                let path = discover_socket(explicit.as_deref())?;
                // reqwest wants a TLS configuration even for plain HTTP; give it one that
                // trusts nothing, so no process-wide crypto provider is needed.
                // reqwest only carries the unix socket's websocket upgrades (plain requests
                // go through our own pool, see pool.rs), and with no idle pool: hyper's pool
                // races a fresh connect against an idle connection coming free, and when the
                // idle one wins the fresh one is left open with nothing sent. LXD 5.0.2 then
                // answers no new connection (its own hooks included) until that one closes.
                unix = Some(UnixPool::new(
                    path.clone(),
                    Endpoint::Unix(path.clone()).to_string(),
                    self.connect_timeout,
                ));
                http = http
                    .pool_max_idle_per_host(0)
                    .unix_socket(path.clone())
                    .tls_backend_preconfigured(client_config(&ServerTrust::Nothing, None)?);
                // Any host works over a unix socket; LXD ignores it.
                let base = reqwest::Url::parse("http://lxd").expect("static URL");
                (Endpoint::Unix(path), base)
            }
            Target::Https(address) => {
                let url = parse_https_url(&address)?;
                #[cfg(feature = "native-tls")]
                if self.native_tls {
                    http = crate::native::configure(http, &self.trust, self.identity.as_ref())?;
                } else {
                    let tls = client_config(&self.trust, self.identity.as_ref())?;
                    http = http.tls_backend_preconfigured(tls);
                }
                #[cfg(not(feature = "native-tls"))]
                {
                    let tls = client_config(&self.trust, self.identity.as_ref())?;
                    http = http.tls_backend_preconfigured(tls);
                }
                (Endpoint::Https(url.clone()), url)
            }
        };
        let http = http.build().map_err(|e| Error::InvalidEndpoint {
            endpoint: endpoint.to_string(),
            reason: e.to_string(),
        })?;
        Ok(Transport {
            label: endpoint.to_string(),
            http,
            unix,
            user_agent: agent,
            base,
            endpoint,
            timeout: self.timeout,
            idle_timeout: self.idle_timeout,
            max_body: self.max_body,
            max_error_body: self.max_error_body,
        })
    }
}

/// Bytes and websockets to one LXD daemon. Cheap to clone: clones share the connection pool.
///
/// ```no_run
/// use lxd_transport::{Request, Transport, http::Method};
/// # async fn demo() -> Result<(), lxd_transport::Error> {
/// let t = Transport::unix_builder(None).build()?; // LXD_SOCKET, LXD_DIR, snap, /var/lib/lxd
/// let resp = t.send(Request::new(Method::GET, "/1.0")).await?;
/// println!("{} {}", resp.status(), String::from_utf8_lossy(&resp.bytes().await?));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Transport {
    pub(crate) http: reqwest::Client,
    /// The unix socket's keep-alive pool for plain requests (None over HTTPS).
    pub(crate) unix: Option<UnixPool>,
    /// Sent by the pooled path (reqwest adds its own).
    pub(crate) user_agent: HeaderValue,
    base: reqwest::Url,
    endpoint: Endpoint,
    pub(crate) label: String,
    pub(crate) timeout: Option<Duration>,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) max_body: u64,
    max_error_body: u64,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("endpoint", &self.label)
            .field("timeout", &self.timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("max_body", &self.max_body)
            .field("max_error_body", &self.max_error_body)
            .finish()
    }
}

impl Transport {
    /// A unix-socket transport: `path` if given (it must exist), else the discovered socket.
    ///
    /// ```
    /// use lxd_transport::{Endpoint, Transport};
    /// # let dir = std::env::temp_dir().join(format!("lxd-transport-doc-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # let socket = dir.join("unix.socket");
    /// # let _ = std::fs::remove_file(&socket);
    /// # let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    /// // `socket`: for example "/var/snap/lxd/common/lxd/unix.socket".
    /// let t = Transport::unix_builder(Some(socket.as_path())).build()?;
    /// assert_eq!(t.endpoint(), &Endpoint::Unix(socket.clone()));
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), lxd_transport::Error>(())
    /// ```
    pub fn unix_builder(path: Option<&Path>) -> TransportBuilder {
        Self::builder(Target::Unix(path.map(Path::to_path_buf)))
    }

    /// An HTTPS transport to `address` (`https://host:port`, `host:port` or `host`).
    ///
    /// ```
    /// use lxd_transport::{ServerTrust, Transport};
    /// for address in ["10.0.0.5", "10.0.0.5:8443", "https://10.0.0.5:8443"] {
    ///     let t = Transport::https_builder(address)
    ///         .server_trust(ServerTrust::pinned_fingerprint(&"4f".repeat(32))?)
    ///         .build()?;
    ///     assert_eq!(t.endpoint().to_string(), "https://10.0.0.5:8443");
    /// }
    /// # Ok::<(), lxd_transport::Error>(())
    /// ```
    pub fn https_builder(address: impl Into<String>) -> TransportBuilder {
        Self::builder(Target::Https(address.into()))
    }

    fn builder(target: Target) -> TransportBuilder {
        TransportBuilder {
            target,
            identity: None,
            trust: ServerTrust::SystemRoots,
            connect_timeout: None,
            timeout: None,
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
            max_body: DEFAULT_MAX_BODY_SIZE,
            max_error_body: DEFAULT_MAX_ERROR_BODY_SIZE,
            user_agent: concat!("lxd-rs/", env!("CARGO_PKG_VERSION")).to_string(),
            #[cfg(feature = "native-tls")]
            native_tls: false,
        }
    }

    /// Where this transport goes.
    ///
    /// ```
    /// use lxd_transport::{Endpoint, ServerTrust, Transport};
    /// let t = Transport::https_builder("[fd42::5]:9443")
    ///     .server_trust(ServerTrust::pinned_fingerprint(&"4f".repeat(32))?)
    ///     .build()?;
    /// assert!(matches!(t.endpoint(), Endpoint::Https(url) if url.port() == Some(9443)));
    /// assert_eq!(t.endpoint().to_string(), "https://[fd42::5]:9443");
    /// # Ok::<(), lxd_transport::Error>(())
    /// ```
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The configured request timeout.
    ///
    /// ```
    /// use lxd_transport::{ServerTrust, Transport};
    /// let t = Transport::https_builder("10.0.0.5")
    ///     .server_trust(ServerTrust::pinned_fingerprint(&"4f".repeat(32))?)
    ///     .build()?;
    /// assert_eq!(t.timeout(), None); // no limit unless the builder set one
    /// # Ok::<(), lxd_transport::Error>(())
    /// ```
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// The idle timeout of body reads and streamed uploads (see
    /// [`TransportBuilder::idle_timeout`]).
    ///
    /// ```
    /// use lxd_transport::{DEFAULT_IDLE_TIMEOUT, ServerTrust, Transport};
    /// let t = Transport::https_builder("10.0.0.5")
    ///     .server_trust(ServerTrust::pinned_fingerprint(&"4f".repeat(32))?)
    ///     .build()?;
    /// assert_eq!(t.idle_timeout(), Some(DEFAULT_IDLE_TIMEOUT));
    /// # Ok::<(), lxd_transport::Error>(())
    /// ```
    pub fn idle_timeout(&self) -> Option<Duration> {
        self.idle_timeout
    }

    /// The cap of a body read whole (see [`TransportBuilder::max_body_size`]).
    ///
    /// ```
    /// use lxd_transport::{DEFAULT_MAX_BODY_SIZE, ServerTrust, Transport};
    /// let t = Transport::https_builder("10.0.0.5")
    ///     .server_trust(ServerTrust::pinned_fingerprint(&"4f".repeat(32))?)
    ///     .build()?;
    /// assert_eq!(t.max_body_size(), DEFAULT_MAX_BODY_SIZE);
    /// # Ok::<(), lxd_transport::Error>(())
    /// ```
    pub fn max_body_size(&self) -> u64 {
        self.max_body
    }

    /// The cap of an error body (see [`TransportBuilder::max_error_body_size`]).
    ///
    /// ```
    /// use lxd_transport::{DEFAULT_MAX_ERROR_BODY_SIZE, ServerTrust, Transport};
    /// let t = Transport::https_builder("10.0.0.5")
    ///     .server_trust(ServerTrust::pinned_fingerprint(&"4f".repeat(32))?)
    ///     .build()?;
    /// assert_eq!(t.max_error_body_size(), DEFAULT_MAX_ERROR_BODY_SIZE);
    /// # Ok::<(), lxd_transport::Error>(())
    /// ```
    pub fn max_error_body_size(&self) -> u64 {
        self.max_error_body
    }

    pub(crate) fn label(&self) -> &str {
        &self.label
    }

    /// The absolute URL of a request, for this transport.
    pub(crate) fn url(&self, request: &Request) -> reqwest::Url {
        let mut url = self.base.clone();
        url.set_path(&request.path);
        if !request.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&request.query);
        }
        url
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_urls() {
        assert_eq!(
            parse_https_url("127.0.0.1:8444").unwrap().as_str(),
            "https://127.0.0.1:8444/"
        );
        assert_eq!(
            parse_https_url("https://[::1]").unwrap().as_str(),
            "https://[::1]:8443/"
        );
        for bad in [
            "",
            "http://x",
            "ftp://x",
            "https://x/1.0",
            "https://u@x",
            "https://",
        ] {
            assert!(parse_https_url(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn missing_socket_fails_at_build() {
        let err = Transport::unix_builder(Some(Path::new("/nope/unix.socket")))
            .build()
            .unwrap_err();
        assert!(matches!(err, Error::SocketNotFound { .. }), "{err}");
    }
}
