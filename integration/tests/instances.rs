//! Instances against a real LXD: create, list at each recursion, filters and types, get,
//! exists, ETag-checked saves, patch, rename, state changes, runtime state, snapshots,
//! publish, backups (export and re-import), logs and the console log, waiting for a status,
//! and the errors bad input gets.
//!
//! Virtual machines cannot run on these machines (no vhost_vsock): the VM tests here prove
//! the type filter and that a VM create request reaches LXD; the request shape is proven in
//! lxd-client's unit tests; testkit-backed VM tests are to come.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use lxd_client::proto::{
    ImageAlias, ImagesPost, InstanceBackupsPost, InstanceSnapshotPut, InstanceSnapshotsPost,
    InstanceSource, InstanceStatePut, InstanceType, InstancesPost, StatusCode, ZERO_TIME,
};
use lxd_client::{BackupImport, Client, Method};
use lxd_integration::{Env, clean_up_from_drop, kill_and_delete, require, unique};
use serde_json::json;

/// Deletes what a test made, also when it fails: instances (killed first) and images. Runs
/// on its own thread and runtime because `Drop` cannot await.
struct Cleanup {
    env: Env,
    instances: Vec<String>,
    images: Vec<String>,
}

impl Cleanup {
    fn new(env: &Env) -> Cleanup {
        Cleanup {
            env: env.clone(),
            instances: Vec::new(),
            images: Vec::new(),
        }
    }

    /// Registers an instance name for deletion and returns it.
    fn instance(&mut self, name: &str) -> String {
        self.instances.push(name.to_string());
        name.to_string()
    }

    fn image(&mut self, fingerprint: &str) {
        self.images.push(fingerprint.to_string());
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let env = self.env.clone();
        let instances = std::mem::take(&mut self.instances);
        let images = std::mem::take(&mut self.images);
        clean_up_from_drop(async move {
            let client = env.client();
            for name in instances {
                let _ = kill_and_delete(&client, &name).await;
            }
            for fingerprint in images {
                let path = format!("/1.0/images/{fingerprint}");
                if let Ok(op) = client.raw(Method::DELETE, path).operation().await {
                    let _ = op.wait().await;
                }
            }
        });
    }
}

/// A stopped container from the test image, with a marker in its config.
async fn container(client: &Client, env: &Env, name: &str) -> lxd_client::InstanceObject {
    let mut request = env.from_image(name);
    request.description = "made by lxd-rs tests".into();
    request
        .config
        .insert("user.marker".into(), format!("m-{name}"));
    client.containers().create_and_wait(&request).await.unwrap()
}

/// Runs a command in the instance through the raw escape hatch (exec has its own module and
/// tests), recording its output in the instance's logs; returns the operation's metadata.
async fn run(client: &Client, name: &str, command: &[&str]) -> serde_json::Value {
    let body = json!({"command": command, "wait-for-websocket": false, "interactive": false,
                      "record-output": true});
    let op = client
        .raw(Method::POST, format!("/1.0/instances/{name}/exec"))
        .json(&body)
        .unwrap()
        .operation()
        .await
        .unwrap();
    let done = op.wait_timeout(Duration::from_secs(60)).await.unwrap();
    let metadata = done.metadata.unwrap_or_default();
    assert_eq!(metadata["return"], 0, "{command:?}: {metadata}");
    metadata
}

