//! Background operations, as LXD runs them: created Pending, started Running, finished
//! Success, Failure or Cancelled; an `operation` event at every change; removed a while after
//! they finish (5 s in LXD, configurable here).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::upgrade::OnUpgrade;
use lxd_proto::{EventPayload, OperationClass, StatusCode};
use serde_json::{Map, Value};
use tokio::sync::watch;

use crate::events::Events;
use crate::faults::OperationFault;
use crate::http::{ApiError, Reply};
use crate::util;

/// Accepts the websocket connections of a websocket-class operation (exec).
pub(crate) trait WebsocketConnect: Send + Sync {
    /// Takes the connection for the channel whose secret is `secret`; `Err` (403, 400) when
    /// the secret is unknown or the channel is connected already. On `Ok` the caller answers
    /// 101 and the connection arrives through `upgrade`.
    fn connect(&self, secret: &str, upgrade: OnUpgrade) -> Result<(), ApiError>;
}

/// What to create.
pub(crate) struct OpSpec {
    pub(crate) class: OperationClass,
    pub(crate) description: String,
    pub(crate) project: String,
    /// Resource kind (`instances`, `containers`, ...) to names, rendered `/1.0/<kind>/<name>`.
    pub(crate) resources: Option<BTreeMap<String, Vec<String>>>,
    pub(crate) metadata: Option<Value>,
    pub(crate) may_cancel: bool,
    pub(crate) websockets: Option<Arc<dyn WebsocketConnect>>,
}

impl OpSpec {
    /// A task.
    pub(crate) fn task(description: &str, project: &str) -> OpSpec {
        OpSpec {
            class: OperationClass::Task,
            description: description.to_string(),
            project: project.to_string(),
            resources: None,
            metadata: None,
            may_cancel: false,
            websockets: None,
        }
    }

    /// Adds a resource (`kind` such as `instances`, `name` such as `c1` or `c1/snap0`).
    pub(crate) fn resource(mut self, kind: &str, name: &str) -> OpSpec {
        self.resources
            .get_or_insert_with(BTreeMap::new)
            .entry(kind.to_string())
            .or_default()
            .push(name.to_string());
        self
    }

    /// An instance resource: `instances`, plus `containers` for containers (LXD lists both).
    pub(crate) fn instance(self, name: &str, container: bool) -> OpSpec {
        let spec = self.resource("instances", name);
        if container {
            spec.resource("containers", name)
        } else {
            spec
        }
    }
}

struct OpInner {
    status: StatusCode,
    metadata: Option<Value>,
    err: String,
    /// The HTTP status of the failure (LXD's `err_code`): 0 until the operation fails, then
    /// the status the failing work gave, or 500 when it gave none (as LXD does).
    err_code: u16,
    updated_at: String,
    may_cancel: bool,
}

/// One operation.
pub(crate) struct Op {
    pub(crate) id: String,
    pub(crate) class: OperationClass,
    pub(crate) project: String,
    description: String,
    created_at: String,
    resources: Option<BTreeMap<String, Vec<String>>>,
    location: String,
    /// Whether `err_code` is shown (the flavor's `operations_carry_err_code`).
    err_codes: bool,
    inner: Mutex<OpInner>,
    done: watch::Sender<bool>,
    cancelled: watch::Sender<bool>,
    pub(crate) websockets: Option<Arc<dyn WebsocketConnect>>,
    events: Arc<Events>,
}

impl Op {
    /// `/1.0/operations/<id>`.
    pub(crate) fn url(&self) -> String {
        format!("/1.0/operations/{}", self.id)
    }

    /// The operation as the API shows it.
    pub(crate) fn render(&self) -> lxd_proto::Operation {
        let inner = self.inner.lock().expect("operation lock");
        lxd_proto::Operation {
            id: self.id.clone(),
            class: self.class.clone(),
            description: self.description.clone(),
            created_at: self.created_at.clone(),
            updated_at: inner.updated_at.clone(),
            status: inner.status.name().unwrap_or_default().to_string(),
            status_code: inner.status,
            resources: self.resources.clone(),
            metadata: inner.metadata.clone(),
            may_cancel: inner.may_cancel,
            err: inner.err.clone(),
            location: self.location.clone(),
            extra: if self.err_codes {
                Map::from_iter([("err_code".to_string(), Value::from(inner.err_code))])
            } else {
                Map::new()
            },
        }
    }

