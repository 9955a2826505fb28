//! Storage volumes of a pool and their snapshots
//! (`/1.0/storage-pools/<pool>/volumes/<type>/<name>[/snapshots/<snapshot>]`). Custom
//! volumes are scoped to the client's project (projects with `features.storage.volumes`
//! have their own).

use lxd_proto::{
    StorageVolume, StorageVolumePost, StorageVolumePut, StorageVolumeSnapshot,
    StorageVolumeSnapshotPost, StorageVolumeSnapshotPut, StorageVolumeSnapshotsPost,
    StorageVolumeState, StorageVolumeType, StorageVolumesPost,
};
use lxd_transport::http::Method;
use serde::Serialize;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::etag::{ETag, Versioned};
use crate::operation::Operation;
use crate::path::{name_from_url, names_from_urls, segment, validate_storage_volume_name};
use crate::storage_pools::pool_path;

/// The volumes of one pool, from [`StoragePools::volumes`](crate::StoragePools::volumes).
/// Volumes are keyed by type and name.
///
/// ```no_run
/// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
/// use lxd_client::proto::{StorageVolumeType, StorageVolumesPost};
/// let volumes = client.storage_pools().volumes("default");
/// volumes.create(&StorageVolumesPost { name: "data".into(), ..Default::default() }).await?;
/// // Attach it to an instance (or a profile) as a disk device:
/// // {"type": "disk", "pool": "default", "source": "data", "path": "/mnt/data"}
/// let snap = volumes.snapshots(StorageVolumeType::Custom, "data");
/// snap.create("before-upgrade").await?.wait().await?;
/// snap.restore("before-upgrade").await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct StorageVolumes {
    pub(crate) client: Client,
    pool: String,
}

/// Checks a volume type given by the caller (it becomes a URL segment).
fn check_type(volume_type: &StorageVolumeType) -> Result<()> {
    let t = volume_type.as_str();
    if t.is_empty() || t == "." || t == ".." || t.contains('/') {
        return Err(Error::invalid(
            "storage volume type",
            format!("{t:?}: expected custom, container, virtual-machine or image"),
        ));
    }
    Ok(())
}

/// A volume list entry `/1.0/storage-pools/<pool>/volumes/<type>/<name>[/snapshots/<snap>]`:
/// the volume's name, or `None` for a snapshot (LXD 5.0 lists them among the volumes).
fn volume_name_from_url(url: &str) -> Result<Option<String>> {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    let segments: Vec<&str> = path.split('/').collect();
    match segments.as_slice() {
        ["", "1.0", "storage-pools", _, "volumes", _, name] => Ok(Some(name_from_url(name)?)),
        [
            "",
            "1.0",
            "storage-pools",
            _,
            "volumes",
            _,
            _,
            "snapshots",
            _,
        ] => Ok(None),
        _ => Err(Error::malformed(
            "storage volume URL",
            "not /1.0/storage-pools/<pool>/volumes/<type>/<name>",
            url.as_bytes(),
        )),
    }
}

impl StorageVolumes {
    pub(crate) fn new(client: Client, pool: &str) -> StorageVolumes {
        StorageVolumes {
            client,
            pool: pool.to_string(),
        }
    }

    /// The pool these volumes are in.
    ///
    /// ```
    /// # fn main() -> Result<(), lxd_client::Error> {
    /// # let client = lxd_client::Client::https("https://lxd.example:8443").build()?;
    /// let volumes = client.storage_pools().volumes("default");
    /// assert_eq!(volumes.pool(), "default");
    /// # Ok(()) }
    /// ```
    pub fn pool(&self) -> &str {
        &self.pool
    }

    pub(crate) fn typed_path(&self, volume_type: &StorageVolumeType) -> Result<String> {
        check_type(volume_type)?;
        Ok(format!(
            "{}/volumes/{}",
            pool_path(&self.pool)?,
            segment(volume_type.as_str())
        ))
    }

    pub(crate) fn item_path(&self, volume_type: &StorageVolumeType, name: &str) -> Result<String> {
        validate_storage_volume_name(name)?;
        Ok(format!(
            "{}/{}",
            self.typed_path(volume_type)?,
            segment(name)
        ))
    }

