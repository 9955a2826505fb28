//! The fault matrix: every class of call (plain request, operation wait, exec session, file
//! get and put, recursive get and put, image upload and export, event stream) under every
//! fault `lxd-testkit` can inject that applies to it (connection reset mid-response, truncated
//! or malformed JSON, an error reply, a reply slower than the configured timeout, a websocket
//! closed mid-stream, an operation that never ends, a body that stalls half-way while the
//! caller drops the call).
//!
//! Each case must end in the error the reliability page names (its predicate, not just "an
//! error") within the time the page states (a measured bound: see [`bound`]): no panic, no
//! hang (every call is wrapped in `tokio::time::timeout`, so a hang fails the test), and no
//! file at the final path of a download, no temporary left beside it, no partial file
//! anywhere in a recursive pull. Afterwards the same client must work again. Combinations
//! that do not apply (a plain GET has no websocket) are listed in docs/reliability.md.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures::StreamExt;
use lxd_client::proto::ProfilesPost;
use lxd_client::{
    Client, ClientBuilder, Error, GetRecursiveOptions, ImageUpload, PutOptions, PutRecursiveOptions,
};
use lxd_testkit::{Fault, FaultRule, TestServer};

mod support;
use support::{busybox, launch};

/// The client's configured request timeout.
const TIMEOUT: Duration = Duration::from_millis(500);
/// Longer than anything the library may legitimately take here: reaching it is a hang.
const HANG: Duration = Duration::from_secs(25);
/// The deadline a caller gives calls the library does not bound by design (transfers and
/// event streams take as long as they take): the library must then be cancel-safe.
const CALLER_DEADLINE: Duration = Duration::from_secs(2);
/// What an injected LXD error says.
const INJECTED: &str = "fault injected by the matrix";
/// Added to every timing bound: a loaded 2-core machine runs the whole suite at once.
const SLACK: Duration = Duration::from_secs(2);
/// The idle timeout of the client under [`Kind::StalledBody`] (the default is 60 s).
const IDLE: Duration = Duration::from_secs(1);
/// What the library adds to an operation deadline for the HTTP request of its `/wait`
/// long-poll (lxd-client's operation.rs): how late a wait on a stalled server may end.
const WAIT_REQUEST_SLACK: Duration = Duration::from_secs(10);
/// The deadline given to `Operation::wait_timeout`.
const OPERATION_DEADLINE: Duration = Duration::from_secs(1);
/// The tree pulled by `get_recursive` (in the instance, below [`REMOTE_TREE`]) and pushed by
/// `put_recursive`: relative path and content (directories end in `/`).
const TREE: &[(&str, usize)] = &[
    ("a", 64 << 10),
    ("b", 64 << 10),
    ("sub/", 0),
    ("sub/c", 300),
];
const REMOTE_TREE: &str = "/root/tree";
/// A tree whose top holds only a directory: the second request of a pull is a listing,
/// which is where a broken JSON reply can be told (a file's bytes are whatever arrives).
const DIRS: &[(&str, usize)] = &[("sub/", 0), ("sub/c", 300)];
const REMOTE_DIRS: &str = "/root/dirs";
/// Big files pulled one at a time: the first stalls half-way, leaving its temporary open.
const BIG: &[(&str, usize)] = &[("big1", 1 << 20), ("big2", 1 << 20)];
const REMOTE_BIG: &str = "/root/big";
/// The files endpoint of the instance.
const FILES: &str = "/1.0/instances/c1/files";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Plain,
    OperationWait,
    Exec,
    FileGet,
    FilePut,
    GetRecursive,
    PutRecursive,
    ImageUpload,
    ImageExport,
    Events,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Reset,
    Truncated,
    Malformed,
    ErrorReply,
    Slow,
    WebsocketClosed,
    NeverEnds,
    /// The reply body stops half-way (connection open); the caller drops the call once
    /// the download has begun to land locally.
    Cancelled,
    /// The reply body stops half-way (connection open) under a client with an idle
    /// timeout of [`IDLE`].
    StalledBody,
}

/// How a faulty call ended.
#[derive(Debug)]
enum Outcome {
    /// The library returned this error.
    Failed(Error),
    /// The caller's own deadline fired first (only for calls without a library deadline).
    CallerDeadline,
    /// The caller dropped the call mid-write, with these entries below the destination.
    Dropped(Vec<String>),
}

