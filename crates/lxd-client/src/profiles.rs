//! Profiles (`/1.0/profiles`): configuration and devices shared by instances. Scoped to the
//! client's project (projects with `features.profiles` have their own).

use lxd_proto::{Profile, ProfilePost, ProfilePut, ProfilesPost};
use serde::Serialize;

use crate::client::Client;
use crate::collection::{Collection, CollectionPath};
use crate::error::Result;
use crate::etag::{ETag, Versioned};
use crate::path::validate_profile_name;

/// The profiles manager, from [`Client::profiles`].
///
/// ```no_run
/// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
/// use lxd_client::proto::ProfilesPost;
/// let profiles = client.profiles();
/// profiles
///     .create(&ProfilesPost {
///         name: "small".into(),
///         config: [("limits.cpu".into(), "1".into()), ("limits.memory".into(), "256MiB".into())]
///             .into(),
///         ..Default::default()
///     })
///     .await?;
/// println!("{:?}", profiles.get("small").await?.config);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Profiles {
    client: Client,
}

impl Client {
    /// The profiles manager.
    ///
    /// It manages `/1.0/profiles` in the client's project.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let profiles = client.profiles();
    /// if !profiles.exists("small").await? {
    ///     profiles.create(&lxd_client::proto::ProfilesPost { name: "small".into(), ..Default::default() }).await?;
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/profiles/profiles_get)
    pub fn profiles(&self) -> Profiles {
        Profiles {
            client: self.clone(),
        }
    }
}

/// `/1.0/profiles`: names checked by [`validate_profile_name`].
const PROFILES: CollectionPath = CollectionPath::new("/1.0/profiles", validate_profile_name);

impl Profiles {
    /// This manager's collection requests.
    fn collection(&self) -> Collection<'_> {
        PROFILES.on(&self.client)
    }

    /// The names of the profiles.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// println!("{:?}", client.profiles().list_names().await?);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/profiles/profiles_get)
    pub async fn list_names(&self) -> Result<Vec<String>> {
        self.collection().names().await
    }

    /// Every profile, in one request.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// for p in client.profiles().list().await? {
    ///     println!("{} used by {}", p.name, p.used_by.len());
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/profiles/profiles_get_recursion1)
    pub async fn list(&self) -> Result<Vec<Profile>> {
        self.collection().list().await
    }

    /// One profile.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let p = client.profiles().get("default").await?;
    /// println!("{:?}", p.devices.get("root"));
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/profiles/profile_get)
    pub async fn get(&self, name: &str) -> Result<Profile> {
        self.collection().get(name).await
    }

    /// One profile with its ETag.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let profiles = client.profiles();
    /// let p = profiles.get_with_etag("small").await?;
    /// let mut put = p.writable();
    /// put.config.insert("limits.cpu".into(), "2".into());
    /// profiles.update("small", &put, p.etag.as_ref()).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/profiles/profile_get)
    pub async fn get_with_etag(&self, name: &str) -> Result<Versioned<Profile>> {
        self.collection().get_versioned(name).await
    }

    /// Whether the profile exists.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// println!("{}", client.profiles().exists("small").await?);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/profiles/profile_get)
    pub async fn exists(&self, name: &str) -> Result<bool> {
        self.collection().exists(name).await
    }

    /// Creates a profile; the name is checked first, a duplicate is LXD's conflict error and
    /// bad config or devices LXD's bad request.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::ProfilesPost;
    /// client.profiles().create(&ProfilesPost { name: "empty".into(), ..Default::default() }).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/profiles/profiles_post)
    pub async fn create(&self, request: &ProfilesPost) -> Result<()> {
        self.collection().create(&request.name, request).await
    }

    /// Replaces the profile's writable fields (`PUT`; running instances using it are
    /// updated, devices included), optionally only if unchanged since `etag`.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let profiles = client.profiles();
    /// let mut put = profiles.get("small").await?.writable();
    /// put.devices.insert(
    ///     "data".into(),
    ///     [("type", "disk"), ("pool", "default"), ("source", "data"), ("path", "/mnt/data")]
    ///         .into_iter()
    ///         .map(|(k, v)| (k.to_string(), v.to_string()))
    ///         .collect(),
    /// );
    /// profiles.update("small", &put, None).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/profiles/profile_put)
    pub async fn update(&self, name: &str, put: &ProfilePut, etag: Option<&ETag>) -> Result<()> {
        self.collection().update(name, put, etag).await
    }

    /// Changes only what `body` names (`PATCH`: config keys and devices are merged by key),
    /// optionally only if unchanged since `etag`.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let body = serde_json::json!({"config": {"limits.memory": "512MiB"}});
    /// client.profiles().patch("small", &body, None).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/profiles/profile_patch)
    pub async fn patch<B: Serialize + ?Sized>(
        &self,
        name: &str,
        body: &B,
        etag: Option<&ETag>,
    ) -> Result<()> {
        self.collection().patch(name, body, etag).await
    }

    /// Renames a profile (instances using it follow; LXD refuses for `default`).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// client.profiles().rename("small", "tiny").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/profiles/profile_post)
    pub async fn rename(&self, name: &str, new_name: &str) -> Result<()> {
        let body = ProfilePost {
            name: new_name.to_string(),
            ..Default::default()
        };
        self.collection().rename(name, new_name, &body).await
    }

    /// Deletes a profile (LXD refuses while instances use it, and for `default`).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// client.profiles().delete("tiny").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/profiles/profile_delete)
    pub async fn delete(&self, name: &str) -> Result<()> {
        self.collection().delete(name).await
    }
}
