//! [`InstanceObject`]: one instance as a value you edit and save, pylxd's object lifecycle in
//! Rust form (sync, dirty tracking, rollback, save) with the ETag making saves safe.

use std::collections::BTreeMap;
use std::ops::{Deref, DerefMut};
use std::time::Duration;

use lxd_proto::{
    Image, ImagesPost, Instance, InstancePut, InstanceState, InstanceStatePut, StatusCode,
};
use serde::Serialize;
use serde_json::Value;

use crate::backups::InstanceBackups;
use crate::error::{Error, Result};
use crate::etag::ETag;
use crate::instance_logs::InstanceLogs;
use crate::instances::Instances;
use crate::snapshots::InstanceSnapshots;

/// One instance: the [`Instance`] as LXD sent it, your changes to it, and its ETag. From
/// [`Instances::object`] or [`Instances::create_and_wait`].
///
/// It dereferences to the [`Instance`], so fields are read and changed in place; nothing is
/// sent until [`save`](Self::save).
///
/// - [`is_dirty`](Self::is_dirty) / [`changed_fields`](Self::changed_fields) tell what you
///   changed in the writable part (config, devices, profiles, description, ...);
///   [`rollback`](Self::rollback) drops those changes.
/// - [`save`](Self::save) sends them with `If-Match: <ETag>`: if the instance changed on the
///   server since it was read, LXD refuses (`is_precondition_failed()`) instead of silently
///   overwriting the other change. [`sync`](Self::sync) then re-reads it and keeps your
///   changes on top, key by key, ready to save again.
/// - Actions ([`start`](Self::start), [`stop`](Self::stop), [`rename`](Self::rename), ...)
///   wait for their operation and then [`sync`](Self::sync).
///
/// LXD 5.0 computes an instance's ETag from architecture, config, devices, ephemeral and
/// profiles: a concurrent change of only the description is not detected by the server.
///
/// ```no_run
/// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
/// let mut web = client.instances().object("web").await?;
/// web.config.insert("limits.cpu".into(), "2".into());
/// web.description = "front end".into();
/// assert!(web.is_dirty());
/// match web.save().await {
///     Ok(()) => {}
///     Err(e) if e.is_precondition_failed() => {
///         web.sync().await?; // someone else changed it: re-read, keep our changes on top
///         web.save().await?;
///     }
///     Err(e) => return Err(e),
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct InstanceObject {
    instances: Instances,
    etag: Option<ETag>,
    /// As last read from the server.
    original: Instance,
    /// `original` plus the caller's changes.
    model: Instance,
}

impl Deref for InstanceObject {
    type Target = Instance;

    fn deref(&self) -> &Instance {
        &self.model
    }
}

impl DerefMut for InstanceObject {
    fn deref_mut(&mut self) -> &mut Instance {
        &mut self.model
    }
}

impl InstanceObject {
    pub(crate) fn new(instances: Instances, instance: Instance, etag: Option<ETag>) -> Self {
        InstanceObject {
            instances,
            etag,
            original: instance.clone(),
            model: instance,
        }
    }

    /// The instance's name on the server (unchanged by edits to `name`: use
    /// [`rename`](Self::rename)).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = lxd_testkit::TestServer::start().await?;
    /// # let client = lxd_client::Client::unix(server.socket_path())?;
    /// # let request = lxd_client::proto::InstancesPost {
    /// #     name: "web".into(),
    /// #     source: lxd_client::proto::InstanceSource::image_alias("busybox"),
    /// #     ..Default::default()
    /// # };
    /// # client.instances().create(&request).await?.wait().await?;
    /// let mut web = client.instances().object("web").await?;
    /// web.name = "web2".into(); // an edit of the model, not a rename:
    /// assert_eq!(web.name(), "web");
    /// # Ok(()) }
    /// ```
    pub fn name(&self) -> &str {
        &self.original.name
    }

