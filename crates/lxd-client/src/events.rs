//! The event stream (`/1.0/events`): typed events over one websocket, shared by any number of
//! consumers, optionally reconnecting; and waiting for operations through it.
//!
//! How LXD serves it (`lxd/events.go`, `lxd/events/connections.go`): the websocket is
//! upgraded first and the listener registered after, and the first thing a registered
//! listener sends is a ping. So [`EventsBuilder::connect`] returns only once that first
//! message has arrived: every event that happens after `connect()` returns is delivered. LXD
//! pings every 10 s and drops a listener that does not answer; the pump answers by reading
//! continuously, whatever the consumers do.

use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use lxd_proto::{Event, EventPayload, EventType};
use lxd_transport::WebSocket;
use lxd_transport::tungstenite::Message;
use tokio::sync::{broadcast, oneshot};

use crate::client::Client;
use crate::error::{Error, Result};
use crate::exec::refused_upgrade;
use crate::operation::{fetch, judge, wait_final};
use crate::path::validate_project_name;

/// Events buffered per consumer before a slow one starts losing the oldest (and is told so
/// with [`EventItem::Lagged`]).
const DEFAULT_BUFFER: usize = 1024;
/// How long `connect()` waits for LXD's first ping, the sign that the listener is registered.
const REGISTRATION_WAIT: Duration = Duration::from_secs(5);
/// Reconnection backoff defaults.
const BACKOFF_FIRST: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// When registration could not be confirmed, operation waiters re-read their operation on
/// this backoff until an event proves the listener is there.
const RECHECK_FIRST: Duration = Duration::from_millis(500);
const RECHECK_MAX: Duration = Duration::from_secs(10);

