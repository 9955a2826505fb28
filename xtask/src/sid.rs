//! Incus 7.0 beside the host's LXD 5.0 and Incus 6.0: Debian sid carries it, but it cannot
//! be installed into this bookworm system, so it runs from a sid root file system of its own
//! (../shared/LXD-HERE.md, "Incus 7.0 LTS from Debian sid, in its own root").
//!
//! - The root is built once with debootstrap (installed when missing) from the mirror apt
//!   already uses, completed by a marker file; a root without the marker is built again.
//! - Each daemon runs in a private mount namespace whose root IS that file system (plain
//!   `chroot` does not do: the kernel refuses new user namespaces to a chrooted process).
//!   The mounts exist only in that namespace, so nothing stays mounted on the host, and they
//!   vanish with the daemon. The host reaches the daemon through its unix socket, which is
//!   an ordinary file under the root, and drives it with its own `incus` client.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::lxd;
use crate::util::{self, Context, Error, Result, say, secs};

/// The sid root file system. Under /var/lib, like the other daemons' dirs: containers run as
/// a high uid and must traverse every parent of their daemon's dir.
pub const ROOT: &str = "/var/lib/lxdrs-sid";

/// What goes into the root besides debootstrap's minimal base: the daemon without QEMU
/// (VMs cannot run here anyway), the sysusers tool its package scripts call, and busybox.
const PACKAGES: &[&str] = &[
    "incus-base",
    "systemd-standalone-sysusers",
    "busybox-static",
];

/// Written last by a successful build; its content names what was built, so a root built
/// from another package list (an older xtask) is built again.
const MARKER: &str = ".lxdrs-rootfs";

/// The script that starts a daemon in the root (see [`LAUNCHER`]), kept in the root so a
/// test that restarts the daemon can start it the same way (`LXD_IT_DAEMON_START`).
const LAUNCHER_NAME: &str = ".lxdrs-start";

/// The daemon's outgoing HTTP(S) goes to a closed loopback port, as for the host daemons
/// (see lxd.rs): tests never send traffic off the machine.
const LAUNCHER: &str = r#"#!/bin/sh
# Starts Incus from the sid root file system @ROOT@ (written by cargo xtask, xtask/src/sid.rs).
# Usage: sh @ROOT@/.lxdrs-start INCUS_DIR   (the state dir as the daemon sees it)
# Every step execs the next, so the daemon keeps this process's pid.
set -eu
root='@ROOT@'
if [ "${LXDRS_SID_NS:-}" != 1 ]; then
    export LXDRS_SID_NS=1
    exec unshare --mount --propagation private /bin/sh "$0" "$@"
fi
# A private mount namespace: nothing below reaches the host's mount table.
mount --rbind "$root" "$root"
cd "$root"
mount -t proc proc proc
mount -t sysfs sysfs sys
# A pure cgroup2: LXC 7 rejects the host's hybrid layout (v1 controllers and an empty v2).
mount -t cgroup2 cgroup2 sys/fs/cgroup
mount --rbind /dev dev
mount -t tmpfs -o mode=755 tmpfs run
mount -t tmpfs -o mode=1777 tmpfs tmp
pivot_root . .oldroot
cd /
/bin/busybox umount -l /.oldroot
exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin INCUS_DIR="$1" \
    https_proxy=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 \
    http_proxy=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 \
    /usr/libexec/incus/incusd --group root
"#;

/// The daemon as the host sees it (for [`lxd::Kind::Incus7`]'s `find_daemon`).
pub fn daemon_path() -> PathBuf {
    Path::new(ROOT).join("usr/libexec/incus/incusd")
}

/// A state dir under the root as the daemon sees it (its `INCUS_DIR`); `None` for a dir
/// outside the root (a host daemon's).
pub fn inside(dir: &Path) -> Option<PathBuf> {
    dir.strip_prefix(ROOT)
        .ok()
        .map(|rel| Path::new("/").join(rel))
}

/// The launcher script (see [`LAUNCHER`]).
pub fn launcher() -> PathBuf {
    Path::new(ROOT).join(LAUNCHER_NAME)
}

/// The command that starts the daemon of `dir` (a host path under [`ROOT`]); the process
/// it starts becomes the daemon, same pid.
pub fn daemon_command(dir: &Path) -> Result<Command> {
    let inner = inside(dir).ok_or_else(|| {
        Error(format!(
            "{} is not under the sid root {ROOT}",
            dir.display()
        ))
    })?;
    let mut cmd = Command::new("/bin/sh");
    cmd.arg(launcher()).arg(inner).current_dir("/");
    Ok(cmd)
}

fn marker_text() -> String {
    format!("packages: {}\n", PACKAGES.join(" "))
}

