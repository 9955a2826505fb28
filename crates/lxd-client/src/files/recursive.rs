//! Recursive transfers: a local tree into an instance, and an instance's tree to a local
//! folder that nothing from the instance can make it write outside of.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use futures::StreamExt;
use lxd_proto::InstanceFileStat;
use lxd_transport::Timeout;

use super::{DirOptions, Fetched, Files, PutOptions, Reporter, check_path, local, paths};
use crate::error::{Error, Result};

/// Default number of files transferred at once.
const DEFAULT_CONCURRENCY: usize = 4;
/// Upper bound on files transferred at once.
const MAX_CONCURRENCY: usize = 32;

/// What [`Files::get_recursive`] does with a symlink in the instance whose target lies
/// outside the tree being copied (`/etc`, `../../x`). Symlinks whose target is inside the tree
/// are always recreated, as relative links that stay inside the destination.
///
/// Whichever is chosen, this library never follows a link on the host: it never writes
/// through one, never descends into one, and replaces (not follows) a link found where it
/// writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum OutsideLinks {
    /// Recreate the link with the target as LXD reports it (absolute), like `lxc file pull
    /// -r`. The link then points at that path on the host: do not let other tools follow it
    /// blindly.
    #[default]
    Keep,
    /// Leave the link out and list it in [`TransferSummary::skipped`].
    Skip,
    /// Fail the transfer.
    Refuse,
}

/// Options of [`Files::get_recursive`].
///
/// ```
/// use lxd_client::{GetRecursiveOptions, OutsideLinks};
/// let options = GetRecursiveOptions::new().outside_links(OutsideLinks::Skip).concurrency(8);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct GetRecursiveOptions {
    outside_links: OutsideLinks,
    preserve_ownership: bool,
    concurrency: usize,
}

impl Default for GetRecursiveOptions {
    fn default() -> Self {
        GetRecursiveOptions {
            outside_links: OutsideLinks::Keep,
            preserve_ownership: false,
            concurrency: DEFAULT_CONCURRENCY,
        }
    }
}

impl GetRecursiveOptions {
    /// Keep outside links, no ownership, 4 files at once.
    ///
    /// One file read per entry.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = lxd_testkit::TestServer::start().await?;
    /// # let client = lxd_client::Client::unix(server.socket_path())?;
    /// # use lxd_client::proto::{InstanceSource, InstancesPost};
    /// # let web = InstancesPost { name: "web".into(), source: InstanceSource::image_alias("busybox"), ..Default::default() };
    /// # client.instances().create(&web).await?.wait().await?;
    /// use lxd_client::GetRecursiveOptions;
    /// # let backup = std::env::temp_dir().join(format!("lxd-rs-doc-etc-{}", std::process::id()));
    /// let files = client.instances().files("web");
    /// let summary = files.get_recursive("/etc", &backup, &GetRecursiveOptions::new()).await?;
    /// assert!(summary.files > 0 && backup.join("hostname").is_file());
    /// # std::fs::remove_dir_all(&backup)?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_files_get)
    pub fn new() -> Self {
        Self::default()
    }

    /// What to do with symlinks pointing outside the tree.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = lxd_testkit::TestServer::start().await?;
    /// # let client = lxd_client::Client::unix(server.socket_path())?;
    /// # use lxd_client::proto::{InstanceSource, InstancesPost};
    /// # let web = InstancesPost { name: "web".into(), source: InstanceSource::image_alias("busybox"), ..Default::default() };
    /// # client.instances().create(&web).await?.wait().await?;
    /// use lxd_client::{GetRecursiveOptions, OutsideLinks};
    /// # let dest = std::env::temp_dir().join(format!("lxd-rs-doc-links-{}", std::process::id()));
    /// let files = client.instances().files("web");
    /// files.create_dir("/tmp/app", &Default::default()).await?;
    /// files.create_symlink("/tmp/app/hosts", "/etc/hosts").await?; // points outside /tmp/app
    /// let options = GetRecursiveOptions::new().outside_links(OutsideLinks::Skip);
    /// let summary = files.get_recursive("/tmp/app", &dest, &options).await?;
    /// assert_eq!(summary.skipped.len(), 1);
    /// # std::fs::remove_dir_all(&dest)?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_files_get)
    pub fn outside_links(mut self, policy: OutsideLinks) -> Self {
        self.outside_links = policy;
        self
    }

