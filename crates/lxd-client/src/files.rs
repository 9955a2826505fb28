//! Files in instances (`/1.0/instances/<name>/files?path=...`): streamed get and put, stat,
//! directories, symlinks, delete, and recursive transfers ([`Files::put_recursive`],
//! [`Files::get_recursive`]) that never write outside their destination.
//!
//! Content is never held whole in memory unless asked for (`get_bytes`, `put_bytes`):
//! uploads stream from an `AsyncRead` or a local file in 64 KiB chunks, downloads are written
//! chunk by chunk into an `AsyncWrite` or a local file (written aside, then renamed).
//!
//! What LXD does, found on LXD 5.0.2 and in its source (`lxd/instance_file.go`):
//! - the file's metadata travels in headers (`X-LXD-uid`, ... or `X-Incus-*`, see
//!   [`Flavor::header_prefix`](crate::Flavor::header_prefix)); a file's content or a symlink's
//!   target is the raw body; a directory's entries come in the JSON envelope;
//! - a pushed body must not be sent as a form: with a form content type LXD parses (and
//!   loses) the body, so pushes say `application/octet-stream`;
//! - uid, gid and mode apply only to a file LXD creates, unless the server has
//!   `instances_files_modify_permissions` ([`PutOptions::modify_existing`]); only the 0o777
//!   bits are kept;
//! - `GET` of a symlink answers with its target made absolute and cleaned (`../x` seen from
//!   `/a/b/l` is `/a/x`);
//! - creating a directory that exists (even as a file) is a success: [`Files::create_dir`]
//!   checks what is there afterwards;
//! - snapshots have no file access (LXD answers "Invalid instance name");
//! - a failed upload can leave a partial file in the instance (LXD writes in place and has no
//!   rename).

pub(crate) mod local;
mod paths;
mod recursive;

pub use recursive::{
    GetRecursiveOptions, OutsideLinks, PutRecursiveOptions, SkippedEntry, TransferSummary,
};

use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures::stream::{BoxStream, Stream, StreamExt};
use lxd_proto::{
    InstanceFileHeaders, InstanceFileModifyPerm, InstanceFileStat, InstanceFileType,
    InstanceFileWriteMode,
};
use lxd_transport::http::{HeaderMap, HeaderName, HeaderValue, Method, header};
use lxd_transport::{Body, Request, Response, Timeout};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::client::{Client, decode_metadata};
use crate::error::{Error, Result};
use crate::instances::{Instances, instance_path};

/// Upload chunk size: big enough for throughput, small enough that a handful in flight stay
/// far below the memory budget.
const CHUNK: usize = 64 * 1024;
/// How many symlinks a get follows before giving up (Linux's limit).
const MAX_SYMLINK_HOPS: usize = 40;
/// Bound on a symlink target or an error body read into memory.
const SMALL_BODY: usize = 64 * 1024;

/// The files of one instance, from [`Instances::files`].
///
/// Paths in the instance are absolute (`/etc/hostname`); a relative one is refused before
/// anything is sent.
///
/// ```no_run
/// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
/// use lxd_client::PutOptions;
/// let files = client.instances().files("web");
/// files.put_bytes("/etc/motd", "hello\n", &PutOptions::new().mode(0o644)).await?;
/// assert_eq!(files.get_bytes("/etc/motd").await?, b"hello\n");
/// let stat = files.stat("/etc/motd").await?;
/// println!("{} {}:{} {:o}", stat.file_type, stat.uid, stat.gid, stat.mode);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Files {
    client: Client,
    instance: String,
    progress: Option<ProgressFn>,
}

impl std::fmt::Debug for Files {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Files")
            .field("instance", &self.instance)
            .field("project", &self.client.project())
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

impl Instances {
    /// The files of instance `name`. The name is checked when a call is made.
    ///
    /// LXD offers no file access to snapshots: a snapshot name (`c1/snap0`) is refused with an
    /// error saying so.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let names = client.instances().files("web").list_dir("/etc").await?;
    /// # Ok(()) }
    /// ```
    pub fn files(&self, name: &str) -> Files {
        Files {
            client: self.client.clone(),
            instance: name.to_string(),
            progress: None,
        }
    }
}

/// How far a transfer got, given to the callback of [`Files::with_progress`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransferProgress<'a> {
    /// The path in the instance being transferred.
    pub path: &'a str,
    /// Bytes of this file transferred so far.
    pub bytes: u64,
    /// This file's size, when known (a download's `Content-Length`, a local file's size, the
    /// length given with a reader).
    pub total: Option<u64>,
    /// Files finished so far in this call. Each file's last report comes when it is
    /// complete, with this count already including it.
    pub files_done: u64,
    /// Bytes of every file of this call so far (equals `bytes` for a single file).
    pub bytes_done: u64,
}

