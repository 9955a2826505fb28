//! The client handle, its constructors, and the request plumbing every manager uses.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use lxd_proto::{ResponseType, Server};
use lxd_transport::http::{HeaderMap, Method};
use lxd_transport::{ClientIdentity, Endpoint, Request, ServerTrust, Transport};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::flavor::Flavor;
use crate::operation::Operation;
use crate::path::validate_project_name;

/// A client of one LXD server. Cheap to clone (an `Arc` inside); clones share connections
/// and the cached server information.
///
/// ```no_run
/// # async fn demo() -> Result<(), lxd_client::Error> {
/// let client = lxd_client::Client::local()?;
/// let server = client.server().await?;
/// println!("LXD {}", server.environment.server_version);
/// for name in client.instances().list_names().await? {
///     println!("{name}");
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
    project: Option<String>,
}

struct Shared {
    transport: Transport,
    limits: Limits,
    /// `GET /1.0`, fetched on first use; `refresh_server` replaces it.
    server: RwLock<Option<Arc<Server>>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", self.shared.transport.endpoint())
            .field("project", &self.project)
            .finish()
    }
}

/// The caps on reply bodies held in memory (see the `max_*_size` methods of
/// [`ClientBuilder`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// A JSON reply that is one object (or an operation).
    pub(crate) json: u64,
    /// A listing: a collection's names, or its objects with `recursion`.
    pub(crate) listing: u64,
    /// An error reply (HTTP status 400 and up).
    pub(crate) error: u64,
}

/// The default cap of a JSON reply that is one object: 8 MiB. LXD's largest single
/// objects (an instance with its state and many snapshots, `/1.0/resources` of a big host)
/// are a few hundred KiB.
pub const DEFAULT_MAX_JSON_SIZE: u64 = 8 * 1024 * 1024;
/// The default cap of a listing: 64 MiB. At `recursion=2` an instance takes a few KiB
/// (state, network counters, snapshots), so thousands of instances make several MiB; 64 MiB
/// leaves a wide margin and still stops a hostile server from filling memory.
pub const DEFAULT_MAX_LISTING_SIZE: u64 = lxd_transport::DEFAULT_MAX_BODY_SIZE;
/// The default cap of an error reply: 64 KiB. LXD's error envelopes are well under 1 KiB.
pub const DEFAULT_MAX_ERROR_SIZE: u64 = lxd_transport::DEFAULT_MAX_ERROR_BODY_SIZE;

/// A decoded reply and the headers that matter to callers (the ETag).
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) envelope: lxd_proto::Response,
    pub(crate) headers: HeaderMap,
}

