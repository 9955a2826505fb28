//! The testkit in Incus mode against what a real Incus 6.0.4 answered (fixtures captured
//! over its unix socket, trusted): `GET /1.0`, the files API's headers and the image
//! export's, and the legacy `X-LXD-*` headers (honoured by the files API, ignored by the
//! images API).

mod support;

use std::collections::BTreeMap;

use lxd_testkit::{ServerFlavor, TestServer};
use lxd_transport::Request;
use lxd_transport::http::{Method, StatusCode};
use serde_json::{Value, json};
use support::{Api, Reply, header};

const REAL_SERVER: &str = include_str!("fixtures/incus-6.0.4-server.json");
const REAL_HEADERS: &str = include_str!("fixtures/incus-6.0.4-file-headers.txt");

fn real_server() -> Value {
    let envelope: Value = serde_json::from_str(REAL_SERVER).unwrap();
    envelope["metadata"].clone()
}

fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

async fn incus() -> (TestServer, Api) {
    let server = TestServer::builder().incus().start().await.unwrap();
    assert_eq!(server.flavor(), ServerFlavor::Incus);
    let api = Api::unix(&server);
    (server, api)
}

#[tokio::test]
async fn server_description_is_incus() {
    let (_server, api) = incus().await;
    let real = real_server();
    let ours = api.get("/1.0").await;
    assert_eq!(ours.status, StatusCode::OK);
    let ours = ours.metadata();

    assert_eq!(keys(ours), keys(&real), "top-level fields");
    assert_eq!(
        keys(&ours["environment"]),
        keys(&real["environment"]),
        "environment fields"
    );
    for field in ["server", "server_version"] {
        assert_eq!(
            ours["environment"][field], real["environment"][field],
            "{field}"
        );
    }
    assert_eq!(ours["environment"]["server"], "incus");
    for field in ["auth", "auth_user_name", "auth_user_method", "api_version"] {
        assert_eq!(ours[field], real[field], "{field}");
    }

    // Every extension listed is one the real Incus lists, in its order.
    let real_extensions: Vec<&str> = real["api_extensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    let positions: Vec<usize> = ours["api_extensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let name = e.as_str().unwrap();
            real_extensions
                .iter()
                .position(|r| *r == name)
                .unwrap_or_else(|| panic!("{name} is not an Incus 6.0.4 extension"))
        })
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "Incus's order");
    assert!(
        ours["api_extensions"]
            .as_array()
            .unwrap()
            .contains(&json!("auth_user"))
    );
}

#[tokio::test]
async fn lxd_stays_the_default() {
    let server = TestServer::start().await.unwrap();
    assert_eq!(server.flavor(), ServerFlavor::Lxd);
    let api = Api::unix(&server);
    let ours = api.get("/1.0").await;
    let ours = ours.metadata();
    assert_eq!(ours["environment"]["server"], "lxd");
    assert_eq!(ours["environment"]["server_version"], "5.0.2");
    assert!(ours.get("auth_user_name").is_none());
    assert!(
        !ours["api_extensions"]
            .as_array()
            .unwrap()
            .contains(&json!("auth_user"))
    );
}

/// One captured reply: its request line and headers (names lower case).
struct Captured {
    status: u16,
    headers: BTreeMap<String, String>,
}

/// Parses the capture: `# METHOD what` lines, then the status line and headers.
fn captured() -> BTreeMap<String, Captured> {
    let mut out = BTreeMap::new();
    let mut current: Option<(String, Captured)> = None;
    for line in REAL_HEADERS.lines() {
        if let Some(title) = line.strip_prefix("# ") {
            if let Some((key, value)) = current.take() {
                out.insert(key, value);
            }
            if title.starts_with("GET ") || title.starts_with("HEAD ") {
                current = Some((
                    title.to_string(),
                    Captured {
                        status: 0,
                        headers: BTreeMap::new(),
                    },
                ));
            }
        } else if let Some((_, capture)) = current.as_mut() {
            if let Some(status) = line.strip_prefix("HTTP/1.1 ") {
                capture.status = status[..3].parse().unwrap();
            } else if let Some((name, value)) = line.split_once(": ") {
                capture
                    .headers
                    .insert(name.to_ascii_lowercase(), value.to_string());
            }
        }
    }
    if let Some((key, value)) = current {
        out.insert(key, value);
    }
    out
}

