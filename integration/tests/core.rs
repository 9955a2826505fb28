//! The client core against a real LXD: server information, extensions, errors, operations,
//! a container's create and delete, projects, the raw escape hatch.

use std::time::Duration;

use futures::StreamExt;
use lxd_client::proto::{InstanceSource, InstancesPost, ProjectsPost};
use lxd_client::transport::tungstenite::Message;
use lxd_client::{Error, Method};
use lxd_integration::{require, unique};

#[tokio::test]
async fn server_info_over_unix_socket() {
    let env = require!();
    let client = env.client();
    let server = client.server().await.unwrap();
    assert_eq!(server.api_version, "1.0");
    assert!(
        server.is_trusted(),
        "the unix socket is trusted: {}",
        server.auth
    );
    assert_eq!(server.environment.server, env.server);
    // The version the harness started (LXD 5.0, Incus 6.0 or 7.0); any with --socket.
    if let Some(series) = &env.series {
        assert!(
            server
                .environment
                .server_version
                .starts_with(&format!("{series}.")),
            "{} {series}.x expected, got {}",
            env.server,
            server.environment.server_version
        );
    }
    assert_eq!(client.flavor().await.unwrap().name(), env.server);
    assert!(!server.environment.certificate.is_empty());
    assert_eq!(server.environment.certificate_fingerprint.len(), 64);
    assert!(
        server.api_extensions.len() > 100,
        "{}",
        server.api_extensions.len()
    );
    // The cache hands back the same object; a refresh fetches a new one with the same data.
    let again = client.server().await.unwrap();
    assert!(std::sync::Arc::ptr_eq(&server, &again));
    let fresh = client.refresh_server().await.unwrap();
    assert!(!std::sync::Arc::ptr_eq(&server, &fresh));
    assert_eq!(fresh.environment.server_pid, server.environment.server_pid);
}

#[tokio::test]
async fn extension_checks_name_what_is_missing() {
    let env = require!();
    let client = env.client();
    assert!(client.has_api_extension("instances").await.unwrap());
    assert!(
        !client
            .has_api_extension("no_such_extension_xyz")
            .await
            .unwrap()
    );
    client.require_api_extension("etag").await.unwrap();
    let err = client
        .require_api_extension("no_such_extension_xyz")
        .await
        .unwrap_err();
    assert!(err.is_missing_extension(), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("no_such_extension_xyz") && text.contains(&env.server),
        "{text}"
    );
}

#[tokio::test]
async fn missing_object_is_not_found_with_lxd_message() {
    let env = require!();
    let err = env
        .client()
        .instances()
        .get(&unique("nope"))
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert!(!err.is_conflict());
    let message = err.lxd_message().unwrap().to_lowercase();
    assert!(message.contains("not found"), "{message}");
}

