//! Image aliases (`/1.0/images/aliases`): names pointing at image fingerprints.

use lxd_proto::{ImageAliasesEntry, ImageAliasesEntryPost, ImageAliasesEntryPut, ImageAliasesPost};
use lxd_transport::http::Method;

use crate::client::Client;
use crate::error::Result;
use crate::etag::{ETag, Versioned};
use crate::images::{Images, alias_path, validate_alias_name, validate_fingerprint};

/// The image aliases manager, from [`Images::aliases`].
///
/// ```no_run
/// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
/// let aliases = client.images().aliases();
/// let image = client.images().get_by_alias("busybox").await?;
/// aliases.create("bb", &image.fingerprint, "short name").await?;
/// aliases.rename("bb", "bb2").await?;
/// aliases.delete("bb2").await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ImageAliases {
    client: Client,
}

impl Images {
    /// The image aliases manager.
    ///
    /// It manages `/1.0/images/aliases`.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let aliases = client.images().aliases();
    /// let entry = aliases.get("busybox").await?;
    /// println!("busybox -> {}", entry.target);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/images_aliases_get)
    pub fn aliases(&self) -> ImageAliases {
        ImageAliases {
            client: self.client.clone(),
        }
    }
}

impl ImageAliases {
    /// Every alias, in one request.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// for a in client.images().aliases().list().await? {
    ///     println!("{} -> {}", a.name, a.target);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/images_aliases_get_recursion1)
    pub async fn list(&self) -> Result<Vec<ImageAliasesEntry>> {
        self.client
            .get_json("/1.0/images/aliases", &[("recursion", "1")])
            .await
    }

    /// One alias.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// println!("{}", client.images().aliases().get("busybox").await?.target);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/image_alias_get)
    pub async fn get(&self, name: &str) -> Result<ImageAliasesEntry> {
        self.client.get_json(&alias_path(name)?, &[]).await
    }

    /// One alias with its ETag, for [`update`](Self::update).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let aliases = client.images().aliases();
    /// let alias = aliases.get_with_etag("bb").await?;
    /// let mut put = alias.writable();
    /// put.description = "renamed build".into();
    /// aliases.update("bb", &put, alias.etag.as_ref()).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/image_alias_get)
    pub async fn get_with_etag(&self, name: &str) -> Result<Versioned<ImageAliasesEntry>> {
        self.client.get_versioned(&alias_path(name)?, &[]).await
    }

    /// Whether the alias exists.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// println!("{}", client.images().aliases().exists("bb").await?);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/image_alias_get)
    pub async fn exists(&self, name: &str) -> Result<bool> {
        crate::error::found(self.get(name).await)
    }

    /// Creates an alias for the image with this (full) fingerprint; an existing name is
    /// LXD's conflict error.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let fp = client.images().get("ce056e95").await?.fingerprint;
    /// client.images().aliases().create("bb", &fp, "").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/images_aliases_post)
    pub async fn create(&self, name: &str, target: &str, description: &str) -> Result<()> {
        validate_alias_name(name)?;
        validate_fingerprint(target)?;
        let body = ImageAliasesPost {
            name: name.to_string(),
            target: target.to_ascii_lowercase(),
            description: description.to_string(),
            ..Default::default()
        };
        self.client
            .write(Method::POST, "/1.0/images/aliases", &[], Some(&body))
            .await
    }

    /// Points an alias at another image and/or changes its description (`PUT`), optionally
    /// only if unchanged since `etag`.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let aliases = client.images().aliases();
    /// let mut put = aliases.get("bb").await?.writable();
    /// put.target = client.images().get("a1b2c3").await?.fingerprint;
    /// aliases.update("bb", &put, None).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/image_alias_put)
    pub async fn update(
        &self,
        name: &str,
        put: &ImageAliasesEntryPut,
        etag: Option<&ETag>,
    ) -> Result<()> {
        validate_fingerprint(&put.target)?;
        self.client
            .write_if_match(Method::PUT, &alias_path(name)?, &[], put, etag)
            .await
    }

    /// Renames an alias.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// client.images().aliases().rename("bb", "bb-old").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/image_alias_post)
    pub async fn rename(&self, name: &str, new_name: &str) -> Result<()> {
        let path = alias_path(name)?;
        validate_alias_name(new_name)?;
        let body = ImageAliasesEntryPost {
            name: new_name.to_string(),
            ..Default::default()
        };
        self.client
            .write(Method::POST, &path, &[], Some(&body))
            .await
    }

    /// Deletes an alias (the image stays).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// client.images().aliases().delete("bb-old").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/image_alias_delete)
    pub async fn delete(&self, name: &str) -> Result<()> {
        self.client
            .write::<()>(Method::DELETE, &alias_path(name)?, &[], None)
            .await
    }
}