/// The headers a client reads, compared with the capture: the same `X-Incus-*` names, the
/// same type, owner and mode, the same content type and whether a length is given.
fn assert_like(what: &str, ours: &Reply, real: &Captured, with_length: bool) {
    assert_eq!(ours.status.as_u16(), real.status, "{what}: status");
    let names = |headers: Vec<&str>| -> Vec<String> {
        let mut names: Vec<String> = headers
            .into_iter()
            .filter(|n| n.starts_with("x-incus-") || n.starts_with("x-lxd-"))
            .map(str::to_string)
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        names(ours.headers.keys().map(|n| n.as_str()).collect()),
        names(real.headers.keys().map(String::as_str).collect()),
        "{what}: flavor headers"
    );
    for name in [
        "x-incus-type",
        "x-incus-uid",
        "x-incus-gid",
        "x-incus-mode",
        "content-type",
    ] {
        assert_eq!(
            ours.header(name),
            real.headers.get(name).map(String::as_str),
            "{what}: {name}"
        );
    }
    if with_length {
        assert_eq!(
            ours.header("content-length"),
            real.headers.get("content-length").map(String::as_str),
            "{what}: content-length"
        );
    }
    if let Some(modified) = ours.header("x-incus-modified") {
        assert!(modified.ends_with(" +0000 UTC"), "{what}: {modified}");
    }
}

#[tokio::test]
async fn files_api_headers_match_real_incus() {
    let (_server, api) = incus().await;
    api.launch("c1").await;
    let push = |path: &str, body: &'static [u8], headers: &[(&'static str, &str)]| {
        let mut request = Request::new(Method::POST, "/1.0/instances/c1/files")
            .query("path", path)
            .body(lxd_transport::Body::Bytes(body.into()));
        for (name, value) in headers {
            let (name, value) = header(name, value);
            request = request.header(name, value);
        }
        request
    };
    // As captured: /tmp/b pushed (empty) with the LEGACY X-LXD-* headers, which Incus
    // still honours in the files API; /tmp/d1 a directory with no mode; /tmp/l2 a symlink.
    let pushed = api
        .send(push(
            "/tmp/b",
            b"",
            &[
                ("x-lxd-uid", "1000"),
                ("x-lxd-gid", "1001"),
                ("x-lxd-mode", "0600"),
            ],
        ))
        .await;
    assert_eq!(pushed.status, StatusCode::OK);
    api.send(push("/tmp/d1", b"", &[("x-incus-type", "directory")]))
        .await;
    api.send(push("/tmp/l2", b"/tmp/b", &[("x-incus-type", "symlink")]))
        .await;

    let real = captured();
    for path in ["/tmp/b", "/tmp/d1", "/tmp/l2"] {
        let get = api
            .send(Request::new(Method::GET, "/1.0/instances/c1/files").query("path", path))
            .await;
        let what = format!("GET files?path={path}");
        assert_like(&what, &get, &real[&what], path != "/tmp/d1");
        let head = api
            .send(Request::new(Method::HEAD, "/1.0/instances/c1/files").query("path", path))
            .await;
        let what = format!("HEAD files?path={path}");
        assert_like(&what, &head, &real[&what], path == "/tmp/b");
    }

    // X-Incus-* wins over the legacy header when both are sent.
    api.send(push(
        "/tmp/both",
        b"x",
        &[("x-incus-uid", "7"), ("x-lxd-uid", "9")],
    ))
    .await;
    let both = api.get("/1.0/instances/c1/files?path=/tmp/both").await;
    assert_eq!(both.header("x-incus-uid"), Some("7"));
    // A bad X-Incus-write is refused like Incus refuses it.
    let bad = api
        .send(push("/tmp/b", b"x", &[("x-incus-write", "bogus")]))
        .await;
    assert_eq!(
        (bad.status, bad.json["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("Bad file write mode: bogus"))
    );
}

#[tokio::test]
async fn images_api_reads_only_incus_headers() {
    let (_server, api) = incus().await;
    let upload = |data: &'static [u8], headers: &[(&'static str, &str)]| {
        let mut request =
            Request::new(Method::POST, "/1.0/images").body(lxd_transport::Body::Bytes(data.into()));
        for (name, value) in headers {
            let (name, value) = header(name, value);
            request = request.header(name, value);
        }
        request
    };
    let image = |fingerprint: Value| {
        let api = api.clone();
        async move {
            api.get(&format!("/1.0/images/{}", fingerprint.as_str().unwrap()))
                .await
                .metadata()
                .clone()
        }
    };

    // As on the real Incus: X-LXD-* on an upload are ignored.
    let legacy = api
        .send(upload(
            b"legacy image bytes",
            &[
                ("content-type", "application/octet-stream"),
                ("x-lxd-public", "true"),
                ("x-lxd-filename", "lxd.tar.gz"),
                ("x-lxd-properties", "os=lxdhdr&release=x"),
            ],
        ))
        .await;
    let op = api.wait(&legacy).await;
    let legacy = image(op["metadata"]["fingerprint"].clone()).await;
    assert_eq!(legacy["public"], false);
    assert_eq!(legacy["filename"], "");
    assert!(
        legacy["properties"]
            .get("os")
            .is_none_or(|os| os != "lxdhdr")
    );

    let data = b"incus image bytes";
    let fingerprint = lxd_transport::Fingerprint::of_der(data).to_string();
    let reply = api
        .send(upload(
            data,
            &[
                ("content-type", "application/octet-stream"),
                ("x-incus-public", "true"),
                ("x-incus-filename", "incus.tar.gz"),
                ("x-incus-properties", "os=incushdr&release=y"),
                ("x-incus-fingerprint", &fingerprint),
            ],
        ))
        .await;
    let op = api.wait(&reply).await;
    assert_eq!(op["status"], "Success");
    let ours = image(json!(fingerprint)).await;
    assert_eq!(ours["public"], true);
    assert_eq!(ours["filename"], "incus.tar.gz");
    assert_eq!(ours["properties"]["os"], "incushdr");
    assert_eq!(ours["properties"]["release"], "y");

    // A wrong X-Incus-fingerprint fails the upload.
    let wrong = api
        .send(upload(
            b"other bytes",
            &[
                ("content-type", "application/octet-stream"),
                ("x-incus-fingerprint", &fingerprint),
            ],
        ))
        .await;
    assert_eq!(api.wait(&wrong).await["status"], "Failure");

    // The export carries X-Incus-Type like the real one.
    let export = api.get(&format!("/1.0/images/{fingerprint}/export")).await;
    assert_eq!(&export.body[..], data);
    let real = &captured()["GET images/<fp>/export"];
    assert_eq!(
        export.header("x-incus-type"),
        real.headers.get("x-incus-type").map(String::as_str)
    );
    assert_eq!(export.header("x-incus-type"), Some("incus"));
    assert!(
        export
            .headers
            .keys()
            .all(|n| !n.as_str().starts_with("x-lxd-"))
    );
}

