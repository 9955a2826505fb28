//! Websockets as LXD speaks them: exec (channels, barriers, exit codes, interactive mode,
//! signals and window size on the control channel), events (type and project filters) and
//! operations (wait with timeout, cancel, expiry).

mod support;

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use lxd_testkit::{Fault, FaultRule, TestServer};
use lxd_transport::http::{Method, StatusCode};
use lxd_transport::tungstenite::Message;
use serde_json::{Value, json};
use support::{Api, next_message, read_stream, send_stdin};

/// Starts an exec with websockets; returns the operation URL and its channel secrets.
async fn exec(api: &Api, instance: &str, body: Value) -> (String, Value) {
    let reply = api
        .post(&format!("/1.0/instances/{instance}/exec"), body)
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{reply:?}");
    assert_eq!(reply.metadata()["class"], "websocket");
    (
        reply.json["operation"].as_str().unwrap().to_string(),
        reply.metadata()["metadata"]["fds"].clone(),
    )
}

async fn channel(api: &Api, op: &str, fds: &Value, fd: &str) -> lxd_transport::WebSocket {
    api.websocket(
        &format!("{op}/websocket"),
        &[("secret", fds[fd].as_str().unwrap())],
    )
    .await
}

async fn finished(api: &Api, op: &str) -> Value {
    api.get(&format!("{op}/wait?timeout=10"))
        .await
        .metadata()
        .clone()
}

#[tokio::test]
async fn exec_non_interactive_streams_and_exit_code() {
    let server = TestServer::start().await.unwrap();
    let api = Api::unix(&server);
    api.launch("c1").await;
    let (op, fds) = exec(
        &api,
        "c1",
        json!({"command": ["sh", "-c", "cat; echo done; echo oops >&2; exit 7"],
               "wait-for-websocket": true, "interactive": false,
               "environment": {"TERM": "xterm"}}),
    )
    .await;
    assert_eq!(
        fds.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["0", "1", "2", "control"]
    );
    let mut control = channel(&api, &op, &fds, "control").await;
    let mut stdin = channel(&api, &op, &fds, "0").await;
    let mut stdout = channel(&api, &op, &fds, "1").await;
    let mut stderr = channel(&api, &op, &fds, "2").await;
    send_stdin(&mut stdin, b"fed through stdin\n").await;
    let (out, out_barrier) = read_stream(&mut stdout).await;
    let (err, err_barrier) = read_stream(&mut stderr).await;
    assert_eq!(String::from_utf8(out).unwrap(), "fed through stdin\ndone\n");
    assert_eq!(String::from_utf8(err).unwrap(), "oops\n");
    assert!(out_barrier && err_barrier, "output ends with the barrier");
    let op_final = finished(&api, &op).await;
    assert_eq!(op_final["status"], "Success");
    assert_eq!(op_final["metadata"]["return"], 7);
    assert_eq!(op_final["metadata"]["command"][0], "sh");
    assert_eq!(op_final["metadata"]["environment"]["HOME"], "/root");
    // The server drops the control connection when the command ends.
    assert!(next_message(&mut control).await.is_none());

    // A wrong secret is refused before any upgrade; a channel cannot be taken twice.
    let (op, fds) = exec(
        &api,
        "c1",
        json!({"command": ["true"], "wait-for-websocket": true}),
    )
    .await;
    let refused = api
        .transport
        .websocket(&format!("{op}/websocket"), &[("secret", "nope")])
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("403"), "{refused}");
    let _first = channel(&api, &op, &fds, "0").await;
    let again = api
        .transport
        .websocket(
            &format!("{op}/websocket"),
            &[("secret", fds["0"].as_str().unwrap())],
        )
        .await;
    assert!(again.is_err());
}

#[tokio::test]
async fn exec_without_websockets_and_recorded_output() {
    let server = TestServer::start().await.unwrap();
    let api = Api::unix(&server);
    api.launch("c1").await;
    let op = api
        .run(
            Method::POST,
            "/1.0/instances/c1/exec",
            Some(
                json!({"command": ["sh", "-c", "echo recorded; echo e >&2; exit 2"],
                        "record-output": true}),
            ),
        )
        .await;
    assert_eq!(op["class"], "task");
    assert_eq!(op["metadata"]["return"], 2);
    let stdout = op["metadata"]["output"]["1"].as_str().unwrap();
    assert!(stdout.ends_with(".stdout"), "{stdout}");
    assert_eq!(&api.get(stdout).await.body[..], b"recorded\n");
    let missing = api
        .post(
            "/1.0/instances/c1/exec",
            json!({"command": ["nosuchcommand"]}),
        )
        .await;
    let failed = api.wait(&missing).await;
    assert_eq!(failed["status"], "Failure");
    assert_eq!(failed["err"], "Command not found");
    assert_eq!(failed["metadata"]["return"], 127);
}

