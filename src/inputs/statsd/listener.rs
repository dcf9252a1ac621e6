//! Receiving StatsD: UDP on its own thread with batched receives (`recvmmsg`, up to
//! [`BATCH`] datagrams per system call) and a configurable `SO_RCVBUF`; TCP on tokio, lines up
//! to the last newline of each read handed over as one packet (as etsy's TCP server does).
//! Both feed one [`Intake`]; a full queue drops UDP batches (counted) and makes TCP wait. UDP
//! batches (values folded per key) go out once they hold 8192 buckets and observations, or
//! after 20 ms, so light traffic costs few wake-ups (and a live stream at 100 ms shows a
//! value within about one slot). With nothing held the thread blocks in `recvmmsg` without a
//! timeout (no wake-up while no datagram comes); the stop wakes it with `shutdown(SHUT_RD)`
//! ([`wake`]). At a stop the UDP thread still takes what is already in its socket buffer
//! (without waiting), so a datagram sent just before the stop is counted.

use super::{Batch, Intake, Stats};
use crate::clock::unix_now;
use crate::inputs::{Feed, tcp};
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

/// Datagrams taken per `recvmmsg` call.
pub const BATCH: usize = 128;
/// Buckets and observations gathered before they are handed to aggregation as one feed …
const FEED_ENTRIES: usize = 8192;
/// … or once the oldest of them is this old: few wake-ups when the traffic is light. After a
/// quiet spell (nothing handed over for this long) what arrives goes at once, so sparse
/// traffic is not held back (observation → live stream latency) and busy traffic still goes
/// in feeds of this age.
const FEED_AGE: Duration = Duration::from_millis(20);
/// How often the kernel's drop count for the socket is read.
const DROPS_EVERY: Duration = Duration::from_secs(1);
/// At a stop, the datagrams already in the socket buffer are still taken, without waiting, in
/// this many `recvmmsg` calls at most (so a flood cannot hold the stop up).
const DRAIN_BATCHES: usize = 64;

#[derive(Debug, Clone)]
pub struct Settings {
    pub max_packet_size: usize,
    pub max_connections: usize,
}

pub type SharedIntake = Arc<Mutex<Intake>>;

fn lock(intake: &SharedIntake) -> std::sync::MutexGuard<'_, Intake> {
    intake.lock().unwrap_or_else(|e| e.into_inner())
}

/// Binds the UDP socket, asks for `recv_buffer` bytes of receive buffer (0: leave it), and
/// returns it with the buffer size the kernel granted.
pub fn bind_udp(addr: SocketAddr, recv_buffer: usize) -> io::Result<(std::net::UdpSocket, usize)> {
    let socket = std::net::UdpSocket::bind(addr)?;
    if recv_buffer > 0 {
        use rustix::net::sockopt::{
            set_socket_recv_buffer_size, set_socket_recv_buffer_size_force,
        };
        let size = recv_buffer.min(i32::MAX as usize);
        // SO_RCVBUFFORCE passes net.core.rmem_max when we may (root); else the capped request.
        if set_socket_recv_buffer_size_force(&socket, size).is_err() {
            set_socket_recv_buffer_size(&socket, size)?;
        }
    }
    let granted = rustix::net::sockopt::socket_recv_buffer_size(&socket).unwrap_or(0);
    // Wakes up to hand over what waits (none while nothing does: `run_udp`).
    socket.set_read_timeout(Some(FEED_AGE))?;
    Ok((socket, granted))
}

/// Wakes a `run_udp` blocked on `socket` (another handle of it) after its stop flag was set:
/// `shutdown(SHUT_RD)` ends a blocked receive at once (datagrams already queued are still
/// read). An unconnected UDP socket answers `ENOTCONN` but is shut down all the same.
pub fn wake(socket: &std::net::UdpSocket) {
    let _ = rustix::net::shutdown(socket, rustix::net::Shutdown::Read);
}

/// The kernel's count of datagrams dropped for the socket with this inode (the last column
/// of `/proc/net/udp` and `udp6`; `None` when not found).
pub fn kernel_drops(proc_net: &std::path::Path, inode: u64) -> Option<u64> {
    ["udp", "udp6"].iter().find_map(|f| {
        let text = std::fs::read_to_string(proc_net.join(f)).ok()?;
        drops_in(&text, inode)
    })
}

