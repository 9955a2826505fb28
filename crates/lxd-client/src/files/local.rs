//! Writing on this machine without ever leaving a half-written file at its final path or
//! following a symlink that is in the way.
//!
//! Content goes to a fresh temporary name in the destination's directory (created with
//! `O_EXCL`, so nothing already there, symlinks included, is opened); only when complete is it
//! renamed over the final name. `rename` replaces a file or symlink at the final name instead
//! of writing through it. A temporary that is not committed (an error, a dropped future) is
//! removed.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A temporary beside its final path, removed on drop unless committed.
#[derive(Debug)]
pub(crate) struct Aside {
    tmp: PathBuf,
    target: PathBuf,
    committed: bool,
}

/// A fresh temporary name in `target`'s directory.
fn temp_beside(target: &Path) -> Result<PathBuf> {
    if target.file_name().is_none() {
        return Err(Error::invalid(
            "local path",
            format!("{} does not name a file", target.display()),
        ));
    }
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    Ok(dir.join(format!(".lxd-part-{}-{n}", std::process::id())))
}

impl Aside {
    /// Creates a new empty temporary file (mode 0600) beside `target`.
    pub(crate) async fn file(target: &Path) -> Result<(Aside, tokio::fs::File)> {
        loop {
            let tmp = temp_beside(target)?;
            let opened = tokio::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)
                .await;
            match opened {
                Ok(file) => {
                    let aside = Aside {
                        tmp,
                        target: target.to_path_buf(),
                        committed: false,
                    };
                    return Ok((aside, file));
                }
                // Someone else's file has this name: take the next one.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(Error::io(
                        format!("creating a temporary file beside {}", target.display()),
                        e,
                    ));
                }
            }
        }
    }

    /// Creates a temporary symlink to `link_target` beside `target`.
    pub(crate) async fn symlink(target: &Path, link_target: &str) -> Result<Aside> {
        loop {
            let tmp = temp_beside(target)?;
            match tokio::fs::symlink(link_target, &tmp).await {
                Ok(()) => {
                    return Ok(Aside {
                        tmp,
                        target: target.to_path_buf(),
                        committed: false,
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(Error::io(
                        format!("creating a symlink beside {}", target.display()),
                        e,
                    ));
                }
            }
        }
    }

    /// Sets the temporary symlink's owner (not its target's).
    pub(crate) async fn lchown(&self, uid: u32, gid: u32) -> Result<()> {
        let tmp = self.tmp.clone();
        let done = tokio::task::spawn_blocking(move || {
            std::os::unix::fs::lchown(&tmp, Some(uid), Some(gid))
        })
        .await
        .map_err(|e| Error::io("changing a symlink's owner", std::io::Error::other(e)))?;
        done.map_err(|e| {
            Error::io(
                format!("changing the owner of {}", self.target.display()),
                e,
            )
        })
    }

    /// Completes a file: flushes it, sets its mode (and owner) on the open file, then renames
    /// it to its final name.
    pub(crate) async fn commit_file(
        self,
        mut file: tokio::fs::File,
        mode: u32,
        owner: Option<(u32, u32)>,
    ) -> Result<()> {
        use tokio::io::AsyncWriteExt;
        let context = || format!("writing {}", self.target.display());
        file.flush().await.map_err(|e| Error::io(context(), e))?;
        let file = file.into_std().await;
        let done = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            // On the open file: no path lookup, nothing followed.
            if let Some((uid, gid)) = owner {
                std::os::unix::fs::fchown(&file, Some(uid), Some(gid))?;
            }
            file.set_permissions(std::fs::Permissions::from_mode(mode & 0o7777))
        })
        .await
        .map_err(|e| Error::io(context(), std::io::Error::other(e)))?;
        done.map_err(|e| Error::io(context(), e))?;
        self.commit().await
    }

    /// Renames the temporary to its final name.
    pub(crate) async fn commit(mut self) -> Result<()> {
        tokio::fs::rename(&self.tmp, &self.target)
            .await
            .map_err(|e| Error::io(format!("renaming into {}", self.target.display()), e))?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for Aside {
    fn drop(&mut self) {
        if !self.committed {
            // Best effort: the temporary is ours and holds nothing of value.
            let _ = std::fs::remove_file(&self.tmp);
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

/// Creates directory `path`, or accepts a real directory already there. Anything else there
/// (a file, a symlink, even to a directory) is an error: it is never followed.
pub(crate) async fn ensure_dir(path: &Path) -> Result<()> {
    match tokio::fs::create_dir(path).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let meta = tokio::fs::symlink_metadata(path)
                .await
                .map_err(|e| Error::io(format!("inspecting {}", path.display()), e))?;
            if meta.file_type().is_dir() {
                Ok(())
            } else {
                Err(Error::io(
                    format!("creating directory {}", path.display()),
                    std::io::Error::new(
                        std::io::ErrorKind::AlreadyExists,
                        "something that is not a directory is there (symlinks are never followed)",
                    ),
                ))
            }
        }
        Err(e) => Err(Error::io(
            format!("creating directory {}", path.display()),
            e,
        )),
    }
}

/// Sets a directory's mode (and owner) once its content is written, if it is still a real
/// directory.
pub(crate) async fn finish_dir(path: PathBuf, mode: u32, owner: Option<(u32, u32)>) -> Result<()> {
    let context = format!("setting the mode of {}", path.display());
    let done = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        if !std::fs::symlink_metadata(&path)?.file_type().is_dir() {
            return Err(std::io::Error::other("no longer a directory"));
        }
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::lchown(&path, Some(uid), Some(gid))?;
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode & 0o7777))
    })
    .await
    .map_err(|e| Error::io(context.clone(), std::io::Error::other(e)))?;
    done.map_err(|e| Error::io(context, e))
}

#[cfg(test)]
mod tests {
    use super::*;
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
        let target = dir.join("f");
        {
            let (aside, mut file) = Aside::file(&target).await.unwrap();
            file.write_all(b"partial").await.unwrap();
            drop(file);
            drop(aside);
        }
        assert!(!target.exists());
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
        let (aside, mut file) = Aside::file(&target).await.unwrap();
        file.write_all(b"new").await.unwrap();
        aside.commit_file(file, 0o640, None).await.unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
        assert!(
            !std::fs::symlink_metadata(&target)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        let mode = std::fs::metadata(&target).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o640);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn ensure_dir_never_follows_a_symlink() {
        let dir = scratch("dir");
        let elsewhere = scratch("elsewhere");
        let link = dir.join("d");
        std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
        let err = ensure_dir(&link).await.unwrap_err();
        assert!(err.is_io(), "{err:?}");
        ensure_dir(&dir.join("real")).await.unwrap();
        ensure_dir(&dir.join("real")).await.unwrap();
        assert!(refuse_directory(&dir).await.is_err());
        assert!(refuse_directory(&dir.join("nothing")).await.is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::remove_dir_all(&elsewhere).unwrap();
    }
}
