//! `cargo xtask fuzz [--secs N] [--target NAME]...`: builds the cargo-fuzz targets in `fuzz/`
//! and runs each for a bounded time with libFuzzer; a crash (a panic, an input that runs past
//! the per-input timeout, or one that exhausts memory) fails the run and its input's path is
//! printed. `cargo xtask test` runs the same with a short budget per target.
//!
//! Installs what is missing: cargo-fuzz (`cargo install cargo-fuzz --locked`). libFuzzer
//! needs nightly-only compiler flags: an installed nightly toolchain is used when `rustup
//! toolchain list` shows one, else the stable one with `RUSTC_BOOTSTRAP=1` (no toolchain can
//! be downloaded on our machines; `--stable` forces that path, to check it still works).
//!
//! The corpus: `fuzz/seeds/<target>/` in the repository holds the seeds (small, reviewed,
//! each a real reply or a known past failure). A run reads them and writes what it discovers
//! to `target/fuzz/corpus/<target>/` (kept between runs, never committed, so the repository
//! stays small); crashing inputs go to `target/fuzz/artifacts/<target>/`. A crash worth
//! keeping as a regression is copied into the seeds by hand once fixed.
//!
//! Built without a sanitizer (`-s none`): the library crates forbid `unsafe`, so what fuzzing
//! finds here is panics, overflows (debug assertions are on), hangs and unbounded memory, all
//! of which libFuzzer catches itself; the build is also far shorter, which keeps the fuzz step
//! of `cargo xtask test` within a few minutes on two cores.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::integration;
use crate::util::{self, Context, Error, Result, say, secs};

/// What `cargo xtask fuzz` was asked to do.
pub struct Options {
    /// Seconds of fuzzing per target.
    pub secs: u64,
    /// Only these targets (all when empty).
    pub targets: Vec<String>,
    /// Use stable with `RUSTC_BOOTSTRAP=1` even when a nightly is installed.
    pub stable: bool,
}

/// Per target in `cargo xtask fuzz` when `--secs` is not given.
const DEFAULT_SECS: u64 = 60;
/// Per target in `cargo xtask test`: with two targets at a time on two cores, ten targets
/// take under two minutes, the build (about three minutes from scratch) the rest of five.
pub const TEST_SECS: u64 = 20;
/// libFuzzer's per-input limit: an input running longer is a hang, reported like a crash.
const INPUT_TIMEOUT_SECS: u64 = 10;

impl Options {
    /// The fuzz step of `cargo xtask test`: every target, briefly.
    pub fn for_test() -> Options {
        Options {
            secs: TEST_SECS,
            targets: Vec::new(),
            stable: false,
        }
    }
}

/// Parses `cargo xtask fuzz`'s arguments.
pub fn parse(args: impl Iterator<Item = OsString>) -> std::result::Result<Options, String> {
    let mut opts = Options {
        secs: DEFAULT_SECS,
        targets: Vec::new(),
        stable: false,
    };
    let mut args = args.map(|a| a.to_string_lossy().into_owned());
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_string(), Some(value.to_string()))
            }
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match flag.as_str() {
            "--secs" => {
                let text = value("--secs")?;
                opts.secs = text
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| format!("--secs takes a positive number, not {text:?}"))?;
            }
            "--target" => opts.targets.push(value("--target")?),
            "--stable" => opts.stable = true,
            _ => return Err(format!("unknown argument to `fuzz`: {arg}")),
        }
    }
    Ok(opts)
}

