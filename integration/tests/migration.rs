//! Copy, move and migration of instances between two REAL servers (the harness's main
//! daemon and its second standalone daemon), in each mode the pair allows.

use lxd_client::proto::{InstanceSnapshotsPost, InstanceStatePut, StatusCode};
use lxd_client::{Client, MigrationMode};
use lxd_integration::{Env, Peer, Trusted, kill_and_delete, require_second, unique};

/// Both servers over HTTPS with one fresh identity trusted by each: what a user copying
/// between two remotes has.
async fn pair(env: &Env, second: &Peer) -> (Trusted, Trusted) {
    let main = Peer {
        name: "main".into(),
        socket: env.socket.clone(),
        https: env.https.clone(),
        server_cert: env.server_cert.clone(),
    };
    let name = unique("mig");
    (
        main.trusted_https(&name).await,
        second.trusted_https(&name).await,
    )
}

async fn launch(client: &Client, env: &Env, name: &str, running: bool) {
    let mut c = client
        .instances()
        .create_and_wait(&env.from_image(name))
        .await
        .expect("create");
    if running {
        c.start().await.expect("start");
    }
}

async fn marker(client: &Client, name: &str, text: &str) {
    let out = client
        .instances()
        .exec(
            name,
            ["/bin/sh", "-c", &format!("echo {text} > /root/marker")],
        )
        .run()
        .await
        .expect("exec");
    assert_eq!(out.exit_code, 0, "{out:?}");
}

async fn delete(client: &Client, name: &str) {
    let instances = client.instances();
    if instances.exists(name).await.unwrap_or(false) {
        kill_and_delete(client, name).await.unwrap();
    }
}

async fn read_marker(client: &Client, name: &str) -> String {
    let bytes = client
        .instances()
        .files(name)
        .get_bytes("/root/marker")
        .await
        .expect("marker file on the copy");
    String::from_utf8(bytes).unwrap()
}

#[tokio::test]
async fn stopped_container_copied_in_each_mode() {
    let (env, second) = require_second!();
    let (main, other) = pair(&env, &second).await;
    let source = unique("cp-src");
    launch(&main.client, &env, &source, true).await;
    marker(&main.client, &source, "from-main").await;
    main.client
        .instances()
        .set_state(&source, &InstanceStatePut::stop())
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    for mode in [
        MigrationMode::Pull,
        MigrationMode::Push,
        MigrationMode::Relay,
    ] {
        let name = unique("cp-dst");
        let copy = other
            .client
            .instances()
            .copy_from(&main.client, &source)
            .name(&name)
            .mode(mode)
            .config("user.copied", "yes")
            .run()
            .await
            .unwrap_or_else(|e| panic!("copy in {mode:?} mode: {e}"));
        assert_eq!(copy.name(), name);
        assert_eq!(
            copy.model().config.get("user.copied").map(String::as_str),
            Some("yes")
        );
        assert_eq!(
            read_marker(&other.client, &name).await.trim(),
            "from-main",
            "{mode:?}"
        );
        // The source is untouched.
        assert!(main.client.instances().exists(&source).await.unwrap());
        delete(&other.client, &name).await;
    }
    delete(&main.client, &source).await;
    main.forget().await;
    other.forget().await;
}

#[tokio::test]
async fn running_container_copied_stateless_with_and_without_snapshots() {
    let (env, second) = require_second!();
    let (main, other) = pair(&env, &second).await;
    let source = unique("cp-run");
    launch(&main.client, &env, &source, true).await;
    marker(&main.client, &source, "live-fs").await;
    main.client
        .instances()
        .snapshots(&source)
        .create_and_wait(&InstanceSnapshotsPost {
            name: "snap0".into(),
            ..Default::default()
        })
        .await
        .expect("snapshot");

    // Stateless copy of a running container, snapshots included (the default).
    let with = unique("cp-with");
    let copy = other
        .client
        .instances()
        .copy_from(&main.client, &source)
        .name(&with)
        .run()
        .await
        .expect("stateless copy of a running container");
    assert_eq!(
        copy.model().status_code,
        StatusCode::STOPPED,
        "a copy is not started"
    );
    assert_eq!(read_marker(&other.client, &with).await.trim(), "live-fs");
    let snaps = other
        .client
        .instances()
        .snapshots(&with)
        .list_names()
        .await
        .unwrap();
    assert_eq!(snaps, vec!["snap0".to_string()]);

    // instance_only leaves the snapshots behind; start() starts the copy.
    let without = unique("cp-without");
    let copy = other
        .client
        .instances()
        .copy_from(&main.client, &source)
        .name(&without)
        .instance_only(true)
        .start(true)
        .mode(MigrationMode::Push)
        .run()
        .await
        .expect("copy without snapshots");
    assert_eq!(copy.model().status_code, StatusCode::RUNNING);
    let snaps = other
        .client
        .instances()
        .snapshots(&without)
        .list_names()
        .await
        .unwrap();
    assert!(snaps.is_empty(), "{snaps:?}");

    // The source still runs.
    let state = main.client.instances().state(&source).await.unwrap();
    assert_eq!(state.status_code, StatusCode::RUNNING);
    for name in [&with, &without] {
        delete(&other.client, name).await;
    }
    delete(&main.client, &source).await;
    main.forget().await;
    other.forget().await;
}

