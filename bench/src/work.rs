//! What both sides share: the workloads' parameters, the fixtures' names, and the child
//! process that runs one workload on one side.

use std::path::{Path, PathBuf};

use crate::harness::{self, Metric, Result};

/// The workloads, in the order they run.
pub const CASES: &[&str] = &["idle", "W1", "W2", "W3", "W4", "W5", "W6", "W7", "W8"];

/// The running container W4, W5 and W8 work in (created by the parent).
pub const RUN_CONTAINER: &str = "lxdb-run";
/// Prefix of W2's stopped containers.
pub const LIST_PREFIX: &str = "lxdb-list-";

pub const MIB: u64 = 1024 * 1024;

/// How many times each workload does its thing.
#[derive(Clone, Debug)]
pub struct Counts {
    pub w1: usize,
    pub w2: usize,
    pub w2_instances: usize,
    pub w3: usize,
    pub w4: usize,
    pub w5_small: usize,
    pub w7: usize,
    pub w8_get: usize,
    pub w8_exec: usize,
}

impl Counts {
    /// The counts as JSON, handed to the peers' driver (bench/peers/pylxd_side.py) so every
    /// side does the same amount of work.
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "w1": self.w1, "w2": self.w2, "w2_instances": self.w2_instances, "w3": self.w3,
            "w4": self.w4, "w5_small": self.w5_small, "w7": self.w7, "w8_get": self.w8_get,
            "w8_exec": self.w8_exec,
        })
        .to_string()
    }

    pub fn new(quick: bool) -> Counts {
        if quick {
            Counts {
                w1: 100,
                w2: 5,
                w2_instances: 10,
                w3: 3,
                w4: 10,
                w5_small: 50,
                w7: 50,
                w8_get: 200,
                w8_exec: 10,
            }
        } else {
            Counts {
                w1: 500,
                w2: 20,
                w2_instances: 50,
                w3: 10,
                w4: 50,
                w5_small: 500,
                w7: 200,
                w8_get: 1000,
                w8_exec: 50,
            }
        }
    }
}

/// Everything a run needs to know.
#[derive(Clone, Debug)]
pub struct Ctx {
    pub socket: PathBuf,
    /// Image alias W3 launches from.
    pub image: String,
    pub run: String,
    /// Where the blobs and image tarballs are (target/bench).
    pub work: PathBuf,
    pub counts: Counts,
    /// Bytes for W4's output, W5's file and W6's image.
    pub size: u64,
    /// The peers measured beside lxd-client and the floor (none with `--no-peers`).
    pub peers: Option<Peers>,
}

/// How to run the peers: pylxd and the `lxc` CLI for every workload, curl for W1.
#[derive(Clone, Debug)]
pub struct Peers {
    /// The Python of the virtualenv that has pylxd (`cargo xtask bench` makes it).
    pub python: PathBuf,
    /// bench/peers/pylxd_side.py.
    pub script: PathBuf,
}

impl Peers {
    /// The peer sides that run `case`.
    pub fn sides(case: &str) -> &'static [&'static str] {
        match case {
            "idle" | "W1" => &["pylxd", "lxc", "curl"],
            _ => &["pylxd", "lxc"],
        }
    }
}

impl Ctx {
    /// W5's local file of `size` random bytes.
    pub fn blob(&self) -> PathBuf {
        self.work.join(format!("blob-{}MiB", self.size / MIB))
    }

    /// W6's image tarball of about `size` bytes.
    pub fn image_file(&self) -> PathBuf {
        self.work.join(format!("image-{}MiB.tar", self.size / MIB))
    }

    pub fn size_of(&self, path: &Path) -> Result<u64> {
        Ok(std::fs::metadata(path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .len())
    }
}

/// What a run has measured so far, and what went wrong without stopping it.
#[derive(Default)]
pub struct Outcome {
    pub metrics: Vec<Metric>,
    pub errors: Vec<String>,
}

impl Outcome {
    pub fn push(&mut self, metric: Metric) {
        self.metrics.push(metric);
    }

    pub fn error(&mut self, error: String) {
        self.errors.push(error);
    }
}

/// The child: one workload on one side, then its JSON line on stdout.
pub fn child(case: &str, side: &str, ctx: &Ctx) -> Result<()> {
    let mut out = Outcome::default();
    let (result, usage) = if matches!(side, "lxc" | "curl") {
        // No runtime: this process only spawns the peer's processes, whose usage counts.
        let result = crate::cli_side::run(case, side, ctx, &mut out);
        (result, crate::cli_side::children_usage())
    } else {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        let result = runtime.block_on(async {
            match side {
                "raw" => crate::raw_side::run(case, ctx, &mut out).await,
                "client" => crate::client_side::run(case, ctx, &mut out).await,
                other => Err(format!("unknown side {other}").into()),
            }
        });
        (result, (harness::peak_rss_kib(), harness::cpu_ms()))
    };
    if let Err(e) = result {
        out.error(format!("{case}: {e}"));
    }
    println!(
        "{}",
        harness::report(case, side, ctx.size, &out.metrics, &out.errors, usage)
    );
    Ok(())
}
