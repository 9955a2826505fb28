//! `POST /1.0/instances/<name>/exec`, the way LXD 5.0 does it.
//!
//! With `wait-for-websocket`, a websocket operation hands out secrets for its channels
//! (`0`, `1`, `2` and `control`; interactive: `0` and `control`). The command starts once
//! the required channels are connected (5 s at most). Output goes out as binary messages
//! followed by an empty text message (the barrier); input is read until a text message or
//! the close. The control channel takes `signal` and `window-resize` messages; closing it
//! kills the command. When the command ends its channels are dropped (no close frame, as
//! LXD's gorilla `Close` does), `metadata.return` is set, and the operation succeeds, except
//! for exit codes 127 and 126 which LXD turns into "Command not found" / "not executable".
//!
//! Without `wait-for-websocket` the command runs at once; `record-output` keeps its output
//! in the instance's logs (`logs/exec_<op>.stdout`, or `logs/exec-output/...` on LXD 6 and Incus).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use hyper::upgrade::OnUpgrade;
use lxd_proto::{LifecycleAction, OperationClass};
use serde_json::{Map, Value, json};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::Message;

use crate::api::instances::{self, not_found};
use crate::events::context;
use crate::fs::FsError;
use crate::http::{ApiError, ApiResult, Req};
use crate::operations::{Op, OpSpec, WebsocketConnect};
use crate::server::Inner;
use crate::shell::{self, Context, Files, Input, Io, Output};
use crate::state::Power;
use crate::util;
use crate::websocket::ServerSocket;

/// The instance's files, as the shell sees them (always the live file system).
struct InstanceFiles {
    inner: Arc<Inner>,
    project: String,
    name: String,
}

impl InstanceFiles {
    fn with<T>(
        &self,
        f: impl FnOnce(&mut crate::fs::Fs) -> Result<T, FsError>,
    ) -> Result<T, FsError> {
        let mut state = self.inner.state();
        let rec = state
            .instance_mut(&self.project, &self.name)
            .ok_or(FsError::NotFound)?;
        f(&mut rec.fs)
    }
}

impl Files for InstanceFiles {
    fn read(&self, path: &str) -> Result<Bytes, FsError> {
        self.with(|fs| fs.read(path))
    }

    fn write(&self, path: &str, data: Bytes, append: bool) -> Result<(), FsError> {
        self.with(|fs| fs.write(path, data, append, None))
    }

    fn is_dir(&self, path: &str) -> bool {
        self.with(|fs| Ok(fs.stat(path)?.type_name() == "directory"))
            .unwrap_or(false)
    }
}

/// The channels of one exec: which secret opens which channel, and where a connection
/// goes once it arrives.
struct Channels {
    secrets: BTreeMap<String, String>,
    waiting: Mutex<HashMap<String, oneshot::Sender<OnUpgrade>>>,
}

impl WebsocketConnect for Channels {
    fn connect(&self, secret: &str, upgrade: OnUpgrade) -> Result<(), ApiError> {
        let channel = self
            .secrets
            .iter()
            .find(|(_, s)| s.as_str() == secret)
            .map(|(c, _)| c.clone())
            .ok_or_else(ApiError::forbidden)?;
        let sender = self
            .waiting
            .lock()
            .expect("channels lock")
            .remove(&channel)
            .ok_or_else(|| ApiError::internal("Websocket number already connected"))?;
        sender
            .send(upgrade)
            .map_err(|_| ApiError::internal("the exec is over"))
    }
}

/// What the request asked for.
struct ExecRequest {
    command: Vec<String>,
    environment: BTreeMap<String, String>,
    interactive: bool,
    wait_for_websocket: bool,
    record_output: bool,
    width: u32,
    height: u32,
    user: u32,
    group: u32,
    cwd: String,
}

