//! Events from `/1.0/events` (a websocket stream of JSON messages).

use crate::Operation;
use crate::string_enum::string_enum;
use crate::util::{last_path_segment, nullable, redact};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;

string_enum! {
    /// Type of an event; also what `/1.0/events?type=...` filters on.
    ///
    /// ```
    /// use lxd_proto::EventType;
    ///
    /// let filter = [EventType::Operation, EventType::Lifecycle]
    ///     .map(|t| t.to_string())
    ///     .join(",");
    /// assert_eq!(filter, "operation,lifecycle");
    /// ```
    pub enum EventType {
        /// Operation created or updated; metadata is an [`Operation`].
        Operation = "operation",
        /// Daemon log record; metadata is a [`LoggingEvent`].
        Logging = "logging",
        /// Something happened to a resource; metadata is a [`LifecycleEvent`].
        Lifecycle = "lifecycle",
    }
}

string_enum! {
    /// The `action` of a lifecycle event: every action LXD 5.0 emits, plus those added by
    /// later LXD releases (marked in the source); anything else is `Other`.
    pub enum LifecycleAction {
        AuthGroupCreated = "auth-group-created",  // newer than 5.0
        AuthGroupDeleted = "auth-group-deleted",  // newer than 5.0
        AuthGroupRenamed = "auth-group-renamed",  // newer than 5.0
        AuthGroupUpdated = "auth-group-updated",  // newer than 5.0
        CertificateCreated = "certificate-created",
        CertificateDeleted = "certificate-deleted",
        CertificateUpdated = "certificate-updated",
        ClusterCertificateUpdated = "cluster-certificate-updated",
        ClusterDisabled = "cluster-disabled",
        ClusterEnabled = "cluster-enabled",
        ClusterGroupCreated = "cluster-group-created",
        ClusterGroupDeleted = "cluster-group-deleted",
        ClusterGroupRenamed = "cluster-group-renamed",
        ClusterGroupUpdated = "cluster-group-updated",
        ClusterLinkCreated = "cluster-link-created",  // newer than 5.0
        ClusterLinkDeleted = "cluster-link-deleted",  // newer than 5.0
        ClusterLinkRenamed = "cluster-link-renamed",  // newer than 5.0
        ClusterLinkUpdated = "cluster-link-updated",  // newer than 5.0
        ClusterMemberAdded = "cluster-member-added",
        ClusterMemberEvacuated = "cluster-member-evacuated",  // newer than 5.0
        ClusterMemberHealed = "cluster-member-healed",  // newer than 5.0
        ClusterMemberRemoved = "cluster-member-removed",
        ClusterMemberRenamed = "cluster-member-renamed",
        ClusterMemberRestored = "cluster-member-restored",  // newer than 5.0
        ClusterMemberUpdated = "cluster-member-updated",
        ClusterTokenCreated = "cluster-token-created",
        ConfigUpdated = "config-updated",
        IdentityCreated = "identity-created",  // newer than 5.0
        IdentityDeleted = "identity-deleted",  // newer than 5.0
        IdentityProviderGroupCreated = "identity-provider-group-created",  // newer than 5.0
        IdentityProviderGroupDeleted = "identity-provider-group-deleted",  // newer than 5.0
        IdentityProviderGroupRenamed = "identity-provider-group-renamed",  // newer than 5.0
        IdentityProviderGroupUpdated = "identity-provider-group-updated",  // newer than 5.0
        IdentityUpdated = "identity-updated",  // newer than 5.0
        ImageAliasCreated = "image-alias-created",
        ImageAliasDeleted = "image-alias-deleted",
        ImageAliasRenamed = "image-alias-renamed",
        ImageAliasUpdated = "image-alias-updated",
        ImageCreated = "image-created",
        ImageDeleted = "image-deleted",
        ImageRefreshed = "image-refreshed",
        ImageRetrieved = "image-retrieved",
        ImageSecretCreated = "image-secret-created",
        ImageUpdated = "image-updated",
        InstanceBackupCreated = "instance-backup-created",
        InstanceBackupDeleted = "instance-backup-deleted",
        InstanceBackupRenamed = "instance-backup-renamed",
        InstanceBackupRetrieved = "instance-backup-retrieved",
        InstanceConsole = "instance-console",
        InstanceConsoleReset = "instance-console-reset",
        InstanceConsoleRetrieved = "instance-console-retrieved",
        InstanceCreated = "instance-created",
        InstanceDeleted = "instance-deleted",
        InstanceExec = "instance-exec",
        InstanceFileDeleted = "instance-file-deleted",
        InstanceFilePushed = "instance-file-pushed",
        InstanceFileRetrieved = "instance-file-retrieved",
        InstanceLogDeleted = "instance-log-deleted",
        InstanceLogRetrieved = "instance-log-retrieved",
        InstanceMetadataRetrieved = "instance-metadata-retrieved",
        InstanceMetadataTemplateCreated = "instance-metadata-template-created",
        InstanceMetadataTemplateDeleted = "instance-metadata-template-deleted",
        InstanceMetadataTemplateRetrieved = "instance-metadata-template-retrieved",
        InstanceMetadataUpdated = "instance-metadata-updated",
        InstanceMigrated = "instance-migrated",  // newer than 5.0
        InstancePaused = "instance-paused",
        InstanceReady = "instance-ready",
        InstanceRenamed = "instance-renamed",
        InstanceRestarted = "instance-restarted",
        InstanceRestored = "instance-restored",
        InstanceResumed = "instance-resumed",
        InstanceShutdown = "instance-shutdown",
        InstanceSnapshotCreated = "instance-snapshot-created",
        InstanceSnapshotDeleted = "instance-snapshot-deleted",
        InstanceSnapshotRenamed = "instance-snapshot-renamed",
        InstanceSnapshotUpdated = "instance-snapshot-updated",
        InstanceStarted = "instance-started",
        InstanceStopped = "instance-stopped",
        InstanceUpdated = "instance-updated",
        NetworkAclCreated = "network-acl-created",
        NetworkAclDeleted = "network-acl-deleted",
        NetworkAclRenamed = "network-acl-renamed",
        NetworkAclUpdated = "network-acl-updated",
        NetworkCreated = "network-created",
        NetworkDeleted = "network-deleted",
        NetworkForwardCreated = "network-forward-created",
        NetworkForwardDeleted = "network-forward-deleted",
        NetworkForwardUpdated = "network-forward-updated",
        NetworkLoadBalancerCreated = "network-load-balancer-created",
        NetworkLoadBalancerDeleted = "network-load-balancer-deleted",
        NetworkLoadBalancerUpdated = "network-load-balancer-updated",
        NetworkPeerCreated = "network-peer-created",
        NetworkPeerDeleted = "network-peer-deleted",
        NetworkPeerUpdated = "network-peer-updated",
        NetworkRenamed = "network-renamed",
        NetworkUpdated = "network-updated",
        NetworkZoneCreated = "network-zone-created",
        NetworkZoneDeleted = "network-zone-deleted",
        NetworkZoneRecordCreated = "network-zone-record-created",
        NetworkZoneRecordDeleted = "network-zone-record-deleted",
        NetworkZoneRecordUpdated = "network-zone-record-updated",
        NetworkZoneUpdated = "network-zone-updated",
        OperationCancelled = "operation-cancelled",
        PlacementGroupCreated = "placement-group-created",  // newer than 5.0
        PlacementGroupDeleted = "placement-group-deleted",  // newer than 5.0
        PlacementGroupRenamed = "placement-group-renamed",  // newer than 5.0
        PlacementGroupUpdated = "placement-group-updated",  // newer than 5.0
        ProfileCreated = "profile-created",
        ProfileDeleted = "profile-deleted",
        ProfileRenamed = "profile-renamed",
        ProfileUpdated = "profile-updated",
        ProjectCreated = "project-created",
        ProjectDeleted = "project-deleted",
        ProjectRenamed = "project-renamed",
        ProjectUpdated = "project-updated",
        ReplicatorCreated = "replicator-created",  // newer than 5.0
        ReplicatorDeleted = "replicator-deleted",  // newer than 5.0
        ReplicatorRenamed = "replicator-renamed",  // newer than 5.0
        ReplicatorRun = "replicator-run",  // newer than 5.0
        ReplicatorUpdated = "replicator-updated",  // newer than 5.0
        StorageBucketCreated = "storage-bucket-created",
        StorageBucketDeleted = "storage-bucket-deleted",
        StorageBucketKeyCreated = "storage-bucket-key-created",
        StorageBucketKeyDeleted = "storage-bucket-key-deleted",
        StorageBucketKeyUpdated = "storage-bucket-key-updated",
        StorageBucketUpdated = "storage-bucket-updated",
        StoragePoolCreated = "storage-pool-created",
        StoragePoolDeleted = "storage-pool-deleted",
        StoragePoolUpdated = "storage-pool-updated",
        StorageVolumeBackupCreated = "storage-volume-backup-created",
        StorageVolumeBackupDeleted = "storage-volume-backup-deleted",
        StorageVolumeBackupRenamed = "storage-volume-backup-renamed",
        StorageVolumeBackupRetrieved = "storage-volume-backup-retrieved",
        StorageVolumeCreated = "storage-volume-created",
        StorageVolumeDeleted = "storage-volume-deleted",
        StorageVolumeRenamed = "storage-volume-renamed",
        StorageVolumeRestored = "storage-volume-restored",
        StorageVolumeSnapshotCreated = "storage-volume-snapshot-created",
        StorageVolumeSnapshotDeleted = "storage-volume-snapshot-deleted",
        StorageVolumeSnapshotRenamed = "storage-volume-snapshot-renamed",
        StorageVolumeSnapshotUpdated = "storage-volume-snapshot-updated",
        StorageVolumeUpdated = "storage-volume-updated",
        WarningAcknowledged = "warning-acknowledged",
        WarningDeleted = "warning-deleted",
        WarningReset = "warning-reset",
    }
}

