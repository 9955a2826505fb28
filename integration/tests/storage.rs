//! Storage pools, volumes and volume snapshots against a real LXD (dir driver), including a
//! custom volume mounted into a running busybox container and written through.

use std::collections::BTreeMap;
use std::path::PathBuf;

use lxd_client::Client;
use lxd_client::proto::{
    ProfilesPost, StoragePoolStatus, StoragePoolsPost, StorageVolumePut, StorageVolumeSnapshotPut,
    StorageVolumeType, StorageVolumesPost,
};
use lxd_integration::{Env, kill_and_delete, launch, require, unique};

use StorageVolumeType::{Container, Custom, Image};

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn dir_pool(name: &str) -> StoragePoolsPost {
    StoragePoolsPost {
        name: name.to_string(),
        driver: "dir".into(),
        description: "lxd-rs test pool".into(),
        ..Default::default()
    }
}

/// Where the dir driver keeps a custom volume of the default project on the host, from the
/// pool's `source` as LXD reports it.
async fn volume_dir(env: &Env, client: &Client, pool: &str, volume: &str) -> PathBuf {
    let source = client.storage_pools().get(pool).await.unwrap().config["source"].clone();
    env.host_path(&source)
        .join("custom")
        .join(format!("default_{volume}"))
}

/// Runs a shell command in a container with `lxc exec` (the client's exec is tested
/// elsewhere); panics with its output on failure.
fn lxc_exec(env: &Env, instance: &str, script: &str) {
    let lxd_dir = env.socket.parent().expect("socket in LXD_DIR");
    let out = std::process::Command::new("lxc")
        .env("LXD_DIR", lxd_dir)
        .env("LXD_SOCKET", &env.socket)
        .args(["--force-local", "exec", instance, "--", "sh", "-c", script])
        .output()
        .expect("running lxc");
    assert!(
        out.status.success(),
        "lxc exec {instance} {script:?}: {out:?}"
    );
}