fn parse_request(req: &Req) -> Result<ExecRequest, ApiError> {
    let body = req.json_object()?;
    let command =
        crate::state::strings_from_json(body.get("command")).map_err(ApiError::bad_request)?;
    let environment =
        crate::state::config_from_json(body.get("environment")).map_err(ApiError::bad_request)?;
    let flag = |k: &str| body.get(k).and_then(Value::as_bool).unwrap_or(false);
    let number = |k: &str| body.get(k).and_then(Value::as_u64).unwrap_or(0) as u32;
    Ok(ExecRequest {
        command,
        environment,
        interactive: flag("interactive"),
        wait_for_websocket: flag("wait-for-websocket"),
        record_output: flag("record-output"),
        width: number("width"),
        height: number("height"),
        user: number("user"),
        group: number("group"),
        cwd: super::text(&body, "cwd").to_string(),
    })
}

/// LXD's default environment: `environment.*` from the instance config, PATH, HOME, USER
/// (root only) and LANG, unless the request sets them.
fn environment(
    mut env: BTreeMap<String, String>,
    expanded_config: &BTreeMap<String, String>,
    user: u32,
) -> BTreeMap<String, String> {
    for (key, value) in expanded_config {
        if let Some(name) = key.strip_prefix("environment.") {
            env.entry(name.to_string()).or_insert_with(|| value.clone());
        }
    }
    env.entry("PATH".into())
        .or_insert_with(|| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    if user == 0 {
        env.entry("HOME".into()).or_insert_with(|| "/root".into());
        env.entry("USER".into()).or_insert_with(|| "root".into());
    }
    env.entry("LANG".into()).or_insert_with(|| "C.UTF-8".into());
    env
}

/// `POST /1.0/instances/<name>/exec`.
pub(crate) fn post(inner: &Arc<Inner>, req: &Req, name: &str) -> ApiResult {
    let project = req.project();
    let exec = parse_request(req)?;
    let (env, is_container) = {
        let state = inner.state();
        let rec = state.instance(&project, name).ok_or_else(not_found)?;
        match rec.power {
            Power::Stopped => return Err(ApiError::bad_request("Instance is not running")),
            Power::Frozen => return Err(ApiError::bad_request("Instance is frozen")),
            Power::Running => {}
        }
        let (expanded, _) = state.expand(&rec.project, &rec.profiles, &rec.config, &rec.devices);
        (
            environment(exec.environment.clone(), &expanded, exec.user),
            rec.is_container(),
        )
    };
    let cwd = if exec.cwd.is_empty() {
        env.get("HOME").cloned().unwrap_or_else(|| "/".into())
    } else {
        exec.cwd.clone()
    };
    let ctx = Context {
        env: env.clone(),
        cwd,
        uid: exec.user,
        gid: exec.group,
        interactive: exec.interactive,
        window: Arc::new(Mutex::new((exec.width.max(80), exec.height.max(24)))),
        files: Arc::new(InstanceFiles {
            inner: inner.clone(),
            project: project.clone(),
            name: name.to_string(),
        }),
    };
    let mut spec = OpSpec::task("Executing command", &project).instance(name, is_container);
    let session = Session {
        inner: inner.clone(),
        project: project.clone(),
        name: name.to_string(),
        command: exec.command.clone(),
        interactive: exec.interactive,
        close_websockets: req.faults.close_exec_websocket,
    };
    if exec.wait_for_websocket {
        let channels: Vec<&str> = if exec.interactive {
            vec!["0", "control"]
        } else {
            vec!["0", "1", "2", "control"]
        };
        let secrets: BTreeMap<String, String> = channels
            .iter()
            .map(|c| (c.to_string(), util::secret()))
            .collect();
        let mut waiting = HashMap::new();
        let mut receivers = HashMap::new();
        for channel in &channels {
            let (tx, rx) = oneshot::channel();
            waiting.insert(channel.to_string(), tx);
            receivers.insert(channel.to_string(), rx);
        }
        spec.class = OperationClass::Websocket;
        spec.metadata = Some(json!({
            "command": exec.command,
            "environment": env,
            "fds": secrets,
            "interactive": exec.interactive,
        }));
        spec.websockets = Some(Arc::new(Channels {
            secrets,
            waiting: Mutex::new(waiting),
        }));
        let op = inner.ops.create(spec);
        let task_op = op.clone();
        return Ok(inner
            .ops
            .start(&op, req.faults.operation.clone(), async move {
                session.run_websockets(task_op, receivers, ctx).await
            }));
    }
    let op = inner.ops.create(spec);
    let task_op = op.clone();
    let record = exec.record_output;
    Ok(inner
        .ops
        .start(&op, req.faults.operation.clone(), async move {
            session.run_detached(task_op, ctx, record).await
        }))
}

/// One running exec.
struct Session {
    inner: Arc<Inner>,
    project: String,
    name: String,
    command: Vec<String>,
    interactive: bool,
    close_websockets: bool,
}

/// How the command ended.
enum Ending {
    Exited(i32),
    Signalled(i32),
}

impl Session {
    fn announce(&self) {
        let source = {
            let state = self.inner.state();
            state
                .instance(&self.project, &self.name)
                .map(instances::url)
                .unwrap_or_default()
        };
        self.inner.events.lifecycle(
            &self.project,
            LifecycleAction::InstanceExec,
            source,
            context(&[("command", json!(self.command))]),
            None,
        );
    }

    /// Resolves with a signal number when the instance stops or restarts under the command.
    fn instance_killed(&self) -> impl std::future::Future<Output = i32> + Send + 'static {
        let mut killed = self.inner.killed.subscribe();
        let (project, name) = (self.project.clone(), self.name.clone());
        async move {
            loop {
                match killed.recv().await {
                    Ok((p, n)) if p == project && n == name => return 9,
                    Ok(_) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(_) => return std::future::pending::<i32>().await,
                }
            }
        }
    }

    /// Runs the command until it exits or a signal kills it.
    async fn execute(
        &self,
        mut ctx: Context,
        mut io: Io,
        mut signals: watch::Receiver<Option<i32>>,
    ) -> Ending {
        let command = self.command.clone();
        let killed = self.instance_killed();
        let signalled = async move {
            loop {
                if let Some(signal) = *signals.borrow_and_update() {
                    return signal;
                }
                if signals.changed().await.is_err() {
                    return std::future::pending::<i32>().await;
                }
            }
        };
        let ending = tokio::select! {
            code = shell::run(command, &mut ctx, &mut io) => Ending::Exited(code),
            signal = signalled => Ending::Signalled(signal),
            signal = killed => Ending::Signalled(signal),
            _ = self.inner.stopped() => Ending::Signalled(9),
        };
        drop(io);
        ending
    }

    /// The operation's outcome for an exit status, after setting `metadata.return`.
    fn finish(
        &self,
        op: &Arc<Op>,
        ending: Ending,
        extra: Map<String, Value>,
    ) -> Result<(), String> {
        let code = match ending {
            Ending::Exited(code) => code,
            Ending::Signalled(signal) => 128 + signal,
        };
        let mut metadata = extra;
        metadata.insert("return".into(), json!(code));
        op.extend_metadata(metadata);
        match code {
            shell::NOT_FOUND => Err("Command not found".into()),
            126 => Err("Command not executable".into()),
            _ => Ok(()),
        }
    }

    /// Without websockets: no input, output kept (`record-output`) or dropped.
    async fn run_detached(self, op: Arc<Op>, ctx: Context, record: bool) -> Result<(), String> {
        let (out_tx, out_rx) = mpsc::channel::<Bytes>(16);
        let (err_tx, err_rx) = mpsc::channel::<Bytes>(16);
        let io = Io {
            stdin: Input::Empty,
            stdout: Output::Channel(out_tx),
            stderr: Output::Channel(err_tx),
        };
        self.announce();
        let collect = |mut rx: mpsc::Receiver<Bytes>| async move {
            let mut out = Vec::new();
            while let Some(chunk) = rx.recv().await {
                if record {
                    out.extend_from_slice(&chunk);
                }
            }
            Bytes::from(out)
        };
        let (_, never) = watch::channel(None);
        let (ending, stdout, stderr) = tokio::join!(
            self.execute(ctx, io, never),
            collect(out_rx),
            collect(err_rx)
        );
        let mut extra = Map::new();
        if record {
            let base = format!("exec_{}", op.id);
            let mut output = Map::new();
            let mut state = self.inner.state();
            if let Some(rec) = state.instance_mut(&self.project, &self.name) {
                for (fd, suffix, data) in [("1", "stdout", stdout), ("2", "stderr", stderr)] {
                    let file = format!("{base}.{suffix}");
                    rec.logs.insert(file.clone(), data);
                    let url = crate::api::logs::exec_output_url(
                        self.inner.flavor,
                        &self.name,
                        &file,
                        &self.project,
                    );
                    output.insert(fd.into(), Value::String(url));
                }
            }
            extra.insert("output".into(), Value::Object(output));
        }
        self.finish(&op, ending, extra)
    }

    /// With websockets: wait for the channels, run, stream, finish.
    async fn run_websockets(
        self,
        op: Arc<Op>,
        mut receivers: HashMap<String, oneshot::Receiver<OnUpgrade>>,
        ctx: Context,
    ) -> Result<(), String> {
        let control_rx = receivers.remove("control");
        let required: Vec<String> = receivers.keys().cloned().collect();
        // The required channels, within 5 s (LXD's limit).
        let mut sockets: HashMap<String, ServerSocket> = HashMap::new();
        let connect_all = async {
            for channel in &required {
                let rx = receivers.remove(channel).expect("one receiver per channel");
                let upgrade = rx.await.map_err(|_| "exec abandoned".to_string())?;
                let socket = crate::websocket::accept(upgrade)
                    .await
                    .ok_or_else(|| format!("websocket {channel} failed to connect"))?;
                sockets.insert(channel.clone(), socket);
            }
            Ok::<(), String>(())
        };
        match tokio::time::timeout(Duration::from_secs(5), connect_all).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err("Timed out waiting for websockets to connect".into()),
        }
        let window = ctx.window.clone();
        let (signal_tx, signal_rx) = watch::channel::<Option<i32>>(None);
        let signal_tx = Arc::new(signal_tx);
        // The control channel may come now or later (or never, without interactive mode).
        let (control_done_tx, control_done_rx) = watch::channel(false);
        let control = tokio::spawn(control_channel(
            control_rx,
            signal_tx.clone(),
            window,
            self.interactive,
            control_done_rx,
        ));
        self.announce();

        if self.close_websockets {
            // Fault injection: the connections die under the running command.
            drop(sockets);
            let _ = control_done_tx.send(true);
            control.abort();
            return Err("exec websockets closed (fault injected by lxd-testkit)".into());
        }

        let (stdin_tx, stdin_rx) = mpsc::channel::<Bytes>(16);
        let (out_tx, out_rx) = mpsc::channel::<Bytes>(16);
        let mut pumps = Vec::new();
        let mut outputs = Vec::new();
        let mut kept: Vec<SplitSink<ServerSocket, Message>> = Vec::new();
        let io = if self.interactive {
            // One channel both ways; typed input is echoed into the output.
            let (sink, stream) = sockets.remove("0").expect("channel 0").split();
            let io = Io {
                stdin: Input::Channel(stdin_rx),
                stdout: Output::Channel(out_tx.clone()),
                stderr: Output::Channel(out_tx.clone()),
            };
            pumps.push(tokio::spawn(tty_input(
                stream,
                stdin_tx,
                Output::Channel(out_tx),
                signal_tx.clone(),
            )));
            outputs.push(tokio::spawn(send_output(sink, out_rx, true)));
            io
        } else {
            let (err_tx, err_rx) = mpsc::channel::<Bytes>(16);
            let (stdin_sink, stdin_stream) = sockets.remove("0").expect("channel 0").split();
            let (stdout_sink, stdout_stream) = sockets.remove("1").expect("channel 1").split();
            let (stderr_sink, _) = sockets.remove("2").expect("channel 2").split();
            pumps.push(tokio::spawn(read_input(stdin_stream, stdin_tx)));
            // A client that goes away without a control channel takes the command with it.
            pumps.push(tokio::spawn(watch_disconnect(
                stdout_stream,
                signal_tx.clone(),
                control_done_tx.subscribe(),
            )));
            kept.push(stdin_sink);
            outputs.push(tokio::spawn(send_output(stdout_sink, out_rx, false)));
            outputs.push(tokio::spawn(send_output(stderr_sink, err_rx, false)));
            Io {
                stdin: Input::Channel(stdin_rx),
                stdout: Output::Channel(out_tx),
                stderr: Output::Channel(err_tx),
            }
        };
        let ending = self.execute(ctx, io, signal_rx).await;
        // The input side ends with the command (dropping the interactive echo too), then
        // the output drains up to its barrier.
        for pump in pumps {
            pump.abort();
            let _ = pump.await;
        }
        for output in outputs {
            if let Ok(Some(sink)) = output.await {
                kept.push(sink);
            }
        }
        self.wrap_up(op, ending, kept, control, control_done_tx)
    }

    fn wrap_up(
        &self,
        op: Arc<Op>,
        ending: Ending,
        kept: Vec<SplitSink<ServerSocket, Message>>,
        control: tokio::task::JoinHandle<()>,
        control_done: watch::Sender<bool>,
    ) -> Result<(), String> {
        // Like LXD: close the control channel (ends its handler), drop every connection
        // without a close frame.
        let _ = control_done.send(true);
        control.abort();
        drop(kept);
        self.finish(&op, ending, Map::new())
    }
}

