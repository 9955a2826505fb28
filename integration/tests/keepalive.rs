//! Keep-alive on the unix socket against a real daemon: bursts of concurrent requests
//! through one client never leave a connection that sent nothing.
//!
//! Why it matters: LXD 5.0.2 answers no connection opened after one that is open but has
//! not sent a request, until that one closes (see docs/connecting.md). A pool that opens a
//! connection and then parks it unused (hyper's legacy pool does, when an idle connection
//! wins the race against the connect) stalls every other client of the daemon, the `lxc` CLI
//! and our own websockets included. So after each burst, a FRESH raw connection of our own
//! must be answered within [`ANSWER_WITHIN`], and exec and an event stream (websockets, on
//! connections of their own) must work.

use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::future::join_all;
use lxd_client::proto::EventType;
use lxd_client::{Client, EventItem};
use lxd_integration::{Env, kill_and_delete, launch, require, unique};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

/// How long a fresh connection may wait for its answer. The daemon answers `GET /1.0` in
/// milliseconds; a stall lasts until the silent connection closes (30 s and more).
const ANSWER_WITHIN: Duration = Duration::from_secs(2);

/// The whole of a test; beyond it the test fails instead of hanging CI.
const WHOLE_TEST: Duration = Duration::from_secs(5 * 60);

/// Concurrent requests per burst, and bursts per test.
const WIDTH: usize = 32;
const BURSTS: usize = 6;

/// A spread of small delays (0 to 1.5 ms) so the requests of a burst start, and come free,
/// at different moments: that is when a pool may race a connect against a connection
/// coming free.
fn jitter(round: usize, i: usize) -> Duration {
    Duration::from_micros(((i * 7919 + round * 104_729) % 1500) as u64)
}

/// One burst of [`WIDTH`] concurrent requests through `client` (`GET /1.0` and two
/// listings); panics on any failure.
async fn burst(client: &Client, round: usize) {
    let requests = (0..WIDTH).map(|i| async move {
        tokio::time::sleep(jitter(round, i)).await;
        match i % 3 {
            0 => client.server_with_etag().await.map(|_| ()),
            1 => client.profiles().list_names().await.map(|_| ()),
            _ => client.instances().list_names().await.map(|_| ()),
        }
    });
    for (i, result) in join_all(requests).await.into_iter().enumerate() {
        if let Err(e) = result {
            panic!("burst {round}, request {i}: {e}");
        }
    }
}

/// A fresh raw connection sends `GET /1.0`; returns how long its answer's status line took.
/// Panics if it takes longer than [`ANSWER_WITHIN`]: the daemon is stalled.
async fn fresh_connection_is_answered(env: &Env, after: &str) -> Duration {
    let started = Instant::now();
    let answer = async {
        let mut stream = UnixStream::connect(&env.socket).await?;
        stream
            .write_all(b"GET /1.0 HTTP/1.1\r\nHost: lxd\r\nConnection: close\r\n\r\n")
            .await?;
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(2).any(|w| w == b"\r\n") {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        Ok::<_, std::io::Error>(head)
    };
    let head = tokio::time::timeout(ANSWER_WITHIN, answer)
        .await
        .unwrap_or_else(|_| {
            panic!(
                "a fresh connection got no answer within {ANSWER_WITHIN:?} {after}: the daemon \
                 is stalled by a connection that sent nothing"
            )
        })
        .expect("the raw request");
    let status = String::from_utf8_lossy(&head);
    assert!(status.starts_with("HTTP/1.1 200"), "{after}: {status}");
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_bursts_of_concurrent_requests_a_fresh_connection_is_answered() {
    let env = require!();
    tokio::time::timeout(WHOLE_TEST, async {
        let client = env.client();
        let mut slowest = Duration::ZERO;
        for round in 0..BURSTS {
            burst(&client, round).await;
            // The client is alive and keeps its idle connections.
            let took = fresh_connection_is_answered(&env, &format!("after burst {round}")).await;
            slowest = slowest.max(took);
        }
        eprintln!(
            "{BURSTS} bursts of {WIDTH} concurrent requests; slowest fresh answer {slowest:?}"
        );
        // And the client still works after all that (on its kept connections).
        client.server_with_etag().await.unwrap();
    })
    .await
    .expect("the test ends (no hang)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_and_events_work_right_after_a_burst() {
    let env = require!();
    let client = env.client();
    let name = unique("itkeep");
    launch(&client, &env.from_image(&name)).await;
    let outcome = tokio::time::timeout(WHOLE_TEST, async {
        for round in 0..3 {
            burst(&client, round).await;
            // Exec: the operation's websockets are fresh connections, right after the burst.
            let out = tokio::time::timeout(
                Duration::from_secs(30),
                client
                    .instances()
                    .exec(&name, ["sh", "-c", "echo keep-$0", &round.to_string()])
                    .run(),
            )
            .await
            .unwrap_or_else(|_| panic!("exec after burst {round} hung"))
            .unwrap_or_else(|e| panic!("exec after burst {round}: {e}"));
            assert_eq!(out.exit_code, 0, "{out:?}");
            assert_eq!(out.stdout_text(), format!("keep-{round}\n"));

            burst(&client, round + 100).await;
            // An event stream, then an event it must see: a request made after it opened.
            let mut events = tokio::time::timeout(
                Duration::from_secs(10),
                client.events().types([EventType::Lifecycle]).connect(),
            )
            .await
            .unwrap_or_else(|_| panic!("opening events after burst {round} hung"))
            .unwrap();
            let profile = unique("itkeep-p");
            lxd_integration::create_profile(&client, &profile).await;
            let seen = tokio::time::timeout(Duration::from_secs(10), async {
                while let Some(item) = events.next().await {
                    if let EventItem::Event(event) = item.unwrap()
                        && lxd_integration::profile_created(&event).as_deref() == Some(&profile)
                    {
                        return true;
                    }
                }
                false
            })
            .await
            .unwrap_or(false);
            lxd_integration::delete_profile(&client, &profile).await;
            assert!(seen, "the profile-created event after burst {round}");
        }
    })
    .await;
    kill_and_delete(&client, &name).await.unwrap();
    outcome.expect("the test ends (no hang)");
}