/// The drops of the socket `inode` in the text of `/proc/net/udp`.
pub fn drops_in(text: &str, inode: u64) -> Option<u64> {
    text.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
        (fields.len() >= 13 && fields[9].parse() == Ok(inode))
            .then(|| fields[fields.len() - 1].parse().ok())
            .flatten()
    })
}

fn socket_inode(socket: &std::net::UdpSocket) -> Option<u64> {
    rustix::fs::fstat(socket).ok().map(|st| st.st_ino)
}

/// Receives datagrams until `stop`, on the calling thread.
pub fn run_udp(
    socket: std::net::UdpSocket,
    intake: SharedIntake,
    tx: mpsc::Sender<Feed>,
    max_packet_size: usize,
    stop: Arc<AtomicBool>,
) {
    let stats = lock(&intake).stats().clone();
    // One byte more than allowed, so an over-long datagram is seen as such.
    let slot = max_packet_size + 1;
    let mut bufs = vec![0u8; BATCH * slot];
    let mut iovecs: Vec<libc::iovec> = bufs
        .chunks_mut(slot)
        .map(|b| libc::iovec {
            iov_base: b.as_mut_ptr().cast(),
            iov_len: b.len(),
        })
        .collect();
    // SAFETY: mmsghdr is plain data; all-zero is a valid (empty) value.
    let mut headers: Vec<libc::mmsghdr> =
        (0..BATCH).map(|_| unsafe { std::mem::zeroed() }).collect();
    for (h, iov) in headers.iter_mut().zip(iovecs.iter_mut()) {
        h.msg_hdr.msg_iov = iov;
        h.msg_hdr.msg_iovlen = 1;
    }
    let fd = socket.as_raw_fd();
    let inode = socket_inode(&socket);
    let proc_net = std::path::Path::new("/proc/self/net");
    let mut drops_read = std::time::Instant::now();
    let mut out = Batch::default();
    let mut oldest: Option<std::time::Instant> = None;
    let mut last_hand: Option<std::time::Instant> = None;
    let hand_over = |out: &mut Batch,
                     oldest: &mut Option<std::time::Instant>,
                     last_hand: &mut Option<std::time::Instant>| {
        *oldest = None;
        *last_hand = Some(std::time::Instant::now());
        if out.is_empty() {
            return true;
        }
        let batch = out.take();
        let metrics = batch.metrics;
        match tx.try_send(batch.into_feed()) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                stats.dropped.fetch_add(metrics, Relaxed);
                true
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    };
    // Calls made since the stop was seen: a datagram sent just before it is not lost.
    let mut draining: Option<usize> = None;
    // The socket's receive has no timeout (nothing held: sleep until a datagram or the stop).
    let mut blocking = false;
    loop {
        if let Some(inode) = inode.filter(|_| drops_read.elapsed() >= DROPS_EVERY) {
            drops_read = std::time::Instant::now();
            if let Some(d) = kernel_drops(proc_net, inode) {
                stats.kernel_drops.store(d, Relaxed);
            }
        }
        if draining.is_none() && stop.load(Relaxed) {
            draining = Some(0);
        }
        if let Some(calls) = draining {
            if calls >= DRAIN_BATCHES {
                hand_over(&mut out, &mut oldest, &mut last_hand);
                break;
            }
            draining = Some(calls + 1);
        }
        if oldest.is_some_and(|t| t.elapsed() >= FEED_AGE)
            && !hand_over(&mut out, &mut oldest, &mut last_hand)
        {
            break;
        }
        if draining.is_none() && out.is_empty() != blocking {
            blocking = out.is_empty();
            let _ = socket.set_read_timeout((!blocking).then_some(FEED_AGE));
        }
        // SAFETY: every header points at its own iovec and buffer slot, all alive and not
        // otherwise borrowed for the duration of the call.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                headers.as_mut_ptr(),
                BATCH as libc::c_uint,
                if draining.is_some() {
                    libc::MSG_DONTWAIT
                } else {
                    libc::MSG_WAITFORONE
                },
                std::ptr::null_mut(),
            )
        };
        if n < 0 && draining.is_some() {
            // The buffer is empty (or failing): hand over what was taken, and stop.
            hand_over(&mut out, &mut oldest, &mut last_hand);
            break;
        }
        if n < 0 {
            let error = io::Error::last_os_error();
            match error.kind() {
                io::ErrorKind::WouldBlock
                | io::ErrorKind::TimedOut
                | io::ErrorKind::Interrupted => {}
                _ => {
                    tracing::warn!(%error, "StatsD UDP receive failed.");
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
            continue;
        }
        let n = n as usize;
        let mut packets: [&[u8]; BATCH] = [&[]; BATCH];
        let mut count = 0;
        for (i, h) in headers.iter().take(n).enumerate() {
            let len = h.msg_len as usize;
            if len > max_packet_size || h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
                stats.too_long.fetch_add(1, Relaxed);
                continue;
            }
            packets[count] = &bufs[i * slot..i * slot + len];
            count += 1;
        }
        lock(&intake).packets(packets[..count].iter().copied(), unix_now(), &mut out);
        if !out.is_empty() && oldest.is_none() {
            oldest = Some(std::time::Instant::now());
        }
        let quiet = last_hand.is_none_or(|t| t.elapsed() >= FEED_AGE);
        if (out.len() >= FEED_ENTRIES || (quiet && !out.is_empty()))
            && !hand_over(&mut out, &mut oldest, &mut last_hand)
        {
            break;
        }
    }
}