struct Fixture {
    server: TestServer,
    client: Client,
    /// Where downloads go; must hold nothing but complete files after a failed download.
    local: PathBuf,
    /// What `put_recursive` pushes.
    source: PathBuf,
    image: String,
}

/// The content of a tree file: distinct per name, so a mix-up shows.
fn content(name: &str, len: usize) -> Vec<u8> {
    let seed = name
        .bytes()
        .fold(7u8, |a, b| a.wrapping_mul(31).wrapping_add(b));
    (0..len).map(|i| (i % 251) as u8 ^ seed).collect()
}

impl Fixture {
    async fn new(class: Class, kind: Kind) -> Fixture {
        let server = TestServer::start().await.unwrap();
        let mut client = ClientBuilder::unix(server.socket_path()).timeout(TIMEOUT);
        if kind == Kind::StalledBody {
            client = client.idle_timeout(IDLE);
        }
        let client = client.build().unwrap();
        let local = server.dir().join("local");
        std::fs::create_dir_all(&local).unwrap();
        let source = server.dir().join("source");
        if matches!(
            class,
            Class::Exec
                | Class::FileGet
                | Class::FilePut
                | Class::GetRecursive
                | Class::PutRecursive
        ) {
            launch(&client, "c1").await;
            let files = client.instances().files("c1");
            files
                .put_bytes("/root/data", vec![7u8; 64 * 1024], &PutOptions::new())
                .await
                .unwrap();
            for (root, tree) in [(REMOTE_TREE, TREE), (REMOTE_BIG, BIG), (REMOTE_DIRS, DIRS)] {
                files.create_dir(root, &Default::default()).await.unwrap();
                for (name, len) in tree {
                    let path = format!("{root}/{name}");
                    match name.strip_suffix('/') {
                        Some(dir) => files
                            .create_dir(&format!("{root}/{dir}"), &Default::default())
                            .await
                            .unwrap(),
                        None => files
                            .put_bytes(&path, content(name, *len), &PutOptions::new())
                            .await
                            .unwrap(),
                    }
                }
            }
        }
        std::fs::create_dir_all(source.join("sub")).unwrap();
        for (name, len) in TREE.iter().filter(|(n, _)| !n.ends_with('/')) {
            std::fs::write(source.join(name), content(name, *len)).unwrap();
        }
        let image = client
            .images()
            .get_by_alias("busybox")
            .await
            .unwrap()
            .fingerprint;
        Fixture {
            server,
            client,
            local,
            source,
            image,
        }
    }

    /// The request a fault of this class targets.
    fn rule(&self, class: Class, kind: Kind) -> FaultRule {
        let fault = match kind {
            Kind::Reset => Fault::ResetMidResponse,
            Kind::Truncated => Fault::TruncatedJson,
            Kind::Malformed => Fault::MalformedJson,
            Kind::ErrorReply => Fault::Error {
                status: 503,
                message: INJECTED.into(),
            },
            Kind::Slow => Fault::Latency(Duration::from_secs(60)),
            Kind::WebsocketClosed => match class {
                Class::Events => Fault::CloseEventsWebsocket,
                _ => Fault::CloseExecWebsocket,
            },
            Kind::NeverEnds => Fault::StallOperation,
            Kind::Cancelled | Kind::StalledBody => Fault::StallMidResponse,
        };
        let rule = FaultRule::new(fault);
        match (class, kind) {
            (Class::Plain, _) => rule.method("GET").path("/1.0/instances"),
            (Class::OperationWait, Kind::NeverEnds) => rule.method("POST").path("/1.0/instances"),
            (Class::OperationWait, _) => rule.method("GET").path("/1.0/operations"),
            (Class::Exec, _) => rule.method("POST").path("/1.0/instances/c1/exec"),
            (Class::FileGet, _) => rule.method("GET").path("/1.0/instances/c1/files"),
            (Class::FilePut, _) => rule.method("POST").path("/1.0/instances/c1/files"),
            // Mid-tree: the root listing (and, for an error reply, the next request too) go
            // through; the fault hits what follows (a listing or a file, one at a time).
            (Class::GetRecursive, Kind::ErrorReply) => {
                rule.method("GET").path(FILES).after(2).times(1)
            }
            (Class::GetRecursive, _) => rule.method("GET").path(FILES).after(1).times(1),
            // The first push (the top directory) goes through.
            // A file push (after `/up` and `/up/sub`) that the server never reads.
            (Class::PutRecursive, Kind::Cancelled) => {
                FaultRule::new(Fault::Latency(Duration::from_secs(60)))
                    .method("POST")
                    .path(FILES)
                    .after(2)
                    .times(1)
            }
            (Class::PutRecursive, _) => rule.method("POST").path(FILES).after(1).times(1),
            (Class::ImageUpload, _) => rule.method("POST").path("/1.0/images"),
            (Class::ImageExport, _) => rule
                .method("GET")
                .path(&format!("/1.0/images/{}/export", self.image)),
            (Class::Events, _) => rule.method("GET").path("/1.0/events"),
        }
    }

