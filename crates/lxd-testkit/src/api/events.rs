//! `GET /1.0/events`: the event websocket, with `?type=` and `?project=` / `?all-projects=`
//! filters checked like LXD does before upgrading.

use std::sync::Arc;

use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use crate::http::{ApiError, ApiResult, Reply, Req};
use crate::server::Inner;

const TYPES: &[&str] = &["logging", "operation", "lifecycle"];

/// `GET /1.0/events`.
pub(crate) async fn get(inner: &Arc<Inner>, mut req: Req) -> ApiResult {
    let all_projects = req.all_projects();
    let project = req.query("project").unwrap_or_default().to_string();
    if all_projects && !project.is_empty() {
        return Err(ApiError::bad_request(
            "Cannot specify a project when requesting all projects",
        ));
    }
    let project = if project.is_empty() {
        "default".to_string()
    } else {
        project
    };
    if !all_projects && project != "default" && !inner.state().has_project(&project) {
        return Err(ApiError::internal("Project not found"));
    }
    let types: Vec<String> = match req.query("type") {
        None | Some("") => TYPES.iter().map(|t| t.to_string()).collect(),
        Some(list) => list.split(',').map(str::to_string).collect(),
    };
    for t in &types {
        if !TYPES.contains(&t.as_str()) {
            return Err(ApiError::bad_request(format!(
                "{t:?} isn't a supported event type"
            )));
        }
    }
    let Some((response, upgrade)) = crate::websocket::switch(&mut req) else {
        return Ok(Reply::Raw(crate::websocket::not_a_websocket()));
    };
    // Subscribe now, before the 101 goes out: an event sent right after the handshake is
    // not lost.
    let mut events = inner
        .events
        .subscribe((!all_projects).then_some(project), types);
    let inner = inner.clone();
    let cut_after_first = req.faults.close_events_websocket;
    tokio::spawn(async move {
        let Some(socket) = crate::websocket::accept(upgrade).await else {
            return;
        };
        let (mut sink, mut stream) = socket.split();
        // Like LXD, whose first message to a registered listener is a ping: clients (ours
        // among them) wait for it to know no event will be missed from here on.
        if sink.send(Message::Ping(Default::default())).await.is_err() {
            return;
        }
        let reader = crate::websocket::drain(&mut stream);
        tokio::pin!(reader);
        loop {
            tokio::select! {
                event = events.recv() => {
                    let Some(text) = event else { break };
                    if sink.send(Message::text(text.to_string())).await.is_err() {
                        return;
                    }
                    if cut_after_first {
                        // Fault injection: gone without a close frame, mid-stream.
                        return;
                    }
                }
                _ = &mut reader => return,
                _ = inner.stopped() => break,
            }
        }
        let _ = sink.close().await;
    });
    Ok(Reply::Raw(response))
}