/// Builds and runs the targets; `Ok(false)` when one crashed (or could not run).
pub fn run(opts: &Options) -> Result<bool> {
    let started = Instant::now();
    let root = integration::workspace_root();
    let fuzz_dir = root.join("fuzz");
    let all = targets(&fuzz_dir.join("Cargo.toml"))?;
    let chosen: Vec<String> = if opts.targets.is_empty() {
        all.clone()
    } else {
        for name in &opts.targets {
            if !all.contains(name) {
                return Err(Error(format!(
                    "no fuzz target {name:?} (fuzz/Cargo.toml has: {})",
                    all.join(", ")
                )));
            }
        }
        opts.targets.clone()
    };
    ensure_cargo_fuzz()?;
    let toolchain = Toolchain::pick(opts.stable)?;
    say(format_args!("fuzzing with {}", toolchain.describe()));

    let mut build = toolchain.cargo_fuzz(&fuzz_dir);
    build.args(["build", "-s", "none"]);
    if chosen.len() == 1 {
        build.arg(&chosen[0]);
    }
    util::run_inherit_ok(&mut build)?;
    say(format_args!("fuzz targets built ({})", secs(started)));

    // libFuzzer is single-threaded: one target per core.
    let jobs = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, chosen.len().max(1));
    let mut outcomes = Vec::new();
    for batch in chosen.chunks(jobs) {
        let running: Vec<(String, PathBuf, Result<Running>)> = batch
            .iter()
            .map(|target| {
                let artifacts = root.join("target/fuzz/artifacts").join(target);
                let spawned = spawn_run(&toolchain, root, &fuzz_dir, target, &artifacts, opts.secs);
                (target.clone(), artifacts, spawned)
            })
            .collect();
        for (target, artifacts, spawned) in running {
            outcomes.push(finish_run(&target, &artifacts, spawned, opts.secs));
        }
    }

    say("fuzzing:");
    let mut ok = true;
    for outcome in &outcomes {
        ok &= outcome.passed;
        eprintln!(
            "    {:<18} {:>12} runs  {:>5} new corpus inputs  {}",
            outcome.target,
            outcome.runs.map_or("?".to_string(), |n| n.to_string()),
            outcome.new_units.map_or("?".to_string(), |n| n.to_string()),
            if outcome.passed { "ok" } else { "FAILED" },
        );
        for path in &outcome.crashes {
            eprintln!(
                "        crashing input: {}\n        reproduce: (cd fuzz && {} fuzz run -s none {} {})",
                path.display(),
                toolchain.cargo_words(),
                outcome.target,
                path.display()
            );
        }
    }
    say(format_args!(
        "fuzzing {} ({} targets, {} s each, {})",
        if ok { "passed" } else { "FAILED" },
        outcomes.len(),
        opts.secs,
        secs(started)
    ));
    Ok(ok)
}

/// The `[[bin]]` names of the fuzz crate's manifest (one per target).
fn targets(manifest: &Path) -> Result<Vec<String>> {
    let text =
        fs::read_to_string(manifest).context(|| format!("cannot read {}", manifest.display()))?;
    let mut names = Vec::new();
    let mut in_bin = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
        } else if in_bin
            && let Some(value) = line.strip_prefix("name").map(str::trim_start)
            && let Some(value) = value.strip_prefix('=')
        {
            names.push(value.trim().trim_matches('"').to_string());
        }
    }
    if names.is_empty() {
        return Err(Error(format!(
            "no [[bin]] targets in {}",
            manifest.display()
        )));
    }
    Ok(names)
}

/// Installs cargo-fuzz when `cargo fuzz` is not there.
fn ensure_cargo_fuzz() -> Result<()> {
    let mut probe = plain_cargo();
    probe.args(["fuzz", "--version"]);
    if util::run(&mut probe, Duration::from_secs(60)).is_ok() {
        return Ok(());
    }
    say("cargo-fuzz is missing: installing it");
    let mut install = plain_cargo();
    install.args(["install", "cargo-fuzz", "--locked"]);
    util::run_inherit_ok(&mut install)
}

/// `cargo` through rustup's proxy (so `+toolchain` works), with the environment that
/// `integration::cargo()` cleans of what `cargo run` gave xtask.
fn plain_cargo() -> Command {
    let base = integration::cargo();
    let mut cmd = Command::new("cargo");
    for (key, value) in base.get_envs() {
        match value {
            Some(value) => cmd.env(key, value),
            None => cmd.env_remove(key),
        };
    }
    if let Some(dir) = base.get_current_dir() {
        cmd.current_dir(dir);
    }
    cmd
}

/// Which compiler builds the targets.
enum Toolchain {
    /// An installed nightly, by its full rustup name.
    Nightly(String),
    /// The default (stable) toolchain, told to accept nightly flags.
    Bootstrapped,
}

