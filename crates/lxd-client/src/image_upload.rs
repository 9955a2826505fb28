//! Image upload (`POST /1.0/images` with the image as the body) and export
//! (`GET /1.0/images/<fingerprint>/export`), both streamed: memory stays bounded by a chunk
//! whatever the image's size.
//!
//! A unified image (one tarball: `metadata.yaml` + `rootfs/`) is sent as the raw body; a split
//! image (a metadata tarball + a rootfs, `rootfs.img` for a VM) as a `multipart/form-data`
//! body with parts `metadata` then `rootfs` (or `rootfs.img`), which is what LXD parses.
//! Options travel in headers (`<prefix>public`, `<prefix>filename`, `<prefix>properties` as a
//! URL-encoded query string, `<prefix>fingerprint` for the server to check).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::{Bytes, BytesMut};
use futures::stream::{self, BoxStream, StreamExt};
use lxd_proto::{Image, ImageAlias};
use lxd_transport::http::{HeaderName, HeaderValue, Method, header};
use lxd_transport::{Body, Timeout};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::error::{Error, Result};
use crate::files::local::{Aside, LocalDir, ModePolicy};
use crate::images::{Images, validate_alias_name, validate_fingerprint};
use crate::operation::Operation;

const CHUNK: usize = 64 * 1024;

/// A progress callback for uploads and exports: bytes moved so far, and the total when known.
/// It runs for every chunk: keep it cheap.
pub type ImageProgressFn = Arc<dyn Fn(u64, Option<u64>) + Send + Sync>;

/// One streamed input: its chunks and its length when known.
struct Part {
    stream: BoxStream<'static, std::io::Result<Bytes>>,
    length: Option<u64>,
    name: String,
}

enum Content {
    Unified(Part),
    Split {
        metadata: Part,
        rootfs: Part,
        /// `rootfs` (container) or `rootfs.img` (virtual machine).
        rootfs_field: &'static str,
    },
}

/// An image to upload with [`Images::upload`] / [`Images::upload_and_wait`]: its content
/// (from paths or readers, streamed) and options.
///
/// ```no_run
/// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
/// use lxd_client::ImageUpload;
/// let upload = ImageUpload::unified_from_path("busybox.tar.gz")
///     .await?
///     .public(true)
///     .property("os", "busybox")
///     .alias("bb");
/// let image = client.images().upload_and_wait(upload).await?;
/// println!("{}", image.fingerprint);
/// # Ok(()) }
/// ```
pub struct ImageUpload {
    content: Content,
    public: bool,
    filename: Option<String>,
    properties: BTreeMap<String, String>,
    aliases: Vec<ImageAlias>,
    fingerprint: Option<String>,
    progress: Option<ImageProgressFn>,
}

impl std::fmt::Debug for ImageUpload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.content {
            Content::Unified(_) => "unified",
            Content::Split { rootfs_field, .. } => rootfs_field,
        };
        f.debug_struct("ImageUpload")
            .field("content", &kind)
            .field("public", &self.public)
            .field("filename", &self.filename)
            .field("properties", &self.properties)
            .field("aliases", &self.aliases)
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

/// Opens an image file to send: a symlink at `path` is refused, never followed (see
/// `open_source`).
async fn open_part(path: &Path) -> Result<Part> {
    if tokio::fs::metadata(path).await.is_ok_and(|m| m.is_dir()) {
        return Err(Error::invalid(
            "image file",
            format!("{} is not a regular file", path.display()),
        ));
    }
    let (file, length, _) = crate::files::local::open_source(path).await?;
    Ok(Part {
        stream: reader_stream(tokio::fs::File::from_std(file)),
        length: Some(length),
        name: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    })
}

fn reader_part<R: AsyncRead + Send + 'static>(reader: R, length: Option<u64>, name: &str) -> Part {
    Part {
        stream: reader_stream(reader),
        length,
        name: name.to_string(),
    }
}

impl ImageUpload {
    fn new(content: Content) -> ImageUpload {
        ImageUpload {
            content,
            public: false,
            filename: None,
            properties: BTreeMap::new(),
            aliases: Vec::new(),
            fingerprint: None,
            progress: None,
        }
    }

