//! Files on this machine, reached relative to directories held open, never through a path
//! that another local process could re-point while a transfer runs.
//!
//! Why: a pull writes where a local user may write too. Written by path, a directory of the
//! destination swapped for a symlink between two steps sends the next file wherever the link
//! points. Here every step below the top directory is an `*at` call on an open directory
//! (`openat`, `mkdirat`, `renameat`, `unlinkat`, `symlinkat`) with `O_NOFOLLOW`: a link that
//! appears mid-transfer is never followed, and a directory moved away takes our writes with it
//! instead of redirecting them. The top directory is the caller's choice and is opened by path
//! once (a symlink there is followed, as the caller named it).
//!
//! Content goes to a fresh temporary name (`.lxd-part-*`, `O_CREAT | O_EXCL`, so nothing already
//! there, symlinks included, is opened) in the destination's directory; only when complete is it
//! renamed over the final name, which replaces a file or symlink there instead of writing
//! through it. A temporary that is not committed (an error, a dropped future) is removed,
//! relative to the same open directory.
//!
//! Modes: what a server reports is masked to the permission bits (`0o777`) and created with
//! them, so the kernel applies the process umask (or the directory's default ACL) exactly as
//! for any other program. setuid, setgid and sticky are added afterwards only when the caller
//! asked for them.

use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::fs::{AtFlags, FileType, Mode, OFlags};

use crate::error::{Error, Result};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// The permission bits (rwx for user, group, other).
pub(crate) const PERMISSION_BITS: u32 = 0o777;
/// setuid, setgid and sticky.
pub(crate) const SPECIAL_BITS: u32 = 0o7000;

/// Runs a blocking file system call off the async runtime (as `tokio::fs` does).
async fn blocking<T, F>(context: impl FnOnce() -> String, f: F) -> Result<T>
where
    F: FnOnce() -> std::io::Result<T> + Send + 'static,
    T: Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result.map_err(|e| Error::io(context(), e)),
        Err(e) => Err(Error::io(context(), std::io::Error::other(e))),
    }
}

/// A file's identity, to recognise it again after a second lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Identity {
    dev: u64,
    ino: u64,
}

#[allow(clippy::unnecessary_cast)] // the field types differ between platforms
fn identity(stat: &rustix::fs::Stat) -> Identity {
    Identity {
        dev: stat.st_dev as u64,
        ino: stat.st_ino as u64,
    }
}

#[allow(clippy::unnecessary_cast)]
fn file_type(stat: &rustix::fs::Stat) -> FileType {
    FileType::from_raw_mode(stat.st_mode as _)
}

#[allow(clippy::unnecessary_cast)]
pub(crate) fn mode_bits(stat: &rustix::fs::Stat) -> u32 {
    stat.st_mode as u32 & (PERMISSION_BITS | SPECIAL_BITS)
}

fn mode(bits: u32) -> Mode {
    Mode::from_bits_truncate(bits as _)
}

/// Opens `name` in `dir` as a directory without following a symlink.
fn open_child_dir(dir: impl AsFd, name: &OsStr) -> std::io::Result<OwnedFd> {
    let fd = rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| match e {
        // What O_NOFOLLOW | O_DIRECTORY answer for a symlink or a non-directory.
        rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR => std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "something that is not a directory is there (symlinks are never followed)",
        ),
        other => other.into(),
    })?;
    Ok(fd)
}

/// A directory held open: everything below it is reached relative to it.
#[derive(Debug, Clone)]
pub(crate) struct LocalDir {
    fd: Arc<OwnedFd>,
    /// For messages only: never used to reach anything.
    path: PathBuf,
}

/// How a pull sets the mode of what it creates.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ModePolicy {
    /// Also set setuid, setgid and sticky when the server reports them.
    pub(crate) keep_special: bool,
    /// Give created entries this owner (uid, gid).
    pub(crate) owner: Option<(u32, u32)>,
}

impl ModePolicy {
    fn special(&self, reported: u32) -> u32 {
        if self.keep_special {
            reported & SPECIAL_BITS
        } else {
            0
        }
    }
}