#[tokio::test]
async fn container_create_get_exists_and_list_at_each_recursion_with_filters() {
    let env = require!();
    let client = env.client();
    let mut cleanup = Cleanup::new(&env);
    let name = cleanup.instance(&unique("it-inst"));
    let c = container(&client, &env, &name).await;

    // Every attribute LXD returns is there.
    assert_eq!(c.name(), name);
    assert_eq!(c.instance_type, InstanceType::Container);
    assert_eq!(c.status_code, StatusCode::STOPPED);
    assert_eq!(c.status, "Stopped");
    assert!(!c.architecture.is_empty());
    assert_eq!(c.config["user.marker"], format!("m-{name}"));
    assert_eq!(c.expanded_config["user.marker"], format!("m-{name}"));
    assert_eq!(c.expanded_devices["root"]["type"], "disk");
    assert_eq!(c.profiles, ["default"]);
    assert_eq!(c.description, "made by lxd-rs tests");
    assert!(!c.ephemeral && !c.stateful);
    assert!(c.created_at.starts_with("20"), "{}", c.created_at);
    assert!(!c.last_used_at.is_empty());
    assert_eq!(c.project, env.project);
    assert_eq!(c.location, "none");
    assert!(
        c.extra.is_empty(),
        "LXD 5.0.2 sends nothing unknown: {:?}",
        c.extra
    );
    assert!(c.etag().is_some());

    let instances = client.instances();
    assert!(instances.exists(&name).await.unwrap());
    assert!(!instances.exists(&unique("it-none")).await.unwrap());
    assert_eq!(instances.get(&name).await.unwrap(), *c.model());

    // recursion 0, 1 and 2.
    assert!(instances.list_names().await.unwrap().contains(&name));
    let listed = instances.list().await.unwrap();
    let mine = listed.iter().find(|i| i.name == name).expect("listed");
    assert_eq!(mine.created_at, c.created_at);
    assert_eq!(mine.config, c.config);
    let full = instances.list_full().await.unwrap();
    let mine = full
        .iter()
        .find(|f| f.instance.name == name)
        .expect("listed");
    let state = mine.state.as_ref().expect("recursion 2 carries the state");
    assert_eq!(state.status_code, StatusCode::STOPPED);
    assert!(mine.snapshots.is_empty() && mine.backups.is_empty());
    let one = instances.get_full(&name).await.unwrap();
    assert_eq!(one.instance.name, name);
    assert!(one.state.is_some());

    // Server-side filters: exactly this instance, by name and by a config key.
    let by_name = instances
        .query()
        .filter("name", &name)
        .list()
        .await
        .unwrap();
    assert_eq!(by_name.len(), 1, "{by_name:?}");
    let by_marker = instances
        .query()
        .filter("config.user.marker", &format!("m-{name}"))
        .names()
        .await
        .unwrap();
    assert_eq!(by_marker, std::slice::from_ref(&name));
    let none = instances
        .query()
        .filter("name", &name)
        .filter("status", "Running")
        .list_full()
        .await
        .unwrap();
    assert!(none.is_empty(), "{none:?}");
    // A raw LXD expression comes first, so the filters apply to it as a whole.
    let either = instances
        .query()
        .filter_expr("status eq Stopped or status eq Running")
        .filter("name", &name)
        .names()
        .await
        .unwrap();
    assert_eq!(either, std::slice::from_ref(&name));

    // A value with spaces and regex characters matches exactly (escaped and anchored).
    let exact = instances
        .query()
        .filter("description", "made by lxd-rs tests")
        .filter("config.user.marker", &format!("m-{name}"))
        .names()
        .await
        .unwrap();
    assert_eq!(exact, std::slice::from_ref(&name));
    let prefix_only = instances
        .query()
        .filter("description", "made by")
        .filter("name", &name)
        .names()
        .await
        .unwrap();
    assert!(
        prefix_only.is_empty(),
        "equality, not a prefix: {prefix_only:?}"
    );
    let dots = instances
        .query()
        .filter("description", "made.by.lxd-rs.tests")
        .filter("name", &name)
        .names()
        .await
        .unwrap();
    assert!(dots.is_empty(), "'.' is not a wildcard: {dots:?}");

    // Across projects, grouped by project.
    let everywhere = instances
        .query()
        .all_projects()
        .names_by_project()
        .await
        .unwrap();
    assert!(everywhere[&env.project].contains(&name), "{everywhere:?}");
    let all = instances.query().all_projects().list().await.unwrap();
    assert!(
        all.iter()
            .any(|i| i.name == name && i.project == env.project)
    );

    // The containers manager sees it, through a real type filter.
    assert!(
        client
            .containers()
            .list_names()
            .await
            .unwrap()
            .contains(&name)
    );
    assert!(client.containers().exists(&name).await.unwrap());
}

#[tokio::test]
async fn virtual_machine_type_filter_excludes_containers_and_vm_create_reaches_lxd() {
    // Virtual machines cannot run here (no vhost_vsock): this proves the type filter against
    // the real server and that a VM request reaches LXD; the testkit-backed VM tests are to
    // come.
    let env = require!();
    let client = env.client();
    let mut cleanup = Cleanup::new(&env);
    let name = cleanup.instance(&unique("it-novm"));
    container(&client, &env, &name).await;

    let vms = client.virtual_machines();
    assert!(!vms.list_names().await.unwrap().contains(&name));
    assert!(vms.list().await.unwrap().iter().all(|i| i.name != name));
    assert!(
        vms.list()
            .await
            .unwrap()
            .iter()
            .all(|i| i.instance_type == InstanceType::VirtualMachine)
    );
    assert!(!vms.exists(&name).await.unwrap());
    let err = vms.get(&name).await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert!(err.to_string().contains("container"), "{err}");

    let vm = cleanup.instance(&unique("it-vm"));
    let request = InstancesPost {
        name: vm.clone(),
        source: InstanceSource::none(),
        ..Default::default()
    };
    let result = match vms.create(&request).await {
        Ok(op) => op.wait().await.map(|_| ()),
        Err(e) => Err(e),
    };
    let err = result.expect_err("this server cannot make virtual machines");
    let message = err.lxd_message().expect("LXD's own message");
    assert!(message.contains("virtual-machine"), "{err}");
    assert!(!client.instances().exists(&vm).await.unwrap());
}