    /// A unified image (one tarball) from a file; its name becomes the image's `filename`
    /// unless [`filename`](Self::filename) says otherwise.
    ///
    /// The file is opened now. A symlink at `path` is refused, never followed (this and the
    /// other `*_from_path` constructors): what is sent is the file named, not whatever a link
    /// put there points to; name the target to send it.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::ImageUpload;
    /// let upload = ImageUpload::unified_from_path("busybox.tar.gz").await?.alias("busybox");
    /// client.images().upload_and_wait(upload).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/images_post)
    pub async fn unified_from_path(path: impl AsRef<Path>) -> Result<ImageUpload> {
        let part = open_part(path.as_ref()).await?;
        let mut upload = ImageUpload::new(Content::Unified(part));
        upload.filename = path
            .as_ref()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned());
        Ok(upload)
    }

    /// A unified image read from `reader`; `length`, when given, is sent as Content-Length
    /// and a reader that gives more or fewer bytes fails the upload.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::ImageUpload;
    /// # fn build_tarball() -> Vec<u8> { Vec::new() }
    /// let tarball: Vec<u8> = build_tarball(); // metadata.yaml + rootfs/, made in memory
    /// let length = tarball.len() as u64;
    /// let upload = ImageUpload::unified_from_reader(std::io::Cursor::new(tarball), Some(length));
    /// client.images().upload(upload).await?.wait().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/images_post)
    pub fn unified_from_reader<R>(reader: R, length: Option<u64>) -> ImageUpload
    where
        R: AsyncRead + Send + 'static,
    {
        ImageUpload::new(Content::Unified(reader_part(reader, length, "")))
    }

    /// A split container image: a metadata tarball and a rootfs (squashfs or tarball).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::ImageUpload;
    /// let upload = ImageUpload::split_from_paths("meta.tar.xz", "rootfs.squashfs").await?;
    /// client.images().upload_and_wait(upload).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/images_post)
    pub async fn split_from_paths(
        metadata: impl AsRef<Path>,
        rootfs: impl AsRef<Path>,
    ) -> Result<ImageUpload> {
        Ok(ImageUpload::new(Content::Split {
            metadata: open_part(metadata.as_ref()).await?,
            rootfs: open_part(rootfs.as_ref()).await?,
            rootfs_field: "rootfs",
        }))
    }

    /// A virtual-machine image: a metadata tarball and a disk image (`rootfs.img`).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::ImageUpload;
    /// let upload = ImageUpload::vm_from_paths("meta.tar.xz", "rootfs.img").await?;
    /// client.images().upload_and_wait(upload).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/images_post)
    pub async fn vm_from_paths(
        metadata: impl AsRef<Path>,
        rootfs_img: impl AsRef<Path>,
    ) -> Result<ImageUpload> {
        Ok(ImageUpload::new(Content::Split {
            metadata: open_part(metadata.as_ref()).await?,
            rootfs: open_part(rootfs_img.as_ref()).await?,
            rootfs_field: "rootfs.img",
        }))
    }

    /// A split image from two readers (`vm`: the second is a VM's `rootfs.img`). Lengths,
    /// when both are given, make a Content-Length.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::ImageUpload;
    /// let metadata = tokio::fs::File::open("meta.tar.xz").await.unwrap();
    /// let disk = tokio::fs::File::open("disk.img").await.unwrap();
    /// let upload = ImageUpload::split_from_readers(metadata, None, disk, None, true); // a VM image
    /// let image = client.images().upload_and_wait(upload.alias("my-vm")).await?;
    /// println!("{} {}", image.fingerprint, image.image_type);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/images_post)
    pub fn split_from_readers<M, R>(
        metadata: M,
        metadata_length: Option<u64>,
        rootfs: R,
        rootfs_length: Option<u64>,
        vm: bool,
    ) -> ImageUpload
    where
        M: AsyncRead + Send + 'static,
        R: AsyncRead + Send + 'static,
    {
        let field = if vm { "rootfs.img" } else { "rootfs" };
        ImageUpload::new(Content::Split {
            metadata: reader_part(metadata, metadata_length, "metadata"),
            rootfs: reader_part(rootfs, rootfs_length, field),
            rootfs_field: field,
        })
    }

    /// Visible to unauthenticated clients.
    ///
    /// Sent as the `X-LXD-public` header (`X-Incus-public` on Incus); always sent, `false` by
    /// default.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::ImageUpload;
    /// let upload = ImageUpload::unified_from_path("busybox.tar.gz").await?.public(true);
    /// let image = client.images().upload_and_wait(upload).await?;
    /// assert!(image.public); // listed to untrusted clients too
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/images_post)
    pub fn public(mut self, public: bool) -> Self {
        self.public = public;
        self
    }

    /// The image's original file name.
    ///
    /// Sent as the `X-LXD-filename` header (`X-Incus-filename` on Incus).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::ImageUpload;
    /// // A download kept under a temporary name:
    /// let file = tokio::fs::File::open("/tmp/tmp.x1b2").await.unwrap();
    /// let upload = ImageUpload::unified_from_reader(file, None).filename("alpine-3.20.tar.gz");
    /// let image = client.images().upload_and_wait(upload).await?;
    /// assert_eq!(image.filename, "alpine-3.20.tar.gz");
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/images_post)
    pub fn filename(mut self, filename: impl Into<String>) -> Self {
        self.filename = Some(filename.into());
        self
    }

    /// A property, merged over those of the image's `metadata.yaml`.
    ///
    /// Sent, URL-encoded, in the `X-LXD-properties` header (`X-Incus-properties` on Incus).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::ImageUpload;
    /// let upload = ImageUpload::unified_from_path("alpine.tar.gz")
    ///     .await?
    ///     .property("os", "Alpine")
    ///     .property("release", "3.20");
    /// let image = client.images().upload_and_wait(upload).await?;
    /// assert_eq!(image.properties["release"], "3.20");
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/images_post)
    pub fn property(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.properties.insert(key.into(), value.into());
        self
    }

    /// An alias to create once the image exists ([`Images::upload_and_wait`]).
    ///
    /// Created with `POST /1.0/images/aliases` after the upload; [`Images::upload`] refuses an
    /// upload with aliases.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::ImageUpload;
    /// let upload = ImageUpload::unified_from_path("alpine.tar.gz").await?.alias("alpine/3.20").alias("alpine");
    /// let image = client.images().upload_and_wait(upload).await?;
    /// assert_eq!(image.aliases.len(), 2);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/images_aliases_post)
    pub fn alias(mut self, name: impl Into<String>) -> Self {
        self.aliases.push(ImageAlias::new(name));
        self
    }

    /// The SHA-256 the image must have; LXD refuses the upload when it differs.
    ///
    /// Sent as the `X-LXD-fingerprint` header (`X-Incus-fingerprint` on Incus).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::ImageUpload;
    /// // The SHA-256 published next to the tarball ("<hash>  alpine.tar.gz"):
    /// let sums = std::fs::read_to_string("alpine.tar.gz.sha256").unwrap();
    /// let sha256 = sums.split_whitespace().next().unwrap();
    /// let upload = ImageUpload::unified_from_path("alpine.tar.gz").await?.expect_fingerprint(sha256);
    /// let image = client.images().upload_and_wait(upload).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/images_post)
    pub fn expect_fingerprint(mut self, fingerprint: impl Into<String>) -> Self {
        self.fingerprint = Some(fingerprint.into());
        self
    }

    /// Reports bytes sent.
    ///
    /// The callback runs as the body of the upload is sent; the total is the body's length when
    /// known.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::ImageUpload;
    /// let upload = ImageUpload::unified_from_path("jammy.tar.gz").await?.with_progress(|sent, total| {
    ///     eprint!("\r{sent} of {} bytes", total.map_or("?".to_string(), |t| t.to_string()));
    /// });
    /// client.images().upload(upload).await?.wait().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/images_post)
    pub fn with_progress<F>(mut self, callback: F) -> Self
    where
        F: Fn(u64, Option<u64>) + Send + Sync + 'static,
    {
        self.progress = Some(Arc::new(callback));
        self
    }
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImageExport {
    /// The image's fingerprint, checked against the SHA-256 of what was received.
    pub fingerprint: String,
    /// Bytes written.
    pub bytes: u64,
}

