//! Flush consolidation for the server's connections.
//!
//! h2 hands every DATA frame of 256 bytes or more to the socket on its own
//! and flushes it at once. A connection carrying many explained quotes
//! (about 5 KB each) therefore makes one `writev`, and wakes the client
//! once, per response, where small responses share a write. On loopback
//! that write is the whole TCP path of both ends, so it costs as much as the
//! quote's pricing.
//!
//! [`Consolidated`] keeps what h2 writes in one buffer. The first flush that
//! finds bytes waiting does not write: it asks for the connection to be
//! polled again, after the tasks already queued, which are often handlers
//! finishing more responses. The next flush writes everything in one call.
//! No byte waits longer than one turn of the scheduler, and a connection
//! with nothing else to do is polled again at once.
use std::{
    future::Future,
    io,
    pin::Pin,
    task::{Context, Poll, ready},
};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tonic::transport::server::{Connected, TcpConnectInfo};

/// Above this many bytes waiting, a write first sends what is waiting.
const MAX_WAITING: usize = 256 * 1024;

/// Bytes a peer must send before its handshake deadline: the HTTP/2
/// preface (24) and one frame header (9), its SETTINGS.
const HANDSHAKE_BYTES: usize = 33;

/// When a connection still in its handshake is closed: a timer, and the
/// server's shutdown.
type Deadline = Pin<Box<tokio::time::Sleep>>;
type Stopping = Pin<Box<tokio::sync::futures::OwnedNotified>>;

/// A connection whose writes wait for the next flush but one.
pub struct Consolidated<T> {
    io: T,
    waiting: Vec<u8>,
    /// How much of `waiting` the socket has taken.
    sent: usize,
    /// A flush has found bytes waiting and asked to be polled again.
    deferred: bool,
    /// Until the peer has sent [`HANDSHAKE_BYTES`]: the moment its
    /// connection is closed if it has not (a silent peer holds nothing),
    /// and the server's shutdown, which closes it at once.
    handshake: Option<(Deadline, Stopping)>,
    received: usize,
    /// The connection's place among those the server takes at once.
    _place: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl<T> Consolidated<T> {
    pub fn new(io: T) -> Self {
        Self {
            io,
            waiting: Vec::new(),
            sent: 0,
            deferred: false,
            handshake: None,
            received: 0,
            _place: None,
        }
    }

    /// Closes the connection unless the peer has sent its preface and
    /// first frame within `timeout` (or before `shutdown` is notified);
    /// `place` is held while it lives.
    pub fn guarded(
        io: T,
        timeout: std::time::Duration,
        shutdown: std::sync::Arc<tokio::sync::Notify>,
        place: tokio::sync::OwnedSemaphorePermit,
    ) -> Self {
        Self {
            handshake: Some((
                Box::pin(tokio::time::sleep(timeout)),
                Box::pin(shutdown.notified_owned()),
            )),
            _place: Some(place),
            ..Self::new(io)
        }
    }
}

impl<T: AsyncWrite + Unpin> Consolidated<T> {
    /// Writes everything waiting, or registers for the socket's readiness.
    fn poll_send_waiting(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.waiting.len() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &self.waiting[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        self.waiting.clear();
        self.sent = 0;
        self.deferred = false;
        Poll::Ready(Ok(()))
    }

    fn poll_make_room(&mut self, cx: &mut Context<'_>, len: usize) -> Poll<io::Result<()>> {
        if !self.waiting.is_empty() && self.waiting.len() + len > MAX_WAITING {
            ready!(self.poll_send_waiting(cx))?;
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Consolidated<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_make_room(cx, buf.len()))?;
        this.waiting.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let len = bufs.iter().map(|b| b.len()).sum();
        ready!(this.poll_make_room(cx, len))?;
        for buf in bufs {
            this.waiting.extend_from_slice(buf);
        }
        Poll::Ready(Ok(len))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.waiting.is_empty() {
            return Pin::new(&mut this.io).poll_flush(cx);
        }
        if !this.deferred {
            // h2 flushes at the end of every poll of the connection; being
            // woken makes sure there is a next one.
            this.deferred = true;
            cx.waker().wake_by_ref();
            return Poll::Ready(Ok(()));
        }
        ready!(this.poll_send_waiting(cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_send_waiting(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Consolidated<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let read = Pin::new(&mut this.io).poll_read(cx, buf);
        if let Some((deadline, shutdown)) = &mut this.handshake {
            this.received += buf.filled().len() - before;
            if this.received >= HANDSHAKE_BYTES {
                this.handshake = None;
            } else if read.is_pending()
                && (deadline.as_mut().poll(cx).is_ready() || shutdown.as_mut().poll(cx).is_ready())
            {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the peer did not start HTTP/2 in time",
                )));
            }
        }
        read
    }
}

impl<T: Connected<ConnectInfo = TcpConnectInfo>> Connected for Consolidated<T> {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        self.io.connect_info()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn bytes_reach_the_peer_in_order_once_flushed_and_not_before() {
        let (ours, mut theirs) = tokio::io::duplex(1024);
        let mut conn = Consolidated::new(ours);
        conn.write_all(b"first ").await.expect("write");
        conn.write_all(b"second").await.expect("write");
        // Nothing is on the wire before a flush.
        let mut probe = [0u8; 1];
        let early = tokio::time::timeout(
            std::time::Duration::from_millis(20),
            theirs.read(&mut probe),
        )
        .await;
        assert!(early.is_err(), "bytes were sent before any flush");
        // `flush()` polls until Ready: the first poll defers, the second
        // writes; the peer sees both writes, in order, in one piece.
        conn.flush().await.expect("flush");
        conn.flush().await.expect("flush");
        let mut got = [0u8; 12];
        theirs.read_exact(&mut got).await.expect("read");
        assert_eq!(&got, b"first second");
    }

    #[tokio::test]
    async fn a_peer_that_reads_slowly_gets_everything_through_a_small_pipe() {
        // A 64-byte pipe forces partial writes and waiting for readiness.
        let (ours, mut theirs) = tokio::io::duplex(64);
        let payload: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let expected = payload.clone();
        let writer = tokio::spawn(async move {
            let mut conn = Consolidated::new(ours);
            for chunk in payload.chunks(700) {
                conn.write_all(chunk).await.expect("write");
                conn.flush().await.expect("flush");
            }
            conn.shutdown().await.expect("shutdown");
        });
        let mut got = Vec::new();
        theirs.read_to_end(&mut got).await.expect("read");
        writer.await.expect("writer");
        assert_eq!(got, expected);
    }
}
