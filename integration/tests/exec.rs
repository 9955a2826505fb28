//! Exec and console against a real LXD (busybox containers): exit codes, separated and
//! binary-safe streams, stdin, 64 MiB streamed, environment and working directory, signals,
//! terminals and resizes, record-output, the raw form, HTTPS, the console and its log.

use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use lxd_client::ExecBuilder;
use lxd_client::proto::InstanceStatePut;
use lxd_client::transport::tungstenite::Message;
use lxd_client::{Client, Method};
use lxd_integration::{Env, clean_up_from_drop, fresh_identity, kill_and_delete, require, unique};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// A started busybox container, force-deleted at the end (also when the test fails).
struct Container {
    client: Client,
    name: String,
    removed: bool,
}

/// One container start at a time from this test binary: LXD 5.0.2 was seen to time out two
/// concurrent first starts (both pre-start hooks stalled for 30 s).
static STARTING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

impl Container {
    async fn start(env: &Env, prefix: &str) -> Container {
        let _one_at_a_time = STARTING.lock().await;
        let client = env.client();
        let name = unique(prefix);
        client
            .instances()
            .create(&env.from_image(&name))
            .await
            .unwrap()
            .wait()
            .await
            .unwrap();
        let container = Container {
            client: client.clone(),
            name: name.clone(),
            removed: false,
        };
        client
            .instances()
            .set_state(&name, &InstanceStatePut::start())
            .await
            .unwrap()
            .wait()
            .await
            .unwrap();
        container
    }

    async fn remove(mut self) {
        kill_and_delete(&self.client, &self.name)
            .await
            .expect("deleting the test container");
        self.removed = true;
    }

