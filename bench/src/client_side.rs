//! The workloads done with lxd-client, each the same requests as in [`crate::raw_side`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use lxd_client::proto::{
    EventPayload, EventType, InstanceSource, InstanceStatePut, InstancesPost, LifecycleAction,
    ProfilesPost,
};
use lxd_client::{Client, EventItem, ImageUpload, PutOptions};
use serde_json::json;

use crate::harness::{BoxError, Metric, Result, latency};
use crate::work::{Ctx, Outcome};

pub async fn run(case: &str, ctx: &Ctx, out: &mut Outcome) -> Result<()> {
    let client = Client::unix(&ctx.socket)?;
    let client = &client;
    let n = &ctx.counts;
    match case {
        "idle" => drop(client.refresh_server().await?),
        "W1" => out.push(
            latency("GET /1.0", n.w1, |_| async move {
                client.refresh_server().await?;
                Ok(())
            })
            .await?,
        ),
        "W2" => out.push(
            latency("list recursion=2", n.w2, |_| async move {
                let count = client.instances().list_full().await?.len();
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
                    cycle(client, ctx, format!("lxdb-w3-cli-s{i}"))
                })
                .await?,
            );
            let started = Instant::now();
            let all = (0..n.w3).map(|i| cycle(client, ctx, format!("lxdb-w3-cli-p{i}")));
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
                    let done = client.instances().exec(&ctx.run, ["true"]).run().await?;
                    check_exit(done.exit_code)
                })
                .await?,
            );
            let counted = Arc::new(AtomicU64::new(0));
            let counter = counted.clone();
            let started = Instant::now();
            let size = ctx.size.to_string();
            let done = client
                .instances()
                .exec(&ctx.run, ["head", "-c", &size, "/dev/zero"])
                .on_stdout(move |chunk| {
                    counter.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                })
                .run()
                .await?;
            let bytes = counted.load(Ordering::Relaxed);
            out.push(Metric::Throughput {
                name: "exec stdout".into(),
                bytes,
                secs: started.elapsed().as_secs_f64(),
            });
            check_exit(done.exit_code)?;
            if bytes != ctx.size {
                out.error(format!(
                    "exec stdout: {bytes} of {} bytes arrived",
                    ctx.size
                ));
            }
        }
        "W5" => {
            let files = client.instances().files(&ctx.run);
            let options = PutOptions::new();
            let target = "/root/blob-client";
            let started = Instant::now();
            files.put_from_path(target, ctx.blob(), &options).await?;
            out.push(Metric::Throughput {
                name: "file push".into(),
                bytes: ctx.size,
                secs: started.elapsed().as_secs_f64(),
            });
            let started = Instant::now();
            let bytes = files
                .get(target)
                .await?
                .copy_to(&mut tokio::io::sink())
                .await?;
            out.push(Metric::Throughput {
                name: "file pull".into(),
                bytes,
                secs: started.elapsed().as_secs_f64(),
            });
            if bytes != ctx.size {
                out.error(format!("file pull: {bytes} of {} bytes", ctx.size));
            }
            let small = vec![b'x'; 4096];
            let (files, options, small) = (&files, &options, &small);
            out.push(
                latency("push 4 KiB file", n.w5_small, |i| async move {
                    let path = format!("/tmp/small-cli-{i}");
                    files.put_bytes(&path, small.clone(), options).await?;
                    Ok(())
                })
                .await?,
            );
        }
        "W6" => {
            let image = ctx.image_file();
            let size = ctx.size_of(&image)?;
            let started = Instant::now();
            let upload = ImageUpload::unified_from_path(&image).await?;
            let uploaded = client.images().upload_and_wait(upload).await?;
            out.push(Metric::Throughput {
                name: "image upload".into(),
                bytes: size,
                secs: started.elapsed().as_secs_f64(),
            });
            let fingerprint = uploaded.fingerprint.clone();
            let started = Instant::now();
            let export = client
                .images()
                .export_to_writer(&fingerprint, &mut tokio::io::sink())
                .await;
            let secs = started.elapsed().as_secs_f64();
            client.images().delete_and_wait(&fingerprint).await?;
            out.push(Metric::Throughput {
                name: "image export".into(),
                bytes: export?.bytes,
                secs,
            });
        }
        "W7" => {
            let profile = format!("lxdb-w7-cli-{}", std::process::id());
            let mut events = client
                .events()
                .types([EventType::Lifecycle])
                .connect()
                .await?;
            let post = ProfilesPost {
                name: profile.clone(),
                ..Default::default()
            };
            client.profiles().create(&post).await?;
            let want = n.w7;
            let source = format!("/1.0/profiles/{profile}");
            let reader = tokio::spawn(async move {
                let mut seen = 0;
                while let Some(item) = events.next().await {
                    let EventItem::Event(event) = item? else {
                        return Err::<Instant, BoxError>("events were lost".into());
                    };
                    if let EventPayload::Lifecycle(l) = &event.payload
                        && l.action == LifecycleAction::ProfileUpdated
                        && l.source == source
                    {
                        seen += 1;
                        if seen == want {
                            return Ok(Instant::now());
                        }
                    }
                }
                Err("event stream ended".into())
            });
            let started = Instant::now();
            let mut failed = None;
            for i in 0..want {
                let patch = json!({"description": format!("bench {i}")});
                if let Err(e) = client.profiles().patch(&profile, &patch, None).await {
                    failed = Some(BoxError::from(e));
                    break;
                }
            }
            let arrived = match failed {
                Some(e) => Err(e),
                None => tokio::time::timeout(Duration::from_secs(60), reader)
                    .await
                    .map_err(|_| "timed out waiting for the events".into())
                    .and_then(|joined| joined?),
            };
            client.profiles().delete(&profile).await?;
            out.push(Metric::Elapsed {
                name: format!("{want} lifecycle events"),
                secs: (arrived? - started).as_secs_f64(),
            });
        }
        "W8" => {
            let started = Instant::now();
            let all = (0..n.w8_get).map(|_| client.refresh_server());
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
            let all = (0..n.w8_exec)
                .map(|_| async move { client.instances().exec(&ctx.run, ["true"]).run().await });
            for result in futures::future::join_all(all).await {
                match result {
                    Ok(done) if done.exit_code == 0 => {}
                    Ok(done) => out.error(format!("exec: exit code {}", done.exit_code)),
                    Err(e) => out.error(format!("exec: {e}")),
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

/// Create, start, stop (forced: busybox's init ignores the power signal), delete: the
/// manager's calls, the same four requests (and waits) as the raw side. `InstanceObject`'s
/// `start`/`stop` would re-read the instance after each change (one more GET each).
async fn cycle(client: &Client, ctx: &Ctx, name: String) -> Result<()> {
    let instances = client.instances();
    let post = InstancesPost {
        name: name.clone(),
        source: InstanceSource::image_alias(&ctx.image),
        ..Default::default()
    };
    instances.create(&post).await?.wait().await?;
    let stop = InstanceStatePut::stop().with_force(true).with_timeout(-1);
    let result = async {
        let start = InstanceStatePut::start().with_timeout(-1);
        instances.set_state(&name, &start).await?.wait().await?;
        instances.set_state(&name, &stop).await?.wait().await
    }
    .await;
    if result.is_err() {
        let _ = async { instances.set_state(&name, &stop).await?.wait().await }.await;
    }
    instances.delete(&name).await?.wait().await?;
    result?;
    Ok(())
}

fn check_exit(code: i32) -> Result<()> {
    if code == 0 {
        Ok(())
    } else {
        Err(format!("exit code {code}").into())
    }
}
