//! The parent: fixtures, one child process per (workload, side, round), the table and the
//! JSON file.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lxd_client::Client;
use lxd_client::proto::{InstanceSource, InstancesPost};
use serde_json::{Value, json};

use crate::Args;
use crate::harness::Result;
use crate::work::{CASES, Ctx, LIST_PREFIX, MIB, Peers};

/// A child that takes longer than this is killed and its run counted as failed.
const CHILD_TIMEOUT: Duration = Duration::from_secs(900);

/// W6's image (the other workloads' sizes come from `--size`, 64 MiB by default).
const IMAGE_SIZE: u64 = 200 * MIB;

/// The size of the memory runs (`--big`): W5's file and W6's image.
const BIG_SIZE: u64 = 1024 * MIB;

/// Marks what the bench uploads, so a failed run's leftovers are found and deleted.
const IMAGE_MARK: &str = "lxdb";

pub fn run(args: &Args, ctx: &Ctx) -> Result<()> {
    let started = Instant::now();
    let cases: Vec<&str> = match &args.only {
        Some(only) => {
            for name in only {
                if !CASES.contains(&name.as_str()) && name != "IDLE" {
                    return Err(
                        format!("unknown workload {name} (known: {})", CASES.join(" ")).into(),
                    );
                }
            }
            CASES
                .iter()
                .copied()
                .filter(|c| only.iter().any(|o| o.eq_ignore_ascii_case(c)))
                .collect()
        }
        None => CASES.to_vec(),
    };
    let rounds = args.rounds.unwrap_or(if args.quick { 1 } else { 3 });
    let sizes = |case: &str| -> Vec<u64> {
        let mut sizes = vec![if case == "W6" { IMAGE_SIZE } else { ctx.size }];
        if args.big && ["W5", "W6"].contains(&case) {
            sizes.push(BIG_SIZE);
        }
        sizes
    };
    fs::create_dir_all(&ctx.work)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let client = Client::unix(&ctx.socket)?;
    let server = runtime.block_on(client.server())?;
    let machine = machine(&server.environment.server_version);
    say(format!("machine: {machine}"));

    let mut setup = Vec::new();
    if cases.contains(&"W5") {
        for size in sizes("W5") {
            setup.push(blob(
                &ctx.work.join(format!("blob-{}MiB", size / MIB)),
                size,
            ));
        }
    }
    if cases.contains(&"W6") {
        for size in sizes("W6") {
            setup.push(image(&ctx.work, size));
        }
    }
    setup.into_iter().collect::<Result<Vec<()>>>()?;
    let needs_run = cases.iter().any(|c| ["W4", "W5", "W8"].contains(c));
    let fixtures = runtime.block_on(fixtures(&client, ctx, needs_run, cases.contains(&"W2")));
    let measured = fixtures.and_then(|()| measure(&cases, &sizes, rounds, ctx));
    say("cleaning up");
    let cleaned = runtime.block_on(cleanup(&client));
    let rows = measured?;
    cleaned?;

    let table = table(&rows);
    println!("{table}");
    let report = json!({
        "machine": machine,
        "quick": args.quick,
        "rounds": rounds,
        "counts": format!("{:?}", ctx.counts),
        "seconds": started.elapsed().as_secs_f64(),
        "rows": rows,
    });
    let path = ctx.work.join("bench.json");
    fs::write(&path, serde_json::to_string_pretty(&report)?)?;
    fs::write(ctx.work.join("bench.txt"), &table)?;
    say(format!(
        "wrote {} and bench.txt ({:.0} s in all)",
        path.display(),
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

fn say(msg: impl AsRef<str>) {
    eprintln!("lxd-bench: {}", msg.as_ref());
}

fn machine(lxd_version: &str) -> Value {
    let read = |p: &str| fs::read_to_string(p).unwrap_or_default();
    let mem_kib: u64 = read("/proc/meminfo")
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0);
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .unwrap_or("")
        .trim()
        .to_owned();
    json!({
        "nproc": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "cpu": cpu,
        "memory_mib": mem_kib / 1024,
        "kernel": read("/proc/sys/kernel/osrelease").trim(),
        "lxd": lxd_version,
    })
}

// ---------------------------------------------------------------------------------------
// Fixtures

/// `size` incompressible bytes (xorshift), written once.
fn blob(path: &Path, size: u64) -> Result<()> {
    if fs::metadata(path).is_ok_and(|m| m.len() == size) {
        return Ok(());
    }
    say(format!(
        "writing {} ({} MiB of random bytes)",
        path.display(),
        size / MIB
    ));
    let tmp = path.with_extension("partial");
    let mut out = BufWriter::new(fs::File::create(&tmp)?);
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15 ^ size;
    let mut chunk = vec![0u8; MIB as usize];
    let mut left = size;
    while left > 0 {
        for word in chunk.chunks_exact_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes());
        }
        let n = left.min(MIB) as usize;
        out.write_all(&chunk[..n])?;
        left -= n as u64;
    }
    out.flush()?;
    drop(out);
    fs::rename(&tmp, path)?;
    Ok(())
}