/// A progress callback. It runs on the transfer's task for every chunk: keep it cheap.
pub type ProgressFn = Arc<dyn Fn(&TransferProgress<'_>) + Send + Sync>;

/// Counts one call's progress, shared by the files it transfers (possibly in parallel).
#[derive(Clone)]
pub(crate) struct Reporter {
    callback: ProgressFn,
    files_done: Arc<AtomicU64>,
    bytes_done: Arc<AtomicU64>,
}

impl Reporter {
    fn new(callback: ProgressFn) -> Reporter {
        Reporter {
            callback,
            files_done: Arc::default(),
            bytes_done: Arc::default(),
        }
    }

    /// `delta` more bytes of `path` moved (`bytes` in all of this file).
    fn advance(&self, path: &str, bytes: u64, total: Option<u64>, delta: u64) {
        let bytes_done = self.bytes_done.fetch_add(delta, Ordering::Relaxed) + delta;
        (self.callback)(&TransferProgress {
            path,
            bytes,
            total,
            files_done: self.files_done.load(Ordering::Relaxed),
            bytes_done,
        });
    }

    /// `path` is complete: counted, and reported once more with the new count.
    fn file_done(&self, path: &str, bytes: u64, total: Option<u64>) {
        let files_done = self.files_done.fetch_add(1, Ordering::Relaxed) + 1;
        (self.callback)(&TransferProgress {
            path,
            bytes,
            total,
            files_done,
            bytes_done: self.bytes_done.load(Ordering::Relaxed),
        });
    }
}

/// Options of a file push: owner, mode and write mode.
///
/// Unset owner and mode are left to LXD (root of the instance, 0644). LXD applies them only
/// when it creates the file; see [`modify_existing`](Self::modify_existing).
///
/// ```
/// use lxd_client::PutOptions;
/// let options = PutOptions::new().mode(0o600).uid(1000).gid(1000).append();
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct PutOptions {
    mode: Option<u32>,
    uid: Option<u32>,
    gid: Option<u32>,
    write: InstanceFileWriteMode,
    modify_existing: bool,
}

impl PutOptions {
    /// Overwrite, owner and mode left to LXD.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::PutOptions;
    /// // Replace the content; a file LXD creates gets its defaults (root:root, 0644).
    /// client.instances().files("web").put_bytes("/etc/motd", "Maintenance at 22:00\n", &PutOptions::new()).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_files_post)
    pub fn new() -> PutOptions {
        PutOptions::default()
    }

    /// The permission bits (at most 0o7777; LXD keeps the 0o777 bits).
    ///
    /// Sets the `X-LXD-mode` header (`X-Incus-mode` on Incus) of the file push.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = lxd_testkit::TestServer::start().await?;
    /// # let client = lxd_client::Client::unix(server.socket_path())?;
    /// # use lxd_client::proto::{InstanceSource, InstancesPost};
    /// # let web = InstancesPost { name: "web".into(), source: InstanceSource::image_alias("busybox"), ..Default::default() };
    /// # client.instances().create(&web).await?.wait().await?;
    /// use lxd_client::PutOptions;
    /// let files = client.instances().files("web");
    /// let secret = PutOptions::new().mode(0o600);
    /// files.put_bytes("/root/.my.cnf", "[client]\npassword=s3cret\n", &secret).await?;
    /// assert_eq!(files.stat("/root/.my.cnf").await?.mode, 0o600);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_files_post)
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = Some(mode);
        self
    }

    /// The owner, as seen inside the instance.
    ///
    /// Sets the `X-LXD-uid` header (`X-Incus-uid` on Incus) of the file push.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = lxd_testkit::TestServer::start().await?;
    /// # let client = lxd_client::Client::unix(server.socket_path())?;
    /// # use lxd_client::proto::{InstanceSource, InstancesPost};
    /// # let web = InstancesPost { name: "web".into(), source: InstanceSource::image_alias("busybox"), ..Default::default() };
    /// # client.instances().create(&web).await?.wait().await?;
    /// use lxd_client::PutOptions;
    /// let files = client.instances().files("web");
    /// files.put_bytes("/tmp/job.env", "JOBS=4\n", &PutOptions::new().uid(1000).gid(1000)).await?;
    /// assert_eq!(files.stat("/tmp/job.env").await?.uid, 1000);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_files_post)
    pub fn uid(mut self, uid: u32) -> Self {
        self.uid = Some(uid);
        self
    }

    /// The group, as seen inside the instance.
    ///
    /// Sets the `X-LXD-gid` header (`X-Incus-gid` on Incus) of the file push.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = lxd_testkit::TestServer::start().await?;
    /// # let client = lxd_client::Client::unix(server.socket_path())?;
    /// # use lxd_client::proto::{InstanceSource, InstancesPost};
    /// # let web = InstancesPost { name: "web".into(), source: InstanceSource::image_alias("busybox"), ..Default::default() };
    /// # client.instances().create(&web).await?.wait().await?;
    /// use lxd_client::PutOptions;
    /// let files = client.instances().files("web");
    /// // Owned by root, readable by the group of the web server (33, www-data).
    /// files.put_bytes("/etc/site.conf", "listen 80\n", &PutOptions::new().gid(33).mode(0o640)).await?;
    /// assert_eq!(files.stat("/etc/site.conf").await?.gid, 33);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_files_post)
    pub fn gid(mut self, gid: u32) -> Self {
        self.gid = Some(gid);
        self
    }

    /// Appends to the existing file instead of replacing its content (needs the API
    /// extension `file_append`; the file must exist).
    ///
    /// Sets `X-LXD-write: append` on the file push.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = lxd_testkit::TestServer::start().await?;
    /// # let client = lxd_client::Client::unix(server.socket_path())?;
    /// # use lxd_client::proto::{InstanceSource, InstancesPost};
    /// # let web = InstancesPost { name: "web".into(), source: InstanceSource::image_alias("busybox"), ..Default::default() };
    /// # client.instances().create(&web).await?.wait().await?;
    /// use lxd_client::PutOptions;
    /// let files = client.instances().files("web");
    /// files.put_bytes("/tmp/deploy.log", "v1 deployed\n", &PutOptions::new()).await?;
    /// files.put_bytes("/tmp/deploy.log", "v2 deployed\n", &PutOptions::new().append()).await?;
    /// assert_eq!(files.get_bytes("/tmp/deploy.log").await?, b"v1 deployed\nv2 deployed\n");
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_files_post)
    pub fn append(self) -> Self {
        self.write_mode(InstanceFileWriteMode::Append)
    }

    /// Sets the write mode.
    ///
    /// Sets the `X-LXD-write` header of the file push.
    ///
    /// ```
    /// use lxd_client::{PutOptions, proto::InstanceFileWriteMode};
    /// # let append_requested = true;
    /// // From a setting of your own tool:
    /// let write = if append_requested { InstanceFileWriteMode::Append } else { InstanceFileWriteMode::Overwrite };
    /// assert_eq!(PutOptions::new().write_mode(write), PutOptions::new().append());
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_files_post)
    pub fn write_mode(mut self, write: InstanceFileWriteMode) -> Self {
        self.write = write;
        self
    }

    /// Also applies the given uid, gid and mode to a file that already exists (needs the API
    /// extension `instances_files_modify_permissions`, which LXD 5.0 lacks: there, delete the
    /// file first to change its owner or mode).
    ///
    /// Sets the `X-LXD-modify-perm` header (`uid,gid,mode`: those given) of the file push.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client, keys: String) -> Result<(), lxd_client::Error> {
    /// use lxd_client::PutOptions;
    /// // Rewrite a file and also hand it over to uid 1000, even though it already exists.
    /// let options = PutOptions::new().uid(1000).gid(1000).mode(0o600).modify_existing(true);
    /// let files = client.instances().files("web");
    /// files.put_bytes("/home/ubuntu/.ssh/authorized_keys", keys, &options).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_files_post)
    pub fn modify_existing(mut self, yes: bool) -> Self {
        self.modify_existing = yes;
        self
    }

    fn check(&self) -> Result<()> {
        check_mode(self.mode)?;
        if let InstanceFileWriteMode::Other(w) = &self.write {
            return Err(Error::invalid(
                "write mode",
                format!("{w:?}: LXD knows overwrite and append"),
            ));
        }
        Ok(())
    }

    fn headers(&self, mode: Option<u32>) -> InstanceFileHeaders {
        let mut modify_perm = Vec::new();
        if self.modify_existing {
            if self.uid.is_some() {
                modify_perm.push(InstanceFileModifyPerm::Uid);
            }
            if self.gid.is_some() {
                modify_perm.push(InstanceFileModifyPerm::Gid);
            }
            if mode.is_some() {
                modify_perm.push(InstanceFileModifyPerm::Mode);
            }
        }
        InstanceFileHeaders {
            uid: self.uid,
            gid: self.gid,
            mode,
            file_type: Some(InstanceFileType::File),
            write: Some(self.write.clone()),
            modify_perm,
            modified: None,
        }
    }
}

/// Options of [`Files::create_dir`]: owner, mode, and whether missing parents are created.
///
/// ```
/// use lxd_client::DirOptions;
/// let options = DirOptions::new().parents(true).mode(0o755);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct DirOptions {
    mode: Option<u32>,
    uid: Option<u32>,
    gid: Option<u32>,
    parents: bool,
}

