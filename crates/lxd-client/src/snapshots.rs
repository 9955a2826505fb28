//! Snapshots of one instance: `/1.0/instances/<name>/snapshots`.

use lxd_proto::{
    Image, ImagesPost, ImagesPostSource, InstanceSnapshot, InstanceSnapshotPost,
    InstanceSnapshotPut, InstanceSnapshotsPost,
};
use lxd_transport::http::Method;
use serde::Serialize;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::etag::{ETag, Versioned};
use crate::instance_publish::{image_of, publish};
use crate::instances::{Instances, instance_path};
use crate::operation::Operation;
use crate::path::{name_from_url, segment, validate_instance_name};

/// The snapshots of one instance, from [`Instances::snapshots`] or
/// [`InstanceObject::snapshots`](crate::InstanceObject::snapshots).
///
/// ```no_run
/// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
/// use lxd_client::proto::InstanceSnapshotsPost;
/// let snapshots = client.instances().snapshots("web");
/// let request = InstanceSnapshotsPost { name: "before-upgrade".into(), ..Default::default() };
/// snapshots.create(&request).await?.wait().await?;
/// for snapshot in snapshots.list().await? {
///     println!("{} taken {}", snapshot.name, snapshot.created_at);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct InstanceSnapshots {
    client: Client,
    instance: String,
}

impl Instances {
    /// The snapshots of `instance` (the name is checked by each call).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let snapshots = client.instances().snapshots("web");
    /// if snapshots.list_names().await?.iter().any(|n| n == "before-upgrade") {
    ///     snapshots.delete("before-upgrade").await?.wait().await?;
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_snapshots_get)
    pub fn snapshots(&self, instance: &str) -> InstanceSnapshots {
        InstanceSnapshots {
            client: self.client.clone(),
            instance: instance.to_string(),
        }
    }
}

/// Checks a snapshot name as LXD does: not empty, no '/' or space (and no control
/// characters, which could not be sent).
///
/// ```
/// assert!(lxd_client::validate_snapshot_name("before-upgrade_2").is_ok());
/// assert!(lxd_client::validate_snapshot_name("a/b").is_err());
/// assert!(lxd_client::validate_snapshot_name("a b").is_err());
/// ```
pub fn validate_snapshot_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::invalid("snapshot name", "empty"));
    }
    if name == "." || name == ".." {
        return Err(Error::invalid(
            "snapshot name",
            format!("{name:?}: reserved"),
        ));
    }
    if name.contains(['/', ' ']) || name.chars().any(char::is_control) {
        return Err(Error::invalid(
            "snapshot name",
            format!("{name:?}: must not contain '/', spaces or control characters"),
        ));
    }
    Ok(())
}

impl InstanceSnapshots {
    /// The instance whose snapshots these are.
    ///
    /// ```
    /// # fn main() -> Result<(), lxd_client::Error> {
    /// # let client = lxd_client::Client::https("https://lxd.example:8443").build()?;
    /// let snapshots = client.instances().snapshots("web");
    /// assert_eq!(snapshots.instance(), "web");
    /// # Ok(()) }
    /// ```
    pub fn instance(&self) -> &str {
        &self.instance
    }

    fn collection(&self) -> Result<String> {
        Ok(format!("{}/snapshots", instance_path(&self.instance)?))
    }

    fn path(&self, snapshot: &str) -> Result<String> {
        validate_snapshot_name(snapshot)?;
        Ok(format!("{}/{}", self.collection()?, segment(snapshot)))
    }

    /// The snapshots' names.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let names = client.instances().snapshots("web").list_names().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_snapshots_get)
    pub async fn list_names(&self) -> Result<Vec<String>> {
        let urls: Vec<String> = self.client.get_json(&self.collection()?, &[]).await?;
        urls.iter().map(|u| name_from_url(u)).collect()
    }

    /// Every snapshot, in one request (`recursion=1`).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// for s in client.instances().snapshots("web").list().await? {
    ///     println!("{} {}", s.name, s.created_at);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_snapshots_get_recursion1)
    pub async fn list(&self) -> Result<Vec<InstanceSnapshot>> {
        self.client
            .get_json(&self.collection()?, &[("recursion", "1")])
            .await
    }

    /// One snapshot.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let snapshot = client.instances().snapshots("web").get("before-upgrade").await?;
    /// println!("expires: {}", snapshot.expires_at);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_snapshot_get)
    pub async fn get(&self, snapshot: &str) -> Result<InstanceSnapshot> {
        self.client.get_json(&self.path(snapshot)?, &[]).await
    }

    /// One snapshot with its ETag, for an [`update`](Self::update) that must not overwrite a
    /// concurrent change.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let versioned = client.instances().snapshots("web").get_with_etag("snap0").await?;
    /// println!("{:?}", versioned.etag);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_snapshot_get)
    pub async fn get_with_etag(&self, snapshot: &str) -> Result<Versioned<InstanceSnapshot>> {
        self.client.get_versioned(&self.path(snapshot)?, &[]).await
    }

