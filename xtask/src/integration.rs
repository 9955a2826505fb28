//! `cargo xtask integration`: a real LXD (our private daemon, or an existing one with
//! `--socket`), prepared for the tests, then `cargo test -p lxd-integration` against it.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::image::{self, Owner};
use crate::lxd::{self, Daemon, Kind, Lxc};
use crate::peers::Peers;
use crate::sid;
use crate::util::{self, Context, Error, Result, TempDir, say, secs};

#[derive(Default, Debug)]
pub struct Options {
    pub keep: bool,
    /// Skip the second server and the cluster (their tests then skip, saying so).
    pub no_peers: bool,
    /// LXD (default), Incus 6 or Incus 7.
    pub server: Kind,
    pub socket: Option<PathBuf>,
    /// After `--`: handed to `cargo test` as they are.
    pub cargo_args: Vec<OsString>,
}

/// What the tests are pointed at; becomes their `LXD_IT_*` environment.
struct Target<'a> {
    socket: PathBuf,
    https: String,
    cert: PathBuf,
    image: String,
    project: String,
    /// Only for our private daemon: tests may look inside it (logs, state).
    dir: Option<PathBuf>,
    /// The second server and the cluster, when started.
    peers: Option<&'a Peers>,
    /// LXD or Incus.
    server: Kind,
    /// The version series of our private daemon (None: someone else's, any version).
    series: Option<&'static str>,
}

/// Returns whether the tests passed; `Err` is a setup or teardown failure.
pub fn run(opts: &Options) -> Result<bool> {
    match &opts.socket {
        Some(socket) => existing(socket, opts),
        None => private(opts),
    }
}

/// `cargo` (the one running us), in the workspace root.
pub fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(workspace_root());
    // `cargo run` hands xtask its own package's variables (CARGO_MANIFEST_DIR=.../xtask,
    // CARGO_PKG_*...). Passed on, they change the fingerprint of build scripts that watch
    // them (ring's watches CARGO_MANIFEST_DIR), so every xtask run and every plain cargo
    // run after it would rebuild ring, rustls, reqwest and all above them.
    for (key, _) in std::env::vars_os() {
        let name = key.to_string_lossy();
        let set_by_cargo_run = name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_MANIFEST_")
            || [
                "CARGO_CRATE_NAME",
                "CARGO_BIN_NAME",
                "CARGO_PRIMARY_PACKAGE",
                "CARGO_TARGET_TMPDIR",
                "CARGO_RUSTC_CURRENT_DIR",
                "OUT_DIR",
            ]
            .contains(&&*name);
        if set_by_cargo_run {
            cmd.env_remove(&key);
        }
    }
    cmd
}

pub fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
}

// ---------------------------------------------------------------------------------------
// Our own daemon

