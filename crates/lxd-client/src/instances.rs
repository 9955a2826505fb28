//! The instances manager (`/1.0/instances`): listing (by type, filtered, across projects, at
//! each recursion level), getting, creating, updating, renaming, deleting and changing the
//! state of containers and virtual machines by name.
//!
//! The object with dirty tracking and ETag-checked saves is [`InstanceObject`] (instance.rs);
//! snapshots, backups, logs, publishing and the status wait have their own modules.

use std::borrow::Cow;
use std::collections::BTreeMap;

use lxd_proto::{
    Instance, InstanceFull, InstancePost, InstancePut, InstanceState, InstanceStatePut,
    InstanceType, InstancesPost,
};
use lxd_transport::http::Method;
use serde::Serialize;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::etag::{ETag, Versioned};
use crate::instance::InstanceObject;
use crate::operation::Operation;
use crate::path::{name_from_url, segment, validate_instance_name};

/// The instances manager, from [`Client::instances`], [`Client::containers`] or
/// [`Client::virtual_machines`].
///
/// Methods here work by name and return what LXD returns: plain [`Instance`] values, and an
/// [`Operation`] for background work. [`Instances::object`] gives an [`InstanceObject`]
/// instead: the instance plus its ETag, with dirty tracking, rollback and checked saves.
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
    /// `Some` for [`Client::containers`] and [`Client::virtual_machines`]: listings, `get`,
    /// `exists` and `create` then only see or make that type.
    pub(crate) kind: Option<InstanceType>,
}

impl Client {
    /// The instances manager: containers and virtual machines alike.
    ///
    /// It manages `/1.0/instances` in the client's project.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let instances = client.instances();
    /// for name in instances.list_names().await? {
    ///     println!("{name}: {}", instances.state(&name).await?.status);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instances_get)
    pub fn instances(&self) -> Instances {
        Instances {
            client: self.clone(),
            kind: None,
        }
    }

    /// The instances manager restricted to containers: lists ask LXD for
    /// `instance-type=container`, `get`/`exists` see only containers, `create` makes one.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// for container in client.containers().list().await? {
    ///     println!("{} {}", container.name, container.status);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instances_get_recursion1)
    pub fn containers(&self) -> Instances {
        Instances {
            client: self.clone(),
            kind: Some(InstanceType::Container),
        }
    }

    /// The instances manager restricted to virtual machines (`instance-type=virtual-machine`).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// for vm in client.virtual_machines().list().await? {
    ///     println!("{} {} {}", vm.name, vm.status, vm.config.get("limits.memory").map_or("-", |m| m.as_str()));
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instances_get_recursion1)
    pub fn virtual_machines(&self) -> Instances {
        Instances {
            client: self.clone(),
            kind: Some(InstanceType::VirtualMachine),
        }
    }
}

/// `/1.0/instances/<name>`, after checking the name.
pub(crate) fn instance_path(name: &str) -> Result<String> {
    validate_instance_name(name)?;
    Ok(format!("/1.0/instances/{}", segment(name)))
}

impl Instances {
    /// The client this manager sends through.
    ///
    /// ```
    /// # fn main() -> Result<(), lxd_client::Error> {
    /// let client = lxd_client::Client::https("https://lxd.example:8443").project("dev").build()?;
    /// let instances = client.instances();
    /// assert_eq!(instances.client().project(), Some("dev"));
    /// # Ok(()) }
    /// ```
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The instance type this manager is restricted to (`None`: every type).
    ///
    /// ```
    /// # fn main() -> Result<(), lxd_client::Error> {
    /// # let client = lxd_client::Client::https("https://lxd.example:8443").build()?;
    /// use lxd_client::proto::InstanceType;
    /// assert_eq!(client.instances().instance_type(), None);
    /// assert_eq!(client.containers().instance_type(), Some(&InstanceType::Container));
    /// # Ok(()) }
    /// ```
    pub fn instance_type(&self) -> Option<&InstanceType> {
        self.kind.as_ref()
    }

    /// A listing with filters or across projects; see [`InstanceQuery`].
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let running = client.instances().query().filter("status", "Running").list().await?;
    /// let everywhere = client.containers().query().all_projects().names_by_project().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instances_get)
    pub fn query(&self) -> InstanceQuery {
        InstanceQuery {
            instances: self.clone(),
            expression: None,
            equals: Vec::new(),
            all_projects: false,
        }
    }

    /// The names of the instances in the client's project (of this manager's type).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// println!("{:?}", client.containers().list_names().await?);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instances_get)
    pub async fn list_names(&self) -> Result<Vec<String>> {
        self.query().names().await
    }

    /// Every instance of the client's project (of this manager's type), in one request
    /// (`recursion=1`).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// for i in client.instances().list().await? {
    ///     println!("{} {} on {}", i.name, i.status, i.location);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instances_get_recursion1)
    pub async fn list(&self) -> Result<Vec<Instance>> {
        self.query().list().await
    }

