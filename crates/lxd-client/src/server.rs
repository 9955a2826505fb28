//! The server itself: its configuration (`PUT`/`PATCH /1.0`), the host's resources
//! (`/1.0/resources`) and its metrics (`/1.0/metrics`).

use lxd_proto::{Resources, Server, ServerPut};
use lxd_transport::http::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::client::{Client, decode_metadata};
use crate::error::{Error, Result};
use crate::etag::{ETag, Versioned};

impl Client {
    /// The server's information fetched now (not the cached copy), with its ETag, for a
    /// later [`update_server`](Self::update_server) or [`patch_server`](Self::patch_server).
    /// The cached copy [`server`](Self::server) returns is dropped, so it is fetched again.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let server = client.server_with_etag().await?;
    /// println!("{:?}", server.config.get("core.https_address"));
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/server/server_get)
    pub async fn server_with_etag(&self) -> Result<Versioned<Server>> {
        let versioned: Versioned<Server> = self.get_versioned("/1.0", &[]).await?;
        self.forget_server();
        Ok(versioned)
    }

    /// The server configuration (`config` of `GET /1.0`, fetched now) with its ETag.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let config = client.server_config().await?;
    /// for (key, value) in config.value.iter() {
    ///     println!("{key} = {value}");
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/server/server_get)
    pub async fn server_config(
        &self,
    ) -> Result<Versioned<lxd_proto::Map<String, lxd_proto::Value>>> {
        let Versioned { value, etag } = self.server_with_etag().await?;
        Ok(Versioned {
            value: value.config,
            etag,
        })
    }

    /// Replaces the server configuration (`PUT /1.0`). Keys left out are RESET, including
    /// `core.https_address`: start from [`Server::to_put`] of a fresh read. With `etag`, fails
    /// with [`Error::is_precondition_failed`] if the configuration changed since.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let server = client.server_with_etag().await?;
    /// let mut put = server.to_put();
    /// put.config.insert("images.auto_update_interval".into(), "0".into());
    /// client.update_server(&put, server.etag.as_ref()).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/server/server_put)
    pub async fn update_server(&self, put: &ServerPut, etag: Option<&ETag>) -> Result<()> {
        let result = self
            .write_if_match(Method::PUT, "/1.0", &[], put, etag)
            .await;
        // Whatever happened (a timeout may hide a success), the cached copy may be stale.
        self.forget_server();
        result
    }

    /// Changes only the keys in `body` (`PATCH /1.0`, e.g. `{"config": {"key": "value"}}`;
    /// an empty string unsets a key). `etag` as for [`update_server`](Self::update_server).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let body = serde_json::json!({"config": {"core.https_address": "127.0.0.1:8443"}});
    /// client.patch_server(&body, None).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/server/server_patch)
    pub async fn patch_server<B: Serialize + ?Sized>(
        &self,
        body: &B,
        etag: Option<&ETag>,
    ) -> Result<()> {
        let result = self.write_patch("/1.0", &[], body, etag).await;
        self.forget_server();
        result
    }

    /// Sets (or with `""` unsets) one server configuration key (`PATCH /1.0`).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// client.set_server_config("images.auto_update_interval", "0").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/server/server_patch)
    pub async fn set_server_config(&self, key: &str, value: &str) -> Result<()> {
        if key.is_empty() {
            return Err(Error::invalid("server config key", "empty"));
        }
        let body = serde_json::json!({ "config": { key: value } });
        self.patch_server(&body, None).await
    }

    /// The host's hardware: CPUs, memory, GPUs, NICs, disks, USB and PCI devices (API
    /// extension `resources`).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let r = client.resources().await?;
    /// println!("{} threads, {} bytes of memory", r.cpu.total, r.memory.total);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/server/resources_get)
    pub async fn resources(&self) -> Result<Resources> {
        self.require_api_extension("resources").await?;
        self.get_json("/1.0/resources", &[]).await
    }

    /// The server's metrics in the OpenMetrics text format (API extension `metrics`), for
    /// the client's project if it has one, else for all projects.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let text = client.metrics().await?;
    /// for line in text.lines().filter(|l| l.starts_with("lxd_memory_MemTotal_bytes")) {
    ///     println!("{line}");
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/metrics/metrics_get)
    pub async fn metrics(&self) -> Result<String> {
        self.require_api_extension("metrics").await?;
        self.get_text("/1.0/metrics", &[]).await
    }

    /// `GET` a list: LXD (Go) sends `null` for an empty one (5.0.2's warnings do), which is
    /// an empty list here.
    pub(crate) async fn get_list<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Vec<T>> {
        let request = self.request(Method::GET, path, query);
        let reply = self.execute_limited(request, self.listing_limit()).await?;
        let list: Option<Vec<T>> = decode_metadata(&format!("GET {path}"), reply.envelope)?;
        Ok(list.unwrap_or_default())
    }

    /// `GET` an endpoint that answers with text, not LXD's JSON envelope (metrics, logs).
    /// Errors still come as LXD's envelope and become [`Error::Api`].
    pub(crate) async fn get_text(&self, path: &str, query: &[(&str, &str)]) -> Result<String> {
        let request = self.request(Method::GET, path, query);
        let response = self.send_raw(request).await?;
        let bytes = response.bytes().await?;
        String::from_utf8(bytes.to_vec()).map_err(|e| {
            let reason = e.utf8_error();
            Error::malformed(format!("GET {path}"), reason, e.as_bytes())
        })
    }
}
