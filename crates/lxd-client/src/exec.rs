//! Running commands in an instance (`POST /1.0/instances/<name>/exec`).
//!
//! The protocol, as LXD's own client and server speak it (`client/lxd_instances.go`,
//! `lxd/instance_exec.go`, `shared/network.go`):
//!
//! - the request asks LXD to wait for the websockets; the reply is a websocket operation whose
//!   metadata `fds` holds one secret per channel: `"0"`, `"1"`, `"2"` and `"control"` (only
//!   `"0"`, bidirectional, and `"control"` in interactive mode);
//! - each channel is a websocket at `/1.0/operations/<id>/websocket?secret=<secret>`. LXD
//!   starts the command once the data channels are connected (and gives up after 5 s). The
//!   control channel is connected FIRST, so it is there for the whole life of the command:
//!   LXD kills the command when the control websocket closes;
//! - data travels in binary messages. The end of a stream is an empty TEXT message (LXD's
//!   "barrier"), both ways: the client sends one on `"0"` to close the command's stdin; LXD
//!   sends one on `"1"`/`"2"` when the command's output pipe is closed, before closing the
//!   sockets itself. A stream that ends without the barrier was cut, and is reported as such;
//! - interactive mode differs: a barrier from the client hangs up the terminal (LXD closes
//!   its side of the pty, and output still in it is lost), so none is sent when the input
//!   ends; and LXD ends the operation only once the client has closed the terminal channel
//!   after LXD's barrier, as LXD's own client does;
//! - control messages are JSON (`{"command":"signal","signal":15}`, `{"command":
//!   "window-resize","args":{"width":"80","height":"24"}}`);
//! - the exit code is `metadata.return` of the final operation (128 + N after signal N; 127
//!   "Command not found" and 126 also make the operation fail, but still carry the code).
//!
//! Each websocket has one pump task. Output flows through bounded channels to the
//! [`ExecReader`]s, so memory stays constant whatever the output size and an unread reader
//! slows the command down instead of filling memory. A pump does not close its socket while
//! LXD may still write to it (only the terminal's, once LXD has said it is done): it reads
//! (and drops) until LXD closes, because closing a TCP socket with unread data resets the
//! connection and can destroy data in flight.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::stream::BoxStream;
use futures::{SinkExt, StreamExt};
use lxd_proto::{ExecOperationMetadata, InstanceExecControl, InstanceExecPost};
use lxd_transport::WebSocket;
use lxd_transport::http::Method;
use lxd_transport::tungstenite::Message;
use lxd_transport::tungstenite::protocol::CloseFrame;
use lxd_transport::tungstenite::protocol::frame::coding::CloseCode;
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, DuplexStream, ReadBuf};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::instances::{Instances, instance_path};
use crate::operation::{Operation, judge, wait_final};
use crate::path::segment;

/// Output messages buffered between a pump and its reader. LXD sends at most 128 KiB per
/// message, so this bounds the buffer to about 1 MiB per stream.
const OUTPUT_CHANNEL: usize = 8;
/// Input read per websocket message.
const INPUT_CHUNK: usize = 64 * 1024;
/// Buffer of the in-memory pipe behind an [`ExecWriter`].
const INPUT_PIPE: usize = 64 * 1024;
/// Once the command has ended, how long a stream may stay silent before LXD is judged to
/// have failed to close it.
const CLOSE_GRACE: Duration = Duration::from_secs(10);

/// A caller's input: bytes, or any reader.
pub(crate) type Input = Box<dyn AsyncRead + Send + Unpin>;
/// A caller's per-chunk output handler.
type Handler = Box<dyn FnMut(&[u8]) + Send>;

impl Instances {
    /// Prepares a command to run in the instance `name`. `command` is the argument vector
    /// (no shell: use `["sh", "-c", "..."]` for one); it must not be empty, which is checked
    /// with the name before any request.
    ///
    /// Finish with [`run`](ExecBuilder::run) (collect the output),
    /// [`spawn`](ExecBuilder::spawn) (stream it),
    /// [`run_recorded`](ExecBuilder::run_recorded) (LXD writes it to log files) or
    /// [`start_raw`](ExecBuilder::start_raw) (drive the websockets yourself).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let out = client
    ///     .instances()
    ///     .exec("web", ["sh", "-c", "echo $GREETING from $(pwd)"])
    ///     .env("GREETING", "hello")
    ///     .cwd("/tmp")
    ///     .run()
    ///     .await?;
    /// assert_eq!(out.exit_code, 0);
    /// assert_eq!(out.stdout_text(), "hello from /tmp\n");
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_exec_post)
    pub fn exec<I, S>(&self, name: &str, command: I) -> ExecBuilder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ExecBuilder {
            client: self.client.clone(),
            name: name.to_string(),
            request: InstanceExecPost {
                command: command.into_iter().map(Into::into).collect(),
                ..Default::default()
            },
            stdin: None,
            on_stdout: None,
            on_stderr: None,
        }
    }
}

/// A command to run in an instance, from [`Instances::exec`].
#[must_use = "nothing runs until run(), spawn(), run_recorded() or start_raw()"]
pub struct ExecBuilder {
    client: Client,
    name: String,
    request: InstanceExecPost,
    stdin: Option<Input>,
    on_stdout: Option<Handler>,
    on_stderr: Option<Handler>,
}

impl fmt::Debug for ExecBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecBuilder")
            .field("name", &self.name)
            .field("request", &self.request)
            .field("stdin", &self.stdin.is_some())
            .field("on_stdout", &self.on_stdout.is_some())
            .field("on_stderr", &self.on_stderr.is_some())
            .finish()
    }
}

