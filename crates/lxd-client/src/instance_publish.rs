//! Publishing an instance or a snapshot as an image (`POST /1.0/images` with a source of type
//! `instance` or `snapshot`).

use lxd_proto::{Image, ImagesPost, ImagesPostSource, Value};
use lxd_transport::http::Method;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::instances::{Instances, instance_path};
use crate::operation::Operation;
use crate::path::segment;

/// Starts publishing `source` with the rest of `request` (properties, aliases, public,
/// expiry, compression). `request.source` must be unset: this call sets it.
pub(crate) async fn publish(
    client: &Client,
    source: ImagesPostSource,
    request: &ImagesPost,
) -> Result<Operation> {
    if request.source.is_some() {
        return Err(Error::invalid(
            "publish request",
            "leave `source` unset: publishing sets it to the instance or snapshot",
        ));
    }
    for alias in &request.aliases {
        if alias.name.is_empty() || alias.name.contains('/') {
            return Err(Error::invalid(
                "image alias",
                format!("{:?}: empty or contains '/'", alias.name),
            ));
        }
    }
    // Older servers would ignore these and make an image without them.
    if !request.aliases.is_empty() {
        client.require_api_extension("image_create_aliases").await?;
    }
    if !request.compression_algorithm.is_empty() {
        client
            .require_api_extension("image_compression_algorithm")
            .await?;
    }
    let body = ImagesPost {
        source: Some(source),
        ..request.clone()
    };
    client
        .send_operation(Method::POST, "/1.0/images", &[], Some(&body))
        .await
}

/// Waits for a publish operation and fetches the image it made.
pub(crate) async fn image_of(client: &Client, op: Operation) -> Result<Image> {
    let done = op.wait().await?;
    let fingerprint = done
        .metadata_object()
        .and_then(|m| m.get("fingerprint"))
        .and_then(Value::as_str)
        .filter(|f| !f.is_empty())
        .ok_or_else(|| {
            let text = done.metadata.clone().unwrap_or_default().to_string();
            Error::malformed(
                format!("operation {} ({})", done.id, done.description),
                "no image fingerprint in the finished operation's metadata",
                text.as_bytes(),
            )
        })?;
    client
        .get_json(&format!("/1.0/images/{}", segment(fingerprint)), &[])
        .await
}

impl Instances {
    /// Starts publishing an instance as an image. Containers must be stopped (LXD: "Cannot
    /// export a running instance as an image"); publish a snapshot to image a running one.
    /// `request` carries the image's properties, aliases, `public`, expiry and compression;
    /// leave its `source` unset.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::{ImageAlias, ImagesPost};
    /// let request = ImagesPost {
    ///     aliases: vec![ImageAlias::new("web-golden")],
    ///     properties: [("os".to_string(), "busybox".to_string())].into(),
    ///     public: true,
    ///     ..Default::default()
    /// };
    /// let op = client.instances().publish("web", &request).await?;
    /// op.wait().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/images_post)
    pub async fn publish(&self, name: &str, request: &ImagesPost) -> Result<Operation> {
        instance_path(name)?;
        publish(&self.client, ImagesPostSource::instance(name), request).await
    }

    /// Publishes an instance as an image, waits, and returns the new image.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let image = client.instances().publish_and_wait("web", &Default::default()).await?;
    /// println!("{} ({} bytes)", image.fingerprint, image.size);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/images_post)
    pub async fn publish_and_wait(&self, name: &str, request: &ImagesPost) -> Result<Image> {
        let op = self.publish(name, request).await?;
        image_of(&self.client, op).await
    }
}
