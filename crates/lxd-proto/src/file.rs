//! Instance files (`/1.0/instances/<name>/files?path=...`): the headers that carry a file's
//! type, owner, mode and write mode.
//!
//! File transfers are not JSON: a file's content travels as the raw request or response body
//! and its metadata as headers (`X-LXD-uid`, `X-LXD-gid`, `X-LXD-mode`, `X-LXD-type`,
//! `X-LXD-write`, `X-LXD-modified`). Incus spells the prefix `X-Incus-`, so the types here
//! deal in the part after the prefix (`uid`, `mode`, ...) and the client adds the prefix of the
//! server it talks to.

use std::fmt;

use crate::string_enum::string_enum;

string_enum! {
    /// What a path in an instance is (`X-LXD-type`).
    pub enum InstanceFileType {
        /// A regular file: its content is the body.
        File = "file",
        /// A directory: `GET` answers with the names of its entries.
        Directory = "directory",
        /// A symbolic link: its target is the body.
        Symlink = "symlink",
    }
    default = File;
}

string_enum! {
    /// How a pushed file's content is written (`X-LXD-write`; `append` needs the API extension
    /// `file_append`).
    pub enum InstanceFileWriteMode {
        /// Create the file or replace its content.
        Overwrite = "overwrite",
        /// Add to the end of an existing file (LXD answers 404 when it does not exist).
        Append = "append",
    }
    default = Overwrite;
}

string_enum! {
    /// Which of the sent uid, gid and mode also apply to a file that already exists
    /// (`X-LXD-modify-perm`, API extension `instances_files_modify_permissions`). Without it,
    /// LXD applies them only to a file it creates.
    pub enum InstanceFileModifyPerm {
        /// The owner.
        Uid = "uid",
        /// The group.
        Gid = "gid",
        /// The permission bits.
        Mode = "mode",
    }
}

/// The file headers of a request or a response, without their prefix.
///
/// On `POST` (push) unset fields are not sent and LXD picks: owner 0:0 (root of the
/// instance), mode 0644 for files and 0750 for directories. On `GET` and `HEAD` LXD sets
/// `uid`, `gid`, `mode`, `type` and `modified`.
///
/// ```
/// use lxd_proto::{InstanceFileHeaders, InstanceFileType, InstanceFileWriteMode};
///
/// let push = InstanceFileHeaders {
///     uid: Some(1000),
///     mode: Some(0o640),
///     file_type: Some(InstanceFileType::File),
///     write: Some(InstanceFileWriteMode::Append),
///     ..Default::default()
/// };
/// assert_eq!(
///     push.to_pairs(),
///     [("uid", "1000".to_string()), ("mode", "0640".to_string()),
///      ("type", "file".to_string()), ("write", "append".to_string())],
/// );
///
/// // A reply's headers, prefix already removed by the caller (names are case-insensitive).
/// let reply = InstanceFileHeaders::from_pairs([
///     ("Uid", "0"), ("gid", "0"), ("mode", "0755"), ("type", "directory"),
///     ("modified", "2026-11-27 01:46:20 +0000 UTC"),
/// ]).unwrap();
/// assert_eq!(reply.mode, Some(0o755));
/// assert_eq!(reply.file_type, Some(InstanceFileType::Directory));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstanceFileHeaders {
    /// Owner (`uid`), as seen inside the instance.
    pub uid: Option<u32>,
    /// Group (`gid`), as seen inside the instance.
    pub gid: Option<u32>,
    /// Permission bits (`mode`). Sent as octal with a leading `0` (LXD 5.0 reads `644`
    /// without it as decimal). LXD keeps only the 0o777 bits: setuid, setgid and sticky are
    /// dropped.
    pub mode: Option<u32>,
    /// What the path is (`type`).
    pub file_type: Option<InstanceFileType>,
    /// Overwrite or append (`write`), for pushes.
    pub write: Option<InstanceFileWriteMode>,
    /// Which of uid, gid and mode also apply to an existing file (`modify-perm`).
    pub modify_perm: Vec<InstanceFileModifyPerm>,
    /// Last modification time as LXD prints it (`modified`, Go's time format:
    /// `2026-11-27 01:46:20 +0000 UTC`). Only in replies.
    pub modified: Option<String>,
}