impl Images {
    /// Starts uploading an image; the operation's metadata names the new fingerprint.
    /// Aliases are refused here (they can only be made once the image exists): use
    /// [`upload_and_wait`](Self::upload_and_wait) for them.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::ImageUpload;
    /// let upload = ImageUpload::split_from_paths("meta.tar.xz", "rootfs.squashfs").await?;
    /// client.images().upload(upload).await?.wait().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/images_post)
    pub async fn upload(&self, upload: ImageUpload) -> Result<Operation> {
        if !upload.aliases.is_empty() {
            return Err(Error::invalid(
                "image upload",
                "aliases are created once the image exists: use upload_and_wait",
            ));
        }
        self.send_upload(upload).await
    }

    /// Uploads an image, waits, creates its aliases and returns it.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::ImageUpload;
    /// let upload = ImageUpload::unified_from_path("busybox.tar.gz").await?.alias("bb");
    /// let image = client.images().upload_and_wait(upload).await?;
    /// assert_eq!(image.aliases[0].name, "bb");
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/images_post)
    pub async fn upload_and_wait(&self, mut upload: ImageUpload) -> Result<Image> {
        let aliases = std::mem::take(&mut upload.aliases);
        for alias in &aliases {
            validate_alias_name(&alias.name)?;
        }
        let op = self.send_upload(upload).await?;
        let image = crate::instance_publish::image_of(&self.client, op).await?;
        if aliases.is_empty() {
            return Ok(image);
        }
        let manager = self.aliases();
        for alias in &aliases {
            manager
                .create(&alias.name, &image.fingerprint, &alias.description)
                .await?;
        }
        self.get(&image.fingerprint).await
    }

    async fn send_upload(&self, upload: ImageUpload) -> Result<Operation> {
        if let Some(fp) = &upload.fingerprint {
            validate_fingerprint(fp)?;
        }
        let prefix = self.client.flavor().await?.header_prefix();
        let (body, length, content_type) = match upload.content {
            Content::Unified(part) => (
                part.stream,
                part.length,
                "application/octet-stream".to_string(),
            ),
            Content::Split {
                metadata,
                rootfs,
                rootfs_field,
            } => multipart(metadata, rootfs, rootfs_field)?,
        };
        let body = counted(body, length, upload.progress);
        let mut request = self
            .client
            .request(Method::POST, "/1.0/images", &[])
            .timeout(Timeout::None)
            .header(
                header::CONTENT_TYPE,
                header_value("Content-Type", &content_type)?,
            )
            .body(Body::stream(body, length));
        let mut options: Vec<(&str, String)> = vec![("public", upload.public.to_string())];
        if let Some(filename) = &upload.filename {
            options.push(("filename", filename.clone()));
        }
        if !upload.properties.is_empty() {
            options.push(("properties", form_encode(&upload.properties)));
        }
        if let Some(fp) = &upload.fingerprint {
            options.push(("fingerprint", fp.to_ascii_lowercase()));
        }
        for (name, value) in options {
            let name = HeaderName::from_bytes(format!("{prefix}{name}").as_bytes())
                .map_err(|e| Error::invalid("image upload header", e.to_string()))?;
            request = request.header(name, header_value("image option", &value)?);
        }
        let reply = self.client.execute(request).await?;
        Operation::from_reply(
            self.client.clone(),
            "POST /1.0/images (upload)",
            reply.envelope,
        )
    }

    /// Streams an image to `writer` and checks that the SHA-256 of what arrived is its
    /// fingerprint (a mismatch is an error; what was written is then not the image). Split
    /// images are refused before anything is written: export them with
    /// [`export_split_to_writers`](Self::export_split_to_writers).
    ///
    /// `fingerprint` is all 64 hex digits or a prefix of them. The export is bound to it: the
    /// image the server resolves it to must have a fingerprint that is (or, for a prefix,
    /// starts with) it, else a [malformed](crate::Error::is_malformed) error comes before
    /// anything is downloaded; the content is then checked against that full fingerprint.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let mut out = tokio::io::sink();
    /// let done = client.images().export_to_writer("ce056e95", &mut out).await?;
    /// println!("{} bytes", done.bytes);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/image_export_get)
    pub async fn export_to_writer<W>(
        &self,
        fingerprint: &str,
        writer: &mut W,
    ) -> Result<ImageExport>
    where
        W: AsyncWrite + Unpin,
    {
        self.export_inner(fingerprint, writer, None::<&mut tokio::io::Sink>)
            .await
    }

    /// Exports a unified image to a file, written aside and renamed into place only once
    /// complete and verified: on any error (a fingerprint mismatch included) or a dropped
    /// future, nothing is left at `path` and no temporary beside it. The file is created
    /// with mode 0644 under the process umask.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// client.images().export_to_path("ce056e95", "busybox.tar.gz").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/image_export_get)
    pub async fn export_to_path(
        &self,
        fingerprint: &str,
        path: impl AsRef<Path>,
    ) -> Result<ImageExport> {
        let (dir, name) = LocalDir::parent_of(path.as_ref()).await?;
        let (aside, mut file) = Aside::file(&dir, &name, 0o644).await?;
        let done = self
            .export_inner(fingerprint, &mut file, None::<&mut tokio::io::Sink>)
            .await?;
        aside
            .commit_file(file, 0o644, ModePolicy::default())
            .await?;
        Ok(done)
    }

    /// Exports a split image: the metadata tarball to `metadata` and the rootfs to `rootfs`,
    /// checking the SHA-256 of both together against the fingerprint. A unified image is
    /// refused before anything is written.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let (mut meta, mut rootfs) = (Vec::new(), Vec::new());
    /// client.images().export_split_to_writers("a1b2c3", &mut meta, &mut rootfs).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/image_export_get)
    pub async fn export_split_to_writers<M, R>(
        &self,
        fingerprint: &str,
        metadata: &mut M,
        rootfs: &mut R,
    ) -> Result<ImageExport>
    where
        M: AsyncWrite + Unpin,
        R: AsyncWrite + Unpin,
    {
        self.export_inner(fingerprint, metadata, Some(rootfs)).await
    }

    async fn export_inner<W, R>(
        &self,
        fingerprint: &str,
        writer: &mut W,
        rootfs: Option<&mut R>,
    ) -> Result<ImageExport>
    where
        W: AsyncWrite + Unpin,
        R: AsyncWrite + Unpin,
    {
        // Resolve a prefix first: the check needs all 64 digits. What the server names must
        // be what was asked for: the content is checked against the server's full
        // fingerprint, so a server answering with another image would otherwise pass.
        let image = self.get(fingerprint).await?;
        check_resolved(fingerprint, &image.fingerprint)?;
        let path = format!("/1.0/images/{}/export", image.fingerprint);
        let request = self
            .client
            .request(Method::GET, &path, &[])
            .timeout(Timeout::None);
        // The image takes as long as it takes; the wait for the reply to start is still
        // bounded by the client's timeout (LXD starts sending at once), as for files.
        let limit = self.client.transport().timeout();
        let mut response = self
            .client
            .within(limit, self.client.send_raw(request))
            .await?;
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let context = format!("GET {path}");
        let boundary = multipart_boundary(&content_type);
        let mut hash = ring::digest::Context::new(&ring::digest::SHA256);
        let mut bytes = 0u64;
        match (boundary, rootfs) {
            (None, None) => {
                while let Some(chunk) = response.chunk().await? {
                    hash.update(&chunk);
                    bytes += chunk.len() as u64;
                    writer.write_all(&chunk).await.map_err(|e| {
                        Error::io(format!("writing the export of {}", image.fingerprint), e)
                    })?;
                }
            }
            (Some(boundary), Some(rootfs)) => {
                let mut parser = MultipartReader::new(&boundary, context.clone());
                let mut part = 0usize;
                loop {
                    let event = match parser.next_event()? {
                        Some(event) => event,
                        None => match response.chunk().await? {
                            Some(chunk) => {
                                parser.feed(&chunk);
                                continue;
                            }
                            None => {
                                parser.finish()?;
                                break;
                            }
                        },
                    };
                    match event {
                        PartEvent::Start => part += 1,
                        PartEvent::Data(data) => {
                            hash.update(&data);
                            bytes += data.len() as u64;
                            let result = match part {
                                1 => writer.write_all(&data).await,
                                2 => rootfs.write_all(&data).await,
                                _ => {
                                    return Err(Error::malformed(
                                        context,
                                        "more than two parts in a split image export",
                                        &[],
                                    ));
                                }
                            };
                            result.map_err(|e| Error::io("writing a split image export", e))?;
                        }
                    }
                }
                if part != 2 {
                    return Err(Error::malformed(
                        context,
                        format!("a split image export has 2 parts, this one {part}"),
                        &[],
                    ));
                }
                rootfs
                    .flush()
                    .await
                    .map_err(|e| Error::io("writing a split image export", e))?;
            }
            (None, Some(_)) => {
                return Err(Error::invalid(
                    "image export",
                    format!(
                        "{} is a unified image: use export_to_writer",
                        image.fingerprint
                    ),
                ));
            }
            (Some(_), None) => {
                return Err(Error::invalid(
                    "image export",
                    format!(
                        "{} is a split image: use export_split_to_writers",
                        image.fingerprint
                    ),
                ));
            }
        }
        writer
            .flush()
            .await
            .map_err(|e| Error::io("writing an image export", e))?;
        let got = hex(hash.finish().as_ref());
        if !got.eq_ignore_ascii_case(&image.fingerprint) {
            return Err(Error::malformed(
                context,
                format!(
                    "the export's SHA-256 {got} is not the image's fingerprint {}",
                    image.fingerprint
                ),
                &[],
            ));
        }
        Ok(ImageExport {
            fingerprint: image.fingerprint,
            bytes,
        })
    }
}

