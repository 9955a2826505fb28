//! `cargo xtask bench`: lxd-client against a minimal raw client, on a private LXD daemon of
//! its own (LXD_DIR=/var/lib/lxdrs-bench, so it never disturbs the integration daemon).
//! The measuring is done by the `lxd-bench` binary (bench/); this only provides the daemon,
//! the image, and a release build.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::image::{self, Owner};
use crate::integration;
use crate::lxd::{self, Daemon};
use crate::util::{self, Error, Result, say, secs};

/// The bench daemon's state dir (short, under /var/lib: see `lxd::DIR`).
pub const DIR: &str = "/var/lib/lxdrs-bench";

#[derive(Default, Debug)]
pub struct Options {
    pub keep: bool,
    pub quick: bool,
    pub big: bool,
    /// `--only W1,W4`, handed on as it is.
    pub only: Option<OsString>,
    pub rounds: Option<OsString>,
}

pub fn run(opts: &Options) -> Result<bool> {
    if !util::is_root() {
        return Err(Error(
            "the bench starts a private LXD daemon, which needs root: `sudo -E cargo xtask bench`"
                .to_owned(),
        ));
    }
    lxd::ensure_installed(true)?;
    let lxd_bin = lxd::find_lxd().ok_or("the lxd daemon is still missing")?;
    let lxc_bin = lxd::find_lxc(false).ok_or("the lxc client is still missing")?;

    // Build first: a compile error should not cost a daemon start.
    let started = Instant::now();
    let mut build = integration::cargo();
    build.args(["build", "--release", "-p", "lxd-bench"]);
    if !util::run_inherit(&mut build)?.success() {
        return Err(Error("building lxd-bench failed".to_owned()));
    }
    let binary = target_dir().join("release/lxd-bench");
    say(format_args!(
        "built {} in {}",
        binary.display(),
        secs(started)
    ));

    // From here on every way out passes Daemon's Drop, which shuts it down unless --keep.
    let daemon = Daemon::start_or_reuse(&lxd_bin, Path::new(DIR), opts.keep)?;
    let lxc = daemon.lxc(&lxc_bin);
    lxd::initialise(&daemon, &lxc)?;
    let image = image::ensure(&lxc, Owner::Ours)?;
    say(format_args!("bench daemon set up in {}", secs(started)));

    let mut cmd = std::process::Command::new(&binary);
    cmd.arg("bench")
        .arg("--socket")
        .arg(daemon.socket())
        .args(["--image", &image.alias])
        .arg("--work")
        .arg(workspace_root().join("target/bench"))
        .current_dir(workspace_root());
    if opts.quick {
        cmd.arg("--quick");
    }
    if opts.big {
        cmd.arg("--big");
    }
    if let Some(only) = &opts.only {
        cmd.arg("--only").arg(only);
    }
    if let Some(rounds) = &opts.rounds {
        cmd.arg("--rounds").arg(rounds);
    }
    let passed = util::run_inherit(&mut cmd)?.success();
    say(format_args!(
        "bench {} in {}",
        if passed { "finished" } else { "FAILED" },
        secs(started)
    ));
    if opts.keep {
        say(format_args!(
            "--keep: the bench daemon is still running: LXD_DIR={DIR} LXD_SOCKET={}",
            daemon.socket().display()
        ));
    }
    drop(daemon);
    Ok(passed)
}

fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
}

/// Where cargo puts the release build: CARGO_TARGET_DIR (relative to the workspace root,
/// where cargo runs) or target/.
fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => workspace_root().join(dir),
        None => workspace_root().join("target"),
    }
}

/// `cargo xtask bench` arguments.
pub fn parse(args: impl Iterator<Item = OsString>) -> std::result::Result<Options, String> {
    let mut opts = Options::default();
    let mut args = args;
    while let Some(arg) = args.next() {
        match &*arg.to_string_lossy() {
            "--keep" => opts.keep = true,
            "--quick" => opts.quick = true,
            "--big" => opts.big = true,
            "--only" => opts.only = Some(args.next().ok_or("--only needs a list, e.g. W1,W4")?),
            "--rounds" => opts.rounds = Some(args.next().ok_or("--rounds needs a number")?),
            text => return Err(format!("unknown argument to `bench`: {text}")),
        }
    }
    Ok(opts)
}
