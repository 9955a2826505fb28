//! The test image: a container rootfs made of the host's static busybox, built locally and
//! imported once (there is no image server to download from, and tests must not go online).

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::lxd::Lxc;
use crate::util::{self, Context, Error, Result, TempDir, say, secs};

/// The alias tests launch from (`LXD_IT_IMAGE`).
pub const ALIAS: &str = "busybox";

/// From Debian's busybox-static; the container has no libc, so it must be static.
const BUSYBOX: &str = "/bin/busybox";

/// Applets linked into /bin. The first row is what was verified by hand (see
/// shared/LXD-HERE.md); the rest are what tests use to look at a container from inside.
const APPLETS: &[&str] = &[
    "sh",
    "ls",
    "cat",
    "echo",
    "sleep",
    "mkdir",
    "rm",
    "mount", //
    "tty",
    "env",
    "pwd",
    "true",
    "false",
    "head",
    "id",
    "kill",
    "ps",
    "stat",
    "touch",
    "chmod",
    "ln",
    "sha256sum",
    "wc",
    "dd",
    "cp",
    "mv", //
    "umount",
    "grep",
    "printf",
    "test",
    "uname",
    "hostname",
    "tail",
    "tr",
    "cut",
    "seq",
    "sed",
    "sync",
    "whoami",
    "readlink",
    "yes",
    "date",
    "df",
    "du",
    "rmdir",
    "basename",
    "dirname",
    "md5sum",
    "base64",
    "halt",
    "poweroff",
    "reboot",
    "timeout",
    "xargs",
    "find",
];

/// Empty directories LXD and busybox expect (mount points, a writable /tmp, root's home).
const DIRS: &[(&str, u32)] = &[
    ("bin", 0o755),
    ("sbin", 0o755),
    ("etc", 0o755),
    ("proc", 0o555),
    ("sys", 0o555),
    ("dev", 0o755),
    ("tmp", 0o1777),
    ("root", 0o700),
    ("var", 0o755),
    ("run", 0o755),
    ("mnt", 0o755),
    ("usr", 0o755),
    ("usr/bin", 0o755),
    ("usr/sbin", 0o755),
];

/// So `id`, `whoami` and `lxc exec --user 0` see names, not bare numbers.
const FILES: &[(&str, &str)] = &[
    ("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"),
    ("etc/group", "root:x:0:\n"),
    ("etc/hostname", "busybox\n"),
];

/// Bump when the rootfs changes in a way the lists above do not show.
const LAYOUT_REVISION: &str = "1";

/// An image LXD knows, and whether this run imported it (so --socket mode removes it again).
pub struct Image {
    pub alias: String,
    pub fingerprint: String,
    pub imported: bool,
}

/// Who may replace an image under the alias that is not this xtask's current layout.
pub enum Owner {
    /// Our private daemon: replace it (an older xtask built it).
    Ours,
    /// Someone else's daemon: leave theirs alone, import ours under this alias instead.
    Shared { fallback_alias: String },
}

/// The `busybox` image with this xtask's layout, imported unless already there.
///
/// The layout is stamped into an image property, so a later xtask with more applets does
/// not silently reuse an older image; the check costs two `lxc query` calls.
pub fn ensure(lxc: &Lxc, owner: Owner) -> Result<Image> {
    let arch = lxd_arch()?;
    let stamp = layout_stamp(&arch);
    let mut alias = ALIAS.to_owned();
    if let Some(fingerprint) = alias_target(lxc, ALIAS)? {
        let image = lxc.query(&format!("/1.0/images/{fingerprint}?project=default"))?;
        if util::json_string_field(&image, "lxdrs.layout").as_deref() == Some(stamp.as_str()) {
            say(format_args!(
                "image `{ALIAS}` ({}) is already imported",
                &fingerprint[..12.min(fingerprint.len())]
            ));
            return Ok(Image {
                alias,
                fingerprint,
                imported: false,
            });
        }
        match owner {
            Owner::Ours => {
                say(format_args!(
                    "image `{ALIAS}` has another layout than this xtask builds; replacing it"
                ));
                lxc.run(&["image", "delete", "--project", "default", &fingerprint])?;
            }
            Owner::Shared { fallback_alias } => {
                say(format_args!(
                    "the daemon's image `{ALIAS}` was not built by this xtask; importing ours as `{fallback_alias}`"
                ));
                alias = fallback_alias;
            }
        }
    }
    let fingerprint = import(lxc, &alias, &arch, &stamp)?;
    Ok(Image {
        alias,
        fingerprint,
        imported: true,
    })
}

