//! `kill -9` at random moments while carbon lines stream in, with commits every 200 ms and head
//! flushes every second (so kills land in commits, flushes and compactions). After each crash the
//! store must open clean and hold exactly a prefix of what was sent: everything up to the last
//! commit, nothing twice.
//!
//! Each line has its own second and a power-of-two value within its 10 s slot, so a slot's
//! `:sum` is a bitmask of exactly which lines were counted: a line counted twice or a lost line
//! in the middle shows up.

use crate::util::*;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const PER_SLOT: i64 = 10;

fn line(base: i64, i: usize) -> String {
    let (slot, j) = (i as i64 / PER_SLOT, i as i64 % PER_SLOT);
    format!("crash.test {} {}\n", 1u64 << j, base + slot * 10 + j)
}

/// Reads `(count, sum)` per slot of `crash.test` over `[base, base + slots × 10)`.
fn slots(d: &Daemon, base: i64, n_slots: i64) -> Vec<(u64, u64)> {
    let range = format!("from={}&until={}", base - 1, base + n_slots * 10 - 1);
    let obvs = d.get_json(&format!("/render?target=crash.test:obvs&{range}"));
    let sums = d.get_json(&format!("/render?target=crash.test:sum&{range}"));
    let get = |v: &serde_json::Value, i: usize| v[0]["datapoints"][i][0].as_f64().unwrap_or(0.0);
    (0..n_slots as usize)
        .map(|i| (get(&obvs, i) as u64, get(&sums, i) as u64))
        .collect()
}

/// How many lines, in send order, are present; panics unless exactly a prefix is present once.
fn counted_prefix(per_slot: &[(u64, u64)], sent: usize) -> usize {
    let mut counted = Vec::new();
    for (slot, &(count, sum)) in per_slot.iter().enumerate() {
        assert_eq!(
            u64::from(sum.count_ones()),
            count,
            "slot {slot}: a line counted twice (count {count}, sum {sum:b})"
        );
        for j in 0..PER_SLOT as usize {
            counted.push(sum & (1 << j) != 0);
        }
    }
    let prefix = counted.iter().take_while(|&&c| c).count();
    assert!(
        counted[prefix..].iter().all(|&c| !c),
        "lines after {prefix} counted but an earlier one lost"
    );
    assert!(
        prefix <= sent,
        "more lines counted ({prefix}) than sent ({sent})"
    );
    prefix
}

/// Newlines in `bytes`.
fn newlines(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == b'\n').count()
}

#[test]
fn kill_9_mid_stream_keeps_exactly_what_was_committed() {
    let dir = TestDir::new();
    let config = dir.config("storage:\n  commit_interval: 200ms\n  head_flush_interval: 1s\n");
    let rounds = 5;
    let lines_per_round = 20_000usize;
    let n_slots = lines_per_round as i64 / PER_SLOT;
    let start = (unix_now() - 2 * 86_400) / 3600 * 3600;
    let mut results = Vec::new();
    for round in 0..rounds {
        let base = start + round as i64 * (n_slots * 10 + 100);
        let d = Daemon::start(&config);
        // A first part that is known to be committed before the crash.
        let confirmed = 500;
        d.send_carbon(&(0..confirmed).map(|i| line(base, i)).collect::<String>());
        d.wait_render(
            &format!(
                "/render?target=crash.test:obvs&from={}&until={}",
                base - 1,
                base + n_slots * 10 - 1
            ),
            |v| points(v, 0).iter().map(|p| p.0).sum::<f64>() == confirmed as f64,
        );
        // Then stream the rest and kill -9 at a random moment.
        let sent = Arc::new(AtomicUsize::new(confirmed));
        let addr = d.carbon;
        let sent_by_thread = sent.clone();
        let writer = std::thread::spawn(move || {
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            for chunk in (confirmed..lines_per_round).collect::<Vec<_>>().chunks(100) {
                let text: String = chunk.iter().map(|&i| line(base, i)).collect();
                // `sent` counts every whole line the kernel took, also of a chunk cut short by
                // the kill (a blocked `write_all` that fails after a part went out: tally may
                // have read and committed that part).
                let mut rest = text.as_bytes();
                while !rest.is_empty() {
                    let Ok(n) = s.write(rest).and_then(|n| {
                        if n == 0 {
                            Err(std::io::ErrorKind::WriteZero.into())
                        } else {
                            Ok(n)
                        }
                    }) else {
                        break;
                    };
                    rest = &rest[n..];
                    let whole = newlines(&text.as_bytes()[..text.len() - rest.len()]);
                    sent_by_thread.store(chunk[0] + whole, Ordering::SeqCst);
                }
                if !rest.is_empty() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        std::thread::sleep(Duration::from_millis(300 + u64::from(nanos % 1200)));
        d.kill9();
        writer.join().unwrap();
        let sent = sent.load(Ordering::SeqCst);

        // The crashed store opens read-only (as `tally query` does) and holds the confirmed part.
        let out = tally()
            .args(["query", "crash.test:obvs", "--from"])
            .arg((base - 1).to_string())
            .arg("--until")
            .arg((base + n_slots * 10 - 1).to_string())
            .arg("-c")
            .arg(&config)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "query after kill -9: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let after_crash: f64 = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
            .sum();
        assert!(
            after_crash >= confirmed as f64,
            "round {round}: committed lines lost ({after_crash} < {confirmed})"
        );
        results.push((base, sent));
    }
    // Restart once more and check every round: a prefix, each line at most once.
    let d = Daemon::start(&config);
    for (round, &(base, sent)) in results.iter().enumerate() {
        let per_slot = slots(&d, base, n_slots);
        let prefix = counted_prefix(&per_slot, sent);
        assert!(prefix >= 500, "round {round}: confirmed lines lost");
        eprintln!("round {round}: sent {sent}, kept {prefix}");
    }
    assert!(d.stop(Duration::from_secs(30)).success());
    // A clean stop and restart changes nothing.
    let d = Daemon::start(&config);
    for &(base, sent) in &results {
        counted_prefix(&slots(&d, base, n_slots), sent);
    }
}
