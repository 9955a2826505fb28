//! The client's resource managers against `lxd-testkit` over its real unix socket: files,
//! snapshots, images, profiles, networks, storage, warnings, projects and raw requests.

use lxd_client::proto::{
    InstanceFileType, InstanceSnapshotsPost, InstanceSource, InstanceStatePut, InstancesPost,
    NetworksPost, ProfilesPost, ProjectsPost, StorageVolumeType, StorageVolumesPost,
};
use lxd_client::{Client, DirOptions, Method, PutOptions};
use lxd_testkit::{ImageSeed, ServerFlavor, TestServer};

#[macro_use]
mod support;

async fn client_with_instance(server: &TestServer) -> Client {
    let client = Client::unix(server.socket_path()).unwrap();
    client
        .instances()
        .create(&InstancesPost {
            name: "c1".into(),
            source: InstanceSource::image_alias("busybox"),
            ..Default::default()
        })
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    client
        .instances()
        .set_state("c1", &InstanceStatePut::start())
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    client
}

async fn files_round_trip(flavor: ServerFlavor) {
    let server = support::start(flavor).await;
    let client = client_with_instance(&server).await;
    let files = client.instances().files("c1");
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    files
        .put_bytes(
            "/root/data.bin",
            data.clone(),
            &PutOptions::new().mode(0o600).uid(1000),
        )
        .await
        .unwrap();
    assert_eq!(files.get_bytes("/root/data.bin").await.unwrap(), data);
    let stat = files.stat("/root/data.bin").await.unwrap();
    assert_eq!(stat.file_type, InstanceFileType::File);
    assert_eq!((stat.mode, stat.uid, stat.gid), (0o600, 1000, 0));

    files
        .put_bytes("/root/log", "one\n", &PutOptions::new())
        .await
        .unwrap();
    files
        .put_bytes("/root/log", "two\n", &PutOptions::new().append())
        .await
        .unwrap();
    assert_eq!(files.get_bytes("/root/log").await.unwrap(), b"one\ntwo\n");

    files
        .create_dir("/root/dir", &DirOptions::new().mode(0o700))
        .await
        .unwrap();
    files
        .create_symlink("/root/link", "/root/log")
        .await
        .unwrap();
    assert_eq!(files.read_link("/root/link").await.unwrap(), "/root/log");
    let mut listing = files.list_dir("/root").await.unwrap();
    listing.sort();
    assert_eq!(listing, ["data.bin", "dir", "link", "log"]);
    files.delete("/root/link").await.unwrap();
    assert!(!files.exists("/root/link").await.unwrap());
    let missing = files.get_bytes("/nope").await.unwrap_err();
    assert!(missing.is_not_found(), "{missing}");
}

