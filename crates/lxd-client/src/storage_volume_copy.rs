//! Copying custom storage volumes: within one server (or cluster), and between servers by
//! migration in whichever mode the pair allows (see [`MigrationMode`]).

use lxd_proto::{
    StorageVolume, StorageVolumePost, StorageVolumePostTarget, StorageVolumeSource,
    StorageVolumeType, StorageVolumesPost,
};
use lxd_transport::http::Method;

use crate::client::Client;
use crate::error::Result;
use crate::migration::{Handoff, MigrationMode, Peer, transfer};
use crate::operation::Operation;
use crate::path::validate_storage_volume_name;
use crate::storage_volumes::StorageVolumes;

/// A copy of one custom volume into this manager's pool; built by
/// [`StorageVolumes::copy_from`], run by [`VolumeCopy::run`].
///
/// ```no_run
/// # async fn demo(source: lxd_client::Client, target: lxd_client::Client) -> Result<(), lxd_client::Error> {
/// use lxd_client::MigrationMode;
/// let copy = target
///     .storage_pools()
///     .volumes("default")
///     .copy_from(&source, "default", "data")
///     .name("data-copy")
///     .mode(MigrationMode::Push)
///     .run()
///     .await?;
/// println!("{} on {}", copy.name, copy.location);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "nothing happens until run() is awaited"]
pub struct VolumeCopy {
    target: StorageVolumes,
    source: Client,
    source_pool: String,
    source_name: String,
    name: Option<String>,
    mode: MigrationMode,
    volume_only: bool,
}

impl StorageVolumes {
    /// Copies the custom volume `name` of pool `source_pool` on the server (and project) of
    /// `source` into this pool; `source` may be the same client. Nothing is sent until
    /// [`run`](VolumeCopy::run).
    ///
    /// ```no_run
    /// # async fn demo(source: lxd_client::Client, target: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let copy = target.storage_pools().volumes("default").copy_from(&source, "default", "data").run().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/storage/storage_pool_volumes_type_post)
    pub fn copy_from(&self, source: &Client, source_pool: &str, name: &str) -> VolumeCopy {
        VolumeCopy {
            target: self.clone(),
            source: source.clone(),
            source_pool: source_pool.to_string(),
            source_name: name.to_string(),
            name: None,
            mode: MigrationMode::Auto,
            volume_only: false,
        }
    }
}