impl Client {
    /// Starts building an event stream (`/1.0/events`).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use futures::StreamExt;
    /// use lxd_client::proto::{EventPayload, EventType, LifecycleAction};
    /// use lxd_client::EventItem;
    ///
    /// let mut events = client.events().types([EventType::Lifecycle]).connect().await?;
    /// while let Some(item) = events.next().await {
    ///     if let EventItem::Event(event) = item? {
    ///         if let EventPayload::Lifecycle(l) = &event.payload {
    ///             if l.action == LifecycleAction::InstanceStarted {
    ///                 println!("started: {}", l.source);
    ///             }
    ///         }
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/server/events_get)
    pub fn events(&self) -> EventsBuilder {
        EventsBuilder {
            client: self.clone(),
            types: Vec::new(),
            scope: Scope::ClientProject,
            reconnect: None,
            buffer: DEFAULT_BUFFER,
            error: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Scope {
    /// The client's project (the server's default when it has none).
    ClientProject,
    Project(String),
    AllProjects,
}

/// Builds an event stream, from [`Client::events`].
#[derive(Debug)]
#[must_use = "nothing is connected until connect()"]
pub struct EventsBuilder {
    client: Client,
    types: Vec<EventType>,
    scope: Scope,
    reconnect: Option<(Duration, Duration)>,
    buffer: usize,
    error: Option<Error>,
}

impl EventsBuilder {
    /// Receives only these types (`operation`, `logging`, `lifecycle`); by default all that
    /// the client may see (logging is for administrators). Adds to earlier calls.
    ///
    /// Sets the `type` query parameter of the events request.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::EventType;
    /// let events = client
    ///     .events()
    ///     .types([EventType::Lifecycle])
    ///     .types([EventType::Operation, EventType::Lifecycle]) // adds, without duplicates
    ///     .connect()
    ///     .await?;
    /// assert_eq!(events.types(), [EventType::Lifecycle, EventType::Operation]);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/server/events_get)
    pub fn types(mut self, types: impl IntoIterator<Item = EventType>) -> Self {
        for t in types {
            if !self.types.contains(&t) {
                self.types.push(t);
            }
        }
        self
    }

    /// Receives the events of `project` instead of the client's project.
    ///
    /// Sets the `project` query parameter of the events request.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let team = client.with_project("web-team")?;
    /// // The `ci` project's events, whatever the client's project:
    /// let events = team.events().project("ci").connect().await?;
    /// assert_eq!(events.project(), Some("ci"));
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/server/events_get)
    pub fn project(mut self, project: &str) -> Self {
        if let Err(e) = validate_project_name(project)
            && self.error.is_none()
        {
            self.error = Some(e);
        }
        self.scope = Scope::Project(project.to_string());
        self
    }

    /// Receives the events of every project (`all-projects=true`).
    ///
    /// Sets the `all-projects` query parameter of the events request.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let events = client.events().all_projects().connect().await?;
    /// assert_eq!(events.project(), None); // every project
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/server/events_get)
    pub fn all_projects(mut self) -> Self {
        self.scope = Scope::AllProjects;
        self
    }

    /// After the connection drops, connects again (with exponential backoff from 100 ms to
    /// 30 s, for as long as the stream is held) and yields [`EventItem::Reconnected`]: events
    /// of the gap are lost. Without it (the default), a drop ends the stream with an error.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use futures::StreamExt;
    /// use lxd_client::EventItem;
    /// let mut events = client.events().reconnect(true).connect().await?;
    /// while let Some(item) = events.next().await {
    ///     match item? {
    ///         EventItem::Event(event) => println!("{:?}", event.event_type()),
    ///         EventItem::Reconnected { reason } => println!("lost events ({reason}): resync"),
    ///         _ => {}
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/server/events_get) (the connection opened again)
    pub fn reconnect(mut self, reconnect: bool) -> Self {
        self.reconnect = reconnect.then_some((BACKOFF_FIRST, BACKOFF_MAX));
        self
    }

    /// Reconnects with this backoff (first delay, doubling up to `max`).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use std::time::Duration;
    /// // Retry every second at first, then at most once a minute:
    /// let events = client
    ///     .events()
    ///     .reconnect_backoff(Duration::from_secs(1), Duration::from_secs(60))
    ///     .connect()
    ///     .await?;
    /// # drop(events);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/server/events_get) (the connection opened again)
    pub fn reconnect_backoff(mut self, first: Duration, max: Duration) -> Self {
        self.reconnect = Some((first.max(Duration::from_millis(1)), max.max(first)));
        self
    }

    /// How many events each consumer may fall behind before losing the oldest (default 1024).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// // A consumer that may fall far behind (it writes every event to a database):
    /// let events = client.events().buffer(16_384).connect().await?;
    /// # drop(events);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/server/events_get)
    pub fn buffer(mut self, events: usize) -> Self {
        self.buffer = events.max(1);
        self
    }

    fn query(&self) -> Vec<(String, String)> {
        let mut query = Vec::new();
        if !self.types.is_empty() {
            let joined: Vec<&str> = self.types.iter().map(EventType::as_str).collect();
            query.push(("type".to_string(), joined.join(",")));
        }
        match &self.scope {
            Scope::ClientProject => {
                if let Some(p) = self.client.project() {
                    query.push(("project".to_string(), p.to_string()));
                }
            }
            Scope::Project(p) => query.push(("project".to_string(), p.clone())),
            Scope::AllProjects => query.push(("all-projects".to_string(), "true".to_string())),
        }
        query
    }

    /// Connects, and returns once LXD has registered the listener: errors (unknown project,
    /// forbidden type, unreachable server) surface here, and every event after this returns
    /// is delivered.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::EventType;
    /// let events = client
    ///     .events()
    ///     .types([EventType::Operation, EventType::Lifecycle])
    ///     .all_projects()
    ///     .reconnect(true)
    ///     .connect()
    ///     .await?;
    /// let second_consumer = events.subscribe(); // same connection
    /// # drop(second_consumer);
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/server/events_get)
    pub async fn connect(self) -> Result<EventStream> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let query = self.query();
        let (ws, first, confirmed) = open(&self.client, &query).await?;
        let (tx, rx) = broadcast::channel(self.buffer);
        let (stop_tx, stop_rx) = oneshot::channel();
        let project = match &self.scope {
            Scope::ClientProject => {
                Some(self.client.project().unwrap_or(DEFAULT_PROJECT).to_string())
            }
            Scope::Project(p) => Some(p.clone()),
            Scope::AllProjects => None,
        };
        let shared = Arc::new(Shared {
            client: self.client.clone(),
            tx: tx.clone(),
            types: self.types,
            project,
            confirmed: AtomicBool::new(confirmed),
            closed: Mutex::new(None),
            _stop: stop_tx,
        });
        let pump = Pump {
            client: self.client,
            query,
            tx,
            shared: Arc::downgrade(&shared),
            reconnect: self.reconnect,
        };
        tokio::spawn(pump.run(ws, first, stop_rx));
        Ok(EventStream::new(shared, rx, None))
    }
}

