//! Fault injection (latency, errors, cut and broken replies, dead exec websockets, failing
//! and stalled operations), images (upload unified and split, export, aliases, publish) and
//! the files API (headers, directories, symlinks, append, delete), plus the unix socket
//! serving connections concurrently.

mod support;

use std::time::{Duration, Instant};

use lxd_testkit::{Fault, FaultRule, TestServer};
use lxd_transport::Request;
use lxd_transport::http::{HeaderName, HeaderValue, Method, StatusCode};
use serde_json::json;
use support::{Api, read_stream};

fn with_headers(mut request: Request, headers: &[(&'static str, &str)]) -> Request {
    for (name, value) in headers {
        request = request.header(
            HeaderName::from_static(name),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    request
}

#[tokio::test]
async fn latency_and_error_faults_by_method_and_path() {
    let server = TestServer::start().await.unwrap();
    let api = Api::unix(&server);
    server
        .faults()
        .add(FaultRule::new(Fault::Latency(Duration::from_millis(300))).path("/1.0/instances"));
    let started = Instant::now();
    assert_eq!(api.get("/1.0/instances").await.status, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(300));
    let started = Instant::now();
    api.get("/1.0").await;
    assert!(
        started.elapsed() < Duration::from_millis(300),
        "other paths are not slowed"
    );
    server.faults().clear();

    server.faults().add(
        FaultRule::new(Fault::Error {
            status: 503,
            message: "maintenance".into(),
        })
        .method("GET")
        .path("/1.0/profiles")
        .times(1),
    );
    let failed = api.get("/1.0/profiles").await;
    assert_eq!(failed.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(failed.json["error_code"], 503);
    assert_eq!(failed.json["error"], "maintenance");
    assert_eq!(
        api.get("/1.0/profiles").await.status,
        StatusCode::OK,
        "used up"
    );
    assert!(server.faults().is_empty());
}

#[tokio::test]
async fn broken_replies() {
    let server = TestServer::start().await.unwrap();
    let api = Api::unix(&server);

    server
        .faults()
        .add(FaultRule::new(Fault::TruncatedJson).path("/1.0").times(1));
    let truncated = api.get("/1.0").await;
    assert_eq!(truncated.status, StatusCode::OK);
    assert!(serde_json::from_slice::<serde_json::Value>(&truncated.body).is_err());
    assert!(!truncated.body.is_empty());

    server
        .faults()
        .add(FaultRule::new(Fault::MalformedJson).path("/1.0").times(1));
    let malformed = api.get("/1.0").await;
    assert!(serde_json::from_slice::<serde_json::Value>(&malformed.body).is_err());

    server.faults().add(
        FaultRule::new(Fault::ResetMidResponse)
            .path("/1.0")
            .times(1),
    );
    let response = api
        .transport
        .send(Request::new(Method::GET, "/1.0"))
        .await
        .expect("headers arrive");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.bytes().await.is_err(),
        "the body is cut by a reset"
    );
    // The server is fine afterwards.
    assert_eq!(api.get("/1.0").await.metadata()["auth"], "trusted");
}

#[tokio::test]
async fn operation_and_exec_faults() {
    let server = TestServer::start().await.unwrap();
    let api = Api::unix(&server);
    api.launch("c1").await;

    server.faults().add(
        FaultRule::new(Fault::FailOperation("disk on fire".into()))
            .path("/1.0/instances/c1/state")
            .times(1),
    );
    let stop = api
        .put("/1.0/instances/c1/state", json!({"action": "stop"}))
        .await;
    let failed = api.wait(&stop).await;
    assert_eq!(
        (failed["status"].as_str(), failed["err"].as_str()),
        (Some("Failure"), Some("disk on fire"))
    );
    assert_eq!(
        api.get("/1.0/instances/c1").await.metadata()["status"],
        "Running"
    );

    server.faults().add(
        FaultRule::new(Fault::CloseExecWebsocket)
            .path("/1.0/instances/c1/exec")
            .times(1),
    );
    let reply = api
        .post(
            "/1.0/instances/c1/exec",
            json!({"command": ["sh", "-c", "echo never"], "wait-for-websocket": true}),
        )
        .await;
    let op = reply.json["operation"].as_str().unwrap().to_string();
    let fds = reply.metadata()["metadata"]["fds"].clone();
    let mut sockets = Vec::new();
    for fd in ["0", "1", "2"] {
        sockets.push(
            api.websocket(
                &format!("{op}/websocket"),
                &[("secret", fds[fd].as_str().unwrap())],
            )
            .await,
        );
    }
    let (output, barrier) = read_stream(&mut sockets[1]).await;
    assert!(
        output.is_empty() && !barrier,
        "closed without output or barrier"
    );
    let done = api.get(&format!("{op}/wait?timeout=10")).await;
    assert_eq!(done.metadata()["status"], "Failure");
}

#[tokio::test]
async fn idle_connections_do_not_block_others() {
    let server = TestServer::start().await.unwrap();
    // Connections that never send anything (the trap of LXD 5.0.2's socket).
    let _idle: Vec<_> = (0..3)
        .map(|_| std::os::unix::net::UnixStream::connect(server.socket_path()).unwrap())
        .collect();
    let api = Api::unix(&server);
    let reply = tokio::time::timeout(Duration::from_secs(5), api.get("/1.0")).await;
    assert_eq!(
        reply.expect("answered despite idle connections").status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn images_upload_export_alias_publish_delete() {
    let server = TestServer::start().await.unwrap();
    let api = Api::unix(&server);

    // Unified upload: the body is the image; its SHA-256 is the fingerprint.
    let data = b"not really a tarball, but bytes".to_vec();
    let fingerprint = lxd_transport::Fingerprint::of_der(&data).to_string();
    let upload = with_headers(
        Request::new(Method::POST, "/1.0/images")
            .body(lxd_transport::Body::Bytes(data.clone().into())),
        &[
            ("content-type", "application/octet-stream"),
            ("x-lxd-filename", "mine.tar.gz"),
            ("x-lxd-public", "true"),
            ("x-lxd-properties", "os=mine&architecture=aarch64"),
            ("x-lxd-fingerprint", &fingerprint),
        ],
    );
    let reply = api.send(upload).await;
    let op = api.wait(&reply).await;
    assert_eq!(op["description"], "Downloading image");
    assert_eq!(op["metadata"]["fingerprint"], fingerprint);
    let image = api
        .get(&format!("/1.0/images/{}", &fingerprint[..10]))
        .await;
    assert_eq!(image.metadata()["filename"], "mine.tar.gz");
    assert_eq!(image.metadata()["architecture"], "aarch64");
    assert_eq!(image.metadata()["properties"]["os"], "mine");
    assert_eq!(image.metadata()["public"], true);
    let exported = api.get(&format!("/1.0/images/{fingerprint}/export")).await;
    assert_eq!(&exported.body[..], &data[..]);

    let dup = api
        .send(
            Request::new(Method::POST, "/1.0/images")
                .body(lxd_transport::Body::Bytes(data.clone().into())),
        )
        .await;
    assert_eq!(
        api.wait(&dup).await["err"],
        "Image with same fingerprint already exists"
    );

    // Split upload: metadata and rootfs parts.
    let boundary = "tkboundary";
    let mut body = Vec::new();
    for (name, file, content) in [
        ("metadata", "meta.tar.xz", &b"META"[..]),
        ("rootfs", "root.squashfs", &b"ROOTFS"[..]),
    ] {
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes());
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let split = with_headers(
        Request::new(Method::POST, "/1.0/images").body(lxd_transport::Body::Bytes(body.into())),
        &[(
            "content-type",
            &format!("multipart/form-data; boundary={boundary}"),
        )],
    );
    let split_op = api.wait(&api.send(split).await).await;
    let split_fp = split_op["metadata"]["fingerprint"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        split_fp,
        lxd_transport::Fingerprint::of_der(b"METAROOTFS").to_string()
    );
    let export = api.get(&format!("/1.0/images/{split_fp}/export")).await;
    let content_type = export.header("content-type").unwrap().to_string();
    assert!(
        content_type.starts_with("multipart/form-data; boundary="),
        "{content_type}"
    );
    let text = String::from_utf8_lossy(&export.body).into_owned();
    assert!(text.contains("name=\"metadata\"") && text.contains("META"));
    assert!(text.contains("name=\"rootfs\"") && text.contains("ROOTFS"));

    // Aliases.
    let alias = api
        .post(
            "/1.0/images/aliases",
            json!({"name": "mine", "target": fingerprint}),
        )
        .await;
    assert_eq!(alias.status, StatusCode::CREATED);
    assert_eq!(
        api.post(
            "/1.0/images/aliases",
            json!({"name": "mine", "target": fingerprint})
        )
        .await
        .json["error"],
        "Alias \"mine\" already exists"
    );
    api.post("/1.0/images/aliases/mine", json!({"name": "mine2"}))
        .await;
    let got = api.get("/1.0/images/aliases/mine2").await;
    assert_eq!(got.metadata()["target"], fingerprint);

    // Publish an instance; create from the new image by fingerprint.
    api.launch("c1").await;
    let marker = api
        .send(
            Request::new(Method::POST, "/1.0/instances/c1/files")
                .query("path", "/root/marker")
                .body(lxd_transport::Body::Bytes(b"from c1".to_vec().into())),
        )
        .await;
    assert_eq!(marker.status, StatusCode::OK);
    let published = api
        .run(
            Method::POST,
            "/1.0/images",
            Some(json!({"source": {"type": "instance", "name": "c1"},
                        "aliases": [{"name": "from-c1"}], "properties": {"os": "custom"}})),
        )
        .await;
    let published_fp = published["metadata"]["fingerprint"]
        .as_str()
        .unwrap()
        .to_string();
    api.run(
        Method::POST,
        "/1.0/instances",
        Some(json!({"name": "c2", "source": {"type": "image", "fingerprint": published_fp}})),
    )
    .await;
    let file = api.get("/1.0/instances/c2/files?path=/root/marker").await;
    assert_eq!(
        &file.body[..],
        b"from c1",
        "the published file system came along"
    );
    assert_eq!(
        api.get("/1.0/images/aliases/from-c1").await.metadata()["target"],
        published_fp
    );

    api.run(Method::DELETE, &format!("/1.0/images/{fingerprint}"), None)
        .await;
    assert_eq!(
        api.get("/1.0/images/aliases/mine2").await.status,
        StatusCode::NOT_FOUND,
        "aliases go with their image"
    );
}

#[tokio::test]
async fn files_api_like_lxd() {
    let server = TestServer::start().await.unwrap();
    let api = Api::unix(&server);
    api.launch("c1").await;
    let push = |path: &str, body: &'static [u8], headers: &[(&'static str, &str)]| {
        with_headers(
            Request::new(Method::POST, "/1.0/instances/c1/files")
                .query("path", path)
                .body(lxd_transport::Body::Bytes(body.into())),
            headers,
        )
    };
    let written = api
        .send(push(
            "/tmp/a.txt",
            b"hello",
            &[("x-lxd-mode", "0640"), ("x-lxd-uid", "1000")],
        ))
        .await;
    assert_eq!(
        (written.status, written.metadata()),
        (StatusCode::OK, &json!({}))
    );
    api.send(push("/tmp/a.txt", b" world", &[("x-lxd-write", "append")]))
        .await;
    let read = api.get("/1.0/instances/c1/files?path=/tmp/a.txt").await;
    assert_eq!(&read.body[..], b"hello world");
    assert_eq!(read.header("x-lxd-type"), Some("file"));
    assert_eq!(read.header("x-lxd-mode"), Some("0640"));
    assert_eq!(read.header("x-lxd-uid"), Some("1000"));
    assert_eq!(read.header("x-lxd-gid"), Some("0"));
    assert_eq!(
        read.header("content-type"),
        Some("application/octet-stream")
    );
    assert!(
        read.header("x-lxd-modified")
            .unwrap()
            .ends_with(" +0000 UTC")
    );

    let head = api
        .send(Request::new(Method::HEAD, "/1.0/instances/c1/files").query("path", "/tmp/a.txt"))
        .await;
    assert_eq!(head.status, StatusCode::OK);
    assert!(head.body.is_empty());
    assert_eq!(head.header("x-lxd-type"), Some("file"));

    api.send(push("/tmp/d", b"", &[("x-lxd-type", "directory")]))
        .await;
    assert_eq!(
        api.get("/1.0/instances/c1/files?path=/tmp/d")
            .await
            .header("x-lxd-mode"),
        Some("0750"),
        "LXD's default directory mode"
    );
    api.send(push(
        "/tmp/link",
        b"/tmp/a.txt",
        &[("x-lxd-type", "symlink")],
    ))
    .await;
    let link = api.get("/1.0/instances/c1/files?path=/tmp/link").await;
    assert_eq!(link.header("x-lxd-type"), Some("symlink"));
    assert_eq!(&link.body[..], b"/tmp/a.txt");
    let listing = api.get("/1.0/instances/c1/files?path=/tmp").await;
    assert_eq!(listing.header("x-lxd-type"), Some("directory"));
    assert_eq!(listing.metadata(), &json!(["a.txt", "d", "link"]));

    let not_found = api.get("/1.0/instances/c1/files?path=/nope").await;
    assert_eq!(
        (not_found.status, not_found.json["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("Not Found"))
    );
    assert_eq!(
        api.get("/1.0/instances/c1/files").await.json["error"],
        "Missing path argument"
    );
    let over_dir = api.send(push("/tmp/d", b"x", &[])).await;
    assert_eq!(over_dir.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        over_dir.json["error"],
        "sftp: \"open /tmp/d: is a directory\" (SSH_FX_FAILURE)"
    );
    let bad_mode = api
        .send(push("/tmp/x", b"x", &[("x-lxd-write", "bogus")]))
        .await;
    assert_eq!(bad_mode.json["error"], "Bad file write mode: bogus");
    let non_empty = api.delete("/1.0/instances/c1/files?path=/tmp").await;
    assert_eq!(
        non_empty.json["error"],
        "sftp: \"remove /tmp: directory not empty\" (SSH_FX_FAILURE)"
    );
    assert_eq!(
        api.delete("/1.0/instances/c1/files?path=/tmp/link")
            .await
            .status,
        StatusCode::OK
    );
    // Exec and files share one file system.
    let op = api
        .run(
            Method::POST,
            "/1.0/instances/c1/exec",
            Some(json!({"command": ["sh", "-c", "cat /tmp/a.txt > /tmp/copy"], "record-output": true})),
        )
        .await;
    assert_eq!(op["metadata"]["return"], 0);
    assert_eq!(
        &api.get("/1.0/instances/c1/files?path=/tmp/copy").await.body[..],
        b"hello world"
    );
}