#[tokio::test]
async fn exec_interactive_pty_resize_and_signals() {
    let server = TestServer::start().await.unwrap();
    let api = Api::unix(&server);
    api.launch("c1").await;
    let (op, fds) = exec(
        &api,
        "c1",
        json!({"command": ["sh"], "wait-for-websocket": true, "interactive": true,
               "width": 100, "height": 30}),
    )
    .await;
    assert_eq!(
        fds.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["0", "control"]
    );
    let mut control = channel(&api, &op, &fds, "control").await;
    let mut pty = channel(&api, &op, &fds, "0").await;
    let mut seen = String::new();
    let read_until = async |pty: &mut lxd_transport::WebSocket, needle: &str, seen: &mut String| {
        while !seen.contains(needle) {
            match next_message(pty).await {
                Some(Message::Binary(data)) => seen.push_str(&String::from_utf8_lossy(&data)),
                other => panic!("expected output with {needle:?}, got {other:?} after {seen:?}"),
            }
        }
    };
    read_until(&mut pty, "/root # ", &mut seen).await;
    pty.send(Message::binary(b"stty size\r".to_vec()))
        .await
        .unwrap();
    read_until(&mut pty, "30 100\r\n", &mut seen).await;
    assert!(
        seen.contains("stty size\r\n"),
        "typed input is echoed: {seen:?}"
    );
    control
        .send(Message::text(
            json!({"command": "window-resize", "args": {"width": "132", "height": "43"}})
                .to_string(),
        ))
        .await
        .unwrap();
    // The resize and the next line travel on different connections, with no order between
    // them: ask again (each answer is a full round trip) until the new size shows.
    let mut resized = false;
    for _ in 0..500 {
        seen.clear();
        pty.send(Message::binary(b"stty size\r".to_vec()))
            .await
            .unwrap();
        read_until(&mut pty, "# ", &mut seen).await;
        if seen.contains("43 132\r\n") {
            resized = true;
            break;
        }
    }
    assert!(resized, "window-resize reached the session: {seen:?}");
    pty.send(Message::binary(b"sleep 100\r".to_vec()))
        .await
        .unwrap();
    control
        .send(Message::text(
            json!({"command": "signal", "signal": 15}).to_string(),
        ))
        .await
        .unwrap();
    let op_final = finished(&api, &op).await;
    assert_eq!(op_final["metadata"]["return"], 128 + 15, "{op_final}");
}

#[tokio::test]
async fn exec_ends_when_control_closes_or_instance_stops() {
    let server = TestServer::start().await.unwrap();
    let api = Api::unix(&server);
    api.launch("c1").await;
    // Closing the control channel kills the command (SIGKILL), as LXD does.
    let (op, fds) = exec(
        &api,
        "c1",
        json!({"command": ["sleep", "100"], "wait-for-websocket": true}),
    )
    .await;
    let mut control = channel(&api, &op, &fds, "control").await;
    let _stdin = channel(&api, &op, &fds, "0").await;
    let _stdout = channel(&api, &op, &fds, "1").await;
    let _stderr = channel(&api, &op, &fds, "2").await;
    control.close(None).await.unwrap();
    assert_eq!(finished(&api, &op).await["metadata"]["return"], 137);

    // Stopping the instance ends what runs in it.
    let (op, fds) = exec(
        &api,
        "c1",
        json!({"command": ["sleep", "100"], "wait-for-websocket": true}),
    )
    .await;
    let _sockets = (
        channel(&api, &op, &fds, "0").await,
        channel(&api, &op, &fds, "1").await,
        channel(&api, &op, &fds, "2").await,
    );
    api.run(
        Method::PUT,
        "/1.0/instances/c1/state",
        Some(json!({"action": "stop", "force": true})),
    )
    .await;
    assert_eq!(finished(&api, &op).await["metadata"]["return"], 137);

    // Nobody connects: the exec gives up after 5 s like LXD.
    api.run(
        Method::PUT,
        "/1.0/instances/c1/state",
        Some(json!({"action": "start"})),
    )
    .await;
    let (op, _) = exec(
        &api,
        "c1",
        json!({"command": ["true"], "wait-for-websocket": true}),
    )
    .await;
    let gave_up = finished(&api, &op).await;
    assert_eq!(
        gave_up["err"],
        "Timed out waiting for websockets to connect"
    );
}

