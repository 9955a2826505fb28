//! Network ACLs (`/1.0/network-acls`, API extension `network_acl`): named rule sets that
//! networks and NICs apply through `security.acls`. Scoped to the client's project.

use lxd_proto::{NetworkAcl, NetworkAclPost, NetworkAclPut, NetworkAclsPost};
use serde::Serialize;

use crate::client::Client;
use crate::collection::{Collection, CollectionPath};
use crate::error::Result;
use crate::etag::{ETag, Versioned};
use crate::path::validate_network_acl_name;

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

/// `/1.0/network-acls`: names checked by [`validate_network_acl_name`], API extension
/// `network_acl`.
const ACLS: CollectionPath = CollectionPath::new("/1.0/network-acls", validate_network_acl_name)
    .with_extension("network_acl");

impl NetworkAcls {
    /// This manager's collection requests.
    fn collection(&self) -> Collection<'_> {
        ACLS.on(&self.client)
    }

    /// `/1.0/network-acls/<name>` after checking the name, once the server is known to have
    /// ACLs.
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
        self.collection().names().await
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
        self.collection().list().await
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
        self.collection().get(name).await
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
        self.collection().get_versioned(name).await
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
        self.collection().exists(name).await
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
        self.collection().create(&request.name, request).await
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
        self.collection().update(name, put, etag).await
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
        self.collection().patch(name, body, etag).await
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
        let body = NetworkAclPost {
            name: new_name.to_string(),
            ..Default::default()
        };
        self.collection().rename(name, new_name, &body).await
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
        self.collection().delete(name).await
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
        let path = format!("{}/log", ACLS.path(name)?);
        self.client.require_api_extension("network_acl_log").await?;
        self.client.get_text(&path, &[]).await
    }
}