impl DirOptions {
    /// No parents, owner and mode left to LXD (root, 0750).
    ///
    /// A directory push: `X-LXD-type: directory`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = lxd_testkit::TestServer::start().await?;
    /// # let client = lxd_client::Client::unix(server.socket_path())?;
    /// # use lxd_client::proto::{InstanceSource, InstancesPost};
    /// # let web = InstancesPost { name: "web".into(), source: InstanceSource::image_alias("busybox"), ..Default::default() };
    /// # client.instances().create(&web).await?.wait().await?;
    /// use lxd_client::DirOptions;
    /// let files = client.instances().files("web");
    /// files.create_dir("/tmp/cache", &DirOptions::new()).await?;
    /// assert!(files.stat("/tmp/cache").await?.is_dir());
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_files_post)
    pub fn new() -> DirOptions {
        DirOptions::default()
    }

    /// The permission bits (at most 0o7777; LXD keeps the 0o777 bits).
    ///
    /// Sets the `X-LXD-mode` header of the directory push.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = lxd_testkit::TestServer::start().await?;
    /// # let client = lxd_client::Client::unix(server.socket_path())?;
    /// # use lxd_client::proto::{InstanceSource, InstancesPost};
    /// # let web = InstancesPost { name: "web".into(), source: InstanceSource::image_alias("busybox"), ..Default::default() };
    /// # client.instances().create(&web).await?.wait().await?;
    /// use lxd_client::DirOptions;
    /// let files = client.instances().files("web");
    /// files.create_dir("/root/.ssh", &DirOptions::new().mode(0o700)).await?;
    /// assert_eq!(files.stat("/root/.ssh").await?.mode, 0o700);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_files_post)
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = Some(mode);
        self
    }

    /// The owner, as seen inside the instance.
    ///
    /// Sets the `X-LXD-uid` header of the directory push.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = lxd_testkit::TestServer::start().await?;
    /// # let client = lxd_client::Client::unix(server.socket_path())?;
    /// # use lxd_client::proto::{InstanceSource, InstancesPost};
    /// # let web = InstancesPost { name: "web".into(), source: InstanceSource::image_alias("busybox"), ..Default::default() };
    /// # client.instances().create(&web).await?.wait().await?;
    /// use lxd_client::DirOptions;
    /// let files = client.instances().files("web");
    /// files.create_dir("/tmp/build", &DirOptions::new().uid(1000).gid(1000)).await?;
    /// assert_eq!(files.stat("/tmp/build").await?.uid, 1000);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_files_post)
    pub fn uid(mut self, uid: u32) -> Self {
        self.uid = Some(uid);
        self
    }

    /// The group, as seen inside the instance.
    ///
    /// Sets the `X-LXD-gid` header of the directory push.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = lxd_testkit::TestServer::start().await?;
    /// # let client = lxd_client::Client::unix(server.socket_path())?;
    /// # use lxd_client::proto::{InstanceSource, InstancesPost};
    /// # let web = InstancesPost { name: "web".into(), source: InstanceSource::image_alias("busybox"), ..Default::default() };
    /// # client.instances().create(&web).await?.wait().await?;
    /// use lxd_client::DirOptions;
    /// let files = client.instances().files("web");
    /// // A directory the web server's group (33, www-data) may write into:
    /// files.create_dir("/tmp/uploads", &DirOptions::new().gid(33).mode(0o770)).await?;
    /// assert_eq!(files.stat("/tmp/uploads").await?.gid, 33);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_files_post)
    pub fn gid(mut self, gid: u32) -> Self {
        self.gid = Some(gid);
        self
    }

    /// Also creates missing parent directories (with the same owner and mode), like
    /// `mkdir -p`.
    ///
    /// One directory push per missing directory, from the top down.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = lxd_testkit::TestServer::start().await?;
    /// # let client = lxd_client::Client::unix(server.socket_path())?;
    /// # use lxd_client::proto::{InstanceSource, InstancesPost};
    /// # let web = InstancesPost { name: "web".into(), source: InstanceSource::image_alias("busybox"), ..Default::default() };
    /// # client.instances().create(&web).await?.wait().await?;
    /// use lxd_client::DirOptions;
    /// let files = client.instances().files("web");
    /// files.create_dir("/opt/app/releases/v2", &DirOptions::new().parents(true)).await?;
    /// assert_eq!(files.list_dir("/opt/app").await?, ["releases"]);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_files_post)
    pub fn parents(mut self, yes: bool) -> Self {
        self.parents = yes;
        self
    }

    fn headers(&self) -> InstanceFileHeaders {
        InstanceFileHeaders {
            uid: self.uid,
            gid: self.gid,
            mode: self.mode,
            file_type: Some(InstanceFileType::Directory),
            ..Default::default()
        }
    }
}

/// What a download wrote: the file's metadata and its length.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Downloaded {
    /// The path finally read (after following symlinks).
    pub path: String,
    /// The file's type, owner and mode.
    pub stat: InstanceFileStat,
    /// Bytes written.
    pub bytes: u64,
}

/// A file being downloaded: its metadata, then its content chunk by chunk, from
/// [`Files::get`]. Dropping it closes the connection.
///
/// ```no_run
/// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
/// let mut download = client.instances().files("web").get("/var/log/syslog").await?;
/// println!("{} bytes, mode {:o}", download.length().unwrap_or(0), download.stat().mode);
/// while let Some(chunk) = download.chunk().await? {
///     // ...
/// #   let _ = chunk;
/// }
/// # Ok(()) }
/// ```
pub struct FileDownload {
    path: String,
    stat: InstanceFileStat,
    length: Option<u64>,
    received: u64,
    response: Response,
    reporter: Option<Reporter>,
}

impl std::fmt::Debug for FileDownload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileDownload")
            .field("path", &self.path)
            .field("stat", &self.stat)
            .field("length", &self.length)
            .field("received", &self.received)
            .finish()
    }
}

