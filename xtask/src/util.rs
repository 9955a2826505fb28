//! Small std-only helpers: running commands with errors that say what failed, temp dirs,
//! a free loopback port, the tail of a log, and reading one string out of LXD's JSON.

use std::ffi::OsStr;
use std::fmt;
use std::fs;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::net::TcpListener;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Every xtask failure is a sentence for a human: which step, which command, what it said.
#[derive(Debug)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<String> for Error {
    fn from(s: String) -> Self {
        Error(s)
    }
}

impl From<&str> for Error {
    fn from(s: &str) -> Self {
        Error(s.to_owned())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Adds context to io errors (the bare io message never says which file).
pub trait Context<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> Context<T> for io::Result<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error(format!("{}: {e}", what())))
    }
}

/// Progress goes to stderr, like cargo's own status lines, so stdout stays the tests' own.
pub fn say(msg: impl fmt::Display) {
    eprintln!("xtask: {msg}");
}

/// The command as a user could paste it, with the LXD_* variables we set in front
/// (they decide which daemon it talks to, so an error without them is misleading).
pub fn describe(cmd: &Command) -> String {
    let mut parts = Vec::new();
    for (key, value) in cmd.get_envs() {
        let key = key.to_string_lossy();
        if (key.starts_with("LXD_") || key == "DEBIAN_FRONTEND")
            && let Some(value) = value
        {
            parts.push(format!("{key}={}", quote(value)));
        }
    }
    parts.push(quote(cmd.get_program()));
    parts.extend(cmd.get_args().map(quote));
    parts.join(" ")
}

fn quote(s: &OsStr) -> String {
    let s = s.to_string_lossy();
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+".contains(c));
    if plain {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Runs a command to completion, capturing its output; returns stdout.
/// A non-zero exit, a failure to start, or running past `timeout` is an error naming the
/// command and quoting its stderr. The timeout exists because a wedged daemon socket makes
/// `lxc` wait forever, and CI would otherwise only say "job timed out".
pub fn run(cmd: &mut Command, timeout: Duration) -> Result<String> {
    run_with_input(cmd, None, timeout)
}

/// [`run`] with bytes fed to the command's stdin (e.g. a preseed).
pub fn run_with_input(
    cmd: &mut Command,
    input: Option<&[u8]>,
    timeout: Duration,
) -> Result<String> {
    let mut running = Captured::spawn(cmd, input)?;
    let status = wait_timeout(&mut running.child, timeout);
    if status.is_none() {
        running.kill();
    }
    running.finish(status, timeout)
}

/// A child whose stdout and stderr are being collected on threads, so a chatty child never
/// blocks on a full pipe while we poll it (or something else) for progress.
pub struct Captured {
    pub child: Child,
    desc: String,
    out: JoinHandle<String>,
    err: JoinHandle<String>,
}

impl Captured {
    pub fn spawn(cmd: &mut Command, input: Option<&[u8]>) -> Result<Self> {
        let desc = describe(cmd);
        cmd.stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| Error(format!("cannot start `{desc}`: {e}")))?;
        if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
            // Inputs are small (a preseed), far below a pipe buffer, so writing before
            // reading cannot deadlock; a child that exits without reading gets EPIPE and
            // its own complaint is what we report.
            let _ = stdin.write_all(input);
        }
        let out = drain(child.stdout.take());
        let err = drain(child.stderr.take());
        Ok(Captured {
            child,
            desc,
            out,
            err,
        })
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Turns the outcome into stdout or an error quoting the command and its output;
    /// `None` means it was killed after `timeout`.
    pub fn finish(self, status: Option<ExitStatus>, timeout: Duration) -> Result<String> {
        let desc = self.desc;
        let stdout = self.out.join().unwrap_or_default();
        let stderr = self.err.join().unwrap_or_default();
        match status {
            None => Err(Error(format!(
                "`{desc}` did not finish within {} s and was killed{}",
                timeout.as_secs(),
                quoted_output(&stderr, &stdout)
            ))),
            Some(status) if !status.success() => Err(Error(format!(
                "`{desc}` failed ({status}){}",
                quoted_output(&stderr, &stdout)
            ))),
            Some(_) => Ok(stdout),
        }
    }
}

fn quoted_output(stderr: &str, stdout: &str) -> String {
    // Some tools (lxd init) print their complaint on stdout; show whichever has something.
    let text = if stderr.trim().is_empty() {
        stdout.trim()
    } else {
        stderr.trim()
    };
    if text.is_empty() {
        String::new()
    } else {
        format!(":\n{}", indent(text))
    }
}

/// Indents every line, so a quoted stderr stands apart from our own words.
pub fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> JoinHandle<String> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut buf);
        }
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// Runs a command with the terminal's stdio (apt-get, cargo test: their output is the point)
/// and returns its exit status; only failing to start it is an error.
pub fn run_inherit(cmd: &mut Command) -> Result<ExitStatus> {
    let desc = describe(cmd);
    say(format_args!("running `{desc}`"));
    cmd.status()
        .map_err(|e| Error(format!("cannot start `{desc}`: {e}")))
}

