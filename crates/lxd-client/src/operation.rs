//! Operations: LXD's handle on background work (creating, starting, copying...).

use std::time::{Duration, Instant};

use lxd_proto::{OperationProgress, StatusCode};
use lxd_transport::Timeout;
use lxd_transport::http::Method;

use crate::client::{Client, decode_metadata};
use crate::error::{Error, Result};
use crate::events::EventStream;
use crate::path::{segment, validate_segment};

/// An operation running on the server. Drop it and the work still goes on; call
/// [`Operation::wait`] to learn how it ended.
///
/// ```no_run
/// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
/// let op = client.instances().delete("old").await?;
/// let done = op.wait().await?; // an error carrying LXD's message if it failed
/// println!("{} took until {}", done.description, done.updated_at);
/// # Ok(()) }
/// ```
#[must_use = "the operation runs on the server; wait() to learn how it ended"]
#[derive(Debug, Clone)]
pub struct Operation {
    client: Client,
    info: lxd_proto::Operation,
}

/// How long one `/wait` long-poll may last before it is renewed while reporting progress.
const PROGRESS_POLL: Duration = Duration::from_secs(1);
/// Extra time given to a sliced long-poll's HTTP request beyond the slice LXD was asked for.
const SLACK: Duration = Duration::from_secs(10);

impl Operation {
    /// Reads the operation out of an async reply (`type: async`, metadata = the operation).
    pub(crate) fn from_reply(
        client: Client,
        context: &str,
        envelope: lxd_proto::Response,
    ) -> Result<Operation> {
        if envelope.response_type != lxd_proto::ResponseType::Async {
            let text = envelope.metadata.to_string();
            return Err(Error::malformed(
                context,
                "expected an operation (an async reply)",
                text.as_bytes(),
            ));
        }
        let info = with_usable_id(context, decode_metadata(context, envelope)?)?;
        Ok(Operation { client, info })
    }

    /// A handle on an existing operation, by id (fetches it).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let op = lxd_client::Operation::get(&client, "6916c8a6-9b7d-4abd-90b3-aedfec7ec7da").await?;
    /// println!("{}", op.info().status);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/operations/operation_get)
    pub async fn get(client: &Client, id: &str) -> Result<Operation> {
        let info = fetch(client, id).await?;
        Ok(Operation {
            client: client.clone(),
            info,
        })
    }

    /// The operation's id.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::InstanceStatePut;
    /// let op = client.instances().set_state("web", &InstanceStatePut::restart()).await?;
    /// println!("restarting web: operation {}", op.id());
    /// let same = client.operations().get(op.id()).await?;
    /// # drop(same);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/operations/operation_get)
    pub fn id(&self) -> &str {
        &self.info.id
    }

    /// The operation as last seen.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let op = client.instances().delete("old").await?;
    /// let info = op.info();
    /// println!("{} ({}), may cancel: {}", info.description, info.status, info.may_cancel);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/operations/operation_get)
    pub fn info(&self) -> &lxd_proto::Operation {
        &self.info
    }

    /// Progress reported in the operation's metadata, as last seen.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// # let request = lxd_client::proto::InstancesPost::default();
    /// let mut op = client.instances().create(&request).await?;
    /// op.refresh().await?;
    /// if let Some(p) = op.progress() {
    ///     println!("{}: {}", p.stage, p.text); // e.g. "Unpack: 42% (69.57MB/s)"
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/operations/operation_get) (its `metadata`)
    pub fn progress(&self) -> Option<OperationProgress> {
        self.info.progress()
    }

    /// Fetches the operation again.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let mut op = client.instances().delete("old").await?;
    /// println!("{}", op.refresh().await?.status);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/operations/operation_get)
    pub async fn refresh(&mut self) -> Result<&lxd_proto::Operation> {
        self.info = fetch(&self.client, &self.info.id).await?;
        Ok(&self.info)
    }

    /// Asks the server to cancel the operation (LXD refuses for operations that cannot be).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let op = client.instances().delete("big").await?;
    /// op.cancel().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/operations/operation_delete)
    pub async fn cancel(&self) -> Result<()> {
        cancel(&self.client, &self.info.id).await
    }

    /// Waits until the operation ends, without a deadline. Success returns the final
    /// operation; failure and cancellation are errors carrying LXD's message.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let done = client.instances().delete("old").await?.wait().await?;
    /// println!("{}", done.status);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/operations/operation_wait_get)
    pub async fn wait(self) -> Result<lxd_proto::Operation> {
        wait(&self.client, &self.info.id, None, None, |_| {}).await
    }

    /// Waits at most `deadline`; [`Error::OperationTimeout`] if it is still running then.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use std::time::Duration;
    /// let op = client.instances().delete("old").await?;
    /// match op.wait_timeout(Duration::from_secs(60)).await {
    ///     Err(e) if e.is_timeout() => println!("still running"),
    ///     other => {
    ///         other?;
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/operations/operation_wait_get)
    pub async fn wait_timeout(self, deadline: Duration) -> Result<lxd_proto::Operation> {
        wait(&self.client, &self.info.id, Some(deadline), None, |_| {}).await
    }

    /// Waits through an event stream instead of a `/wait` long-poll: many operations can be
    /// awaited over one connection. The stream must carry operation events of this
    /// operation's project (or of all projects). See [`EventStream::wait_operation`].
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::EventType;
    /// let events = client.events().types([EventType::Operation]).connect().await?;
    /// let op = client.instances().delete("old").await?;
    /// op.wait_with_events(&events).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/server/events_get)
    pub async fn wait_with_events(self, events: &EventStream) -> Result<lxd_proto::Operation> {
        events.wait_for(&self.client, &self.info.id).await
    }

    /// Waits, calling `on_update` with the operation about every second while it runs (its
    /// metadata carries the progress LXD reports).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let op = client.instances().delete("old").await?;
    /// op.wait_with_progress(|o| println!("{} {:?}", o.status, o.metadata))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/operations/operation_get)
    pub async fn wait_with_progress(
        self,
        on_update: impl FnMut(&lxd_proto::Operation),
    ) -> Result<lxd_proto::Operation> {
        wait(
            &self.client,
            &self.info.id,
            None,
            Some(PROGRESS_POLL),
            on_update,
        )
        .await
    }
}

