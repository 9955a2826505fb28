//! A small in-memory file system per instance (and per snapshot and image): files,
//! directories and symlinks with owner, group, mode and modification time. It backs the files
//! API and the built-in exec commands (`cat`, `pwd`, ...).

use std::collections::BTreeMap;
use std::time::SystemTime;

use bytes::Bytes;

/// What a node is.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Kind {
    File(Bytes),
    Dir(BTreeMap<String, Node>),
    Symlink(String),
}

/// A file, directory or symlink.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Node {
    pub(crate) kind: Kind,
    pub(crate) uid: i64,
    pub(crate) gid: i64,
    pub(crate) mode: u32,
    pub(crate) modified: SystemTime,
}

impl Node {
    fn dir(mode: u32) -> Node {
        Node {
            kind: Kind::Dir(BTreeMap::new()),
            uid: 0,
            gid: 0,
            mode,
            modified: SystemTime::now(),
        }
    }

    /// `file`, `directory` or `symlink`, as the files API names them.
    pub(crate) fn type_name(&self) -> &'static str {
        match self.kind {
            Kind::File(_) => "file",
            Kind::Dir(_) => "directory",
            Kind::Symlink(_) => "symlink",
        }
    }
}

/// Why an operation failed; the files API maps these to LXD's replies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FsError {
    /// The path (or a parent) does not exist.
    NotFound,
    /// A write to a directory.
    IsDirectory(String),
    /// A parent is not a directory.
    NotDirectory(String),
    /// Removing a directory that has entries.
    NotEmpty(String),
    /// The path exists already (symlink creation).
    Exists(String),
    /// Too many levels of symlinks.
    Loop(String),
}

impl std::fmt::Display for FsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FsError::NotFound => write!(f, "file does not exist"),
            FsError::IsDirectory(p) => write!(f, "open {p}: is a directory"),
            FsError::NotDirectory(p) => write!(f, "{p}: not a directory"),
            FsError::NotEmpty(p) => write!(f, "remove {p}: directory not empty"),
            FsError::Exists(p) => write!(f, "{p}: file exists"),
            FsError::Loop(p) => write!(f, "{p}: too many levels of symbolic links"),
        }
    }
}

/// Normalizes a path: relative paths are taken from `/`, `.` and `..` resolved lexically.
/// Returns the components.
pub(crate) fn components(path: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            other => out.push(other.to_string()),
        }
    }
    out
}

/// The normalized absolute form of a path.
pub(crate) fn normalize(path: &str) -> String {
    format!("/{}", components(path).join("/"))
}

/// Joins `path` onto `base` (absolute paths replace it).
pub(crate) fn join(base: &str, path: &str) -> String {
    if path.starts_with('/') {
        normalize(path)
    } else {
        normalize(&format!("{base}/{path}"))
    }
}

/// An in-memory file system.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Fs {
    root: Node,
}

impl Default for Fs {
    fn default() -> Self {
        Fs::new()
    }
}

/// Commands the busybox image links to `/bin/busybox` (those the built-in exec runs, and a
/// few more so the tree looks like the real image).
const BUSYBOX_LINKS: &[&str] = &[
    "sh", "ash", "cat", "echo", "true", "false", "env", "pwd", "sleep", "head", "ls", "mkdir",
    "rm", "mount", "printf", "id", "test", "stty", "tty",
];

impl Fs {
    /// An empty root directory.
    pub(crate) fn new() -> Fs {
        Fs {
            root: Node::dir(0o755),
        }
    }

    /// The skeleton of a small Linux root: the usual top-level directories.
    pub(crate) fn skeleton() -> Fs {
        let mut fs = Fs::new();
        for dir in [
            "/bin",
            "/dev",
            "/etc",
            "/proc",
            "/root",
            "/run",
            "/sbin",
            "/sys",
            "/tmp",
            "/usr",
            "/usr/bin",
            "/usr/sbin",
            "/var",
        ] {
            let mode = match dir {
                "/tmp" => 0o1777,
                "/root" => 0o700,
                _ => 0o755,
            };
            fs.mkdir(dir, 0, 0, mode).expect("fresh tree");
        }
        fs
    }

