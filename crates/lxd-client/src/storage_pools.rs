//! Storage pools (`/1.0/storage-pools`). Pools are server-wide; with a project set, LXD
//! limits `used_by` to that project.

use lxd_proto::{ResourcesStoragePool, StoragePool, StoragePoolPut, StoragePoolsPost};
use serde::Serialize;

use crate::client::Client;
use crate::collection::{Collection, CollectionPath};
use crate::error::Result;
use crate::etag::{ETag, Versioned};
use crate::path::validate_storage_pool_name;
use crate::storage_volumes::StorageVolumes;

/// The storage pools manager, from [`Client::storage_pools`].
///
/// ```no_run
/// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
/// use lxd_client::proto::StoragePoolsPost;
/// let pools = client.storage_pools();
/// pools
///     .create(&StoragePoolsPost { name: "scratch".into(), driver: "dir".into(), ..Default::default() })
///     .await?;
/// let usage = pools.resources("scratch").await?;
/// println!("{} of {} bytes used", usage.space.used, usage.space.total);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct StoragePools {
    client: Client,
}

impl Client {
    /// The storage pools manager.
    ///
    /// It manages `/1.0/storage-pools`.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let pools = client.storage_pools();
    /// for name in pools.list_names().await? {
    ///     let usage = pools.resources(&name).await?;
    ///     println!("{name}: {} of {} bytes used", usage.space.used, usage.space.total);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/storage/storage_pools_get)
    pub fn storage_pools(&self) -> StoragePools {
        StoragePools {
            client: self.clone(),
        }
    }
}

/// `/1.0/storage-pools/<name>`, after checking the name.
/// `/1.0/storage-pools`: names checked by [`validate_storage_pool_name`].
pub(crate) const POOLS: CollectionPath =
    CollectionPath::new("/1.0/storage-pools", validate_storage_pool_name);

pub(crate) fn pool_path(name: &str) -> Result<String> {
    POOLS.path(name)
}

impl StoragePools {
    /// This manager's collection requests.
    fn collection(&self) -> Collection<'_> {
        POOLS.on(&self.client)
    }

    /// The names of the pools.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// println!("{:?}", client.storage_pools().list_names().await?);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/storage/storage_pools_get)
    pub async fn list_names(&self) -> Result<Vec<String>> {
        self.collection().names().await
    }

    /// Every pool, in one request.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// for p in client.storage_pools().list().await? {
    ///     println!("{} ({}) {}", p.name, p.driver, p.status);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/storage/storage_pools_get_recursion1)
    pub async fn list(&self) -> Result<Vec<StoragePool>> {
        self.collection().list().await
    }

    /// One pool.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let p = client.storage_pools().get("default").await?;
    /// println!("{} at {:?}", p.driver, p.config.get("source"));
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/storage/storage_pool_get)
    pub async fn get(&self, name: &str) -> Result<StoragePool> {
        self.collection().get(name).await
    }

    /// One pool with its ETag. LXD 5.0.2 sends no ETag for pools (a server bug: it hashes a
    /// Go method value), so `etag` is `None` there and changes are unconditional.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let pools = client.storage_pools();
    /// let p = pools.get_with_etag("default").await?;
    /// let mut put = p.writable();
    /// put.description = "main pool".into();
    /// pools.update("default", &put, p.etag.as_ref()).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/storage/storage_pool_get)
    pub async fn get_with_etag(&self, name: &str) -> Result<Versioned<StoragePool>> {
        self.collection().get_versioned(name).await
    }

    /// Whether the pool exists.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// println!("{}", client.storage_pools().exists("default").await?);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/storage/storage_pool_get)
    pub async fn exists(&self, name: &str) -> Result<bool> {
        self.collection().exists(name).await
    }

    /// Creates a pool from its whole definition (name, driver, description, config). An
    /// unknown driver, a duplicate name or bad config is LXD's error, with its message.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::StoragePoolsPost;
    /// client
    ///     .storage_pools()
    ///     .create(&StoragePoolsPost {
    ///         name: "fast".into(),
    ///         driver: "zfs".into(),
    ///         config: [("size".into(), "20GiB".into())].into(),
    ///         ..Default::default()
    ///     })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/storage/storage_pools_post)
    pub async fn create(&self, request: &StoragePoolsPost) -> Result<()> {
        self.collection().create(&request.name, request).await
    }

    /// Replaces the pool's writable fields (`PUT`), optionally only if unchanged since
    /// `etag`.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let pools = client.storage_pools();
    /// let mut put = pools.get("fast").await?.writable();
    /// put.config.insert("volume.size".into(), "5GiB".into());
    /// pools.update("fast", &put, None).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/storage/storage_pool_put)
    pub async fn update(
        &self,
        name: &str,
        put: &StoragePoolPut,
        etag: Option<&ETag>,
    ) -> Result<()> {
        self.collection().update(name, put, etag).await
    }

    /// Changes the pool with a JSON object (`PATCH`): config keys in `body` are set, the
    /// others kept. LXD 5.0 merges `config` only: a `description` left out is reset, so send
    /// it along. Optionally only if unchanged since `etag`.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let body = serde_json::json!({"description": "scratch space"});
    /// client.storage_pools().patch("fast", &body, None).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/storage/storage_pool_patch)
    pub async fn patch<B: Serialize + ?Sized>(
        &self,
        name: &str,
        body: &B,
        etag: Option<&ETag>,
    ) -> Result<()> {
        self.collection().patch(name, body, etag).await
    }

    /// Deletes a pool (LXD refuses while volumes, instances or profiles use it). Pools
    /// cannot be renamed.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// client.storage_pools().delete("fast").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/storage/storage_pools_delete)
    pub async fn delete(&self, name: &str) -> Result<()> {
        self.collection().delete(name).await
    }

    /// Space and inodes of the pool (API extension `resources`).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let r = client.storage_pools().resources("default").await?;
    /// println!("{} bytes free", r.space.total - r.space.used);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/storage/storage_pool_resources)
    pub async fn resources(&self, name: &str) -> Result<ResourcesStoragePool> {
        let path = format!("{}/resources", pool_path(name)?);
        self.client.require_api_extension("resources").await?;
        self.client.get_json(&path, &[]).await
    }

    /// The volumes of a pool.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::StorageVolumeType;
    /// let names = client.storage_pools().volumes("default").list_names(StorageVolumeType::Custom).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/storage/storage_pool_volumes_get)
    pub fn volumes(&self, pool: &str) -> StorageVolumes {
        StorageVolumes::new(self.client.clone(), pool)
    }
}
