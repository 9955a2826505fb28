//! Images (`/1.0/images`): list, get by fingerprint (or a unique prefix) or alias, change,
//! delete, and the [`ImageObject`] you edit and save. Uploads are in `image_upload.rs`,
//! exports in `image_export.rs`, aliases in `image_aliases.rs`.

use std::ops::{Deref, DerefMut};

use lxd_proto::{Image, ImagePut, ImagesPost};
use lxd_transport::http::Method;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::etag::{ETag, Versioned};
use crate::operation::Operation;
use crate::path::{name_from_url, segment};

/// The images manager, from [`Client::images`]. Scoped to the client's project.
///
/// ```no_run
/// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
/// let images = client.images();
/// for image in images.list().await? {
///     println!("{} {} bytes {:?}", &image.fingerprint[..12], image.size, image.aliases);
/// }
/// let busybox = images.get_by_alias("busybox").await?;
/// println!("{}", busybox.architecture);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Images {
    pub(crate) client: Client,
}

impl Client {
    /// The images manager.
    ///
    /// It manages `/1.0/images` in the client's project.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let images = client.images();
    /// let old = images.get_by_alias("app/previous").await?;
    /// images.delete(&old.fingerprint).await?.wait().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/images_get)
    pub fn images(&self) -> Images {
        Images {
            client: self.clone(),
        }
    }
}

/// Checks a fingerprint or fingerprint prefix: 1 to 64 hex digits.
pub(crate) fn validate_fingerprint(fingerprint: &str) -> Result<()> {
    if fingerprint.is_empty()
        || fingerprint.len() > 64
        || !fingerprint.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return Err(Error::invalid(
            "image fingerprint",
            format!("{fingerprint:?}: expected 1 to 64 hex digits (a SHA-256 or a prefix of one)"),
        ));
    }
    Ok(())
}

pub(crate) fn image_path(fingerprint: &str) -> Result<String> {
    validate_fingerprint(fingerprint)?;
    Ok(format!("/1.0/images/{}", fingerprint.to_ascii_lowercase()))
}

/// Checks an alias name: not empty, not `.` or `..`, no control characters. A `/` is allowed
/// (`ubuntu/22.04`: LXD accepts it, and the path segment carries it as `%2F`).
pub(crate) fn validate_alias_name(name: &str) -> Result<()> {
    if name.is_empty() || name == "." || name == ".." || name.chars().any(char::is_control) {
        return Err(Error::invalid(
            "image alias",
            format!("{name:?}: must be non-empty, not '.' or '..', without control characters"),
        ));
    }
    Ok(())
}

pub(crate) fn alias_path(name: &str) -> Result<String> {
    validate_alias_name(name)?;
    Ok(format!("/1.0/images/aliases/{}", segment(name)))
}

impl Images {
    /// The fingerprints of the images.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// println!("{:?}", client.images().list_fingerprints().await?);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/images_get)
    pub async fn list_fingerprints(&self) -> Result<Vec<String>> {
        let urls: Vec<String> = self.client.get_json("/1.0/images", &[]).await?;
        urls.iter().map(|u| name_from_url(u)).collect()
    }