impl VolumeCopy {
    /// The name of the copy (default: the source's name).
    ///
    /// Sets `name` of the volume-creation request.
    ///
    /// ```no_run
    /// # async fn demo(source: lxd_client::Client, target: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let volumes = target.storage_pools().volumes("default");
    /// let copy = volumes.copy_from(&source, "default", "data").name("data-backup").run().await?;
    /// assert_eq!(copy.name, "data-backup");
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/storage/storage_pool_volumes_type_post)
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// How the data travels between two servers (default [`MigrationMode::Auto`]).
    ///
    /// Sets `source.mode` (`pull` or `push`) of the target's volume-creation request; with
    /// [`MigrationMode::Relay`] this client carries the migration websockets.
    ///
    /// ```no_run
    /// # async fn demo(source: lxd_client::Client, target: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::MigrationMode;
    /// let volumes = target.storage_pools().volumes("default");
    /// // The source cannot be reached from the target: it pushes instead.
    /// let copy = volumes.copy_from(&source, "default", "data").mode(MigrationMode::Push).run().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/storage/storage_pool_volumes_type_post)
    pub fn mode(mut self, mode: MigrationMode) -> Self {
        self.mode = mode;
        self
    }

    /// Leave the volume's snapshots behind.
    ///
    /// Sets `source.volume_only` of the volume-creation request (and `volume_only` of the source's
    /// migration request).
    ///
    /// ```no_run
    /// # async fn demo(source: lxd_client::Client, target: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::StorageVolumeType;
    /// let volumes = target.storage_pools().volumes("default");
    /// volumes.copy_from(&source, "default", "data").volume_only(true).run().await?;
    /// assert!(volumes.snapshots(StorageVolumeType::Custom, "data").list_names().await?.is_empty());
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/storage/storage_pool_volumes_type_post)
    pub fn volume_only(mut self, volume_only: bool) -> Self {
        self.volume_only = volume_only;
        self
    }

    /// Runs the copy and returns the new volume. Errors: bad names before any request; a
    /// server that does not trust the client; LXD's failure of either side, with its
    /// message.
    ///
    /// ```no_run
    /// # async fn demo(source: lxd_client::Client, target: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let volumes = target.storage_pools().volumes("default");
    /// let copy = volumes.copy_from(&source, "default", "data").volume_only(true).run().await?;
    /// println!("{:?}", copy.config);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/storage/storage_pool_volumes_type_post)
    pub async fn run(self) -> Result<StorageVolume> {
        let custom = StorageVolumeType::Custom;
        let name = self
            .name
            .clone()
            .unwrap_or_else(|| self.source_name.clone());
        validate_storage_volume_name(&name)?;
        let sources = self.source.storage_pools().volumes(&self.source_pool);
        let source_path = sources.item_path(&custom, &self.source_name)?;
        let target_path = self.target.typed_path(&custom)?;
        let volume = sources.get(custom.clone(), &self.source_name).await?;
        let source_peer = Peer::of(&self.source, "source").await?;
        let target_peer = Peer::of(&self.target.client, "target").await?;
        let mut request = StorageVolumesPost {
            name: name.clone(),
            volume_type: custom.clone(),
            description: volume.description.clone(),
            config: volume.config.clone(),
            content_type: Some(volume.content_type.clone()),
            ..Default::default()
        };
        let mut source = StorageVolumeSource {
            name: self.source_name.clone(),
            volume_only: self.volume_only,
            ..Default::default()
        };
        let target = &self.target.client;
        if source_peer.same_as(&target_peer) {
            source.source_type = "copy".into();
            source.pool = self.source_pool.clone();
            if self.source.project() != target.project() {
                source.project = self.source.project().unwrap_or("default").to_string();
            }
            request.source = Some(source);
            self.create(&target_path, &request).await?.wait().await?;
            return self.target.get(custom, &name).await;
        }
        let source_request = StorageVolumePost {
            name: self.source_name.clone(),
            migration: true,
            volume_only: self.volume_only,
            ..Default::default()
        };
        source.source_type = "migration".into();
        transfer(
            self.mode,
            (&self.source, &source_peer),
            (target, &target_peer),
            |handoff: Option<Handoff>| {
                let mut body = source_request.clone();
                body.target = handoff.map(|h| StorageVolumePostTarget {
                    certificate: h.certificate,
                    operation: h.operation,
                    secrets: h.secrets,
                    ..Default::default()
                });
                let (client, path) = (self.source.clone(), source_path.clone());
                async move { migrate(&client, &path, &body).await }
            },
            |mode, handoff: Option<Handoff>| {
                let mut request = request.clone();
                let mut source = source.clone();
                source.mode = mode.into();
                if let Some(h) = handoff {
                    source.operation = h.operation;
                    source.certificate = h.certificate;
                    source.secrets = h.secrets;
                }
                request.source = Some(source);
                let path = target_path.clone();
                let this = &self;
                async move { this.create(&path, &request).await }
            },
        )
        .await?;
        self.target.get(custom, &name).await
    }

    async fn create(&self, path: &str, request: &StorageVolumesPost) -> Result<Operation> {
        self.target
            .client
            .send_operation(Method::POST, path, &[], Some(request))
            .await
    }
}

/// `POST` to the source volume with `migration: true`: the source half of a migration.
async fn migrate(client: &Client, path: &str, body: &StorageVolumePost) -> Result<Operation> {
    client
        .send_operation(Method::POST, path, &[], Some(body))
        .await
}
