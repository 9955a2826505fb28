//! Recursive transfers: a local tree into an instance, and an instance's tree to a local
//! folder that nothing from the instance can make it write outside of.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use futures::StreamExt;
use lxd_proto::InstanceFileStat;
use lxd_transport::Timeout;

use super::local::{self, EntryKind, LocalDir, MadeDir, ModePolicy};
use super::{DirOptions, Fetched, Files, PutOptions, Reporter, check_path, paths};
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
///
/// The default is [`Skip`](Self::Skip): the instance may be untrusted (anyone with root in it
/// can plant links), and a kept link points at *this machine's* `/etc/shadow` or `~/.ssh`.
/// The pull itself would not follow it, but whatever reads the copy next (a backup, a web
/// server, `cp -r`, a restore into another instance) may. Skipping keeps such a tree
/// usable (a distribution's `/etc` holds links like `localtime -> /usr/share/zoneinfo/UTC`
/// that [`Refuse`](Self::Refuse) would fail on) and lists every link left out in
/// [`TransferSummary::skipped`]. Ask for [`Keep`](Self::Keep) (what `lxc file pull -r`
/// does) when the instance is trusted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum OutsideLinks {
    /// Recreate the link with the target as LXD reports it (absolute), like `lxc file pull
    /// -r`. The link then points at that path on the host: do not let other tools follow it
    /// blindly.
    Keep,
    /// Leave the link out and list it in [`TransferSummary::skipped`] (the default).
    #[default]
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
    keep_special_mode_bits: bool,
    concurrency: usize,
}

impl Default for GetRecursiveOptions {
    fn default() -> Self {
        GetRecursiveOptions {
            outside_links: OutsideLinks::default(),
            preserve_ownership: false,
            keep_special_mode_bits: false,
            concurrency: DEFAULT_CONCURRENCY,
        }
    }
}

impl GetRecursiveOptions {
    /// Outside links skipped, permission bits only (no setuid, setgid, sticky; umask
    /// applied), no ownership, 4 files at once.
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

    /// Also gives files and directories the setuid, setgid and sticky bits they have in the
    /// instance. Off by default: a pulled tree only gets the permission bits (`0o777`), under
    /// the process umask, so that an instance cannot plant a setuid program (which, with
    /// [`preserve_ownership`](Self::preserve_ownership), could be root's) on this machine.
    /// The permission bits stay under the umask either way.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::GetRecursiveOptions;
    /// // A faithful copy of a trusted instance's /usr/bin, setuid programs included (as root).
    /// let options = GetRecursiveOptions::new().preserve_ownership(true).keep_special_mode_bits(true);
    /// client.instances().files("builder").get_recursive("/usr/bin", "/srv/rootfs/usr/bin", &options).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_files_get)
    pub fn keep_special_mode_bits(mut self, yes: bool) -> Self {
        self.keep_special_mode_bits = yes;
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
        /// Names from the destination down to it.
        components: Vec<String>,
        stat: InstanceFileStat,
        /// Set when this pull created it: it then gets its mode at the end.
        made: Option<MadeDir>,
        names: Vec<String>,
    },
    Symlink,
    Skipped(SkippedEntry),
}

fn owner(preserve: bool, stat: &InstanceFileStat) -> Option<(u32, u32)> {
    preserve.then_some((stat.uid, stat.gid))
}

impl GetRecursiveOptions {
    fn mode_policy(&self, stat: &InstanceFileStat) -> ModePolicy {
        ModePolicy {
            keep_special: self.keep_special_mode_bits,
            owner: owner(self.preserve_ownership, stat),
        }
    }
}

impl Files {
    /// Copies the local directory `local` into the instance so that its content is at
    /// `remote` (created, with missing parents, if needed; like `cp -rT`). Files and
    /// directories keep their permission bits; symlinks are recreated with their target as
    /// is, never followed; other kinds (sockets, FIFOs, devices) are skipped and listed.
    /// Files are streamed, several at once.
    ///
    /// Below `local` (which is the caller's and may be reached through a symlink), every
    /// entry is reached relative to its open directory and opened without following a
    /// symlink: a file another local process swaps for a symlink (or for another file) after
    /// it was listed is an error, never read, so the swap cannot send the link's target.
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
        let top = LocalDir::open(local).await?;
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