    /// Every image, in one request.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// for image in client.images().list().await? {
    ///     println!("{} {:?}", image.fingerprint, image.properties.get("description"));
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/images_get_recursion1)
    pub async fn list(&self) -> Result<Vec<Image>> {
        self.client
            .get_json("/1.0/images", &[("recursion", "1")])
            .await
    }

    /// One image, by its fingerprint or a prefix of it that matches one image only (LXD
    /// resolves the prefix; an ambiguous one is its error).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let image = client.images().get("ce056e95").await?;
    /// println!("{}", image.fingerprint); // all 64 digits
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/image_get)
    pub async fn get(&self, fingerprint: &str) -> Result<Image> {
        self.client.get_json(&image_path(fingerprint)?, &[]).await
    }

    /// One image with its ETag, for [`update`](Self::update).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let images = client.images();
    /// let image = images.get_with_etag("ce056e95").await?;
    /// let mut put = image.writable();
    /// put.public = true;
    /// images.update(&image.fingerprint, &put, image.etag.as_ref()).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/image_get)
    pub async fn get_with_etag(&self, fingerprint: &str) -> Result<Versioned<Image>> {
        self.client
            .get_versioned(&image_path(fingerprint)?, &[])
            .await
    }

    /// The image an alias points at.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let image = client.images().get_by_alias("busybox").await?;
    /// println!("{}", image.fingerprint);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/image_alias_get)
    pub async fn get_by_alias(&self, alias: &str) -> Result<Image> {
        let entry = self.aliases().get(alias).await?;
        self.get(&entry.target).await
    }

    /// Whether an image with this fingerprint (or unique prefix), or an alias with this name,
    /// exists.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// assert!(client.images().exists("busybox").await?);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/image_get)
    pub async fn exists(&self, fingerprint_or_alias: &str) -> Result<bool> {
        if validate_fingerprint(fingerprint_or_alias).is_ok() {
            match self.get(fingerprint_or_alias).await {
                Ok(_) => return Ok(true),
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        validate_alias_name(fingerprint_or_alias)?;
        crate::error::found(self.aliases().get(fingerprint_or_alias).await)
    }

    /// The image as an [`ImageObject`] to edit and [`save`](ImageObject::save).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let mut image = client.images().object("ce056e95").await?;
    /// image.public = true;
    /// image.save().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/image_get)
    pub async fn object(&self, fingerprint: &str) -> Result<ImageObject> {
        let versioned = self.get_with_etag(fingerprint).await?;
        Ok(ImageObject {
            images: self.clone(),
            etag: versioned.etag,
            image: versioned.value,
        })
    }

    /// Starts making an image from a JSON source: a URL, a simplestreams server, another LXD
    /// server ([`ImagesPostSource`](lxd_proto::ImagesPostSource)'s constructors), or an
    /// instance (see also [`Instances::publish`](crate::Instances::publish)). `request.source`
    /// must be set; its aliases are created by LXD (API extension `image_create_aliases`).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::{ImageAlias, ImagesPost, ImagesPostSource};
    /// let request = ImagesPost {
    ///     source: Some(ImagesPostSource::simplestreams("https://images.example", "alpine/edge")),
    ///     aliases: vec![ImageAlias::new("alpine")],
    ///     auto_update: true,
    ///     ..Default::default()
    /// };
    /// client.images().create(&request).await?.wait().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/images_post)
    pub async fn create(&self, request: &ImagesPost) -> Result<Operation> {
        let Some(source) = &request.source else {
            return Err(Error::invalid("image source", "`source` must be set"));
        };
        if source.source_type.is_empty() {
            return Err(Error::invalid("image source", "`source.type` must be set"));
        }
        for alias in &request.aliases {
            validate_alias_name(&alias.name)?;
        }
        if !request.aliases.is_empty() {
            self.client
                .require_api_extension("image_create_aliases")
                .await?;
        }
        self.client
            .send_operation(Method::POST, "/1.0/images", &[], Some(request))
            .await
    }

    /// [`create`](Self::create), waited, returning the new image.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::{ImagesPost, ImagesPostSource};
    /// let request = ImagesPost {
    ///     source: Some(ImagesPostSource::url("https://images.example/busybox")),
    ///     ..Default::default()
    /// };
    /// let image = client.images().create_and_wait(&request).await?;
    /// println!("{}", image.fingerprint);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/images_post)
    pub async fn create_and_wait(&self, request: &ImagesPost) -> Result<Image> {
        let op = self.create(request).await?;
        crate::instance_publish::image_of(&self.client, op).await
    }

    /// Replaces the writable fields (`public`, `auto_update`, `properties`, `expires_at`,
    /// `profiles`), optionally only if unchanged since `etag`.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let images = client.images();
    /// let mut put = images.get("ce056e95").await?.writable();
    /// put.properties.insert("release".into(), "edge".into());
    /// images.update("ce056e95", &put, None).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/image_put)
    pub async fn update(
        &self,
        fingerprint: &str,
        put: &ImagePut,
        etag: Option<&ETag>,
    ) -> Result<()> {
        self.client
            .write_if_match(Method::PUT, &image_path(fingerprint)?, &[], put, etag)
            .await
    }

    /// Starts deleting an image (its aliases go with it).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// client.images().delete("ce056e95").await?.wait().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/image_delete)
    pub async fn delete(&self, fingerprint: &str) -> Result<Operation> {
        self.client
            .send_operation::<()>(Method::DELETE, &image_path(fingerprint)?, &[], None)
            .await
    }

    /// Deletes an image and waits until it is gone.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// client.images().delete_and_wait("ce056e95").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/image_delete)
    pub async fn delete_and_wait(&self, fingerprint: &str) -> Result<()> {
        self.delete(fingerprint).await?.wait().await?;
        Ok(())
    }
}

/// One image as a value you edit and save, with its ETag. From [`Images::object`].
///
/// It dereferences to the [`Image`]; only its writable part (`public`, `auto_update`,
/// `properties`, `expires_at`, `profiles`, unknown fields) is sent by [`save`](Self::save),
/// with `If-Match`, so a change made by someone else since it was read is refused
/// (`is_precondition_failed()`) rather than overwritten.
///
/// ```no_run
/// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
/// let mut image = client.images().object("ce056e95").await?;
/// image.properties.insert("release".into(), "edge".into());
/// image.save().await?;
/// image.add_alias("edge", "the edge build").await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ImageObject {
    images: Images,
    etag: Option<ETag>,
    image: Image,
}

impl Deref for ImageObject {
    type Target = Image;

    fn deref(&self) -> &Image {
        &self.image
    }
}

