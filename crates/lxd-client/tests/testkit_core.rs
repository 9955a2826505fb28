//! The client against `lxd-testkit` over its real unix socket and HTTPS: server
//! information, trust (password, token), instances and their operations, ETags, filters,
//! and LXD's refusals surfacing as typed errors.

use std::time::Duration;

use lxd_client::proto::{InstanceStatePut, StatusCode};
use lxd_client::{Client, Error};
use lxd_testkit::{ClientCertificate, Fault, FaultRule, ServerFlavor, TestServer};

#[macro_use]
mod support;
use support::{busybox, launch};

fn https_client(server: &TestServer, cert: &ClientCertificate) -> Client {
    Client::https(server.https_url().unwrap())
        .client_certificate_pem(cert.certificate_pem.as_bytes(), cert.key_pem.as_bytes())
        .server_fingerprint(server.certificate_fingerprint())
        .build()
        .unwrap()
}

async fn server_information_over_the_unix_socket(flavor: ServerFlavor) {
    let server = support::start(flavor).await;
    let client = Client::unix(server.socket_path()).unwrap();
    let info = client.server().await.unwrap();
    assert!(info.is_trusted());
    assert_eq!(info.environment.server, flavor.name());
    assert_eq!(info.environment.server_version, flavor.server_version());
    assert_eq!(
        info.environment.certificate_fingerprint,
        server.certificate_fingerprint()
    );
    assert!(client.has_api_extension("instances").await.unwrap());
    // LXD 6 lists all its extensions; the others only what the testkit implements.
    let absent = match flavor {
        ServerFlavor::Lxd6 => "no_such_extension",
        _ => "instance_create_start",
    };
    let missing = client.require_api_extension(absent).await.unwrap_err();
    assert!(missing.is_missing_extension(), "{missing}");
}

async fn instances_lifecycle_and_refusals(flavor: ServerFlavor) {
    let server = support::start(flavor).await;
    let client = Client::unix(server.socket_path()).unwrap();
    let instances = client.instances();
    launch(&client, "c1").await;
    assert_eq!(instances.list_names().await.unwrap(), ["c1"]);
    let c1 = instances.get("c1").await.unwrap();
    assert!(c1.is_running());
    assert_eq!(c1.expanded_devices["root"]["pool"], "default");
    assert_eq!(
        instances.state("c1").await.unwrap().status_code,
        StatusCode::RUNNING
    );

    // LXD refuses to delete a running instance: a 400 with its words.
    let refused = instances.delete("c1").await.unwrap_err();
    assert!(refused.is_bad_request(), "{refused}");
    assert!(
        refused.to_string().contains("Instance is running"),
        "{refused}"
    );

    // A refused state change is a failed operation carrying LXD's message.
    let failed = instances
        .set_state("c1", &InstanceStatePut::start())
        .await
        .unwrap()
        .wait()
        .await
        .unwrap_err();
    assert!(failed.is_operation_failed(), "{failed}");
    assert!(
        failed
            .to_string()
            .contains("The instance is already running"),
        "{failed}"
    );

    let missing = instances.get("nope").await.unwrap_err();
    assert!(missing.is_not_found(), "{missing}");

    instances
        .set_state("c1", &InstanceStatePut::stop().with_force(true))
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    instances.delete("c1").await.unwrap().wait().await.unwrap();
    assert!(!instances.exists("c1").await.unwrap());
    assert!(server.instance_names("default").is_empty());
}

async fn etags_detect_concurrent_changes(flavor: ServerFlavor) {
    let server = support::start(flavor).await;
    let client = Client::unix(server.socket_path()).unwrap();
    let instances = client.instances();
    instances
        .create(&busybox("c1"))
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    let versioned = instances.get_with_etag("c1").await.unwrap();
    let etag = versioned.etag.clone().expect("LXD sends an ETag");
    let mut put = versioned.value.writable();
    put.config.insert("user.first".into(), "1".into());
    instances
        .update("c1", &put, Some(&etag))
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    // The old ETag no longer matches: 412, nothing overwritten.
    put.config.insert("user.second".into(), "2".into());
    let stale = instances.update("c1", &put, Some(&etag)).await.unwrap_err();
    assert!(stale.is_precondition_failed(), "{stale}");
    let now = instances.get("c1").await.unwrap();
    assert_eq!(now.config.get("user.first").map(String::as_str), Some("1"));
    assert!(!now.config.contains_key("user.second"));
}

