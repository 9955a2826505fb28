//! Pulls, pushes and exports against servers and local neighbours that do not play fair
//! (issue #21): modes a server reports, exports of another image, directories swapped for
//! symlinks mid-transfer, listings that never finish, transfers dropped half-way.
//!
//! Modes against lxd-testkit (which keeps setuid, setgid and sticky as given); the rest
//! against a minimal HTTP server on a unix socket whose answers a test scripts, so a local
//! change can be made at an exact point of a transfer (when a given request arrives), with
//! no sleeps.
//!
//! Every test in this binary runs under umask 0o027 (set once, the same for all of them), so
//! that "the umask applies" is checked against a mask that is not the usual default.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use lxd_client::PutRecursiveOptions;
use lxd_client::{Client, ClientBuilder, DirOptions, GetRecursiveOptions, PutOptions};
use lxd_testkit::TestServer;
use support::launch;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixListener;

const UMASK: u32 = 0o027;

fn fixed_umask() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        rustix::process::umask(rustix::fs::Mode::from_bits_truncate(UMASK as _));
    });
}

fn scratch(name: &str) -> PathBuf {
    fixed_umask();
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "lxd-client-hostile-{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn mode_of(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// Every `.lxd-part-*` below `dir`.
fn temporaries(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            if entry.file_name().to_string_lossy().starts_with(".lxd-part") {
                found.push(entry.path());
            }
            if entry.file_type().unwrap().is_dir() {
                stack.push(entry.path());
            }
        }
    }
    found
}

// ---------------------------------------------------------------------------------------
// Modes, against lxd-testkit.

/// A testkit server with a started container `c1` holding:
/// /t 0777, /t/suid 04755, /t/sgid 06755, /t/open 0666, /t/sticky 01777 (a directory with
/// f 0644 in it), /t/d 0777 (with g 0600 in it).
async fn tree_with_special_modes() -> (TestServer, Client) {
    fixed_umask();
    let server = TestServer::start().await.unwrap();
    let client = Client::unix(server.socket_path()).unwrap();
    launch(&client, "c1").await;
    let files = client.instances().files("c1");
    for (dir, mode) in [("/t", 0o777), ("/t/sticky", 0o1777), ("/t/d", 0o777)] {
        files
            .create_dir(dir, &DirOptions::new().mode(mode))
            .await
            .unwrap();
    }
    for (file, mode) in [
        ("/t/suid", 0o4755),
        ("/t/sgid", 0o6755),
        ("/t/open", 0o666),
        ("/t/sticky/f", 0o644),
        ("/t/d/g", 0o600),
    ] {
        files
            .put_bytes(file, "x", &PutOptions::new().mode(mode))
            .await
            .unwrap();
    }
    // The testkit keeps what was asked: the server side of these tests is what it claims.
    assert_eq!(files.stat("/t/suid").await.unwrap().mode, 0o4755);
    assert_eq!(files.stat("/t/sticky").await.unwrap().mode, 0o1777);
    (server, client)
}

#[tokio::test]
async fn pulled_modes_are_permission_bits_under_the_umask() {
    let (_server, client) = tree_with_special_modes().await;
    let work = scratch("modes");
    let dest = work.join("new");
    client
        .instances()
        .files("c1")
        .get_recursive("/t", &dest, &GetRecursiveOptions::new())
        .await
        .unwrap();
    let masked = |mode: u32| mode & 0o777 & !UMASK;
    for (path, reported) in [
        ("", 0o777),
        ("suid", 0o4755),
        ("sgid", 0o6755),
        ("open", 0o666),
        ("sticky", 0o1777),
        ("sticky/f", 0o644),
        ("d", 0o777),
        ("d/g", 0o600),
    ] {
        assert_eq!(
            mode_of(&dest.join(path)),
            masked(reported),
            "{path:?} (reported {reported:o})"
        );
    }
    std::fs::remove_dir_all(&work).unwrap();
}

#[tokio::test]
async fn special_mode_bits_are_kept_only_when_asked() {
    let (_server, client) = tree_with_special_modes().await;
    let work = scratch("special");
    let dest = work.join("new");
    let options = GetRecursiveOptions::new().keep_special_mode_bits(true);
    client
        .instances()
        .files("c1")
        .get_recursive("/t", &dest, &options)
        .await
        .unwrap();
    // The special bits come back; the permission bits stay under the umask.
    assert_eq!(mode_of(&dest.join("suid")), 0o4750);
    assert_eq!(mode_of(&dest.join("sgid")), 0o6750);
    assert_eq!(mode_of(&dest.join("sticky")), 0o1750);
    assert_eq!(mode_of(&dest.join("open")), 0o640);
    std::fs::remove_dir_all(&work).unwrap();
}

