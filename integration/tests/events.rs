//! The event stream against a real LXD: lifecycle order, type filters, project scopes,
//! several consumers on one connection, errors at connect, reconnection after a cut, and
//! waiting for many operations over one connection.

use std::net::SocketAddr;
use std::time::Duration;

use futures::StreamExt;
use lxd_client::proto::{Event, EventPayload, EventType, InstanceStatePut, LifecycleAction};
use lxd_client::{Client, EventItem, EventStream, Method};
use lxd_integration::{
    create_profile, delete_profile, fresh_identity, profile_created, require, unique,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// How long a test waits for an event that must come.
const PATIENCE: Duration = Duration::from_secs(60);

/// The next event of `stream` for which `pick` returns something (other events, from other
/// tests on the same daemon, are skipped). Markers of lost events fail the test.
async fn next_matching<T>(
    stream: &mut EventStream,
    mut pick: impl FnMut(&Event) -> Option<T>,
) -> T {
    tokio::time::timeout(PATIENCE, async {
        loop {
            let item = stream.next().await.expect("stream open").expect("event");
            match item {
                EventItem::Event(event) => {
                    if let Some(found) = pick(&event) {
                        return found;
                    }
                }
                other => panic!("unexpected gap in the stream: {other:?}"),
            }
        }
    })
    .await
    .expect("the event within the deadline")
}

/// The lifecycle action of `event` if it concerns the resource called `name`.
fn lifecycle_of(event: &Event, name: &str) -> Option<LifecycleAction> {
    match &event.payload {
        EventPayload::Lifecycle(l) if l.resource_name().as_deref() == Some(name) => {
            Some(l.action.clone())
        }
        _ => None,
    }
}

async fn wait_op(op: lxd_client::Operation) {
    op.wait().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_events_for_create_start_stop_delete_in_order() {
    let env = require!();
    let client = env.client();
    let mut events = client
        .events()
        .types([EventType::Lifecycle])
        .connect()
        .await
        .unwrap();
    let name = unique("itev-life");
    let instances = client.instances();
    wait_op(instances.create(&env.from_image(&name)).await.unwrap()).await;
    wait_op(
        instances
            .set_state(&name, &InstanceStatePut::start())
            .await
            .unwrap(),
    )
    .await;
    wait_op(
        instances
            .set_state(&name, &InstanceStatePut::stop().with_force(true))
            .await
            .unwrap(),
    )
    .await;
    wait_op(instances.delete(&name).await.unwrap()).await;

    let mut seen = Vec::new();
    while seen.last() != Some(&LifecycleAction::InstanceDeleted) {
        seen.push(next_matching(&mut events, |e| lifecycle_of(e, &name)).await);
    }
    // A server that cannot cap a container's pids (no pids cgroup controller: Incus 7.0 in
    // its own cgroup2 here) freezes it before a forced stop, and says so with an event.
    let mut expected = vec![
        LifecycleAction::InstanceCreated,
        LifecycleAction::InstanceStarted,
    ];
    if lxd_integration::missing_cgroup_controllers(&client)
        .await
        .iter()
        .any(|c| c == "pids")
    {
        expected.push(LifecycleAction::InstancePaused);
    }
    expected.extend([
        LifecycleAction::InstanceStopped,
        LifecycleAction::InstanceDeleted,
    ]);
    assert_eq!(seen, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn type_filters_deliver_only_the_types_asked_for() {
    let env = require!();
    let client = env.client();
    let mut operations = client
        .events()
        .types([EventType::Operation])
        .connect()
        .await
        .unwrap();
    let mut lifecycle = client
        .events()
        .types([EventType::Lifecycle])
        .connect()
        .await
        .unwrap();
    assert_eq!(operations.types(), [EventType::Operation]);
    let name = unique("itev-types");
    let op = client
        .instances()
        .create(&env.from_image(&name))
        .await
        .unwrap();
    let op_id = op.id().to_string();
    wait_op(op).await;

    // The operation stream follows the creation to its end, and carries nothing else.
    let mut statuses = Vec::new();
    loop {
        let item = tokio::time::timeout(PATIENCE, operations.next())
            .await
            .expect("event in time")
            .unwrap()
            .unwrap();
        let event = item.into_event().expect("an event");
        assert_eq!(event.event_type(), EventType::Operation, "{event:?}");
        let EventPayload::Operation(op) = &event.payload else {
            panic!("{event:?}")
        };
        if op.id == op_id {
            statuses.push(op.status.clone());
            if op.is_final() {
                break;
            }
        }
    }
    assert_eq!(
        statuses.last().map(String::as_str),
        Some("Success"),
        "{statuses:?}"
    );
    // The lifecycle stream has the creation, and only lifecycle events.
    let action = next_matching(&mut lifecycle, |e| {
        assert_eq!(e.event_type(), EventType::Lifecycle, "{e:?}");
        lifecycle_of(e, &name)
    })
    .await;
    assert_eq!(action, LifecycleAction::InstanceCreated);

    wait_op(client.instances().delete(&name).await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn project_scoped_and_all_projects_streams() {
    let env = require!();
    let root = env.client();
    let project = unique("itevp");
    root.projects()
        .create(&lxd_client::proto::ProjectsPost {
            name: project.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let in_project = root.with_project(&project).unwrap();
    let default = root.with_project("default").unwrap();

    let mut scoped = root
        .events()
        .project(&project)
        .types([EventType::Lifecycle])
        .connect()
        .await
        .unwrap();
    assert_eq!(scoped.project(), Some(project.as_str()));
    let mut of_default = default
        .events()
        .types([EventType::Lifecycle])
        .connect()
        .await
        .unwrap();
    let mut everything = root
        .events()
        .all_projects()
        .types([EventType::Lifecycle])
        .connect()
        .await
        .unwrap();
    assert_eq!(everything.project(), None);

    // Before, in the project, after: each stream in order, so what a stream must not see
    // would have come before what it must see.
    let (before, inside, after) = (unique("itevp-a"), unique("itevp-b"), unique("itevp-c"));
    create_profile(&default, &before).await;
    create_profile(&in_project, &inside).await;
    create_profile(&default, &after).await;
    let ours = [&before, &inside, &after];

    let first = next_matching(&mut scoped, |e| {
        profile_created(e)
            .filter(|n| ours.contains(&n))
            .map(|n| (n, e.project.clone()))
    })
    .await;
    assert_eq!(first, (inside.clone(), project.clone()));

    let mut seen = Vec::new();
    while seen.last() != Some(&after) {
        seen.push(
            next_matching(&mut of_default, |e| {
                profile_created(e).filter(|n| ours.contains(&n))
            })
            .await,
        );
    }
    assert_eq!(seen, [before.clone(), after.clone()]);

    let mut all = Vec::new();
    while all.len() < 3 {
        all.push(
            next_matching(&mut everything, |e| {
                profile_created(e)
                    .filter(|n| ours.contains(&n))
                    .map(|n| (n, e.project.clone()))
            })
            .await,
        );
    }
    assert_eq!(
        all,
        [
            (before.clone(), "default".to_string()),
            (inside.clone(), project.clone()),
            (after.clone(), "default".to_string()),
        ]
    );

    delete_profile(&default, &before).await;
    delete_profile(&default, &after).await;
    delete_profile(&in_project, &inside).await;
    root.projects().delete(&project).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_consumers_share_one_connection() {
    let env = require!();
    let client = env.client();
    let mut first = client
        .events()
        .types([EventType::Lifecycle])
        .connect()
        .await
        .unwrap();
    let mut second = first.subscribe();
    let mut third = second.subscribe();
    let name = unique("itev-shared");
    create_profile(&client, &name).await;
    let pick =
        |e: &Event| (profile_created(e).as_deref() == Some(name.as_str())).then(|| e.clone());
    let a = next_matching(&mut first, pick).await;
    let b = next_matching(&mut second, pick).await;
    drop(first); // the others keep the connection
    let c = next_matching(&mut third, pick).await;
    assert_eq!(a, b);
    assert_eq!(b, c);
    delete_profile(&client, &name).await;
    let deleted = next_matching(&mut third, |e| match &e.payload {
        EventPayload::Lifecycle(l) if l.resource_name().as_deref() == Some(name.as_str()) => {
            Some(l.action.clone())
        }
        _ => None,
    })
    .await;
    assert_eq!(deleted, LifecycleAction::ProfileDeleted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_surface_at_connect() {
    let env = require!();
    let client = env.client();
    let err = client
        .events()
        .project(&unique("no-such-project"))
        .connect()
        .await
        .unwrap_err();
    assert!(
        err.lxd_message().is_some_and(|m| m.contains("not found")),
        "{err:?}"
    );
    let err = client
        .events()
        .types([EventType::from("no-such-type")])
        .connect()
        .await
        .unwrap_err();
    // LXD 5.0.2 means 400 here but answers 500 (the error comes after its handler has
    // started rendering); its message names the type.
    assert!(err.status().is_some_and(|s| s >= 400), "{err:?}");
    assert!(
        err.lxd_message().unwrap().contains("no-such-type"),
        "{err:?}"
    );
    // Waiting for an operation needs operation events.
    let lifecycle_only = client
        .events()
        .types([EventType::Lifecycle])
        .connect()
        .await
        .unwrap();
    let err = lifecycle_only.wait_operation("abc").await.unwrap_err();
    assert!(err.is_invalid_input(), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_operations_awaited_over_one_event_connection() {
    let env = require!();
    let client = env.client();
    let name = unique("itev-ops");
    wait_op(
        client
            .instances()
            .create(&env.from_image(&name))
            .await
            .unwrap(),
    )
    .await;
    wait_op(
        client
            .instances()
            .set_state(&name, &InstanceStatePut::start())
            .await
            .unwrap(),
    )
    .await;

    let events = client
        .events()
        .types([EventType::Operation])
        .connect()
        .await
        .unwrap();
    // Twenty commands that each run a moment and end with their own code; LXD runs them as
    // twenty operations (record-output mode, no websockets).
    let mut ops = Vec::new();
    for code in 1..=20 {
        let op = client
            .raw(Method::POST, format!("/1.0/instances/{name}/exec"))
            .json(&serde_json::json!({
                "command": ["sh", "-c", format!("sleep 1; exit {code}")],
                "record-output": true,
            }))
            .unwrap()
            .operation()
            .await
            .unwrap();
        assert!(!op.info().is_final());
        ops.push((code, op));
    }
    let waits = ops.into_iter().map(|(code, op)| {
        let events = &events;
        async move { (code, op.wait_with_events(events).await) }
    });
    let results = tokio::time::timeout(PATIENCE, futures::future::join_all(waits))
        .await
        .expect("all twenty within the deadline");
    for (code, result) in results {
        let done = result.unwrap();
        assert!(done.is_final());
        assert_eq!(done.metadata.unwrap()["return"], code);
    }

    // A failure comes through the events as LXD's error.
    let op = client
        .instances()
        .create(&lxd_client::proto::InstancesPost {
            name: unique("itev-bad"),
            source: lxd_client::proto::InstanceSource::image_alias(unique("no-such-alias")),
            ..Default::default()
        })
        .await;
    match op {
        Ok(op) => {
            let err = op.wait_with_events(&events).await.unwrap_err();
            assert!(err.is_operation_failed() || err.is_not_found(), "{err:?}");
            assert!(err.lxd_message().is_some(), "{err:?}");
        }
        // LXD may refuse at once, without an operation.
        Err(e) => assert!(e.lxd_message().is_some(), "{e:?}"),
    }
    // The /wait form still works beside it.
    let op = client
        .instances()
        .set_state(&name, &InstanceStatePut::stop().with_force(true))
        .await
        .unwrap();
    op.wait().await.unwrap();
    let op = client.instances().delete(&name).await.unwrap();
    client
        .operations()
        .wait_with_events(op.id(), &events)
        .await
        .unwrap();
}

/// A TCP relay to the daemon's HTTPS port whose connections can all be cut at once.
struct Relay {
    addr: SocketAddr,
    cut: watch::Sender<u64>,
}

impl Relay {
    async fn start(upstream: String) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (cut, generation) = watch::channel(0u64);
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                let upstream = upstream.clone();
                let mut generation = generation.clone();
                generation.mark_unchanged();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = generation.changed() => {} // cut: both sockets dropped
                    }
                });
            }
        });
        Relay { addr, cut }
    }

    /// Cuts every connection open now.
    fn cut(&self) {
        self.cut.send_modify(|g| *g += 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_connection_reconnects_with_a_marker_or_ends_with_an_error() {
    let env = require!();
    let relay = Relay::start(env.https.clone()).await;
    let name = unique("itev-relay");
    let (cert, key) = fresh_identity(&name);
    let mut builder = Client::https(relay.addr.to_string())
        .server_certificate_pem(&env.server_cert)
        .client_certificate_pem(cert.as_bytes(), key.as_bytes());
    if env.project != "default" {
        builder = builder.project(env.project.clone());
    }
    let client = builder.build().unwrap();
    client
        .authenticate(&env.join_token(&name).await)
        .await
        .unwrap();
    let local = env.client();

    let mut resilient = client
        .events()
        .types([EventType::Lifecycle])
        .reconnect_backoff(Duration::from_millis(50), Duration::from_secs(1))
        .connect()
        .await
        .unwrap();
    let mut fragile = client
        .events()
        .types([EventType::Lifecycle])
        .connect()
        .await
        .unwrap();

    relay.cut();

    // Without reconnection: one error, then the end.
    let end = tokio::time::timeout(PATIENCE, async {
        loop {
            match fragile.next().await {
                Some(Ok(_)) => continue, // events from before the cut
                Some(Err(e)) => break e,
                None => panic!("ended without an error"),
            }
        }
    })
    .await
    .expect("the cut is noticed");
    assert!(matches!(end, lxd_client::Error::Transport(_)), "{end:?}");
    assert!(fragile.next().await.is_none());

    // With reconnection: a marker, then events again.
    let marker = tokio::time::timeout(PATIENCE, async {
        loop {
            match resilient.next().await.expect("stream open").expect("item") {
                EventItem::Event(_) => continue,
                gap => break gap,
            }
        }
    })
    .await
    .expect("reconnected");
    assert!(
        matches!(&marker, EventItem::Reconnected { .. }) && marker.is_gap(),
        "{marker:?}"
    );
    let profile = unique("itev-after-cut");
    create_profile(&local, &profile).await;
    let got = next_matching(&mut resilient, |e| {
        (profile_created(e).as_deref() == Some(profile.as_str())).then_some(())
    })
    .await;
    assert_eq!(got, ());
    delete_profile(&local, &profile).await;
    env.forget_certificate(&cert).await;
}