    /// Every volume of the pool, all types, in one request (snapshots, which LXD lists
    /// among them as `<volume>/<snapshot>`, are left out: see
    /// [`snapshots`](Self::snapshots)).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// for v in client.storage_pools().volumes("default").list_all().await? {
    ///     println!("{}/{} used by {:?}", v.volume_type, v.name, v.used_by);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/storage/storage_pool_volumes_get_recursion1)
    pub async fn list_all(&self) -> Result<Vec<StorageVolume>> {
        let path = format!("{}/volumes", pool_path(&self.pool)?);
        let all: Vec<StorageVolume> = self.client.get_list(&path, &[("recursion", "1")]).await?;
        Ok(all.into_iter().filter(|v| !v.name.contains('/')).collect())
    }

    /// The volumes of one type, in one request (snapshots left out, as for
    /// [`list_all`](Self::list_all)).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::StorageVolumeType;
    /// let containers = client.storage_pools().volumes("default").list(StorageVolumeType::Container).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/storage/storage_pool_volumes_type_get_recursion1)
    pub async fn list(&self, volume_type: StorageVolumeType) -> Result<Vec<StorageVolume>> {
        let path = self.typed_path(&volume_type)?;
        let all: Vec<StorageVolume> = self.client.get_list(&path, &[("recursion", "1")]).await?;
        Ok(all.into_iter().filter(|v| !v.name.contains('/')).collect())
    }

    /// The names of the volumes of one type (snapshots left out).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::StorageVolumeType;
    /// println!("{:?}", client.storage_pools().volumes("default").list_names(StorageVolumeType::Custom).await?);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/storage/storage_pool_volumes_type_get)
    pub async fn list_names(&self, volume_type: StorageVolumeType) -> Result<Vec<String>> {
        let urls: Vec<String> = self
            .client
            .get_list(&self.typed_path(&volume_type)?, &[])
            .await?;
        let mut names = Vec::with_capacity(urls.len());
        for url in &urls {
            if let Some(name) = volume_name_from_url(url)? {
                names.push(name);
            }
        }
        Ok(names)
    }