impl Reply {
    /// The object's ETag, for a later `If-Match`.
    #[allow(dead_code)] // used by the object lifecycle (save) of the resource managers
    pub(crate) fn etag(&self) -> Option<String> {
        self.headers
            .get(lxd_transport::http::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
}

impl Client {
    /// Connects to the local LXD (or Incus) over its unix socket, found by `LXD_SOCKET`,
    /// `INCUS_SOCKET`, `$LXD_DIR/unix.socket`, `$INCUS_DIR/unix.socket`, the snap path,
    /// `/var/lib/lxd/unix.socket`, then Incus's usual paths (see
    /// [`lxd_transport::socket_candidates`]). Nothing is sent until the first call.
    ///
    /// ```no_run
    /// let client = lxd_client::Client::local()?;
    /// println!("talking to {}", client.endpoint()); // unix:/var/snap/lxd/common/lxd/unix.socket
    /// # Ok::<(), lxd_client::Error>(())
    /// ```
    pub fn local() -> Result<Client> {
        ClientBuilder::local().build()
    }

    /// Connects to the LXD unix socket at `path`.
    ///
    /// ```
    /// # let server = lxd_testkit::TestServer::builder().start_blocking().unwrap();
    /// # let socket = server.socket_path();
    /// // `socket`: "/var/lib/lxd/unix.socket", a forwarded socket, a test server's socket, ...
    /// let client = lxd_client::Client::unix(socket)?;
    /// assert!(matches!(client.endpoint(), lxd_client::transport::Endpoint::Unix(_)));
    /// // A socket that is not there is refused when the client is built.
    /// let err = lxd_client::Client::unix("/run/no-such-lxd/unix.socket").unwrap_err();
    /// assert!(err.is_connect());
    /// # Ok::<(), lxd_client::Error>(())
    /// ```
    pub fn unix(path: impl AsRef<Path>) -> Result<Client> {
        ClientBuilder::unix(path).build()
    }

    /// Starts building an HTTPS client to `address` (`https://host:port`, `host:port`, or
    /// `host` for port 8443).
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), lxd_client::Error> {
    /// let client = lxd_client::Client::https("https://10.0.0.5:8443")
    ///     .client_certificate_pem(&std::fs::read("client.crt").unwrap(), &std::fs::read("client.key").unwrap())
    ///     .server_certificate_pem(&std::fs::read("server.crt").unwrap())
    ///     .build()?;
    /// println!("trusted: {}", client.trusted().await?);
    /// # Ok(()) }
    /// ```
    pub fn https(address: impl Into<String>) -> ClientBuilder {
        ClientBuilder::https(address)
    }

    /// A client configured from the environment: `LXD_URL` (HTTPS address) with
    /// `LXD_CLIENT_CERT` and `LXD_CLIENT_KEY` (PEM files) and `LXD_SERVER_CERT` (PEM file) or
    /// `LXD_SERVER_FINGERPRINT`; without `LXD_URL`, the local unix socket (`LXD_SOCKET`,
    /// `LXD_DIR`, ...). `LXD_PROJECT` sets the project.
    ///
    /// ```no_run
    /// // LXD_URL=https://10.0.0.5:8443 LXD_SERVER_CERT=/etc/ci/lxd-server.crt LXD_PROJECT=ci
    /// // LXD_CLIENT_CERT=/etc/ci/client.crt LXD_CLIENT_KEY=/etc/ci/client.key
    /// let client = lxd_client::Client::from_env()?;
    /// println!("{} (project {:?})", client.endpoint(), client.project());
    /// # Ok::<(), lxd_client::Error>(())
    /// ```
    pub fn from_env() -> Result<Client> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let read = |k: &str, path: String| {
            std::fs::read(&path)
                .map_err(|e| Error::invalid("environment", format!("{k}={path}: {e}")))
        };
        let mut builder = match var("LXD_URL") {
            Some(url) => {
                let mut b = ClientBuilder::https(url);
                match (var("LXD_CLIENT_CERT"), var("LXD_CLIENT_KEY")) {
                    (Some(c), Some(k)) => {
                        b = b.client_certificate_pem(
                            &read("LXD_CLIENT_CERT", c)?,
                            &read("LXD_CLIENT_KEY", k)?,
                        )
                    }
                    (None, None) => {}
                    _ => {
                        return Err(Error::invalid(
                            "environment",
                            "LXD_CLIENT_CERT and LXD_CLIENT_KEY go together",
                        ));
                    }
                }
                if let Some(p) = var("LXD_SERVER_CERT") {
                    b = b.server_certificate_pem(&read("LXD_SERVER_CERT", p)?);
                } else if let Some(fp) = var("LXD_SERVER_FINGERPRINT") {
                    b = b.server_fingerprint(&fp);
                }
                b
            }
            None => ClientBuilder::local(),
        };
        if let Some(p) = var("LXD_PROJECT") {
            builder = builder.project(p);
        }
        builder.build()
    }

    /// Where this client goes.
    ///
    /// ```
    /// use lxd_client::transport::Endpoint;
    /// # let client = lxd_client::Client::https("10.0.0.5").server_fingerprint("6c1fb9c17d558b98e968d3684d212d6fc8793c05cc50dda4c6db793511a79d96").build()?;
    /// match client.endpoint() {
    ///     Endpoint::Unix(path) => println!("local socket {}", path.display()),
    ///     Endpoint::Https(url) => println!("remote server {url}"),
    ///     other => println!("{other}"),
    /// }
    /// assert_eq!(client.endpoint().to_string(), "https://10.0.0.5:8443");
    /// # Ok::<(), lxd_client::Error>(())
    /// ```
    pub fn endpoint(&self) -> &Endpoint {
        self.shared.transport.endpoint()
    }

    /// The transport underneath, for callers who drive bytes themselves.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::transport::{Request, http::Method};
    /// // The reply as LXD sent it, envelope and all (the client's project is not added here).
    /// let response = client.transport().send(Request::new(Method::GET, "/1.0")).await?;
    /// println!("{} {}", response.status(), String::from_utf8_lossy(&response.bytes().await?));
    /// # Ok(()) }
    /// ```
    pub fn transport(&self) -> &Transport {
        &self.shared.transport
    }

    /// The project every request is scoped to, if one was chosen (else the server's default).
    ///
    /// ```
    /// # let server = lxd_testkit::TestServer::builder().start_blocking().unwrap();
    /// let client = lxd_client::Client::unix(server.socket_path())?;
    /// assert_eq!(client.project(), None); // the server's `default` project
    /// assert_eq!(client.with_project("ci")?.project(), Some("ci"));
    /// # Ok::<(), lxd_client::Error>(())
    /// ```
    pub fn project(&self) -> Option<&str> {
        self.project.as_deref()
    }

    /// A clone of this client scoped to `project`: every request (websockets included) carries
    /// `?project=`. Shares connections and server information with `self`.
    ///
    /// ```no_run
    /// # fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let dev = client.with_project("dev")?;
    /// assert_eq!(dev.project(), Some("dev"));
    /// # Ok(()) }
    /// ```
    pub fn with_project(&self, project: &str) -> Result<Client> {
        validate_project_name(project)?;
        Ok(Client {
            shared: self.shared.clone(),
            project: Some(project.to_string()),
        })
    }

    pub(crate) fn clear_project(&mut self) {
        self.project = None;
    }

    /// Drops the cached server information (after a change of the server's config), so the
    /// next call that needs it fetches it again.
    pub(crate) fn forget_server(&self) {
        *self.shared.server.write().expect("lock") = None;
    }

    /// The server's information (`GET /1.0`), fetched once and cached.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let server = client.server().await?;
    /// println!("{} {}", server.environment.server, server.environment.server_version);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/server/server_get)
    pub async fn server(&self) -> Result<Arc<Server>> {
        if let Some(s) = self.shared.server.read().expect("lock").clone() {
            return Ok(s);
        }
        self.refresh_server().await
    }

    /// Fetches the server's information again (after authenticating, or a config change).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let fresh = client.refresh_server().await?;
    /// println!("{} addresses", fresh.environment.addresses.len());
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/server/server_get)
    pub async fn refresh_server(&self) -> Result<Arc<Server>> {
        let server: Server = self.get_json("/1.0", &[]).await?;
        let server = Arc::new(server);
        *self.shared.server.write().expect("lock") = Some(server.clone());
        Ok(server)
    }

