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
use crate::work::{CASES, Ctx, LIST_PREFIX, MIB};

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

fn child(ctx: &Ctx, case: &str, side: &str, size: u64) -> Result<Run> {
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(exe);
    cmd.args(["run", case, side, "--socket"])
        .arg(&ctx.socket)
        .args(["--image", &ctx.image, "--work"])
        .arg(&ctx.work)
        .args(["--size", &size.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if ctx.counts.w1 < 500 {
        cmd.arg("--quick");
    }
    let mut child = cmd.spawn()?;
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

/// The best of a side's rounds for one metric (lowest time, highest throughput), its peak
/// RSS over all rounds, and its errors.
#[derive(Default, Debug)]
struct Side {
    best: Option<Value>,
    rss_kib: u64,
    /// The least CPU time of a round (the whole child: setup, all its metrics).
    cpu_ms: Option<u64>,
    errors: u64,
    first_errors: Vec<String>,
}

impl Side {
    fn add(&mut self, metric: Option<&Value>, run: &Run) {
        self.rss_kib = self.rss_kib.max(run.rss_kib);
        if run.cpu_ms > 0 || run.errors == 0 {
            self.cpu_ms = Some(self.cpu_ms.map_or(run.cpu_ms, |c| c.min(run.cpu_ms)));
        }
        self.errors += run.errors;
        self.first_errors.extend(
            run.first_errors
                .iter()
                .take(3 - self.first_errors.len().min(3))
                .cloned(),
        );
        let Some(metric) = metric else { return };
        let better = match &self.best {
            None => true,
            Some(best) => {
                let (new, old) = (metric["median"].as_f64(), best["median"].as_f64());
                match (new, old, metric["unit"] == "MB/s") {
                    (Some(n), Some(o), true) => n > o,
                    (Some(n), Some(o), false) => n < o,
                    (Some(_), None, _) => true,
                    _ => false,
                }
            }
        };
        if better {
            self.best = Some(metric.clone());
        }
    }
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
            // metric name -> (raw, client); plus a row for the case's RSS.
            let mut by_metric: BTreeMap<String, (Side, Side)> = BTreeMap::new();
            let mut order: Vec<String> = Vec::new();
            let mut whole = (Side::default(), Side::default());
            for round in 0..rounds {
                // Who goes first alternates, so neither side always meets the daemon
                // still busy with the other's work (W3's deletes, W6's image removal).
                let sides = if round % 2 == 0 {
                    ["raw", "client"]
                } else {
                    ["client", "raw"]
                };
                for side in sides {
                    let began = Instant::now();
                    let run = match child(ctx, case, side, size) {
                        Ok(run) => run,
                        Err(e) => Run {
                            metrics: Vec::new(),
                            errors: 1,
                            first_errors: vec![e.to_string()],
                            rss_kib: 0,
                            cpu_ms: 0,
                        },
                    };
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
                    slot(&mut whole, side).add(None, &run);
                    for m in &run.metrics {
                        let name = m["name"].as_str().unwrap_or("?").to_owned();
                        if !order.contains(&name) {
                            order.push(name.clone());
                        }
                        let pair = by_metric.entry(name).or_default();
                        slot(pair, side).add(Some(m), &run);
                    }
                }
            }
            for name in order {
                let (raw, client) = &by_metric[&name];
                rows.push(row(case, size, &name, raw, client, &whole));
            }
            rows.push(rss_row(case, size, &whole));
        }
    }
    Ok(rows)
}

fn slot<'a>(pair: &'a mut (Side, Side), side: &str) -> &'a mut Side {
    if side == "raw" {
        &mut pair.0
    } else {
        &mut pair.1
    }
}

/// The target a (workload, metric) is held to: (`<=` or `>=`, ratio).
fn target(case: &str, metric: &str) -> Option<(&'static str, f64)> {
    Some(match (case, metric) {
        ("W1", _) => ("<=", 1.05),
        ("W2", _) => ("<=", 1.10),
        ("W3", _) => ("<=", 1.02),
        ("W4", "exec true") => ("<=", 1.10),
        ("W4", _) | ("W5", "file push" | "file pull") | ("W6", _) => (">=", 0.95),
        _ => return None,
    })
}