    /// Whether the snapshot exists.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// if !client.instances().snapshots("web").exists("before-upgrade").await? {
    ///     println!("no snapshot yet");
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_snapshot_get)
    pub async fn exists(&self, snapshot: &str) -> Result<bool> {
        crate::error::found(self.get(snapshot).await)
    }

    /// Takes a snapshot (name, stateful, expiry; an empty name lets LXD pick `snapN`).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::InstanceSnapshotsPost;
    /// let request = InstanceSnapshotsPost {
    ///     name: "nightly".into(),
    ///     expires_at: Some("2030-01-01T00:00:00Z".into()),
    ///     ..Default::default()
    /// };
    /// client.instances().snapshots("web").create(&request).await?.wait().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_snapshots_post)
    pub async fn create(&self, request: &InstanceSnapshotsPost) -> Result<Operation> {
        if !request.name.is_empty() {
            validate_snapshot_name(&request.name)?;
        }
        // Older servers would ignore the expiry and keep the snapshot forever.
        if request.expires_at.is_some() {
            self.client
                .require_api_extension("snapshot_expiry_creation")
                .await?;
        }
        self.client
            .send_operation(Method::POST, &self.collection()?, &[], Some(request))
            .await
    }

    /// Takes a named snapshot, waits, and returns it. The name is required here: LXD does
    /// not say which name it picked for an unnamed one (use [`create`](Self::create)).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::InstanceSnapshotsPost;
    /// let request = InstanceSnapshotsPost { name: "before-upgrade".into(), ..Default::default() };
    /// let snapshot = client.instances().snapshots("web").create_and_wait(&request).await?;
    /// println!("took {} at {}", snapshot.name, snapshot.created_at);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_snapshots_post)
    pub async fn create_and_wait(
        &self,
        request: &InstanceSnapshotsPost,
    ) -> Result<InstanceSnapshot> {
        // Checked before sending: the operation's resources name only the instance.
        validate_snapshot_name(&request.name)?;
        self.create(request).await?.wait().await?;
        self.get(&request.name).await
    }

    /// Renames a snapshot.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// client.instances().snapshots("web").rename("nightly", "kept").await?.wait().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_snapshot_post)
    pub async fn rename(&self, snapshot: &str, new_name: &str) -> Result<Operation> {
        let path = self.path(snapshot)?;
        validate_snapshot_name(new_name)?;
        let request = InstanceSnapshotPost {
            name: new_name.to_string(),
            ..Default::default()
        };
        self.client
            .send_operation(Method::POST, &path, &[], Some(&request))
            .await
    }

    /// Restores the instance to this snapshot (`stateful`: also restore the running state
    /// of a stateful snapshot).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// client.instances().snapshots("web").restore("kept", false).await?.wait().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_put)
    pub async fn restore(&self, snapshot: &str, stateful: bool) -> Result<Operation> {
        validate_snapshot_name(snapshot)?;
        #[derive(Serialize)]
        struct Restore<'a> {
            restore: &'a str,
            stateful: bool,
        }
        let path = instance_path(&self.instance)?;
        self.client
            .send_operation(
                Method::PUT,
                &path,
                &[],
                Some(&Restore {
                    restore: snapshot,
                    stateful,
                }),
            )
            .await
    }

    /// Changes a snapshot's writable part: its expiry (`PUT`; [`ZERO_TIME`](lxd_proto::ZERO_TIME) for never, an
    /// empty `expires_at` leaves it unchanged). With `etag` (from [`get_with_etag`](Self::get_with_etag)) LXD refuses the
    /// change if the snapshot changed since (`is_precondition_failed()`).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let snapshots = client.instances().snapshots("web");
    /// let kept = snapshots.get_with_etag("kept").await?;
    /// let mut put = kept.writable();
    /// put.expires_at = "2031-01-01T00:00:00Z".into();
    /// snapshots.update("kept", &put, kept.etag.as_ref()).await?.wait().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_snapshot_put)
    pub async fn update(
        &self,
        snapshot: &str,
        put: &InstanceSnapshotPut,
        etag: Option<&ETag>,
    ) -> Result<Operation> {
        let path = self.path(snapshot)?;
        let reply = self
            .client
            .send_if_match(Method::PUT, &path, &[], put, etag)
            .await?;
        Operation::from_reply(self.client.clone(), &format!("PUT {path}"), reply.envelope)
    }

    /// Starts publishing the snapshot as an image (works while the instance runs); see
    /// [`Instances::publish`] for `request`.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::ImagesPost;
    /// let snapshots = client.instances().snapshots("web");
    /// snapshots.publish("snap0", &ImagesPost::default()).await?.wait().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/images_post)
    pub async fn publish(&self, snapshot: &str, request: &ImagesPost) -> Result<Operation> {
        self.path(snapshot)?;
        validate_instance_name(&self.instance)?;
        publish(
            &self.client,
            ImagesPostSource::snapshot(&self.instance, snapshot),
            request,
        )
        .await
    }

    /// Publishes the snapshot as an image, waits, and returns the image.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let image = client
    ///     .instances()
    ///     .snapshots("web")
    ///     .publish_and_wait("kept", &Default::default())
    ///     .await?;
    /// println!("{}", image.fingerprint);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/images_post)
    pub async fn publish_and_wait(&self, snapshot: &str, request: &ImagesPost) -> Result<Image> {
        let op = self.publish(snapshot, request).await?;
        image_of(&self.client, op).await
    }

    /// Deletes a snapshot.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// client.instances().snapshots("web").delete("kept").await?.wait().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_snapshot_delete)
    pub async fn delete(&self, snapshot: &str) -> Result<Operation> {
        self.client
            .send_operation::<()>(Method::DELETE, &self.path(snapshot)?, &[], None)
            .await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn snapshot_names_and_paths() {
        let client = crate::instances::offline_client();
        let snapshots = client.instances().snapshots("c1");
        assert_eq!(
            snapshots.path("snap-0_a.b").unwrap(),
            "/1.0/instances/c1/snapshots/snap-0_a.b"
        );
        assert_eq!(
            snapshots.path("ü").unwrap(),
            "/1.0/instances/c1/snapshots/%C3%BC"
        );
        for bad in ["", "a/b", "a b", ".", "..", "a\nb"] {
            assert!(
                snapshots.path(bad).unwrap_err().is_invalid_input(),
                "{bad:?}"
            );
        }
        let bad_instance = client.instances().snapshots("1c");
        assert!(bad_instance.path("s").unwrap_err().is_invalid_input());
    }
}