    /// Gives local files, directories and symlinks the owner and group they have in the
    /// instance (numbers as seen inside it; needs the right to chown, usually root).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::GetRecursiveOptions;
    /// // A backup of home directories that keeps who owns what (run as root).
    /// let options = GetRecursiveOptions::new().preserve_ownership(true);
    /// client.instances().files("web").get_recursive("/home", "/backup/web/home", &options).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_files_get)
    pub fn preserve_ownership(mut self, yes: bool) -> Self {
        self.preserve_ownership = yes;
        self
    }

    /// How many files are transferred at once (1 to 32).
    ///
    /// How many file reads are in flight at once.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::GetRecursiveOptions;
    /// // Many small files over a fast link: more requests in flight.
    /// let options = GetRecursiveOptions::new().concurrency(16);
    /// client.instances().files("web").get_recursive("/var/lib/app", "backup/app", &options).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_files_get)
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.clamp(1, MAX_CONCURRENCY);
        self
    }
}

/// Options of [`Files::put_recursive`].
///
/// ```
/// use lxd_client::PutRecursiveOptions;
/// let options = PutRecursiveOptions::new().uid(1000).gid(1000);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct PutRecursiveOptions {
    uid: Option<u32>,
    gid: Option<u32>,
    concurrency: usize,
}

impl Default for PutRecursiveOptions {
    fn default() -> Self {
        PutRecursiveOptions {
            uid: None,
            gid: None,
            concurrency: DEFAULT_CONCURRENCY,
        }
    }
}

impl PutRecursiveOptions {
    /// Owner left to LXD (root of the instance), 4 files at once.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::PutRecursiveOptions;
    /// let files = client.instances().files("web");
    /// let summary = files.put_recursive("config/", "/etc/app", &PutRecursiveOptions::new()).await?;
    /// println!("{} files, {} directories", summary.files, summary.directories);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_files_post)
    pub fn new() -> Self {
        Self::default()
    }

    /// Owner of every file and directory created, as seen inside the instance.
    ///
    /// Sets the `X-LXD-uid` header of every file and directory push.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = lxd_testkit::TestServer::start().await?;
    /// # let client = lxd_client::Client::unix(server.socket_path())?;
    /// # use lxd_client::proto::{InstanceSource, InstancesPost};
    /// # let web = InstancesPost { name: "web".into(), source: InstanceSource::image_alias("busybox"), ..Default::default() };
    /// # client.instances().create(&web).await?.wait().await?;
    /// use lxd_client::PutRecursiveOptions;
    /// # let site = std::env::temp_dir().join(format!("lxd-rs-doc-site-{}", std::process::id()));
    /// # std::fs::create_dir_all(&site)?;
    /// # std::fs::write(site.join("index.html"), "<h1>hello</h1>")?;
    /// let files = client.instances().files("web");
    /// files.put_recursive(&site, "/tmp/html", &PutRecursiveOptions::new().uid(33).gid(33)).await?;
    /// assert_eq!(files.stat("/tmp/html/index.html").await?.uid, 33);
    /// # std::fs::remove_dir_all(&site)?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_files_post)
    pub fn uid(mut self, uid: u32) -> Self {
        self.uid = Some(uid);
        self
    }

