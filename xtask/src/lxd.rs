//! Getting LXD onto the machine, and running a private daemon for the tests: start (or reuse),
//! wait until ready, first-time preseed, an HTTPS listener on loopback, and shutdown.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::image;
use crate::sid;
use crate::util::{self, Captured, Context, Error, Result, say, secs};

/// The private daemon's state dir. Short (the socket path must stay under 107 bytes) and
/// under /var/lib, whose parents are all o+x: containers run as a high uid and must be able to
/// traverse every parent of LXD_DIR, so somewhere under /root would break every container.
pub const DIR: &str = "/var/lib/lxdrs-it";
/// The private Incus daemon's state dir (same rules).
pub const INCUS_DIR: &str = "/var/lib/incusrs-it";
/// The private Incus 7 daemon's state dir, inside the sid root (see sid.rs). The daemon sees
/// it as /var/lib/incus7-it: another name than Incus 6's, so a pid check by `INCUS_DIR` can
/// never take one daemon for the other.
pub const INCUS7_DIR: &str = "/var/lib/lxdrs-sid/var/lib/incus7-it";

/// How long `lxd shutdown` gets before the daemon's process group is killed. Running
/// containers are stopped first, and an init that ignores the halt signal costs LXD's
/// per-instance timeout.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(120);

/// A closed loopback port (discard): outgoing requests fail at once, locally.
const DEAD_PROXY: &str = "http://127.0.0.1:9";

/// Ordinary `lxc` calls are quick; this only bounds a wedged socket.
pub const LXC_TIMEOUT: Duration = Duration::from_secs(120);

pub fn socket_of(dir: &Path) -> PathBuf {
    dir.join("unix.socket")
}

/// The log lives next to, not in, LXD_DIR, so deleting the state dir keeps the evidence.
pub fn log_of(dir: &Path) -> PathBuf {
    PathBuf::from(format!("{}.log", dir.display()))
}

/// We record the daemon's pid ourselves: LXD keeps none, and a later run (after `--keep`)
/// must be able to kill exactly that daemon if `lxd shutdown` hangs.
fn pid_file_of(dir: &Path) -> PathBuf {
    PathBuf::from(format!("{}.pid", dir.display()))
}

/// Which daemon: LXD, or Incus (its fork: same API and commands, its own names for the
/// binaries and the environment), from the host's packages (6.0) or from a Debian sid root
/// file system beside the host (7.0, see sid.rs; driven with the host's `incus` client).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Kind {
    #[default]
    Lxd,
    Incus,
    Incus7,
}

impl Kind {
    /// The name `--server` takes.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Lxd => "lxd",
            Kind::Incus => "incus",
            Kind::Incus7 => "incus7",
        }
    }

    /// What the server calls itself (`environment.server`, the tests' `LXD_IT_SERVER`).
    pub fn server(self) -> &'static str {
        match self {
            Kind::Lxd => "lxd",
            Kind::Incus | Kind::Incus7 => "incus",
        }
    }

    /// The version series the private daemon runs (`LXD_IT_SERVER_SERIES`).
    pub fn series(self) -> &'static str {
        match self {
            Kind::Lxd => "5.0",
            Kind::Incus => "6.0",
            Kind::Incus7 => "7.0",
        }
    }

    pub fn is_incus(self) -> bool {
        self.server() == "incus"
    }

    /// A label for reports.
    pub fn title(self) -> &'static str {
        match self {
            Kind::Lxd => "LXD 5.0",
            Kind::Incus => "Incus 6.0",
            Kind::Incus7 => "Incus 7.0",
        }
    }

    /// The variable naming the daemon's directory (`LXD_DIR`, `INCUS_DIR`).
    pub fn dir_var(self) -> &'static str {
        match self {
            Kind::Lxd => "LXD_DIR",
            Kind::Incus | Kind::Incus7 => "INCUS_DIR",
        }
    }

    /// The variable naming the daemon's socket (`LXD_SOCKET`, `INCUS_SOCKET`).
    pub fn socket_var(self) -> &'static str {
        match self {
            Kind::Lxd => "LXD_SOCKET",
            Kind::Incus | Kind::Incus7 => "INCUS_SOCKET",
        }
    }

    /// The private test daemon's state dir (see [`DIR`]).
    pub fn test_dir(self) -> &'static str {
        match self {
            Kind::Lxd => DIR,
            Kind::Incus => INCUS_DIR,
            Kind::Incus7 => INCUS7_DIR,
        }
    }

    /// The daemon binary: Debian's `lxd`, or Incus's `incusd` (not on PATH).
    pub fn find_daemon(self) -> Option<PathBuf> {
        match self {
            Kind::Lxd => find_lxd(),
            Kind::Incus => util::find_program(
                "incusd",
                &["/usr/libexec/incus/incusd", "/usr/lib/incus/incusd"],
                false,
            ),
            Kind::Incus7 => Some(sid::daemon_path()).filter(|p| util::is_executable(p)),
        }
    }

    /// The command-line client: `lxc`, or `incus` (the host's 6.0 client for Incus 7 too:
    /// it works against 7.0 over the unix socket).
    pub fn find_client(self, any: bool) -> Option<PathBuf> {
        match self {
            Kind::Lxd => find_lxc(any),
            Kind::Incus | Kind::Incus7 => util::find_program("incus", &["/usr/bin/incus"], any),
        }
    }

    /// Which kind a daemon or client binary is, by its file name and, for a daemon in the
    /// sid root, its place.
    fn of_binary(path: &Path) -> Kind {
        match path.file_name().and_then(|n| n.to_str()) {
            Some("incusd") if sid::inside(path).is_some() => Kind::Incus7,
            Some("incusd" | "incus") => Kind::Incus,
            _ => Kind::Lxd,
        }
    }
}