impl DerefMut for ImageObject {
    fn deref_mut(&mut self) -> &mut Image {
        &mut self.image
    }
}

impl ImageObject {
    /// The ETag it was last read with.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = lxd_testkit::TestServer::start().await?;
    /// # let client = lxd_client::Client::unix(server.socket_path())?;
    /// let fingerprint = client.images().get_by_alias("busybox").await?.fingerprint;
    /// let image = client.images().object(&fingerprint).await?;
    /// let etag = image.etag().expect("LXD sends an image's ETag");
    /// println!("If-Match: {}", etag.as_str()); // what save() sends
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/image_get)
    pub fn etag(&self) -> Option<&ETag> {
        self.etag.as_ref()
    }

    /// The image, without the handle.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = lxd_testkit::TestServer::start().await?;
    /// # let client = lxd_client::Client::unix(server.socket_path())?;
    /// let fingerprint = client.images().get_by_alias("busybox").await?.fingerprint;
    /// let image = client.images().object(&fingerprint).await?;
    /// let plain: lxd_client::proto::Image = image.into_inner();
    /// assert_eq!(plain.fingerprint, fingerprint);
    /// # Ok(()) }
    /// ```
    pub fn into_inner(self) -> Image {
        self.image
    }

    /// Re-reads the image (and its ETag), dropping unsaved changes.
    ///
    /// ```no_run
    /// # async fn demo(mut image: lxd_client::ImageObject) -> Result<(), lxd_client::Error> {
    /// image.refresh().await?;
    /// println!("{:?}", image.last_used_at);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/image_get)
    pub async fn refresh(&mut self) -> Result<()> {
        let fingerprint = self.image.fingerprint.clone();
        let versioned = self.images.get_with_etag(&fingerprint).await?;
        self.etag = versioned.etag;
        self.image = versioned.value;
        Ok(())
    }

    /// Sends the writable part with `If-Match`, then re-reads the image.
    ///
    /// ```no_run
    /// # async fn demo(mut image: lxd_client::ImageObject) -> Result<(), lxd_client::Error> {
    /// image.public = true;
    /// image.save().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/image_put)
    pub async fn save(&mut self) -> Result<()> {
        let put = self.image.writable();
        self.images
            .update(&self.image.fingerprint, &put, self.etag.as_ref())
            .await?;
        self.refresh().await
    }

    /// Adds an alias pointing at this image, then re-reads the image.
    ///
    /// ```no_run
    /// # async fn demo(mut image: lxd_client::ImageObject) -> Result<(), lxd_client::Error> {
    /// image.add_alias("stable", "").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/images_aliases_post)
    pub async fn add_alias(&mut self, name: &str, description: &str) -> Result<()> {
        self.images
            .aliases()
            .create(name, &self.image.fingerprint, description)
            .await?;
        self.refresh().await
    }

    /// Deletes one of this image's aliases, then re-reads the image. An alias pointing at
    /// another image is refused before any request.
    ///
    /// ```no_run
    /// # async fn demo(mut image: lxd_client::ImageObject) -> Result<(), lxd_client::Error> {
    /// image.remove_alias("stable").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/image_alias_delete)
    pub async fn remove_alias(&mut self, name: &str) -> Result<()> {
        if !self.image.aliases.iter().any(|a| a.name == name) {
            return Err(Error::invalid(
                "image alias",
                format!(
                    "{name:?} is not an alias of image {}",
                    self.image.fingerprint
                ),
            ));
        }
        self.images.aliases().delete(name).await?;
        self.refresh().await
    }

    /// Deletes the image and waits until it is gone.
    ///
    /// ```no_run
    /// # async fn demo(image: lxd_client::ImageObject) -> Result<(), lxd_client::Error> {
    /// image.delete().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/image_delete)
    pub async fn delete(self) -> Result<()> {
        self.images.delete_and_wait(&self.image.fingerprint).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_and_aliases_are_checked() {
        assert!(validate_fingerprint("ce056e").is_ok());
        assert!(validate_fingerprint(&"a".repeat(64)).is_ok());
        for bad in ["", "xyz", "../a", &"a".repeat(65)] {
            assert!(
                validate_fingerprint(bad).unwrap_err().is_invalid_input(),
                "{bad}"
            );
        }
        assert_eq!(image_path("ABC").unwrap(), "/1.0/images/abc");
        assert!(validate_alias_name("web-1.0").is_ok());
        for bad in ["", ".", "..", "a\nb"] {
            assert!(
                validate_alias_name(bad).unwrap_err().is_invalid_input(),
                "{bad:?}"
            );
        }
        assert_eq!(alias_path("a b").unwrap(), "/1.0/images/aliases/a%20b");
        // A '/' stays inside the one segment.
        assert_eq!(
            alias_path("ubuntu/22.04").unwrap(),
            "/1.0/images/aliases/ubuntu%2F22.04"
        );
    }
}