#[tokio::test]
async fn move_between_servers_and_back_keeps_data_and_state() {
    let (env, second) = require_second!();
    let (main, other) = pair(&env, &second).await;
    let name = unique("mv");
    launch(&main.client, &env, &name, true).await;
    marker(&main.client, &name, "moved").await;

    // A running container: stopped, moved, started again over there.
    let moved = other
        .client
        .instances()
        .move_from(&main.client, &name)
        .run()
        .await
        .expect("move a running container");
    assert_eq!(moved.model().status_code, StatusCode::RUNNING);
    assert!(!main.client.instances().exists(&name).await.unwrap());
    assert_eq!(read_marker(&other.client, &name).await.trim(), "moved");

    // pylxd's migrate: back again, stopped this time, relayed by the client.
    let mut back = other.client.instances().object(&name).await.unwrap();
    back.stop(true).await.unwrap();
    let back = back
        .migrate(&main.client, false)
        .await
        .expect("migrate back");
    assert_eq!(back.model().status_code, StatusCode::STOPPED);
    assert!(!other.client.instances().exists(&name).await.unwrap());
    assert_eq!(read_marker(&main.client, &name).await.trim(), "moved");

    delete(&main.client, &name).await;
    main.forget().await;
    other.forget().await;
}

#[tokio::test]
async fn failed_copies_say_why_and_leave_the_source_intact() {
    let (env, second) = require_second!();
    let (main, other) = pair(&env, &second).await;
    let name = unique("bad");
    launch(&main.client, &env, &name, true).await;

    // A name clash on the target: LXD's conflict, the source still runs.
    let clash = unique("clash");
    // The second server has no image: an empty container takes the name.
    other
        .client
        .instances()
        .create_and_wait(&lxd_client::proto::InstancesPost {
            name: clash.clone(),
            source: lxd_client::proto::InstanceSource::none(),
            ..Default::default()
        })
        .await
        .expect("empty container");
    let err = other
        .client
        .instances()
        .move_from(&main.client, &name)
        .name(&clash)
        .run()
        .await
        .expect_err("the name is taken on the target");
    assert!(err.is_invalid_input(), "{err:?}");
    assert!(err.to_string().contains("already exists"), "{err}");
    let state = main.client.instances().state(&name).await.unwrap();
    assert_eq!(
        state.status_code,
        StatusCode::RUNNING,
        "the source never stopped"
    );

    // A failure after the running source was stopped for the move (a profile the target
    // lacks): the server's error, and the source started again.
    let err = other
        .client
        .instances()
        .move_from(&main.client, &name)
        .profiles(vec!["no-such-profile".into()])
        .run()
        .await
        .expect_err("the target lacks the profile");
    assert!(
        err.to_string().contains("no-such-profile") || err.is_not_found(),
        "{err:?}"
    );
    let state = main.client.instances().state(&name).await.unwrap();
    assert_eq!(
        state.status_code,
        StatusCode::RUNNING,
        "the source runs again"
    );
    assert!(!other.client.instances().exists(&name).await.unwrap());

    // An untrusted target: refused before anything moves.
    let untrusted = second.https_builder().build().unwrap();
    let err = untrusted
        .instances()
        .copy_from(&main.client, &name)
        .run()
        .await
        .expect_err("untrusted");
    assert!(err.to_string().contains("does not trust"), "{err}");

    // An unreachable target: a connection error, nothing changed.
    let nowhere = Client::https("127.0.0.1:9")
        .server_certificate_pem(&second.server_cert)
        .build()
        .unwrap();
    let err = nowhere
        .instances()
        .move_from(&main.client, &name)
        .run()
        .await
        .expect_err("unreachable");
    assert!(err.is_connect(), "{err:?}");
    assert!(main.client.instances().exists(&name).await.unwrap());

    // Bad names never leave the client.
    let err = other
        .client
        .instances()
        .copy_from(&main.client, &name)
        .name("no/slash")
        .run()
        .await
        .unwrap_err();
    assert!(err.is_invalid_input(), "{err:?}");

    delete(&other.client, &clash).await;
    delete(&main.client, &name).await;
    main.forget().await;
    other.forget().await;
}