#[tokio::test]
async fn save_with_current_etag_applies_and_stale_etag_is_refused() {
    let env = require!();
    let client = env.client();
    let mut cleanup = Cleanup::new(&env);
    let name = cleanup.instance(&unique("it-etag"));
    let mut first = container(&client, &env, &name).await;
    let mut second = client.instances().object(&name).await.unwrap();
    assert_eq!(first.etag(), second.etag());

    // Dirty tracking and rollback.
    assert!(!first.is_dirty());
    first.config.insert("user.first".into(), "1".into());
    first.description = "first".into();
    assert_eq!(first.changed_fields(), ["config", "description"]);
    let before = first.etag().cloned();
    first.save().await.unwrap();
    assert!(!first.is_dirty());
    assert_ne!(first.etag().cloned(), before, "the ETag follows the change");
    let server = client.instances().get(&name).await.unwrap();
    assert_eq!(server.config["user.first"], "1");
    assert_eq!(server.description, "first");

    // `second` was read before that save: its ETag is stale, and LXD refuses.
    second.config.insert("user.second".into(), "2".into());
    let err = second.save().await.unwrap_err();
    assert!(err.is_precondition_failed(), "{err}");
    assert!(err.lxd_message().unwrap().contains("ETag"), "{err}");
    let server = client.instances().get(&name).await.unwrap();
    assert!(
        !server.config.contains_key("user.second"),
        "nothing was overwritten"
    );
    assert!(second.is_dirty(), "the refused change is kept");

    // Re-read: the other change is taken, ours stays on top; then the save goes through.
    second.sync().await.unwrap();
    assert_eq!(second.config["user.first"], "1");
    assert_eq!(second.config["user.second"], "2");
    assert_eq!(second.changed_fields(), ["config"]);
    second.save().await.unwrap();
    let server = client.instances().get(&name).await.unwrap();
    assert_eq!(server.config["user.first"], "1");
    assert_eq!(server.config["user.second"], "2");

    // The manager-level form: an explicit stale ETag is refused the same way.
    let stale = client.instances().get_with_etag(&name).await.unwrap();
    first.sync().await.unwrap();
    first.config.insert("user.third".into(), "3".into());
    first.save().await.unwrap();
    let mut put = stale.writable();
    put.config.insert("user.fourth".into(), "4".into());
    let err = client
        .instances()
        .update(&name, &put, stale.etag.as_ref())
        .await
        .unwrap_err();
    assert!(err.is_precondition_failed(), "{err}");
}

#[tokio::test]
async fn patch_rollback_and_saving_a_deleted_instance() {
    let env = require!();
    let client = env.client();
    let mut cleanup = Cleanup::new(&env);
    let name = cleanup.instance(&unique("it-patch"));
    let mut c = container(&client, &env, &name).await;

    // PATCH merges config keys; unsaved local changes survive the re-read, and the
    // server's description is kept (LXD resets it when a PATCH leaves it out).
    c.description = "local, unsaved".into();
    c.patch(&json!({"config": {"user.patched": "yes"}}))
        .await
        .unwrap();
    assert_eq!(c.config["user.patched"], "yes");
    assert_eq!(
        c.config["user.marker"],
        format!("m-{name}"),
        "merged, not replaced"
    );
    assert_eq!(c.description, "local, unsaved");
    assert_eq!(c.original().description, "made by lxd-rs tests");
    c.rollback();
    assert!(!c.is_dirty());
    assert_eq!(c.description, "made by lxd-rs tests");
    let err = client
        .instances()
        .patch(&name, &json!(["not", "an", "object"]), None)
        .await
        .unwrap_err();
    assert!(err.is_invalid_input(), "{err}");

    // Renaming through `name` is refused: rename() is the way.
    c.name = "something-else".into();
    assert!(c.save().await.unwrap_err().is_invalid_input());
    c.rollback();

    // Saving an instance deleted meanwhile is a clear not-found.
    client
        .instances()
        .delete(&name)
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    c.config.insert("user.late".into(), "1".into());
    let err = c.save().await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert!(
        err.lxd_message()
            .unwrap()
            .to_lowercase()
            .contains("not found"),
        "{err}"
    );
    let err = c.sync().await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
}

