//! What a measured run produces: metrics (latency, throughput, elapsed time), its error
//! count and its process's peak RSS, printed as one JSON line for the parent.

use std::future::Future;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type Result<T> = std::result::Result<T, BoxError>;

/// One measured figure of a workload.
#[derive(Clone, Debug)]
pub enum Metric {
    /// Per-operation latency in milliseconds.
    Latency { name: String, samples: Vec<f64> },
    /// Throughput in MB/s (10^6 bytes per second).
    Throughput { name: String, bytes: u64, secs: f64 },
    /// Wall time of the whole thing, in seconds.
    Elapsed { name: String, secs: f64 },
}

impl Metric {
    pub fn to_json(&self) -> Value {
        match self {
            Metric::Latency { name, samples } => {
                let mut sorted = samples.clone();
                sorted.sort_by(f64::total_cmp);
                json!({
                    "name": name, "unit": "ms", "count": sorted.len(),
                    "median": percentile(&sorted, 50.0), "p99": percentile(&sorted, 99.0),
                })
            }
            Metric::Throughput { name, bytes, secs } => json!({
                "name": name, "unit": "MB/s", "bytes": bytes, "secs": secs,
                "median": *bytes as f64 / secs / 1e6,
            }),
            Metric::Elapsed { name, secs } => json!({
                "name": name, "unit": "s", "median": secs,
            }),
        }
    }
}

/// Nearest-rank percentile of sorted samples.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Runs `op` `n` times in a row and records each one's latency.
pub async fn latency<F, Fut>(name: &str, n: usize, mut op: F) -> Result<Metric>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let started = Instant::now();
        op(i).await?;
        samples.push(ms(started.elapsed()));
    }
    Ok(Metric::Latency {
        name: name.to_owned(),
        samples,
    })
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The process's peak resident set (VmHWM), in KiB.
pub fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// CPU time (user + system, all threads) the process has used so far, in milliseconds:
/// unlike wall time, hardly moved by other load on the machine.
pub fn cpu_ms() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th
    // fields of the line, in clock ticks (100 per second on Linux).
    let rest = stat.rfind(')').map_or("", |i| &stat[i + 1..]);
    let ticks: u64 = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse::<u64>().ok())
        .sum();
    ticks * 10
}

/// The line a child prints at its end, with the given (peak RSS in KiB, CPU time in ms).
pub fn report(
    case: &str,
    side: &str,
    size: u64,
    metrics: &[Metric],
    errors: &[String],
    (rss_kib, cpu_ms): (u64, u64),
) -> String {
    json!({
        "case": case,
        "side": side,
        "size": size,
        "metrics": metrics.iter().map(Metric::to_json).collect::<Vec<_>>(),
        "errors": errors.len(),
        "first_errors": errors.iter().take(3).collect::<Vec<_>>(),
        "rss_kib": rss_kib,
        "cpu_ms": cpu_ms,
    })
    .to_string()
}
