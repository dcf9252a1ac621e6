//! Wiring of the StatsD input and the outputs: the listeners (a UDP thread and TCP tasks) feed
//! one `Intake`, whose observations go through the input's own bounded queue into the
//! pipeline; every carbon output with a `statsd:` block gets its own etsy flush state, flushed
//! on wall-clock multiples of its interval into the output's sender. Also the `tally.statsd.*`
//! and `tally.ship.<output>.*` self-metrics.

use crate::config::{Config, Output};
use crate::inputs::Feed;
use crate::inputs::statsd::{self, Intake, SharedFlush, console, flush, listener};
use crate::metric::{Kind, Observation, Series};
use crate::ship::carbon;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// What the self-metrics read.
#[derive(Default)]
pub(super) struct Running {
    stats: Option<Arc<statsd::Stats>>,
    outputs: Vec<(String, Arc<carbon::Stats>, Option<SharedFlush>)>,
    /// Last totals reported, to record increments.
    previous: Mutex<HashMap<String, u64>>,
}

/// Starts the outputs and the StatsD listeners; their tasks end after `stop` turns true.
pub(super) async fn start(
    config: &Config,
    pipeline: &mpsc::Sender<Feed>,
    stop: &watch::Receiver<bool>,
    tasks: &mut Vec<JoinHandle<()>>,
    listeners: &super::bind::Registry,
) -> anyhow::Result<Running> {
    let mut running = Running::default();
    let mut flushes = Vec::new();
    for output in &config.outputs {
        let Output::Carbon(c) = output else {
            continue; // a spooled output: `ship` runs it
        };
        let stats = Arc::new(carbon::Stats::default());
        // An output that sends the etsy flush stops after the flush made when stopping is
        // queued (the flush task says so), not with everything else: else that flush could
        // find its sender gone and the last interval's counts were lost.
        let (flushed_tx, flushed_rx) = watch::channel(false);
        let sender_stop = if c.statsd.is_some() {
            flushed_rx
        } else {
            stop.clone()
        };
        let settings = carbon::Settings {
            destinations: c.destinations.clone(),
            reconnect_min: c.reconnect_min,
            reconnect_max: c.reconnect_max,
            queue_lines: c.queue_lines,
        };
        let (sender, sender_tasks) = carbon::Sender::start(
            &settings,
            stats.clone(),
            sender_stop,
            Duration::from_secs(2),
        );
        tasks.extend(sender_tasks);
        let state = c.statsd.as_ref().map(|options| {
            let startup = crate::clock::unix_now();
            Arc::new(Mutex::new(flush::State::new(options.clone(), startup)))
        });
        if let Some(state) = &state {
            if config.statsd.is_none() {
                tracing::warn!(output = %c.name, "This output sends the StatsD flush, but inputs.statsd is off: only statsd.* lines will be sent.");
            }
            flushes.push(state.clone());
            tasks.push(tokio::spawn(flush_loop(
                state.clone(),
                sender,
                c.name.clone(),
                stop.clone(),
                flushed_tx,
            )));
        }
        running.outputs.push((c.name.clone(), stats, state));
    }
    let Some(s) = &config.statsd else {
        return Ok(running);
    };
    let stats = Arc::new(statsd::Stats::default());
    running.stats = Some(stats.clone());
    if let Some(addr) = s.management {
        let startup = crate::clock::unix_now();
        if flushes.is_empty() {
            // No output keeps an etsy state: the console gets its own, reset every 10 s as
            // etsy's flush does, and sent nowhere.
            let state = Arc::new(Mutex::new(flush::State::new(
                flush::Options::default(),
                startup,
            )));
            flushes.push(state.clone());
            tasks.push(tokio::spawn(discard_loop(state, stop.clone())));
        }
        let console = Arc::new(console::Console::new(
            flushes.clone(),
            stats.clone(),
            startup,
        ));
        let serve_stop = stop.clone();
        let task = listeners
            .listen(
                ("inputs.statsd.management", "tcp", addr),
                |addr| async move {
                    let l = tokio::net::TcpListener::bind(addr).await?;
                    tracing::info!(addr = %l.local_addr()?, "StatsD management listening.");
                    Ok(l)
                },
                move |l| console::serve(l, console, serve_stop),
                stop.clone(),
            )
            .await;
        tasks.push(task);
    }
    let intake = Arc::new(Mutex::new(Intake::new(stats, s.max_keys, flushes)));
    // The input's own bounded queue, forwarded into the pipeline's.
    let (tx, mut rx) = mpsc::channel::<Feed>(s.queue_batches);
    let forward_to = pipeline.clone();
    tasks.push(tokio::spawn(async move {
        while let Some(feed) = rx.recv().await {
            if forward_to.send(feed).await.is_err() {
                break;
            }
        }
    }));
    if s.udp {
        let (recv, max) = (s.recv_buffer_bytes, s.max_packet_size);
        let (intake, tx, serve_stop) = (intake.clone(), tx.clone(), stop.clone());
        let task = listeners
            .listen(
                ("inputs.statsd.listen", "udp", s.listen),
                move |addr| async move { bind_udp(addr, recv) },
                move |socket| run_udp(socket, intake, tx, max, serve_stop),
                stop.clone(),
            )
            .await;
        tasks.push(task);
    }
    if s.tcp {
        let settings = listener::Settings {
            max_packet_size: s.max_packet_size,
            max_connections: s.max_connections,
        };
        let serve_stop = stop.clone();
        let task = listeners
            .listen(
                ("inputs.statsd.listen", "tcp", s.listen),
                |addr| async move {
                    let tcp = tokio::net::TcpListener::bind(addr).await?;
                    tracing::info!(addr = %tcp.local_addr()?, "StatsD listening on tcp.");
                    Ok(tcp)
                },
                move |tcp| listener::serve_tcp(tcp, intake, tx, settings, serve_stop),
                stop.clone(),
            )
            .await;
        tasks.push(task);
    }
    Ok(running)
}

