#![no_main]
// Any bytes as a log line through every shipped parser: observations or nothing, never a panic.
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use tally::parse::{Output, ParseState, Parser};

fn parsers() -> &'static Vec<Parser> {
    static P: OnceLock<Vec<Parser>> = OnceLock::new();
    P.get_or_init(|| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../parsers");
        tally::parse::load(&[dir]).0
    })
}

fuzz_target!(|data: &[u8]| {
    let mut out = Output::default();
    for p in parsers() {
        let mut state = ParseState::new();
        p.apply(data, 1_700_000_000, "fuzz", &mut state, &mut out);
    }
    assert!(out.observations.iter().all(|o| o.value.is_finite()));
});