/// One message of the `/1.0/events` stream.
///
/// `metadata` is decoded according to `type` into [`EventPayload`]. A stream must not die on
/// one odd message, so an event whose known type carries metadata this crate cannot decode
/// is kept as [`EventPayload::Other`] (with its type and raw metadata) instead of failing;
/// only a message that is not a JSON object fails to decode.
///
/// ```
/// use lxd_proto::{Event, EventPayload, LifecycleAction};
///
/// let event: Event = serde_json::from_str(r#"{"type":"lifecycle",
///     "timestamp":"2026-11-27T01:30:35.106561503Z",
///     "metadata":{"action":"instance-started","source":"/1.0/instances/fx-c4",
///         "requestor":{"username":"root","protocol":"unix","address":"@"}},
///     "location":"none","project":"default"}"#).unwrap();
/// let EventPayload::Lifecycle(lifecycle) = &event.payload else { panic!("not lifecycle") };
/// assert_eq!(lifecycle.action, LifecycleAction::InstanceStarted);
/// assert_eq!(lifecycle.resource_name().as_deref(), Some("fx-c4"));
/// assert_eq!(event.project, "default");
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Event {
    /// When the event happened (RFC 3339).
    pub timestamp: String,
    /// Cluster member it happened on ("none" when not clustered); not written when empty.
    pub location: String,
    /// Project it happened in (operation and lifecycle events); not written when empty.
    pub project: String,
    /// `type` and `metadata`, decoded.
    pub payload: EventPayload,
    /// Fields this crate does not know, kept and written back.
    pub extra: Map<String, Value>,
}

