//! The REST core against LXD 5.0's behaviour: envelopes byte for byte, errors, ETags,
//! recursion, filters, projects, instances, snapshots, profiles, storage, networks,
//! warnings and the simulated cluster. Raw requests over the real unix socket.

mod support;

use lxd_testkit::{ImageSeed, ProfileSeed, TestServer};
use lxd_transport::Request;
use lxd_transport::http::{Method, StatusCode};
use serde_json::{Value, json};
use support::{Api, header};

#[tokio::test]
async fn envelopes_and_errors_are_lxds_bytes() {
    let server = TestServer::start().await.unwrap();
    let api = Api::unix(&server);

    let root = api.get("/").await;
    assert_eq!(
        std::str::from_utf8(&root.body).unwrap(),
        "{\"type\":\"sync\",\"status\":\"Success\",\"status_code\":200,\"operation\":\"\",\"error_code\":0,\"error\":\"\",\"metadata\":[\"/1.0\"]}\n"
    );
    assert_eq!(root.header("content-type"), Some("application/json"));

    let missing = api.get("/1.0/instances/nope").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(
        std::str::from_utf8(&missing.body).unwrap(),
        "{\"type\":\"error\",\"status\":\"\",\"status_code\":0,\"operation\":\"\",\"error_code\":404,\"error\":\"Instance not found\",\"metadata\":null}\n\n"
    );
    assert_eq!(missing.header("x-content-type-options"), Some("nosniff"));

    assert_eq!(api.get("/1.0/nonexist").await.json["error"], "not found");
    assert_eq!(api.get("/2.0").await.status, StatusCode::NOT_FOUND);
    let method = api.call(Method::PATCH, "/1.0/operations", None).await;
    assert_eq!(
        (method.status, method.json["error"].as_str()),
        (StatusCode::NOT_IMPLEMENTED, Some("not implemented"))
    );
    let bad_json = api
        .send(Request::new(Method::POST, "/1.0/instances").json(b"{bad".to_vec()))
        .await;
    assert_eq!(bad_json.status, StatusCode::BAD_REQUEST);
    assert!(
        bad_json.json["error"]
            .as_str()
            .unwrap()
            .contains("key must be a string")
            || bad_json.json["error"]
                .as_str()
                .unwrap()
                .contains("expected"),
        "{bad_json:?}"
    );
}

#[tokio::test]
async fn server_info_lists_only_implemented_extensions() {
    let server = TestServer::start().await.unwrap();
    let api = Api::unix(&server);
    let info = api.get("/1.0").await;
    let meta = info.metadata();
    assert_eq!(meta["auth"], "trusted");
    assert_eq!(meta["environment"]["server"], "lxd");
    assert_eq!(meta["environment"]["server_version"], "5.0.2");
    assert_eq!(meta["config"], json!({}));
    let extensions: Vec<&str> = meta["api_extensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    for present in [
        "instances",
        "etag",
        "projects",
        "instance_get_full",
        "certificate_token",
    ] {
        assert!(extensions.contains(&present), "{present}");
    }
    // Not implemented, so not claimed.
    for absent in [
        "instance_create_start",
        "explicit_trust_token",
        "migration_stateful",
        "console",
    ] {
        assert!(!extensions.contains(&absent), "{absent}");
    }
    assert!(info.header("etag").unwrap().starts_with('"'));
}