/// The project LXD uses when none is given.
const DEFAULT_PROJECT: &str = "default";

/// Opens `/1.0/events` and waits for the first message (LXD's first ping once the listener
/// is registered). Returns the socket, that first message if it was an event, and whether
/// registration was confirmed.
async fn open(
    client: &Client,
    query: &[(String, String)],
) -> Result<(WebSocket, Option<Message>, bool)> {
    let pairs: Vec<(&str, &str)> = query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    // The query already carries the scope; `all-projects` must not get a project added.
    let mut ws = client
        .transport()
        .websocket("/1.0/events", &pairs)
        .await
        .map_err(|e| refused_upgrade(e.into()))?;
    match tokio::time::timeout(REGISTRATION_WAIT, ws.next()).await {
        Ok(Some(Ok(message))) => {
            let keep = matches!(message, Message::Text(_) | Message::Binary(_));
            Ok((ws, keep.then_some(message), true))
        }
        Ok(Some(Err(e))) => Err(Error::Transport(lxd_transport::Error::from_websocket(
            client.endpoint().to_string(),
            e,
        ))),
        Ok(None) => Err(lost(
            client,
            "LXD closed the event stream right after opening it",
        )),
        // A server that does not ping first: go on, but operation waiters will re-check.
        Err(_) => {
            tracing::debug!("no first message on /1.0/events; registration unconfirmed");
            Ok((ws, None, false))
        }
    }
}

/// What the pump hands to every consumer.
#[derive(Clone)]
enum Msg {
    Event(Arc<Event>),
    Malformed(Arc<str>),
    Reconnected(Arc<str>),
    Closed(Arc<str>),
}

/// State shared by the consumers of one connection. When the last consumer drops it, the
/// pump stops and the websocket closes.
struct Shared {
    client: Client,
    tx: broadcast::Sender<Msg>,
    types: Vec<EventType>,
    /// `None`: all projects.
    project: Option<String>,
    /// Whether LXD has shown, since the last (re)connection, that the listener is registered.
    confirmed: AtomicBool,
    /// Why the connection ended, once it has (and will not come back).
    closed: Mutex<Option<Arc<str>>>,
    _stop: oneshot::Sender<()>,
}

struct Pump {
    client: Client,
    query: Vec<(String, String)>,
    tx: broadcast::Sender<Msg>,
    shared: std::sync::Weak<Shared>,
    reconnect: Option<(Duration, Duration)>,
}

impl Pump {
    fn confirm(&self, yes: bool) {
        if let Some(shared) = self.shared.upgrade() {
            shared.confirmed.store(yes, Ordering::SeqCst);
        }
    }