    /// The root file system of the default `busybox` image: the skeleton, `/bin/busybox`,
    /// its applet links and `/sbin/init`, `/etc/hostname`.
    pub(crate) fn busybox() -> Fs {
        let mut fs = Fs::skeleton();
        fs.write(
            "/bin/busybox",
            Bytes::from_static(b"\x7fELF (lxd-testkit stand-in for busybox)\n"),
            false,
            Some((0, 0, 0o755)),
        )
        .expect("fresh tree");
        for applet in BUSYBOX_LINKS {
            fs.symlink(&format!("/bin/{applet}"), "/bin/busybox", 0, 0)
                .expect("fresh tree");
        }
        fs.symlink("/sbin/init", "../bin/busybox", 0, 0)
            .expect("fresh tree");
        fs.write(
            "/etc/hostname",
            Bytes::from_static(b"busybox\n"),
            false,
            Some((0, 0, 0o644)),
        )
        .expect("fresh tree");
        fs
    }

    /// Finds the node at `path` without following a final symlink (intermediate symlinks
    /// are followed).
    pub(crate) fn lstat(&self, path: &str) -> Result<&Node, FsError> {
        let resolved = self.resolve_parent(path, 0)?;
        self.lookup(&resolved)
    }

    /// Finds the node at `path`, following symlinks.
    pub(crate) fn stat(&self, path: &str) -> Result<&Node, FsError> {
        let resolved = self.resolve(path, 0)?;
        self.lookup(&resolved)
    }

    /// The fully resolved path (every symlink followed).
    pub(crate) fn realpath(&self, path: &str) -> Result<String, FsError> {
        let resolved = self.resolve(path, 0)?;
        self.lookup(&resolved)?;
        Ok(format!("/{}", resolved.join("/")))
    }

    fn lookup(&self, parts: &[String]) -> Result<&Node, FsError> {
        let mut node = &self.root;
        for part in parts {
            match &node.kind {
                Kind::Dir(entries) => node = entries.get(part).ok_or(FsError::NotFound)?,
                _ => return Err(FsError::NotDirectory(format!("/{}", parts.join("/")))),
            }
        }
        Ok(node)
    }

    fn lookup_mut(&mut self, parts: &[String]) -> Result<&mut Node, FsError> {
        let mut node = &mut self.root;
        for part in parts {
            match &mut node.kind {
                Kind::Dir(entries) => node = entries.get_mut(part).ok_or(FsError::NotFound)?,
                _ => return Err(FsError::NotDirectory(format!("/{}", parts.join("/")))),
            }
        }
        Ok(node)
    }

    /// Resolves every symlink along `path`, including the last component.
    fn resolve(&self, path: &str, depth: usize) -> Result<Vec<String>, FsError> {
        let parent = self.resolve_parent(path, depth)?;
        match self.lookup(&parent) {
            Ok(Node {
                kind: Kind::Symlink(target),
                ..
            }) => {
                if depth > 40 {
                    return Err(FsError::Loop(normalize(path)));
                }
                let base = format!("/{}", parent[..parent.len().saturating_sub(1)].join("/"));
                self.resolve(&join(&base, target), depth + 1)
            }
            _ => Ok(parent),
        }
    }

    /// Resolves symlinks in every component but the last.
    fn resolve_parent(&self, path: &str, depth: usize) -> Result<Vec<String>, FsError> {
        let parts = components(path);
        let Some((last, dirs)) = parts.split_last() else {
            return Ok(Vec::new());
        };
        let mut resolved: Vec<String> = Vec::new();
        for part in dirs {
            let mut candidate = resolved.clone();
            candidate.push(part.clone());
            match self.lookup(&candidate)? {
                Node {
                    kind: Kind::Symlink(target),
                    ..
                } => {
                    if depth > 40 {
                        return Err(FsError::Loop(normalize(path)));
                    }
                    let base = format!("/{}", resolved.join("/"));
                    resolved = self.resolve(&join(&base, target), depth + 1)?;
                }
                _ => resolved = candidate,
            }
        }
        resolved.push(last.clone());
        Ok(resolved)
    }

    /// The directory that will hold `path`'s last component, resolved.
    fn parent_dir_mut(
        &mut self,
        path: &str,
    ) -> Result<(&mut BTreeMap<String, Node>, String), FsError> {
        let mut parts = self.resolve_parent(path, 0)?;
        let name = parts.pop().ok_or(FsError::IsDirectory("/".into()))?;
        let display = format!("/{}", parts.join("/"));
        match &mut self.lookup_mut(&parts)?.kind {
            Kind::Dir(entries) => Ok((entries, name)),
            _ => Err(FsError::NotDirectory(display)),
        }
    }

    /// Reads a file (following symlinks).
    pub(crate) fn read(&self, path: &str) -> Result<Bytes, FsError> {
        match &self.stat(path)?.kind {
            Kind::File(data) => Ok(data.clone()),
            Kind::Dir(_) => Err(FsError::IsDirectory(normalize(path))),
            Kind::Symlink(_) => Err(FsError::NotFound),
        }
    }

