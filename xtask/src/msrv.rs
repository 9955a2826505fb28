//! The minimum supported Rust version is a claim that must stay true: no dependency may
//! require a newer Rust than the workspace's `rust-version`.
//!
//! `cargo metadata` lists every package of the resolved tree (all platforms) with the
//! `rust-version` its manifest declares. The largest one is the floor the dependencies set;
//! the workspace's own `rust-version` must be at least that. (Language and std features are
//! checked by clippy's `incompatible_msrv` lint, on under `clippy::all`, which reads the same
//! `rust-version`.) Only one toolchain exists on the build machines, so this is checked from
//! the declarations rather than by building with the old compiler.

use std::path::Path;
use std::time::Duration;

use crate::integration;
use crate::util::{Error, Result, run, say};

/// A Rust version `major.minor[.patch]`, compared numerically.
type Version = (u32, u32, u32);

fn parse_version(text: &str) -> Option<Version> {
    let mut parts = text.trim().split('.').map(|p| p.parse::<u32>());
    let major = parts.next()?.ok()?;
    let minor = parts.next().unwrap_or(Ok(0)).ok()?;
    let patch = parts.next().unwrap_or(Ok(0)).ok()?;
    if parts.next().is_some() {
        return None;
    }
    Some((major, minor, patch))
}

/// The workspace's `rust-version` from the root Cargo.toml's `[workspace.package]`.
fn workspace_rust_version(manifest: &str) -> Option<Version> {
    manifest.lines().find_map(|line| {
        let value = line.trim().strip_prefix("rust-version")?.trim_start();
        let value = value.strip_prefix('=')?.trim();
        parse_version(value.trim_matches('"'))
    })
}

/// `(package directory, rust_version)` for every package in `cargo metadata` JSON that
/// declares one. Each package object names its `manifest_path` before its `rust_version`.
fn declared(metadata: &str) -> Vec<(String, Version)> {
    let mut out = Vec::new();
    let mut manifest = String::new();
    let mut rest = metadata;
    loop {
        let next_manifest = rest.find("\"manifest_path\":");
        let next_version = rest.find("\"rust_version\":");
        match (next_manifest, next_version) {
            (Some(m), v) if v.is_none_or(|v| m < v) => {
                rest = &rest[m + "\"manifest_path\":".len()..];
                // A path has no quotes in it; backslashes (Windows) do not matter here.
                if let Some(text) = rest.trim_start().strip_prefix('"')
                    && let Some(end) = text.find('"')
                {
                    manifest = text[..end]
                        .trim_end_matches("Cargo.toml")
                        .trim_end_matches(['/', '\\'])
                        .rsplit(['/', '\\'])
                        .next()
                        .unwrap_or("")
                        .to_string();
                }
            }
            (_, Some(v)) => {
                rest = &rest[v + "\"rust_version\":".len()..];
                let value = rest.trim_start();
                if let Some(text) = value.strip_prefix('"')
                    && let Some(end) = text.find('"')
                    && let Some(version) = parse_version(&text[..end])
                {
                    out.push((manifest.clone(), version));
                }
            }
            // (Some, None) is taken by the first arm; this is (None, None).
            _ => return out,
        }
    }
}

fn show((major, minor, patch): Version) -> String {
    format!("{major}.{minor}.{patch}")
}

/// Fails when a dependency declares a newer `rust-version` than the workspace's.
pub fn check() -> Result<()> {
    // xtask lives one level below the workspace root.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new("."));
    let manifest = std::fs::read_to_string(root.join("Cargo.toml"))
        .map_err(|e| Error(format!("reading Cargo.toml: {e}")))?;
    let ours = workspace_rust_version(&manifest)
        .ok_or_else(|| Error("no rust-version in the root Cargo.toml".into()))?;
    let mut cmd = integration::cargo();
    cmd.args([
        "metadata",
        "--format-version",
        "1",
        "--locked",
        "--all-features",
    ]);
    let metadata = run(&mut cmd, Duration::from_secs(300))?;
    let packages = declared(&metadata);
    let newer: Vec<String> = packages
        .iter()
        .filter(|(_, v)| *v > ours)
        .map(|(p, v)| format!("{p} needs {}", show(*v)))
        .collect();
    let floor = packages.iter().map(|(_, v)| *v).max().unwrap_or((0, 0, 0));
    if !newer.is_empty() {
        return Err(Error(format!(
            "rust-version {} is below what dependencies need: {}",
            show(ours),
            newer.join(", ")
        )));
    }
    say(format_args!(
        "MSRV: rust-version {} covers all {} packages that declare one (highest {})",
        show(ours),
        packages.len(),
        show(floor)
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The real thing: this workspace's claim against its real dependency tree.
    #[test]
    fn the_workspace_claim_covers_every_dependency() {
        check().unwrap();
    }

    #[test]
    fn versions_compare_numerically() {
        assert_eq!(parse_version("1.88"), Some((1, 88, 0)));
        assert_eq!(parse_version("1.85.1"), Some((1, 85, 1)));
        assert!(parse_version("1.9").unwrap() < parse_version("1.88").unwrap());
        assert_eq!(parse_version("x"), None);
        assert_eq!(parse_version("1.2.3.4"), None);
    }

    #[test]
    fn reads_the_workspace_claim() {
        let toml = "[workspace.package]\nversion = \"0.1.0\"\nrust-version = \"1.88\"\n";
        assert_eq!(workspace_rust_version(toml), Some((1, 88, 0)));
        assert_eq!(workspace_rust_version("[package]\n"), None);
    }

    #[test]
    fn reads_each_package_rust_version() {
        let json = r#"{"packages":[
            {"name":"a","targets":[{"name":"a"}],"manifest_path":"/r/a-1.0.0/Cargo.toml","rust_version":"1.70"},
            {"name":"b","manifest_path":"/r/b-2.0.0/Cargo.toml","rust_version":null},
            {"name":"c","manifest_path":"/r/c-0.3.1/Cargo.toml","rust_version":"1.91.0"}]}"#;
        assert_eq!(
            declared(json),
            vec![
                ("a-1.0.0".to_string(), (1, 70, 0)),
                ("c-0.3.1".to_string(), (1, 91, 0))
            ]
        );
    }
}