/// A file header whose value could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceFileHeaderError {
    /// The header's name, without prefix (`uid`, `mode`, ...).
    pub header: &'static str,
    /// The value received.
    pub value: String,
}

impl fmt::Display for InstanceFileHeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad file header {:?}: {:?}", self.header, self.value)
    }
}

impl std::error::Error for InstanceFileHeaderError {}

impl InstanceFileHeaders {
    /// The header names this type knows, without prefix.
    pub const NAMES: [&'static str; 7] = [
        "uid",
        "gid",
        "mode",
        "type",
        "write",
        "modify-perm",
        "modified",
    ];

    /// The headers to send, as `(name without prefix, value)`; unset fields are left out.
    ///
    /// The caller adds the server's prefix (`X-LXD-`) to each name.
    ///
    /// ```
    /// use lxd_proto::{InstanceFileHeaders, InstanceFileModifyPerm};
    ///
    /// // Push a private file, also fixing owner and mode if it already exists.
    /// let headers = InstanceFileHeaders {
    ///     uid: Some(1000),
    ///     mode: Some(0o600),
    ///     modify_perm: vec![InstanceFileModifyPerm::Uid, InstanceFileModifyPerm::Mode],
    ///     ..Default::default()
    /// };
    /// let sent: Vec<String> =
    ///     headers.to_pairs().iter().map(|(n, v)| format!("X-LXD-{n}: {v}")).collect();
    /// assert_eq!(sent, ["X-LXD-uid: 1000", "X-LXD-mode: 0600", "X-LXD-modify-perm: uid,mode"]);
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_files_post)
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        if let Some(uid) = self.uid {
            pairs.push(("uid", uid.to_string()));
        }
        if let Some(gid) = self.gid {
            pairs.push(("gid", gid.to_string()));
        }
        if let Some(mode) = self.mode {
            pairs.push(("mode", format_mode(mode)));
        }
        if let Some(t) = &self.file_type {
            pairs.push(("type", t.to_string()));
        }
        if let Some(w) = &self.write {
            pairs.push(("write", w.to_string()));
        }
        if !self.modify_perm.is_empty() {
            let list: Vec<&str> = self.modify_perm.iter().map(|p| p.as_str()).collect();
            pairs.push(("modify-perm", list.join(",")));
        }
        if let Some(m) = &self.modified {
            pairs.push(("modified", m.clone()));
        }
        pairs
    }

    /// Reads headers given as `(name without prefix, value)`. Names are compared without
    /// regard to case; names this type does not know are ignored.
    ///
    /// ```
    /// use lxd_proto::{InstanceFileHeaders, InstanceFileType};
    ///
    /// // Headers of `GET /1.0/instances/c1/files?path=/etc/hosts`, prefix stripped.
    /// let headers = InstanceFileHeaders::from_pairs([
    ///     ("uid", "0"), ("gid", "0"), ("mode", "0644"), ("type", "file"),
    ///     ("content-type", "application/octet-stream"), // not a file header: ignored
    /// ]).unwrap();
    /// assert_eq!(headers.mode, Some(0o644));
    /// assert_eq!(headers.file_type, Some(InstanceFileType::File));
    ///
    /// let error = InstanceFileHeaders::from_pairs([("mode", "rw-r--r--")]).unwrap_err();
    /// assert_eq!(error.header, "mode");
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_files_get)
    pub fn from_pairs<'a, I>(pairs: I) -> Result<Self, InstanceFileHeaderError>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let mut out = InstanceFileHeaders::default();
        for (name, value) in pairs {
            let Some(known) = Self::NAMES.iter().find(|n| n.eq_ignore_ascii_case(name)) else {
                continue;
            };
            let bad = || InstanceFileHeaderError {
                header: known,
                value: value.to_string(),
            };
            let value = value.trim();
            match *known {
                "uid" => out.uid = Some(value.parse().map_err(|_| bad())?),
                "gid" => out.gid = Some(value.parse().map_err(|_| bad())?),
                "mode" => out.mode = Some(parse_mode(value).ok_or_else(bad)?),
                "type" => out.file_type = Some(value.into()),
                "write" => out.write = Some(value.into()),
                "modify-perm" => {
                    out.modify_perm = value
                        .split(',')
                        .map(str::trim)
                        .filter(|p| !p.is_empty())
                        .map(InstanceFileModifyPerm::from)
                        .collect()
                }
                _ => out.modified = Some(value.to_string()),
            }
        }
        Ok(out)
    }
}

