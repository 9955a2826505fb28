//! Project automation for lxd-rs: `cargo xtask test | docs | fuzz | integration | bench | help`.
//!
//! std only, so `cargo xtask` compiles in seconds on a clean CI machine.

mod bench;
mod docs;
mod fuzz;
mod image;
mod integration;
mod lxd;
mod msrv;
mod peers;
mod sid;
mod util;

use std::ffi::OsString;
use std::process::ExitCode;
use std::time::Instant;

use integration::Options;
use util::{Error, Result, say, secs};

const USAGE: &str = "\
Usage: cargo xtask <command>

Commands:
  test          The project's one test command (CI runs it via .ci/run):
                `cargo test --workspace --exclude lxd-integration`, a `cargo check` of
                lxd-client with the native-tls backend, the MSRV check (no dependency
                needs a newer Rust than `rust-version`), `docs` as below, `fuzz --secs 20`
                as below (two targets at a time), then `integration` as below, against
                LXD 5.0, then Incus 6.0 (`--server incus`), then Incus 7.0 (`--server
                incus7`); the summary line gives each leg's time, setup included (the first
                Incus 7.0 leg on a machine builds its sid root, about 2 minutes). Fails if
                any fails.

  docs          rustdoc of the library crates without warnings, an example in the doc of
                every public fn (and a REST reference link on lxd-client's request
                methods), and `cargo package` of each library crate.

  fuzz [--secs N] [--target NAME]... [--stable]
                Builds the cargo-fuzz targets in fuzz/ (libFuzzer, no sanitizer: the crates
                forbid unsafe code) and runs each for N seconds (default 60), one per core;
                fails on a crash (a panic, an input running over 10 s, memory exhausted) and
                prints the crashing input's path. Installs cargo-fuzz when missing. Uses an
                installed nightly toolchain, else (or with --stable) the default toolchain
                with RUSTC_BOOTSTRAP=1. Seeds: fuzz/seeds/<target>/ (in the repository);
                discovered inputs: target/fuzz/corpus/<target>/, crashes:
                target/fuzz/artifacts/<target>/, logs: target/fuzz/logs/<target>.log.
    --secs N       Seconds per target (default 60; `test` gives each 20).
    --target NAME  Only this target (repeatable).
    --stable       The default toolchain with RUSTC_BOOTSTRAP=1 even when a nightly is
                   installed (checks the path CI takes on a machine without one).

  integration [--server lxd|incus|incus7] [--keep] [--no-peers] [--socket PATH] [-- <args>]
                Runs `cargo test -p lxd-integration` against a real LXD.
                By default a private daemon (needs root): LXD_DIR=/var/lib/lxdrs-it,
                log /var/lib/lxdrs-it.log. Installs LXD with apt-get when missing (root on
                Debian), starts the daemon (or reuses one left by --keep), initialises it
                once (dir pool `default`, no network), serves HTTPS on a loopback port,
                imports a local busybox image as `busybox`, runs the tests, shuts it down.
                A developer's own LXD (/var/lib/lxd, the snap) is never touched.

                Besides it, a second standalone daemon (LXD_DIR=/var/lib/lxdrs-it2, HTTPS
                on 127.0.0.2) and a 3-member cluster (/var/lib/lxdrs-c3..c5, members node3..5
                on 127.0.0.3..5:8443) for the cross-server and cluster tests.

    --keep         Leave the private daemons running and print how to reach the main one.
    --no-peers     Start neither the second server nor the cluster (their tests skip).
    --server incus Run the suite against private Incus daemons instead (INCUS_DIR=
                   /var/lib/incusrs-it, peers /var/lib/incusrs-it2 and -c3..c5 with the
                   cluster on port 8444); Incus comes from Debian's backports when missing.
    --server incus7
                   Against Incus 7.0 from Debian sid, which runs from a sid root file
                   system beside the host: /var/lib/lxdrs-sid, built once with debootstrap
                   (installed when missing) from the mirror apt uses, plus incus-base,
                   systemd-standalone-sysusers and busybox-static; reused while its marker
                   file .lxdrs-rootfs is there (delete it to rebuild). Each daemon runs in a
                   private mount namespace whose root is that file system (launcher:
                   /var/lib/lxdrs-sid/.lxdrs-start), so nothing is mounted on the host;
                   the host's `incus` client drives it. State dirs (host paths):
                   /var/lib/lxdrs-sid/var/lib/incus7-it, -it2 (second server on 127.0.0.2)
                   and -c3..c5 (cluster on 127.0.0.3..5:8445). The tests also get
                   LXD_IT_DAEMON_ROOT and LXD_IT_DAEMON_START (restart.rs starts the
                   daemon again through the launcher).
    --socket PATH  Use an existing daemon at PATH instead (nothing started or stopped):
                   tests run in a throwaway project lxdrs-it-<pid>; xtask removes it, its
                   instances, and whatever else it added (image, https address) afterwards.
    -- ARGS        Passed on to cargo test, e.g. `-- --test exec -- --nocapture`.

  bench [--quick] [--big] [--only W1,W4] [--rounds N] [--no-peers] [--keep]
                lxd-client against a minimal raw client (plain HTTP/1.1 and websockets)
                and the peers (pylxd 2.4.2 in a virtualenv under target/bench-peers, the
                `lxc` CLI, curl for W1), interleaved on a private daemon of its own
                (LXD_DIR=/var/lib/lxdrs-bench, needs root): latency, throughput, peak RSS
                and CPU time per workload (W1..W8, see docs/performance.md); prints a
                table, writes target/bench/bench.json.
    --quick        Smaller counts, one round (a smoke run).
    --big          Also the 1 GiB file and image runs (memory must stay flat).
    --only LIST    Only these workloads (idle,W1,...,W8).
    --rounds N     Runs per side, every side interleaved (default 3).
    --no-peers     lxd-client and the floor only.
    --keep         Leave the bench daemon running.

  help          This text.