/// A unified image tarball of about `size` bytes: metadata.yaml and a rootfs holding
/// random filler (LXD only stores and hashes it; nothing launches it).
fn image(work: &Path, size: u64) -> Result<()> {
    let path = work.join(format!("image-{}MiB.tar", size / MIB));
    if path.exists() {
        return Ok(());
    }
    let src = work.join(format!("image-{}MiB.src", size / MIB));
    let _ = fs::remove_dir_all(&src);
    fs::create_dir_all(src.join("rootfs"))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    fs::write(
        src.join("metadata.yaml"),
        format!(
            "architecture: \"x86_64\"\ncreation_date: {now}\nproperties:\n  description: \"lxd-bench filler\"\n  os: \"none\"\n  {IMAGE_MARK}: \"bench\"\n"
        ),
    )?;
    // A few KiB under `size`, for the tar headers.
    blob(&src.join("rootfs/filler"), size - 64 * 1024)?;
    say(format!("writing {}", path.display()));
    let tmp = path.with_extension("partial");
    let status = Command::new("tar")
        .args(["--numeric-owner", "--owner=0", "--group=0", "-cf"])
        .arg(&tmp)
        .arg("-C")
        .arg(&src)
        .args(["metadata.yaml", "rootfs"])
        .status()?;
    if !status.success() {
        return Err(format!("tar failed ({status})").into());
    }
    fs::rename(&tmp, &path)?;
    fs::remove_dir_all(&src)?;
    Ok(())
}

/// The running container of W4/W5/W8 and W2's stopped ones; leftovers of an earlier run
/// are removed first.
async fn fixtures(client: &Client, ctx: &Ctx, run: bool, list: bool) -> Result<()> {
    cleanup(client).await?;
    let create = |name: String| async move {
        let post = InstancesPost {
            name,
            source: InstanceSource::image_alias(&ctx.image),
            ..Default::default()
        };
        client.instances().create_and_wait(&post).await
    };
    if run {
        say(format!("creating and starting {}", ctx.run));
        create(ctx.run.clone()).await?.start().await?;
    }
    if list {
        let n = ctx.counts.w2_instances;
        say(format!("creating {n} stopped containers for W2"));
        let names: Vec<String> = (0..n).map(|i| format!("{LIST_PREFIX}{i:02}")).collect();
        for batch in names.chunks(5) {
            for result in futures::future::join_all(batch.iter().cloned().map(create)).await {
                result?;
            }
        }
    }
    Ok(())
}