/// Binds StatsD's UDP socket with the receive buffer asked, and says what the kernel granted.
fn bind_udp(addr: std::net::SocketAddr, asked: usize) -> std::io::Result<std::net::UdpSocket> {
    let (socket, granted) = listener::bind_udp(addr, asked)?;
    tracing::info!(addr = %socket.local_addr()?, recv_buffer_bytes = granted, "StatsD listening on udp.");
    // The kernel doubles what it grants (bookkeeping); less than asked means rmem_max
    // capped it and tally is not root.
    if granted < asked {
        tracing::warn!(
            asked,
            granted,
            "StatsD UDP receive buffer smaller than inputs.statsd.recv_buffer_bytes: raise net.core.rmem_max (the packages ship /usr/lib/sysctl.d/60-tally.conf), or bursts are dropped by the kernel (counted in tally.statsd.kernel_drops)."
        );
    }
    Ok(socket)
}

/// The UDP reader thread until `stop` turns true.
async fn run_udp(
    socket: std::net::UdpSocket,
    intake: listener::SharedIntake,
    tx: mpsc::Sender<Feed>,
    max_packet_size: usize,
    mut stop: watch::Receiver<bool>,
) {
    let flag = Arc::new(AtomicBool::new(false));
    let thread_flag = flag.clone();
    // A second handle, to wake the thread at the stop (it sleeps without a timeout).
    let thread = socket.try_clone().and_then(|waker| {
        std::thread::Builder::new()
            .name("statsd-udp".into())
            .spawn(move || listener::run_udp(socket, intake, tx, max_packet_size, thread_flag))
            .map(|thread| (thread, waker))
    });
    match thread {
        Err(error) => tracing::error!(%error, "Cannot start the StatsD UDP thread."),
        Ok((thread, waker)) => {
            let _ = stop.changed().await;
            flag.store(true, Relaxed);
            listener::wake(&waker);
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The timestamp of a flush (seconds). A flush on time is stamped as etsy stamps it,
/// `Math.round(Date.now() / 1000)`. The flush made when stopping before the next tick
/// (`next_ms`) is stamped with that tick: the end of the interval whose data it carries. So it
/// never repeats the stamp of the flush just made (a stop during or just after a flush sent a
/// second flush with the same timestamp and every counter zero, which in Graphite overwrote
/// the real one), nor lands in the slot of the previous interval.
pub(super) fn flush_stamp(now_ms: u64, next_ms: u64, stopping: bool) -> i64 {
    if stopping && now_ms < next_ms {
        next_ms.div_ceil(1000) as i64
    } else {
        (now_ms as f64 / 1000.0).round() as i64
    }
}

/// Flushes on every wall-clock multiple of the interval, and once more when stopping.
async fn flush_loop(
    state: SharedFlush,
    sender: carbon::Sender,
    name: String,
    mut stop: watch::Receiver<bool>,
    flushed: watch::Sender<bool>,
) {
    let interval = state
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .options()
        .interval_ms;
    let destinations = sender.destinations();
    loop {
        let now = now_ms();
        let next = (now / interval + 1) * interval;
        let stopping = tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(next - now)) => false,
            _ = stop.changed() => true,
        };
        let started = std::time::Instant::now();
        let ts = flush_stamp(now_ms(), next, stopping);
        let text = state.lock().unwrap_or_else(|e| e.into_inner()).flush(ts);
        let length = text.len() as u64;
        let taken = sender.send(carbon::Chunk::new(text));
        {
            let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
            if taken == destinations {
                s.delivery.last_flush = ts;
                s.delivery.flush_length = length;
                s.delivery.flush_time_ms = started.elapsed().as_millis() as u64;
            } else {
                s.delivery.last_exception = ts;
                tracing::warn!(output = %name, "StatsD flush dropped: the output's queue is full.");
            }
        }
        if stopping {
            break;
        }
    }
    // The last flush is queued: the output's sender may drain and stop.
    let _ = flushed.send(true);
}

/// Flushes the console's own etsy state every interval and drops the text.
async fn discard_loop(state: SharedFlush, mut stop: watch::Receiver<bool>) {
    let interval = state
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .options()
        .interval_ms;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(interval)) => {}
            _ = stop.changed() => break,
        }
        let ts = (now_ms() as f64 / 1000.0).round() as i64;
        state.lock().unwrap_or_else(|e| e.into_inner()).flush(ts);
    }
}

