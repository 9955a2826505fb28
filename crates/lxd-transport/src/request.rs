//! Requests and responses: method, path, query, headers, and bodies that may stream.

use std::time::Duration;

use bytes::Bytes;
use futures::stream::{BoxStream, Stream, StreamExt};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};

use crate::error::{Error, Result};

/// A request body.
#[derive(Default)]
#[non_exhaustive]
pub enum Body {
    /// No body.
    #[default]
    Empty,
    /// A body held in memory (JSON documents).
    Bytes(Bytes),
    /// A streamed body (file and image uploads); its length when known.
    Stream {
        /// The chunks.
        stream: BoxStream<'static, std::io::Result<Bytes>>,
        /// The total length, sent as Content-Length when known.
        length: Option<u64>,
    },
}

impl Body {
    /// A body streamed from chunks.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use lxd_transport::{Body, Request, http::Method};
    ///
    /// let chunks = futures::stream::iter([Ok(Bytes::from("hello ")), Ok(Bytes::from("world\n"))]);
    /// let body = Body::stream(chunks, Some(12));
    /// assert_eq!(format!("{body:?}"), "Stream(length: Some(12))");
    /// let push = Request::new(Method::POST, "/1.0/instances/c1/files")
    ///     .query("path", "/root/hello.txt")
    ///     .body(body);
    /// # let _ = push;
    /// ```
    pub fn stream<S>(stream: S, length: Option<u64>) -> Body
    where
        S: Stream<Item = std::io::Result<Bytes>> + Send + 'static,
    {
        Body::Stream {
            stream: stream.boxed(),
            length,
        }
    }
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Bodies may carry secrets (trust passwords, tokens): only their size is shown.
        match self {
            Body::Empty => f.write_str("Empty"),
            Body::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            Body::Stream { length, .. } => write!(f, "Stream(length: {length:?})"),
        }
    }
}

impl From<Vec<u8>> for Body {
    fn from(v: Vec<u8>) -> Body {
        Body::Bytes(v.into())
    }
}

impl From<Bytes> for Body {
    fn from(b: Bytes) -> Body {
        Body::Bytes(b)
    }
}

/// One HTTP request to the daemon. The path is absolute (`/1.0/instances/c1`) and already
/// percent-encoded where needed; query values are encoded here.
///
/// ```
/// use lxd_transport::{Request, http::Method};
/// let req = Request::new(Method::GET, "/1.0/instances")
///     .query("recursion", "1")
///     .query("project", "dev");
/// assert_eq!(req.path_and_query(), "/1.0/instances?recursion=1&project=dev");
/// ```
#[derive(Debug)]
pub struct Request {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Body,
    pub(crate) timeout: Timeout,
}

/// How long a request may take.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Timeout {
    /// The transport's configured request timeout, if any.
    #[default]
    Default,
    /// No limit: long waits (operation waits, event streams, big transfers) that the caller
    /// bounds by other means.
    None,
    /// This limit.
    After(Duration),
}

impl Request {
    /// A request with no query, headers or body.
    ///
    /// ```
    /// use lxd_transport::{Request, http::Method};
    /// let req = Request::new(Method::DELETE, "/1.0/instances/c1");
    /// assert_eq!(req.method(), Method::DELETE);
    /// assert_eq!(req.path_and_query(), "/1.0/instances/c1");
    /// ```
    pub fn new(method: Method, path: impl Into<String>) -> Request {
        Request {
            method,
            path: path.into(),
            query: Vec::new(),
            headers: HeaderMap::new(),
            body: Body::Empty,
            timeout: Timeout::Default,
        }
    }

    /// Adds a query parameter (encoded when sent).
    ///
    /// ```
    /// use lxd_transport::{Request, http::Method};
    /// let req = Request::new(Method::GET, "/1.0/instances/c1/files").query("path", "/etc/my file");
    /// assert_eq!(req.path_and_query(), "/1.0/instances/c1/files?path=%2Fetc%2Fmy+file");
    /// ```
    pub fn query(mut self, key: impl Into<String>, value: impl Into<String>) -> Request {
        self.query.push((key.into(), value.into()));
        self
    }