    /// Which server this is (LXD or Incus), from the cached server information (an
    /// untrusted client is told by the API extension names).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// if client.flavor().await? == lxd_client::Flavor::Incus {
    ///     println!("talking to Incus");
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/server/server_get)
    pub async fn flavor(&self) -> Result<Flavor> {
        Ok(Flavor::of(&*self.server().await?))
    }

    /// Whether the server has an API extension.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// if client.has_api_extension("instances").await? { /* ... */ }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/server/server_get)
    pub async fn has_api_extension(&self, extension: &str) -> Result<bool> {
        Ok(self
            .server()
            .await?
            .api_extensions
            .iter()
            .any(|e| e == extension))
    }

    /// Fails with [`Error::MissingExtension`] naming `extension` when the server lacks it.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// client.require_api_extension("instance_get_full").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/server/server_get)
    pub async fn require_api_extension(&self, extension: &str) -> Result<()> {
        let server = self.server().await?;
        if server.api_extensions.iter().any(|e| e == extension) {
            return Ok(());
        }
        Err(Error::MissingExtension {
            extension: extension.to_string(),
            server: Flavor::of(&server).name().to_string(),
            version: server.environment.server_version.clone(),
        })
    }

    /// Whether the server trusts this client (from the cached server information).
    ///
    /// The answer of the first `GET /1.0` is kept (it also answers the API-extension checks);
    /// [`authenticate`](Self::authenticate) refreshes it. When trust changes by other means
    /// (an admin runs `lxc config trust add` meanwhile), ask again with
    /// [`refresh_server`](Self::refresh_server).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// if !client.trusted().await? {
    ///     client.authenticate("<token from lxc config trust add>").await?;
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/server/server_get)
    pub async fn trusted(&self) -> Result<bool> {
        Ok(self.server().await?.auth == "trusted")
    }

    /// Asks the server to trust this client's certificate with `secret`: a join token (from
    /// `lxc config trust add` or `POST /1.0/certificates` with `token: true`) or, on servers
    /// without tokens, the trust password. Sent as `trust_token` when the server has the
    /// `explicit_trust_token` extension, else as both `trust_token` (how Incus takes it)
    /// and `password` (how LXD 5.0 takes both), since an untrusted client cannot always
    /// tell the two apart. Then refreshes the server information and checks the server now says
    /// "trusted".
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client, token: &str) -> Result<(), lxd_client::Error> {
    /// client.authenticate(token).await?;
    /// assert!(client.trusted().await?);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/certificates/certificates_post_untrusted)
    pub async fn authenticate(&self, secret: &str) -> Result<()> {
        if !matches!(self.endpoint(), Endpoint::Https(_)) {
            return Err(Error::invalid(
                "authentication",
                "only an HTTPS client with a client certificate authenticates; the unix socket is always trusted",
            ));
        }
        if secret.is_empty() {
            return Err(Error::invalid("authentication", "the secret is empty"));
        }
        // LXD with `explicit_trust_token` takes the secret in `trust_token` only. Otherwise
        // the server's kind cannot always be told (Incus 7 shows an untrusted client no API
        // extensions at all), so the secret goes in both fields: LXD 5.0 reads `password`
        // (token or trust password) and ignores `trust_token`; Incus reads `trust_token`
        // and has no `password`.
        let explicit = self.has_api_extension("explicit_trust_token").await?;
        let request = lxd_proto::CertificatesPost {
            certificate_type: lxd_proto::CertificateType::Client,
            trust_token: Some(secret.to_string()),
            password: (!explicit).then(|| secret.to_string()),
            ..Default::default()
        };
        self.write(Method::POST, "/1.0/certificates", &[], Some(&request))
            .await?;
        if !self.refresh_server().await?.is_trusted() {
            return Err(Error::Api {
                status: 403,
                message: "the server accepted the secret but still does not trust this client"
                    .into(),
                method: "POST".into(),
                path: "/1.0/certificates".into(),
            });
        }
        Ok(())
    }

    /// A request to any endpoint, for what the managers do not cover yet.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let reply = client.raw(lxd_client::Method::GET, "/1.0/resources").send().await?;
    /// println!("{}", reply.metadata["cpu"]["total"]);
    /// # Ok(()) }
    /// ```
    pub fn raw(&self, method: Method, path: impl Into<String>) -> crate::raw::RawRequest {
        crate::raw::RawRequest::new(self.clone(), method, path.into())
    }

    /// Opens a websocket at `path` (events, an operation's exec or console streams), with the
    /// client's project added to the query like every other request.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use futures::StreamExt;
    /// let mut events = client.websocket("/1.0/events", &[("type", "lifecycle")]).await?;
    /// if let Some(message) = events.next().await {
    ///     println!("{:?}", message.map_err(lxd_client::transport::Error::from)?);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/operations/operation_websocket_get)
    pub async fn websocket(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<lxd_transport::WebSocket> {
        let mut pairs: Vec<(&str, &str)> = query.to_vec();
        if let Some(p) = &self.project
            && !query.iter().any(|(k, _)| *k == "project")
        {
            pairs.push(("project", p.as_str()));
        }
        Ok(self.shared.transport.websocket(path, &pairs).await?)
    }

    // ---- plumbing shared by every manager -------------------------------------------------

    /// Builds a transport request, adding the project.
    pub(crate) fn request(&self, method: Method, path: &str, query: &[(&str, &str)]) -> Request {
        let mut request = Request::new(method, path);
        for (k, v) in query {
            request = request.query(*k, *v);
        }
        if let Some(p) = &self.project
            && !query.iter().any(|(k, _)| *k == "project")
        {
            request = request.query("project", p.as_str());
        }
        request
    }

    /// The cap of a listing reply held in memory (a directory listing of an instance's
    /// files, too).
    pub(crate) fn listing_limit(&self) -> u64 {
        self.shared.limits.listing
    }

    /// Sends a transport request and decodes LXD's envelope; LXD errors become
    /// [`Error::Api`]. A `GET` with `recursion` is a listing (with the listing cap), any
    /// other reply is one object (with the JSON cap).
    pub(crate) async fn execute(&self, request: Request) -> Result<Reply> {
        let listing = request.method() == Method::GET
            && request.query_pairs().iter().any(|(k, _)| k == "recursion");
        let limit = if listing {
            self.shared.limits.listing
        } else {
            self.shared.limits.json
        };
        self.execute_limited(request, limit).await
    }

    /// [`execute`](Self::execute) with the reply capped at `limit` bytes (an error reply at
    /// the error cap).
    pub(crate) async fn execute_limited(&self, request: Request, limit: u64) -> Result<Reply> {
        let method = request.method().to_string();
        let path = request.path().to_string();
        let response = self.shared.transport.send(request).await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let limit = if status >= 400 {
            self.shared.limits.error
        } else {
            limit
        };
        let body = response.bytes_limited(limit).await?;
        let context = || format!("{method} {path}");
        let envelope: lxd_proto::Response = match serde_json::from_slice(&body) {
            Ok(e) => e,
            // An HTTP error without LXD's envelope (a proxy, a crashed handler): still an API
            // error, with what was said.
            Err(_) if status >= 400 => {
                return Err(Error::Api {
                    status,
                    message: crate::error::snippet(&body).trim().to_string(),
                    method,
                    path,
                });
            }
            Err(e) => return Err(Error::malformed(context(), e, &body)),
        };
        if envelope.response_type == ResponseType::Error || status >= 400 {
            let code = if envelope.error_code != 0 {
                envelope.error_code
            } else {
                status
            };
            return Err(Error::Api {
                status: code,
                message: envelope.error,
                method,
                path,
            });
        }
        if !matches!(
            envelope.response_type,
            ResponseType::Sync | ResponseType::Async
        ) {
            return Err(Error::malformed(
                context(),
                format!("unexpected response type {:?}", envelope.response_type),
                &body,
            ));
        }
        Ok(Reply { envelope, headers })
    }

    /// Runs `step`, failing with the transport's timeout error after `limit` (none: no
    /// bound). For the parts of an unbounded exchange that are still the client's to bound:
    /// the wait for a transfer's reply to start, a listing read whole.
    pub(crate) async fn within<T>(
        &self,
        limit: Option<std::time::Duration>,
        step: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        let Some(limit) = limit else {
            return step.await;
        };
        match tokio::time::timeout(limit, step).await {
            Ok(result) => result,
            Err(_) => Err(Error::Transport(lxd_transport::Error::Timeout {
                endpoint: self.transport().endpoint().to_string(),
            })),
        }
    }

    /// Sends a request whose successful answer is not (or not only) LXD's envelope: raw file
    /// bodies, with their headers. An error status becomes the same [`Error::Api`] as from
    /// [`execute`](Self::execute); the error body is read only up to a bound.
    pub(crate) async fn send_raw(&self, request: Request) -> Result<lxd_transport::Response> {
        let method = request.method().to_string();
        let path = request.path().to_string();
        let response = self.shared.transport.send(request).await?;
        let status = response.status().as_u16();
        if status < 400 {
            return Ok(response);
        }
        // An error reply is a small JSON envelope; never read an unbounded body for it.
        let body = response.bytes_limited(self.shared.limits.error).await?;
        let (code, message) = match serde_json::from_slice::<lxd_proto::Response>(&body) {
            Ok(envelope) if envelope.error_code != 0 => (envelope.error_code, envelope.error),
            Ok(envelope) => (status, envelope.error),
            Err(_) => (status, crate::error::snippet(&body).trim().to_string()),
        };
        Err(Error::Api {
            status: code,
            message,
            method,
            path,
        })
    }

    /// Sends a request with an optional JSON body and decodes the envelope.
    pub(crate) async fn send<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&B>,
    ) -> Result<Reply> {
        let mut request = self.request(method, path, query);
        if let Some(body) = body {
            let json = serde_json::to_vec(body)
                .map_err(|e| Error::invalid("request body", e.to_string()))?;
            request = request.json(json);
        }
        self.execute(request).await
    }

    /// `GET` and decode the metadata as `T`.
    pub(crate) async fn get_json<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T> {
        let reply = self.send::<()>(Method::GET, path, query, None).await?;
        decode_metadata(&format!("GET {path}"), reply.envelope)
    }

    /// Sends a request whose answer is an operation (LXD's async responses).
    pub(crate) async fn send_operation<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&B>,
    ) -> Result<Operation> {
        let reply = self.send(method.clone(), path, query, body).await?;
        let context = format!("{method} {path}");
        match self.answer(&context, reply)? {
            Answer::Operation(op) => Ok(op),
            Answer::Sync(reply) => Operation::from_reply(self.clone(), &context, reply.envelope),
        }
    }

    /// Sends a write and returns once the server has done it: see [`settle`](Self::settle).
    pub(crate) async fn write<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&B>,
    ) -> Result<()> {
        let reply = self.send(method.clone(), path, query, body).await?;
        self.settle(&format!("{method} {path}"), reply).await
    }

    /// The end of every write whose caller gets no operation handle. A sync reply means the
    /// work is done (no further request); an async reply's operation is awaited, and its
    /// failure or cancellation is the caller's error. Servers moved writes from sync to
    /// async over time (LXD 6.8's `storage_and_network_operations` did so for networks,
    /// ACLs, forwards and storage pools), so the reply decides, never a version.
    pub(crate) async fn settle(&self, context: &str, reply: Reply) -> Result<()> {
        match self.answer(context, reply)? {
            Answer::Sync(_) => Ok(()),
            Answer::Operation(op) => op.wait().await.map(drop),
        }
    }

    /// Reads a reply as what it is: the answer itself (sync) or an operation (async). The
    /// one place where sync and async replies part ways.
    pub(crate) fn answer(&self, context: &str, reply: Reply) -> Result<Answer> {
        if reply.envelope.is_async() {
            Ok(Answer::Operation(Operation::from_reply(
                self.clone(),
                context,
                reply.envelope,
            )?))
        } else {
            Ok(Answer::Sync(reply))
        }
    }
}

