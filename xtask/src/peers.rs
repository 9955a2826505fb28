//! The other servers of `cargo xtask integration`, beside the main daemon: a second
//! standalone daemon and a three-member cluster, all on loopback, for the cross-server
//! (copy, move, migration) and cluster tests.
//!
//! Each is a private daemon like the main one ([`Daemon`]: its own LXD_DIR, pid file, log,
//! shut down on every exit path unless `--keep`), so a developer's own LXD is never touched.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use crate::image::{self, Owner};
use crate::lxd::{self, Daemon, Kind, LXC_TIMEOUT, Lxc};
use crate::util::{self, Error, Result, say, secs};

/// The second standalone daemon's state dir, per server kind, and the loopback address its
/// HTTPS listens on (another address than the main daemon's 127.0.0.1, so the addresses the
/// servers give each other during a migration are visibly theirs).
fn second_dir(kind: Kind) -> &'static str {
    match kind {
        Kind::Lxd => "/var/lib/lxdrs-it2",
        Kind::Incus => "/var/lib/incusrs-it2",
        Kind::Incus7 => "/var/lib/lxdrs-sid/var/lib/incus7-it2",
    }
}
const SECOND_HOST: &str = "127.0.0.2";

/// The cluster, as ../shared/LXD-HERE.md recorded it working: member name, state dir,
/// cluster address. The addresses are stored in the cluster's database, so they are fixed;
/// each Incus's cluster uses another port, so all three may run at once.
fn members(kind: Kind) -> [(&'static str, &'static str, &'static str); 3] {
    match kind {
        Kind::Lxd => [
            ("node3", "/var/lib/lxdrs-c3", "127.0.0.3:8443"),
            ("node4", "/var/lib/lxdrs-c4", "127.0.0.4:8443"),
            ("node5", "/var/lib/lxdrs-c5", "127.0.0.5:8443"),
        ],
        Kind::Incus => [
            ("node3", "/var/lib/incusrs-c3", "127.0.0.3:8444"),
            ("node4", "/var/lib/incusrs-c4", "127.0.0.4:8444"),
            ("node5", "/var/lib/incusrs-c5", "127.0.0.5:8444"),
        ],
        Kind::Incus7 => [
            (
                "node3",
                "/var/lib/lxdrs-sid/var/lib/incus7-c3",
                "127.0.0.3:8445",
            ),
            (
                "node4",
                "/var/lib/lxdrs-sid/var/lib/incus7-c4",
                "127.0.0.4:8445",
            ),
            (
                "node5",
                "/var/lib/lxdrs-sid/var/lib/incus7-c5",
                "127.0.0.5:8445",
            ),
        ],
    }
}

/// The cluster's storage pool (a `dir` pool on every member).
const CLUSTER_POOL: &str = "local";

/// The running peers, and what the tests need to reach them.
pub struct Peers {
    kind: Kind,
    second: Daemon,
    second_https: String,
    cluster: Vec<Daemon>,
}

impl Peers {
    /// Starts (or reuses, after `--keep`) the second daemon and the cluster, initialising
    /// them on first use. A cluster whose state does not come back up is wiped and formed
    /// again, once.
    pub fn start(kind: Kind, lxd_bin: &Path, lxc_bin: &Path, keep: bool) -> Result<Peers> {
        let started = Instant::now();
        let second = Daemon::start_or_reuse(lxd_bin, Path::new(second_dir(kind)), keep)?;
        let lxc = second.lxc(lxc_bin);
        lxd::initialise(&second, &lxc)?;
        let (second_https, _) = lxd::ensure_https_on(&lxc, true, SECOND_HOST)?;

        let cluster = match start_cluster(kind, lxd_bin, lxc_bin, keep) {
            Ok(cluster) => cluster,
            Err(e) => {
                say(format_args!(
                    "the cluster did not come up ({e}); wiping its state and forming it again"
                ));
                wipe_cluster(kind)?;
                start_cluster(kind, lxd_bin, lxc_bin, keep)?
            }
        };
        let peers = Peers {
            kind,
            second,
            second_https,
            cluster,
        };
        image::ensure(&peers.cluster[0].lxc(lxc_bin), Owner::Ours)?;
        say(format_args!(
            "second server and cluster set up in {}",
            secs(started)
        ));
        Ok(peers)
    }

    /// The tests' environment for the peers (see the usage text in main.rs).
    pub fn export(&self, cmd: &mut Command) {
        let join = |f: &dyn Fn(usize) -> String| {
            (0..self.cluster.len()).map(f).collect::<Vec<_>>().join(",")
        };
        cmd.env("LXD_IT_SECOND_SOCKET", self.second.socket())
            .env("LXD_IT_SECOND_HTTPS", &self.second_https)
            .env("LXD_IT_SECOND_CERT", self.second.dir().join("server.crt"))
            .env(
                "LXD_IT_CLUSTER_SOCKETS",
                join(&|i| self.cluster[i].socket().display().to_string()),
            )
            .env(
                "LXD_IT_CLUSTER_HTTPS",
                join(&|i| members(self.kind)[i].2.to_owned()),
            )
            .env(
                "LXD_IT_CLUSTER_MEMBERS",
                join(&|i| members(self.kind)[i].0.to_owned()),
            )
            // Every member serves the cluster's certificate once it has joined.
            .env(
                "LXD_IT_CLUSTER_CERT",
                self.cluster[0].dir().join("cluster.crt"),
            )
            .env("LXD_IT_CLUSTER_POOL", CLUSTER_POOL);
    }

    /// Shuts every peer down (in parallel: each waits for its containers to stop).
    pub fn stop(self) -> Result<()> {
        let mut daemons = self.cluster;
        daemons.push(self.second);
        let errors: Vec<String> = thread::scope(|scope| {
            let handles: Vec<_> = daemons
                .iter_mut()
                .map(|daemon| scope.spawn(move || daemon.stop()))
                .collect();
            handles
                .into_iter()
                .filter_map(|h| match h.join() {
                    Ok(Ok(())) => None,
                    Ok(Err(e)) => Some(e.0),
                    Err(_) => Some("a shutdown thread panicked".to_owned()),
                })
                .collect()
        });
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error(errors.join("\n")))
        }
    }

    /// Where to look when a test fails.
    pub fn logs(&self) -> Vec<PathBuf> {
        std::iter::once(&self.second)
            .chain(&self.cluster)
            .map(Daemon::log)
            .collect()
    }
}

