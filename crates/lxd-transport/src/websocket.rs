//! Websocket upgrades over either transport.
//!
//! The upgrade is a plain HTTP/1.1 request through the same connector as every other request,
//! so unix sockets and HTTPS (client certificate, pinned server) behave identically.

use http::{HeaderValue, Method, StatusCode, header};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

use crate::error::{Error, Result};
use crate::request::{Request, Timeout};
use crate::transport::Transport;
use crate::upgraded::UpgradedStream;

/// An open websocket to the daemon (over an [`UpgradedStream`], which keeps what the daemon
/// sent readable after it has gone).
pub type WebSocket = WebSocketStream<UpgradedStream>;

impl Transport {
    /// Opens a websocket at `path` with the given query (for example an operation's
    /// `/1.0/operations/<id>/websocket` with its `secret`). The handshake is bounded by the
    /// transport's request timeout, the open socket is not.
    ///
    /// ```no_run
    /// # async fn demo(t: lxd_transport::Transport) -> Result<(), lxd_transport::Error> {
    /// use futures::StreamExt;
    /// let mut events = t.websocket("/1.0/events", &[("type", "lifecycle")]).await?;
    /// while let Some(msg) = events.next().await {
    ///     println!("{:?}", msg?);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn websocket(&self, path: &str, query: &[(&str, &str)]) -> Result<WebSocket> {
        let handshake = self.websocket_handshake(path, query);
        match self.timeout() {
            Some(limit) => {
                tokio::time::timeout(limit, handshake)
                    .await
                    .map_err(|_| Error::Timeout {
                        endpoint: self.label().to_string(),
                    })?
            }
            None => handshake.await,
        }
    }

    async fn websocket_handshake(&self, path: &str, query: &[(&str, &str)]) -> Result<WebSocket> {
        let key = generate_key();
        let mut request = Request::new(Method::GET, path)
            .header(header::CONNECTION, HeaderValue::from_static("Upgrade"))
            .header(header::UPGRADE, HeaderValue::from_static("websocket"))
            .header(
                header::SEC_WEBSOCKET_VERSION,
                HeaderValue::from_static("13"),
            )
            .header(
                header::SEC_WEBSOCKET_KEY,
                HeaderValue::from_str(&key).expect("base64 key"),
            )
            .timeout(Timeout::None);
        for (k, v) in query {
            request = request.query(*k, *v);
        }
        // Through reqwest, not the unix socket's pool: the connection becomes the websocket.
        let response = self.send_reqwest(request).await?;
        if response.status() != StatusCode::SWITCHING_PROTOCOLS {
            let status = response.status().as_u16();
            // Only the start of the body is read: the rest is never buffered.
            let limit = usize::try_from(self.max_error_body_size()).unwrap_or(usize::MAX);
            let body = response.prefix(limit).await.unwrap_or_default();
            return Err(Error::WebSocketRefused {
                path: path.to_string(),
                status,
                body: String::from_utf8_lossy(&body).into_owned(),
            });
        }
        let expected = derive_accept_key(key.as_bytes());
        let accept = response
            .headers()
            .get(header::SEC_WEBSOCKET_ACCEPT)
            .and_then(|v| v.to_str().ok());
        if accept != Some(expected.as_str()) {
            return Err(Error::WebSocket(
                tokio_tungstenite::tungstenite::Error::Protocol(
                    tokio_tungstenite::tungstenite::error::ProtocolError::SecWebSocketAcceptKeyMismatch,
                ),
            ));
        }
        let label = self.label().to_string();
        let crate::request::Reply::Reqwest(reply) = response.inner else {
            unreachable!("websocket upgrades are sent through reqwest");
        };
        let upgraded = reply
            .upgrade()
            .await
            .map_err(|e| Error::from_reqwest(&label, e))?;
        tracing::debug!(endpoint = %label, path, "websocket open");
        Ok(
            WebSocketStream::from_raw_socket(UpgradedStream::new(upgraded), Role::Client, None)
                .await,
        )
    }
}
