//! Images against a real LXD: streamed upload of a unified and a split busybox image with
//! properties and aliases, streamed export checked byte for byte and by fingerprint, get by
//! alias and by prefix, ETag-guarded save, aliases, delete, and clear errors for bad input.
//! Every image a test imports is deleted by that test, panicking or not.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::FutureExt;
use lxd_client::proto::{ImageAlias, ImagesPost, ImagesPostSource};
use lxd_client::{Client, ImageUpload};
use lxd_integration::{Scratch, layout, require, run, tar_plain, unique};

// ---- helpers --------------------------------------------------------------------------------

fn tar(dir: &Path, out: &str, members: &[&str]) -> PathBuf {
    let path = dir.join(out);
    run(Command::new("tar")
        .args(["--numeric-owner", "--owner=0", "--group=0", "-czf"])
        .arg(&path)
        .arg("-C")
        .arg(dir)
        .args(members));
    path
}

/// A unified tarball (`metadata.yaml` + `rootfs/`).
fn unified(dir: &Path, tag: &str) -> PathBuf {
    layout(dir, tag);
    tar(dir, "image.tar.gz", &["metadata.yaml", "rootfs"])
}

/// A split image: (metadata tarball, rootfs tarball).
fn split(dir: &Path, tag: &str) -> (PathBuf, PathBuf) {
    layout(dir, tag);
    let meta = tar(dir, "meta.tar.gz", &["metadata.yaml"]);
    let rootfs = dir.join("rootfs.tar.gz");
    run(Command::new("tar")
        .args(["--numeric-owner", "--owner=0", "--group=0", "-czf"])
        .arg(&rootfs)
        .arg("-C")
        .arg(dir.join("rootfs"))
        .arg("."));
    (meta, rootfs)
}

fn sha256_of(paths: &[&Path]) -> String {
    let mut all = Vec::new();
    for p in paths {
        all.extend(std::fs::read(p).unwrap());
    }
    let mut child = Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(&all).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap()[..64].to_string()
}