    fn download(&self) -> PathBuf {
        self.local.join("download")
    }

    /// The call of this class; `Ok` is success (which no fault may produce).
    async fn call(&self, class: Class, kind: Kind) -> Result<(), Outcome> {
        let client = &self.client;
        let failed = Outcome::Failed;
        let files = client.instances().files("c1");
        match class {
            Class::Plain => client
                .instances()
                .list_names()
                .await
                .map(drop)
                .map_err(failed),
            Class::OperationWait => {
                let op = client
                    .instances()
                    .create(&busybox("c2"))
                    .await
                    .map_err(failed)?;
                op.wait_timeout(OPERATION_DEADLINE)
                    .await
                    .map(drop)
                    .map_err(Outcome::Failed)
            }
            Class::Exec => {
                // A command may run for ever: only the caller knows how long is too long.
                let out =
                    caller_bounded(client.instances().exec("c1", ["echo", "hello"]).run()).await?;
                // A session that "succeeds" with its output lost is not success.
                if out.exit_code == 0 && out.stdout == b"hello\n" {
                    Ok(())
                } else {
                    Err(Outcome::Failed(Error::Io {
                        context: format!("exec ended with {out:?}"),
                        source: std::io::Error::other("incomplete"),
                    }))
                }
            }
            Class::FileGet => {
                self.bounded(kind, files.get_to_path("/root/data", self.download()))
                    .await
            }
            Class::FilePut => {
                caller_bounded(files.put_bytes("/root/new", vec![1u8; 4096], &PutOptions::new()))
                    .await
            }
            Class::GetRecursive => {
                // One file at a time, so "the next request" is well defined.
                let options = GetRecursiveOptions::new().concurrency(1);
                let (remote, _) = pulled_tree(kind);
                self.bounded(kind, files.get_recursive(remote, self.download(), &options))
                    .await
            }
            Class::PutRecursive => {
                let options = PutRecursiveOptions::new().concurrency(1);
                // At the top (no parents to create): the first push creates it, the second
                // creates `sub` (directories are made while listing, files sent after).
                caller_bounded(files.put_recursive(&self.source, "/up", &options))
                    .await
                    .map(drop)
            }
            Class::ImageUpload => {
                let data = b"an image that never makes it".to_vec();
                let len = data.len() as u64;
                let upload =
                    ImageUpload::unified_from_reader(std::io::Cursor::new(data), Some(len));
                let op = caller_bounded(client.images().upload(upload)).await?;
                op.wait_timeout(OPERATION_DEADLINE)
                    .await
                    .map(drop)
                    .map_err(Outcome::Failed)
            }
            Class::ImageExport => {
                self.bounded(
                    kind,
                    client.images().export_to_path(&self.image, self.download()),
                )
                .await
            }
            Class::Events => {
                // Connecting is bounded by the library (the request timeout, then a bounded
                // wait for the registration).
                let mut events = client.events().connect().await.map_err(failed)?;
                // Something to deliver: the stream must carry it, then report the loss.
                client
                    .profiles()
                    .create(&ProfilesPost {
                        name: "p1".into(),
                        ..Default::default()
                    })
                    .await
                    .map_err(failed)?;
                let mut delivered = 0;
                loop {
                    let next = tokio::time::timeout(CALLER_DEADLINE, events.next()).await;
                    match next {
                        Err(_) if kind == Kind::WebsocketClosed => {
                            return Err(Outcome::CallerDeadline);
                        }
                        // A healthy stream stays open: the fault did not bite.
                        Err(_) => return Ok(()),
                        Ok(None) => {
                            return Err(Outcome::Failed(Error::Io {
                                context: format!("stream ended after {delivered} items"),
                                source: std::io::Error::other("ended without an error"),
                            }));
                        }
                        Ok(Some(Ok(_))) => delivered += 1,
                        Ok(Some(Err(e))) => {
                            assert!(delivered >= 1, "the event before the cut is delivered");
                            return Err(Outcome::Failed(e));
                        }
                    }
                }
            }
        }
    }