/// [`run_inherit`], where a non-zero exit is an error too.
pub fn run_inherit_ok(cmd: &mut Command) -> Result<()> {
    let status = run_inherit(cmd)?;
    if status.success() {
        Ok(())
    } else {
        Err(Error(format!("`{}` failed ({status})", describe(cmd))))
    }
}

/// Polls a child until it exits or `timeout` passes (std has no timed wait).
pub fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
            // A try_wait error means the child is gone from under us; treat it as "not done"
            // so the caller's kill-and-report path runs.
            _ => return None,
        }
    }
}

/// The effective uid is the owner of /proc/self: no libc needed.
pub fn is_root() -> bool {
    fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// First executable among `candidates`, then along PATH.
pub fn find_program(name: &str, candidates: &[&str], search_path: bool) -> Option<PathBuf> {
    let fixed = candidates.iter().map(PathBuf::from);
    let on_path: Vec<PathBuf> = if search_path {
        std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).map(|d| d.join(name)).collect())
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    fixed.chain(on_path).find(|p| is_executable(p))
}

pub fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A port on 127.0.0.1 that was free a moment ago: bind port 0, read it, let it go.
/// Racy by nature; callers verify the daemon really listens afterwards.
pub fn free_loopback_port() -> Result<u16> {
    let listener =
        TcpListener::bind("127.0.0.1:0").context(|| "cannot bind 127.0.0.1:0".to_owned())?;
    let port = listener
        .local_addr()
        .context(|| "cannot read the bound address".to_owned())?
        .port();
    Ok(port)
}

/// The last `n` lines of a (possibly large) log file, for failure reports.
pub fn tail(path: &Path, n: usize) -> String {
    let read = || -> io::Result<String> {
        let mut file = fs::File::open(path)?;
        let len = file.metadata()?.len();
        // 256 KiB holds far more than 50 log lines; never read a huge log whole.
        file.seek(SeekFrom::Start(len.saturating_sub(256 * 1024)))?;
        let mut buf = Vec::new();
        file.read_to_end(&mut buf)?;
        Ok(String::from_utf8_lossy(&buf).into_owned())
    };
    match read() {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(n)..].join("\n")
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

/// A directory under the system temp dir, removed (with its content) when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> Result<Self> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!("{prefix}-{}-{nanos}", std::process::id()));
        fs::create_dir(&path).context(|| format!("cannot create {}", path.display()))?;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o700))
            .context(|| format!("cannot chmod {}", path.display()))?;
        Ok(TempDir(path))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The string value of `"key": "..."` in JSON printed by `lxc query`, unescaped.
///
/// Only string values are needed (a certificate, a fingerprint, an image property), and a
/// JSON crate would be xtask's only dependency; a key followed by a colon cannot be confused
/// with the same word as an array element.
pub fn json_string_field(json: &str, key: &str) -> Option<String> {
    let needle = format!("\"{key}\"");
    let mut from = 0;
    while let Some(at) = json[from..].find(&needle) {
        let after = &json[from + at + needle.len()..];
        from += at + needle.len();
        let Some(rest) = after.trim_start().strip_prefix(':') else {
            continue;
        };
        let rest = rest.trim_start().strip_prefix('"')?;
        return unescape_json_string(rest);
    }
    None
}

fn unescape_json_string(s: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = s.chars();
    loop {
        match chars.next()? {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    let code = u32::from_str_radix(&hex, 16).ok()?;
                    out.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
                }
                other => out.push(other), // \" \\ \/
            },
            c => out.push(c),
        }
    }
}

/// Elapsed time as a human reads it in a log.
pub fn secs(since: Instant) -> String {
    format!("{:.1} s", since.elapsed().as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_field_skips_array_words_and_unescapes() {
        let json = "{\n\t\"api\": [\"certificate\", \"x\"],\n\t\"certificate\": \"-----BEGIN\\nAB\\/C\\u0041\\\"\",\n\t\"certificate_fingerprint\": \"ff\"\n}";
        assert_eq!(
            json_string_field(json, "certificate").as_deref(),
            Some("-----BEGIN\nAB/CA\"")
        );
        assert_eq!(
            json_string_field(json, "certificate_fingerprint").as_deref(),
            Some("ff")
        );
        assert_eq!(json_string_field(json, "missing"), None);
    }

    #[test]
    fn describe_quotes_what_needs_it() {
        let mut cmd = Command::new("lxc");
        cmd.env("LXD_DIR", "/var/lib/x")
            .args(["config", "set", "a b"]);
        assert_eq!(describe(&cmd), "LXD_DIR=/var/lib/x lxc config set 'a b'");
    }
}