pub(crate) async fn fetch(client: &Client, id: &str) -> Result<lxd_proto::Operation> {
    check_id(id)?;
    let path = format!("/1.0/operations/{}", segment(id));
    with_usable_id(&format!("GET {path}"), client.get_json(&path, &[]).await?)
}

/// The operation a server sent, if its id can go into later paths (wait, cancel, websockets);
/// one that cannot is the server's error, reported now rather than as the caller's later.
fn with_usable_id(context: &str, info: lxd_proto::Operation) -> Result<lxd_proto::Operation> {
    match check_id(&info.id) {
        Ok(()) => Ok(info),
        Err(e) => Err(Error::malformed(
            context,
            format!("operation without a usable id ({e})"),
            info.id.as_bytes(),
        )),
    }
}

async fn cancel(client: &Client, id: &str) -> Result<()> {
    check_id(id)?;
    client
        .send::<()>(
            Method::DELETE,
            &format!("/1.0/operations/{}", segment(id)),
            &[],
            None,
        )
        .await?;
    Ok(())
}

/// Operation ids are UUIDs on LXD and Incus, but whatever a server sends is accepted except
/// what cannot be one path segment (empty, `.`, `..`, a `/`): those would send the request to
/// another endpoint (`cancel(".")` went out as `DELETE /1.0/operations/`).
fn check_id(id: &str) -> Result<()> {
    validate_segment("operation id", id)
}

/// Long-polls `/1.0/operations/<id>/wait?timeout=N` until the operation is final. The body is
/// judged, not the HTTP status: LXD answers 200 with a still-running operation when the poll
/// times out. `poll` slices the wait so `on_update` sees the operation while it runs.
async fn wait(
    client: &Client,
    id: &str,
    deadline: Option<Duration>,
    poll: Option<Duration>,
    on_update: impl FnMut(&lxd_proto::Operation),
) -> Result<lxd_proto::Operation> {
    judge(poll_until_final(client, id, deadline, poll, on_update).await?)
}

/// Waits (`/wait` long-polls) until the operation is final and returns it as it ended,
/// without judging: an exec that failed still carries its exit code.
pub(crate) async fn wait_final(client: &Client, id: &str) -> Result<lxd_proto::Operation> {
    poll_until_final(client, id, None, None, |_| {}).await
}

async fn poll_until_final(
    client: &Client,
    id: &str,
    deadline: Option<Duration>,
    poll: Option<Duration>,
    mut on_update: impl FnMut(&lxd_proto::Operation),
) -> Result<lxd_proto::Operation> {
    check_id(id)?;
    let started = Instant::now();
    let path = format!("/1.0/operations/{}/wait", segment(id));
    let context = format!("GET {path}");
    loop {
        let remaining = deadline.map(|d| d.saturating_sub(started.elapsed()));
        if remaining.is_some_and(|r| r.is_zero()) {
            return Err(Error::OperationTimeout {
                id: id.to_string(),
                waited: started.elapsed(),
            });
        }
        let slice = match (remaining, poll) {
            (Some(r), Some(p)) => Some(r.min(p)),
            (r, p) => r.or(p),
        };
        // LXD takes whole seconds; -1 waits until the end. The HTTP request itself gets a
        // little more than the slice, so a server that never answers cannot hang us.
        let (timeout_arg, limit) = match slice {
            Some(s) => {
                let secs = s.as_secs_f64().ceil().max(1.0) as u64;
                (
                    secs.to_string(),
                    Timeout::After(Duration::from_secs(secs) + SLACK),
                )
            }
            None => ("-1".to_string(), Timeout::None),
        };
        let request = client
            .request(Method::GET, &path, &[("timeout", &timeout_arg)])
            .timeout(limit);
        let op: lxd_proto::Operation = match client.execute(request).await {
            Ok(reply) => decode_metadata(&context, reply.envelope)?,
            // Incus answers `/wait` with an error envelope both when the operation failed
            // (its error as the message) and when the wait timed out ("context deadline
            // exceeded"); LXD with the operation itself. The operation says which it is.
            Err(e @ Error::Api { .. }) if !e.is_not_found() => match fetch(client, id).await {
                Ok(op) if op.status_code.is_final() || slice.is_some() => op,
                _ => return Err(e),
            },
            Err(e) => return Err(e),
        };
        if op.status_code.is_final() {
            return Ok(op);
        }
        on_update(&op);
        if slice.is_none() {
            // `-1` returned a running operation: LXD does not do that; do not spin on it.
            return Err(Error::malformed(
                &context,
                format!(
                    "wait without timeout returned a running operation ({})",
                    op.status
                ),
                b"",
            ));
        }
    }
}

