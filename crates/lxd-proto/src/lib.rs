//! Plain serde types of the LXD REST API and its events. No IO.
//!
//! Types are named after LXD's own REST objects (Go `shared/api`), so the
//! [REST reference](https://documentation.ubuntu.com/lxd/en/latest/rest-api/) maps one to one:
//! [`Response`] (the envelope), [`Operation`], [`Server`], [`Certificate`], [`Event`],
//! [`Instance`], [`InstancesPost`], [`InstanceState`], [`Project`], ...
//!
//! # Forward compatibility
//! - Unknown fields are kept in each object's `extra` map and written back, so saving an
//!   object read from a newer server loses nothing.
//! - Missing fields take their defaults: LXD omits fields across versions, and the untrusted
//!   view of `GET /1.0` is a subset of the trusted one.
//! - String enums ([`InstanceType`], [`LifecycleAction`], ...) keep unknown strings in an
//!   `Other(String)` arm.
//! - Go sends `null` for empty lists and maps; those decode as empty (or as `None` where LXD
//!   really sends `null`, e.g. [`Operation::resources`], so replies round-trip exactly).
//! - Fields LXD omits when empty (Go `omitempty`) or only sends on some servers are not
//!   written when empty; request types only write what is set.
//!
//! # Secrets
//! `Debug` of types carrying secrets (trust passwords, token secrets, websocket secrets)
//! prints `<redacted>` instead.
//!
//! # Example
//! ```
//! use lxd_proto::{Operation, Response, StatusCode};
//!
//! // The reply to `POST /1.0/instances`.
//! let reply: Response = serde_json::from_str(r#"{"type":"async","status":"Operation created",
//!     "status_code":100,"operation":"/1.0/operations/cf01a679","error_code":0,"error":"",
//!     "metadata":{"id":"cf01a679","class":"task","description":"Creating instance",
//!         "created_at":"2026-11-27T01:29:52.408684087Z",
//!         "updated_at":"2026-11-27T01:29:52.408684087Z","status":"Running","status_code":103,
//!         "resources":{"instances":["/1.0/instances/fx-c2"]},"metadata":null,
//!         "may_cancel":false,"err":"","location":"none"}}"#).unwrap();
//! assert!(reply.is_async());
//! assert_eq!(reply.operation_id().as_deref(), Some("cf01a679"));
//! let operation: Operation = reply.into_metadata().unwrap();
//! assert_eq!(operation.status_code, StatusCode::RUNNING);
//! assert!(!operation.is_final());
//! ```

mod string_enum;
mod util;

mod certificate;
mod cluster;
mod console;
mod event;
mod exec;
mod file;
mod image;
mod instance;
mod instance_backup;
mod instance_snapshot;
mod network;
mod network_acl;
mod network_forward;
mod operation;
mod profile;
mod project;
mod resources;
mod response;
mod server;
mod status;
mod storage_pool;
mod storage_volume;
mod warning;

pub use certificate::{
    Certificate, CertificateAddToken, CertificatePut, CertificateType, CertificatesPost,
};
pub use cluster::{
    Cluster, ClusterCertificatePut, ClusterEvacuateMode, ClusterGroup, ClusterGroupPost,
    ClusterGroupPut, ClusterGroupsPost, ClusterMember, ClusterMemberAction, ClusterMemberConfigKey,
    ClusterMemberJoinToken, ClusterMemberPost, ClusterMemberPut, ClusterMemberState,
    ClusterMemberStatePost, ClusterMemberStatus, ClusterMemberSysInfo, ClusterMembersPost,
    ClusterPut,
};
pub use console::{ConsoleType, InstanceConsoleControl, InstanceConsolePost};
pub use event::{
    Event, EventLifecycleRequestor, EventPayload, EventType, LifecycleAction, LifecycleEvent,
    LoggingEvent,
};
pub use exec::{ExecOperationMetadata, InstanceExecControl, InstanceExecPost};
pub use file::{
    InstanceFileHeaderError, InstanceFileHeaders, InstanceFileModifyPerm, InstanceFileStat,
    InstanceFileType, InstanceFileWriteMode,
};
pub use image::{
    Image, ImageAlias, ImageAliasesEntry, ImageAliasesEntryPost, ImageAliasesEntryPut,
    ImageAliasesPost, ImagePut, ImageSource, ImagesPost, ImagesPostSource,
};
pub use instance::{
    Devices, Instance, InstanceAction, InstancePut, InstanceSource, InstanceSourceType,
    InstanceState, InstanceStateCpu, InstanceStateDisk, InstanceStateMemory, InstanceStateNetwork,
    InstanceStateNetworkAddress, InstanceStateNetworkCounters, InstanceStatePut, InstanceType,
    InstancesPost,
};
pub use instance::{InstanceFull, InstancePost, InstancePostTarget};
pub use instance_backup::{InstanceBackup, InstanceBackupPost, InstanceBackupsPost};
pub use instance_snapshot::{
    InstanceSnapshot, InstanceSnapshotPost, InstanceSnapshotPut, InstanceSnapshotsPost, ZERO_TIME,
};
pub use network::{
    Network, NetworkLease, NetworkPost, NetworkPut, NetworkState, NetworkStateAddress,
    NetworkStateBond, NetworkStateBridge, NetworkStateCounters, NetworkStateOvn, NetworkStateVlan,
    NetworkStatus, NetworkType, NetworksPost,
};
pub use network_acl::{
    NetworkAcl, NetworkAclPost, NetworkAclPut, NetworkAclRule, NetworkAclRuleAction,
    NetworkAclRuleState, NetworkAclsPost,
};
pub use network_forward::{
    NetworkForward, NetworkForwardPort, NetworkForwardPut, NetworkForwardsPost,
};
pub use operation::{Operation, OperationClass, OperationProgress};
pub use profile::{Profile, ProfilePost, ProfilePut, ProfilesPost};
pub use project::{
    Project, ProjectPost, ProjectPut, ProjectState, ProjectStateResource, ProjectsPost,
};
pub use resources::{
    Resources, ResourcesCpu, ResourcesGpu, ResourcesMemory, ResourcesNetwork, ResourcesPci,
    ResourcesStorage, ResourcesStoragePool, ResourcesStoragePoolInodes, ResourcesStoragePoolSpace,
    ResourcesSystem, ResourcesUsb,
};
pub use response::{Response, ResponseType};
pub use server::{
    ApiStatus, AuthMethod, Server, ServerEnvironment, ServerPut, ServerStorageDriverInfo,
};
pub use status::StatusCode;
pub use storage_pool::{StoragePool, StoragePoolPut, StoragePoolStatus, StoragePoolsPost};
pub use storage_volume::{
    StorageVolume, StorageVolumeContentType, StorageVolumePost, StorageVolumePostTarget,
    StorageVolumePut, StorageVolumeSnapshot, StorageVolumeSnapshotPost, StorageVolumeSnapshotPut,
    StorageVolumeSnapshotsPost, StorageVolumeSource, StorageVolumeState, StorageVolumeStateUsage,
    StorageVolumeType, StorageVolumesPost,
};
pub use warning::{Warning, WarningPut, WarningSeverity, WarningStatus};

/// Re-exported so users can name the `extra` maps' types without depending on `serde_json`.
pub use serde_json::{Map, Value};

/// Runs the README's example as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
