//! Copying an image from one LXD server to another, in whichever mode the pair allows (see
//! [`MigrationMode`]): the target downloads it from the source (pull, with a one-time secret
//! for a private image), the source uploads it to the target (push), or this client streams
//! the export of one into an upload to the other (relay).

use lxd_proto::{Image, ImageAlias, ImagesPost, ImagesPostSource};
use lxd_transport::http::Method;
use serde::Serialize;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::image_upload::ImageUpload;
use crate::images::{Images, validate_alias_name, validate_fingerprint};
use crate::migration::{MigrationMode, Peer, resolve_mode, try_addresses};
use crate::operation::Operation;
use crate::path::segment;

/// A copy of one image to this manager's server; built by [`Images::copy_from`], run by
/// [`ImageCopy::run`].
///
/// ```no_run
/// # async fn demo(source: lxd_client::Client, target: lxd_client::Client) -> Result<(), lxd_client::Error> {
/// use lxd_client::MigrationMode;
/// let image = target
///     .images()
///     .copy_from(&source, "busybox")
///     .copy_aliases(true)
///     .mode(MigrationMode::Pull)
///     .run()
///     .await?;
/// println!("{} is on the target", image.fingerprint);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "nothing happens until run() is awaited"]
pub struct ImageCopy {
    target: Images,
    source: Client,
    image: String,
    mode: MigrationMode,
    aliases: Vec<String>,
    copy_aliases: bool,
    public: bool,
    auto_update: bool,
}

impl Images {
    /// Copies an image (by fingerprint, unique prefix, or alias) from the server of
    /// `source` to this client's server. Nothing is sent until [`run`](ImageCopy::run).
    ///
    /// ```no_run
    /// # async fn demo(source: lxd_client::Client, target: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let image = target.images().copy_from(&source, "ce056e95").alias("bb").run().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/images_post)
    pub fn copy_from(&self, source: &Client, fingerprint_or_alias: &str) -> ImageCopy {
        ImageCopy {
            target: self.clone(),
            source: source.clone(),
            image: fingerprint_or_alias.to_string(),
            mode: MigrationMode::Auto,
            aliases: Vec::new(),
            copy_aliases: false,
            public: false,
            auto_update: false,
        }
    }
}

/// `POST /1.0/images/<fingerprint>/export` with a target: the source pushes the image.
#[derive(Serialize)]
struct ImageExportPost<'a> {
    target: String,
    certificate: &'a str,
    secret: &'a str,
    aliases: &'a [ImageAlias],
    #[serde(skip_serializing_if = "str::is_empty")]
    project: &'a str,
}

impl ImageCopy {
    /// How the image travels (default [`MigrationMode::Auto`]).
    ///
    /// Sets `source.mode` (`pull` or `push`) of the target's image-creation request; with
    /// [`MigrationMode::Relay`] this client streams an export of the source into an upload to the
    /// target.
    ///
    /// ```no_run
    /// # async fn demo(source: lxd_client::Client, target: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::MigrationMode;
    /// // The target cannot reach the source (NAT): the source uploads to it instead.
    /// let image = target.images().copy_from(&source, "busybox").mode(MigrationMode::Push).run().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/images_post)
    pub fn mode(mut self, mode: MigrationMode) -> Self {
        self.mode = mode;
        self
    }