    /// Every instance with its state, snapshots and backups, in one request
    /// (`recursion=2`).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// for full in client.instances().list_full().await? {
    ///     let processes = full.state.map(|s| s.processes).unwrap_or(0);
    ///     println!("{}: {} processes, {} snapshots", full.instance.name, processes, full.snapshots.len());
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instances_get_recursion2)
    pub async fn list_full(&self) -> Result<Vec<InstanceFull>> {
        self.query().list_full().await
    }

    /// One instance.
    ///
    /// On [`Client::containers`] / [`Client::virtual_machines`] an instance of the other type
    /// is reported as not found (`is_not_found()`), with a message saying what it is.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let web = client.instances().get("web").await?;
    /// println!("{} is {} on {}", web.name, web.status, web.location);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_get)
    pub async fn get(&self, name: &str) -> Result<Instance> {
        Ok(self.fetch(name).await?.0)
    }

    /// One instance with its state, snapshots and backups, in one request (`recursion=1`,
    /// API extension `instance_get_full`).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let full = client.instances().get_full("web").await?;
    /// println!("{} snapshots", full.snapshots.len());
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_get_recursion1)
    pub async fn get_full(&self, name: &str) -> Result<InstanceFull> {
        let path = instance_path(name)?;
        // Without the extension LXD ignores `recursion` and the extra data would be missing.
        self.client
            .require_api_extension("instance_get_full")
            .await?;
        let full: InstanceFull = self.client.get_json(&path, &[("recursion", "1")]).await?;
        self.check_kind(&full.instance, &path)?;
        Ok(full)
    }

    /// One instance with its ETag, for a later [`update`](Self::update) or
    /// [`patch`](Self::patch) that must not overwrite a concurrent change.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let instances = client.instances();
    /// let web = instances.get_with_etag("web").await?;
    /// let mut put = web.writable();
    /// put.config.insert("user.owner".into(), "ops".into());
    /// instances.update("web", &put, web.etag.as_ref()).await?.wait().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_get)
    pub async fn get_with_etag(&self, name: &str) -> Result<Versioned<Instance>> {
        let path = instance_path(name)?;
        let versioned: Versioned<Instance> = self.client.get_versioned(&path, &[]).await?;
        self.check_kind(&versioned.value, &path)?;
        Ok(versioned)
    }

    /// The instance and its ETag.
    pub(crate) async fn fetch(&self, name: &str) -> Result<(Instance, Option<ETag>)> {
        let versioned = self.get_with_etag(name).await?;
        Ok((versioned.value, versioned.etag))
    }

    /// A typed manager does not hand out instances of the other type.
    fn check_kind(&self, instance: &Instance, path: &str) -> Result<()> {
        match &self.kind {
            Some(kind) if *kind != instance.instance_type => Err(Error::Api {
                status: 404,
                message: format!(
                    "Instance {:?} is a {}, not a {kind}",
                    instance.name, instance.instance_type
                ),
                method: "GET".into(),
                path: path.to_string(),
            }),
            _ => Ok(()),
        }
    }

    /// Whether the instance exists (and, on a typed manager, is of its type).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// if !client.instances().exists("web").await? { /* create it */ }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_get)
    pub async fn exists(&self, name: &str) -> Result<bool> {
        crate::error::found(self.get(name).await)
    }

    /// The instance as an [`InstanceObject`]: its data, its ETag, dirty tracking and saves.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let mut web = client.instances().object("web").await?;
    /// web.config.insert("user.role".into(), "frontend".into());
    /// web.save().await?; // refused with is_precondition_failed() if someone changed it
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_get)
    pub async fn object(&self, name: &str) -> Result<InstanceObject> {
        let (instance, etag) = self.fetch(name).await?;
        Ok(InstanceObject::new(self.clone(), instance, etag))
    }

    /// Checks the request and applies this manager's type to it.
    pub(crate) fn create_request<'a>(
        &self,
        request: &'a InstancesPost,
    ) -> Result<Cow<'a, InstancesPost>> {
        // An empty name lets LXD pick one.
        if !request.name.is_empty() {
            validate_instance_name(&request.name)?;
        }
        match (&self.kind, &request.instance_type) {
            (None, _) => Ok(Cow::Borrowed(request)),
            (Some(kind), Some(asked)) if kind == asked => Ok(Cow::Borrowed(request)),
            (Some(kind), Some(asked)) => Err(Error::invalid(
                "instance type",
                format!("this manager creates {kind} instances, the request asks for {asked}"),
            )),
            (Some(kind), None) => {
                let mut typed = request.clone();
                typed.instance_type = Some(kind.clone());
                Ok(Cow::Owned(typed))
            }
        }
    }

    /// Creates an instance (from an image, empty, a copy, or a migration). The name is
    /// checked before anything is sent; on a typed manager the request gets its type.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::{InstanceSource, InstancesPost};
    /// client
    ///     .containers()
    ///     .create(&InstancesPost {
    ///         name: "web".into(),
    ///         source: InstanceSource::image_alias("busybox"),
    ///         config: [("limits.memory".to_string(), "256MiB".to_string())].into(),
    ///         ..Default::default()
    ///     })
    ///     .await?
    ///     .wait()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instances_post)
    pub async fn create(&self, request: &InstancesPost) -> Result<Operation> {
        let request = self.create_request(request)?;
        self.client
            .send_operation(Method::POST, "/1.0/instances", &[], Some(&*request))
            .await
    }

    /// Creates an instance on one member of a cluster (`?target=<member>`; LXD also takes
    /// `@<cluster group>`).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::{InstanceSource, InstancesPost};
    /// let request = InstancesPost {
    ///     name: "db".into(),
    ///     source: InstanceSource::image_alias("busybox"),
    ///     ..Default::default()
    /// };
    /// client.instances().create_on("node2", &request).await?.wait().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instances_post)
    pub async fn create_on(&self, target: &str, request: &InstancesPost) -> Result<Operation> {
        if target.is_empty() || target.chars().any(char::is_control) {
            return Err(Error::invalid(
                "cluster target",
                format!("{target:?}: empty or control characters"),
            ));
        }
        let request = self.create_request(request)?;
        self.client
            .send_operation(
                Method::POST,
                "/1.0/instances",
                &[("target", target)],
                Some(&*request),
            )
            .await
    }

    /// Creates an instance, waits for it, and returns it as an [`InstanceObject`]. When the
    /// request has no name, the one LXD picked is read from the operation.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::{InstanceSource, InstancesPost};
    /// let mut web = client
    ///     .containers()
    ///     .create_and_wait(&InstancesPost {
    ///         name: "web".into(),
    ///         source: InstanceSource::image_alias("busybox"),
    ///         ..Default::default()
    ///     })
    ///     .await?;
    /// web.start().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instances_post)
    pub async fn create_and_wait(&self, request: &InstancesPost) -> Result<InstanceObject> {
        let done = self.create(request).await?.wait().await?;
        let name = if request.name.is_empty() {
            created_name(&done)?
        } else {
            request.name.clone()
        };
        self.object(&name).await
    }

    /// Replaces the instance's writable configuration (`PUT`). With `etag` (from
    /// [`get_with_etag`](Self::get_with_etag)) LXD refuses the change if the instance changed
    /// since (`is_precondition_failed()`); `None` changes unconditionally.
    /// [`InstanceObject::save`] does this for you.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let web = client.instances().get("web").await?;
    /// let mut put = web.writable();
    /// put.description = "front end".into();
    /// client.instances().update("web", &put, None).await?.wait().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_put)
    pub async fn update(
        &self,
        name: &str,
        put: &InstancePut,
        etag: Option<&ETag>,
    ) -> Result<Operation> {
        let path = instance_path(name)?;
        let reply = self
            .client
            .send_if_match(Method::PUT, &path, &[], put, etag)
            .await?;
        Operation::from_reply(self.client.clone(), &format!("PUT {path}"), reply.envelope)
    }

    /// Changes only the fields given (`PATCH`): maps such as `config` and `devices` are
    /// merged key by key into the instance's. `changes` must serialize to a JSON object.
    ///
    /// LXD (5.0 and later) resets `description` to empty when a PATCH leaves it out: include
    /// it to keep it ([`InstanceObject::patch`] does).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let changes = serde_json::json!({"config": {"user.owner": "ops"}});
    /// client.instances().patch("web", &changes, None).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_patch)
    pub async fn patch<T: Serialize + ?Sized>(
        &self,
        name: &str,
        changes: &T,
        etag: Option<&ETag>,
    ) -> Result<()> {
        let path = instance_path(name)?;
        let body = serde_json::to_value(changes)
            .map_err(|e| Error::invalid("request body", e.to_string()))?;
        if !body.is_object() {
            return Err(Error::invalid(
                "instance patch",
                "the changes must serialize to a JSON object",
            ));
        }
        // LXD 5.0 answers PATCH synchronously; a server that makes it an operation is waited for.
        self.client
            .write_if_match(Method::PATCH, &path, &[], &body, etag)
            .await
    }

    /// Renames a stopped instance (LXD refuses to rename a running one).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// client.instances().rename("web", "web-old").await?.wait().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_post)
    pub async fn rename(&self, name: &str, new_name: &str) -> Result<Operation> {
        let path = instance_path(name)?;
        validate_instance_name(new_name)?;
        let request = InstancePost {
            name: new_name.to_string(),
            ..Default::default()
        };
        self.client
            .send_operation(Method::POST, &path, &[], Some(&request))
            .await
    }

    /// Deletes a stopped instance (LXD refuses to delete a running one: stop it first).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// client.instances().delete("web-old").await?.wait().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_delete)
    pub async fn delete(&self, name: &str) -> Result<Operation> {
        self.client
            .send_operation::<()>(Method::DELETE, &instance_path(name)?, &[], None)
            .await
    }

    /// The runtime state: status, CPU, memory, disk, network addresses, processes.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let state = client.instances().state("web").await?;
    /// println!("{} processes, {} bytes of memory", state.processes, state.memory.usage);
    /// for (nic, address) in state.addresses() {
    ///     println!("{nic}: {}", address.address);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_state_get)
    pub async fn state(&self, name: &str) -> Result<InstanceState> {
        let path = format!("{}/state", instance_path(name)?);
        self.client.get_json(&path, &[]).await
    }

    /// Changes the instance's state: start, stop, restart, freeze, unfreeze, with a timeout,
    /// `force` and `stateful` (see [`InstanceStatePut`]).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::InstanceStatePut;
    /// let instances = client.instances();
    /// instances.set_state("web", &InstanceStatePut::start()).await?.wait().await?;
    /// let stop = InstanceStatePut::stop().with_timeout(30).with_force(true);
    /// instances.set_state("web", &stop).await?.wait().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_state_put)
    pub async fn set_state(&self, name: &str, state: &InstanceStatePut) -> Result<Operation> {
        let path = format!("{}/state", instance_path(name)?);
        self.client
            .send_operation(Method::PUT, &path, &[], Some(state))
            .await
    }
}