    /// One volume.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::StorageVolumeType;
    /// let v = client.storage_pools().volumes("default").get(StorageVolumeType::Custom, "data").await?;
    /// println!("{:?}", v.config.get("size"));
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/storage/storage_pool_volume_type_get)
    pub async fn get(&self, volume_type: StorageVolumeType, name: &str) -> Result<StorageVolume> {
        self.client
            .get_json(&self.item_path(&volume_type, name)?, &[])
            .await
    }

    /// One volume with its ETag.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::StorageVolumeType::Custom;
    /// let volumes = client.storage_pools().volumes("default");
    /// let v = volumes.get_with_etag(Custom, "data").await?;
    /// let mut put = v.writable();
    /// put.description = "app data".into();
    /// volumes.update(Custom, "data", &put, v.etag.as_ref()).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/storage/storage_pool_volume_type_get)
    pub async fn get_with_etag(
        &self,
        volume_type: StorageVolumeType,
        name: &str,
    ) -> Result<Versioned<StorageVolume>> {
        self.client
            .get_versioned(&self.item_path(&volume_type, name)?, &[])
            .await
    }

    /// Whether the volume exists.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::StorageVolumeType;
    /// println!("{}", client.storage_pools().volumes("default").exists(StorageVolumeType::Custom, "data").await?);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/storage/storage_pool_volume_type_get)
    pub async fn exists(&self, volume_type: StorageVolumeType, name: &str) -> Result<bool> {
        crate::error::found(self.get(volume_type, name).await)
    }

    /// Creates a volume of `request.volume_type` (custom by default): empty, or a copy when
    /// `source` says so. Returns once the volume exists (LXD answers a copy with an
    /// operation, which is awaited).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::{StorageVolumeSource, StorageVolumesPost};
    /// let volumes = client.storage_pools().volumes("default");
    /// volumes
    ///     .create(&StorageVolumesPost {
    ///         name: "data".into(),
    ///         config: [("size".into(), "1GiB".into())].into(),
    ///         ..Default::default()
    ///     })
    ///     .await?;
    /// volumes
    ///     .create(&StorageVolumesPost {
    ///         name: "data-copy".into(),
    ///         source: Some(StorageVolumeSource::copy("default", "data")),
    ///         ..Default::default()
    ///     })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/storage/storage_pool_volumes_type_post)
    pub async fn create(&self, request: &StorageVolumesPost) -> Result<()> {
        validate_storage_volume_name(&request.name)?;
        let path = self.typed_path(&request.volume_type)?;
        self.client
            .write(Method::POST, &path, &[], Some(request))
            .await
    }

    /// Replaces the volume's writable fields (`PUT`), optionally only if unchanged since
    /// `etag`. To restore a snapshot use [`StorageVolumeSnapshots::restore`].
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::StorageVolumeType::Custom;
    /// let volumes = client.storage_pools().volumes("default");
    /// let mut put = volumes.get(Custom, "data").await?.writable();
    /// put.config.insert("snapshots.expiry".into(), "7d".into());
    /// volumes.update(Custom, "data", &put, None).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/storage/storage_pool_volume_type_put)
    pub async fn update(
        &self,
        volume_type: StorageVolumeType,
        name: &str,
        put: &StorageVolumePut,
        etag: Option<&ETag>,
    ) -> Result<()> {
        let path = self.item_path(&volume_type, name)?;
        self.client
            .write_if_match(Method::PUT, &path, &[], put, etag)
            .await
    }

    /// Changes the volume with a JSON object (`PATCH`): config keys in `body` are set, the
    /// others kept. LXD 5.0 merges `config` only: a `description` left out is reset, so send
    /// it along. Optionally only if unchanged since `etag`.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::StorageVolumeType::Custom;
    /// let body = serde_json::json!({"config": {"user.owner": "ops"}});
    /// client.storage_pools().volumes("default").patch(Custom, "data", &body, None).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/storage/storage_pool_volume_type_patch)
    pub async fn patch<B: Serialize + ?Sized>(
        &self,
        volume_type: StorageVolumeType,
        name: &str,
        body: &B,
        etag: Option<&ETag>,
    ) -> Result<()> {
        let path = self.item_path(&volume_type, name)?;
        self.client.write_patch(&path, &[], body, etag).await
    }

    /// Renames a volume within its pool (LXD refuses while a running instance uses it, and
    /// renames only custom volumes).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::StorageVolumeType::Custom;
    /// client.storage_pools().volumes("default").rename(Custom, "data", "app-data").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/storage/storage_pool_volume_type_post)
    pub async fn rename(
        &self,
        volume_type: StorageVolumeType,
        name: &str,
        new_name: &str,
    ) -> Result<()> {
        let path = self.item_path(&volume_type, name)?;
        validate_storage_volume_name(new_name)?;
        let body = StorageVolumePost {
            name: new_name.to_string(),
            ..Default::default()
        };
        self.client
            .write(Method::POST, &path, &[], Some(&body))
            .await
    }

    /// Moves a volume to another pool of the same server, under `new_name` (the same name
    /// to keep it); LXD copies the data in an operation (API extension
    /// `storage_api_local_volume_handling`).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::StorageVolumeType::Custom;
    /// let op = client.storage_pools().volumes("default").move_to_pool(Custom, "data", "fast", "data").await?;
    /// op.wait().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/storage/storage_pool_volume_type_post)
    pub async fn move_to_pool(
        &self,
        volume_type: StorageVolumeType,
        name: &str,
        target_pool: &str,
        new_name: &str,
    ) -> Result<Operation> {
        let path = self.item_path(&volume_type, name)?;
        pool_path(target_pool)?;
        validate_storage_volume_name(new_name)?;
        if target_pool == self.pool {
            return Err(Error::invalid(
                "target pool",
                format!("{target_pool:?} is the volume's own pool: use rename"),
            ));
        }
        self.client
            .require_api_extension("storage_api_local_volume_handling")
            .await?;
        let body = StorageVolumePost {
            name: new_name.to_string(),
            pool: target_pool.to_string(),
            ..Default::default()
        };
        self.client
            .send_operation(Method::POST, &path, &[], Some(&body))
            .await
    }

    /// Deletes a volume (LXD refuses while an instance or profile uses it).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::StorageVolumeType::Custom;
    /// client.storage_pools().volumes("default").delete(Custom, "app-data").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/storage/storage_pool_volume_type_delete)
    pub async fn delete(&self, volume_type: StorageVolumeType, name: &str) -> Result<()> {
        let path = self.item_path(&volume_type, name)?;
        self.client
            .write::<()>(Method::DELETE, &path, &[], None)
            .await
    }

    /// Usage of a volume (API extension `storage_volume_state`; drivers that cannot
    /// measure, such as LXD 5.0's `dir`, answer with an error).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::StorageVolumeType::Custom;
    /// let state = client.storage_pools().volumes("default").state(Custom, "data").await?;
    /// println!("{:?}", state.usage);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/storage/storage_pool_volume_type_state_get)
    pub async fn state(
        &self,
        volume_type: StorageVolumeType,
        name: &str,
    ) -> Result<StorageVolumeState> {
        let path = format!("{}/state", self.item_path(&volume_type, name)?);
        self.client
            .require_api_extension("storage_volume_state")
            .await?;
        self.client.get_json(&path, &[]).await
    }

    /// The snapshots of one volume (API extension `storage_api_volume_snapshots`).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::StorageVolumeType::Custom;
    /// let names = client.storage_pools().volumes("default").snapshots(Custom, "data").list_names().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/storage/storage_pool_volumes_type_snapshots_get)
    pub fn snapshots(
        &self,
        volume_type: StorageVolumeType,
        volume: &str,
    ) -> StorageVolumeSnapshots {
        StorageVolumeSnapshots {
            volumes: self.clone(),
            volume_type,
            volume: volume.to_string(),
        }
    }
}