/// A directory a pull created, to be given its final mode once filled.
#[derive(Debug, Clone)]
pub(crate) struct MadeDir {
    /// Names from the top of the transfer down to it.
    pub(crate) components: Vec<String>,
    identity: Identity,
    /// The permission bits it got at creation (the umask applied).
    created_bits: u32,
    /// What the server reported (special bits come from here when kept).
    reported: u32,
}

impl LocalDir {
    /// Opens the directory at `path` (the caller's path: a symlink in it is followed).
    pub(crate) async fn open(path: &Path) -> Result<LocalDir> {
        let owned = path.to_path_buf();
        let fd = blocking(
            || format!("opening directory {}", path.display()),
            move || {
                Ok(rustix::fs::open(
                    &owned,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                    Mode::empty(),
                )?)
            },
        )
        .await?;
        Ok(LocalDir {
            fd: Arc::new(fd),
            path: path.to_path_buf(),
        })
    }

    /// Opens the top directory of a pull, creating it (and its parents) when missing. A
    /// directory it creates gets `reported`'s permission bits under the umask, and is
    /// returned as made so that it gets its final mode at the end; an existing one is used
    /// as it is and never re-moded.
    pub(crate) async fn open_or_create_top(
        path: &Path,
        reported: u32,
    ) -> Result<(LocalDir, Option<MadeDir>)> {
        let owned = path.to_path_buf();
        let created = blocking(
            || format!("creating {}", path.display()),
            move || {
                if let Some(parent) = owned.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent)?;
                }
                match rustix::fs::mkdir(&owned, mode(reported & PERMISSION_BITS)) {
                    Ok(()) => Ok(true),
                    Err(rustix::io::Errno::EXIST) => Ok(false),
                    Err(e) => Err(e.into()),
                }
            },
        )
        .await?;
        let dir = LocalDir::open(path).await?;
        if !created {
            return Ok((dir, None));
        }
        let made = dir.made(Vec::new(), reported).await?;
        Ok((dir, Some(made)))
    }

    /// Opens the directory holding `target` and names the entry in it; the directory is the
    /// caller's (reached by path), the entry is then only reached relative to it.
    pub(crate) async fn parent_of(target: &Path) -> Result<(LocalDir, OsString)> {
        let Some(name) = target.file_name() else {
            return Err(Error::invalid(
                "local path",
                format!("{} does not name a file", target.display()),
            ));
        };
        let dir = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        Ok((LocalDir::open(dir).await?, name.to_os_string()))
    }

    /// The path of `name` in this directory, for messages.
    pub(crate) fn display(&self, name: &OsStr) -> String {
        self.path.join(name).display().to_string()
    }

    /// Records a directory this pull just created (opened as `self`) so that it gets its
    /// final mode later, and makes it writable for us until then.
    async fn made(&self, components: Vec<String>, reported: u32) -> Result<MadeDir> {
        let fd = self.fd.clone();
        let (identity, created_bits) = blocking(
            || format!("inspecting {}", self.path.display()),
            move || {
                let stat = rustix::fs::fstat(&*fd)?;
                let bits = mode_bits(&stat) & PERMISSION_BITS;
                // Filled first, moded last: a read-only directory must stay writable to us
                // until its content is in.
                if bits & 0o700 != 0o700 {
                    rustix::fs::fchmod(&*fd, mode(bits | 0o700))?;
                }
                Ok((identity(&stat), bits))
            },
        )
        .await?;
        Ok(MadeDir {
            components,
            identity,
            created_bits,
            reported,
        })
    }

    /// Creates sub-directory `name` with `reported`'s permission bits under the umask, or
    /// opens the real directory already there. Anything else there (a file, a symlink, even to
    /// a directory) is an error: it is never followed. Answers the open directory, and what
    /// to finish when this call created it (an existing directory is never re-moded).
    pub(crate) async fn child_dir(
        &self,
        name: &str,
        components: Vec<String>,
        reported: u32,
    ) -> Result<(LocalDir, Option<MadeDir>)> {
        let fd = self.fd.clone();
        let owned = OsString::from(name);
        let child = self.path.join(name);
        let (child_fd, created) = blocking(
            || format!("creating directory {}", child.display()),
            move || {
                let created =
                    match rustix::fs::mkdirat(&*fd, &owned, mode(reported & PERMISSION_BITS)) {
                        Ok(()) => true,
                        Err(rustix::io::Errno::EXIST) => false,
                        Err(e) => return Err(e.into()),
                    };
                Ok((open_child_dir(&*fd, &owned)?, created))
            },
        )
        .await?;
        let dir = LocalDir {
            fd: Arc::new(child_fd),
            path: child,
        };
        if !created {
            return Ok((dir, None));
        }
        let made = dir.made(components, reported).await?;
        Ok((dir, Some(made)))
    }

    /// Opens the directory reached from here by `components`, each one without following a
    /// symlink.
    pub(crate) async fn descend(&self, components: &[String]) -> Result<LocalDir> {
        let fd = self.fd.clone();
        let names: Vec<OsString> = components.iter().map(OsString::from).collect();
        let mut path = self.path.clone();
        path.extend(components);
        let opened = blocking(
            || format!("opening directory {}", path.display()),
            move || {
                let mut current: Option<OwnedFd> = None;
                for name in &names {
                    let next = match &current {
                        Some(dir) => open_child_dir(dir, name)?,
                        None => open_child_dir(&*fd, name)?,
                    };
                    current = Some(next);
                }
                Ok(current)
            },
        )
        .await?;
        Ok(match opened {
            Some(fd) => LocalDir {
                fd: Arc::new(fd),
                path,
            },
            None => self.clone(),
        })
    }

    /// Gives a directory this pull made (found again from `self`, the top, without
    /// following links) its final mode and owner, if it is still the one made.
    pub(crate) async fn finish(&self, made: MadeDir, policy: ModePolicy) -> Result<()> {
        let dir = self.descend(&made.components).await?;
        let fd = dir.fd.clone();
        blocking(
            || format!("setting the mode of {}", dir.path.display()),
            move || {
                let stat = rustix::fs::fstat(&*fd)?;
                if identity(&stat) != made.identity {
                    return Err(std::io::Error::other(
                        "replaced by another directory while the transfer ran",
                    ));
                }
                if let Some((uid, gid)) = policy.owner {
                    std::os::unix::fs::fchown(&*fd, Some(uid), Some(gid))?;
                }
                // After chown, which clears setuid and setgid.
                let bits = made.created_bits | policy.special(made.reported);
                rustix::fs::fchmod(&*fd, mode(bits))?;
                Ok(())
            },
        )
        .await
    }

    /// The entries of this directory (not `.` and `..`), sorted by name, each with what it
    /// is (a symlink is a symlink, not what it points to).
    pub(crate) async fn list(&self) -> Result<Vec<(OsString, LocalEntry)>> {
        let fd = self.fd.clone();
        blocking(
            || format!("listing {}", self.path.display()),
            move || {
                let mut names = Vec::new();
                for entry in rustix::fs::Dir::read_from(&*fd)? {
                    let entry = entry?;
                    let name = entry.file_name().to_bytes();
                    if name != b"." && name != b".." {
                        names.push(OsStr::from_bytes(name).to_os_string());
                    }
                }
                names.sort();
                let mut out = Vec::with_capacity(names.len());
                for name in names {
                    let stat = rustix::fs::statat(&*fd, &name, AtFlags::SYMLINK_NOFOLLOW)?;
                    out.push((name, LocalEntry::of(&stat)));
                }
                Ok(out)
            },
        )
        .await
    }

    /// A symlink's target.
    pub(crate) async fn read_link(&self, name: &OsStr) -> Result<OsString> {
        let fd = self.fd.clone();
        let owned = name.to_os_string();
        blocking(
            || format!("reading {}", self.display(name)),
            move || {
                let target = rustix::fs::readlinkat(&*fd, &owned, Vec::new())?;
                Ok(OsStr::from_bytes(target.to_bytes()).to_os_string())
            },
        )
        .await
    }

    /// Opens the regular file `name` for reading without following a symlink, and checks it
    /// is still the file listed as `listed` (a file swapped for another thing between listing
    /// and opening is an error, never read).
    pub(crate) async fn open_file(
        &self,
        name: &OsStr,
        listed: Option<&LocalEntry>,
    ) -> Result<(std::fs::File, u64, u32)> {
        let fd = self.fd.clone();
        let owned = name.to_os_string();
        let expected = listed.map(|e| e.identity);
        blocking(
            || format!("opening {}", self.display(name)),
            move || {
                // O_NONBLOCK: a FIFO put in its place must not block the open; it has no
                // effect on a regular file.
                let file = rustix::fs::openat(
                    &*fd,
                    &owned,
                    OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| match e {
                    rustix::io::Errno::LOOP => std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        "a symlink is there (symlinks are never followed)",
                    ),
                    other => other.into(),
                })?;
                let stat = rustix::fs::fstat(&file)?;
                if file_type(&stat) != FileType::RegularFile {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        "not a regular file (any more)",
                    ));
                }
                if expected.is_some_and(|id| id != identity(&stat)) {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        "replaced by another file while the transfer ran",
                    ));
                }
                #[allow(clippy::unnecessary_cast)]
                let size = stat.st_size as u64;
                Ok((std::fs::File::from(file), size, mode_bits(&stat)))
            },
        )
        .await
    }
}

