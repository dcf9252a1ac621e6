use super::*;
use crate::inputs::statsd::{Batch, Intake, flush};
use std::sync::Mutex;

fn console(traffic: &str) -> (Console, SharedFlush) {
    let state = Arc::new(Mutex::new(flush::State::new(
        flush::Options::default(),
        100,
    )));
    let stats = Arc::new(Stats::default());
    let mut intake = Intake::new(stats.clone(), 1000, vec![state.clone()]);
    intake.packets([traffic.as_bytes()], 150, &mut Batch::default());
    (Console::new(vec![state.clone()], stats, 100), state)
}

fn text(c: &Console, line: &str) -> String {
    match c.answer(line, 160) {
        Reply::Text(t) => t,
        Reply::Quit => panic!("{line}: quit"),
    }
}

#[test]
fn help_health_quit_and_unknown() {
    let (c, _) = console("");
    assert!(text(&c, "help\n").starts_with("Commands: stats, counters,"));
    assert_eq!(text(&c, "health"), "health: up\n");
    assert_eq!(text(&c, "health DOWN\r\n"), "health: down\n");
    assert!(!c.healthy());
    assert_eq!(text(&c, "health"), "health: down\n");
    assert_eq!(text(&c, "health up"), "health: up\n");
    assert_eq!(text(&c, "what"), "ERROR\n");
    assert_eq!(c.answer("quit", 0), Reply::Quit);
}

#[test]
fn stats_are_etsy_s() {
    let (c, _) = console("a:1|c\nbad");
    assert_eq!(
        text(&c, "stats"),
        "uptime: 60\nmessages.last_msg_seen: 10\nmessages.bad_lines_seen: 1\n\
         graphite.last_flush: 60\ngraphite.last_exception: 160\ngraphite.flush_time: 0\n\
         graphite.flush_length: 0\nEND\n\n"
    );
}

#[test]
fn counters_timers_and_gauges_as_util_inspect_prints_them() {
    let (c, _) = console("b:2|c\na:1|c\nt:5|ms\nt:3|ms\ng:7|g");
    assert_eq!(
        text(&c, "counters"),
        "{\n  'statsd.bad_lines_seen': 0,\n  'statsd.packets_received': 1,\n  \
         'statsd.metrics_received': 5,\n  a: 1,\n  b: 2\n}\nEND\n\n"
    );
    assert_eq!(text(&c, "timers"), "{ t: [ 5, 3 ] }\nEND\n\n");
    assert_eq!(text(&c, "gauges"), "{ g: 7 }\nEND\n\n");
}

#[test]
fn deletes_names_and_folders() {
    let (c, state) = console("app.x:1|c\napp.y:1|c\nother:1|c\ng:1|g\nt:1|ms");
    assert_eq!(
        text(&c, "delcounters app.* nope other"),
        "deleted: app.x\ndeleted: app.y\nmetric nope not found\ndeleted: other\nEND\n\n"
    );
    assert_eq!(text(&c, "delgauges g"), "deleted: g\nEND\n\n");
    assert_eq!(text(&c, "deltimers t"), "deleted: t\nEND\n\n");
    let flushed = state.lock().unwrap().flush(200);
    assert!(!flushed.contains("app.x") && !flushed.contains("gauges.g "));
    assert!(!flushed.contains("timers.t."), "{flushed}");
}
