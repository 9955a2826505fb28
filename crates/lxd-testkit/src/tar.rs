//! Image files as LXD knows them: an (uncompressed) tarball holding `metadata.yaml` and
//! `rootfs/`. The testkit writes seeded and published images this way, so an exported image
//! imports into a real LXD, and reads uploads of that form back into a file system.
//! Compressed uploads are kept as bytes only (no decompressor here).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::fs::{Fs, Kind, Node};

/// What `metadata.yaml` says.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct ImageMetadata {
    pub(crate) architecture: String,
    pub(crate) creation_date: u64,
    pub(crate) properties: BTreeMap<String, String>,
}

/// A double-quoted YAML string.
fn yaml_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn metadata_yaml(metadata: &ImageMetadata) -> String {
    let mut out = format!(
        "architecture: {}\ncreation_date: {}\n",
        yaml_string(&metadata.architecture),
        metadata.creation_date
    );
    if !metadata.properties.is_empty() {
        out.push_str("properties:\n");
        for (key, value) in &metadata.properties {
            out.push_str(&format!("  {}: {}\n", key, yaml_string(value)));
        }
    }
    out
}

/// Reads the little YAML this module writes, and the usual shape of LXD image metadata
/// (`key: value` at the top, `properties:` with indented `key: value`).
fn parse_metadata(text: &str) -> ImageMetadata {
    let unquote = |v: &str| {
        let v = v.trim();
        if v.len() >= 2
            && (v.starts_with('"') && v.ends_with('"') || v.starts_with('\'') && v.ends_with('\''))
        {
            v[1..v.len() - 1]
                .replace("\\\"", "\"")
                .replace("\\\\", "\\")
        } else {
            v.to_string()
        }
    };
    let mut metadata = ImageMetadata::default();
    let mut in_properties = false;
    for line in text.lines() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let indented = line.starts_with(' ') || line.starts_with('\t');
        let Some((key, value)) = line.trim().split_once(':') else {
            continue;
        };
        if !indented {
            in_properties = key == "properties";
            match key {
                "architecture" => metadata.architecture = unquote(value),
                "creation_date" => metadata.creation_date = value.trim().parse().unwrap_or(0),
                _ => {}
            }
        } else if in_properties {
            metadata
                .properties
                .insert(key.trim().to_string(), unquote(value));
        }
    }
    metadata
}

/// An octal number, zero-padded, NUL-terminated, filling `field`.
fn octal(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let text = format!("{value:0digits$o}");
    let bytes = text.as_bytes();
    let start = bytes.len().saturating_sub(digits);
    field[..digits].copy_from_slice(&bytes[start..]);
    field[digits] = 0;
}

/// Splits a path into ustar's `prefix` (155 bytes) and `name` (100 bytes) at a slash;
/// `None` when it does not fit.
fn split_path(path: &str) -> Option<(&str, &str)> {
    if path.len() <= 100 {
        return Some(("", path));
    }
    let bytes = path.as_bytes();
    (0..path.len())
        .filter(|&i| bytes[i] == b'/')
        .find(|&i| i <= 155 && path.len() - i - 1 <= 100 && path.len() - i - 1 > 0)
        .map(|i| (&path[..i], &path[i + 1..]))
}

/// One ustar header; `None` for a path ustar cannot hold.
#[allow(clippy::too_many_arguments)]
fn header(
    path: &str,
    kind: u8,
    size: u64,
    mode: u32,
    uid: i64,
    gid: i64,
    mtime: u64,
    link: &str,
) -> Option<[u8; 512]> {
    let (prefix, name) = split_path(path)?;
    if link.len() > 100 {
        return None;
    }
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[345..345 + prefix.len()].copy_from_slice(prefix.as_bytes());
    octal(&mut h[100..108], u64::from(mode & 0o7777));
    octal(&mut h[108..116], uid.max(0) as u64);
    octal(&mut h[116..124], gid.max(0) as u64);
    octal(&mut h[124..136], size);
    octal(&mut h[136..148], mtime);
    h[148..156].copy_from_slice(b"        ");
    h[156] = kind;
    h[157..157 + link.len()].copy_from_slice(link.as_bytes());
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[265..269].copy_from_slice(b"root");
    h[297..301].copy_from_slice(b"root");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    let text = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(text.as_bytes());
    Some(h)
}

/// A unified image: `metadata.yaml` and the file system under `rootfs/`, every entry dated
/// `mtime` (so the same content gives the same fingerprint). Paths ustar cannot hold (a
/// name over 100 bytes) are left out.
pub(crate) fn write_image(metadata: &ImageMetadata, fs: &Fs, mtime: u64) -> Bytes {
    let mut out = Vec::new();
    let mut add = |path: &str, kind: u8, data: &[u8], mode: u32, uid: i64, gid: i64, link: &str| {
        let Some(h) = header(path, kind, data.len() as u64, mode, uid, gid, mtime, link) else {
            return;
        };
        out.extend_from_slice(&h);
        out.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        out.extend(std::iter::repeat_n(0u8, pad));
    };
    add(
        "metadata.yaml",
        b'0',
        metadata_yaml(metadata).as_bytes(),
        0o644,
        0,
        0,
        "",
    );
    add("rootfs/", b'5', &[], 0o755, 0, 0, "");
    for (path, node) in fs.entries() {
        let path = format!("rootfs/{path}");
        match &node.kind {
            Kind::Dir(_) => add(
                &format!("{path}/"),
                b'5',
                &[],
                node.mode,
                node.uid,
                node.gid,
                "",
            ),
            Kind::File(data) => add(&path, b'0', data, node.mode, node.uid, node.gid, ""),
            Kind::Symlink(target) => add(&path, b'2', &[], node.mode, node.uid, node.gid, target),
        }
    }
    out.extend(std::iter::repeat_n(0u8, 1024));
    Bytes::from(out)
}