impl ExecBuilder {
    /// Sets an environment variable (over LXD's defaults and the instance's
    /// `environment.*` configuration).
    ///
    /// Sets `environment` of the exec request.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let out = client
    ///     .instances()
    ///     .exec("web", ["sh", "-c", "echo $APP_ENV"])
    ///     .env("APP_ENV", "staging")
    ///     .run()
    ///     .await?;
    /// assert_eq!(out.stdout_text(), "staging\n");
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_exec_post)
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.request.environment.insert(key.into(), value.into());
        self
    }

    /// Sets several environment variables.
    ///
    /// Sets `environment` of the exec request.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let proxy = [("http_proxy", "http://proxy:3128"), ("https_proxy", "http://proxy:3128")];
    /// let out = client
    ///     .instances()
    ///     .exec("web", ["apt-get", "update"])
    ///     .envs(proxy)
    ///     .run()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_exec_post)
    pub fn envs<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        for (k, v) in vars {
            self.request.environment.insert(k.into(), v.into());
        }
        self
    }

    /// Runs in this working directory (API extension `container_exec_user_group_cwd`).
    ///
    /// Sets `cwd` of the exec request.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let out = client.instances().exec("web", ["git", "pull"]).cwd("/srv/app").run().await?;
    /// assert!(out.success(), "git pull failed: {}", out.stderr_text());
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_exec_post)
    pub fn cwd(mut self, dir: impl Into<String>) -> Self {
        self.request.cwd = dir.into();
        self
    }

    /// Runs as this user id (API extension `container_exec_user_group_cwd`).
    ///
    /// Sets `user` of the exec request.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// // As the unprivileged user 1000 rather than root:
    /// let out = client.instances().exec("web", ["id", "-u"]).user(1000).run().await?;
    /// assert_eq!(out.stdout_text(), "1000\n");
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_exec_post)
    pub fn user(mut self, uid: u32) -> Self {
        self.request.user = Some(uid);
        self
    }

    /// Runs with this group id (API extension `container_exec_user_group_cwd`).
    ///
    /// Sets `group` of the exec request.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// // A file owned by www-data's group (33), written by user 1000:
    /// client
    ///     .instances()
    ///     .exec("web", ["touch", "/srv/www/.deployed"])
    ///     .user(1000)
    ///     .group(33)
    ///     .run()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_exec_post)
    pub fn group(mut self, gid: u32) -> Self {
        self.request.group = Some(gid);
        self
    }

    /// Gives the command a pseudo-terminal: one stream for input and output (stderr goes to
    /// the terminal too), and a window size that can change.
    ///
    /// Sets `interactive` of the exec request.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let mut session = client.instances().exec("web", ["bash", "-l"]).interactive(true).spawn().await?;
    /// let terminal = session.take_pty().expect("an interactive session has a terminal");
    /// assert!(session.take_stderr().is_none()); // stderr goes to the terminal
    /// # drop(terminal);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_exec_post)
    pub fn interactive(mut self, interactive: bool) -> Self {
        self.request.interactive = interactive;
        self
    }

    /// The terminal's initial size (interactive only).
    ///
    /// Sets `width` and `height` of the exec request.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let out = client
    ///     .instances()
    ///     .exec("web", ["stty", "size"])
    ///     .interactive(true)
    ///     .window_size(132, 43)
    ///     .run()
    ///     .await?;
    /// assert_eq!(out.stdout_text().trim(), "43 132");
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_exec_post)
    pub fn window_size(mut self, width: u32, height: u32) -> Self {
        self.request.width = width;
        self.request.height = height;
        self
    }

    /// Feeds these bytes to the command's stdin, then closes it. Without any stdin the
    /// command reads end-of-file at once (when collecting), or from
    /// [`ExecSession::take_stdin`] (when spawned).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let out = client
    ///     .instances()
    ///     .exec("web", ["sh", "-c", "cat > /etc/app.conf"])
    ///     .stdin_bytes("listen = 8080\n")
    ///     .run()
    ///     .await?;
    /// assert!(out.success());
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_exec_post)
    pub fn stdin_bytes(mut self, input: impl Into<Bytes>) -> Self {
        self.stdin = Some(Box::new(io::Cursor::new(input.into())));
        self
    }

    /// Streams this reader to the command's stdin, then closes it (not in interactive mode,
    /// where a terminal has no end of input: send `\x04`, as a terminal's Ctrl-D, yourself).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// // Restore a database dump without holding it in memory:
    /// let dump = tokio::fs::File::open("backup.sql").await?;
    /// let out = client.instances().exec("db", ["psql", "app"]).stdin(dump).run().await?;
    /// assert!(out.success(), "{}", out.stderr_text());
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_exec_post)
    pub fn stdin(mut self, input: impl AsyncRead + Send + Unpin + 'static) -> Self {
        self.stdin = Some(Box::new(input));
        self
    }

    /// Hands each chunk of stdout (the terminal's output in interactive mode) to `handler`
    /// as it arrives, instead of collecting it (pylxd's `stdout_handler`).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let out = client
    ///     .instances()
    ///     .exec("web", ["apt-get", "upgrade", "-y"])
    ///     .on_stdout(|chunk| print!("{}", String::from_utf8_lossy(chunk)))
    ///     .run()
    ///     .await?;
    /// assert!(out.stdout.is_empty()); // handed to the handler, not collected
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_exec_post)
    pub fn on_stdout(mut self, handler: impl FnMut(&[u8]) + Send + 'static) -> Self {
        self.on_stdout = Some(Box::new(handler));
        self
    }

    /// Hands each chunk of stderr to `handler` as it arrives, instead of collecting it.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let out = client
    ///     .instances()
    ///     .exec("ci", ["make", "-C", "/src", "test"])
    ///     .on_stderr(|chunk| eprint!("[ci] {}", String::from_utf8_lossy(chunk)))
    ///     .run()
    ///     .await?;
    /// println!("exit {}; stdout:\n{}", out.exit_code, out.stdout_text());
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_exec_post)
    pub fn on_stderr(mut self, handler: impl FnMut(&[u8]) + Send + 'static) -> Self {
        self.on_stderr = Some(Box::new(handler));
        self
    }

    /// Checks the caller's input; nothing is sent before this passes.
    fn check(&self) -> Result<String> {
        let path = instance_path(&self.name)?;
        let r = &self.request;
        match r.command.first() {
            None => return Err(Error::invalid("exec command", "the command is empty")),
            Some(first) if first.is_empty() => {
                return Err(Error::invalid(
                    "exec command",
                    "the program (first argument) is empty",
                ));
            }
            _ => {}
        }
        if r.command.iter().any(|a| a.contains('\0')) {
            return Err(Error::invalid(
                "exec command",
                "an argument holds a NUL byte",
            ));
        }
        for (k, v) in &r.environment {
            if k.is_empty() || k.contains(['=', '\0']) || v.contains('\0') {
                return Err(Error::invalid(
                    "exec environment",
                    format!("{k:?} is not a valid variable name (or its value holds NUL)"),
                ));
            }
        }
        if r.cwd.contains('\0') {
            return Err(Error::invalid("exec working directory", "holds a NUL byte"));
        }
        if (r.width > 0 || r.height > 0) && !r.interactive {
            return Err(Error::invalid(
                "exec window size",
                "a window size needs interactive mode",
            ));
        }
        if r.interactive && self.on_stderr.is_some() {
            return Err(Error::invalid(
                "exec stderr handler",
                "interactive mode has no separate stderr (it goes to the terminal)",
            ));
        }
        Ok(path)
    }

    async fn check_extensions(&self) -> Result<()> {
        let r = &self.request;
        if r.user.is_some() || r.group.is_some() || !r.cwd.is_empty() {
            self.client
                .require_api_extension("container_exec_user_group_cwd")
                .await?;
        }
        Ok(())
    }

    /// Posts the request and returns the websocket operation with its secrets.
    async fn post(&mut self, path: &str) -> Result<(Operation, BTreeMap<String, String>)> {
        self.check_extensions().await?;
        self.request.wait_for_websocket = true;
        self.request.record_output = false;
        let op = self
            .client
            .send_operation(
                Method::POST,
                &format!("{path}/exec"),
                &[],
                Some(&self.request),
            )
            .await?;
        let context = format!("POST {path}/exec");
        let metadata: ExecOperationMetadata = metadata_of(&context, op.info())?;
        let needed: &[&str] = if self.request.interactive {
            &["0", "control"]
        } else {
            &["0", "1", "2", "control"]
        };
        for channel in needed {
            if !metadata.fds.contains_key(*channel) {
                return Err(Error::malformed(
                    &context,
                    format!("the exec operation has no websocket secret for channel {channel:?}"),
                    b"",
                ));
            }
        }
        Ok((op, metadata.fds))
    }

    /// Runs the command and collects its exit code, stdout and stderr (except streams given
    /// to [`on_stdout`](Self::on_stdout) / [`on_stderr`](Self::on_stderr)). Output is held in
    /// memory: use [`spawn`](Self::spawn) for large output.
    ///
    /// A non-zero exit code is not an error; failing to run is (no such instance, instance
    /// stopped, output cut by the server).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let out = client
    ///     .instances()
    ///     .exec("web", ["cat"])
    ///     .stdin_bytes(&b"piped through\n"[..])
    ///     .run()
    ///     .await?;
    /// assert!(out.success());
    /// assert_eq!(out.stdout, b"piped through\n");
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_exec_post)
    pub async fn run(self) -> Result<ExecOutput> {
        let mut started = self.start(true).await?;
        let stdout_pump = started.stdout_pump.take();
        let stderr_pump = started.stderr_pump.take();
        let stdin_pump = started.stdin_pump.take();
        let operation = join_task(started.status).await?;
        let stdout = match stdout_pump {
            Some(p) => join_task(p).await?.into_collected(),
            None => Vec::new(),
        };
        let stderr = match stderr_pump {
            Some(p) => join_task(p).await?.into_collected(),
            None => Vec::new(),
        };
        if let Some(p) = stdin_pump {
            join_task(p).await?;
        }
        let status = ExecStatus::from_operation(operation)?;
        Ok(ExecOutput {
            exit_code: status.exit_code,
            stdout,
            stderr,
            message: status.message,
        })
    }

    /// Starts the command and returns at once with a session: its pipes (take-once), a
    /// control handle (signals, window size) and [`ExecSession::wait`] for the exit code.
    /// Output is streamed: memory stays constant whatever its size.
    ///
    /// Stdin given to the builder ([`stdin`](Self::stdin), [`stdin_bytes`](Self::stdin_bytes))
    /// and output given to handlers ([`on_stdout`](Self::on_stdout), ...) are pumped by the
    /// session; the corresponding `take_*` then return `None`.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    /// let mut session = client.instances().exec("web", ["sh", "-c", "cat; echo done >&2"]).spawn().await?;
    /// let mut stdin = session.take_stdin().unwrap();
    /// let mut lines = BufReader::new(session.take_stdout().unwrap()).lines();
    /// stdin.write_all(b"one\ntwo\n").await.unwrap();
    /// stdin.shutdown().await.unwrap(); // end of input (dropping it does the same)
    /// while let Some(line) = lines.next_line().await.unwrap() {
    ///     println!("out: {line}");
    /// }
    /// let status = session.wait().await?; // unread stderr is drained, never a deadlock
    /// assert!(status.success());
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_exec_post)
    pub async fn spawn(self) -> Result<ExecSession> {
        let started = self.start(false).await?;
        Ok(ExecSession {
            operation_id: started.operation_id,
            interactive: started.interactive,
            stdin: started.stdin,
            stdout: started.stdout,
            stderr: started.stderr,
            pty: started.pty,
            control: started.control,
            status: started.status,
            pumps: [
                started.stdout_pump,
                started.stderr_pump,
                started.stdin_pump.map(|p| {
                    tokio::spawn(async move { join_task(p).await.map(|()| Sink::Discard) })
                }),
            ]
            .into_iter()
            .flatten()
            .collect(),
        })
    }

    /// Posts the request, connects every websocket and starts the pumps. `collect`: output
    /// without a handler is collected (run) instead of handed to a reader (spawn).
    async fn start(mut self, collect: bool) -> Result<Started> {
        let path = self.check()?;
        let interactive = self.request.interactive;
        let (op, secrets) = self.post(&path).await?;
        let client = self.client.clone();
        let id = op.id().to_string();
        tracing::debug!(operation = %id, interactive, "exec started; connecting its websockets");

        // Control first: it must exist before the command can end (LXD kills the command
        // when it closes), then the data channels together; LXD starts the command when the
        // last one is connected.
        let control_ws = connect_channel(&client, &id, &secrets, "control").await?;
        let (done_tx, done_rx) = watch::channel(false);
        let status = {
            let client = client.clone();
            let id = id.clone();
            tokio::spawn(async move {
                let result = wait_final(&client, &id).await;
                let _ = done_tx.send(true);
                result
            })
        };
        let (control_tx, control_rx) = mpsc::channel(4);
        // Set when an output stream is cut or a control message finds the connection gone.
        let session_lost = LostFlag::default();
        tokio::spawn(pump_control(control_ws, control_rx, session_lost.clone()));
        let control = ExecControl {
            commands: control_tx,
            interactive,
            lost: session_lost.clone(),
        };

        let output_sink = |handler: Option<Handler>| -> (Sink, Option<ExecReader>) {
            match handler {
                Some(h) => (Sink::Callback(h), None),
                None if collect => (Sink::Collect(Vec::new()), None),
                None => {
                    let (tx, rx) = mpsc::channel(OUTPUT_CHANNEL);
                    (Sink::Channel(tx), Some(ExecReader::new(rx)))
                }
            }
        };
        let input_source =
            |given: Option<Input>| -> (Option<Input>, Option<ExecWriter>, Option<LostFlag>) {
                match given {
                    Some(input) => (Some(input), None, None),
                    None if collect => (None, None, None),
                    None => {
                        let (writer, input, lost) = ExecWriter::pipe();
                        (Some(input), Some(writer), Some(lost))
                    }
                }
            };

        let mut started = Started {
            operation_id: id.clone(),
            interactive,
            stdin: None,
            stdout: None,
            stderr: None,
            pty: None,
            control,
            status,
            stdout_pump: None,
            stderr_pump: None,
            stdin_pump: None,
        };
        if interactive {
            let ws = connect_channel(&client, &id, &secrets, "0").await?;
            let (sink, reader) = output_sink(self.on_stdout.take());
            let (input, writer, lost) = input_source(self.stdin.take());
            started.pty = match (reader, writer) {
                (Some(reader), Some(writer)) => Some(ExecPty { reader, writer }),
                (reader, writer) => {
                    started.stdout = reader;
                    started.stdin = writer;
                    None
                }
            };
            started.stdout_pump = Some(tokio::spawn(pump_terminal(
                ws,
                sink,
                input,
                lost,
                done_rx,
                "exec terminal",
                false,
                None,
            )));
        } else {
            let (ws0, ws1, ws2) = futures::try_join!(
                connect_channel(&client, &id, &secrets, "0"),
                connect_channel(&client, &id, &secrets, "1"),
                connect_channel(&client, &id, &secrets, "2"),
            )?;
            let (out_sink, out_reader) = output_sink(self.on_stdout.take());
            let (err_sink, err_reader) = output_sink(self.on_stderr.take());
            let (input, writer, lost) = input_source(self.stdin.take());
            started.stdout = out_reader;
            started.stderr = err_reader;
            started.stdin = writer;
            started.stdin_pump = Some(tokio::spawn(pump_stdin(ws0, input, lost)));
            started.stdout_pump = Some(tokio::spawn(pump_output(
                ws1,
                out_sink,
                done_rx.clone(),
                "exec stdout",
                Some(session_lost.clone()),
            )));
            started.stderr_pump = Some(tokio::spawn(pump_output(
                ws2,
                err_sink,
                done_rx,
                "exec stderr",
                Some(session_lost),
            )));
        }
        Ok(started)
    }

    /// Runs the command with LXD writing stdout and stderr to log files of the instance
    /// (`record-output`); returns when it has ended, with the URLs to read the output back.
    /// Nothing is streamed while it runs, and stdin is empty.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let recorded = client.instances().exec("web", ["dmesg"]).run_recorded().await?;
    /// let stdout = recorded.stdout_bytes().await?;
    /// println!("exit {} with {} bytes", recorded.exit_code, stdout.len());
    /// recorded.delete_logs().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_exec_post)
    pub async fn run_recorded(mut self) -> Result<RecordedExec> {
        let path = self.check()?;
        if self.request.interactive {
            return Err(Error::invalid(
                "exec",
                "recorded output cannot be interactive",
            ));
        }
        if self.stdin.is_some() || self.on_stdout.is_some() || self.on_stderr.is_some() {
            return Err(Error::invalid(
                "exec",
                "recorded output takes no stdin and no output handlers",
            ));
        }
        self.check_extensions().await?;
        self.client
            .require_api_extension("container_exec_recording")
            .await?;
        self.request.record_output = true;
        self.request.wait_for_websocket = false;
        let op = self
            .client
            .send_operation(
                Method::POST,
                &format!("{path}/exec"),
                &[],
                Some(&self.request),
            )
            .await?;
        let done = wait_final(&self.client, op.id()).await?;
        let context = format!("exec operation {}", done.id);
        let metadata: ExecOperationMetadata = metadata_of(&context, &done)?;
        let status = ExecStatus::from_operation(done)?;
        let log = |fd: &str| -> Result<String> {
            let url = metadata.output.get(fd).cloned().unwrap_or_default();
            if !url.starts_with("/1.0/") || url.contains(['?', '#']) {
                return Err(Error::malformed(
                    &context,
                    format!("recorded output {fd:?} has no usable log URL: {url:?}"),
                    b"",
                ));
            }
            Ok(url)
        };
        Ok(RecordedExec {
            client: self.client.clone(),
            exit_code: status.exit_code,
            message: status.message,
            stdout_log: log("1")?,
            stderr_log: log("2")?,
        })
    }

    /// Posts the request and hands back the operation and its websocket secrets, for a
    /// caller who drives the websockets himself (pylxd's `raw_interactive_execute`). The
    /// command starts once the data channels are connected; LXD gives up after 5 seconds.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let raw = client.instances().exec("web", ["sh"]).interactive(true).start_raw().await?;
    /// let control = raw.connect("control").await?;
    /// let terminal = raw.connect("0").await?; // binary messages both ways
    /// # drop((control, terminal));
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_exec_post)
    pub async fn start_raw(mut self) -> Result<RawExec> {
        let path = self.check()?;
        if self.stdin.is_some() || self.on_stdout.is_some() || self.on_stderr.is_some() {
            return Err(Error::invalid(
                "exec",
                "a raw exec takes no stdin and no output handlers: drive the websockets",
            ));
        }
        let (operation, secrets) = self.post(&path).await?;
        Ok(RawExec {
            client: self.client,
            operation,
            secrets,
        })
    }
}

