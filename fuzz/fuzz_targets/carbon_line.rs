#![no_main]
// Any bytes as a carbon line: an observation or an error, never a panic.
use libfuzzer_sys::fuzz_target;
use tally::inputs::carbon::parse_line;
use tally::metric::Kind;

fuzz_target!(|data: &[u8]| {
    if let Ok(obs) = parse_line(data, 1_700_000_000, Kind::Gauge) {
        assert!(obs.value.is_finite());
        assert!(tally::metric::Series::parse(obs.series.as_str()).is_ok());
    }
});
