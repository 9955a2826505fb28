//! Faults with the real LXD: the daemon stopped and started again under the client's feet.
//!
//! - An event stream open across a restart: with reconnection it yields
//!   [`EventItem::Reconnected`] (the gap) and then delivers events made after the restart;
//!   without, it ends with one transport error.
//! - An operation awaited across a restart. LXD 5.0.2 stopped with SIGTERM (or `lxd
//!   shutdown`) does not go at once: it waits for running operations to end (up to five
//!   minutes) while still answering, so a `wait()` in flight receives the operation's real
//!   result. A daemon that dies (SIGKILL) ends the `wait()` with a transport error at once,
//!   and after the restart the operation is unknown (404: LXD keeps operations in memory).
//!   (Measured: with a `sleep 600` exec running, both SIGTERM and `lxd shutdown` took
//!   5 min, the long-poll `wait` silent all along.)
//! - The daemon killed mid pull, push, exec, export, event stream and wait: each fails
//!   with `is_disconnected()` within a second, no partial file, and the client works after
//!   the restart.
//! - Requests while the daemon is down fail at once: a refused connection, or over HTTPS
//!   possibly a reset of a kept-alive connection the dying daemon closed.
//!
//! These tests restart the daemon, so they run only against the private daemon `cargo xtask
//! integration` started (it passes `LXD_IT_DIR`); against a daemon given with `--socket`
//! they skip, loudly: never restart somebody's own daemon. The daemon is restarted the way
//! xtask can still find and stop it afterwards: the same program, arguments, environment
//! and working directory, output appended to the same log, and the new pid written to
//! xtask's pid file (`<LXD_DIR>.pid`). A daemon xtask runs in a root file system of its own
//! (Incus 7.0 in a Debian sid root: `LXD_IT_DAEMON_ROOT`) is started again through xtask's
//! launcher (`LXD_IT_DAEMON_START`), which builds its mount namespace again; the daemon
//! knows its dir by the path inside that root. Everything runs in one test, in sequence: tests of
//! one binary run in parallel, and cargo runs test binaries one after another, so no other
//! test sees the restarts.

use std::ffi::OsString;
use std::fs::{self, OpenOptions};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::process::CommandExt;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use std::sync::atomic::{AtomicBool, Ordering};

use futures::{FutureExt, StreamExt};
use lxd_client::proto::EventType;
use lxd_client::{
    Client, Error, EventItem, EventStream, ImageUpload, Method, Operation, PutOptions,
    TransferProgress,
};
use lxd_integration::{
    Env, Scratch, create_profile, delete_profile, fresh_identity, kill_and_delete, launch, layout,
    profile_created, require, tar_plain, unique,
};
use tokio::io::AsyncReadExt;

/// How long a step may take before the test fails instead of hanging.
const PATIENCE: Duration = Duration::from_secs(60);
/// The whole test; LXD may take minutes to stop when an operation is still running.
const WHOLE_TEST: Duration = Duration::from_secs(12 * 60);

/// The harness's private daemon, as found through its pid file.
#[derive(Clone)]
struct Daemon {
    dir: PathBuf,
    pid: u32,
    program: PathBuf,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    cwd: PathBuf,
    /// Incus (`incusd`) rather than LXD: `waitready` is then a client command.
    incus: bool,
}

/// The root file system the harness runs the daemon in, when not the host's
/// (`LXD_IT_DAEMON_ROOT`), and the launcher that starts it there (`LXD_IT_DAEMON_START`).
fn daemon_root() -> Option<(PathBuf, PathBuf)> {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let root = var("LXD_IT_DAEMON_ROOT")?;
    let launcher = var("LXD_IT_DAEMON_START")
        .expect("LXD_IT_DAEMON_ROOT is set, so LXD_IT_DAEMON_START must name its launcher");
    Some((root, launcher))
}

/// xtask's record of the daemon's pid (xtask/src/lxd.rs `pid_file_of`).
fn pid_file_of(dir: &Path) -> PathBuf {
    PathBuf::from(format!("{}.pid", dir.display()))
}

/// xtask's daemon log (xtask/src/lxd.rs `log_of`).
fn log_of(dir: &Path) -> PathBuf {
    PathBuf::from(format!("{}.log", dir.display()))
}