/// A successful reply, read by [`Client::answer`].
#[derive(Debug)]
pub(crate) enum Answer {
    /// Done: the server's answer (its metadata, headers).
    Sync(Reply),
    /// Started: the operation doing the work.
    Operation(Operation),
}

/// Decodes an envelope's metadata as `T`, as a malformed-reply error when it does not fit.
pub(crate) fn decode_metadata<T: DeserializeOwned>(
    context: &str,
    envelope: lxd_proto::Response,
) -> Result<T> {
    // Deserialized from a reference: cloning the metadata first would copy the whole reply
    // (a recursion=2 listing can be hundreds of KiB) for nothing; only the error needs it.
    T::deserialize(&envelope.metadata).map_err(|e| {
        let text = envelope.metadata.to_string();
        Error::malformed(context, e, text.as_bytes())
    })
}

/// Builds a [`Client`].
///
/// ```no_run
/// # fn demo() -> Result<(), lxd_client::Error> {
/// let client = lxd_client::ClientBuilder::local()
///     .project("dev")
///     .timeout(std::time::Duration::from_secs(30))
///     .build()?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use]
pub struct ClientBuilder {
    target: BuilderTarget,
    identity: Option<ClientIdentity>,
    trust: Option<ServerTrust>,
    project: Option<String>,
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    idle_timeout: Option<Option<Duration>>,
    limits: Limits,
    user_agent: Option<String>,
    #[cfg(feature = "native-tls")]
    native_tls: bool,
    /// The first bad input given to a builder method, reported by `build`.
    error: Option<Error>,
}