/// Points an `lxc`/`lxd` (or `incus`) command at one daemon and no other.
///
/// LXD 5.0.2's `lxc` and `lxd` subcommands (waitready, shutdown, init) honour `LXD_SOCKET`
/// before `LXD_DIR`, so a developer's exported `LXD_SOCKET` would otherwise send even
/// `lxd shutdown` to their own daemon. Setting both, consistently, rules that out; the other
/// server's variables are removed, so neither can be reached by mistake.
pub fn lxd_env(kind: Kind, cmd: &mut Command, socket: &Path, dir: Option<&Path>) {
    for other in [Kind::Lxd, Kind::Incus] {
        cmd.env_remove(other.socket_var())
            .env_remove(other.dir_var());
    }
    cmd.env(kind.socket_var(), socket);
    if let Some(dir) = dir {
        cmd.env(kind.dir_var(), dir);
    }
}

// ---------------------------------------------------------------------------------------
// Installation

pub fn find_lxd() -> Option<PathBuf> {
    // Only Debian's daemon: a snap's /snap/bin/lxd is a wrapper into the snap's confinement
    // and paths; a private LXD_DIR was verified with Debian's package only.
    util::find_program("lxd", &["/usr/bin/lxd", "/usr/sbin/lxd"], false)
}

/// The client packaged with the daemon; with `any`, also one on PATH (a snap's, for
/// --socket mode against the snap's daemon).
pub fn find_lxc(any: bool) -> Option<PathBuf> {
    util::find_program("lxc", &["/usr/bin/lxc"], any)
}

fn find_iptables() -> Option<PathBuf> {
    util::find_program("iptables", &["/usr/sbin/iptables", "/sbin/iptables"], true)
}

/// What a run needs, and which Debian package provides each missing piece.
fn missing(need_daemon: bool) -> Vec<(&'static str, String)> {
    let mut missing = Vec::new();
    // `cargo xtask test` builds the native-tls backend, which links OpenSSL.
    if !std::path::Path::new("/usr/include/openssl/ssl.h").exists() {
        missing.push(("libssl-dev", "OpenSSL's headers (native-tls)".to_owned()));
    }
    if util::find_program("pkg-config", &["/usr/bin/pkg-config"], true).is_none() {
        missing.push(("pkg-config", "pkg-config (native-tls)".to_owned()));
    }
    if need_daemon && find_lxd().is_none() {
        // The verified install: all four together.
        missing.push(("lxd", "the LXD daemon (/usr/bin/lxd)".to_owned()));
        missing.push(("lxd-client", "the lxc client".to_owned()));
        missing.push(("busybox-static", "a static busybox".to_owned()));
        missing.push(("iptables", "iptables".to_owned()));
        missing.push(("criu", "CRIU".to_owned()));
        return missing;
    }
    if find_lxc(!need_daemon).is_none() {
        missing.push(("lxd-client", "the lxc client (/usr/bin/lxc)".to_owned()));
    }
    if let Err(why) = image::find_static_busybox() {
        missing.push(("busybox-static", why));
    }
    // Managed bridges need it; only our own daemon is ours to equip (a snap bundles its own).
    if need_daemon && find_iptables().is_none() {
        missing.push((
            "iptables",
            "iptables (LXD needs it for managed networks)".to_owned(),
        ));
    }
    // Live migration of containers between the test servers needs it on the host.
    if need_daemon && util::find_program("criu", &["/usr/sbin/criu", "/sbin/criu"], true).is_none()
    {
        missing.push(("criu", "CRIU (for live migration)".to_owned()));
    }
    missing
}