    /// Adds a header. A value that is not a valid header is reported when the request is sent.
    ///
    /// ```
    /// use lxd_transport::{Request, http::{HeaderName, HeaderValue, Method}};
    /// let req = Request::new(Method::POST, "/1.0/instances/c1/files")
    ///     .query("path", "/srv/app.conf")
    ///     .header(HeaderName::from_static("x-lxd-uid"), HeaderValue::from_static("1000"))
    ///     .header(HeaderName::from_static("x-lxd-mode"), HeaderValue::from_static("0640"));
    /// assert!(format!("{req:?}").contains(r#""x-lxd-mode": "0640""#));
    /// ```
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Request {
        self.headers.append(name, value);
        self
    }

    /// Sets a JSON body (and its content type).
    ///
    /// ```
    /// use lxd_transport::{Request, http::Method};
    /// let req = Request::new(Method::POST, "/1.0/profiles")
    ///     .json(br#"{"name":"web","config":{"limits.cpu":"2"}}"#.to_vec());
    /// let debug = format!("{req:?}");
    /// assert!(debug.contains("application/json") && debug.contains("Bytes(42 bytes)"));
    /// ```
    pub fn json(mut self, body: Vec<u8>) -> Request {
        self.headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        self.body = Body::Bytes(body.into());
        self
    }

    /// Sets the body.
    ///
    /// ```
    /// use lxd_transport::{Body, Request, http::Method};
    /// let tarball: Vec<u8> = vec![0; 1024]; // e.g. std::fs::read("alpine.tar.gz")?
    /// let req = Request::new(Method::POST, "/1.0/images").body(Body::from(tarball));
    /// assert!(format!("{req:?}").contains("Bytes(1024 bytes)"));
    /// ```
    pub fn body(mut self, body: Body) -> Request {
        self.body = body;
        self
    }

    /// Sets how long this request may take.
    ///
    /// ```
    /// use lxd_transport::{Request, Timeout, http::Method};
    /// use std::time::Duration;
    /// // An operation wait may outlast the transport's usual limit: give it its own.
    /// let wait = Request::new(Method::GET, "/1.0/operations/6916c8a6/wait")
    ///     .query("timeout", "50")
    ///     .timeout(Timeout::After(Duration::from_secs(60)));
    /// assert!(format!("{wait:?}").contains("After(60s)"));
    /// ```
    pub fn timeout(mut self, timeout: Timeout) -> Request {
        self.timeout = timeout;
        self
    }

    /// The method.
    ///
    /// ```
    /// use lxd_transport::{Request, http::Method};
    /// let req = Request::new(Method::PATCH, "/1.0/profiles/default");
    /// assert_eq!(req.method(), Method::PATCH);
    /// ```
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The path, without the query.
    ///
    /// ```
    /// use lxd_transport::{Request, http::Method};
    /// let req = Request::new(Method::GET, "/1.0/instances").query("recursion", "1");
    /// assert_eq!(req.path(), "/1.0/instances");
    /// ```
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The query pairs.
    ///
    /// ```
    /// use lxd_transport::{Request, http::Method};
    /// let req = Request::new(Method::GET, "/1.0/instances")
    ///     .query("project", "dev")
    ///     .query("filter", "status eq running");
    /// assert_eq!(req.query_pairs()[1], ("filter".to_string(), "status eq running".to_string()));
    /// ```
    pub fn query_pairs(&self) -> &[(String, String)] {
        &self.query
    }

    /// Path and encoded query, as it goes on the wire.
    ///
    /// ```
    /// use lxd_transport::{Request, http::Method};
    /// let req = Request::new(Method::GET, "/1.0/instances").query("filter", "status eq running");
    /// assert_eq!(req.path_and_query(), "/1.0/instances?filter=status+eq+running");
    /// ```
    pub fn path_and_query(&self) -> String {
        if self.query.is_empty() {
            return self.path.clone();
        }
        let mut url = reqwest::Url::parse("http://lxd").expect("static URL");
        url.query_pairs_mut().extend_pairs(&self.query);
        format!("{}?{}", self.path, url.query().unwrap_or(""))
    }

    pub(crate) fn check(&self) -> Result<()> {
        if !self.path.starts_with('/') {
            return Err(Error::InvalidRequest(format!(
                "path {:?} must start with '/'",
                self.path
            )));
        }
        if self.path.contains(['?', '#']) || self.path.chars().any(char::is_control) {
            return Err(Error::InvalidRequest(format!(
                "path {:?} must not hold '?', '#' or control characters (use query())",
                self.path
            )));
        }
        Ok(())
    }
}