/// What [`ExecBuilder::start`] set up.
struct Started {
    operation_id: String,
    interactive: bool,
    stdin: Option<ExecWriter>,
    stdout: Option<ExecReader>,
    stderr: Option<ExecReader>,
    pty: Option<ExecPty>,
    control: ExecControl,
    status: JoinHandle<Result<lxd_proto::Operation>>,
    stdout_pump: Option<JoinHandle<Result<Sink>>>,
    stderr_pump: Option<JoinHandle<Result<Sink>>>,
    stdin_pump: Option<JoinHandle<Result<()>>>,
}

/// Decodes an exec operation's metadata.
fn metadata_of(context: &str, op: &lxd_proto::Operation) -> Result<ExecOperationMetadata> {
    match &op.metadata {
        None => Ok(ExecOperationMetadata::default()),
        Some(value) => ExecOperationMetadata::deserialize(value)
            .map_err(|e| Error::malformed(context, e, value.to_string().as_bytes())),
    }
}

/// Awaits a pump or status task; a panicked task is reported, not propagated.
async fn join_task<T>(task: JoinHandle<Result<T>>) -> Result<T> {
    match task.await {
        Ok(result) => result,
        Err(e) => Err(Error::malformed(
            "exec",
            format!("an exec task ended abnormally: {e}"),
            b"",
        )),
    }
}

/// Turns a refused websocket upgrade that carries LXD's error envelope into the same
/// [`Error::Api`] as any refused request (with its predicates); other errors pass.
pub(crate) fn refused_upgrade(error: Error) -> Error {
    if let Error::Transport(lxd_transport::Error::WebSocketRefused { path, status, body }) = &error
        && let Ok(envelope) = serde_json::from_str::<lxd_proto::Response>(body)
        && !envelope.error.is_empty()
    {
        return Error::Api {
            status: if envelope.error_code != 0 {
                envelope.error_code
            } else {
                *status
            },
            message: envelope.error,
            method: "GET".into(),
            path: path.clone(),
        };
    }
    error
}

/// Opens the websocket of one channel of an operation.
pub(crate) async fn connect_channel(
    client: &Client,
    operation_id: &str,
    secrets: &BTreeMap<String, String>,
    channel: &str,
) -> Result<WebSocket> {
    let secret = secrets.get(channel).ok_or_else(|| {
        Error::malformed(
            format!("operation {operation_id}"),
            format!("no websocket secret for channel {channel:?}"),
            b"",
        )
    })?;
    client
        .websocket(
            &format!("/1.0/operations/{}/websocket", segment(operation_id)),
            &[("secret", secret.as_str())],
        )
        .await
        .map_err(refused_upgrade)
}

