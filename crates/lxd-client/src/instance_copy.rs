//! Copying and moving instances: within one server (or cluster), and between servers by
//! migration in whichever mode the pair allows (see [`MigrationMode`]).
//!
//! [`Instances::copy_from`] and [`Instances::move_from`] are called on the DESTINATION's
//! manager with a client of the source, like `lxc copy source:c1 target:c2`.

use std::collections::BTreeMap;

use lxd_proto::{
    Instance, InstancePost, InstancePostTarget, InstanceSource, InstanceSourceType,
    InstanceStatePut, InstancesPost, StatusCode,
};
use lxd_transport::http::Method;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::instance::InstanceObject;
use crate::instances::{Instances, instance_path};
use crate::migration::{Handoff, MigrationMode, Peer, transfer};
use crate::operation::Operation;
use crate::path::validate_instance_name;

/// A copy (or move) of one instance to this manager's server and project; built by
/// [`Instances::copy_from`] or [`Instances::move_from`], run by [`InstanceCopy::run`].
///
/// ```no_run
/// # async fn demo(source: lxd_client::Client, target: lxd_client::Client) -> Result<(), lxd_client::Error> {
/// use lxd_client::MigrationMode;
/// let copy = target
///     .instances()
///     .copy_from(&source, "web")
///     .name("web-copy")
///     .instance_only(true) // without its snapshots
///     .config("limits.cpu", "1")
///     .mode(MigrationMode::Relay)
///     .run()
///     .await?;
/// println!("{} is on {}", copy.name(), copy.model().location);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "nothing happens until run() is awaited"]
pub struct InstanceCopy {
    target: Instances,
    source: Client,
    source_name: String,
    name: Option<String>,
    mode: MigrationMode,
    instance_only: bool,
    live: bool,
    refresh: bool,
    allow_inconsistent: bool,
    config: BTreeMap<String, String>,
    profiles: Option<Vec<String>>,
    ephemeral: Option<bool>,
    member: Option<String>,
    start: bool,
    move_source: bool,
}

impl Instances {
    /// Copies `name` from the server (and project) of `source` to this manager's server and
    /// project; `source` may be the same client. Nothing is sent until
    /// [`run`](InstanceCopy::run).
    ///
    /// Within one server or cluster LXD copies locally; between servers it migrates, in the
    /// mode chosen by [`InstanceCopy::mode`]. A running instance is copied stateless (its
    /// filesystem as it is) unless [`live`](InstanceCopy::live) is asked for.
    ///
    /// ```no_run
    /// # async fn demo(source: lxd_client::Client, target: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let copy = target.instances().copy_from(&source, "web").run().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instances_post)
    pub fn copy_from(&self, source: &Client, name: &str) -> InstanceCopy {
        InstanceCopy {
            target: self.clone(),
            source: source.clone(),
            source_name: name.to_string(),
            name: None,
            mode: MigrationMode::Auto,
            instance_only: false,
            live: false,
            refresh: false,
            allow_inconsistent: false,
            config: BTreeMap::new(),
            profiles: None,
            ephemeral: None,
            member: None,
            start: false,
            move_source: false,
        }
    }

    /// Moves `name` from `source` to this manager's server: LXD's own move inside one
    /// server or cluster (a rename, another member with [`InstanceCopy::member`], another
    /// project), else a copy followed by deleting the source.
    ///
    /// A running instance is moved stopped and started again on the destination, unless
    /// [`live`](InstanceCopy::live) is asked for (CRIU). If the copy fails, the source is
    /// left as it was (started again if it was running): nothing is lost.
    ///
    /// ```no_run
    /// # async fn demo(source: lxd_client::Client, target: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let moved = target.instances().move_from(&source, "web").run().await?;
    /// assert!(!source.instances().exists("web").await?);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_post)
    pub fn move_from(&self, source: &Client, name: &str) -> InstanceCopy {
        InstanceCopy {
            move_source: true,
            ..self.copy_from(source, name)
        }
    }

    /// The source half of a migration, for a caller who drives it himself: asks LXD to
    /// prepare `name` for migration (`POST /1.0/instances/<name>` with `migration: true`).
    /// The operation's websocket secrets ([`lxd_proto::Operation::websocket_secrets`]) go
    /// to the target's `InstanceSource` (pull), or `request.target` names the target's
    /// operation (push).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::InstancePost;
    /// let op = client
    ///     .instances()
    ///     .migration_source("web", &InstancePost { migration: true, ..Default::default() })
    ///     .await?;
    /// let secrets = op.info().websocket_secrets().unwrap_or_default();
    /// println!("channels: {:?}", secrets.keys().collect::<Vec<_>>());
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_post)
    pub async fn migration_source(&self, name: &str, request: &InstancePost) -> Result<Operation> {
        if !request.migration {
            return Err(Error::invalid(
                "migration request",
                "`migration` must be true (a rename is Instances::rename)",
            ));
        }
        self.client
            .send_operation(Method::POST, &instance_path(name)?, &[], Some(request))
            .await
    }

    /// Moves `name` to another member of the cluster (`POST /1.0/instances/<name>?target=`;
    /// LXD 5.0 moves stopped instances only).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// client.instances().move_to_member("web", "node2").await?.wait().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_post)
    pub async fn move_to_member(&self, name: &str, member: &str) -> Result<Operation> {
        check_member(member)?;
        let request = InstancePost {
            name: name.to_string(),
            migration: true,
            ..Default::default()
        };
        self.client
            .send_operation(
                Method::POST,
                &instance_path(name)?,
                &[("target", member)],
                Some(&request),
            )
            .await
    }
}