impl FileDownload {
    /// The path being read (after following symlinks).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = lxd_testkit::TestServer::start().await?;
    /// # let client = lxd_client::Client::unix(server.socket_path())?;
    /// # use lxd_client::proto::{InstanceSource, InstancesPost};
    /// # let web = InstancesPost { name: "web".into(), source: InstanceSource::image_alias("busybox"), ..Default::default() };
    /// # client.instances().create(&web).await?.wait().await?;
    /// let download = client.instances().files("web").get("/bin/sh").await?;
    /// assert_eq!(download.path(), "/bin/busybox"); // the symlink was followed
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_files_get)
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The file's type, owner and mode.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = lxd_testkit::TestServer::start().await?;
    /// # let client = lxd_client::Client::unix(server.socket_path())?;
    /// # use lxd_client::proto::{InstanceSource, InstancesPost};
    /// # let web = InstancesPost { name: "web".into(), source: InstanceSource::image_alias("busybox"), ..Default::default() };
    /// # client.instances().create(&web).await?.wait().await?;
    /// let download = client.instances().files("web").get("/etc/hostname").await?;
    /// let stat = download.stat(); // from the reply's X-LXD-uid, -gid, -mode, -type headers
    /// assert!(stat.is_file());
    /// println!("{}:{} {:o}", stat.uid, stat.gid, stat.mode);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_files_get)
    pub fn stat(&self) -> &InstanceFileStat {
        &self.stat
    }

    /// The file's length, from `Content-Length`, when the server sent it (LXD does).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = lxd_testkit::TestServer::start().await?;
    /// # let client = lxd_client::Client::unix(server.socket_path())?;
    /// # use lxd_client::proto::{InstanceSource, InstancesPost};
    /// # let web = InstancesPost { name: "web".into(), source: InstanceSource::image_alias("busybox"), ..Default::default() };
    /// # client.instances().create(&web).await?.wait().await?;
    /// let files = client.instances().files("web");
    /// files.put_bytes("/tmp/report.csv", "host,load\nweb,0.3\n", &Default::default()).await?;
    /// let download = files.get("/tmp/report.csv").await?;
    /// assert_eq!(download.length(), Some(18)); // known before any content is read
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_files_get)
    pub fn length(&self) -> Option<u64> {
        self.length
    }

    /// Bytes received so far.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = lxd_testkit::TestServer::start().await?;
    /// # let client = lxd_client::Client::unix(server.socket_path())?;
    /// # use lxd_client::proto::{InstanceSource, InstancesPost};
    /// # let web = InstancesPost { name: "web".into(), source: InstanceSource::image_alias("busybox"), ..Default::default() };
    /// # client.instances().create(&web).await?.wait().await?;
    /// let mut download = client.instances().files("web").get("/etc/hostname").await?;
    /// while let Some(_chunk) = download.chunk().await? {
    ///     eprintln!("{} of {:?} bytes", download.received(), download.length());
    /// }
    /// assert_eq!(Some(download.received()), download.length());
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_files_get)
    pub fn received(&self) -> u64 {
        self.received
    }

    /// The next chunk of content, `None` at the end. A body shorter or longer than announced
    /// is an error, never a silent end.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let mut download = client.instances().files("web").get("/var/log/big.log").await?;
    /// while let Some(chunk) = download.chunk().await? {
    ///     println!("{} bytes", chunk.len());
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_files_get)
    pub async fn chunk(&mut self) -> Result<Option<Bytes>> {
        match self.response.chunk().await? {
            Some(chunk) => {
                self.received += chunk.len() as u64;
                if let Some(length) = self.length
                    && self.received > length
                {
                    return Err(self.cut(format!("more than the announced {length} bytes")));
                }
                if let Some(r) = &self.reporter {
                    r.advance(&self.path, self.received, self.length, chunk.len() as u64);
                }
                Ok(Some(chunk))
            }
            None => {
                if let Some(length) = self.length
                    && self.received != length
                {
                    return Err(self.cut(format!(
                        "the body ended after {} of {length} bytes",
                        self.received
                    )));
                }
                // Reported once, even if asked again after the end.
                if let Some(r) = self.reporter.take() {
                    r.file_done(&self.path, self.received, self.length);
                }
                Ok(None)
            }
        }
    }

    fn cut(&self, reason: String) -> Error {
        Error::malformed(format!("GET file {:?}", self.path), reason, b"")
    }

    /// Writes the whole content into `writer` (then flushes it); returns the byte count.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let download = client.instances().files("web").get("/etc/hostname").await?;
    /// let mut file = tokio::fs::File::create("hostname").await.expect("a local file");
    /// download.copy_to(&mut file).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_files_get)
    pub async fn copy_to<W>(mut self, writer: &mut W) -> Result<u64>
    where
        W: AsyncWrite + Unpin + ?Sized,
    {
        while let Some(chunk) = self.chunk().await? {
            writer
                .write_all(&chunk)
                .await
                .map_err(|e| Error::io(format!("writing {:?}", self.path), e))?;
        }
        writer
            .flush()
            .await
            .map_err(|e| Error::io(format!("writing {:?}", self.path), e))?;
        Ok(self.received)
    }

    /// Reads the whole content into memory.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let download = client.instances().files("web").get("/etc/hostname").await?;
    /// let content = download.bytes().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_files_get)
    pub async fn bytes(mut self) -> Result<Vec<u8>> {
        // The announced length is a hint only: never reserve more than a chunk's worth ahead.
        let hint = self.length.unwrap_or(0).min(CHUNK as u64) as usize;
        let mut out = Vec::with_capacity(hint);
        while let Some(chunk) = self.chunk().await? {
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }

    /// The content as a stream of chunks.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = lxd_testkit::TestServer::start().await?;
    /// # let client = lxd_client::Client::unix(server.socket_path())?;
    /// # use lxd_client::proto::{InstanceSource, InstancesPost};
    /// # let web = InstancesPost { name: "web".into(), source: InstanceSource::image_alias("busybox"), ..Default::default() };
    /// # client.instances().create(&web).await?.wait().await?;
    /// use futures::TryStreamExt;
    /// let stream = client.instances().files("web").get("/etc/hostname").await?.into_stream();
    /// // E.g. hand `stream` to an HTTP server as a response body; here, count the bytes:
    /// let total = stream.try_fold(0, |n, chunk| async move { Ok(n + chunk.len()) }).await?;
    /// assert_eq!(total, client.instances().files("web").get_bytes("/etc/hostname").await?.len());
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_files_get)
    pub fn into_stream(self) -> impl Stream<Item = Result<Bytes>> + Send + 'static {
        futures::stream::unfold(Some(self), |state| async move {
            let mut download = state?;
            match download.chunk().await {
                Ok(Some(chunk)) => Some((Ok(chunk), Some(download))),
                Ok(None) => None,
                Err(e) => Some((Err(e), None)),
            }
        })
    }
}

/// What a GET of a path answered.
enum Fetched {
    File(Box<FileDownload>),
    Directory(InstanceFileStat, Vec<String>),
    Symlink(InstanceFileStat, String),
}

impl Files {
    /// Reports the progress of every transfer made through this handle to `callback`
    /// (bytes done and total where known).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let files = client.instances().files("web").with_progress(|p| {
    ///     eprintln!("{}: {} of {:?} bytes", p.path, p.bytes, p.total);
    /// });
    /// files.put_from_path("/root/big.iso", "big.iso", &Default::default()).await?;
    /// # Ok(()) }
    /// ```
    pub fn with_progress<F>(mut self, callback: F) -> Files
    where
        F: Fn(&TransferProgress<'_>) + Send + Sync + 'static,
    {
        self.progress = Some(Arc::new(callback));
        self
    }

    /// The instance's name.
    ///
    /// ```
    /// # let client = lxd_client::Client::https("10.0.0.5").server_fingerprint("6c1fb9c17d558b98e968d3684d212d6fc8793c05cc50dda4c6db793511a79d96").build()?;
    /// let files = client.instances().files("web");
    /// assert_eq!(files.instance(), "web");
    /// # Ok::<(), lxd_client::Error>(())
    /// ```
    pub fn instance(&self) -> &str {
        &self.instance
    }

    fn reporter(&self) -> Option<Reporter> {
        self.progress.clone().map(Reporter::new)
    }

    /// `/1.0/instances/<name>/files`, after checking the name.
    fn base(&self) -> Result<String> {
        if let Some((instance, snapshot)) = self.instance.split_once('/') {
            return Err(Error::invalid(
                "instance name",
                format!(
                    "{:?} is snapshot {snapshot:?} of {instance:?}: LXD offers no file access to \
                     snapshots (it answers \"Invalid instance name\"); copy the snapshot to a new \
                     instance and use its files",
                    self.instance
                ),
            ));
        }
        Ok(format!("{}/files", instance_path(&self.instance)?))
    }

    async fn prefix(&self) -> Result<&'static str> {
        Ok(self.client.flavor().await?.header_prefix())
    }

