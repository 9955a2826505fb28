//! The client against `lxd-testkit` presenting itself as Incus (`TestServer::builder().incus()`):
//! the flavor is detected, the files and images APIs travel with `X-Incus-*` headers both
//! ways (a relay in front of the testkit keeps the bytes the client sent, so the test reads
//! the request headers themselves), and exec and events work unchanged.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use lxd_client::proto::InstanceFileType;
use lxd_client::transport::Body;
use lxd_client::transport::http::{HeaderName, HeaderValue};
use lxd_client::{Client, DirOptions, Flavor, ImageUpload, Method, PutOptions};
use lxd_testkit::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

mod support;
use support::launch;

/// Every byte clients sent through the relay.
type Sent = Arc<Mutex<Vec<u8>>>;

/// A unix socket in `dir` that relays each connection to `target`, keeping what the client
/// sends.
fn relay(target: &Path, dir: &Path) -> (PathBuf, Sent) {
    let path = dir.join("relay.socket");
    let listener = UnixListener::bind(&path).unwrap();
    let sent = Sent::default();
    let log = sent.clone();
    let target = target.to_path_buf();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let (target, log) = (target.clone(), log.clone());
            tokio::spawn(async move {
                let Ok(server) = UnixStream::connect(&target).await else {
                    return;
                };
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                let up = async {
                    let mut buf = vec![0u8; 64 * 1024];
                    while let Ok(n) = client_read.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        log.lock().unwrap().extend_from_slice(&buf[..n]);
                        if server_write.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                    let _ = server_write.shutdown().await;
                };
                let down = async {
                    let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
                    let _ = client_write.shutdown().await;
                };
                tokio::join!(up, down);
            });
        }
    });
    (path, sent)
}

/// What was sent since the last call, lower case (header names are case-insensitive).
fn take(sent: &Sent) -> String {
    let bytes = std::mem::take(&mut *sent.lock().unwrap());
    String::from_utf8_lossy(&bytes).to_ascii_lowercase()
}

/// The request header lines of what was sent (bodies left out).
fn header_lines(sent: &str) -> Vec<&str> {
    sent.lines()
        .filter(|l| l.starts_with("x-incus-") || l.starts_with("x-lxd-"))
        .map(str::trim_end)
        .collect()
}

#[tokio::test]
async fn the_flavor_is_incus_and_lxd_stays_lxd() {
    let incus = TestServer::builder().incus().start().await.unwrap();
    let client = Client::unix(incus.socket_path()).unwrap();
    assert_eq!(client.flavor().await.unwrap(), Flavor::Incus);
    let info = client.server().await.unwrap();
    assert_eq!(info.environment.server, "incus");
    assert_eq!(info.environment.server_version, "6.0.4");
    assert_eq!(
        (info.auth_user_name.as_str(), info.auth_user_method.as_str()),
        ("root", "unix")
    );
    assert!(client.has_api_extension("auth_user").await.unwrap());
    assert!(client.has_api_extension("instances").await.unwrap());

    let lxd = TestServer::start().await.unwrap();
    let client = Client::unix(lxd.socket_path()).unwrap();
    assert_eq!(client.flavor().await.unwrap(), Flavor::Lxd);
}

#[tokio::test]
async fn files_travel_with_incus_headers() {
    let server = TestServer::builder().incus().start().await.unwrap();
    let (socket, sent) = relay(server.socket_path(), server.dir());
    let client = Client::unix(&socket).unwrap();
    launch(&client, "c1").await;
    let files = client.instances().files("c1");
    take(&sent);

    // Push: the owner and mode go out as X-Incus-* and come back the same from the server.
    files
        .put_bytes(
            "/root/a.txt",
            "hello incus",
            &PutOptions::new().uid(1000).gid(1001).mode(0o640),
        )
        .await
        .unwrap();
    let pushed = take(&sent);
    let lines = header_lines(&pushed);
    for expected in [
        "x-incus-uid: 1000",
        "x-incus-gid: 1001",
        "x-incus-mode: 0640",
        "x-incus-type: file",
    ] {
        assert!(lines.contains(&expected), "{expected} not in {lines:?}");
    }
    assert!(lines.iter().all(|l| !l.starts_with("x-lxd-")), "{lines:?}");

    // Stat and pull read the server's X-Incus-* headers.
    let stat = files.stat("/root/a.txt").await.unwrap();
    assert_eq!(stat.file_type, InstanceFileType::File);
    assert_eq!((stat.uid, stat.gid, stat.mode), (1000, 1001, 0o640));
    assert_eq!(
        files.get_bytes("/root/a.txt").await.unwrap(),
        b"hello incus"
    );
    let download = files.get("/root/a.txt").await.unwrap();
    assert_eq!((download.stat().uid, download.stat().mode), (1000, 0o640));
    assert_eq!(download.bytes().await.unwrap(), b"hello incus");

    // Append goes out as X-Incus-write.
    take(&sent);
    files
        .put_bytes("/root/a.txt", "!", &PutOptions::new().append())
        .await
        .unwrap();
    assert!(header_lines(&take(&sent)).contains(&"x-incus-write: append"));
    assert_eq!(
        files.get_bytes("/root/a.txt").await.unwrap(),
        b"hello incus!"
    );

    // A directory with its owner and mode.
    take(&sent);
    files
        .create_dir("/root/d", &DirOptions::new().mode(0o700).uid(5).gid(6))
        .await
        .unwrap();
    let lines = take(&sent);
    let lines = header_lines(&lines);
    assert!(lines.contains(&"x-incus-type: directory"), "{lines:?}");
    assert!(lines.iter().all(|l| !l.starts_with("x-lxd-")), "{lines:?}");
    let dir = files.stat("/root/d").await.unwrap();
    assert_eq!(dir.file_type, InstanceFileType::Directory);
    assert_eq!((dir.uid, dir.gid, dir.mode), (5, 6, 0o700));

    // A symlink.
    take(&sent);
    files
        .create_symlink("/root/l", "/root/a.txt")
        .await
        .unwrap();
    assert!(header_lines(&take(&sent)).contains(&"x-incus-type: symlink"));
    assert_eq!(files.read_link("/root/l").await.unwrap(), "/root/a.txt");
    assert_eq!(
        files.stat("/root/l").await.unwrap().file_type,
        InstanceFileType::Symlink
    );
    let mut listing = files.list_dir("/root").await.unwrap();
    listing.sort();
    assert_eq!(listing, ["a.txt", "d", "l"]);
    files.delete("/root/l").await.unwrap();
    assert!(!files.exists("/root/l").await.unwrap());
}

