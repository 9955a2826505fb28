//! The floor: the smallest LXD client that can do what the workloads do. Plain HTTP/1.1
//! over the unix socket (request line, headers, Content-Length or chunked bodies,
//! keep-alive through a stack of idle connections) and plain websockets over a fresh
//! connection each. No lxd-client code: whatever lxd-client costs above this is overhead.
//!
//! LXD 5.0.2 stops answering while a connection sits open without having sent a request, so
//! a connection is only ever opened right before the request that uses it.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio_tungstenite::WebSocketStream;

use crate::harness::{BoxError, Result};

/// Read buffer of a connection (headers and small bodies; a larger read bypasses it).
const CONN_BUF: usize = 16 * 1024;

/// The buffer a large body is drained or sent through: few system calls per MiB.
const READ_BUF: usize = 64 * 1024;

type Conn = BufReader<UnixStream>;

/// A raw client of one unix socket. Cheap to clone; clones share idle connections.
#[derive(Clone)]
pub struct Raw(Arc<Inner>);

struct Inner {
    socket: PathBuf,
    idle: Mutex<Vec<Conn>>,
}

/// A request body.
pub enum Body {
    /// No body.
    Empty,
    /// A JSON document.
    Json(Vec<u8>),
    /// Bytes with a content type (the files API takes octet streams).
    Bytes(Vec<u8>),
    /// A file, streamed, sent with its length.
    File(PathBuf, u64),
}

/// How the rest of a response body is framed.
enum Framing {
    Length(u64),
    /// Bytes left in the current chunk; `None` before the first size line.
    Chunked {
        left: u64,
        done: bool,
    },
    UntilClose,
}

/// A response: status, and a body read in pieces (the connection goes back to the idle
/// stack once the body is fully read).
pub struct Response {
    /// HTTP status.
    pub status: u16,
    raw: Raw,
    conn: Option<Conn>,
    framing: Framing,
    keep_alive: bool,
}

impl Raw {
    pub fn new(socket: PathBuf) -> Raw {
        Raw(Arc::new(Inner {
            socket,
            idle: Mutex::new(Vec::new()),
        }))
    }