#[derive(Debug)]
enum BuilderTarget {
    Unix(Option<PathBuf>),
    Https(String),
}

impl ClientBuilder {
    fn new(target: BuilderTarget) -> ClientBuilder {
        ClientBuilder {
            target,
            identity: None,
            trust: None,
            project: None,
            timeout: None,
            connect_timeout: None,
            idle_timeout: None,
            limits: Limits {
                json: DEFAULT_MAX_JSON_SIZE,
                listing: DEFAULT_MAX_LISTING_SIZE,
                error: DEFAULT_MAX_ERROR_SIZE,
            },
            user_agent: None,
            #[cfg(feature = "native-tls")]
            native_tls: false,
            error: None,
        }
    }

    /// The local unix socket, discovered.
    ///
    /// ```no_run
    /// let client = lxd_client::ClientBuilder::local()
    ///     .user_agent("nightly-cleanup/1.0")
    ///     .timeout(std::time::Duration::from_secs(10))
    ///     .build()?;
    /// # Ok::<(), lxd_client::Error>(())
    /// ```
    pub fn local() -> ClientBuilder {
        Self::new(BuilderTarget::Unix(None))
    }

    /// The unix socket at `path`.
    ///
    /// ```no_run
    /// // A non-snap LXD:
    /// let client = lxd_client::ClientBuilder::unix("/var/lib/lxd/unix.socket")
    ///     .project("ci")
    ///     .build()?;
    /// # Ok::<(), lxd_client::Error>(())
    /// ```
    pub fn unix(path: impl AsRef<Path>) -> ClientBuilder {
        Self::new(BuilderTarget::Unix(Some(path.as_ref().to_path_buf())))
    }

    /// HTTPS to `address`.
    ///
    /// ```
    /// let client = lxd_client::ClientBuilder::https("[fd42::5]") // port 8443 when none is given
    ///     .server_fingerprint("6c1fb9c17d558b98e968d3684d212d6fc8793c05cc50dda4c6db793511a79d96")
    ///     .build()?;
    /// assert_eq!(client.endpoint().to_string(), "https://[fd42::5]:8443");
    /// // LXD speaks only HTTPS on the network: plain HTTP is refused.
    /// assert!(lxd_client::ClientBuilder::https("http://10.0.0.5").build().is_err());
    /// # Ok::<(), lxd_client::Error>(())
    /// ```
    pub fn https(address: impl Into<String>) -> ClientBuilder {
        Self::new(BuilderTarget::Https(address.into()))
    }