    async fn run(
        self,
        mut ws: WebSocket,
        mut first: Option<Message>,
        mut stop: oneshot::Receiver<()>,
    ) {
        loop {
            let reason: String = loop {
                let message = match first.take() {
                    Some(m) => Some(Ok(m)),
                    None => tokio::select! {
                        m = ws.next() => m,
                        _ = &mut stop => return,
                    },
                };
                match message {
                    Some(Ok(Message::Text(text))) => {
                        self.confirm(true);
                        self.publish(text.as_bytes());
                    }
                    Some(Ok(Message::Binary(data))) => {
                        self.confirm(true);
                        self.publish(&data);
                    }
                    Some(Ok(Message::Close(frame))) => {
                        break match frame {
                            Some(f) => {
                                format!("LXD closed the event stream: {} {}", f.code, f.reason)
                            }
                            None => "LXD closed the event stream".to_string(),
                        };
                    }
                    Some(Ok(_)) => self.confirm(true), // ping, pong
                    Some(Err(e)) => break format!("the event stream broke: {e}"),
                    None => break "the event stream ended".to_string(),
                }
            };
            tracing::debug!(reason = %reason, "event stream lost");
            let Some((first_delay, max_delay)) = self.reconnect else {
                let reason: Arc<str> = reason.into();
                if let Some(shared) = self.shared.upgrade() {
                    *shared.closed.lock().expect("lock") = Some(reason.clone());
                }
                let _ = self.tx.send(Msg::Closed(reason));
                return;
            };
            self.confirm(false);
            let mut delay = first_delay;
            loop {
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    _ = &mut stop => return,
                }
                let attempt = tokio::select! {
                    r = open(&self.client, &self.query) => r,
                    _ = &mut stop => return,
                };
                match attempt {
                    Ok((new_ws, new_first, confirmed)) => {
                        tracing::debug!("event stream reconnected");
                        ws = new_ws;
                        first = new_first;
                        self.confirm(confirmed);
                        let _ = self.tx.send(Msg::Reconnected(reason.as_str().into()));
                        break;
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, ?delay, "event stream reconnection failed");
                        delay = (delay * 2).min(max_delay);
                    }
                }
            }
        }
    }

    fn publish(&self, data: &[u8]) {
        // Decoded once, shared by every consumer. A message that is not an event is
        // reported, and the stream goes on.
        let msg = match serde_json::from_slice::<Event>(data) {
            Ok(event) => Msg::Event(Arc::new(event)),
            Err(e) => {
                // Operation events carry websocket secrets: the snippet is redacted.
                Msg::Malformed(
                    format!("{e}; message starts with {:?}", crate::error::snippet(data)).into(),
                )
            }
        };
        // No consumer right now is fine.
        let _ = self.tx.send(msg);
    }
}

/// The error for a connection that ended and will not come back (the server went away:
/// [`Error::is_disconnected`] is true).
fn lost(client: &Client, reason: &str) -> Error {
    Error::Transport(lxd_transport::Error::Disconnected {
        endpoint: client.endpoint().to_string(),
        source: Box::new(EventsLost(reason.to_string())),
    })
}

#[derive(Debug)]
struct EventsLost(String);

impl fmt::Display for EventsLost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EventsLost {}

/// One item of an [`EventStream`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
// Events are nearly every item: boxing them would cost an allocation each for nothing.
#[allow(clippy::large_enum_variant)]
pub enum EventItem {
    /// An event.
    Event(Event),
    /// The connection dropped and was opened again ([`EventsBuilder::reconnect`]): events
    /// of the gap are lost. `reason` says why it dropped.
    Reconnected {
        /// Why the connection dropped.
        reason: String,
    },
    /// This consumer fell more than its buffer behind: the `skipped` oldest events are lost.
    Lagged {
        /// How many events were lost.
        skipped: u64,
    },
}