/// Checks that the image the server resolved `asked` to is that image: its fingerprint is
/// 64 hex digits and `asked` (all 64 digits, or a prefix of them; case is ignored) is its
/// start. Aliases are not accepted by the export calls (they take a fingerprint), so there is
/// no alias to resolve here.
fn check_resolved(asked: &str, resolved: &str) -> Result<()> {
    let asked = asked.to_ascii_lowercase();
    let full = resolved.len() == 64 && resolved.bytes().all(|b| b.is_ascii_hexdigit());
    if full && resolved.to_ascii_lowercase().starts_with(&asked) {
        return Ok(());
    }
    Err(Error::malformed(
        format!("GET /1.0/images/{asked}"),
        format!(
            "asked for image {asked}, the server answered with image {resolved:?}; nothing \
             exported"
        ),
        resolved.as_bytes(),
    ))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn header_value(what: &'static str, value: &str) -> Result<HeaderValue> {
    HeaderValue::from_str(value)
        .map_err(|_| Error::invalid(what, format!("{value:?} cannot be sent in a header")))
}

/// `application/x-www-form-urlencoded`, as LXD parses `<prefix>properties` (Go's
/// `url.ParseQuery`).
fn form_encode(pairs: &BTreeMap<String, String>) -> String {
    fn enc(s: &str, out: &mut String) {
        for b in s.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    out.push(b as char)
                }
                b' ' => out.push('+'),
                _ => out.push_str(&format!("%{b:02X}")),
            }
        }
    }
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        enc(k, &mut out);
        out.push('=');
        enc(v, &mut out);
    }
    out
}

