#![no_main]
// Any text as a render target, glob or graphite time: parsed or rejected, never a panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = tally::query::attime::parse(text, 1_700_000_000);
        let _ = tally::query::attime::offset_seconds(text);
        let (path, _) = tally::query::View::split(text);
        if let Ok(glob) = tally::metric::glob::Glob::parse(path) {
            let _ = glob.matches("a.b.c");
        }
        let _ = tally::metric::Series::parse(text);
    }
});