/// The name of the instance a finished create operation made (its `resources.instances`).
pub(crate) fn created_name(op: &lxd_proto::Operation) -> Result<String> {
    let url = op.resources_of("instances").first().ok_or_else(|| {
        Error::malformed(
            format!("operation {}", op.id),
            "no instance in the operation's resources",
            b"",
        )
    })?;
    name_from_url(url)
}

/// A listing of instances with filters, across projects, at a chosen level of detail; from
/// [`Instances::query`]. Nothing is sent until [`names`](Self::names),
/// [`names_by_project`](Self::names_by_project), [`list`](Self::list) or
/// [`list_full`](Self::list_full).
///
/// The server does the filtering (API extension `api_filtering`), so only matching instances
/// cross the wire. LXD evaluates a filter strictly left to right (`a or b and c` is
/// `(a or b) and c`), compares strings case-insensitively, and reads `eq` values as regular
/// expressions; [`filter`](Self::filter) escapes and anchors its value so it means "equals"
/// (ignoring case), [`filter_expr`](Self::filter_expr) passes LXD's syntax through.
///
/// ```no_run
/// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
/// let web_nodes = client
///     .containers()
///     .query()
///     .filter("status", "Running")
///     .filter("config.user.role", "web")
///     .list()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a query does nothing until names(), list() or list_full()"]
pub struct InstanceQuery {
    instances: Instances,
    /// A raw LXD expression, sent first.
    expression: Option<String>,
    /// `field eq value` clauses, each ANDed after the expression.
    equals: Vec<(String, String)>,
    all_projects: bool,
}

