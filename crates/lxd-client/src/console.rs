//! An instance's console: attach (`POST /1.0/instances/<name>/console`, a websocket with a
//! control channel) and the console log (`GET`/`DELETE` on the same path).
//!
//! As LXD serves it (`lxd/instance_console.go`): channel `"0"` carries the console's bytes
//! both ways, channel `"control"` takes window sizes; the operation ends when either closes.
//!
//! Detaching is ordered, because LXD 5.0.2 can crash (the whole daemon: "panic: concurrent
//! write to websocket connection") when a client detaches by closing the control channel
//! first: it then writes a terminal reset to the console, whose echo reaches the websocket
//! from one goroutine while another writes its farewell `\n\r`. So the client first closes
//! the console channel with a close frame; LXD answers it and closes the console, so the
//! reset goes nowhere; only after LXD's answer does the client close the control channel.
//!
//! Input sent in the first moments after attaching can be lost: LXD starts the process that
//! relays the console after the websockets are connected, and it puts the terminal in raw
//! mode discarding pending input. Wait for some output (or a moment) before typing.

use std::fmt;
use std::time::Duration;

use futures::StreamExt;
use lxd_proto::{ExecOperationMetadata, InstanceConsoleControl, InstanceConsolePost};
use lxd_transport::WebSocket;
use lxd_transport::http::Method;
use lxd_transport::tungstenite::Message;
use serde::Deserialize;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::exec::{
    ExecPty, LostFlag, Sink, connect_channel, pump_terminal, send_checked, terminal_pipes,
};
use crate::instances::{Instances, instance_path};
use crate::operation::wait_final;

/// LXD 5.0.2's answer for an empty console buffer (see [`Instances::console_log`]).
const EMPTY_BUFFER_ERROR: &str = "open : no such file or directory";

/// How long a detach waits for LXD to answer the console channel's close frame before
/// closing everything.
const DETACH_GRACE: Duration = Duration::from_secs(10);

impl Instances {
    /// Prepares to attach to the text console of the instance `name`.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use tokio::io::{AsyncReadExt, AsyncWriteExt};
    /// let mut console = client.instances().console("web").window_size(80, 24).attach().await?;
    /// let mut terminal = console.take_terminal().unwrap();
    /// terminal.write_all(b"\r").await.unwrap();
    /// let mut buf = [0u8; 1024];
    /// let n = terminal.read(&mut buf).await.unwrap();
    /// println!("{}", String::from_utf8_lossy(&buf[..n]));
    /// console.detach().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_console_post)
    pub fn console(&self, name: &str) -> ConsoleBuilder {
        ConsoleBuilder {
            client: self.client.clone(),
            name: name.to_string(),
            request: InstanceConsolePost::default(),
        }
    }