    /// Records the HTTP status the failure about to be reported carries.
    fn set_err_code(&self, status: u16) {
        self.inner.lock().expect("operation lock").err_code = status;
    }

    pub(crate) fn status(&self) -> StatusCode {
        self.inner.lock().expect("operation lock").status
    }

    /// The metadata (for token secrets).
    pub(crate) fn metadata(&self) -> Option<Value> {
        self.inner.lock().expect("operation lock").metadata.clone()
    }

    fn send_event(&self) {
        self.events.send(
            &self.project,
            EventPayload::Operation(Box::new(self.render())),
        );
    }

    fn set_status(&self, status: StatusCode, err: Option<String>) {
        {
            let mut inner = self.inner.lock().expect("operation lock");
            // LXD leaves `updated_at` alone on status changes (only metadata and resource
            // updates move it).
            inner.status = status;
            if let Some(err) = err {
                inner.err = err;
            }
            if status == StatusCode::FAILURE && inner.err_code == 0 {
                inner.err_code = 500;
            }
            if status.is_final() {
                inner.may_cancel = false;
            }
        }
        self.send_event();
    }

    /// Merges keys into the metadata (LXD's `ExtendMetadata`); ignored once final.
    pub(crate) fn extend_metadata(&self, extra: Map<String, Value>) {
        {
            let mut inner = self.inner.lock().expect("operation lock");
            if inner.status.is_final() {
                return;
            }
            let metadata = inner
                .metadata
                .get_or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(map) = metadata {
                map.extend(extra);
            }
            inner.updated_at = util::now();
        }
        self.send_event();
    }

    /// Waits until the operation is final or `timeout` passes.
    pub(crate) async fn wait(&self, timeout: Option<Duration>) {
        let mut rx = self.done.subscribe();
        let finished = rx.wait_for(|done| *done);
        match timeout {
            Some(limit) => {
                let _ = tokio::time::timeout(limit, finished).await;
            }
            None => {
                let _ = finished.await;
            }
        }
    }

    /// Resolves when the operation is cancelled.
    pub(crate) async fn cancelled(&self) {
        let mut rx = self.cancelled.subscribe();
        let _ = rx.wait_for(|c| *c).await;
    }

    /// Whether it is final.
    pub(crate) fn is_final(&self) -> bool {
        self.status().is_final()
    }
}

/// All operations of a server.
pub(crate) struct Operations {
    ops: Mutex<Vec<Arc<Op>>>,
    events: Arc<Events>,
    expiry: Duration,
    location: Mutex<String>,
    /// Whether operations show `err_code`.
    err_codes: bool,
    /// Becomes true when the server stops: running work is abandoned.
    shutdown: watch::Receiver<bool>,
}

impl Operations {
    pub(crate) fn new(
        events: Arc<Events>,
        expiry: Duration,
        location: &str,
        err_codes: bool,
        shutdown: watch::Receiver<bool>,
    ) -> Operations {
        Operations {
            ops: Mutex::new(Vec::new()),
            events,
            expiry,
            location: Mutex::new(location.to_string()),
            err_codes,
            shutdown,
        }
    }

    pub(crate) fn set_location(&self, location: &str) {
        *self.location.lock().expect("operations lock") = location.to_string();
    }

    /// Creates an operation (Pending) and announces it.
    pub(crate) fn create(&self, spec: OpSpec) -> Arc<Op> {
        let now = util::now();
        let resources = spec.resources.map(|resources| {
            resources
                .into_iter()
                .map(|(kind, names)| {
                    let urls = names
                        .iter()
                        .map(|name| format!("/1.0/{kind}/{name}"))
                        .collect();
                    (kind, urls)
                })
                .collect()
        });
        let op = Arc::new(Op {
            id: util::uuid(),
            class: spec.class,
            project: spec.project,
            description: spec.description,
            created_at: now.clone(),
            resources,
            location: self.location.lock().expect("operations lock").clone(),
            err_codes: self.err_codes,
            inner: Mutex::new(OpInner {
                status: StatusCode::PENDING,
                metadata: spec.metadata,
                err: String::new(),
                err_code: 0,
                updated_at: now,
                may_cancel: spec.may_cancel,
            }),
            done: watch::Sender::new(false),
            cancelled: watch::Sender::new(false),
            websockets: spec.websockets,
            events: self.events.clone(),
        });
        self.ops.lock().expect("operations lock").push(op.clone());
        op.send_event();
        op
    }