    /// A download or transfer: under [`Kind::Cancelled`], dropped as soon as something
    /// lands below `local` (the temporary of the stalled file, open and half written);
    /// otherwise bounded by the caller's deadline.
    async fn bounded<T>(
        &self,
        kind: Kind,
        future: impl std::future::Future<Output = lxd_client::Result<T>>,
    ) -> Result<(), Outcome> {
        if kind != Kind::Cancelled {
            return caller_bounded(future).await.map(drop);
        }
        let landed = async {
            // Polling the file system (no sleep stands for an event here): the bound is
            // the caller's deadline. A non-empty file below the destination is the stalled
            // download being written.
            loop {
                let seen = walk(&self.local);
                if seen.iter().any(|entry| {
                    std::fs::symlink_metadata(self.local.join(entry))
                        .is_ok_and(|m| m.is_file() && m.len() > 0)
                }) {
                    return seen;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        tokio::select! {
            result = future => result.map(drop).map_err(Outcome::Failed),
            // The future is dropped here, mid-write.
            seen = landed => Err(Outcome::Dropped(seen)),
            _ = tokio::time::sleep(CALLER_DEADLINE) => {
                panic!("nothing landed locally within {CALLER_DEADLINE:?}: cancellation mid-write untested")
            }
        }
    }

    /// What a complete local copy holds below the download path: relative path -> content
    /// (`None` for a directory).
    fn expected_download(&self, class: Class, kind: Kind) -> BTreeMap<String, Option<Vec<u8>>> {
        let mut map = BTreeMap::new();
        match class {
            Class::GetRecursive => {
                for (name, len) in pulled_tree(kind).1 {
                    match name.strip_suffix('/') {
                        Some(dir) => map.insert(format!("download/{dir}"), None),
                        None => map.insert(format!("download/{name}"), Some(content(name, *len))),
                    };
                }
                map.insert("download".into(), None);
            }
            Class::FileGet => {
                map.insert("download".into(), Some(vec![7u8; 64 * 1024]));
            }
            _ => {}
        }
        map
    }
}

/// The tree `get_recursive` pulls under `kind`: big files to stall in, directories only
/// for broken JSON, else the mixed tree.
fn pulled_tree(kind: Kind) -> (&'static str, &'static [(&'static str, usize)]) {
    match kind {
        Kind::Cancelled | Kind::StalledBody => (REMOTE_BIG, BIG),
        Kind::Truncated | Kind::Malformed => (REMOTE_DIRS, DIRS),
        _ => (REMOTE_TREE, TREE),
    }
}

/// Bounds a call the library leaves unbounded by design.
async fn caller_bounded<T>(
    future: impl std::future::Future<Output = lxd_client::Result<T>>,
) -> Result<T, Outcome> {
    match tokio::time::timeout(CALLER_DEADLINE, future).await {
        Ok(result) => result.map_err(Outcome::Failed),
        Err(_) => Err(Outcome::CallerDeadline),
    }
}

/// Every entry below `dir`, relative, sorted.
fn walk(dir: &Path) -> Vec<String> {
    fn go(base: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            out.push(path.strip_prefix(base).unwrap().display().to_string());
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                go(base, &path, out);
            }
        }
    }
    let mut out = Vec::new();
    go(dir, dir, &mut out);
    out.sort();
    out
}

/// Whether the library bounds this call by itself (the configured timeout, an operation
/// deadline) rather than leaving it to the caller.
fn library_bounded(class: Class, kind: Kind) -> bool {
    match kind {
        // A file's or an export's reply up to its content, a pull's listings, and a push's
        // directory creations honour the timeout; uploads are the caller's (C).
        Kind::Slow => matches!(
            class,
            Class::Plain
                | Class::OperationWait
                | Class::Exec
                | Class::FileGet
                | Class::GetRecursive
                | Class::PutRecursive
                | Class::ImageExport
        ),
        Kind::NeverEnds => class != Class::Exec,
        Kind::Cancelled => false,
        _ => true,
    }
}

/// The error the reliability page names for this cell.
fn expected_error(kind: Kind, error: &Error) -> bool {
    // The connection went away mid-reply: a transport error that is neither a refused
    // connection nor a timeout, and never half a document decoded.
    let cut = error.is_disconnected()
        && !error.is_timeout()
        && !error.is_connect()
        && !error.is_malformed();
    match kind {
        Kind::Reset => cut,
        // The body is the image: its SHA-256 no longer matches the fingerprint.
        Kind::Truncated | Kind::Malformed => error.is_malformed(),
        Kind::ErrorReply => {
            // Some calls add what they were doing to LXD's message.
            matches!(error, Error::Api { .. })
                && error.status() == Some(503)
                && error.lxd_message().is_some_and(|m| m.starts_with(INJECTED))
        }
        Kind::Slow => error.is_timeout() && !matches!(error, Error::OperationTimeout { .. }),
        // The exec stream and the event stream: the server went away.
        Kind::WebsocketClosed => cut,
        Kind::NeverEnds => matches!(error, Error::OperationTimeout { .. }),
        Kind::StalledBody => error.is_idle_timeout() && error.is_timeout(),
        Kind::Cancelled => false,
    }
}

/// How long a cell may take, from the call to its error: the page's promise plus [`SLACK`].
fn bound(class: Class, kind: Kind) -> Duration {
    match kind {
        // The configured timeout, then the error.
        Kind::Slow if class == Class::OperationWait => {
            OPERATION_DEADLINE + WAIT_REQUEST_SLACK + SLACK
        }
        Kind::Slow => TIMEOUT + SLACK,
        // The operation's deadline (after its creation, itself prompt).
        Kind::NeverEnds => OPERATION_DEADLINE + SLACK,
        // Silence for the idle timeout, then the error.
        Kind::StalledBody => IDLE + SLACK,
        // The event stream reports the loss within one wait for the next item.
        Kind::WebsocketClosed if class == Class::Events => CALLER_DEADLINE + SLACK,
        // Anything else is an immediate consequence of what the server sent.
        _ => SLACK,
    }
}

/// Runs one cell of the matrix.
async fn check(class: Class, kind: Kind) {
    let fixture = Fixture::new(class, kind).await;
    fixture.server.faults().add(fixture.rule(class, kind));
    let started = Instant::now();
    let outcome = tokio::time::timeout(HANG, fixture.call(class, kind))
        .await
        .unwrap_or_else(|_| panic!("{class:?} under {kind:?} hung for {HANG:?}"));
    let elapsed = started.elapsed();
    println!("{class:?} x {kind:?}: {outcome:?} after {elapsed:?}");
    match outcome {
        Ok(()) => panic!("{class:?} under {kind:?} claimed success"),
        Err(Outcome::CallerDeadline) => assert!(
            !library_bounded(class, kind),
            "{class:?} under {kind:?} needed the caller's deadline"
        ),
        Err(Outcome::Dropped(seen)) => {
            assert_eq!(kind, Kind::Cancelled);
            println!("dropped with {seen:?} below the destination");
        }
        Err(Outcome::Failed(error)) => {
            assert!(
                kind != Kind::Cancelled,
                "{class:?}: the stalled transfer failed by itself: {error:?}"
            );
            assert!(
                expected_error(kind, &error),
                "{class:?} under {kind:?}: not the error the page names: {error:?}"
            );
            assert!(!error.to_string().is_empty());
            let limit = bound(class, kind);
            assert!(
                elapsed <= limit,
                "{class:?} under {kind:?}: {error:?} after {elapsed:?}, more than {limit:?}"
            );
            let floor = match kind {
                Kind::Slow if class == Class::OperationWait => OPERATION_DEADLINE,
                Kind::Slow => TIMEOUT,
                Kind::NeverEnds => OPERATION_DEADLINE,
                Kind::StalledBody => IDLE,
                _ => Duration::ZERO,
            };
            assert!(
                elapsed >= floor,
                "{class:?} under {kind:?}: early at {elapsed:?}"
            );
        }
    }
    // Below the destination: only complete files and the directories of the tree; no file
    // at the final path of what failed, no temporary (of any name) beside it.
    let expected = fixture.expected_download(class, kind);
    for entry in walk(&fixture.local) {
        let path = fixture.local.join(&entry);
        match expected.get(&entry) {
            None => panic!("{class:?} under {kind:?} left {entry:?} behind"),
            Some(None) => assert!(path.is_dir(), "{entry} is a directory"),
            Some(Some(content)) => assert!(
                std::fs::read(&path).unwrap() == *content,
                "{class:?} under {kind:?}: {entry} is at its final path but not complete"
            ),
        }
    }
    if !matches!(class, Class::GetRecursive) {
        assert!(
            !fixture.download().exists(),
            "{class:?} under {kind:?} left a file at the final path"
        );
    }
    // The same client works again once the fault is gone.
    fixture.server.faults().clear();
    tokio::time::timeout(HANG, fixture.client.instances().list_names())
        .await
        .expect("the client hung after the fault")
        .expect("the client recovers after the fault");
    if matches!(class, Class::GetRecursive | Class::PutRecursive) {
        // And the transfer itself, whole.
        let files = fixture.client.instances().files("c1");
        let again = match class {
            Class::GetRecursive => tokio::time::timeout(
                HANG,
                files.get_recursive(
                    REMOTE_TREE,
                    fixture.local.join("again"),
                    &Default::default(),
                ),
            )
            .await
            .map(drop),
            _ => tokio::time::timeout(
                HANG,
                files.put_recursive(&fixture.source, "/root/again", &Default::default()),
            )
            .await
            .map(drop),
        };
        again.expect("the transfer hung after the fault");
        if class == Class::GetRecursive {
            let sub_c = std::fs::read(fixture.local.join("again/sub/c")).unwrap();
            assert_eq!(sub_c, content("sub/c", 300));
        }
    }
}

macro_rules! matrix {
    ($($name:ident: $class:ident, $kind:ident;)*) => {
        $(
            #[tokio::test]
            async fn $name() {
                check(Class::$class, Kind::$kind).await;
            }
        )*
    };
}

matrix! {
    plain_reset: Plain, Reset;
    plain_truncated: Plain, Truncated;
    plain_malformed: Plain, Malformed;
    plain_error: Plain, ErrorReply;
    plain_slow: Plain, Slow;

    operation_wait_reset: OperationWait, Reset;
    operation_wait_truncated: OperationWait, Truncated;
    operation_wait_malformed: OperationWait, Malformed;
    operation_wait_error: OperationWait, ErrorReply;
    operation_wait_slow: OperationWait, Slow;
    operation_wait_never_ends: OperationWait, NeverEnds;

    exec_reset: Exec, Reset;
    exec_truncated: Exec, Truncated;
    exec_malformed: Exec, Malformed;
    exec_error: Exec, ErrorReply;
    exec_slow: Exec, Slow;
    exec_websocket_closed: Exec, WebsocketClosed;
    exec_never_ends: Exec, NeverEnds;

    file_get_reset: FileGet, Reset;
    file_get_error: FileGet, ErrorReply;
    file_get_slow: FileGet, Slow;
    file_get_cancelled_mid_body: FileGet, Cancelled;
    file_get_stalled_body: FileGet, StalledBody;

    file_put_reset: FilePut, Reset;
    file_put_truncated: FilePut, Truncated;
    file_put_malformed: FilePut, Malformed;
    file_put_error: FilePut, ErrorReply;
    file_put_slow: FilePut, Slow;

    get_recursive_reset: GetRecursive, Reset;
    get_recursive_truncated: GetRecursive, Truncated;
    get_recursive_malformed: GetRecursive, Malformed;
    get_recursive_error: GetRecursive, ErrorReply;
    get_recursive_slow: GetRecursive, Slow;
    get_recursive_cancelled_mid_body: GetRecursive, Cancelled;
    get_recursive_stalled_body: GetRecursive, StalledBody;

    put_recursive_reset: PutRecursive, Reset;
    put_recursive_truncated: PutRecursive, Truncated;
    put_recursive_malformed: PutRecursive, Malformed;
    put_recursive_error: PutRecursive, ErrorReply;
    put_recursive_slow: PutRecursive, Slow;
    put_recursive_cancelled: PutRecursive, Cancelled;

    image_upload_reset: ImageUpload, Reset;
    image_upload_truncated: ImageUpload, Truncated;
    image_upload_malformed: ImageUpload, Malformed;
    image_upload_error: ImageUpload, ErrorReply;
    image_upload_slow: ImageUpload, Slow;
    image_upload_never_ends: ImageUpload, NeverEnds;

    image_export_reset: ImageExport, Reset;
    image_export_truncated: ImageExport, Truncated;
    image_export_malformed: ImageExport, Malformed;
    image_export_error: ImageExport, ErrorReply;
    image_export_slow: ImageExport, Slow;
    image_export_cancelled_mid_body: ImageExport, Cancelled;
    image_export_stalled_body: ImageExport, StalledBody;

    events_error: Events, ErrorReply;
    events_slow: Events, Slow;
    events_websocket_closed: Events, WebsocketClosed;
}
