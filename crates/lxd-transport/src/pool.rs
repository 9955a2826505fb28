//! Keep-alive for plain requests on the unix socket, through hyper directly, with one rule:
//! every connection opened carries a request at once.
//!
//! Why not reqwest's pool (hyper-util's legacy client): it races a fresh connect against an
//! idle connection coming free, and when the idle one wins, the fresh connection is parked
//! in the pool without a request. LXD 5.0.2 answers no connection opened after one that has
//! sent nothing (its `lxc` CLI, our websockets and its own hooks included) until that one
//! closes. So the unix socket's plain requests are sent here instead:
//!
//! - a request takes the most recently used idle connection that is still open, or else
//!   connects a new one and sends on it right away (nothing is awaited between the connect
//!   and the send but hyper's handshake, which does no IO);
//! - a connection goes back to the idle list only when its reply's body has been read to
//!   its end; a body dropped early closes its connection (hyper cannot reuse it);
//! - at most [`MAX_IDLE`] connections wait, each at most [`KEEP_IDLE`];
//! - a connection is only reused from the tokio runtime that drives it (its task runs
//!   there): a request made on another runtime (a clean-up run on a runtime of its own from
//!   `Drop`, while the first one is blocked waiting for it) would otherwise wait forever on a
//!   connection whose task cannot run;
//! - a request that fails on a reused connection (the daemon closed it while it waited) is
//!   sent once more on a fresh connection when that is safe: hyper hands the request back
//!   (nothing of it was written), or it is a `GET`/`HEAD` without a body.
//!
//! Websocket upgrades stay on reqwest: their connection is the websocket's afterwards.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use bytes::Bytes;
use futures::TryStreamExt;
use http::{HeaderMap, Method, Uri};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::{Body as _, Frame, Incoming};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;
use tokio::runtime::Id as RuntimeId;
use tokio::time::Instant;

use crate::error::{BoxError, Error, Result};
use crate::request::Body;

/// The most idle connections kept. A burst wider than this reopens connections for its
/// excess, which costs a unix connect (microseconds); keeping every one of a wide burst
/// would keep a goroutine per connection busy in the daemon for nothing.
pub(crate) const MAX_IDLE: usize = 8;

/// How long an idle connection is kept. LXD sets no idle timeout on its unix socket, so
/// this is what closes them; short enough that a client that went quiet holds nothing.
pub(crate) const KEEP_IDLE: Duration = Duration::from_secs(30);

/// How long a connection that came back idle may take to be ready for the next request
/// (hyper's connection task finishes the previous exchange first). Past it the connection
/// is closed and a fresh one used: it has carried a request, so closing it is harmless.
const READY_WAIT: Duration = Duration::from_secs(1);

/// A request body as hyper takes it.
pub(crate) type RequestBody = UnsyncBoxBody<Bytes, BoxError>;

/// Our request body in hyper's form. A streamed body's `Content-Length` (when known) is
/// set by the caller as a header; hyper frames the body by it (else chunked).
pub(crate) fn request_body(body: Body) -> RequestBody {
    match body {
        Body::Empty => Empty::new().map_err(|never| match never {}).boxed_unsync(),
        Body::Bytes(bytes) => Full::new(bytes)
            .map_err(|never| match never {})
            .boxed_unsync(),
        Body::Stream { stream, .. } => StreamBody::new(
            stream
                .map_ok(Frame::data)
                .map_err(|e| Box::new(e) as BoxError),
        )
        .boxed_unsync(),
    }
}

/// The idle connections of one unix-socket transport, shared by its clones.
#[derive(Clone)]
pub(crate) struct UnixPool {
    shared: Arc<Shared>,
}

struct Shared {
    path: PathBuf,
    label: String,
    connect_timeout: Option<Duration>,
    idle: Mutex<Idle>,
}

#[derive(Default)]
struct Idle {
    /// Oldest first; requests take from the end (the most recently used).
    connections: Vec<IdleConnection>,
    /// A task closes expired connections while any wait.
    reaper: bool,
}

/// A connection waiting for its next request.
struct IdleConnection {
    sender: SendRequest<RequestBody>,
    since: Instant,
    /// The runtime its task runs on.
    runtime: RuntimeId,
}

impl IdleConnection {
    fn expired(&self) -> bool {
        self.sender.is_closed() || self.since.elapsed() >= KEEP_IDLE
    }
}

/// The runtime running the caller (None outside one: then nothing is reused or kept).
fn current_runtime() -> Option<RuntimeId> {
    tokio::runtime::Handle::try_current()
        .ok()
        .map(|handle| handle.id())
}

/// What is needed to send a request again once its body has gone with the first attempt:
/// only kept for the requests that may be sent twice (`GET`/`HEAD` without a body).
struct Replay {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
}

impl Replay {
    fn of(request: &hyper::Request<RequestBody>, body_was_empty: bool) -> Option<Replay> {
        let idempotent = matches!(*request.method(), Method::GET | Method::HEAD);
        (idempotent && body_was_empty).then(|| Replay {
            method: request.method().clone(),
            uri: request.uri().clone(),
            headers: request.headers().clone(),
        })
    }

