#![no_main]
// Any text as a render target: parsed or rejected with a position, and whatever parses is
// evaluated over two small series (every function, any arguments): a result or an error,
// never a panic.
use libfuzzer_sys::fuzz_target;
use tally::query::eval::{Evaluator, Fetch, Limits, Request, Source};
use tally::query::{Error, TimeSeries};
use tally::store::Event;

struct Two;

impl Source for Two {
    fn fetch(&self, path: &str, f: &Fetch) -> Result<Vec<TimeSeries>, Error> {
        let step = 60;
        let n = ((f.until - f.from) / step).clamp(0, 2000) as usize;
        let names = ["a.b.c", "a.b.d;dc=eu"];
        Ok(names
            .iter()
            .filter(|n| path.contains('*') || path == **n)
            .map(|name| {
                let values = (0..n).map(|i| (i % 7 != 3).then_some(i as f64 - 5.0)).collect();
                TimeSeries::new(name, f.from - f.from.rem_euclid(step), step, values)
            })
            .collect())
    }
    fn estimate(&self, _: &str, f: &Fetch) -> Result<(usize, u64), Error> {
        Ok((2, ((f.until - f.from) / 60).max(0) as u64 * 2))
    }
    fn tagged_names(&self) -> Vec<String> {
        vec!["a.b.d;dc=eu".into()]
    }
    fn events(&self, from: i64, until: i64) -> Vec<Event> {
        vec![Event { id: 1, when: (from + until) / 2, what: "x".into(), tags: vec!["t".into()], data: String::new() }]
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match tally::query::target::parse(text) {
        Err(e) => assert!(e.pos <= text.chars().count()),
        Ok(_) => {
            let request = Request { from: 0, until: 3600, now: 3600, max_data_points: Some(100), x_files_factor: 0.0 };
            let limits = Limits {
                max_series: 100,
                max_points_soft: 50_000,
                max_points_hard: 100_000,
                deadline: Some(std::time::Instant::now() + std::time::Duration::from_secs(1)),
            };
            if let Ok(mut out) = Evaluator::new(&Two, request, limits).targets(&[text]) {
                tally::query::series::max_data_points(&mut out, 100, 0.0);
            }
        }
    }
});