    fn keep_error(&mut self, result: std::result::Result<(), lxd_transport::Error>) {
        if let Err(e) = result
            && self.error.is_none()
        {
            self.error = Some(e.into());
        }
    }

    /// Presents this client certificate and key (PEM; LXD's ECDSA keys included).
    ///
    /// ```
    /// # let generated = lxd_testkit::ClientCertificate::generate("ci").unwrap();
    /// # let (cert, key) = (generated.certificate_pem.as_bytes(), generated.key_pem.as_bytes());
    /// // `cert`, `key`: e.g. the contents of ~/.config/lxc/client.crt and client.key
    /// let client = lxd_client::Client::https("10.0.0.5:8443")
    ///     .client_certificate_pem(cert, key)
    ///     .server_fingerprint("6c1fb9c17d558b98e968d3684d212d6fc8793c05cc50dda4c6db793511a79d96")
    ///     .build()?;
    /// // A certificate or key that does not parse is reported by `build`.
    /// let bad = lxd_client::Client::https("10.0.0.5:8443").client_certificate_pem(b"junk", key);
    /// assert!(bad.build().is_err());
    /// # Ok::<(), lxd_client::Error>(())
    /// ```
    pub fn client_certificate_pem(mut self, cert: &[u8], key: &[u8]) -> Self {
        match ClientIdentity::from_pem(cert, key) {
            Ok(id) => self.identity = Some(id),
            Err(e) => self.keep_error(Err(e)),
        }
        self
    }

    /// Presents this client identity.
    ///
    /// ```
    /// use lxd_client::transport::ClientIdentity;
    /// # let generated = lxd_testkit::ClientCertificate::generate("ci").unwrap();
    /// # let (cert, key) = (generated.certificate_pem.as_bytes(), generated.key_pem.as_bytes());
    /// let identity = ClientIdentity::from_pem(cert, key)?; // parsed once, reused for every server
    /// println!("trust this client: {}", identity.fingerprint());
    /// let client = lxd_client::Client::https("10.0.0.5:8443")
    ///     .client_identity(identity.clone())
    ///     .server_fingerprint("6c1fb9c17d558b98e968d3684d212d6fc8793c05cc50dda4c6db793511a79d96")
    ///     .build()?;
    /// assert_eq!(identity.fingerprint().to_string(), generated.fingerprint);
    /// # Ok::<(), lxd_client::Error>(())
    /// ```
    pub fn client_identity(mut self, identity: ClientIdentity) -> Self {
        self.identity = Some(identity);
        self
    }

    /// Trusts exactly this server certificate (PEM), whatever its names: LXD's self-signed
    /// `server.crt`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = lxd_testkit::TestServer::builder().https().start().await?;
    /// # let url = server.https_url().unwrap();
    /// # let server_crt = server.certificate_pem().as_bytes();
    /// // `server_crt`: the server's /var/snap/lxd/common/lxd/server.crt, copied over
    /// let client = lxd_client::Client::https(url)
    ///     .server_certificate_pem(server_crt)
    ///     .build()?;
    /// assert!(!client.trusted().await?); // connected; not trusted until `authenticate`
    /// # Ok(()) }
    /// ```
    pub fn server_certificate_pem(mut self, pem: &[u8]) -> Self {
        match ServerTrust::pinned_pem(pem) {
            Ok(t) => self.trust = Some(t),
            Err(e) => self.keep_error(Err(e)),
        }
        self
    }

    /// Trusts exactly the server certificate with this SHA-256 fingerprint (hex).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = lxd_testkit::TestServer::builder().https().start().await?;
    /// # let url = server.https_url().unwrap();
    /// # let fingerprint = server.certificate_fingerprint();
    /// // `fingerprint`: as `lxc info` prints it on the server (`certificate_fingerprint`)
    /// let client = lxd_client::Client::https(url)
    ///     .server_fingerprint(fingerprint)
    ///     .build()?;
    /// assert!(!client.trusted().await?); // connected; not trusted until `authenticate`
    /// # Ok(()) }
    /// ```
    pub fn server_fingerprint(mut self, hex: impl AsRef<str>) -> Self {
        match ServerTrust::pinned_fingerprint(hex.as_ref()) {
            Ok(t) => self.trust = Some(t),
            Err(e) => self.keep_error(Err(e)),
        }
        self
    }

    /// Chooses how the server is trusted (CA certificates, system roots, ...).
    ///
    /// ```no_run
    /// use lxd_client::transport::ServerTrust;
    /// // A cluster whose certificates are signed by your own CA (names must match the address).
    /// let ca = std::fs::read("/etc/pki/lxd/ca.crt").expect("the CA certificate");
    /// let client = lxd_client::Client::https("lxd1.example.net")
    ///     .server_trust(ServerTrust::CaCertificates(vec![ca]))
    ///     .build()?;
    /// # Ok::<(), lxd_client::Error>(())
    /// ```
    pub fn server_trust(mut self, trust: ServerTrust) -> Self {
        self.trust = Some(trust);
        self
    }

