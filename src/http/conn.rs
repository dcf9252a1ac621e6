//! The HTTP accept loop: at most `max_connections` open (more are closed at once and
//! counted), headers within `header_timeout` (which also ends a kept-alive connection that
//! sends no next request), and a connection on which nothing moves either way for
//! `idle_timeout` closed (a slow body, a client that stops reading). axum's `serve` has none
//! of these, so connections are served here with hyper directly, as it does.

use super::State;
use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::{Instant, Sleep};

/// How long a stop waits for requests in flight before the connections are dropped.
const DRAIN: Duration = Duration::from_secs(10);

/// Serves `router` on `listener` until `shutdown` resolves, within `state.limits`.
pub async fn serve(
    listener: TcpListener,
    state: Arc<State>,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let open = Arc::new(AtomicUsize::new(0));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(error) => {
                    // EMFILE and the like: wait instead of spinning; the store keeps its
                    // reserve (agent::fds).
                    state.stats.accept_errors.fetch_add(1, Relaxed);
                    tracing::warn!(%error, "HTTP accept failed.");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        if open.load(Relaxed) >= state.limits.max_connections {
            state.stats.refused_connections.fetch_add(1, Relaxed);
            drop(stream);
            continue;
        }
        state.stats.connections.fetch_add(1, Relaxed);
        open.fetch_add(1, Relaxed);
        let (state, router, open) = (state.clone(), router.clone(), open.clone());
        let stop = stop_rx.clone();
        tokio::spawn(async move {
            connection(stream, peer, &state, router, stop).await;
            open.fetch_sub(1, Relaxed);
        });
    }
    let _ = stop_tx.send(true);
    let deadline = Instant::now() + DRAIN;
    while open.load(Relaxed) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    state: &Arc<State>,
    router: Router,
    mut stop: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let io = TokioIo::new(Idle::new(stream, state.clone(), stop.clone()));
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let mut request = request.map(Body::new);
        request.extensions_mut().insert(ConnectInfo(peer));
        tower::ServiceExt::oneshot(router.clone(), request)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(state.limits.header_timeout);
    let conn = builder.serve_connection(io, service);
    let mut conn = std::pin::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        _ = async { let _ = stop.wait_for(|s| *s).await; } => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result
        && e.is_timeout()
    {
        state.stats.timeouts.fetch_add(1, Relaxed);
    }
}

/// A TCP stream that fails with `TimedOut` once no byte has moved either way for the idle
/// timeout while someone waits on it.
struct Idle {
    stream: TcpStream,
    state: Arc<State>,
    deadline: Pin<Box<Sleep>>,
    /// Lingering close: after our FIN, bytes still read and dropped (bounded), so that a
    /// client still sending a refused body gets our answer instead of a reset.
    lingering: Option<u64>,
    /// Set when the server stops: a connection then closes without lingering (an open stream
    /// must not hold up a stop by the linger time).
    stopping: watch::Receiver<bool>,
}

/// A lingering close reads at most this much, for at most `LINGER`.
const LINGER_BYTES: u64 = 4 << 20;
const LINGER: Duration = Duration::from_secs(2);

impl Idle {
    fn new(stream: TcpStream, state: Arc<State>, stopping: watch::Receiver<bool>) -> Idle {
        let deadline = Box::pin(tokio::time::sleep(state.limits.idle_timeout));
        Idle {
            stream,
            state,
            deadline,
            lingering: None,
            stopping,
        }
    }

    fn moved(&mut self) {
        let next = Instant::now() + self.state.limits.idle_timeout;
        self.deadline.as_mut().reset(next);
    }

    /// Called when the stream is not ready: an error once the deadline has passed.
    fn expired(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.state.stats.timeouts.fetch_add(1, Relaxed);
                Poll::Ready(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "connection idle past http.idle_timeout",
                ))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for Idle {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.stream).poll_read(cx, buf) {
            Poll::Ready(r) => {
                self.moved();
                Poll::Ready(r)
            }
            Poll::Pending => self.expired(cx).map(Err),
        }
    }
}

impl AsyncWrite for Idle {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.stream).poll_write(cx, buf) {
            Poll::Ready(r) => {
                self.moved();
                Poll::Ready(r)
            }
            Poll::Pending => self.expired(cx).map(Err),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.lingering.is_none() {
            std::task::ready!(Pin::new(&mut this.stream).poll_shutdown(cx))?;
            this.lingering = Some(0);
            this.deadline.as_mut().reset(Instant::now() + LINGER);
        }
        // Drain what the client still sends until it closes, the budget is spent or the
        // linger time is over; then the socket may close without a reset.
        let mut scratch = [0u8; 16 * 1024];
        loop {
            let read = this.lingering.unwrap_or(LINGER_BYTES);
            // A stop polls the connection again (graceful shutdown) and ends the lingering.
            if read >= LINGER_BYTES
                || *this.stopping.borrow()
                || this.deadline.as_mut().poll(cx).is_ready()
            {
                return Poll::Ready(Ok(()));
            }
            let mut buf = ReadBuf::new(&mut scratch);
            match Pin::new(&mut this.stream).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if !buf.filled().is_empty() => {
                    this.lingering = Some(read + buf.filled().len() as u64);
                }
                Poll::Ready(_) => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.stream).poll_write_vectored(cx, bufs) {
            Poll::Ready(r) => {
                self.moved();
                Poll::Ready(r)
            }
            Poll::Pending => self.expired(cx).map(Err),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