    /// Writes a file (following a final symlink like `open` does): creates it with
    /// `owner` = (uid, gid, mode) when missing (defaults 0, 0, 0644), truncates or appends
    /// when present (keeping its owner and mode, like LXD).
    pub(crate) fn write(
        &mut self,
        path: &str,
        data: Bytes,
        append: bool,
        owner: Option<(i64, i64, u32)>,
    ) -> Result<(), FsError> {
        let display = normalize(path);
        // Follow a final symlink to its target if that exists.
        let target = match self.lstat(path) {
            Ok(Node {
                kind: Kind::Symlink(_),
                ..
            }) => self.realpath(path).unwrap_or(display.clone()),
            _ => display.clone(),
        };
        let (entries, name) = self.parent_dir_mut(&target)?;
        match entries.get_mut(&name) {
            Some(node) => match &mut node.kind {
                Kind::Dir(_) => Err(FsError::IsDirectory(display)),
                Kind::File(existing) => {
                    *existing = if append {
                        let mut joined = existing.to_vec();
                        joined.extend_from_slice(&data);
                        Bytes::from(joined)
                    } else {
                        data
                    };
                    node.modified = SystemTime::now();
                    Ok(())
                }
                Kind::Symlink(_) => Err(FsError::NotFound),
            },
            None => {
                let (uid, gid, mode) = owner.unwrap_or((0, 0, 0o644));
                entries.insert(
                    name,
                    Node {
                        kind: Kind::File(data),
                        uid,
                        gid,
                        mode,
                        modified: SystemTime::now(),
                    },
                );
                Ok(())
            }
        }
    }

    /// Creates a directory; an existing entry of any kind is left alone (LXD answers
    /// success then too).
    pub(crate) fn mkdir(
        &mut self,
        path: &str,
        uid: i64,
        gid: i64,
        mode: u32,
    ) -> Result<(), FsError> {
        let (entries, name) = self.parent_dir_mut(path)?;
        entries.entry(name).or_insert(Node {
            kind: Kind::Dir(BTreeMap::new()),
            uid,
            gid,
            mode,
            modified: SystemTime::now(),
        });
        Ok(())
    }

    /// Creates a symlink at `path` pointing at `target`. An existing symlink with the same
    /// target is fine; anything else there is an error.
    pub(crate) fn symlink(
        &mut self,
        path: &str,
        target: &str,
        uid: i64,
        gid: i64,
    ) -> Result<(), FsError> {
        let display = normalize(path);
        let (entries, name) = self.parent_dir_mut(path)?;
        match entries.get(&name) {
            Some(Node {
                kind: Kind::Symlink(existing),
                ..
            }) if existing == target => Ok(()),
            Some(_) => Err(FsError::Exists(display)),
            None => {
                entries.insert(
                    name,
                    Node {
                        kind: Kind::Symlink(target.to_string()),
                        uid,
                        gid,
                        mode: 0o777,
                        modified: SystemTime::now(),
                    },
                );
                Ok(())
            }
        }
    }

    /// Removes a file, symlink or empty directory (a final symlink itself is removed).
    pub(crate) fn remove(&mut self, path: &str) -> Result<(), FsError> {
        let display = normalize(path);
        let (entries, name) = self.parent_dir_mut(path)?;
        match entries.get(&name) {
            None => Err(FsError::NotFound),
            Some(Node {
                kind: Kind::Dir(children),
                ..
            }) if !children.is_empty() => Err(FsError::NotEmpty(display)),
            Some(_) => {
                entries.remove(&name);
                Ok(())
            }
        }
    }

    /// Total size of all files (for disk usage figures).
    pub(crate) fn usage(&self) -> u64 {
        fn walk(node: &Node) -> u64 {
            match &node.kind {
                Kind::Dir(entries) => entries.values().map(walk).sum::<u64>() + 4096,
                other => match other {
                    Kind::File(data) => data.len() as u64,
                    _ => 0,
                },
            }
        }
        walk(&self.root)
    }

    /// Every node below the root with its path relative to it (`etc/hostname`), parents
    /// before children, names in order.
    pub(crate) fn entries(&self) -> Vec<(String, &Node)> {
        fn walk<'a>(prefix: &str, node: &'a Node, out: &mut Vec<(String, &'a Node)>) {
            if let Kind::Dir(children) = &node.kind {
                for (name, child) in children {
                    let path = if prefix.is_empty() {
                        name.clone()
                    } else {
                        format!("{prefix}/{name}")
                    };
                    out.push((path.clone(), child));
                    walk(&path, child, out);
                }
            }
        }
        let mut out = Vec::new();
        walk("", &self.root, &mut out);
        out
    }