        // Directories waiting are named by their path from the top, not held open: a wide
        // tree must not run out of file descriptors.
        let mut pending: Vec<(Vec<String>, String)> = vec![(Vec::new(), root)];
        while let Some((components, remote_dir)) = pending.pop() {
            let dir = top.descend(&components).await?;
            let mut files = Vec::new();
            for (name, entry) in dir.list().await? {
                let name = name.into_string().map_err(|name| {
                    Error::invalid(
                        "local file name",
                        format!(
                            "{:?} in {} is not UTF-8, which LXD's file API cannot carry",
                            name,
                            dir.display(OsStr::new(""))
                        ),
                    )
                })?;
                let remote_path = paths::join(&remote_dir, &name);
                match entry.kind {
                    EntryKind::Directory => {
                        self.create_dir(&remote_path, &dir_options(entry.mode))
                            .await?;
                        summary.directories += 1;
                        let mut below = components.clone();
                        below.push(name);
                        pending.push((below, remote_path));
                    }
                    EntryKind::Symlink => {
                        let target = dir.read_link(OsStr::new(&name)).await?;
                        let target = target.into_string().map_err(|t| {
                            Error::invalid(
                                "symlink target",
                                format!("{t:?} of {} is not UTF-8", dir.display(name.as_ref())),
                            )
                        })?;
                        self.create_symlink(&remote_path, &target).await?;
                        summary.symlinks += 1;
                    }
                    EntryKind::File => files.push((name, remote_path, entry)),
                    EntryKind::Other => summary.skipped.push(SkippedEntry {
                        path: dir.display(name.as_ref()),
                        reason: "not a regular file, directory or symlink".into(),
                    }),
                }
            }

            let mut sent = futures::stream::iter(files)
                .map(|(name, remote_path, entry)| {
                    let reporter = reporter.clone();
                    let file_options = &file_options;
                    let dir = &dir;
                    async move {
                        let (file, length, mode) =
                            dir.open_file(OsStr::new(&name), Some(&entry)).await?;
                        self.put_open_file(
                            &remote_path,
                            tokio::fs::File::from_std(file),
                            length,
                            mode,
                            file_options,
                            reporter,
                        )
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
    /// directories get their permission bits (`0o777`) under the process umask, and their
    /// owner with [`preserve_ownership`](GetRecursiveOptions::preserve_ownership); setuid,
    /// setgid and sticky only with
    /// [`keep_special_mode_bits`](GetRecursiveOptions::keep_special_mode_bits). Directories
    /// that existed before the call (`local` included) keep their mode and owner.
    ///
    /// Nothing the instance holds can make this write outside `local`:
    /// - an entry name that is not one plain name (`..`, with `/`, empty) fails the transfer;
    /// - symlinks are recreated as symlinks, never followed: a target inside the tree becomes
    ///   a relative link within `local`; one outside is skipped (the default), kept or
    ///   refused per [`OutsideLinks`];
    /// - a symlink found locally where a directory goes is an error, and one where a file
    ///   goes is replaced, not written through;
    /// - each file is written aside and renamed into place when complete, so a failure or a
    ///   dropped future leaves no half-written file at a final path and no temporary.
    ///
    /// Nor can another local process writing into `local` meanwhile: below `local`, every
    /// directory is opened without following symlinks and every file is created and renamed
    /// relative to its open directory, so a directory swapped for a symlink mid-transfer
    /// redirects nothing.
    ///
    /// `local` itself is the caller's: it may be reached through a symlink.
    ///
    /// Every request honours the client's [`timeout`](crate::ClientBuilder::timeout): the
    /// listings, and each file's reply up to its content (which takes as long as it takes).
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_files_get)
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::GetRecursiveOptions;
    /// let summary = client
    ///     .instances()
    ///     .files("web")
    ///     .get_recursive("/etc", "backup/etc", &GetRecursiveOptions::new())
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
        let (top, top_made) = LocalDir::open_or_create_top(local, root_stat.mode).await?;
        let reporter = self.reporter();
        let mut summary = TransferSummary {
            directories: 1,
            ..Default::default()
        };
        // Directory modes are set last, deepest first, so a read-only directory is filled
        // before it becomes read-only. Only directories made here are listed.
        let mut made: Vec<(MadeDir, InstanceFileStat)> = Vec::new();
        if let Some(m) = top_made {
            made.push((m, root_stat));
        }
        // Waiting directories are named by their path from the top, not held open: a wide
        // tree must not run out of file descriptors, and each is found again without
        // following links.
        let mut pending: Vec<(String, Vec<String>, Vec<String>)> =
            vec![(root.clone(), Vec::new(), root_names)];
        while let Some((remote_dir, components, names)) = pending.pop() {
            for name in &names {
                if let Err(reason) = paths::check_entry_name(name) {
                    return Err(Error::malformed(
                        format!("GET {base}?path={remote_dir}"),
                        format!("the server listed {reason} in {remote_dir:?}; refused"),
                        name.as_bytes(),
                    ));
                }
            }
            let local_dir = top.descend(&components).await?;
            let mut got = futures::stream::iter(names)
                .map(|name| {
                    self.get_entry(
                        &root,
                        &remote_dir,
                        &local_dir,
                        &components,
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
                        components,
                        stat,
                        made: made_now,
                        names,
                    } => {
                        summary.directories += 1;
                        if let Some(m) = made_now {
                            made.push((m, stat));
                        }
                        pending.push((remote, components, names));
                    }
                    Got::Symlink => summary.symlinks += 1,
                    Got::Skipped(entry) => summary.skipped.push(entry),
                }
            }
        }
        for (dir, stat) in made.into_iter().rev() {
            top.finish(dir, options.mode_policy(&stat)).await?;
        }
        Ok(summary)
    }

    /// Brings one entry of `remote_dir` into `local_dir` (open; `components` from the top).
    #[allow(clippy::too_many_arguments)]
    async fn get_entry(
        &self,
        root: &str,
        remote_dir: &str,
        local_dir: &LocalDir,
        components: &[String],
        name: String,
        options: &GetRecursiveOptions,
        reporter: Option<Reporter>,
    ) -> Result<Got> {
        let remote = paths::join(remote_dir, &name);
        // No limit on the whole reply (a file's content takes as long as it takes); `fetch`
        // still bounds the reply's start and a listing by the client's timeout.
        match self.fetch(&remote, reporter.clone(), Timeout::None).await? {
            Fetched::File(download) => {
                let stat = download.stat().clone();
                let (aside, mut file) =
                    local::Aside::file(local_dir, OsStr::new(&name), stat.mode).await?;
                let bytes = download.copy_to(&mut file).await?;
                aside
                    .commit_file(file, stat.mode, options.mode_policy(&stat))
                    .await?;
                Ok(Got::File(bytes))
            }
            Fetched::Directory(stat, names) => {
                let mut below = components.to_vec();
                below.push(name.clone());
                // Not kept open: found again from the top when its turn comes.
                let (_, made) = local_dir.child_dir(&name, below.clone(), stat.mode).await?;
                Ok(Got::Directory {
                    remote,
                    components: below,
                    stat,
                    made,
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
                let aside =
                    local::Aside::symlink(local_dir, OsStr::new(&name), &link_target).await?;
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
    use std::path::PathBuf;
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
        // A `+` in a query is a space; a literal plus arrives as %2B.
        let spaced = s.replace('+', " ");
        percent_encoding::percent_decode_str(&spaced)
            .decode_utf8()
            .unwrap()
            .into_owned()
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
