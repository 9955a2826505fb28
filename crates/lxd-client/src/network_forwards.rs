//! Network forwards (`/1.0/networks/<network>/forwards`, API extension `network_forward`):
//! a listen address on a bridge or OVN network forwarded to addresses inside it. Forwards are
//! keyed by their listen address and cannot be renamed.

use std::net::IpAddr;

use lxd_proto::{NetworkForward, NetworkForwardPut, NetworkForwardsPost};
use lxd_transport::http::Method;
use serde::Serialize;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::etag::{ETag, Versioned};
use crate::networks::network_path;
use crate::path::{names_from_urls, segment};

/// The forwards of one network, from [`Networks::forwards`](crate::Networks::forwards).
///
/// ```no_run
/// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
/// use lxd_client::proto::{NetworkForwardPort, NetworkForwardsPost};
/// let forwards = client.networks().forwards("lxdbr0");
/// forwards
///     .create(&NetworkForwardsPost {
///         listen_address: "192.0.2.10".into(),
///         ports: vec![NetworkForwardPort {
///             protocol: "tcp".into(),
///             listen_port: "80".into(),
///             target_address: "10.0.0.5".into(),
///             ..Default::default()
///         }],
///         ..Default::default()
///     })
///     .await?;
/// forwards.delete("192.0.2.10").await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct NetworkForwards {
    client: Client,
    network: String,
}

/// Checks a listen address: forwards are keyed by an IP address.
fn check_address(address: &str) -> Result<()> {
    address.parse::<IpAddr>().map(|_| ()).map_err(|_| {
        Error::invalid(
            "listen address",
            format!("{address:?} is not an IP address"),
        )
    })
}

impl NetworkForwards {
    pub(crate) fn new(client: Client, network: &str) -> NetworkForwards {
        NetworkForwards {
            client,
            network: network.to_string(),
        }
    }

    /// The network these forwards belong to.
    ///
    /// ```
    /// # fn main() -> Result<(), lxd_client::Error> {
    /// # let client = lxd_client::Client::https("https://lxd.example:8443").build()?;
    /// let forwards = client.networks().forwards("lxdbr0");
    /// assert_eq!(forwards.network(), "lxdbr0");
    /// # Ok(()) }
    /// ```
    pub fn network(&self) -> &str {
        &self.network
    }

    async fn base(&self) -> Result<String> {
        let path = format!("{}/forwards", network_path(&self.network)?);
        self.client.require_api_extension("network_forward").await?;
        Ok(path)
    }

    async fn item(&self, listen_address: &str) -> Result<String> {
        check_address(listen_address)?;
        Ok(format!(
            "{}/{}",
            self.base().await?,
            segment(listen_address)
        ))
    }

    /// The listen addresses of the network's forwards.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// println!("{:?}", client.networks().forwards("lxdbr0").list_addresses().await?);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/network-forwards/network_forwards_get)
    pub async fn list_addresses(&self) -> Result<Vec<String>> {
        let urls: Vec<String> = self.client.get_list(&self.base().await?, &[]).await?;
        names_from_urls(&urls)
    }

    /// Every forward of the network, in one request.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// for f in client.networks().forwards("lxdbr0").list().await? {
    ///     println!("{} ({} port rules)", f.listen_address, f.ports.len());
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/network-forwards/network_forward_get_recursion1)
    pub async fn list(&self) -> Result<Vec<NetworkForward>> {
        self.client
            .get_list(&self.base().await?, &[("recursion", "1")])
            .await
    }

    /// One forward, by listen address.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let f = client.networks().forwards("lxdbr0").get("192.0.2.10").await?;
    /// println!("{:?}", f.ports);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/network-forwards/network_forward_get)
    pub async fn get(&self, listen_address: &str) -> Result<NetworkForward> {
        self.client
            .get_json(&self.item(listen_address).await?, &[])
            .await
    }

    /// One forward with its ETag.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let forwards = client.networks().forwards("lxdbr0");
    /// let f = forwards.get_with_etag("192.0.2.10").await?;
    /// let mut put = f.writable();
    /// put.description = "web".into();
    /// forwards.update("192.0.2.10", &put, f.etag.as_ref()).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/network-forwards/network_forward_get)
    pub async fn get_with_etag(&self, listen_address: &str) -> Result<Versioned<NetworkForward>> {
        self.client
            .get_versioned(&self.item(listen_address).await?, &[])
            .await
    }

    /// Whether a forward with this listen address exists.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// println!("{}", client.networks().forwards("lxdbr0").exists("192.0.2.10").await?);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/network-forwards/network_forward_get)
    pub async fn exists(&self, listen_address: &str) -> Result<bool> {
        crate::error::found(self.get(listen_address).await)
    }

    /// Creates a forward.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::NetworkForwardsPost;
    /// let request = NetworkForwardsPost { listen_address: "192.0.2.10".into(), ..Default::default() };
    /// client.networks().forwards("lxdbr0").create(&request).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/network-forwards/network_forwards_post)
    pub async fn create(&self, request: &NetworkForwardsPost) -> Result<()> {
        check_address(&request.listen_address)?;
        self.client
            .write(Method::POST, &self.base().await?, &[], Some(request))
            .await
    }

    /// Replaces a forward's writable fields (`PUT`), optionally only if unchanged since
    /// `etag`.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let forwards = client.networks().forwards("lxdbr0");
    /// let mut put = forwards.get("192.0.2.10").await?.writable();
    /// put.ports.clear();
    /// forwards.update("192.0.2.10", &put, None).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/network-forwards/network_forward_put)
    pub async fn update(
        &self,
        listen_address: &str,
        put: &NetworkForwardPut,
        etag: Option<&ETag>,
    ) -> Result<()> {
        let path = self.item(listen_address).await?;
        self.client
            .write_if_match(Method::PUT, &path, &[], put, etag)
            .await
    }

    /// Changes the forward with a JSON object (`PATCH`): config keys are merged, `ports` kept
    /// when left out; LXD 5.0 resets a `description` left out, so send it along. Optionally
    /// only if unchanged since `etag`.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let body = serde_json::json!({"description": "web"});
    /// client.networks().forwards("lxdbr0").patch("192.0.2.10", &body, None).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/network-forwards/network_forward_patch)
    pub async fn patch<B: Serialize + ?Sized>(
        &self,
        listen_address: &str,
        body: &B,
        etag: Option<&ETag>,
    ) -> Result<()> {
        let path = self.item(listen_address).await?;
        self.client.write_patch(&path, &[], body, etag).await
    }

    /// Deletes a forward.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// client.networks().forwards("lxdbr0").delete("192.0.2.10").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/network-forwards/network_forward_delete)
    pub async fn delete(&self, listen_address: &str) -> Result<()> {
        let path = self.item(listen_address).await?;
        self.client
            .write::<()>(Method::DELETE, &path, &[], None)
            .await
    }
}
