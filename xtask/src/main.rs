//! Project automation for lxd-rs: `cargo xtask test | integration | help`.
//!
//! std only, so `cargo xtask` compiles in seconds on a clean CI machine.

mod image;
mod integration;
mod lxd;
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
                `cargo test --workspace --exclude lxd-integration`,
                then `integration` as below. Fails if either fails.

  integration [--keep] [--socket PATH] [-- <args for cargo test>]
                Runs `cargo test -p lxd-integration` against a real LXD.
                By default a private daemon (needs root): LXD_DIR=/var/lib/lxdrs-it,
                log /var/lib/lxdrs-it.log. Installs LXD with apt-get when missing (root on
                Debian), starts the daemon (or reuses one left by --keep), initialises it
                once (dir pool `default`, no network), serves HTTPS on a loopback port,
                imports a local busybox image as `busybox`, runs the tests, shuts it down.
                A developer's own LXD (/var/lib/lxd, the snap) is never touched.

    --keep         Leave the private daemon running and print how to reach it.
    --socket PATH  Use an existing daemon at PATH instead (nothing started or stopped):
                   tests run in a throwaway project lxdrs-it-<pid>; xtask removes it, its
                   instances, and whatever else it added (image, https address) afterwards.
    -- ARGS        Passed on to cargo test, e.g. `-- --test exec -- --nocapture`.

  help          This text.

The tests get: LXD_IT=1, LXD_IT_SOCKET, LXD_IT_HTTPS (host:port), LXD_IT_SERVER_CERT (PEM
file), LXD_IT_IMAGE (alias), LXD_IT_PROJECT, LXD_IT_DIR (private daemon only), and
LXD_SOCKET (+ LXD_DIR for the private daemon) pointing at the same daemon.
";

enum Task {
    Help,
    Test,
    Integration(Options),
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
        Task::Integration(opts) => integration::run(&opts),
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
        Some("integration") => {
            let mut opts = Options::default();
            while let Some(arg) = args.next() {
                let text = arg.to_string_lossy();
                match &*text {
                    "--keep" => opts.keep = true,
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
        _ => Err(format!("unknown command {command:?}")),
    }
}

/// Unit and testkit tests, then the real-LXD tests. Both run even if the first fails, so
/// one CI run reports everything.
fn test() -> Result<bool> {
    let started = Instant::now();
    // The testkit's fidelity tests drive the real `lxc`: install the packages before the
    // unit tests, not only before the integration run. A failure here is reported again,
    // and fatally, by the integration run.
    if let Err(e) = lxd::ensure_installed(true) {
        say(format_args!("could not install LXD's packages: {e}"));
    }
    let mut cmd = integration::cargo();
    cmd.args(["test", "--workspace", "--exclude", "lxd-integration"]);
    let unit = util::run_inherit(&mut cmd)?.success();
    if !unit {
        say("unit tests FAILED; running the integration tests anyway, to report everything");
    }
    let integration = integration::run(&Options::default());
    let verdict = |ok: bool| if ok { "passed" } else { "FAILED" };
    let summary = format!(
        "unit tests {}, integration tests {} ({})",
        verdict(unit),
        match &integration {
            Ok(ok) => verdict(*ok),
            Err(_) => "could not run",
        },
        secs(started)
    );
    say(&summary);
    match integration {
        Ok(ok) => Ok(unit && ok),
        Err(e) => Err(Error(format!("{e}\n({summary})"))),
    }
}
