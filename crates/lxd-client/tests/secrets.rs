//! Secrets never leak: a full session over HTTPS against `lxd-testkit` (authenticate with a
//! trust password and with a join token, exec with websocket secrets, events, file transfer)
//! runs under a subscriber capturing every `tracing` record at TRACE level, and none of the
//! secrets (the password, the token and its secret, the operations' websocket secrets, the
//! client's private key) may appear in what was captured, nor in the `Debug` output of any
//! public type that holds one.

mod support;

use std::fmt::Write as _;

use futures::StreamExt;
use lxd_client::proto::{
    CertificateType, CertificatesPost, EventType, InstanceSource, InstanceStatePut, InstancesPost,
};
use lxd_client::transport::ClientIdentity;
use lxd_client::{Client, ClientBuilder, PutOptions};
use lxd_testkit::{ClientCertificate, TestServer};
use serde_json::Value;

const PASSWORD: &str = "pw-4c1d5e7a9b3f";

fn https(server: &TestServer, cert: &ClientCertificate) -> Client {
    ClientBuilder::https(server.https_url().unwrap())
        .client_certificate_pem(cert.certificate_pem.as_bytes(), cert.key_pem.as_bytes())
        .server_fingerprint(server.certificate_fingerprint())
        .build()
        .unwrap()
}

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
async fn a_full_session_leaks_no_secret_to_logs_or_debug() {
    let capture = lxd_testkit::LogCapture::global();
    tracing::info!(target: "secrets_test", "capture works");
    let server = TestServer::builder()
        .https()
        .trust_password(PASSWORD)
        .start()
        .await
        .unwrap();
    let first_cert = ClientCertificate::generate("first").unwrap();
    let second_cert = ClientCertificate::generate("second").unwrap();
    let mut debug = String::new();

    // Authenticate with the password, then with a token.
    let builder = ClientBuilder::https(server.https_url().unwrap())
        .client_certificate_pem(
            first_cert.certificate_pem.as_bytes(),
            first_cert.key_pem.as_bytes(),
        )
        .server_fingerprint(server.certificate_fingerprint());
    writeln!(debug, "{builder:?}").unwrap();
    let first = builder.build().unwrap();
    let wrong = first.authenticate("pw-wrong-0000").await.unwrap_err();
    writeln!(debug, "{wrong:?} {wrong}").unwrap();
    first.authenticate(PASSWORD).await.unwrap();
    let token = first.certificates().create_token("second").await.unwrap();
    writeln!(debug, "{token:?} {:?}", token.token).unwrap();
    let tokens = first.certificates().list_tokens().await.unwrap();
    writeln!(debug, "{tokens:?}").unwrap();
    let second = https(&server, &second_cert);
    second.authenticate(&token.encoded()).await.unwrap();
    writeln!(debug, "{first:?} {second:?}").unwrap();
    let identity = ClientIdentity::from_pem(
        first_cert.certificate_pem.as_bytes(),
        first_cert.key_pem.as_bytes(),
    )
    .unwrap();
    writeln!(debug, "{identity:?}").unwrap();
    let request = CertificatesPost {
        name: "x".into(),
        certificate_type: CertificateType::Client,
        password: Some(PASSWORD.into()),
        trust_token: Some(token.encoded()),
        ..Default::default()
    };
    writeln!(debug, "{request:?}").unwrap();

    // Events, an instance, exec (buffered, spawned and raw), files.
    let events = first
        .events()
        .types([EventType::Operation, EventType::Lifecycle])
        .connect()
        .await
        .unwrap();
    writeln!(debug, "{events:?}").unwrap();
    let instances = first.instances();
    let create = instances
        .create(&InstancesPost {
            name: "c1".into(),
            source: InstanceSource::image_alias("busybox"),
            ..Default::default()
        })
        .await
        .unwrap();
    writeln!(debug, "{create:?}").unwrap();
    create.wait_with_events(&events).await.unwrap();
    instances
        .set_state("c1", &InstanceStatePut::start())
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    let out = instances
        .exec("c1", ["sh", "-c", "echo out; echo err >&2"])
        .run()
        .await
        .unwrap();
    assert_eq!(out.stdout_text(), "out\n");
    writeln!(debug, "{out:?}").unwrap();
    let session = instances
        .exec("c1", ["cat"])
        .stdin_bytes("typed\n")
        .spawn()
        .await
        .unwrap();
    writeln!(debug, "{session:?}").unwrap();
    let status = session.wait().await.unwrap();
    assert!(status.success());
    let raw = instances.exec("c1", ["true"]).start_raw().await.unwrap();
    writeln!(debug, "{raw:?} {:?}", raw.operation()).unwrap();
    let mut secrets: Vec<String> = raw
        .channels()
        .filter_map(|c| raw.secret(c).map(str::to_string))
        .collect();
    assert!(!secrets.is_empty(), "a raw exec has websocket secrets");
    // Connecting is the one use of a secret: the connections must not log it either.
    for channel in raw.channels().map(str::to_string).collect::<Vec<_>>() {
        let _ = raw.connect(&channel).await;
    }
    drop(raw);
    let files = instances.files("c1");
    files
        .put_bytes("/root/f", "content", &PutOptions::new())
        .await
        .unwrap();
    assert_eq!(files.get_bytes("/root/f").await.unwrap(), b"content");
    // The second client (trusted by token) works too, with the same stream of events.
    assert_eq!(second.instances().list_names().await.unwrap(), ["c1"]);
    let mut seen = 0;
    let mut stream = events.subscribe();
    drop(events);
    while let Ok(Some(item)) =
        tokio::time::timeout(std::time::Duration::from_millis(200), stream.next()).await
    {
        writeln!(debug, "{item:?}").unwrap();
        seen += 1;
    }
    let _ = seen;

    // Every secret of the session: the password, the token (encoded and its secret), the
    // private keys, every websocket secret the server handed out (from its event history:
    // exec operations carry their fds there).
    secrets.push(PASSWORD.into());
    secrets.push(token.encoded());
    secrets.push(token.token.secret.clone());
    secrets.extend(pem_pieces(&first_cert.key_pem));
    secrets.extend(pem_pieces(&second_cert.key_pem));
    let history = serde_json::to_value(server.events()).unwrap();
    let before = secrets.len();
    fds_secrets(&history, &mut secrets);
    assert!(
        secrets.len() >= before + 6,
        "the exec operations' websocket secrets were found ({} new)",
        secrets.len() - before
    );
    secrets.retain(|s| !s.is_empty());
    secrets.sort();
    secrets.dedup();

    let logs = capture.text();
    assert!(logs.contains("capture works"), "the capture is installed");
    // The library's own records (and its dependencies'), not the in-process test server's.
    let client_logs: String = logs
        .lines()
        .filter(|l| !l.starts_with("lxd_testkit"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(
        client_logs.lines().count() > 1,
        "the session logged something: {client_logs}"
    );
    println!(
        "captured {} lines ({} from the client side); {} secrets checked",
        logs.lines().count(),
        client_logs.lines().count(),
        secrets.len()
    );
    if std::env::var_os("LXD_SECRETS_DUMP").is_some() {
        println!("{client_logs}");
    }
    assert_clean("the client's tracing output", &client_logs, &secrets);
    assert_clean("Debug output", &debug, &secrets);
}

#[test]
fn debug_of_secret_holding_types_hides_them() {
    let cert = ClientCertificate::generate("debug").unwrap();
    let mut secrets = pem_pieces(&cert.key_pem);
    secrets.push(PASSWORD.into());
    let token = lxd_client::proto::CertificateAddToken {
        client_name: "n".into(),
        fingerprint: "ab".repeat(32),
        addresses: vec!["127.0.0.1:8443".into()],
        secret: "tok-5e6f7a8b9c0d".into(),
        ..Default::default()
    };
    secrets.push(token.secret.clone());
    secrets.push(token.encode());
    let operation: lxd_client::proto::Operation = serde_json::from_value(serde_json::json!({
        "id": "0b1c",
        "class": "websocket",
        "status": "Running",
        "status_code": 103,
        "metadata": {"fds": {"0": "fd-aaaaaaaaaaaa", "control": "fd-bbbbbbbbbbbb"}},
    }))
    .unwrap();
    secrets.push("fd-aaaaaaaaaaaa".into());
    secrets.push("fd-bbbbbbbbbbbb".into());
    let metadata: lxd_client::proto::ExecOperationMetadata =
        serde_json::from_value(operation.metadata.clone().unwrap()).unwrap();
    let builder = ClientBuilder::https("127.0.0.1:8443")
        .client_certificate_pem(cert.certificate_pem.as_bytes(), cert.key_pem.as_bytes())
        .server_fingerprint("ab".repeat(32));
    let identity =
        ClientIdentity::from_pem(cert.certificate_pem.as_bytes(), cert.key_pem.as_bytes()).unwrap();
    let post = CertificatesPost {
        password: Some(PASSWORD.into()),
        trust_token: Some(token.encode()),
        ..Default::default()
    };
    let text = format!(
        "{builder:?}\n{identity:?}\n{post:?}\n{token:?}\n{operation:?}\n{metadata:?}\n{cert:?}"
    );
    assert_clean("Debug output", &text, &secrets);
    let client = builder.build().unwrap();
    assert_clean("Debug output", &format!("{client:?}"), &secrets);
}

/// Serves each connection `reply(request head)`, then closes it; `None` hangs up at once
/// after reading the head (a server that resets the connection).
fn serve(
    tag: &str,
    reply: impl Fn(&str) -> Option<Vec<u8>> + Send + Sync + 'static,
) -> (support::SocketDir, std::path::PathBuf) {
    use tokio::io::AsyncWriteExt;
    let reply = std::sync::Arc::new(reply);
    support::serve_heads(tag, move |mut conn, head| {
        let answer = reply(&head);
        async move {
            if let Some(bytes) = answer {
                let _ = conn.write_all(&bytes).await;
                let _ = conn.shutdown().await;
            }
        }
    })
}

/// Asserts that no secret is in an error's text, its `Debug`, or the captured logs
/// written since `mark` bytes of them.
fn assert_error_clean(
    what: &str,
    err: &lxd_client::Error,
    capture: &lxd_testkit::LogCapture,
    mark: usize,
    secrets: &[String],
) {
    assert_clean(&format!("{what}: Display"), &err.to_string(), secrets);
    assert_clean(&format!("{what}: Debug"), &format!("{err:?}"), secrets);
    let logs = capture.text();
    assert_clean(
        &format!("{what}: logs"),
        &logs[mark.min(logs.len())..],
        secrets,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_that_fails_on_the_network_leaks_no_secret() {
    let capture = lxd_testkit::LogCapture::global();
    let secret = "ws-secret-7f3a9c1e5b2d".to_string();
    let secrets = [secret.clone()];
    let path = "/1.0/operations/0b1c/websocket";

    // Refused: a socket nobody listens on any more.
    let refused = support::SocketDir::new("refused");
    drop(std::os::unix::net::UnixListener::bind(refused.socket()).unwrap());
    let client = Client::unix(refused.socket()).unwrap();
    let mark = capture.text().len();
    let err = client
        .websocket(path, &[("secret", &secret)])
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{err}");
    assert_error_clean("refused", &err, capture, mark, &secrets);

    // Reset: the server hangs up on the upgrade request.
    let (_resetting, socket) = serve("reset", |_| None);
    let client = Client::unix(socket).unwrap();
    let mark = capture.text().len();
    let err = client
        .websocket(path, &[("secret", &secret)])
        .await
        .unwrap_err();
    assert!(err.is_disconnected(), "{err}");
    assert_error_clean("reset", &err, capture, mark, &secrets);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_exec_connect_to_a_gone_server_leaks_no_secret() {
    let capture = lxd_testkit::LogCapture::global();
    let server = TestServer::start().await.unwrap();
    let client = Client::unix(server.socket_path()).unwrap();
    support::launch(&client, "c1").await;
    let instances = client.instances();
    let raw = instances.exec("c1", ["cat"]).start_raw().await.unwrap();
    let secrets: Vec<String> = raw
        .channels()
        .filter_map(|c| raw.secret(c).map(str::to_string))
        .collect();
    assert_eq!(secrets.len(), 4);
    // The daemon goes away between the exec request and the websocket connections.
    drop(server);
    let mark = capture.text().len();
    let err = raw.connect("0").await.unwrap_err();
    assert!(err.is_connect() || err.is_disconnected(), "{err}");
    assert_error_clean("RawExec::connect", &err, capture, mark, &secrets);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undecodable_exec_reply_leaks_no_secret() {
    let capture = lxd_testkit::LogCapture::global();
    let secrets: Vec<String> = [
        "fd-secret-stdin-1a2b",
        "fd-secret-stdout-3c4d",
        "fd-secret-ctl-5e6f",
    ]
    .map(str::to_string)
    .to_vec();
    let envelope = |metadata: &str| {
        format!(
            r#"{{"type":"async","status":"Operation created","status_code":100,"operation":"/1.0/operations/0b1c","metadata":{{"id":"0b1c","class":"websocket","status":"Running","status_code":103,"metadata":{metadata}}}}}"#
        )
    };
    // 1. An envelope that decodes, with fds that do not (a number among the secrets).
    let bad_fds = envelope(
        r#"{"fds":{"0":"fd-secret-stdin-1a2b","1":"fd-secret-stdout-3c4d","2":7,"control":"fd-secret-ctl-5e6f"}}"#,
    );
    // 2. A reply cut in the middle of a secret (not JSON at all), short enough for the
    //    secrets to fall inside the error's snippet.
    let cut = r#"{"type":"async","metadata":{"metadata":{"fds":{"0":"fd-secret-stdin-1a2b","1":"fd-secret-stdout-3c4d","control":"fd-secret-ctl-5e"#.to_string();
    for (what, body) in [("undecodable fds", bad_fds), ("cut reply", cut)] {
        let (_dir, socket) = serve("exec-reply", move |head| {
            let body = if head.starts_with("POST ") {
                body.clone()
            } else {
                // GET /1.0 and anything else: a trusted LXD with no extension.
                r#"{"type":"sync","status":"Success","status_code":200,"metadata":{"api_extensions":[],"auth":"trusted","environment":{"server":"lxd","server_version":"5.0.2"}}}"#.to_string()
            };
            Some(
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                )
                .into_bytes(),
            )
        });
        let client = Client::unix(socket).unwrap();
        let mark = capture.text().len();
        let err = client
            .instances()
            .exec("c1", ["true"])
            .start_raw()
            .await
            .unwrap_err();
        assert!(err.is_malformed(), "{what}: {err}");
        assert!(
            err.to_string().contains("redacted"),
            "{what}: the snippet is still shown, without the secrets: {err}"
        );
        assert_error_clean(what, &err, capture, mark, &secrets);
        let session = client.instances().exec("c1", ["true"]).run().await;
        let err = session.unwrap_err();
        assert_error_clean(what, &err, capture, mark, &secrets);
    }
}