#[tokio::test]
async fn image_copied_between_servers_in_each_mode() {
    let (env, second) = require_second!();
    let (main, other) = pair(&env, &second).await;
    let source = main.client.images().get_by_alias(&env.image).await.unwrap();
    assert!(
        !source.public,
        "the test image is private: pull needs a secret"
    );
    for mode in [
        MigrationMode::Pull,
        MigrationMode::Push,
        MigrationMode::Relay,
    ] {
        let alias = unique("img-copy");
        let copy = other
            .client
            .images()
            .copy_from(&main.client, &env.image)
            .alias(&alias)
            .mode(mode)
            .run()
            .await
            .unwrap_or_else(|e| panic!("image copy in {mode:?} mode: {e}"));
        assert_eq!(copy.fingerprint, source.fingerprint, "{mode:?}");
        assert_eq!(copy.size, source.size);
        assert!(
            copy.aliases.iter().any(|a| a.name == alias),
            "{mode:?}: {:?}",
            copy.aliases
        );
        // The copy is usable: an instance made from it on the second server.
        let name = unique("from-copy");
        other
            .client
            .instances()
            .create_and_wait(&lxd_client::proto::InstancesPost {
                name: name.clone(),
                source: lxd_client::proto::InstanceSource::image_alias(&alias),
                ..Default::default()
            })
            .await
            .expect("instance from the copied image");
        delete(&other.client, &name).await;
        other
            .client
            .images()
            .delete_and_wait(&copy.fingerprint)
            .await
            .unwrap();
    }
    // An unknown alias: LXD's not-found, before anything reaches the target.
    let err = other
        .client
        .images()
        .copy_from(&main.client, "no-such-alias")
        .run()
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    main.forget().await;
    other.forget().await;
}

/// Host path of a custom volume of a `dir` pool (the test runs as root on the host).
fn volume_dir(socket: &std::path::Path, volume: &str) -> std::path::PathBuf {
    socket
        .parent()
        .unwrap()
        .join(format!("storage-pools/default/custom/default_{volume}"))
}

#[tokio::test]
async fn custom_volume_copied_between_servers_in_each_mode() {
    use lxd_client::proto::{StorageVolumeType, StorageVolumesPost};
    let (env, second) = require_second!();
    let (main, other) = pair(&env, &second).await;
    let volume = unique("vol");
    let source = main.client.storage_pools().volumes("default");
    source
        .create(&StorageVolumesPost {
            name: volume.clone(),
            volume_type: StorageVolumeType::Custom,
            config: [("user.origin".to_string(), "main".to_string())].into(),
            ..Default::default()
        })
        .await
        .unwrap();
    std::fs::write(
        volume_dir(&env.socket, &volume).join("payload"),
        b"volume data",
    )
    .unwrap();
    let targets = other.client.storage_pools().volumes("default");
    for mode in [
        MigrationMode::Pull,
        MigrationMode::Push,
        MigrationMode::Relay,
    ] {
        let name = unique("vol-copy");
        let copy = targets
            .copy_from(&main.client, "default", &volume)
            .name(&name)
            .mode(mode)
            .run()
            .await
            .unwrap_or_else(|e| panic!("volume copy in {mode:?} mode: {e}"));
        assert_eq!(copy.name, name);
        assert_eq!(
            copy.config.get("user.origin").map(String::as_str),
            Some("main")
        );
        let data = std::fs::read(volume_dir(&second.socket, &name).join("payload")).unwrap();
        assert_eq!(data, b"volume data", "{mode:?}");
        targets
            .delete(StorageVolumeType::Custom, &name)
            .await
            .unwrap();
    }
    source
        .delete(StorageVolumeType::Custom, &volume)
        .await
        .unwrap();
    main.forget().await;
    other.forget().await;
}

