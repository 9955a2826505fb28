//! How a network or storage pool write answers: at once (LXD 5.0, Incus), or, for the LXD 6
//! flavor, with a background operation that does the work and can fail
//! (`storage_and_network_operations`, LXD 6.8+).
//!
//! The handlers run LXD's quick checks (names, ETags, 404s, conflicts LXD 6.9 still answers
//! synchronously) before they come here; `work` is what LXD 6.9 runs inside the operation,
//! so a refusal there is a 400/409 on the older servers and a failed operation on LXD 6.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::http::{ApiError, ApiResult, Reply, Req};
use crate::operations::OpSpec;
use crate::server::Inner;
use lxd_proto::{EventLifecycleRequestor, LifecycleAction};

/// An operation's description and the URLs its metadata names (`entity_url`, and
/// `original_entity_url` on renames), as LXD 6.9 fills them (`operations.go`).
pub(crate) struct WriteOp {
    description: &'static str,
    project: String,
    metadata: Map<String, Value>,
}

impl WriteOp {
    /// An operation of `description` ("Creating network", ...) in the request's project,
    /// acting on the entity at `entity_url`.
    pub(crate) fn new(description: &'static str, req: &Req, entity_url: &str) -> WriteOp {
        let mut metadata = Map::new();
        metadata.insert("entity_url".into(), Value::String(entity_url.to_string()));
        WriteOp {
            description,
            project: req.project(),
            metadata,
        }
    }

    /// A rename's: the entity's URL before it (`entity_url` is the one after).
    pub(crate) fn renamed_from(mut self, original_entity_url: &str) -> WriteOp {
        self.metadata.insert(
            "original_entity_url".into(),
            Value::String(original_entity_url.to_string()),
        );
        self
    }
}

/// A lifecycle event to send once a write's work is done: its project, source and
/// requestor, taken from the request.
pub(crate) struct Lifecycle {
    project: String,
    source: String,
    requestor: EventLifecycleRequestor,
}

impl Lifecycle {
    pub(crate) fn new(req: &Req, source: &str) -> Lifecycle {
        Lifecycle {
            project: req.project(),
            source: source.to_string(),
            requestor: req.requestor(),
        }
    }

    /// For a server-wide entity (a storage pool): LXD sends its events to `default`.
    pub(crate) fn global(mut self) -> Lifecycle {
        self.project = "default".into();
        self
    }

    pub(crate) fn send(self, inner: &Inner, action: LifecycleAction, context: Map<String, Value>) {
        inner.events.lifecycle(
            &self.project,
            action,
            self.source,
            context,
            Some(self.requestor),
        );
    }
}

/// Runs `work` and answers `done`, or, where the flavor answers these writes with an
/// operation, starts `work` as that operation and answers 202 with it.
pub(crate) fn answer<W>(
    inner: &Arc<Inner>,
    req: &Req,
    op: WriteOp,
    done: Reply,
    work: W,
) -> ApiResult
where
    W: FnOnce() -> Result<(), ApiError> + Send + 'static,
{
    if !inner.flavor.network_and_pool_writes_are_async() {
        work()?;
        return Ok(done);
    }
    let mut spec = OpSpec::task(op.description, &op.project);
    spec.metadata = Some(Value::Object(op.metadata));
    let op = inner.ops.create(spec);
    Ok(inner
        .ops
        .start_api(&op, req.faults.operation.clone(), async move { work() }))
}