impl Event {
    /// The `type` of the event.
    ///
    /// ```
    /// use lxd_proto::{Event, EventType};
    ///
    /// let event: Event = serde_json::from_str(r#"{"type": "logging",
    ///     "timestamp": "2026-11-27T01:30:35Z", "location": "none",
    ///     "metadata": {"message": "Started instance", "level": "info",
    ///                  "context": {"instance": "c1"}}}"#).unwrap();
    /// assert_eq!(event.event_type(), EventType::Logging);
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/server/events_get)
    pub fn event_type(&self) -> EventType {
        self.payload.event_type()
    }
}

/// The `type` and `metadata` of an [`Event`].
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub enum EventPayload {
    /// `operation`: an operation was created or changed.
    Operation(Box<Operation>),
    /// `logging`: a daemon log record.
    Logging(LoggingEvent),
    /// `lifecycle`: a resource was created, started, updated, ...
    Lifecycle(LifecycleEvent),
    /// An event type this crate does not know, or a known type whose metadata did not decode.
    Other {
        /// The `type` string as sent.
        event_type: String,
        /// The raw metadata.
        metadata: Value,
    },
}

impl Default for EventPayload {
    fn default() -> Self {
        Self::Other {
            event_type: String::new(),
            metadata: Value::Null,
        }
    }
}