    /// Group of every file and directory created, as seen inside the instance.
    ///
    /// Sets the `X-LXD-gid` header of every file and directory push.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::PutRecursiveOptions;
    /// // Files owned by root, in the group of the deploy user (1001).
    /// let options = PutRecursiveOptions::new().gid(1001);
    /// client.instances().files("web").put_recursive("release/", "/srv/app", &options).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_files_post)
    pub fn gid(mut self, gid: u32) -> Self {
        self.gid = Some(gid);
        self
    }

    /// How many files are transferred at once (1 to 32).
    ///
    /// How many file pushes are in flight at once.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::PutRecursiveOptions;
    /// // A slow, high-latency link: one file at a time.
    /// let options = PutRecursiveOptions::new().concurrency(1);
    /// client.instances().files("web").put_recursive("assets/", "/var/www/assets", &options).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_files_post)
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.clamp(1, MAX_CONCURRENCY);
        self
    }
}

/// What a recursive transfer did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransferSummary {
    /// Regular files transferred.
    pub files: u64,
    /// Directories created or reused, the top one included.
    pub directories: u64,
    /// Symlinks created.
    pub symlinks: u64,
    /// Bytes of file content transferred.
    pub bytes: u64,
    /// Entries left out, with why.
    pub skipped: Vec<SkippedEntry>,
}

/// An entry a recursive transfer left out.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SkippedEntry {
    /// The path (in the instance for a get, local for a put).
    pub path: String,
    /// Why.
    pub reason: String,
}

/// What became of one entry of an instance directory.
enum Got {
    File(u64),
    Directory {
        remote: String,
        local: PathBuf,
        stat: InstanceFileStat,
        names: Vec<String>,
    },
    Symlink,
    Skipped(SkippedEntry),
}

fn owner(preserve: bool, stat: &InstanceFileStat) -> Option<(u32, u32)> {
    preserve.then_some((stat.uid, stat.gid))
}