/// The snapshots of one storage volume, from [`StorageVolumes::snapshots`].
///
/// ```no_run
/// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
/// use lxd_client::proto::StorageVolumeType::Custom;
/// let snapshots = client.storage_pools().volumes("default").snapshots(Custom, "data");
/// snapshots.create("snap0").await?.wait().await?;
/// snapshots.rename("snap0", "nightly").await?.wait().await?;
/// snapshots.restore("nightly").await?;
/// snapshots.delete("nightly").await?.wait().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct StorageVolumeSnapshots {
    volumes: StorageVolumes,
    volume_type: StorageVolumeType,
    volume: String,
}

impl StorageVolumeSnapshots {
    /// The volume these snapshots belong to.
    ///
    /// ```
    /// # fn main() -> Result<(), lxd_client::Error> {
    /// # let client = lxd_client::Client::https("https://lxd.example:8443").build()?;
    /// use lxd_client::proto::StorageVolumeType;
    /// let snapshots = client.storage_pools().volumes("default").snapshots(StorageVolumeType::Custom, "data");
    /// assert_eq!(snapshots.volume(), "data");
    /// # Ok(()) }
    /// ```
    pub fn volume(&self) -> &str {
        &self.volume
    }

    async fn base(&self) -> Result<String> {
        let path = format!(
            "{}/snapshots",
            self.volumes.item_path(&self.volume_type, &self.volume)?
        );
        self.volumes
            .client
            .require_api_extension("storage_api_volume_snapshots")
            .await?;
        Ok(path)
    }

    async fn item(&self, snapshot: &str) -> Result<String> {
        validate_storage_volume_name(snapshot)?;
        Ok(format!("{}/{}", self.base().await?, segment(snapshot)))
    }

    /// The names of the snapshots.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::StorageVolumeType::Custom;
    /// println!("{:?}", client.storage_pools().volumes("default").snapshots(Custom, "data").list_names().await?);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/storage/storage_pool_volumes_type_snapshots_get)
    pub async fn list_names(&self) -> Result<Vec<String>> {
        let urls: Vec<String> = self
            .volumes
            .client
            .get_list(&self.base().await?, &[])
            .await?;
        names_from_urls(&urls)
    }