impl Toolchain {
    fn pick(force_stable: bool) -> Result<Toolchain> {
        if force_stable {
            return Ok(Toolchain::Bootstrapped);
        }
        let listed = util::run(
            Command::new("rustup").args(["toolchain", "list"]),
            Duration::from_secs(60),
        )
        .unwrap_or_default();
        Ok(listed
            .lines()
            .filter_map(|line| line.split_whitespace().next())
            .find(|name| name.starts_with("nightly"))
            .map_or(Toolchain::Bootstrapped, |name| {
                Toolchain::Nightly(name.to_string())
            }))
    }

    fn describe(&self) -> String {
        match self {
            Toolchain::Nightly(name) => format!("the {name} toolchain"),
            Toolchain::Bootstrapped => "the default toolchain with RUSTC_BOOTSTRAP=1".into(),
        }
    }

    /// How a person runs cargo with this toolchain, for the reproduction hint.
    fn cargo_words(&self) -> String {
        match self {
            Toolchain::Nightly(name) => format!("cargo +{name}"),
            Toolchain::Bootstrapped => "RUSTC_BOOTSTRAP=1 cargo".into(),
        }
    }

    /// `cargo [+nightly] fuzz` in the fuzz crate's directory.
    fn cargo_fuzz(&self, fuzz_dir: &Path) -> Command {
        let mut cmd = plain_cargo();
        cmd.current_dir(fuzz_dir);
        // The instrumented build stays in fuzz/target (cargo-fuzz's own), never mixed into a
        // target directory set for the workspace.
        cmd.env_remove("CARGO_TARGET_DIR");
        match self {
            Toolchain::Nightly(name) => {
                cmd.arg(format!("+{name}"));
            }
            Toolchain::Bootstrapped => {
                cmd.env("RUSTC_BOOTSTRAP", "1");
            }
        }
        cmd.arg("fuzz");
        cmd
    }
}

/// A target's fuzzing run, its output going to a log file (libFuzzer reports on stderr,
/// cargo on both; one file keeps them in order and stays readable after the run).
struct Running {
    child: Child,
    log: PathBuf,
}