/// A response whose body has not been read yet.
///
/// Reads of its body are bounded: a whole-body read ([`bytes`](Self::bytes)) by the
/// transport's body cap, every read by its idle timeout (see
/// [`TransportBuilder::max_body_size`](crate::TransportBuilder::max_body_size) and
/// [`TransportBuilder::idle_timeout`](crate::TransportBuilder::idle_timeout)).
#[derive(Debug)]
pub struct Response {
    pub(crate) inner: Reply,
    pub(crate) endpoint: String,
    pub(crate) max_body: u64,
    pub(crate) idle: Option<Duration>,
    /// When the request's own timeout runs out, body included (reqwest's `timeout` covers
    /// the body too; this keeps that for replies that do not come through reqwest).
    pub(crate) deadline: Option<tokio::time::Instant>,
}

/// Where a reply came from: reqwest (HTTPS, websocket upgrades) or the unix socket's
/// keep-alive pool.
#[derive(Debug)]
pub(crate) enum Reply {
    Reqwest(reqwest::Response),
    Pooled(crate::pool::PooledResponse),
}

impl Reply {
    fn status(&self) -> StatusCode {
        match self {
            Reply::Reqwest(r) => r.status(),
            Reply::Pooled(r) => r.head.status,
        }
    }

    fn headers(&self) -> &HeaderMap {
        match self {
            Reply::Reqwest(r) => r.headers(),
            Reply::Pooled(r) => &r.head.headers,
        }
    }

    fn content_length(&self) -> Option<u64> {
        match self {
            Reply::Reqwest(r) => r.content_length(),
            Reply::Pooled(r) => r.body.content_length(),
        }
    }

    async fn chunk(&mut self, endpoint: &str) -> Result<Option<Bytes>> {
        match self {
            Reply::Reqwest(r) => r
                .chunk()
                .await
                .map_err(|e| Error::from_reqwest(endpoint, e)),
            Reply::Pooled(r) => r
                .body
                .chunk()
                .await
                .map_err(|e| Error::from_hyper(endpoint, e)),
        }
    }
}