/// Installs what is missing where we may (root on Debian), or says how to get it.
pub fn ensure_installed(need_daemon: bool) -> Result<()> {
    let missing = missing(need_daemon);
    if missing.is_empty() {
        return Ok(());
    }
    let packages: Vec<&str> = missing.iter().map(|(p, _)| *p).collect();
    let what: Vec<&str> = missing.iter().map(|(_, w)| w.as_str()).collect();
    if !(util::is_root() && is_debian()) {
        return Err(Error(format!(
            "missing: {}.\n\
             Install LXD and the tools the tests need, then run again:\n\
             \x20 Debian 12:  sudo apt-get install lxd lxd-client busybox-static iptables criu\n\
             \x20 Ubuntu:     sudo snap install lxd && sudo lxd init --auto && sudo apt-get install busybox-static\n\
             \x20             then: sudo -E cargo xtask integration --socket /var/snap/lxd/common/lxd/unix.socket\n\
             \x20             (a private daemon needs Debian's lxd package; a snap's daemon can only be used via --socket)\n\
             Run as root on Debian, cargo xtask installs these itself.",
            what.join("; ")
        )));
    }
    say(format_args!(
        "missing {}; installing Debian packages: {}",
        what.join("; "),
        packages.join(" ")
    ));
    apt_install(&packages)?;
    let still: Vec<String> = self::missing(need_daemon)
        .into_iter()
        .map(|(_, w)| w)
        .collect();
    if still.is_empty() {
        Ok(())
    } else {
        Err(Error(format!(
            "still missing after apt-get install: {}",
            still.join("; ")
        )))
    }
}

/// `apt-get update`, then `apt-get install -y PACKAGES` (root on Debian).
pub fn apt_install(packages: &[&str]) -> Result<()> {
    let apt = |args: &[&str]| {
        let mut cmd = Command::new("apt-get");
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        util::run_inherit_ok(&mut cmd)
    };
    let started = Instant::now();
    apt(&["update"])?;
    let mut install = vec!["install", "-y"];
    install.extend(packages);
    apt(&install)?;
    say(format_args!("installed in {}", secs(started)));
    Ok(())
}

/// Incus beside LXD: Debian 12 carries it in its backports suite only, so that suite is
/// added to apt's sources (once, in a file of our own) before installing from it.
pub fn ensure_incus_installed() -> Result<()> {
    let present =
        || Kind::Incus.find_daemon().is_some() && Kind::Incus.find_client(false).is_some();
    if present() {
        return Ok(());
    }
    if !(util::is_root() && is_debian()) {
        return Err(Error(
            "Incus is missing. On Debian 12 (as root): add `deb http://deb.debian.org/debian \
             bookworm-backports main` to apt's sources, then `apt-get install -t \
             bookworm-backports incus`; cargo xtask does this itself when run as root on Debian."
                .to_owned(),
        ));
    }
    let codename = fs::read_to_string("/etc/os-release")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("VERSION_CODENAME=")
                .map(|c| c.trim_matches('"').to_owned())
        })
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "bookworm".to_owned());
    let suite = format!("{codename}-backports");
    let list = Path::new("/etc/apt/sources.list.d/lxdrs-backports.list");
    let known = fs::read_dir("/etc/apt/sources.list.d")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .chain([PathBuf::from("/etc/apt/sources.list")])
        .any(|p| fs::read_to_string(p).is_ok_and(|t| t.contains(&suite)));
    if !known {
        say(format_args!(
            "adding {suite} to apt's sources ({})",
            list.display()
        ));
        fs::write(
            list,
            format!("deb http://deb.debian.org/debian {suite} main\n"),
        )
        .map_err(|e| Error(format!("cannot write {}: {e}", list.display())))?;
    }
    let apt = |args: &[&str]| {
        let mut cmd = Command::new("apt-get");
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        util::run_inherit_ok(&mut cmd)
    };
    let started = Instant::now();
    say(format_args!("installing Incus from {suite}"));
    apt(&["update"])?;
    // As verified in ../shared/LXD-HERE.md (recommends included: it pulls qemu, unused).
    apt(&["install", "-y", "-t", &suite, "incus"])?;
    say(format_args!("installed in {}", secs(started)));
    if present() {
        Ok(())
    } else {
        Err(Error(
            "incusd or incus still missing after apt-get install".to_owned(),
        ))
    }
}