impl InstanceQuery {
    /// Keeps instances whose `field` equals `value`, ignoring case. Fields are those of
    /// [`Instance`] (`name`, `status`, `type`, `location`, `description`, ...), with dotted
    /// paths into maps (`config.user.role`, `expanded_config.limits.cpu`). Any value can be
    /// matched, spaces, quotes and regex characters included: it is sent escaped and anchored
    /// (`^...$`), so LXD's regex matching means equality. Several filters are ANDed.
    ///
    /// Adds a `<field> eq ^<value>$` clause to the `filter` query parameter of the listing.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// // What runs on node2, before evacuating it:
    /// let on_node2 = client.instances().query().filter("location", "node2").names().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instances_get)
    pub fn filter(mut self, field: &str, value: &str) -> Self {
        self.equals.push((field.to_string(), value.to_string()));
        self
    }

    /// A whole filter in LXD's own syntax, e.g. `status eq Running or status eq Frozen`,
    /// `not name eq web`, `name ne web`, `config.user.role eq ^web-.*`. It is sent first, so
    /// the [`filter`](Self::filter) clauses apply to its result as a whole (LXD evaluates
    /// left to right). A second call replaces the first.
    ///
    /// Sets the start of the `filter` query parameter of the listing.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let query = client.instances().query().filter_expr("status eq Running or status eq Frozen");
    /// let busy = query.filter("config.user.role", "web").names().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instances_get)
    pub fn filter_expr(mut self, expression: &str) -> Self {
        self.expression = Some(expression.to_string());
        self
    }

