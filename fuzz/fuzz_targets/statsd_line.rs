#![no_main]
// Any bytes as a StatsD packet: observations, counted bad lines, and an etsy flush of
// well-formed Graphite lines; never a panic.
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, Mutex};
use tally::inputs::statsd::{Batch, Intake, flush};

fuzz_target!(|data: &[u8]| {
    let options = flush::Options {
        percent_threshold: vec![90.0, -10.0, 99.9],
        histogram: vec![flush::Histogram {
            metric: String::new(),
            bins: vec![flush::Bin::Below(1.0), flush::Bin::Inf],
        }],
        ..flush::Options::default()
    };
    let state = Arc::new(Mutex::new(flush::State::new(options, 1)));
    let mut intake = Intake::new(Arc::default(), 1000, vec![state.clone()]);
    let mut out = Batch::default();
    intake.packets([data, data], 1_700_000_000, &mut out);
    for obs in &out.observations {
        assert!(tally::metric::Series::parse(obs.series.as_str()).is_ok());
    }
    for f in &out.folded {
        assert!(tally::metric::Series::parse(f.series.as_str()).is_ok());
        assert!(f.bucket.count > 0 && f.bucket.min.is_finite() && f.bucket.max.is_finite());
    }
    let text = state.lock().unwrap().flush(1_700_000_010);
    for line in text.lines() {
        assert_eq!(line.split(' ').count(), 3, "{line:?}");
    }
});
