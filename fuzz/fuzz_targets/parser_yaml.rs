#![no_main]
// Any text as a parser file: parsers or file:line:col errors, never a panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = tally::parse::parse_str(text, std::path::Path::new("fuzz.yaml"));
    }
});
