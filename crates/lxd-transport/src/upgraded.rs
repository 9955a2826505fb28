//! The byte stream under a websocket: an upgraded HTTP connection whose writes, once the
//! daemon has gone, are dropped instead of failing, so what it sent before going can still be
//! read.
//!
//! Why: a websocket client answers every ping with a pong, and tungstenite sends that pong
//! at the start of the next read. Incus pings each exec websocket as soon as it connects; a
//! quick command's output, its end-of-stream marker and the close all follow at once. When
//! the client reads the ping after the daemon has already closed the socket, the pong write
//! fails ("Broken pipe") and tungstenite returns that error instead of the output still
//! waiting in the socket's buffer (seen once in 50 concurrent execs against Incus 6.0).
//! A pong or close reply to a peer that has gone has nobody to reach, so losing it loses
//! nothing; the reads that follow drain the buffer and then end, as they would have anyway.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// An upgraded connection under a [`WebSocket`](crate::WebSocket). Reads pass through;
/// a write that finds the peer gone (broken pipe, reset, aborted, not connected) reports
/// success and marks the connection, and later writes are dropped without being tried, so the
/// websocket can still read what the peer sent before it went. The next read after the
/// buffer is drained ends the stream, so a gone peer is still noticed.
///
/// You get one inside every websocket this crate opens; there is nothing to call on it.
///
/// ```no_run
/// # async fn demo(t: lxd_transport::Transport) -> Result<(), lxd_transport::Error> {
/// let ws: lxd_transport::WebSocket = t.websocket("/1.0/events", &[]).await?;
/// let stream: &lxd_transport::UpgradedStream = ws.get_ref();
/// println!("peer gone: {}", stream.peer_gone());
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct UpgradedStream<S = reqwest::Upgraded> {
    inner: S,
    peer_gone: bool,
}

impl<S> UpgradedStream<S> {
    pub(crate) fn new(inner: S) -> Self {
        UpgradedStream {
            inner,
            peer_gone: false,
        }
    }

    /// Whether a write has found the peer gone (and writes are now dropped).
    ///
    /// ```no_run
    /// # async fn demo(t: lxd_transport::Transport) -> Result<(), lxd_transport::Error> {
    /// use futures::StreamExt;
    /// let mut ws = t.websocket("/1.0/events", &[]).await?;
    /// while let Some(Ok(_)) = ws.next().await {}
    /// println!("ended; our last writes were dropped: {}", ws.get_ref().peer_gone());
    /// # Ok(()) }
    /// ```
    pub fn peer_gone(&self) -> bool {
        self.peer_gone
    }
}

/// Errors a write gets when the other end has closed the connection.
fn is_gone(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::NotConnected
    )
}

impl<S: Unpin> UpgradedStream<S> {
    /// Turns "the peer is gone" into success (once noted); other results pass through.
    fn absorb<T>(&mut self, result: Poll<io::Result<T>>, done: T) -> Poll<io::Result<T>> {
        match result {
            Poll::Ready(Err(e)) if is_gone(&e) => {
                if !self.peer_gone {
                    tracing::debug!(error = %e, "websocket peer gone; dropping our writes");
                    self.peer_gone = true;
                }
                Poll::Ready(Ok(done))
            }
            other => other,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for UpgradedStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for UpgradedStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.peer_gone {
            return Poll::Ready(Ok(buf.len()));
        }
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.absorb(result, buf.len())
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.peer_gone {
            return Poll::Ready(Ok(()));
        }
        let result = Pin::new(&mut self.inner).poll_flush(cx);
        self.absorb(result, ())
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.peer_gone {
            return Poll::Ready(Ok(()));
        }
        let result = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.absorb(result, ())
    }
}

#[cfg(test)]
mod tests {
    use futures::{SinkExt, StreamExt};
    use tokio::io::{AsyncRead, AsyncWrite, DuplexStream, duplex};
    use tokio_tungstenite::WebSocketStream;
    use tokio_tungstenite::tungstenite::protocol::Role;
    use tokio_tungstenite::tungstenite::{Error, Message};

    use super::UpgradedStream;

    /// What Incus does on an exec websocket for a quick command: a keepalive ping on
    /// connect, the output, the end-of-stream marker, then the socket is closed, all before
    /// the client has read anything. Returns the client's end.
    async fn daemon_that_pings_writes_and_goes() -> DuplexStream {
        let (client, daemon) = duplex(64 * 1024);
        let mut daemon = WebSocketStream::from_raw_socket(daemon, Role::Server, None).await;
        daemon
            .send(Message::Ping("keepalive".into()))
            .await
            .unwrap();
        daemon.send(Message::Binary("out\n".into())).await.unwrap();
        daemon.send(Message::Text("".into())).await.unwrap();
        drop(daemon);
        client
    }

    /// Every message read until the stream ends or fails, and how it ended.
    async fn read_all<S: AsyncRead + AsyncWrite + Unpin>(io: S) -> (Vec<Message>, Option<Error>) {
        let mut ws = WebSocketStream::from_raw_socket(io, Role::Client, None).await;
        let mut seen = Vec::new();
        while let Some(message) = ws.next().await {
            match message {
                Ok(m) => seen.push(m),
                Err(e) => return (seen, Some(e)),
            }
        }
        (seen, None)
    }

    #[tokio::test]
    async fn output_sent_before_the_peer_went_is_read_after_a_ping() {
        let io = UpgradedStream::new(daemon_that_pings_writes_and_goes().await);
        let (seen, end) = read_all(io).await;
        assert_eq!(
            seen,
            vec![
                Message::Ping("keepalive".into()),
                Message::Binary("out\n".into()),
                Message::Text("".into()),
            ]
        );
        // No close frame came, so the stream still ends in an error: the peer's going
        // is not hidden, only the pong it could not receive.
        assert!(end.is_some(), "the cut is reported after the data");
    }

    #[tokio::test]
    async fn without_it_the_pong_write_loses_the_output() {
        // The failure this type exists for, shown with the bare stream.
        let (seen, end) = read_all(daemon_that_pings_writes_and_goes().await).await;
        assert_eq!(seen, vec![Message::Ping("keepalive".into())]);
        let end = end.expect("an error").to_string();
        assert!(end.contains("pipe"), "{end}");
    }
}
