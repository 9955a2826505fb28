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
//! - [`LxcConfig`] builds a client from the `lxc` command's remotes
//!   ([`Client::from_lxc_remote`]).
//!
//! The guide (one page per capability, and a pylxd-to-lxd-rs table) is in the repository's
//! `docs/`; runnable examples are in `crates/lxd-client/examples/`.
//!
//! # Cargo features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `native-tls` | off | `ClientBuilder::native_tls()`: HTTPS through the platform's TLS library (OpenSSL on Linux) instead of rustls, with the same strict certificate pinning (a pin by bare fingerprint is refused with this backend). Needs OpenSSL's headers and `pkg-config` to build. |
//!
//! HTTPS uses rustls (with the `ring` provider) by default; the unix socket needs no TLS.

mod backups;
mod certificates;
mod client;
mod cluster;
mod collection;
mod console;
mod error;
mod etag;
mod events;
mod exec;
mod files;
mod flavor;
mod image_aliases;
mod image_copy;
mod image_upload;
mod images;
mod instance;
mod instance_copy;
mod instance_logs;
mod instance_publish;
mod instance_wait;
mod instances;
mod migration;
mod network_acls;
mod network_forwards;
mod networks;
mod operation;
mod path;
mod profiles;
mod projects;
mod raw;
mod remotes;
mod server;
mod snapshots;
mod storage_pools;
mod storage_volume_copy;
mod storage_volumes;
mod warnings;

#[doc(hidden)]
#[path = "fuzzing.rs"]
pub mod __fuzz; // NOT API: entry points for fuzz/ only.

pub use backups::{BackupImport, InstanceBackups};
pub use certificates::{Certificates, TrustToken};
pub use client::{
    Client, ClientBuilder, DEFAULT_MAX_ERROR_SIZE, DEFAULT_MAX_JSON_SIZE, DEFAULT_MAX_LISTING_SIZE,
};
pub use cluster::{
    ClusterGroups, ClusterManager, ClusterMembers, JoinToken, validate_cluster_group_name,
    validate_cluster_member_name,
};
pub use console::{ConsoleBuilder, ConsoleSession};
pub use error::{Error, Result};
pub use etag::{ETag, Versioned};
pub use events::{EventItem, EventStream, EventsBuilder};
pub use exec::{
    ExecBuilder, ExecControl, ExecOutput, ExecPty, ExecReader, ExecSession, ExecStatus, ExecWriter,
    RawExec, RecordedExec,
};
pub use files::{
    DirOptions, Downloaded, FileDownload, Files, GetRecursiveOptions, OutsideLinks, ProgressFn,
    PutOptions, PutRecursiveOptions, SkippedEntry, TransferProgress, TransferSummary,
};
pub use flavor::Flavor;
pub use image_aliases::ImageAliases;
pub use image_copy::ImageCopy;
pub use image_upload::{ImageExport, ImageProgressFn, ImageUpload};
pub use images::{ImageObject, Images};
pub use instance::InstanceObject;
pub use instance_copy::InstanceCopy;
pub use instance_logs::{ByteStream, InstanceLogs};
pub use instances::{InstanceQuery, Instances};
pub use migration::MigrationMode;
pub use network_acls::NetworkAcls;
pub use network_forwards::NetworkForwards;
pub use networks::Networks;
pub use operation::{Operation, Operations};
pub use path::{
    validate_instance_name, validate_network_acl_name, validate_network_name,
    validate_profile_name, validate_project_name, validate_storage_pool_name,
    validate_storage_volume_name,
};
pub use profiles::Profiles;
pub use projects::Projects;
pub use raw::RawRequest;
pub use remotes::{LxcConfig, LxcRemote};
pub use snapshots::{InstanceSnapshots, validate_snapshot_name};
pub use storage_pools::StoragePools;
pub use storage_volume_copy::VolumeCopy;
pub use storage_volumes::{StorageVolumeSnapshots, StorageVolumes};
pub use warnings::Warnings;

/// The protocol types (`lxd-proto`).
pub use lxd_proto as proto;
/// The transport layer (`lxd-transport`).
pub use lxd_transport as transport;
/// The HTTP method type used by [`Client::raw`].
pub use lxd_transport::http::Method;

/// The guide's pages (`docs/`) and the repository's README: their Rust examples are compiled
/// (and, unless marked `no_run`, run) as doctests, so the guide cannot drift from the API.
/// (`docs/testkit.md` is lxd-testkit's.)
#[cfg(doctest)]
mod guide {
    #[doc = include_str!("../../../README.md")]
    pub struct Readme;
    #[doc = include_str!("../../../docs/getting-started.md")]
    pub struct GettingStarted;
    #[doc = include_str!("../../../docs/connecting.md")]
    pub struct Connecting;
    #[doc = include_str!("../../../docs/trust-and-projects.md")]
    pub struct TrustAndProjects;
    #[doc = include_str!("../../../docs/instances.md")]
    pub struct Instances;
    #[doc = include_str!("../../../docs/exec.md")]
    pub struct Exec;
    #[doc = include_str!("../../../docs/files.md")]
    pub struct Files;
    #[doc = include_str!("../../../docs/images.md")]
    pub struct Images;
    #[doc = include_str!("../../../docs/events.md")]
    pub struct Events;
    #[doc = include_str!("../../../docs/operations.md")]
    pub struct Operations;
    #[doc = include_str!("../../../docs/networks-profiles-storage.md")]
    pub struct NetworksProfilesStorage;
    #[doc = include_str!("../../../docs/cluster.md")]
    pub struct Cluster;
    #[doc = include_str!("../../../docs/lxd-and-incus.md")]
    pub struct LxdAndIncus;
}