/// Runs `body`, then deletes the image `fingerprint` if it still exists, even on panic.
async fn cleaning<Fut: Future<Output = ()>>(client: &Client, fingerprint: &str, body: Fut) {
    let outcome = AssertUnwindSafe(body).catch_unwind().await;
    if client.images().exists(fingerprint).await.unwrap_or(false) {
        client.images().delete_and_wait(fingerprint).await.unwrap();
    }
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

// ---- tests ----------------------------------------------------------------------------------

/// A unified tarball streamed from a path with properties, filename and aliases; found by
/// alias and by prefix; exported byte for byte; saved with the ETag; aliases created,
/// renamed, re-described and deleted; the image deleted.
#[tokio::test]
async fn unified_image_lifecycle() {
    let env = require!();
    let client = env.client();
    let images = client.images();
    let scratch = Scratch::new("lxdrs-img");
    let tag = unique("unified");
    let tarball = unified(&scratch.0, &tag);
    let expected = sha256_of(&[&tarball]);
    let size = std::fs::metadata(&tarball).unwrap().len();
    let alias = unique("img-u");

    let sent = Arc::new(AtomicU64::new(0));
    let seen = sent.clone();
    let upload = ImageUpload::unified_from_path(&tarball)
        .await
        .unwrap()
        .property("release", "test & more")
        .filename("bb.tar.gz")
        .alias(&alias)
        .with_progress(move |bytes, total| {
            assert_eq!(total, Some(size));
            seen.store(bytes, Ordering::Relaxed);
        });
    let image = images.upload_and_wait(upload).await.unwrap();
    cleaning(&client, &expected.clone(), async {
        assert_eq!(image.fingerprint, expected);
        assert_eq!(sent.load(Ordering::Relaxed), size);
        assert_eq!(image.filename, "bb.tar.gz");
        assert_eq!(image.properties["release"], "test & more");
        assert_eq!(image.properties["description"], tag, "metadata.yaml merged");
        assert!(!image.public);
        assert_eq!(image.aliases.len(), 1);
        assert_eq!(image.aliases[0].name, alias);
        assert!(image.size > 0);

        // Found by alias, by prefix, and known to exist both ways.
        assert_eq!(
            images.get_by_alias(&alias).await.unwrap().fingerprint,
            expected
        );
        assert_eq!(
            images.get(&expected[..16]).await.unwrap().fingerprint,
            expected
        );
        assert!(images.exists(&alias).await.unwrap());
        assert!(images.exists(&expected[..16]).await.unwrap());
        assert!(
            images
                .list_fingerprints()
                .await
                .unwrap()
                .contains(&expected)
        );
        assert!(
            images
                .list()
                .await
                .unwrap()
                .iter()
                .any(|i| i.fingerprint == expected)
        );

        // Export: to a path (byte for byte) and to a writer.
        let out = scratch.0.join("export.tar.gz");
        let done = images.export_to_path(&expected[..12], &out).await.unwrap();
        assert_eq!(done.fingerprint, expected);
        assert_eq!(done.bytes, size);
        assert_eq!(
            std::fs::read(&out).unwrap(),
            std::fs::read(&tarball).unwrap()
        );
        let mut buf = Vec::new();
        images.export_to_writer(&expected, &mut buf).await.unwrap();
        assert_eq!(buf.len() as u64, size);
        // A unified image is not exported as a split one, and nothing is written.
        let (mut m, mut r) = (Vec::new(), Vec::new());
        let err = images
            .export_split_to_writers(&expected, &mut m, &mut r)
            .await
            .unwrap_err();
        assert!(err.is_invalid_input(), "{err}");
        assert!(m.is_empty() && r.is_empty());

        // Save public and properties with the ETag; a stale copy is refused.
        let mut object = images.object(&expected).await.unwrap();
        let mut stale = images.object(&expected).await.unwrap();
        object.public = true;
        object.properties.insert("stage".into(), "saved".into());
        object.save().await.unwrap();
        let again = images.get(&expected).await.unwrap();
        assert!(again.public);
        assert_eq!(again.properties["stage"], "saved");
        stale.properties.insert("stage".into(), "stale".into());
        let err = stale.save().await.unwrap_err();
        assert!(err.is_precondition_failed(), "{err}");
        stale.refresh().await.unwrap();
        assert_eq!(stale.properties["stage"], "saved");

        // Aliases on the manager and on the object.
        let aliases = images.aliases();
        let second = unique("img-u2");
        object.add_alias(&second, "second").await.unwrap();
        assert!(object.aliases.iter().any(|a| a.name == second));
        // LXD allows '/' in alias names (`lxc image alias create ubuntu/22.04`).
        let renamed = format!("lxdrs/{}", unique("img-u3"));
        aliases.rename(&second, &renamed).await.unwrap();
        assert_eq!(
            images.get_by_alias(&renamed).await.unwrap().fingerprint,
            expected
        );
        assert!(images.exists(&renamed).await.unwrap());
        assert!(!aliases.exists(&second).await.unwrap());
        let entry = aliases.get_with_etag(&renamed).await.unwrap();
        assert_eq!(entry.target, expected);
        assert_eq!(entry.description, "second");
        let mut put = entry.writable();
        put.description = "re-described".into();
        aliases
            .update(&renamed, &put, entry.etag.as_ref())
            .await
            .unwrap();
        assert_eq!(
            aliases.get(&renamed).await.unwrap().description,
            "re-described"
        );
        assert!(
            aliases
                .list()
                .await
                .unwrap()
                .iter()
                .any(|a| a.name == renamed)
        );
        object.refresh().await.unwrap();
        object.remove_alias(&renamed).await.unwrap();
        assert!(!aliases.exists(&renamed).await.unwrap());
        assert!(
            object
                .remove_alias("never-an-alias")
                .await
                .unwrap_err()
                .is_invalid_input()
        );

        // Delete: the image and its remaining alias are gone.
        object.delete().await.unwrap();
        assert!(!images.exists(&expected).await.unwrap());
        assert!(!images.exists(&alias).await.unwrap());
    })
    .await;
}

/// A split image (metadata tarball + rootfs tarball as a multipart body), exported back as
/// its two parts, byte for byte, with the fingerprint checked.
#[tokio::test]
async fn split_image_upload_and_export() {
    let env = require!();
    let client = env.client();
    let images = client.images();
    let scratch = Scratch::new("lxdrs-img");
    let tag = unique("split");
    let (meta, rootfs) = split(&scratch.0, &tag);
    let expected = sha256_of(&[&meta, &rootfs]);
    let alias = unique("img-s");
    let upload = ImageUpload::split_from_paths(&meta, &rootfs)
        .await
        .unwrap()
        .property("kind", "split")
        .alias(&alias)
        .expect_fingerprint(&expected);
    let image = images.upload_and_wait(upload).await.unwrap();
    cleaning(&client, &expected.clone(), async {
        assert_eq!(image.fingerprint, expected);
        assert_eq!(image.properties["kind"], "split");
        assert_eq!(image.properties["description"], tag);
        assert_eq!(
            images.get_by_alias(&alias).await.unwrap().fingerprint,
            expected
        );

        let (mut m, mut r) = (Vec::new(), Vec::new());
        let done = images
            .export_split_to_writers(&expected[..10], &mut m, &mut r)
            .await
            .unwrap();
        assert_eq!(done.fingerprint, expected);
        assert_eq!(m, std::fs::read(&meta).unwrap());
        assert_eq!(r, std::fs::read(&rootfs).unwrap());
        // Not as one tarball, and the path is not created.
        let out = scratch.0.join("no.tar.gz");
        let err = images.export_to_path(&expected, &out).await.unwrap_err();
        assert!(err.is_invalid_input(), "{err}");
        assert!(!out.exists());
        images.delete_and_wait(&expected).await.unwrap();
    })
    .await;
}

/// A virtual-machine image (metadata tarball + a qcow2 `rootfs.img`, sent as the multipart
/// field `rootfs.img`): LXD 5.0.2 stores it as a `virtual-machine` image even on a host that
/// cannot run VMs, and exports both parts back byte for byte.
#[tokio::test]
async fn vm_image_upload_and_export() {
    let env = require!();
    let client = env.client();
    let images = client.images();
    let scratch = Scratch::new("lxdrs-img-vm");
    let tag = unique("vm");
    layout(&scratch.0, &tag);
    let meta = tar(&scratch.0, "meta.tar.gz", &["metadata.yaml"]);
    let disk = scratch.0.join("rootfs.img");
    run(Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2"])
        .arg(&disk)
        .arg("16M"));
    let expected = sha256_of(&[&meta, &disk]);
    let upload = ImageUpload::vm_from_paths(&meta, &disk)
        .await
        .unwrap()
        .expect_fingerprint(&expected);
    let image = images.upload_and_wait(upload).await.unwrap();
    cleaning(&client, &expected.clone(), async {
        assert_eq!(image.fingerprint, expected);
        assert_eq!(
            image.image_type,
            lxd_client::proto::InstanceType::VirtualMachine
        );
        let (mut m, mut r) = (Vec::new(), Vec::new());
        images
            .export_split_to_writers(&expected, &mut m, &mut r)
            .await
            .unwrap();
        assert_eq!(m, std::fs::read(&meta).unwrap());
        assert_eq!(r, std::fs::read(&disk).unwrap());
        images.delete_and_wait(&expected).await.unwrap();
    })
    .await;
}

/// A stream of unknown length (an `AsyncRead`) uploads too; `upload` returns the operation.
#[tokio::test]
async fn upload_from_reader_returns_an_operation() {
    let env = require!();
    let client = env.client();
    let scratch = Scratch::new("lxdrs-img");
    let tarball = unified(&scratch.0, &unique("reader"));
    let expected = sha256_of(&[&tarball]);
    let file = tokio::fs::File::open(&tarball).await.unwrap();
    let op = client
        .images()
        .upload(ImageUpload::unified_from_reader(file, None).public(true))
        .await
        .unwrap();
    cleaning(&client, &expected.clone(), async {
        let done = op.wait().await.unwrap();
        let meta = done.metadata.clone().unwrap();
        assert_eq!(meta["fingerprint"], expected.as_str(), "{meta}");
        assert!(client.images().get(&expected).await.unwrap().public);
    })
    .await;
}

/// Bad input: a corrupt tarball, a wrong expected fingerprint, unknown aliases and
/// fingerprints, bad names: each a clear error, nothing imported, nothing written.
#[tokio::test]
async fn bad_input_is_refused_clearly() {
    let env = require!();
    let client = env.client();
    let images = client.images();
    let scratch = Scratch::new("lxdrs-img");

    let before = images.list_fingerprints().await.unwrap().len();
    let garbage = b"this is not a tarball at all".to_vec();
    let corrupt = async {
        images
            .upload_and_wait(ImageUpload::unified_from_reader(
                std::io::Cursor::new(garbage.clone()),
                Some(garbage.len() as u64),
            ))
            .await
    }
    .await;
    let err = corrupt.unwrap_err();
    eprintln!("corrupt tarball: {err}");
    assert!(err.is_operation_failed() || err.is_bad_request(), "{err}");

    let tarball = unified(&scratch.0, &unique("wrongfp"));
    let real = sha256_of(&[&tarball]);
    let wrong = "0".repeat(64);
    let upload = ImageUpload::unified_from_path(&tarball)
        .await
        .unwrap()
        .expect_fingerprint(&wrong);
    let err = images.upload_and_wait(upload).await.unwrap_err();
    eprintln!("wrong fingerprint: {err}");
    assert!(err.is_operation_failed() || err.is_bad_request(), "{err}");
    assert!(
        !images.exists(&real).await.unwrap(),
        "a refused upload left an image"
    );
    assert!(images.list_fingerprints().await.unwrap().len() <= before);

    let missing = unique("no-such-alias");
    assert!(
        images
            .get_by_alias(&missing)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(!images.exists(&missing).await.unwrap());
    assert!(images.get(&wrong).await.unwrap_err().is_not_found());
    let out = scratch.0.join("never.tar.gz");
    assert!(
        images
            .export_to_path(&wrong, &out)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(!out.exists());
    assert!(images.get("not-hex").await.unwrap_err().is_invalid_input());
    assert!(
        images
            .aliases()
            .create("..", &real, "")
            .await
            .unwrap_err()
            .is_invalid_input()
    );
    let err = images
        .upload(
            ImageUpload::unified_from_path(&tarball)
                .await
                .unwrap()
                .alias("x"),
        )
        .await
        .unwrap_err();
    assert!(err.is_invalid_input(), "{err}");
}

/// Resident memory of this process (`VmRSS`), in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// Counts bytes and samples memory while an export is written.
struct Probe {
    bytes: u64,
    peak: u64,
}

impl tokio::io::AsyncWrite for Probe {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.bytes += buf.len() as u64;
        if self.bytes % (16 << 20) < buf.len() as u64 {
            self.peak = self.peak.max(rss());
        }
        std::task::Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// A big image (an uncompressed tarball holding a sparse file: 256 MiB by default, set
/// `LXD_IT_BIG_IMAGE_MIB=1024` for the 1 GiB figure; the daemon is shared) goes up and comes
/// back with the client's resident memory growing by less than 16 MiB each way.
#[tokio::test]
async fn a_big_image_streams_in_bounded_memory() {
    let env = require!();
    let client = env.client();
    let images = client.images();
    let scratch = Scratch::new("lxdrs-img-big");
    layout(&scratch.0, &unique("big"));
    let mib: u64 = std::env::var("LXD_IT_BIG_IMAGE_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    run(Command::new("truncate")
        .arg(format!("-s{mib}M"))
        .arg(scratch.0.join("rootfs/big")));
    let tarball = tar_plain(&scratch.0);
    let size = std::fs::metadata(&tarball).unwrap().len();
    assert!(size > mib << 20);

    let base = rss();
    let peak = Arc::new(AtomicU64::new(base));
    let seen = peak.clone();
    let started = std::time::Instant::now();
    let upload = ImageUpload::unified_from_path(&tarball)
        .await
        .unwrap()
        .with_progress(move |bytes, total| {
            if bytes % (16 << 20) < 64 * 1024 {
                seen.fetch_max(rss(), Ordering::Relaxed);
            }
            if Some(bytes) == total {
                eprintln!("body sent after {:?}", started.elapsed());
            }
        });
    let image = images.upload_and_wait(upload).await.unwrap();
    let up = started.elapsed();
    let fingerprint = image.fingerprint.clone();
    cleaning(&client, &fingerprint.clone(), async {
        let grown = peak.load(Ordering::Relaxed).saturating_sub(base);
        eprintln!("upload of {size} bytes: {up:?}, RSS grew by {grown} bytes");
        assert!(grown < 16 << 20, "upload grew RSS by {grown} bytes");

        let base = rss();
        let mut probe = Probe {
            bytes: 0,
            peak: base,
        };
        let started = std::time::Instant::now();
        let done = images
            .export_to_writer(&fingerprint, &mut probe)
            .await
            .unwrap();
        let grown = probe.peak.saturating_sub(base);
        eprintln!("export: {:?}, RSS grew by {grown} bytes", started.elapsed());
        assert_eq!(done.bytes, size);
        assert_eq!(probe.bytes, size);
        assert!(grown < 16 << 20, "export grew RSS by {grown} bytes");
    })
    .await;
}

/// What a route answers: (headers, body), or `None` for 404.
type Reply = Option<(Vec<(String, String)>, Vec<u8>)>;
type Routes = dyn Fn(&str, u16) -> Reply + Send + Sync;

/// A minimal HTTP/1.1 server on 127.0.0.1 for LXD to download from: `routes` maps a path to
/// (headers, body); every request is recorded as "METHOD path". One request per connection.
async fn serve(
    routes: impl Fn(&str, u16) -> Reply + Send + Sync + 'static,
) -> (u16, Arc<std::sync::Mutex<Vec<String>>>) {
    serve_with(None, Arc::new(routes)).await
}

/// [`serve`] over TLS with a fresh self-signed certificate for 127.0.0.1; returns its PEM.
async fn serve_https(
    routes: impl Fn(&str, u16) -> Reply + Send + Sync + 'static,
) -> (u16, Arc<std::sync::Mutex<Vec<String>>>, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params =
        rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    let cert = params.self_signed(&key).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls_pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let (port, log) = serve_with(Some(acceptor), Arc::new(routes)).await;
    (port, log, cert.pem())
}

async fn serve_with(
    tls: Option<tokio_rustls::TlsAcceptor>,
    routes: Arc<Routes>,
) -> (u16, Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let log = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = log.clone();
    tokio::spawn(async move {
        loop {
            let Ok((conn, _)) = listener.accept().await else {
                return;
            };
            let routes = routes.clone();
            let seen = seen.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                match tls {
                    // A failed handshake (LXD refusing our certificate) is recorded too.
                    Some(tls) => match tls.accept(conn).await {
                        Ok(conn) => answer(conn, &*routes, &seen, port).await,
                        Err(e) => seen.lock().unwrap().push(format!("TLS refused: {e}")),
                    },
                    None => answer(conn, &*routes, &seen, port).await,
                }
            });
        }
    });
    (port, log)
}

async fn answer<S>(mut conn: S, routes: &Routes, seen: &std::sync::Mutex<Vec<String>>, port: u16)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if conn.read(&mut byte).await.unwrap_or(0) == 0 {
            return;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut words = head.split_whitespace();
    let method = words.next().unwrap_or("").to_string();
    let path = words.next().unwrap_or("").to_string();
    seen.lock().unwrap().push(format!("{method} {path}"));
    let reply = match routes(&path, port) {
        Some((headers, body)) => {
            let mut text = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len()
            );
            for (k, v) in headers {
                text.push_str(&format!("{k}: {v}\r\n"));
            }
            text.push_str("\r\n");
            let mut reply = text.into_bytes();
            if method != "HEAD" {
                reply.extend(body);
            }
            reply
        }
        None => {
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec()
        }
    };
    let _ = conn.write_all(&reply).await;
    let _ = conn.shutdown().await;
}

/// `source.type = url` over plain HTTP on 127.0.0.1: LXD 5.0.2 sends `HEAD` to the URL,
/// takes `LXD-Image-Hash` and `LXD-Image-URL`, downloads, checks the hash and makes the image
/// with the aliases and properties asked for.
#[tokio::test]
async fn image_from_a_url() {
    let env = require!();
    let client = env.client();
    let images = client.images();
    let scratch = Scratch::new("lxdrs-img-url");
    let tarball = unified(&scratch.0, &unique("url"));
    let expected = sha256_of(&[&tarball]);
    let content = std::fs::read(&tarball).unwrap();
    let fp = expected.clone();
    // Incus renamed the headers: Incus-Image-Hash and Incus-Image-URL.
    let prefix = if env.is_incus() { "Incus" } else { "LXD" };
    let (port, log) = serve(move |path, port| match path {
        "/busybox" => Some((
            vec![
                (format!("{prefix}-Image-Hash"), fp.clone()),
                (
                    format!("{prefix}-Image-URL"),
                    format!("http://127.0.0.1:{port}/image.tar.gz"),
                ),
            ],
            Vec::new(),
        )),
        "/image.tar.gz" => Some((
            vec![("Content-Type".into(), "application/octet-stream".into())],
            content.clone(),
        )),
        _ => None,
    })
    .await;
    let alias = unique("img-url");
    let request = ImagesPost {
        source: Some(ImagesPostSource::url(format!(
            "http://127.0.0.1:{port}/busybox"
        ))),
        aliases: vec![ImageAlias::new(&alias)],
        properties: [("from".to_string(), "url".to_string())].into(),
        ..Default::default()
    };
    let result = images.create_and_wait(&request).await;
    cleaning(&client, &expected.clone(), async {
        eprintln!("requests: {:?}", log.lock().unwrap());
        let image = result.unwrap();
        assert_eq!(image.fingerprint, expected);
        assert_eq!(
            images.get_by_alias(&alias).await.unwrap().fingerprint,
            expected
        );
        assert!(log.lock().unwrap().iter().any(|r| r == "GET /image.tar.gz"));
        eprintln!("properties: {:?}", image.properties);
    })
    .await;

    // A URL whose server gives no LXD-Image-Hash: a clear failure.
    let (port, _) = serve(|_, _| Some((Vec::new(), Vec::new()))).await;
    let request = ImagesPost {
        source: Some(ImagesPostSource::url(format!("http://127.0.0.1:{port}/x"))),
        ..Default::default()
    };
    let err = images.create_and_wait(&request).await.unwrap_err();
    eprintln!("no hash header: {err}");
    assert!(err.is_operation_failed() || err.is_bad_request(), "{err}");
    // No source at all: refused before any request.
    assert!(
        images
            .create(&ImagesPost::default())
            .await
            .unwrap_err()
            .is_invalid_input()
    );
}

/// A simplestreams server over plain HTTP on 127.0.0.1 (LXD 5.0.2 accepts `http://` for
/// simplestreams), with one unified (`lxd_combined.tar.gz`) product: LXD reads
/// `streams/v1/index.json`, then `images.json`, resolves the alias, downloads and checks the
/// SHA-256; the image keeps its `update_source`.
#[tokio::test]
async fn image_from_simplestreams() {
    let env = require!();
    let client = env.client();
    let images = client.images();
    let scratch = Scratch::new("lxdrs-img-ss");
    let tarball = unified(&scratch.0, &unique("ss"));
    let expected = sha256_of(&[&tarball]);
    let content = std::fs::read(&tarball).unwrap();
    let remote_alias = unique("ssbb");
    let (port, log) = serve(simplestreams(
        &env.server,
        &remote_alias,
        &expected,
        content,
    ))
    .await;
    let server = format!("http://127.0.0.1:{port}");
    let alias = unique("img-ss");
    let request = ImagesPost {
        source: Some(ImagesPostSource::simplestreams(&server, &remote_alias)),
        aliases: vec![ImageAlias::new(&alias)],
        auto_update: true,
        public: true,
        ..Default::default()
    };
    let result = images.create_and_wait(&request).await;
    cleaning(&client, &expected.clone(), async {
        eprintln!("requests: {:?}", log.lock().unwrap());
        let image = result.unwrap();
        assert_eq!(image.fingerprint, expected);
        assert_eq!(
            images.get_by_alias(&alias).await.unwrap().fingerprint,
            expected
        );
        let source = image.update_source.clone().expect("update_source");
        eprintln!("update_source: {source:?}, cached: {}", image.cached);
        assert_eq!(source.protocol, "simplestreams");
        assert_eq!(source.server, server);
        assert!(image.auto_update);
        assert!(image.public);
    })
    .await;
}

/// A split simplestreams product (`lxd.tar.xz` metadata + `root.tar.xz` rootfs): the
/// fingerprint is the metadata item's `combined_rootxz_sha256`, the SHA-256 of both files
/// together, and LXD downloads both items.
#[tokio::test]
async fn split_image_from_simplestreams() {
    let env = require!();
    let client = env.client();
    let images = client.images();
    let scratch = Scratch::new("lxdrs-img-ss2");
    let (meta, rootfs) = split(&scratch.0, &unique("ss-split"));
    let expected = sha256_of(&[&meta, &rootfs]);
    let (meta, rootfs) = (
        std::fs::read(&meta).unwrap(),
        std::fs::read(&rootfs).unwrap(),
    );
    let remote_alias = unique("sssplit");
    // Incus names the metadata item `incus.tar.xz`.
    let meta_ftype = if env.is_incus() {
        "incus.tar.xz"
    } else {
        "lxd.tar.xz"
    };
    let index = serde_json::json!({
        "format": "index:1.0",
        "index": {"images": {
            "datatype": "image-downloads",
            "path": "streams/v1/images.json",
            "format": "products:1.0",
            "products": ["busybox:split:amd64:default"],
        }},
    });
    let products = serde_json::json!({
        "content_id": "images",
        "datatype": "image-downloads",
        "format": "products:1.0",
        "products": {"busybox:split:amd64:default": {
            "aliases": remote_alias,
            "arch": "amd64",
            "os": "busybox",
            "release": "split",
            "variant": "default",
            "versions": {"20260101_00:00": {"items": {
                meta_ftype: {
                    "ftype": meta_ftype,
                    "path": "images/meta.tar.gz",
                    "sha256": sha256_of_bytes(&meta),
                    "size": meta.len(),
                    "combined_rootxz_sha256": expected,
                },
                "root.tar.xz": {
                    "ftype": "root.tar.xz",
                    "path": "images/rootfs.tar.gz",
                    "sha256": sha256_of_bytes(&rootfs),
                    "size": rootfs.len(),
                },
            }}},
        }},
    });
    let (index, products) = (index.to_string(), products.to_string());
    let (port, log) = serve(move |path, _| {
        let body = |b: &[u8]| Some((Vec::new(), b.to_vec()));
        match path {
            "/streams/v1/index.json" => body(index.as_bytes()),
            "/streams/v1/images.json" => body(products.as_bytes()),
            "/images/meta.tar.gz" => body(&meta),
            "/images/rootfs.tar.gz" => body(&rootfs),
            _ => None,
        }
    })
    .await;
    let request = ImagesPost {
        source: Some(ImagesPostSource::simplestreams(
            format!("http://127.0.0.1:{port}"),
            &remote_alias,
        )),
        ..Default::default()
    };
    let result = images.create_and_wait(&request).await;
    cleaning(&client, &expected.clone(), async {
        eprintln!("requests: {:?}", log.lock().unwrap());
        let image = result.unwrap();
        assert_eq!(image.fingerprint, expected);
        let requests = log.lock().unwrap().clone();
        assert!(requests.iter().any(|r| r == "GET /images/meta.tar.gz"));
        assert!(requests.iter().any(|r| r == "GET /images/rootfs.tar.gz"));
    })
    .await;
}

fn sha256_of_bytes(data: &[u8]) -> String {
    let dir = Scratch::new("lxdrs-sha");
    let path = dir.0.join("data");
    std::fs::write(&path, data).unwrap();
    sha256_of(&[&path])
}

/// A simplestreams catalogue (`streams/v1/index.json`, `images.json`) with one unified
/// product under `alias`, and the tarball itself, as routes for [`serve`]. The item's
/// `ftype` is `lxd_combined.tar.gz`, or for Incus (`server`) `incus_combined.tar.gz`.
fn simplestreams(
    server: &str,
    alias: &str,
    sha256: &str,
    content: Vec<u8>,
) -> impl Fn(&str, u16) -> Reply + Send + Sync + 'static {
    let combined = format!("{server}_combined.tar.gz");
    let index = serde_json::json!({
        "format": "index:1.0",
        "index": {"images": {
            "datatype": "image-downloads",
            "path": "streams/v1/images.json",
            "format": "products:1.0",
            "products": ["busybox:static:amd64:default"],
        }},
    });
    let products = serde_json::json!({
        "content_id": "images",
        "datatype": "image-downloads",
        "format": "products:1.0",
        "products": {"busybox:static:amd64:default": {
            "aliases": alias,
            "arch": "amd64",
            "os": "busybox",
            "release": "static",
            "release_title": "static",
            "variant": "default",
            "versions": {"20260101_00:00": {"items": {combined.clone(): {
                "ftype": combined,
                "path": "images/busybox.tar.gz",
                "sha256": sha256,
                "size": content.len(),
            }}}},
        }},
    });
    let (index, products) = (index.to_string(), products.to_string());
    move |path, _| {
        let json = |s: &str| {
            Some((
                vec![("Content-Type".into(), "application/json".into())],
                s.as_bytes().to_vec(),
            ))
        };
        match path {
            "/streams/v1/index.json" => json(&index),
            "/streams/v1/images.json" => json(&products),
            "/images/busybox.tar.gz" => Some((Vec::new(), content.clone())),
            _ => None,
        }
    }
}