    fn request(&self, method: Method, base: &str, path: &str) -> Request {
        self.client.request(method, base, &[("path", path)])
    }

    /// Adds LXD's own message the path it was about (LXD says only "Not Found").
    fn about(&self, path: &str, e: Error) -> Error {
        match e {
            Error::Api {
                status,
                message,
                method,
                path: request_path,
            } => Error::Api {
                status,
                message: format!("{message} (path {path:?} in instance {:?})", self.instance),
                method,
                path: request_path,
            },
            other => other,
        }
    }

    fn wrong_type(&self, path: &str, stat: &InstanceFileStat, wanted: &str) -> Error {
        Error::invalid(
            "file path",
            format!(
                "{path:?} in instance {:?} is a {}, not {wanted}",
                self.instance, stat.file_type
            ),
        )
    }

    /// GET `path` (not following a symlink): a file's download, a directory's entries, or a
    /// symlink's target.
    ///
    /// `timeout`: [`Timeout::None`] where a file's content may follow (a big file takes as
    /// long as it takes; the reply's start and any listing are still bounded by the client's
    /// limit), else the client's limit.
    async fn fetch(
        &self,
        path: &str,
        reporter: Option<Reporter>,
        timeout: Timeout,
    ) -> Result<Fetched> {
        check_path(path)?;
        let base = self.base()?;
        let prefix = self.prefix().await?;
        // With no limit on the whole exchange (a file's content may follow), the client's
        // timeout still bounds what is not content: the wait for the reply's headers, and
        // reading a directory listing or a symlink target.
        let limit = match timeout {
            Timeout::None => self.client.transport().timeout(),
            _ => None,
        };
        let request = self.request(Method::GET, &base, path).timeout(timeout);
        let response = self
            .client
            .within(limit, self.client.send_raw(request))
            .await
            .map_err(|e| self.about(path, e))?;
        let context = || format!("GET {base}?path={path}");
        let stat = stat_from_headers(prefix, response.headers(), &context())?;
        match stat.file_type {
            InstanceFileType::File => {
                let length = content_length(response.headers());
                if let Some(r) = &reporter {
                    r.advance(path, 0, length, 0);
                }
                Ok(Fetched::File(Box::new(FileDownload {
                    path: path.to_string(),
                    stat,
                    length,
                    received: 0,
                    response,
                    reporter,
                })))
            }
            InstanceFileType::Directory => {
                let body = self
                    .client
                    .within(limit, async { Ok(response.bytes().await?) })
                    .await?;
                let envelope: lxd_proto::Response = serde_json::from_slice(&body)
                    .map_err(|e| Error::malformed(context(), e, &body))?;
                let names: Option<Vec<String>> = decode_metadata(&context(), envelope)?;
                Ok(Fetched::Directory(stat, names.unwrap_or_default()))
            }
            InstanceFileType::Symlink => {
                let target = self
                    .client
                    .within(limit, read_small(response, &context()))
                    .await?;
                let target = String::from_utf8(target).map_err(|e| {
                    Error::malformed(context(), "symlink target is not UTF-8", e.as_bytes())
                })?;
                if target.is_empty() || target.contains('\0') {
                    return Err(Error::malformed(
                        context(),
                        "empty or NUL in symlink target",
                        target.as_bytes(),
                    ));
                }
                Ok(Fetched::Symlink(stat, target))
            }
            _ => Err(self.wrong_type(path, &stat, "a file")),
        }
    }

    /// GET `path`, following symlinks inside the instance; answers the path finally read too.
    async fn fetch_following(
        &self,
        path: &str,
        reporter: Option<Reporter>,
        timeout: Timeout,
    ) -> Result<(String, Fetched)> {
        let mut current = path.to_string();
        for _ in 0..=MAX_SYMLINK_HOPS {
            match self.fetch(&current, reporter.clone(), timeout).await? {
                Fetched::Symlink(_, target) => {
                    current = paths::resolve_link(&current, &target);
                }
                other => return Ok((current, other)),
            }
        }
        Err(Error::invalid(
            "file path",
            format!(
                "{path:?} in instance {:?}: more than {MAX_SYMLINK_HOPS} levels of symbolic links",
                self.instance
            ),
        ))
    }

