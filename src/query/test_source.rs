//! A fixed in-memory [`Source`] for tests: named series over any range, and events.

use super::eval::{Fetch, Source};
use super::series::{TimeSeries, Value};
use super::{Error, View};
use crate::metric::glob::Glob;
use crate::store::Event;

/// A stored series: name, start, step, values.
pub type Stored = (String, i64, i64, Vec<Value>);

#[derive(Default)]
pub struct Memory {
    pub series: Vec<Stored>,
    pub events: Vec<Event>,
}

impl Memory {
    fn matching(&self, path: &str) -> Result<Vec<&Stored>, Error> {
        if path.contains(';') {
            return Ok(self.series.iter().filter(|s| s.0 == path).collect());
        }
        let (path, _) = View::split(path);
        let glob = Glob::parse(path)?;
        let mut found: Vec<_> = self
            .series
            .iter()
            .filter(|s| !s.0.contains(';') && glob.matches(&s.0))
            .collect();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(found)
    }
}

/// Points with timestamps in `[from, until)`.
impl Source for Memory {
    fn fetch(&self, path: &str, f: &Fetch) -> Result<Vec<TimeSeries>, Error> {
        Ok(self
            .matching(path)?
            .into_iter()
            .map(|(name, start, step, values)| {
                let first = ((f.from - start) as f64 / *step as f64).ceil().max(0.0) as usize;
                let last = ((f.until - start) as f64 / *step as f64).ceil().max(0.0) as usize;
                let slice: Vec<Value> = (first..last)
                    .map(|i| values.get(i).copied().flatten())
                    .collect();
                let mut s = TimeSeries::new(name, start + first as i64 * step, *step, slice);
                s.path_expression = path.to_string();
                s
            })
            .collect())
    }

    fn estimate(&self, path: &str, f: &Fetch) -> Result<(usize, u64), Error> {
        let m = self.matching(path)?;
        let points = m
            .iter()
            .map(|s| ((f.until - f.from) / s.2).max(1) as u64)
            .sum();
        Ok((m.len(), points))
    }

    fn tagged_names(&self) -> Vec<String> {
        self.series
            .iter()
            .filter(|s| s.0.contains(';'))
            .map(|s| s.0.clone())
            .collect()
    }

    fn events(&self, from: i64, until: i64) -> Vec<Event> {
        self.events
            .iter()
            .filter(|e| e.when >= from && e.when <= until)
            .cloned()
            .collect()
    }
}