    /// The ETag of the instance as last read; [`save`](Self::save) sends it as `If-Match`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = lxd_testkit::TestServer::start().await?;
    /// # let client = lxd_client::Client::unix(server.socket_path())?;
    /// # let request = lxd_client::proto::InstancesPost {
    /// #     name: "web".into(),
    /// #     source: lxd_client::proto::InstanceSource::image_alias("busybox"),
    /// #     ..Default::default()
    /// # };
    /// # client.instances().create(&request).await?.wait().await?;
    /// let web = client.instances().object("web").await?;
    /// let etag = web.etag().expect("LXD sends an instance's ETag");
    /// println!("If-Match: {}", etag.as_str());
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_get)
    pub fn etag(&self) -> Option<&ETag> {
        self.etag.as_ref()
    }

    /// The instance as last read from the server, without your changes.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = lxd_testkit::TestServer::start().await?;
    /// # let client = lxd_client::Client::unix(server.socket_path())?;
    /// # let request = lxd_client::proto::InstancesPost {
    /// #     name: "web".into(),
    /// #     source: lxd_client::proto::InstanceSource::image_alias("busybox"),
    /// #     ..Default::default()
    /// # };
    /// # client.instances().create(&request).await?.wait().await?;
    /// let mut web = client.instances().object("web").await?;
    /// web.config.insert("limits.cpu".into(), "2".into());
    /// assert!(!web.original().config.contains_key("limits.cpu"));
    /// assert_eq!(web.config["limits.cpu"], "2");
    /// # Ok(()) }
    /// ```
    pub fn original(&self) -> &Instance {
        &self.original
    }

    /// The instance with your changes.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = lxd_testkit::TestServer::start().await?;
    /// # let client = lxd_client::Client::unix(server.socket_path())?;
    /// # let request = lxd_client::proto::InstancesPost {
    /// #     name: "web".into(),
    /// #     source: lxd_client::proto::InstanceSource::image_alias("busybox"),
    /// #     ..Default::default()
    /// # };
    /// # client.instances().create(&request).await?.wait().await?;
    /// let mut web = client.instances().object("web").await?;
    /// web.description = "front end".into();
    /// let model: &lxd_client::proto::Instance = web.model();
    /// assert_eq!(model.description, "front end");
    /// # Ok(()) }
    /// ```
    pub fn model(&self) -> &Instance {
        &self.model
    }

    /// The instance with your changes, for editing.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = lxd_testkit::TestServer::start().await?;
    /// # let client = lxd_client::Client::unix(server.socket_path())?;
    /// # let request = lxd_client::proto::InstancesPost {
    /// #     name: "web".into(),
    /// #     source: lxd_client::proto::InstanceSource::image_alias("busybox"),
    /// #     ..Default::default()
    /// # };
    /// # client.instances().create(&request).await?.wait().await?;
    /// fn tag(instance: &mut lxd_client::proto::Instance, role: &str) {
    ///     instance.config.insert("user.role".into(), role.into());
    /// }
    /// let mut web = client.instances().object("web").await?;
    /// tag(web.model_mut(), "frontend");
    /// assert_eq!(web.changed_fields(), ["config"]);
    /// # Ok(()) }
    /// ```
    pub fn model_mut(&mut self) -> &mut Instance {
        &mut self.model
    }

    /// The instance with your changes, as a plain value.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = lxd_testkit::TestServer::start().await?;
    /// # let client = lxd_client::Client::unix(server.socket_path())?;
    /// # let request = lxd_client::proto::InstancesPost {
    /// #     name: "web".into(),
    /// #     source: lxd_client::proto::InstanceSource::image_alias("busybox"),
    /// #     ..Default::default()
    /// # };
    /// # client.instances().create(&request).await?.wait().await?;
    /// let mut web = client.instances().object("web").await?;
    /// web.description = "draft".into();
    /// let instance = web.into_model(); // a plain Instance, unsaved change included
    /// assert_eq!(instance.description, "draft");
    /// # Ok(()) }
    /// ```
    pub fn into_model(self) -> Instance {
        self.model
    }

    /// The manager this object was read through.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = lxd_testkit::TestServer::start().await?;
    /// # let client = lxd_client::Client::unix(server.socket_path())?;
    /// # let request = lxd_client::proto::InstancesPost {
    /// #     name: "web".into(),
    /// #     source: lxd_client::proto::InstanceSource::image_alias("busybox"),
    /// #     ..Default::default()
    /// # };
    /// # client.instances().create(&request).await?.wait().await?;
    /// let web = client.instances().object("web").await?;
    /// let names = web.manager().list_names().await?;
    /// assert_eq!(names, ["web"]);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instances_get)
    pub fn manager(&self) -> &Instances {
        &self.instances
    }

    /// Whether the writable part (architecture, config, devices, ephemeral, profiles,
    /// stateful, description, unknown fields) differs from what was read.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let mut web = client.instances().object("web").await?;
    /// assert!(!web.is_dirty());
    /// web.profiles.push("gpu".into());
    /// assert!(web.is_dirty());
    /// assert_eq!(web.changed_fields(), ["profiles"]);
    /// # Ok(()) }
    /// ```
    pub fn is_dirty(&self) -> bool {
        self.model.writable() != self.original.writable()
    }

    /// The names of the writable fields you changed (JSON names, unknown fields included).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = lxd_testkit::TestServer::start().await?;
    /// # let client = lxd_client::Client::unix(server.socket_path())?;
    /// # let request = lxd_client::proto::InstancesPost {
    /// #     name: "web".into(),
    /// #     source: lxd_client::proto::InstanceSource::image_alias("busybox"),
    /// #     ..Default::default()
    /// # };
    /// # client.instances().create(&request).await?.wait().await?;
    /// let mut web = client.instances().object("web").await?;
    /// web.config.insert("limits.memory".into(), "1GiB".into());
    /// web.description = "front end".into();
    /// assert_eq!(web.changed_fields(), ["config", "description"]);
    /// # Ok(()) }
    /// ```
    pub fn changed_fields(&self) -> Vec<String> {
        let (now, was) = (self.model.writable(), self.original.writable());
        let mut changed = Vec::new();
        let mut check = |name: &str, differs: bool| {
            if differs {
                changed.push(name.to_string());
            }
        };
        check("architecture", now.architecture != was.architecture);
        check("config", now.config != was.config);
        check("devices", now.devices != was.devices);
        check("ephemeral", now.ephemeral != was.ephemeral);
        check("profiles", now.profiles != was.profiles);
        check("stateful", now.stateful != was.stateful);
        check("description", now.description != was.description);
        let keys: std::collections::BTreeSet<&String> =
            now.extra.keys().chain(was.extra.keys()).collect();
        for key in keys {
            check(key, now.extra.get(key) != was.extra.get(key));
        }
        changed
    }

    /// Drops your changes: the object is again what was last read.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = lxd_testkit::TestServer::start().await?;
    /// # let client = lxd_client::Client::unix(server.socket_path())?;
    /// # let request = lxd_client::proto::InstancesPost {
    /// #     name: "web".into(),
    /// #     source: lxd_client::proto::InstanceSource::image_alias("busybox"),
    /// #     ..Default::default()
    /// # };
    /// # client.instances().create(&request).await?.wait().await?;
    /// let mut web = client.instances().object("web").await?;
    /// web.profiles.clear();
    /// assert!(web.is_dirty());
    /// web.rollback();
    /// assert!(!web.is_dirty());
    /// assert_eq!(web.profiles, ["default"]);
    /// # Ok(()) }
    /// ```
    pub fn rollback(&mut self) {
        self.model = self.original.clone();
    }

    /// Re-reads the instance (and its ETag) from the server. Your unsaved changes are kept
    /// on top of the fresh data: map entries (config keys, devices, unknown fields) one by
    /// one, other fields whole; what you did not change takes the server's value.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let mut web = client.instances().object("web").await?;
    /// web.sync().await?;
    /// println!("{}", web.status);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_get)
    pub async fn sync(&mut self) -> Result<()> {
        let (fresh, etag) = self.instances.fetch(&self.original.name).await?;
        self.rebase(fresh, etag);
        Ok(())
    }

    /// Takes `fresh` as the new original and re-applies the caller's changes to it.
    fn rebase(&mut self, fresh: Instance, etag: Option<ETag>) {
        let mut model = fresh.clone();
        let (now, was) = (&self.model, &self.original);
        merge_map(&mut model.config, &now.config, &was.config);
        merge_map(&mut model.devices, &now.devices, &was.devices);
        merge_map(&mut model.extra, &now.extra, &was.extra);
        if now.architecture != was.architecture {
            model.architecture = now.architecture.clone();
        }
        if now.ephemeral != was.ephemeral {
            model.ephemeral = now.ephemeral;
        }
        if now.profiles != was.profiles {
            model.profiles = now.profiles.clone();
        }
        if now.stateful != was.stateful {
            model.stateful = now.stateful;
        }
        if now.description != was.description {
            model.description = now.description.clone();
        }
        self.original = fresh;
        self.model = model;
        self.etag = etag;
    }

    /// Sends your changes (`PUT` of the writable part, `If-Match: <ETag>`), waits, and
    /// re-reads the instance. Does nothing when nothing changed.
    ///
    /// A concurrent change on the server makes LXD refuse with HTTP 412
    /// (`is_precondition_failed()`, LXD's message "ETag doesn't match"); your changes stay
    /// in the object. An instance deleted meanwhile gives `is_not_found()`.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let mut web = client.instances().object("web").await?;
    /// web.config.insert("user.owner".into(), "ops".into());
    /// web.save().await?;
    /// assert!(!web.is_dirty());
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_put)
    pub async fn save(&mut self) -> Result<()> {
        if self.model.name != self.original.name {
            return Err(Error::invalid(
                "instance change",
                format!(
                    "the name changed from {:?} to {:?}: use rename()",
                    self.original.name, self.model.name
                ),
            ));
        }
        if !self.is_dirty() {
            return Ok(());
        }
        let put: InstancePut = self.model.writable();
        self.instances
            .update(&self.original.name, &put, self.etag.as_ref())
            .await?
            .wait()
            .await?;
        // What was sent is now the server's: re-read without re-applying it.
        let (fresh, etag) = self.instances.fetch(&self.original.name).await?;
        self.original = fresh.clone();
        self.model = fresh;
        self.etag = etag;
        Ok(())
    }

    /// Sends only `changes` (`PATCH`, `If-Match: <ETag>`; maps are merged key by key), then
    /// re-reads the instance, keeping your other unsaved changes on top. `changes` must
    /// serialize to a JSON object.
    ///
    /// LXD's PATCH resets the description when the body leaves it out; this sends the
    /// server's current description along unless `changes` has one.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let mut web = client.instances().object("web").await?;
    /// web.patch(&serde_json::json!({"config": {"user.owner": "ops"}})).await?;
    /// assert_eq!(web.config["user.owner"], "ops");
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_patch)
    pub async fn patch<T: Serialize + ?Sized>(&mut self, changes: &T) -> Result<()> {
        let mut body = serde_json::to_value(changes)
            .map_err(|e| Error::invalid("request body", e.to_string()))?;
        if let Value::Object(map) = &mut body {
            map.entry("description")
                .or_insert_with(|| Value::String(self.original.description.clone()));
        }
        self.instances
            .patch(&self.original.name, &body, self.etag.as_ref())
            .await?;
        self.sync().await
    }

    /// Renames the (stopped) instance, waits, and re-reads it under its new name.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let mut web = client.instances().object("web").await?;
    /// web.rename("web-old").await?;
    /// assert_eq!(web.name(), "web-old");
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_post)
    pub async fn rename(&mut self, new_name: &str) -> Result<()> {
        self.instances
            .rename(&self.original.name, new_name)
            .await?
            .wait()
            .await?;
        self.original.name = new_name.to_string();
        self.model.name = new_name.to_string();
        self.sync().await
    }

    /// Migrates the instance to the server of `target` and returns it there (pylxd's
    /// `migrate`): a move in whichever mode the two servers allow, the source deleted only
    /// once the copy exists. `live` asks for a stateful (CRIU) move of a running instance;
    /// without it a running instance is stopped, moved and started again. For modes,
    /// renames and members use [`Instances::move_from`](crate::Instances::move_from).
    ///
    /// ```no_run
    /// # async fn demo(here: lxd_client::Client, there: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let web = here.instances().object("web").await?;
    /// let web = web.migrate(&there, false).await?;
    /// println!("now {} on {}", web.model().status, web.model().location);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_post)
    pub async fn migrate(self, target: &crate::Client, live: bool) -> Result<InstanceObject> {
        target
            .instances()
            .move_from(self.manager().client(), self.name())
            .live(live)
            .run()
            .await
    }

    /// Deletes the (stopped) instance and waits.
    ///
    /// It takes the object, so nothing can use it once deleted; when the deletion fails
    /// (a running instance is refused), the object is gone too. Keep a clone if you want to
    /// act on the failure, or stop it first as below.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let mut web = client.instances().object("web-old").await?;
    /// if let Err(e) = web.clone().delete().await {
    ///     assert!(e.is_bad_request(), "{e}"); // "Instance is running"
    ///     web.stop(true).await?;
    ///     web.delete().await?;
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_delete)
    pub async fn delete(self) -> Result<()> {
        self.instances
            .delete(&self.original.name)
            .await?
            .wait()
            .await?;
        Ok(())
    }

    /// The runtime state (status, CPU, memory, disk, network addresses, processes).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let web = client.instances().object("web").await?;
    /// println!("{} processes", web.state().await?.processes);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_state_get)
    pub async fn state(&self) -> Result<InstanceState> {
        self.instances.state(&self.original.name).await
    }

    /// Applies a state change (with its timeout, `force`, `stateful`), waits, and re-reads.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::InstanceStatePut;
    /// let mut web = client.instances().object("web").await?;
    /// web.change_state(&InstanceStatePut::stop().with_timeout(30)).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_state_put)
    pub async fn change_state(&mut self, state: &InstanceStatePut) -> Result<()> {
        self.instances
            .set_state(&self.original.name, state)
            .await?
            .wait()
            .await?;
        self.sync().await
    }

    /// Starts the instance and waits.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let mut web = client.instances().object("web").await?;
    /// web.start().await?;
    /// assert!(web.is_running());
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_state_put)
    pub async fn start(&mut self) -> Result<()> {
        self.change_state(&InstanceStatePut::start()).await
    }

    /// Stops the instance and waits: a clean shutdown without time limit, or with `force`
    /// a kill. For a clean stop with a limit use [`change_state`](Self::change_state) with
    /// [`InstanceStatePut::with_timeout`].
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let mut web = client.instances().object("web").await?;
    /// web.stop(false).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_state_put)
    pub async fn stop(&mut self, force: bool) -> Result<()> {
        self.change_state(&InstanceStatePut::stop().with_force(force))
            .await
    }

    /// Restarts the instance and waits (`force`: kill instead of a clean shutdown).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let mut web = client.instances().object("web").await?;
    /// web.restart(false).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_state_put)
    pub async fn restart(&mut self, force: bool) -> Result<()> {
        self.change_state(&InstanceStatePut::restart().with_force(force))
            .await
    }

    /// Freezes (pauses) the instance and waits.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let mut web = client.instances().object("web").await?;
    /// web.freeze().await?;
    /// web.unfreeze().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_state_put)
    pub async fn freeze(&mut self) -> Result<()> {
        self.change_state(&InstanceStatePut::freeze()).await
    }

    /// Unfreezes (resumes) the instance and waits.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let mut web = client.instances().object("web").await?;
    /// web.unfreeze().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_state_put)
    pub async fn unfreeze(&mut self) -> Result<()> {
        self.change_state(&InstanceStatePut::unfreeze()).await
    }

    /// Waits until the instance reaches `status`, at most `deadline` (see
    /// [`Instances::wait_for_status`]), then re-reads it.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::StatusCode;
    /// use std::time::Duration;
    /// let mut web = client.instances().object("web").await?;
    /// web.wait_for_status(StatusCode::STOPPED, Duration::from_secs(60)).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_get)
    pub async fn wait_for_status(&mut self, status: StatusCode, deadline: Duration) -> Result<()> {
        self.instances
            .wait_for_status(&self.original.name, status, deadline)
            .await?;
        self.sync().await
    }

    /// Restores a snapshot of this instance, waits, and re-reads it (`stateful`: also
    /// restore the running state of a stateful snapshot).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let mut web = client.instances().object("web").await?;
    /// web.restore_snapshot("before-upgrade", false).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_put)
    pub async fn restore_snapshot(&mut self, snapshot: &str, stateful: bool) -> Result<()> {
        self.snapshots()
            .restore(snapshot, stateful)
            .await?
            .wait()
            .await?;
        self.sync().await
    }

    /// Publishes the (stopped) instance as an image and returns it; see
    /// [`Instances::publish_and_wait`].
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::{ImageAlias, ImagesPost};
    /// let web = client.instances().object("web").await?;
    /// let image = web
    ///     .publish(&ImagesPost { aliases: vec![ImageAlias::new("web-golden")], ..Default::default() })
    ///     .await?;
    /// println!("{}", image.fingerprint);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/images/images_post)
    pub async fn publish(&self, request: &ImagesPost) -> Result<Image> {
        self.instances
            .publish_and_wait(&self.original.name, request)
            .await
    }

    /// This instance's snapshots.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = lxd_testkit::TestServer::start().await?;
    /// # let client = lxd_client::Client::unix(server.socket_path())?;
    /// # let request = lxd_client::proto::InstancesPost {
    /// #     name: "web".into(),
    /// #     source: lxd_client::proto::InstanceSource::image_alias("busybox"),
    /// #     ..Default::default()
    /// # };
    /// # client.instances().create(&request).await?.wait().await?;
    /// use lxd_client::proto::InstanceSnapshotsPost;
    /// let web = client.instances().object("web").await?;
    /// let request = InstanceSnapshotsPost { name: "before-upgrade".into(), ..Default::default() };
    /// web.snapshots().create(&request).await?.wait().await?;
    /// assert_eq!(web.snapshots().list_names().await?, ["before-upgrade"]);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_snapshots_get)
    pub fn snapshots(&self) -> InstanceSnapshots {
        self.instances.snapshots(&self.original.name)
    }

    /// This instance's backups.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let web = client.instances().object("web").await?;
    /// for backup in web.backups().list().await? {
    ///     println!("{} expires {}", backup.name, backup.expires_at);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_backups_get)
    pub fn backups(&self) -> InstanceBackups {
        self.instances.backups(&self.original.name)
    }

    /// This instance's log files and console log.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let web = client.instances().object("web").await?;
    /// let mut file = tokio::fs::File::create("web-console.log").await.unwrap();
    /// let bytes = web.logs().console_to(&mut file).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_logs_get)
    pub fn logs(&self) -> InstanceLogs {
        self.instances.logs(&self.original.name)
    }
}

