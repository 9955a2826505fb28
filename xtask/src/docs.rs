//! The documentation and packaging checks of `cargo xtask test`:
//! - rustdoc builds the library crates without a warning (broken links included);
//! - every public fn of a library crate shows an example in its doc comment, and every
//!   public async fn of lxd-client (each sends a request) links LXD's REST reference;
//! - `cargo package` of the library crates succeeds (what crates.io needs is there, and each
//!   crate builds from its packaged sources alone).
//!
//! The scan reads the sources line by line, which is enough for our own formatting (rustfmt's):
//! a `pub fn` line and the `///` and `#[...]` lines right above it.

use std::fs;
use std::path::{Path, PathBuf};

use crate::integration::cargo;
use crate::util::{self, Result, say};

/// The crates published to crates.io.
pub const LIBRARIES: [&str; 4] = ["lxd-proto", "lxd-transport", "lxd-client", "lxd-testkit"];

/// Where LXD's REST reference lives; every request method links into it.
const REST_REFERENCE: &str = "documentation.ubuntu.com/lxd";

/// Runs the three checks; says what failed. All run even when one fails.
pub fn check(root: &Path) -> bool {
    let mut ok = true;
    let mut doc = cargo();
    doc.env("RUSTDOCFLAGS", "-D warnings")
        .args(["doc", "--no-deps"]);
    for lib in LIBRARIES {
        doc.args(["-p", lib]);
    }
    if !run_ok(&mut doc) {
        say("rustdoc FAILED (warnings are errors)");
        ok = false;
    }

    match scan_libraries(root) {
        Ok(gaps) if gaps.is_empty() => say("every public fn has an example (and its REST link)"),
        Ok(gaps) => {
            say(format_args!(
                "{} public fn(s) lack what their docs need:\n{}",
                gaps.len(),
                util::indent(&gaps.join("\n"))
            ));
            ok = false;
        }
        Err(e) => {
            say(format_args!("scanning the sources FAILED: {e}"));
            ok = false;
        }
    }

    // Each library crate from its packaged sources alone; the workspace's crates stand in
    // for each other through cargo's temporary registry.
    let mut package = cargo();
    package.arg("package");
    for lib in LIBRARIES {
        package.args(["-p", lib]);
    }
    if !run_ok(&mut package) {
        say("cargo package FAILED");
        ok = false;
    }
    ok
}

fn run_ok(cmd: &mut std::process::Command) -> bool {
    util::run_inherit(cmd)
        .map_err(|e| say(format_args!("error: {e}")))
        .is_ok_and(|status| status.success())
}

/// `file:line: fn name: what is missing`, for every library crate's sources.
fn scan_libraries(root: &Path) -> Result<Vec<String>> {
    let mut gaps = Vec::new();
    for lib in LIBRARIES {
        let src = root.join("crates").join(lib).join("src");
        for file in rust_files(&src)? {
            let text = fs::read_to_string(&file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let shown = file
                .strip_prefix(root)
                .unwrap_or(&file)
                .display()
                .to_string();
            gaps.extend(
                scan(&text, lib == "lxd-client")
                    .into_iter()
                    .map(|gap| format!("{shown}:{gap}")),
            );
        }
    }
    Ok(gaps)
}

fn rust_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let entries = fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry
            .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
            .path();
        if path.is_dir() {
            files.extend(rust_files(&path)?);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// The gaps in one source file: `line: fn name: what is missing`. Test modules (everything
/// after a `#[cfg(test)]` line, where our files keep them) are not public API.
fn scan(text: &str, needs_rest_link: bool) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut gaps = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let line = line.trim_start();
        if line.starts_with("#[cfg(test)]") {
            break;
        }
        let Some((name, is_async)) = public_fn(line) else {
            continue;
        };
        let doc: Vec<&str> = lines[..index]
            .iter()
            .rev()
            .map(|l| l.trim_start())
            .take_while(|l| l.starts_with("///") || l.starts_with("#["))
            .collect();
        let mut missing = Vec::new();
        if !doc.iter().any(|l| l.contains("```")) {
            missing.push("no example");
        }
        if needs_rest_link && is_async && !doc.iter().any(|l| l.contains(REST_REFERENCE)) {
            missing.push("no REST reference link");
        }
        if !missing.is_empty() {
            gaps.push(format!("{}: fn {name}: {}", index + 1, missing.join(", ")));
        }
    }
    gaps
}

/// `pub [const] [async] [unsafe] fn name` (not `pub(crate)`): the name, and whether async.
fn public_fn(line: &str) -> Option<(&str, bool)> {
    let mut rest = line.strip_prefix("pub ")?;
    let mut is_async = false;
    loop {
        if let Some(r) = rest.strip_prefix("const ") {
            rest = r;
        } else if let Some(r) = rest.strip_prefix("async ") {
            rest = r;
            is_async = true;
        } else if let Some(r) = rest.strip_prefix("unsafe ") {
            rest = r;
        } else {
            break;
        }
    }
    let rest = rest.strip_prefix("fn ")?;
    let end = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    Some((&rest[..end], is_async))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_undocumented_public_fns_and_missing_links() {
        let text = "\
/// Lists.
///
/// ```no_run
/// list();
/// ```
///
/// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/x/y)
pub async fn list() {}

/// No example.
#[must_use]
pub const fn bare() {}

/// An example, no link.
/// ```
/// ```
pub async fn unlinked() {}

pub(crate) fn private() {}

#[cfg(test)]
mod tests {
    pub fn helper() {}
}
";
        assert_eq!(
            scan(text, true),
            [
                "12: fn bare: no example",
                "17: fn unlinked: no REST reference link"
            ]
        );
        // Outside lxd-client, async fns need no link.
        assert_eq!(scan(text, false), ["12: fn bare: no example"]);
    }

    #[test]
    fn reads_fn_names() {
        assert_eq!(public_fn("pub fn a(x: u8) {"), Some(("a", false)));
        assert_eq!(public_fn("pub async fn list<T>("), Some(("list", true)));
        assert_eq!(public_fn("pub const unsafe fn z()"), Some(("z", false)));
        assert_eq!(public_fn("pub(crate) fn hidden()"), None);
        assert_eq!(public_fn("pub struct S;"), None);
    }
}
