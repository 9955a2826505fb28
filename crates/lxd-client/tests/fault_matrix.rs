//! The fault matrix: every class of call (plain request, operation wait, exec session, file
//! get and put, image upload and export, event stream) under every fault `lxd-testkit` can
//! inject that applies to it (connection reset mid-response, truncated or malformed JSON, an
//! error reply, a reply slower than the configured timeout, a websocket closed mid-stream, an
//! operation that never ends).
//!
//! Each case must end in a typed error within its deadline: no panic, no hang (every call is
//! wrapped in `tokio::time::timeout`, so a hang fails the test), and no file at the final path
//! of a download (`files.get_to_path`, `images.export_to_path`). Afterwards the same client
//! must work again. Combinations that do not apply (a plain GET has no websocket) are listed
//! in docs/reliability.md.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures::StreamExt;
use lxd_client::proto::ProfilesPost;
use lxd_client::{Client, ClientBuilder, Error, ImageUpload, PutOptions};
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Plain,
    OperationWait,
    Exec,
    FileGet,
    FilePut,
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
}

/// How a faulty call ended.
#[derive(Debug)]
enum Outcome {
    /// The library returned this error.
    Failed(Error),
    /// The caller's own deadline fired first (only for calls without a library deadline).
    CallerDeadline,
}

struct Fixture {
    server: TestServer,
    client: Client,
    /// Where downloads go; must stay empty after a failed download.
    local: PathBuf,
    image: String,
}

impl Fixture {
    async fn new(class: Class) -> Fixture {
        let server = TestServer::start().await.unwrap();
        let client = ClientBuilder::unix(server.socket_path())
            .timeout(TIMEOUT)
            .build()
            .unwrap();
        let local = server.dir().join("local");
        std::fs::create_dir_all(&local).unwrap();
        if matches!(class, Class::Exec | Class::FileGet | Class::FilePut) {
            launch(&client, "c1").await;
            client
                .instances()
                .files("c1")
                .put_bytes("/root/data", vec![7u8; 64 * 1024], &PutOptions::new())
                .await
                .unwrap();
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
        };
        let rule = FaultRule::new(fault);
        match (class, kind) {
            (Class::Plain, _) => rule.method("GET").path("/1.0/instances"),
            (Class::OperationWait, Kind::NeverEnds) => rule.method("POST").path("/1.0/instances"),
            (Class::OperationWait, _) => rule.method("GET").path("/1.0/operations"),
            (Class::Exec, _) => rule.method("POST").path("/1.0/instances/c1/exec"),
            (Class::FileGet, _) => rule.method("GET").path("/1.0/instances/c1/files"),
            (Class::FilePut, _) => rule.method("POST").path("/1.0/instances/c1/files"),
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
                op.wait_timeout(Duration::from_secs(1))
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
            Class::FileGet => caller_bounded(
                client
                    .instances()
                    .files("c1")
                    .get_to_path("/root/data", self.download()),
            )
            .await
            .map(drop),
            Class::FilePut => {
                caller_bounded(client.instances().files("c1").put_bytes(
                    "/root/new",
                    vec![1u8; 4096],
                    &PutOptions::new(),
                ))
                .await
            }
            Class::ImageUpload => {
                let data = b"an image that never makes it".to_vec();
                let len = data.len() as u64;
                let upload =
                    ImageUpload::unified_from_reader(std::io::Cursor::new(data), Some(len));
                let op = caller_bounded(client.images().upload(upload)).await?;
                op.wait_timeout(Duration::from_secs(1))
                    .await
                    .map(drop)
                    .map_err(Outcome::Failed)
            }
            Class::ImageExport => {
                caller_bounded(client.images().export_to_path(&self.image, self.download()))
                    .await
                    .map(drop)
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

fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// Whether the library bounds this call by itself (the configured timeout, an operation
/// deadline) rather than leaving it to the caller.
fn library_bounded(class: Class, kind: Kind) -> bool {
    match kind {
        Kind::Slow => matches!(class, Class::Plain | Class::OperationWait | Class::Exec),
        Kind::NeverEnds => class != Class::Exec,
        _ => true,
    }
}

/// Runs one cell of the matrix.
async fn check(class: Class, kind: Kind) {
    let fixture = Fixture::new(class).await;
    fixture.server.faults().add(fixture.rule(class, kind));
    let started = Instant::now();
    let outcome = tokio::time::timeout(HANG, fixture.call(class, kind))
        .await
        .unwrap_or_else(|_| panic!("{class:?} under {kind:?} hung for {HANG:?}"));
    let elapsed = started.elapsed();
    println!("{class:?} x {kind:?}: {outcome:?} after {elapsed:?}");
    let error = match outcome {
        Ok(()) => panic!("{class:?} under {kind:?} claimed success"),
        Err(Outcome::CallerDeadline) => {
            assert!(
                !library_bounded(class, kind),
                "{class:?} under {kind:?} needed the caller's deadline"
            );
            None
        }
        Err(Outcome::Failed(error)) => Some(error),
    };
    if let Some(error) = &error {
        let ok = match kind {
            // A body cut after its headers: a transport error, never half a document
            // decoded; a transfer cut short fails its size or fingerprint check.
            Kind::Reset => !error.is_malformed() || class == Class::ImageExport,
            Kind::Truncated | Kind::Malformed => match class {
                // The body is the image: its fingerprint no longer matches.
                Class::ImageExport => true,
                _ => error.is_malformed(),
            },
            Kind::ErrorReply => {
                // Some calls add what they were doing to LXD's message.
                error.status() == Some(503)
                    && error.lxd_message().is_some_and(|m| m.starts_with(INJECTED))
            }
            Kind::Slow => error.is_timeout(),
            Kind::WebsocketClosed => true,
            Kind::NeverEnds => error.is_timeout(),
        };
        assert!(ok, "{class:?} under {kind:?}: unexpected {error:?}");
        assert!(!error.to_string().is_empty());
    }
    // Nothing at the final path, and nothing left beside it.
    assert!(
        !fixture.download().exists(),
        "{class:?} under {kind:?} left a file at the final path"
    );
    assert_eq!(
        entries(&fixture.local),
        Vec::<String>::new(),
        "{class:?} under {kind:?} left files behind"
    );
    // The same client works again once the fault is gone.
    fixture.server.faults().clear();
    tokio::time::timeout(HANG, fixture.client.instances().list_names())
        .await
        .expect("the client hung after the fault")
        .expect("the client recovers after the fault");
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

    file_put_reset: FilePut, Reset;
    file_put_truncated: FilePut, Truncated;
    file_put_malformed: FilePut, Malformed;
    file_put_error: FilePut, ErrorReply;
    file_put_slow: FilePut, Slow;

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

    events_error: Events, ErrorReply;
    events_slow: Events, Slow;
    events_websocket_closed: Events, WebsocketClosed;
}
