//! Connections a slow or idle client cannot pile up: [`Capped`] wraps
//! herald's listener so that at most [`MAX_CONNECTIONS`] are open at once
//! (past that, new ones wait in the kernel's accept queue until one
//! closes), and a connection that sends nothing within [`FIRST_BYTE`] of
//! being accepted (a half-open or idle socket) is closed.
//!
//! Only the first byte is timed here: after it, hyper times each request
//! head (`[server] header_read_timeout`, set by `crate::accept`) and
//! otherwise owns the connection's pace (a sync webhook can legitimately
//! keep a response pending for the delivery timeout).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Open connections at most.
pub const MAX_CONNECTIONS: usize = 4096;
/// How long a new connection may stay silent.
pub const FIRST_BYTE: Duration = Duration::from_secs(10);

/// A listener with the limits above.
pub struct Capped<L> {
    inner: L,
    slots: Arc<Semaphore>,
}

impl<L> Capped<L> {
    pub fn new(inner: L) -> Capped<L> {
        Capped {
            inner,
            slots: Arc::new(Semaphore::new(MAX_CONNECTIONS)),
        }
    }
}

impl<L> axum::serve::Listener for Capped<L>
where
    L: axum::serve::Listener<Addr = SocketAddr>,
    L::Io: Unpin,
{
    type Io = Limited<L::Io>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let permit = match self.slots.clone().acquire_owned().await {
            Ok(p) => Some(p),
            Err(_) => None,
        };
        let (io, addr) = self.inner.accept().await;
        (
            Limited {
                inner: io,
                _permit: permit,
                first_byte: Some(Box::pin(tokio::time::sleep(FIRST_BYTE))),
            },
            addr,
        )
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// A connection holding its slot until it closes, and timing its first byte.
pub struct Limited<Io> {
    inner: Io,
    _permit: Option<OwnedSemaphorePermit>,
    first_byte: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<Io: AsyncRead + Unpin> AsyncRead for Limited<Io> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        match &polled {
            Poll::Ready(Ok(())) if buf.filled().len() > before => this.first_byte = None,
            Poll::Pending => {
                if let Some(timer) = this.first_byte.as_mut() {
                    if timer.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(Err(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            "no request within the first-byte timeout",
                        )));
                    }
                }
            }
            _ => {}
        }
        polled
    }
}

crate::io_wrapper::write_through_inner!(Limited);