The tests get: LXD_IT=1, LXD_IT_SOCKET, LXD_IT_HTTPS (host:port), LXD_IT_SERVER_CERT (PEM
file), LXD_IT_IMAGE (alias), LXD_IT_PROJECT, LXD_IT_SERVER (lxd or incus), and for the
private daemons LXD_IT_DIR and LXD_IT_SERVER_SERIES (5.0, 6.0 or 7.0), and
LXD_SOCKET (+ LXD_DIR for the private daemon) pointing at the same daemon; with the peers,
LXD_IT_SECOND_{SOCKET,HTTPS,CERT}, LXD_IT_CLUSTER_{SOCKETS,HTTPS,MEMBERS} (comma-separated,
in member order), LXD_IT_CLUSTER_CERT and LXD_IT_CLUSTER_POOL; without them LXD_IT_NO_PEERS
(the reason). The integration run also builds lxd-client's examples and names their
directory in LXD_IT_EXAMPLES (tests/examples.rs runs each against the daemon and against
the embedded testkit), and in a full run (no `-- ARGS`) runs lxd-client's native-tls tests
against the daemon with the same variables.
";

enum Task {
    Help,
    Test,
    Docs,
    Fuzz(fuzz::Options),
    Integration(Options),
    Bench(bench::Options),
}

