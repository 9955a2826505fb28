//! Bad names and paths are refused before any request: every entry point taking an
//! instance, snapshot, image alias or project name, or a path in an instance, answers a bad
//! one with [`Error::InvalidInput`] (saying what is wrong) and the test server sees no
//! request at all (it counts them).

use std::fmt::Debug;
use std::future::Future;

use lxd_client::proto::{
    InstanceSnapshotsPost, InstanceSource, InstanceStatePut, InstancesPost, ProjectsPost,
};
use lxd_client::{Client, ClientBuilder, DirOptions, Error, PutOptions};
use lxd_testkit::TestServer;

/// Bad for every kind of name: empty, a path, reserved, control characters.
const COMMON: &[&str] = &[
    "", "/", "a/b", "/a", "a/", ".", "..", "../x", "a\nb", "a\0b", "a\tb", "a\u{7f}b",
];

fn instance_names() -> Vec<String> {
    let mut names: Vec<String> = COMMON.iter().map(|s| s.to_string()).collect();
    names.extend(
        [
            "a b", " a", "-a", "a-", "1a", "a_b", "a.b", "a?b", "a#b", "a%b", "é",
        ]
        .map(String::from),
    );
    names.push("a".repeat(64));
    names.push("a".repeat(4096));
    names
}

fn with_spaces() -> Vec<String> {
    let mut names: Vec<String> = COMMON.iter().map(|s| s.to_string()).collect();
    names.extend(["a b", " "].map(String::from));
    names
}

const PATHS: &[&str] = &["", "relative", "etc/passwd", "./x", "/a\0b"];

struct Checker {
    server: TestServer,
    client: Client,
    checked: usize,
}

impl Checker {
    async fn new() -> Checker {
        let server = TestServer::start().await.unwrap();
        let client = Client::unix(server.socket_path()).unwrap();
        Checker {
            server,
            client,
            checked: 0,
        }
    }

    /// Asserts that `call` fails with a clear invalid-input error and sends nothing.
    async fn refuses<T: Debug>(
        &mut self,
        what: &str,
        input: &str,
        call: impl Future<Output = lxd_client::Result<T>>,
    ) {
        let before = self.server.faults().requests_seen();
        let result = call.await;
        let after = self.server.faults().requests_seen();
        match result {
            Ok(value) => panic!("{what}({input:?}) was accepted: {value:?}"),
            Err(error) => {
                assert!(
                    matches!(error, Error::InvalidInput { .. }),
                    "{what}({input:?}): {error:?}"
                );
                let text = error.to_string();
                assert!(text.starts_with("invalid "), "{what}({input:?}): {text}");
            }
        }
        assert_eq!(before, after, "{what}({input:?}) sent a request");
        self.checked += 1;
    }
}

#[tokio::test]
async fn bad_instance_names_are_refused_before_any_request() {
    let mut c = Checker::new().await;
    let instances = c.client.instances();
    for name in instance_names() {
        let name = name.as_str();
        c.refuses("instances.get", name, instances.get(name)).await;
        c.refuses("instances.delete", name, instances.delete(name))
            .await;
        c.refuses("instances.rename(from)", name, instances.rename(name, "ok"))
            .await;
        c.refuses("instances.rename(to)", name, instances.rename("ok", name))
            .await;
        // An empty name asks LXD to pick one: only creating takes it.
        if !name.is_empty() {
            let post = InstancesPost {
                name: name.into(),
                source: InstanceSource::image_alias("busybox"),
                ..Default::default()
            };
            c.refuses("instances.create", name, instances.create(&post))
                .await;
        }
        c.refuses(
            "instances.set_state",
            name,
            instances.set_state(name, &InstanceStatePut::start()),
        )
        .await;
        c.refuses("instances.exec", name, instances.exec(name, ["true"]).run())
            .await;
        c.refuses(
            "files.get_bytes",
            name,
            instances.files(name).get_bytes("/etc/hostname"),
        )
        .await;
        c.refuses(
            "snapshots.list",
            name,
            instances.snapshots(name).list_names(),
        )
        .await;
    }
    println!("{} refusals checked", c.checked);
}

