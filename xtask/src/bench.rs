//! `cargo xtask bench`: lxd-client against a minimal raw client, on a private LXD daemon of
//! its own (LXD_DIR=/var/lib/lxdrs-bench, so it never disturbs the integration daemon).
//! The measuring is done by the `lxd-bench` binary (bench/); this only provides the daemon,
//! the image, a release build, and the peers (pylxd in a virtualenv under target/, the
//! `lxc` CLI that came with the daemon, curl).

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
    /// `--no-peers`: measure lxd-client and the floor only.
    pub no_peers: bool,
}

/// The peer pylxd is measured at: the version the performance issue compared with.
const PYLXD: &str = "pylxd==2.4.2";

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
    let python = if opts.no_peers {
        None
    } else {
        Some(peers_python()?)
    };

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
    if let Some(python) = &python {
        // The `lxc` the peers run is the one that came with the daemon.
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs = vec![lxc_bin.parent().unwrap_or(Path::new("/")).to_owned()];
        dirs.extend(std::env::split_paths(&path));
        cmd.arg("--python")
            .arg(python)
            .arg("--peers-script")
            .arg(workspace_root().join("bench/peers/pylxd_side.py"))
            .env(
                "PATH",
                std::env::join_paths(dirs).map_err(|e| Error(e.to_string()))?,
            );
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

/// The Python of a virtualenv under target/ that has pylxd (made once, reused), after
/// checking that curl is there for W1.
fn peers_python() -> Result<PathBuf> {
    if util::find_program("curl", &[], true).is_none() {
        lxd::apt_install(&["curl"])?;
    }
    let venv = target_dir().join("bench-peers/venv");
    let python = venv.join("bin/python");
    let has_pylxd = |python: &Path| {
        let mut check = std::process::Command::new(python);
        check.args([
            "-c",
            "import importlib.metadata as m; assert m.version('pylxd') == '2.4.2'",
        ]);
        check.output().is_ok_and(|o| o.status.success())
    };
    if python.exists() && has_pylxd(&python) {
        return Ok(python);
    }
    let started = Instant::now();
    say(format_args!(
        "making {} with {PYLXD} for the peers",
        venv.display()
    ));
    let mut make = std::process::Command::new("python3");
    make.args(["-m", "venv"]).arg(&venv);
    util::run_inherit_ok(&mut make)?;
    let mut pip = std::process::Command::new(venv.join("bin/pip"));
    pip.args(["install", "--quiet", "--disable-pip-version-check", PYLXD]);
    util::run_inherit_ok(&mut pip)?;
    if !has_pylxd(&python) {
        return Err(Error(format!(
            "{PYLXD} is still missing from {}",
            venv.display()
        )));
    }
    say(format_args!("peers ready in {}", secs(started)));
    Ok(python)
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
            "--no-peers" => opts.no_peers = true,
            "--only" => opts.only = Some(args.next().ok_or("--only needs a list, e.g. W1,W4")?),
            "--rounds" => opts.rounds = Some(args.next().ok_or("--rounds needs a number")?),
            text => return Err(format!("unknown argument to `bench`: {text}")),
        }
    }
    Ok(opts)
}