#[tokio::test]
async fn bad_instance_name_is_refused_before_any_request() {
    // A socket that does not exist proves nothing was sent: the name check comes first.
    let client = lxd_client::Client::https("127.0.0.1:1")
        .build()
        .expect("building sends nothing");
    let err = client.instances().get("bad/name").await.unwrap_err();
    assert!(err.is_invalid_input(), "{err:?}");
    let err = client
        .instances()
        .create(&InstancesPost {
            name: "-bad".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(err.is_invalid_input(), "{err:?}");
}

#[tokio::test]
async fn container_created_from_image_through_an_operation_then_deleted() {
    let env = require!();
    let client = env.client();
    let name = unique("core-c");
    let op = client
        .instances()
        .create(&env.from_image(&name))
        .await
        .unwrap();
    assert!(!op.id().is_empty());
    let done = op.wait_timeout(Duration::from_secs(120)).await.unwrap();
    assert!(done.status_code.is_success(), "{done:?}");

    let instance = client.instances().get(&name).await.unwrap();
    assert_eq!(instance.name, name);
    assert_eq!(instance.status, "Stopped");
    assert!(client.instances().exists(&name).await.unwrap());
    assert!(
        client
            .instances()
            .list_names()
            .await
            .unwrap()
            .contains(&name)
    );
    let listed = client.instances().list().await.unwrap();
    assert!(
        listed
            .iter()
            .any(|i| i.name == name && i.status == "Stopped")
    );

    client
        .instances()
        .delete(&name)
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    assert!(!client.instances().exists(&name).await.unwrap());
}

#[tokio::test]
async fn create_from_missing_alias_fails_with_lxd_message() {
    let env = require!();
    let client = env.client();
    let name = unique("core-missing");
    let result = match client
        .instances()
        .create(&InstancesPost {
            name: name.clone(),
            source: InstanceSource::image_alias("no-such-alias-xyz"),
            ..Default::default()
        })
        .await
    {
        Ok(op) => op.wait().await.map(|_| ()),
        Err(e) => Err(e),
    };
    let err = result.expect_err("creating from a missing alias must fail");
    let message = err.lxd_message().expect("LXD's own message").to_lowercase();
    // Incus 6.0 words it differently: "Image not provided for instance creation".
    assert!(
        message.contains("no-such-alias-xyz")
            || message.contains("not found")
            || (env.is_incus() && message.contains("image not provided")),
        "{err}"
    );
    assert!(!client.instances().exists(&name).await.unwrap());
}

#[tokio::test]
async fn operations_are_listed_fetched_and_awaited() {
    let env = require!();
    let client = env.client();
    let name = unique("core-op");
    let op = client
        .instances()
        .create(&env.from_image(&name))
        .await
        .unwrap();
    let id = op.id().to_string();
    // The operation is reachable by id while it runs or right after it ended.
    let fetched = client.operations().get(&id).await.unwrap();
    assert_eq!(fetched.id(), id);
    assert!(fetched.info().resources.is_some(), "{:?}", fetched.info());
    let listed = client.operations().list().await.unwrap();
    assert!(listed.iter().any(|o| o.id == id), "{id} not in {listed:?}");
    let done = client
        .operations()
        .wait(&id, Some(Duration::from_secs(120)))
        .await
        .unwrap();
    assert_eq!(done.status_code.0, 200);
    drop(op);

    // A deadline that cannot be met is a timeout, not a hang: a running container's stop with
    // a long clean-shutdown timeout (busybox init ignores SIGPWR, so it takes the whole 30 s).
    let instances = client.instances();
    instances
        .set_state(&name, &state("start", -1, false))
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    let stop = instances
        .set_state(&name, &state("stop", 30, false))
        .await
        .unwrap();
    let err = stop
        .clone()
        .wait_timeout(Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::OperationTimeout { .. }) && err.is_timeout(),
        "{err:?}"
    );
    instances
        .set_state(&name, &state("stop", -1, true))
        .await
        .unwrap()
        .wait()
        .await
        .ok();
    // The graceful stop either ended or was overtaken by the forced one; wait for stopped.
    let _ = stop.wait_timeout(Duration::from_secs(60)).await;
    instances.delete(&name).await.unwrap().wait().await.unwrap();
}

#[tokio::test]
async fn cancelled_operation_is_a_typed_error() {
    let env = require!();
    let client = env.client();
    // A join-token operation runs until used or cancelled: a cancellable operation at hand.
    let op = client
        .raw(Method::POST, "/1.0/certificates")
        .without_project()
        .json(&serde_json::json!({"name": unique("it-cancel"), "type": "client", "token": true}))
        .unwrap()
        .operation()
        .await
        .unwrap();
    assert!(op.info().may_cancel);
    let pending = op
        .clone()
        .wait_timeout(Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(pending.is_timeout(), "{pending:?}");
    op.cancel().await.unwrap();
    let err = op.wait().await.unwrap_err();
    assert!(err.is_cancelled(), "{err:?}");
}

fn state(action: &str, timeout: i64, force: bool) -> lxd_client::proto::InstanceStatePut {
    let mut put = lxd_client::proto::InstanceStatePut::new(action.parse().unwrap());
    put.timeout = timeout;
    put.force = force;
    put
}

#[tokio::test]
async fn project_scoped_client_sees_only_its_project() {
    let env = require!();
    let root = lxd_client::Client::unix(&env.socket).unwrap();
    let project = unique("itp");
    let mut config = serde_json::Map::new();
    // Share the default project's images and profiles, so busybox and the root disk are there.
    config.insert("features.images".into(), "false".into());
    config.insert("features.profiles".into(), "false".into());
    root.projects()
        .create(&ProjectsPost {
            name: project.clone(),
            config: config
                .into_iter()
                .map(|(k, v)| (k, v.as_str().unwrap().to_string()))
                .collect(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        root.projects()
            .list_names()
            .await
            .unwrap()
            .contains(&project)
    );

    let scoped = root.with_project(&project).unwrap();
    assert_eq!(scoped.project(), Some(project.as_str()));
    // Websockets carry the project too: this event stream sees only the project's events.
    let mut events = scoped
        .websocket("/1.0/events", &[("type", "lifecycle")])
        .await
        .unwrap();
    let name = unique("proj-c");
    scoped
        .instances()
        .create(&env.from_image(&name))
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();

    let created = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(message) = events.next().await {
            let text = match message.unwrap() {
                Message::Text(t) => t.to_string(),
                Message::Binary(b) => String::from_utf8(b.to_vec()).unwrap(),
                _ => continue, // pings and pongs
            };
            let event: lxd_client::proto::Event = serde_json::from_str(&text).unwrap();
            assert_eq!(
                event.project, project,
                "an event of another project: {text}"
            );
            if let lxd_client::proto::EventPayload::Lifecycle(l) = event.payload
                && l.action == lxd_client::proto::LifecycleAction::InstanceCreated
            {
                return l;
            }
        }
        panic!("event stream ended");
    })
    .await
    .expect("instance-created within 30 s");
    assert_eq!(
        created.resource_name().as_deref(),
        Some(name.as_str()),
        "{created:?}"
    );

    assert_eq!(
        scoped.instances().list_names().await.unwrap(),
        vec![name.clone()]
    );
    let inside = scoped.instances().get(&name).await.unwrap();
    assert_eq!(inside.project, project);
    assert!(!root.instances().list_names().await.unwrap().contains(&name));
    assert!(
        root.instances()
            .get(&name)
            .await
            .unwrap_err()
            .is_not_found()
    );

    scoped
        .instances()
        .delete(&name)
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    root.projects().delete(&project).await.unwrap();
    assert!(
        root.projects()
            .get(&project)
            .await
            .unwrap_err()
            .is_not_found()
    );
}

#[tokio::test]
async fn websocket_of_a_missing_project_is_refused_with_lxd_message() {
    let env = require!();
    let client = env
        .client()
        .with_project(&unique("no-such-project"))
        .unwrap();
    let err = client.websocket("/1.0/events", &[]).await.unwrap_err();
    match &err {
        Error::Transport(lxd_client::transport::Error::WebSocketRefused {
            status, body, ..
        }) => {
            // LXD 5.0.2 answers 500 here (404 elsewhere); its message is what matters.
            assert!(*status >= 400, "{status} {body}");
            assert!(body.contains("Project not found"), "{body}");
        }
        other => panic!("expected a refused upgrade, got {other:?}"),
    }
}

#[tokio::test]
async fn raw_requests_reach_any_endpoint() {
    let env = require!();
    let client = env.client();
    let reply = client
        .raw(Method::GET, "/1.0/resources")
        .send()
        .await
        .unwrap();
    assert!(
        reply.metadata["cpu"]["total"].as_u64().unwrap() >= 1,
        "{}",
        reply.metadata
    );
    let err = client
        .raw(Method::GET, "/1.0/no-such-endpoint")
        .send()
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    let err = client
        .raw(Method::GET, "no-leading-slash")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Transport(_)), "{err:?}");
}