    /// The console log: what the instance wrote to its console (a container's console
    /// ring buffer), as bytes.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let log = client.instances().console_log("web").await?;
    /// println!("{}", String::from_utf8_lossy(&log));
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_console_get)
    pub async fn console_log(&self, name: &str) -> Result<Vec<u8>> {
        let path = format!("{}/console", instance_path(name)?);
        self.client.require_api_extension("console").await?;
        let request = self.client.request(Method::GET, &path, &[]);
        match self.client.send_raw(request).await {
            Ok(response) => Ok(response.bytes().await?.to_vec()),
            // LXD 5.0.2 answers an empty console buffer (liblxc's ENODATA) by serving a file
            // with an empty path: HTTP 500 "open : no such file or directory". That answer
            // means "empty".
            Err(Error::Api {
                status: 500,
                message,
                ..
            }) if message == EMPTY_BUFFER_ERROR => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// Empties the console log.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// client.instances().clear_console_log("web").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_console_delete)
    pub async fn clear_console_log(&self, name: &str) -> Result<()> {
        let path = format!("{}/console", instance_path(name)?);
        self.client.require_api_extension("console").await?;
        self.client
            .write::<()>(Method::DELETE, &path, &[], None)
            .await
    }
}

/// Attaching to a console, from [`Instances::console`].
#[derive(Debug)]
#[must_use = "nothing is attached until attach()"]
pub struct ConsoleBuilder {
    client: Client,
    name: String,
    request: InstanceConsolePost,
}

impl ConsoleBuilder {
    /// The terminal's initial size.
    ///
    /// Sets `width` and `height` of the console request.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let console = client.instances().console("vm1").window_size(120, 40).attach().await?;
    /// # drop(console);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_console_post)
    pub fn window_size(mut self, width: u32, height: u32) -> Self {
        self.request.width = width;
        self.request.height = height;
        self
    }

    /// Attaches: posts the request, connects the control channel and then the console
    /// channel. Returns with the console's terminal ready.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let console = client.instances().console("vm1").window_size(80, 24).attach().await?;
    /// console.detach().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_console_post)
    pub async fn attach(self) -> Result<ConsoleSession> {
        let path = format!("{}/console", instance_path(&self.name)?);
        self.client.require_api_extension("console").await?;
        let op = self
            .client
            .send_operation(Method::POST, &path, &[], Some(&self.request))
            .await?;
        let context = format!("POST {path}");
        // The console's operation metadata has the same `fds` shape as an exec's.
        let metadata = match &op.info().metadata {
            Some(value) => ExecOperationMetadata::deserialize(value)
                .map_err(|e| Error::malformed(&context, e, value.to_string().as_bytes()))?,
            None => ExecOperationMetadata::default(),
        };
        let id = op.id().to_string();
        // Control first, as LXD's client does: the console channel completes the set.
        let control = connect_channel(&self.client, &id, &metadata.fds, "control").await?;
        let data = connect_channel(&self.client, &id, &metadata.fds, "0").await?;
        let (terminal, sink, input, lost) = terminal_pipes();
        let (commands_tx, commands_rx) = mpsc::channel(4);
        let task = tokio::spawn(run_console(control, data, sink, input, lost, commands_rx));
        Ok(ConsoleSession {
            client: self.client,
            operation_id: id,
            terminal: Some(terminal),
            commands: commands_tx,
            task,
        })
    }
}

/// What a [`ConsoleSession`] asks of its task.
enum Command {
    Resize(String, oneshot::Sender<Result<()>>),
    Detach,
}

/// Drives both channels of a console: the terminal, and the control channel (resizes,
/// reading until LXD closes it). Detaches in the order LXD 5.0.2 survives (see the module
/// documentation) when asked to, or when the session is dropped.
async fn run_console(
    mut control: WebSocket,
    data: WebSocket,
    sink: Sink,
    input: crate::exec::Input,
    lost: LostFlag,
    mut commands: mpsc::Receiver<Command>,
) -> Result<()> {
    let (finish_tx, finish_rx) = oneshot::channel();
    let mut finish_tx = Some(finish_tx);
    // The console has no end of its own to wait for: the grace timer never starts.
    let (_never, not_done) = watch::channel(false);
    let terminal = pump_terminal(
        data,
        sink,
        Some(input),
        Some(lost),
        not_done,
        "console",
        true,
        Some(finish_rx),
    );
    tokio::pin!(terminal);
    let mut control_open = true;
    let mut commands_open = true;
    let mut deadline = None;
    let result = loop {
        tokio::select! {
            result = &mut terminal => break result.map(drop),
            message = control.next(), if control_open => {
                if !matches!(message, Some(Ok(_))) {
                    control_open = false;
                }
            }
            command = commands.recv(), if commands_open => match command {
                Some(Command::Resize(text, reply)) => {
                    let sent =
                        send_checked(&mut control, Message::Text(text.into()), "console control")
                            .await;
                    let _ = reply.send(sent);
                }
                Some(Command::Detach) | None => {
                    commands_open = false;
                    if let Some(finish) = finish_tx.take() {
                        let _ = finish.send(());
                    }
                    deadline = Some(Box::pin(tokio::time::sleep(DETACH_GRACE)));
                }
            },
            () = async { deadline.as_mut().expect("guarded").await }, if deadline.is_some() => {
                break Err(Error::malformed(
                    "console",
                    "LXD did not close the console channel after the end-of-stream marker",
                    b"",
                ));
            }
        }
    };
    // Only now that the console channel is closed: the control channel.
    if control_open {
        let _ = control.close(None).await;
        let _ = tokio::time::timeout(DETACH_GRACE, async {
            while let Some(Ok(_)) = control.next().await {}
        })
        .await;
    }
    result
}

/// An attached console, from [`ConsoleBuilder::attach`]. Dropping it detaches (without
/// waiting).
pub struct ConsoleSession {
    client: Client,
    operation_id: String,
    terminal: Option<ExecPty>,
    commands: mpsc::Sender<Command>,
    task: JoinHandle<Result<()>>,
}

impl fmt::Debug for ConsoleSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsoleSession")
            .field("operation_id", &self.operation_id)
            .field("terminal", &self.terminal.is_some())
            .finish()
    }
}