    /// Lists the instances of every project the client may see (API extension
    /// `instance_all_projects`), not only the client's project.
    ///
    /// Sets the `all-projects=true` query parameter of the listing (and drops `project=`).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let running = client.instances().query().all_projects().filter("status", "Running");
    /// for (project, names) in running.names_by_project().await? {
    ///     println!("{project}: {}", names.join(", "));
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instances_get)
    pub fn all_projects(mut self) -> Self {
        self.all_projects = true;
        self
    }

    /// The LXD filter expression, checked; with `by_type`, a typed manager's type is one
    /// of its clauses.
    fn filter_string(&self, by_type: bool) -> Result<Option<String>> {
        let mut parts = Vec::with_capacity(self.equals.len() + 1);
        if let Some(expr) = &self.expression {
            if expr.trim().is_empty() || expr.chars().any(char::is_control) {
                return Err(Error::invalid(
                    "instance filter",
                    format!("{expr:?}: empty or control characters"),
                ));
            }
            parts.push(expr.trim().to_string());
        }
        for (field, value) in &self.equals {
            parts.push(eq_clause(field, value)?);
        }
        if let Some(kind) = self.instances.kind.as_ref().filter(|_| by_type) {
            parts.push(eq_clause("type", kind.as_ref())?);
        }
        Ok((!parts.is_empty()).then(|| parts.join(" and ")))
    }

    /// The query parameters of a listing at `recursion` (0, 1 or 2). A typed manager asks
    /// with `instance-type` (LXD, Incus before 6.12) and, on a server with `api_filtering`
    /// (`filtering`), also with a `type` clause of the filter: Incus 6.12 dropped
    /// `instance-type` and answers every instance to it.
    pub(crate) fn query_pairs(
        &self,
        recursion: u8,
        filtering: bool,
    ) -> Result<Vec<(&'static str, String)>> {
        let mut pairs = Vec::new();
        if recursion > 0 {
            pairs.push(("recursion", recursion.to_string()));
        }
        if let Some(kind) = &self.instances.kind {
            pairs.push(("instance-type", kind.to_string()));
        }
        if let Some(filter) = self.filter_string(filtering)? {
            pairs.push(("filter", filter));
        }
        if self.all_projects {
            pairs.push(("all-projects", "true".to_string()));
        }
        Ok(pairs)
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, recursion: u8) -> Result<T> {
        let client = &self.instances.client;
        let filtering =
            self.instances.kind.is_some() && client.has_api_extension("api_filtering").await?;
        let pairs = self.query_pairs(recursion, filtering)?;
        // A server without these extensions ignores the parameter and answers with more
        // than was asked for: refuse instead of returning a wrong list.
        if self.expression.is_some() || !self.equals.is_empty() {
            client.require_api_extension("api_filtering").await?;
        }
        if self.all_projects {
            client
                .require_api_extension("instance_all_projects")
                .await?;
        }
        if recursion >= 2 {
            client.require_api_extension("instance_get_full").await?;
        }
        if self.instances.kind == Some(InstanceType::VirtualMachine) {
            client.require_api_extension("instances").await?;
        }
        let query: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        // LXD refuses `project=` together with `all-projects=true`.
        let mut client = self.instances.client.clone();
        if self.all_projects {
            client.clear_project();
        }
        client.get_json("/1.0/instances", &query).await
    }

    /// The names of the matching instances. Across projects names may repeat; see
    /// [`names_by_project`](Self::names_by_project).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let running = client.instances().query().filter("status", "Running").names().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instances_get)
    pub async fn names(self) -> Result<Vec<String>> {
        let urls: Vec<String> = self.get(0).await?;
        urls.iter().map(|u| name_from_url(u)).collect()
    }

    /// The names of the matching instances grouped by project (from the `?project=` of the
    /// URLs LXD lists; none means `default`).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let all = client.instances().query().all_projects().names_by_project().await?;
    /// println!("{:?}", all.get("default"));
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instances_get)
    pub async fn names_by_project(self) -> Result<BTreeMap<String, Vec<String>>> {
        let default = self
            .instances
            .client
            .project()
            .filter(|_| !self.all_projects)
            .unwrap_or("default")
            .to_string();
        let urls: Vec<String> = self.get(0).await?;
        let mut grouped: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for url in &urls {
            let project = project_of_url(url)?.unwrap_or_else(|| default.clone());
            grouped
                .entry(project)
                .or_default()
                .push(name_from_url(url)?);
        }
        Ok(grouped)
    }

    /// The matching instances, in one request (`recursion=1`).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let stopped = client.instances().query().filter("status", "Stopped").list().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instances_get_recursion1)
    pub async fn list(self) -> Result<Vec<Instance>> {
        self.get(1).await
    }

    /// The matching instances with state, snapshots and backups, in one request
    /// (`recursion=2`).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let full = client.instances().query().all_projects().list_full().await?;
    /// println!("{} instances", full.len());
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instances_get_recursion2)
    pub async fn list_full(self) -> Result<Vec<InstanceFull>> {
        self.get(2).await
    }
}

