//! Fault injection: rules matched against each request (per server, per method and path),
//! deciding latency, broken replies, and what happens to the operations and exec websockets
//! the request starts.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream;
use http::Method;
use http_body_util::{BodyExt, StreamBody};

use crate::http::{Body, BoxError, full};

/// What a fault does to a matching request.
///
/// ```
/// use lxd_testkit::{Fault, FaultRule};
/// use std::time::Duration;
///
/// let slow = FaultRule::new(Fault::Latency(Duration::from_millis(200))).path("/1.0/instances");
/// let broken = FaultRule::new(Fault::Error { status: 500, message: "boom".into() })
///     .method("DELETE")
///     .times(1);
/// # let _ = (slow, broken);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Fault {
    /// Wait this long before handling the request (several latencies add up).
    Latency(Duration),
    /// Answer with this LXD error envelope instead of handling the request.
    Error {
        /// HTTP status and `error_code`.
        status: u16,
        /// The `error` text.
        message: String,
    },
    /// Handle the request, send the headers (with the full `Content-Length`) and half of the
    /// body, then drop the connection.
    ResetMidResponse,
    /// Handle the request, send the headers (with the full `Content-Length`) and half of the
    /// body, then nothing more while keeping the connection open: a server that stalls
    /// mid-transfer (what a client's idle timeout, or its caller's deadline, must end).
    StallMidResponse,
    /// Handle the request and send a well-formed HTTP reply whose JSON body is cut in half.
    TruncatedJson,
    /// Handle the request and send a well-formed HTTP reply whose body is malformed JSON.
    MalformedJson,
    /// Exec sessions started by the request lose their websockets (closed without a close
    /// frame or barrier) once the command has started; the operation then fails.
    CloseExecWebsocket,
    /// Operations started by the request fail with this error (the action does not happen).
    FailOperation(String),
    /// Operations started by the request never finish; they can be cancelled
    /// (`DELETE /1.0/operations/<id>`), which ends them as Cancelled.
    StallOperation,
    /// Event websockets (`/1.0/events`) opened by the request are dropped without a close
    /// frame right after the first event goes out: a stream closed mid-way.
    CloseEventsWebsocket,
}

/// A [`Fault`] and the requests it applies to: every request unless narrowed by
/// [`method`](FaultRule::method) and [`path`](FaultRule::path), forever unless limited by
/// [`times`](FaultRule::times).
#[derive(Debug, Clone, PartialEq)]
pub struct FaultRule {
    fault: Fault,
    method: Option<Method>,
    path: Option<String>,
    remaining: Option<u32>,
    /// Matching requests still to let through before the rule applies.
    skip: u32,
}

impl FaultRule {
    /// A rule applying `fault` to every request.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use lxd_testkit::{Fault, FaultRule, TestServer};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = TestServer::start().await?;
    /// let client = lxd_client::Client::unix(server.socket_path())?;
    /// // Every request now takes 50 ms more, as over a slow link.
    /// server.faults().add(FaultRule::new(Fault::Latency(Duration::from_millis(50))));
    /// let started = Instant::now();
    /// client.profiles().list_names().await?;
    /// assert!(started.elapsed() >= Duration::from_millis(50));
    /// # Ok(()) }
    /// ```
    pub fn new(fault: Fault) -> FaultRule {
        FaultRule {
            fault,
            method: None,
            path: None,
            remaining: None,
            skip: 0,
        }
    }