impl ConsoleSession {
    /// The id of the console operation.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let console = client.instances().console("web").attach().await?;
    /// let op = client.operations().get(console.operation_id()).await?;
    /// println!("{}: {}", op.info().description, op.info().status);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/operations/operation_get)
    pub fn operation_id(&self) -> &str {
        &self.operation_id
    }

    /// The console's terminal (once): read what the instance writes, write what it reads.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// use tokio::io::AsyncReadExt;
    /// let mut console = client.instances().console("web").attach().await?;
    /// let mut terminal = console.take_terminal().expect("taken once");
    /// assert!(console.take_terminal().is_none());
    /// let mut buf = [0u8; 4096];
    /// let n = terminal.read(&mut buf).await?;
    /// print!("{}", String::from_utf8_lossy(&buf[..n]));
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/operations/operation_websocket_get) (channel `0`)
    pub fn take_terminal(&mut self) -> Option<ExecPty> {
        self.terminal.take()
    }

    /// Resizes the console's terminal.
    ///
    /// ```no_run
    /// # async fn demo(console: lxd_client::ConsoleSession) -> Result<(), lxd_client::Error> {
    /// console.resize(120, 40).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_console_post) (the control channel)
    pub async fn resize(&self, width: u32, height: u32) -> Result<()> {
        if width == 0 || height == 0 {
            return Err(Error::invalid(
                "window resize",
                "width and height must be positive",
            ));
        }
        let text = serde_json::to_string(&InstanceConsoleControl::window_resize(width, height))
            .map_err(|e| Error::invalid("control message", e.to_string()))?;
        let (reply, answer) = oneshot::channel();
        let detached = || Error::invalid("console", "the console is detached");
        self.commands
            .send(Command::Resize(text, reply))
            .await
            .map_err(|_| detached())?;
        answer.await.map_err(|_| detached())?
    }

    /// Detaches and waits until LXD has closed both channels and ended the console
    /// operation. The instance keeps running.
    ///
    /// ```no_run
    /// # async fn demo(console: lxd_client::ConsoleSession) -> Result<(), lxd_client::Error> {
    /// console.detach().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_console_post) (the control channel)
    pub async fn detach(mut self) -> Result<()> {
        drop(self.terminal.take());
        // An error means the task has already ended: detached either way.
        let _ = self.commands.send(Command::Detach).await;
        let ended = match (&mut self.task).await {
            Ok(result) => result,
            Err(e) => Err(Error::malformed(
                "console",
                format!("the console task ended abnormally: {e}"),
                b"",
            )),
        };
        // The operation's own outcome is not judged: LXD 5.0.2 ends it with a failure
        // ("file already closed") when the client detaches first, as it must.
        wait_final(&self.client, &self.operation_id).await?;
        ended
    }
}