/// The fingerprint an alias in the default project points to, if the alias exists.
fn alias_target(lxc: &Lxc, alias: &str) -> Result<Option<String>> {
    // Listing first (rather than reading the alias and matching a "not found" message)
    // keeps real errors errors.
    let aliases = lxc.query("/1.0/images/aliases?project=default")?;
    if !aliases.contains(&format!("\"/1.0/images/aliases/{alias}\"")) {
        return Ok(None);
    }
    let json = lxc.query(&format!("/1.0/images/aliases/{alias}?project=default"))?;
    util::json_string_field(&json, "target")
        .map(Some)
        .ok_or_else(|| Error(format!("no target in image alias `{alias}`:\n{json}")))
}

fn import(lxc: &Lxc, alias: &str, arch: &str, stamp: &str) -> Result<String> {
    let started = Instant::now();
    let tmp = TempDir::new("lxdrs-image")?;
    let tarball = build(tmp.path(), arch, stamp)?;
    say(format_args!("importing {} as `{alias}`", tarball.display()));
    let path = tarball.to_string_lossy();
    let mut cmd = lxc.command(&[
        "image",
        "import",
        &path,
        "--alias",
        alias,
        "--project",
        "default",
    ]);
    util::run(&mut cmd, Duration::from_secs(300))?;
    let fingerprint = alias_target(lxc, alias)?
        .ok_or_else(|| Error(format!("alias `{alias}` missing right after the import")))?;
    say(format_args!("image imported in {}", secs(started)));
    Ok(fingerprint)
}

/// Builds `busybox.tar.gz` (a unified image: metadata.yaml + rootfs/) in `dir`.
pub fn build(dir: &Path, arch: &str, stamp: &str) -> Result<PathBuf> {
    let busybox = find_static_busybox().map_err(Error)?;
    check_applets(&busybox)?;
    let rootfs = dir.join("rootfs");
    let mkdir = |rel: &str, mode: u32| -> Result<()> {
        let path = rootfs.join(rel);
        fs::create_dir_all(&path).context(|| format!("cannot create {}", path.display()))?;
        // Explicit modes: the umask must not decide what the container sees.
        fs::set_permissions(&path, fs::Permissions::from_mode(mode))
            .context(|| format!("cannot chmod {}", path.display()))
    };
    mkdir("", 0o755)?;
    for (rel, mode) in DIRS {
        mkdir(rel, *mode)?;
    }
    let target = rootfs.join("bin/busybox");
    fs::copy(&busybox, &target)
        .context(|| format!("cannot copy {} to {}", busybox.display(), target.display()))?;
    fs::set_permissions(&target, fs::Permissions::from_mode(0o755))
        .context(|| format!("cannot chmod {}", target.display()))?;
    let link = |to: &str, at: &str| {
        let at = rootfs.join(at);
        symlink(to, &at).context(|| format!("cannot create symlink {}", at.display()))
    };
    for applet in APPLETS {
        link("busybox", &format!("bin/{applet}"))?;
    }
    link("../bin/busybox", "sbin/init")?;
    for (rel, text) in FILES {
        let path = rootfs.join(rel);
        fs::write(&path, text).context(|| format!("cannot write {}", path.display()))?;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644))
            .context(|| format!("cannot chmod {}", path.display()))?;
    }

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let metadata = format!(
        "architecture: \"{arch}\"\n\
         creation_date: {now}\n\
         properties:\n\
         \x20 description: \"busybox test image (lxd-rs xtask)\"\n\
         \x20 os: \"busybox\"\n\
         \x20 release: \"static\"\n\
         \x20 lxdrs.layout: \"{stamp}\"\n"
    );
    let meta_path = dir.join("metadata.yaml");
    fs::write(&meta_path, metadata).context(|| format!("cannot write {}", meta_path.display()))?;

    let tarball = dir.join("busybox.tar.gz");
    let mut tar = Command::new("tar");
    // Owned by root inside the container whoever builds it (--socket mode may run as a
    // member of the lxd group, not root).
    tar.args(["--numeric-owner", "--owner=0", "--group=0", "-czf"])
        .arg(&tarball)
        .arg("-C")
        .arg(dir)
        .args(["metadata.yaml", "rootfs"]);
    util::run(&mut tar, Duration::from_secs(120))?;
    Ok(tarball)
}

