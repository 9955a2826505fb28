//! Server-side websocket upgrades (events, exec channels), answered like LXD's gorilla
//! upgrader: 101 with the accept key, or 400 "Bad Request" in plain text for a request that
//! is not a websocket handshake.

use futures::StreamExt;
use http::HeaderValue;
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

use crate::http::{Body, Req, full};

/// A server websocket.
pub(crate) type ServerSocket = WebSocketStream<TokioIo<Upgraded>>;

/// The 400 gorilla's upgrader sends for a request that is not a websocket handshake.
pub(crate) fn not_a_websocket() -> http::Response<Body> {
    let mut response = http::Response::new(full("Bad Request\n"));
    *response.status_mut() = http::StatusCode::BAD_REQUEST;
    let headers = response.headers_mut();
    headers.insert(
        "content-type",
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert("sec-websocket-version", HeaderValue::from_static("13"));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// Checks the handshake and takes the upgrade: the 101 response to send, and the future
/// connection. `None` when this is no websocket handshake (answer [`not_a_websocket`]).
pub(crate) fn switch(req: &mut Req) -> Option<(http::Response<Body>, OnUpgrade)> {
    let key = req.header("sec-websocket-key").map(str::to_string);
    let upgrade = req.upgrade.take();
    let (Some(key), Some(upgrade), true) = (key, upgrade, req.is_websocket()) else {
        return None;
    };
    let mut response = http::Response::new(crate::http::empty());
    *response.status_mut() = http::StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert("upgrade", HeaderValue::from_static("websocket"));
    headers.insert("connection", HeaderValue::from_static("Upgrade"));
    headers.insert(
        "sec-websocket-accept",
        HeaderValue::from_str(&derive_accept_key(key.as_bytes()))
            .expect("base64 is a valid header value"),
    );
    Some((response, upgrade))
}

/// Waits for the upgraded connection and wraps it as a server websocket.
pub(crate) async fn accept(upgrade: OnUpgrade) -> Option<ServerSocket> {
    let upgraded = upgrade.await.ok()?;
    Some(WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await)
}

/// Reads until the peer closes or the connection fails (answering pings on the way).
pub(crate) async fn drain(socket: &mut futures::stream::SplitStream<ServerSocket>) {
    while let Some(message) = socket.next().await {
        if matches!(message, Err(_) | Ok(Message::Close(_))) {
            return;
        }
    }
}