#[tokio::test]
async fn recorded_exec_output_lives_under_exec_output() {
    // Incus 6.0.4's instance_logs.go: exec output has its own directory, and `logs/`
    // takes only the server's own log names (a 400 for an exec output's, GET or DELETE).
    let (_server, api) = incus().await;
    api.launch("c1").await;
    let op = api
        .run(
            Method::POST,
            "/1.0/instances/c1/exec",
            Some(json!({"command": ["echo", "out"], "record-output": true})),
        )
        .await;
    let stdout = op["metadata"]["output"]["1"].as_str().unwrap().to_string();
    assert!(
        stdout.starts_with("/1.0/instances/c1/logs/exec-output/exec_"),
        "{stdout}"
    );
    assert_eq!(&api.get(&stdout).await.body[..], b"out\n");
    let listed = api.get("/1.0/instances/c1/logs/exec-output").await;
    assert_eq!(listed.metadata().as_array().unwrap().len(), 2);
    assert_eq!(
        api.get("/1.0/instances/c1/logs").await.metadata(),
        &json!([])
    );
    let file = stdout.rsplit('/').next().unwrap();
    let old_path = format!("/1.0/instances/c1/logs/{file}");
    assert_eq!(api.get(&old_path).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(api.delete(&old_path).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(api.delete(&stdout).await.status, StatusCode::OK);
    assert_eq!(api.get(&stdout).await.status, StatusCode::NOT_FOUND);
}