#[tokio::test]
async fn rename_start_state_restart_freeze_unfreeze_stop() {
    let env = require!();
    let client = env.client();
    let mut cleanup = Cleanup::new(&env);
    let old = cleanup.instance(&unique("it-life"));
    let new = cleanup.instance(&unique("it-life-renamed"));
    let mut c = container(&client, &env, &old).await;

    c.rename(&new).await.unwrap();
    assert_eq!(c.name(), new);
    assert_eq!(c.config["user.marker"], format!("m-{old}"));
    assert!(!client.instances().exists(&old).await.unwrap());
    assert!(client.instances().exists(&new).await.unwrap());

    c.start().await.unwrap();
    assert_eq!(c.status_code, StatusCode::RUNNING);
    assert!(c.is_running());
    let state = c.state().await.unwrap();
    assert_eq!(state.status_code, StatusCode::RUNNING);
    assert!(state.pid > 0, "{state:?}");
    assert!(state.processes >= 1, "{state:?}");
    // Measured where the server has the cgroup controller, else reported as 0 (Incus 7.0
    // in its own cgroup2 here has neither memory nor cpu).
    let missing = lxd_integration::missing_cgroup_controllers(&client).await;
    let measured = |controller: &str| !missing.iter().any(|c| c == controller);
    assert_eq!(state.memory.usage > 0, measured("memory"), "{state:?}");
    assert_eq!(state.cpu.usage > 0, measured("cpu"), "{state:?}");
    let network = state
        .network
        .as_ref()
        .expect("a running container has interfaces");
    // Read from the container's network namespace by netlink. A server that reports its
    // kernel's `netnsid_getifaddrs` lists `lo`; Incus 7.0 reports no kernel features and
    // answers nothing for a namespace without any address (busybox leaves `lo` down),
    // logging "Netlink requests are not fully network namespace id aware".
    let kernel = &client.server().await.unwrap().environment.kernel_features;
    if kernel.contains_key("netnsid_getifaddrs") || !network.is_empty() {
        assert!(network.contains_key("lo"), "{network:?}");
        assert_eq!(network["lo"].network_type, "loopback");
    }

    c.restart(true).await.unwrap();
    assert!(c.is_running());
    let restarted = c.state().await.unwrap();
    assert_ne!(restarted.pid, state.pid, "a new init after the restart");

    c.freeze().await.unwrap();
    assert_eq!(c.status_code, StatusCode::FROZEN);
    assert_eq!(c.state().await.unwrap().status, "Frozen");
    c.unfreeze().await.unwrap();
    assert_eq!(c.status_code, StatusCode::RUNNING);

    // A clean stop with a timeout, as a full InstanceStatePut; busybox init ignores SIGPWR,
    // so force it.
    c.change_state(&InstanceStatePut::stop().with_timeout(5).with_force(true))
        .await
        .unwrap();
    assert_eq!(c.status_code, StatusCode::STOPPED);
    let state = c.state().await.unwrap();
    assert_eq!(state.pid, 0);
    c.delete().await.unwrap();
    assert!(!client.instances().exists(&new).await.unwrap());
}