#[tokio::test]
async fn events_filter_by_type_and_project() {
    let server = TestServer::builder().project("p1").start().await.unwrap();
    let api = Api::unix(&server);
    let mut lifecycle = api.websocket("/1.0/events", &[("type", "lifecycle")]).await;
    let mut everything = api
        .websocket("/1.0/events", &[("all-projects", "true")])
        .await;
    let mut p1 = api
        .websocket("/1.0/events", &[("project", "p1"), ("type", "lifecycle")])
        .await;
    // Like LXD, a registered listener is pinged first (clients wait for it).
    let mut fresh = api.websocket("/1.0/events", &[]).await;
    let first = tokio::time::timeout(std::time::Duration::from_secs(10), fresh.next())
        .await
        .expect("a first message");
    assert!(matches!(first, Some(Ok(Message::Ping(_)))), "{first:?}");
    api.run(
        Method::POST,
        "/1.0/instances",
        Some(json!({"name": "c1", "source": {"type": "none"}})),
    )
    .await;
    api.post("/1.0/profiles?project=p1", json!({"name": "x"}))
        .await;

    let text = |m: Option<Message>| -> Value {
        match m {
            Some(Message::Text(t)) => serde_json::from_str(&t).unwrap(),
            other => panic!("{other:?}"),
        }
    };
    let created = text(next_message(&mut lifecycle).await);
    assert_eq!(created["type"], "lifecycle");
    assert_eq!(created["metadata"]["action"], "instance-created");
    assert_eq!(created["metadata"]["source"], "/1.0/instances/c1");
    assert_eq!(created["metadata"]["context"]["type"], "container");
    assert_eq!(created["project"], "default");
    assert_eq!(created["location"], "none");

    // The all-projects listener sees the operation's life too: Pending, Running, Success.
    let mut statuses = Vec::new();
    while statuses.last().map(String::as_str) != Some("Success") {
        let event = text(next_message(&mut everything).await);
        if event["type"] == "operation" {
            statuses.push(event["metadata"]["status"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(statuses, ["Pending", "Running", "Success"]);

    let profile = text(next_message(&mut p1).await);
    assert_eq!(profile["metadata"]["action"], "profile-created");
    assert_eq!(profile["project"], "p1");

    let bad = api
        .transport
        .websocket("/1.0/events", &[("type", "nonsense")])
        .await
        .unwrap_err();
    assert!(bad.to_string().contains("400"), "{bad}");
    // A plain GET is not a websocket handshake: gorilla's 400 in plain text.
    let plain = api.get("/1.0/events").await;
    assert_eq!(plain.status, StatusCode::BAD_REQUEST);
    assert_eq!(&plain.body[..], b"Bad Request\n");
}

#[tokio::test]
async fn operations_wait_cancel_and_expire() {
    let server = TestServer::builder()
        .operation_expiry(Duration::from_millis(300))
        .start()
        .await
        .unwrap();
    let api = Api::unix(&server);
    server.faults().add(
        FaultRule::new(Fault::StallOperation)
            .path("/1.0/instances")
            .times(1),
    );
    let reply = api
        .post(
            "/1.0/instances",
            json!({"name": "c1", "source": {"type": "none"}}),
        )
        .await;
    let url = reply.json["operation"].as_str().unwrap().to_string();
    let waited = api.get(&format!("{url}/wait?timeout=0")).await;
    assert_eq!(waited.metadata()["status"], "Running");
    assert_eq!(waited.metadata()["may_cancel"], true);
    let listed = api.get("/1.0/operations").await;
    assert_eq!(listed.metadata()["running"], json!([url]));
    let cancel = api.delete(&url).await;
    assert_eq!(cancel.status, StatusCode::OK);
    let cancelled = api.get(&format!("{url}/wait")).await;
    assert_eq!(cancelled.metadata()["status"], "Cancelled");
    assert_eq!(cancelled.metadata()["status_code"], 401);
    assert!(
        server.instance_names("default").is_empty(),
        "the action never happened"
    );
    let again = api.delete(&url).await;
    assert_eq!(
        again.json["error"],
        "Only running operations can be cancelled"
    );

    let quick = api
        .post(
            "/1.0/instances",
            json!({"name": "c2", "source": {"type": "none"}}),
        )
        .await;
    let quick_url = quick.json["operation"].as_str().unwrap().to_string();
    api.wait(&quick).await;
    let not_cancellable = api
        .post("/1.0/instances/c2/snapshots", json!({"name": "s"}))
        .await;
    api.wait(&not_cancellable).await;
    // Finished operations go away after the expiry.
    let mut gone = false;
    for _ in 0..100 {
        if api.get(&quick_url).await.status == StatusCode::NOT_FOUND {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(gone, "finished operations expire");
    assert_eq!(
        api.get(&format!("{quick_url}/wait")).await.json["error"],
        "Operation not found"
    );
}