/// A mode as LXD reads it: octal with a leading zero (`0644`), so that Go's base-0 parsing
/// takes it as octal.
fn format_mode(mode: u32) -> String {
    format!("0{:o}", mode & 0o7777)
}

/// A mode as LXD writes it (`%04o`: `0644`); octal with or without the leading zero.
fn parse_mode(text: &str) -> Option<u32> {
    let digits = text.strip_prefix("0o").unwrap_or(text);
    if digits.is_empty() || digits.len() > 7 {
        return None;
    }
    u32::from_str_radix(digits, 8).ok()
}

/// What a path in an instance is, from the headers of `GET`/`HEAD` on
/// `/1.0/instances/<name>/files`: every field LXD always sends there is required.
///
/// ```
/// use lxd_proto::{InstanceFileHeaders, InstanceFileStat, InstanceFileType};
///
/// let headers = InstanceFileHeaders::from_pairs([
///     ("uid", "1000"), ("gid", "100"), ("mode", "0640"), ("type", "file"),
/// ]).unwrap();
/// let stat = InstanceFileStat::from_headers(&headers).unwrap();
/// assert_eq!((stat.uid, stat.gid, stat.mode), (1000, 100, 0o640));
/// assert!(stat.is_file());
///
/// // Without a type the reply is not LXD's.
/// assert!(InstanceFileStat::from_headers(&InstanceFileHeaders::default()).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceFileStat {
    /// File, directory or symlink.
    pub file_type: InstanceFileType,
    /// Owner inside the instance.
    pub uid: u32,
    /// Group inside the instance.
    pub gid: u32,
    /// Permission bits (0o777 at most; symlinks report 0o777).
    pub mode: u32,
    /// Last modification time as LXD prints it, if sent.
    pub modified: Option<String>,
}