/// Sends what the command writes as binary messages, then the barrier (an empty text
/// message). Interactive output gets the tty's `\n` → `\r\n`. Returns the sink (kept open
/// until the exec ends) unless the peer went away.
async fn send_output(
    mut sink: SplitSink<ServerSocket, Message>,
    mut rx: mpsc::Receiver<Bytes>,
    tty: bool,
) -> Option<SplitSink<ServerSocket, Message>> {
    while let Some(chunk) = rx.recv().await {
        let data = if tty { crlf(&chunk) } else { chunk };
        if sink.send(Message::binary(data)).await.is_err() {
            // Keep draining so the command is not blocked by a dead reader.
            while rx.recv().await.is_some() {}
            return None;
        }
    }
    if sink.send(Message::text("")).await.is_err() {
        return None;
    }
    let _ = sink.flush().await;
    Some(sink)
}

/// `\n` → `\r\n` (a tty's ONLCR).
fn crlf(data: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(data.len() + data.len() / 8);
    for &b in data {
        if b == b'\n' {
            out.push(b'\r');
        }
        out.push(b);
    }
    Bytes::from(out)
}

/// Stdin of a non-interactive exec: binary messages until a text message (the client's
/// barrier) or the close.
async fn read_input(mut stream: SplitStream<ServerSocket>, tx: mpsc::Sender<Bytes>) {
    while let Some(message) = stream.next().await {
        match message {
            Ok(Message::Binary(data)) => {
                if tx.send(data).await.is_err() {
                    break;
                }
            }
            Ok(Message::Ping(_) | Message::Pong(_)) => {}
            _ => break,
        }
    }
    drop(tx);
    // Keep reading (pings, the close) so the connection stays healthy until the end.
    while stream.next().await.is_some() {}
}