/// Debian proper: Ubuntu also has /etc/debian_version, but its `lxd` package is a snap
/// installer, not a daemon we can point at our own LXD_DIR.
fn is_debian() -> bool {
    if !Path::new("/etc/debian_version").exists() {
        return false;
    }
    match fs::read_to_string("/etc/os-release") {
        Ok(text) => text
            .lines()
            .any(|l| l.trim() == "ID=debian" || l.trim() == "ID=\"debian\""),
        Err(_) => true,
    }
}

// ---------------------------------------------------------------------------------------
// Talking to a daemon with lxc

/// The `lxc` client bound to one daemon.
#[derive(Clone, Debug)]
pub struct Lxc {
    kind: Kind,
    bin: PathBuf,
    socket: PathBuf,
    dir: Option<PathBuf>,
}

impl Lxc {
    pub fn new(bin: PathBuf, socket: PathBuf, dir: Option<PathBuf>) -> Self {
        Lxc {
            kind: Kind::of_binary(&bin),
            bin,
            socket,
            dir,
        }
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.bin);
        // --force-local: a developer's `lxc remote switch` must not send our calls to another
        // (possibly remote) server.
        cmd.arg("--force-local").args(args);
        lxd_env(self.kind, &mut cmd, &self.socket, self.dir.as_deref());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Result<String> {
        util::run(&mut self.command(args), LXC_TIMEOUT)
    }

    /// `lxc query PATH`: a raw GET, printed as JSON.
    pub fn query(&self, path: &str) -> Result<String> {
        self.run(&["query", path])
    }

    pub fn config_get(&self, key: &str) -> Result<String> {
        Ok(self.run(&["config", "get", key])?.trim().to_owned())
    }

    pub fn config_set(&self, key: &str, value: &str) -> Result<()> {
        self.run(&["config", "set", key, value]).map(drop)
    }

    pub fn config_unset(&self, key: &str) -> Result<()> {
        self.run(&["config", "unset", key]).map(drop)
    }
}

/// Whether a daemon answers HTTP on `socket`.
pub fn answers(socket: &Path) -> bool {
    probe(socket).is_ok()
}

/// Asks `socket` for `GET /1.0`; the error says why nothing answered (missing, refused,
/// permission denied, silence).
///
/// The request is written right after connecting: LXD 5.0.2 stops answering every later
/// connection while one connection sits open without having sent a request.
pub fn probe(socket: &Path) -> std::result::Result<(), String> {
    let mut stream = UnixStream::connect(socket).map_err(|e| format!("cannot connect: {e}"))?;
    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    stream
        .write_all(b"GET /1.0 HTTP/1.0\r\nHost: lxd\r\n\r\n")
        .map_err(|e| format!("cannot send a request: {e}"))?;
    // Read the whole answer (HTTP/1.0: the daemon closes after it); hanging up early makes
    // the daemon log a "broken pipe" error that looks like a real problem.
    let mut answer = Vec::new();
    let read = stream.read_to_end(&mut answer);
    if answer.starts_with(b"HTTP/1.") {
        Ok(())
    } else {
        Err(match read {
            Err(e) => format!("no HTTP answer: {e}"),
            Ok(_) => "no HTTP answer".to_owned(),
        })
    }
}

// ---------------------------------------------------------------------------------------
// The private daemon

/// A daemon on [`DIR`], started (or found running) by xtask. Dropping it shuts it down,
/// so every exit path after start (error, failed tests, panic) stops it, unless `keep`.
pub struct Daemon {
    kind: Kind,
    lxd: PathBuf,
    dir: PathBuf,
    /// Only known when we started it now, or from our pid file for one left by `--keep`.
    pid: Option<u32>,
    /// Set when this run spawned the daemon: lets us notice an early exit and reap it.
    child: Option<Child>,
    keep: bool,
    stopped: bool,
}

impl Daemon {
    /// Reuses a daemon already answering on `dir` (left by `--keep`), else starts one.
    pub fn start_or_reuse(lxd: &Path, dir: &Path, keep: bool) -> Result<Daemon> {
        let mut daemon = Daemon::spawn_or_reuse(lxd, dir, keep)?;
        daemon.wait_ready()?;
        Ok(daemon)
    }