#[tokio::test]
async fn bad_snapshot_names_are_refused_before_any_request() {
    let mut c = Checker::new().await;
    let snapshots = c.client.instances().snapshots("c1");
    for name in with_spaces() {
        let name = name.as_str();
        c.refuses("snapshots.get", name, snapshots.get(name)).await;
        c.refuses("snapshots.delete", name, snapshots.delete(name))
            .await;
        c.refuses("snapshots.rename(from)", name, snapshots.rename(name, "s"))
            .await;
        c.refuses("snapshots.rename(to)", name, snapshots.rename("s", name))
            .await;
        // An empty name asks LXD to pick one (snap0, snap1...).
        if !name.is_empty() {
            let post = InstanceSnapshotsPost {
                name: name.into(),
                ..Default::default()
            };
            c.refuses("snapshots.create", name, snapshots.create(&post))
                .await;
        }
    }
    println!("{} refusals checked", c.checked);
}

#[tokio::test]
async fn bad_image_alias_names_are_refused_before_any_request() {
    let mut c = Checker::new().await;
    let images = c.client.images();
    let aliases = images.aliases();
    let fingerprint = "ab".repeat(32);
    // LXD allows '/' in alias names (`ubuntu/22.04`): only the other bad names apply.
    for name in COMMON.iter().filter(|n| !n.contains('/')) {
        c.refuses("aliases.get", name, aliases.get(name)).await;
        c.refuses("aliases.delete", name, aliases.delete(name))
            .await;
        c.refuses(
            "aliases.create",
            name,
            aliases.create(name, &fingerprint, ""),
        )
        .await;
        c.refuses("aliases.rename(from)", name, aliases.rename(name, "x"))
            .await;
        c.refuses("aliases.rename(to)", name, aliases.rename("x", name))
            .await;
        c.refuses("images.get_by_alias", name, images.get_by_alias(name))
            .await;
    }
    println!("{} refusals checked", c.checked);
}

#[tokio::test]
async fn bad_project_names_are_refused_before_any_request() {
    let mut c = Checker::new().await;
    let projects = c.client.projects();
    for name in with_spaces() {
        let name = name.as_str();
        c.refuses("projects.get", name, projects.get(name)).await;
        c.refuses("projects.delete", name, projects.delete(name))
            .await;
        c.refuses("projects.rename(from)", name, projects.rename(name, "p"))
            .await;
        c.refuses("projects.rename(to)", name, projects.rename("p", name))
            .await;
        let post = ProjectsPost {
            name: name.into(),
            ..Default::default()
        };
        c.refuses("projects.create", name, projects.create(&post))
            .await;
        let client = c.client.clone();
        c.refuses("Client::with_project", name, async move {
            client.with_project(name)
        })
        .await;
        let socket = c.server.socket_path().to_path_buf();
        c.refuses("ClientBuilder::project", name, async move {
            ClientBuilder::unix(socket).project(name).build()
        })
        .await;
    }
    println!("{} refusals checked", c.checked);
}

#[tokio::test]
async fn bad_file_paths_are_refused_before_any_request() {
    let mut c = Checker::new().await;
    let files = c.client.instances().files("c1");
    for path in PATHS {
        c.refuses("files.get_bytes", path, files.get_bytes(path))
            .await;
        c.refuses(
            "files.put_bytes",
            path,
            files.put_bytes(path, "x", &PutOptions::new()),
        )
        .await;
        c.refuses("files.stat", path, files.stat(path)).await;
        c.refuses("files.list_dir", path, files.list_dir(path))
            .await;
        c.refuses("files.delete", path, files.delete(path)).await;
        c.refuses(
            "files.create_dir",
            path,
            files.create_dir(path, &DirOptions::new()),
        )
        .await;
        c.refuses(
            "files.create_symlink",
            path,
            files.create_symlink(path, "/target"),
        )
        .await;
    }
    println!("{} refusals checked", c.checked);
}

#[test]
fn bad_certificates_and_fingerprints_are_invalid_input() {
    let builds = [
        (
            "client certificate",
            Client::https("127.0.0.1:8443")
                .client_certificate_pem(b"not a certificate", b"not a key")
                .server_fingerprint("ab".repeat(32))
                .build(),
        ),
        (
            "server certificate",
            Client::https("127.0.0.1:8443")
                .server_certificate_pem(b"not a certificate")
                .build(),
        ),
        (
            "server fingerprint",
            Client::https("127.0.0.1:8443")
                .server_fingerprint("not hex")
                .build(),
        ),
    ];
    for (what, built) in builds {
        let err = built.expect_err(what);
        assert!(err.is_invalid_input(), "{what}: {err:?}");
        assert!(!err.is_connect(), "{what}: {err:?}");
    }
}