fn nul_separated(bytes: &[u8]) -> Vec<OsString> {
    bytes
        .split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| OsString::from_vec(s.to_vec()))
        .collect()
}

/// Whether `pid` is gone (or a zombie nobody reaped yet).
fn is_gone(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rfind(')')
            .is_none_or(|i| stat[i + 1..].trim_start().starts_with('Z')),
    }
}

impl Daemon {
    /// The daemon of `LXD_IT_DIR`; `None` (after a loud SKIP) when there is none to restart.
    fn find(test: &str) -> Option<Daemon> {
        let Some(dir) = std::env::var_os("LXD_IT_DIR").filter(|d| !d.is_empty()) else {
            eprintln!(
                "SKIPPED {test}: LXD_IT_DIR is not set, so the daemon is not the harness's \
                 private one (e.g. `cargo xtask integration --socket`); a restart test never \
                 restarts somebody's own daemon"
            );
            return None;
        };
        let dir = PathBuf::from(dir);
        let pid_file = pid_file_of(&dir);
        let pid: u32 = fs::read_to_string(&pid_file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or_else(|| {
                panic!(
                    "LXD_IT_DIR={} but {} holds no pid: cannot restart the daemon safely",
                    dir.display(),
                    pid_file.display()
                )
            });
        let mut daemon = Daemon {
            dir,
            pid,
            program: PathBuf::new(),
            args: Vec::new(),
            env: Vec::new(),
            cwd: PathBuf::from("/"),
            incus: false,
        };
        daemon.read_process();
        Some(daemon)
    }

    /// Reads the command line, environment and working directory of the running daemon,
    /// checking it is an `lxd` with our LXD_DIR (a stale pid file must not make us signal
    /// an unrelated process).
    fn read_process(&mut self) {
        let pid = self.pid;
        let mut argv = nul_separated(&fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default());
        let env: Vec<(OsString, OsString)> =
            nul_separated(&fs::read(format!("/proc/{pid}/environ")).unwrap_or_default())
                .into_iter()
                .filter_map(|var| {
                    let bytes = var.into_vec();
                    let eq = bytes.iter().position(|b| *b == b'=')?;
                    Some((
                        OsString::from_vec(bytes[..eq].to_vec()),
                        OsString::from_vec(bytes[eq + 1..].to_vec()),
                    ))
                })
                .collect();
        // LXD, or Incus (xtask runs either): each names its state dir its own way.
        let dir_var = match argv.first().and_then(|a| Path::new(a).file_name()) {
            Some(n) if n == "lxd" => Some("LXD_DIR"),
            Some(n) if n == "incusd" => Some("INCUS_DIR"),
            _ => None,
        };
        let root = daemon_root();
        // The daemon's own view of its dir: inside its root file system, if it has one.
        let seen_dir = dir_var
            .and_then(|var| env.iter().find(|(k, _)| k == var))
            .map(|(_, v)| v.clone());
        let host_path = |v: &OsString| match &root {
            Some((root, _)) => root.join(Path::new(v).strip_prefix("/").unwrap_or(Path::new(v))),
            None => PathBuf::from(v),
        };
        let ours = seen_dir.as_ref().is_some_and(|v| host_path(v) == self.dir);
        assert!(
            ours && !is_gone(pid),
            "pid {pid} (from {}) is not a running lxd or incusd for {}: cannot restart it safely",
            pid_file_of(&self.dir).display(),
            self.dir.display()
        );
        self.incus = dir_var == Some("INCUS_DIR");
        self.env = env;
        match (root, seen_dir) {
            // Its program and paths are the root's: the launcher starts it there again.
            (Some((_, launcher)), Some(seen_dir)) => {
                self.program = PathBuf::from("/bin/sh");
                self.args = vec![launcher.into_os_string(), seen_dir];
                self.cwd = PathBuf::from("/");
            }
            _ => {
                self.program = PathBuf::from(argv.remove(0));
                self.args = argv;
                self.cwd = fs::read_link(format!("/proc/{pid}/cwd")).unwrap_or_else(|_| "/".into());
            }
        }
    }

    /// Sends `signal` to the daemon and waits until it has exited; returns how long it took.
    fn stop(&self, signal: &str, within: Duration) -> Duration {
        let started = Instant::now();
        let status = Command::new("kill")
            .args([format!("-{signal}"), self.pid.to_string()])
            .status()
            .expect("running kill");
        assert!(status.success(), "kill -{signal} {} failed", self.pid);
        while !is_gone(self.pid) {
            assert!(
                started.elapsed() < within,
                "the daemon (pid {}) did not exit within {within:?} of SIG{signal}",
                self.pid
            );
            // Polling a process's exit: there is nothing to wait on for a non-child.
            std::thread::sleep(Duration::from_millis(50));
        }
        started.elapsed()
    }

    /// Starts the daemon again as it was started before, records the new pid where xtask
    /// looks for it, and waits until it is ready; returns how long that took.
    fn start(&mut self) -> Duration {
        let started = Instant::now();
        let log = log_of(&self.dir);
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("opening the daemon log");
        let err = out.try_clone().expect("log");
        let child = Command::new(&self.program)
            .args(&self.args)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&self.cwd)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            // Its own group, like xtask starts it: xtask kills the group if shutdown hangs.
            .process_group(0)
            .spawn()
            .expect("starting lxd again");
        self.pid = child.id();
        // Reap it when it exits (at the next restart), so no zombie stays behind.
        std::thread::spawn(move || {
            let mut child = child;
            let _ = child.wait();
        });
        fs::write(pid_file_of(&self.dir), format!("{}\n", self.pid)).expect("writing pid file");
        // `lxd waitready`; Incus moved it to its client: `incus admin waitready`. The socket
        // is named by its host path (the daemon's own dir may be a path inside its root).
        let (mut ready, socket_var) = if self.incus {
            let mut cmd = Command::new("incus");
            cmd.arg("admin");
            (cmd, "INCUS_SOCKET")
        } else {
            (Command::new(&self.program), "LXD_SOCKET")
        };
        let ready = ready
            .args(["waitready", "--timeout", "60"])
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env(socket_var, self.dir.join("unix.socket"))
            .status()
            .expect("lxd waitready");
        assert!(
            ready.success() && !is_gone(self.pid),
            "the restarted daemon is not ready; see {}",
            log.display()
        );
        started.elapsed()
    }

