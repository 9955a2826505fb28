//! An in-process, stateful imitation of an LXD 5.0 server that real LXD clients accept: the
//! `lxc` command, `lxd-client`, pylxd, the Go client.
//!
//! It listens on a unix socket named `unix.socket` in its own directory (so `LXD_DIR=<dir>`
//! points `lxc` at it) and, when asked, on HTTPS at 127.0.0.1 with a generated self-signed
//! certificate and a trust store (client certificates, trust password, tokens). State lives
//! in memory: projects, instances (containers and simulated VMs) with their snapshots and
//! an in-memory file system, exec over websockets running a small built-in command set,
//! images, profiles, networks, storage pools and volumes, certificates, warnings, a
//! simulated cluster, operations and events, with LXD's envelopes, status codes, ETags and
//! error messages. [`Faults`] can be injected per server, method and path. It can also
//! present itself as LXD 6.9 or as Incus, LXD's fork ([`TestServerBuilder::flavor`],
//! [`ServerFlavor`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use lxd_testkit::TestServer;
//!
//! let server = TestServer::builder().https().start().await?;
//! // The unix socket for any LXD client:
//! println!("{}", server.socket_path().display());
//! // HTTPS with the server certificate to pin:
//! println!("{} {}", server.https_url().unwrap(), server.certificate_fingerprint());
//! # Ok(()) }
//! ```
//!
//! What it is not: there are no real containers. Instances change state instantly, exec runs
//! a built-in command set (`echo`, `cat`, `true`, `false`, `env`, `pwd`, `sleep`, `head`,
//! `sh -c` over those, ...) over an in-memory file system, networks and storage are
//! records. The guide, `docs/testkit.md`, lists the endpoints implemented and
//! those that are not.

mod api;
mod events;
mod extensions;
mod faults;
mod filter;
mod flavor;
mod fs;
mod http;
mod log_capture;
mod multipart;
mod operations;
mod requests;
mod seed;
mod server;
mod shell;
mod state;
mod tar;
mod tls;
mod util;
mod websocket;

pub use faults::{Fault, FaultId, FaultRule, Faults};
pub use flavor::ServerFlavor;
pub use log_capture::LogCapture;
pub use requests::SeenRequest;
pub use seed::{ImageSeed, ProfileSeed};
pub use server::{BlockingTestServer, Error, TestServer, TestServerBuilder};
pub use tls::ClientCertificate;

/// Re-exported: the protocol types the server speaks.
pub use lxd_proto as proto;

/// Runs the user guide's examples (`docs/testkit.md`) as doctests.
#[doc = include_str!("../../../docs/testkit.md")]
#[cfg(doctest)]
pub struct TestkitGuide;

/// Runs the README's examples as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