/// Deletes every container, profile and image the bench made (names `lxdb-*`, images
/// marked with the `lxdb` property).
async fn cleanup(client: &Client) -> Result<()> {
    let mut errors = Vec::new();
    for name in client.instances().list_names().await? {
        if !name.starts_with("lxdb-") {
            continue;
        }
        let mut instance = client.instances().object(&name).await?;
        if instance.model().status != "Stopped" {
            let _ = instance.stop(true).await;
        }
        if let Err(e) = instance.delete().await {
            errors.push(format!("deleting {name}: {e}"));
        }
    }
    for name in client.profiles().list_names().await? {
        if name.starts_with("lxdb-")
            && let Err(e) = client.profiles().delete(&name).await
        {
            errors.push(format!("deleting profile {name}: {e}"));
        }
    }
    for image in client.images().list().await? {
        if image.properties.contains_key(IMAGE_MARK)
            && let Err(e) = client.images().delete_and_wait(&image.fingerprint).await
        {
            errors.push(format!("deleting image {}: {e}", image.fingerprint));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n").into())
    }
}

// ---------------------------------------------------------------------------------------
// Children

/// One child's line.
#[derive(Debug, Clone)]
struct Run {
    metrics: Vec<Value>,
    errors: u64,
    first_errors: Vec<String>,
    rss_kib: u64,
    cpu_ms: u64,
}

/// The command that runs one (workload, side): lxd-bench itself for the floor and
/// lxd-client, the peers' driver for pylxd, lxc and curl.
fn command(ctx: &Ctx, case: &str, side: &str, size: u64) -> Result<Command> {
    let mut cmd = match (&ctx.peers, side) {
        (_, "raw" | "client") | (Some(_), "lxc" | "curl") => Command::new(std::env::current_exe()?),
        (Some(peers), _) => {
            let mut cmd = Command::new(&peers.python);
            cmd.arg(&peers.script)
                .args(["--counts", &ctx.counts.to_json(), "--run", &ctx.run]);
            cmd
        }
        (None, _) => return Err(format!("side {side} needs the peers").into()),
    };
    cmd.args(["run", case, side, "--socket"])
        .arg(&ctx.socket)
        .args(["--image", &ctx.image, "--work"])
        .arg(&ctx.work)
        .args(["--size", &size.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if ctx.counts.w1 < 500 && side != "pylxd" {
        cmd.arg("--quick");
    }
    Ok(cmd)
}

fn child(ctx: &Ctx, case: &str, side: &str, size: u64) -> Result<Run> {
    let mut child = command(ctx, case, side, size)?.spawn()?;
    let deadline = Instant::now() + CHILD_TIMEOUT;
    loop {
        if child.try_wait()?.is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{case} {side}: killed after {CHILD_TIMEOUT:?}").into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .ok_or_else(|| format!("{case} {side}: no report ({})", output.status))?;
    let v: Value = serde_json::from_str(line)?;
    Ok(Run {
        metrics: v["metrics"].as_array().cloned().unwrap_or_default(),
        errors: v["errors"].as_u64().unwrap_or(0),
        first_errors: v["first_errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        rss_kib: v["rss_kib"].as_u64().unwrap_or(0),
        cpu_ms: v["cpu_ms"].as_u64().unwrap_or(0),
    })
}

/// What a side measured over its rounds for one metric: every round's median (the
/// figure is their median), its peak RSS over all rounds, and its errors.
#[derive(Default, Debug)]
struct Side {
    medians: Vec<f64>,
    p99s: Vec<f64>,
    unit: Option<String>,
    rss_kib: u64,
    cpu_ms: Vec<u64>,
    errors: u64,
    first_errors: Vec<String>,
}

impl Side {
    fn add(&mut self, metric: Option<&Value>, run: &Run) {
        self.rss_kib = self.rss_kib.max(run.rss_kib);
        if run.errors == 0 {
            self.cpu_ms.push(run.cpu_ms);
        }
        self.errors += run.errors;
        self.first_errors.extend(
            run.first_errors
                .iter()
                .take(3 - self.first_errors.len().min(3))
                .cloned(),
        );
        let Some(metric) = metric else { return };
        if let Some(m) = metric["median"].as_f64() {
            self.medians.push(m);
        }
        if let Some(p) = metric["p99"].as_f64() {
            self.p99s.push(p);
        }
        self.unit = metric["unit"].as_str().map(str::to_owned);
    }

    /// The median over rounds of the rounds' figures.
    fn median(&self) -> Option<f64> {
        median(&self.medians)
    }

    fn p99(&self) -> Option<f64> {
        median(&self.p99s)
    }

    fn cpu(&self) -> Option<f64> {
        median(&self.cpu_ms.iter().map(|&c| c as f64).collect::<Vec<_>>())
    }

    fn json(&self) -> Value {
        json!({"median": self.median(), "p99": self.p99(), "rss_kib": self.rss_kib,
               "cpu_ms": self.cpu(), "errors": self.errors, "first_errors": self.first_errors})
    }
}

fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => None,
        n if n % 2 == 1 => Some(sorted[n / 2]),
        n => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// The sides that run `case`, in this round's order: each round starts one side later, so
/// no side always meets the daemon still busy with another's work (W3's deletes, W6's
/// image removal).
fn sides(ctx: &Ctx, case: &str, round: usize) -> Vec<&'static str> {
    let mut all = vec!["raw", "client"];
    if ctx.peers.is_some() {
        all.extend(Peers::sides(case));
    }
    let shift = round % all.len();
    all.rotate_left(shift);
    all
}

fn measure(
    cases: &[&str],
    sizes: &dyn Fn(&str) -> Vec<u64>,
    rounds: usize,
    ctx: &Ctx,
) -> Result<Vec<Value>> {
    let mut rows = Vec::new();
    for &case in cases {
        for size in sizes(case) {
            // metric name -> side -> what it measured; plus the whole runs per side.
            let mut by_metric: BTreeMap<String, BTreeMap<&str, Side>> = BTreeMap::new();
            let mut order: Vec<String> = Vec::new();
            let mut whole: BTreeMap<&str, Side> = BTreeMap::new();
            for round in 0..rounds {
                for side in sides(ctx, case, round) {
                    let began = Instant::now();
                    let run = child(ctx, case, side, size).unwrap_or_else(|e| Run {
                        metrics: Vec::new(),
                        errors: 1,
                        first_errors: vec![e.to_string()],
                        rss_kib: 0,
                        cpu_ms: 0,
                    });
                    say(format!(
                        "{case} {side} (round {}, {} MiB): {:.1} s, {} error(s){}",
                        round + 1,
                        size / MIB,
                        began.elapsed().as_secs_f64(),
                        run.errors,
                        run.first_errors
                            .first()
                            .map(|e| format!(": {e}"))
                            .unwrap_or_default()
                    ));
                    whole.entry(side).or_default().add(None, &run);
                    for m in &run.metrics {
                        let name = m["name"].as_str().unwrap_or("?").to_owned();
                        if !order.contains(&name) {
                            order.push(name.clone());
                        }
                        let per_side = by_metric.entry(name).or_default();
                        per_side.entry(side).or_default().add(Some(m), &run);
                    }
                }
            }
            for name in order {
                rows.push(row(case, size, &name, &by_metric[&name], &whole));
            }
            rows.push(rss_row(case, size, &whole));
        }
    }
    Ok(rows)
}

/// The target a (workload, metric) is held to against the floor: (`<=` or `>=`, ratio).
fn target(case: &str, metric: &str) -> Option<(&'static str, f64)> {
    Some(match (case, metric) {
        ("W1" | "W2", _) => ("<=", 1.05),
        ("W3", _) => ("<=", 1.02),
        ("W4", "exec true") | ("W5", "push 4 KiB file") => ("<=", 1.05),
        ("W4", _) | ("W5", "file push" | "file pull") | ("W6", _) => (">=", 0.97),
        _ => return None,
    })
}

/// `a` against `b` as a ratio where above 1 is always worse for `a`: times divide as they
/// are, throughputs the other way round.
fn worse_ratio(unit: &str, a: f64, b: f64) -> Option<f64> {
    let ratio = if unit == "MB/s" { b / a } else { a / b };
    ratio.is_finite().then_some(ratio)
}

fn row(
    case: &str,
    size: u64,
    name: &str,
    sides: &BTreeMap<&str, Side>,
    whole: &BTreeMap<&str, Side>,
) -> Value {
    let unit = sides
        .values()
        .find_map(|s| s.unit.clone())
        .unwrap_or_default();
    let fig = |side: &str| sides.get(side).and_then(Side::median);
    let ratio = match (fig("client"), fig("raw")) {
        (Some(c), Some(r)) if r > 0.0 => Some(c / r),
        _ => None,
    };
    // The best of the floor and the peers, and lxd-client against it (above 1: behind).
    let best = sides
        .iter()
        .filter(|(side, _)| **side != "client")
        .filter_map(|(side, s)| Some((*side, s.median()?)))
        .min_by(|a, b| {
            let key = |v: f64| if unit == "MB/s" { -v } else { v };
            key(a.1).total_cmp(&key(b.1))
        });
    let vs_best = match (fig("client"), best) {
        (Some(c), Some((_, b))) => worse_ratio(&unit, c, b),
        _ => None,
    };
    let client_errors = whole.get("client").map_or(0, |s| s.errors);
    let (target_text, met) = if case == "W8" {
        ("no error".to_owned(), Some(client_errors == 0))
    } else {
        match (target(case, name), ratio) {
            (Some((op, t)), Some(r)) => (
                format!("{op} {t:.2}"),
                Some(if op == "<=" { r <= t } else { r >= t }),
            ),
            (Some((op, t)), None) => (format!("{op} {t:.2}"), Some(false)),
            (None, _) => ("-".to_owned(), None),
        }
    };
    let ahead_of_peers =
        ["pylxd", "lxc", "curl"]
            .iter()
            .all(|peer| match (fig("client"), fig(peer)) {
                (Some(c), Some(p)) => worse_ratio(&unit, c, p).is_some_and(|r| r <= 1.0),
                _ => true,
            });
    let per_side: serde_json::Map<String, Value> = sides
        .iter()
        .map(|(side, s)| {
            let mut v = s.json();
            // CPU and RSS are the whole run's, not one metric's.
            if let Some(w) = whole.get(side) {
                v["cpu_ms"] = json!(w.cpu());
                v["rss_kib"] = json!(w.rss_kib);
                v["errors"] = json!(w.errors);
                v["first_errors"] = json!(w.first_errors);
            }
            (side.to_string(), v)
        })
        .collect();
    json!({
        "case": case, "size_mib": size / MIB, "metric": name, "unit": unit,
        "sides": per_side,
        "ratio": ratio, "target": target_text, "met": met,
        "best": best.map(|(side, _)| side), "vs_best": vs_best,
        "ahead_of_peers": ahead_of_peers,
    })
}

/// Peak RSS and CPU of the case's processes: RSS under 8 MiB idle and under 16 MiB for
/// streaming ones.
fn rss_row(case: &str, size: u64, whole: &BTreeMap<&str, Side>) -> Value {
    let limit_mib = match case {
        "idle" => Some(8u64),
        "W4" | "W5" | "W6" => Some(16),
        _ => None,
    };
    let per_side: serde_json::Map<String, Value> = whole
        .iter()
        .map(|(side, s)| {
            let mut v = s.json();
            v["median"] = json!(s.rss_kib as f64 / 1024.0);
            v["p99"] = Value::Null;
            (side.to_string(), v)
        })
        .collect();
    let client = whole
        .get("client")
        .map_or(0.0, |s| s.rss_kib as f64 / 1024.0);
    let raw = whole.get("raw").map_or(0.0, |s| s.rss_kib as f64 / 1024.0);
    let cpu = |side: &str| whole.get(side).and_then(Side::cpu);
    json!({
        "case": case, "size_mib": size / MIB, "metric": "peak RSS, CPU", "unit": "MiB",
        "sides": per_side,
        "ratio": if raw > 0.0 { Some(client / raw) } else { None },
        "target": limit_mib.map_or("-".to_owned(), |l| format!("< {l} MiB")),
        "met": limit_mib.map(|l| client < l as f64),
        "cpu_ratio": match (cpu("client"), cpu("raw")) {
            (Some(c), Some(r)) if r > 0.0 => Some(c / r),
            _ => None,
        },
    })
}

/// The table: a column per side (floor, lxd-client, then the peers that ran), lxd-client
/// against the floor and against the best of floor and peers, the target and the CPU.
fn table(rows: &[Value]) -> String {
    let num = |v: Option<f64>| match v {
        Some(x) if x >= 100.0 => format!("{x:.0}"),
        Some(x) if x >= 10.0 => format!("{x:.1}"),
        Some(x) => format!("{x:.2}"),
        None => "-".to_owned(),
    };
    let sides: Vec<&str> = ["raw", "client", "pylxd", "lxc", "curl"]
        .into_iter()
        .filter(|s| rows.iter().any(|r| !r["sides"][*s].is_null()))
        .collect();
    fn header(side: &str) -> &str {
        match side {
            "raw" => "floor",
            "client" => "lxd-client",
            other => other,
        }
    }
    let mut out = String::new();
    out.push_str("| case | size | metric | unit |");
    for s in &sides {
        out.push_str(&format!(" {} |", header(s)));
    }
    out.push_str(" client/floor | vs best | target | met |\n|---|--:|---|---|");
    for _ in &sides {
        out.push_str("--:|");
    }
    out.push_str("--:|---|---|---|\n");
    for r in rows {
        let rss = r["metric"] == "peak RSS, CPU";
        let cell = |side: &str| {
            let s = &r["sides"][side];
            if s.is_null() {
                return "".to_owned();
            }
            let errors = s["errors"].as_u64().unwrap_or(0);
            let mut text = if rss {
                format!(
                    "{} / {} ms",
                    num(s["median"].as_f64()),
                    num(s["cpu_ms"].as_f64())
                )
            } else if s["p99"].is_null() {
                num(s["median"].as_f64())
            } else {
                format!("{} / {}", num(s["median"].as_f64()), num(s["p99"].as_f64()))
            };
            if errors > 0 && !rss {
                text.push_str(&format!(" ({errors} err)"));
            }
            text
        };
        let met = match r["met"].as_bool() {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "",
        };
        let unit = if rss {
            "MiB / CPU"
        } else {
            r["unit"].as_str().unwrap_or("")
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} |",
            r["case"].as_str().unwrap_or(""),
            match r["case"].as_str() {
                Some("W4" | "W5" | "W6") => format!("{}M", r["size_mib"]),
                _ => String::new(),
            },
            r["metric"].as_str().unwrap_or(""),
            unit,
        ));
        for s in &sides {
            out.push_str(&format!(" {} |", cell(s)));
        }
        let vs_best = match (r["vs_best"].as_f64(), r["best"].as_str()) {
            (Some(v), Some(best)) if v > 1.0 => format!("{v:.2}x behind {}", header(best)),
            (Some(_), _) => "ahead".to_owned(),
            _ if rss => format!("CPU {}x", num(r["cpu_ratio"].as_f64())),
            _ => String::new(),
        };
        out.push_str(&format!(
            " {} | {} | {} | {} |\n",
            num(r["ratio"].as_f64()),
            vs_best,
            r["target"].as_str().unwrap_or(""),
            met
        ));
    }
    out
}