impl Response {
    /// The HTTP status.
    ///
    /// ```no_run
    /// use lxd_transport::{Request, Transport, http::{Method, StatusCode}};
    /// # async fn demo(t: Transport) -> Result<(), lxd_transport::Error> {
    /// let resp = t.send(Request::new(Method::GET, "/1.0/instances/c1")).await?;
    /// if resp.status() == StatusCode::NOT_FOUND {
    ///     println!("c1 does not exist");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn status(&self) -> StatusCode {
        self.inner.status()
    }

    /// The headers.
    ///
    /// ```no_run
    /// use lxd_transport::{Request, Transport, http::Method};
    /// # async fn demo(t: Transport) -> Result<(), lxd_transport::Error> {
    /// let resp = t
    ///     .send(Request::new(Method::GET, "/1.0/instances/c1/files").query("path", "/etc/hostname"))
    ///     .await?;
    /// let mode = resp.headers().get("x-lxd-mode").and_then(|v| v.to_str().ok());
    /// println!("mode {mode:?}, ETag {:?}", resp.headers().get("etag"));
    /// # Ok(()) }
    /// ```
    pub fn headers(&self) -> &HeaderMap {
        self.inner.headers()
    }

    /// Reads the whole body. For JSON documents; use [`Response::into_stream`] for files,
    /// images and logs.
    ///
    /// ```no_run
    /// use lxd_transport::{Request, Transport, http::Method};
    /// # async fn demo(t: Transport) -> Result<(), lxd_transport::Error> {
    /// let resp = t.send(Request::new(Method::GET, "/1.0/profiles/default")).await?;
    /// let json = resp.bytes().await?;
    /// println!("{}", String::from_utf8_lossy(&json));
    /// # Ok(()) }
    /// ```
    ///
    /// A body larger than the transport's cap fails with [`Error::BodyTooLarge`] as soon as
    /// the cap is passed (nothing past it is held).
    pub async fn bytes(self) -> Result<Bytes> {
        let limit = self.max_body;
        self.bytes_limited(limit).await
    }

    /// Reads the whole body, failing with [`Error::BodyTooLarge`] once it passes `limit`
    /// bytes (checked while streaming: at most `limit` bytes are ever held).
    ///
    /// ```no_run
    /// use lxd_transport::{Request, Transport, http::Method};
    /// # async fn demo(t: Transport) -> Result<(), lxd_transport::Error> {
    /// let resp = t.send(Request::new(Method::GET, "/1.0/instances")).await?;
    /// match resp.bytes_limited(1024 * 1024).await {
    ///     Err(e) if e.is_body_too_large() => println!("more than 1 MiB of instance names?"),
    ///     other => println!("{} bytes", other?.len()),
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn bytes_limited(mut self, limit: u64) -> Result<Bytes> {
        let too_large = |endpoint: &str| Error::BodyTooLarge {
            endpoint: endpoint.to_string(),
            limit,
        };
        let announced = self.inner.content_length();
        if announced.is_some_and(|n| n > limit) {
            return Err(too_large(&self.endpoint));
        }
        // The announced length is only a hint (a server may lie): never reserve past the cap.
        let hint = announced.unwrap_or(0).min(limit).min(1 << 20);
        let mut body = bytes::BytesMut::with_capacity(hint as usize);
        while let Some(chunk) = self.chunk().await? {
            if (body.len() + chunk.len()) as u64 > limit {
                return Err(too_large(&self.endpoint));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    }

    /// Reads at most `limit` bytes of the body and drops the rest unread (for error bodies,
    /// whose start is all that is shown).
    pub(crate) async fn prefix(mut self, limit: usize) -> Result<Bytes> {
        let mut body = bytes::BytesMut::new();
        while body.len() < limit {
            match self.chunk().await? {
                Some(chunk) => {
                    body.extend_from_slice(&chunk[..chunk.len().min(limit - body.len())])
                }
                None => break,
            }
        }
        Ok(body.freeze())
    }

    /// Reads the next chunk of the body, `None` at its end.
    ///
    /// ```no_run
    /// use std::io::Write;
    /// use lxd_transport::{Request, Transport, http::Method};
    /// # async fn demo(t: Transport) -> Result<(), Box<dyn std::error::Error>> {
    /// let mut resp = t.send(Request::new(Method::GET, "/1.0/instances/c1/logs/lxc.log")).await?;
    /// let mut out = std::fs::File::create("lxc.log")?;
    /// while let Some(chunk) = resp.chunk().await? {
    ///     out.write_all(&chunk)?;
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// A server that sends nothing for longer than the transport's idle timeout fails the
    /// read with [`Error::IdleTimeout`]; a connection cut before the body's end fails it with
    /// an error for which [`Error::is_disconnected`] is true.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>> {
        let endpoint = self.endpoint.as_str();
        let read = self.inner.chunk(endpoint);
        // The first limit to run out: this read's idle timeout (`Some(idle)`) or the
        // request's own deadline (`None`).
        let now = tokio::time::Instant::now();
        let mut limit = self.idle.map(|idle| (now + idle, Some(idle)));
        if let Some(deadline) = self.deadline
            && limit.is_none_or(|(at, _)| deadline < at)
        {
            limit = Some((deadline, None));
        }
        let Some((at, idle)) = limit else {
            return read.await;
        };
        tokio::time::timeout_at(at, read)
            .await
            .map_err(|_| match idle {
                Some(idle) => Error::IdleTimeout {
                    endpoint: endpoint.to_string(),
                    idle,
                },
                None => Error::Timeout {
                    endpoint: endpoint.to_string(),
                },
            })?
    }

    /// The body as a stream of chunks. A cut connection ends it with an error, never with a
    /// silent early end.
    ///
    /// ```no_run
    /// use futures::TryStreamExt;
    /// use lxd_transport::{Request, Timeout, http::Method};
    /// # async fn demo(t: lxd_transport::Transport, fingerprint: &str) -> Result<(), lxd_transport::Error> {
    /// let export = Request::new(Method::GET, format!("/1.0/images/{fingerprint}/export"));
    /// let resp = t.send(export.timeout(Timeout::None)).await?;
    /// let size = resp.into_stream().try_fold(0, |n, chunk| async move { Ok(n + chunk.len()) }).await?;
    /// println!("image is {size} bytes");
    /// # Ok(()) }
    /// ```
    ///
    /// Each chunk is bounded by the idle timeout, as with [`chunk`](Self::chunk).
    pub fn into_stream(self) -> impl Stream<Item = Result<Bytes>> + Send + 'static {
        futures::stream::unfold(Some(self), |state| async move {
            let mut response = state?;
            match response.chunk().await {
                Ok(Some(chunk)) => Some((Ok(chunk), Some(response))),
                Ok(None) => None,
                // Nothing follows an error.
                Err(e) => Some((Err(e), None)),
            }
        })
    }
}