/// Reads the stdout channel, where a client never writes: when it closes while the command
/// runs and no control channel is there, the command is killed (LXD does this too).
async fn watch_disconnect(
    mut stream: SplitStream<ServerSocket>,
    signals: Arc<watch::Sender<Option<i32>>>,
    control: watch::Receiver<bool>,
) {
    loop {
        match stream.next().await {
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(Message::Binary(_) | Message::Text(_))) => {}
            _ => {}
        }
        break;
    }
    if !*control.borrow() {
        signals.send_replace(Some(9));
    }
}

/// Input of an interactive session: a tty line discipline (echo, `\r` → `\n`, line
/// buffering, backspace, ^C → SIGINT, ^\ → SIGQUIT, ^D → end of input).
async fn tty_input(
    mut stream: SplitStream<ServerSocket>,
    tx: mpsc::Sender<Bytes>,
    echo: Output,
    signals: Arc<watch::Sender<Option<i32>>>,
) {
    let mut line: Vec<u8> = Vec::new();
    let mut tx = Some(tx);
    while let Some(message) = stream.next().await {
        let data = match message {
            Ok(Message::Binary(data)) => data,
            Ok(Message::Text(text)) if !text.is_empty() => Bytes::from(text.as_bytes().to_vec()),
            Ok(Message::Ping(_) | Message::Pong(_)) => continue,
            _ => break,
        };
        for &b in data.iter() {
            match b {
                0x03 => {
                    let _ = echo_bytes(&echo, b"^C\n").await;
                    signals.send_replace(Some(2));
                }
                0x1c => {
                    signals.send_replace(Some(3));
                }
                0x04 => {
                    if line.is_empty() {
                        tx = None;
                    } else if let Some(tx) = &tx {
                        let _ = tx.send(Bytes::from(std::mem::take(&mut line))).await;
                    }
                }
                0x7f | 0x08 => {
                    if line.pop().is_some() {
                        let _ = echo_bytes(&echo, b"\x08 \x08").await;
                    }
                }
                b'\r' | b'\n' => {
                    line.push(b'\n');
                    let _ = echo_bytes(&echo, b"\n").await;
                    if let Some(tx) = &tx {
                        let _ = tx.send(Bytes::from(std::mem::take(&mut line))).await;
                    }
                }
                other => {
                    line.push(other);
                    let _ = echo_bytes(&echo, &[other]).await;
                }
            }
        }
    }
}