/// The static busybox, or why there is none usable (missing, or the dynamic one from the
/// `busybox` package, which could not run in a rootfs without libc).
pub fn find_static_busybox() -> std::result::Result<PathBuf, String> {
    let path = PathBuf::from(BUSYBOX);
    let bytes = fs::read(&path).map_err(|e| format!("a static busybox ({BUSYBOX}: {e})"))?;
    match elf_is_static(&bytes) {
        Some(true) => Ok(path),
        Some(false) => Err(format!(
            "a static busybox ({BUSYBOX} is dynamically linked: package busybox, not busybox-static)"
        )),
        None => Err(format!(
            "a static busybox ({BUSYBOX} is not an ELF executable)"
        )),
    }
}

/// An ELF without a PT_INTERP program header needs no dynamic loader.
fn elf_is_static(elf: &[u8]) -> Option<bool> {
    if elf.get(..4)? != b"\x7fELF" {
        return None;
    }
    let wide = *elf.get(4)? == 2;
    let big = *elf.get(5)? == 2;
    let num = |at: usize, len: usize| -> Option<u64> {
        let b = elf.get(at..at + len)?;
        let mut v = 0u64;
        for i in 0..len {
            let byte = if big { b[i] } else { b[len - 1 - i] };
            v = (v << 8) | u64::from(byte);
        }
        Some(v)
    };
    let (phoff, phentsize, phnum) = if wide {
        (num(0x20, 8)?, num(0x36, 2)?, num(0x38, 2)?)
    } else {
        (num(0x1c, 4)?, num(0x2a, 2)?, num(0x2c, 2)?)
    };
    const PT_INTERP: u64 = 3;
    for i in 0..phnum {
        let at = usize::try_from(phoff + i * phentsize).ok()?;
        if num(at, 4)? == PT_INTERP {
            return Some(false);
        }
    }
    Some(true)
}

/// Every applet we link must exist in this busybox build, or a test fails far from the cause.
fn check_applets(busybox: &Path) -> Result<()> {
    let list = util::run(Command::new(busybox).arg("--list"), Duration::from_secs(10))?;
    let have: Vec<&str> = list.lines().map(str::trim).collect();
    let absent: Vec<&str> = APPLETS
        .iter()
        .chain(&["init"])
        .copied()
        .filter(|a| !have.contains(a))
        .collect();
    if absent.is_empty() {
        Ok(())
    } else {
        Err(Error(format!(
            "{} lacks applets the test image needs: {}",
            busybox.display(),
            absent.join(" ")
        )))
    }
}

/// LXD's name for the host architecture. LXD uses the kernel's names (`uname -m`), plus a
/// few aliases we normalise (a 64-bit kernel reports aarch64/x86_64 already).
pub fn lxd_arch() -> Result<String> {
    let machine = util::run(Command::new("uname").arg("-m"), Duration::from_secs(10))?;
    let arch = match machine.trim() {
        "amd64" => "x86_64",
        "arm64" => "aarch64",
        "armv8l" | "armv7" => "armv7l",
        "i386" | "i586" => "i686",
        other => other,
    };
    Ok(arch.to_owned())
}

/// A stable digest of everything that shapes the rootfs (FNV-1a: std's hasher may change
/// between Rust releases, and a changed stamp costs a needless re-import).
fn layout_stamp(arch: &str) -> String {
    let mut text = format!("{LAYOUT_REVISION}|{arch}|{}|", APPLETS.join(","));
    for (dir, mode) in DIRS {
        text.push_str(&format!("{dir}:{mode:o},"));
    }
    for (path, content) in FILES {
        text.push_str(&format!("{path}={content},"));
    }
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elf_static_detection() {
        // /bin/sh is dynamically linked on every distribution this runs on.
        let sh = fs::read("/bin/sh").unwrap();
        assert_eq!(elf_is_static(&sh), Some(false));
        assert_eq!(elf_is_static(b"#!/bin/sh\n"), None);
    }

    #[test]
    fn stamp_is_stable() {
        assert_eq!(layout_stamp("x86_64"), layout_stamp("x86_64"));
        assert_ne!(layout_stamp("x86_64"), layout_stamp("aarch64"));
    }
}
