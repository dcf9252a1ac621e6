#![no_main]
// Any query string (and Last-Event-ID header) as a `/stream` request: parsed or refused with a
// reason, never a panic; whatever parses has a step that is a multiple of the live step.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (query, header) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], std::str::from_utf8(&data[i + 1..]).ok()),
        None => (data, None),
    };
    let query = String::from_utf8_lossy(query);
    let pairs: Vec<(String, String)> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (kv.to_string(), String::new()),
        })
        .collect();
    let live = tally::config::Live::default();
    if let Ok(r) = tally::live::request::parse(&pairs, header, &live) {
        assert!(r.step_ms > 0 && r.step_ms % live.step_ms as i64 == 0);
        assert!(!r.targets.is_empty());
    }
});