async fn echo_bytes(echo: &Output, data: &[u8]) -> Result<(), ()> {
    match echo {
        Output::Channel(tx) => tx.send(Bytes::copy_from_slice(data)).await.map_err(|_| ()),
        Output::Null => Ok(()),
    }
}

/// The control channel: `{"command": "signal", "signal": N}` and
/// `{"command": "window-resize", "args": {"width": "80", "height": "24"}}`. When the client
/// closes it while the command runs, the command is killed (SIGKILL), as in LXD.
async fn control_channel(
    upgrade: Option<oneshot::Receiver<OnUpgrade>>,
    signals: Arc<watch::Sender<Option<i32>>>,
    window: Arc<Mutex<(u32, u32)>>,
    interactive: bool,
    mut done: watch::Receiver<bool>,
) {
    let Some(upgrade) = upgrade else { return };
    let socket = tokio::select! {
        upgrade = upgrade => match upgrade {
            Ok(upgrade) => crate::websocket::accept(upgrade).await,
            Err(_) => None,
        },
        _ = until_true(&mut done) => None,
    };
    let Some(socket) = socket else { return };
    let (_sink, mut stream) = socket.split();
    loop {
        let message = tokio::select! {
            message = stream.next() => message,
            _ = until_true(&mut done) => return,
        };
        let data = match message {
            Some(Ok(Message::Text(text))) => Bytes::from(text.as_bytes().to_vec()),
            Some(Ok(Message::Binary(data))) => data,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            _ => {
                if !*done.borrow() {
                    signals.send_replace(Some(9));
                }
                return;
            }
        };
        let Ok(command) = serde_json::from_slice::<Value>(&data) else {
            continue;
        };
        match command.get("command").and_then(Value::as_str) {
            Some("signal") => {
                let signal = command.get("signal").and_then(Value::as_i64).unwrap_or(0) as i32;
                // Signals whose default action ends a process end the command; the rest
                // (SIGWINCH, SIGCHLD, SIGCONT, ...) are ignored by the built-in commands.
                if matches!(signal, 1 | 2 | 3 | 6 | 9 | 10 | 12 | 13 | 14 | 15) {
                    signals.send_replace(Some(signal));
                }
            }
            Some("window-resize") if interactive => {
                let arg = |k: &str| {
                    command
                        .get("args")
                        .and_then(|a| a.get(k))
                        .and_then(Value::as_str)
                        .and_then(|v| v.parse::<u32>().ok())
                };
                if let (Some(width), Some(height)) = (arg("width"), arg("height")) {
                    *window.lock().expect("window lock") = (width, height);
                }
            }
            _ => {}
        }
    }
}

/// Resolves once the flag is true (or its sender is gone).
async fn until_true(flag: &mut watch::Receiver<bool>) {
    let _ = flag.wait_for(|set| *set).await;
}