fn field_text(field: &[u8]) -> String {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

fn field_octal(field: &[u8]) -> Option<u64> {
    let text = field_text(field);
    let text = text.trim();
    if text.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(text, 8).ok()
}

/// Reads an uncompressed unified image; `None` when `data` is not a tarball (compressed
/// images, split metadata tarballs without `rootfs/` still give their metadata).
pub(crate) fn read_image(data: &[u8]) -> Option<(ImageMetadata, Fs)> {
    if data.get(257..262) != Some(b"ustar") {
        return None;
    }
    let mut metadata = None;
    let mut fs = Fs::new();
    let mut pos = 0;
    while pos + 512 <= data.len() {
        let h = &data[pos..pos + 512];
        if h.iter().all(|&b| b == 0) {
            break;
        }
        let name = field_text(&h[0..100]);
        let prefix = field_text(&h[345..500]);
        let path = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let size = field_octal(&h[124..136])? as usize;
        let mode = field_octal(&h[100..108])? as u32;
        let uid = field_octal(&h[108..116])? as i64;
        let gid = field_octal(&h[116..124])? as i64;
        let mtime = field_octal(&h[136..148])?;
        let kind = h[156];
        let link = field_text(&h[157..257]);
        let body = data.get(pos + 512..pos + 512 + size)?;
        pos += 512 + size.div_ceil(512) * 512;
        let path = path.trim_start_matches("./").to_string();
        if path == "metadata.yaml" {
            metadata = Some(parse_metadata(&String::from_utf8_lossy(body)));
            continue;
        }
        let Some(inner) = path.strip_prefix("rootfs/") else {
            continue;
        };
        if inner.is_empty() {
            continue;
        }
        let node_kind = match kind {
            b'5' => Kind::Dir(BTreeMap::new()),
            b'2' => Kind::Symlink(link),
            b'0' | 0 => Kind::File(Bytes::copy_from_slice(body)),
            _ => continue, // devices, fifos, hard links: not kept
        };
        fs.insert(
            inner,
            Node {
                kind: node_kind,
                uid,
                gid,
                mode,
                modified: UNIX_EPOCH + Duration::from_secs(mtime),
            },
        );
    }
    Some((metadata.unwrap_or_default(), fs))
}

/// Seconds since the epoch of `t`.
pub(crate) fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_round_trip() {
        let metadata = ImageMetadata {
            architecture: "x86_64".into(),
            creation_date: 1_700_000_000,
            properties: BTreeMap::from([
                ("os".to_string(), "busybox".to_string()),
                ("description".to_string(), "a \"quoted\" one".to_string()),
            ]),
        };
        let fs = Fs::busybox();
        let data = write_image(&metadata, &fs, 1_700_000_000);
        assert_eq!(data.len() % 512, 0);
        assert_eq!(&data[257..262], b"ustar");
        assert_eq!(
            write_image(&metadata, &fs, 1_700_000_000),
            data,
            "deterministic"
        );
        let (read_metadata, read_fs) = read_image(&data).unwrap();
        assert_eq!(read_metadata, metadata);
        assert_eq!(read_fs.read("/etc/hostname").unwrap(), "busybox\n");
        assert_eq!(read_fs.realpath("/bin/sh").unwrap(), "/bin/busybox");
        assert_eq!(read_fs.lstat("/tmp").unwrap().mode, 0o1777);
        assert!(read_image(b"not a tarball").is_none());
    }

    #[test]
    fn long_paths_use_the_prefix() {
        let mut fs = Fs::new();
        let dir = format!("/{}/{}", "a".repeat(60), "b".repeat(60));
        fs.mkdir(&format!("/{}", "a".repeat(60)), 0, 0, 0o755)
            .unwrap();
        fs.mkdir(&dir, 0, 0, 0o755).unwrap();
        fs.write(
            &format!("{dir}/file"),
            Bytes::from_static(b"x"),
            false,
            None,
        )
        .unwrap();
        let too_long = format!("/{}", "c".repeat(120));
        fs.write(&too_long, Bytes::from_static(b"y"), false, None)
            .unwrap();
        let data = write_image(&ImageMetadata::default(), &fs, 0);
        let (_, read) = read_image(&data).unwrap();
        assert_eq!(read.read(&format!("{dir}/file")).unwrap(), "x");
        assert!(read.read(&too_long).is_err(), "left out, not mangled");
    }
}