    fn request(&self) -> hyper::Request<RequestBody> {
        let mut request = hyper::Request::new(request_body(Body::Empty));
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.uri.clone();
        *request.headers_mut() = self.headers.clone();
        request
    }
}

impl UnixPool {
    pub(crate) fn new(path: PathBuf, label: String, connect_timeout: Option<Duration>) -> Self {
        UnixPool {
            shared: Arc::new(Shared {
                path,
                label,
                connect_timeout,
                idle: Mutex::new(Idle::default()),
            }),
        }
    }

    /// How many connections wait idle now.
    #[cfg(test)]
    fn idle_count(&self) -> usize {
        self.shared
            .idle
            .lock()
            .expect("pool lock")
            .connections
            .len()
    }

    /// Sends `request` on an idle connection or a new one and returns the reply's head; the
    /// connection stays with the reply's body until that has been read.
    ///
    /// `body_was_empty` says the request has no body (then a `GET` or `HEAD` may be sent
    /// again after a reused connection failed).
    pub(crate) async fn send(
        &self,
        mut request: hyper::Request<RequestBody>,
        body_was_empty: bool,
    ) -> Result<PooledResponse> {
        // The loss of a request that was written, kept while it is sent again: if the daemon
        // cannot even be reached now, that loss is what happened to the caller's request (a
        // daemon that died under an operation wait), not a refused connect.
        let mut lost = None;
        if let Some(mut sender) = self.checkout().await {
            let replay = Replay::of(&request, body_was_empty);
            match sender.try_send_request(request).await {
                Ok(response) => return Ok(self.lease(response, sender)),
                Err(mut failed) => {
                    let unsent = failed.take_message();
                    let error = failed.into_error();
                    tracing::debug!(
                        endpoint = %self.shared.label,
                        error = %error,
                        "an idle connection failed"
                    );
                    request = match (unsent, replay) {
                        // Nothing of it was written: sending it elsewhere is always safe.
                        (Some(unsent), _) => unsent,
                        // Written, perhaps in part, to a connection the daemon was closing:
                        // safe to repeat only when repeating changes nothing.
                        (None, Some(replay)) if crate::error::hyper_gone(&error) => {
                            lost = Some(error);
                            replay.request()
                        }
                        _ => return Err(Error::from_hyper(&self.shared.label, error)),
                    };
                }
            }
        }
        let mut sender = match self.connect().await {
            Ok(sender) => sender,
            Err(refused) => {
                return Err(match lost {
                    Some(error) if refused.is_connect() => {
                        Error::from_hyper(&self.shared.label, error)
                    }
                    _ => refused,
                });
            }
        };
        // The connection is used at once: this is the only request that may open one.
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| Error::from_hyper(&self.shared.label, e))?;
        Ok(self.lease(response, sender))
    }

    /// The most recently used idle connection of this runtime that is ready for a request,
    /// if any. Closed and expired ones found on the way are dropped.
    async fn checkout(&self) -> Option<SendRequest<RequestBody>> {
        let here = current_runtime()?;
        loop {
            let mut found = {
                let mut idle = self.shared.idle.lock().expect("pool lock");
                let at = idle.connections.iter().rposition(|c| c.runtime == here)?;
                idle.connections.remove(at)
            };
            if found.expired() {
                continue;
            }
            if let Ok(Ok(())) = tokio::time::timeout(READY_WAIT, found.sender.ready()).await {
                return Some(found.sender);
            }
        }
    }

    /// A new connection, its request to follow at once.
    async fn connect(&self) -> Result<SendRequest<RequestBody>> {
        let shared = &self.shared;
        let connecting = UnixStream::connect(&shared.path);
        let stream = match shared.connect_timeout {
            Some(limit) => {
                tokio::time::timeout(limit, connecting)
                    .await
                    .map_err(|_| Error::Timeout {
                        endpoint: shared.label.clone(),
                    })?
            }
            None => connecting.await,
        }
        .map_err(|e| Error::Connect {
            endpoint: shared.label.clone(),
            source: Box::new(e),
        })?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| Error::from_hyper(&shared.label, e))?;
        // The connection's own task reads and writes; it ends (closing the socket) when the
        // daemon closes it, on an error, or once every sender and body is dropped.
        let label = shared.label.clone();
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(endpoint = %label, error = %e, "unix connection ended");
            }
        });
        Ok(sender)
    }

    fn lease(
        &self,
        response: hyper::Response<Incoming>,
        sender: SendRequest<RequestBody>,
    ) -> PooledResponse {
        let (head, body) = response.into_parts();
        // The connection's task was spawned on (or, reused, belongs to) this runtime.
        let lease = current_runtime().map(|runtime| Lease {
            sender,
            runtime,
            pool: Arc::downgrade(&self.shared),
        });
        let mut body = PooledBody { body, lease };
        // A reply without a body (Content-Length: 0, 204) frees its connection now.
        body.release_if_done();
        PooledResponse { head, body }
    }
}