#[tokio::test]
async fn pool_lifecycle_resources_and_bad_input() {
    let env = require!();
    let client = env.client();
    let pools = client.storage_pools();
    let name = unique("it-pool");
    pools.create(&dir_pool(&name)).await.unwrap();

    assert!(pools.list_names().await.unwrap().contains(&name));
    let listed = pools.list().await.unwrap();
    let mine = listed.iter().find(|p| p.name == name).expect("listed");
    assert_eq!(mine.driver, "dir");
    assert_eq!(mine.status, StoragePoolStatus::Created);
    assert_eq!(mine.description, "lxd-rs test pool");
    assert!(mine.config.contains_key("source"), "{mine:?}");
    assert!(pools.exists(&name).await.unwrap());
    assert!(!pools.exists(&unique("it-nopool")).await.unwrap());

    // PUT with whatever ETag LXD gave (5.0.2 gives none for pools: then it is unconditional).
    let read = pools.get_with_etag(&name).await.unwrap();
    let mut put = read.writable();
    put.description = "edited".into();
    put.config.insert("user.k".into(), "v".into());
    pools.update(&name, &put, read.etag.as_ref()).await.unwrap();
    let after = pools.get(&name).await.unwrap();
    assert_eq!(after.description, "edited");
    assert_eq!(after.config["user.k"], "v");
    assert_eq!(after.config["source"], read.config["source"]);

    pools
        .patch(
            &name,
            &serde_json::json!({"description": "edited", "config": {"rsync.bwlimit": "10MiB"}}),
            None,
        )
        .await
        .unwrap();
    let patched = pools.get(&name).await.unwrap();
    assert_eq!(patched.config["rsync.bwlimit"], "10MiB");
    assert_eq!(patched.config["user.k"], "v");
    let err = pools
        .patch(&name, &serde_json::json!(["not", "an", "object"]), None)
        .await
        .unwrap_err();
    assert!(err.is_invalid_input(), "{err:?}");

    let usage = pools.resources(&name).await.unwrap();
    assert!(usage.space.total > 0, "{usage:?}");
    assert!(usage.space.used <= usage.space.total, "{usage:?}");
    assert!(usage.inodes.total > 0, "{usage:?}");

    // LXD's refusals, with its messages.
    let err = pools.create(&dir_pool(&name)).await.unwrap_err();
    assert!(
        err.lxd_message().unwrap().contains("already exists"),
        "{err:?}"
    );
    let mut unknown = dir_pool(&unique("it-pool-x"));
    unknown.driver = "no-such-driver".into();
    let err = pools.create(&unknown).await.unwrap_err();
    assert!(
        err.lxd_message().unwrap().contains("Unknown driver"),
        "{err:?}"
    );
    // Refused before any request.
    for bad in ["", "a/b", ".."] {
        assert!(
            pools.get(bad).await.unwrap_err().is_invalid_input(),
            "{bad:?}"
        );
    }

    // In use by a volume: not deleted.
    let volumes = pools.volumes(&name);
    volumes
        .create(&StorageVolumesPost {
            name: "v1".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let err = pools.delete(&name).await.unwrap_err();
    assert!(err.lxd_message().unwrap().contains("in use"), "{err:?}");
    assert!(pools.exists(&name).await.unwrap());

    volumes.delete(Custom, "v1").await.unwrap();
    pools.delete(&name).await.unwrap();
    assert!(pools.get(&name).await.unwrap_err().is_not_found());
}

#[tokio::test]
async fn custom_volume_etags_snapshots_restore_rename_and_move_to_another_pool() {
    let env = require!();
    let client = env.client();
    let pools = client.storage_pools();
    let volumes = pools.volumes("default");
    let name = unique("it-vol");
    volumes
        .create(&StorageVolumesPost {
            name: name.clone(),
            description: "lxd-rs test volume".into(),
            config: map(&[("user.k", "v")]),
            ..Default::default()
        })
        .await
        .unwrap();

    assert!(volumes.list_names(Custom).await.unwrap().contains(&name));
    let listed = volumes.list(Custom).await.unwrap();
    let mine = listed.iter().find(|v| v.name == name).expect("listed");
    assert_eq!(mine.volume_type, Custom);
    assert_eq!(mine.description, "lxd-rs test volume");
    let all = volumes.list_all().await.unwrap();
    assert!(all.iter().any(|v| v.name == name));
    assert!(all.iter().all(|v| !v.name.contains('/')), "no snapshots");
    assert!(volumes.exists(Custom, &name).await.unwrap());
    assert!(!volumes.exists(Custom, &unique("it-novol")).await.unwrap());

    // PUT with the ETag; a stale one is LXD's 412.
    let read = volumes.get_with_etag(Custom, &name).await.unwrap();
    let stale = read.etag.clone().expect("LXD sends an ETag for volumes");
    let mut put: StorageVolumePut = read.writable();
    put.description = "edited".into();
    put.config.insert("user.x".into(), "1".into());
    volumes
        .update(Custom, &name, &put, read.etag.as_ref())
        .await
        .unwrap();
    let err = volumes
        .update(Custom, &name, &put, Some(&stale))
        .await
        .unwrap_err();
    assert!(err.is_precondition_failed(), "{err:?}");
    volumes
        .patch(
            Custom,
            &name,
            &serde_json::json!({"description": "edited", "config": {"user.y": "2"}}),
            None,
        )
        .await
        .unwrap();
    let after = volumes.get(Custom, &name).await.unwrap();
    assert_eq!(after.description, "edited");
    assert_eq!(
        after.config,
        map(&[("user.k", "v"), ("user.x", "1"), ("user.y", "2")])
    );

    // LXD's dir driver cannot measure a volume and says so; Incus answers a state without
    // usage (6.0), or with a usage of nothing measured: no bytes used of no size (7.0).
    if env.is_incus() {
        let state = volumes.state(Custom, &name).await.unwrap();
        assert!(
            state
                .usage
                .as_ref()
                .is_none_or(|u| u.used == 0 && u.total == 0),
            "{state:?}"
        );
    } else {
        let err = volumes.state(Custom, &name).await.unwrap_err();
        assert_eq!(err.lxd_message(), Some("Not supported"), "{err:?}");
    }

    // Data in the volume, then a snapshot of it.
    let dir = volume_dir(&env, &client, "default", &name).await;
    std::fs::write(dir.join("data"), "v1").unwrap();
    let snapshots = volumes.snapshots(Custom, &name);
    snapshots.create("s0").await.unwrap().wait().await.unwrap();
    assert_eq!(snapshots.list_names().await.unwrap(), ["s0"]);
    let list = snapshots.list().await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].name, "s0");
    assert_eq!(list[0].config["user.y"], "2");
    assert!(!list[0].expires());
    assert!(snapshots.exists("s0").await.unwrap());
    assert!(!snapshots.exists("nope").await.unwrap());
    assert!(
        volumes
            .list_names(Custom)
            .await
            .unwrap()
            .iter()
            .all(|n| !n.contains('/')),
        "snapshots are not volumes"
    );

    let snap = snapshots.get_with_etag("s0").await.unwrap();
    let stale_snap = snap.etag.clone().expect("LXD sends an ETag for snapshots");
    let mut snap_put: StorageVolumeSnapshotPut = snap.writable();
    snap_put.description = "before v2".into();
    snapshots
        .update("s0", &snap_put, snap.etag.as_ref())
        .await
        .unwrap();
    let err = snapshots
        .update("s0", &snap_put, Some(&stale_snap))
        .await
        .unwrap_err();
    assert!(err.is_precondition_failed(), "{err:?}");
    assert_eq!(snapshots.get("s0").await.unwrap().description, "before v2");
    snapshots
        .patch(
            "s0",
            &serde_json::json!({"expires_at": "2099-01-01T00:00:00Z"}),
            None,
        )
        .await
        .unwrap();
    let patched = snapshots.get("s0").await.unwrap();
    assert!(patched.expires(), "{patched:?}");
    assert_eq!(patched.description, "before v2", "PATCH kept it");

    // Restore brings the data back and keeps the volume's config.
    std::fs::write(dir.join("data"), "v2").unwrap();
    snapshots.restore("s0").await.unwrap();
    assert_eq!(std::fs::read_to_string(dir.join("data")).unwrap(), "v1");
    assert_eq!(
        volumes.get(Custom, &name).await.unwrap().config["user.y"],
        "2"
    );
    let err = snapshots.restore("nope").await.unwrap_err();
    assert!(err.lxd_message().is_some(), "{err:?}");

    snapshots
        .rename("s0", "s1")
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    assert_eq!(snapshots.list_names().await.unwrap(), ["s1"]);
    snapshots.delete("s1").await.unwrap().wait().await.unwrap();
    assert!(snapshots.list_names().await.unwrap().is_empty());

    // Rename within the pool, then move to another pool.
    let renamed = unique("it-vol2");
    volumes.rename(Custom, &name, &renamed).await.unwrap();
    assert!(!volumes.exists(Custom, &name).await.unwrap());
    assert_eq!(
        volumes.get(Custom, &renamed).await.unwrap().description,
        "edited"
    );

    let other = unique("it-pool");
    pools.create(&dir_pool(&other)).await.unwrap();
    let err = volumes
        .move_to_pool(Custom, &renamed, "default", &renamed)
        .await
        .unwrap_err();
    assert!(err.is_invalid_input(), "{err:?}");
    volumes
        .move_to_pool(Custom, &renamed, &other, &renamed)
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    assert!(!volumes.exists(Custom, &renamed).await.unwrap());
    let moved = pools.volumes(&other);
    assert_eq!(
        moved.get(Custom, &renamed).await.unwrap().config["user.y"],
        "2"
    );
    let moved_dir = volume_dir(&env, &client, &other, &renamed).await;
    assert_eq!(
        std::fs::read_to_string(moved_dir.join("data")).unwrap(),
        "v1"
    );

    // Bad input.
    let err = moved
        .create(&StorageVolumesPost {
            name: renamed.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(
        err.lxd_message().unwrap().contains("already exists"),
        "{err:?}"
    );
    let err = moved.get(Custom, "a/b").await.unwrap_err();
    assert!(err.is_invalid_input(), "{err:?}");
    let err = moved.delete(Custom, &unique("it-novol")).await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");

    moved.delete(Custom, &renamed).await.unwrap();
    pools.delete(&other).await.unwrap();
}

#[tokio::test]
async fn custom_volume_mounted_into_a_running_container_is_written_through() {
    let env = require!();
    let client = env.client();
    let volumes = client.storage_pools().volumes("default");
    let data = unique("it-data");
    let extra = unique("it-extra");
    for v in [&data, &extra] {
        volumes
            .create(&StorageVolumesPost {
                name: v.to_string(),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let profiles = client.profiles();
    let profile = unique("it-volprof");
    profiles
        .create(&ProfilesPost {
            name: profile.clone(),
            ..Default::default()
        })
        .await
        .unwrap();

    // The volume is a disk device of the instance.
    let instance = unique("it-volc");
    let mut request = env.from_image(&instance);
    request.devices.insert(
        "data".into(),
        map(&[
            ("type", "disk"),
            ("pool", "default"),
            ("source", &data),
            ("path", "/mnt/data"),
        ]),
    );
    request.profiles = Some(vec!["default".into(), profile.clone()]);
    launch(&client, &request).await;

    let used_by = volumes.get(Custom, &data).await.unwrap().used_by;
    assert_eq!(used_by, [format!("/1.0/instances/{instance}")]);
    lxc_exec(&env, &instance, "echo hello-from-busybox > /mnt/data/hello");
    let host = volume_dir(&env, &client, "default", &data)
        .await
        .join("hello");
    assert_eq!(
        std::fs::read_to_string(&host).unwrap(),
        "hello-from-busybox\n"
    );

    // A device added to the instance's profile reaches the running container.
    profiles
        .patch(
            &profile,
            &serde_json::json!({"devices": {"extra": {"type": "disk", "pool": "default",
                "source": extra, "path": "/mnt/extra"}}}),
            None,
        )
        .await
        .unwrap();
    lxc_exec(&env, &instance, "echo hotplugged > /mnt/extra/file");
    let host = volume_dir(&env, &client, "default", &extra)
        .await
        .join("file");
    assert_eq!(std::fs::read_to_string(&host).unwrap(), "hotplugged\n");

    // In use: LXD refuses, with its message.
    let err = volumes.delete(Custom, &data).await.unwrap_err();
    assert!(err.lxd_message().unwrap().contains("in use"), "{err:?}");
    let err = volumes
        .rename(Custom, &data, &unique("it-data2"))
        .await
        .unwrap_err();
    assert!(err.lxd_message().is_some(), "{err:?}");
    let err = profiles.delete(&profile).await.unwrap_err();
    assert!(err.lxd_message().unwrap().contains("in use"), "{err:?}");

    // The container's own volume and the image volumes.
    assert!(
        volumes
            .list_names(Container)
            .await
            .unwrap()
            .contains(&instance)
    );
    let root = volumes.get(Container, &instance).await.unwrap();
    assert_eq!(root.volume_type, Container);
    assert_eq!(root.used_by, [format!("/1.0/instances/{instance}")]);
    // The dir driver keeps images unpacked per instance, not as volumes; the listing works.
    volumes.list(Image).await.unwrap();

    kill_and_delete(&client, &instance).await.unwrap();
    profiles.delete(&profile).await.unwrap();
    for v in [&data, &extra] {
        volumes.delete(Custom, v).await.unwrap();
    }
}
