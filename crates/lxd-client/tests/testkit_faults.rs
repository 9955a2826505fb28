//! The client under faults injected by `lxd-testkit`: slow replies against the client's
//! timeout, LXD error envelopes, cut and broken bodies, connections reset mid-response.
//! Every case must end in a typed error, never a panic or a hang.

use std::time::Duration;

use lxd_client::{Client, ClientBuilder};
use lxd_testkit::{Fault, FaultRule, ServerFlavor};

#[macro_use]
mod support;

/// Every call here must finish well within this.
async fn bounded<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), future)
        .await
        .expect("the client hung")
}

async fn a_slow_server_hits_the_client_timeout(flavor: ServerFlavor) {
    let server = support::start(flavor).await;
    server
        .faults()
        .add(FaultRule::new(Fault::Latency(Duration::from_secs(3))).path("/1.0/instances"));
    let client = ClientBuilder::unix(server.socket_path())
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let error = bounded(client.instances().list_names()).await.unwrap_err();
    assert!(error.is_timeout(), "{error}");
    // Other paths are not slowed.
    assert!(bounded(client.server()).await.is_ok());
}

async fn error_envelopes_keep_their_status_and_message(flavor: ServerFlavor) {
    let server = support::start(flavor).await;
    server.faults().add(
        FaultRule::new(Fault::Error {
            status: 503,
            message: "daemon is shutting down".into(),
        })
        .path("/1.0/profiles")
        .times(1),
    );
    let client = Client::unix(server.socket_path()).unwrap();
    let error = bounded(client.profiles().list_names()).await.unwrap_err();
    match &error {
        lxd_client::Error::Api {
            status, message, ..
        } => {
            assert_eq!(*status, 503);
            assert_eq!(message, "daemon is shutting down");
        }
        other => panic!("expected an API error, got {other:?}"),
    }
    assert_eq!(
        bounded(client.profiles().list_names()).await.unwrap(),
        ["default"]
    );
}

async fn broken_bodies_are_malformed_replies(flavor: ServerFlavor) {
    let server = support::start(flavor).await;
    let client = Client::unix(server.socket_path()).unwrap();
    for fault in [Fault::TruncatedJson, Fault::MalformedJson] {
        server.faults().add(
            FaultRule::new(fault.clone())
                .path("/1.0/instances")
                .times(1),
        );
        let error = bounded(client.instances().list_names()).await.unwrap_err();
        assert!(error.is_malformed(), "{fault:?}: {error}");
    }
}

async fn a_reset_mid_response_is_an_error_and_the_client_recovers(flavor: ServerFlavor) {
    let server = support::start(flavor).await;
    let client = Client::unix(server.socket_path()).unwrap();
    server.faults().add(
        FaultRule::new(Fault::ResetMidResponse)
            .path("/1.0/instances")
            .times(1),
    );
    let error = bounded(client.instances().list_names()).await.unwrap_err();
    // The body ends early: the server went away (an incomplete body), not a decoding of
    // half a document.
    assert!(error.is_disconnected(), "{error:?}");
    assert!(!error.is_timeout() && !error.is_connect(), "{error:?}");
    assert!(!error.is_malformed(), "{error:?}");
    // The next request works on a fresh connection.
    assert!(
        bounded(client.instances().list_names())
            .await
            .unwrap()
            .is_empty()
    );
}

each_flavor!(
    a_slow_server_hits_the_client_timeout,
    error_envelopes_keep_their_status_and_message,
    broken_bodies_are_malformed_replies,
    a_reset_mid_response_is_an_error_and_the_client_recovers,
);
