//! The accept loop the TCP listeners share (carbon, StatsD): one task per connection, at most
//! `max_connections` open at once (more are closed at once and counted), until shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The counters an accept loop keeps, borrowed from the input's own stats.
pub struct Counters<'a> {
    pub connections: &'a AtomicU64,
    pub refused_connections: &'a AtomicU64,
}

/// Accepts connections until `shutdown` changes and runs `serve` for each in its own task,
/// handing it a shutdown receiver. `input` names the listener in the log.
pub async fn accept<F, Fut>(
    listener: TcpListener,
    input: &'static str,
    max_connections: usize,
    counters: Counters<'_>,
    mut shutdown: watch::Receiver<bool>,
    mut serve: F,
) where
    F: FnMut(TcpStream, SocketAddr, watch::Receiver<bool>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let open = Arc::new(AtomicUsize::new(0));
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(error) => {
                        tracing::warn!(%error, "{input} accept failed.");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                if open.load(Relaxed) >= max_connections {
                    counters.refused_connections.fetch_add(1, Relaxed);
                    drop(stream);
                    continue;
                }
                counters.connections.fetch_add(1, Relaxed);
                open.fetch_add(1, Relaxed);
                let connection = serve(stream, peer, shutdown.clone());
                let open = open.clone();
                tokio::spawn(async move {
                    connection.await;
                    open.fetch_sub(1, Relaxed);
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// With a bound of one, a second connection is closed at once and counted; when the first
    /// closes, a new one is served again.
    #[tokio::test]
    async fn connections_past_the_bound_are_refused_and_counted() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stats: Arc<(AtomicU64, AtomicU64)> = Arc::default();
        let (stop, shutdown) = watch::channel(false);
        let loop_stats = stats.clone();
        let server = tokio::spawn(async move {
            let counters = Counters {
                connections: &loop_stats.0,
                refused_connections: &loop_stats.1,
            };
            // Each connection echoes one byte back, then waits for the client to close.
            accept(
                listener,
                "test",
                1,
                counters,
                shutdown,
                |mut stream, _, _| async move {
                    let mut b = [0u8; 1];
                    if stream.read_exact(&mut b).await.is_ok() {
                        let _ = stream.write_all(&b).await;
                        let _ = stream.read(&mut b).await;
                    }
                },
            )
            .await;
        });
        let echo = |mut s: TcpStream| async move {
            let _ = s.write_all(b"x").await;
            let mut b = [0u8; 1];
            let n = s.read(&mut b).await.unwrap_or(0);
            (s, n)
        };
        let (first, n) = echo(TcpStream::connect(addr).await.unwrap()).await;
        assert_eq!(n, 1, "the first connection is served");
        let (_, n) = echo(TcpStream::connect(addr).await.unwrap()).await;
        assert_eq!(n, 0, "the second is closed unread");
        assert_eq!(stats.1.load(Relaxed), 1);
        drop(first);
        // The first connection's task ends after its close; then a new one is served.
        let mut served = false;
        for _ in 0..100 {
            let (_, n) = echo(TcpStream::connect(addr).await.unwrap()).await;
            if n == 1 {
                served = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            served,
            "a connection is served again once the first one closed"
        );
        assert_eq!(stats.0.load(Relaxed), 2);
        stop.send(true).unwrap();
        server.await.unwrap();
    }
}