impl EventPayload {
    /// The `type` of the event.
    ///
    /// Also the type of a payload that did not decode.
    ///
    /// ```
    /// use lxd_proto::{EventPayload, EventType};
    /// use serde_json::json;
    ///
    /// let payload = EventPayload::from_parts("ovn", json!({"name": "uplink"}));
    /// assert_eq!(payload.event_type(), EventType::Other("ovn".into()));
    /// assert!(!payload.event_type().is_known());
    /// ```
    pub fn event_type(&self) -> EventType {
        match self {
            Self::Operation(_) => EventType::Operation,
            Self::Logging(_) => EventType::Logging,
            Self::Lifecycle(_) => EventType::Lifecycle,
            Self::Other { event_type, .. } => EventType::from(event_type.as_str()),
        }
    }

    /// Decodes `metadata` by `event_type`, falling back to `Other` (see [`Event`]).
    ///
    /// ```
    /// use lxd_proto::EventPayload;
    /// use serde_json::json;
    ///
    /// let payload = EventPayload::from_parts(
    ///     "lifecycle",
    ///     json!({"action": "instance-deleted", "source": "/1.0/instances/c1"}),
    /// );
    /// assert!(matches!(payload, EventPayload::Lifecycle(_)));
    ///
    /// // A known type with metadata of the wrong shape is kept raw rather than lost.
    /// let odd = EventPayload::from_parts("operation", json!("not an object"));
    /// let EventPayload::Other { metadata, .. } = odd else { panic!("decoded") };
    /// assert_eq!(metadata, "not an object");
    /// ```
    pub fn from_parts(event_type: &str, metadata: Value) -> Self {
        // Decode from a reference so the raw value is still there for the fallback.
        let decoded = match EventType::from(event_type) {
            EventType::Operation => Operation::deserialize(&metadata)
                .map(|op| Self::Operation(Box::new(op)))
                .ok(),
            EventType::Logging => LoggingEvent::deserialize(&metadata).map(Self::Logging).ok(),
            EventType::Lifecycle => LifecycleEvent::deserialize(&metadata)
                .map(Self::Lifecycle)
                .ok(),
            EventType::Other(_) => None,
        };
        decoded.unwrap_or_else(|| Self::Other {
            event_type: event_type.to_owned(),
            metadata,
        })
    }
}

impl fmt::Debug for EventPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Operation(op) => f.debug_tuple("Operation").field(op).finish(),
            Self::Logging(log) => f.debug_tuple("Logging").field(log).finish(),
            Self::Lifecycle(lifecycle) => f.debug_tuple("Lifecycle").field(lifecycle).finish(),
            // Raw metadata may be an operation carrying secrets.
            Self::Other {
                event_type,
                metadata,
            } => f
                .debug_struct("Other")
                .field("event_type", event_type)
                .field("metadata", &redact(metadata))
                .finish(),
        }
    }
}