fn row(
    case: &str,
    size: u64,
    name: &str,
    raw: &Side,
    client: &Side,
    whole: &(Side, Side),
) -> Value {
    let get = |s: &Side, k: &str| s.best.as_ref().and_then(|b| b[k].as_f64());
    let unit = raw
        .best
        .as_ref()
        .or(client.best.as_ref())
        .and_then(|b| b["unit"].as_str())
        .unwrap_or("")
        .to_owned();
    let ratio = match (get(client, "median"), get(raw, "median")) {
        (Some(c), Some(r)) if r > 0.0 => Some(c / r),
        _ => None,
    };
    let errors = whole.0.errors + whole.1.errors;
    let (target_text, met) = if case == "W8" {
        ("no error".to_owned(), Some(whole.1.errors == 0))
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
    json!({
        "case": case, "size_mib": size / MIB, "metric": name, "unit": unit,
        "raw": {"median": get(raw, "median"), "p99": get(raw, "p99")},
        "client": {"median": get(client, "median"), "p99": get(client, "p99")},
        "ratio": ratio, "target": target_text, "met": met,
        "rss_kib": {"raw": whole.0.rss_kib, "client": whole.1.rss_kib},
        "cpu_ms": {"raw": whole.0.cpu_ms, "client": whole.1.cpu_ms},
        "errors": {"raw": whole.0.errors, "client": whole.1.errors, "total": errors,
                   "first": whole.0.first_errors.iter().chain(&whole.1.first_errors).collect::<Vec<_>>()},
    })
}

/// Peak RSS of the case's processes: under 8 MiB idle, under 16 MiB for streaming ones.
fn rss_row(case: &str, size: u64, whole: &(Side, Side)) -> Value {
    let limit_mib = match case {
        "idle" => Some(8u64),
        "W4" | "W5" | "W6" => Some(16),
        _ => None,
    };
    let (raw, client) = (
        whole.0.rss_kib as f64 / 1024.0,
        whole.1.rss_kib as f64 / 1024.0,
    );
    json!({
        "case": case, "size_mib": size / MIB, "metric": "peak RSS", "unit": "MiB",
        "raw": {"median": raw, "p99": null},
        "client": {"median": client, "p99": null},
        "ratio": if raw > 0.0 { Some(client / raw) } else { None },
        "target": limit_mib.map_or("-".to_owned(), |l| format!("< {l} MiB")),
        "met": limit_mib.map(|l| client < l as f64),
        "rss_kib": {"raw": whole.0.rss_kib, "client": whole.1.rss_kib},
        "cpu_ms": {"raw": whole.0.cpu_ms, "client": whole.1.cpu_ms},
        "errors": {"raw": whole.0.errors, "client": whole.1.errors,
                   "total": whole.0.errors + whole.1.errors,
                   "first": whole.0.first_errors.iter().chain(&whole.1.first_errors).collect::<Vec<_>>()},
    })
}

fn table(rows: &[Value]) -> String {
    let num = |v: &Value| match v.as_f64() {
        Some(x) if x >= 100.0 => format!("{x:.0}"),
        Some(x) if x >= 10.0 => format!("{x:.1}"),
        Some(x) => format!("{x:.2}"),
        None => "-".to_owned(),
    };
    let side = |v: &Value| {
        if v["p99"].is_null() {
            num(&v["median"])
        } else {
            format!("{} / {}", num(&v["median"]), num(&v["p99"]))
        }
    };
    let mut out = String::new();
    out.push_str(&format!(
        "| {:<5} | {:>5} | {:<26} | {:<5} | {:>15} | {:>15} | {:>6} | {:<9} | {:<4} | {:>11} | {:>13} |\n",
        "case", "size", "metric", "unit", "raw med / p99", "client med / p99", "ratio", "target", "met", "RSS raw/cli", "CPU ms raw/cli"
    ));
    out.push_str("|-------|------:|----------------------------|-------|----------------:|----------------:|-------:|-----------|------|------------:|--------------:|\n");
    for r in rows {
        let met = match r["met"].as_bool() {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "",
        };
        let errors = r["errors"]["total"].as_u64().unwrap_or(0);
        let metric = if errors > 0 && r["metric"] != "peak RSS" {
            format!("{} ({errors} err)", r["metric"].as_str().unwrap_or(""))
        } else {
            r["metric"].as_str().unwrap_or("").to_owned()
        };
        out.push_str(&format!(
            "| {:<5} | {:>5} | {:<26} | {:<5} | {:>15} | {:>15} | {:>6} | {:<9} | {:<4} | {:>11} | {:>13} |\n",
            r["case"].as_str().unwrap_or(""),
            match r["case"].as_str() {
                Some("W4" | "W5" | "W6") => format!("{}M", r["size_mib"]),
                _ => String::new(),
            },
            metric,
            r["unit"].as_str().unwrap_or(""),
            side(&r["raw"]),
            side(&r["client"]),
            num(&r["ratio"]),
            r["target"].as_str().unwrap_or(""),
            met,
            format!(
                "{:.1}/{:.1}",
                r["rss_kib"]["raw"].as_f64().unwrap_or(0.0) / 1024.0,
                r["rss_kib"]["client"].as_f64().unwrap_or(0.0) / 1024.0
            ),
            if r["metric"] == "peak RSS" {
                format!("{}/{}", num(&r["cpu_ms"]["raw"]), num(&r["cpu_ms"]["client"]))
            } else {
                String::new()
            },
        ));
    }
    out
}
