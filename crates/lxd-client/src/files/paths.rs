//! Paths inside an instance, handled as strings and lexically (never through the host's
//! filesystem): cleaning, joining, resolving a symlink target, relativising.

/// Cleans an absolute path: collapses `//` and `.`, resolves `..` (never above `/`).
pub(crate) fn clean(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    format!("/{}", parts.join("/"))
}

/// The directory holding a cleaned path (`/` for `/` itself).
pub(crate) fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// `dir/name` for a cleaned `dir` and a single-component `name`.
pub(crate) fn join(dir: &str, name: &str) -> String {
    if dir == "/" {
        format!("/{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// The ancestors of a cleaned path, outermost first, without `/` and the path itself:
/// `/a/b/c` gives `/a`, `/a/b`.
pub(crate) fn ancestors(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(i) = path[at + 1..].find('/') {
        at += 1 + i;
        out.push(path[..at].to_string());
    }
    out
}

/// Where a symlink at `link` with `target` points, as a cleaned absolute path. LXD already
/// sends targets absolute; a relative one (older servers) is taken from the link's directory.
pub(crate) fn resolve_link(link: &str, target: &str) -> String {
    if target.starts_with('/') {
        clean(target)
    } else {
        clean(&format!("{}/{target}", parent(&clean(link))))
    }
}

/// Whether cleaned `path` is `root` or below it.
pub(crate) fn within(root: &str, path: &str) -> bool {
    root == "/"
        || path == root
        || path
            .strip_prefix(root)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The relative path from directory `from` to `to` (both cleaned and absolute).
pub(crate) fn relative(from: &str, to: &str) -> String {
    let split = |p: &str| -> Vec<String> {
        p.split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    };
    let (from, to) = (split(from), split(to));
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<&str> = vec![".."; from.len() - common];
    parts.extend(to[common..].iter().map(String::as_str));
    if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    }
}

/// Whether a directory entry's name as the server listed it is one plain name that stays in
/// its directory: not empty, not `.` or `..`, no `/`, no NUL.
pub(crate) fn check_entry_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        Err("an empty name")
    } else if name == "." || name == ".." {
        Err("a name that leaves its directory")
    } else if name.contains('/') {
        Err("a name with '/'")
    } else if name.contains('\0') {
        Err("a name with a NUL byte")
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleaning() {
        assert_eq!(clean("/"), "/");
        assert_eq!(clean("//a/./b//"), "/a/b");
        assert_eq!(clean("/a/../../../etc"), "/etc");
        assert_eq!(clean("/a/b/.."), "/a");
        assert_eq!(clean("/..x/y"), "/..x/y");
    }

    #[test]
    fn parents_ancestors_joins() {
        assert_eq!(parent("/a/b"), "/a");
        assert_eq!(parent("/a"), "/");
        assert_eq!(parent("/"), "/");
        assert_eq!(ancestors("/a/b/c"), ["/a", "/a/b"]);
        assert!(ancestors("/a").is_empty());
        assert!(ancestors("/").is_empty());
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("/a", "b"), "/a/b");
    }

    #[test]
    fn link_resolution() {
        assert_eq!(resolve_link("/t/d/rel", "../d/x"), "/t/d/x");
        assert_eq!(resolve_link("/t/l", "/etc/"), "/etc");
        assert_eq!(resolve_link("/t/l", "../../../../.."), "/");
        assert_eq!(resolve_link("/t/l", "f"), "/t/f");
    }

    #[test]
    fn containment() {
        assert!(within("/t", "/t"));
        assert!(within("/t", "/t/a/b"));
        assert!(!within("/t", "/tt"));
        assert!(!within("/t", "/"));
        assert!(!within("/t", "/etc"));
        assert!(within("/", "/anything"));
    }

    #[test]
    fn relativising() {
        assert_eq!(relative("/t/d", "/t/d/x"), "x");
        assert_eq!(relative("/t/d", "/t/f"), "../f");
        assert_eq!(relative("/t", "/t"), ".");
        assert_eq!(relative("/t/a/b", "/t"), "../..");
        assert_eq!(relative("/", "/a"), "a");
    }

    #[test]
    fn entry_names() {
        for ok in ["a", "..a", "...", "a..b", ".hidden", "a b", "ä", "x\ny"] {
            assert!(check_entry_name(ok).is_ok(), "{ok:?}");
        }
        for bad in ["", ".", "..", "../x", "a/b", "/abs", "a\0"] {
            assert!(check_entry_name(bad).is_err(), "{bad:?}");
        }
    }
}