    /// A path's type, owner and mode, without reading it. A symlink is reported as such (not
    /// followed). Uses `HEAD` where the server has `instance_file_head`, else a `GET` whose
    /// body is not read.
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_files_head)
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let stat = client.instances().files("web").stat("/etc/passwd").await?;
    /// assert!(stat.is_file());
    /// println!("{}:{} {:o}", stat.uid, stat.gid, stat.mode);
    /// # Ok(()) }
    /// ```
    pub async fn stat(&self, path: &str) -> Result<InstanceFileStat> {
        check_path(path)?;
        let base = self.base()?;
        let prefix = self.prefix().await?;
        let method = if self.client.has_api_extension("instance_file_head").await? {
            Method::HEAD
        } else {
            Method::GET
        };
        let context = format!("{method} {base}?path={path}");
        let request = self.request(method, &base, path);
        let response = self
            .client
            .send_raw(request)
            .await
            .map_err(|e| self.about(path, e))?;
        // Dropping the response unread closes the connection of a GET: nothing is read.
        stat_from_headers(prefix, response.headers(), &context)
    }

    /// Whether `path` exists in the instance (a dangling symlink exists).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// if !client.instances().files("web").exists("/etc/app.conf").await? { /* ... */ }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_files_head)
    pub async fn exists(&self, path: &str) -> Result<bool> {
        crate::error::found(self.stat(path).await)
    }

    /// The names of a directory's entries (not `.` and `..`), following symlinks.
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_files_get)
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// for name in client.instances().files("web").list_dir("/etc").await? {
    ///     println!("{name}");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn list_dir(&self, path: &str) -> Result<Vec<String>> {
        match self.fetch_following(path, None, Timeout::Default).await?.1 {
            Fetched::Directory(_, names) => Ok(names),
            Fetched::File(download) => Err(self.wrong_type(path, download.stat(), "a directory")),
            Fetched::Symlink(stat, _) => Err(self.wrong_type(path, &stat, "a directory")),
        }
    }

    /// Starts downloading a file, following symlinks inside the instance: its metadata now,
    /// its content chunk by chunk from the returned [`FileDownload`]. A directory is an error.
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_files_get)
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use futures::TryStreamExt;
    /// let download = client.instances().files("web").get("/var/log/app.log").await?;
    /// let mut lines = 0;
    /// let mut stream = std::pin::pin!(download.into_stream());
    /// while let Some(chunk) = stream.try_next().await? {
    ///     lines += chunk.iter().filter(|b| **b == b'\n').count();
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn get(&self, path: &str) -> Result<FileDownload> {
        self.get_reporting(path, self.reporter()).await
    }

    async fn get_reporting(&self, path: &str, reporter: Option<Reporter>) -> Result<FileDownload> {
        match self.fetch_following(path, reporter, Timeout::None).await?.1 {
            Fetched::File(download) => Ok(*download),
            Fetched::Directory(stat, _) | Fetched::Symlink(stat, _) => {
                Err(self.wrong_type(path, &stat, "a file"))
            }
        }
    }

    /// A whole file in memory. For big files use [`get_to_writer`](Self::get_to_writer) or
    /// [`get_to_path`](Self::get_to_path).
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_files_get)
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let hostname = client.instances().files("web").get_bytes("/etc/hostname").await?;
    /// # Ok(()) }
    /// ```
    pub async fn get_bytes(&self, path: &str) -> Result<Vec<u8>> {
        self.get(path).await?.bytes().await
    }

    /// Streams a file into `writer` (then flushes it), following symlinks.
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_files_get)
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let mut out = Vec::new(); // any tokio AsyncWrite: a file, a socket, a pipe
    /// let done = client.instances().files("web").get_to_writer("/etc/os-release", &mut out).await?;
    /// eprintln!("{} bytes", done.bytes);
    /// # Ok(()) }
    /// ```
    pub async fn get_to_writer<W>(&self, path: &str, writer: &mut W) -> Result<Downloaded>
    where
        W: AsyncWrite + Unpin + ?Sized,
    {
        let download = self.get(path).await?;
        let (path, stat) = (download.path.clone(), download.stat.clone());
        let bytes = download.copy_to(writer).await?;
        Ok(Downloaded { path, stat, bytes })
    }

    /// Downloads a file to `local`, following symlinks inside the instance. The content is
    /// written to a temporary file beside `local` and renamed over it only when complete, so
    /// a failed or dropped download leaves no partial file at `local` and no temporary. The
    /// local file gets the file's permission bits (`0o777`: never setuid, setgid or sticky)
    /// under the process umask, not its owner. A local directory at `local` is an error.
    ///
    /// The directory holding `local` is opened once; the temporary is created and renamed
    /// relative to it, and a symlink at `local` is replaced, never written through.
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_files_get)
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// client.instances().files("web").get_to_path("/var/backups/db.tar", "db.tar").await?;
    /// # Ok(()) }
    /// ```
    pub async fn get_to_path(&self, path: &str, local: impl AsRef<Path>) -> Result<Downloaded> {
        let local = local.as_ref();
        local::refuse_directory(local).await?;
        let (dir, name) = local::LocalDir::parent_of(local).await?;
        let download = self.get(path).await?;
        let (path, stat) = (download.path.clone(), download.stat.clone());
        let (aside, mut file) = local::Aside::file(&dir, &name, stat.mode).await?;
        let bytes = download.copy_to(&mut file).await?;
        aside
            .commit_file(file, stat.mode, local::ModePolicy::default())
            .await?;
        Ok(Downloaded { path, stat, bytes })
    }

    /// Reads a symlink: its target as LXD reports it, absolute and cleaned (a link to
    /// `../x` at `/a/b/l` reads `/a/x`). Needs the API extension `file_get_symlink`.
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_files_get)
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let target = client.instances().files("web").read_link("/bin/sh").await?;
    /// # Ok(()) }
    /// ```
    pub async fn read_link(&self, path: &str) -> Result<String> {
        check_path(path)?;
        self.client
            .require_api_extension("file_get_symlink")
            .await?;
        match self.fetch(path, None, Timeout::Default).await? {
            Fetched::Symlink(_, target) => Ok(target),
            Fetched::File(download) => Err(self.wrong_type(path, download.stat(), "a symlink")),
            Fetched::Directory(stat, _) => Err(self.wrong_type(path, &stat, "a symlink")),
        }
    }

    /// Writes `data` to a file in the instance.
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_files_post)
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::PutOptions;
    /// let files = client.instances().files("web");
    /// files.put_bytes("/etc/app.conf", "a = 1\n", &PutOptions::new().mode(0o600)).await?;
    /// files.put_bytes("/etc/app.conf", "b = 2\n", &PutOptions::new().append()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn put_bytes(
        &self,
        path: &str,
        data: impl Into<Bytes>,
        options: &PutOptions,
    ) -> Result<()> {
        let data: Bytes = data.into();
        let length = data.len() as u64;
        let stream = futures::stream::once(async move { Ok(data) }).boxed();
        self.put_stream(
            path,
            stream,
            Some(length),
            options,
            options.mode,
            self.reporter(),
        )
        .await
    }

    /// Streams `reader` into a file in the instance. With `length` given, the reader must
    /// yield exactly that many bytes (it is sent as `Content-Length`); without, the body is
    /// sent chunked.
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_files_post)
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let reader = tokio::fs::File::open("data.bin").await.unwrap();
    /// client
    ///     .instances()
    ///     .files("web")
    ///     .put_from_reader("/srv/data.bin", reader, None, &Default::default())
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn put_from_reader<R>(
        &self,
        path: &str,
        reader: R,
        length: Option<u64>,
        options: &PutOptions,
    ) -> Result<()>
    where
        R: AsyncRead + Send + 'static,
    {
        let stream = reader_stream(reader);
        self.put_stream(path, stream, length, options, options.mode, self.reporter())
            .await
    }

    /// Uploads the local file `local` to `path` in the instance, streamed. Without a mode in
    /// `options`, the local file's permission bits are used.
    ///
    /// A symlink at `local` is refused, never followed: the file sent is the one named, not
    /// whatever a link put there (by anyone who can write its directory) points to. To send a
    /// link's target, name the target (`std::fs::canonicalize`). The directories leading to
    /// `local` are the caller's and may be symlinks.
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_files_post)
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// client
    ///     .instances()
    ///     .files("web")
    ///     .put_from_path("/usr/local/bin/tool", "target/release/tool", &Default::default())
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn put_from_path(
        &self,
        path: &str,
        local: impl AsRef<Path>,
        options: &PutOptions,
    ) -> Result<()> {
        self.put_path_reporting(path, local.as_ref(), options, self.reporter())
            .await
            .map(drop)
    }

    async fn put_path_reporting(
        &self,
        path: &str,
        local: &Path,
        options: &PutOptions,
        reporter: Option<Reporter>,
    ) -> Result<u64> {
        check_path(path)?;
        options.check()?;
        if tokio::fs::metadata(local).await.is_ok_and(|m| m.is_dir()) {
            return Err(Error::invalid(
                "local file",
                format!(
                    "{} is a directory (for a directory use put_recursive)",
                    local.display()
                ),
            ));
        }
        let (file, length, mode) = local::open_source(local).await?;
        self.put_open_file(
            path,
            tokio::fs::File::from_std(file),
            length,
            mode,
            options,
            reporter,
        )
        .await
    }

    /// Sends an opened local file of `length` bytes; without a mode in `options`, the
    /// local one (`local_mode`) is used.
    pub(super) async fn put_open_file(
        &self,
        path: &str,
        file: tokio::fs::File,
        length: u64,
        local_mode: u32,
        options: &PutOptions,
        reporter: Option<Reporter>,
    ) -> Result<u64> {
        let mode = options.mode.or(Some(local_mode & 0o7777));
        self.put_stream(
            path,
            reader_stream(file),
            Some(length),
            options,
            mode,
            reporter,
        )
        .await?;
        Ok(length)
    }

    async fn put_stream(
        &self,
        path: &str,
        stream: BoxStream<'static, io::Result<Bytes>>,
        length: Option<u64>,
        options: &PutOptions,
        mode: Option<u32>,
        reporter: Option<Reporter>,
    ) -> Result<()> {
        check_path(path)?;
        options.check()?;
        check_mode(mode)?;
        let base = self.base()?;
        if options.write == InstanceFileWriteMode::Append {
            self.client.require_api_extension("file_append").await?;
        }
        let headers = options.headers(mode);
        if !headers.modify_perm.is_empty() {
            self.client
                .require_api_extension("instances_files_modify_permissions")
                .await?;
        }
        let prefix = self.prefix().await?;
        if let Some(r) = &reporter {
            r.advance(path, 0, length, 0);
        }
        let body = Counted::new(stream, path, length, reporter.clone());
        let request = self
            .request(Method::POST, &base, path)
            .timeout(Timeout::None)
            .body(Body::stream(body, length));
        let request = with_file_headers(request, prefix, &headers)?;
        self.client
            .execute(request)
            .await
            .map_err(|e| self.about(path, e))?;
        if let Some(r) = &reporter {
            r.file_done(path, length.unwrap_or(0), length);
        }
        Ok(())
    }

    /// Creates a directory. LXD treats an existing path as success, so what is there is
    /// checked afterwards: a file or symlink at `path` is a conflict error. Owner and mode
    /// apply only to directories created now.
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_files_post)
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::DirOptions;
    /// client
    ///     .instances()
    ///     .files("web")
    ///     .create_dir("/srv/app/data", &DirOptions::new().parents(true).mode(0o755))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn create_dir(&self, path: &str, options: &DirOptions) -> Result<()> {
        check_path(path)?;
        check_mode(options.mode)?;
        let base = self.base()?;
        self.client
            .require_api_extension("directory_manipulation")
            .await?;
        let prefix = self.prefix().await?;
        let target = paths::clean(path);
        if target == "/" {
            return Ok(());
        }
        let mut steps = Vec::new();
        if options.parents {
            steps.extend(paths::ancestors(&target));
        }
        steps.push(target.clone());
        for step in &steps {
            let request = self.request(Method::POST, &base, step);
            let request = with_file_headers(request, prefix, &options.headers())?;
            self.client
                .execute(request)
                .await
                .map_err(|e| self.about(step, e))?;
        }
        let stat = self.stat(&target).await?;
        if !stat.is_dir() {
            return Err(Error::Api {
                status: 409,
                message: format!(
                    "{path:?} in instance {:?} exists and is a {}, not a directory (LXD reports \
                     success without creating anything)",
                    self.instance, stat.file_type
                ),
                method: "POST".into(),
                path: base,
            });
        }
        Ok(())
    }

    /// Creates a symlink at `path` pointing to `target` (kept as given, relative or absolute).
    /// An existing symlink with the same target is a success; anything else at `path` is an
    /// error. Needs the API extension `file_symlinks`.
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_files_post)
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// client.instances().files("web").create_symlink("/etc/localtime", "/usr/share/zoneinfo/UTC").await?;
    /// # Ok(()) }
    /// ```
    pub async fn create_symlink(&self, path: &str, target: &str) -> Result<()> {
        check_path(path)?;
        if target.is_empty() || target.contains('\0') {
            return Err(Error::invalid(
                "symlink target",
                format!("{target:?}: empty or holds a NUL byte"),
            ));
        }
        let base = self.base()?;
        self.client.require_api_extension("file_symlinks").await?;
        let prefix = self.prefix().await?;
        let headers = InstanceFileHeaders {
            file_type: Some(InstanceFileType::Symlink),
            ..Default::default()
        };
        let request = self
            .request(Method::POST, &base, path)
            .body(Body::from(target.as_bytes().to_vec()));
        let request = with_file_headers(request, prefix, &headers)?;
        self.client
            .execute(request)
            .await
            .map_err(|e| self.about(path, e))?;
        Ok(())
    }

    /// Deletes a file, a symlink (not what it points to) or an empty directory. Needs the API
    /// extension `file_delete`, checked first.
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_files_delete)
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// client.instances().files("web").delete("/tmp/scratch").await?;
    /// # Ok(()) }
    /// ```
    pub async fn delete(&self, path: &str) -> Result<()> {
        check_path(path)?;
        let base = self.base()?;
        self.client.require_api_extension("file_delete").await?;
        let request = self.request(Method::DELETE, &base, path);
        self.client
            .execute(request)
            .await
            .map_err(|e| self.about(path, e))?;
        Ok(())
    }
}

