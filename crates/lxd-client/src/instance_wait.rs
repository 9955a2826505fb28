//! Waiting until an instance reaches a status, driven by LXD's event stream (no polling, no
//! sleeping).

use std::time::{Duration, Instant};

use futures::StreamExt;
use lxd_proto::{Event, EventPayload, Instance, StatusCode};
use lxd_transport::tungstenite::Message;

use crate::error::{Error, Result};
use crate::instances::{Instances, instance_path};

/// The events that can change an instance's status: lifecycle events (started, stopped,
/// paused, ...) and finished operations touching it.
const EVENT_TYPES: &str = "lifecycle,operation";
/// How long to wait for LXD's first message on the event websocket, the sign that the
/// listener is registered (LXD upgrades the connection first and registers it after; its
/// first act as a listener is a ping).
const REGISTRATION_WAIT: Duration = Duration::from_secs(5);

impl Instances {
    /// Waits until the instance's status is `status` (e.g. [`StatusCode::RUNNING`],
    /// [`StatusCode::STOPPED`], [`StatusCode::FROZEN`]), at most `deadline`, and returns the
    /// instance as it then is.
    ///
    /// It listens to LXD's events first, then reads the instance, and reads it again only
    /// when an event about it arrives (a lifecycle event naming it, or a finished operation
    /// touching it): no change is missed and nothing is polled. For example, wait for a
    /// container that powers itself off, or for an operation someone else started.
    ///
    /// Past the deadline: [`Error::OperationTimeout`] (`is_timeout()`), whose id names the
    /// wait. A deleted instance ends the wait with `is_not_found()`.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::StatusCode;
    /// use std::time::Duration;
    /// let stopped = client
    ///     .instances()
    ///     .wait_for_status("web", StatusCode::STOPPED, Duration::from_secs(120))
    ///     .await?;
    /// println!("{} stopped at last", stopped.name);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/server/events_get)
    pub async fn wait_for_status(
        &self,
        name: &str,
        status: StatusCode,
        deadline: Duration,
    ) -> Result<Instance> {
        let path = instance_path(name)?;
        let started = Instant::now();
        let wait = async {
            // Listen before looking, so a change between the two cannot be missed: the
            // listener is registered once LXD's first message (a ping) has arrived.
            let mut events = self
                .client
                .websocket("/1.0/events", &[("type", EVENT_TYPES)])
                .await?;
            if let Ok(first) = tokio::time::timeout(REGISTRATION_WAIT, events.next()).await {
                first
                    .ok_or_else(|| {
                        Error::malformed(
                            "GET /1.0/events",
                            "the server closed the event stream",
                            b"",
                        )
                    })?
                    .map_err(|e| Error::Transport(e.into()))?;
            }
            loop {
                let instance = self.get(name).await?;
                if instance.status_code == status {
                    let _ = events.close(None).await;
                    return Ok(instance);
                }
                loop {
                    let message = events
                        .next()
                        .await
                        .ok_or_else(|| {
                            Error::malformed(
                                "GET /1.0/events",
                                "the server closed the event stream",
                                b"",
                            )
                        })?
                        .map_err(|e| Error::Transport(e.into()))?;
                    if concerns(&message, &path) {
                        break;
                    }
                }
            }
        };
        match tokio::time::timeout(deadline, wait).await {
            Ok(result) => result,
            Err(_) => Err(Error::OperationTimeout {
                id: format!("wait for instance {name} to be {status}"),
                waited: started.elapsed(),
            }),
        }
    }
}

/// Whether an event message is about the instance at `path` (`/1.0/instances/<name>`).
fn concerns(message: &Message, path: &str) -> bool {
    let text = match message {
        Message::Text(text) => text.as_bytes(),
        Message::Binary(bytes) => bytes.as_ref(),
        _ => return false,
    };
    // What does not decode as an event is not about us (a newer server's kind of message).
    let Ok(event) = serde_json::from_slice::<Event>(text) else {
        return false;
    };
    let same = |url: &str| url.split(['?', '#']).next() == Some(path);
    match &event.payload {
        EventPayload::Lifecycle(lifecycle) => same(&lifecycle.source),
        EventPayload::Operation(op) => {
            op.is_final() && op.resources_of("instances").iter().any(|u| same(u))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(json: &str) -> Message {
        Message::text(json)
    }

    #[test]
    fn events_about_the_instance() {
        let path = "/1.0/instances/c1";
        let started = r#"{"type":"lifecycle","timestamp":"","metadata":{"action":"instance-started","source":"/1.0/instances/c1?project=p"},"project":"p"}"#;
        assert!(concerns(&text(started), path));
        let other = r#"{"type":"lifecycle","metadata":{"action":"instance-started","source":"/1.0/instances/c10"}}"#;
        assert!(!concerns(&text(other), path));
        let snapshot = r#"{"type":"lifecycle","metadata":{"action":"instance-snapshot-created","source":"/1.0/instances/c1/snapshots/s0"}}"#;
        assert!(!concerns(&text(snapshot), path));
        let done = r#"{"type":"operation","metadata":{"id":"x","status_code":200,"resources":{"instances":["/1.0/instances/c1"]}}}"#;
        assert!(concerns(&text(done), path));
        let running = r#"{"type":"operation","metadata":{"id":"x","status_code":103,"resources":{"instances":["/1.0/instances/c1"]}}}"#;
        assert!(!concerns(&text(running), path));
        assert!(!concerns(&text("not json"), path));
        assert!(!concerns(&Message::Ping(Default::default()), path));
    }
}