    /// Only requests with this HTTP method (`"GET"`, `"POST"`, ...).
    ///
    /// ```
    /// use lxd_client::proto::ProfilesPost;
    /// use lxd_testkit::{Fault, FaultRule, TestServer};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = TestServer::start().await?;
    /// # let client = lxd_client::Client::unix(server.socket_path())?;
    /// // Creating a profile fails; reading profiles still works.
    /// let disk_full = Fault::Error { status: 500, message: "disk full".into() };
    /// server.faults().add(FaultRule::new(disk_full).method("POST").path("/1.0/profiles"));
    /// let web = ProfilesPost { name: "web".into(), ..Default::default() };
    /// assert_eq!(client.profiles().create(&web).await.unwrap_err().status(), Some(500));
    /// assert!(client.profiles().list_names().await.is_ok());
    /// # Ok(()) }
    /// ```
    ///
    /// # Panics
    ///
    /// When `method` is not an HTTP method token (`"DELETE "`, `""`): a rule that silently
    /// matched every request, or none, would make the test prove something else.
    pub fn method(mut self, method: &str) -> FaultRule {
        match Method::from_bytes(method.to_ascii_uppercase().as_bytes()) {
            Ok(m) => self.method = Some(m),
            Err(_) => panic!("FaultRule::method: {method:?} is not an HTTP method"),
        }
        self
    }

    /// Only requests whose path is `prefix` or below it (`/1.0/instances` matches
    /// `/1.0/instances` and `/1.0/instances/c1/state`, not `/1.0/instances-x`). The query is
    /// not part of the path.
    ///
    /// ```
    /// use lxd_testkit::{Fault, FaultRule, TestServer};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = TestServer::start().await?;
    /// # let client = lxd_client::Client::unix(server.socket_path())?;
    /// let down = Fault::Error { status: 503, message: "networking is down".into() };
    /// server.faults().add(FaultRule::new(down).path("/1.0/networks"));
    /// assert!(client.networks().list_names().await.is_err()); // /1.0/networks
    /// assert!(client.networks().get("eth0").await.is_err()); // /1.0/networks/eth0
    /// assert!(client.profiles().list_names().await.is_ok()); // elsewhere: untouched
    /// # Ok(()) }
    /// ```
    ///
    /// # Panics
    ///
    /// When `prefix` holds a query (`?`) or does not start with `/`: no request path would
    /// ever match it.
    pub fn path(mut self, prefix: &str) -> FaultRule {
        assert!(
            prefix.starts_with('/') && !prefix.contains('?'),
            "FaultRule::path: {prefix:?} must be a path starting with '/', without a query \
             (rules match the path only)"
        );
        self.path = Some(prefix.trim_end_matches('/').to_string());
        self
    }

    /// Only the next `n` matching requests; the rule then goes away.
    ///
    /// ```
    /// use lxd_testkit::{Fault, FaultRule, TestServer};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = TestServer::start().await?;
    /// # let client = lxd_client::Client::unix(server.socket_path())?;
    /// // LXD is busy twice, then answers: what a retrying caller should get through.
    /// let busy = Fault::Error { status: 503, message: "busy".into() };
    /// server.faults().add(FaultRule::new(busy).path("/1.0/instances").times(2));
    /// assert!(client.instances().list_names().await.is_err());
    /// assert!(client.instances().list_names().await.is_err());
    /// assert!(client.instances().list_names().await.is_ok());
    /// # Ok(()) }
    /// ```
    pub fn times(mut self, n: u32) -> FaultRule {
        self.remaining = Some(n);
        self
    }

    /// Lets the first `n` matching requests through untouched; the rule applies from the
    /// next one on (then [`times`](FaultRule::times) counts). What a fault in the middle of
    /// a sequence needs: the third file of a recursive pull, the second chunk of a series.
    ///
    /// ```
    /// use lxd_testkit::{Fault, FaultRule, TestServer};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = TestServer::start().await?;
    /// # let client = lxd_client::Client::unix(server.socket_path())?;
    /// let busy = Fault::Error { status: 503, message: "busy".into() };
    /// server.faults().add(FaultRule::new(busy).path("/1.0/profiles").after(1).times(1));
    /// assert!(client.profiles().list_names().await.is_ok()); // let through
    /// assert!(client.profiles().list_names().await.is_err()); // the fault
    /// assert!(client.profiles().list_names().await.is_ok()); // used up
    /// # Ok(()) }
    /// ```
    pub fn after(mut self, n: u32) -> FaultRule {
        self.skip = n;
        self
    }