/// `field eq ^value$` in LXD's filter syntax, the value escaped so that LXD's regex match
/// means equality. Whitespace and control characters become `\x{..}` escapes, so the value is
/// one word (LXD splits the filter on whitespace and its quoting cannot carry every value).
fn eq_clause(field: &str, value: &str) -> Result<String> {
    if field.is_empty() || field.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::invalid(
            "instance filter",
            format!("field {field:?}: must be one word"),
        ));
    }
    let mut pattern = String::with_capacity(value.len() + 2);
    // LXD anchors a value itself only when it holds neither '^' nor '$': anchor it here.
    pattern.push('^');
    for c in value.chars() {
        if c.is_whitespace() || c.is_control() {
            pattern.push_str(&format!("\\x{{{:x}}}", c as u32));
        } else {
            if "\\.+*?()|[]{}^$".contains(c) {
                pattern.push('\\');
            }
            pattern.push(c);
        }
    }
    pattern.push('$');
    Ok(format!("{field} eq {pattern}"))
}

/// The `project` query parameter of an object URL, percent-decoded.
fn project_of_url(url: &str) -> Result<Option<String>> {
    let Some((_, query)) = url.split_once('?') else {
        return Ok(None);
    };
    for pair in query.split('&') {
        if let Some(value) = pair.strip_prefix("project=") {
            // name_from_url decodes the last path segment: reuse it for the value.
            return name_from_url(&format!("/{value}")).map(Some);
        }
    }
    Ok(None)
}