/// The sid root with Incus 7 in it, built unless a complete one is there; the launcher
/// script is (re)written either way, so it always matches this xtask.
pub fn ensure_rootfs() -> Result<()> {
    let root = Path::new(ROOT);
    let marker = fs::read_to_string(root.join(MARKER)).unwrap_or_default();
    if marker.starts_with(&marker_text()) && util::is_executable(&daemon_path()) {
        say(format_args!(
            "reusing the sid root {ROOT} ({})",
            last_line(&marker)
        ));
    } else {
        build(root)?;
    }
    let launcher = launcher();
    fs::write(&launcher, LAUNCHER.replace("@ROOT@", ROOT))
        .context(|| format!("cannot write {}", launcher.display()))?;
    Ok(())
}

fn last_line(text: &str) -> &str {
    text.lines().last().unwrap_or_default()
}

/// debootstrap into a fresh dir beside the root, the packages on top, the marker, and only
/// then the rename: an interrupted build never looks complete.
fn build(root: &Path) -> Result<()> {
    if !(util::is_root() && Path::new("/etc/debian_version").exists()) {
        return Err(Error(format!(
            "Incus 7.0 runs from a Debian sid root file system ({ROOT}) that xtask builds \
             with debootstrap; that needs root on Debian"
        )));
    }
    let started = Instant::now();
    if util::find_program("debootstrap", &["/usr/sbin/debootstrap"], true).is_none() {
        say("debootstrap is missing; installing it");
        lxd::apt_install(&["debootstrap"])?;
    }
    // A root without its marker may still hold an old daemon's state: never pull it from
    // under a running daemon (one left by --keep).
    if root.exists() {
        if let Some(socket) = running_daemon_below(root) {
            return Err(Error(format!(
                "{ROOT} is incomplete but a daemon still answers on {}; stop it first",
                socket.display()
            )));
        }
        say(format_args!(
            "{ROOT} is incomplete (no {MARKER}); building it again"
        ));
        remove(root)?;
    }
    let new = PathBuf::from(format!("{ROOT}.new"));
    if new.exists() {
        remove(&new)?;
    }
    let mirror = apt_mirror();
    say(format_args!(
        "building the sid root file system for Incus 7.0 (debootstrap from {mirror}, then {})",
        PACKAGES.join(" ")
    ));
    let mut debootstrap = Command::new("debootstrap");
    debootstrap
        .args(["--variant=minbase", "sid"])
        .arg(&new)
        .arg(&mirror);
    util::run_inherit_ok(&mut debootstrap)?;
    say(format_args!("debootstrap done in {}", secs(started)));

    // Package scripts must not start services (there is no init here, and the daemon is
    // ours to start); apt inside needs a resolver.
    let policy = new.join("usr/sbin/policy-rc.d");
    fs::write(&policy, "#!/bin/sh\nexit 101\n")
        .context(|| format!("cannot write {}", policy.display()))?;
    fs::set_permissions(&policy, fs::Permissions::from_mode(0o755))
        .context(|| format!("cannot chmod {}", policy.display()))?;
    if let Ok(resolv) = fs::read("/etc/resolv.conf") {
        let _ = fs::remove_file(new.join("etc/resolv.conf"));
        fs::write(new.join("etc/resolv.conf"), resolv)
            .context(|| "cannot copy resolv.conf into the root".to_owned())?;
    }
    // proc and /dev for apt, mounted in a private namespace so they vanish with it. sid's
    // Release file can be past its Valid-Until against this machine's clock.
    let script = format!(
        "set -eu
root=\"$1\"
mount -t proc proc \"$root/proc\"
mount --rbind /dev \"$root/dev\"
chroot \"$root\" apt-get -o Acquire::Check-Valid-Until=false update
chroot \"$root\" apt-get install -y --no-install-recommends {}
chroot \"$root\" apt-get clean
",
        PACKAGES.join(" ")
    );
    let mut install = Command::new("unshare");
    install
        .args(["--mount", "--propagation", "private", "/bin/sh", "-c"])
        .arg(script)
        .arg("sh")
        .arg(&new)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .env("LC_ALL", "C.UTF-8");
    util::run_inherit_ok(&mut install)?;
    // The launcher's pivot_root puts the old root here.
    fs::create_dir_all(new.join(".oldroot")).context(|| "cannot create .oldroot".to_owned())?;
    fs::set_permissions(&new, fs::Permissions::from_mode(0o755))
        .context(|| format!("cannot chmod {}", new.display()))?;

    let version = util::run(
        Command::new("chroot").arg(&new).args([
            "dpkg-query",
            "-W",
            "-f",
            "${Version}",
            "incus-base",
        ]),
        Duration::from_secs(30),
    )?;
    fs::write(
        new.join(MARKER),
        format!("{}incus-base {version}\n", marker_text()),
    )
    .context(|| format!("cannot write the marker in {}", new.display()))?;
    fs::rename(&new, root).context(|| format!("cannot rename {} to {ROOT}", new.display()))?;
    say(format_args!(
        "sid root file system with incus-base {version} built in {}",
        secs(started)
    ));
    Ok(())
}