    /// Adds an alias for the copy on the target.
    ///
    /// Each alias is created on the target once the image is there (`POST /1.0/images/aliases`).
    ///
    /// ```no_run
    /// # async fn demo(source: lxd_client::Client, target: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let image = target.images().copy_from(&source, "ce056e95").alias("busybox").alias("bb").run().await?;
    /// assert!(image.aliases.iter().any(|a| a.name == "bb"));
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/images_aliases_post)
    pub fn alias(mut self, name: impl Into<String>) -> Self {
        self.aliases.push(name.into());
        self
    }

    /// Gives the copy the source image's aliases too.
    ///
    /// They are created on the target once the image is there (`POST /1.0/images/aliases`); an
    /// alias the target already has is skipped.
    ///
    /// ```no_run
    /// # async fn demo(source: lxd_client::Client, target: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// // "busybox" and "bb" on the source become "busybox" and "bb" on the target:
    /// let image = target.images().copy_from(&source, "busybox").copy_aliases(true).run().await?;
    /// let names: Vec<&str> = image.aliases.iter().map(|a| a.name.as_str()).collect();
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/images_aliases_post)
    pub fn copy_aliases(mut self, copy: bool) -> Self {
        self.copy_aliases = copy;
        self
    }

    /// Makes the copy public on the target.
    ///
    /// Sets `public` of the target's image-creation request.
    ///
    /// ```no_run
    /// # async fn demo(source: lxd_client::Client, target: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let image = target.images().copy_from(&source, "busybox").public(true).run().await?;
    /// assert!(image.public); // listed to untrusted clients of the target
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/images_post)
    pub fn public(mut self, public: bool) -> Self {
        self.public = public;
        self
    }

    /// Has the target keep the copy up to date from the source (pull mode).
    ///
    /// Sets `auto_update` of the target's image-creation request.
    ///
    /// ```no_run
    /// # async fn demo(source: lxd_client::Client, target: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::MigrationMode;
    /// let copy = target.images().copy_from(&source, "busybox").mode(MigrationMode::Pull).auto_update(true);
    /// let image = copy.run().await?;
    /// assert!(image.auto_update);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/images_post)
    pub fn auto_update(mut self, auto_update: bool) -> Self {
        self.auto_update = auto_update;
        self
    }

    /// Runs the copy and returns the image on the target. Errors: a bad alias before any
    /// request; an image the source does not have (`is_not_found()`); a server that does
    /// not trust the client; LXD's failure of either side, with its message.
    ///
    /// ```no_run
    /// # async fn demo(source: lxd_client::Client, target: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let image = target.images().copy_from(&source, "busybox").copy_aliases(true).run().await?;
    /// println!("{} ({} bytes)", image.fingerprint, image.size);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/images_post)
    pub async fn run(self) -> Result<Image> {
        for alias in &self.aliases {
            validate_alias_name(alias)?;
        }
        let sources = self.source.images();
        let image = match validate_fingerprint(&self.image) {
            Ok(()) => match sources.get(&self.image).await {
                Err(e) if e.is_not_found() => sources.get_by_alias(&self.image).await?,
                found => found?,
            },
            Err(_) => sources.get_by_alias(&self.image).await?,
        };
        let source_peer = Peer::of(&self.source, "source").await?;
        let target_peer = Peer::of(&self.target.client, "target").await?;
        if source_peer.same_as(&target_peer)
            && self.source.project() == self.target.client.project()
        {
            return Err(Error::invalid(
                "image copy",
                "source and target are the same server and project",
            ));
        }
        let mut aliases: Vec<ImageAlias> = self.aliases.iter().map(ImageAlias::new).collect();
        if self.copy_aliases {
            aliases.extend(image.aliases.iter().map(|a| ImageAlias {
                name: a.name.clone(),
                description: a.description.clone(),
                ..Default::default()
            }));
        }
        let fingerprint = match resolve_mode(self.mode, &source_peer, &target_peer)? {
            MigrationMode::Push => self.push(&image, &aliases, &target_peer).await?,
            MigrationMode::Relay => self.relay(&image).await?,
            _ => self.pull(&image, &source_peer).await?,
        };
        // Aliases after the copy, one by one: what every server version takes, and a taken
        // name then fails alone, naming itself.
        let target_aliases = self.target.aliases();
        let existing = self.target.get(&fingerprint).await?.aliases;
        for alias in aliases {
            if existing.iter().any(|a| a.name == alias.name) {
                continue;
            }
            target_aliases
                .create(&alias.name, &fingerprint, &alias.description)
                .await?;
        }
        self.target.get(&fingerprint).await
    }

    /// The target downloads the image from one of the source's addresses.
    async fn pull(&self, image: &Image, source_peer: &Peer) -> Result<String> {
        let secret = if image.public {
            String::new()
        } else {
            self.image_secret(&image.fingerprint).await?
        };
        let source_project = self.source.project().unwrap_or_default().to_string();
        let protocol = self.source.flavor().await?.image_protocol();
        let done = try_addresses(&source_peer.addresses, |address| {
            let request = ImagesPost {
                public: self.public,
                auto_update: self.auto_update,
                filename: image.filename.clone(),
                source: Some(ImagesPostSource {
                    source_type: "image".into(),
                    mode: "pull".into(),
                    server: format!("https://{address}"),
                    protocol: protocol.into(),
                    certificate: source_peer.certificate.clone(),
                    fingerprint: image.fingerprint.clone(),
                    secret: secret.clone(),
                    project: source_project.clone(),
                    ..Default::default()
                }),
                ..Default::default()
            };
            let images = self.target.clone();
            async move { images.create(&request).await?.wait().await }
        })
        .await?;
        Ok(fingerprint_of(&done).unwrap_or_else(|| image.fingerprint.clone()))
    }

    /// A one-time secret that lets the target download a private image.
    async fn image_secret(&self, fingerprint: &str) -> Result<String> {
        let path = format!("/1.0/images/{}/secret", segment(fingerprint));
        let op = self
            .source
            .send_operation::<()>(Method::POST, &path, &[], None)
            .await?;
        op.info()
            .metadata_object()
            .and_then(|m| m.get("secret"))
            .and_then(|s| s.as_str())
            .map(str::to_owned)
            .ok_or_else(|| {
                Error::malformed(format!("POST {path}"), "no secret in the operation", b"")
            })
    }

    /// The target hands out a token; the source uploads the image to it.
    async fn push(
        &self,
        image: &Image,
        aliases: &[ImageAlias],
        target_peer: &Peer,
    ) -> Result<String> {
        self.source
            .require_api_extension("images_push_relay")
            .await?;
        let request = ImagesPost {
            public: self.public,
            properties: image.properties.clone(),
            source: Some(ImagesPostSource {
                // LXD reads only mode and fingerprint of a push; the type is for our
                // own check of create requests.
                source_type: "image".into(),
                mode: "push".into(),
                fingerprint: image.fingerprint.clone(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let token = self.target.create(&request).await?;
        let secret = token
            .info()
            .metadata_object()
            .and_then(|m| m.get("secret"))
            .and_then(|s| s.as_str())
            .map(str::to_owned)
            .ok_or_else(|| {
                Error::malformed("POST /1.0/images (push)", "no secret in the operation", b"")
            })?;
        let path = format!("/1.0/images/{}/export", segment(&image.fingerprint));
        let target_project = self.target.client.project().unwrap_or_default().to_string();
        let pushed = try_addresses(&target_peer.addresses, |address| {
            let body = ImageExportPost {
                target: format!("https://{address}"),
                certificate: &target_peer.certificate,
                secret: &secret,
                aliases,
                project: &target_project,
            };
            let path = path.clone();
            async move {
                self.source
                    .send_operation(Method::POST, &path, &[], Some(&body))
                    .await?
                    .wait()
                    .await
            }
        })
        .await;
        // The token is single-use; whatever happened, it must not stay valid.
        let _ = token.cancel().await;
        pushed?;
        Ok(image.fingerprint.clone())
    }

    /// The client streams the source's export into an upload to the target (unified images;
    /// nothing is held in memory beyond a small buffer).
    async fn relay(&self, image: &Image) -> Result<String> {
        let (mut writer, reader) = tokio::io::duplex(256 * 1024);
        let sources = self.source.images();
        let fingerprint = image.fingerprint.clone();
        let export = async move {
            let done = sources.export_to_writer(&fingerprint, &mut writer).await;
            drop(writer); // end of the upload's body
            done
        };
        let length = u64::try_from(image.size).ok();
        let upload = ImageUpload::unified_from_reader(reader, length)
            .public(self.public)
            .filename(image.filename.clone());
        let upload = image
            .properties
            .iter()
            .fold(upload, |u, (k, v)| u.property(k.clone(), v.clone()));
        let target = self.target.clone();
        let (exported, uploaded) = tokio::join!(export, async move {
            let op: Operation = target.upload(upload).await?;
            op.wait().await
        });
        // The export's error first: a failed read is why the upload failed too.
        exported?;
        let done = uploaded?;
        Ok(fingerprint_of(&done).unwrap_or_else(|| image.fingerprint.clone()))
    }
}

/// The fingerprint a finished image operation reports (`metadata.fingerprint`).
fn fingerprint_of(op: &lxd_proto::Operation) -> Option<String> {
    op.metadata_object()?
        .get("fingerprint")?
        .as_str()
        .map(str::to_owned)
}