/// An error for output that ended before LXD's end-of-stream marker.
fn cut(what: &str, detail: impl fmt::Display) -> Error {
    Error::malformed(
        what,
        format!("the stream ended before LXD's end-of-stream marker: {detail}"),
        b"",
    )
}

/// The error for a websocket that failed: the connection went away (reset, closed without
/// a close frame: [`Error::is_disconnected`]), or the server broke the protocol.
fn broken(what: &str, error: lxd_transport::tungstenite::Error) -> Error {
    let error = lxd_transport::Error::WebSocket(error);
    if error.is_disconnected() {
        let lxd_transport::Error::WebSocket(inner) = error else {
            unreachable!("built above")
        };
        Error::lost(what, inner)
    } else {
        cut(what, error)
    }
}

/// Set once a channel's connection is lost, so the caller's writes to it fail with that
/// (an [`Error::ConnectionLost`] inside the io error) rather than a bare broken pipe.
pub(crate) type LostFlag = std::sync::Arc<std::sync::OnceLock<String>>;

/// Sends one message and reports whether it reached the connection: a write that found
/// the server gone is dropped by the transport (so what the server sent before going can
/// still be read), and must not count as sent.
pub(crate) async fn send_checked(ws: &mut WebSocket, message: Message, what: &str) -> Result<()> {
    match ws.send(message).await {
        Ok(()) if ws.get_ref().peer_gone() => Err(Error::lost(
            what,
            "the server went away; the message was not delivered",
        )),
        Ok(()) => Ok(()),
        Err(e) => {
            let error = lxd_transport::Error::WebSocket(e);
            if error.is_disconnected() {
                Err(Error::lost(what, error))
            } else {
                Err(Error::Transport(error))
            }
        }
    }
}

/// A copy of a connection-lost error, for every later use of the same channel.
fn lost_again(error: &Error) -> Option<Error> {
    match error {
        Error::ConnectionLost { context, reason } => Some(Error::lost(context.clone(), reason)),
        _ => None,
    }
}

// ---- pumps -----------------------------------------------------------------------------

/// Where a pump delivers output.
pub(crate) enum Sink {
    /// To an [`ExecReader`]; becomes `Discard` when the reader is dropped.
    Channel(mpsc::Sender<io::Result<Bytes>>),
    /// To the caller's handler.
    Callback(Handler),
    /// Into memory (the collect form).
    Collect(Vec<u8>),
    /// Nowhere.
    Discard,
}

impl Sink {
    async fn deliver(&mut self, data: Bytes) {
        match self {
            Sink::Channel(tx) => {
                if tx.send(Ok(data)).await.is_err() {
                    // The reader was dropped: keep draining so the command is not blocked.
                    *self = Sink::Discard;
                }
            }
            Sink::Callback(handler) => handler(&data),
            Sink::Collect(buffer) => buffer.extend_from_slice(&data),
            Sink::Discard => {}
        }
    }

    /// The stream ended cleanly: a reader sees end-of-file now.
    fn end(&mut self) {
        if matches!(self, Sink::Channel(_)) {
            *self = Sink::Discard;
        }
    }

    /// The stream was cut: a reader sees the error.
    async fn fail(&mut self, error: &Error) {
        if let Sink::Channel(tx) = self {
            // A lost connection travels typed inside the io error (see ExecReader).
            let inner: Box<dyn std::error::Error + Send + Sync> = match lost_again(error) {
                Some(lost) => Box::new(lost),
                None => error.to_string().into(),
            };
            let _ = tx
                .send(Err(io::Error::new(io::ErrorKind::UnexpectedEof, inner)))
                .await;
        }
        *self = Sink::Discard;
    }

    fn into_collected(self) -> Vec<u8> {
        match self {
            Sink::Collect(buffer) => buffer,
            _ => Vec::new(),
        }
    }
}

/// Resolves [`CLOSE_GRACE`] after the command has ended; never if it has not.
async fn after_end(done: &mut watch::Receiver<bool>) {
    if done.wait_for(|d| *d).await.is_err() {
        // The status task is gone without an answer; its error is reported by wait().
        std::future::pending::<()>().await;
    }
    tokio::time::sleep(CLOSE_GRACE).await;
}

/// What one message of an output websocket means.
enum Incoming {
    Data(Bytes),
    /// LXD's end-of-stream marker (an empty text message; any text message ends the stream
    /// for LXD's own client too).
    End,
    /// A close frame: the websocket is over (nothing can follow it).
    Closed,
    /// Ping, pong: nothing for the reader.
    Nothing,
    /// The socket is closed without a close frame, or broken: the error to report.
    Gone(Error),
}

fn classify(
    message: Option<std::result::Result<Message, lxd_transport::tungstenite::Error>>,
    what: &str,
) -> Incoming {
    match message {
        Some(Ok(Message::Binary(data))) => Incoming::Data(data),
        Some(Ok(Message::Text(_))) => Incoming::End,
        Some(Ok(Message::Close(_))) => Incoming::Closed,
        Some(Ok(_)) => Incoming::Nothing,
        Some(Err(e)) => Incoming::Gone(broken(what, e)),
        None => Incoming::Gone(Error::lost(what, "the socket closed without a close frame")),
    }
}

/// Reads an output channel (stdout or stderr) until LXD closes it.
/// `lost`: set when the stream is cut before LXD's end-of-stream marker, so the session's
/// control handle reports the lost connection.
pub(crate) async fn pump_output(
    mut ws: WebSocket,
    mut sink: Sink,
    mut done: watch::Receiver<bool>,
    what: &'static str,
    lost: Option<LostFlag>,
) -> Result<Sink> {
    let mut ended = false;
    loop {
        let message = tokio::select! {
            message = ws.next() => message,
            () = after_end(&mut done) => {
                if ended {
                    break;
                }
                let error = cut(what, "LXD did not end the stream after the command ended");
                sink.fail(&error).await;
                return Err(error);
            }
        };
        match classify(message, what) {
            Incoming::Data(data) if !ended => sink.deliver(data).await,
            Incoming::End if !ended => {
                ended = true;
                sink.end();
            }
            Incoming::Data(_) | Incoming::End | Incoming::Nothing => {}
            Incoming::Closed | Incoming::Gone(_) if ended => break,
            Incoming::Closed => {
                // LXD's own client ends a stream on a close frame too.
                sink.end();
                break;
            }
            Incoming::Gone(error) => {
                tracing::debug!(stream = what, error = %error, "exec stream cut");
                if let (Some(flag), Error::ConnectionLost { reason, .. }) = (&lost, &error) {
                    let _ = flag.set(reason.clone());
                }
                sink.fail(&error).await;
                return Err(error);
            }
        }
    }
    tracing::debug!(stream = what, "exec stream ended");
    Ok(sink)
}