async fn snapshots_and_restore(flavor: ServerFlavor) {
    let server = support::start(flavor).await;
    let client = client_with_instance(&server).await;
    let files = client.instances().files("c1");
    files
        .put_bytes("/root/state", "before", &PutOptions::new())
        .await
        .unwrap();
    let snapshots = client.instances().snapshots("c1");
    snapshots
        .create(&InstanceSnapshotsPost {
            name: "s0".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    assert_eq!(snapshots.list_names().await.unwrap(), ["s0"]);
    files
        .put_bytes("/root/state", "after", &PutOptions::new())
        .await
        .unwrap();
    snapshots
        .restore("s0", false)
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    assert_eq!(files.get_bytes("/root/state").await.unwrap(), b"before");
    snapshots.delete("s0").await.unwrap().wait().await.unwrap();
    assert!(snapshots.list_names().await.unwrap().is_empty());
}

async fn images_profiles_networks_storage(flavor: ServerFlavor) {
    let server = TestServer::builder()
        .flavor(flavor)
        .image(ImageSeed::new("alpine").property("release", "3.20"))
        .warning("Test warning", "seeded by the test")
        .start()
        .await
        .unwrap();
    let client = Client::unix(server.socket_path()).unwrap();

    let alpine = client.images().get_by_alias("alpine").await.unwrap();
    assert_eq!(alpine.properties["release"], "3.20");
    assert_eq!(client.images().list().await.unwrap().len(), 2);
    // Aliases may hold a '/', as in LXD.
    let aliases = client.images().aliases();
    aliases
        .create("alpine/3.20", &alpine.fingerprint, "")
        .await
        .unwrap();
    let by_slash = client.images().get_by_alias("alpine/3.20").await.unwrap();
    assert_eq!(by_slash.fingerprint, alpine.fingerprint);
    aliases.delete("alpine/3.20").await.unwrap();
    assert!(!aliases.exists("alpine/3.20").await.unwrap());

    let profiles = client.profiles();
    profiles
        .create(&ProfilesPost {
            name: "web".into(),
            config: [("limits.cpu".to_string(), "2".to_string())].into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let versioned = profiles.get_with_etag("web").await.unwrap();
    let mut put = versioned.value.writable();
    put.description = "web servers".into();
    profiles
        .update("web", &put, versioned.etag.as_ref())
        .await
        .unwrap();
    let stale = profiles
        .update("web", &put, versioned.etag.as_ref())
        .await
        .unwrap_err();
    assert!(stale.is_precondition_failed(), "{stale}");
    assert_eq!(
        profiles.get("web").await.unwrap().description,
        "web servers"
    );
    let conflict = profiles
        .create(&ProfilesPost {
            name: "web".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(conflict.is_conflict(), "{conflict}");
    let default_delete = profiles.delete("default").await.unwrap_err();
    assert!(default_delete.is_forbidden(), "{default_delete}");

    let networks = client.networks();
    networks
        .create(&NetworksPost {
            name: "tkbr0".into(),
            config: [
                ("ipv4.address".to_string(), "none".to_string()),
                ("ipv6.address".to_string(), "none".to_string()),
            ]
            .into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(networks.get("tkbr0").await.unwrap().managed);
    networks.delete("tkbr0").await.unwrap();

    let pools = client.storage_pools().list().await.unwrap();
    assert_eq!(pools[0].name, "default");
    assert_eq!(pools[0].driver, "dir");
    let volumes = client.storage_pools().volumes("default");
    volumes
        .create(&StorageVolumesPost {
            name: "data".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        volumes.list_names(StorageVolumeType::Custom).await.unwrap(),
        ["data"]
    );
    let snapshots = volumes.snapshots(StorageVolumeType::Custom, "data");
    snapshots
        .create("snap0")
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    snapshots.restore("snap0").await.unwrap();
    volumes
        .delete(StorageVolumeType::Custom, "data")
        .await
        .unwrap();

    let warnings = client.warnings().list().await.unwrap();
    assert_eq!(warnings.len(), 1);
    client
        .warnings()
        .acknowledge(&warnings[0].uuid)
        .await
        .unwrap();
    assert_eq!(
        client
            .warnings()
            .get(&warnings[0].uuid)
            .await
            .unwrap()
            .status
            .to_string(),
        "acknowledged"
    );
}

async fn projects_and_raw_requests(flavor: ServerFlavor) {
    let server = support::start(flavor).await;
    let client = Client::unix(server.socket_path()).unwrap();
    client
        .projects()
        .create(&ProjectsPost {
            name: "team".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let team = client.projects().get("team").await.unwrap();
    assert_eq!(team.config["features.images"], "true");
    assert_eq!(
        team.used_by,
        ["/1.0/profiles/default?project=team"],
        "a new project has its own default profile"
    );
    client.projects().delete("team").await.unwrap();
    let default = client.projects().delete("default").await.unwrap_err();
    assert!(default.is_forbidden(), "{default}");

    let resources = client
        .raw(Method::GET, "/1.0/resources")
        .send()
        .await
        .unwrap();
    assert_eq!(resources.metadata["cpu"]["total"], 2);
}

each_flavor!(
    files_round_trip,
    snapshots_and_restore,
    images_profiles_networks_storage,
    projects_and_raw_requests,
);
