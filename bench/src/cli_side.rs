//! The command-line peers: the `lxc` CLI (one process per call, as people use it) and curl
//! (W1, one process keeping one connection), doing the same requests as the other sides.
//!
//! No async runtime here: this child only spawns and waits, so its own memory stays small.
//! That matters because a process's peak RSS counts the memory of the process that spawned
//! it (Linux records the old address space's high-water mark at `exec`): spawned from
//! Python, every `curl` would show Python's 18 MiB. Peak RSS and CPU time are the waited
//! children's (`getrusage(RUSAGE_CHILDREN)`: the largest peak of any child, their summed
//! CPU time); this driver's own cost is left out, as a shell's would be.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{Metric, Result, ms};
use crate::work::{Ctx, MIB, Outcome};

/// `lxc` processes at once in W8: 1,000 Go processes at once would need ~15 GiB; people who
/// fan out shell calls bound them (`xargs -P`). lxd-client's and the floor's W8 are not.
const LXC_PARALLEL: usize = 50;

/// How long one `lxc` process may run before it counts as hung.
const LXC_PATIENCE: Duration = Duration::from_secs(120);

/// The children's peak RSS (KiB) and CPU time (ms) so far.
pub fn children_usage() -> (u64, u64) {
    use nix::sys::resource::{UsageWho, getrusage};
    match getrusage(UsageWho::RUSAGE_CHILDREN) {
        Ok(usage) => {
            let tv_ms = |tv: nix::sys::time::TimeVal| {
                tv.tv_sec() as u64 * 1000 + tv.tv_usec() as u64 / 1000
            };
            (
                usage.max_rss() as u64,
                tv_ms(usage.user_time()) + tv_ms(usage.system_time()),
            )
        }
        Err(_) => (0, 0),
    }
}

pub fn run(case: &str, side: &str, ctx: &Ctx, out: &mut Outcome) -> Result<()> {
    match side {
        "lxc" => lxc_side(case, ctx, out),
        "curl" => curl_side(case, ctx, out),
        other => Err(format!("unknown side {other}").into()),
    }
}

/// The `lxc` command, pointed at the bench's daemon, with its own config folder (remotes,
/// client certificate) inside the bench's work folder.
struct Lxc {
    dir: String,
    socket: String,
    conf: String,
}

impl Lxc {
    fn new(ctx: &Ctx) -> Result<Lxc> {
        let conf = ctx.work.join("lxc-conf");
        std::fs::create_dir_all(&conf)?;
        Ok(Lxc {
            dir: ctx
                .socket
                .parent()
                .unwrap_or(Path::new("/"))
                .display()
                .to_string(),
            socket: ctx.socket.display().to_string(),
            conf: conf.display().to_string(),
        })
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("lxc");
        cmd.args(args)
            .env("LXD_DIR", &self.dir)
            .env("LXD_SOCKET", &self.socket)
            .env("LXD_CONF", &self.conf)
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `lxc ARGS` to its end; its standard output on success. A process still running
    /// after [`LXC_PATIENCE`] is killed and counted as an error: LXD 5.0.2's `lxc exec`
    /// sometimes never exits after its command has (under concurrent execs).
    fn run(&self, args: &[&str]) -> Result<Vec<u8>> {
        let child = self
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let pid = child.id().to_string();
        let (finished, watch) = std::sync::mpsc::channel::<()>();
        // A watchdog rather than polling the child, which would add its interval to every
        // measured call.
        let watchdog = std::thread::spawn(move || {
            if watch.recv_timeout(LXC_PATIENCE).is_err() {
                let _ = Command::new("kill").args(["-9", &pid]).status();
            }
        });
        let output = child.wait_with_output();
        let _ = finished.send(());
        let _ = watchdog.join();
        let Output {
            status,
            stdout,
            stderr,
        } = output?;
        if !status.success() {
            return Err(format!(
                "lxc {}: {status}: {}",
                args.join(" "),
                String::from_utf8_lossy(&stderr).trim()
            )
            .into());
        }
        Ok(stdout)
    }
}

/// `op` `n` times in a row, each one's latency.
fn timed(name: &str, n: usize, mut op: impl FnMut(usize) -> Result<()>) -> Result<Metric> {
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let started = Instant::now();
        op(i)?;
        samples.push(ms(started.elapsed()));
    }
    Ok(Metric::Latency {
        name: name.to_owned(),
        samples,
    })
}

