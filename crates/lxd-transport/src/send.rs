//! Sending a request: through the unix socket's keep-alive pool (plain requests on the unix
//! socket) or through reqwest (HTTPS, and websocket upgrades on both transports), with the
//! same timeouts, upload watch, logging and redirect refusal on both paths.

use std::time::{Duration, Instant};

use http::HeaderValue;

use crate::error::{Error, Result};
use crate::pool::{UnixPool, request_body};
use crate::request::{Body, Reply, Request, Response, Timeout, UploadProgress, Watched};
use crate::transport::Transport;

impl Transport {
    /// Sends a request and returns the response once its head has arrived; the body is read
    /// by the caller (whole or streamed).
    ///
    /// ```no_run
    /// use lxd_transport::{Request, Transport, http::Method};
    /// # async fn demo(t: Transport) -> Result<(), lxd_transport::Error> {
    /// let create = Request::new(Method::POST, "/1.0/profiles")
    ///     .json(br#"{"name":"web","config":{"limits.cpu":"2"}}"#.to_vec());
    /// let resp = t.send(create).await?;
    /// // LXD's own errors (409 if "web" exists) are a successful exchange: check the status.
    /// println!("{} {}", resp.status(), String::from_utf8_lossy(&resp.bytes().await?));
    /// # Ok(()) }
    /// ```
    pub async fn send(&self, request: Request) -> Result<Response> {
        match &self.unix {
            Some(pool) => self.send_pooled(pool, request).await,
            None => self.send_reqwest(request).await,
        }
    }

    /// Sends through reqwest: every request over HTTPS, and websocket upgrades on both
    /// transports (the upgraded connection is the websocket's, never pooled).
    pub(crate) async fn send_reqwest(&self, request: Request) -> Result<Response> {
        request.check()?;
        let url = self.url(&request);
        let started = Instant::now();
        let mut builder = self
            .http
            .request(request.method.clone(), url)
            .headers(request.headers);
        // reqwest's own timeout also bounds the body's reads.
        if let Some(limit) = self.limit(request.timeout) {
            builder = builder.timeout(limit);
        }
        let (body, progress) = self.watch_upload(request.body);
        builder = match body {
            Body::Empty => builder,
            Body::Bytes(b) => builder.body(b),
            Body::Stream { stream, length } => {
                if let Some(len) = length {
                    builder = builder.header(http::header::CONTENT_LENGTH, len);
                }
                builder.body(reqwest::Body::wrap_stream(stream))
            }
        };
        let sending = async {
            builder
                .send()
                .await
                .map_err(|e| Error::from_reqwest(&self.label, e))
        };
        let result = self
            .unless_upload_stalls(progress, sending)
            .await
            .map(|inner| self.response(Reply::Reqwest(inner), None));
        self.finish(&request.method, &request.path, started, result)
    }