/// A client for unit tests that build requests without sending any (nothing listens there).
#[cfg(test)]
pub(crate) fn offline_client() -> Client {
    Client::https("https://127.0.0.1:9").build().unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;
    use lxd_proto::InstanceSource;

    fn client() -> Client {
        offline_client()
    }

    fn pairs(query: &InstanceQuery, recursion: u8) -> Vec<(String, String)> {
        query
            .query_pairs(recursion, false)
            .unwrap()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect()
    }

    fn kv(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn listing_queries_at_each_recursion() {
        let instances = client().instances();
        assert_eq!(pairs(&instances.query(), 0), kv(&[]));
        assert_eq!(pairs(&instances.query(), 1), kv(&[("recursion", "1")]));
        assert_eq!(pairs(&instances.query(), 2), kv(&[("recursion", "2")]));
    }

    #[test]
    fn typed_managers_filter_by_type() {
        let c = client();
        assert_eq!(
            pairs(&c.containers().query(), 1),
            kv(&[("recursion", "1"), ("instance-type", "container")])
        );
        // Virtual machines cannot run on the test machines: the query is proven here, the
        // testkit-backed VM tests are to come.
        assert_eq!(
            pairs(&c.virtual_machines().query(), 0),
            kv(&[("instance-type", "virtual-machine")])
        );
        assert_eq!(
            pairs(
                &c.virtual_machines()
                    .query()
                    .filter("status", "Running")
                    .all_projects(),
                2
            ),
            kv(&[
                ("recursion", "2"),
                ("instance-type", "virtual-machine"),
                ("filter", "status eq ^Running$"),
                ("all-projects", "true"),
            ])
        );
        // With `api_filtering` the type is also a clause of the filter (Incus 6.12+ ignores
        // `instance-type`), after the caller's own.
        let typed = c.virtual_machines().query().filter("status", "Running");
        assert_eq!(
            typed.query_pairs(0, true).unwrap(),
            vec![
                ("instance-type", "virtual-machine".to_string()),
                (
                    "filter",
                    "status eq ^Running$ and type eq ^virtual-machine$".to_string()
                ),
            ]
        );
        assert_eq!(
            c.instances().query().query_pairs(0, true).unwrap(),
            vec![],
            "the untyped manager adds nothing"
        );
    }

    #[test]
    fn filters_are_escaped_anchored_and_ordered() {
        let q = client()
            .instances()
            .query()
            .filter("config.user.note", "two  words")
            .filter("description", "a.b*c\"d^e$")
            .filter_expr("status eq Running or status eq Frozen");
        assert_eq!(
            pairs(&q, 1)[1],
            (
                "filter".to_string(),
                r#"status eq Running or status eq Frozen and config.user.note eq ^two\x{20}\x{20}words$ and description eq ^a\.b\*c"d\^e\$$"#
                    .to_string()
            )
        );
        assert_eq!(eq_clause("name", "").unwrap(), "name eq ^$");
        assert_eq!(eq_clause("name", "web-1").unwrap(), "name eq ^web-1$");
        for (field, value) in [("", "x"), ("a b", "x"), ("a\nb", "x")] {
            let e = client()
                .instances()
                .query()
                .filter(field, value)
                .query_pairs(1, false)
                .unwrap_err();
            assert!(e.is_invalid_input(), "{field:?} {value:?}");
        }
        assert!(
            client()
                .instances()
                .query()
                .filter_expr(" ")
                .query_pairs(0, false)
                .is_err()
        );
    }

    #[test]
    fn typed_create_requests_carry_the_type() {
        let c = client();
        let request = InstancesPost {
            name: "vm1".into(),
            source: InstanceSource::image_alias("busybox"),
            ..Default::default()
        };
        // Virtual machines cannot run on the test machines: the request shape is proven
        // here, the testkit-backed VM tests are to come.
        let vm = c.virtual_machines().create_request(&request).unwrap();
        assert_eq!(
            serde_json::to_value(&*vm).unwrap(),
            serde_json::json!({"name": "vm1", "type": "virtual-machine",
                               "source": {"type": "image", "alias": "busybox"}})
        );
        let ct = c.containers().create_request(&request).unwrap();
        assert_eq!(ct.instance_type, Some(InstanceType::Container));
        // The untyped manager sends the request as given.
        let any = c.instances().create_request(&request).unwrap();
        assert!(matches!(any, Cow::Borrowed(_)));
        assert_eq!(any.instance_type, None);
        // A request for the other type is refused before anything is sent.
        let mismatch = InstancesPost {
            instance_type: Some(InstanceType::Container),
            ..request.clone()
        };
        let e = c.virtual_machines().create_request(&mismatch).unwrap_err();
        assert!(e.is_invalid_input(), "{e}");
        // Bad names are refused; an empty one lets LXD choose.
        let bad = InstancesPost {
            name: "1bad".into(),
            ..request.clone()
        };
        assert!(
            c.instances()
                .create_request(&bad)
                .unwrap_err()
                .is_invalid_input()
        );
        let unnamed = InstancesPost {
            name: String::new(),
            ..request
        };
        assert!(c.instances().create_request(&unnamed).is_ok());
    }

    #[test]
    fn typed_get_refuses_the_other_type() {
        let c = client();
        let vm = Instance {
            name: "vm1".into(),
            instance_type: InstanceType::VirtualMachine,
            ..Default::default()
        };
        let e = c
            .containers()
            .check_kind(&vm, "/1.0/instances/vm1")
            .unwrap_err();
        assert!(e.is_not_found(), "{e}");
        assert!(e.lxd_message().unwrap().contains("virtual-machine"));
        assert!(c.virtual_machines().check_kind(&vm, "/x").is_ok());
        assert!(c.instances().check_kind(&vm, "/x").is_ok());
    }

    #[test]
    fn projects_from_urls() {
        assert_eq!(project_of_url("/1.0/instances/c1").unwrap(), None);
        assert_eq!(
            project_of_url("/1.0/instances/c1?project=team%2Da").unwrap(),
            Some("team-a".to_string())
        );
        assert_eq!(
            project_of_url("/1.0/instances/c1?x=1&project=p").unwrap(),
            Some("p".to_string())
        );
    }

    #[test]
    fn created_name_comes_from_resources() {
        let op: lxd_proto::Operation = serde_json::from_value(serde_json::json!({
            "id": "x", "resources": {"instances": ["/1.0/instances/brave-fox"]}
        }))
        .unwrap();
        assert_eq!(created_name(&op).unwrap(), "brave-fox");
        let empty = lxd_proto::Operation::default();
        assert!(created_name(&empty).unwrap_err().is_malformed());
    }

    /// `GET /1.0` of the recording server: the extensions the listings check for.
    const SERVER_INFO: &str = r#"{"type":"sync","status":"Success","status_code":200,"operation":"","error_code":0,"error":"","metadata":{"api_extensions":["instances","api_filtering","instance_all_projects","instance_get_full"],"environment":{"server":"lxd","server_version":"5.0.2"}}}"#;

    /// Serves one canned sync reply per connection on a fresh unix socket and records each
    /// request's head and body, so tests see what goes on the wire.
    async fn recording_server(
        metadata: &'static str,
        server_info: &'static str,
    ) -> (
        Client,
        std::sync::Arc<std::sync::Mutex<Vec<String>>>,
        std::path::PathBuf,
    ) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "lxd-client-instances-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let socket = dir.join("unix.socket");
        let listener = tokio::net::UnixListener::bind(&socket).unwrap();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let record = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let record = record.clone();
                tokio::spawn(async move {
                    loop {
                        let mut buf = Vec::new();
                        let mut chunk = [0u8; 4096];
                        let head_end = loop {
                            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                                break i + 4;
                            }
                            match conn.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        };
                        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                        let length: usize = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse().unwrap())
                            })
                            .unwrap_or(0);
                        while buf.len() < head_end + length {
                            match conn.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        let body = String::from_utf8_lossy(&buf[head_end..head_end + length]);
                        let line = head.lines().next().unwrap_or_default().to_string();
                        let is_server_info = line == "GET /1.0 HTTP/1.1";
                        if !is_server_info {
                            record
                                .lock()
                                .unwrap()
                                .push(format!("{line} {body}").trim().to_string());
                        }
                        // Reads get `metadata`; changes get a running operation, as LXD does.
                        let reply = if is_server_info {
                            server_info.to_string()
                        } else if line.starts_with("GET ") {
                            format!(
                                r#"{{"type":"sync","status":"Success","status_code":200,"operation":"","error_code":0,"error":"","metadata":{metadata}}}"#
                            )
                        } else {
                            r#"{"type":"async","status":"Operation created","status_code":100,"operation":"/1.0/operations/op1","error_code":0,"error":"","metadata":{"id":"op1","class":"task","status":"Running","status_code":103}}"#.to_string()
                        };
                        let http = format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{reply}",
                            reply.len()
                        );
                        if conn.write_all(http.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (Client::unix(&socket).unwrap(), seen, dir)
    }

    #[tokio::test]
    async fn virtual_machine_listings_ask_lxd_for_the_type_on_the_wire() {
        // Virtual machines cannot run on the test machines: what the manager sends is proven
        // here against a recording socket; the testkit-backed VM tests are to come.
        let (client, seen, dir) = recording_server("[]", SERVER_INFO).await;
        let vms = client.virtual_machines();
        assert!(vms.list_names().await.unwrap().is_empty());
        assert!(vms.list().await.unwrap().is_empty());
        assert!(vms.list_full().await.unwrap().is_empty());
        assert!(
            vms.query()
                .filter("status", "Running")
                .all_projects()
                .list()
                .await
                .unwrap()
                .is_empty()
        );
        let scoped = client.with_project("p1").unwrap().containers();
        assert!(scoped.list().await.unwrap().is_empty());
        assert!(
            scoped
                .query()
                .all_projects()
                .names()
                .await
                .unwrap()
                .is_empty()
        );
        let seen = seen.lock().unwrap().clone();
        assert_eq!(
            seen,
            [
                // The server has `api_filtering`: the type is also a filter clause (Incus
                // 6.12 and later ignore `instance-type`).
                "GET /1.0/instances?instance-type=virtual-machine&filter=type+eq+%5Evirtual-machine%24 HTTP/1.1",
                "GET /1.0/instances?recursion=1&instance-type=virtual-machine&filter=type+eq+%5Evirtual-machine%24 HTTP/1.1",
                "GET /1.0/instances?recursion=2&instance-type=virtual-machine&filter=type+eq+%5Evirtual-machine%24 HTTP/1.1",
                "GET /1.0/instances?recursion=1&instance-type=virtual-machine&filter=status+eq+%5ERunning%24+and+type+eq+%5Evirtual-machine%24&all-projects=true HTTP/1.1",
                "GET /1.0/instances?recursion=1&instance-type=container&filter=type+eq+%5Econtainer%24&project=p1 HTTP/1.1",
                // LXD refuses project= with all-projects=true: the project is left out.
                "GET /1.0/instances?instance-type=container&filter=type+eq+%5Econtainer%24&all-projects=true HTTP/1.1",
            ]
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn virtual_machine_create_request_on_the_wire() {
        // Virtual machines cannot run on the test machines: the request a VM creation sends
        // is proven here; the testkit-backed VM tests are to come.
        let (client, seen, dir) = recording_server("{}", SERVER_INFO).await;
        let request = InstancesPost {
            name: "vm1".into(),
            source: InstanceSource::image_alias("busybox"),
            config: [("limits.cpu".to_string(), "2".to_string())].into(),
            ..Default::default()
        };
        let op = client
            .virtual_machines()
            .create_on("node2", &request)
            .await
            .unwrap();
        assert_eq!(op.id(), "op1");
        let seen = seen.lock().unwrap().clone();
        assert_eq!(
            seen,
            [
                r#"POST /1.0/instances?target=node2 HTTP/1.1 {"name":"vm1","type":"virtual-machine","source":{"type":"image","alias":"busybox"},"config":{"limits.cpu":"2"}}"#
            ]
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn filters_are_refused_by_a_server_that_would_ignore_them() {
        // An old server without `api_filtering` would ignore `filter=` and list everything.
        let old = r#"{"type":"sync","status":"Success","status_code":200,"operation":"","error_code":0,"error":"","metadata":{"api_extensions":["instances"],"environment":{"server":"lxd","server_version":"4.0.0"}}}"#;
        let (client, seen, dir) = recording_server("[]", old).await;
        let instances = client.instances();
        let e = instances
            .query()
            .filter("status", "Running")
            .list()
            .await
            .unwrap_err();
        assert!(e.is_missing_extension(), "{e}");
        assert!(e.to_string().contains("api_filtering"), "{e}");
        let e = instances.query().all_projects().names().await.unwrap_err();
        assert!(e.to_string().contains("instance_all_projects"), "{e}");
        let e = instances.list_full().await.unwrap_err();
        assert!(e.to_string().contains("instance_get_full"), "{e}");
        // Nothing but the server information was asked for; a plain listing still works.
        assert!(seen.lock().unwrap().is_empty());
        assert!(instances.list().await.unwrap().is_empty());
        let _ = std::fs::remove_dir_all(dir);
    }
}
