//! herald's own accept and serve loop, over hyper's HTTP/1.1 connections
//! (what `axum::serve` does, plus two things it cannot):
//!
//! - **A header read timeout for every request**: hyper times the reading
//!   of each request head, from the moment it starts waiting for one (so
//!   an idle keep-alive connection counts too) — `[server]
//!   header_read_timeout`, 10 s by default. A client that does not finish
//!   a head in time is disconnected; together with the connection cap and
//!   first-byte timeout of [`crate::conn_limit`], idle and half-open
//!   connections cannot pile up.
//! - **`Content-Length` together with `Transfer-Encoding` is refused**:
//!   each connection's reads pass through
//!   [`herald_core::http_framing::RequestFraming`], which renames such a
//!   `Content-Length` to [`herald_core::http_framing::MARKER`] before hyper
//!   parses the head (hyper would drop it silently); the edge
//!   (`crate::edge::guard`) answers the marker with an OData 400 and
//!   `Connection: close`.
//!
//! Graceful shutdown: on the signal the loop stops accepting, every
//! connection finishes the request it is serving and closes, and `serve`
//! returns once all have.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use herald_core::http_framing::RequestFraming;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tower_service::Service;

use crate::public_origin::PeerAddr;

/// Bytes read from the socket at once.
const READ_CHUNK: usize = 16 * 1024;

/// Serve `router` on `listener` until `shutdown` resolves.
pub async fn serve<L>(
    mut listener: L,
    router: Router,
    header_read_timeout: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    L: axum::serve::Listener<Addr = SocketAddr>,
    L::Io: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // `close` tells the connections to finish; each holds a `done`
    // receiver, so `done_tx.closed()` resolves once every one has ended.
    let (close_tx, close_rx) = tokio::sync::watch::channel(());
    let (done_tx, done_rx) = tokio::sync::watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (io, peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let router = router.clone();
        let mut close = close_rx.clone();
        let done = done_rx.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                let mut req = req.map(Body::new);
                req.extensions_mut().insert(ConnectInfo(PeerAddr(peer)));
                let mut router = router.clone();
                async move { router.call(req).await }
            });
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(header_read_timeout)
                .keep_alive(true);
            let conn = builder
                .serve_connection(TokioIo::new(Framed::new(io)), service)
                .with_upgrades();
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::trace!(error = %e, "connection ended with an error");
                    }
                }
                _ = close.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.as_mut().await;
                }
            }
            drop(done);
        });
    }
    drop(listener);
    drop(done_rx);
    let _ = close_tx.send(());
    done_tx.closed().await;
    Ok(())
}

/// A connection whose reads go through [`RequestFraming`].
pub struct Framed<Io> {
    inner: Io,
    framing: RequestFraming,
    /// Bytes let through and not yet handed to hyper.
    ready: Vec<u8>,
    /// Where in `ready` hyper's next read starts.
    at: usize,
    eof: bool,
}

impl<Io> Framed<Io> {
    pub fn new(inner: Io) -> Framed<Io> {
        Framed {
            inner,
            framing: RequestFraming::new(),
            ready: Vec::new(),
            at: 0,
            eof: false,
        }
    }
}

impl<Io: AsyncRead + Unpin> AsyncRead for Framed<Io> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        loop {
            if this.at < this.ready.len() {
                let n = (this.ready.len() - this.at).min(buf.remaining());
                buf.put_slice(&this.ready[this.at..this.at + n]);
                this.at += n;
                if this.at == this.ready.len() {
                    this.ready.clear();
                    this.at = 0;
                }
                return Poll::Ready(Ok(()));
            }
            if this.eof {
                return Poll::Ready(Ok(()));
            }
            // Once nothing is followed any more, read straight through.
            if this.framing.passing_through() {
                return Pin::new(&mut this.inner).poll_read(cx, buf);
            }
            let mut raw = [0u8; READ_CHUNK];
            let mut raw_buf = ReadBuf::new(&mut raw);
            match Pin::new(&mut this.inner).poll_read(cx, &mut raw_buf) {
                Poll::Ready(Ok(())) => {
                    let got = raw_buf.filled();
                    if got.is_empty() {
                        this.eof = true;
                        this.framing.finish(&mut this.ready);
                    } else {
                        this.framing.feed(got, &mut this.ready);
                    }
                }
                other => return other,
            }
        }
    }
}

crate::io_wrapper::write_through_inner!(Framed);