/// Runs `op(0..count)` on `threads` threads at once; the errors, counted.
fn fan_out(count: usize, threads: usize, op: impl Fn(usize) -> Result<()> + Sync) -> Vec<String> {
    let next = AtomicUsize::new(0);
    let errors = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..threads.min(count) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        break;
                    }
                    if let Err(e) = op(i) {
                        errors.lock().expect("lock").push(e.to_string());
                    }
                }
            });
        }
    });
    errors.into_inner().expect("lock")
}

fn lxc_side(case: &str, ctx: &Ctx, out: &mut Outcome) -> Result<()> {
    let lxc = Lxc::new(ctx)?;
    let n = &ctx.counts;
    let run = ctx.run.as_str();
    match case {
        "idle" => drop(lxc.run(&["query", "/1.0"])?),
        "W1" => out.push(timed("GET /1.0", n.w1, |_| {
            lxc.run(&["query", "/1.0"]).map(drop)
        })?),
        "W2" => out.push(timed("list recursion=2", n.w2, |_| {
            let list: Value =
                serde_json::from_slice(&lxc.run(&["query", "/1.0/instances?recursion=2"])?)?;
            let count = list.as_array().map_or(0, Vec::len);
            if count < n.w2_instances {
                return Err(format!("listed {count} instances").into());
            }
            Ok(())
        })?),
        "W3" => {
            // `lxc launch` is create and start; the stop is forced (busybox's init ignores
            // the power signal), as on the other sides.
            let cycle = |name: String| -> Result<()> {
                lxc.run(&["launch", &ctx.image, &name])?;
                let stopped = lxc.run(&["stop", "--force", &name]);
                lxc.run(&["delete", "--force", &name])?;
                stopped.map(drop)
            };
            out.push(timed("lifecycle, sequential", n.w3, |i| {
                cycle(format!("lxdb-w3-lxc-s{i}"))
            })?);
            let started = Instant::now();
            let errors = fan_out(n.w3, n.w3, |i| cycle(format!("lxdb-w3-lxc-p{i}")));
            if let Some(e) = errors.into_iter().next() {
                return Err(e.into());
            }
            out.push(Metric::Elapsed {
                name: format!("lifecycle, {} parallel", n.w3),
                secs: started.elapsed().as_secs_f64(),
            });
        }
        "W4" => {
            out.push(timed("exec true", n.w4, |_| {
                lxc.run(&["exec", run, "--", "true"]).map(drop)
            })?);
            let size = ctx.size.to_string();
            let started = Instant::now();
            let mut child = lxc
                .command(&["exec", run, "--", "head", "-c", &size, "/dev/zero"])
                .stdout(Stdio::piped())
                .spawn()?;
            let mut stdout = child.stdout.take().ok_or("no stdout")?;
            let mut buf = vec![0u8; MIB as usize];
            let mut bytes = 0u64;
            loop {
                let got = stdout.read(&mut buf)?;
                if got == 0 {
                    break;
                }
                bytes += got as u64;
            }
            let status = child.wait()?;
            out.push(Metric::Throughput {
                name: "exec stdout".into(),
                bytes,
                secs: started.elapsed().as_secs_f64(),
            });
            if !status.success() || bytes != ctx.size {
                out.error(format!(
                    "exec stdout: {bytes} of {} bytes, {status}",
                    ctx.size
                ));
            }
        }
        "W5" => {
            let blob = ctx.blob().display().to_string();
            let started = Instant::now();
            lxc.run(&["file", "push", &blob, &format!("{run}/root/blob-lxc")])?;
            out.push(Metric::Throughput {
                name: "file push".into(),
                bytes: ctx.size,
                secs: started.elapsed().as_secs_f64(),
            });
            let pulled = ctx.work.join("pulled-lxc");
            let started = Instant::now();
            lxc.run(&[
                "file",
                "pull",
                &format!("{run}/root/blob-lxc"),
                &pulled.display().to_string(),
            ])?;
            let secs = started.elapsed().as_secs_f64();
            let bytes = ctx.size_of(&pulled)?;
            std::fs::remove_file(&pulled)?;
            out.push(Metric::Throughput {
                name: "file pull".into(),
                bytes,
                secs,
            });
            if bytes != ctx.size {
                out.error(format!("file pull: {bytes} of {} bytes", ctx.size));
            }
            // Many files go in one `lxc file push` (as people push them); its time is
            // shared out evenly, so every sample is the mean per file.
            let small = ctx.work.join("small-lxc");
            let _ = std::fs::remove_dir_all(&small);
            std::fs::create_dir_all(&small)?;
            let mut args = vec!["file".to_owned(), "push".to_owned()];
            for i in 0..n.w5_small {
                let path = small.join(format!("small-lxc-{i}"));
                std::fs::write(&path, [b'x'; 4096])?;
                args.push(path.display().to_string());
            }
            args.push(format!("{run}/tmp/"));
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let started = Instant::now();
            let pushed = lxc.run(&args);
            let per_file = ms(started.elapsed()) / n.w5_small as f64;
            std::fs::remove_dir_all(&small)?;
            pushed?;
            out.push(Metric::Latency {
                name: "push 4 KiB file".into(),
                samples: vec![per_file; n.w5_small],
            });
        }
        "W6" => {
            let image = ctx.image_file();
            let size = ctx.size_of(&image)?;
            // A unified tarball's fingerprint is its SHA-256 (computed before the clock).
            let sum = Command::new("sha256sum").arg(&image).output()?;
            let fingerprint = String::from_utf8_lossy(&sum.stdout)
                .split_whitespace()
                .next()
                .ok_or("sha256sum printed nothing")?
                .to_owned();
            let started = Instant::now();
            lxc.run(&["image", "import", &image.display().to_string()])?;
            out.push(Metric::Throughput {
                name: "image upload".into(),
                bytes: size,
                secs: started.elapsed().as_secs_f64(),
            });
            let into = ctx.work.join("export-lxc");
            let _ = std::fs::remove_dir_all(&into);
            std::fs::create_dir_all(&into)?;
            let started = Instant::now();
            let exported = lxc.run(&[
                "image",
                "export",
                &fingerprint,
                &format!("{}/", into.display()),
            ]);
            let secs = started.elapsed().as_secs_f64();
            let mut bytes = 0;
            for entry in std::fs::read_dir(&into)? {
                bytes += entry?.metadata()?.len();
            }
            std::fs::remove_dir_all(&into)?;
            let deleted = lxc.run(&["image", "delete", &fingerprint]);
            exported?;
            deleted?;
            out.push(Metric::Throughput {
                name: "image export".into(),
                bytes,
                secs,
            });
        }
        "W7" => w7(&lxc, ctx, out)?,
        "W8" => {
            let get = n.w8_get;
            let started = Instant::now();
            for e in fan_out(get, LXC_PARALLEL, |_| lxc.run(&["query", "/1.0"]).map(drop)) {
                out.error(format!("GET /1.0: {e}"));
            }
            out.push(Metric::Elapsed {
                name: format!("{get} concurrent GET /1.0"),
                secs: started.elapsed().as_secs_f64(),
            });
            let execs = n.w8_exec;
            let started = Instant::now();
            for e in fan_out(execs, LXC_PARALLEL, |_| {
                lxc.run(&["exec", run, "--", "true"]).map(drop)
            }) {
                out.error(format!("exec: {e}"));
            }
            out.push(Metric::Elapsed {
                name: format!("{execs} concurrent exec"),
                secs: started.elapsed().as_secs_f64(),
            });
        }
        other => return Err(format!("unknown case {other}").into()),
    }
    Ok(())
}

