//! Finding the local unix socket of LXD, or of Incus (its fork, which keeps the same API
//! under its own names).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Where the snap package puts the socket.
pub const SNAP_SOCKET: &str = "/var/snap/lxd/common/lxd/unix.socket";
/// Where distribution packages (Debian's `lxd`) put the socket.
pub const SYSTEM_SOCKET: &str = "/var/lib/lxd/unix.socket";
/// Where Incus packages put its socket.
pub const INCUS_SOCKET: &str = "/var/lib/incus/unix.socket";
/// Where Incus's systemd units may put it instead.
pub const INCUS_RUN_SOCKET: &str = "/run/incus/unix.socket";

/// The environment variables that name a socket or a daemon's directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SocketEnv {
    /// `LXD_SOCKET`.
    pub lxd_socket: Option<String>,
    /// `LXD_DIR` (the socket is `$LXD_DIR/unix.socket`).
    pub lxd_dir: Option<String>,
    /// `INCUS_SOCKET`.
    pub incus_socket: Option<String>,
    /// `INCUS_DIR`.
    pub incus_dir: Option<String>,
}

impl SocketEnv {
    /// Reads the four variables from this process's environment (empty ones count as unset).
    ///
    /// ```
    /// use lxd_transport::{SNAP_SOCKET, SYSTEM_SOCKET, SocketEnv, socket_candidates};
    /// let env = SocketEnv::from_process();
    /// if let Some(dir) = &env.lxd_dir {
    ///     println!("LXD_DIR is set: {dir}/unix.socket comes first");
    /// }
    /// // Whatever the environment says, the usual places are tried last.
    /// let candidates = socket_candidates(&env);
    /// assert!(candidates.iter().any(|p| p.as_os_str() == SNAP_SOCKET));
    /// assert!(candidates.iter().any(|p| p.as_os_str() == SYSTEM_SOCKET));
    /// ```
    pub fn from_process() -> SocketEnv {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        SocketEnv {
            lxd_socket: var("LXD_SOCKET"),
            lxd_dir: var("LXD_DIR"),
            incus_socket: var("INCUS_SOCKET"),
            incus_dir: var("INCUS_DIR"),
        }
    }
}

/// The socket paths to try, in order: what the environment names (`LXD_SOCKET`,
/// `INCUS_SOCKET`, `$LXD_DIR/unix.socket`, `$INCUS_DIR/unix.socket`), then the usual places
/// (the LXD snap, Debian's LXD, Incus's two).
///
/// The environment is passed in (not read here) so the order is testable.
///
/// ```
/// use lxd_transport::{SocketEnv, socket_candidates};
/// let env = SocketEnv { incus_dir: Some("/srv/incus".into()), ..Default::default() };
/// assert_eq!(socket_candidates(&env)[0], std::path::Path::new("/srv/incus/unix.socket"));
/// ```
pub fn socket_candidates(env: &SocketEnv) -> Vec<PathBuf> {
    let mut tried = Vec::new();
    let named = [&env.lxd_socket, &env.incus_socket];
    tried.extend(
        named
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .map(PathBuf::from),
    );
    let dirs = [&env.lxd_dir, &env.incus_dir];
    tried.extend(
        dirs.into_iter()
            .flatten()
            .filter(|d| !d.is_empty())
            .map(|d| Path::new(d).join("unix.socket")),
    );
    for path in [SNAP_SOCKET, SYSTEM_SOCKET, INCUS_SOCKET, INCUS_RUN_SOCKET] {
        tried.push(PathBuf::from(path));
    }
    tried
}

/// Finds the local LXD (or Incus) socket: `explicit` if given (it must exist), else the
/// first existing path of [`socket_candidates`] read from the environment.
///
/// The error names every path tried.
///
/// ```no_run
/// let path = lxd_transport::discover_socket(None)?;
/// println!("the daemon listens on {}", path.display());
/// # Ok::<(), lxd_transport::Error>(())
/// ```
pub fn discover_socket(explicit: Option<&Path>) -> Result<PathBuf> {
    let candidates = match explicit {
        Some(p) => vec![p.to_path_buf()],
        None => socket_candidates(&SocketEnv::from_process()),
    };
    first_existing(candidates)
}

fn first_existing(candidates: Vec<PathBuf>) -> Result<PathBuf> {
    match candidates.iter().find(|p| p.exists()) {
        Some(p) => Ok(p.clone()),
        None => Err(Error::SocketNotFound { tried: candidates }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_env_sockets_then_dirs_then_usual_places() {
        let env = SocketEnv {
            lxd_socket: Some("/x/s".into()),
            lxd_dir: Some("/d".into()),
            incus_socket: Some("/i/s".into()),
            incus_dir: Some("/id".into()),
        };
        assert_eq!(
            socket_candidates(&env),
            vec![
                PathBuf::from("/x/s"),
                PathBuf::from("/i/s"),
                PathBuf::from("/d/unix.socket"),
                PathBuf::from("/id/unix.socket"),
                PathBuf::from(SNAP_SOCKET),
                PathBuf::from(SYSTEM_SOCKET),
                PathBuf::from(INCUS_SOCKET),
                PathBuf::from(INCUS_RUN_SOCKET),
            ]
        );
        let env = SocketEnv {
            lxd_socket: Some(String::new()),
            ..Default::default()
        };
        assert_eq!(
            socket_candidates(&env).len(),
            4,
            "empty variables are ignored"
        );
    }

    #[test]
    fn missing_socket_names_every_path_tried() {
        let err = first_existing(vec!["/nope/a".into(), "/nope/b".into()]).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("/nope/a") && text.contains("/nope/b"),
            "{text}"
        );
        assert!(err.is_connect());
    }

    #[test]
    fn explicit_missing_path_is_an_error() {
        let err = discover_socket(Some(Path::new("/definitely/not/here.socket"))).unwrap_err();
        assert!(matches!(err, Error::SocketNotFound { ref tried } if tried.len() == 1));
    }
}
