//! A `tracing` subscriber that keeps every record as text, for tests that search what a
//! client logged (for example, that no secret ever reaches the logs).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};

/// Every record at every level, as `target level message field=value ...`, one per line
/// (errors in both their `Display` and `Debug` forms).
///
/// ```
/// let capture = lxd_testkit::LogCapture::global();
/// tracing::info!(user = "alice", "hello");
/// assert!(capture.text().contains("hello"));
/// ```
#[derive(Clone, Default)]
pub struct LogCapture {
    lines: Arc<Mutex<String>>,
    ids: Arc<AtomicU64>,
}

struct Line<'a>(&'a mut String);

impl Visit for Line<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, " {}={}", field.name(), value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        // Both renderings: a secret may hide in either.
        let _ = write!(self.0, " {}={} / {:?}", field.name(), value, value);
    }
}

impl LogCapture {
    fn push(&self, metadata: &Metadata<'_>, fill: impl FnOnce(&mut Line<'_>)) {
        let mut line = format!("{} {}", metadata.target(), metadata.level());
        fill(&mut Line(&mut line));
        line.push('\n');
        self.lines.lock().unwrap().push_str(&line);
    }

    /// Everything captured so far.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let capture = lxd_testkit::LogCapture::global();
    /// let server = lxd_testkit::TestServer::start().await?;
    /// let client = lxd_client::Client::unix(server.socket_path())?;
    /// client.profiles().list_names().await?;
    /// // The client logged the request, by its path.
    /// assert!(capture.text().contains("path=/1.0/profiles"));
    /// # Ok(()) }
    /// ```
    pub fn text(&self) -> String {
        self.lines.lock().unwrap().clone()
    }
}

impl Subscriber for LogCapture {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        Interest::always()
    }

    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::TRACE)
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        self.push(span.metadata(), |line| span.record(line));
        Id::from_u64(self.ids.fetch_add(1, Ordering::Relaxed) + 1)
    }

    fn record(&self, _: &Id, values: &Record<'_>) {
        let mut line = String::from("(span record)");
        values.record(&mut Line(&mut line));
        line.push('\n');
        self.lines.lock().unwrap().push_str(&line);
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        self.push(event.metadata(), |line| event.record(line));
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

impl LogCapture {
    /// The process-wide capture, installed as the global default subscriber on first use
    /// (tasks run on every runtime thread, so it must be global). Panics if another global
    /// subscriber was installed before.
    ///
    /// ```
    /// use lxd_testkit::LogCapture;
    /// let capture = LogCapture::global();
    /// assert!(std::ptr::eq(capture, LogCapture::global())); // installed once, shared
    /// tracing::warn!(token = "<redacted>", "joining the cluster");
    /// let text = capture.text();
    /// assert!(text.contains("joining the cluster") && text.contains("token=<redacted>"));
    /// ```
    pub fn global() -> &'static LogCapture {
        static CAPTURE: OnceLock<LogCapture> = OnceLock::new();
        CAPTURE.get_or_init(|| {
            let capture = LogCapture::default();
            tracing::subscriber::set_global_default(capture.clone())
                .expect("no other global tracing subscriber in this process");
            capture
        })
    }
}