/// Writes the caller's input to the stdin channel, then LXD's end-of-input marker; then
/// reads until LXD closes the socket.
///
/// The channel closing early is not an error here: LXD closes it when the command ends
/// without reading all of its input. A lost connection is noted in `lost`, so the caller's
/// later writes fail with it; the output channels and the operation report the loss.
async fn pump_stdin(mut ws: WebSocket, input: Option<Input>, lost: Option<LostFlag>) -> Result<()> {
    const WHAT: &str = "exec stdin";
    let note = |error: &Error| {
        if let (Some(flag), Error::ConnectionLost { reason, .. }) = (&lost, error) {
            let _ = flag.set(reason.clone());
        }
    };
    let mut failure = None;
    if let Some(mut input) = input {
        let mut buffer = BytesMut::new();
        loop {
            buffer.reserve(INPUT_CHUNK);
            tokio::select! {
                read = input.read_buf(&mut buffer) => match read {
                    Ok(0) => break,
                    Ok(_) => {
                        let chunk = buffer.split().freeze();
                        if let Err(e) = send_checked(&mut ws, Message::Binary(chunk), WHAT).await {
                            // The command has ended without reading all of its input, or
                            // the connection is gone.
                            note(&e);
                            return Ok(());
                        }
                    }
                    Err(e) => {
                        failure = Some(Error::io("reading the exec stdin source", e));
                        break;
                    }
                },
                message = ws.next() => match classify(message, WHAT) {
                    Incoming::Gone(e) => {
                        note(&e);
                        return Ok(());
                    }
                    Incoming::Closed => return Ok(()),
                    _ => {}
                }
            }
        }
    }
    match send_checked(&mut ws, Message::Text("".into()), WHAT).await {
        Ok(()) => while let Some(Ok(_)) = ws.next().await {},
        Err(e) => note(&e),
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The single channel of an interactive command (or a console): output to `sink`, input
/// from `input`. A terminal has no end of input, so none is sent when `input` ends; once
/// LXD's end-of-stream marker has come, the client closes its side (LXD waits for that
/// before it ends the operation, as its own client does).
/// `closing_is_end`: the socket closing also ends the output cleanly (a console, which LXD
/// may close before its end-of-stream marker when detaching).
#[allow(clippy::too_many_arguments)] // one call per kind of terminal, each naming them all
pub(crate) async fn pump_terminal(
    mut ws: WebSocket,
    mut sink: Sink,
    input: Option<Input>,
    lost: Option<LostFlag>,
    mut done: watch::Receiver<bool>,
    what: &'static str,
    closing_is_end: bool,
    mut finish: Option<oneshot::Receiver<()>>,
) -> Result<Sink> {
    let mut input = input;
    let mut buffer = BytesMut::new();
    let mut ended = false;
    loop {
        buffer.reserve(INPUT_CHUNK);
        let reading = input.is_some() && !ended;
        let finishing = finish.is_some() && !ended;
        tokio::select! {
            // Asked to end the stream from this side (a console's detach): a close frame,
            // which LXD answers (its websocket library does, before it stops reading); then
            // read on until LXD's answer or the end of the socket.
            _ = async { finish.as_mut().expect("guarded").await }, if finishing => {
                finish = None;
                input = None;
                let normal = CloseFrame {
                    code: CloseCode::Normal,
                    reason: "detaching".into(),
                };
                if ws.close(Some(normal)).await.is_err() {
                    sink.end();
                    break;
                }
            }
            message = ws.next() => match classify(message, what) {
                Incoming::Data(data) if !ended => sink.deliver(data).await,
                Incoming::End if !ended => {
                    ended = true;
                    sink.end();
                    let _ = ws.close(None).await;
                }
                Incoming::Data(_) | Incoming::End | Incoming::Nothing => {}
                Incoming::Closed => {
                    sink.end();
                    break;
                }
                Incoming::Gone(error) => {
                    if let (Some(flag), Error::ConnectionLost { reason, .. }) = (&lost, &error) {
                        let _ = flag.set(reason.clone());
                    }
                    if ended || closing_is_end {
                        sink.end();
                        break;
                    }
                    sink.fail(&error).await;
                    return Err(error);
                }
            },
            read = async { input.as_mut().expect("guarded").read_buf(&mut buffer).await }, if reading => {
                match read {
                    Ok(0) | Err(_) => input = None,
                    Ok(_) => {
                        let chunk = buffer.split().freeze();
                        if let Err(e) = send_checked(&mut ws, Message::Binary(chunk), what).await {
                            if let (Some(flag), Error::ConnectionLost { reason, .. }) = (&lost, &e) {
                                let _ = flag.set(reason.clone());
                            }
                            input = None;
                        }
                    }
                }
            }
            () = after_end(&mut done) => {
                if ended {
                    break;
                }
                let error = cut(what, "LXD did not end the stream after the command ended");
                sink.fail(&error).await;
                return Err(error);
            }
        }
    }
    Ok(sink)
}

/// A message for a control channel, with where to report how sending it went.
pub(crate) enum ControlMessage {
    /// A JSON control message.
    Text(String, oneshot::Sender<Result<()>>),
}

/// Keeps the control channel open until LXD closes it (when the command ends), sending the
/// messages it is given. It never closes the channel itself while the command runs: LXD
/// kills the command when its control channel closes.
///
/// LXD ends the control channel without a close frame once the command has ended, so the
/// channel going away is no loss by itself: a later signal is "already ended", unless an
/// output stream was cut or a message found the connection gone (`lost`, which
/// [`ExecControl`] reads).
async fn pump_control(
    mut ws: WebSocket,
    mut messages: mpsc::Receiver<ControlMessage>,
    lost: LostFlag,
) {
    const WHAT: &str = "exec control";
    let mut open = true;
    loop {
        tokio::select! {
            message = ws.next() => match classify(message, WHAT) {
                Incoming::Gone(_) | Incoming::End | Incoming::Closed => break,
                _ => {}
            },
            next = messages.recv(), if open => match next {
                Some(ControlMessage::Text(text, reply)) => {
                    let sent = send_checked(&mut ws, Message::Text(text.into()), WHAT).await;
                    let gone = match &sent {
                        Err(Error::ConnectionLost { reason, .. }) => {
                            let _ = lost.set(reason.clone());
                            true
                        }
                        _ => false,
                    };
                    let _ = reply.send(sent);
                    if gone {
                        break;
                    }
                }
                None => open = false,
            }
        }
    }
}

// ---- the session ---------------------------------------------------------------------

/// A running command, from [`ExecBuilder::spawn`].
///
/// Take the pipes you need (each once). [`wait`](Self::wait) first drops the pipes not
/// taken (stdin then reads end-of-file, output is drained and discarded), so a full buffer
/// can never deadlock it; pipes you took must be read (or dropped) by you.
///
/// The session is finished when the operation is final AND stdout and stderr have reached
/// their end. The control channel stays open until then (LXD kills the command when it
/// closes). Dropping the session detaches: the command runs on, its output is discarded.
pub struct ExecSession {
    operation_id: String,
    interactive: bool,
    stdin: Option<ExecWriter>,
    stdout: Option<ExecReader>,
    stderr: Option<ExecReader>,
    pty: Option<ExecPty>,
    control: ExecControl,
    status: JoinHandle<Result<lxd_proto::Operation>>,
    pumps: Vec<JoinHandle<Result<Sink>>>,
}

impl fmt::Debug for ExecSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecSession")
            .field("operation_id", &self.operation_id)
            .field("interactive", &self.interactive)
            .field("stdin", &self.stdin.is_some())
            .field("stdout", &self.stdout.is_some())
            .field("stderr", &self.stderr.is_some())
            .field("pty", &self.pty.is_some())
            .finish()
    }
}

impl ExecSession {
    /// The id of the exec operation.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let session = client.instances().exec("web", ["sleep", "60"]).spawn().await?;
    /// let op = client.operations().get(session.operation_id()).await?;
    /// println!("{}: {}", op.info().description, op.info().status);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/operations/operation_get)
    pub fn operation_id(&self) -> &str {
        &self.operation_id
    }

    /// Whether the command has a terminal.
    ///
    /// Whether `interactive` was set in the exec request.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let session = client.instances().exec("web", ["top"]).interactive(true).spawn().await?;
    /// assert!(session.is_interactive());
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_exec_post)
    pub fn is_interactive(&self) -> bool {
        self.interactive
    }

    /// The command's stdin (non-interactive; once). Dropping it or shutting it down
    /// (`AsyncWriteExt::shutdown`) closes the command's stdin. In interactive mode, when
    /// the terminal's output was given to a handler, this is the terminal's input.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// use tokio::io::AsyncWriteExt;
    /// let mut session = client.instances().exec("db", ["psql", "app"]).spawn().await?;
    /// let mut stdin = session.take_stdin().expect("taken once");
    /// stdin.write_all(b"VACUUM ANALYZE;\n").await?;
    /// drop(stdin); // psql reads end-of-file and exits
    /// assert!(session.wait().await?.success());
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/operations/operation_websocket_get) (channel `0`)
    pub fn take_stdin(&mut self) -> Option<ExecWriter> {
        self.stdin.take()
    }

    /// The command's stdout (non-interactive; once). In interactive mode, when the
    /// terminal's input was given to the builder, this is the terminal's output.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// // Stream a backup straight to a local file, whatever its size:
    /// let mut session = client.instances().exec("web", ["tar", "-cz", "/srv"]).spawn().await?;
    /// let mut archive = session.take_stdout().expect("taken once");
    /// let mut file = tokio::fs::File::create("srv.tar.gz").await?;
    /// tokio::io::copy(&mut archive, &mut file).await?;
    /// assert!(session.wait().await?.success());
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/operations/operation_websocket_get) (channel `1`)
    pub fn take_stdout(&mut self) -> Option<ExecReader> {
        self.stdout.take()
    }

    /// The command's stderr (non-interactive; once).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// use tokio::io::{AsyncBufReadExt, BufReader};
    /// let mut session = client.instances().exec("ci", ["make", "-C", "/src"]).spawn().await?;
    /// let mut errors = BufReader::new(session.take_stderr().expect("taken once")).lines();
    /// while let Some(line) = errors.next_line().await? {
    ///     eprintln!("make: {line}");
    /// }
    /// session.wait().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/operations/operation_websocket_get) (channel `2`)
    pub fn take_stderr(&mut self) -> Option<ExecReader> {
        self.stderr.take()
    }

    /// The terminal (interactive; once): read its output, write its input.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// use tokio::io::{AsyncReadExt, AsyncWriteExt};
    /// let mut session = client.instances().exec("web", ["sh"]).interactive(true).spawn().await?;
    /// let mut pty = session.take_pty().expect("interactive, taken once");
    /// pty.write_all(b"uname -a; exit\r").await?;
    /// let mut screen = Vec::new();
    /// pty.read_to_end(&mut screen).await?; // until the shell exits
    /// println!("{}", String::from_utf8_lossy(&screen));
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/operations/operation_websocket_get) (channel `0`)
    pub fn take_pty(&mut self) -> Option<ExecPty> {
        self.pty.take()
    }

    /// A handle to send signals and window sizes; it can be cloned and used from any task.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use std::time::Duration;
    /// let session = client.instances().exec("web", ["sleep", "600"]).spawn().await?;
    /// let control = session.control();
    /// tokio::spawn(async move {
    ///     tokio::time::sleep(Duration::from_secs(30)).await;
    ///     control.signal(15).await // SIGTERM after 30 s
    /// });
    /// assert_eq!(session.wait().await?.signal(), Some(15));
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/operations/operation_websocket_get) (channel `control`)
    pub fn control(&self) -> ExecControl {
        self.control.clone()
    }

    /// Sends SIGKILL to the command.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let session = client.instances().exec("web", ["sleep", "100"]).spawn().await?;
    /// session.kill().await?;
    /// assert_eq!(session.wait().await?.signal(), Some(9));
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/operations/operation_websocket_get) (channel `control`)
    pub async fn kill(&self) -> Result<()> {
        self.control.signal(9).await
    }

    /// Waits until the command has ended and its output streams have reached their end,
    /// and returns its exit status. Pipes not taken are dropped first (see the type's
    /// documentation).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let session = client.instances().exec("web", ["sh", "-c", "exit 3"]).spawn().await?;
    /// assert_eq!(session.wait().await?.exit_code, 3);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/operations/operation_wait_get)
    pub async fn wait(mut self) -> Result<ExecStatus> {
        drop(self.stdin.take());
        drop(self.stdout.take());
        drop(self.stderr.take());
        drop(self.pty.take());
        let operation = join_task(self.status).await?;
        // Output errors were given to the readers that were taken; a discarded stream's
        // errors concern nobody.
        for pump in self.pumps {
            let _ = pump.await;
        }
        ExecStatus::from_operation(operation)
    }
}

