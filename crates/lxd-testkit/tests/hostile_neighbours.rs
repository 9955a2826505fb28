//! The testkit against hostile input and hostile neighbours (issue #21): header numbers no
//! client can make it panic on, and a default directory no other local user can predict,
//! plant a link at, or have emptied when the server drops.

mod support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::time::Duration;

use lxd_testkit::TestServer;
use support::Api;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends one raw request on `stream` and reads its reply: `(status, head, body)`.
async fn exchange(stream: &mut tokio::net::UnixStream, request: &str) -> (u16, String, String) {
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    while !seen.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut byte))
            .await
            .expect("no reply")
            .expect("the connection was reset (a panic in the handler drops it)");
        assert_eq!(n, 1, "connection closed without a reply: {seen:?}");
        seen.push(byte[0]);
    }
    let head = String::from_utf8(seen).unwrap();
    let status = head[9..12].parse().unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().unwrap())
        })
        .expect("a Content-Length");
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.unwrap();
    (status, head, String::from_utf8(body).unwrap())
}

/// Regression: `X-LXD-mode: -0x-8000000000000000` negated `i64::MIN` in the testkit's Go
/// integer parser, a panic that dropped the connection. LXD's own parser (`Atoi`, then
/// `ParseInt(v, 0, 0)`) refuses such values and falls back to the default mode (-1), and
/// unparsable uid/gid to the default owner: the testkit now does the same, on a connection
/// that stays usable.
#[tokio::test]
async fn file_header_numbers_out_of_range_are_lxds_defaults_not_a_panic() {
    let server = TestServer::start().await.unwrap();
    Api::unix(&server).launch("c1").await;
    let mut unix = tokio::net::UnixStream::connect(server.socket_path())
        .await
        .unwrap();
    let hostile = [
        ("X-LXD-mode", "-0x-8000000000000000"),
        ("X-LXD-mode", "-0x8000000000000000"),
        ("X-LXD-mode", "-9223372036854775808"),
        ("X-LXD-mode", "99999999999999999999999"),
        ("X-LXD-mode", "0x"),
        ("X-LXD-mode", "--1"),
        ("X-LXD-uid", "-9223372036854775809"),
        ("X-LXD-uid", "-9223372036854775808"),
        ("X-LXD-gid", "18446744073709551616"),
        ("X-LXD-gid", "+-0"),
    ];
    for (index, (name, value)) in hostile.iter().enumerate() {
        let path = format!("/root/f{index}");
        let request = format!(
            "POST /1.0/instances/c1/files?path={path} HTTP/1.1\r\nHost: lxd\r\n{name}: {value}\r\nContent-Length: 2\r\n\r\nhi"
        );
        let (status, head, body) = exchange(&mut unix, &request).await;
        assert_eq!(status, 200, "{name}: {value}: {head}{body}");
        let reply: serde_json::Value = serde_json::from_str(body.trim()).unwrap();
        assert_eq!(reply["type"], "sync", "{name}: {value}");

        // Same connection: the server is still there, and the file got LXD's defaults
        // where the header could not be read (mode 0644; uid/gid 0).
        let stat = format!("GET /1.0/instances/c1/files?path={path} HTTP/1.1\r\nHost: lxd\r\n\r\n");
        let (status, head, body) = exchange(&mut unix, &stat).await;
        assert_eq!((status, body.as_str()), (200, "hi"), "{name}: {value}");
        let header = |h: &str| {
            head.lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case(h).then(|| v.trim().to_string())
                })
                .unwrap()
        };
        assert_eq!(header("x-lxd-mode"), "0644", "{name}: {value}");
        assert_eq!(header("x-lxd-uid"), "0", "{name}: {value}");
        assert_eq!(header("x-lxd-gid"), "0", "{name}: {value}");
    }
}