/// The wire form of an event, for decoding.
#[derive(Deserialize)]
struct WireEvent {
    #[serde(rename = "type", default)]
    event_type: String,
    #[serde(default)]
    timestamp: String,
    #[serde(default)]
    metadata: Value,
    #[serde(default)]
    location: String,
    #[serde(default)]
    project: String,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

/// The wire form of an event, for encoding (borrows, to avoid cloning the payload).
#[derive(Serialize)]
struct WireEventRef<'a> {
    #[serde(rename = "type")]
    event_type: &'a str,
    timestamp: &'a str,
    metadata: MetadataRef<'a>,
    // Go: `json:"location,omitempty"`, `json:"project,omitempty"`.
    #[serde(skip_serializing_if = "str::is_empty")]
    location: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    project: &'a str,
    #[serde(flatten)]
    extra: &'a Map<String, Value>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum MetadataRef<'a> {
    Operation(&'a Operation),
    Logging(&'a LoggingEvent),
    Lifecycle(&'a LifecycleEvent),
    Other(&'a Value),
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = WireEvent::deserialize(deserializer)?;
        Ok(Self {
            timestamp: wire.timestamp,
            location: wire.location,
            project: wire.project,
            payload: EventPayload::from_parts(&wire.event_type, wire.metadata),
            extra: wire.extra,
        })
    }
}

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (event_type, metadata) = match &self.payload {
            EventPayload::Operation(op) => ("operation", MetadataRef::Operation(op)),
            EventPayload::Logging(log) => ("logging", MetadataRef::Logging(log)),
            EventPayload::Lifecycle(lifecycle) => ("lifecycle", MetadataRef::Lifecycle(lifecycle)),
            EventPayload::Other {
                event_type,
                metadata,
            } => (event_type.as_str(), MetadataRef::Other(metadata)),
        };
        WireEventRef {
            event_type,
            timestamp: &self.timestamp,
            metadata,
            location: &self.location,
            project: &self.project,
            extra: &self.extra,
        }
        .serialize(serializer)
    }
}

/// Metadata of a `logging` event: one daemon log record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoggingEvent {
    /// The message.
    pub message: String,
    /// Level: `debug`, `info`, `warn`, `error`, `crit`.
    pub level: String,
    /// Key/value context of the record.
    #[serde(deserialize_with = "nullable")]
    pub context: BTreeMap<String, String>,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Metadata of a `lifecycle` event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LifecycleEvent {
    /// What happened.
    pub action: LifecycleAction,
    /// URL of the resource, e.g. `/1.0/instances/c1` (with `?project=` outside the default
    /// project); see [`LifecycleEvent::resource_name`].
    pub source: String,
    /// Action-specific details, e.g. `{"old_name": "c1"}` for renames, `{"command": [...]}`
    /// for exec. Not written when empty.
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Map::is_empty")]
    pub context: Map<String, Value>,
    /// Who asked for it, when the action came from an API request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requestor: Option<EventLifecycleRequestor>,
    /// Resource name (newer LXD); not written when empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Project (newer LXD); not written when empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub project: String,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl LifecycleEvent {
    /// The name of the resource: `name` when the server sends it, else the last segment of
    /// `source` (without `?project=...`, `%XX` decoded). For snapshots this is the snapshot
    /// name.
    ///
    /// ```
    /// use lxd_proto::LifecycleEvent;
    ///
    /// // A snapshot created in project `ci` (LXD 5.0 sends no `name`).
    /// let event: LifecycleEvent = serde_json::from_str(r#"{"action": "instance-snapshot-created",
    ///     "source": "/1.0/instances/web/snapshots/before%20upgrade?project=ci"}"#).unwrap();
    /// assert_eq!(event.resource_name().as_deref(), Some("before upgrade"));
    /// ```
    pub fn resource_name(&self) -> Option<String> {
        if !self.name.is_empty() {
            return Some(self.name.clone());
        }
        last_path_segment(&self.source)
    }
}

/// `requestor` of a lifecycle event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EventLifecycleRequestor {
    /// User name (`root` over the unix socket, a certificate fingerprint over HTTPS).
    pub username: String,
    /// `unix`, `tls`, `candid`, ...
    pub protocol: String,
    /// Client address (`@` for the unix socket).
    pub address: String,
    /// Fields this crate does not know, kept and written back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_event_type_round_trips() {
        let wire = json!({
            "type": "ovn",
            "timestamp": "2026-11-27T01:30:35Z",
            "metadata": {"anything": [1, 2]},
            "location": "member1",
            "newer": true
        });
        let event: Event = serde_json::from_value(wire.clone()).unwrap();
        assert_eq!(event.event_type(), EventType::Other("ovn".into()));
        assert!(
            matches!(&event.payload, EventPayload::Other { event_type, .. } if event_type == "ovn")
        );
        assert_eq!(event.extra["newer"], json!(true));
        assert_eq!(serde_json::to_value(&event).unwrap(), wire);
    }

