//! HTTPS against a real LXD: pinned server certificates, client certificates, trust by join
//! token, websockets on both transports.

use futures::StreamExt;
use lxd_client::{Client, Method};
use lxd_integration::{Env, fresh_identity, require, unique};

#[tokio::test]
async fn fresh_certificate_is_untrusted_until_a_join_token_is_used() {
    let env = require!();
    let name = unique("it-cert");
    let (cert, key) = fresh_identity(&name);
    let client = env
        .https_builder()
        .client_certificate_pem(cert.as_bytes(), key.as_bytes())
        .build()
        .unwrap();
    let server = client.server().await.unwrap();
    assert_eq!(server.auth, "untrusted");
    assert!(!client.trusted().await.unwrap());
    let err = client.instances().list_names().await.unwrap_err();
    assert!(err.is_forbidden(), "{err:?}");

    // A wrong token is LXD's refusal, and changes nothing.
    let err = client.authenticate("bm90LWEtdG9rZW4=").await.unwrap_err();
    assert!(err.is_forbidden(), "{err:?}");
    assert!(!client.refresh_server().await.unwrap().is_trusted());

    let token = env.join_token(&name).await;
    client.authenticate(&token).await.unwrap();
    assert!(client.trusted().await.unwrap());
    client.instances().list_names().await.unwrap();

    env.forget_certificate(&cert).await;
}

#[tokio::test]
async fn wrong_pinned_fingerprint_fails_with_tls_error_and_sends_nothing() {
    let env = require!();
    let project = unique("itpin");
    let wrong = "ab".repeat(32);
    let client = Client::https(env.https.clone())
        .server_fingerprint(&wrong)
        .build()
        .unwrap();
    // An effectful request: had it reached LXD, the project would exist afterwards.
    let err = client
        .raw(Method::POST, "/1.0/projects")
        .json(&serde_json::json!({"name": project}))
        .unwrap()
        .send()
        .await
        .unwrap_err();
    assert!(err.is_tls() && err.is_connect(), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(&wrong) && text.contains("does not match"),
        "{text}"
    );
    assert!(
        env.client()
            .projects()
            .get(&project)
            .await
            .unwrap_err()
            .is_not_found(),
        "the request must not have reached LXD"
    );

    // The right pin, given as the fingerprint the server reports, works even though the
    // certificate's names do not include 127.0.0.1.
    let real = env
        .client()
        .server()
        .await
        .unwrap()
        .environment
        .certificate_fingerprint
        .clone();
    let client = Client::https(env.https.clone())
        .server_fingerprint(&real)
        .build()
        .unwrap();
    assert_eq!(client.server().await.unwrap().auth, "untrusted");

    // Without any pin, the system roots do not know LXD's self-signed certificate.
    let client = Client::https(env.https.clone()).build().unwrap();
    let err = client.server().await.unwrap_err();
    assert!(err.is_tls(), "{err:?}");
}

/// Opens `/1.0/events` on `client`, makes a lifecycle event happen, and checks it arrives.
async fn events_websocket_carries_a_lifecycle_event(client: &Client, env: &Env) {
    let mut events = client
        .transport()
        // Project lifecycle events are only delivered to listeners of all projects.
        .websocket(
            "/1.0/events",
            &[("type", "lifecycle"), ("all-projects", "true")],
        )
        .await
        .expect("websocket upgrade");
    // LXD registers the listener a moment after the upgrade: an event made before that is
    // not delivered. So the event is made again (a new project each time) until one arrives;
    // each round waits for its own project only.
    let root = env.client();
    let mut made = Vec::new();
    let mut wanted = None;
    for _ in 0..6 {
        let project = unique("itev");
        root.projects()
            .create(&lxd_client::proto::ProjectsPost {
                name: project.clone(),
                ..Default::default()
            })
            .await
            .unwrap();
        made.push(project.clone());
        let wait_for_it = async {
            loop {
                let msg = events
                    .next()
                    .await
                    .expect("stream open")
                    .expect("websocket message");
                let text = match msg {
                    lxd_client::transport::tungstenite::Message::Text(t) => t.to_string(),
                    lxd_client::transport::tungstenite::Message::Binary(b) => {
                        String::from_utf8_lossy(&b).into_owned()
                    }
                    _ => continue,
                };
                let event: serde_json::Value = serde_json::from_str(&text).unwrap();
                if event["metadata"]["action"] == "project-created"
                    && made.iter().any(|p| {
                        event["metadata"]["source"]
                            .as_str()
                            .unwrap_or("")
                            .ends_with(p.as_str())
                    })
                {
                    break event;
                }
            }
        };
        // Other tests' events arrive too: the deadline is for the wanted one.
        if let Ok(event) =
            tokio::time::timeout(std::time::Duration::from_secs(5), wait_for_it).await
        {
            wanted = Some(event);
            break;
        }
    }
    for project in &made {
        root.projects().delete(project).await.unwrap();
    }
    let wanted = wanted.expect("a project-created event within 6 rounds of 5 s");
    assert_eq!(wanted["type"], "lifecycle");
}

#[tokio::test]
async fn websocket_upgrade_over_unix_socket() {
    let env = require!();
    events_websocket_carries_a_lifecycle_event(&env.client(), &env).await;
}

#[tokio::test]
async fn websocket_upgrade_over_https_with_client_certificate() {
    let env = require!();
    let name = unique("it-ws");
    let (cert, key) = fresh_identity(&name);
    let client = env
        .https_builder()
        .client_certificate_pem(cert.as_bytes(), key.as_bytes())
        .build()
        .unwrap();
    client
        .authenticate(&env.join_token(&name).await)
        .await
        .unwrap();
    events_websocket_carries_a_lifecycle_event(&client, &env).await;
    env.forget_certificate(&cert).await;
}
