//! The workloads done with the raw client ([`crate::raw`]): the floor.

use std::time::Instant;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::harness::{Metric, Result, latency};
use crate::raw::{Body, Raw};
use crate::work::{Ctx, Outcome};

pub async fn run(case: &str, ctx: &Ctx, out: &mut Outcome) -> Result<()> {
    let raw = Raw::new(ctx.socket.clone());
    let raw = &raw;
    let n = &ctx.counts;
    match case {
        "idle" => drop(raw.json("GET", "/1.0", None).await?),
        "W1" => out.push(
            latency("GET /1.0", n.w1, |_| async move {
                raw.json("GET", "/1.0", None).await.map(drop)
            })
            .await?,
        ),
        "W2" => out.push(
            latency("list recursion=2", n.w2, |_| async move {
                let list = raw.json("GET", "/1.0/instances?recursion=2", None).await?;
                let count = list["metadata"].as_array().map_or(0, Vec::len);
                if count < ctx.counts.w2_instances {
                    return Err(format!("listed {count} instances").into());
                }
                Ok(())
            })
            .await?,
        ),
        "W3" => {
            out.push(
                latency("lifecycle, sequential", n.w3, |i| {
                    cycle(raw, ctx, format!("lxdb-w3-raw-s{i}"))
                })
                .await?,
            );
            let started = Instant::now();
            let all = (0..n.w3).map(|i| cycle(raw, ctx, format!("lxdb-w3-raw-p{i}")));
            for result in futures::future::join_all(all).await {
                result?;
            }
            out.push(Metric::Elapsed {
                name: format!("lifecycle, {} parallel", n.w3),
                secs: started.elapsed().as_secs_f64(),
            });
        }
        "W4" => {
            out.push(
                latency("exec true", n.w4, |_| async move {
                    check_exit(exec(raw, &ctx.run, &["true"]).await?, 0)
                })
                .await?,
            );
            let started = Instant::now();
            let size = ctx.size.to_string();
            let (bytes, code) = exec(raw, &ctx.run, &["head", "-c", &size, "/dev/zero"]).await?;
            out.push(Metric::Throughput {
                name: "exec stdout".into(),
                bytes,
                secs: started.elapsed().as_secs_f64(),
            });
            check_exit((bytes, code), 0)?;
            if bytes != ctx.size {
                out.error(format!(
                    "exec stdout: {bytes} of {} bytes arrived",
                    ctx.size
                ));
            }
        }
        "W5" => {
            let files = format!("/1.0/instances/{}/files?path=", ctx.run);
            let headers = [("X-LXD-type", "file"), ("X-LXD-write", "overwrite")];
            let target = format!("{files}/root/blob-raw");
            let started = Instant::now();
            let body = Body::File(ctx.blob(), ctx.size);
            status_ok(raw.send("POST", &target, &headers, body).await?).await?;
            out.push(Metric::Throughput {
                name: "file push".into(),
                bytes: ctx.size,
                secs: started.elapsed().as_secs_f64(),
            });
            let started = Instant::now();
            let resp = raw.send("GET", &target, &[], Body::Empty).await?;
            if resp.status != 200 {
                return Err(format!("file pull: status {}", resp.status).into());
            }
            let bytes = resp.drain().await?;
            out.push(Metric::Throughput {
                name: "file pull".into(),
                bytes,
                secs: started.elapsed().as_secs_f64(),
            });
            if bytes != ctx.size {
                out.error(format!("file pull: {bytes} of {} bytes", ctx.size));
            }
            let small = vec![b'x'; 4096];
            let (files, headers, small) = (&files, &headers, &small);
            out.push(
                latency("push 4 KiB file", n.w5_small, |i| async move {
                    let path = format!("{files}/tmp/small-raw-{i}");
                    let body = Body::Bytes(small.clone());
                    status_ok(raw.send("POST", &path, headers, body).await?).await
                })
                .await?,
            );
        }
        "W6" => {
            let image = ctx.image_file();
            let started = Instant::now();
            let headers = [("X-LXD-filename", "bench.tar"), ("X-LXD-public", "0")];
            let body = Body::File(image.clone(), ctx.size_of(&image)?);
            let resp = raw.send("POST", "/1.0/images", &headers, body).await?;
            let started_op: Value = serde_json::from_slice(&resp.bytes().await?)?;
            let op = started_op["operation"]
                .as_str()
                .ok_or_else(|| format!("image upload: {started_op}"))?;
            let done = raw.wait(op).await?;
            out.push(Metric::Throughput {
                name: "image upload".into(),
                bytes: ctx.size_of(&image)?,
                secs: started.elapsed().as_secs_f64(),
            });
            let fingerprint = done["metadata"]["metadata"]["fingerprint"]
                .as_str()
                .ok_or_else(|| format!("no fingerprint in {done}"))?
                .to_owned();
            let export = async {
                let started = Instant::now();
                let path = format!("/1.0/images/{fingerprint}/export");
                let bytes = raw
                    .send("GET", &path, &[], Body::Empty)
                    .await?
                    .drain()
                    .await?;
                Ok::<_, crate::harness::BoxError>((bytes, started.elapsed().as_secs_f64()))
            }
            .await;
            raw.op("DELETE", &format!("/1.0/images/{fingerprint}"), None)
                .await?;
            let (bytes, secs) = export?;
            out.push(Metric::Throughput {
                name: "image export".into(),
                bytes,
                secs,
            });
        }
        "W7" => {
            let profile = format!("lxdb-w7-raw-{}", std::process::id());
            let mut ws = raw.websocket("/1.0/events?type=lifecycle").await?;
            raw.json("POST", "/1.0/profiles", Some(&json!({"name": profile})))
                .await?;
            let want = n.w7;
            let source = format!("/1.0/profiles/{profile}");
            let reader = tokio::spawn(async move {
                let mut seen = 0;
                while let Some(message) = ws.next().await {
                    let Message::Text(text) = message? else {
                        continue;
                    };
                    let event: Value = serde_json::from_str(&text)?;
                    let meta = &event["metadata"];
                    if meta["action"] == "profile-updated" && meta["source"] == source.as_str() {
                        seen += 1;
                        if seen == want {
                            return Ok::<_, crate::harness::BoxError>(Instant::now());
                        }
                    }
                }
                Err("event stream ended".into())
            });
            let started = Instant::now();
            let path = format!("/1.0/profiles/{profile}");
            let mut failed = None;
            for i in 0..want {
                let patch = json!({"description": format!("bench {i}")});
                if let Err(e) = raw.json("PATCH", &path, Some(&patch)).await {
                    failed = Some(e);
                    break;
                }
            }
            let arrived = match failed {
                Some(e) => Err(e),
                None => tokio::time::timeout(std::time::Duration::from_secs(60), reader)
                    .await
                    .map_err(|_| "timed out waiting for the events".into())
                    .and_then(|joined| joined?),
            };
            raw.json("DELETE", &path, None).await?;
            out.push(Metric::Elapsed {
                name: format!("{want} lifecycle events"),
                secs: (arrived? - started).as_secs_f64(),
            });
        }
        "W8" => {
            let started = Instant::now();
            let all = (0..n.w8_get).map(|_| raw.json("GET", "/1.0", None));
            for result in futures::future::join_all(all).await {
                if let Err(e) = result {
                    out.error(format!("GET /1.0: {e}"));
                }
            }
            out.push(Metric::Elapsed {
                name: format!("{} concurrent GET /1.0", n.w8_get),
                secs: started.elapsed().as_secs_f64(),
            });
            let started = Instant::now();
            let all = (0..n.w8_exec).map(|_| exec(raw, &ctx.run, &["true"]));
            for result in futures::future::join_all(all).await {
                if let Err(e) = result.and_then(|r| check_exit(r, 0)) {
                    out.error(format!("exec: {e}"));
                }
            }
            out.push(Metric::Elapsed {
                name: format!("{} concurrent exec", n.w8_exec),
                secs: started.elapsed().as_secs_f64(),
            });
        }
        other => return Err(format!("unknown case {other}").into()),
    }
    Ok(())
}

