#![no_main]
// Any bytes as a carbon pickle frame: datapoints or an error, never a panic, and never more
// items than the frame has bytes (a memo fetched many times is shared, not copied).
use libfuzzer_sys::fuzz_target;
use tally::inputs::carbon::pickle::decode;

fuzz_target!(|data: &[u8]| {
    if let Ok(items) = decode(data) {
        assert!(items.len() <= data.len());
    }
});