    /// Accepts ANY server certificate. Anyone between client and server can then read and
    /// change everything. Only for throwaway test setups.
    ///
    /// ```
    /// // A throwaway CI VM whose certificate is new on every boot; never for a real server.
    /// let client = lxd_client::Client::https("192.0.2.10:8443")
    ///     .danger_accept_any_server_certificate()
    ///     .build()?;
    /// assert_eq!(client.endpoint().to_string(), "https://192.0.2.10:8443");
    /// # Ok::<(), lxd_client::Error>(())
    /// ```
    pub fn danger_accept_any_server_certificate(mut self) -> Self {
        self.trust = Some(ServerTrust::DangerAcceptAnyCertificate);
        self
    }

    /// Scopes every request to this project.
    ///
    /// ```
    /// let client = lxd_client::Client::https("10.0.0.5:8443")
    ///     .server_fingerprint("6c1fb9c17d558b98e968d3684d212d6fc8793c05cc50dda4c6db793511a79d96")
    ///     .project("team-a")
    ///     .build()?;
    /// assert_eq!(client.project(), Some("team-a")); // every request carries ?project=team-a
    /// // A name LXD would refuse is reported by `build`, before anything is sent.
    /// let err = lxd_client::Client::https("10.0.0.5:8443").project("team a").build().unwrap_err();
    /// assert!(err.is_invalid_input());
    /// # Ok::<(), lxd_client::Error>(())
    /// ```
    pub fn project(mut self, project: impl Into<String>) -> Self {
        let project = project.into();
        if let Err(e) = validate_project_name(&project)
            && self.error.is_none()
        {
            self.error = Some(e);
        }
        self.project = Some(project);
        self
    }