fn check_member(member: &str) -> Result<()> {
    if member.is_empty() || member.chars().any(|c| c.is_control() || c == '/') {
        return Err(Error::invalid(
            "cluster member",
            format!("{member:?}: empty, or a slash or control character"),
        ));
    }
    Ok(())
}

impl InstanceCopy {
    /// The name on the destination (default: the source's name).
    ///
    /// Sets `name` of the instance-creation request (of `POST /1.0/instances/<name>` for a move
    /// within one server).
    ///
    /// ```no_run
    /// # async fn demo(source: lxd_client::Client, target: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let copy = target.instances().copy_from(&source, "web").name("web-staging").run().await?;
    /// assert_eq!(copy.name(), "web-staging");
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instances_post)
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// How the data travels between two servers (default [`MigrationMode::Auto`]); unused
    /// within one server or cluster.
    ///
    /// Sets `source.mode` (`pull` or `push`) of the target's instance-creation request; with
    /// [`MigrationMode::Relay`] this client carries the migration websockets between the two
    /// servers.
    ///
    /// ```no_run
    /// # async fn demo(source: lxd_client::Client, target: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::MigrationMode;
    /// // Neither server can reach the other, but this client reaches both:
    /// let copy = target.instances().copy_from(&source, "web").mode(MigrationMode::Relay).run().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instances_post)
    pub fn mode(mut self, mode: MigrationMode) -> Self {
        self.mode = mode;
        self
    }

    /// Leave the snapshots behind.
    ///
    /// Sets `source.instance_only` of the instance-creation request (and `instance_only` of the
    /// source's migration request).
    ///
    /// ```no_run
    /// # async fn demo(source: lxd_client::Client, target: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let copy = target.instances().copy_from(&source, "web").instance_only(true).run().await?;
    /// assert!(copy.snapshots().list_names().await?.is_empty());
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instances_post)
    pub fn instance_only(mut self, instance_only: bool) -> Self {
        self.instance_only = instance_only;
        self
    }

    /// Live (stateful) copy of a running instance, with CRIU on both servers.
    ///
    /// Sets `source.live` of the instance-creation request (and `live` of the source's migration
    /// request).
    ///
    /// ```no_run
    /// # async fn demo(source: lxd_client::Client, target: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// // Keep the database serving: its memory state moves too.
    /// let db = target.instances().move_from(&source, "db").live(true).run().await?;
    /// assert!(db.is_running());
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instances_post)
    pub fn live(mut self, live: bool) -> Self {
        self.live = live;
        self
    }

    /// Bring an existing copy up to date instead of creating one (incremental).
    ///
    /// Sets `source.refresh` of the instance-creation request.
    ///
    /// ```no_run
    /// # async fn demo(source: lxd_client::Client, target: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// // Nightly: bring the standby up to date, sending only what changed.
    /// let copy = target.instances().copy_from(&source, "db").name("db-standby").refresh(true);
    /// copy.run().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instances_post)
    pub fn refresh(mut self, refresh: bool) -> Self {
        self.refresh = refresh;
        self
    }

    /// Ignore read errors of files that change during the copy.
    ///
    /// Sets `source.allow_inconsistent` of the instance-creation request (and `allow_inconsistent`
    /// of the source's migration request).
    ///
    /// ```no_run
    /// # async fn demo(source: lxd_client::Client, target: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// // A busy running instance whose logs are written during the copy:
    /// let copy = target.instances().copy_from(&source, "web").allow_inconsistent(true).run().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instances_post)
    pub fn allow_inconsistent(mut self, allow: bool) -> Self {
        self.allow_inconsistent = allow;
        self
    }

    /// Sets (overrides) one configuration key on the copy.
    ///
    /// Merged over the source's configuration into `config` of the instance-creation request (the
    /// source's `volatile.*` keys are left out).
    ///
    /// ```no_run
    /// # async fn demo(source: lxd_client::Client, target: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let copy = target.instances().copy_from(&source, "web").name("web-test");
    /// let copy = copy.config("limits.cpu", "1").config("user.role", "test").run().await?;
    /// assert_eq!(copy.config["user.role"], "test");
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instances_post)
    pub fn config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.config.insert(key.into(), value.into());
        self
    }

    /// The copy's profiles instead of the source's (they must exist on the destination).
    ///
    /// Sets `profiles` of the instance-creation request.
    ///
    /// ```no_run
    /// # async fn demo(source: lxd_client::Client, target: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let profiles = vec!["default".to_string(), "small".to_string()];
    /// let copy = target.instances().copy_from(&source, "web").profiles(profiles).run().await?;
    /// assert_eq!(copy.profiles, ["default", "small"]);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instances_post)
    pub fn profiles(mut self, profiles: Vec<String>) -> Self {
        self.profiles = Some(profiles);
        self
    }

    /// Makes the copy ephemeral (or not), instead of keeping the source's setting.
    ///
    /// Sets `ephemeral` of the instance-creation request.
    ///
    /// ```no_run
    /// # async fn demo(source: lxd_client::Client, target: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// // A throwaway copy for a test run: LXD deletes it when it stops.
    /// let copy = target.instances().copy_from(&source, "web").name("web-ci").ephemeral(true);
    /// let ci = copy.start(true).run().await?;
    /// assert!(ci.ephemeral);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instances_post)
    pub fn ephemeral(mut self, ephemeral: bool) -> Self {
        self.ephemeral = Some(ephemeral);
        self
    }

    /// The destination cluster member (`?target=`).
    ///
    /// Sets the `target` query parameter of the instance-creation request (of `POST
    /// /1.0/instances/<name>` for a move within the cluster).
    ///
    /// ```no_run
    /// # async fn demo(source: lxd_client::Client, target: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let copy = target.instances().copy_from(&source, "web").member("node2").run().await?;
    /// assert_eq!(copy.location, "node2");
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instances_post)
    pub fn member(mut self, member: impl Into<String>) -> Self {
        self.member = Some(member.into());
        self
    }

    /// Starts the copy once it is made (a move restarts a running source anyway).
    ///
    /// The start is a `PUT /1.0/instances/<name>/state` sent once the copy exists.
    ///
    /// ```no_run
    /// # async fn demo(source: lxd_client::Client, target: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let copy = target.instances().copy_from(&source, "web").name("web2").start(true).run().await?;
    /// assert!(copy.is_running());
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instance_state_put)
    pub fn start(mut self, start: bool) -> Self {
        self.start = start;
        self
    }

    /// Runs the copy or move and returns the instance on the destination.
    ///
    /// Errors: bad names before any request; a name already taken on the destination
    /// (before anything is stopped or sent); a server that does not trust the client; a
    /// mode the pair cannot use (named); LXD's failure of either side, with its message.
    ///
    /// ```no_run
    /// # async fn demo(source: lxd_client::Client, target: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let mut copy = target.instances().copy_from(&source, "web").name("web2").run().await?;
    /// copy.start().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/instances/instances_post)
    pub async fn run(self) -> Result<InstanceObject> {
        validate_instance_name(&self.source_name)?;
        let name = self
            .name
            .clone()
            .unwrap_or_else(|| self.source_name.clone());
        validate_instance_name(&name)?;
        if let Some(member) = &self.member {
            check_member(member)?;
        }
        let sources = self.source.instances();
        let instance = sources.get(&self.source_name).await?;
        let source_peer = Peer::of(&self.source, "source").await?;
        let target_peer = Peer::of(self.target.client(), "target").await?;
        let local = source_peer.same_as(&target_peer);

        if self.move_source && local {
            return self.native_move(&instance, &name).await;
        }
        // A taken name, found before anything is stopped or sent (Incus would only say so
        // as a database constraint failure, after the source was prepared).
        if !self.refresh && self.target.exists(&name).await? {
            return Err(Error::invalid(
                "copy",
                format!("an instance named {name:?} already exists on the target"),
            ));
        }
        let was_running = instance.status_code == StatusCode::RUNNING;
        let stop_first = self.move_source && was_running && !self.live;
        if stop_first {
            change_state(&sources, &self.source_name, InstanceStatePut::stop()).await?;
        }
        let copied = self
            .copy(&instance, &name, local, &source_peer, &target_peer)
            .await;
        if let Err(e) = copied {
            if stop_first {
                // Lose nothing: the source runs again as before the attempt.
                let _ = change_state(&sources, &self.source_name, InstanceStatePut::start()).await;
            }
            return Err(e);
        }
        if self.move_source {
            if was_running && self.live {
                let stop = InstanceStatePut::stop().with_force(true);
                change_state(&sources, &self.source_name, stop).await?;
            }
            sources.delete(&self.source_name).await?.wait().await?;
        }
        if self.start || (self.move_source && was_running) {
            change_state(&self.target, &name, InstanceStatePut::start()).await?;
        }
        self.target.object(&name).await
    }

    /// The create request for the destination: the source's writable state, minus its
    /// volatile keys (they describe the source's host), plus the caller's overrides.
    fn request(&self, instance: &Instance, name: &str) -> InstancesPost {
        let mut config: BTreeMap<String, String> = instance
            .config
            .iter()
            .filter(|(k, _)| !k.starts_with("volatile.") || *k == "volatile.base_image")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        config.extend(self.config.clone());
        InstancesPost {
            name: name.to_string(),
            instance_type: Some(instance.instance_type.clone()),
            profiles: Some(
                self.profiles
                    .clone()
                    .unwrap_or_else(|| instance.profiles.clone()),
            ),
            config,
            devices: instance.devices.clone(),
            ephemeral: self.ephemeral.unwrap_or(instance.ephemeral),
            description: instance.description.clone(),
            architecture: instance.architecture.clone(),
            source: InstanceSource {
                base_image: instance
                    .config
                    .get("volatile.base_image")
                    .cloned()
                    .unwrap_or_default(),
                live: self.live && instance.status_code == StatusCode::RUNNING,
                instance_only: self.instance_only,
                refresh: self.refresh,
                allow_inconsistent: self.allow_inconsistent,
                ..Default::default()
            },
            ..Default::default()
        }
    }

    async fn create(&self, request: &InstancesPost) -> Result<Operation> {
        match &self.member {
            Some(member) => self.target.create_on(member, request).await,
            None => self.target.create(request).await,
        }
    }

    async fn copy(
        &self,
        instance: &Instance,
        name: &str,
        local: bool,
        source_peer: &Peer,
        target_peer: &Peer,
    ) -> Result<()> {
        let mut request = self.request(instance, name);
        if local {
            request.source.source_type = InstanceSourceType::Copy;
            request.source.source = self.source_name.clone();
            if self.source.project() != self.target.client().project() {
                request.source.project = self.source.project().unwrap_or("default").to_string();
            }
            self.create(&request).await?.wait().await?;
            return Ok(());
        }
        let source_request = InstancePost {
            migration: true,
            live: request.source.live,
            instance_only: self.instance_only,
            allow_inconsistent: self.allow_inconsistent,
            ..Default::default()
        };
        request.source.source_type = InstanceSourceType::Migration;
        let sources = self.source.instances();
        transfer(
            self.mode,
            (&self.source, source_peer),
            (self.target.client(), target_peer),
            |handoff: Option<Handoff>| {
                let mut body = source_request.clone();
                body.target = handoff.map(|h| InstancePostTarget {
                    certificate: h.certificate,
                    operation: h.operation,
                    websockets: h.secrets,
                    ..Default::default()
                });
                let sources = sources.clone();
                async move { sources.migration_source(&self.source_name, &body).await }
            },
            |mode, handoff: Option<Handoff>| {
                let mut request = request.clone();
                request.source.mode = mode.into();
                if let Some(h) = handoff {
                    request.source.operation = h.operation;
                    request.source.certificate = h.certificate;
                    request.source.websockets = h.secrets;
                }
                async move { self.create(&request).await }
            },
        )
        .await
    }

    /// A move inside one server or cluster: LXD's own `POST /1.0/instances/<name>`.
    async fn native_move(&self, instance: &Instance, name: &str) -> Result<InstanceObject> {
        let sources = self.source.instances();
        let target_project = self.target.client().project().unwrap_or("default");
        let source_project = self.source.project().unwrap_or("default");
        let mut request = InstancePost {
            name: name.to_string(),
            ..Default::default()
        };
        let mut query = Vec::new();
        if let Some(member) = &self.member {
            request.migration = true;
            request.live = self.live;
            query.push(("target", member.as_str()));
        }
        if target_project != source_project {
            request.migration = true;
            request.project = target_project.to_string();
        }
        if !request.migration && name == instance.name {
            return Err(Error::invalid(
                "move",
                format!(
                    "{name:?} is already on this server in this project: give a new name, a member or another project"
                ),
            ));
        }
        self.source
            .send_operation(
                Method::POST,
                &instance_path(&self.source_name)?,
                &query,
                Some(&request),
            )
            .await?
            .wait()
            .await?;
        drop(sources);
        if self.start {
            change_state(&self.target, name, InstanceStatePut::start()).await?;
        }
        self.target.object(name).await
    }
}

async fn change_state(instances: &Instances, name: &str, state: InstanceStatePut) -> Result<()> {
    instances
        .set_state(name, &state)
        .await?
        .wait()
        .await
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_names_are_checked() {
        assert!(check_member("node1").is_ok());
        for bad in ["", "a/b", "x\n"] {
            assert!(check_member(bad).unwrap_err().is_invalid_input(), "{bad:?}");
        }
    }
}