/// Turns a final operation into the caller's result.
pub(crate) fn judge(op: lxd_proto::Operation) -> Result<lxd_proto::Operation> {
    match op.status_code {
        StatusCode::SUCCESS => Ok(op),
        StatusCode::CANCELLED => Err(Error::OperationCancelled {
            id: op.id,
            description: op.description,
            message: op.err,
        }),
        code => Err(Error::OperationFailed {
            id: op.id,
            description: op.description,
            message: op.err,
            status_code: code,
        }),
    }
}

/// The operations manager: list, get, wait, cancel by id.
///
/// ```no_run
/// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
/// for op in client.operations().list().await? {
///     println!("{} {} {}", op.id, op.description, op.status);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Operations {
    client: Client,
}

impl Operations {
    pub(crate) fn new(client: Client) -> Operations {
        Operations { client }
    }

    /// Every operation of the client's project, whatever its state (`recursion=1`).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// for op in client.operations().list().await? {
    ///     println!("{} {} {}", op.id, op.description, op.status);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/operations/operations_get_recursion1)
    pub async fn list(&self) -> Result<Vec<lxd_proto::Operation>> {
        // LXD groups them by status: {"running": [...], "success": [...]}.
        let grouped: std::collections::BTreeMap<String, Vec<lxd_proto::Operation>> = self
            .client
            .get_json("/1.0/operations", &[("recursion", "1")])
            .await?;
        Ok(grouped.into_values().flatten().collect())
    }

    /// One operation, as a handle.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let op = client.operations().get("6916c8a6-9b7d-4abd-90b3-aedfec7ec7da").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/operations/operation_get)
    pub async fn get(&self, id: &str) -> Result<Operation> {
        Operation::get(&self.client, id).await
    }

    /// Waits for an operation by id, with an optional deadline.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let done = client.operations().wait("6916c8a6-9b7d-4abd-90b3-aedfec7ec7da", None).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/operations/operation_wait_get)
    pub async fn wait(&self, id: &str, deadline: Option<Duration>) -> Result<lxd_proto::Operation> {
        wait(&self.client, id, deadline, None, |_| {}).await
    }

    /// Waits for an operation by id through an event stream (see
    /// [`EventStream::wait_operation`]).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::EventType;
    /// let events = client.events().types([EventType::Operation]).connect().await?;
    /// let id = client.instances().delete("old").await?.id().to_string();
    /// client.operations().wait_with_events(&id, &events).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/server/events_get)
    pub async fn wait_with_events(
        &self,
        id: &str,
        events: &EventStream,
    ) -> Result<lxd_proto::Operation> {
        check_id(id)?;
        events.wait_for(&self.client, id).await
    }

    /// Cancels an operation by id.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// client.operations().cancel("6916c8a6-9b7d-4abd-90b3-aedfec7ec7da").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/operations/operation_delete)
    pub async fn cancel(&self, id: &str) -> Result<()> {
        cancel(&self.client, id).await
    }
}

impl Client {
    /// The operations manager.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// for op in client.operations().list().await? {
    ///     println!("{} {} {}", op.id, op.status, op.description);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/operations/operations_get)
    pub fn operations(&self) -> Operations {
        Operations::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(code: u16, err: &str) -> lxd_proto::Operation {
        lxd_proto::Operation {
            id: "abc".into(),
            description: "Creating instance".into(),
            status_code: StatusCode(code),
            err: err.into(),
            ..Default::default()
        }
    }

    #[test]
    fn final_states_become_results() {
        assert!(judge(op(200, "")).is_ok());
        let e = judge(op(400, "Image not found")).unwrap_err();
        assert!(e.is_operation_failed());
        assert_eq!(e.lxd_message(), Some("Image not found"));
        assert!(judge(op(401, "")).unwrap_err().is_cancelled());
    }

    #[test]
    fn ids_are_checked() {
        // Regression: "." and ".." passed and became dot segments on the wire.
        for bad in ["", ".", "..", "../x", "a/b"] {
            assert!(check_id(bad).unwrap_err().is_invalid_input(), "{bad:?}");
        }
        for ok in [
            "5f1c-0a",
            "6916c8a6-9b7d-4abd-90b3-aedfec7ec7da",
            "op 1",
            "...",
        ] {
            assert!(check_id(ok).is_ok(), "{ok:?}");
        }
    }
}