/// Create, start, stop (forced: busybox's init ignores the power signal), delete.
async fn cycle(raw: &Raw, ctx: &Ctx, name: String) -> Result<()> {
    let create = json!({"name": name, "source": {"type": "image", "alias": ctx.image}});
    raw.op("POST", "/1.0/instances", Some(&create)).await?;
    let state = format!("/1.0/instances/{name}/state");
    let result = async {
        raw.op(
            "PUT",
            &state,
            Some(&json!({"action": "start", "timeout": -1})),
        )
        .await?;
        raw.op(
            "PUT",
            &state,
            Some(&json!({"action": "stop", "force": true, "timeout": -1})),
        )
        .await
    }
    .await;
    if result.is_err() {
        let stop = json!({"action": "stop", "force": true});
        let _ = raw.op("PUT", &state, Some(&stop)).await;
    }
    raw.op("DELETE", &format!("/1.0/instances/{name}"), None)
        .await?;
    result.map(drop)
}

/// Runs a command the way LXD's own client does (non-interactive, a websocket per stream,
/// control first, an empty text message to end stdin); returns stdout's length and the
/// exit code.
pub async fn exec(raw: &Raw, instance: &str, command: &[&str]) -> Result<(u64, i64)> {
    let body = json!({
        "command": command, "environment": {}, "interactive": false,
        "wait-for-websocket": true, "record-output": false,
    });
    let started = raw
        .json(
            "POST",
            &format!("/1.0/instances/{instance}/exec"),
            Some(&body),
        )
        .await?;
    let op = started["operation"]
        .as_str()
        .ok_or("exec: no operation")?
        .to_owned();
    let fds = &started["metadata"]["metadata"]["fds"];
    let ws = |fd: &str| {
        let secret = fds[fd].as_str().unwrap_or_default().to_owned();
        let path = format!("{op}/websocket?secret={secret}");
        async move { raw.websocket(&path).await }
    };
    let mut control = ws("control").await?;
    let (mut stdin, stdout, stderr) = futures::try_join!(ws("0"), ws("1"), ws("2"))?;
    let input = async {
        stdin.send(Message::Text("".into())).await?;
        while let Some(Ok(_)) = stdin.next().await {}
        Ok::<_, crate::harness::BoxError>(())
    };
    let (_, bytes, _) = futures::try_join!(input, count(stdout), count(stderr))?;
    let done = raw.wait(&op).await?;
    let _ = control.close(None).await;
    let code = done["metadata"]["metadata"]["return"]
        .as_i64()
        .ok_or("exec: no exit code")?;
    Ok((bytes, code))
}

/// Reads an output websocket to its end; the length of its binary messages.
async fn count<S>(mut ws: S) -> Result<u64>
where
    S: futures::Stream<Item = std::result::Result<Message, tokio_tungstenite::tungstenite::Error>>
        + Unpin,
{
    let mut total = 0u64;
    while let Some(message) = ws.next().await {
        match message {
            Ok(Message::Binary(data)) => total += data.len() as u64,
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => {}
        }
    }
    Ok(total)
}

fn check_exit((_, code): (u64, i64), want: i64) -> Result<()> {
    if code == want {
        Ok(())
    } else {
        Err(format!("exit code {code}").into())
    }
}

async fn status_ok(resp: crate::raw::Response) -> Result<()> {
    let status = resp.status;
    let body = resp.bytes().await?;
    if status >= 400 {
        return Err(format!("status {status}: {}", String::from_utf8_lossy(&body)).into());
    }
    Ok(())
}