    pub(crate) fn get(&self, id: &str) -> Option<Arc<Op>> {
        self.ops
            .lock()
            .expect("operations lock")
            .iter()
            .find(|op| op.id == id)
            .cloned()
    }

    /// Operations of `project` (and those without a project), newest last.
    pub(crate) fn list(&self, project: &str) -> Vec<Arc<Op>> {
        self.ops
            .lock()
            .expect("operations lock")
            .iter()
            .filter(|op| op.project.is_empty() || op.project == project)
            .cloned()
            .collect()
    }

    /// Every operation.
    pub(crate) fn all(&self) -> Vec<Arc<Op>> {
        self.ops.lock().expect("operations lock").clone()
    }

    /// Starts `op` running `work` (unless a fault says otherwise) and returns the async reply
    /// showing it Running, taken before the work can finish.
    pub(crate) fn start<F>(
        self: &Arc<Self>,
        op: &Arc<Op>,
        fault: Option<OperationFault>,
        work: F,
    ) -> Reply
    where
        F: Future<Output = Result<(), String>> + Send + 'static,
    {
        if fault == Some(OperationFault::Stall) {
            op.inner.lock().expect("operation lock").may_cancel = true;
        }
        op.set_status(StatusCode::RUNNING, None);
        let reply = Reply::Async {
            url: op.url(),
            operation: op.render(),
        };
        let ops = self.clone();
        let task_op = op.clone();
        let mut shutdown = self.shutdown.clone();
        let task = async move {
            let op = task_op;
            let stopped = async move {
                let _ = shutdown.wait_for(|stopped| *stopped).await;
            };
            let outcome = match fault {
                Some(OperationFault::Stall) => {
                    tokio::select! {
                        _ = op.cancelled() => {}
                        _ = stopped => {}
                    }
                    return;
                }
                Some(OperationFault::Fail(message)) => Err(message),
                None => {
                    tokio::select! {
                        outcome = work => outcome,
                        _ = op.cancelled() => return,
                        _ = stopped => return,
                    }
                }
            };
            ops.finish(&op, outcome);
        };
        // LXD starts the work before it answers, and quick work is over by the time the
        // client asks again: run it here as far as it goes without waiting, and leave only
        // what waits (websockets, timers, stalls) to a task. The reply above still shows the
        // operation Running, as LXD's does.
        let mut task = Box::pin(task);
        let mut context = std::task::Context::from_waker(futures::task::noop_waker_ref());
        if task.as_mut().poll(&mut context).is_pending() {
            tokio::spawn(task);
        }
        reply
    }

    /// [`start`](Self::start) for work that fails with an [`ApiError`]: its message becomes
    /// the operation's `err`, its status the `err_code`.
    pub(crate) fn start_api<F>(
        self: &Arc<Self>,
        op: &Arc<Op>,
        fault: Option<OperationFault>,
        work: F,
    ) -> Reply
    where
        F: Future<Output = Result<(), ApiError>> + Send + 'static,
    {
        let failing = op.clone();
        self.start(op, fault, async move {
            work.await.map_err(|e| {
                failing.set_err_code(e.status);
                e.message
            })
        })
    }

    /// Starts a token operation: Running until used, cancelled or expired.
    pub(crate) fn start_token(&self, op: &Arc<Op>) -> Reply {
        op.set_status(StatusCode::RUNNING, None);
        Reply::Async {
            url: op.url(),
            operation: op.render(),
        }
    }

    /// Ends `op` with `outcome` (no-op if it is final already).
    pub(crate) fn finish(self: &Arc<Self>, op: &Arc<Op>, outcome: Result<(), String>) {
        if op.is_final() {
            return;
        }
        match outcome {
            Ok(()) => op.set_status(StatusCode::SUCCESS, None),
            Err(err) => op.set_status(StatusCode::FAILURE, Some(err)),
        }
        self.retire(op);
    }