fn private(opts: &Options) -> Result<bool> {
    if !util::is_root() {
        return Err(Error(
            "a private LXD daemon needs root: run `sudo -E cargo xtask integration`, \
             or point the tests at a daemon you may use with `--socket PATH`"
                .to_owned(),
        ));
    }
    let kind = opts.server;
    // busybox-static and iptables come with LXD's packages; Incus is added beside them.
    lxd::ensure_installed(true)?;
    // Incus 7 is driven with the host's Incus 6 client.
    if kind.is_incus() {
        lxd::ensure_incus_installed()?;
    }
    if kind == Kind::Incus7 {
        sid::ensure_rootfs()?;
    }
    let lxd_bin = kind.find_daemon().ok_or("the daemon is still missing")?;
    let lxc_bin = kind
        .find_client(false)
        .ok_or("the client is still missing")?;
    let started = Instant::now();

    // From here on, every way out (error, failed tests, panic) passes Daemon's Drop,
    // which shuts the daemon down unless --keep.
    let dir = Path::new(kind.test_dir());
    let mut daemon = Daemon::start_or_reuse(&lxd_bin, dir, opts.keep)?;
    let lxc = daemon.lxc(&lxc_bin);
    if daemon.https_bind_failed() {
        say(
            "the daemon could not listen on the HTTPS address it had (port taken since?); \
             restarting it without one",
        );
        lxc.config_unset("core.https_address")?;
        daemon.shutdown()?;
        daemon = Daemon::start_or_reuse(&lxd_bin, dir, opts.keep)?;
    }
    let mut https = None;
    let mut peers = None;
    let result = (|| -> Result<bool> {
        lxd::initialise(&daemon, &lxc)?;
        https = Some(lxd::ensure_https(&lxc, true)?.0);
        let image = image::ensure(&lxc, Owner::Ours)?;
        say(format_args!("daemon set up in {}", secs(started)));
        if !opts.no_peers {
            peers = Some(Peers::start(kind, &lxd_bin, &lxc_bin, opts.keep)?);
        }
        let target = Target {
            socket: daemon.socket(),
            https: https.clone().unwrap_or_default(),
            cert: daemon.dir().join("server.crt"),
            image: image.alias,
            project: "default".to_owned(),
            dir: Some(daemon.dir().to_owned()),
            peers: peers.as_ref(),
            server: kind,
            series: Some(kind.series()),
        };
        let passed = run_tests(&target, &opts.cargo_args)?;
        report_leftovers(&lxc);
        if !passed {
            let logs = std::iter::once(daemon.log()).chain(peers.iter().flat_map(Peers::logs));
            for log in logs {
                say(format_args!(
                    "last 50 lines of {}:\n{}",
                    log.display(),
                    util::indent(&util::tail(&log, 50))
                ));
            }
        }
        Ok(passed)
    })();

    let peers_stopped = match peers {
        Some(peers) if !opts.keep => peers.stop(),
        _ => Ok(()),
    };
    let stopped = if opts.keep {
        print_access(&daemon, https.as_deref(), kind);
        Ok(())
    } else {
        daemon.stop()
    };
    both(result, stopped.and(peers_stopped))
}

/// Instances still on the daemon after the tests: tests are meant to clean up, so these
/// are leaks worth seeing (they also accumulate in the kept state dir).
fn report_leftovers(lxc: &Lxc) {
    if let Ok(list) = lxc.run(&["list", "--all-projects", "--format", "csv", "-c", "en"]) {
        let names: Vec<String> = list
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.replace(',', "/"))
            .collect();
        if !names.is_empty() {
            say(format_args!(
                "note: {} instance(s) left on the test daemon after the tests (project/name): {}",
                names.len(),
                names.join(" ")
            ));
        }
    }
}

fn print_access(daemon: &Daemon, https: Option<&str>, kind: Kind) {
    let dir = daemon.dir().display();
    let socket = daemon.socket();
    let socket = socket.display();
    let https = https.map_or("(not set up)".to_owned(), |a| format!("https://{a}"));
    let (dir_var, socket_var) = (kind.dir_var(), kind.socket_var());
    let (client, stop) = match kind {
        Kind::Lxd => ("lxc", "lxd shutdown"),
        Kind::Incus | Kind::Incus7 => ("incus", "incus admin shutdown"),
    };
    eprintln!(
        "xtask: --keep: the test daemon is still running. To reach it:\n\
         \x20   export {dir_var}={dir}\n\
         \x20   export {socket_var}={socket}   # read before {dir_var}\n\
         \x20   {client} list\n\
         \x20 HTTPS: {https}  (server certificate: {dir}/server.crt)\n\
         \x20 log:   {log}\n\
         \x20 stop it: {dir_var}={dir} {socket_var}={socket} {stop}\n\
         \x20          (or a later `cargo xtask integration` without --keep reuses it and stops it)",
        log = daemon.log().display()
    );
}

// ---------------------------------------------------------------------------------------
// Someone else's daemon

/// What --socket mode added to a daemon it does not own, undone in `cleanup` (also from
/// Drop, so a panic in between still cleans up).
struct Session {
    lxc: Lxc,
    project: Option<String>,
    image: Option<String>,
    https_set: bool,
    done: bool,
}

