//! The event hub behind `/1.0/events`: every operation change and lifecycle action is
//! delivered to the listeners whose project and type filters match, like LXD's
//! `events.Server` (an event without a project goes to everyone).

use std::sync::{Arc, Mutex};

use lxd_proto::{
    Event, EventLifecycleRequestor, EventPayload, LifecycleAction, LifecycleEvent, LoggingEvent,
};
use serde_json::{Map, Value};
use tokio::sync::mpsc;

use crate::util;

/// How many past events [`Events::history`] keeps (the oldest half goes when full), so a
/// long-running server does not grow without bound.
const HISTORY_LIMIT: usize = 10_000;

/// A subscription: which project (None = all projects) and which types.
struct Listener {
    project: Option<String>,
    types: Vec<String>,
    tx: mpsc::UnboundedSender<Arc<str>>,
}

/// The hub. Cheap to share (`Arc`).
pub(crate) struct Events {
    listeners: Mutex<Vec<Listener>>,
    /// `location` of local events: `none` unless clustered.
    location: Mutex<String>,
    /// Recent events (up to [`HISTORY_LIMIT`]), for [`crate::TestServer::events`].
    history: Mutex<Vec<Event>>,
}

impl Events {
    pub(crate) fn new(location: &str) -> Events {
        Events {
            listeners: Mutex::new(Vec::new()),
            location: Mutex::new(location.to_string()),
            history: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn set_location(&self, location: &str) {
        *self.location.lock().expect("events lock") = location.to_string();
    }

    /// Subscribes; messages are the events' JSON text.
    pub(crate) fn subscribe(
        &self,
        project: Option<String>,
        types: Vec<String>,
    ) -> mpsc::UnboundedReceiver<Arc<str>> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.listeners
            .lock()
            .expect("events lock")
            .push(Listener { project, types, tx });
        rx
    }

    /// Sends one event.
    pub(crate) fn send(&self, project: &str, payload: EventPayload) {
        let event = Event {
            timestamp: util::now(),
            location: self.location.lock().expect("events lock").clone(),
            project: project.to_string(),
            payload,
            extra: Map::new(),
        };
        let text: Arc<str> = match serde_json::to_string(&event) {
            Ok(text) => text.into(),
            Err(_) => return,
        };
        let event_type = event.event_type().to_string();
        {
            let mut listeners = self.listeners.lock().expect("events lock");
            listeners.retain(|listener| {
                let project_ok =
                    project.is_empty() || listener.project.as_deref().is_none_or(|p| p == project);
                if !project_ok || !listener.types.contains(&event_type) {
                    return !listener.tx.is_closed();
                }
                listener.tx.send(text.clone()).is_ok()
            });
        }
        let mut history = self.history.lock().expect("events lock");
        if history.len() >= HISTORY_LIMIT {
            history.drain(..HISTORY_LIMIT / 2);
        }
        history.push(event);
    }

    /// Sends a lifecycle event.
    pub(crate) fn lifecycle(
        &self,
        project: &str,
        action: LifecycleAction,
        source: String,
        context: Map<String, Value>,
        requestor: Option<EventLifecycleRequestor>,
    ) {
        self.send(
            project,
            EventPayload::Lifecycle(LifecycleEvent {
                action,
                source,
                context,
                requestor,
                ..Default::default()
            }),
        );
    }

    /// Sends a logging event (LXD logs many actions at info level).
    pub(crate) fn log(&self, level: &str, message: &str, context: &[(&str, &str)]) {
        self.send(
            "",
            EventPayload::Logging(LoggingEvent {
                message: message.to_string(),
                level: level.to_string(),
                context: context
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                extra: Map::new(),
            }),
        );
    }

    /// A copy of every event sent so far.
    pub(crate) fn history(&self) -> Vec<Event> {
        self.history.lock().expect("events lock").clone()
    }
}

/// A lifecycle context map from pairs.
pub(crate) fn context(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn filters_by_project_and_type() {
        let events = Events::new("none");
        let mut default_lifecycle =
            events.subscribe(Some("default".into()), vec!["lifecycle".into()]);
        let mut all = events.subscribe(None, vec!["lifecycle".into(), "logging".into()]);
        events.lifecycle(
            "p1",
            LifecycleAction::InstanceCreated,
            "/1.0/instances/c1?project=p1".into(),
            Map::new(),
            None,
        );
        events.lifecycle(
            "default",
            LifecycleAction::InstanceDeleted,
            "/1.0/instances/c2".into(),
            Map::new(),
            None,
        );
        events.log("info", "hello", &[]);
        let first = default_lifecycle.recv().await.unwrap();
        assert!(first.contains("instance-deleted"), "{first}");
        assert!(default_lifecycle.try_recv().is_err());
        assert!(all.recv().await.unwrap().contains("instance-created"));
        assert!(all.recv().await.unwrap().contains("instance-deleted"));
        let log = all.recv().await.unwrap();
        assert!(log.contains("\"type\":\"logging\""), "{log}");
        assert!(!log.contains("\"project\""), "{log}");
        assert_eq!(events.history().len(), 3);
    }
}