fn main() -> ExitCode {
    let task = match parse(std::env::args_os().skip(1).collect()) {
        Ok(task) => task,
        Err(msg) => {
            eprintln!("xtask: {msg}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let outcome = match task {
        Task::Help => {
            print!("{USAGE}");
            Ok(true)
        }
        Task::Test => test(),
        Task::Docs => Ok(docs::check(integration::workspace_root())),
        Task::Fuzz(opts) => fuzz::run(&opts),
        Task::Integration(opts) => integration::run(&opts),
        Task::Bench(opts) => bench::run(&opts),
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            say(format_args!("error: {e}"));
            ExitCode::FAILURE
        }
    }
}

fn server_kind(name: &str) -> std::result::Result<lxd::Kind, String> {
    [lxd::Kind::Lxd, lxd::Kind::Incus, lxd::Kind::Incus7]
        .into_iter()
        .find(|kind| kind.name() == name)
        .ok_or_else(|| format!("--server takes lxd, incus or incus7, not {name:?}"))
}

fn parse(args: Vec<OsString>) -> std::result::Result<Task, String> {
    let mut args = args.into_iter();
    let Some(command) = args.next() else {
        return Ok(Task::Help);
    };
    match command.to_str() {
        Some("help" | "-h" | "--help") => Ok(Task::Help),
        Some("test") => match args.next() {
            None => Ok(Task::Test),
            Some(extra) => Err(format!("`test` takes no arguments (got {extra:?})")),
        },
        Some("docs") => Ok(Task::Docs),
        Some("fuzz") => fuzz::parse(args).map(Task::Fuzz),
        Some("integration") => {
            let mut opts = Options::default();
            while let Some(arg) = args.next() {
                let text = arg.to_string_lossy();
                match &*text {
                    "--keep" => opts.keep = true,
                    "--no-peers" => opts.no_peers = true,
                    "--server" => {
                        let name = args.next().ok_or("--server needs lxd, incus or incus7")?;
                        opts.server = server_kind(&name.to_string_lossy())?;
                    }
                    _ if text.starts_with("--server=") => {
                        opts.server = server_kind(&text["--server=".len()..])?;
                    }
                    "--socket" => {
                        let path = args.next().ok_or("--socket needs a PATH")?;
                        opts.socket = Some(path.into());
                    }
                    "--" => {
                        opts.cargo_args = args.by_ref().collect();
                    }
                    _ if text.starts_with("--socket=") => {
                        opts.socket = Some(text["--socket=".len()..].into());
                    }
                    _ => return Err(format!("unknown argument to `integration`: {text}")),
                }
            }
            Ok(Task::Integration(opts))
        }
        Some("bench") => bench::parse(args).map(Task::Bench),
        _ => Err(format!("unknown command {command:?}")),
    }
}

/// Unit and testkit tests, then the real-LXD tests. Both run even if the first fails, so
/// one CI run reports everything.
fn test() -> Result<bool> {
    let started = Instant::now();
    // The testkit's fidelity tests drive the real `lxc` (and `incus`): install the packages
    // before the unit tests, not only before the integration run. A failure here is reported
    // again, and fatally, by the integration run.
    if let Err(e) = lxd::ensure_installed(true) {
        say(format_args!("could not install LXD's packages: {e}"));
    }
    // Likewise Incus: the testkit's Incus mode is checked against the real `incus` command.
    if let Err(e) = lxd::ensure_incus_installed() {
        say(format_args!("could not install Incus: {e}"));
    }
    let mut cmd = integration::cargo();
    cmd.args(["test", "--workspace", "--exclude", "lxd-integration"]);
    let unit = util::run_inherit(&mut cmd)?.success();
    // The other TLS backend builds, and no dependency needs a newer Rust than we claim.
    let mut cmd = integration::cargo();
    cmd.args([
        "check",
        "-p",
        "lxd-client",
        "--lib",
        "--no-default-features",
    ]);
    cmd.args(["--features", "native-tls"]);
    let native_tls = util::run_inherit(&mut cmd)?.success();
    let msrv = msrv::check()
        .map_err(|e| say(format_args!("MSRV check FAILED: {e}")))
        .is_ok();
    let docs = docs::check(integration::workspace_root());
    // Every decoder of server bytes under libFuzzer for a bounded time; a crash fails.
    let fuzz = fuzz::run(&fuzz::Options::for_test())
        .map_err(|e| say(format_args!("fuzzing could not run: {e}")))
        .unwrap_or(false);
    let unit = unit && native_tls && msrv && docs && fuzz;
    if !unit {
        say(
            "unit tests, checks or fuzzing FAILED; running the integration tests anyway, to report everything",
        );
    }
    // The same suite against each server (with its second server and cluster), one after
    // the other: LXD 5.0, Incus 6.0, Incus 7.0. Each leg's time includes its setup (the
    // first Incus 7 leg on a machine builds the sid root file system).
    let legs: Vec<(lxd::Kind, Result<bool>, String)> =
        [lxd::Kind::Lxd, lxd::Kind::Incus, lxd::Kind::Incus7]
            .into_iter()
            .map(|server| {
                let leg = Instant::now();
                let outcome = integration::run(&Options {
                    server,
                    ..Options::default()
                });
                if let Err(e) = &outcome {
                    say(format_args!("{} could not run: {e}", server.title()));
                }
                (server, outcome, secs(leg))
            })
            .collect();
    let verdict = |ok: bool| if ok { "passed" } else { "FAILED" };
    let legs_text: Vec<String> = legs
        .iter()
        .map(|(server, outcome, time)| {
            let outcome = match outcome {
                Ok(ok) => verdict(*ok),
                Err(_) => "could not run",
            };
            format!("{} {outcome} in {time}", server.title())
        })
        .collect();
    let summary = format!(
        "unit tests {}, integration tests: {} ({} in all)",
        verdict(unit),
        legs_text.join(", "),
        secs(started)
    );
    say(&summary);
    let errors: Vec<String> = legs
        .iter()
        .filter_map(|(server, outcome, _)| {
            outcome
                .as_ref()
                .err()
                .map(|e| format!("{}: {e}", server.title()))
        })
        .collect();
    if errors.is_empty() {
        Ok(unit
            && legs
                .iter()
                .all(|(_, outcome, _)| matches!(outcome, Ok(true))))
    } else {
        Err(Error(format!("{}\n({summary})", errors.join("\n"))))
    }
}