    /// Limits ordinary requests (not operation waits, event streams or transfers).
    ///
    /// ```
    /// use std::time::Duration;
    /// let client = lxd_client::Client::https("10.0.0.5:8443")
    ///     .server_fingerprint("6c1fb9c17d558b98e968d3684d212d6fc8793c05cc50dda4c6db793511a79d96")
    ///     .timeout(Duration::from_secs(30))
    ///     .build()?;
    /// assert_eq!(client.transport().timeout(), Some(Duration::from_secs(30)));
    /// # Ok::<(), lxd_client::Error>(())
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Limits connecting.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), lxd_client::Error> {
    /// let client = lxd_client::Client::https("10.0.0.5")
    ///     .server_certificate_pem(&std::fs::read("10.0.0.5.crt").expect("pinned certificate"))
    ///     .connect_timeout(std::time::Duration::from_secs(2))
    ///     .build()?;
    /// if let Err(e) = client.server().await && (e.is_connect() || e.is_timeout()) {
    ///     println!("10.0.0.5 is down (no connection within 2 s)");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Fails a reply, download or upload when the server sends (or takes) nothing for
    /// `idle`; `None` turns this off. Default: 60 s
    /// ([`lxd_transport::DEFAULT_IDLE_TIMEOUT`]). The error's
    /// [`is_idle_timeout`](Error::is_idle_timeout) (and `is_timeout`) is true.
    ///
    /// It bounds silence, not duration: a file or image transfer of any length is fine as
    /// long as bytes keep moving (the [`timeout`](Self::timeout) bounds whole requests). It
    /// applies to every reply body (JSON replies, file and image downloads, directory
    /// listings of recursive pulls, logs) and to uploads (files, images) the server stops
    /// reading. It does not apply to the wait for a reply's head (LXD answers an image
    /// upload only once it has unpacked it), to operation waits, nor to websockets: event
    /// streams, exec output and consoles are legitimately silent for as long as nothing
    /// happens, and LXD keeps them alive with pings (a lost connection still ends them
    /// with an error for which [`is_disconnected`](Error::is_disconnected) is true).
    ///
    /// ```
    /// use std::time::Duration;
    /// let client = lxd_client::Client::https("10.0.0.5:8443")
    ///     .server_fingerprint("6c1fb9c17d558b98e968d3684d212d6fc8793c05cc50dda4c6db793511a79d96")
    ///     .idle_timeout(Duration::from_secs(15)) // a stalled transfer fails after 15 s
    ///     .build()?;
    /// assert_eq!(client.transport().idle_timeout(), Some(Duration::from_secs(15)));
    /// # Ok::<(), lxd_client::Error>(())
    /// ```
    pub fn idle_timeout(mut self, idle: impl Into<Option<Duration>>) -> Self {
        self.idle_timeout = Some(idle.into());
        self
    }

    /// Caps a JSON reply that is one object or an operation: past `bytes`, the call fails
    /// with an error for which [`is_body_too_large`](Error::is_body_too_large) is true, and
    /// nothing past the cap is held. Default: [`DEFAULT_MAX_JSON_SIZE`] (8 MiB).
    ///
    /// ```
    /// let client = lxd_client::Client::https("10.0.0.5:8443")
    ///     .server_fingerprint("6c1fb9c17d558b98e968d3684d212d6fc8793c05cc50dda4c6db793511a79d96")
    ///     .max_json_size(1024 * 1024)
    ///     .build()?;
    /// # let _ = client;
    /// # Ok::<(), lxd_client::Error>(())
    /// ```
    pub fn max_json_size(mut self, bytes: u64) -> Self {
        self.limits.json = bytes;
        self
    }

    /// Caps a listing (a collection's names, or its objects with `recursion`), and any
    /// other body read whole (an instance directory's listing, metrics, a console log).
    /// Default: [`DEFAULT_MAX_LISTING_SIZE`] (64 MiB); raise it for servers with tens of
    /// thousands of instances listed with `recursion=2`.
    ///
    /// ```
    /// let client = lxd_client::Client::https("10.0.0.5:8443")
    ///     .server_fingerprint("6c1fb9c17d558b98e968d3684d212d6fc8793c05cc50dda4c6db793511a79d96")
    ///     .max_listing_size(256 * 1024 * 1024)
    ///     .build()?;
    /// assert_eq!(client.transport().max_body_size(), 256 * 1024 * 1024);
    /// # Ok::<(), lxd_client::Error>(())
    /// ```
    pub fn max_listing_size(mut self, bytes: u64) -> Self {
        self.limits.listing = bytes;
        self
    }

    /// Caps an error reply (HTTP 400 and up, and a refused websocket upgrade's). Default:
    /// [`DEFAULT_MAX_ERROR_SIZE`] (64 KiB).
    ///
    /// ```
    /// let client = lxd_client::Client::https("10.0.0.5:8443")
    ///     .server_fingerprint("6c1fb9c17d558b98e968d3684d212d6fc8793c05cc50dda4c6db793511a79d96")
    ///     .max_error_size(4096)
    ///     .build()?;
    /// assert_eq!(client.transport().max_error_body_size(), 4096);
    /// # Ok::<(), lxd_client::Error>(())
    /// ```
    pub fn max_error_size(mut self, bytes: u64) -> Self {
        self.limits.error = bytes;
        self
    }

    /// Sets the User-Agent.
    ///
    /// ```
    /// let client = lxd_client::Client::https("10.0.0.5:8443")
    ///     .server_fingerprint("6c1fb9c17d558b98e968d3684d212d6fc8793c05cc50dda4c6db793511a79d96")
    ///     .user_agent("nightly-backup/2.1") // the default is lxd-rs/<version>
    ///     .build()?;
    /// // Not a valid header value: refused by `build`.
    /// let bad = lxd_client::Client::https("10.0.0.5:8443").server_fingerprint("6c1fb9c17d558b98e968d3684d212d6fc8793c05cc50dda4c6db793511a79d96");
    /// let err = bad.user_agent("backup\n2.1").build().unwrap_err();
    /// assert!(err.to_string().contains("user agent"), "{err}");
    /// # Ok::<(), lxd_client::Error>(())
    /// ```
    pub fn user_agent(mut self, agent: impl Into<String>) -> Self {
        self.user_agent = Some(agent.into());
        self
    }

    /// Speaks HTTPS through the platform's TLS library (OpenSSL on Linux) instead of rustls
    /// (feature `native-tls`). A pinned server certificate stays strictly pinned; a pin by
    /// bare fingerprint ([`server_fingerprint`](Self::server_fingerprint)) is refused by
    /// `build` with this backend: pin the certificate
    /// ([`server_certificate_pem`](Self::server_certificate_pem)).
    /// See `lxd_transport::TransportBuilder::native_tls`.
    ///
    /// ```no_run
    /// # fn demo(server_pem: &[u8]) -> Result<(), lxd_client::Error> {
    /// let client = lxd_client::Client::https("10.0.0.5:8443")
    ///     .server_certificate_pem(server_pem)
    ///     .native_tls()
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "native-tls")]
    pub fn native_tls(mut self) -> Self {
        self.native_tls = true;
        self
    }

    /// Checks every input and builds the client. Nothing is sent yet.
    ///
    /// ```
    /// // Certificates are for HTTPS: given for a unix socket they are refused, not ignored.
    /// let err = lxd_client::ClientBuilder::unix("/var/snap/lxd/common/lxd/unix.socket")
    ///     .danger_accept_any_server_certificate()
    ///     .build()
    ///     .unwrap_err();
    /// assert!(err.is_invalid_input());
    /// ```
    pub fn build(self) -> Result<Client> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let mut builder = match self.target {
            BuilderTarget::Unix(path) => {
                if self.identity.is_some() || self.trust.is_some() {
                    return Err(Error::invalid(
                        "client configuration",
                        "certificates apply to HTTPS only, not to a unix socket",
                    ));
                }
                Transport::unix_builder(path.as_deref())
            }
            BuilderTarget::Https(address) => {
                let mut b = Transport::https_builder(address);
                if let Some(id) = self.identity {
                    b = b.client_identity(id);
                }
                if let Some(t) = self.trust {
                    b = b.server_trust(t);
                }
                b
            }
        };
        if let Some(t) = self.timeout {
            builder = builder.timeout(t);
        }
        if let Some(t) = self.connect_timeout {
            builder = builder.connect_timeout(t);
        }
        if let Some(a) = self.user_agent {
            builder = builder.user_agent(a);
        }
        if let Some(idle) = self.idle_timeout {
            builder = builder.idle_timeout(idle);
        }
        builder = builder
            .max_body_size(self.limits.listing)
            .max_error_body_size(self.limits.error);
        #[cfg(feature = "native-tls")]
        if self.native_tls {
            builder = builder.native_tls();
        }
        Ok(Client {
            shared: Arc::new(Shared {
                transport: builder.build()?,
                limits: self.limits,
                server: RwLock::new(None),
            }),
            project: self.project,
        })
    }
}