    /// Sends a plain request on the unix socket through the keep-alive pool.
    async fn send_pooled(&self, pool: &UnixPool, request: Request) -> Result<Response> {
        request.check()?;
        let url = self.url(&request);
        let target = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_string(),
        };
        let uri = http::Uri::try_from(target.as_str())
            .map_err(|e| Error::InvalidRequest(format!("path {:?}: {e}", request.path)))?;
        let started = Instant::now();
        let limit = self.limit(request.timeout);
        let deadline = limit.map(|limit| tokio::time::Instant::now() + limit);
        let mut headers = request.headers;
        // hyper sends what it is given: the Host that HTTP/1.1 requires (LXD ignores its
        // value) and what reqwest would add.
        headers
            .entry(http::header::HOST)
            .or_insert(HeaderValue::from_static("lxd"));
        headers
            .entry(http::header::USER_AGENT)
            .or_insert(self.user_agent.clone());
        headers
            .entry(http::header::ACCEPT)
            .or_insert(HeaderValue::from_static("*/*"));
        if let Body::Stream {
            length: Some(len), ..
        } = &request.body
        {
            headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(*len));
        }
        let body_was_empty = matches!(request.body, Body::Empty);
        let (body, progress) = self.watch_upload(request.body);
        let mut outgoing = hyper::Request::new(request_body(body));
        *outgoing.method_mut() = request.method.clone();
        *outgoing.uri_mut() = uri;
        *outgoing.headers_mut() = headers;
        let sending = self.unless_upload_stalls(progress, pool.send(outgoing, body_was_empty));
        let result = match deadline {
            Some(deadline) => tokio::time::timeout_at(deadline, sending)
                .await
                .unwrap_or_else(|_| {
                    Err(Error::Timeout {
                        endpoint: self.label.clone(),
                    })
                }),
            None => sending.await,
        }
        .map(|inner| self.response(Reply::Pooled(inner), deadline));
        self.finish(&request.method, &request.path, started, result)
    }

    /// The time a request may take, if limited.
    fn limit(&self, timeout: Timeout) -> Option<Duration> {
        match timeout {
            Timeout::Default => self.timeout,
            Timeout::None => None,
            Timeout::After(d) => Some(d),
        }
    }

    /// A streamed body that reports its progress, when uploads have an idle timeout.
    fn watch_upload(&self, body: Body) -> (Body, Option<std::sync::Arc<UploadProgress>>) {
        match (body, self.idle_timeout) {
            (Body::Stream { stream, length }, Some(_)) => {
                let progress = UploadProgress::new();
                let watched = Watched {
                    inner: stream,
                    progress: progress.clone(),
                    remaining: length,
                };
                let body = Body::Stream {
                    stream: Box::pin(watched),
                    length,
                };
                (body, Some(progress))
            }
            (body, _) => (body, None),
        }
    }

    /// Runs `sending`, failing with [`Error::IdleTimeout`] if the server stops taking the
    /// streamed body for the idle timeout.
    async fn unless_upload_stalls<T>(
        &self,
        progress: Option<std::sync::Arc<UploadProgress>>,
        sending: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        match (progress, self.idle_timeout) {
            (Some(progress), Some(idle)) => tokio::select! {
                result = sending => result,
                () = progress.stalled(idle) => Err(Error::IdleTimeout {
                    endpoint: self.label.clone(),
                    idle,
                }),
            },
            _ => sending.await,
        }
    }

    fn response(&self, inner: Reply, deadline: Option<tokio::time::Instant>) -> Response {
        Response {
            inner,
            endpoint: self.label.clone(),
            max_body: self.max_body,
            idle: self.idle_timeout,
            deadline,
        }
    }

    /// Logs the exchange and refuses a redirect.
    fn finish(
        &self,
        method: &http::Method,
        path: &str,
        started: Instant,
        result: Result<Response>,
    ) -> Result<Response> {
        // Only the path: queries can carry websocket secrets (and the error's URL has lost
        // its query in from_reqwest).
        match &result {
            Ok(resp) => tracing::debug!(
                endpoint = %self.label,
                method = %method,
                path = %path,
                status = resp.status().as_u16(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "lxd request"
            ),
            Err(e) => tracing::debug!(
                endpoint = %self.label,
                method = %method,
                path = %path,
                error = %e,
                "lxd request failed"
            ),
        }
        let response = result?;
        if response.status().is_redirection() {
            return Err(Error::Redirected {
                endpoint: self.label.clone(),
                method: method.to_string(),
                path: path.to_string(),
                status: response.status().as_u16(),
                location: location_without_query(response.headers()),
            });
        }
        Ok(response)
    }
}

/// A redirect's `Location`, without its query and fragment (they could carry a secret).
fn location_without_query(headers: &http::HeaderMap) -> String {
    let Some(value) = headers.get(http::header::LOCATION) else {
        return String::new();
    };
    let text = String::from_utf8_lossy(value.as_bytes());
    let end = text.find(['?', '#']).unwrap_or(text.len());
    text[..end].to_string()
}