/// Re-applies, entry by entry, the changes from `was` to `now` onto `target`.
fn merge_map<K: Ord + Clone, V: PartialEq + Clone>(
    target: &mut impl MapLike<K, V>,
    now: &impl MapLike<K, V>,
    was: &impl MapLike<K, V>,
) {
    for (key, value) in now.entries() {
        if was.lookup(key) != Some(value) {
            target.put(key.clone(), value.clone());
        }
    }
    for (key, _) in was.entries() {
        if now.lookup(key).is_none() {
            target.take(key);
        }
    }
}

/// The two map types of an instance: `BTreeMap` (config, devices) and the JSON `Map`
/// (unknown fields).
trait MapLike<K, V> {
    fn entries(&self) -> Vec<(&K, &V)>;
    fn lookup(&self, key: &K) -> Option<&V>;
    fn put(&mut self, key: K, value: V);
    fn take(&mut self, key: &K);
}

impl<K: Ord, V> MapLike<K, V> for BTreeMap<K, V> {
    fn entries(&self) -> Vec<(&K, &V)> {
        self.iter().collect()
    }
    fn lookup(&self, key: &K) -> Option<&V> {
        self.get(key)
    }
    fn put(&mut self, key: K, value: V) {
        self.insert(key, value);
    }
    fn take(&mut self, key: &K) {
        self.remove(key);
    }
}

