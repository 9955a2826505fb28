//! Networks (`/1.0/networks`): managed networks and the host interfaces LXD shows, their
//! state and DHCP leases. Scoped to the client's project (projects with `features.networks`
//! have their own).

use lxd_proto::{Network, NetworkLease, NetworkPost, NetworkPut, NetworkState, NetworksPost};
use serde::Serialize;

use crate::client::Client;
use crate::collection::{Collection, CollectionPath};
use crate::error::Result;
use crate::etag::{ETag, Versioned};
use crate::network_forwards::NetworkForwards;
use crate::path::validate_network_name;

/// The networks manager, from [`Client::networks`].
///
/// ```no_run
/// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
/// use lxd_client::proto::{NetworkType, NetworksPost};
/// let networks = client.networks();
/// networks
///     .create(&NetworksPost {
///         name: "br-test".into(),
///         network_type: Some(NetworkType::Bridge),
///         config: [("ipv4.address".into(), "none".into()), ("ipv6.address".into(), "none".into())]
///             .into(),
///         ..Default::default()
///     })
///     .await?;
/// println!("{:?}", networks.state("br-test").await?.state);
/// networks.delete("br-test").await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Networks {
    client: Client,
}

impl Client {
    /// The networks manager.
    ///
    /// It manages `/1.0/networks` in the client's project.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let networks = client.networks();
    /// for network in networks.list().await? {
    ///     if network.managed {
    ///         println!("{} {:?}", network.name, networks.state(&network.name).await?.addresses);
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/networks/networks_get)
    pub fn networks(&self) -> Networks {
        Networks {
            client: self.clone(),
        }
    }
}

/// `/1.0/networks/<name>`, after checking the name.
/// `/1.0/networks`: names checked by [`validate_network_name`].
pub(crate) const NETWORKS: CollectionPath =
    CollectionPath::new("/1.0/networks", validate_network_name);

pub(crate) fn network_path(name: &str) -> Result<String> {
    NETWORKS.path(name)
}

impl Networks {
    /// This manager's collection requests.
    fn collection(&self) -> Collection<'_> {
        NETWORKS.on(&self.client)
    }

    /// The names of the networks (managed ones and host interfaces).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// println!("{:?}", client.networks().list_names().await?);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/networks/networks_get)
    pub async fn list_names(&self) -> Result<Vec<String>> {
        self.collection().names().await
    }

    /// Every network, in one request.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// for n in client.networks().list().await? {
    ///     println!("{} {} managed={}", n.name, n.network_type, n.managed);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/networks/networks_get_recursion1)
    pub async fn list(&self) -> Result<Vec<Network>> {
        self.collection().list().await
    }

    /// One network.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let n = client.networks().get("lxdbr0").await?;
    /// println!("{:?}", n.config.get("ipv4.address"));
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/networks/network_get)
    pub async fn get(&self, name: &str) -> Result<Network> {
        self.collection().get(name).await
    }

    /// One network with its ETag, for a later [`update`](Self::update) or
    /// [`patch`](Self::patch) that must not overwrite a concurrent change.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let networks = client.networks();
    /// let current = networks.get_with_etag("lxdbr0").await?;
    /// let mut put = current.writable();
    /// put.description = "main bridge".into();
    /// networks.update("lxdbr0", &put, current.etag.as_ref()).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/networks/network_get)
    pub async fn get_with_etag(&self, name: &str) -> Result<Versioned<Network>> {
        self.collection().get_versioned(name).await
    }

    /// Whether the network exists.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// if !client.networks().exists("lxdbr0").await? { println!("no bridge"); }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/networks/network_get)
    pub async fn exists(&self, name: &str) -> Result<bool> {
        self.collection().exists(name).await
    }

    /// Creates a network. The name is checked before anything is sent; a duplicate name is
    /// LXD's conflict error, an unknown type or bad config LXD's bad request.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::NetworksPost;
    /// client.networks().create(&NetworksPost { name: "br1".into(), ..Default::default() }).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/networks/networks_post)
    pub async fn create(&self, request: &NetworksPost) -> Result<()> {
        self.collection().create(&request.name, request).await
    }

    /// Replaces the network's writable fields (`PUT`): config keys left out are reset. With
    /// `etag`, fails with [`Error::is_precondition_failed`](crate::Error::is_precondition_failed)
    /// if the network changed since it was read.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let networks = client.networks();
    /// let mut put = networks.get("br1").await?.writable();
    /// put.config.insert("bridge.mtu".into(), "1400".into());
    /// networks.update("br1", &put, None).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/networks/network_put)
    pub async fn update(&self, name: &str, put: &NetworkPut, etag: Option<&ETag>) -> Result<()> {
        self.collection().update(name, put, etag).await
    }

    /// Changes the network with a JSON object (`PATCH`, e.g. `{"config": {"bridge.mtu":
    /// "1400"}}`): config keys in `body` are set, the others kept. LXD 5.0 merges `config`
    /// only: a `description` left out is reset, so send it along (or read with
    /// [`get_with_etag`](Self::get_with_etag) and [`update`](Self::update)). `etag` as for
    /// `update`.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let body = serde_json::json!({"config": {"bridge.mtu": "1400"}});
    /// client.networks().patch("br1", &body, None).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/networks/network_patch)
    pub async fn patch<B: Serialize + ?Sized>(
        &self,
        name: &str,
        body: &B,
        etag: Option<&ETag>,
    ) -> Result<()> {
        self.collection().patch(name, body, etag).await
    }

    /// Renames a network (LXD refuses while it is in use).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// client.networks().rename("br1", "br2").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/networks/network_post)
    pub async fn rename(&self, name: &str, new_name: &str) -> Result<()> {
        let body = NetworkPost {
            name: new_name.to_string(),
            ..Default::default()
        };
        self.collection().rename(name, new_name, &body).await
    }

    /// Deletes a network (LXD refuses while instances or profiles use it).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// client.networks().delete("br2").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/networks/network_delete)
    pub async fn delete(&self, name: &str) -> Result<()> {
        self.collection().delete(name).await
    }

    /// The live state of the network's interface: addresses, counters, bridge/bond/VLAN
    /// details (API extension `network_state`).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let state = client.networks().state("lxdbr0").await?;
    /// println!("{} bytes sent", state.counters.bytes_sent);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/networks/networks_state_get)
    pub async fn state(&self, name: &str) -> Result<NetworkState> {
        let path = format!("{}/state", network_path(name)?);
        self.client.require_api_extension("network_state").await?;
        self.client.get_json(&path, &[]).await
    }

    /// DHCP leases and static allocations of a managed network (API extension
    /// `network_leases`; LXD answers with an error for network types without leases).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// for lease in client.networks().leases("lxdbr0").await? {
    ///     println!("{} {} {}", lease.hostname, lease.address, lease.lease_type);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/networks/networks_leases_get)
    pub async fn leases(&self, name: &str) -> Result<Vec<NetworkLease>> {
        let path = format!("{}/leases", network_path(name)?);
        self.client.require_api_extension("network_leases").await?;
        self.client.get_list(&path, &[]).await
    }

    /// The forwards of a network (API extension `network_forward`).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// for f in client.networks().forwards("lxdbr0").list().await? {
    ///     println!("{} -> {:?}", f.listen_address, f.config.get("target_address"));
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/network-forwards/network_forwards_get)
    pub fn forwards(&self, network: &str) -> NetworkForwards {
        NetworkForwards::new(self.client.clone(), network)
    }
}
