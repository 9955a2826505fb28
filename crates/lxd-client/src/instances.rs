//! Instances (containers and virtual machines): the core calls. The instances issue grows
//! this into the full lifecycle (snapshots, backups, publish, object save with ETags).

use lxd_proto::{Instance, InstanceStatePut, InstancesPost};
use lxd_transport::http::Method;

use crate::client::Client;
use crate::error::Result;
use crate::operation::Operation;
use crate::path::{name_from_url, segment, validate_instance_name};

/// The instances manager, from [`Client::instances`].
///
/// ```no_run
/// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
/// use lxd_client::proto::{InstanceSource, InstancesPost};
/// let op = client
///     .instances()
///     .create(&InstancesPost {
///         name: "web".into(),
///         source: InstanceSource::image_alias("busybox"),
///         ..Default::default()
///     })
///     .await?;
/// op.wait().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Instances {
    pub(crate) client: Client,
}

impl Client {
    /// The instances manager (containers and virtual machines).
    pub fn instances(&self) -> Instances {
        Instances {
            client: self.clone(),
        }
    }
}

/// `/1.0/instances/<name>`, after checking the name.
pub(crate) fn instance_path(name: &str) -> Result<String> {
    validate_instance_name(name)?;
    Ok(format!("/1.0/instances/{}", segment(name)))
}

impl Instances {
    /// The names of the instances in the client's project.
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instances_get)
    pub async fn list_names(&self) -> Result<Vec<String>> {
        let urls: Vec<String> = self.client.get_json("/1.0/instances", &[]).await?;
        urls.iter().map(|u| name_from_url(u)).collect()
    }

    /// Every instance of the client's project, in one request (`recursion=1`).
    pub async fn list(&self) -> Result<Vec<Instance>> {
        self.client
            .get_json("/1.0/instances", &[("recursion", "1")])
            .await
    }

    /// One instance.
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_get)
    pub async fn get(&self, name: &str) -> Result<Instance> {
        self.client.get_json(&instance_path(name)?, &[]).await
    }

    /// Whether the instance exists.
    pub async fn exists(&self, name: &str) -> Result<bool> {
        match self.get(name).await {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Creates an instance; the name is checked before anything is sent.
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instances_post)
    pub async fn create(&self, request: &InstancesPost) -> Result<Operation> {
        validate_instance_name(&request.name)?;
        self.client
            .send_operation(Method::POST, "/1.0/instances", &[], Some(request))
            .await
    }

    /// Deletes a (stopped) instance.
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_delete)
    pub async fn delete(&self, name: &str) -> Result<Operation> {
        self.client
            .send_operation::<()>(Method::DELETE, &instance_path(name)?, &[], None)
            .await
    }

    /// Changes the instance's state (start, stop, restart, freeze, unfreeze).
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_state_put)
    pub async fn set_state(&self, name: &str, state: &InstanceStatePut) -> Result<Operation> {
        let path = format!("{}/state", instance_path(name)?);
        self.client
            .send_operation(Method::PUT, &path, &[], Some(state))
            .await
    }
}
