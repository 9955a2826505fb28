//! Secrets never leak, against a REAL LXD: a session over HTTPS with a fresh client
//! certificate (authenticate with a real join token, create and start a container, exec
//! buffered and raw, events, files) runs under a subscriber capturing every `tracing` record
//! at TRACE level; the join token, its secret, the exec websocket secrets and the private key
//! must not appear in the captured output nor in the `Debug` of the values involved.

use std::fmt::Write as _;
use std::time::Duration;

use futures::StreamExt;
use lxd_client::proto::{EventType, InstanceStatePut};
use lxd_client::{Client, PutOptions};
use lxd_integration::{fresh_identity, kill_and_delete, require, unique};
use serde_json::Value;

/// The lines of a PEM body long enough to be recognisable.
fn pem_pieces(pem: &str) -> Vec<String> {
    pem.lines()
        .filter(|l| !l.starts_with("-----") && l.len() >= 16)
        .map(str::to_string)
        .collect()
}

/// Every string under an `fds` key anywhere in `value` (exec and console websocket secrets).
fn fds_secrets(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "fds"
                    && let Value::Object(fds) = v
                {
                    out.extend(fds.values().filter_map(|s| s.as_str().map(str::to_string)));
                }
                fds_secrets(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| fds_secrets(v, out)),
        _ => {}
    }
}

/// Asserts that no secret occurs in `text` (which is named `what`).
fn assert_clean(what: &str, text: &str, secrets: &[String]) {
    for secret in secrets {
        assert!(
            !text.contains(secret.as_str()),
            "{what} contains the secret {secret:?}:\n{}",
            text.lines()
                .filter(|l| l.contains(secret.as_str()))
                .take(5)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_session_leaks_no_secret_to_logs_or_debug() {
    let env = require!();
    let capture = lxd_testkit::LogCapture::global();
    tracing::info!(target: "secrets_test", "capture works");
    let cert_name = unique("it-secrets");
    let (cert, key) = fresh_identity(&cert_name);
    let mut debug = String::new();

    // A real join token, redeemed over HTTPS by a fresh identity.
    let token = env
        .client()
        .certificates()
        .create_token(&cert_name)
        .await
        .unwrap();
    writeln!(debug, "{token:?}").unwrap();
    let builder = env
        .https_builder()
        .client_certificate_pem(cert.as_bytes(), key.as_bytes());
    writeln!(debug, "{builder:?}").unwrap();
    let client = builder.build().unwrap();
    let client = if env.project == "default" {
        client
    } else {
        client.with_project(&env.project).unwrap()
    };
    client.authenticate(&token.encoded()).await.unwrap();
    writeln!(debug, "{client:?}").unwrap();

    let events = client
        .events()
        .types([EventType::Operation, EventType::Lifecycle])
        .connect()
        .await
        .unwrap();
    let mut stream = events.subscribe();
    let name = unique("it-secrets");
    let instances = client.instances();
    instances
        .create(&env.from_image(&name))
        .await
        .unwrap()
        .wait_with_events(&events)
        .await
        .unwrap();
    let result = session(&client, &name, &mut debug).await;
    let _ = kill_and_delete(&env.client(), &name).await;
    env.forget_certificate(&cert).await;
    let mut secrets = result.unwrap();

    // Websocket secrets of every exec, from the operation events the server sent.
    while let Ok(Some(item)) = tokio::time::timeout(Duration::from_millis(500), stream.next()).await
    {
        if let Ok(item) = item {
            writeln!(debug, "{item:?}").unwrap();
            if let Some(event) = item.event() {
                fds_secrets(&serde_json::to_value(event).unwrap(), &mut secrets);
            }
        }
    }
    secrets.push(token.encoded());
    secrets.push(token.token.secret.clone());
    secrets.extend(pem_pieces(&key));
    secrets.retain(|s| !s.is_empty());
    secrets.sort();
    secrets.dedup();
    assert!(
        secrets.len() >= 8,
        "secrets were collected: {}",
        secrets.len()
    );

    let logs = capture.text();
    assert!(logs.contains("capture works"), "the capture is installed");
    println!(
        "captured {} lines; {} secrets checked",
        logs.lines().count(),
        secrets.len()
    );
    assert_clean("the tracing output", &logs, &secrets);
    assert_clean("Debug output", &debug, &secrets);
}

/// Starts the container, runs exec (buffered and raw) and file transfers; returns the raw
/// exec's websocket secrets.
async fn session(
    client: &Client,
    name: &str,
    debug: &mut String,
) -> lxd_client::Result<Vec<String>> {
    let instances = client.instances();
    instances
        .set_state(name, &InstanceStatePut::start())
        .await?
        .wait()
        .await?;
    let out = instances
        .exec(name, ["sh", "-c", "echo out; echo err >&2"])
        .run()
        .await?;
    assert_eq!(out.stdout_text(), "out\n");
    writeln!(debug, "{out:?}").unwrap();
    let raw = instances.exec(name, ["true"]).start_raw().await?;
    writeln!(debug, "{raw:?}").unwrap();
    let secrets: Vec<String> = raw
        .channels()
        .filter_map(|c| raw.secret(c).map(str::to_string))
        .collect();
    assert!(secrets.len() >= 4, "0, 1, 2 and control: {secrets:?}");
    // LXD runs the command once every channel is connected.
    let mut sockets = Vec::new();
    for channel in raw.channels().map(str::to_string).collect::<Vec<_>>() {
        sockets.push(raw.connect(&channel).await?);
    }
    let op = raw.into_operation();
    drop(sockets);
    let _ = op.wait_timeout(Duration::from_secs(30)).await;
    let files = instances.files(name);
    files
        .put_bytes("/root/f", "content", &PutOptions::new())
        .await?;
    assert_eq!(files.get_bytes("/root/f").await?, b"content");
    Ok(secrets)
}