impl EventItem {
    /// The event, if this is one.
    ///
    /// ```
    /// use lxd_client::EventItem;
    /// use lxd_client::proto::Event;
    /// let item = EventItem::Event(Event { project: "ci".into(), ..Default::default() });
    /// assert_eq!(item.event().map(|e| e.project.as_str()), Some("ci"));
    /// assert!(EventItem::Lagged { skipped: 3 }.event().is_none());
    /// ```
    pub fn event(&self) -> Option<&Event> {
        match self {
            EventItem::Event(e) => Some(e),
            _ => None,
        }
    }

    /// The event, if this is one.
    ///
    /// ```
    /// use lxd_client::EventItem;
    /// use lxd_client::proto::{Event, EventPayload, EventType, LifecycleAction, LifecycleEvent};
    /// let started = LifecycleEvent { action: LifecycleAction::InstanceStarted, ..Default::default() };
    /// let item = EventItem::Event(Event { payload: EventPayload::Lifecycle(started), ..Default::default() });
    /// let event = item.into_event().expect("an event");
    /// assert_eq!(event.event_type(), EventType::Lifecycle);
    /// assert!(EventItem::Reconnected { reason: "restart".into() }.into_event().is_none());
    /// ```
    pub fn into_event(self) -> Option<Event> {
        match self {
            EventItem::Event(e) => Some(e),
            _ => None,
        }
    }

    /// Whether events may have been lost just before this item (a reconnection or a lag).
    ///
    /// ```
    /// use lxd_client::EventItem;
    /// use lxd_client::proto::Event;
    /// assert!(EventItem::Reconnected { reason: "LXD restarted".into() }.is_gap());
    /// assert!(EventItem::Lagged { skipped: 12 }.is_gap());
    /// assert!(!EventItem::Event(Event::default()).is_gap());
    /// ```
    pub fn is_gap(&self) -> bool {
        !matches!(self, EventItem::Event(_))
    }
}

/// A consumer of an event connection: a [`Stream`] of [`EventItem`]s, from
/// [`EventsBuilder::connect`] or [`EventStream::subscribe`].
///
/// Items are `Err` for a message that is not an event (the stream goes on) and, once, when
/// the connection is lost without [reconnection](EventsBuilder::reconnect) (the stream then
/// ends). The connection closes when its last consumer is dropped.
pub struct EventStream {
    shared: Arc<Shared>,
    inner: BoxStream<'static, Result<EventItem>>,
}

impl fmt::Debug for EventStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventStream")
            .field("types", &self.shared.types)
            .field("project", &self.shared.project)
            .field(
                "closed",
                &self.shared.closed.lock().expect("lock").is_some(),
            )
            .finish()
    }
}

impl EventStream {
    fn new(shared: Arc<Shared>, rx: broadcast::Receiver<Msg>, closed: Option<Arc<str>>) -> Self {
        let client = shared.client.clone();
        let state = (rx, closed, false);
        let inner = futures::stream::unfold(state, move |(mut rx, closed, done)| {
            let client = client.clone();
            async move {
                if done {
                    return None;
                }
                if let Some(reason) = closed {
                    return Some((Err(lost(&client, &reason)), (rx, None, true)));
                }
                let item = match rx.recv().await {
                    Ok(Msg::Event(e)) => Ok(EventItem::Event(Arc::unwrap_or_clone(e))),
                    Ok(Msg::Reconnected(reason)) => Ok(EventItem::Reconnected {
                        reason: reason.to_string(),
                    }),
                    Ok(Msg::Malformed(text)) => Err(Error::malformed(
                        "GET /1.0/events",
                        "a message is not an event",
                        text.as_bytes(),
                    )),
                    Ok(Msg::Closed(reason)) => {
                        return Some((Err(lost(&client, &reason)), (rx, None, true)));
                    }
                    Err(broadcast::error::RecvError::Lagged(skipped)) => {
                        Ok(EventItem::Lagged { skipped })
                    }
                    // Cannot happen while `shared` holds a sender; end quietly if it does.
                    Err(broadcast::error::RecvError::Closed) => return None,
                };
                Some((item, (rx, None, false)))
            }
        })
        .boxed();
        EventStream { shared, inner }
    }