/// Sends signals and window sizes to a running command, over its control websocket.
#[derive(Clone)]
pub struct ExecControl {
    commands: mpsc::Sender<ControlMessage>,
    interactive: bool,
    /// Set once the session's connection is known lost (see `pump_control`).
    lost: LostFlag,
}

impl fmt::Debug for ExecControl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecControl")
            .field("interactive", &self.interactive)
            .field("open", &!self.commands.is_closed())
            .finish()
    }
}

impl ExecControl {
    /// Forwards signal `signal` (a Linux signal number: 1 SIGHUP, 2 SIGINT, 9 SIGKILL, 15
    /// SIGTERM, ...) to the command. An error once the command has ended.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let session = client.instances().exec("web", ["sleep", "100"]).spawn().await?;
    /// session.control().signal(15).await?;
    /// assert_eq!(session.wait().await?.exit_code, 128 + 15);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/operations/operation_websocket_get) (channel `control`)
    pub async fn signal(&self, signal: i32) -> Result<()> {
        if !(1..=64).contains(&signal) {
            return Err(Error::invalid(
                "signal",
                format!("{signal} is not a signal number (1 to 64)"),
            ));
        }
        self.send(&InstanceExecControl::signal(signal)).await
    }

    /// Resizes the command's terminal (interactive only).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let session = client.instances().exec("web", ["sh"]).interactive(true).spawn().await?;
    /// session.control().resize(132, 43).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/operations/operation_websocket_get) (channel `control`)
    pub async fn resize(&self, width: u32, height: u32) -> Result<()> {
        if !self.interactive {
            return Err(Error::invalid(
                "window resize",
                "the command has no terminal (not interactive)",
            ));
        }
        if width == 0 || height == 0 {
            return Err(Error::invalid(
                "window resize",
                "width and height must be positive",
            ));
        }
        self.send(&InstanceExecControl::window_resize(width, height))
            .await
    }

    async fn send(&self, message: &InstanceExecControl) -> Result<()> {
        let text = serde_json::to_string(message)
            .map_err(|e| Error::invalid("control message", e.to_string()))?;
        // The channel is closed: the command ended, or the connection was lost on the way.
        let ended = || match self.lost.get() {
            Some(reason) => Error::lost("exec control", reason),
            None => Error::invalid("exec control", "the command has already ended"),
        };
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(ControlMessage::Text(text, reply))
            .await
            .map_err(|_| ended())?;
        answer.await.map_err(|_| ended())?
    }
}

/// How a command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecStatus {
    /// The exit code (128 + N when killed by signal N).
    pub exit_code: i32,
    /// LXD's message for a command it could not run ("Command not found" with 127, ...);
    /// empty otherwise.
    pub message: String,
}

impl ExecStatus {
    /// Reads the exit code from a final exec operation. An operation that failed without
    /// an exit code (websockets not connected in time, instance gone) is the error.
    pub(crate) fn from_operation(op: lxd_proto::Operation) -> Result<ExecStatus> {
        let context = format!("exec operation {}", op.id);
        let metadata = metadata_of(&context, &op)?;
        match metadata.return_code {
            Some(exit_code) => Ok(ExecStatus {
                exit_code,
                message: op.err,
            }),
            None => {
                judge(op)?;
                Err(Error::malformed(
                    context,
                    "the finished exec operation carries no exit code (metadata.return)",
                    b"",
                ))
            }
        }
    }

    /// Whether the exit code is 0.
    ///
    /// ```
    /// use lxd_client::ExecStatus;
    /// let exited = |exit_code| ExecStatus { exit_code, message: String::new() };
    /// assert!(exited(0).success());
    /// assert!(!exited(1).success());
    /// assert!(!exited(128 + 9).success()); // killed
    /// ```
    pub fn success(&self) -> bool {
        self.exit_code == 0
    }

    /// The signal that killed the command, read from LXD's 128 + N convention (so a command
    /// that itself exits with 130 reads as signal 2 too).
    ///
    /// ```
    /// use lxd_client::ExecStatus;
    /// let terminated = ExecStatus { exit_code: 128 + 15, message: String::new() };
    /// assert_eq!(terminated.signal(), Some(15)); // SIGTERM
    /// let failed = ExecStatus { exit_code: 2, message: String::new() };
    /// assert_eq!(failed.signal(), None);
    /// ```
    pub fn signal(&self) -> Option<i32> {
        (129..=128 + 64)
            .contains(&self.exit_code)
            .then(|| self.exit_code - 128)
    }
}

/// The result of [`ExecBuilder::run`].
#[derive(Clone, PartialEq, Eq)]
pub struct ExecOutput {
    /// The exit code (128 + N when killed by signal N).
    pub exit_code: i32,
    /// Everything written to stdout (empty when given to a handler).
    pub stdout: Vec<u8>,
    /// Everything written to stderr (empty when given to a handler, or interactive).
    pub stderr: Vec<u8>,
    /// LXD's message for a command it could not run ("Command not found"); else empty.
    pub message: String,
}

impl fmt::Debug for ExecOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecOutput")
            .field("exit_code", &self.exit_code)
            .field("stdout", &String::from_utf8_lossy(&self.stdout))
            .field("stderr", &String::from_utf8_lossy(&self.stderr))
            .field("message", &self.message)
            .finish()
    }
}

impl ExecOutput {
    /// Whether the exit code is 0.
    ///
    /// ```
    /// # use lxd_client::ExecOutput;
    /// let out = ExecOutput { exit_code: 1, stdout: vec![], stderr: b"no such file\n".to_vec(), message: String::new() };
    /// if !out.success() {
    ///     eprintln!("failed with {}: {}", out.exit_code, out.stderr_text());
    /// }
    /// # assert!(!out.success());
    /// ```
    pub fn success(&self) -> bool {
        self.exit_code == 0
    }

    /// Stdout as text, invalid UTF-8 replaced by U+FFFD.
    ///
    /// ```
    /// # use lxd_client::ExecOutput;
    /// let out = ExecOutput { exit_code: 0, stdout: b"caf\xe9\n".to_vec(), stderr: vec![], message: String::new() };
    /// assert_eq!(out.stdout_text(), "caf\u{FFFD}\n"); // Latin-1 \xe9 is not UTF-8
    /// ```
    pub fn stdout_text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.stdout)
    }

    /// Stderr as text, invalid UTF-8 replaced by U+FFFD.
    ///
    /// ```
    /// # use lxd_client::ExecOutput;
    /// let out = ExecOutput {
    ///     exit_code: 1,
    ///     stdout: vec![],
    ///     stderr: b"ls: /nope: No such file or directory\n".to_vec(),
    ///     message: String::new(),
    /// };
    /// assert!(out.stderr_text().contains("No such file"));
    /// ```
    pub fn stderr_text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.stderr)
    }

    /// Stdout as UTF-8, or the decoding error.
    ///
    /// ```
    /// # use lxd_client::ExecOutput;
    /// let output = |stdout: &[u8]| ExecOutput { exit_code: 0, stdout: stdout.to_vec(), stderr: vec![], message: String::new() };
    /// assert_eq!(output(b"hello\n").stdout_utf8(), Ok("hello\n"));
    /// assert!(output(b"\xff\xfe").stdout_utf8().is_err()); // binary output
    /// ```
    pub fn stdout_utf8(&self) -> std::result::Result<&str, std::str::Utf8Error> {
        std::str::from_utf8(&self.stdout)
    }

    /// Stderr as UTF-8, or the decoding error.
    ///
    /// ```
    /// # use lxd_client::ExecOutput;
    /// let output = |stderr: &[u8]| ExecOutput { exit_code: 1, stdout: vec![], stderr: stderr.to_vec(), message: String::new() };
    /// assert_eq!(output(b"denied\n").stderr_utf8(), Ok("denied\n"));
    /// assert!(output(b"\xc3").stderr_utf8().is_err()); // cut in the middle of a character
    /// ```
    pub fn stderr_utf8(&self) -> std::result::Result<&str, std::str::Utf8Error> {
        std::str::from_utf8(&self.stderr)
    }
}