    /// Puts `node` at `path` as it is (creating missing parent directories), replacing what
    /// was there. For building a tree from an archive.
    pub(crate) fn insert(&mut self, path: &str, node: Node) {
        let parts = components(path);
        let Some((last, dirs)) = parts.split_last() else {
            return;
        };
        let mut current = &mut self.root;
        for dir in dirs {
            let Kind::Dir(children) = &mut current.kind else {
                return;
            };
            current = children
                .entry(dir.clone())
                .or_insert_with(|| Node::dir(0o755));
            if !matches!(current.kind, Kind::Dir(_)) {
                *current = Node::dir(0o755);
            }
        }
        if let Kind::Dir(children) = &mut current.kind {
            match (children.get_mut(last), &node.kind) {
                // An archive lists a directory before its contents: keep the contents.
                (
                    Some(
                        existing @ Node {
                            kind: Kind::Dir(_), ..
                        },
                    ),
                    Kind::Dir(_),
                ) => {
                    existing.uid = node.uid;
                    existing.gid = node.gid;
                    existing.mode = node.mode;
                    existing.modified = node.modified;
                }
                _ => {
                    children.insert(last.clone(), node);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_normalize() {
        assert_eq!(normalize("tmp/../etc//x/."), "/etc/x");
        assert_eq!(normalize("/"), "/");
        assert_eq!(join("/root", "a"), "/root/a");
        assert_eq!(join("/root", "/a"), "/a");
    }

    #[test]
    fn files_dirs_and_links() {
        let mut fs = Fs::busybox();
        fs.write(
            "/tmp/a",
            Bytes::from_static(b"hello"),
            false,
            Some((1000, 0, 0o640)),
        )
        .unwrap();
        fs.write(
            "/tmp/a",
            Bytes::from_static(b" world"),
            true,
            Some((5, 5, 0o600)),
        )
        .unwrap();
        assert_eq!(fs.read("/tmp/a").unwrap(), "hello world");
        let node = fs.lstat("/tmp/a").unwrap();
        assert_eq!((node.uid, node.mode), (1000, 0o640));

        assert_eq!(fs.lstat("/bin/sh").unwrap().type_name(), "symlink");
        assert_eq!(fs.stat("/bin/sh").unwrap().type_name(), "file");
        assert_eq!(fs.realpath("/sbin/init").unwrap(), "/bin/busybox");

        fs.mkdir("/tmp/d", 0, 0, 0o750).unwrap();
        fs.mkdir("/tmp/d", 1, 1, 0o700).unwrap();
        assert_eq!(fs.lstat("/tmp/d").unwrap().mode, 0o750);
        assert_eq!(
            fs.write("/tmp/d", Bytes::new(), false, None),
            Err(FsError::IsDirectory("/tmp/d".into()))
        );
        fs.symlink("/tmp/l", "/tmp/a", 0, 0).unwrap();
        fs.symlink("/tmp/l", "/tmp/a", 0, 0).unwrap();
        assert!(fs.symlink("/tmp/l", "/tmp/x", 0, 0).is_err());
        fs.write("/tmp/l", Bytes::from_static(b"via link"), false, None)
            .unwrap();
        assert_eq!(fs.read("/tmp/a").unwrap(), "via link");

        let Kind::Dir(entries) = &fs.lstat("/tmp").unwrap().kind else {
            panic!("/tmp is a directory")
        };
        assert_eq!(entries.keys().collect::<Vec<_>>(), ["a", "d", "l"]);
        assert_eq!(fs.remove("/tmp"), Err(FsError::NotEmpty("/tmp".into())));
        fs.remove("/tmp/l").unwrap();
        assert!(fs.lstat("/tmp/a").is_ok());
        assert_eq!(fs.remove("/tmp/l"), Err(FsError::NotFound));
        assert_eq!(
            fs.write("/nope/x", Bytes::new(), false, None),
            Err(FsError::NotFound)
        );
        assert!(fs.usage() > 0);
    }

    #[test]
    fn symlink_loops_end() {
        let mut fs = Fs::skeleton();
        fs.symlink("/a", "/b", 0, 0).unwrap();
        fs.symlink("/b", "/a", 0, 0).unwrap();
        assert!(matches!(fs.stat("/a"), Err(FsError::Loop(_))));
    }
}