    /// Another consumer of the same connection, receiving from now on, independently of
    /// this one.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let events = client.events().connect().await?;
    /// let for_logging = events.subscribe();
    /// tokio::spawn(async move {
    ///     use futures::StreamExt;
    ///     let mut s = for_logging;
    ///     while let Some(item) = s.next().await { println!("{item:?}"); }
    /// });
    /// # Ok(()) }
    /// ```
    pub fn subscribe(&self) -> EventStream {
        let (rx, closed) = {
            let closed = self.shared.closed.lock().expect("lock");
            (self.shared.tx.subscribe(), closed.clone())
        };
        EventStream::new(self.shared.clone(), rx, closed)
    }

    /// The event types received (empty: every type the client may see).
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let events = client.events().connect().await?;
    /// assert!(events.types().is_empty()); // every type the client may see
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/server/events_get) (its `type` query parameter)
    pub fn types(&self) -> &[EventType] {
        &self.shared.types
    }

    /// The project whose events are received; `None` for all projects.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// let events = client.with_project("ci")?.events().connect().await?;
    /// assert_eq!(events.project(), Some("ci")); // the client's project by default
    /// let events = client.events().connect().await?; // a client without a project
    /// assert_eq!(events.project(), Some("default"));
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/server/events_get) (its `project` query parameter)
    pub fn project(&self) -> Option<&str> {
        self.shared.project.as_deref()
    }

    /// Waits for the operation `id` (of this stream's project) to end, through
    /// this connection: subscribes first, then reads the operation once, then waits for its
    /// final event, so nothing is missed and any number of operations can be awaited over
    /// one connection. After a reconnection or a lag it reads the operation again; if the
    /// connection is lost for good, it falls back to LXD's `/wait`. Success returns the
    /// final operation; failure and cancellation are errors carrying LXD's message.
    ///
    /// ```no_run
    /// # async fn demo(client: lxd_client::Client) -> Result<(), lxd_client::Error> {
    /// use lxd_client::proto::{EventType, InstanceStatePut};
    /// let events = client.events().types([EventType::Operation]).connect().await?;
    /// let mut ids = Vec::new();
    /// for name in ["a", "b", "c"] {
    ///     ids.push(client.instances().set_state(name, &InstanceStatePut::start()).await?.id().to_string());
    /// }
    /// let waits = ids.iter().map(|id| events.wait_operation(id));
    /// for result in futures::future::join_all(waits).await {
    ///     result?;
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [REST reference](https://documentation.ubuntu.com/lxd/en/latest/api/#/operations/operation_get)
    pub async fn wait_operation(&self, id: &str) -> Result<lxd_proto::Operation> {
        // The operation is read in the stream's project (all projects: the client's).
        let client = match &self.shared.project {
            Some(p) if self.shared.client.project().unwrap_or(DEFAULT_PROJECT) != p => {
                self.shared.client.with_project(p)?
            }
            _ => self.shared.client.clone(),
        };
        self.wait_for(&client, id).await
    }

    /// [`wait_operation`](Self::wait_operation) with the client that owns the operation;
    /// refuses a stream that cannot see the operation's events.
    pub(crate) async fn wait_for(&self, client: &Client, id: &str) -> Result<lxd_proto::Operation> {
        let shared = &self.shared;
        if !shared.types.is_empty() && !shared.types.contains(&EventType::Operation) {
            return Err(Error::invalid(
                "event stream",
                "waiting for an operation needs a stream with operation events",
            ));
        }
        if let Some(project) = &shared.project {
            let own = client.project().unwrap_or(DEFAULT_PROJECT);
            if own != project {
                return Err(Error::invalid(
                    "event stream",
                    format!(
                        "the stream receives project {project:?}, the operation belongs to {own:?}"
                    ),
                ));
            }
        }
        // Subscribe first, then read: whatever happens after the read is in `rx`.
        let subscribed = {
            let closed = shared.closed.lock().expect("lock");
            closed.is_none().then(|| shared.tx.subscribe())
        };
        let Some(mut rx) = subscribed else {
            // The connection is gone for good: LXD's long-poll instead.
            return judge(wait_final(client, id).await?);
        };
        let mut recheck = (!shared.confirmed.load(Ordering::SeqCst)).then_some(RECHECK_FIRST);
        let op = fetch(client, id).await?;
        if op.is_final() {
            return judge(op);
        }
        loop {
            let received = match recheck {
                Some(delay) => tokio::select! {
                    r = rx.recv() => Some(r),
                    () = tokio::time::sleep(delay) => None,
                },
                None => Some(rx.recv().await),
            };
            let reread = match received {
                // Registration unconfirmed (a server that does not ping first): read again
                // until an event shows the listener is there.
                None => {
                    let confirmed = shared.confirmed.load(Ordering::SeqCst);
                    recheck =
                        (!confirmed).then(|| (recheck.unwrap_or_default() * 2).min(RECHECK_MAX));
                    true
                }
                Some(Ok(Msg::Event(event))) => {
                    if let EventPayload::Operation(op) = &event.payload
                        && op.id == id
                        && op.is_final()
                    {
                        return judge((**op).clone());
                    }
                    // Any event proves the listener is registered; read once more to cover
                    // what happened before.
                    recheck.take().is_some()
                }
                Some(Ok(Msg::Malformed(_))) => false,
                Some(Ok(Msg::Reconnected(_)))
                | Some(Err(broadcast::error::RecvError::Lagged(_))) => {
                    if !shared.confirmed.load(Ordering::SeqCst) {
                        recheck = Some(RECHECK_FIRST);
                    }
                    true
                }
                Some(Ok(Msg::Closed(_))) | Some(Err(broadcast::error::RecvError::Closed)) => {
                    return judge(wait_final(client, id).await?);
                }
            };
            if reread {
                let op = fetch(client, id).await?;
                if op.is_final() {
                    return judge(op);
                }
            }
        }
    }
}