/// The Debian archive apt already uses (its mirror of the host's own suite), else Debian's
/// default mirror.
fn apt_mirror() -> String {
    let mut texts = vec![fs::read_to_string("/etc/apt/sources.list").unwrap_or_default()];
    if let Ok(dir) = fs::read_dir("/etc/apt/sources.list.d") {
        let mut paths: Vec<PathBuf> = dir.flatten().map(|e| e.path()).collect();
        paths.sort();
        for path in paths {
            let name = path.to_string_lossy();
            if name.ends_with(".list") || name.ends_with(".sources") {
                texts.push(fs::read_to_string(&path).unwrap_or_default());
            }
        }
    }
    texts
        .iter()
        .find_map(|text| mirror_in(text))
        .unwrap_or_else(|| "http://deb.debian.org/debian".to_owned())
}

/// The first URI in an apt sources text (one-line or deb822 form) that serves Debian's main
/// archive: a suite without `-security`, and not a third-party repository (its suites are
/// not Debian's).
fn mirror_in(text: &str) -> Option<String> {
    let debian_suite = |s: &str| {
        let base = s.split('-').next().unwrap_or(s);
        !s.contains("security")
            && [
                "bookworm", "trixie", "forky", "sid", "unstable", "stable", "testing", "bullseye",
            ]
            .contains(&base)
    };
    // One-line form: deb [options] URI suite components...
    for line in text.lines().map(str::trim) {
        let Some(rest) = line.strip_prefix("deb ") else {
            continue;
        };
        let rest = match rest.trim_start().strip_prefix('[') {
            Some(opts) => opts.split_once(']').map_or("", |(_, r)| r),
            None => rest,
        };
        let mut words = rest.split_whitespace();
        if let (Some(uri), Some(suite)) = (words.next(), words.next())
            && debian_suite(suite)
        {
            return Some(uri.trim_end_matches('/').to_owned());
        }
    }
    // deb822 form: stanzas separated by blank lines.
    for stanza in text.split("\n\n") {
        let field = |name: &str| {
            stanza.lines().find_map(|l| {
                let (key, value) = l.split_once(':')?;
                (key.trim().eq_ignore_ascii_case(name)).then(|| value.trim().to_owned())
            })
        };
        let enabled = field("Enabled").is_none_or(|v| v != "no");
        let types = field("Types").unwrap_or_default();
        if !enabled || !types.split_whitespace().any(|t| t == "deb") {
            continue;
        }
        let suites = field("Suites").unwrap_or_default();
        if suites.split_whitespace().any(debian_suite)
            && let Some(uri) = field("URIs")
                .as_deref()
                .and_then(|u| u.split_whitespace().next())
        {
            return Some(uri.trim_end_matches('/').to_owned());
        }
    }
    None
}

/// A unix socket of a daemon under `root` that still answers.
fn running_daemon_below(root: &Path) -> Option<PathBuf> {
    let var_lib = root.join("var/lib");
    fs::read_dir(var_lib)
        .ok()?
        .flatten()
        .map(|e| lxd::socket_of(&e.path()))
        .find(|socket| socket.exists() && lxd::answers(socket))
}

/// Removes a root file system. Its mounts only ever live in private namespaces, so there is
/// nothing mounted below it to descend into.
fn remove(dir: &Path) -> Result<()> {
    let started = Instant::now();
    fs::remove_dir_all(dir).context(|| format!("cannot remove {}", dir.display()))?;
    say(format_args!(
        "removed {} in {}",
        dir.display(),
        secs(started)
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{inside, mirror_in};
    use std::path::Path;

    #[test]
    fn mirror_from_deb822_skips_security() {
        let text = "Types: deb\nURIs: http://deb.debian.org/debian-security\n\
                    Suites: bookworm-security\nComponents: main\n\n\
                    Types: deb\nURIs: http://mirror.example/debian/\n\
                    Suites: bookworm bookworm-updates\nComponents: main\n";
        assert_eq!(
            mirror_in(text).as_deref(),
            Some("http://mirror.example/debian")
        );
    }

    #[test]
    fn mirror_from_one_line_form_with_options() {
        let text = "# comment\ndeb [arch=amd64] https://packages.example/apt cloud-sdk-bookworm main\n\
                    deb [signed-by=/k.gpg] http://ftp.de.debian.org/debian bookworm main\n";
        assert_eq!(
            mirror_in(text).as_deref(),
            Some("http://ftp.de.debian.org/debian")
        );
        assert_eq!(mirror_in("deb https://x.example/apt nodistro main\n"), None);
    }

    #[test]
    fn dirs_inside_the_root() {
        assert_eq!(
            inside(Path::new("/var/lib/lxdrs-sid/var/lib/incus7-it")).as_deref(),
            Some(Path::new("/var/lib/incus7-it"))
        );
        assert_eq!(inside(Path::new("/var/lib/incusrs-it")), None);
    }
}