/// Accepts TCP connections until `shutdown` turns true.
pub async fn serve_tcp(
    listener: TcpListener,
    intake: SharedIntake,
    tx: mpsc::Sender<Feed>,
    settings: Settings,
    shutdown: watch::Receiver<bool>,
) {
    let stats = lock(&intake).stats().clone();
    let counters = tcp::Counters {
        connections: &stats.connections,
        refused_connections: &stats.refused_connections,
    };
    let max = settings.max_packet_size;
    tcp::accept(
        listener,
        "StatsD",
        settings.max_connections,
        counters,
        shutdown,
        |stream, peer, shutdown| {
            let (intake, tx, stats) = (intake.clone(), tx.clone(), stats.clone());
            async move { connection(stream, peer, &intake, &stats, max, &tx, shutdown).await }
        },
    )
    .await;
}

/// Complete lines are handed over per read; a line longer than `max` is dropped and counted.
async fn connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    intake: &SharedIntake,
    stats: &Stats,
    max: usize,
    tx: &mpsc::Sender<Feed>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut pending: Vec<u8> = Vec::new();
    let mut discarding = false;
    loop {
        let n = tokio::select! {
            _ = shutdown.changed() => return,
            r = stream.read(&mut buf) => match r {
                Ok(0) => break,
                Ok(n) => n,
                Err(error) => {
                    tracing::debug!(%peer, %error, "StatsD connection error.");
                    break;
                }
            },
        };
        let mut data = &buf[..n];
        if discarding {
            match memchr::memchr(b'\n', data) {
                Some(i) => {
                    data = &data[i + 1..];
                    discarding = false;
                }
                None => continue,
            }
        }
        let packet = match memchr::memrchr(b'\n', data) {
            Some(last) => {
                pending.extend_from_slice(&data[..=last]);
                let packet = std::mem::take(&mut pending);
                pending.extend_from_slice(&data[last + 1..]);
                Some(packet)
            }
            None => {
                pending.extend_from_slice(data);
                None
            }
        };
        if pending.len() > max {
            stats.too_long.fetch_add(1, Relaxed);
            pending.clear();
            discarding = true;
        }
        if let Some(packet) = packet
            && !hand_over(intake, &packet, tx).await
        {
            return;
        }
    }
    // A last line without a newline still counts.
    if !pending.is_empty() && !discarding {
        hand_over(intake, &pending, tx).await;
    }
}

async fn hand_over(intake: &SharedIntake, packet: &[u8], tx: &mpsc::Sender<Feed>) -> bool {
    let mut out = Batch::default();
    lock(intake).packets([packet], unix_now(), &mut out);
    // Waiting here is the backpressure: TCP senders slow down instead of losing data.
    out.is_empty() || tx.send(out.into_feed()).await.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_drops_column_of_our_socket() {
        let text = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  123: 0100007F:1FBD 00000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 4242 2 0000000000000000 17
  124: 0100007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 99 2 0000000000000000 0
";
        assert_eq!(drops_in(text, 4242), Some(17));
        assert_eq!(drops_in(text, 99), Some(0));
        assert_eq!(drops_in(text, 5), None);
    }

    #[test]
    fn a_bound_socket_is_found_in_proc_net_udp() {
        let (socket, granted) = bind_udp("127.0.0.1:0".parse().unwrap(), 1 << 20).unwrap();
        assert!(granted > 0);
        let inode = socket_inode(&socket).unwrap();
        assert_eq!(
            kernel_drops(std::path::Path::new("/proc/self/net"), inode),
            Some(0)
        );
    }
}