/// All three members running, forming the cluster on first use.
fn start_cluster(kind: Kind, lxd_bin: &Path, lxc_bin: &Path, keep: bool) -> Result<Vec<Daemon>> {
    let started = Instant::now();
    let members = members(kind);
    let formed = members
        .iter()
        .all(|(_, dir, _)| Path::new(dir).join("cluster.crt").exists());
    if formed {
        // The members of a formed cluster wait for each other (their database needs a
        // quorum), so all are started before any is waited on.
        let mut daemons = members
            .iter()
            .map(|(_, dir, _)| Daemon::spawn_or_reuse(lxd_bin, Path::new(dir), keep))
            .collect::<Result<Vec<_>>>()?;
        for daemon in &mut daemons {
            daemon.wait_ready()?;
        }
        wait_cluster_ready(kind, &daemons, lxc_bin, started)?;
        return Ok(daemons);
    }
    wipe_cluster(kind)?;
    let (name, dir, address) = members[0];
    say(format_args!("forming a cluster: {name} at {address}"));
    let first = Daemon::start_or_reuse(lxd_bin, Path::new(dir), keep)?;
    let first_lxc = first.lxc(lxc_bin);
    preseed(&first, &bootstrap_preseed(name, address))?;
    let mut daemons = vec![first];
    for (name, dir, address) in &members[1..] {
        say(format_args!("joining {name} at {address}"));
        let token = join_token(&first_lxc, name)?;
        let member = Daemon::start_or_reuse(lxd_bin, Path::new(dir), keep)?;
        preseed(&member, &join_preseed(name, address, members[0].2, &token))?;
        daemons.push(member);
    }
    wait_cluster_ready(kind, &daemons, lxc_bin, started)?;
    Ok(daemons)
}

fn preseed(daemon: &Daemon, yaml: &str) -> Result<()> {
    let mut cmd = daemon.lxd_command(&["init", "--preseed"]);
    util::run_with_input(&mut cmd, Some(yaml.as_bytes()), LXC_TIMEOUT).map(drop)
}

fn bootstrap_preseed(name: &str, address: &str) -> String {
    format!(
        "config:
  core.https_address: {address}
cluster:
  server_name: {name}
  enabled: true
storage_pools:
- name: {CLUSTER_POOL}
  driver: dir
profiles:
- name: default
  devices:
    root:
      path: /
      pool: {CLUSTER_POOL}
      type: disk
"
    )
}

/// The token goes in the preseed only, never on a command line (`ps` would show it).
fn join_preseed(name: &str, address: &str, cluster_address: &str, token: &str) -> String {
    format!(
        "cluster:
  enabled: true
  server_name: {name}
  server_address: {address}
  cluster_address: {cluster_address}
  cluster_token: {token}
  member_config:
  - entity: storage-pool
    name: {CLUSTER_POOL}
    key: source
    value: \"\"
"
    )
}

