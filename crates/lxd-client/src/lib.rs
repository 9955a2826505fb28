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

mod backups;
mod certificates;
mod client;
mod console;
mod error;
mod etag;
mod events;
mod exec;
mod files;
mod flavor;
mod image_aliases;
mod image_upload;
mod images;
mod instance;
mod instance_logs;
mod instance_publish;
mod instance_wait;
mod instances;
mod network_acls;
mod network_forwards;
mod networks;
mod operation;
mod path;
mod profiles;
mod projects;
mod raw;
mod server;
mod snapshots;
mod storage_pools;
mod storage_volumes;
mod warnings;

pub use backups::{BackupImport, InstanceBackups};
pub use certificates::{Certificates, TrustToken};
pub use client::{Client, ClientBuilder};
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
pub use image_upload::{ImageExport, ImageProgressFn, ImageUpload};
pub use images::{ImageObject, Images};
pub use instance::InstanceObject;
pub use instance_logs::{ByteStream, InstanceLogs};
pub use instances::{InstanceQuery, Instances};
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
pub use snapshots::{InstanceSnapshots, validate_snapshot_name};
pub use storage_pools::StoragePools;
pub use storage_volumes::{StorageVolumeSnapshots, StorageVolumes};
pub use warnings::Warnings;

/// The protocol types (`lxd-proto`).
pub use lxd_proto as proto;
/// The transport layer (`lxd-transport`).
pub use lxd_transport as transport;
/// The HTTP method type used by [`Client::raw`].
pub use lxd_transport::http::Method;