/// W7 with `lxc monitor` listening and `lxc query -X PATCH` patching, one process each.
fn w7(lxc: &Lxc, ctx: &Ctx, out: &mut Outcome) -> Result<()> {
    let profile = format!("lxdb-w7-lxc-{}", std::process::id());
    let source = format!("/1.0/profiles/{profile}");
    lxc.run(&["profile", "create", &profile])?;
    let mut monitor = lxc
        .command(&["monitor", "--type=lifecycle", "--format=json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = monitor.stdout.take().ok_or("no stdout")?;
    let seen = (Mutex::new(0usize), Condvar::new());
    let result = std::thread::scope(|scope| {
        scope.spawn(|| {
            // One JSON document per event (pretty-printed over several lines).
            for event in serde_json::Deserializer::from_reader(stdout).into_iter::<Value>() {
                let Ok(event) = event else { break };
                let meta = &event["metadata"];
                if meta["action"] == "profile-updated" && meta["source"] == source.as_str() {
                    *seen.0.lock().expect("lock") += 1;
                    seen.1.notify_all();
                }
            }
        });
        let wait_for = |count: usize, timeout: Duration| {
            let guard = seen.0.lock().expect("lock");
            let (guard, _) = seen
                .1
                .wait_timeout_while(guard, timeout, |s| *s < count)
                .expect("lock");
            *guard >= count
        };
        let patch = |description: &str| {
            let body = serde_json::json!({ "description": description }).to_string();
            lxc.run(&["query", "-X", "PATCH", &source, "--data", &body])
                .map(drop)
        };
        let measured = (|| -> Result<f64> {
            // The monitor listens once it reports an update made after it started; every
            // warm-up update is seen before the clock starts.
            let mut warm = 0;
            while !wait_for(1, Duration::from_millis(100)) {
                if warm == 100 {
                    return Err("lxc monitor never reported an event".into());
                }
                patch("warm-up")?;
                warm += 1;
            }
            if !wait_for(warm, Duration::from_secs(10)) {
                return Err("lxc monitor lost a warm-up event".into());
            }
            let want = ctx.counts.w7;
            let started = Instant::now();
            for i in 0..want {
                patch(&format!("bench {i}"))?;
            }
            if !wait_for(warm + want, Duration::from_secs(60)) {
                return Err(format!("only some of the {want} events arrived").into());
            }
            Ok(started.elapsed().as_secs_f64())
        })();
        // Ends the reader thread too (its pipe closes).
        let _ = monitor.kill();
        let _ = monitor.wait();
        measured
    });
    let deleted = lxc.run(&["profile", "delete", &profile]);
    out.push(Metric::Elapsed {
        name: format!("{} lifecycle events", ctx.counts.w7),
        secs: result?,
    });
    deleted.map(drop)
}

/// W1 in one curl process (one keep-alive connection), with curl's own timing of each
/// transfer.
fn curl_side(case: &str, ctx: &Ctx, out: &mut Outcome) -> Result<()> {
    let count = match case {
        "idle" => 1,
        "W1" => ctx.counts.w1,
        other => return Err(format!("curl only runs idle and W1 (asked for {other})").into()),
    };
    let mut cmd = Command::new("curl");
    cmd.args(["--silent", "--fail", "--unix-socket"])
        .arg(&ctx.socket)
        .args(["-w", "%{time_total}\n"]);
    for _ in 0..count {
        cmd.args(["-o", "/dev/null", "http://lxd/1.0"]);
    }
    let output = cmd.stdin(Stdio::null()).output()?;
    if !output.status.success() {
        return Err(format!(
            "curl: {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )
        .into());
    }
    if case == "W1" {
        let samples = String::from_utf8_lossy(&output.stdout)
            .split_whitespace()
            .map(|s| s.parse::<f64>().map(|secs| secs * 1e3))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        out.push(Metric::Latency {
            name: "GET /1.0".into(),
            samples,
        });
    }
    Ok(())
}
