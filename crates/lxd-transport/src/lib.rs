//! Bytes and websockets to an LXD daemon, over its local unix socket or over HTTPS with a
//! client certificate and a pinned server certificate.
//!
//! This crate knows nothing of LXD's resources; `lxd-client` builds on it. It offers:
//!
//! - socket discovery ([`discover_socket`]): an explicit path, `LXD_SOCKET`, `INCUS_SOCKET`,
//!   `$LXD_DIR/unix.socket`, `$INCUS_DIR/unix.socket`, the snap path,
//!   `/var/lib/lxd/unix.socket`, then Incus's `/var/lib/incus/unix.socket` and
//!   `/run/incus/unix.socket`;
//! - HTTPS with a [`ClientIdentity`] and a [`ServerTrust`] (a pinned certificate or
//!   fingerprint that works whatever the certificate's names, CA certificates, or system
//!   roots). Verification is on unless [`ServerTrust::DangerAcceptAnyCertificate`] is named;
//! - requests with streamed bodies both ways, keep-alive on both transports (on the unix
//!   socket no connection is ever opened ahead of its request, see
//!   [`TransportBuilder::build`]), connect, request and idle timeouts, a cap on bodies read
//!   whole, and no redirects (LXD never sends one; a 3xx is [`Error::Redirected`]);
//! - websocket upgrades on both transports ([`Transport::websocket`]).
//!
//! ```no_run
//! use lxd_transport::{Request, Transport, http::Method};
//! # async fn demo() -> Result<(), lxd_transport::Error> {
//! let transport = Transport::unix_builder(None).build()?;
//! let response = transport.send(Request::new(Method::GET, "/1.0")).await?;
//! assert!(response.status().is_success());
//! # Ok(()) }
//! ```
//!
//! # Cargo features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `native-tls` | off | `TransportBuilder::native_tls()`: HTTPS through the platform's TLS library (OpenSSL on Linux) instead of rustls, with the same strict pinning (a pin by bare fingerprint is refused with this backend). Needs OpenSSL's headers and `pkg-config` to build. |
//!
//! HTTPS uses rustls with the `ring` provider by default. Websocket upgrades go through the
//! same connector, so they use whichever backend the transport was built with. lxd-proto and
//! lxd-testkit have no optional features.

mod error;
#[cfg(feature = "native-tls")]
mod native;
mod pool;
mod request;
mod send;
mod socket;
mod tls;
mod transport;
mod upgraded;
mod websocket;

pub use error::{BoxError, Error, Result};
pub use request::{Body, Request, Response, Timeout};
pub use socket::{
    INCUS_RUN_SOCKET, INCUS_SOCKET, SNAP_SOCKET, SYSTEM_SOCKET, SocketEnv, discover_socket,
    socket_candidates,
};
pub use tls::{ClientIdentity, Fingerprint, PinMismatch, ServerTrust};
pub use transport::{
    DEFAULT_HTTPS_PORT, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_BODY_SIZE, DEFAULT_MAX_ERROR_BODY_SIZE,
    Endpoint, Transport, TransportBuilder, parse_https_url,
};
pub use upgraded::UpgradedStream;
pub use websocket::WebSocket;

/// Re-exported: the `http` crate's method, status and header types used in this API.
pub use http;
/// Re-exported: websocket message types.
pub use tokio_tungstenite::tungstenite;
