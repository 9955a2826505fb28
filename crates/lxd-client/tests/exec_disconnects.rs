//! An exec whose websockets the server drops (no close frame) under the running command
//! (lxd-testkit's `CloseExecWebsocket` fault): output readers, `run()`, signals and stdin
//! writes all fail with an error for which `is_disconnected()` is true and whose message
//! says the connection was lost; none reports success, none calls it a malformed reply.

mod support;

use lxd_client::{Client, Error};
use lxd_testkit::{Fault, FaultRule, TestServer};
use support::launch;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn running_instance() -> (TestServer, Client) {
    let server = TestServer::start().await.unwrap();
    let client = Client::unix(server.socket_path()).unwrap();
    launch(&client, "c1").await;
    server.faults().add(
        FaultRule::new(Fault::CloseExecWebsocket)
            .method("POST")
            .path("/1.0/instances/c1/exec")
            .times(1),
    );
    (server, client)
}

/// The client error inside an io error from an exec pipe, if any.
fn inner(e: &std::io::Error) -> Option<&Error> {
    e.get_ref().and_then(|i| i.downcast_ref::<Error>())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_reports_a_lost_connection_not_a_malformed_reply() {
    let (_server, client) = running_instance().await;
    let err = client
        .instances()
        .exec("c1", ["cat"])
        .run()
        .await
        .unwrap_err();
    assert!(err.is_disconnected(), "{err}");
    assert!(!err.is_malformed(), "{err}");
    assert!(err.to_string().contains("connection lost"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_output_reader_sees_the_lost_connection_typed() {
    let (_server, client) = running_instance().await;
    let mut session = client
        .instances()
        .exec("c1", ["cat"])
        .spawn()
        .await
        .unwrap();
    let mut stdout = session.take_stdout().unwrap();
    let mut out = Vec::new();
    let read = stdout.read_to_end(&mut out).await.unwrap_err();
    let lost = inner(&read).unwrap_or_else(|| panic!("untyped: {read}"));
    assert!(lost.is_disconnected(), "{lost}");
    assert!(read.to_string().contains("connection lost"), "{read}");
    let _ = session.wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_and_stdin_fail_typed_after_the_connection_dropped() {
    let (_server, client) = running_instance().await;
    let mut session = client
        .instances()
        .exec("c1", ["cat"])
        .spawn()
        .await
        .unwrap();
    let mut stdout = session.take_stdout().unwrap();
    let mut stdin = session.take_stdin().unwrap();
    // The output stream failing tells the test the connections are gone.
    let mut out = Vec::new();
    assert!(stdout.read_to_end(&mut out).await.is_err());

    // A signal, and kill, cannot have been delivered: they fail, typed.
    let control = session.control();
    for attempt in 0..2 {
        let err = if attempt == 0 {
            control.signal(15).await.unwrap_err()
        } else {
            session.kill().await.unwrap_err()
        };
        assert!(err.is_disconnected(), "{err}");
        assert!(err.to_string().contains("connection lost"), "{err}");
    }

    // Stdin: what is already in the pipe's buffer cannot fail, but writing on must, and
    // well before 4 MiB (the pipe holds 64 KiB).
    let chunk = vec![b'x'; 16 * 1024];
    let mut written = 0usize;
    let err = loop {
        match stdin.write_all(&chunk).await {
            Ok(()) => written += chunk.len(),
            Err(e) => break e,
        }
        assert!(written < 4 * 1024 * 1024, "stdin writes keep succeeding");
    };
    let lost = inner(&err).unwrap_or_else(|| panic!("untyped: {err} ({:?})", err.kind()));
    assert!(lost.is_disconnected(), "{lost}");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);
    let _ = session.wait().await;
}