    /// [`Daemon::start_or_reuse`] without waiting until it is ready: the members of a cluster
    /// must all be running before any of them can be ready (its database needs a quorum).
    pub fn spawn_or_reuse(lxd: &Path, dir: &Path, keep: bool) -> Result<Daemon> {
        check_dir_path(dir)?;
        let socket = socket_of(dir);
        let log = log_of(dir);
        if answers(&socket) {
            let pid = read_pid_file(dir);
            say(format_args!(
                "reusing the daemon already running on {} (pid {})",
                dir.display(),
                pid.map_or("unknown".to_owned(), |p| p.to_string())
            ));
            return Ok(Daemon {
                kind: Kind::of_binary(lxd),
                lxd: lxd.to_owned(),
                dir: dir.to_owned(),
                pid,
                child: None,
                keep,
                stopped: false,
            });
        }

        if !dir.exists() {
            // 0711 like LXD's own dirs: others may traverse, not list.
            fs::DirBuilder::new()
                .mode(0o711)
                .create(dir)
                .context(|| format!("cannot create {}", dir.display()))?;
        }
        let mut log_file =
            File::create(&log).context(|| format!("cannot create {}", log.display()))?;
        let _ = writeln!(
            log_file,
            "=== started by cargo xtask (pid {})",
            std::process::id()
        );
        let log_err = log_file
            .try_clone()
            .context(|| format!("cannot reopen {}", log.display()))?;

        let kind = Kind::of_binary(lxd);
        let mut cmd = if kind == Kind::Incus7 {
            // The launcher sets the daemon's whole environment itself (it runs in another
            // root, where the host's paths mean nothing).
            sid::daemon_command(dir)?
        } else {
            let mut cmd = Command::new(lxd);
            cmd.args(["--group", "root"]);
            cmd
        };
        daemon_env(&mut cmd);
        lxd_env(Kind::of_binary(lxd), &mut cmd, &socket, Some(dir));
        // LXD fetches instance types from images.linuxcontainers.org at start and daily.
        // Tests must not send traffic off the machine: route the daemon's outgoing HTTP(S)
        // to a closed loopback port (Go never proxies loopback, so local servers still work).
        for var in ["https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY"] {
            cmd.env(var, DEAD_PROXY);
        }
        cmd.env_remove("no_proxy").env_remove("NO_PROXY");
        // Its own process group, no terminal input: a Ctrl-C meant for cargo test does not
        // hit the daemon mid-write, and the group is what we kill if shutdown hangs.
        cmd.stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_err)
            .process_group(0);
        say(format_args!(
            "starting `{}` (log: {})",
            util::describe(&cmd),
            log.display()
        ));
        let child = cmd
            .spawn()
            .context(|| format!("cannot start {}", lxd.display()))?;
        let pid = child.id();
        let pid_file = pid_file_of(dir);
        fs::write(&pid_file, format!("{pid}\n"))
            .context(|| format!("cannot write {}", pid_file.display()))?;
        say(format_args!(
            "daemon pid {pid} started on {}",
            dir.display()
        ));
        Ok(Daemon {
            kind: Kind::of_binary(lxd),
            lxd: lxd.to_owned(),
            dir: dir.to_owned(),
            pid: Some(pid),
            child: Some(child),
            keep,
            stopped: false,
        })
    }

    /// Whether this run started the daemon (rather than reusing one left by `--keep`).
    pub fn spawned(&self) -> bool {
        self.child.is_some()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn socket(&self) -> PathBuf {
        socket_of(&self.dir)
    }

    pub fn log(&self) -> PathBuf {
        log_of(&self.dir)
    }

    pub fn lxc(&self, bin: &Path) -> Lxc {
        Lxc::new(bin.to_owned(), self.socket(), Some(self.dir.clone()))
    }

    /// `lxd ARGS` (waitready, shutdown, init), or for Incus `incus admin ARGS`.
    pub fn lxd_command(&self, args: &[&str]) -> Command {
        let mut cmd = match self.kind {
            Kind::Lxd => Command::new(&self.lxd),
            Kind::Incus | Kind::Incus7 => {
                let client = Kind::Incus.find_client(false);
                let mut cmd = Command::new(client.unwrap_or_else(|| "incus".into()));
                cmd.arg("admin");
                cmd
            }
        };
        cmd.args(args);
        lxd_env(self.kind, &mut cmd, &self.socket(), Some(&self.dir));
        cmd
    }

    /// `lxd waitready`, while watching that the daemon we spawned has not died: one that
    /// exits at once (bad dir, "already running") should fail now, not after 60 s.
    pub fn wait_ready(&mut self) -> Result<()> {
        let timeout = Duration::from_secs(70);
        let mut waiting = Captured::spawn(
            &mut self.lxd_command(&["waitready", "--timeout", "60"]),
            None,
        )?;
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = waiting.child.try_wait().ok().flatten() {
                return waiting
                    .finish(Some(status), timeout)
                    .map(drop)
                    .map_err(|e| {
                        Error(format!(
                            "{e}\nlast lines of {}:\n{}",
                            self.log().display(),
                            util::indent(&util::tail(&self.log(), 30))
                        ))
                    });
            }
            if let Some(child) = &mut self.child
                && let Ok(Some(status)) = child.try_wait()
            {
                waiting.kill();
                self.stopped = true;
                return Err(Error(format!(
                    "lxd exited while starting ({status}); last lines of {}:\n{}",
                    self.log().display(),
                    util::indent(&util::tail(&self.log(), 30))
                )));
            }
            if Instant::now() > deadline {
                waiting.kill();
                return waiting.finish(None, timeout).map(drop);
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether this daemon, started by this run, could not bind the HTTPS address stored
    /// by an earlier run (its port taken meanwhile). LXD then binds that old address again
    /// 30 s later, replacing any address set in between, so the caller restarts it
    /// without one. (Matched on LXD 5.0's log message: nothing else reports it.)
    pub fn https_bind_failed(&self) -> bool {
        self.child.is_some()
            && fs::read_to_string(self.log())
                .is_ok_and(|log| log.contains("Cannot currently listen on https socket"))
    }

    fn alive(&mut self) -> bool {
        let alive = match (&mut self.child, self.pid) {
            (Some(child), _) => matches!(child.try_wait(), Ok(None)),
            (None, Some(pid)) => is_our_daemon(pid, &self.dir),
            (None, None) => answers(&self.socket()),
        };
        if alive {
            return true;
        }
        // integration/tests/restart.rs stops the daemon and starts it again, writing the new
        // pid to our pid file: follow it, so the replacement is stopped too.
        match read_pid_file(&self.dir) {
            Some(pid) if Some(pid) != self.pid => {
                say(format_args!(
                    "the daemon was restarted by the tests; now pid {pid}"
                ));
                self.child = None;
                self.pid = Some(pid);
                true
            }
            _ => false,
        }
    }

    fn wait_gone(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.alive() {
            if Instant::now() > deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(100));
        }
        true
    }

    /// `lxd shutdown` (stops the containers, then the daemon); if that has not finished
    /// within [`SHUTDOWN_GRACE`], SIGTERM then SIGKILL the daemon's process group.
    pub fn stop(&mut self) -> Result<()> {
        if self.keep {
            return Ok(());
        }
        self.shutdown()
    }

    /// [`Daemon::stop`], even with `keep`.
    pub fn shutdown(&mut self) -> Result<()> {
        if self.stopped {
            return Ok(());
        }
        self.stopped = true;
        if !self.alive() {
            let _ = fs::remove_file(pid_file_of(&self.dir));
            return Ok(());
        }
        let started = Instant::now();
        say(format_args!(
            "stopping the test daemon on {} (lxd shutdown)",
            self.dir.display()
        ));
        // --force: do not wait for operations. LXD 5.0.2 leaves some running for good (a
        // failed live migration's source), and would hold the shutdown back for them.
        let shutdown = util::run(
            &mut self.lxd_command(&["shutdown", "--force"]),
            SHUTDOWN_GRACE,
        );
        let mut gone = self.wait_gone(Duration::from_secs(10));
        if !gone {
            match self.pid {
                Some(pid) => {
                    for (signal, wait) in [("TERM", 10), ("KILL", 10)] {
                        say(format_args!(
                            "the daemon (pid {pid}) is still running; sending SIG{signal} to its process group"
                        ));
                        kill_group(pid, signal);
                        gone = self.wait_gone(Duration::from_secs(wait));
                        if gone {
                            break;
                        }
                    }
                }
                None => say(format_args!(
                    "the daemon on {} is still running and its pid is unknown (no {}); stop it by hand",
                    self.dir.display(),
                    pid_file_of(&self.dir).display()
                )),
            }
        }
        if gone {
            let _ = fs::remove_file(pid_file_of(&self.dir));
            say(format_args!("daemon stopped in {}", secs(started)));
        }
        match (shutdown, gone) {
            (_, false) => Err(Error(format!(
                "the daemon on {} did not stop",
                self.dir.display()
            ))),
            // Stopped, by signal: worth seeing, but the run's verdict is its tests'.
            (Err(e), true) => {
                say(format_args!(
                    "warning: {e}\n(the daemon was stopped by signal instead)"
                ));
                Ok(())
            }
            (Ok(_), true) => Ok(()),
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            say(format_args!("error: {e}"));
        }
    }
}

/// A clean environment for the daemon: `cargo run` adds its own variables and library
/// paths to ours, and the daemon passes its environment on to its helpers for as long as
/// it runs (possibly across xtask runs, with --keep). Kept: locale, PATH (with the sbin
/// dirs, where iptables lives, even if the caller's PATH lacks them) and LXD's own knobs
/// (LXD_*, e.g. LXD_SECURITY_APPARMOR) that a developer may need on their kernel.
fn daemon_env(cmd: &mut Command) {
    cmd.env_clear();
    for (key, value) in std::env::vars_os() {
        let name = key.to_string_lossy();
        if name.starts_with("LXD_")
            || name.starts_with("INCUS_")
            || name.starts_with("LC_")
            || ["LANG", "TZ", "HOME"].contains(&&*name)
        {
            cmd.env(&key, value);
        }
    }
    let mut path: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    for dir in [
        "/usr/local/sbin",
        "/usr/local/bin",
        "/usr/sbin",
        "/usr/bin",
        "/sbin",
        "/bin",
    ] {
        if !path.iter().any(|p| p == Path::new(dir)) {
            path.push(dir.into());
        }
    }
    if let Ok(path) = std::env::join_paths(path) {
        cmd.env("PATH", path);
    }
}

/// Signals the process group led by `pid` (the daemon was spawned as a group leader), so
/// its forked helpers go with it. Through the shell's `kill`, as std cannot signal a group.
fn kill_group(pid: u32, signal: &str) {
    let target = if process_group(pid) == Some(pid) {
        format!("-{pid}")
    } else {
        pid.to_string()
    };
    let _ = Command::new("sh")
        .args(["-c", "kill -s \"$1\" -- \"$2\"", "sh", signal, &target])
        .stderr(Stdio::null())
        .status();
}

fn process_group(pid: u32) -> Option<u32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name: state ppid pgrp ...
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(2)?.parse().ok()
}