// ---- pipes ---------------------------------------------------------------------------

/// A command's output (stdout, stderr, or a terminal's output), as an [`AsyncRead`].
///
/// End-of-file comes with LXD's end-of-stream marker; a stream cut before it fails with
/// [`io::ErrorKind::UnexpectedEof`], never with a silent early end.
pub struct ExecReader {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    chunk: Bytes,
    finished: bool,
}

impl fmt::Debug for ExecReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecReader")
            .field("buffered", &self.chunk.len())
            .field("finished", &self.finished)
            .finish()
    }
}

impl ExecReader {
    pub(crate) fn new(rx: mpsc::Receiver<io::Result<Bytes>>) -> ExecReader {
        ExecReader {
            rx,
            chunk: Bytes::new(),
            finished: false,
        }
    }
}

impl AsyncRead for ExecReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            if !self.chunk.is_empty() {
                let n = self.chunk.len().min(buf.remaining());
                let part = self.chunk.split_to(n);
                buf.put_slice(&part);
                return Poll::Ready(Ok(()));
            }
            if self.finished {
                return Poll::Ready(Ok(()));
            }
            match self.rx.poll_recv(cx) {
                Poll::Ready(Some(Ok(data))) => self.chunk = data,
                Poll::Ready(Some(Err(e))) => {
                    self.finished = true;
                    return Poll::Ready(Err(e));
                }
                Poll::Ready(None) => self.finished = true,
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// A command's input (stdin, or a terminal's input), as an [`AsyncWrite`].
///
/// Shutting it down or dropping it closes the command's stdin (LXD's end-of-input marker);
/// for a terminal nothing is sent (a terminal has no end of input: write `\x04`, Ctrl-D).
pub struct ExecWriter {
    pipe: DuplexStream,
    lost: LostFlag,
}

impl ExecWriter {
    /// A writer, the pump's end of its pipe, and the flag the pump sets when the
    /// connection is lost.
    pub(crate) fn pipe() -> (ExecWriter, Input, LostFlag) {
        let (ours, theirs) = tokio::io::duplex(INPUT_PIPE);
        let lost = LostFlag::default();
        (
            ExecWriter {
                pipe: ours,
                lost: lost.clone(),
            },
            Box::new(theirs),
            lost,
        )
    }

    /// The error for a write once the connection is lost: an io error of kind
    /// `ConnectionReset` carrying an [`Error::ConnectionLost`].
    fn lost_error(&self) -> Option<io::Error> {
        self.lost.get().map(|reason| {
            io::Error::new(
                io::ErrorKind::ConnectionReset,
                Error::lost("exec stdin", reason),
            )
        })
    }

    /// A pipe error, typed when the pump stopped because the connection was lost.
    fn judge<T>(&self, result: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        match result {
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::BrokenPipe => {
                Poll::Ready(Err(self.lost_error().unwrap_or(e)))
            }
            other => other,
        }
    }
}

impl fmt::Debug for ExecWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecWriter").finish_non_exhaustive()
    }
}

impl AsyncWrite for ExecWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Some(e) = self.lost_error() {
            return Poll::Ready(Err(e));
        }
        let result = Pin::new(&mut self.pipe).poll_write(cx, buf);
        self.judge(result)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = Pin::new(&mut self.pipe).poll_flush(cx);
        self.judge(result)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = Pin::new(&mut self.pipe).poll_shutdown(cx);
        self.judge(result)
    }
}

/// The terminal of an interactive command: [`AsyncRead`] for its output, [`AsyncWrite`] for
/// its input. [`into_split`](Self::into_split) gives the two halves to two tasks.
#[derive(Debug)]
pub struct ExecPty {
    reader: ExecReader,
    writer: ExecWriter,
}

impl ExecPty {
    /// The output and input halves.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// use tokio::io::{AsyncReadExt, AsyncWriteExt};
    /// let mut session = client.instances().exec("web", ["sh"]).interactive(true).spawn().await?;
    /// let (mut output, mut input) = session.take_pty().expect("interactive").into_split();
    /// let reader = tokio::spawn(async move {
    ///     let mut screen = Vec::new();
    ///     output.read_to_end(&mut screen).await.map(|_| screen)
    /// });
    /// input.write_all(b"df -h; exit\r").await?;
    /// println!("{}", String::from_utf8_lossy(&reader.await??));
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/operations/operation_websocket_get) (channel `0`)
    pub fn into_split(self) -> (ExecReader, ExecWriter) {
        (self.reader, self.writer)
    }

    pub(crate) fn new(reader: ExecReader, writer: ExecWriter) -> ExecPty {
        ExecPty { reader, writer }
    }
}

impl AsyncRead for ExecPty {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.reader).poll_read(cx, buf)
    }
}

impl AsyncWrite for ExecPty {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.writer).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.writer).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.writer).poll_shutdown(cx)
    }
}

/// A pipe pair for a terminal: the caller's [`ExecPty`] and the pump's ends.
pub(crate) fn terminal_pipes() -> (ExecPty, Sink, Input, LostFlag) {
    let (tx, rx) = mpsc::channel(OUTPUT_CHANNEL);
    let (writer, input, lost) = ExecWriter::pipe();
    (
        ExecPty::new(ExecReader::new(rx), writer),
        Sink::Channel(tx),
        input,
        lost,
    )
}

// ---- record-output and raw forms -------------------------------------------------------

/// A command that ran with its output recorded to log files, from
/// [`ExecBuilder::run_recorded`].
#[derive(Clone)]
pub struct RecordedExec {
    client: Client,
    /// The exit code.
    pub exit_code: i32,
    /// LXD's message for a command it could not run; else empty.
    pub message: String,
    /// URL of the stdout log (`/1.0/instances/<name>/logs/exec_<id>.stdout`).
    pub stdout_log: String,
    /// URL of the stderr log.
    pub stderr_log: String,
}

impl fmt::Debug for RecordedExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordedExec")
            .field("exit_code", &self.exit_code)
            .field("message", &self.message)
            .field("stdout_log", &self.stdout_log)
            .field("stderr_log", &self.stderr_log)
            .finish()
    }
}

impl RecordedExec {
    /// Streams the stdout log.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use futures::TryStreamExt;
    /// let recorded = client.instances().exec("web", ["ls", "-R", "/"]).run_recorded().await?;
    /// let mut stdout = recorded.stdout().await?;
    /// while let Some(chunk) = stdout.try_next().await? {
    ///     print!("{}", String::from_utf8_lossy(&chunk));
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_log_get)
    pub async fn stdout(&self) -> Result<BoxStream<'static, Result<Bytes>>> {
        self.log(&self.stdout_log).await
    }

    /// Streams the stderr log.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use futures::TryStreamExt;
    /// let recorded = client.instances().exec("ci", ["make", "-C", "/src"]).run_recorded().await?;
    /// let mut stderr = recorded.stderr().await?;
    /// while let Some(chunk) = stderr.try_next().await? {
    ///     eprint!("{}", String::from_utf8_lossy(&chunk));
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_log_get)
    pub async fn stderr(&self) -> Result<BoxStream<'static, Result<Bytes>>> {
        self.log(&self.stderr_log).await
    }

    /// The whole stdout log, in memory.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let recorded = client.instances().exec("web", ["cat", "/etc/os-release"]).run_recorded().await?;
    /// let os_release = String::from_utf8_lossy(&recorded.stdout_bytes().await?).into_owned();
    /// assert!(os_release.contains("ID="));
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_log_get)
    pub async fn stdout_bytes(&self) -> Result<Vec<u8>> {
        collect(self.stdout().await?).await
    }

    /// The whole stderr log, in memory.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let recorded = client.instances().exec("web", ["ls", "/missing"]).run_recorded().await?;
    /// assert_ne!(recorded.exit_code, 0);
    /// let why = recorded.stderr_bytes().await?;
    /// println!("ls failed: {}", String::from_utf8_lossy(&why));
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_log_get)
    pub async fn stderr_bytes(&self) -> Result<Vec<u8>> {
        collect(self.stderr().await?).await
    }

    /// Deletes both log files from the instance.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let recorded = client.instances().exec("web", ["uptime"]).run_recorded().await?;
    /// let uptime = recorded.stdout_bytes().await?;
    /// recorded.delete_logs().await?; // read once, then cleaned up
    /// # drop(uptime);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_log_delete)
    pub async fn delete_logs(&self) -> Result<()> {
        for url in [&self.stdout_log, &self.stderr_log] {
            self.client
                .write::<()>(Method::DELETE, url, &[], None)
                .await?;
        }
        Ok(())
    }

    async fn log(&self, url: &str) -> Result<BoxStream<'static, Result<Bytes>>> {
        let request = self.client.request(Method::GET, url, &[]);
        let response = self.client.send_raw(request).await?;
        Ok(response
            .into_stream()
            .map(|r| r.map_err(Error::from))
            .boxed())
    }
}