    fn matches(&self, method: &Method, path: &str) -> bool {
        if self.method.as_ref().is_some_and(|m| m != method) {
            return false;
        }
        match &self.path {
            None => true,
            Some(prefix) => {
                path == prefix
                    || (path.starts_with(prefix.as_str())
                        && path.as_bytes().get(prefix.len()) == Some(&b'/'))
            }
        }
    }
}

/// Identifies a rule added with [`Faults::add`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FaultId(u64);

/// The fault rules of one server. Rules apply from the next request on.
///
/// ```no_run
/// # async fn demo() {
/// use lxd_testkit::{Fault, FaultRule, TestServer};
///
/// let server = TestServer::start().await.unwrap();
/// let id = server.faults().add(FaultRule::new(Fault::StallOperation).path("/1.0/instances"));
/// // ... a create now never finishes ...
/// server.faults().remove(id);
/// # }
/// ```
#[derive(Debug, Default)]
pub struct Faults {
    rules: Mutex<Vec<(FaultId, FaultRule)>>,
    next: AtomicU64,
    /// Requests seen (whether a rule matched or not).
    seen: AtomicU64,
}

/// What the response side of a request must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReplyFault {
    Reset,
    Stall,
    Truncated,
    Malformed,
}

/// What a request's faults do to the work it starts.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct RequestFaults {
    pub(crate) latency: Duration,
    pub(crate) error: Option<(u16, String)>,
    pub(crate) reply: Option<ReplyFault>,
    pub(crate) close_exec_websocket: bool,
    pub(crate) close_events_websocket: bool,
    pub(crate) operation: Option<OperationFault>,
}

/// What happens to an operation a request starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum OperationFault {
    Fail(String),
    Stall,
}

impl Faults {
    /// Adds a rule; it applies from the next request on.
    ///
    /// ```
    /// use lxd_testkit::{Fault, FaultRule, TestServer};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = TestServer::start().await?;
    /// let client = lxd_client::Client::unix(server.socket_path())?;
    /// server.faults().add(FaultRule::new(Fault::MalformedJson).path("/1.0/profiles"));
    /// assert!(client.profiles().list_names().await.is_err()); // the reply does not parse
    /// # Ok(()) }
    /// ```
    pub fn add(&self, rule: FaultRule) -> FaultId {
        let id = FaultId(self.next.fetch_add(1, Ordering::Relaxed));
        self.rules.lock().expect("faults lock").push((id, rule));
        id
    }

    /// Removes a rule (no-op if it is gone already).
    ///
    /// ```
    /// use lxd_testkit::{Fault, FaultRule, TestServer};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = TestServer::start().await?;
    /// # let client = lxd_client::Client::unix(server.socket_path())?;
    /// let outage = Fault::Error { status: 503, message: "maintenance".into() };
    /// let id = server.faults().add(FaultRule::new(outage));
    /// assert!(client.instances().list_names().await.is_err());
    /// server.faults().remove(id); // the outage is over
    /// assert!(client.instances().list_names().await.is_ok());
    /// # Ok(()) }
    /// ```
    pub fn remove(&self, id: FaultId) {
        self.rules
            .lock()
            .expect("faults lock")
            .retain(|(rule_id, _)| *rule_id != id);
    }

    /// Removes every rule.
    ///
    /// ```
    /// use lxd_testkit::{Fault, FaultRule, TestServer};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), lxd_testkit::Error> {
    /// let server = TestServer::start().await?;
    /// server.faults().add(FaultRule::new(Fault::StallOperation).path("/1.0/instances"));
    /// server.faults().add(FaultRule::new(Fault::TruncatedJson).method("GET"));
    /// server.faults().clear();
    /// assert!(server.faults().is_empty());
    /// # Ok(()) }
    /// ```
    pub fn clear(&self) {
        self.rules.lock().expect("faults lock").clear();
    }