    /// Starts the daemon again unless the pid file names a running one: a failed test must
    /// not leave the daemon down for the test binaries after it.
    fn ensure_running(mut self) {
        let current = fs::read_to_string(pid_file_of(&self.dir))
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok());
        if current.is_none_or(is_gone) {
            eprintln!("the test failed with the daemon down: starting it again");
            self.start();
        }
    }

    /// Stops with `signal` and starts again; returns (stop, start) durations.
    fn restart(&mut self, signal: &str, within: Duration) -> (Duration, Duration) {
        let stopped = self.stop(signal, within);
        (stopped, self.start())
    }
}

/// Waits until the daemon runs no operation: LXD 5.0 holds a SIGTERM back until its running
/// operations end (up to 5 minutes), so an operation left by an earlier test binary (an exec
/// that LXD 5.0.2 lost under load, see load.rs) would turn the "clean stop" below into that
/// wait. Operations still running after a while are cancelled; what stays is printed.
async fn settle_operations(client: &Client) {
    let running = || async {
        client
            .operations()
            .list()
            .await
            .unwrap()
            .into_iter()
            .filter(|op| !op.is_final())
            .collect::<Vec<_>>()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut left = running().await;
    while !left.is_empty() && Instant::now() < deadline {
        // Each still-running operation is waited on (bounded), not slept past.
        for op in &left {
            let _ = client
                .operations()
                .wait(&op.id, Some(Duration::from_secs(5)))
                .await;
        }
        left = running().await;
    }
    for op in &left {
        eprintln!(
            "an earlier test left operation {} ({}) running; cancelling it",
            op.id, op.description
        );
        let _ = client.operations().cancel(&op.id).await;
    }
    let still = running().await;
    if !still.is_empty() {
        eprintln!(
            "operations still running before the restart (a SIGTERM waits for them): {:?}",
            still
                .iter()
                .map(|op| (&op.id, &op.description))
                .collect::<Vec<_>>()
        );
    }
}

/// An exec of `command` in `name` as a bare operation (no websockets, no recording).
async fn exec_operation(client: &Client, name: &str, command: &[&str]) -> Operation {
    client
        .raw(Method::POST, format!("/1.0/instances/{name}/exec"))
        .json(&serde_json::json!({
            "command": command,
            "wait-for-websocket": false,
            "interactive": false,
            "record-output": false,
        }))
        .unwrap()
        .operation()
        .await
        .unwrap()
}

async fn start_container(env: &Env, client: &Client, name: &str) {
    launch(client, &env.from_image(name)).await;
}

/// A trusted HTTPS client (a fresh certificate, added with a join token); returns the client
/// and the certificate PEM, to remove it at the end.
async fn https_client(env: &Env) -> (Client, String) {
    let name = unique("itrs-https");
    let (cert, key) = fresh_identity(&name);
    let mut builder = env
        .https_builder()
        .client_certificate_pem(cert.as_bytes(), key.as_bytes());
    if env.project != "default" {
        builder = builder.project(env.project.clone());
    }
    let client = builder.build().unwrap();
    let op = env
        .client()
        .raw(Method::POST, "/1.0/certificates")
        .without_project()
        .json(&serde_json::json!({"name": name, "type": "client", "token": true}))
        .unwrap()
        .operation()
        .await
        .unwrap();
    let token = lxd_client::proto::CertificateAddToken::from_operation(op.info())
        .expect("token metadata")
        .encode();
    client.authenticate(&token).await.unwrap();
    (client, cert)
}

/// Reads `stream` until its first gap marker (events before it are skipped).
async fn next_gap(stream: &mut EventStream) -> EventItem {
    tokio::time::timeout(PATIENCE, async {
        loop {
            let item = stream.next().await.expect("stream open").expect("item");
            if item.is_gap() {
                return item;
            }
        }
    })
    .await
    .expect("a gap marker within the deadline")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_and_operations_across_daemon_restarts() {
    let env = require!();
    let Some(daemon) = Daemon::find(module_path!()) else {
        return;
    };
    let spare = daemon.clone();
    let name = unique("itrs");
    let outcome = AssertUnwindSafe(tokio::time::timeout(
        WHOLE_TEST,
        across_restarts(env.clone(), daemon, name.clone()),
    ))
    .catch_unwind()
    .await;
    let failed = !matches!(outcome, Ok(Ok(())));
    if failed {
        tokio::task::spawn_blocking(move || spare.ensure_running())
            .await
            .expect("restarting the daemon after a failure");
        let client = env.client();
        let _ = kill_and_delete(&client, &name).await;
    }
    match outcome {
        Ok(finished) => finished.expect("the restart scenarios finish (no hang)"),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Runs `f` on the daemon off the async workers (it blocks), handing the daemon back.
async fn control<R: Send + 'static>(
    mut daemon: Daemon,
    f: impl FnOnce(&mut Daemon) -> R + Send + 'static,
) -> (Daemon, R) {
    tokio::task::spawn_blocking(move || {
        let r = f(&mut daemon);
        (daemon, r)
    })
    .await
    .expect("daemon control task")
}

fn exit_code(op: &lxd_client::proto::Operation) -> Option<i64> {
    op.metadata.as_ref()?.get("return")?.as_i64()
}

async fn across_restarts(env: Env, daemon: Daemon, name: String) {
    let client = env.client();
    let (https, https_cert) = https_client(&env).await;
    start_container(&env, &client, &name).await;

    // 1. Event streams across SIGTERM and a fresh start; requests while it is down.
    let mut resilient = client
        .events()
        .types([EventType::Lifecycle])
        .reconnect_backoff(Duration::from_millis(50), Duration::from_millis(500))
        .connect()
        .await
        .unwrap();
    let mut over_https = https
        .events()
        .types([EventType::Lifecycle])
        .reconnect_backoff(Duration::from_millis(50), Duration::from_millis(500))
        .connect()
        .await
        .unwrap();
    let mut fragile = client
        .events()
        .types([EventType::Lifecycle])
        .connect()
        .await
        .unwrap();
    settle_operations(&client).await;
    let (daemon, stopped) = control(daemon, |d| d.stop("TERM", PATIENCE)).await;
    eprintln!("SIGTERM with no operation running: daemon gone in {stopped:?}");
    let down = tokio::time::timeout(PATIENCE, client.server_with_etag())
        .await
        .expect("a request to a stopped daemon fails at once")
        .expect_err("the daemon is down");
    eprintln!("GET /1.0 while the daemon is down: {down}");
    // The unix transport keeps answered connections alive: the first request may go out on
    // one the dying daemon closed, before the client has seen it close; its loss is then
    // what the caller learns. Once that connection is gone, a refused connect.
    assert!(down.is_connect() || down.is_disconnected(), "{down:?}");
    let again = tokio::time::timeout(PATIENCE, client.server_with_etag())
        .await
        .expect("a second request to a stopped daemon fails at once")
        .expect_err("the daemon is down");
    eprintln!("GET /1.0 again while the daemon is down: {again}");
    assert!(again.is_connect(), "{again:?}");
    let down = tokio::time::timeout(PATIENCE, https.server_with_etag())
        .await
        .expect("an HTTPS request to a stopped daemon fails at once")
        .expect_err("the daemon is down");
    eprintln!("GET /1.0 over HTTPS while the daemon is down: {down}");
    // A pooled keep-alive connection the dying daemon closed may be picked first: then the
    // error is a reset of that connection rather than a refused connect.
    assert!(matches!(down, Error::Transport(_)), "{down:?}");
    let (daemon, started) = control(daemon, Daemon::start).await;
    eprintln!("daemon started again in {started:?}");

    // Without reconnection: one transport error, then the end.
    let end = tokio::time::timeout(PATIENCE, async {
        loop {
            match fragile.next().await {
                Some(Ok(_)) => continue,
                Some(Err(e)) => break e,
                None => panic!("the stream ended without an error"),
            }
        }
    })
    .await
    .expect("the restart is noticed");
    eprintln!("event stream without reconnection ended with: {end}");
    assert!(matches!(end, Error::Transport(_)), "{end:?}");
    assert!(fragile.next().await.is_none());

    // With reconnection (unix and HTTPS): the gap is reported, then events made after the
    // restart arrive.
    for stream in [&mut resilient, &mut over_https] {
        let marker = next_gap(stream).await;
        eprintln!("reconnecting event stream reported: {marker:?}");
        assert!(
            matches!(marker, EventItem::Reconnected { .. }),
            "{marker:?}"
        );
    }
    let profile = unique("itrs-after");
    create_profile(&client, &profile).await;
    for stream in [&mut resilient, &mut over_https] {
        tokio::time::timeout(PATIENCE, async {
            loop {
                let item = stream.next().await.expect("stream open").expect("item");
                assert!(!item.is_gap(), "a second gap: {item:?}");
                if item.event().and_then(profile_created).as_deref() == Some(profile.as_str()) {
                    break;
                }
            }
        })
        .await
        .expect("the profile-created event after the restart");
    }
    delete_profile(&client, &profile).await;
    drop(resilient);
    drop(over_https);

    // 2. An operation awaited while the daemon stops (SIGTERM): LXD lets running
    // operations end before it exits, so a wait in flight gets the real result (a wait
    // that reached LXD too late would fail with a transport error: accepted, reported).
    settle_operations(&client).await;
    let op = exec_operation(&client, &name, &["sleep", "3"]).await;
    let id = op.id().to_string();
    let waiting = tokio::spawn(op.wait());
    let (daemon, (stopped, started)) =
        control(daemon, |d| d.restart("TERM", Duration::from_secs(6 * 60))).await;
    eprintln!("SIGTERM during a 3 s exec: daemon gone in {stopped:?}, started in {started:?}");
    let result = tokio::time::timeout(PATIENCE, waiting)
        .await
        .expect("the wait ends (no hang)")
        .expect("wait task");
    match &result {
        Ok(done) => {
            eprintln!(
                "wait across SIGTERM returned the result: {} {:?}",
                done.status, done.metadata
            );
            assert_eq!(exit_code(done), Some(0), "{done:?}");
        }
        Err(e) => {
            eprintln!("wait across SIGTERM failed: {e}");
            assert!(matches!(e, Error::Transport(_)), "{e:?}");
        }
    }
    let gone = Operation::get(&client, &id)
        .await
        .expect_err("no operation after a restart");
    assert!(gone.is_not_found(), "{gone:?}");

    // 3. An operation awaited while the daemon dies (SIGKILL): a transport error at once,
    // and after the restart LXD no longer knows the operation.
    let op = exec_operation(&client, &name, &["sleep", "600"]).await;
    let id = op.id().to_string();
    let waiting = tokio::spawn(op.wait());
    let waiting_https = tokio::spawn(Operation::get(&https, &id).await.unwrap().wait());
    let (daemon, killed) = control(daemon, |d| d.stop("KILL", PATIENCE)).await;
    eprintln!("SIGKILL: daemon gone in {killed:?}");
    let failed = tokio::time::timeout(PATIENCE, waiting)
        .await
        .expect("the wait ends when the daemon dies (no hang)")
        .expect("wait task")
        .expect_err("the daemon died under the wait");
    eprintln!("wait across SIGKILL: {failed}");
    assert!(matches!(failed, Error::Transport(_)), "{failed:?}");
    let failed = tokio::time::timeout(PATIENCE, waiting_https)
        .await
        .expect("the HTTPS wait ends when the daemon dies (no hang)")
        .expect("wait task")
        .expect_err("the daemon died under the wait");
    eprintln!("wait over HTTPS across SIGKILL: {failed}");
    assert!(matches!(failed, Error::Transport(_)), "{failed:?}");
    let (daemon, started) = control(daemon, Daemon::start).await;
    eprintln!("daemon started again after SIGKILL in {started:?}");
    let gone = Operation::get(&client, &id)
        .await
        .expect_err("no operation after a crash");
    eprintln!("the operation after the restart: {gone}");
    assert!(gone.is_not_found(), "{gone:?}");

    // 4. The daemon dies with transfers in flight.
    let daemon = killed_mid_transfers(&client, daemon, &name).await;

    // The client goes on working, and the container is still there to clean up.
    let after = exec_operation(&client, &name, &["true"])
        .await
        .wait()
        .await
        .unwrap();
    assert_eq!(exit_code(&after), Some(0), "{after:?}");
    let info = https.server_with_etag().await.unwrap();
    assert_eq!(info.value.auth, "trusted", "{:?}", info.value);
    kill_and_delete(&client, &name)
        .await
        .expect("deleting the test container");
    env.forget_certificate(&https_cert).await;
    drop(daemon);
}

/// How long after SIGKILL every call in flight must have failed: the kernel closes the
/// daemon's sockets as it dies, so the client learns at once (measured: under 0.25 s).
const NOTICED_WITHIN: Duration = Duration::from_secs(1);

/// A progress callback that reports `label` once, at the first byte moved.
fn first_bytes(
    tx: &tokio::sync::mpsc::UnboundedSender<&'static str>,
    label: &'static str,
) -> impl Fn(&TransferProgress<'_>) + Send + Sync + 'static {
    let (tx, said) = (tx.clone(), AtomicBool::new(false));
    move |p| {
        if p.bytes > 0 && !said.swap(true, Ordering::Relaxed) {
            let _ = tx.send(label);
        }
    }
}

/// SIGKILL while a pull, a push, an exec session, an image export, an event stream and an
/// operation wait are all mid-way: each ends with an error for which `is_disconnected()`
/// holds, within [`NOTICED_WITHIN`]; the pull leaves no file and no temporary; a signal
/// sent to the dead session fails the same way; after the restart the client works.
async fn killed_mid_transfers(client: &Client, daemon: Daemon, name: &str) -> Daemon {
    let scratch = Scratch::new("itrs-kill");
    let instances = client.instances();
    // 1 GiB each way (sparse, so nothing is written to disk to make them): seconds of
    // transfer, so both are surely mid-way when the daemon dies.
    let big = "busybox dd if=/dev/zero of=/root/big bs=1M count=0 seek=1024";
    let made = instances.exec(name, ["sh", "-c", big]).run().await.unwrap();
    assert_eq!(made.exit_code, 0, "{}", made.stderr_text());
    let local = scratch.0.join("local-big");
    std::fs::File::create(&local)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    // An image of 256 MiB to export into a pipe nobody reads until the kill.
    let image_dir = scratch.0.join("image");
    std::fs::create_dir_all(&image_dir).unwrap();
    layout(&image_dir, &unique("itrs-kill"));
    std::fs::File::create(image_dir.join("rootfs/big"))
        .unwrap()
        .set_len(256 << 20)
        .unwrap();
    let upload = ImageUpload::unified_from_path(tar_plain(&image_dir))
        .await
        .unwrap();
    let image = client.images().upload_and_wait(upload).await.unwrap();
    let pull_dir = scratch.0.join("pull");
    std::fs::create_dir_all(&pull_dir).unwrap();

    let (tx, mut started) = tokio::sync::mpsc::unbounded_channel();
    let done = |r: Result<(), Error>| (r, Instant::now());
    let wait = tokio::spawn(
        exec_operation(client, name, &["sleep", "600"])
            .await
            .wait()
            .map(move |r| done(r.map(drop))),
    );
    let mut events = client
        .events()
        .types([EventType::Lifecycle])
        .connect()
        .await
        .unwrap();
    let events = tokio::spawn(async move {
        loop {
            match events.next().await {
                Some(Ok(_)) => continue,
                Some(Err(e)) => return done(Err(e)),
                None => return done(Ok(())),
            }
        }
    });
    let files = instances.files(name);
    let pull = tokio::spawn({
        let (files, to) = (
            files.clone().with_progress(first_bytes(&tx, "pull")),
            pull_dir.join("big"),
        );
        async move { done(files.get_to_path("/root/big", &to).await.map(drop)) }
    });
    let push = tokio::spawn({
        let (files, from) = (
            files.clone().with_progress(first_bytes(&tx, "push")),
            local.clone(),
        );
        async move {
            let options = PutOptions::default();
            done(files.put_from_path("/root/pushed", &from, &options).await)
        }
    });
    let mut session = instances
        .exec(name, ["sh", "-c", "echo started; exec sleep 600"])
        .spawn()
        .await
        .unwrap();
    let session_control = session.control();
    let mut stdout = session.take_stdout().unwrap();
    let mut line = [0u8; 8];
    stdout.read_exact(&mut line).await.unwrap();
    assert_eq!(&line, b"started\n");
    let exec = tokio::spawn(async move {
        let mut rest = Vec::new();
        let _ = stdout.read_to_end(&mut rest).await;
        done(session.wait().await.map(drop))
    });
    let (mut pipe_out, mut pipe_in) = tokio::io::duplex(64 * 1024);
    let export = tokio::spawn({
        let (images, fingerprint) = (client.images(), image.fingerprint.clone());
        async move {
            let exported = images.export_to_writer(&fingerprint, &mut pipe_in).await;
            done(exported.map(drop))
        }
    });
    let mut first = [0u8; 1];
    pipe_out.read_exact(&mut first).await.unwrap();
    let mut moving = Vec::new();
    while moving.len() < 2 {
        let label = tokio::time::timeout(PATIENCE, started.recv())
            .await
            .expect("the pull and the push start")
            .unwrap();
        moving.push(label);
    }

    let killed_at = Instant::now();
    let (daemon, killed) = control(daemon, |d| d.stop("KILL", PATIENCE)).await;
    eprintln!("SIGKILL mid-transfer: daemon gone in {killed:?}");
    // The export's pipe is read again only now: it fails once what LXD sent is read.
    let drained = tokio::spawn(async move {
        let mut rest = Vec::new();
        let _ = pipe_out.read_to_end(&mut rest).await;
    });
    for (what, task) in [
        ("pull", pull),
        ("push", push),
        ("exec", exec),
        ("export", export),
        ("event stream", events),
        ("operation wait", wait),
    ] {
        let (result, at) = tokio::time::timeout(PATIENCE, task)
            .await
            .unwrap_or_else(|_| panic!("the {what} ends when the daemon dies (no hang)"))
            .expect("task");
        let err = result.expect_err(what);
        let after = at.saturating_duration_since(killed_at);
        eprintln!("{what} after SIGKILL: {after:?}: {err}");
        assert!(err.is_disconnected(), "{what}: {err:?}");
        assert!(after < NOTICED_WITHIN, "{what} noticed after {after:?}");
    }
    drained.await.unwrap();
    let signal = session_control
        .signal(15)
        .await
        .expect_err("a signal to a dead session");
    assert!(signal.is_disconnected(), "{signal:?}");
    let left: Vec<_> = std::fs::read_dir(&pull_dir).unwrap().collect();
    assert!(left.is_empty(), "the cut pull left {left:?}");

    let (daemon, started) = control(daemon, Daemon::start).await;
    eprintln!("daemon started again in {started:?}");
    client
        .images()
        .delete_and_wait(&image.fingerprint)
        .await
        .unwrap();
    let cleaned = instances
        .exec(name, ["rm", "-f", "/root/big", "/root/pushed"])
        .run()
        .await
        .unwrap();
    assert_eq!(cleaned.exit_code, 0);
    daemon
}