/// `lxc cluster add NAME` prints a line of text, then the token on the last line.
fn join_token(lxc: &Lxc, name: &str) -> Result<String> {
    let out = lxc.run(&["cluster", "add", name])?;
    out.lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| Error(format!("`lxc cluster add {name}` printed no token")))
}

/// Waits until the cluster works, not just answers. A member that answers `waitready` may
/// still (seen with Incus 6.0 and LXD 5.0.2 after a restart):
/// - list the others ONLINE from heartbeat times stored before the restart, and call one
///   OFFLINE seconds later when no heartbeat has come since;
/// - refuse to forward a request to another member ("Server isn't ready yet", "Missing event
///   connection with target cluster member") until its event connection to it is up, which
///   happens on the next heartbeat.
///
/// So the cluster is ready when every member forwards a request to every other one
/// (`GET /1.0?target=...`), and every member lists all three ONLINE at a time when a
/// heartbeat stored before `started` would already count as offline (the cluster's
/// `cluster.offline_threshold` after `started`, when this run started any member).
fn wait_cluster_ready(
    kind: Kind,
    daemons: &[Daemon],
    lxc_bin: &Path,
    started: Instant,
) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    let views: Vec<Lxc> = daemons.iter().map(|d| d.lxc(lxc_bin)).collect();
    // A cluster left running by `--keep` has no heartbeats from before a restart.
    let threshold = if daemons.iter().any(Daemon::spawned) {
        offline_threshold(&views[0])?
    } else {
        Duration::ZERO
    };
    let names: Vec<&str> = members(kind).iter().map(|m| m.0).collect();
    loop {
        let problem = if started.elapsed() <= threshold {
            Some(format!(
                "heartbeats stored before the start still count for {} s",
                threshold.saturating_sub(started.elapsed()).as_secs()
            ))
        } else {
            cluster_problem(&views, &names)
        };
        let Some(problem) = problem else {
            return Ok(());
        };
        if Instant::now() > deadline {
            return Err(Error(format!(
                "the cluster is not ready after 120 s: {problem}"
            )));
        }
        thread::sleep(Duration::from_millis(500));
    }
}

/// What still keeps the cluster from working, seen from each member in turn; `None` when
/// every member lists all ONLINE and forwards to every other one.
fn cluster_problem(views: &[Lxc], names: &[&str]) -> Option<String> {
    for (view, name) in views.iter().zip(names) {
        let list = match view.run(&["cluster", "list", "--format", "csv"]) {
            Ok(list) => list,
            Err(e) => return Some(format!("{name} cannot list the cluster: {e}")),
        };
        let online = list.lines().filter(|l| l.contains(",ONLINE,")).count();
        if online != names.len() {
            return Some(format!(
                "{name} lists {online} of {} members ONLINE:\n{}",
                names.len(),
                util::indent(&list)
            ));
        }
        for other in names.iter().filter(|n| *n != name) {
            if let Err(e) = view.query(&format!("/1.0?target={other}")) {
                return Some(format!("{name} cannot forward to {other}: {e}"));
            }
        }
    }
    None
}

/// The cluster's `cluster.offline_threshold` (LXD's default: 20 s).
fn offline_threshold(lxc: &Lxc) -> Result<Duration> {
    let value = lxc.config_get("cluster.offline_threshold")?;
    let secs = if value.is_empty() {
        20
    } else {
        value.parse().map_err(|_| {
            Error(format!(
                "cluster.offline_threshold is not a number: {value:?}"
            ))
        })?
    };
    Ok(Duration::from_secs(secs))
}

/// Removes the members' state (never while they run: callers stop them first, and a
/// running member is refused here).
fn wipe_cluster(kind: Kind) -> Result<()> {
    for (_, dir, _) in members(kind) {
        let dir = Path::new(dir);
        if lxd::answers(&lxd::socket_of(dir)) {
            return Err(Error(format!(
                "a daemon still runs on {}; stop it before its state is wiped",
                dir.display()
            )));
        }
        if dir.exists() {
            unmount_below(dir);
            fs::remove_dir_all(dir)
                .map_err(|e| Error(format!("cannot remove {}: {e}", dir.display())))?;
        }
    }
    Ok(())
}

/// LXD leaves mounts below its dir (shmounts, devlxd) after a crash; lazily unmount them,
/// deepest first, so removing the dir cannot descend into a mounted filesystem.
fn unmount_below(dir: &Path) {
    let mounts = fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let mut below: Vec<&str> = mounts
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .filter(|m| Path::new(m).starts_with(dir))
        .collect();
    below.sort_by_key(|m| std::cmp::Reverse(m.len()));
    for mount in below {
        let _ = Command::new("umount").args(["-l", mount]).output();
    }
}