/// The boundary of a `multipart/form-data` content type.
pub(crate) fn multipart_boundary(content_type: &str) -> Option<String> {
    let mut params = content_type.split(';');
    let kind = params.next()?.trim();
    if !kind.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

/// Builds the multipart body of a split upload as a stream: text, metadata, text, rootfs,
/// text. Returns the stream, its length when both parts have one, and the content type.
#[allow(clippy::type_complexity)]
fn multipart(
    metadata: Part,
    rootfs: Part,
    rootfs_field: &'static str,
) -> Result<(
    BoxStream<'static, std::io::Result<Bytes>>,
    Option<u64>,
    String,
)> {
    let mut random = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut random).map_err(
        |_| {
            Error::io(
                "making a multipart boundary",
                std::io::Error::other("no randomness"),
            )
        },
    )?;
    let boundary = format!("lxd-rs-{}", hex(&random));
    let head = |field: &str, name: &str| {
        let name: String = name
            .chars()
            .filter(|c| !c.is_control() && *c != '"' && *c != '\\')
            .collect();
        let name = if name.is_empty() {
            field.to_string()
        } else {
            name
        };
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
    };
    let first = head("metadata", &metadata.name);
    let second = format!("\r\n{}", head(rootfs_field, &rootfs.name));
    let last = format!("\r\n--{boundary}--\r\n");
    let length = match (metadata.length, rootfs.length) {
        (Some(m), Some(r)) => {
            Some(first.len() as u64 + m + second.len() as u64 + r + last.len() as u64)
        }
        _ => None,
    };
    let text = |s: String| stream::once(async move { Ok(Bytes::from(s)) });
    let body = text(first)
        .chain(exact(metadata.stream, metadata.length, "metadata"))
        .chain(text(second))
        .chain(exact(rootfs.stream, rootfs.length, rootfs_field))
        .chain(text(last))
        .boxed();
    Ok((
        body,
        length,
        format!("multipart/form-data; boundary={boundary}"),
    ))
}