fn spawn_run(
    toolchain: &Toolchain,
    root: &Path,
    fuzz_dir: &Path,
    target: &str,
    artifacts: &Path,
    secs: u64,
) -> Result<Running> {
    let corpus = root.join("target/fuzz/corpus").join(target);
    let seeds = fuzz_dir.join("seeds").join(target);
    for dir in [&corpus, artifacts] {
        fs::create_dir_all(dir).context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut cmd = toolchain.cargo_fuzz(fuzz_dir);
    cmd.args(["run", "-s", "none", target]);
    // New inputs go to the first directory; the seeds are only read.
    cmd.arg(&corpus);
    if seeds.is_dir() {
        cmd.arg(&seeds);
    }
    cmd.arg("--");
    cmd.arg(format!("-max_total_time={secs}"));
    cmd.arg(format!("-timeout={INPUT_TIMEOUT_SECS}"));
    cmd.arg("-print_final_stats=1");
    let mut prefix = artifacts.as_os_str().to_owned();
    prefix.push("/");
    let mut arg = OsString::from("-artifact_prefix=");
    arg.push(prefix);
    cmd.arg(arg);
    let log = root.join("target/fuzz/logs").join(format!("{target}.log"));
    let parent = log.parent().expect("a log file has a directory");
    fs::create_dir_all(parent).context(|| format!("cannot create {}", parent.display()))?;
    let file = fs::File::create(&log).context(|| format!("cannot create {}", log.display()))?;
    let copy = file
        .try_clone()
        .context(|| format!("cannot reopen {}", log.display()))?;
    cmd.stdin(Stdio::null()).stdout(file).stderr(copy);
    say(format_args!(
        "fuzzing {target} for {secs} s (log: {})",
        log.display()
    ));
    let child = cmd
        .spawn()
        .map_err(|e| Error(format!("cannot start `{}`: {e}", util::describe(&cmd))))?;
    Ok(Running { child, log })
}

struct Outcome {
    target: String,
    passed: bool,
    runs: Option<u64>,
    new_units: Option<u64>,
    crashes: Vec<PathBuf>,
}

fn finish_run(target: &str, artifacts: &Path, spawned: Result<Running>, secs: u64) -> Outcome {
    let mut outcome = Outcome {
        target: target.to_string(),
        passed: false,
        runs: None,
        new_units: None,
        crashes: Vec::new(),
    };
    let mut running = match spawned {
        Ok(running) => running,
        Err(e) => {
            say(format_args!("{target}: {e}"));
            return outcome;
        }
    };
    // libFuzzer stops itself after `secs`; the margin covers its start (loading the corpus)
    // and a last input that hangs until the per-input timeout.
    let limit = Duration::from_secs(secs + INPUT_TIMEOUT_SECS + 120);
    let status = util::wait_timeout(&mut running.child, limit);
    if status.is_none() {
        say(format_args!(
            "{target}: still running after {} s, killed",
            limit.as_secs()
        ));
        let _ = running.child.kill();
        let _ = running.child.wait();
    }
    let passed = status.is_some_and(|s| s.success());
    let text = fs::read(&running.log)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_else(|e| format!("(cannot read {}: {e})", running.log.display()));
    outcome.passed = passed;
    for line in text.lines() {
        let line = line.trim();
        if let Some(n) = stat(line, "stat::number_of_executed_units:") {
            outcome.runs = Some(n);
        } else if let Some(n) = stat(line, "stat::new_units_added:") {
            outcome.new_units = Some(n);
        } else if let Some(rest) = line.split("Test unit written to ").nth(1) {
            outcome.crashes.push(PathBuf::from(rest.trim()));
        } else if outcome.runs.is_none()
            && let Some(rest) = line.strip_prefix("Done ")
        {
            outcome.runs = rest.split_whitespace().next().and_then(|n| n.parse().ok());
        }
    }
    if !passed {
        // A crash whose "written to" line was lost still left its file.
        if outcome.crashes.is_empty()
            && let Ok(entries) = fs::read_dir(artifacts)
        {
            outcome.crashes = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        }
        let tail: Vec<&str> = text.lines().rev().take(60).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        say(format_args!(
            "{target} FAILED:\n{}",
            util::indent(&tail.join("\n"))
        ));
    }
    outcome
}

fn stat(line: &str, key: &str) -> Option<u64> {
    line.strip_prefix(key)?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> std::result::Result<Options, String> {
        parse(list.iter().map(OsString::from))
    }

    #[test]
    fn arguments() {
        let opts = args(&[]).unwrap();
        assert_eq!(
            (opts.secs, opts.targets.len(), opts.stable),
            (DEFAULT_SECS, 0, false)
        );
        let opts = args(&[
            "--secs",
            "5",
            "--target",
            "tokens",
            "--target=progress",
            "--stable",
        ])
        .unwrap();
        assert_eq!(opts.secs, 5);
        assert_eq!(opts.targets, ["tokens", "progress"]);
        assert!(opts.stable);
        assert_eq!(args(&["--secs=7"]).unwrap().secs, 7);
        assert!(args(&["--secs", "0"]).is_err());
        assert!(args(&["--secs"]).is_err());
        assert!(args(&["--bogus"]).is_err());
    }

    #[test]
    fn targets_come_from_the_manifest() {
        let manifest = integration::workspace_root().join("fuzz/Cargo.toml");
        let names = targets(&manifest).unwrap();
        for name in [
            "envelope",
            "progress",
            "export_multipart",
            "name_from_url",
            "tokens",
        ] {
            assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
        }
        // Every target has seeds in the repository.
        for name in &names {
            let seeds = integration::workspace_root().join("fuzz/seeds").join(name);
            let count = fs::read_dir(&seeds).map(|d| d.count()).unwrap_or(0);
            assert!(count > 0, "no seeds in {}", seeds.display());
        }
    }

    #[test]
    fn libfuzzer_stats_are_read() {
        assert_eq!(
            stat(
                "stat::number_of_executed_units: 1234",
                "stat::number_of_executed_units:"
            ),
            Some(1234)
        );
        assert_eq!(
            stat("stat::new_units_added: x", "stat::new_units_added:"),
            None
        );
    }
}