    /// Every snapshot, in one request. Names are the snapshots' own, as [`get`](Self::get)
    /// gives them (LXD 5.0 lists them as `<volume>/<snapshot>`; the prefix is removed).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::StorageVolumeType::Custom;
    /// for s in client.storage_pools().volumes("default").snapshots(Custom, "data").list().await? {
    ///     println!("{} expires: {}", s.name, s.expires());
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/storage/storage_pool_volumes_type_snapshots_get_recursion1)
    pub async fn list(&self) -> Result<Vec<StorageVolumeSnapshot>> {
        let mut list: Vec<StorageVolumeSnapshot> = self
            .volumes
            .client
            .get_list(&self.base().await?, &[("recursion", "1")])
            .await?;
        for snapshot in &mut list {
            if let Some((_, own)) = snapshot.name.rsplit_once('/') {
                snapshot.name = own.to_string();
            }
        }
        Ok(list)
    }

    /// One snapshot.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::StorageVolumeType::Custom;
    /// let s = client.storage_pools().volumes("default").snapshots(Custom, "data").get("snap0").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/storage/storage_pool_volumes_type_snapshot_get)
    pub async fn get(&self, snapshot: &str) -> Result<StorageVolumeSnapshot> {
        self.volumes
            .client
            .get_json(&self.item(snapshot).await?, &[])
            .await
    }

    /// One snapshot with its ETag.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::StorageVolumeType::Custom;
    /// let snapshots = client.storage_pools().volumes("default").snapshots(Custom, "data");
    /// let s = snapshots.get_with_etag("snap0").await?;
    /// let mut put = s.writable();
    /// put.expires_at = Some("2030-01-01T00:00:00Z".into());
    /// snapshots.update("snap0", &put, s.etag.as_ref()).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/storage/storage_pool_volumes_type_snapshot_get)
    pub async fn get_with_etag(&self, snapshot: &str) -> Result<Versioned<StorageVolumeSnapshot>> {
        self.volumes
            .client
            .get_versioned(&self.item(snapshot).await?, &[])
            .await
    }

    /// Whether the snapshot exists.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::StorageVolumeType::Custom;
    /// println!("{}", client.storage_pools().volumes("default").snapshots(Custom, "data").exists("snap0").await?);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/storage/storage_pool_volumes_type_snapshot_get)
    pub async fn exists(&self, snapshot: &str) -> Result<bool> {
        crate::error::found(self.get(snapshot).await)
    }

    /// Takes a snapshot named `name`; see [`create_with`](Self::create_with) for an expiry.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::StorageVolumeType::Custom;
    /// client.storage_pools().volumes("default").snapshots(Custom, "data").create("snap0").await?.wait().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/storage/storage_pool_volumes_type_snapshots_post)
    pub async fn create(&self, name: &str) -> Result<Operation> {
        validate_storage_volume_name(name)?;
        self.create_with(&StorageVolumeSnapshotsPost {
            name: name.to_string(),
            ..Default::default()
        })
        .await
    }

    /// Takes a snapshot as `request` says (an empty name lets LXD pick one from
    /// `snapshots.pattern`; `expires_at` sets an expiry).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::{StorageVolumeSnapshotsPost, StorageVolumeType::Custom};
    /// let request = StorageVolumeSnapshotsPost {
    ///     name: "weekly".into(),
    ///     expires_at: Some("2030-01-01T00:00:00Z".into()),
    ///     ..Default::default()
    /// };
    /// client.storage_pools().volumes("default").snapshots(Custom, "data").create_with(&request).await?.wait().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/storage/storage_pool_volumes_type_snapshots_post)
    pub async fn create_with(&self, request: &StorageVolumeSnapshotsPost) -> Result<Operation> {
        if !request.name.is_empty() {
            validate_storage_volume_name(&request.name)?;
        }
        self.volumes
            .client
            .send_operation(Method::POST, &self.base().await?, &[], Some(request))
            .await
    }

    /// Replaces a snapshot's writable fields (description, expiry) (`PUT`), optionally
    /// only if unchanged since `etag`.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::{StorageVolumeSnapshotPut, StorageVolumeType::Custom};
    /// let put = StorageVolumeSnapshotPut { description: "keep".into(), ..Default::default() };
    /// client.storage_pools().volumes("default").snapshots(Custom, "data").update("snap0", &put, None).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/storage/storage_pool_volumes_type_snapshot_put)
    pub async fn update(
        &self,
        snapshot: &str,
        put: &StorageVolumeSnapshotPut,
        etag: Option<&ETag>,
    ) -> Result<()> {
        let path = self.item(snapshot).await?;
        self.volumes
            .client
            .write_if_match(Method::PUT, &path, &[], put, etag)
            .await
    }

    /// Changes only what `body` names (`PATCH`), optionally only if unchanged since `etag`.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::StorageVolumeType::Custom;
    /// let body = serde_json::json!({"description": "keep"});
    /// client.storage_pools().volumes("default").snapshots(Custom, "data").patch("snap0", &body, None).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/storage/storage_pool_volumes_type_snapshot_patch)
    pub async fn patch<B: Serialize + ?Sized>(
        &self,
        snapshot: &str,
        body: &B,
        etag: Option<&ETag>,
    ) -> Result<()> {
        let path = self.item(snapshot).await?;
        self.volumes
            .client
            .write_patch(&path, &[], body, etag)
            .await
    }

    /// Renames a snapshot.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::StorageVolumeType::Custom;
    /// client.storage_pools().volumes("default").snapshots(Custom, "data").rename("snap0", "old").await?.wait().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/storage/storage_pool_volumes_type_snapshot_post)
    pub async fn rename(&self, snapshot: &str, new_name: &str) -> Result<Operation> {
        let path = self.item(snapshot).await?;
        validate_storage_volume_name(new_name)?;
        let body = StorageVolumeSnapshotPost {
            name: new_name.to_string(),
            ..Default::default()
        };
        self.volumes
            .client
            .send_operation(Method::POST, &path, &[], Some(&body))
            .await
    }

    /// Restores the volume to this snapshot (custom volumes). Sends `restore` alone: with a
    /// config in the same request LXD would also replace the volume's config.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::StorageVolumeType::Custom;
    /// client.storage_pools().volumes("default").snapshots(Custom, "data").restore("snap0").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/storage/storage_pool_volume_type_put)
    pub async fn restore(&self, snapshot: &str) -> Result<()> {
        validate_storage_volume_name(snapshot)?;
        let path = self.volumes.item_path(&self.volume_type, &self.volume)?;
        let body = serde_json::json!({ "restore": snapshot });
        self.volumes
            .client
            .write(Method::PUT, &path, &[], Some(&body))
            .await
    }

    /// Deletes a snapshot.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::StorageVolumeType::Custom;
    /// client.storage_pools().volumes("default").snapshots(Custom, "data").delete("old").await?.wait().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/storage/storage_pool_volumes_type_snapshot_delete)
    pub async fn delete(&self, snapshot: &str) -> Result<Operation> {
        let path = self.item(snapshot).await?;
        self.volumes
            .client
            .send_operation::<()>(Method::DELETE, &path, &[], None)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_urls() {
        assert_eq!(
            volume_name_from_url("/1.0/storage-pools/default/volumes/custom/a%20b").unwrap(),
            Some("a b".to_string())
        );
        assert_eq!(
            volume_name_from_url("/1.0/storage-pools/p/volumes/container/c1?project=x").unwrap(),
            Some("c1".to_string())
        );
        assert_eq!(
            volume_name_from_url("/1.0/storage-pools/p/volumes/container/c1/snapshots/s0").unwrap(),
            None
        );
        assert!(volume_name_from_url("/1.0/instances/c1").is_err());
    }

    #[test]
    fn types_are_checked() {
        assert!(check_type(&StorageVolumeType::Custom).is_ok());
        assert!(check_type(&StorageVolumeType::Other("a/b".into())).is_err());
        assert!(check_type(&StorageVolumeType::Other(String::new())).is_err());
    }
}
