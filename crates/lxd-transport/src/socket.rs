//! Finding the LXD unix socket.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Where the snap package puts the socket.
pub const SNAP_SOCKET: &str = "/var/snap/lxd/common/lxd/unix.socket";
/// Where distribution packages (Debian's `lxd`) put the socket.
pub const SYSTEM_SOCKET: &str = "/var/lib/lxd/unix.socket";

/// The socket paths to try, in order: `LXD_SOCKET`, `$LXD_DIR/unix.socket`, the snap path, the
/// system path.
///
/// Environment values are passed in (not read here) so the order is testable.
pub fn socket_candidates(lxd_socket: Option<&str>, lxd_dir: Option<&str>) -> Vec<PathBuf> {
    let mut tried = Vec::new();
    if let Some(s) = lxd_socket.filter(|s| !s.is_empty()) {
        tried.push(PathBuf::from(s));
    }
    if let Some(d) = lxd_dir.filter(|d| !d.is_empty()) {
        tried.push(Path::new(d).join("unix.socket"));
    }
    tried.push(PathBuf::from(SNAP_SOCKET));
    tried.push(PathBuf::from(SYSTEM_SOCKET));
    tried
}

/// Finds the local LXD socket: `explicit` if given (it must exist), else the first existing
/// path of [`socket_candidates`] read from the environment.
///
/// The error names every path tried.
///
/// ```no_run
/// let path = lxd_transport::discover_socket(None)?;
/// println!("LXD listens on {}", path.display());
/// # Ok::<(), lxd_transport::Error>(())
/// ```
pub fn discover_socket(explicit: Option<&Path>) -> Result<PathBuf> {
    let candidates = match explicit {
        Some(p) => vec![p.to_path_buf()],
        None => socket_candidates(
            std::env::var("LXD_SOCKET").ok().as_deref(),
            std::env::var("LXD_DIR").ok().as_deref(),
        ),
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
    fn order_is_env_socket_then_dir_then_snap_then_system() {
        let c = socket_candidates(Some("/x/s"), Some("/d"));
        assert_eq!(
            c,
            vec![
                PathBuf::from("/x/s"),
                PathBuf::from("/d/unix.socket"),
                PathBuf::from(SNAP_SOCKET),
                PathBuf::from(SYSTEM_SOCKET)
            ]
        );
        let c = socket_candidates(Some(""), None);
        assert_eq!(c.len(), 2, "empty variables are ignored: {c:?}");
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