impl MapLike<String, Value> for serde_json::Map<String, Value> {
    fn entries(&self) -> Vec<(&String, &Value)> {
        self.iter().collect()
    }
    fn lookup(&self, key: &String) -> Option<&Value> {
        self.get(key)
    }
    fn put(&mut self, key: String, value: Value) {
        self.insert(key, value);
    }
    fn take(&mut self, key: &String) {
        self.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(instance: Instance) -> InstanceObject {
        let client = crate::instances::offline_client();
        InstanceObject::new(client.instances(), instance, Some(ETag::new("\"e1\"")))
    }

    fn instance(value: Value) -> Instance {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn dirty_tracking_and_rollback() {
        let mut c1 = object(instance(json!({
            "name": "c1", "status": "Running", "config": {"a": "1"}, "profiles": ["default"]
        })));
        assert!(!c1.is_dirty());
        // Read-only fields are not changes.
        c1.status = "Stopped".into();
        assert!(!c1.is_dirty());
        c1.config.insert("b".into(), "2".into());
        c1.description = "web".into();
        c1.extra.insert("future".into(), json!(true));
        assert!(c1.is_dirty());
        assert_eq!(c1.changed_fields(), ["config", "description", "future"]);
        c1.rollback();
        assert!(!c1.is_dirty());
        assert_eq!(c1.model(), c1.original());
        assert_eq!(c1.etag().unwrap().as_str(), "\"e1\"");
    }

    #[test]
    fn rebase_keeps_changes_on_top_of_fresh_data() {
        let mut c1 = object(instance(json!({
            "name": "c1", "description": "old",
            "config": {"keep": "1", "mine": "x", "gone": "y", "theirs": "t0"},
            "devices": {"d0": {"type": "none"}}, "profiles": ["default"]
        })));
        c1.config.insert("mine".into(), "changed".into());
        c1.config.insert("added".into(), "new".into());
        c1.config.remove("gone");
        c1.devices.clear();
        // Meanwhile the server changed another key, the status and the description.
        let fresh = instance(json!({
            "name": "c1", "description": "theirs", "status": "Running",
            "config": {"keep": "1", "mine": "x", "gone": "y", "theirs": "t1"},
            "devices": {"d0": {"type": "none"}, "d1": {"type": "none"}},
            "profiles": ["default"]
        }));
        c1.rebase(fresh.clone(), Some(ETag::new("\"e2\"")));
        assert_eq!(c1.original(), &fresh);
        assert_eq!(c1.etag().unwrap().as_str(), "\"e2\"");
        assert_eq!(c1.status, "Running");
        assert_eq!(c1.description, "theirs");
        let config: Vec<(&str, &str)> = c1
            .config
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            config,
            [
                ("added", "new"),
                ("keep", "1"),
                ("mine", "changed"),
                ("theirs", "t1")
            ]
        );
        // d0 was removed by us; d1 was added by the server.
        assert_eq!(c1.devices.keys().collect::<Vec<_>>(), ["d1"]);
        assert_eq!(c1.changed_fields(), ["config", "devices"]);
    }
}