impl Running {
    /// `tally.statsd.*` and `tally.ship.<output>.*` observations.
    pub(super) fn self_metrics(&self, now: i64) -> Vec<Observation> {
        let mut out = Vec::new();
        let mut previous = self.previous.lock().unwrap_or_else(|e| e.into_inner());
        let mut counter = |name: String, total: u64| {
            let before = previous.insert(name.clone(), total).unwrap_or(0);
            push(
                &mut out,
                &name,
                Kind::Counter,
                total.saturating_sub(before) as f64,
                now,
            );
        };
        if let Some(s) = &self.stats {
            for (name, v) in [
                ("packets", &s.packets),
                ("lines", &s.lines),
                ("metrics", &s.metrics),
                ("bad_lines", &s.bad_lines),
                ("bad_names", &s.bad_names),
                ("dropped", &s.dropped),
                ("kernel_drops", &s.kernel_drops),
                ("too_long", &s.too_long),
                ("untracked_gauges", &s.untracked_gauges),
                ("connections", &s.connections),
                ("refused_connections", &s.refused_connections),
            ] {
                counter(format!("tally.statsd.{name}"), v.load(Relaxed));
            }
        }
        let mut gauges = Vec::new();
        for (output, s, flush) in &self.outputs {
            for (name, v) in [
                ("sent_lines", &s.sent_lines),
                ("sent_bytes", &s.sent_bytes),
                ("dropped_lines", &s.dropped_lines),
                ("connect_errors", &s.connect_errors),
                ("write_errors", &s.write_errors),
            ] {
                counter(format!("tally.ship.{output}.{name}"), v.load(Relaxed));
            }
            if let Some(f) = flush {
                let dropped = f.lock().unwrap_or_else(|e| e.into_inner()).dropped;
                counter(format!("tally.ship.{output}.statsd_dropped"), dropped);
            }
            gauges.push((
                format!("tally.ship.{output}.queued_lines"),
                s.queued_lines.load(Relaxed) as f64,
            ));
        }
        for (name, v) in gauges {
            push(&mut out, &name, Kind::Gauge, v, now);
        }
        out
    }
}

fn push(out: &mut Vec<Observation>, name: &str, kind: Kind, value: f64, time: i64) {
    if let Ok(series) = Series::parse(name) {
        out.push(Observation {
            series,
            kind,
            value,
            time,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::flush_stamp;

    #[test]
    fn a_stop_flush_never_repeats_the_last_stamp() {
        let interval = 10_000;
        // The flush on the tick at 1000 s (woken 3 ms late) is stamped 1000, as etsy does.
        let last = flush_stamp(1_000_003, 1_000_000, false);
        assert_eq!(last, 1000);
        // A stop during that flush or just after it: the next tick is 1010 s.
        for now in [1_000_003, 1_000_400, 1_000_600, 1_009_999] {
            let stamp = flush_stamp(now, 1_000_000 + interval, true);
            assert_eq!(stamp, 1010, "stop at {now} ms");
            assert!(stamp > last);
        }
        // A stop that races the tick itself is the tick's flush.
        assert_eq!(flush_stamp(1_010_002, 1_010_000, true), 1010);
        // Sub-second intervals: the stop flush still stamps the next tick.
        assert_eq!(flush_stamp(1_000_100, 1_000_500, true), 1001);
    }
}
