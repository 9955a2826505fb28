//! Profiles (`/1.0/profiles`): configuration and devices shared by instances. Scoped to the
//! client's project (projects with `features.profiles` have their own).

use lxd_proto::{Profile, ProfilePost, ProfilePut, ProfilesPost};
use lxd_transport::http::Method;
use serde::Serialize;

use crate::client::Client;
use crate::error::Result;
use crate::etag::{ETag, Versioned};
use crate::path::{names_from_urls, segment, validate_profile_name};

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

fn profile_path(name: &str) -> Result<String> {
    validate_profile_name(name)?;
    Ok(format!("/1.0/profiles/{}", segment(name)))
}

impl Profiles {
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
        let urls: Vec<String> = self.client.get_list("/1.0/profiles", &[]).await?;
        names_from_urls(&urls)
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
        self.client
            .get_list("/1.0/profiles", &[("recursion", "1")])
            .await
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
        self.client.get_json(&profile_path(name)?, &[]).await
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
        self.client.get_versioned(&profile_path(name)?, &[]).await
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
        crate::error::found(self.get(name).await)
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
        validate_profile_name(&request.name)?;
        self.client
            .send(Method::POST, "/1.0/profiles", &[], Some(request))
            .await?;
        Ok(())
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
        self.client
            .send_if_match(Method::PUT, &profile_path(name)?, &[], put, etag)
            .await?;
        Ok(())
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
        self.client
            .send_patch(&profile_path(name)?, &[], body, etag)
            .await?;
        Ok(())
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
        let path = profile_path(name)?;
        validate_profile_name(new_name)?;
        let body = ProfilePost {
            name: new_name.to_string(),
            ..Default::default()
        };
        self.client
            .send(Method::POST, &path, &[], Some(&body))
            .await?;
        Ok(())
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
        self.client
            .send::<()>(Method::DELETE, &profile_path(name)?, &[], None)
            .await?;
        Ok(())
    }
}