/// Opens the local file `path` to send it: the directories on the way are the caller's (a
/// symlink among them is followed), the file itself is opened without following a symlink
/// and must be a regular file. Answers the file, its length and mode bits.
///
/// Why not follow: whoever can write the file's directory could otherwise swap the file for
/// a link to anything this process may read (a private key) between the caller's choice and
/// the open, and that would be sent to the instance.
pub(crate) async fn open_source(path: &Path) -> Result<(std::fs::File, u64, u32)> {
    let (dir, name) = LocalDir::parent_of(path).await?;
    dir.open_file(&name, None).await
}

/// What a listed local entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EntryKind {
    File,
    Directory,
    Symlink,
    Other,
}

/// A listed local entry: its kind, mode bits and identity.
#[derive(Debug, Clone)]
pub(crate) struct LocalEntry {
    pub(crate) kind: EntryKind,
    pub(crate) mode: u32,
    identity: Identity,
}

impl LocalEntry {
    fn of(stat: &rustix::fs::Stat) -> LocalEntry {
        let kind = file_type(stat);
        LocalEntry {
            kind: if kind == FileType::Directory {
                EntryKind::Directory
            } else if kind == FileType::Symlink {
                EntryKind::Symlink
            } else if kind == FileType::RegularFile {
                EntryKind::File
            } else {
                EntryKind::Other
            },
            mode: mode_bits(stat),
            identity: identity(stat),
        }
    }
}