    #[test]
    fn undecodable_known_payload_is_kept_as_other() {
        let wire = json!({
            "type": "logging",
            "timestamp": "t",
            "metadata": {"message": 42, "level": "info", "context": {}}
        });
        let event: Event = serde_json::from_value(wire.clone()).unwrap();
        assert_eq!(event.event_type(), EventType::Logging);
        assert!(matches!(event.payload, EventPayload::Other { .. }));
        assert_eq!(serde_json::to_value(&event).unwrap(), wire);
    }

    #[test]
    fn lifecycle_unknown_action_and_fields_round_trip() {
        let wire = json!({
            "type": "lifecycle",
            "timestamp": "t",
            "metadata": {
                "action": "instance-teleported",
                "source": "/1.0/instances/a%2Fb?project=p",
                "name": "",
                "brand_new": {"x": 1}
            },
            "project": "p"
        });
        let event: Event = serde_json::from_value(wire.clone()).unwrap();
        let EventPayload::Lifecycle(lifecycle) = &event.payload else {
            panic!("{event:?}")
        };
        assert_eq!(
            lifecycle.action,
            LifecycleAction::Other("instance-teleported".into())
        );
        assert_eq!(lifecycle.resource_name().as_deref(), Some("a/b"));
        assert_eq!(lifecycle.extra["brand_new"], json!({"x": 1}));
        // `name` is omitempty in LXD: the empty one is dropped, everything else is kept.
        let mut expected = wire;
        expected["metadata"].as_object_mut().unwrap().remove("name");
        assert_eq!(serde_json::to_value(&event).unwrap(), expected);
    }

    #[test]
    fn non_object_event_is_an_error() {
        assert!(serde_json::from_str::<Event>("[1,2]").is_err());
    }

    #[test]
    fn other_payload_debug_is_redacted() {
        let payload = EventPayload::from_parts(
            "operation",
            json!({"status_code": "not a number", "metadata": {"secret": "tok"}}),
        );
        assert!(matches!(payload, EventPayload::Other { .. }));
        let debug = format!("{payload:?}");
        assert!(!debug.contains("tok"), "{debug}");
    }

    #[test]
    fn action_strings() {
        assert_eq!(
            LifecycleAction::from("instance-created"),
            LifecycleAction::InstanceCreated
        );
        assert_eq!(
            LifecycleAction::NetworkAclCreated.as_str(),
            "network-acl-created"
        );
        assert_eq!(
            LifecycleAction::StorageVolumeSnapshotUpdated.to_string(),
            "storage-volume-snapshot-updated"
        );
    }
}