    /// Cancels `op` the way `DELETE /1.0/operations/<id>` does.
    pub(crate) fn cancel(self: &Arc<Self>, op: &Arc<Op>) -> Result<(), String> {
        {
            let inner = op.inner.lock().expect("operation lock");
            if inner.status != StatusCode::RUNNING {
                return Err("Only running operations can be cancelled".into());
            }
            if !inner.may_cancel {
                return Err("This operation can't be cancelled".into());
            }
        }
        op.set_status(StatusCode::CANCELLING, None);
        op.cancelled.send_replace(true);
        op.set_status(StatusCode::CANCELLED, None);
        self.retire(op);
        Ok(())
    }

    /// Marks `op` done and removes it after the expiry.
    fn retire(self: &Arc<Self>, op: &Arc<Op>) {
        op.done.send_replace(true);
        let ops = self.clone();
        let id = op.id.clone();
        let expiry = self.expiry;
        let mut shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = tokio::time::sleep(expiry) => {}
                _ = shutdown.wait_for(|stopped| *stopped) => return,
            }
            ops.ops
                .lock()
                .expect("operations lock")
                .retain(|op| op.id != id);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry() -> Arc<Operations> {
        let (tx, rx) = watch::channel(false);
        std::mem::forget(tx);
        Arc::new(Operations::new(
            Arc::new(Events::new("none")),
            Duration::from_millis(50),
            "none",
            true,
            rx,
        ))
    }

    #[tokio::test]
    async fn task_runs_to_success_and_expires() {
        let ops = registry();
        let op = ops.create(OpSpec::task("Creating instance", "default").instance("c1", true));
        let reply = ops.start(&op, None, async { Ok(()) });
        let Reply::Async { url, operation } = reply else {
            panic!("not async")
        };
        assert_eq!(url, format!("/1.0/operations/{}", op.id));
        assert_eq!(operation.status_code, StatusCode::RUNNING);
        assert_eq!(operation.resources_of("containers"), ["/1.0/containers/c1"]);
        op.wait(None).await;
        assert_eq!(op.status(), StatusCode::SUCCESS);
        assert!(ops.get(&op.id).is_some());
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(ops.get(&op.id).is_none(), "expired operations go away");
    }

    #[tokio::test]
    async fn failure_stall_and_cancel() {
        let ops = registry();
        let failing = ops.create(OpSpec::task("x", "default"));
        ops.start(&failing, Some(OperationFault::Fail("boom".into())), async {
            Ok(())
        });
        failing.wait(Some(Duration::from_secs(5))).await;
        assert_eq!(failing.render().err, "boom");
        assert_eq!(failing.render().extra["err_code"], 500, "no status given");

        let refused = ops.create(OpSpec::task("x", "default"));
        assert_eq!(refused.render().extra["err_code"], 0);
        ops.start_api(&refused, None, async {
            Err(ApiError::bad_request("The network already exists"))
        });
        refused.wait(Some(Duration::from_secs(5))).await;
        assert_eq!(refused.status(), StatusCode::FAILURE);
        assert_eq!(refused.render().err, "The network already exists");
        assert_eq!(refused.render().extra["err_code"], 400);

        let stalled = ops.create(OpSpec::task("x", "default"));
        ops.start(&stalled, Some(OperationFault::Stall), async { Ok(()) });
        stalled.wait(Some(Duration::from_millis(50))).await;
        assert_eq!(stalled.status(), StatusCode::RUNNING);
        assert!(stalled.render().may_cancel);
        ops.cancel(&stalled).unwrap();
        assert_eq!(stalled.status(), StatusCode::CANCELLED);
        assert_eq!(
            ops.cancel(&stalled).unwrap_err(),
            "Only running operations can be cancelled"
        );

        let plain = ops.create(OpSpec::task("x", "default"));
        ops.start(&plain, None, std::future::pending());
        assert_eq!(
            ops.cancel(&plain).unwrap_err(),
            "This operation can't be cancelled"
        );
    }
}