/// Fails a stream that gives more or fewer bytes than announced (a wrong length would make
/// the server wait or cut the body).
fn exact(
    inner: BoxStream<'static, std::io::Result<Bytes>>,
    length: Option<u64>,
    what: &'static str,
) -> BoxStream<'static, std::io::Result<Bytes>> {
    let Some(length) = length else { return inner };
    let seen = Arc::new(AtomicU64::new(0));
    let counter = seen.clone();
    let checked = inner.map(move |chunk| {
        let chunk = chunk?;
        let total = counter.fetch_add(chunk.len() as u64, Ordering::Relaxed) + chunk.len() as u64;
        if total > length {
            return Err(std::io::Error::other(format!(
                "{what}: more than the announced {length} bytes"
            )));
        }
        Ok(chunk)
    });
    let end = stream::once(async move {
        let got = seen.load(Ordering::Relaxed);
        (got != length).then(|| {
            Err(std::io::Error::other(format!(
                "{what}: {got} bytes, not the announced {length}"
            )))
        })
    })
    .filter_map(|r| async move { r });
    checked.chain(end).boxed()
}

/// Counts what goes out (progress) and checks the total against `length`.
fn counted(
    body: BoxStream<'static, std::io::Result<Bytes>>,
    length: Option<u64>,
    progress: Option<ImageProgressFn>,
) -> BoxStream<'static, std::io::Result<Bytes>> {
    let body = exact(body, length, "image");
    let Some(progress) = progress else {
        return body;
    };
    let mut sent = 0u64;
    progress(0, length);
    body.map(move |chunk| {
        if let Ok(c) = &chunk {
            sent += c.len() as u64;
            progress(sent, length);
        }
        chunk
    })
    .boxed()
}