/// A connection lent to a reply's body, given back to its pool when the body ends.
struct Lease {
    sender: SendRequest<RequestBody>,
    runtime: RuntimeId,
    pool: Weak<Shared>,
}

impl Lease {
    fn give_back(self) {
        let Some(shared) = self.pool.upgrade() else {
            return;
        };
        if self.sender.is_closed() {
            return;
        }
        let surplus = {
            let mut idle = shared.idle.lock().expect("pool lock");
            idle.connections.push(IdleConnection {
                sender: self.sender,
                since: Instant::now(),
                runtime: self.runtime,
            });
            let surplus = if idle.connections.len() > MAX_IDLE {
                // The oldest goes: the newest is the likeliest to be ready next.
                Some(idle.connections.remove(0))
            } else {
                None
            };
            if !idle.reaper
                && let Ok(runtime) = tokio::runtime::Handle::try_current()
            {
                idle.reaper = true;
                runtime.spawn(reap(Arc::downgrade(&shared)));
            }
            surplus
        };
        // Dropped outside the lock: its connection closes (it has carried a request).
        drop(surplus);
    }
}

/// Closes idle connections past [`KEEP_IDLE`] (and forgets closed ones) while any wait;
/// ends with the pool.
async fn reap(pool: Weak<Shared>) {
    /// Lets the next connection given back start a reaper again if this one is dropped
    /// before its end (its runtime shut down under it).
    struct Abandoned(Option<Weak<Shared>>);
    impl Drop for Abandoned {
        fn drop(&mut self) {
            if let Some(shared) = self.0.take().and_then(|pool| pool.upgrade())
                && let Ok(mut idle) = shared.idle.lock()
            {
                idle.reaper = false;
            }
        }
    }
    let mut abandoned = Abandoned(Some(pool.clone()));
    loop {
        let next = {
            let Some(shared) = pool.upgrade() else {
                abandoned.0 = None;
                return;
            };
            let mut idle = shared.idle.lock().expect("pool lock");
            idle.connections.retain(|c| !c.expired());
            match idle.connections.first() {
                Some(oldest) => oldest.since + KEEP_IDLE,
                None => {
                    // Under the lock: a connection given back after this starts a new one.
                    idle.reaper = false;
                    abandoned.0 = None;
                    return;
                }
            }
        };
        tokio::time::sleep_until(next).await;
    }
}

/// A reply's head and body from the pool.
pub(crate) struct PooledResponse {
    pub(crate) head: http::response::Parts,
    pub(crate) body: PooledBody,
}

impl std::fmt::Debug for PooledResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PooledResponse")
            .field("status", &self.head.status)
            .field("headers", &self.head.headers)
            .finish_non_exhaustive()
    }
}

/// A reply's body, holding its connection until the end.
pub(crate) struct PooledBody {
    body: Incoming,
    lease: Option<Lease>,
}

impl PooledBody {
    /// The length the reply announced, if any.
    pub(crate) fn content_length(&self) -> Option<u64> {
        self.body.size_hint().exact()
    }

    /// The next data chunk, `None` at the end. The connection goes back to the pool as soon
    /// as the last byte is read; on an error it is dropped.
    pub(crate) async fn chunk(&mut self) -> std::result::Result<Option<Bytes>, hyper::Error> {
        loop {
            match self.body.frame().await {
                Some(Ok(frame)) => {
                    self.release_if_done();
                    // Trailers carry nothing for us.
                    if let Ok(data) = frame.into_data() {
                        return Ok(Some(data));
                    }
                }
                Some(Err(e)) => {
                    self.lease = None;
                    return Err(e);
                }
                None => {
                    self.release();
                    return Ok(None);
                }
            }
        }
    }

    fn release_if_done(&mut self) {
        if self.body.is_end_stream() {
            self.release();
        }
    }

    fn release(&mut self) {
        if let Some(lease) = self.lease.take() {
            lease.give_back();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bodiless_gets_and_heads_are_replayed() {
        let make = |method: Method| {
            let mut r = hyper::Request::new(request_body(Body::Empty));
            *r.method_mut() = method;
            r
        };
        assert!(Replay::of(&make(Method::GET), true).is_some());
        assert!(Replay::of(&make(Method::HEAD), true).is_some());
        assert!(Replay::of(&make(Method::GET), false).is_none());
        for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            assert!(
                Replay::of(&make(method.clone()), true).is_none(),
                "{method}"
            );
        }
    }

    #[tokio::test]
    async fn a_failed_connect_is_typed_and_pools_nothing() {
        let pool = UnixPool::new("/nonexistent/unix.socket".into(), "unix:test".into(), None);
        assert_eq!(pool.idle_count(), 0);
        let request = hyper::Request::new(request_body(Body::Empty));
        let err = pool.send(request, true).await.unwrap_err();
        assert!(err.is_connect(), "{err}");
        assert_eq!(pool.idle_count(), 0);
    }
}