impl Files {
    /// Copies the local directory `local` into the instance so that its content is at
    /// `remote` (created, with missing parents, if needed; like `cp -rT`). Files and
    /// directories keep their permission bits; symlinks are recreated with their target as
    /// is, never followed; other kinds (sockets, FIFOs, devices) are skipped and listed.
    /// Files are streamed, several at once.
    ///
    /// Existing files are overwritten (LXD then keeps their owner and mode). A failure stops
    /// the transfer: what was sent stays, and the file being sent may be partial in the
    /// instance (LXD writes in place).
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_files_post)
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::PutRecursiveOptions;
    /// let summary = client
    ///     .instances()
    ///     .files("web")
    ///     .put_recursive("site/", "/var/www/html", &PutRecursiveOptions::new().uid(33).gid(33))
    ///     .await?;
    /// println!("{} files, {} bytes", summary.files, summary.bytes);
    /// # Ok(()) }
    /// ```
    pub async fn put_recursive(
        &self,
        local: impl AsRef<Path>,
        remote: &str,
        options: &PutRecursiveOptions,
    ) -> Result<TransferSummary> {
        check_path(remote)?;
        self.base()?;
        let local = local.as_ref();
        // The top directory is the caller's choice and may be reached through a symlink;
        // nothing below it is followed.
        let meta = tokio::fs::metadata(local)
            .await
            .map_err(|e| Error::io(format!("reading {}", local.display()), e))?;
        if !meta.is_dir() {
            return Err(Error::invalid(
                "local directory",
                format!(
                    "{} is not a directory (for one file use put_from_path)",
                    local.display()
                ),
            ));
        }
        let root = paths::clean(remote);
        let reporter = self.reporter();
        let dir_options = |mode: u32| {
            let mut o = DirOptions::new().mode(mode & 0o7777);
            if let Some(uid) = options.uid {
                o = o.uid(uid);
            }
            if let Some(gid) = options.gid {
                o = o.gid(gid);
            }
            o
        };
        let parent = paths::parent(&root);
        if parent != "/" {
            self.create_dir(parent, &DirOptions::new().parents(true))
                .await?;
        }
        self.create_dir(&root, &dir_options(meta.permissions().mode()))
            .await?;
        let mut summary = TransferSummary {
            directories: 1,
            ..Default::default()
        };
        let mut file_options = PutOptions::new();
        if let Some(uid) = options.uid {
            file_options = file_options.uid(uid);
        }
        if let Some(gid) = options.gid {
            file_options = file_options.gid(gid);
        }

        let mut pending = vec![(local.to_path_buf(), root)];
        while let Some((local_dir, remote_dir)) = pending.pop() {
            let mut entries = Vec::new();
            let mut reader = tokio::fs::read_dir(&local_dir)
                .await
                .map_err(|e| Error::io(format!("listing {}", local_dir.display()), e))?;
            while let Some(entry) = reader
                .next_entry()
                .await
                .map_err(|e| Error::io(format!("listing {}", local_dir.display()), e))?
            {
                entries.push(entry);
            }
            entries.sort_by_key(|e| e.file_name());

            let mut files = Vec::new();
            for entry in entries {
                let local_path = entry.path();
                let name = entry.file_name().into_string().map_err(|name| {
                    Error::invalid(
                        "local file name",
                        format!(
                            "{:?} in {} is not UTF-8, which LXD's file API cannot carry",
                            name,
                            local_dir.display()
                        ),
                    )
                })?;
                let remote_path = paths::join(&remote_dir, &name);
                // The entry's own type: a symlink is a symlink, not what it points to.
                let kind = entry
                    .file_type()
                    .await
                    .map_err(|e| Error::io(format!("reading {}", local_path.display()), e))?;
                if kind.is_dir() {
                    let mode = tokio::fs::symlink_metadata(&local_path)
                        .await
                        .map_err(|e| Error::io(format!("reading {}", local_path.display()), e))?
                        .permissions()
                        .mode();
                    self.create_dir(&remote_path, &dir_options(mode)).await?;
                    summary.directories += 1;
                    pending.push((local_path, remote_path));
                } else if kind.is_symlink() {
                    let target = tokio::fs::read_link(&local_path)
                        .await
                        .map_err(|e| Error::io(format!("reading {}", local_path.display()), e))?;
                    let target = target.into_os_string().into_string().map_err(|t| {
                        Error::invalid(
                            "symlink target",
                            format!("{t:?} of {} is not UTF-8", local_path.display()),
                        )
                    })?;
                    self.create_symlink(&remote_path, &target).await?;
                    summary.symlinks += 1;
                } else if kind.is_file() {
                    files.push((local_path, remote_path));
                } else {
                    summary.skipped.push(SkippedEntry {
                        path: local_path.display().to_string(),
                        reason: "not a regular file, directory or symlink".into(),
                    });
                }
            }

            let mut sent = futures::stream::iter(files)
                .map(|(local_path, remote_path)| {
                    let reporter = reporter.clone();
                    let file_options = &file_options;
                    async move {
                        self.put_path_reporting(&remote_path, &local_path, file_options, reporter)
                            .await
                    }
                })
                .buffer_unordered(options.concurrency);
            while let Some(result) = sent.next().await {
                summary.bytes += result?;
                summary.files += 1;
            }
        }
        Ok(summary)
    }

    /// Copies the instance's directory `remote` (symlinks to it followed inside the instance)
    /// so that its content is at `local` (created if needed; like `cp -rT`). Files and
    /// directories keep their permission bits (and owner, with
    /// [`preserve_ownership`](GetRecursiveOptions::preserve_ownership)).
    ///
    /// Nothing the instance holds can make this write outside `local`:
    /// - an entry name that is not one plain name (`..`, with `/`, empty) fails the transfer;
    /// - symlinks are recreated as symlinks, never followed: a target inside the tree becomes
    ///   a relative link within `local`; one outside is kept, skipped or refused per
    ///   [`OutsideLinks`];
    /// - a symlink found locally where a directory goes is an error, and one where a file
    ///   goes is replaced, not written through;
    /// - each file is written aside and renamed into place when complete, so a failure
    ///   leaves no half-written file at a final path.
    ///
    /// `local` itself is the caller's: it may be reached through a symlink.
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_files_get)
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::{GetRecursiveOptions, OutsideLinks};
    /// let summary = client
    ///     .instances()
    ///     .files("web")
    ///     .get_recursive("/etc", "backup/etc", &GetRecursiveOptions::new().outside_links(OutsideLinks::Skip))
    ///     .await?;
    /// for skipped in &summary.skipped {
    ///     eprintln!("left out {}: {}", skipped.path, skipped.reason);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn get_recursive(
        &self,
        remote: &str,
        local: impl AsRef<Path>,
        options: &GetRecursiveOptions,
    ) -> Result<TransferSummary> {
        check_path(remote)?;
        let base = self.base()?;
        let local = local.as_ref();
        let (root, fetched) = self
            .fetch_following(&paths::clean(remote), None, Timeout::Default)
            .await?;
        let (root_stat, root_names) = match fetched {
            Fetched::Directory(stat, names) => (stat, names),
            Fetched::File(download) => {
                return Err(self.wrong_type(remote, download.stat(), "a directory"));
            }
            Fetched::Symlink(stat, _) => return Err(self.wrong_type(remote, &stat, "a directory")),
        };
        tokio::fs::create_dir_all(local)
            .await
            .map_err(|e| Error::io(format!("creating {}", local.display()), e))?;
        let local_root = tokio::fs::canonicalize(local)
            .await
            .map_err(|e| Error::io(format!("resolving {}", local.display()), e))?;
        let reporter = self.reporter();
        let mut summary = TransferSummary {
            directories: 1,
            ..Default::default()
        };
        // Directory modes are set last, deepest first, so a read-only directory is filled
        // before it becomes read-only.
        let mut made = vec![(local_root.clone(), root_stat)];
        let mut pending = vec![(root.clone(), local_root, root_names)];
        while let Some((remote_dir, local_dir, names)) = pending.pop() {
            for name in &names {
                if let Err(reason) = paths::check_entry_name(name) {
                    return Err(Error::malformed(
                        format!("GET {base}?path={remote_dir}"),
                        format!("the server listed {reason} in {remote_dir:?}; refused"),
                        name.as_bytes(),
                    ));
                }
            }
            let mut got = futures::stream::iter(names)
                .map(|name| {
                    self.get_entry(
                        &root,
                        &remote_dir,
                        &local_dir,
                        name,
                        options,
                        reporter.clone(),
                    )
                })
                .buffer_unordered(options.concurrency);
            while let Some(result) = got.next().await {
                match result? {
                    Got::File(bytes) => {
                        summary.files += 1;
                        summary.bytes += bytes;
                    }
                    Got::Directory {
                        remote,
                        local,
                        stat,
                        names,
                    } => {
                        summary.directories += 1;
                        made.push((local.clone(), stat));
                        pending.push((remote, local, names));
                    }
                    Got::Symlink => summary.symlinks += 1,
                    Got::Skipped(entry) => summary.skipped.push(entry),
                }
            }
        }
        for (dir, stat) in made.into_iter().rev() {
            local::finish_dir(dir, stat.mode, owner(options.preserve_ownership, &stat)).await?;
        }
        Ok(summary)
    }

    /// Brings one entry of `remote_dir` to `local_dir`.
    async fn get_entry(
        &self,
        root: &str,
        remote_dir: &str,
        local_dir: &Path,
        name: String,
        options: &GetRecursiveOptions,
        reporter: Option<Reporter>,
    ) -> Result<Got> {
        let remote = paths::join(remote_dir, &name);
        let local = local_dir.join(&name);
        match self.fetch(&remote, reporter.clone(), Timeout::None).await? {
            Fetched::File(download) => {
                let stat = download.stat().clone();
                let (aside, mut file) = local::Aside::file(&local).await?;
                let bytes = download.copy_to(&mut file).await?;
                aside
                    .commit_file(file, stat.mode, owner(options.preserve_ownership, &stat))
                    .await?;
                Ok(Got::File(bytes))
            }
            Fetched::Directory(stat, names) => {
                local::ensure_dir(&local).await?;
                Ok(Got::Directory {
                    remote,
                    local,
                    stat,
                    names,
                })
            }
            Fetched::Symlink(stat, target) => {
                let resolved = paths::resolve_link(&remote, &target);
                let link_target = if paths::within(root, &resolved) {
                    paths::relative(paths::parent(&remote), &resolved)
                } else {
                    match options.outside_links {
                        OutsideLinks::Keep => target,
                        OutsideLinks::Skip => {
                            return Ok(Got::Skipped(SkippedEntry {
                                path: remote,
                                reason: format!("symlink to {target:?}, outside {root:?}"),
                            }));
                        }
                        OutsideLinks::Refuse => {
                            return Err(Error::invalid(
                                "symlink",
                                format!(
                                    "{remote:?} in instance {:?} points to {target:?}, outside \
                                     {root:?}; refused (OutsideLinks::Refuse)",
                                    self.instance
                                ),
                            ));
                        }
                    }
                };
                let aside = local::Aside::symlink(&local, &link_target).await?;
                if let Some((uid, gid)) = owner(options.preserve_ownership, &stat) {
                    aside.lchown(uid, gid).await?;
                }
                aside.commit().await?;
                Ok(Got::Symlink)
            }
        }
    }
}