/// Whether `pid` is a live `lxd` daemon started with our LXD_DIR: a stale pid file must
/// never make us signal some unrelated process that got the same pid.
fn is_our_daemon(pid: u32, dir: &Path) -> bool {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let zombie = stat
        .rfind(')')
        .is_some_and(|i| stat[i + 1..].trim_start().starts_with('Z'));
    if stat.is_empty() || zombie {
        return false;
    }
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let argv0 = cmdline.split(|b| *b == 0).next().unwrap_or_default();
    let argv0 = String::from_utf8_lossy(argv0);
    let kind = match Path::new(&*argv0).file_name().and_then(|n| n.to_str()) {
        Some("lxd") => Kind::Lxd,
        Some("incusd") => Kind::Incus,
        _ => return false,
    };
    let environ = fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
    // A daemon in the sid root knows its dir by its path inside that root.
    let seen = sid::inside(dir).unwrap_or_else(|| dir.to_owned());
    let want = format!("{}={}", kind.dir_var(), seen.display());
    environ.split(|b| *b == 0).any(|var| var == want.as_bytes())
}

fn read_pid_file(dir: &Path) -> Option<u32> {
    let pid = fs::read_to_string(pid_file_of(dir))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    is_our_daemon(pid, dir).then_some(pid)
}