#[tokio::test]
async fn incus_ignores_lxd_headers_on_images_and_the_client_sends_incus_ones() {
    let server = TestServer::builder().incus().start().await.unwrap();
    let (socket, sent) = relay(server.socket_path(), server.dir());
    let client = Client::unix(&socket).unwrap();
    let images = client.images();

    // What a client that kept LXD's spelling would get from Incus: its options are ignored
    // (as the real Incus 6.0.4 ignores them: the image came out private, unnamed).
    let header = |name: &'static str, value: &'static str| {
        (
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        )
    };
    let mut legacy = client
        .raw(Method::POST, "/1.0/images")
        .body(Body::Bytes(b"legacy image".to_vec().into()));
    for (name, value) in [
        header("content-type", "application/octet-stream"),
        header("x-lxd-public", "true"),
        header("x-lxd-filename", "legacy.tar.gz"),
        header("x-lxd-properties", "os=legacy"),
    ] {
        legacy = legacy.header(name, value);
    }
    let op = legacy.operation().await.unwrap().wait().await.unwrap();
    let fingerprint = op.metadata.as_ref().unwrap()["fingerprint"]
        .as_str()
        .unwrap()
        .to_string();
    let legacy = images.get(&fingerprint).await.unwrap();
    assert!(!legacy.public);
    assert_eq!(legacy.filename, "");
    assert_ne!(
        legacy.properties.get("os").map(String::as_str),
        Some("legacy")
    );

    let data = b"an incus image, as bytes".to_vec();
    take(&sent);
    let upload = ImageUpload::unified_from_reader(std::io::Cursor::new(data.clone()), None)
        .public(true)
        .filename("incus.tar.gz")
        .property("os", "incus-os")
        .property("release", "6.0");
    let image = images.upload_and_wait(upload).await.unwrap();
    let lines = take(&sent);
    let lines = header_lines(&lines);
    assert!(lines.contains(&"x-incus-public: true"), "{lines:?}");
    assert!(
        lines.contains(&"x-incus-filename: incus.tar.gz"),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("x-incus-properties: ")),
        "{lines:?}"
    );
    assert!(lines.iter().all(|l| !l.starts_with("x-lxd-")), "{lines:?}");
    assert!(image.public);
    assert_eq!(image.filename, "incus.tar.gz");
    assert_eq!(
        image.properties.get("os").map(String::as_str),
        Some("incus-os")
    );
    assert_eq!(
        image.properties.get("release").map(String::as_str),
        Some("6.0")
    );

    let mut out = Vec::new();
    let export = images
        .export_to_writer(&image.fingerprint, &mut out)
        .await
        .unwrap();
    assert_eq!(out, data);
    assert_eq!(export.bytes, data.len() as u64);
}

#[tokio::test]
async fn exec_works_unchanged() {
    // (Events on Incus: testkit_exec_events::lifecycle_events_arrive_typed_and_in_order.)
    let server = TestServer::builder().incus().start().await.unwrap();
    let client = Client::unix(server.socket_path()).unwrap();
    launch(&client, "e1").await;
    let out = client
        .instances()
        .exec("e1", ["sh", "-c", "echo incus; exit 3"])
        .run()
        .await
        .unwrap();
    assert_eq!((out.exit_code, out.stdout.as_slice()), (3, &b"incus\n"[..]));
}