#[tokio::test]
async fn directories_that_existed_before_a_pull_keep_their_mode() {
    let (_server, client) = tree_with_special_modes().await;
    let work = scratch("existing");
    let dest = work.join("dest");
    std::fs::create_dir(&dest).unwrap();
    std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::create_dir(dest.join("d")).unwrap();
    std::fs::set_permissions(dest.join("d"), std::fs::Permissions::from_mode(0o700)).unwrap();
    client
        .instances()
        .files("c1")
        .get_recursive("/t", &dest, &GetRecursiveOptions::new())
        .await
        .unwrap();
    // The instance says 0777 for both: they were here first, so they stay as they were.
    assert_eq!(mode_of(&dest), 0o700);
    assert_eq!(mode_of(&dest.join("d")), 0o700);
    // What the pull made gets the instance's permission bits under the umask.
    assert_eq!(std::fs::read(dest.join("d/g")).unwrap(), b"x");
    assert_eq!(mode_of(&dest.join("d/g")), 0o600);
    assert_eq!(mode_of(&dest.join("sticky")), 0o750);
    std::fs::remove_dir_all(&work).unwrap();
}

#[tokio::test]
async fn a_single_pull_gets_permission_bits_under_the_umask() {
    let (_server, client) = tree_with_special_modes().await;
    let work = scratch("single");
    let files = client.instances().files("c1");
    files
        .get_to_path("/t/suid", work.join("suid"))
        .await
        .unwrap();
    assert_eq!(mode_of(&work.join("suid")), 0o750);
    files
        .get_to_path("/t/open", work.join("open"))
        .await
        .unwrap();
    assert_eq!(mode_of(&work.join("open")), 0o640);
    std::fs::remove_dir_all(&work).unwrap();
}

// ---------------------------------------------------------------------------------------
// A scripted server.

/// One request as the scripted server read it.
#[derive(Debug, Clone)]
struct Req {
    method: String,
    /// The request target (path and query, as sent).
    target: String,
    /// The `path` query parameter of a files request, decoded.
    file: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Req {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the scripted server answers: bytes, then either the end of the connection or a
/// stall (the connection held open, nothing more sent).
struct Reply {
    bytes: Vec<u8>,
    stall: bool,
}

type Script = Arc<dyn Fn(&Req) -> Reply + Send + Sync>;

fn percent_decode(s: &str) -> String {
    // A `+` in a query is a space; a literal plus arrives as %2B.
    let spaced = s.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .unwrap()
        .into_owned()
}

fn http(status: &str, headers: &[(&str, &str)], body: &[u8], length: usize) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\nContent-Length: {length}\r\nConnection: close\r\n");
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

fn done(bytes: Vec<u8>) -> Reply {
    Reply {
        bytes,
        stall: false,
    }
}

fn json(metadata: &str, headers: &[(&str, &str)]) -> Vec<u8> {
    let body = format!(
        r#"{{"type":"sync","status":"Success","status_code":200,"operation":"","error_code":0,"error":"","metadata":{metadata}}}"#
    );
    let mut h = vec![("Content-Type", "application/json")];
    h.extend_from_slice(headers);
    http("200 OK", &h, body.as_bytes(), body.len())
}

const DIR: &[(&str, &str)] = &[
    ("X-LXD-Type", "directory"),
    ("X-LXD-Uid", "0"),
    ("X-LXD-Gid", "0"),
    ("X-LXD-Mode", "0755"),
];
const FILE: &[(&str, &str)] = &[
    ("X-LXD-Type", "file"),
    ("X-LXD-Uid", "0"),
    ("X-LXD-Gid", "0"),
    ("X-LXD-Mode", "0644"),
];

/// A server answering `/1.0` itself and everything else per `script`; each connection serves
/// one request. Answers the client and every request received, in order.
async fn scripted(
    script: Script,
    timeout: Option<Duration>,
) -> (Client, Arc<Mutex<Vec<Req>>>, PathBuf) {
    let dir = scratch("sock");
    let socket = dir.join("s");
    let listener = UnixListener::bind(&socket).unwrap();
    let seen: Arc<Mutex<Vec<Req>>> = Arc::default();
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            let (script, log) = (script.clone(), log.clone());
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if conn.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).to_string();
                let mut lines = head.split("\r\n");
                let mut first = lines.next().unwrap_or("").split(' ');
                let method = first.next().unwrap_or("").to_string();
                let target = first.next().unwrap_or("").to_string();
                let headers: Vec<(String, String)> = lines
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                    .collect();
                let length: usize = headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap_or(0);
                let mut body = vec![0u8; length];
                if conn.read_exact(&mut body).await.is_err() {
                    return;
                }
                let query = target.split_once("path=").map(|x| x.1).unwrap_or("");
                let file = percent_decode(query.split('&').next().unwrap_or(""));
                let req = Req {
                    method,
                    target,
                    file,
                    headers,
                    body,
                };
                log.lock().unwrap().push(req.clone());
                let reply = if req.target == "/1.0" {
                    done(json(
                        r#"{"api_extensions":["file_delete","file_append","file_symlinks","file_get_symlink","directory_manipulation"],"auth":"trusted","environment":{"server":"lxd","server_version":"5.0.2"}}"#,
                        &[],
                    ))
                } else {
                    script(&req)
                };
                let _ = conn.write_all(&reply.bytes).await;
                if reply.stall {
                    std::future::pending::<()>().await;
                }
                let _ = conn.shutdown().await;
            });
        }
    });
    let mut builder = ClientBuilder::unix(&socket);
    if let Some(t) = timeout {
        builder = builder.timeout(t);
    }
    (builder.build().unwrap(), seen, dir)
}

