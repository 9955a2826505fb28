//! The log of the requests a server received, for tests that check what their code sent
//! ([`TestServer::requests`](crate::TestServer::requests)).

use std::collections::VecDeque;
use std::sync::Mutex;

use serde_json::Value;

use crate::http::Req;

/// How many requests the log keeps (the oldest go first).
const KEPT: usize = 10_000;
/// Bodies up to this size are kept when they are JSON; file and image uploads are not.
const BODY_KEPT: usize = 64 * 1024;

/// One request as the server received it.
#[derive(Debug, Clone, PartialEq)]
pub struct SeenRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, as sent (still percent-encoded): `/1.0/instances/c1/state`.
    pub path: String,
    /// The query pairs, decoded, in order: `[("recursion", "1"), ("project", "p1")]`.
    pub query: Vec<(String, String)>,
    /// The body, when it was JSON of at most 64 KiB (`None` for file and image uploads,
    /// websocket upgrades, empty bodies and requests a fault answered before reading).
    pub json: Option<Value>,
}

impl SeenRequest {
    /// The value of query parameter `key`, if present.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = lxd_testkit::TestServer::start().await?;
    /// let client = lxd_client::Client::unix(server.socket_path())?;
    /// client.instances().list().await?;
    /// let list = server.requests().pop().unwrap();
    /// assert_eq!(list.query_value("recursion"), Some("1"));
    /// # Ok(()) }
    /// ```
    pub fn query_value(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// The requests of one server.
#[derive(Default)]
pub(crate) struct RequestLog {
    seen: Mutex<VecDeque<SeenRequest>>,
}

impl RequestLog {
    /// Notes `req` (with its body, once read).
    pub(crate) fn record(&self, req: &Req) {
        let json = (!req.body.is_empty() && req.body.len() <= BODY_KEPT)
            .then(|| serde_json::from_slice(&req.body).ok())
            .flatten();
        let seen = SeenRequest {
            method: req.method.to_string(),
            path: req.path.clone(),
            query: req.query.clone(),
            json,
        };
        let mut log = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if log.len() == KEPT {
            log.pop_front();
        }
        log.push_back(seen);
    }

    /// Everything kept, oldest first.
    pub(crate) fn all(&self) -> Vec<SeenRequest> {
        let log = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        log.iter().cloned().collect()
    }
}