/// What no real LXD sends (entry names that leave their directory, a body cut short), from a
/// minimal HTTP server on a unix socket.
#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::UnixListener;

    use super::*;
    use crate::Client;

    type Route = Arc<dyn Fn(&str) -> Vec<u8> + Send + Sync>;

    fn scratch(name: &str) -> PathBuf {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "lxd-client-files-{name}-{}-{n}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn percent_decode(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'%' if i + 2 < b.len() => {
                    let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
                    out.push(u8::from_str_radix(hex, 16).unwrap());
                    i += 3;
                }
                b'+' => {
                    out.push(b' ');
                    i += 1;
                }
                c => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        String::from_utf8(out).unwrap()
    }

    fn reply(status: &str, headers: &[(&str, &str)], body: &[u8], length: usize) -> Vec<u8> {
        let mut out = format!("HTTP/1.1 {status}\r\nContent-Length: {length}\r\n");
        for (k, v) in headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str("\r\n");
        let mut out = out.into_bytes();
        out.extend_from_slice(body);
        out
    }

    fn json(metadata: &str, headers: &[(&str, &str)]) -> Vec<u8> {
        let body = format!(
            r#"{{"type":"sync","status":"Success","status_code":200,"operation":"","error_code":0,"error":"","metadata":{metadata}}}"#
        );
        let mut h = vec![("Content-Type", "application/json")];
        h.extend_from_slice(headers);
        reply("200 OK", &h, body.as_bytes(), body.len())
    }

    const DIR: &[(&str, &str)] = &[
        ("X-LXD-Type", "directory"),
        ("X-LXD-Uid", "0"),
        ("X-LXD-Gid", "0"),
        ("X-LXD-Mode", "0755"),
    ];
    const FILE: &[(&str, &str)] = &[
        ("X-LXD-Type", "file"),
        ("X-LXD-Uid", "0"),
        ("X-LXD-Gid", "0"),
        ("X-LXD-Mode", "0644"),
    ];

    /// Serves `route(file path)` for file requests and a server description for `/1.0`.
    /// Every connection is closed after one answer, so a short body ends with the connection.
    async fn server(route: Route) -> (Client, PathBuf) {
        let dir = scratch("sock");
        let socket = dir.join("s");
        let listener = UnixListener::bind(&socket).unwrap();
        tokio::spawn(async move {
            loop {
                let Ok((mut conn, _)) = listener.accept().await else {
                    return;
                };
                let route = route.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        if conn.read(&mut byte).await.unwrap_or(0) == 0 {
                            return;
                        }
                        head.push(byte[0]);
                    }
                    let head = String::from_utf8_lossy(&head).to_string();
                    let target = head.split(' ').nth(1).unwrap_or("").to_string();
                    let answer = if target == "/1.0" {
                        json(
                            r#"{"api_extensions":["file_delete","file_append","file_symlinks","file_get_symlink","directory_manipulation"],"auth":"trusted","environment":{"server":"lxd","server_version":"5.0.2"}}"#,
                            &[],
                        )
                    } else {
                        let query = target.split_once("path=").map(|x| x.1).unwrap_or("");
                        let path = percent_decode(query.split('&').next().unwrap_or(""));
                        route(&path)
                    };
                    let _ = conn.write_all(&answer).await;
                    let _ = conn.shutdown().await;
                });
            }
        });
        (Client::unix(&socket).unwrap(), dir)
    }

    fn listing(names: &'static str) -> Route {
        Arc::new(move |path: &str| match path {
            "/t" => json(names, DIR),
            _ => reply("200 OK", FILE, b"hi", 2),
        })
    }

    #[tokio::test]
    async fn names_that_leave_their_directory_are_refused() {
        for names in [
            r#"["ok", ".."]"#,
            r#"["ok", "../escape"]"#,
            r#"["/abs"]"#,
            r#"[""]"#,
        ] {
            let (client, sock) = server(listing(names)).await;
            let parent = scratch("parent");
            let dest = parent.join("dest");
            let err = client
                .instances()
                .files("c1")
                .get_recursive("/t", &dest, &GetRecursiveOptions::new())
                .await
                .unwrap_err();
            assert!(err.is_malformed(), "{names}: {err:?}");
            assert!(err.to_string().contains("refused"), "{err}");
            // Nothing but the destination (still empty) in its parent.
            let beside: Vec<_> = std::fs::read_dir(&parent).unwrap().collect();
            assert_eq!(beside.len(), 1, "{names}");
            assert_eq!(std::fs::read_dir(&dest).unwrap().count(), 0, "{names}");
            std::fs::remove_dir_all(&parent).unwrap();
            std::fs::remove_dir_all(&sock).unwrap();
        }
    }

    #[tokio::test]
    async fn a_plain_listing_is_copied() {
        let (client, sock) = server(listing(r#"["a", "..b", "..."]"#)).await;
        let dest = scratch("plain");
        let summary = client
            .instances()
            .files("c1")
            .get_recursive("/t", &dest, &GetRecursiveOptions::new())
            .await
            .unwrap();
        assert_eq!((summary.files, summary.bytes), (3, 6));
        for name in ["a", "..b", "..."] {
            assert_eq!(std::fs::read(dest.join(name)).unwrap(), b"hi");
        }
        std::fs::remove_dir_all(&dest).unwrap();
        std::fs::remove_dir_all(&sock).unwrap();
    }

    #[tokio::test]
    async fn a_cut_download_leaves_no_file() {
        // Announces 100 bytes, sends 50, closes.
        let route: Route = Arc::new(|_: &str| reply("200 OK", FILE, &[b'x'; 50], 100));
        let (client, sock) = server(route).await;
        let dir = scratch("cut");
        let target = dir.join("f");
        std::fs::write(&target, b"old").unwrap();
        let err = client
            .instances()
            .files("c1")
            .get_to_path("/f", &target)
            .await
            .unwrap_err();
        // hyper sees the body end before its Content-Length: a transport error.
        assert!(matches!(err, Error::Transport(_)), "{err:?}");
        // The previous content is untouched and no temporary is left.
        assert_eq!(std::fs::read(&target).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::remove_dir_all(&sock).unwrap();
    }
}