/// simplestreams over HTTPS with a self-signed certificate: LXD 5.0.2 verifies it (without
/// `certificate` the download is refused), and pins the PEM given in `certificate`.
#[tokio::test]
async fn image_from_simplestreams_over_https_pins_the_certificate() {
    let env = require!();
    let client = env.client();
    let images = client.images();
    let scratch = Scratch::new("lxdrs-img-sss");
    let tarball = unified(&scratch.0, &unique("sss"));
    let expected = sha256_of(&[&tarball]);
    let content = std::fs::read(&tarball).unwrap();
    let remote_alias = unique("sssbb");
    let (port, log, cert) = serve_https(simplestreams(
        &env.server,
        &remote_alias,
        &expected,
        content,
    ))
    .await;
    let server = format!("https://127.0.0.1:{port}");
    let request = |certificate: &str| {
        let mut source = ImagesPostSource::simplestreams(&server, &remote_alias);
        source.certificate = certificate.to_string();
        ImagesPost {
            source: Some(source),
            ..Default::default()
        }
    };

    // No certificate given: a self-signed server is not trusted.
    let err = images.create_and_wait(&request("")).await.unwrap_err();
    eprintln!("without certificate: {err}");
    assert!(err.is_operation_failed() || err.is_bad_request(), "{err:?}");
    assert!(
        err.to_string().contains("certificate"),
        "a TLS refusal: {err}"
    );
    assert!(!images.exists(&expected).await.unwrap());

    // Another certificate pinned: refused as well.
    let (other, _) = lxd_integration::fresh_identity("other");
    let err = images.create_and_wait(&request(&other)).await.unwrap_err();
    eprintln!("with another certificate: {err}");
    assert!(!images.exists(&expected).await.unwrap());

    // The server's own certificate pinned: downloaded and checked.
    let result = images.create_and_wait(&request(&cert)).await;
    cleaning(&client, &expected.clone(), async {
        eprintln!("requests: {:?}", log.lock().unwrap());
        let image = result.expect("simplestreams over HTTPS with the pinned certificate");
        assert_eq!(image.fingerprint, expected);
        let source = image.update_source.expect("update_source");
        assert_eq!(source.server, server);
        assert_eq!(source.certificate.trim(), cert.trim());
    })
    .await;
}