async fn filters_and_projects(flavor: ServerFlavor) {
    let server = TestServer::builder()
        .flavor(flavor)
        .project("dev")
        .start()
        .await
        .unwrap();
    let client = Client::unix(server.socket_path()).unwrap();
    for name in ["web-1", "web-2", "db"] {
        client
            .instances()
            .create(&busybox(name))
            .await
            .unwrap()
            .wait()
            .await
            .unwrap();
    }
    let webs = client
        .instances()
        .query()
        .filter_expr("name eq ^web-.*")
        .names()
        .await
        .unwrap();
    assert_eq!(webs, ["web-1", "web-2"]);
    let exact = client
        .instances()
        .query()
        .filter("name", "web-1")
        .names()
        .await
        .unwrap();
    assert_eq!(exact, ["web-1"]);
    let dev = client.with_project("dev").unwrap();
    assert!(dev.instances().list_names().await.unwrap().is_empty());
    let all = client
        .instances()
        .query()
        .all_projects()
        .names_by_project()
        .await
        .unwrap();
    assert_eq!(all["default"].len(), 3);
    let projects = client.projects().list_names().await.unwrap();
    assert_eq!(projects, ["default", "dev"]);
}

async fn operations_wait_timeout_and_cancel(flavor: ServerFlavor) {
    let server = support::start(flavor).await;
    let client = Client::unix(server.socket_path()).unwrap();
    server.faults().add(
        FaultRule::new(Fault::StallOperation)
            .path("/1.0/instances")
            .times(1),
    );
    let op = client.instances().create(&busybox("c1")).await.unwrap();
    let id = op.id().to_string();
    let timed_out = op
        .wait_timeout(Duration::from_millis(200))
        .await
        .unwrap_err();
    assert!(timed_out.is_timeout(), "{timed_out}");
    assert!(
        matches!(timed_out, Error::OperationTimeout { .. }),
        "{timed_out:?}"
    );
    client.operations().cancel(&id).await.unwrap();
    let cancelled = client
        .operations()
        .wait(&id, Some(Duration::from_secs(5)))
        .await
        .unwrap_err();
    assert!(cancelled.is_cancelled(), "{cancelled}");
    assert!(!client.instances().exists("c1").await.unwrap());

    server.faults().add(
        FaultRule::new(Fault::FailOperation("storage is full".into()))
            .path("/1.0/instances")
            .times(1),
    );
    let failed = client
        .instances()
        .create(&busybox("c2"))
        .await
        .unwrap()
        .wait()
        .await
        .unwrap_err();
    assert!(failed.is_operation_failed(), "{failed}");
    assert!(failed.to_string().contains("storage is full"), "{failed}");
}

async fn https_trust_by_password_and_token(flavor: ServerFlavor) {
    let server = TestServer::builder()
        .flavor(flavor)
        .https()
        .trust_password("s3cret")
        .start()
        .await
        .unwrap();
    let first = ClientCertificate::generate("first").unwrap();
    let client = https_client(&server, &first);
    assert!(!client.trusted().await.unwrap());
    let refused = client.instances().list_names().await.unwrap_err();
    assert!(refused.is_forbidden(), "{refused}");
    let wrong = client.authenticate("wrong").await.unwrap_err();
    assert!(wrong.is_forbidden(), "{wrong}");
    if flavor == ServerFlavor::Lxd6 {
        // LXD 6 has no trust password: the first client needs a token from the socket.
        let refused = client.authenticate("s3cret").await.unwrap_err();
        assert!(refused.is_forbidden(), "{refused}");
        let local = Client::unix(server.socket_path()).unwrap();
        let token = local.certificates().create_token("first").await.unwrap();
        client.authenticate(&token.encoded()).await.unwrap();
    } else {
        client.authenticate("s3cret").await.unwrap();
    }
    assert!(client.trusted().await.unwrap());
    launch(&client, "c1").await;

    // A trusted client issues a token; a second client redeems it, once.
    let token = client.certificates().create_token("second").await.unwrap();
    let second = https_client(
        &server,
        &ClientCertificate::generate("second-cert").unwrap(),
    );
    second.authenticate(&token.encoded()).await.unwrap();
    assert_eq!(second.instances().list_names().await.unwrap(), ["c1"]);
    let third = https_client(&server, &ClientCertificate::generate("third").unwrap());
    let reused = third.authenticate(&token.encoded()).await.unwrap_err();
    assert!(reused.is_forbidden(), "{reused}");
    let names: Vec<String> = client
        .certificates()
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["first", "second"]);
}

async fn a_pinned_certificate_that_does_not_match_is_refused(flavor: ServerFlavor) {
    let server = TestServer::builder()
        .flavor(flavor)
        .https()
        .start()
        .await
        .unwrap();
    let client = Client::https(server.https_url().unwrap())
        .server_fingerprint("ab".repeat(32))
        .build()
        .unwrap();
    let error = client.server().await.unwrap_err();
    assert!(error.is_tls(), "{error}");
}

each_flavor!(
    server_information_over_the_unix_socket,
    instances_lifecycle_and_refusals,
    etags_detect_concurrent_changes,
    filters_and_projects,
    operations_wait_timeout_and_cancel,
    https_trust_by_password_and_token,
    a_pinned_certificate_that_does_not_match_is_refused,
);