/// Checks a path in the instance before anything is sent.
fn check_path(path: &str) -> Result<()> {
    if path.is_empty() {
        return Err(Error::invalid("file path", "empty"));
    }
    if !path.starts_with('/') {
        return Err(Error::invalid(
            "file path",
            format!("{path:?} is relative: paths in an instance are absolute (start with '/')"),
        ));
    }
    if path.contains('\0') {
        return Err(Error::invalid(
            "file path",
            format!("{path:?} holds a NUL byte"),
        ));
    }
    Ok(())
}

fn check_mode(mode: Option<u32>) -> Result<()> {
    match mode {
        Some(m) if m > 0o7777 => Err(Error::invalid(
            "file mode",
            format!("{m:#o}: permission bits are at most 0o7777"),
        )),
        _ => Ok(()),
    }
}

/// Adds the file headers with the server's prefix.
fn with_file_headers(
    mut request: Request,
    prefix: &str,
    headers: &InstanceFileHeaders,
) -> Result<Request> {
    for (name, value) in headers.to_pairs() {
        let name = HeaderName::from_bytes(format!("{prefix}{name}").as_bytes())
            .map_err(|e| Error::invalid("file header", e.to_string()))?;
        let value = HeaderValue::from_str(&value)
            .map_err(|e| Error::invalid("file header", e.to_string()))?;
        request = request.header(name, value);
    }
    // Never a form type: LXD would parse the body as a form and write nothing.
    Ok(request.header(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    ))
}

