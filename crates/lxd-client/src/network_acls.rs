//! Network ACLs (`/1.0/network-acls`, API extension `network_acl`): named rule sets that
//! networks and NICs apply through `security.acls`. Scoped to the client's project.

use lxd_proto::{NetworkAcl, NetworkAclPost, NetworkAclPut, NetworkAclsPost};
use lxd_transport::http::Method;
use serde::Serialize;

use crate::client::Client;
use crate::error::Result;
use crate::etag::{ETag, Versioned};
use crate::path::{names_from_urls, segment, validate_network_acl_name};

/// The network ACLs manager, from [`Client::network_acls`].
///
/// ```no_run
/// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
/// use lxd_client::proto::{NetworkAclRule, NetworkAclRuleAction, NetworkAclsPost};
/// client
///     .network_acls()
///     .create(&NetworkAclsPost {
///         name: "ssh-in".into(),
///         ingress: vec![NetworkAclRule {
///             action: NetworkAclRuleAction::Allow,
///             protocol: "tcp".into(),
///             destination_port: "22".into(),
///             ..Default::default()
///         }],
///         ..Default::default()
///     })
///     .await?;
/// // Apply it to a bridge:
/// let body = serde_json::json!({"config": {"security.acls": "ssh-in"}});
/// client.networks().patch("lxdbr0", &body, None).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct NetworkAcls {
    client: Client,
}

impl Client {
    /// The network ACLs manager.
    ///
    /// It manages `/1.0/network-acls` in the client's project.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let acls = client.network_acls();
    /// for name in acls.list_names().await? {
    ///     println!("{name}: {}", acls.get(&name).await?.description);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/network-acls/network_acls_get)
    pub fn network_acls(&self) -> NetworkAcls {
        NetworkAcls {
            client: self.clone(),
        }
    }
}

impl NetworkAcls {
    /// `/1.0/network-acls/<name>` after checking the name, once the server is known to have
    /// ACLs.
    async fn path(&self, name: &str) -> Result<String> {
        validate_network_acl_name(name)?;
        self.client.require_api_extension("network_acl").await?;
        Ok(format!("/1.0/network-acls/{}", segment(name)))
    }

    /// The names of the ACLs.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// println!("{:?}", client.network_acls().list_names().await?);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/network-acls/network_acls_get)
    pub async fn list_names(&self) -> Result<Vec<String>> {
        self.client.require_api_extension("network_acl").await?;
        let urls: Vec<String> = self.client.get_list("/1.0/network-acls", &[]).await?;
        names_from_urls(&urls)
    }

    /// Every ACL, in one request.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// for acl in client.network_acls().list().await? {
    ///     println!("{}: {} in, {} out, used by {:?}", acl.name, acl.ingress.len(), acl.egress.len(), acl.used_by);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/network-acls/network_acls_get_recursion1)
    pub async fn list(&self) -> Result<Vec<NetworkAcl>> {
        self.client.require_api_extension("network_acl").await?;
        self.client
            .get_list("/1.0/network-acls", &[("recursion", "1")])
            .await
    }

    /// One ACL.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let acl = client.network_acls().get("ssh-in").await?;
    /// println!("{:?}", acl.ingress);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/network-acls/network_acl_get)
    pub async fn get(&self, name: &str) -> Result<NetworkAcl> {
        self.client.get_json(&self.path(name).await?, &[]).await
    }

    /// One ACL with its ETag.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let acls = client.network_acls();
    /// let acl = acls.get_with_etag("ssh-in").await?;
    /// let mut put = acl.writable();
    /// put.description = "ssh from anywhere".into();
    /// acls.update("ssh-in", &put, acl.etag.as_ref()).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/network-acls/network_acl_get)
    pub async fn get_with_etag(&self, name: &str) -> Result<Versioned<NetworkAcl>> {
        self.client
            .get_versioned(&self.path(name).await?, &[])
            .await
    }

    /// Whether the ACL exists.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// println!("{}", client.network_acls().exists("ssh-in").await?);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/network-acls/network_acl_get)
    pub async fn exists(&self, name: &str) -> Result<bool> {
        crate::error::found(self.get(name).await)
    }

    /// Creates an ACL; the name is checked first (a host name, so rules can tell it from an
    /// address).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::NetworkAclsPost;
    /// client.network_acls().create(&NetworkAclsPost { name: "empty".into(), ..Default::default() }).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/network-acls/network_acls_post)
    pub async fn create(&self, request: &NetworkAclsPost) -> Result<()> {
        validate_network_acl_name(&request.name)?;
        self.client.require_api_extension("network_acl").await?;
        self.client
            .send(Method::POST, "/1.0/network-acls", &[], Some(request))
            .await?;
        Ok(())
    }

    /// Replaces the ACL's writable fields (`PUT`: the rule lists are replaced whole),
    /// optionally only if unchanged since `etag`.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let acls = client.network_acls();
    /// let mut put = acls.get("ssh-in").await?.writable();
    /// put.egress.clear();
    /// acls.update("ssh-in", &put, None).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/network-acls/network_acl_put)
    pub async fn update(&self, name: &str, put: &NetworkAclPut, etag: Option<&ETag>) -> Result<()> {
        let path = self.path(name).await?;
        self.client
            .send_if_match(Method::PUT, &path, &[], put, etag)
            .await?;
        Ok(())
    }

    /// Changes the ACL with a JSON object (`PATCH`): config keys in `body` are set, the
    /// others kept. LXD 5.0 merges `config` only: `description`, `ingress` and `egress` left
    /// out are reset, so send them along (or use [`update`](Self::update)). Optionally only
    /// if unchanged since `etag`.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let body = serde_json::json!({"config": {"user.owner": "ops"}});
    /// client.network_acls().patch("ssh-in", &body, None).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/network-acls/network_acl_patch)
    pub async fn patch<B: Serialize + ?Sized>(
        &self,
        name: &str,
        body: &B,
        etag: Option<&ETag>,
    ) -> Result<()> {
        let path = self.path(name).await?;
        self.client.send_patch(&path, &[], body, etag).await?;
        Ok(())
    }

    /// Renames an ACL.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// client.network_acls().rename("ssh-in", "admin-in").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/network-acls/network_acl_post)
    pub async fn rename(&self, name: &str, new_name: &str) -> Result<()> {
        let path = self.path(name).await?;
        validate_network_acl_name(new_name)?;
        let body = NetworkAclPost {
            name: new_name.to_string(),
            ..Default::default()
        };
        self.client
            .send(Method::POST, &path, &[], Some(&body))
            .await?;
        Ok(())
    }

    /// Deletes an ACL (LXD refuses while a network, NIC or other ACL uses it).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// client.network_acls().delete("admin-in").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/network-acls/network_acl_delete)
    pub async fn delete(&self, name: &str) -> Result<()> {
        let path = self.path(name).await?;
        self.client
            .send::<()>(Method::DELETE, &path, &[], None)
            .await?;
        Ok(())
    }

    /// The ACL's log of matched `logged` rules, as text (API extension `network_acl_log`;
    /// LXD 5.0 keeps logs for OVN networks only and answers with an error otherwise).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// print!("{}", client.network_acls().log("ssh-in").await?);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/network-acls/network_acl_log_get)
    pub async fn log(&self, name: &str) -> Result<String> {
        let path = format!("{}/log", self.path(name).await?);
        self.client.require_api_extension("network_acl_log").await?;
        self.client.get_text(&path, &[]).await
    }
}