fn reader_stream<R>(reader: R) -> BoxStream<'static, std::io::Result<Bytes>>
where
    R: AsyncRead + Send + 'static,
{
    stream::unfold(Some(Box::pin(reader)), |state| async move {
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

pub(crate) enum PartEvent {
    /// A new part begins (its headers were read).
    Start,
    /// Content of the current part.
    Data(Bytes),
}

/// A streaming `multipart/form-data` reader: bounded memory (a chunk plus a delimiter).
pub(crate) struct MultipartReader {
    /// `\r\n--boundary`.
    delimiter: Vec<u8>,
    buf: BytesMut,
    state: State,
    context: String,
}

#[derive(PartialEq)]
enum State {
    /// Before the first delimiter.
    Preamble,
    /// Reading a part's headers.
    Headers,
    /// Reading a part's content.
    Body,
    /// After the closing delimiter.
    Done,
}

impl MultipartReader {
    pub(crate) fn new(boundary: &str, context: String) -> MultipartReader {
        MultipartReader {
            delimiter: format!("\r\n--{boundary}").into_bytes(),
            // The first delimiter may come without its CRLF: add one.
            buf: BytesMut::from(&b"\r\n"[..]),
            state: State::Preamble,
            context,
        }
    }

    pub(crate) fn feed(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    fn malformed(&self, reason: &str) -> Error {
        let end = self.buf.len().min(crate::error::SNIPPET_LEN);
        Error::malformed(self.context.clone(), reason, &self.buf[..end])
    }

    /// The next event from what was fed, or `None` when more input is needed.
    pub(crate) fn next_event(&mut self) -> Result<Option<PartEvent>> {
        loop {
            match self.state {
                State::Preamble | State::Body => {
                    match find(&self.buf, &self.delimiter) {
                        Some(at) => {
                            // After a delimiter: `--` (the end) or CRLF (a part), needing 2 bytes.
                            let after = at + self.delimiter.len();
                            if self.buf.len() < after + 2 {
                                if self.state == State::Body && at > 0 {
                                    let data = self.buf.split_to(at).freeze();
                                    return Ok(Some(PartEvent::Data(data)));
                                }
                                return Ok(None);
                            }
                            let data = self.buf.split_to(at).freeze();
                            if self.state == State::Body && !data.is_empty() {
                                return Ok(Some(PartEvent::Data(data)));
                            }
                            let _ = self.buf.split_to(self.delimiter.len());
                            let tail = self.buf.split_to(2);
                            if &tail[..] == b"--" {
                                self.state = State::Done;
                            } else if &tail[..] == b"\r\n" {
                                self.state = State::Headers;
                            } else {
                                return Err(self.malformed("bad multipart delimiter"));
                            }
                        }
                        None if self.state == State::Body => {
                            // Keep what could be the start of a delimiter.
                            let keep = self.delimiter.len() - 1;
                            if self.buf.len() > keep {
                                let n = self.buf.len() - keep;
                                return Ok(Some(PartEvent::Data(self.buf.split_to(n).freeze())));
                            }
                            return Ok(None);
                        }
                        None => {
                            if self.buf.len() > 64 * 1024 {
                                return Err(self.malformed("no multipart delimiter"));
                            }
                            return Ok(None);
                        }
                    }
                }
                // A part with no headers: the delimiter's CRLF is consumed, so its empty
                // header block is a lone CRLF (searching for CRLFCRLF would run into the
                // content and merge this part with the next).
                State::Headers if self.buf.len() < 2 => return Ok(None),
                State::Headers if self.buf.starts_with(b"\r\n") => {
                    let _ = self.buf.split_to(2);
                    self.state = State::Body;
                    return Ok(Some(PartEvent::Start));
                }
                State::Headers => match find(&self.buf, b"\r\n\r\n") {
                    Some(at) => {
                        let _ = self.buf.split_to(at + 4);
                        // The delimiter search expects the CRLF before the next boundary.
                        self.state = State::Body;
                        return Ok(Some(PartEvent::Start));
                    }
                    None if self.buf.len() > 64 * 1024 => {
                        return Err(self.malformed("multipart part headers too long"));
                    }
                    None => return Ok(None),
                },
                State::Done => {
                    self.buf.clear();
                    return Ok(None);
                }
            }
        }
    }

    /// The input ended: it must have ended with the closing delimiter.
    pub(crate) fn finish(&self) -> Result<()> {
        if self.state == State::Done {
            Ok(())
        } else {
            Err(self.malformed("the multipart body ended early"))
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_are_bound_to_the_fingerprint_asked_for() {
        let full = "ab".repeat(32);
        assert!(check_resolved(&full, &full).is_ok());
        assert!(check_resolved("ABAB", &full).is_ok());
        assert!(check_resolved(&full.to_uppercase(), &full).is_ok());
        let other = "cd".repeat(32);
        for (asked, resolved) in [
            (full.as_str(), other.as_str()),
            ("abab", other.as_str()),
            // Not a fingerprint at all, or not all of one.
            ("abab", "abab"),
            ("abab", "abab/../../1.0"),
            ("", "zz"),
        ] {
            let err = check_resolved(asked, resolved).unwrap_err();
            assert!(err.is_malformed(), "{asked} {resolved}: {err:?}");
        }
    }

    #[test]
    fn properties_are_form_encoded() {
        let props: BTreeMap<String, String> = [
            ("os".to_string(), "busy box".to_string()),
            ("a&b".to_string(), "x=y/ü".to_string()),
        ]
        .into();
        assert_eq!(form_encode(&props), "a%26b=x%3Dy%2F%C3%BC&os=busy+box");
    }

    #[test]
    fn boundary_is_parsed() {
        assert_eq!(
            multipart_boundary("multipart/form-data; boundary=abc").as_deref(),
            Some("abc")
        );
        assert_eq!(
            multipart_boundary("Multipart/Form-Data; boundary=\"q x\"").as_deref(),
            Some("q x")
        );
        assert_eq!(multipart_boundary("application/octet-stream"), None);
    }

    async fn parse(body: &[u8], boundary: &str, chunk: usize) -> Result<Vec<Vec<u8>>> {
        let mut parser = MultipartReader::new(boundary, "test".into());
        let mut parts: Vec<Vec<u8>> = Vec::new();
        let mut chunks = body.chunks(chunk);
        loop {
            match parser.next_event()? {
                Some(PartEvent::Start) => parts.push(Vec::new()),
                Some(PartEvent::Data(d)) => parts.last_mut().unwrap().extend_from_slice(&d),
                None => match chunks.next() {
                    Some(c) => parser.feed(c),
                    None => {
                        parser.finish()?;
                        return Ok(parts);
                    }
                },
            }
        }
    }

    #[tokio::test]
    async fn multipart_round_trips_in_any_chunking() {
        let metadata = b"meta\r\n--lxd-not-the-boundary".to_vec();
        let rootfs: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        let (body, length, content_type) = multipart(
            reader_part(
                std::io::Cursor::new(metadata.clone()),
                Some(metadata.len() as u64),
                "m.tar",
            ),
            reader_part(
                std::io::Cursor::new(rootfs.clone()),
                Some(rootfs.len() as u64),
                "r",
            ),
            "rootfs",
        )
        .unwrap();
        let bytes: Vec<u8> = body
            .map(|c| c.unwrap().to_vec())
            .collect::<Vec<_>>()
            .await
            .concat();
        assert_eq!(Some(bytes.len() as u64), length);
        let boundary = multipart_boundary(&content_type).unwrap();
        for chunk in [1, 3, 7, 64, 100_000] {
            let parts = parse(&bytes, &boundary, chunk).await.unwrap();
            assert_eq!(
                parts,
                vec![metadata.clone(), rootfs.clone()],
                "chunk {chunk}"
            );
        }
        // Cut short: an error, not a short success.
        let cut = &bytes[..bytes.len() - 5];
        assert!(parse(cut, &boundary, 64).await.unwrap_err().is_malformed());
    }

    #[tokio::test]
    async fn a_part_without_headers_is_kept() {
        // Found by the export_multipart fuzz target's seeds: parsed as ["root"] before.
        let body = b"--b1\r\n\r\nmeta\r\n--b1\r\n\r\nroot\r\n--b1--\r\n";
        for chunk in [1, 2, 3, 5, 100] {
            let parts = parse(body, "b1", chunk).await.unwrap();
            assert_eq!(
                parts,
                vec![b"meta".to_vec(), b"root".to_vec()],
                "chunk {chunk}"
            );
        }
    }

    #[tokio::test]
    async fn a_reader_shorter_than_announced_fails_the_body() {
        let body = counted(
            reader_stream(std::io::Cursor::new(vec![1u8; 10])),
            Some(11),
            None,
        );
        let results: Vec<_> = body.collect().await;
        assert!(results.last().unwrap().is_err());
        let body = counted(
            reader_stream(std::io::Cursor::new(vec![1u8; 10])),
            Some(9),
            None,
        );
        let results: Vec<_> = body.collect().await;
        assert!(results.iter().any(|r| r.is_err()));
    }
}

#[cfg(test)]
mod fake_server_tests {
    use super::*;
    use crate::client::Client;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Serves a fake LXD on a unix socket: the image `fp` and an export body `content`.
    async fn fake(dir: &Path, fp: String, content: Vec<u8>) -> Client {
        let socket = dir.join("lxd.socket");
        let listener = tokio::net::UnixListener::bind(&socket).unwrap();
        tokio::spawn(async move {
            loop {
                let Ok((mut conn, _)) = listener.accept().await else {
                    return;
                };
                let (fp, content) = (fp.clone(), content.clone());
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        if conn.read(&mut byte).await.unwrap_or(0) == 0 {
                            return;
                        }
                        head.push(byte[0]);
                    }
                    let head = String::from_utf8_lossy(&head).into_owned();
                    let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
                    let (ctype, body) = if path.ends_with("/export") {
                        ("application/octet-stream", content)
                    } else {
                        let image = serde_json::json!({"type": "sync", "status": "Success",
                            "status_code": 200, "metadata": {"fingerprint": fp}});
                        ("application/json", image.to_string().into_bytes())
                    };
                    let mut reply = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    reply.extend(body);
                    let _ = conn.write_all(&reply).await;
                    let _ = conn.shutdown().await;
                });
            }
        });
        Client::unix(&socket).unwrap()
    }

    fn sha256_hex(data: &[u8]) -> String {
        hex(ring::digest::digest(&ring::digest::SHA256, data).as_ref())
    }

    fn scratch(tag: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("lxdrs-export-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[tokio::test]
    async fn an_export_not_matching_its_fingerprint_is_an_error_and_leaves_no_file() {
        let dir = scratch("bad");
        let content = b"these bytes are not the image".to_vec();
        let client = fake(&dir, "ab".repeat(32), content).await;
        let out = dir.join("image.tar.gz");
        let err = client
            .images()
            .export_to_path("abab", &out)
            .await
            .unwrap_err();
        assert!(err.is_malformed(), "{err}");
        assert!(err.to_string().contains("fingerprint"), "{err}");
        assert!(!out.exists());
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n != "lxd.socket")
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn a_matching_export_is_written_in_place() {
        let dir = scratch("good");
        let content = b"pretend tarball".to_vec();
        let fingerprint = sha256_hex(&content);
        let client = fake(&dir, fingerprint.clone(), content.clone()).await;
        let out = dir.join("image.tar.gz");
        // A prefix of the served image's fingerprint (one of another image is refused: see
        // tests/hostile_files.rs).
        let done = client
            .images()
            .export_to_path(&fingerprint[..12], &out)
            .await
            .unwrap();
        assert_eq!(done.bytes, content.len() as u64);
        assert_eq!(std::fs::read(&out).unwrap(), content);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