/// A temporary in an open directory, removed on drop unless committed.
#[derive(Debug)]
pub(crate) struct Aside {
    dir: LocalDir,
    tmp: OsString,
    target: OsString,
    committed: bool,
}

fn temp_name() -> OsString {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    OsString::from(format!(".lxd-part-{}-{n}", std::process::id()))
}

impl Aside {
    /// Creates a new empty temporary file in `dir`, to become `target`, with the permission
    /// bits of `mode` under the umask (the kernel applies it; the file is writable through
    /// the returned handle whatever its mode).
    pub(crate) async fn file(
        dir: &LocalDir,
        target: &OsStr,
        mode_wanted: u32,
    ) -> Result<(Aside, tokio::fs::File)> {
        let (aside, file) = Aside::make(dir, target, move |fd, name| {
            rustix::fs::openat(
                fd,
                name,
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                mode(mode_wanted & PERMISSION_BITS),
            )
        })
        .await?;
        Ok((aside, tokio::fs::File::from_std(std::fs::File::from(file))))
    }

    /// Creates a temporary symlink to `link_target` in `dir`, to become `target`.
    pub(crate) async fn symlink(
        dir: &LocalDir,
        target: &OsStr,
        link_target: &str,
    ) -> Result<Aside> {
        let link = link_target.to_string();
        let (aside, ()) = Aside::make(dir, target, move |fd, name| {
            rustix::fs::symlinkat(&link, fd, name)
        })
        .await?;
        Ok(aside)
    }

