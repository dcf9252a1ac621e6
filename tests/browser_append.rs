//! A live panel between two whole seconds draws only the slots that came since its last draw
//! (`appendLive` in ui/panel-view.js), and the whole plot once a second. The picture it builds
//! that way must be the one a full draw makes: every line pixel of one within a pixel of a line
//! pixel of the other (anti-aliasing blends the joins of separately stroked segments a little
//! differently, so pixels are not compared exactly).

use crate::browser::{DRAWN, PANELS, WAIT, browser, daemon, url};
use crate::util::*;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Draws the first panel as the scheduler would (appending, when it can) and reads its canvas,
/// then forces a full draw and reads it again; null until the first draw was an append that
/// followed at least 3 appends since the last full draw. Returns the line pixels (high chroma:
/// the series' colours, not the grey grid, text or the faint live shading) each picture has
/// with none of the other's within a pixel, how many line pixels there were, the appends since
/// the last full draw, and where the first lonely pixels are ([x, y] in canvas pixels).
const COMPARE: &str = "const e = window.tally.panels[0], p = e.panel, h = window.__tally;
    const recs = h.draws.filter(r => r.panel === p.id && r.plot);
    const since = recs.length - 1 - recs.map(r => r.plot).lastIndexOf('full');
    if (since < 3 || recs.length < 5) return null;
    const c = p.canvas, x = c.getContext('2d');
    const ink = () => { const d = x.getImageData(0, 0, c.width, c.height).data;
      const m = new Uint8Array(c.width * c.height);
      for (let i = 0; i < m.length; i++) {
        const r = d[4 * i], g = d[4 * i + 1], b = d[4 * i + 2];
        m[i] = Math.max(r, g, b) - Math.min(r, g, b) > 60 ? 1 : 0; }
      return m; };
    p.needPlot = true; p.draw(performance.now());
    if (h.draws.at(-1).plot !== 'append') return null;
    const a = ink();
    p.needPlot = p.needFull = true; p.draw(performance.now());
    const b = ink();
    const where = [];
    const lonely = (m, o) => { let n = 0;
      for (let y = 1; y < c.height - 1; y++) for (let x = 1; x < c.width - 1; x++) {
        if (!m[y * c.width + x]) continue;
        let near = false;
        for (let dy = -1; dy <= 1 && !near; dy++) for (let dx = -1; dx <= 1; dx++) near ||= !!o[(y + dy) * c.width + x + dx];
        if (!near && n++ < 8) where.push([x, y]); }
      return n; };
    return [lonely(a, b), lonely(b, a), a.reduce((s, v) => s + v, 0), since, where];";

#[test]
fn a_live_panel_appends_new_slots_and_draws_what_a_full_draw_draws() {
    let dir = TestDir::new();
    let d = daemon(&dir);
    let Some(b) = browser() else { return };
    // Four gauges on a slow wave every 40 ms (several 100 ms slots a second each, within the
    // y scale the first draw picks), until the test ends.
    let stop = Arc::new(AtomicBool::new(false));
    let sender = {
        let (stop, to) = (stop.clone(), d.statsd_udp.expect("statsd udp"));
        std::thread::spawn(move || {
            let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            let mut i = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let lines: Vec<String> = (0..4)
                    .map(|s| {
                        let v = 50.0 + 30.0 * (f64::from(i) / 25.0 + f64::from(s)).sin();
                        format!("ui.append.s{s}:{v:.3}|g")
                    })
                    .collect();
                sock.send_to(lines.join("\n").as_bytes(), to).unwrap();
                i += 1;
                std::thread::sleep(Duration::from_millis(40));
            }
        })
    };
    d.wait_render("/render?target=ui.append.s0&from=-60s", |v| {
        !points(v, 0).is_empty()
    });
    b.goto(&url(&d, "#/explore?target=ui.append.*&from=-30s&live=1"));
    b.wait_for("the live panel", PANELS, WAIT);
    b.wait_for("the live panel drawn", DRAWN, WAIT);
    b.eval("window.__tally = { draws: [] };", json!([]));
    let got = b.wait_for("a picture built by appends", COMPARE, WAIT);
    stop.store(true, Ordering::Relaxed);
    sender.join().unwrap();
    let n = |i: usize| got[i].as_u64().unwrap();
    assert!(n(2) > 200, "the lines are drawn: {got}");
    assert!(n(3) >= 3, "appends since the last full draw: {got}");
    assert_eq!(
        (n(0), n(1)),
        (0, 0),
        "line pixels of one picture with none of the other's within a pixel (appended, full, line pixels, appends, where): {got}"
    );
}