    /// An exec of `command` in the container.
    fn exec<I, S>(&self, command: I) -> ExecBuilder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.client.instances().exec(&self.name, command)
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        if self.removed {
            return;
        }
        // A failed test still removes its container.
        let (client, name) = (self.client.clone(), self.name.clone());
        clean_up_from_drop(async move {
            let _ = kill_and_delete(&client, &name).await;
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_zero_one_and_forty_two() {
    let env = require!();
    let c = Container::start(&env, "itx-codes").await;
    let instances = c.client.instances();
    let t = instances.exec(&c.name, ["true"]).run().await.unwrap();
    assert_eq!((t.exit_code, t.success()), (0, true), "{t:?}");
    let f = instances.exec(&c.name, ["false"]).run().await.unwrap();
    assert_eq!((f.exit_code, f.success()), (1, false), "{f:?}");
    let x = instances
        .exec(&c.name, ["sh", "-c", "exit 42"])
        .run()
        .await
        .unwrap();
    assert_eq!(x.exit_code, 42, "{x:?}");
    assert!(x.stdout.is_empty() && x.stderr.is_empty() && x.message.is_empty());
    // The same through a spawned session.
    let session = instances
        .exec(&c.name, ["sh", "-c", "exit 42"])
        .spawn()
        .await
        .unwrap();
    assert_eq!(session.wait().await.unwrap().exit_code, 42);
    c.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdout_and_stderr_are_separated() {
    let env = require!();
    let c = Container::start(&env, "itx-streams").await;
    let out = c
        .exec(["sh", "-c", "echo to-out; echo to-err >&2; echo more-out"])
        .run()
        .await
        .unwrap();
    assert_eq!(out.stdout_text(), "to-out\nmore-out\n");
    assert_eq!(out.stderr_text(), "to-err\n");

    // Per-chunk handlers receive the streams instead of the collector.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let tx2 = tx.clone();
    let handled = c
        .exec(["sh", "-c", "echo A; echo B >&2"])
        .on_stdout(move |chunk| tx.send(("out", chunk.to_vec())).unwrap())
        .on_stderr(move |chunk| tx2.send(("err", chunk.to_vec())).unwrap())
        .run()
        .await
        .unwrap();
    assert!(handled.stdout.is_empty() && handled.stderr.is_empty());
    let (mut got_out, mut got_err) = (Vec::new(), Vec::new());
    while let Ok((which, chunk)) = rx.try_recv() {
        match which {
            "out" => got_out.extend(chunk),
            _ => got_err.extend(chunk),
        }
    }
    assert_eq!(
        (got_out.as_slice(), got_err.as_slice()),
        (&b"A\n"[..], &b"B\n"[..])
    );
    c.remove().await;
}

/// Every byte value, in an order that catches reordering and loss.
fn binary_payload(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x1234_5678;
    (0..len)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x as u8) ^ (i as u8)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdin_through_cat_comes_back_byte_for_byte() {
    let env = require!();
    let c = Container::start(&env, "itx-stdin").await;
    let payload = binary_payload(3 * 1024 * 1024 + 17);
    let out = c
        .exec(["cat"])
        .stdin_bytes(payload.clone())
        .run()
        .await
        .unwrap();
    assert_eq!(out.exit_code, 0);
    assert!(
        out.stdout == payload,
        "cat returned {} bytes",
        out.stdout.len()
    );

    // From an AsyncRead.
    let reader = std::io::Cursor::new(payload[..100_000].to_vec());
    let out = c.exec(["cat"]).stdin(reader).run().await.unwrap();
    assert!(out.stdout == payload[..100_000]);

    // No stdin: the command reads end-of-file at once.
    let out = c.exec(["cat"]).run().await.unwrap();
    assert_eq!((out.exit_code, out.stdout.len()), (0, 0));

    // Spawned: write, close stdin by shutdown, read everything back concurrently.
    let mut session = c.exec(["cat"]).spawn().await.unwrap();
    let mut stdin = session.take_stdin().unwrap();
    let mut stdout = session.take_stdout().unwrap();
    assert!(session.take_stdin().is_none(), "take-once");
    let data = payload.clone();
    let writer = tokio::spawn(async move {
        stdin.write_all(&data).await.unwrap();
        stdin.shutdown().await.unwrap();
    });
    let mut back = Vec::new();
    stdout.read_to_end(&mut back).await.unwrap();
    writer.await.unwrap();
    assert!(back == payload, "spawned cat returned {} bytes", back.len());
    assert_eq!(session.wait().await.unwrap().exit_code, 0);

    // Dropping stdin closes it too.
    let mut session = c.exec(["cat"]).spawn().await.unwrap();
    let mut stdin = session.take_stdin().unwrap();
    stdin.write_all(b"last words").await.unwrap();
    drop(stdin);
    let mut back = Vec::new();
    session
        .take_stdout()
        .unwrap()
        .read_to_end(&mut back)
        .await
        .unwrap();
    assert_eq!(back, b"last words");
    assert!(session.wait().await.unwrap().success());
    c.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_utf8_output_is_kept_exactly() {
    let env = require!();
    let c = Container::start(&env, "itx-binary").await;
    let out = c
        .exec([
            "sh",
            "-c",
            r"printf '\377\376\000ok\200'; printf '\351t\351' >&2",
        ])
        .run()
        .await
        .unwrap();
    assert_eq!(out.stdout, b"\xff\xfe\x00ok\x80");
    assert_eq!(out.stderr, b"\xe9t\xe9");
    assert!(out.stdout_utf8().is_err());
    assert_eq!(out.stdout_text(), "\u{fffd}\u{fffd}\0ok\u{fffd}");
    c.remove().await;
}

/// Reads `reader` to the end, checking that it is exactly the lines of `seq -w 1 n`.
async fn check_seq(reader: impl tokio::io::AsyncRead + Unpin, n: u64, width: usize) -> u64 {
    let mut lines = BufReader::with_capacity(64 * 1024, reader).lines();
    let mut expected = 1u64;
    while let Some(line) = lines.next_line().await.unwrap() {
        assert_eq!(line, format!("{expected:0width$}"), "line {expected}");
        expected += 1;
    }
    assert_eq!(expected - 1, n, "lines received");
    n * (width as u64 + 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_mib_of_output_arrive_intact_and_streamed() {
    let env = require!();
    let c = Container::start(&env, "itx-big").await;
    // `seq -w 1 8388608`: 8 Mi lines of 7 digits and a newline, 64 MiB exactly; each line
    // says where it belongs, so loss, duplication and reordering are all caught.
    let n = 8 * 1024 * 1024;
    let started = Instant::now();
    let mut session = c
        .exec(["sh", "-c", &format!("seq -w 1 {n}; echo end-of-err >&2")])
        .spawn()
        .await
        .unwrap();
    let stdout = session.take_stdout().unwrap();
    let mut stderr = session.take_stderr().unwrap();
    let (bytes, err) = tokio::join!(check_seq(stdout, n, 7), async {
        let mut s = String::new();
        stderr.read_to_string(&mut s).await.unwrap();
        s
    });
    let elapsed = started.elapsed();
    assert_eq!(bytes, 64 * 1024 * 1024);
    assert_eq!(err, "end-of-err\n");
    assert!(session.wait().await.unwrap().success());
    eprintln!(
        "FIGURE exec 64 MiB streamed over the unix socket in {:.2?} ({:.0} MiB/s, seq in the container included)",
        elapsed,
        64.0 / elapsed.as_secs_f64()
    );
    c.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environment_working_directory_user_and_group() {
    let env = require!();
    let c = Container::start(&env, "itx-env").await;
    let out = c
        .exec([
            "sh",
            "-c",
            "echo \"$GREETING|$SECOND|$(pwd)|$(id -u):$(id -g)\"",
        ])
        .env("GREETING", "hello world")
        .envs([("SECOND", "two=2")])
        .cwd("/tmp")
        .user(1000)
        .group(1001)
        .run()
        .await
        .unwrap();
    assert_eq!(
        out.stdout_text(),
        "hello world|two=2|/tmp|1000:1001\n",
        "{out:?}"
    );
    // Defaults: root in /root, LXD's PATH.
    let out = c
        .exec(["sh", "-c", "echo \"$(pwd)|$(id -u)|$HOME\""])
        .run()
        .await
        .unwrap();
    assert_eq!(out.stdout_text(), "/root|0|/root\n");
    c.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_ends_sleep_and_the_exit_code_says_so() {
    let env = require!();
    let c = Container::start(&env, "itx-signal").await;
    let started = Instant::now();
    let session = c.exec(["sleep", "100"]).spawn().await.unwrap();
    let control = session.control();
    control.signal(15).await.unwrap();
    let status = session.wait().await.unwrap();
    assert_eq!(status.exit_code, 128 + 15, "{status:?}");
    assert_eq!(status.signal(), Some(15));
    assert!(started.elapsed() < Duration::from_secs(60));
    // After the end, the control handle says so.
    let err = control.signal(15).await.unwrap_err();
    assert!(err.is_invalid_input(), "{err:?}");
    // Resizing a command without a terminal is refused before sending.
    assert!(control.resize(80, 24).await.unwrap_err().is_invalid_input());

    let session = c.exec(["sleep", "100"]).spawn().await.unwrap();
    session.kill().await.unwrap();
    assert_eq!(session.wait().await.unwrap().signal(), Some(9));
    c.remove().await;
}

/// Reads from `reader` until `needle` has appeared; returns everything read.
async fn read_until(reader: &mut (impl tokio::io::AsyncRead + Unpin), needle: &str) -> String {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Duration::from_secs(30);
    tokio::time::timeout(deadline, async {
        while !String::from_utf8_lossy(&seen).contains(needle) {
            let n = reader.read(&mut buf).await.unwrap();
            assert!(
                n > 0,
                "EOF before {needle:?}; got {:?}",
                String::from_utf8_lossy(&seen)
            );
            seen.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .unwrap_or_else(|_| {
        panic!(
            "no {needle:?} within {deadline:?}; got {:?}",
            String::from_utf8_lossy(&seen)
        )
    });
    String::from_utf8_lossy(&seen).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interactive_mode_has_a_terminal_and_takes_resizes() {
    let env = require!();
    let c = Container::start(&env, "itx-tty").await;
    let tty = || async { c.exec(["tty"]).interactive(true).run().await.unwrap() };
    let mut out = tty().await;
    assert_eq!(out.exit_code, 0, "{out:?}");
    // LXD 5.0.0-5.0.2 can cut interactive output under CPU load (fixed in 5.0.3; a raw
    // websocket client sees the same, see docs/exec.md): on those versions an empty answer
    // is asked again, once, and said loudly. Every other server must answer the first time.
    let version = c
        .client
        .server()
        .await
        .unwrap()
        .environment
        .server_version
        .clone();
    let known_bug = env.server == "lxd" && ["5.0.0", "5.0.1", "5.0.2"].contains(&version.as_str());
    if out.stdout.is_empty() && known_bug {
        eprintln!("KNOWN LXD {version} BUG: interactive output cut by the server; asking again");
        out = tty().await;
    }
    assert!(out.stdout_text().starts_with("/dev/pts/"), "{out:?}");
    let out = c.exec(["tty"]).run().await.unwrap();
    assert_ne!(out.exit_code, 0, "no terminal without interactive: {out:?}");

    let mut session = c
        .exec(["sh"])
        .interactive(true)
        .window_size(80, 24)
        .spawn()
        .await
        .unwrap();
    assert!(session.take_stdout().is_none() && session.take_stderr().is_none());
    let mut pty = session.take_pty().unwrap();
    // The terminal echoes what is typed: the markers are computed, so only the command's
    // output holds them.
    pty.write_all(b"busybox stty size; echo SIZE-$((1+1))\r")
        .await
        .unwrap();
    let first = read_until(&mut pty, "SIZE-2\r\n").await;
    assert!(first.contains("24 80"), "{first:?}");
    session.control().resize(100, 40).await.unwrap();
    pty.write_all(b"busybox stty size; echo RESIZED-$((2+2))\r")
        .await
        .unwrap();
    let second = read_until(&mut pty, "RESIZED-4\r\n").await;
    assert!(second.contains("40 100"), "{second:?}");
    pty.write_all(b"exit 7\r").await.unwrap();
    let status = session.wait().await.unwrap();
    assert_eq!(status.exit_code, 7);
    c.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unread_output_never_deadlocks_wait() {
    let env = require!();
    let c = Container::start(&env, "itx-unread").await;
    // 16 MiB on each stream, far beyond every buffer; nothing is read.
    let script = "head -c 16777216 /dev/zero; head -c 16777216 /dev/zero >&2; exit 5";
    let session = c.exec(["sh", "-c", script]).spawn().await.unwrap();
    let status = tokio::time::timeout(Duration::from_secs(120), session.wait())
        .await
        .expect("wait() returned")
        .unwrap();
    assert_eq!(status.exit_code, 5);
    // Taken, then dropped unread: drained as well.
    let mut session = c.exec(["sh", "-c", script]).spawn().await.unwrap();
    drop(session.take_stdout());
    drop(session.take_stderr());
    let status = tokio::time::timeout(Duration::from_secs(120), session.wait())
        .await
        .expect("wait() returned")
        .unwrap();
    assert_eq!(status.exit_code, 5);
    c.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_not_found_is_127_with_lxd_message() {
    let env = require!();
    let c = Container::start(&env, "itx-missing").await;
    let out = c.exec(["/no/such/program"]).run().await.unwrap();
    assert_eq!(out.exit_code, 127, "{out:?}");
    assert_eq!(out.message, "Command not found");
    // A stopped instance is LXD's refusal.
    c.client
        .instances()
        .set_state(&c.name, &InstanceStatePut::stop().with_force(true))
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    let err = c.exec(["true"]).run().await.unwrap_err();
    assert!(err.is_bad_request(), "{err:?}");
    assert!(
        err.lxd_message().unwrap().contains("not running"),
        "{err:?}"
    );
    // An empty command is refused before any request.
    let err = c.exec(Vec::<String>::new()).run().await.unwrap_err();
    assert!(err.is_invalid_input(), "{err:?}");
    c.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_output_is_read_back_through_the_log_urls() {
    let env = require!();
    let c = Container::start(&env, "itx-record").await;
    let recorded = c
        .exec(["sh", "-c", "echo recorded-out; printf '\\377' >&2; exit 3"])
        .run_recorded()
        .await
        .unwrap();
    assert_eq!(recorded.exit_code, 3);
    // Incus keeps recorded output apart, under logs/exec-output/.
    let dir = if env.is_incus() {
        "logs/exec-output"
    } else {
        "logs"
    };
    assert!(
        recorded
            .stdout_log
            .starts_with(&format!("/1.0/instances/{}/{dir}/exec_", c.name)),
        "{recorded:?}"
    );
    assert_eq!(recorded.stdout_bytes().await.unwrap(), b"recorded-out\n");
    assert_eq!(recorded.stderr_bytes().await.unwrap(), b"\xff");
    let logs = || async {
        c.client
            .raw(Method::GET, format!("/1.0/instances/{}/{dir}", c.name))
            .send()
            .await
            .unwrap()
            .metadata
            .to_string()
    };
    assert!(logs().await.contains(&recorded.stdout_log));
    recorded.delete_logs().await.unwrap();
    let after = logs().await;
    assert!(
        !after.contains(&recorded.stdout_log) && !after.contains(&recorded.stderr_log),
        "{after}"
    );
    // LXD 5.0.2 answers a deleted log with 500 "no such file or directory", not 404.
    assert!(recorded.stdout_bytes().await.is_err());
    c.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_exec_hands_out_websockets_and_secrets() {
    let env = require!();
    let c = Container::start(&env, "itx-raw").await;
    let raw = c
        .exec(["sh", "-c", "read line; echo \"got $line\"; exit 4"])
        .start_raw()
        .await
        .unwrap();
    let channels: Vec<&str> = raw.channels().collect();
    assert_eq!(channels, ["0", "1", "2", "control"]);
    let url = raw.websocket_url("1").unwrap();
    assert!(url.starts_with(&format!(
        "/1.0/operations/{}/websocket?secret=",
        raw.operation().id()
    )));
    assert!(
        !format!("{raw:?}").contains(raw.secret("1").unwrap()),
        "Debug hides secrets"
    );
    let control = raw.connect("control").await.unwrap();
    let mut stdin = raw.connect("0").await.unwrap();
    let mut stdout = raw.connect("1").await.unwrap();
    let stderr = raw.connect("2").await.unwrap();
    stdin
        .send(Message::Binary("raw input\n".into()))
        .await
        .unwrap();
    stdin.send(Message::Text("".into())).await.unwrap();
    let mut out = Vec::new();
    while let Some(message) = stdout.next().await {
        match message.unwrap() {
            Message::Binary(b) => out.extend_from_slice(&b),
            Message::Text(_) => break, // LXD's end-of-stream marker
            _ => {}
        }
    }
    assert_eq!(out, b"got raw input\n");
    let done = raw.into_operation().wait().await.unwrap();
    assert_eq!(done.metadata.unwrap()["return"], 4);
    drop((control, stdin, stdout, stderr));
    c.remove().await;
}

/// LXD and Incus ping every exec websocket as it connects and close them all once the
/// command has ended. A client that reads only then must still get the output: answering
/// the ping fails (the daemon is gone) and must not cost the data still buffered behind it.
/// A client busy elsewhere (50 concurrent execs in `load`) meets exactly this. On the unix
/// socket the pong write fails at once ("Broken pipe": this test failed so before the fix);
/// over TCP the first write after the close is still accepted, so the HTTPS check in
/// `exec_over_https_with_client_certificate_and_pinned_server` passed even before it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_read_after_the_daemon_closed_the_socket_is_kept() {
    let env = require!();
    let c = Container::start(&env, "itx-late").await;
    read_only_after_the_end(&c.client, &c.name).await;
    c.remove().await;
}

/// Runs a command through raw websockets, reads nothing until its operation is over, then
/// checks that stdout and stderr still hold the output and LXD's end-of-stream marker.
async fn read_only_after_the_end(client: &Client, instance: &str) {
    let raw = client
        .instances()
        .exec(instance, ["sh", "-c", "echo out; echo err >&2; exit 3"])
        .start_raw()
        .await
        .unwrap();
    let control = raw.connect("control").await.unwrap();
    let mut stdin = raw.connect("0").await.unwrap();
    let stdout = raw.connect("1").await.unwrap();
    let stderr = raw.connect("2").await.unwrap();
    stdin.send(Message::Text("".into())).await.unwrap();
    // Nothing read until the operation is over: by then the daemon has closed the sockets.
    let done = raw.into_operation().wait().await.unwrap();
    assert_eq!(done.metadata.unwrap()["return"], 3);

    /// The data and whether LXD's end-of-stream marker came (pings are skipped).
    async fn read_late(mut ws: lxd_client::transport::WebSocket) -> (Vec<u8>, bool) {
        let mut data = Vec::new();
        while let Some(message) = ws.next().await {
            match message {
                Ok(Message::Binary(b)) => data.extend_from_slice(&b),
                Ok(Message::Text(_)) => return (data, true),
                Ok(_) => {}
                Err(e) => panic!(
                    "read failed after {:?}: {e}",
                    String::from_utf8_lossy(&data)
                ),
            }
        }
        (data, false)
    }
    assert_eq!(read_late(stdout).await, (b"out\n".to_vec(), true));
    assert_eq!(read_late(stderr).await, (b"err\n".to_vec(), true));
    drop((control, stdin));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_over_https_with_client_certificate_and_pinned_server() {
    let env = require!();
    let c = Container::start(&env, "itx-https").await;
    let name = unique("itx-cert");
    let (cert, key) = fresh_identity(&name);
    let build = || {
        let b = env
            .https_builder()
            .client_certificate_pem(cert.as_bytes(), key.as_bytes());
        if env.project == "default" {
            b
        } else {
            b.project(env.project.clone())
        }
        .build()
        .unwrap()
    };
    let client = build();
    client
        .authenticate(&env.join_token(&name).await)
        .await
        .unwrap();

    let payload = binary_payload(1024 * 1024);
    let out = client
        .instances()
        .exec(&c.name, ["sh", "-c", "cat; echo over-tls >&2; exit 9"])
        .stdin_bytes(payload.clone())
        .run()
        .await
        .unwrap();
    assert_eq!(out.exit_code, 9);
    assert!(out.stdout == payload);
    assert_eq!(out.stderr_text(), "over-tls\n");

    let n = 1024 * 1024;
    let mut session = client
        .instances()
        .exec(&c.name, ["seq", "-w", "1", &n.to_string()])
        .spawn()
        .await
        .unwrap();
    let started = Instant::now();
    let bytes = check_seq(session.take_stdout().unwrap(), n, 7).await;
    assert!(session.wait().await.unwrap().success());
    eprintln!(
        "FIGURE exec {} MiB streamed over HTTPS in {:.2?}",
        bytes / (1024 * 1024),
        started.elapsed()
    );

    // Output read only after the daemon closed the (TLS) sockets is still whole.
    read_only_after_the_end(&client, &c.name).await;

    // The websockets verify the server like every request: a client pinned to another
    // certificate cannot open the exec's channels, though it holds valid secrets.
    let raw = client
        .instances()
        .exec(&c.name, ["echo", "verified"])
        .start_raw()
        .await
        .unwrap();
    let impostor_pin = Client::https(env.https.clone())
        .server_fingerprint("ab".repeat(32))
        .client_certificate_pem(cert.as_bytes(), key.as_bytes())
        .build()
        .unwrap();
    let url_secret = raw.secret("1").unwrap().to_string();
    let err = impostor_pin
        .websocket(
            &format!("/1.0/operations/{}/websocket", raw.operation().id()),
            &[("secret", &url_secret)],
        )
        .await
        .unwrap_err();
    assert!(err.is_tls(), "{err:?}");
    // The right client completes the exec.
    let channels =
        futures::future::try_join_all(["control", "0", "1", "2"].map(|ch| raw.connect(ch)))
            .await
            .unwrap();
    let done = raw.into_operation().wait().await.unwrap();
    assert_eq!(done.metadata.unwrap()["return"], 0);
    drop(channels);

    env.forget_certificate(&cert).await;
    c.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_log_clear_and_attach() {
    let env = require!();
    let c = Container::start(&env, "itx-console").await;
    let instances = c.client.instances();

    // What is written to the console with nobody attached lands in the console log.
    let logged = unique("console-logged");
    let out = instances
        .exec(
            &c.name,
            ["sh", "-c", &format!("echo {logged} > /dev/console")],
        )
        .run()
        .await
        .unwrap();
    assert!(out.success(), "{out:?}");
    let log = instances.console_log(&c.name).await.unwrap();
    let text = String::from_utf8_lossy(&log);
    assert!(text.contains(&logged), "{text:?}");
    instances.clear_console_log(&c.name).await.unwrap();
    let cleared = instances.console_log(&c.name).await.unwrap();
    assert!(
        !String::from_utf8_lossy(&cleared).contains(&logged),
        "{:?}",
        String::from_utf8_lossy(&cleared)
    );

    // Detaching can crash an LXD 5.0.2 daemon (a race of two writers in its console relay:
    // "panic: concurrent write to websocket connection"), taking every other test with it.
    // The client closes the channels in the order that avoids it, but the race cannot be
    // closed from our side, so attaching runs only when asked, on a daemon of its own.
    if std::env::var("LXD_IT_CONSOLE_ATTACH").as_deref() != Ok("1") {
        eprintln!(
            "SKIPPED console attach: LXD 5.0.2 can crash on console detach; \
             set LXD_IT_CONSOLE_ATTACH=1 to run it against a daemon of its own"
        );
        c.remove().await;
        return;
    }

    // Attach and use the shell busybox offers there.
    let mut console = instances
        .console(&c.name)
        .window_size(100, 30)
        .attach()
        .await
        .unwrap();
    let mut terminal = console.take_terminal().unwrap();
    let marker = unique("console-marker");
    // LXD starts the process relaying the console after the websockets connect, and it
    // discards what reached the console before: there is no "ready" message. So write to
    // the console from inside until it comes out here; the relay is then in place.
    let ready = async {
        for attempt in 0.. {
            let line = format!("{marker}-ready-{attempt}");
            let out = instances
                .exec(
                    &c.name,
                    ["sh", "-c", &format!("echo {line} > /dev/console")],
                )
                .run()
                .await
                .unwrap();
            assert!(out.success(), "{out:?}");
            let mut seen = Vec::new();
            let mut buf = [0u8; 4096];
            let got = tokio::time::timeout(Duration::from_secs(2), async {
                while !String::from_utf8_lossy(&seen).contains(&line) {
                    let n = terminal.read(&mut buf).await.unwrap();
                    assert!(n > 0, "console closed");
                    seen.extend_from_slice(&buf[..n]);
                }
            })
            .await;
            if got.is_ok() {
                return attempt;
            }
        }
        unreachable!()
    };
    let attempts = tokio::time::timeout(Duration::from_secs(60), ready)
        .await
        .expect("the console relays output within 60 s");
    eprintln!("console relaying after {} attempt(s)", attempts + 1);
    // A newline activates busybox's console shell (the console's terminal does not turn
    // CR into NL); then a command whose output proves the round trip.
    terminal.write_all(b"\n").await.unwrap();
    terminal
        .write_all(format!("echo {marker}-$((6*7))\n").as_bytes())
        .await
        .unwrap();
    read_until(&mut terminal, &format!("{marker}-42")).await;
    // Accepted by LXD (it sizes its side of the relay; busybox cannot show the console's
    // size: `stty` fails on it).
    console.resize(120, 40).await.unwrap();
    assert!(console.resize(0, 40).await.unwrap_err().is_invalid_input());
    drop(terminal);
    console.detach().await.unwrap();

    // The console's output went to the attached client; the buffer is readable again.
    instances.console_log(&c.name).await.unwrap();
    c.remove().await;
}