impl InstanceFileStat {
    /// Builds the stat from reply headers; a missing field is an error naming it.
    ///
    /// ```
    /// use lxd_proto::{InstanceFileHeaders, InstanceFileStat};
    ///
    /// // A `HEAD` reply from a server that sent no mode.
    /// let headers = InstanceFileHeaders::from_pairs([
    ///     ("uid", "0"), ("gid", "0"), ("type", "file"),
    /// ]).unwrap();
    /// let error = InstanceFileStat::from_headers(&headers).unwrap_err();
    /// assert_eq!((error.header, error.value.as_str()), ("mode", "<missing>"));
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_files_head)
    pub fn from_headers(headers: &InstanceFileHeaders) -> Result<Self, InstanceFileHeaderError> {
        let missing = |header: &'static str| InstanceFileHeaderError {
            header,
            value: "<missing>".into(),
        };
        Ok(InstanceFileStat {
            file_type: headers.file_type.clone().ok_or_else(|| missing("type"))?,
            uid: headers.uid.ok_or_else(|| missing("uid"))?,
            gid: headers.gid.ok_or_else(|| missing("gid"))?,
            mode: headers.mode.ok_or_else(|| missing("mode"))?,
            modified: headers.modified.clone(),
        })
    }

    /// A regular file.
    ///
    /// ```
    /// use lxd_proto::{InstanceFileHeaders, InstanceFileStat};
    ///
    /// let headers = InstanceFileHeaders::from_pairs([
    ///     ("uid", "0"), ("gid", "0"), ("mode", "0600"), ("type", "file"),
    /// ]).unwrap();
    /// let stat = InstanceFileStat::from_headers(&headers).unwrap();
    /// assert!(stat.is_file() && !stat.is_dir());
    /// ```
    pub fn is_file(&self) -> bool {
        self.file_type == InstanceFileType::File
    }

    /// A directory.
    ///
    /// For a directory, `GET` answers with the names of its entries instead of content.
    ///
    /// ```
    /// use lxd_proto::{InstanceFileHeaders, InstanceFileStat};
    ///
    /// let headers = InstanceFileHeaders::from_pairs([
    ///     ("uid", "0"), ("gid", "0"), ("mode", "0755"), ("type", "directory"),
    /// ]).unwrap();
    /// let stat = InstanceFileStat::from_headers(&headers).unwrap();
    /// assert!(stat.is_dir());
    /// assert_eq!(stat.mode, 0o755);
    /// ```
    pub fn is_dir(&self) -> bool {
        self.file_type == InstanceFileType::Directory
    }

    /// A symbolic link.
    ///
    /// ```
    /// use lxd_proto::{InstanceFileHeaders, InstanceFileStat};
    ///
    /// // `/etc/localtime` is usually a link; LXD reports links with mode 0777.
    /// let headers = InstanceFileHeaders::from_pairs([
    ///     ("uid", "0"), ("gid", "0"), ("mode", "0777"), ("type", "symlink"),
    /// ]).unwrap();
    /// let stat = InstanceFileStat::from_headers(&headers).unwrap();
    /// assert!(stat.is_symlink() && !stat.is_file());
    /// ```
    pub fn is_symlink(&self) -> bool {
        self.file_type == InstanceFileType::Symlink
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_are_octal_with_a_leading_zero() {
        assert_eq!(format_mode(0o644), "0644");
        assert_eq!(format_mode(0o7), "07");
        assert_eq!(format_mode(0o4755), "04755");
        assert_eq!(format_mode(0o100644), "0644", "file type bits are dropped");
        assert_eq!(parse_mode("0755"), Some(0o755));
        assert_eq!(parse_mode("644"), Some(0o644));
        assert_eq!(parse_mode("0o600"), Some(0o600));
        for bad in ["", "0x1", "9", "-1", "077777777"] {
            assert_eq!(parse_mode(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn pairs_round_trip() {
        let h = InstanceFileHeaders {
            uid: Some(1),
            gid: Some(2),
            mode: Some(0o600),
            file_type: Some(InstanceFileType::Symlink),
            write: Some(InstanceFileWriteMode::Overwrite),
            modify_perm: vec![InstanceFileModifyPerm::Uid, InstanceFileModifyPerm::Mode],
            modified: Some("2026-11-27 01:46:20 +0000 UTC".into()),
        };
        let pairs = h.to_pairs();
        assert!(pairs.contains(&("modify-perm", "uid,mode".to_string())));
        let back =
            InstanceFileHeaders::from_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str()))).unwrap();
        assert_eq!(back, h);
        assert!(InstanceFileHeaders::default().to_pairs().is_empty());
    }

    #[test]
    fn bad_values_name_the_header() {
        let e = InstanceFileHeaders::from_pairs([("uid", "-1")]).unwrap_err();
        assert_eq!(e.header, "uid");
        let e = InstanceFileHeaders::from_pairs([("MODE", "rwx")]).unwrap_err();
        assert_eq!(e.header, "mode");
        assert!(e.to_string().contains("rwx"));
        // Unknown headers and unknown types are kept out of the way, not errors.
        let h = InstanceFileHeaders::from_pairs([("date", "x"), ("type", "socket")]).unwrap();
        assert_eq!(h.file_type, Some(InstanceFileType::Other("socket".into())));
    }
}