impl Session {
    fn cleanup(&mut self) -> Result<()> {
        if self.done {
            return Ok(());
        }
        self.done = true;
        let mut errors = Vec::new();
        if let Some(project) = self.project.take() {
            match self
                .lxc
                .run(&["list", "--project", &project, "--format", "csv", "-c", "n"])
            {
                Ok(list) => {
                    let names: Vec<&str> = list
                        .lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .collect();
                    if !names.is_empty() {
                        say(format_args!(
                            "deleting {} instance(s) left in project {project}",
                            names.len()
                        ));
                        let mut args = vec!["delete", "--project", &project, "--force"];
                        args.extend(names);
                        if let Err(e) = self.lxc.run(&args) {
                            errors.push(e.0);
                        }
                    }
                }
                Err(e) => errors.push(e.0),
            }
            say(format_args!("deleting project {project}"));
            if let Err(e) = self.lxc.run(&["project", "delete", &project]) {
                errors.push(e.0);
            }
        }
        if let Some(fingerprint) = self.image.take() {
            say(format_args!(
                "deleting the image xtask imported ({fingerprint})"
            ));
            if let Err(e) = self
                .lxc
                .run(&["image", "delete", "--project", "default", &fingerprint])
            {
                errors.push(e.0);
            }
        }
        if self.https_set {
            self.https_set = false;
            say("unsetting core.https_address again");
            if let Err(e) = self.lxc.config_unset("core.https_address") {
                errors.push(e.0);
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error(format!(
                "cleaning up the daemon failed:\n{}",
                errors.join("\n")
            )))
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Err(e) = self.cleanup() {
            say(format_args!("error: {e}"));
        }
    }
}

fn existing(socket: &Path, opts: &Options) -> Result<bool> {
    if opts.keep {
        return Err(Error(
            "--keep is for the private daemon; with --socket xtask starts and stops nothing"
                .to_owned(),
        ));
    }
    lxd::ensure_installed(false)?;
    lxd::probe(socket).map_err(|e| {
        Error(format!(
            "no LXD daemon answers on {}: {e}",
            socket.display()
        ))
    })?;
    let lxc_bin = lxd::find_lxc(true).ok_or("the lxc client is missing")?;
    // LXD_SOCKET alone selects the daemon (lxc 5.0 reads it before LXD_DIR), whatever the
    // socket's file name.
    let lxc = Lxc::new(lxc_bin, socket.to_owned(), None);
    let tmp = TempDir::new("lxdrs-it")?;
    let pid = std::process::id();
    let mut session = Session {
        lxc,
        project: None,
        image: None,
        https_set: false,
        done: false,
    };
    let started = Instant::now();
    let result = (|| -> Result<bool> {
        let (https, set) = lxd::ensure_https(&session.lxc, false)?;
        session.https_set = set;

        let info = session.lxc.query("/1.0")?;
        let pem = util::json_string_field(&info, "certificate")
            .ok_or("`lxc query /1.0` shows no environment.certificate")?;
        let cert = tmp.path().join("server.crt");
        fs::write(&cert, pem).context(|| format!("cannot write {}", cert.display()))?;

        // Without their own images, profiles, volumes and networks, the default project's
        // image and profile are visible in the throwaway project.
        let project = format!("lxdrs-it-{pid}");
        say(format_args!("creating project {project}"));
        session.lxc.run(&[
            "project",
            "create",
            &project,
            "-c",
            "features.images=false",
            "-c",
            "features.profiles=false",
            "-c",
            "features.storage.volumes=false",
            "-c",
            "features.networks=false",
        ])?;
        session.project = Some(project.clone());

        let image = image::ensure(
            &session.lxc,
            Owner::Shared {
                fallback_alias: format!("lxdrs-it-{pid}-busybox"),
            },
        )?;
        if image.imported {
            session.image = Some(image.fingerprint.clone());
        }
        say(format_args!("daemon set up in {}", secs(started)));

        let target = Target {
            socket: socket.to_owned(),
            https,
            cert,
            image: image.alias,
            project,
            dir: None,
            peers: None,
            server: Kind::Lxd,
            series: None,
        };
        run_tests(&target, &opts.cargo_args)
    })();
    let cleaned = session.cleanup();
    both(result, cleaned)
}

// ---------------------------------------------------------------------------------------

fn run_tests(target: &Target, extra: &[OsString]) -> Result<bool> {
    // tests/examples.rs runs lxd-client's examples as a user would: built here, named below.
    util::run_inherit_ok(cargo().args(["build", "-p", "lxd-client", "--examples"]))?;
    let mut cmd = cargo();
    cmd.env("LXD_IT_EXAMPLES", target_dir().join("debug/examples"));
    // Every test binary runs even after one fails: one run reports everything.
    cmd.args(["test", "-p", "lxd-integration", "--no-fail-fast"])
        .args(extra)
        // Inside xtask a missing prerequisite is a failure, never a skip.
        .env("LXD_IT", "1")
        .env("LXD_IT_SOCKET", &target.socket)
        .env("LXD_IT_HTTPS", &target.https)
        .env("LXD_IT_SERVER_CERT", &target.cert)
        .env("LXD_IT_IMAGE", &target.image)
        .env("LXD_IT_PROJECT", &target.project)
        .env("LXD_IT_SERVER", target.server.server());
    match target.series {
        Some(series) => cmd.env("LXD_IT_SERVER_SERIES", series),
        None => cmd.env_remove("LXD_IT_SERVER_SERIES"),
    };
    // A daemon in the sid root: tests that restart it start it the way xtask does.
    if target.server == Kind::Incus7 && target.dir.is_some() {
        cmd.env("LXD_IT_DAEMON_ROOT", sid::ROOT)
            .env("LXD_IT_DAEMON_START", sid::launcher());
    } else {
        cmd.env_remove("LXD_IT_DAEMON_ROOT")
            .env_remove("LXD_IT_DAEMON_START");
    }
    // So anything resolving the socket from the environment (Client::from_env, lxc in a
    // test) reaches this daemon and never the developer's own.
    lxd::lxd_env(
        target.server,
        &mut cmd,
        &target.socket,
        target.dir.as_deref(),
    );
    if target.server.is_incus() {
        // LXD_SOCKET is what Client::from_env reads first.
        cmd.env("LXD_SOCKET", &target.socket);
    }
    match &target.dir {
        Some(dir) => cmd.env("LXD_IT_DIR", dir),
        None => cmd.env_remove("LXD_IT_DIR"),
    };
    match target.peers {
        Some(peers) => peers.export(&mut cmd),
        // Tests of the second server and the cluster skip, naming this reason.
        None => {
            cmd.env(
                "LXD_IT_NO_PEERS",
                "the harness started no second server and no cluster (--socket or --no-peers)",
            );
        }
    }
    let started = Instant::now();
    let mut passed = util::run_inherit(&mut cmd)?.success();
    // The other TLS backend against the same daemon, in full runs (it rebuilds the client
    // with the feature on, which a run of one test file should not pay for).
    if extra.is_empty() {
        let mut native = cargo();
        native.args([
            "test",
            "-p",
            "lxd-client",
            "--features",
            "native-tls",
            "--test",
            "native_tls",
        ]);
        for (key, value) in cmd.get_envs() {
            match value {
                Some(value) => native.env(key, value),
                None => native.env_remove(key),
            };
        }
        passed &= util::run_inherit(&mut native)?.success();
    }
    say(format_args!(
        "integration tests {} in {}",
        if passed { "passed" } else { "FAILED" },
        secs(started)
    ));
    Ok(passed)
}

/// Cargo's target directory (`CARGO_TARGET_DIR` or the workspace's `target/`).
fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => workspace_root().join(dir),
        _ => workspace_root().join("target"),
    }
}

/// A run's outcome and its teardown's, with neither error hiding the other.
fn both(result: Result<bool>, teardown: Result<()>) -> Result<bool> {
    match (result, teardown) {
        (Ok(passed), Ok(())) => Ok(passed),
        (Err(e), Ok(())) | (Ok(_), Err(e)) => Err(e),
        (Err(e), Err(t)) => Err(Error(format!("{e}\nthen, tearing down: {t}"))),
    }
}