    /// How many rules are active.
    ///
    /// ```
    /// use lxd_testkit::{Fault, FaultRule, TestServer};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = TestServer::start().await?;
    /// # let client = lxd_client::Client::unix(server.socket_path())?;
    /// let once = Fault::Error { status: 500, message: "oops".into() };
    /// server.faults().add(FaultRule::new(once).path("/1.0/profiles").times(1));
    /// assert_eq!(server.faults().len(), 1);
    /// let _ = client.profiles().list_names().await; // uses the rule up
    /// assert_eq!(server.faults().len(), 0);
    /// # Ok(()) }
    /// ```
    pub fn len(&self) -> usize {
        self.rules.lock().expect("faults lock").len()
    }

    /// Whether no rule is active.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), lxd_testkit::Error> {
    /// let server = lxd_testkit::TestServer::start().await?;
    /// assert!(server.faults().is_empty()); // a fresh server behaves
    /// # Ok(()) }
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many HTTP requests (websocket upgrades included) reached the server's handler
    /// so far: a test can prove that a refused call sent nothing (a failed TLS handshake
    /// is not a request).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = lxd_testkit::TestServer::builder().https().start().await?;
    /// // A client pinned to the wrong certificate must give up before sending anything.
    /// let client = lxd_client::Client::https(server.https_url().unwrap())
    ///     .server_fingerprint(&"00".repeat(32))
    ///     .build()?;
    /// assert!(client.trusted().await.unwrap_err().is_tls());
    /// assert_eq!(server.faults().requests_seen(), 0);
    /// # Ok(()) }
    /// ```
    pub fn requests_seen(&self) -> u64 {
        self.seen.load(Ordering::SeqCst)
    }

    /// Collects what the rules do to one request, using up counted rules.
    pub(crate) fn for_request(&self, method: &Method, path: &str) -> RequestFaults {
        self.seen.fetch_add(1, Ordering::SeqCst);
        let mut out = RequestFaults::default();
        let mut rules = self.rules.lock().expect("faults lock");
        for (_, rule) in rules.iter_mut() {
            if rule.remaining == Some(0) || !rule.matches(method, path) {
                continue;
            }
            if rule.skip > 0 {
                rule.skip -= 1;
                continue;
            }
            if let Some(n) = rule.remaining.as_mut() {
                *n -= 1;
            }
            match &rule.fault {
                Fault::Latency(d) => out.latency += *d,
                Fault::Error { status, message } => {
                    out.error.get_or_insert((*status, message.clone()));
                }
                Fault::ResetMidResponse => {
                    out.reply.get_or_insert(ReplyFault::Reset);
                }
                Fault::StallMidResponse => {
                    out.reply.get_or_insert(ReplyFault::Stall);
                }
                Fault::TruncatedJson => {
                    out.reply.get_or_insert(ReplyFault::Truncated);
                }
                Fault::MalformedJson => {
                    out.reply.get_or_insert(ReplyFault::Malformed);
                }
                Fault::CloseExecWebsocket => out.close_exec_websocket = true,
                Fault::CloseEventsWebsocket => out.close_events_websocket = true,
                Fault::FailOperation(message) => {
                    out.operation
                        .get_or_insert(OperationFault::Fail(message.clone()));
                }
                Fault::StallOperation => {
                    out.operation.get_or_insert(OperationFault::Stall);
                }
            }
        }
        rules.retain(|(_, rule)| rule.remaining != Some(0));
        out
    }
}