/// Every parent of LXD_DIR must be o+x (unprivileged containers fail to start otherwise,
/// with an unhelpful "forkstart" error), and the socket path must fit in sun_path.
fn check_dir_path(dir: &Path) -> Result<()> {
    let socket = socket_of(dir);
    if socket.as_os_str().len() > 107 {
        return Err(Error(format!(
            "{} is too long for a unix socket (107 bytes at most)",
            socket.display()
        )));
    }
    for parent in dir
        .ancestors()
        .skip(1)
        .filter(|p| !p.as_os_str().is_empty())
    {
        let mode = fs::metadata(parent)
            .context(|| format!("cannot stat {}", parent.display()))?
            .permissions()
            .mode();
        if mode & 0o001 == 0 {
            return Err(Error(format!(
                "{} (mode {:o}) is not traversable by others; unprivileged containers under {} could not start",
                parent.display(),
                mode & 0o7777,
                dir.display()
            )));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// First-time setup

/// No network on purpose: `lxd init --auto` fails here (no bridge subnet to pick), and tests
/// must not send traffic off the machine. A `dir` pool needs nothing from the host.
const PRESEED: &str = "\
storage_pools:
- name: default
  driver: dir
profiles:
- name: default
  devices:
    root:
      path: /
      pool: default
      type: disk
";

/// `lxd init --preseed`, once: a daemon that already has a storage pool was set up before.
pub fn initialise(daemon: &Daemon, lxc: &Lxc) -> Result<()> {
    let pools = lxc.query("/1.0/storage-pools")?;
    if pools.contains("/1.0/storage-pools/") {
        return Ok(());
    }
    say("first start: lxd init --preseed (dir storage pool `default`, no network)");
    let mut cmd = daemon.lxd_command(&["init", "--preseed"]);
    util::run_with_input(&mut cmd, Some(PRESEED.as_bytes()), LXC_TIMEOUT).map(drop)
}

/// The daemon's HTTPS address as something to connect to, setting one on a free loopback
/// port if it has none. Returns the address and whether we changed the daemon's config
/// (so --socket mode can restore it).
///
/// `ours`: our own daemon keeps its address across runs but gets a new one if the old one
/// does not answer; a foreign daemon's configured address is not ours to change.
pub fn ensure_https(lxc: &Lxc, ours: bool) -> Result<(String, bool)> {
    ensure_https_on(lxc, ours, "127.0.0.1")
}

/// [`ensure_https`] on a given loopback address (a second server on 127.0.0.2, so the
/// addresses the servers give each other for migration are visibly different).
pub fn ensure_https_on(lxc: &Lxc, ours: bool, host: &str) -> Result<(String, bool)> {
    let configured = lxc.config_get("core.https_address")?;
    if !configured.is_empty() {
        let addr = connect_addr(&configured);
        if reachable(&addr, Duration::from_secs(2)) {
            return Ok((addr, false));
        }
        if !ours {
            return Err(Error(format!(
                "the daemon's core.https_address is {configured}, but nothing answers on {addr}"
            )));
        }
        say(format_args!(
            "core.https_address {configured} does not answer; choosing another port"
        ));
    }
    // A successful `config set` proves LXD itself bound the port (it refuses one it cannot
    // bind), which a connect test could not: another program may hold the port. A port
    // taken between our probe and LXD's bind gets another try.
    let mut failure = None;
    for _ in 0..3 {
        let addr = format!("{host}:{}", util::free_loopback_port()?);
        say(format_args!("setting core.https_address {addr}"));
        match lxc.config_set("core.https_address", &addr) {
            Ok(()) => return Ok((addr, true)),
            Err(e) => failure = Some(e),
        }
    }
    // LXD stores the value even when it refuses to bind it: put back what was there.
    let _ = if configured.is_empty() {
        lxc.config_unset("core.https_address")
    } else {
        lxc.config_set("core.https_address", &configured)
    };
    Err(failure.unwrap_or_else(|| Error("could not set core.https_address".to_owned())))
}

fn reachable(addr: &str, within: Duration) -> bool {
    let Some(sock) = addr.to_socket_addrs().ok().and_then(|mut a| a.next()) else {
        return false;
    };
    let deadline = Instant::now() + within;
    loop {
        if TcpStream::connect_timeout(&sock, Duration::from_secs(1)).is_ok() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(100));
    }
}

/// A listen address (`:8443`, `[::]:8443`, `0.0.0.0`, `127.0.0.1:9000`) as an address to
/// connect to: wildcards become loopback, a missing port is LXD's default 8443.
pub fn connect_addr(listen: &str) -> String {
    let (host, port) = if let Some(rest) = listen.strip_prefix('[') {
        match rest.split_once(']') {
            Some((host, tail)) => (host, tail.strip_prefix(':').unwrap_or("")),
            None => (rest, ""),
        }
    } else if listen.matches(':').count() == 1 {
        listen.split_once(':').unwrap_or((listen, ""))
    } else {
        (listen, "") // a bare host, or a bare IPv6 address
    };
    let port = if port.is_empty() { "8443" } else { port };
    let host = match host {
        "" | "0.0.0.0" | "::" => "127.0.0.1",
        h => h,
    };
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::connect_addr;

    #[test]
    fn listen_addresses_become_connectable() {
        assert_eq!(connect_addr("127.0.0.1:9000"), "127.0.0.1:9000");
        assert_eq!(connect_addr(":8443"), "127.0.0.1:8443");
        assert_eq!(connect_addr("[::]:8443"), "127.0.0.1:8443");
        assert_eq!(connect_addr("0.0.0.0"), "127.0.0.1:8443");
        assert_eq!(connect_addr("[::1]:9"), "[::1]:9");
        assert_eq!(connect_addr("::1"), "[::1]:8443");
    }
}