#[tokio::test]
async fn bad_input_and_refusals_carry_clear_errors() {
    let env = require!();
    let client = env.client();
    let mut cleanup = Cleanup::new(&env);
    let instances = client.instances();

    // Invalid names never leave the client.
    for bad in ["", "1abc", "a_b", "a/b", "-a", "a-"] {
        assert!(
            instances.get(bad).await.unwrap_err().is_invalid_input(),
            "{bad:?}"
        );
        assert!(instances.delete(bad).await.unwrap_err().is_invalid_input());
        let request = env.from_image(bad);
        if !bad.is_empty() {
            assert!(
                instances
                    .create(&request)
                    .await
                    .unwrap_err()
                    .is_invalid_input()
            );
        }
    }
    assert!(
        instances
            .snapshots("c1")
            .get("a/b")
            .await
            .unwrap_err()
            .is_invalid_input()
    );

    // A cluster target on a server that is not clustered: LXD's refusal, and no instance.
    let targeted = cleanup.instance(&unique("it-bad-target"));
    let err = instances
        .create_on("node2", &env.from_image(&targeted))
        .await
        .unwrap_err();
    assert!(err.is_bad_request(), "{err}");
    assert_eq!(
        err.lxd_message(),
        Some("Target only allowed when clustered")
    );
    assert!(
        instances
            .create_on("", &env.from_image(&targeted))
            .await
            .unwrap_err()
            .is_invalid_input()
    );
    assert!(!instances.exists(&targeted).await.unwrap());

    let name = cleanup.instance(&unique("it-bad"));
    let mut c = container(&client, &env, &name).await;
    assert!(
        instances
            .rename(&name, "not valid")
            .await
            .unwrap_err()
            .is_invalid_input()
    );
    c.start().await.unwrap();

    // Deleting a running instance: LXD says no, synchronously.
    let err = instances.delete(&name).await.unwrap_err();
    assert!(err.is_bad_request(), "{err}");
    assert_eq!(err.lxd_message(), Some("Instance is running"));
    // Renaming a running one: the operation fails with LXD's reason.
    let err = instances
        .rename(&name, &unique("it-bad-new"))
        .await
        .unwrap()
        .wait()
        .await
        .unwrap_err();
    assert!(err.is_operation_failed(), "{err}");
    assert!(err.lxd_message().unwrap().contains("running"), "{err}");
    // Publishing a running container.
    let err = instances
        .publish_and_wait(&name, &ImagesPost::default())
        .await
        .unwrap_err();
    assert!(err.is_operation_failed(), "{err}");
    assert!(err.lxd_message().unwrap().contains("running"), "{err}");

    // Unknown snapshot, backup and log file: LXD's not-found, with its message.
    let err = c.snapshots().get("no-such-snap").await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert!(
        err.lxd_message()
            .unwrap()
            .to_lowercase()
            .contains("not found"),
        "{err}"
    );
    assert!(!c.snapshots().exists("no-such-snap").await.unwrap());
    // Restoring one: LXD 5.0.2 accepts the request and fails the operation.
    let err = match c.snapshots().restore("no-such-snap", false).await {
        Ok(op) => op.wait().await.map(|_| ()),
        Err(e) => Err(e),
    }
    .unwrap_err();
    assert!(err.lxd_message().unwrap().contains("no-such-snap"), "{err}");
    let err = c.backups().get("no-such-backup").await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    let err = c.logs().get("no-such.log").await.err().expect("refused");
    assert!(err.lxd_message().is_some(), "{err}");
    c.stop(true).await.unwrap();
}