impl Stream for EventStream {
    type Item = Result<EventItem>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.poll_next_unpin(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(project: Option<&str>) -> Client {
        let c = crate::instances::offline_client();
        match project {
            Some(p) => c.with_project(p).unwrap(),
            None => c,
        }
    }

    fn query(b: &EventsBuilder) -> Vec<(String, String)> {
        b.query()
    }

    #[test]
    fn queries_name_types_and_scope() {
        let b = client(None).events().types([
            EventType::Operation,
            EventType::Lifecycle,
            EventType::Operation,
        ]);
        assert_eq!(
            query(&b),
            [("type".to_string(), "operation,lifecycle".to_string())]
        );
        let b = client(Some("dev")).events();
        assert_eq!(query(&b), [("project".to_string(), "dev".to_string())]);
        // All projects: the client's project must not be sent (LXD refuses both).
        let b = client(Some("dev")).events().all_projects();
        assert_eq!(
            query(&b),
            [("all-projects".to_string(), "true".to_string())]
        );
        let b = client(None).events().project("other");
        assert_eq!(query(&b), [("project".to_string(), "other".to_string())]);
    }

    #[tokio::test]
    async fn bad_project_is_refused_before_connecting() {
        let err = client(None)
            .events()
            .project("a/b")
            .connect()
            .await
            .unwrap_err();
        assert!(err.is_invalid_input(), "{err:?}");
    }

    #[test]
    fn items_say_whether_events_were_lost() {
        assert!(EventItem::Lagged { skipped: 3 }.is_gap());
        assert!(EventItem::Reconnected { reason: "x".into() }.is_gap());
        let item = EventItem::Event(Event::default());
        assert!(!item.is_gap());
        assert!(item.event().is_some());
    }
}
