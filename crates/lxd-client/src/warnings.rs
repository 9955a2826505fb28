//! Warnings (`/1.0/warnings`, API extension `warnings`): problems the server noticed. With a
//! project set, only that project's warnings are listed; without, all of them (server-wide
//! ones included).

use lxd_proto::{Warning, WarningPut, WarningStatus};
use lxd_transport::http::Method;
use serde::Serialize;

use crate::client::Client;
use crate::error::Result;
use crate::path::{names_from_urls, segment, validate_hex_key};

/// The warnings manager, from [`Client::warnings`]. LXD sends no ETag for warnings, so
/// changes are unconditional.
///
/// ```no_run
/// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
/// use lxd_client::proto::WarningStatus;
/// let warnings = client.warnings();
/// for w in warnings.list().await? {
///     if w.status == WarningStatus::New {
///         println!("{}: {} ({}x)", w.warning_type, w.last_message, w.count);
///         warnings.acknowledge(&w.uuid).await?;
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Warnings {
    client: Client,
}

impl Client {
    /// The warnings manager.
    ///
    /// It manages `/1.0/warnings`.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let warnings = client.warnings();
    /// for uuid in warnings.list_uuids().await? {
    ///     warnings.delete(&uuid).await?;
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/warnings/warnings_get)
    pub fn warnings(&self) -> Warnings {
        Warnings {
            client: self.clone(),
        }
    }
}

impl Warnings {
    async fn path(&self, uuid: &str) -> Result<String> {
        validate_hex_key("warning UUID", uuid)?;
        self.client.require_api_extension("warnings").await?;
        Ok(format!("/1.0/warnings/{}", segment(uuid)))
    }

    /// The UUIDs of the warnings.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// println!("{:?}", client.warnings().list_uuids().await?);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/warnings/warnings_get)
    pub async fn list_uuids(&self) -> Result<Vec<String>> {
        self.client.require_api_extension("warnings").await?;
        let urls: Vec<String> = self.client.get_list("/1.0/warnings", &[]).await?;
        names_from_urls(&urls)
    }

    /// Every warning, in one request.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// for w in client.warnings().list().await? {
    ///     println!("[{}] {} {}", w.severity, w.warning_type, w.last_message);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/warnings/warnings_get_recursion1)
    pub async fn list(&self) -> Result<Vec<Warning>> {
        self.client.require_api_extension("warnings").await?;
        self.client
            .get_list("/1.0/warnings", &[("recursion", "1")])
            .await
    }

    /// One warning.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let w = client.warnings().get("55d76e3b-8202-4592-b9d4-50b175be722f").await?;
    /// println!("{} since {}", w.last_message, w.first_seen_at);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/warnings/warning_get)
    pub async fn get(&self, uuid: &str) -> Result<Warning> {
        self.client.get_json(&self.path(uuid).await?, &[]).await
    }

    /// Whether the warning exists.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// println!("{}", client.warnings().exists("55d76e3b-8202-4592-b9d4-50b175be722f").await?);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/warnings/warning_get)
    pub async fn exists(&self, uuid: &str) -> Result<bool> {
        crate::error::found(self.get(uuid).await)
    }

    /// Sets the warning's status (`PUT`; LXD accepts `acknowledged` and `new`).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::{WarningPut, WarningStatus};
    /// let put = WarningPut::new(WarningStatus::New);
    /// client.warnings().update("55d76e3b-8202-4592-b9d4-50b175be722f", &put).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/warnings/warning_put)
    pub async fn update(&self, uuid: &str, put: &WarningPut) -> Result<()> {
        let path = self.path(uuid).await?;
        self.client.write(Method::PUT, &path, &[], Some(put)).await
    }

    /// Changes only what `body` names (`PATCH`).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let body = serde_json::json!({"status": "acknowledged"});
    /// client.warnings().patch("55d76e3b-8202-4592-b9d4-50b175be722f", &body).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/warnings/warning_patch)
    pub async fn patch<B: Serialize + ?Sized>(&self, uuid: &str, body: &B) -> Result<()> {
        let path = self.path(uuid).await?;
        self.client.write_patch(&path, &[], body, None).await
    }

    /// Acknowledges the warning: it stays, but no longer counts as new.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// client.warnings().acknowledge("55d76e3b-8202-4592-b9d4-50b175be722f").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/warnings/warning_put)
    pub async fn acknowledge(&self, uuid: &str) -> Result<()> {
        self.update(uuid, &WarningPut::new(WarningStatus::Acknowledged))
            .await
    }

    /// Deletes the warning (it comes back if the problem recurs).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// client.warnings().delete("55d76e3b-8202-4592-b9d4-50b175be722f").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/warnings/warning_delete)
    pub async fn delete(&self, uuid: &str) -> Result<()> {
        let path = self.path(uuid).await?;
        self.client
            .write::<()>(Method::DELETE, &path, &[], None)
            .await
    }
}