// ---------------------------------------------------------------------------------------
// Exports bound to the fingerprint asked for.

fn sha256_hex(data: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Serves image `served` (whose export is `content`) whatever image is asked for.
fn lying_image_server(served: String, content: &'static [u8]) -> Script {
    Arc::new(move |req: &Req| {
        if req.target.ends_with("/export") {
            done(http(
                "200 OK",
                &[("Content-Type", "application/octet-stream")],
                content,
                content.len(),
            ))
        } else {
            let image = format!(
                r#"{{"fingerprint":"{served}","filename":"other.tar.gz","size":{},"type":"container","public":false,"properties":{{}},"aliases":[]}}"#,
                content.len()
            );
            done(json(&image, &[]))
        }
    })
}

#[tokio::test]
async fn an_export_of_another_image_is_refused_and_leaves_no_file() {
    let content: &'static [u8] = b"not the image you asked for";
    let served = sha256_hex(content);
    let asked = "a".repeat(64);
    for asked in [asked.as_str(), "aaaa"] {
        let (client, seen, sock) =
            scripted(lying_image_server(served.clone(), content), None).await;
        let work = scratch("export");
        let dest = work.join("image.tar.gz");
        let err = client
            .images()
            .export_to_path(asked, &dest)
            .await
            .unwrap_err();
        assert!(err.is_malformed(), "{asked}: {err:?}");
        assert!(err.to_string().contains(&served), "{err}");
        assert!(names_in(&work).is_empty(), "{asked}: {:?}", names_in(&work));
        // Refused before downloading anything.
        assert!(
            !seen
                .lock()
                .unwrap()
                .iter()
                .any(|r| r.target.ends_with("/export")),
            "{asked}"
        );
        // Same for a writer: nothing written.
        let mut out = Vec::new();
        let err = client
            .images()
            .export_to_writer(asked, &mut out)
            .await
            .unwrap_err();
        assert!(err.is_malformed(), "{err:?}");
        assert!(out.is_empty());
        std::fs::remove_dir_all(&work).unwrap();
        std::fs::remove_dir_all(&sock).unwrap();
    }
    // The honest case passes: asked for what is served (all of it, or a prefix).
    for asked in [served.clone(), served[..8].to_uppercase()] {
        let (client, _, sock) = scripted(lying_image_server(served.clone(), content), None).await;
        let work = scratch("export-ok");
        let done = client
            .images()
            .export_to_path(&asked, work.join("i"))
            .await
            .unwrap();
        assert_eq!(done.fingerprint, served);
        assert_eq!(std::fs::read(work.join("i")).unwrap(), content);
        std::fs::remove_dir_all(&work).unwrap();
        std::fs::remove_dir_all(&sock).unwrap();
    }
}

// ---------------------------------------------------------------------------------------
// Local races.

#[tokio::test]
async fn a_directory_swapped_for_a_symlink_mid_pull_redirects_nothing() {
    let work = scratch("swap-dir");
    let dest = work.join("dest");
    let outside = work.join("outside");
    std::fs::create_dir(&dest).unwrap();
    std::fs::create_dir(&outside).unwrap();
    let (d, o) = (dest.clone(), outside.clone());
    // /t holds d, d holds f. When the client asks for f (after it made and listed d), a
    // local neighbour moves d away and puts a symlink to `outside` in its place.
    let script: Script = Arc::new(move |req: &Req| match req.file.as_str() {
        "/t" => done(json(r#"["d"]"#, DIR)),
        "/t/d" => done(json(r#"["f"]"#, DIR)),
        "/t/d/f" => {
            std::fs::rename(d.join("d"), d.join("moved")).unwrap();
            std::os::unix::fs::symlink(&o, d.join("d")).unwrap();
            done(http("200 OK", FILE, b"payload", 7))
        }
        _ => done(http("404 Not Found", &[], b"", 0)),
    });
    let (client, _, sock) = scripted(script, None).await;
    let result = client
        .instances()
        .files("c1")
        .get_recursive("/t", &dest, &GetRecursiveOptions::new())
        .await;
    assert!(
        names_in(&outside).is_empty(),
        "wrote through a symlink that appeared mid-transfer: {:?}",
        names_in(&outside)
    );
    assert_eq!(names_in(&work), ["dest", "outside"]);
    // The file went where the directory went (it was open), and nothing is half-made.
    assert_eq!(std::fs::read(dest.join("moved/f")).unwrap(), b"payload");
    assert!(temporaries(&dest).is_empty());
    // Giving d its mode at the end finds a symlink there: an error, never followed.
    let err = result.unwrap_err();
    assert!(err.is_io(), "{err:?}");
    std::fs::remove_dir_all(&work).unwrap();
    std::fs::remove_dir_all(&sock).unwrap();
}

#[tokio::test]
async fn a_file_swapped_for_a_symlink_mid_push_is_not_sent() {
    let work = scratch("swap-file");
    let source = work.join("src");
    std::fs::create_dir(&source).unwrap();
    std::fs::write(source.join("a"), b"plain").unwrap();
    std::fs::create_dir(source.join("b")).unwrap();
    let secret = work.join("secret");
    std::fs::write(&secret, b"s3cret").unwrap();
    let (src, sec) = (source.clone(), secret.clone());
    // The push lists a (a file) and b (a directory), creates b in the instance, then sends
    // a. When b's creation arrives, a local neighbour replaces a with a symlink to a secret.
    let script: Script = Arc::new(move |req: &Req| {
        let directory = req.header("X-LXD-type") == Some("directory");
        match (req.method.as_str(), req.file.as_str()) {
            ("POST", "/x/b") if directory => {
                std::fs::remove_file(src.join("a")).unwrap();
                std::os::unix::fs::symlink(&sec, src.join("a")).unwrap();
                done(json("{}", &[]))
            }
            ("POST", _) => done(json("{}", &[])),
            ("GET" | "HEAD", "/x" | "/x/b") => done(json("[]", DIR)),
            _ => done(http("404 Not Found", &[], b"", 0)),
        }
    });
    let (client, seen, sock) = scripted(script, None).await;
    let err = client
        .instances()
        .files("c1")
        .put_recursive(&source, "/x", &PutRecursiveOptions::new())
        .await
        .unwrap_err();
    assert!(err.is_io(), "{err:?}");
    let seen = seen.lock().unwrap();
    assert!(
        seen.iter().any(|r| r.file == "/x/b"),
        "the swap point was reached"
    );
    for req in seen.iter() {
        assert!(
            !req.body.windows(6).any(|w| w == b"s3cret"),
            "the symlink's target was sent as {}",
            req.file
        );
    }
    std::fs::remove_dir_all(&work).unwrap();
    std::fs::remove_dir_all(&sock).unwrap();
}

// ---------------------------------------------------------------------------------------
// Timeouts and cancellation of recursive transfers.

#[tokio::test]
async fn recursive_listings_honour_the_client_timeout() {
    // /t lists d; d's listing starts (headers, part of the body) and never ends.
    let script: Script = Arc::new(|req: &Req| match req.file.as_str() {
        "/t" => done(json(r#"["d"]"#, DIR)),
        "/t/d" => {
            let mut h = vec![("Content-Type", "application/json")];
            h.extend_from_slice(DIR);
            Reply {
                bytes: http("200 OK", &h, br#"{"type":"sync","metadata":["#, 1000),
                stall: true,
            }
        }
        _ => done(http("404 Not Found", &[], b"", 0)),
    });
    let (client, _, sock) = scripted(script, Some(Duration::from_millis(300))).await;
    let work = scratch("listing-timeout");
    let files = client.instances().files("c1");
    let options = GetRecursiveOptions::new();
    let pull = files.get_recursive("/t", work.join("dest"), &options);
    // The bound here only turns a hang into a failure; the client's own limit is 0.3 s.
    let err = tokio::time::timeout(Duration::from_secs(20), pull)
        .await
        .expect("the listing was read with no timeout")
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    std::fs::remove_dir_all(&work).unwrap();
    std::fs::remove_dir_all(&sock).unwrap();
}

#[tokio::test]
async fn a_dropped_pull_leaves_no_temporary() {
    // /t holds big, announced as 1 MB; 64 KiB come, then nothing.
    let script: Script = Arc::new(|req: &Req| match req.file.as_str() {
        "/t" => done(json(r#"["big"]"#, DIR)),
        "/t/big" => Reply {
            bytes: http("200 OK", FILE, &[7u8; 65536], 1_000_000),
            stall: true,
        },
        _ => done(http("404 Not Found", &[], b"", 0)),
    });
    let (client, _, sock) = scripted(script, None).await;
    let work = scratch("dropped");
    let dest = work.join("dest");
    let (tx, rx) = tokio::sync::oneshot::channel();
    let tx = Mutex::new(Some(tx));
    let files = client.instances().files("c1").with_progress(move |p| {
        // Content arrived: the temporary file is open.
        if p.bytes > 0
            && let Some(tx) = tx.lock().unwrap().take()
        {
            let _ = tx.send(());
        }
    });
    let options = GetRecursiveOptions::new();
    let pull = files.get_recursive("/t", &dest, &options);
    tokio::select! {
        result = pull => panic!("the pull ended: {result:?}"),
        _ = rx => {}
    }
    // The pull future is dropped here, mid-file.
    assert!(dest.is_dir());
    assert!(temporaries(&work).is_empty(), "{:?}", temporaries(&work));
    assert!(names_in(&dest).is_empty(), "{:?}", names_in(&dest));
    std::fs::remove_dir_all(&work).unwrap();
    std::fs::remove_dir_all(&sock).unwrap();
}

#[tokio::test]
async fn a_pushed_path_that_is_a_symlink_is_refused() {
    fixed_umask();
    let server = TestServer::start().await.unwrap();
    let client = Client::unix(server.socket_path()).unwrap();
    launch(&client, "c1").await;
    let work = scratch("push-link");
    let secret = work.join("id_ed25519");
    std::fs::write(&secret, b"s3cret").unwrap();
    // Where the caller expects a report, someone put a link to a private key.
    let report = work.join("report.txt");
    std::os::unix::fs::symlink(&secret, &report).unwrap();
    let files = client.instances().files("c1");
    let err = files
        .put_from_path("/root/report.txt", &report, &PutOptions::new())
        .await
        .unwrap_err();
    assert!(err.is_io(), "{err:?}");
    assert!(err.to_string().contains("symlink"), "{err}");
    assert!(!files.exists("/root/report.txt").await.unwrap());
    // Image files likewise.
    let err = lxd_client::ImageUpload::unified_from_path(&report)
        .await
        .unwrap_err();
    assert!(err.is_io(), "{err:?}");
    // The file itself, named, goes.
    files
        .put_from_path("/root/key", &secret, &PutOptions::new())
        .await
        .unwrap();
    assert_eq!(files.get_bytes("/root/key").await.unwrap(), b"s3cret");
    std::fs::remove_dir_all(&work).unwrap();
}

#[tokio::test]
async fn links_out_of_the_tree_are_skipped_by_default() {
    const LINK: &[(&str, &str)] = &[
        ("X-LXD-Type", "symlink"),
        ("X-LXD-Uid", "0"),
        ("X-LXD-Gid", "0"),
        ("X-LXD-Mode", "0777"),
    ];
    // An untrusted instance plants a link to the host's secrets in the tree pulled.
    let script: Script = Arc::new(|req: &Req| match req.file.as_str() {
        "/t" => done(json(r#"["shadow", "inside"]"#, DIR)),
        "/t/shadow" => done(http("200 OK", LINK, b"/etc/shadow", 11)),
        "/t/inside" => done(http("200 OK", LINK, b"/t/shadow", 9)),
        _ => done(http("404 Not Found", &[], b"", 0)),
    });
    let (client, _, sock) = scripted(script, None).await;
    let work = scratch("outside-links");
    let dest = work.join("dest");
    let summary = client
        .instances()
        .files("c1")
        .get_recursive("/t", &dest, &GetRecursiveOptions::new())
        .await
        .unwrap();
    let skipped: Vec<&str> = summary.skipped.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(skipped, ["/t/shadow"]);
    assert!(std::fs::symlink_metadata(dest.join("shadow")).is_err());
    // A link within the tree is still made, relative and inside.
    assert_eq!(
        std::fs::read_link(dest.join("inside")).unwrap(),
        Path::new("shadow")
    );
    std::fs::remove_dir_all(&work).unwrap();
    std::fs::remove_dir_all(&sock).unwrap();
}