    /// Sends a request; a reused connection the server has closed meanwhile is retried once
    /// on a fresh one.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Body,
    ) -> Result<Response> {
        let reused = self.0.idle.lock().expect("lock").pop();
        if let Some(conn) = reused
            && let Ok(resp) = self.send_on(conn, method, path, headers, &body).await
        {
            return Ok(resp);
        }
        let conn = BufReader::with_capacity(CONN_BUF, UnixStream::connect(&self.0.socket).await?);
        self.send_on(conn, method, path, headers, &body).await
    }

    async fn send_on(
        &self,
        mut conn: Conn,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &Body,
    ) -> Result<Response> {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: lxd\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        let mut out = head.into_bytes();
        match body {
            Body::Empty => out.extend_from_slice(b"\r\n"),
            Body::Json(bytes) | Body::Bytes(bytes) => {
                let kind = match body {
                    Body::Json(_) => "application/json",
                    _ => "application/octet-stream",
                };
                out.extend_from_slice(
                    format!(
                        "Content-Type: {kind}\r\nContent-Length: {}\r\n\r\n",
                        bytes.len()
                    )
                    .as_bytes(),
                );
                out.extend_from_slice(bytes);
            }
            Body::File(_, len) => out.extend_from_slice(
                format!("Content-Type: application/octet-stream\r\nContent-Length: {len}\r\n\r\n")
                    .as_bytes(),
            ),
        }
        let stream = conn.get_mut();
        stream.write_all(&out).await?;
        if let Body::File(path, _) = body {
            let mut file = tokio::fs::File::open(path).await?;
            let mut buf = vec![0u8; READ_BUF];
            loop {
                let n = file.read(&mut buf).await?;
                if n == 0 {
                    break;
                }
                stream.write_all(&buf[..n]).await?;
            }
        }

        let mut line = String::new();
        if conn.read_line(&mut line).await? == 0 {
            return Err("connection closed before a response".into());
        }
        let status = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad status line {line:?}"))?;
        let mut framing = Framing::UntilClose;
        let mut keep_alive = true;
        loop {
            line.clear();
            conn.read_line(&mut line).await?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            let Some((name, value)) = header.split_once(':') else {
                continue;
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                framing = Framing::Length(value.parse()?);
            } else if name.eq_ignore_ascii_case("transfer-encoding")
                && value.eq_ignore_ascii_case("chunked")
            {
                framing = Framing::Chunked {
                    left: 0,
                    done: false,
                };
            } else if name.eq_ignore_ascii_case("connection") && value.eq_ignore_ascii_case("close")
            {
                keep_alive = false;
            }
        }
        if method == "HEAD" || status == 204 || status == 304 {
            framing = Framing::Length(0);
        }
        keep_alive &= !matches!(framing, Framing::UntilClose);
        Ok(Response {
            status,
            raw: self.clone(),
            conn: Some(conn),
            framing,
            keep_alive,
        })
    }

    /// A request with an optional JSON body, answered with JSON (LXD's envelope).
    pub async fn json(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value> {
        let body = match body {
            Some(v) => Body::Json(serde_json::to_vec(v)?),
            None => Body::Empty,
        };
        let resp = self.send(method, path, &[], body).await?;
        let status = resp.status;
        let bytes = resp.bytes().await?;
        let value: Value = serde_json::from_slice(&bytes)?;
        if status >= 400 {
            return Err(format!("{method} {path}: {status} {}", value["error"]).into());
        }
        Ok(value)
    }

    /// Waits for a background operation (`/1.0/operations/<id>`) and fails if it failed.
    pub async fn wait(&self, operation: &str) -> Result<Value> {
        let done = self
            .json("GET", &format!("{operation}/wait?timeout=-1"), None)
            .await?;
        let meta = &done["metadata"];
        if meta["status_code"] != 200 {
            return Err(format!("operation {operation} failed: {}", meta["err"]).into());
        }
        Ok(done)
    }

    /// A request answered with an operation, waited for.
    pub async fn op(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value> {
        let started = self.json(method, path, body).await?;
        let op = started["operation"]
            .as_str()
            .ok_or_else(|| format!("{method} {path}: no operation in {started}"))?;
        self.wait(op).await
    }

    /// A websocket on a fresh connection (the handshake is sent right after connecting).
    pub async fn websocket(&self, path: &str) -> Result<WebSocketStream<UnixStream>> {
        let stream = UnixStream::connect(&self.0.socket).await?;
        let (ws, _) = tokio_tungstenite::client_async(format!("ws://lxd{path}"), stream).await?;
        Ok(ws)
    }
}

impl Response {
    /// Reads the next piece of the body into `buf`; 0 at its end.
    pub async fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        let Some(conn) = self.conn.as_mut() else {
            return Ok(0);
        };
        let n = match &mut self.framing {
            Framing::Length(0) => 0,
            Framing::Length(left) => {
                let want = buf.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
                let n = conn.read(&mut buf[..want]).await?;
                if n == 0 {
                    return Err("body cut short".into());
                }
                *left -= n as u64;
                n
            }
            Framing::Chunked { done: true, .. } => 0,
            Framing::Chunked { left, done } => {
                if *left == 0 {
                    let mut line = String::new();
                    conn.read_line(&mut line).await?;
                    let size = line.trim_end().split(';').next().unwrap_or("");
                    *left = u64::from_str_radix(size, 16)
                        .map_err(|_| BoxError::from(format!("bad chunk size {line:?}")))?;
                    if *left == 0 {
                        // Trailers, then the blank line.
                        loop {
                            line.clear();
                            conn.read_line(&mut line).await?;
                            if line.trim_end().is_empty() {
                                break;
                            }
                        }
                        *done = true;
                        0
                    } else {
                        read_chunk(conn, buf, left).await?
                    }
                } else {
                    read_chunk(conn, buf, left).await?
                }
            }
            Framing::UntilClose => conn.read(buf).await?,
        };
        if n == 0 {
            self.finish();
        }
        Ok(n)
    }

    /// The whole body.
    pub async fn bytes(mut self) -> Result<Vec<u8>> {
        let mut body = Vec::new();
        let mut buf = [0u8; 8 * 1024];
        loop {
            let n = self.read(&mut buf).await?;
            if n == 0 {
                return Ok(body);
            }
            body.extend_from_slice(&buf[..n]);
        }
    }

    /// Reads and drops the body; returns its length.
    pub async fn drain(mut self) -> Result<u64> {
        let mut total = 0u64;
        let mut buf = vec![0u8; READ_BUF];
        loop {
            let n = self.read(&mut buf).await?;
            if n == 0 {
                return Ok(total);
            }
            total += n as u64;
        }
    }

    /// The body is complete: the connection may carry the next request.
    fn finish(&mut self) {
        if let Some(conn) = self.conn.take()
            && self.keep_alive
        {
            self.raw.0.idle.lock().expect("lock").push(conn);
        }
    }
}

async fn read_chunk(conn: &mut Conn, buf: &mut [u8], left: &mut u64) -> Result<usize> {
    let want = buf.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
    let n = conn.read(&mut buf[..want]).await?;
    if n == 0 {
        return Err("chunk cut short".into());
    }
    *left -= n as u64;
    if *left == 0 {
        let mut crlf = [0u8; 2];
        conn.read_exact(&mut crlf).await?;
    }
    Ok(n)
}