#[tokio::test]
async fn snapshots_create_rename_update_restore_publish_delete() {
    let env = require!();
    let client = env.client();
    let mut cleanup = Cleanup::new(&env);
    let name = cleanup.instance(&unique("it-snap"));
    let mut c = container(&client, &env, &name).await;
    let snapshots = c.snapshots();
    assert!(snapshots.list_names().await.unwrap().is_empty());

    // Taken with user.version=1 and an expiry.
    c.config.insert("user.version".into(), "1".into());
    c.save().await.unwrap();
    let request = InstanceSnapshotsPost {
        name: "v1".into(),
        expires_at: Some("2031-01-01T00:00:00Z".into()),
        ..Default::default()
    };
    let v1 = snapshots.create_and_wait(&request).await.unwrap();
    assert_eq!(v1.name, "v1");
    assert_eq!(v1.config["user.version"], "1");
    assert!(v1.expires(), "{}", v1.expires_at);
    assert!(v1.expires_at.starts_with("2031-01-01"), "{}", v1.expires_at);
    assert!(!v1.stateful);
    // An unnamed one: LXD picks the name.
    snapshots
        .create(&InstanceSnapshotsPost::default())
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    let names = snapshots.list_names().await.unwrap();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.contains(&"v1".to_string()));
    let auto = names.iter().find(|n| *n != "v1").unwrap().clone();
    assert!(auto.starts_with("snap"), "{auto}");
    let listed = snapshots.list().await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(snapshots.exists("v1").await.unwrap());

    // Rename, and change the expiry (with the snapshot's ETag; a stale one is refused).
    snapshots
        .rename("v1", "version-1")
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    assert!(!snapshots.exists("v1").await.unwrap());
    let current = snapshots.get_with_etag("version-1").await.unwrap();
    let mut put = current.writable();
    put.expires_at = ZERO_TIME.into(); // never
    snapshots
        .update("version-1", &put, current.etag.as_ref())
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    let kept = snapshots.get("version-1").await.unwrap();
    assert_eq!(kept.expires_at, ZERO_TIME);
    assert!(!kept.expires());
    let later = InstanceSnapshotPut {
        expires_at: "2032-01-01T00:00:00Z".into(),
        ..Default::default()
    };
    let err = snapshots
        .update("version-1", &later, current.etag.as_ref())
        .await
        .unwrap_err();
    assert!(err.is_precondition_failed(), "{err}");

    // Restore brings user.version back to 1.
    c.config.insert("user.version".into(), "2".into());
    c.save().await.unwrap();
    c.restore_snapshot("version-1", false).await.unwrap();
    assert_eq!(c.config["user.version"], "1");
    assert_eq!(
        client.instances().get(&name).await.unwrap().config["user.version"],
        "1"
    );

    // Publish a snapshot of the running instance as an image.
    c.start().await.unwrap();
    let alias = unique("it-snap-img");
    let image = snapshots
        .publish_and_wait(
            "version-1",
            &ImagesPost {
                aliases: vec![ImageAlias::new(&alias)],
                properties: [("description".to_string(), "from a snapshot".to_string())].into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    cleanup.image(&image.fingerprint);
    assert_eq!(image.fingerprint.len(), 64);
    assert!(image.aliases.iter().any(|a| a.name == alias));
    assert_eq!(image.properties["description"], "from a snapshot");
    assert!(image.size > 0);
    c.stop(true).await.unwrap();

    // Delete both.
    for snapshot in ["version-1", auto.as_str()] {
        snapshots
            .delete(snapshot)
            .await
            .unwrap()
            .wait()
            .await
            .unwrap();
    }
    assert!(snapshots.list().await.unwrap().is_empty());
}

#[tokio::test]
async fn publish_stopped_instance_as_image_usable_for_new_instances() {
    let env = require!();
    let client = env.client();
    let mut cleanup = Cleanup::new(&env);
    let name = cleanup.instance(&unique("it-pub"));
    let c = container(&client, &env, &name).await;
    let alias = unique("it-pub-img");
    let request = ImagesPost {
        aliases: vec![ImageAlias {
            name: alias.clone(),
            description: "published by a test".into(),
            ..Default::default()
        }],
        properties: [
            ("os".to_string(), "busybox".to_string()),
            ("description".to_string(), format!("published {name}")),
        ]
        .into(),
        public: true,
        ..Default::default()
    };
    let image = c.publish(&request).await.unwrap();
    cleanup.image(&image.fingerprint);
    assert_eq!(image.fingerprint.len(), 64);
    assert!(image.public);
    assert_eq!(image.properties["os"], "busybox");
    assert_eq!(image.properties["description"], format!("published {name}"));
    assert_eq!(image.image_type, InstanceType::Container);
    assert_eq!(image.architecture, c.architecture);
    let listed = image
        .aliases
        .iter()
        .find(|a| a.name == alias)
        .expect("alias");
    assert_eq!(listed.description, "published by a test");
    let err = client
        .instances()
        .publish(
            &name,
            &ImagesPost {
                source: Some(lxd_client::proto::ImagesPostSource::instance("x")),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(err.is_invalid_input(), "{err}");

    // The image makes new instances.
    let child = cleanup.instance(&unique("it-pub-child"));
    let made = client
        .containers()
        .create_and_wait(&InstancesPost {
            name: child.clone(),
            source: InstanceSource::image_alias(&alias),
            ..Default::default()
        })
        .await
        .unwrap();
    // The image's properties become the new instance's image.* keys.
    assert_eq!(
        made.config["image.description"],
        format!("published {name}")
    );
    assert_eq!(made.config["image.os"], "busybox");
}

#[tokio::test]
async fn backup_export_streams_and_reimports_into_new_instance() {
    let env = require!();
    let client = env.client();
    let mut cleanup = Cleanup::new(&env);
    let name = cleanup.instance(&unique("it-bak"));
    let c = container(&client, &env, &name).await;
    c.snapshots()
        .create_and_wait(&InstanceSnapshotsPost {
            name: "s0".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let backups = c.backups();
    assert!(backups.list().await.unwrap().is_empty());

    let made = backups
        .create_and_wait(&InstanceBackupsPost {
            name: "full".into(),
            expires_at: "2031-01-01T00:00:00Z".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(made.name, "full");
    assert!(!made.instance_only && !made.optimized_storage);
    assert!(
        made.expires_at.starts_with("2031-01-01"),
        "{}",
        made.expires_at
    );
    // An unnamed, instance-only one: LXD names it, the operation says which.
    let auto = backups
        .create_and_wait(&InstanceBackupsPost {
            instance_only: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(auto.name.starts_with("backup"), "{}", auto.name);
    assert!(auto.instance_only);
    let mut names = backups.list_names().await.unwrap();
    names.sort();
    let mut expected = vec![auto.name.clone(), "full".to_string()];
    expected.sort();
    assert_eq!(names, expected);
    backups
        .rename(&auto.name, "renamed")
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    assert!(backups.get("renamed").await.unwrap().instance_only);

    // Export to a file, chunk by chunk, and as a stream: the same bytes.
    let dir = std::env::temp_dir().join(unique("it-bak-dir"));
    tokio::fs::create_dir_all(&dir).await.unwrap();
    let path = dir.join("full.tar.gz");
    let mut file = tokio::fs::File::create(&path).await.unwrap();
    let written = backups.export_to("full", &mut file).await.unwrap();
    drop(file);
    let on_disk = tokio::fs::metadata(&path).await.unwrap().len();
    assert_eq!(written, on_disk);
    assert!(
        written > 100_000,
        "a busybox rootfs is about 1 MB: {written}"
    );
    let head = tokio::fs::read(&path).await.unwrap();
    assert_eq!(&head[..2], [0x1f, 0x8b], "gzip");
    let mut stream = backups.export("full").await.unwrap();
    let mut streamed = 0u64;
    let mut chunks = 0;
    while let Some(chunk) = stream.next().await {
        streamed += chunk.unwrap().len() as u64;
        chunks += 1;
    }
    assert_eq!(streamed, written);
    assert!(chunks > 1, "streamed, not in one piece");
    let err = backups
        .export("no-such-backup")
        .await
        .err()
        .expect("refused");
    assert!(err.is_not_found(), "{err}");

    // Re-import under a new name, streamed from the file.
    let restored = cleanup.instance(&unique("it-bak-restored"));
    let file = tokio::fs::File::open(&path).await.unwrap();
    client
        .instances()
        .create_from_backup(file, &BackupImport::new().name(&restored).length(on_disk))
        .await
        .unwrap()
        .wait_timeout(Duration::from_secs(120))
        .await
        .unwrap();
    let back = client.instances().get_full(&restored).await.unwrap();
    assert_eq!(back.instance.config["user.marker"], format!("m-{name}"));
    assert_eq!(back.instance.description, "made by lxd-rs tests");
    assert_eq!(back.snapshots.len(), 1, "the snapshot came back too");
    assert_eq!(back.snapshots[0].name, "s0");
    // And without a known length (chunked upload), starting the restored copy.
    let chunked = cleanup.instance(&unique("it-bak-chunked"));
    let file = tokio::fs::File::open(&path).await.unwrap();
    client
        .instances()
        .create_from_backup(file, &BackupImport::new().name(&chunked).pool("default"))
        .await
        .unwrap()
        .wait_timeout(Duration::from_secs(120))
        .await
        .unwrap();
    let mut copy = client.instances().object(&chunked).await.unwrap();
    copy.start().await.unwrap();
    assert!(copy.is_running());
    copy.stop(true).await.unwrap();

    for backup in ["full", "renamed"] {
        backups.delete(backup).await.unwrap().wait().await.unwrap();
    }
    assert!(backups.list().await.unwrap().is_empty());
    let _ = tokio::fs::remove_dir_all(&dir).await;
}

#[tokio::test]
async fn logs_list_get_delete_and_console_log_get_clear() {
    let env = require!();
    let client = env.client();
    let mut cleanup = Cleanup::new(&env);
    let name = cleanup.instance(&unique("it-logs"));
    let mut c = container(&client, &env, &name).await;
    c.start().await.unwrap();
    let logs = c.logs();

    let files = logs.list().await.unwrap();
    assert!(files.contains(&"lxc.log".to_string()), "{files:?}");
    // Incus 6.0 lists only lxc.log; LXD also lxc.conf, which names the container.
    let readable = if env.is_incus() {
        "lxc.log"
    } else {
        "lxc.conf"
    };
    assert!(files.contains(&readable.to_string()), "{files:?}");
    // Read as a stream and into a writer: the same bytes.
    let conf: Vec<_> = logs
        .get(readable)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let conf = String::from_utf8_lossy(&conf.concat()).into_owned();
    if !env.is_incus() {
        assert!(conf.contains(&format!("lxc.uts.name = {name}")), "{conf}");
    }
    let mut copy = Vec::new();
    let n = logs.get_to(readable, &mut copy).await.unwrap();
    assert_eq!(n as usize, copy.len());
    if !env.is_incus() {
        // (lxc.log may grow between the two reads)
        assert_eq!(String::from_utf8(copy).unwrap(), conf);
    }
    let err = logs.delete("lxc.log").await.unwrap_err();
    assert!(err.is_bad_request(), "{err}");
    // LXD: "... may not be deleted"; Incus: "Only log files excluding ... may be deleted".
    let message = err.lxd_message().unwrap();
    assert!(
        message.contains("may not be deleted") || message.contains("may be deleted"),
        "{err}"
    );

    // Recorded exec output is a log file: read it, delete it.
    let marker = unique("console-marker");
    let metadata = run(
        &client,
        &name,
        &[
            "sh",
            "-c",
            &format!("echo {marker} > /dev/console; echo recorded-{marker}"),
        ],
    )
    .await;
    let stdout_url = metadata["output"]["1"].as_str().unwrap();
    let stdout = stdout_url.rsplit('/').next().unwrap().to_string();
    assert!(logs.list().await.unwrap().contains(&stdout));
    let mut out = Vec::new();
    logs.get_to(&stdout, &mut out).await.unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        format!("recorded-{marker}\n")
    );
    logs.delete(&stdout).await.unwrap();
    assert!(!logs.list().await.unwrap().contains(&stdout));
    let err = logs.get(&stdout).await.err().expect("gone");
    assert!(err.lxd_message().is_some(), "{err}");

    // The console log holds what was written to /dev/console. On LXD 5.0.2 reading a
    // running container's console buffer drains it: each read returns what is new.
    let mut console = Vec::new();
    logs.console_to(&mut console).await.unwrap();
    let console = String::from_utf8_lossy(&console).to_string();
    assert!(console.contains(&marker), "{console:?}");
    let second = unique("console-second");
    run(
        &client,
        &name,
        &["sh", "-c", &format!("echo {second} > /dev/console")],
    )
    .await;
    let streamed: Vec<_> = logs.console().await.unwrap().try_collect().await.unwrap();
    let streamed = String::from_utf8_lossy(&streamed.concat()).to_string();
    assert!(streamed.contains(&second), "{streamed:?}");
    // Cleared, unread output is gone and the log is empty (LXD 5.0.2 answers an empty
    // buffer with HTTP 500 "open : no such file or directory", which the client reads as
    // the empty log it is).
    let third = unique("console-third");
    run(
        &client,
        &name,
        &["sh", "-c", &format!("echo {third} > /dev/console")],
    )
    .await;
    logs.clear_console().await.unwrap();
    let mut after = Vec::new();
    assert_eq!(logs.console_to(&mut after).await.unwrap(), 0);
    assert!(after.is_empty(), "{:?}", String::from_utf8_lossy(&after));
    assert_eq!(logs.console().await.unwrap().count().await, 0);
    c.stop(true).await.unwrap();
}

#[tokio::test]
async fn wait_for_status_is_driven_by_events_and_times_out() {
    let env = require!();
    let client = env.client();
    let mut cleanup = Cleanup::new(&env);
    let name = cleanup.instance(&unique("it-wait"));
    let mut c = container(&client, &env, &name).await;

    // Already there: returns at once.
    let now = client
        .instances()
        .wait_for_status(&name, StatusCode::STOPPED, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(now.status_code, StatusCode::STOPPED);

    // A waiter for RUNNING, then someone else starts it, through the same client. (This
    // stalls LXD 5.0.2 while the transport's connection pool may open a connection it then
    // leaves unused: LXD answers no new unix connection, its own start/stop hooks included,
    // while one that never sent a request is open.)
    let waiter = {
        let instances = client.instances();
        let name = name.clone();
        tokio::spawn(async move {
            instances
                .wait_for_status(&name, StatusCode::RUNNING, Duration::from_secs(60))
                .await
        })
    };
    client
        .instances()
        .set_state(&name, &InstanceStatePut::start())
        .await
        .unwrap()
        .wait_timeout(Duration::from_secs(60))
        .await
        .unwrap();
    let running = waiter.await.unwrap().unwrap();
    assert_eq!(running.status_code, StatusCode::RUNNING);

    // The container powers itself off (busybox init halts on SIGUSR2): the waiter sees it.
    let waiter = {
        let instances = client.instances();
        let name = name.clone();
        tokio::spawn(async move {
            instances
                .wait_for_status(&name, StatusCode::STOPPED, Duration::from_secs(60))
                .await
        })
    };
    let op = client
        .raw(Method::POST, format!("/1.0/instances/{name}/exec"))
        .json(
            &json!({"command": ["kill", "-USR2", "1"], "wait-for-websocket": false,
                      "interactive": false}),
        )
        .unwrap()
        .operation()
        .await
        .unwrap();
    // The exec may end with the container; either way it ends.
    let _ = op.wait_timeout(Duration::from_secs(60)).await;
    let stopped = waiter.await.unwrap().unwrap();
    assert_eq!(stopped.status_code, StatusCode::STOPPED);

    // A status that never comes: a timeout, not a hang.
    let started = std::time::Instant::now();
    let err = c
        .wait_for_status(StatusCode::FROZEN, Duration::from_secs(2))
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(err.to_string().contains(&name), "{err}");
}
