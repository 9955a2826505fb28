//! An async Rust client for [LXD](https://documentation.ubuntu.com/lxd/), the system
//! container and virtual machine manager, over its unix socket or HTTPS.
//!
//! ```no_run
//! use lxd_client::{Client, proto::{InstanceSource, InstancesPost}};
//!
//! # async fn demo() -> Result<(), lxd_client::Error> {
//! let client = Client::local()?; // LXD_SOCKET, LXD_DIR, the snap or /var/lib/lxd
//! println!("LXD {}", client.server().await?.environment.server_version);
//!
//! client
//!     .instances()
//!     .create(&InstancesPost {
//!         name: "c1".into(),
//!         source: InstanceSource::image_alias("busybox"),
//!         ..Default::default()
//!     })
//!     .await?
//!     .wait()
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! - [`Client`] is cheap to clone and carries an optional project ([`Client::with_project`]).
//! - Calls LXD answers with background work return an [`Operation`]; `wait()` it.
//! - Every error is an [`Error`] with predicates (`is_not_found()`, `is_conflict()`, ...).
//! - [`Client::raw`] reaches any endpoint the managers do not cover yet.

mod client;
mod error;
mod flavor;
mod instances;
mod operation;
mod path;
mod projects;
mod raw;

pub use client::{Client, ClientBuilder};
pub use error::{Error, Result};
pub use flavor::Flavor;
pub use instances::Instances;
pub use operation::{Operation, Operations};
pub use path::{validate_instance_name, validate_project_name};
pub use projects::Projects;
pub use raw::RawRequest;

/// The protocol types (`lxd-proto`).
pub use lxd_proto as proto;
/// The transport layer (`lxd-transport`).
pub use lxd_transport as transport;
/// The HTTP method type used by [`Client::raw`].
pub use lxd_transport::http::Method;