/// Regression: the default directory was `$TMPDIR/lxd-testkit-<pid>-<n>`. A local user
/// could plant a symlink there in advance: the server then wrote `server.key` through it
/// and, when dropped, deleted the link's target with everything in it. Now the name is
/// random, the directory is created exclusively (0700), files are created without
/// following links, and the removal never follows a link out.
#[tokio::test]
async fn default_directory_cannot_be_predicted_or_planted() {
    let victim = tempfile::tempdir().unwrap();
    std::fs::write(victim.path().join("precious"), "keep me").unwrap();
    // Every name the old scheme would have used in this process, as links to the victim.
    // (A name a server of a parallel test holds already is skipped.)
    let planted: Vec<_> = (0..256)
        .filter_map(|n| {
            let link = std::env::temp_dir().join(format!("lxd-testkit-{}-{n}", std::process::id()));
            std::os::unix::fs::symlink(victim.path(), &link)
                .ok()
                .map(|()| link)
        })
        .collect();
    assert!(planted.len() > 200);
    // Removed however the test ends.
    struct Links(Vec<std::path::PathBuf>);
    impl Drop for Links {
        fn drop(&mut self) {
            for link in &self.0 {
                let _ = std::fs::remove_file(link);
            }
        }
    }
    let planted = Links(planted);

    let first = TestServer::start().await.unwrap();
    let second = TestServer::start().await.unwrap();
    let dirs = [first.dir().to_path_buf(), second.dir().to_path_buf()];
    assert_ne!(dirs[0], dirs[1]);
    for dir in &dirs {
        let meta = std::fs::symlink_metadata(dir).unwrap();
        assert!(meta.is_dir(), "{} is a real directory", dir.display());
        assert_eq!(
            meta.permissions().mode() & 0o777,
            0o700,
            "{}",
            dir.display()
        );
        assert_eq!(meta.uid(), std::fs::metadata(victim.path()).unwrap().uid());
        assert!(!planted.0.iter().any(|p| p == dir), "{}", dir.display());
        let key = std::fs::symlink_metadata(dir.join("server.key")).unwrap();
        assert!(key.is_file());
        assert_eq!(key.permissions().mode() & 0o777, 0o600);
    }
    // A link planted inside the directory after start is removed, not followed, on drop.
    std::os::unix::fs::symlink(victim.path(), dirs[0].join("planted")).unwrap();
    drop(first);
    drop(second);

    for dir in &dirs {
        assert!(!dir.exists(), "{} is removed on drop", dir.display());
    }
    assert_eq!(
        std::fs::read_to_string(victim.path().join("precious")).unwrap(),
        "keep me"
    );
    let left: Vec<_> = std::fs::read_dir(victim.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["precious"], "nothing was written into the victim");
    drop(planted);
}

/// A directory the caller names is reused across runs, but `server.crt` and `server.key`
/// found there as links are replaced, never written through.
#[tokio::test]
async fn identity_files_are_never_written_through_links() {
    let victim = tempfile::tempdir().unwrap();
    std::fs::write(victim.path().join("key"), "not yours").unwrap();
    let dir = tempfile::Builder::new().prefix("tk-").tempdir().unwrap();
    std::os::unix::fs::symlink(victim.path().join("key"), dir.path().join("server.key")).unwrap();
    std::os::unix::fs::symlink(victim.path().join("crt"), dir.path().join("server.crt")).unwrap();
    let server = TestServer::builder().dir(dir.path()).start().await.unwrap();
    let key = std::fs::symlink_metadata(server.dir().join("server.key")).unwrap();
    assert!(key.is_file() && key.permissions().mode() & 0o777 == 0o600);
    assert!(
        std::fs::symlink_metadata(server.dir().join("server.crt"))
            .unwrap()
            .is_file()
    );
    drop(server);
    assert_eq!(
        std::fs::read_to_string(victim.path().join("key")).unwrap(),
        "not yours"
    );
    assert!(!victim.path().join("crt").exists());
}