/// Applies a reply fault to a finished response: the body is read whole, then cut, broken, or
/// sent half before an error that makes the server drop the connection.
pub(crate) async fn break_reply(
    fault: ReplyFault,
    response: http::Response<Body>,
) -> http::Response<Body> {
    let (mut parts, body) = response.into_parts();
    let bytes = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => Bytes::new(),
    };
    parts.headers.remove(http::header::CONTENT_LENGTH);
    let body = match fault {
        ReplyFault::Truncated => full(bytes.slice(..bytes.len() / 2)),
        ReplyFault::Malformed => full(Bytes::from_static(
            b"{\"type\":\"sync\",\"status\":\"Success\",\"status_code\":200,\"metadata\":{\"name\": ]\n",
        )),
        ReplyFault::Stall => {
            parts.headers.insert(
                http::header::CONTENT_LENGTH,
                http::HeaderValue::from(bytes.len().max(2)),
            );
            let half = bytes.slice(..bytes.len() / 2);
            // The connection stays open (until the client leaves or the server stops).
            let first = stream::once(async move {
                Ok::<_, BoxError>(hyper::body::Frame::data(half))
            });
            StreamBody::new(first.chain(stream::pending())).boxed_unsync()
        }
        ReplyFault::Reset => {
            parts.headers.insert(
                http::header::CONTENT_LENGTH,
                http::HeaderValue::from(bytes.len().max(2)),
            );
            let half = bytes.slice(..bytes.len() / 2);
            // The first half goes out (and is flushed: the error comes a moment later), then
            // the body fails, and hyper drops the connection mid-response.
            let first = stream::once(async move {
                Ok::<_, BoxError>(hyper::body::Frame::data(half))
            });
            let reset = stream::once(async {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                Err::<hyper::body::Frame<Bytes>, BoxError>(
                    "connection reset by fault injection".into(),
                )
            });
            StreamBody::new(first.chain(reset)).boxed_unsync()
        }
    };
    http::Response::from_parts(parts, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "is not an HTTP method")]
    fn a_method_that_is_no_method_is_refused() {
        let _ = FaultRule::new(Fault::TruncatedJson).method("DELETE ");
    }

    #[test]
    #[should_panic(expected = "without a query")]
    fn a_path_with_a_query_is_refused() {
        let _ = FaultRule::new(Fault::TruncatedJson).path("/1.0/instances?recursion=1");
    }

    #[test]
    fn rules_match_method_path_and_count() {
        let faults = Faults::default();
        faults.add(
            FaultRule::new(Fault::Error {
                status: 500,
                message: "x".into(),
            })
            .method("delete")
            .path("/1.0/instances/")
            .times(1),
        );
        let id = faults.add(FaultRule::new(Fault::Latency(Duration::from_millis(5))));
        faults.add(FaultRule::new(Fault::Latency(Duration::from_millis(7))).path("/1.0"));

        let get = faults.for_request(&Method::GET, "/1.0/instances/c1");
        assert_eq!(get.latency, Duration::from_millis(12));
        assert_eq!(get.error, None);
        assert!(
            faults
                .for_request(&Method::DELETE, "/1.0/instances-x")
                .error
                .is_none()
        );
        let delete = faults.for_request(&Method::DELETE, "/1.0/instances/c1");
        assert_eq!(delete.error, Some((500, "x".into())));
        // Used up.
        assert!(
            faults
                .for_request(&Method::DELETE, "/1.0/instances/c1")
                .error
                .is_none()
        );
        assert_eq!(faults.len(), 2);
        faults.remove(id);
        assert_eq!(
            faults.for_request(&Method::GET, "/").latency,
            Duration::ZERO
        );
        faults.clear();
        assert!(faults.is_empty());
    }

    #[test]
    fn after_lets_the_first_matches_through() {
        let faults = Faults::default();
        faults.add(
            FaultRule::new(Fault::MalformedJson)
                .path("/1.0/instances")
                .after(2)
                .times(1),
        );
        let reply = |path| faults.for_request(&Method::GET, path).reply;
        assert_eq!(reply("/1.0/profiles"), None); // not a match: not counted
        assert_eq!(reply("/1.0/instances"), None);
        assert_eq!(reply("/1.0/instances/c1"), None);
        assert_eq!(reply("/1.0/instances"), Some(ReplyFault::Malformed));
        assert_eq!(reply("/1.0/instances"), None);
        assert!(faults.is_empty());
    }
}