#[tokio::test]
async fn server_config_put_patch_and_etag() {
    let server = TestServer::start().await.unwrap();
    let api = Api::unix(&server);
    let etag = api.get("/1.0").await.header("etag").unwrap().to_string();
    let stale = api
        .send(
            Request::new(Method::PATCH, "/1.0")
                .header(
                    header("if-match", "\"abc\"").0,
                    header("if-match", "\"abc\"").1,
                )
                .json(br#"{"config":{"images.auto_update_interval":"0"}}"#.to_vec()),
        )
        .await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    assert!(
        stale.json["error"]
            .as_str()
            .unwrap()
            .starts_with("ETag doesn't match:")
    );
    let (name, value) = header("if-match", &etag);
    let ok = api
        .send(
            Request::new(Method::PATCH, "/1.0")
                .header(name, value)
                .json(
                    br#"{"config":{"core.trust_password":"pw","images.auto_update_interval":"0"}}"#
                        .to_vec(),
                ),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{ok:?}");
    let config = api.get("/1.0").await.metadata()["config"].clone();
    assert_eq!(
        config["core.trust_password"], true,
        "the password is never shown"
    );
    assert_eq!(config["images.auto_update_interval"], "0");
    let unknown = api.patch("/1.0", json!({"config": {"bogus": "1"}})).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn instances_create_get_update_and_refusals() {
    let server = TestServer::builder()
        .profile_seed(ProfileSeed::new("web").config("limits.cpu", "2").device(
            "data",
            &[("type", "disk"), ("path", "/data"), ("source", "/srv")],
        ))
        .start()
        .await
        .unwrap();
    let api = Api::unix(&server);

    let create = api
        .post(
            "/1.0/instances",
            json!({"name": "c1", "source": {"type": "image", "alias": "busybox"},
                   "profiles": ["default", "web"], "config": {"user.a": "1"}}),
        )
        .await;
    assert_eq!(create.status, StatusCode::ACCEPTED);
    assert_eq!(create.json["type"], "async");
    assert_eq!(create.json["status_code"], 100);
    assert_eq!(create.metadata()["status"], "Running");
    assert_eq!(create.metadata()["description"], "Creating instance");
    assert_eq!(
        create.metadata()["resources"],
        json!({"containers": ["/1.0/containers/c1"], "instances": ["/1.0/instances/c1"]})
    );
    assert_eq!(create.header("location"), create.json["operation"].as_str());
    let op = api.wait(&create).await;
    assert_eq!(op["status_code"], 200);

    let get = api.get("/1.0/instances/c1").await;
    let c1 = get.metadata();
    assert_eq!(c1["status"], "Stopped");
    assert_eq!(c1["status_code"], 102);
    assert_eq!(c1["type"], "container");
    assert_eq!(c1["location"], "none");
    assert_eq!(c1["last_used_at"], "1970-01-01T00:00:00Z");
    assert_eq!(c1["config"]["image.os"], "busybox");
    assert_eq!(c1["expanded_config"]["limits.cpu"], "2");
    assert_eq!(c1["expanded_config"]["user.a"], "1");
    assert_eq!(c1["expanded_devices"]["root"]["pool"], "default");
    assert_eq!(c1["expanded_devices"]["data"]["path"], "/data");
    assert!(c1["devices"].as_object().unwrap().is_empty());
    let etag = get.header("etag").unwrap().to_string();

    // The same name again fails inside the operation, as in LXD 5.0.
    let dup = api
        .post(
            "/1.0/instances",
            json!({"name": "c1", "source": {"type": "none"}}),
        )
        .await;
    let failed = api.wait(&dup).await;
    assert_eq!(failed["status"], "Failure");
    assert!(failed["err"].as_str().unwrap().contains("already exists"));

    let bad_name = api
        .post(
            "/1.0/instances",
            json!({"name": "bad_name", "source": {"type": "none"}}),
        )
        .await;
    assert_eq!(bad_name.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        bad_name.json["error"],
        "Invalid instance name: Name can only contain alphanumeric and hyphen characters"
    );
    let no_alias = api
        .post(
            "/1.0/instances",
            json!({"name": "c2", "source": {"type": "image", "alias": "nope"}}),
        )
        .await;
    assert_eq!(
        (no_alias.status, no_alias.json["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("Image alias not found"))
    );
    let no_target = api
        .post(
            "/1.0/instances?target=elsewhere",
            json!({"name": "c2", "source": {"type": "none"}}),
        )
        .await;
    assert_eq!(
        no_target.json["error"],
        "Target only allowed when clustered"
    );

    // PUT with a stale ETag: 412; with the right one: an operation that applies.
    let (name, stale) = header("if-match", "\"0000\"");
    let refused = api
        .send(
            Request::new(Method::PUT, "/1.0/instances/c1")
                .header(name, stale)
                .json(br#"{"config":{},"profiles":["default"]}"#.to_vec()),
        )
        .await;
    assert_eq!(refused.status, StatusCode::PRECONDITION_FAILED);
    let (name, value) = header("if-match", &etag);
    let put = api
        .send(
            Request::new(Method::PUT, "/1.0/instances/c1")
                .header(name, value)
                .json(
                    br#"{"config":{"user.b":"2"},"profiles":["default"],"description":"hi"}"#
                        .to_vec(),
                ),
        )
        .await;
    assert_eq!(api.wait(&put).await["description"], "Updating instance");
    let after = api.get("/1.0/instances/c1").await;
    assert_eq!(after.metadata()["config"]["user.b"], "2");
    assert!(after.metadata()["config"].get("user.a").is_none());
    assert_eq!(
        after.metadata()["config"]["volatile.base_image"],
        c1["config"]["volatile.base_image"],
        "volatile keys survive a PUT that omits them"
    );
    assert_ne!(after.header("etag").unwrap(), etag);

    // PATCH merges, synchronously.
    let patch = api
        .patch(
            "/1.0/instances/c1",
            json!({"config": {"user.c": "3", "user.b": ""}}),
        )
        .await;
    assert_eq!(patch.status, StatusCode::OK);
    assert_eq!(patch.metadata(), &json!({}));
    let merged = api.get("/1.0/instances/c1").await;
    assert_eq!(merged.metadata()["config"]["user.c"], "3");
    assert!(
        merged.metadata()["config"].get("user.b").is_none(),
        "empty values unset"
    );
    assert_eq!(
        merged.metadata()["description"],
        "",
        "LXD 5.0's PATCH resets a description it was not sent"
    );

    // State: refusals come back as failed operations with LXD's words.
    let state = |action: &str| json!({"action": action});
    let stop = api.put("/1.0/instances/c1/state", state("stop")).await;
    assert_eq!(
        api.wait(&stop).await["err"],
        "The instance is already stopped"
    );
    let freeze = api.put("/1.0/instances/c1/state", state("freeze")).await;
    assert_eq!(
        api.wait(&freeze).await["err"],
        "The container isn't running"
    );
    let bogus = api.put("/1.0/instances/c1/state", state("bogus")).await;
    assert_eq!(bogus.json["error"], "Unknown action: 'bogus'");
    api.run(Method::PUT, "/1.0/instances/c1/state", Some(state("start")))
        .await;
    let running = api.get("/1.0/instances/c1/state").await;
    assert_eq!(running.metadata()["status_code"], 103);
    assert!(running.metadata()["pid"].as_i64().unwrap() > 0);
    let start = api.put("/1.0/instances/c1/state", state("start")).await;
    assert_eq!(
        api.wait(&start).await["err"],
        "The instance is already running"
    );
    api.run(
        Method::PUT,
        "/1.0/instances/c1/state",
        Some(state("freeze")),
    )
    .await;
    assert_eq!(
        api.get("/1.0/instances/c1").await.metadata()["status"],
        "Frozen"
    );
    let delete_frozen = api.delete("/1.0/instances/c1").await;
    assert_eq!(
        (delete_frozen.status, delete_frozen.json["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("Instance is running"))
    );
    let restart = api.put("/1.0/instances/c1/state", state("restart")).await;
    assert_eq!(api.wait(&restart).await["err"], "Instance is not running");
    api.run(
        Method::PUT,
        "/1.0/instances/c1/state",
        Some(state("unfreeze")),
    )
    .await;
    api.run(
        Method::PUT,
        "/1.0/instances/c1/state",
        Some(state("restart")),
    )
    .await;
    let rename = api.post("/1.0/instances/c1", json!({"name": "c9"})).await;
    assert_eq!(
        api.wait(&rename).await["err"],
        "Renaming of running container not allowed"
    );
    api.run(
        Method::PUT,
        "/1.0/instances/c1/state",
        Some(json!({"action": "stop", "force": true})),
    )
    .await;
    api.run(
        Method::POST,
        "/1.0/instances/c1",
        Some(json!({"name": "c9"})),
    )
    .await;
    assert_eq!(
        api.get("/1.0/instances/c1").await.status,
        StatusCode::NOT_FOUND
    );
    api.run(Method::DELETE, "/1.0/instances/c9", None).await;
    assert!(server.instance_names("default").is_empty());
}

#[tokio::test]
async fn recursion_filter_and_projects() {
    let server = TestServer::builder()
        .project("dev")
        .image(ImageSeed::new("alpine").property("os", "Alpine"))
        .start()
        .await
        .unwrap();
    let api = Api::unix(&server);
    for (name, alias) in [("web1", "busybox"), ("web2", "alpine"), ("db", "busybox")] {
        api.run(
            Method::POST,
            "/1.0/instances",
            Some(json!({"name": name, "source": {"type": "image", "alias": alias}})),
        )
        .await;
    }
    api.run(
        Method::PUT,
        "/1.0/instances/web1/state",
        Some(json!({"action": "start"})),
    )
    .await;
    // The dev project has its own images, so busybox is not there; its default profile has
    // no root disk, exactly like LXD's, so a create needs a device.
    let dev_missing = api
        .post(
            "/1.0/instances?project=dev",
            json!({"name": "d1", "source": {"type": "image", "alias": "busybox"}}),
        )
        .await;
    assert_eq!(dev_missing.json["error"], "Image alias not found");
    let dev = api
        .post(
            "/1.0/instances?project=dev",
            json!({"name": "d1", "source": {"type": "none"}}),
        )
        .await;
    assert!(
        api.wait(&dev).await["err"]
            .as_str()
            .unwrap()
            .contains("No root device could be found")
    );
    api.run(
        Method::POST,
        "/1.0/instances?project=dev",
        Some(json!({"name": "d1", "source": {"type": "none"},
                    "devices": {"root": {"type": "disk", "path": "/", "pool": "default"}}})),
    )
    .await;

    let urls = api.get("/1.0/instances").await;
    assert_eq!(
        urls.metadata(),
        &json!([
            "/1.0/instances/web1",
            "/1.0/instances/web2",
            "/1.0/instances/db"
        ])
    );
    let objects = api.get("/1.0/instances?recursion=1").await;
    assert_eq!(objects.metadata()[0]["name"], "web1");
    assert!(objects.metadata()[0].get("state").is_none());
    let full = api.get("/1.0/instances?recursion=2").await;
    assert_eq!(full.metadata()[0]["state"]["status"], "Running");
    assert_eq!(full.metadata()[1]["state"]["network"], Value::Null);
    assert_eq!(full.metadata()[0]["snapshots"], Value::Null);

    let filtered = api
        .get("/1.0/instances?recursion=0&filter=name eq web.* and status eq running")
        .await;
    assert_eq!(filtered.metadata(), &json!(["/1.0/instances/web1"]));
    let by_config = api
        .get("/1.0/instances?filter=config.image.os eq alpine")
        .await;
    assert_eq!(by_config.metadata(), &json!(["/1.0/instances/web2"]));
    let bad = api.get("/1.0/instances?filter=name").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    let all = api.get("/1.0/instances?all-projects=true").await;
    assert!(
        all.metadata()
            .as_array()
            .unwrap()
            .contains(&json!("/1.0/instances/d1?project=dev"))
    );
    let both = api
        .get("/1.0/instances?all-projects=true&project=dev")
        .await;
    assert_eq!(
        both.json["error"],
        "Cannot specify a project when requesting all projects"
    );
    // LXD 5.0 answers an unknown project with an empty list here.
    assert_eq!(
        api.get("/1.0/instances?project=nope").await.metadata(),
        &json!([])
    );
    assert_eq!(
        api.get("/1.0/profiles?project=nope").await.json["error"],
        "Failed loading project \"nope\": Project not found"
    );

    let project = api.get("/1.0/projects/dev").await;
    assert_eq!(project.metadata()["config"]["features.images"], "true");
    assert!(
        project.metadata()["used_by"]
            .as_array()
            .unwrap()
            .contains(&json!("/1.0/instances/d1?project=dev"))
    );
    let delete = api.delete("/1.0/projects/dev").await;
    assert_eq!(
        (delete.status, delete.json["error"].as_str()),
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            Some("Only empty projects can be removed")
        )
    );
    assert_eq!(
        api.delete("/1.0/projects/default").await.json["error"],
        "The 'default' project cannot be deleted"
    );
    let created = api.post("/1.0/projects", json!({"name": "p2"})).await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.header("location"), Some("/1.0/projects/p2"));
    api.run(
        Method::POST,
        "/1.0/projects/p2",
        Some(json!({"name": "p3"})),
    )
    .await;
    assert_eq!(api.get("/1.0/projects/p3").await.status, StatusCode::OK);
    assert_eq!(api.delete("/1.0/projects/p3").await.status, StatusCode::OK);
}

#[tokio::test]
async fn snapshots_and_restore() {
    let server = TestServer::start().await.unwrap();
    let api = Api::unix(&server);
    api.launch("c1").await;
    let snap = api.post("/1.0/instances/c1/snapshots", json!({})).await;
    assert_eq!(
        api.wait(&snap).await["description"],
        "Snapshotting instance"
    );
    assert_eq!(
        api.get("/1.0/instances/c1/snapshots").await.metadata(),
        &json!(["/1.0/instances/c1/snapshots/snap0"])
    );
    let dup = api
        .post("/1.0/instances/c1/snapshots", json!({"name": "snap0"}))
        .await;
    assert!(
        api.wait(&dup).await["err"]
            .as_str()
            .unwrap()
            .contains("already exists")
    );
    let one = api.get("/1.0/instances/c1/snapshots/snap0").await;
    assert_eq!(one.metadata()["name"], "snap0");
    assert_eq!(one.metadata()["expires_at"], "0001-01-01T00:00:00Z");
    assert!(one.header("etag").is_some());
    api.run(
        Method::POST,
        "/1.0/instances/c1/snapshots/snap0",
        Some(json!({"name": "s1"})),
    )
    .await;
    api.run(
        Method::PUT,
        "/1.0/instances/c1",
        Some(json!({"restore": "s1"})),
    )
    .await;
    api.run(Method::DELETE, "/1.0/instances/c1/snapshots/s1", None)
        .await;
    assert_eq!(
        api.get("/1.0/instances/c1/snapshots/s1").await.json["error"],
        "Failed to fetch snapshot \"s1\" of instance \"c1\" in project \"default\": InstanceSnapshot not found"
    );
}

#[tokio::test]
async fn profiles_networks_storage_warnings() {
    let server = TestServer::builder()
        .warning(
            "AppArmor support has been disabled",
            "Disabled because of lack of kernel support",
        )
        .start()
        .await
        .unwrap();
    let api = Api::unix(&server);

    let created = api
        .post(
            "/1.0/profiles",
            json!({"name": "p1", "config": {"limits.memory": "1GiB"}}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(
        api.post("/1.0/profiles", json!({"name": "p1"}))
            .await
            .status,
        StatusCode::CONFLICT
    );
    api.run(
        Method::POST,
        "/1.0/instances",
        Some(json!({"name": "c1", "source": {"type": "none"}, "profiles": ["default", "p1"]})),
    )
    .await;
    let p1 = api.get("/1.0/profiles/p1").await;
    assert_eq!(p1.metadata()["used_by"], json!(["/1.0/instances/c1"]));
    assert_eq!(
        api.delete("/1.0/profiles/p1").await.json["error"],
        "Profile is currently in use"
    );
    // A profile change shows in the instance at once.
    api.patch("/1.0/profiles/p1", json!({"config": {"limits.cpu": "4"}}))
        .await;
    let c1 = api.get("/1.0/instances/c1").await;
    assert_eq!(c1.metadata()["expanded_config"]["limits.cpu"], "4");
    assert_eq!(c1.metadata()["expanded_config"]["limits.memory"], "1GiB");

    let net = api
        .post(
            "/1.0/networks",
            json!({"name": "br1", "config": {"ipv4.address": "none", "ipv6.address": "none"}}),
        )
        .await;
    assert_eq!(net.status, StatusCode::CREATED);
    let br1 = api.get("/1.0/networks/br1").await;
    assert_eq!(br1.metadata()["managed"], true);
    assert_eq!(br1.metadata()["type"], "bridge");
    assert_eq!(br1.metadata()["status"], "Created");
    assert_eq!(
        api.delete("/1.0/networks/eth0").await.json["error"],
        "Only managed networks can be removed"
    );
    assert_eq!(
        api.get("/1.0/networks/br1/state").await.metadata()["state"],
        "up"
    );
    assert_eq!(api.delete("/1.0/networks/br1").await.status, StatusCode::OK);

    let pool = api.get("/1.0/storage-pools/default").await;
    assert_eq!(pool.metadata()["driver"], "dir");
    assert!(
        pool.metadata()["used_by"]
            .as_array()
            .unwrap()
            .contains(&json!("/1.0/instances/c1"))
    );
    let volume = api
        .post(
            "/1.0/storage-pools/default/volumes/custom",
            json!({"name": "v1"}),
        )
        .await;
    assert_eq!(volume.status, StatusCode::OK);
    let volumes = api
        .get("/1.0/storage-pools/default/volumes?recursion=1")
        .await;
    let names: Vec<(&str, &str)> = volumes
        .metadata()
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["type"].as_str().unwrap(), v["name"].as_str().unwrap()))
        .collect();
    assert_eq!(names, [("container", "c1"), ("custom", "v1")]);
    api.run(
        Method::POST,
        "/1.0/storage-pools/default/volumes/custom/v1/snapshots",
        Some(json!({"name": "vs0"})),
    )
    .await;
    assert_eq!(
        api.get("/1.0/storage-pools/default/volumes/custom/v1/snapshots")
            .await
            .metadata(),
        &json!(["/1.0/storage-pools/default/volumes/custom/v1/snapshots/vs0"])
    );
    let renamed = api
        .post(
            "/1.0/storage-pools/default/volumes/custom/v1",
            json!({"name": "v2"}),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::CREATED);
    assert_eq!(
        api.delete("/1.0/storage-pools/default").await.json["error"],
        "The storage pool is currently in use"
    );

    let warnings = api.get("/1.0/warnings?recursion=1").await;
    let warning = &warnings.metadata()[0];
    assert_eq!(warning["status"], "new");
    let uuid = warning["uuid"].as_str().unwrap();
    api.put(
        &format!("/1.0/warnings/{uuid}"),
        json!({"status": "acknowledged"}),
    )
    .await;
    assert_eq!(
        api.get(&format!("/1.0/warnings/{uuid}")).await.metadata()["status"],
        "acknowledged"
    );
    assert_eq!(
        api.delete(&format!("/1.0/warnings/{uuid}")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        api.get("/1.0/resources").await.metadata()["cpu"]["total"],
        2
    );
}

#[tokio::test]
async fn simulated_cluster_places_instances() {
    let server = TestServer::builder()
        .server_name("node1")
        .cluster_member("node2")
        .start()
        .await
        .unwrap();
    let api = Api::unix(&server);
    let info = api.get("/1.0").await;
    assert_eq!(info.metadata()["environment"]["server_clustered"], true);
    let members = api.get("/1.0/cluster/members?recursion=1").await;
    let names: Vec<&str> = members
        .metadata()
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["server_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["node1", "node2"]);
    assert_eq!(members.metadata()[1]["status"], "Online");
    api.run(
        Method::POST,
        "/1.0/instances?target=node2",
        Some(json!({"name": "c1", "source": {"type": "none"}})),
    )
    .await;
    assert_eq!(
        api.get("/1.0/instances/c1").await.metadata()["location"],
        "node2"
    );
    let token = api
        .post("/1.0/cluster/members", json!({"server_name": "node3"}))
        .await;
    assert_eq!(token.metadata()["class"], "token");
    assert_eq!(token.metadata()["metadata"]["serverName"], "node3");
    assert!(
        api.delete("/1.0/cluster/members/node2").await.json["error"]
            .as_str()
            .unwrap()
            .contains("c1")
    );

    let standalone = TestServer::start().await.unwrap();
    let api = Api::unix(&standalone);
    assert_eq!(
        api.get("/1.0/cluster/members").await.json["error"],
        "Server is not clustered"
    );
    assert_eq!(api.get("/1.0/cluster").await.metadata()["enabled"], false);
}