/// The file headers of a reply (prefix removed), as a stat.
fn stat_from_headers(prefix: &str, headers: &HeaderMap, context: &str) -> Result<InstanceFileStat> {
    let prefix = prefix.to_ascii_lowercase();
    // HeaderName is always lowercase.
    let pairs = headers.iter().filter_map(|(name, value)| {
        let suffix = name.as_str().strip_prefix(prefix.as_str())?;
        Some((suffix, value.to_str().ok()?))
    });
    let parsed =
        InstanceFileHeaders::from_pairs(pairs).map_err(|e| Error::malformed(context, e, b""))?;
    InstanceFileStat::from_headers(&parsed).map_err(|e| Error::malformed(context, e, b""))
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Reads a small body (a symlink target), refusing one that is not small.
async fn read_small(mut response: Response, context: &str) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > SMALL_BODY {
            return Err(Error::malformed(
                context,
                format!("body longer than {SMALL_BODY} bytes"),
                &body,
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// An `AsyncRead` as a stream of chunks of at most [`CHUNK`] bytes.
fn reader_stream<R>(reader: R) -> BoxStream<'static, io::Result<Bytes>>
where
    R: AsyncRead + Send + 'static,
{
    futures::stream::unfold(Some(Box::pin(reader)), |state| async move {
        let mut reader = state?;
        let mut buf = BytesMut::with_capacity(CHUNK);
        match reader.read_buf(&mut buf).await {
            Ok(0) => None,
            Ok(_) => Some((Ok(buf.freeze()), Some(reader))),
            Err(e) => Some((Err(e), None)),
        }
    })
    .boxed()
}

/// An upload body that counts what goes out: reports progress, and turns a source shorter or
/// longer than its announced length into an error (so the request fails instead of hanging
/// or sending a wrong file).
struct Counted {
    inner: BoxStream<'static, io::Result<Bytes>>,
    path: String,
    length: Option<u64>,
    sent: u64,
    reporter: Option<Reporter>,
    /// Set once the end or an error was given out: the stream then stays ended.
    finished: bool,
}

impl Counted {
    fn new(
        inner: BoxStream<'static, io::Result<Bytes>>,
        path: &str,
        length: Option<u64>,
        reporter: Option<Reporter>,
    ) -> Counted {
        Counted {
            inner,
            path: path.to_string(),
            length,
            sent: 0,
            reporter,
            finished: false,
        }
    }

    fn fail(&mut self, kind: io::ErrorKind, message: String) -> Poll<Option<io::Result<Bytes>>> {
        self.finished = true;
        Poll::Ready(Some(Err(io::Error::new(kind, message))))
    }
}

impl Stream for Counted {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.finished {
            return Poll::Ready(None);
        }
        match this.inner.poll_next_unpin(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                this.sent += chunk.len() as u64;
                if let Some(length) = this.length
                    && this.sent > length
                {
                    let message = format!(
                        "the source of {:?} gave more than its {length} bytes",
                        this.path
                    );
                    return this.fail(io::ErrorKind::InvalidData, message);
                }
                if let Some(r) = &this.reporter {
                    r.advance(&this.path, this.sent, this.length, chunk.len() as u64);
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(None) => match this.length {
                Some(length) if this.sent != length => {
                    let message = format!(
                        "the source of {:?} ended after {} of its {length} bytes",
                        this.path, this.sent
                    );
                    this.fail(io::ErrorKind::UnexpectedEof, message)
                }
                _ => {
                    this.finished = true;
                    Poll::Ready(None)
                }
            },
            Poll::Ready(Some(Err(e))) => {
                this.finished = true;
                Poll::Ready(Some(Err(e)))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_checked() {
        assert!(check_path("/etc/hosts").is_ok());
        for bad in ["", "etc/hosts", "./x", "/a\0b"] {
            assert!(check_path(bad).unwrap_err().is_invalid_input(), "{bad:?}");
        }
        assert!(check_mode(Some(0o10000)).is_err());
        assert!(check_mode(Some(0o4755)).is_ok());
    }

    #[test]
    fn put_headers_follow_options() {
        let o = PutOptions::new().mode(0o640).uid(5).append();
        let h = o.headers(o.mode);
        assert_eq!(h.write, Some(InstanceFileWriteMode::Append));
        assert!(h.modify_perm.is_empty());
        let h = o.clone().modify_existing(true).headers(o.mode);
        assert_eq!(
            h.modify_perm,
            [InstanceFileModifyPerm::Uid, InstanceFileModifyPerm::Mode]
        );
        let bad = PutOptions::new().write_mode("truncate".into());
        assert!(bad.check().unwrap_err().is_invalid_input());
    }

    #[test]
    fn headers_carry_the_prefix() {
        let r = with_file_headers(
            Request::new(Method::POST, "/x"),
            "X-Incus-",
            &PutOptions::new().mode(0o600).headers(Some(0o600)),
        )
        .unwrap();
        let dbg = format!("{r:?}");
        assert!(
            dbg.contains("x-incus-mode") && dbg.contains("0600"),
            "{dbg}"
        );
        assert!(dbg.contains("application/octet-stream"), "{dbg}");
        assert!(!dbg.contains("x-lxd"), "{dbg}");
    }

    #[test]
    fn stat_reads_prefixed_headers_only() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("x-lxd-uid", "1"),
            ("x-lxd-gid", "2"),
            ("x-lxd-mode", "0640"),
            ("x-lxd-type", "file"),
            ("x-incus-uid", "9"),
        ] {
            h.insert(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        let stat = stat_from_headers("X-LXD-", &h, "test").unwrap();
        assert_eq!((stat.uid, stat.gid, stat.mode), (1, 2, 0o640));
        let err = stat_from_headers("X-Incus-", &h, "test").unwrap_err();
        assert!(err.is_malformed(), "{err:?}");
    }

    #[tokio::test]
    async fn counted_refuses_short_and_long_sources() {
        let chunks = |c: &[&'static [u8]]| {
            futures::stream::iter(
                c.iter()
                    .map(|b| Ok(Bytes::from_static(b)))
                    .collect::<Vec<_>>(),
            )
            .boxed()
        };
        let short = Counted::new(chunks(&[b"abc"]), "/f", Some(5), None);
        let out: Vec<_> = short.collect().await;
        assert_eq!(out.len(), 2, "one chunk, then the error, then the end");
        assert!(out[1].is_err());
        let long = Counted::new(chunks(&[b"abcdef"]), "/f", Some(5), None);
        let out: Vec<_> = long.collect().await;
        assert_eq!(out.len(), 1);
        assert!(out[0].is_err());
        let exact = Counted::new(chunks(&[b"ab", b"c"]), "/f", Some(3), None);
        let out: Vec<_> = exact.collect().await;
        assert_eq!(out.len(), 2);
        assert!(out.iter().all(|c| c.is_ok()));
    }

    #[tokio::test]
    async fn reader_stream_chunks_are_bounded() {
        let data = vec![7u8; CHUNK * 3 + 10];
        let chunks: Vec<Bytes> = reader_stream(std::io::Cursor::new(data.clone()))
            .map(|c| c.unwrap())
            .collect()
            .await;
        assert!(chunks.iter().all(|c| c.len() <= CHUNK));
        assert_eq!(chunks.concat(), data);
    }
}