/// Live (CRIU) migration: succeeds where the kernel and CRIU allow it; where they do not,
/// the failure carries CRIU's reason and the source keeps running, untouched.
#[tokio::test]
async fn live_move_succeeds_or_fails_with_criu_reason_and_source_intact() {
    let (env, second) = require_second!();
    let (main, other) = pair(&env, &second).await;
    // The running source lives on the SECOND server: a failed live migration leaves LXD
    // 5.0.2's source operation running for good ("Live-migrating instance", not
    // cancellable; `lxc operation list` shows it), and a daemon holds SIGTERM back for its
    // running operations; the main daemon is restarted by restart.rs.
    let seed = unique("live-seed");
    launch(&main.client, &env, &seed, true).await;
    marker(&main.client, &seed, "live").await;
    let name = unique("live");
    other
        .client
        .instances()
        .copy_from(&main.client, &seed)
        .name(&name)
        .start(true)
        .run()
        .await
        .expect("a running source on the second server");
    delete(&main.client, &seed).await;
    let result = main
        .client
        .instances()
        .move_from(&other.client, &name)
        .live(true)
        .run()
        .await;
    match result {
        Ok(moved) => {
            assert_eq!(moved.model().status_code, StatusCode::RUNNING);
            assert!(!other.client.instances().exists(&name).await.unwrap());
            delete(&main.client, &name).await;
        }
        Err(e) => {
            let text = e.to_string();
            eprintln!("live migration refused here: {text}");
            // Failed in the migration's operation; or refused before any operation when the
            // source has no CRIU at all (Incus 7.0 checks first; its sid root has none).
            let no_criu = e.status() == Some(500)
                && e.lxd_message()
                    .is_some_and(|m| m.contains("CRIU isn't installed on the source server"));
            assert!(e.is_operation_failed() || no_criu, "{e:?}");
            assert!(
                text.contains("criu") || text.contains("CRIU") || text.contains("dump"),
                "not a CRIU refusal: {text}"
            );
            let state = other.client.instances().state(&name).await.unwrap();
            assert_eq!(
                state.status_code,
                StatusCode::RUNNING,
                "the source still runs"
            );
            assert_eq!(read_marker(&other.client, &name).await.trim(), "live");
            assert!(
                !main.client.instances().exists(&name).await.unwrap(),
                "no half copy left on the target"
            );
            delete(&other.client, &name).await;
        }
    }
    main.forget().await;
    other.forget().await;
}

/// Inside a cluster a copy is local (LXD's `copy` source with `?target=`), a move to another
/// member is LXD's own; from a standalone server into the cluster it is a migration placed
/// on the member asked for.
#[tokio::test]
async fn cluster_copies_and_moves_place_instances_on_members() {
    let cluster = lxd_integration::require_cluster!();
    let env = lxd_integration::require!();
    let first = cluster.members[0].trusted_https(&unique("mig-cl")).await;
    let (a, b) = (&cluster.members[1].name, &cluster.members[2].name);
    let name = unique("cl-src");
    first
        .client
        .instances()
        .create_on(a, &env.from_image(&name))
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    let instances = first.client.instances();
    assert_eq!(&instances.get(&name).await.unwrap().location, a);

    // A copy inside the cluster, placed on another member.
    let copy_name = unique("cl-copy");
    let copy = instances
        .copy_from(&first.client, &name)
        .name(&copy_name)
        .member(b)
        .run()
        .await
        .expect("copy inside the cluster");
    assert_eq!(&copy.model().location, b);

    // LXD's own move to another member (stopped instance).
    let moved = instances
        .move_from(&first.client, &name)
        .member(b)
        .run()
        .await
        .expect("move to another member");
    assert_eq!(&moved.model().location, b);
    assert_eq!(moved.name(), name);

    // From the standalone main server into the cluster, placed on member `a`.
    let (env_main, _) = lxd_integration::require_second!();
    let main = lxd_integration::Peer {
        name: "main".into(),
        socket: env_main.socket.clone(),
        https: env_main.https.clone(),
        server_cert: env_main.server_cert.clone(),
    }
    .trusted_https(&unique("mig-cl"))
    .await;
    let from_main = unique("cl-in");
    main.client
        .instances()
        .create_and_wait(&env.from_image(&from_main))
        .await
        .unwrap();
    let arrived = instances
        .move_from(&main.client, &from_main)
        .member(a)
        .run()
        .await
        .expect("migration from a standalone server into the cluster");
    assert_eq!(&arrived.model().location, a);
    assert!(!main.client.instances().exists(&from_main).await.unwrap());

    for n in [&name, &copy_name, &from_main] {
        delete(&first.client, n).await;
    }
    first.forget().await;
    main.forget().await;
}