    /// Creates a temporary with `create` (which must fail with `EEXIST` when the name is
    /// taken, like `O_EXCL` and `symlinkat`), under a fresh name.
    ///
    /// The `Aside` is made on the blocking thread right after the creation: if the caller's
    /// future is dropped meanwhile, the finished task's result is dropped with it and the
    /// temporary removed, instead of being left behind by a creation nobody waits for.
    async fn make<T, F>(dir: &LocalDir, target: &OsStr, create: F) -> Result<(Aside, T)>
    where
        F: Fn(&OwnedFd, &OsStr) -> rustix::io::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let (dir_owned, target_owned) = (dir.clone(), target.to_os_string());
        blocking(
            || format!("creating a temporary beside {}", dir.display(target)),
            move || loop {
                let tmp = temp_name();
                match create(&dir_owned.fd, &tmp) {
                    Ok(made) => {
                        let aside = Aside {
                            dir: dir_owned,
                            tmp,
                            target: target_owned,
                            committed: false,
                        };
                        return Ok((aside, made));
                    }
                    // Someone else's entry has this name: take the next one.
                    Err(rustix::io::Errno::EXIST) => continue,
                    Err(e) => return Err(e.into()),
                }
            },
        )
        .await
    }

    /// Sets the temporary symlink's owner (not its target's).
    pub(crate) async fn lchown(&self, uid: u32, gid: u32) -> Result<()> {
        let fd = self.dir.fd.clone();
        let tmp = self.tmp.clone();
        blocking(
            || format!("changing the owner of {}", self.dir.display(&self.target)),
            move || {
                rustix::fs::chownat(
                    &*fd,
                    &tmp,
                    Some(rustix::fs::Uid::from_raw(uid)),
                    Some(rustix::fs::Gid::from_raw(gid)),
                    AtFlags::SYMLINK_NOFOLLOW,
                )?;
                Ok(())
            },
        )
        .await
    }

    /// Completes a file: flushes it, sets its owner and, when kept, its special bits (on the
    /// open file: no lookup, nothing followed), then renames it to its final name.
    pub(crate) async fn commit_file(
        self,
        mut file: tokio::fs::File,
        reported: u32,
        policy: ModePolicy,
    ) -> Result<()> {
        use tokio::io::AsyncWriteExt;
        let context = || format!("writing {}", self.dir.display(&self.target));
        file.flush().await.map_err(|e| Error::io(context(), e))?;
        let file = file.into_std().await;
        let special = policy.special(reported);
        blocking(context, move || {
            if let Some((uid, gid)) = policy.owner {
                std::os::unix::fs::fchown(&file, Some(uid), Some(gid))?;
            }
            // After chown, which clears setuid and setgid; the permission bits stay as
            // created (umask applied).
            if special != 0 {
                let bits = mode_bits(&rustix::fs::fstat(&file)?) & PERMISSION_BITS;
                rustix::fs::fchmod(&file, mode(bits | special))?;
            }
            Ok(())
        })
        .await?;
        self.commit().await
    }

    /// Renames the temporary to its final name, in the same open directory.
    pub(crate) async fn commit(mut self) -> Result<()> {
        let fd = self.dir.fd.clone();
        let (tmp, target) = (self.tmp.clone(), self.target.clone());
        blocking(
            || format!("renaming into {}", self.dir.display(&self.target)),
            move || Ok(rustix::fs::renameat(&*fd, &tmp, &*fd, &target)?),
        )
        .await?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for Aside {
    fn drop(&mut self) {
        if !self.committed {
            // Best effort: the temporary is ours and holds nothing of value. Relative to the
            // open directory, so a directory swapped meanwhile cannot redirect the removal.
            let _ = rustix::fs::unlinkat(&*self.dir.fd, &self.tmp, AtFlags::empty());
        }
    }
}

/// Refuses a local directory where a file is to be written.
pub(crate) async fn refuse_directory(local: &Path) -> Result<()> {
    match tokio::fs::symlink_metadata(local).await {
        Ok(meta) if meta.is_dir() => Err(Error::invalid(
            "local path",
            format!(
                "{} is a directory; give the path of the file to write",
                local.display()
            ),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use tokio::io::AsyncWriteExt;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "lxd-client-local-{name}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[tokio::test]
    async fn uncommitted_file_leaves_nothing() {
        let dir = scratch("drop");
        let local = LocalDir::open(&dir).await.unwrap();
        {
            let (aside, mut file) = Aside::file(&local, OsStr::new("f"), 0o644).await.unwrap();
            file.write_all(b"partial").await.unwrap();
            drop(file);
            drop(aside);
        }
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn commit_replaces_a_symlink_instead_of_following_it() {
        let dir = scratch("link");
        let victim = dir.join("victim");
        std::fs::write(&victim, b"keep").unwrap();
        let target = dir.join("f");
        std::os::unix::fs::symlink(&victim, &target).unwrap();
        let local = LocalDir::open(&dir).await.unwrap();
        let (aside, mut file) = Aside::file(&local, OsStr::new("f"), 0o640).await.unwrap();
        file.write_all(b"new").await.unwrap();
        aside
            .commit_file(file, 0o640, ModePolicy::default())
            .await
            .unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
        assert!(
            !std::fs::symlink_metadata(&target)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        let mode = std::fs::metadata(&target).unwrap().permissions().mode();
        assert_eq!(mode & 0o7777, 0o640);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn child_dirs_never_follow_a_symlink() {
        let dir = scratch("dir");
        let elsewhere = scratch("elsewhere");
        std::os::unix::fs::symlink(&elsewhere, dir.join("d")).unwrap();
        let local = LocalDir::open(&dir).await.unwrap();
        let err = local
            .child_dir("d", vec!["d".into()], 0o755)
            .await
            .unwrap_err();
        assert!(err.is_io(), "{err:?}");
        let (_, made) = local
            .child_dir("real", vec!["real".into()], 0o755)
            .await
            .unwrap();
        assert!(made.is_some());
        let (_, made) = local
            .child_dir("real", vec!["real".into()], 0o755)
            .await
            .unwrap();
        assert!(made.is_none(), "an existing directory is not ours to mode");
        // Nor when reached again from the top.
        assert!(local.descend(&["d".into()]).await.unwrap_err().is_io());
        assert!(refuse_directory(&dir).await.is_err());
        assert!(refuse_directory(&dir.join("nothing")).await.is_ok());
        assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::remove_dir_all(&elsewhere).unwrap();
    }

    #[tokio::test]
    async fn a_source_swapped_for_a_symlink_is_not_read() {
        let dir = scratch("swap-src");
        let secret = scratch("secret").join("secret");
        std::fs::write(&secret, b"s3cret").unwrap();
        std::fs::write(dir.join("f"), b"plain").unwrap();
        let local = LocalDir::open(&dir).await.unwrap();
        let (name, listed) = local.list().await.unwrap().remove(0);
        assert_eq!(
            (name.as_os_str(), listed.kind),
            (OsStr::new("f"), EntryKind::File)
        );
        // Moved, not removed: its inode stays taken, so a new file cannot reuse it.
        std::fs::rename(dir.join("f"), dir.join("listed")).unwrap();
        std::os::unix::fs::symlink(&secret, dir.join("f")).unwrap();
        let err = local
            .open_file(OsStr::new("f"), Some(&listed))
            .await
            .unwrap_err();
        assert!(err.is_io(), "{err:?}");
        // Another file put there is refused too.
        std::fs::remove_file(dir.join("f")).unwrap();
        std::fs::write(dir.join("f"), b"other").unwrap();
        let err = local
            .open_file(OsStr::new("f"), Some(&listed))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("replaced"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::remove_dir_all(secret.parent().unwrap()).unwrap();
    }
}