async fn collect(mut stream: BoxStream<'static, Result<Bytes>>) -> Result<Vec<u8>> {
    let mut all = Vec::new();
    while let Some(chunk) = stream.next().await {
        all.extend_from_slice(&chunk?);
    }
    Ok(all)
}

/// An exec whose websockets the caller drives, from [`ExecBuilder::start_raw`].
///
/// `Debug` hides the secrets.
pub struct RawExec {
    client: Client,
    operation: Operation,
    secrets: BTreeMap<String, String>,
}

impl fmt::Debug for RawExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawExec")
            .field("operation", &self.operation.id())
            .field("channels", &self.secrets.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl RawExec {
    /// The exec operation (wait on it for the end; its metadata then has `return`).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let raw = client.instances().exec("web", ["true"]).start_raw().await?;
    /// println!("exec operation {}", raw.operation().id());
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/operations/operation_get)
    pub fn operation(&self) -> &Operation {
        &self.operation
    }

    /// The channels: `"0"`, `"1"`, `"2"`, `"control"` (`"0"` and `"control"` when
    /// interactive).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let raw = client.instances().exec("web", ["sh"]).interactive(true).start_raw().await?;
    /// let channels: Vec<&str> = raw.channels().collect();
    /// assert_eq!(channels, ["0", "control"]);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/operations/operation_websocket_get)
    pub fn channels(&self) -> impl Iterator<Item = &str> {
        self.secrets.keys().map(String::as_str)
    }

    /// The secret of a channel.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let raw = client.instances().exec("web", ["cat"]).start_raw().await?;
    /// let stdin_secret = raw.secret("0").expect("every exec has channel 0");
    /// assert!(raw.secret("3").is_none());
    /// # drop(stdin_secret);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/operations/operation_websocket_get) (its `secret` parameter)
    pub fn secret(&self, channel: &str) -> Option<&str> {
        self.secrets.get(channel).map(String::as_str)
    }

    /// The path and query of a channel's websocket,
    /// `/1.0/operations/<id>/websocket?secret=<secret>` (plus `&project=` for a
    /// project-scoped client), to open with any websocket client over the same transport.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let raw = client.instances().exec("web", ["cat"]).start_raw().await?;
    /// let url = raw.websocket_url("1").expect("stdout channel");
    /// let prefix = format!("/1.0/operations/{}/websocket?secret=", raw.operation().id());
    /// assert!(url.starts_with(&prefix));
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/operations/operation_websocket_get)
    pub fn websocket_url(&self, channel: &str) -> Option<String> {
        let secret = self.secrets.get(channel)?;
        let mut pairs = vec![("secret", secret.as_str())];
        if let Some(project) = self.client.project() {
            pairs.push(("project", project));
        }
        let request = lxd_transport::Request::new(
            Method::GET,
            format!("/1.0/operations/{}/websocket", segment(self.operation.id())),
        );
        let request = pairs.into_iter().fold(request, |r, (k, v)| r.query(k, v));
        Some(request.path_and_query())
    }

    /// Opens a channel's websocket on this client's transport (server certificate verified
    /// as for every request).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use futures::StreamExt;
    /// let raw = client.instances().exec("web", ["uname", "-a"]).start_raw().await?;
    /// let control = raw.connect("control").await?; // first: LXD kills the command when it closes
    /// let (stdin, mut stdout, stderr) = (raw.connect("0").await?, raw.connect("1").await?, raw.connect("2").await?);
    /// while let Some(Ok(message)) = stdout.next().await {
    ///     println!("{message:?}"); // binary data; an empty text message ends the stream
    /// }
    /// # drop((control, stdin, stderr));
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/operations/operation_websocket_get)
    pub async fn connect(&self, channel: &str) -> Result<WebSocket> {
        connect_channel(&self.client, self.operation.id(), &self.secrets, channel).await
    }

    /// The operation, for waiting on it.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let raw = client.instances().exec("web", ["sh"]).interactive(true).start_raw().await?;
    /// // ... connect and drive the websockets ...
    /// let done = raw.into_operation().wait().await?;
    /// println!("exit code: {}", done.metadata.unwrap_or_default()["return"]);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/operations/operation_wait_get)
    pub fn into_operation(self) -> Operation {
        self.operation
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builder(command: &[&str]) -> ExecBuilder {
        ExecBuilder {
            client: crate::instances::offline_client(),
            name: "c1".into(),
            request: InstanceExecPost {
                command: command.iter().map(|s| s.to_string()).collect(),
                ..Default::default()
            },
            stdin: None,
            on_stdout: None,
            on_stderr: None,
        }
    }

    #[test]
    fn bad_input_is_refused_before_any_request() {
        assert!(builder(&[]).check().unwrap_err().is_invalid_input());
        assert!(builder(&[""]).check().unwrap_err().is_invalid_input());
        assert!(builder(&["a\0b"]).check().unwrap_err().is_invalid_input());
        assert!(
            builder(&["env"])
                .env("A=B", "x")
                .check()
                .unwrap_err()
                .is_invalid_input()
        );
        assert!(
            builder(&["sh"])
                .window_size(80, 24)
                .check()
                .unwrap_err()
                .is_invalid_input()
        );
        assert!(
            builder(&["sh"])
                .interactive(true)
                .on_stderr(|_| {})
                .check()
                .unwrap_err()
                .is_invalid_input()
        );
        let mut bad_name = builder(&["true"]);
        bad_name.name = "a/b".into();
        assert!(bad_name.check().unwrap_err().is_invalid_input());
        assert_eq!(
            builder(&["true"]).check().unwrap(),
            "/1.0/instances/c1".to_string()
        );
    }

    #[test]
    fn status_from_final_operations() {
        let op = |code: u16, err: &str, metadata: serde_json::Value| lxd_proto::Operation {
            id: "x".into(),
            status_code: lxd_proto::StatusCode(code),
            err: err.into(),
            metadata: Some(metadata),
            ..Default::default()
        };
        let ok =
            ExecStatus::from_operation(op(200, "", serde_json::json!({"return": 42}))).unwrap();
        assert_eq!(ok.exit_code, 42);
        assert_eq!(ok.signal(), None);
        let killed =
            ExecStatus::from_operation(op(200, "", serde_json::json!({"return": 143}))).unwrap();
        assert_eq!(killed.signal(), Some(15));
        // Command not found: the operation failed, the exit code is still there.
        let missing = ExecStatus::from_operation(op(
            400,
            "Command not found",
            serde_json::json!({"return": 127}),
        ))
        .unwrap();
        assert_eq!(
            (missing.exit_code, missing.message.as_str()),
            (127, "Command not found")
        );
        // No exit code: the failure is the error.
        let failed = ExecStatus::from_operation(op(
            400,
            "Timed out waiting for websockets to connect",
            serde_json::json!({"fds": {}}),
        ))
        .unwrap_err();
        assert!(failed.is_operation_failed(), "{failed:?}");
        let odd = ExecStatus::from_operation(op(200, "", serde_json::json!({}))).unwrap_err();
        assert!(odd.is_malformed(), "{odd:?}");
    }

    #[tokio::test]
    async fn reader_delivers_chunks_then_eof_or_the_error() {
        let (tx, rx) = mpsc::channel(4);
        let mut reader = ExecReader::new(rx);
        tx.send(Ok(Bytes::from_static(b"hello "))).await.unwrap();
        tx.send(Ok(Bytes::from_static(b"world"))).await.unwrap();
        drop(tx);
        let mut all = Vec::new();
        reader.read_to_end(&mut all).await.unwrap();
        assert_eq!(all, b"hello world");

        let (tx, rx) = mpsc::channel(4);
        let mut reader = ExecReader::new(rx);
        tx.send(Ok(Bytes::from_static(b"part"))).await.unwrap();
        tx.send(Err(io::Error::new(io::ErrorKind::UnexpectedEof, "cut")))
            .await
            .unwrap();
        let mut all = Vec::new();
        let err = reader.read_to_end(&mut all).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(all, b"part");
    }

    #[tokio::test]
    async fn dropped_reader_turns_the_sink_into_a_drain() {
        let (tx, rx) = mpsc::channel(1);
        let mut sink = Sink::Channel(tx);
        drop(rx);
        sink.deliver(Bytes::from_static(b"x")).await;
        assert!(matches!(sink, Sink::Discard));
    }
}
