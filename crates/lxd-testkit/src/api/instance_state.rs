//! `/1.0/instances/<name>/state`: the runtime state, and start, stop, restart, freeze and
//! unfreeze with LXD's refusals (as failed operations, like LXD) and lifecycle events.

use std::sync::Arc;

use lxd_proto::{InstanceAction, InstanceStatePut, LifecycleAction};
use serde_json::Map;

use crate::api::instances::{self, not_found, render_state};
use crate::http::{ApiError, ApiResult, Reply, Req};
use crate::operations::OpSpec;
use crate::server::Inner;
use crate::state::Power;
use crate::util;

/// `GET /1.0/instances/<name>/state`.
pub(crate) fn get(inner: &Arc<Inner>, req: &Req, name: &str) -> ApiResult {
    let state = inner.state();
    let rec = state.instance(&req.project(), name).ok_or_else(not_found)?;
    Ok(Reply::json(&render_state(rec)))
}

/// `PUT /1.0/instances` (bulk state change) is not implemented.
pub(crate) fn bulk(_inner: &Arc<Inner>, _req: &Req) -> ApiResult {
    Err(ApiError::not_implemented(
        "lxd-testkit does not implement bulk state changes",
    ))
}

fn description(action: &InstanceAction) -> &'static str {
    match action {
        InstanceAction::Start => "Starting instance",
        InstanceAction::Stop => "Stopping instance",
        InstanceAction::Restart => "Restarting instance",
        InstanceAction::Freeze => "Freezing instance",
        InstanceAction::Unfreeze => "Unfreezing instance",
        _ => "Updating instance",
    }
}

/// A new "pid" for a started instance.
fn fake_pid() -> i64 {
    let hex = util::secret();
    10_000 + i64::from_str_radix(&hex[..4], 16).unwrap_or(0)
}

/// `PUT /1.0/instances/<name>/state`.
pub(crate) fn put(inner: &Arc<Inner>, req: &Req, name: &str) -> ApiResult {
    let put: InstanceStatePut = req.json()?;
    let project = req.project();
    if inner.state().instance(&project, name).is_none() {
        return Err(not_found());
    }
    if !put.action.is_known() {
        return Err(ApiError::bad_request(format!(
            "Unknown action: '{}'",
            put.action
        )));
    }
    // LXD lists only `instances` among a state change's resources.
    let op = inner
        .ops
        .create(OpSpec::task(description(&put.action), &project).resource("instances", name));
    let task_inner = inner.clone();
    let name = name.to_string();
    let requestor = req.requestor();
    Ok(inner
        .ops
        .start(&op, req.faults.operation.clone(), async move {
            change(&task_inner, &project, &name, &put, requestor)
        }))
}

/// Applies a state change; `Err` carries LXD's message for the refusal.
fn change(
    inner: &Arc<Inner>,
    project: &str,
    name: &str,
    put: &InstanceStatePut,
    requestor: lxd_proto::EventLifecycleRequestor,
) -> Result<(), String> {
    let (action, source, ephemeral_stop) = {
        let mut state = inner.state();
        let rec = state
            .instance_mut(project, name)
            .ok_or_else(|| "Instance not found".to_string())?;
        let noun = if rec.is_container() {
            "container"
        } else {
            "instance"
        };
        let action = match put.action {
            InstanceAction::Start => {
                if rec.power != Power::Stopped {
                    return Err("The instance is already running".into());
                }
                if put.stateful {
                    return Err("lxd-testkit does not implement stateful start".into());
                }
                rec.power = Power::Running;
                rec.pid = fake_pid();
                rec.last_used_at = util::now();
                rec.config
                    .insert("volatile.last_state.power".into(), "RUNNING".into());
                LifecycleAction::InstanceStarted
            }
            InstanceAction::Stop => {
                if rec.power == Power::Stopped {
                    return Err("The instance is already stopped".into());
                }
                if put.stateful {
                    return Err("lxd-testkit does not implement stateful stop".into());
                }
                rec.power = Power::Stopped;
                rec.pid = 0;
                rec.config
                    .insert("volatile.last_state.power".into(), "STOPPED".into());
                if put.force {
                    LifecycleAction::InstanceStopped
                } else {
                    LifecycleAction::InstanceShutdown
                }
            }
            InstanceAction::Restart => {
                match rec.power {
                    Power::Stopped => return Err("The instance is already stopped".into()),
                    Power::Frozen => return Err("Instance is not running".into()),
                    Power::Running => {}
                }
                rec.pid = fake_pid();
                rec.last_used_at = util::now();
                LifecycleAction::InstanceRestarted
            }
            InstanceAction::Freeze => {
                match rec.power {
                    Power::Stopped => return Err(format!("The {noun} isn't running")),
                    Power::Frozen => return Err(format!("The {noun} is already frozen")),
                    Power::Running => {}
                }
                rec.power = Power::Frozen;
                LifecycleAction::InstancePaused
            }
            InstanceAction::Unfreeze => {
                match rec.power {
                    Power::Stopped => return Err(format!("The {noun} isn't running")),
                    Power::Running => return Err(format!("The {noun} is already running")),
                    Power::Frozen => {}
                }
                rec.power = Power::Running;
                LifecycleAction::InstanceResumed
            }
            _ => return Err(format!("Unknown action: '{}'", put.action)),
        };
        let ephemeral_stop = rec.ephemeral && rec.power == Power::Stopped;
        (action, instances::url(rec), ephemeral_stop)
    };
    let stopped_or_restarted = matches!(
        action,
        LifecycleAction::InstanceStopped
            | LifecycleAction::InstanceShutdown
            | LifecycleAction::InstanceRestarted
    );
    if stopped_or_restarted {
        // Every process of the instance dies: running exec sessions end.
        let _ = inner.killed.send((project.to_string(), name.to_string()));
    }
    let message = match action {
        LifecycleAction::InstanceStarted => "Started container",
        LifecycleAction::InstanceStopped => "Stopped container",
        LifecycleAction::InstanceShutdown => "Shut down container",
        LifecycleAction::InstanceRestarted => "Restarted container",
        LifecycleAction::InstancePaused => "Froze container",
        _ => "Unfroze container",
    };
    inner.events.log(
        "info",
        message,
        &[
            ("instance", name),
            ("instanceType", "container"),
            ("project", project),
        ],
    );
    inner
        .events
        .lifecycle(project, action, source, Map::new(), Some(requestor));
    if ephemeral_stop && let Some(source) = instances::remove(inner, project, name) {
        inner.events.lifecycle(
            project,
            LifecycleAction::InstanceDeleted,
            source,
            Map::new(),
            None,
        );
    }
    Ok(())
}