/// How far a streamed request body has got, for the idle timeout of uploads: the server
/// stalls when it stops reading, which shows as hyper no longer asking for the next chunk.
#[derive(Debug)]
pub(crate) struct UploadProgress {
    state: std::sync::Mutex<UploadState>,
}

#[derive(Debug)]
struct UploadState {
    /// When the body last moved (a chunk asked for or handed over).
    last: tokio::time::Instant,
    /// hyper is waiting for our next chunk: any wait now is the source's, not the server's.
    asked: bool,
    /// The whole body has been handed over.
    done: bool,
}

impl UploadProgress {
    pub(crate) fn new() -> std::sync::Arc<UploadProgress> {
        std::sync::Arc::new(UploadProgress {
            state: std::sync::Mutex::new(UploadState {
                last: tokio::time::Instant::now(),
                asked: false,
                done: false,
            }),
        })
    }

    fn update(&self, f: impl FnOnce(&mut UploadState)) {
        let mut state = self.state.lock().expect("upload progress lock");
        state.last = tokio::time::Instant::now();
        f(&mut state);
    }

    /// Resolves when the server has not taken any of the body for `idle`; never once the
    /// body is all sent (the wait for the reply is the request timeout's).
    pub(crate) async fn stalled(&self, idle: Duration) {
        loop {
            let deadline = {
                let state = self.state.lock().expect("upload progress lock");
                if state.done {
                    None
                } else if state.asked {
                    // Our source is being waited on, not the server: look again later.
                    Some(tokio::time::Instant::now() + idle)
                } else if state.last.elapsed() >= idle {
                    return;
                } else {
                    Some(state.last + idle)
                }
            };
            match deadline {
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                None => std::future::pending().await,
            }
        }
    }
}

/// A request body stream that reports its progress to an [`UploadProgress`].
pub(crate) struct Watched {
    pub(crate) inner: BoxStream<'static, std::io::Result<Bytes>>,
    pub(crate) progress: std::sync::Arc<UploadProgress>,
    /// What is left of an announced length: hyper stops asking once it has it all, so
    /// the body is done then, not at the stream's end.
    pub(crate) remaining: Option<u64>,
}

impl Stream for Watched {
    type Item = std::io::Result<Bytes>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.progress.update(|s| s.asked = true);
        let next = self.inner.poll_next_unpin(cx);
        match &next {
            std::task::Poll::Ready(Some(chunk)) => {
                let len = chunk.as_ref().map_or(0, |c| c.len() as u64);
                self.remaining = self.remaining.map(|r| r.saturating_sub(len));
                let done = self.remaining == Some(0) || chunk.is_err();
                self.progress.update(|s| {
                    s.asked = false;
                    s.done = done;
                });
            }
            std::task::Poll::Ready(None) => self.progress.update(|s| s.done = true),
            std::task::Poll::Pending => {}
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_encoded() {
        let r = Request::new(Method::GET, "/1.0/instances/c1/files").query("path", "/a b&c=d");
        assert_eq!(
            r.path_and_query(),
            "/1.0/instances/c1/files?path=%2Fa+b%26c%3Dd"
        );
    }

    #[test]
    fn bad_paths_are_refused() {
        assert!(Request::new(Method::GET, "1.0").check().is_err());
        assert!(Request::new(Method::GET, "/1.0?x=1").check().is_err());
        assert!(Request::new(Method::GET, "/1.0/\n").check().is_err());
        assert!(Request::new(Method::GET, "/1.0/instances").check().is_ok());
    }

    #[test]
    fn body_debug_hides_content() {
        let b = Body::from(b"{\"password\":\"s3cret\"}".to_vec());
        assert!(!format!("{b:?}").contains("s3cret"));
    }
}
