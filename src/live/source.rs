//! The live rings as a `query::Source`, so graphite functions run live through the same
//! evaluator as `/render` (whole-second steps; a point at `t` is the slots of `[t, t + step)`,
//! read `(from, until]` as the store source reads them).

use super::ring::Ring;
use crate::query::{self, Fetch, TimeSeries, View, natural_agg, view_for};
use crate::store::{Event, Store};
use rustc_hash::FxHashMap;
use std::sync::Arc;

pub struct Source<'a> {
    pub store: &'a Store,
    pub options: &'a query::Options,
    /// The rings this connection watches, by series name.
    pub rings: &'a FxHashMap<String, Arc<Ring>>,
    /// Step of the points, ms (whole seconds).
    pub step_ms: i64,
}

/// The paths (globs, names) and tag expressions a target reads, to watch them.
pub fn paths(expr: &query::target::Expr, out: &mut Vec<super::request::Target>) {
    use query::target::Expr;
    match expr {
        Expr::Path(p) => {
            let (path, view) = View::split(p);
            out.push(super::request::Target::Path {
                path: path.to_string(),
                view,
            });
        }
        Expr::Call(c) if c.name == "seriesByTag" => {
            let tags = c
                .args
                .iter()
                .filter_map(|a| match a {
                    Expr::Str(s) => Some(s.clone()),
                    _ => None,
                })
                .collect();
            out.push(super::request::Target::Tags(tags));
        }
        Expr::Call(c) => {
            for a in c.args.iter().chain(c.kwargs.iter().map(|(_, v)| v)) {
                paths(a, out);
            }
        }
        _ => {}
    }
}

impl query::Source for Source<'_> {
    fn fetch(&self, path: &str, fetch: &Fetch) -> Result<Vec<TimeSeries>, query::Error> {
        let (glob, explicit) = View::split(path);
        let step = (self.step_ms / 1000).max(1);
        let first = (fetch.from.div_euclid(step) + 1) * step;
        let last = fetch.until.div_euclid(step) * step;
        let mut out = Vec::new();
        for info in query::resolve(self.store, glob, self.options)? {
            let name = info.series.as_str();
            let Some(ring) = self.rings.get(name) else {
                continue;
            };
            let view = match view_for(explicit, info.kind, fetch.consolidate) {
                View::Distinct => View::Obvs,
                v => v,
            };
            let values: Vec<Option<f64>> = {
                let mut slots = ring.lock();
                (0..=((last - first) / step).max(-1))
                    .map(|k| {
                        let a = (first + k * step) * 1000;
                        super::read::value(&mut slots, view, a, a + self.step_ms)
                    })
                    .collect()
            };
            let shown = match query::view_suffix(path) {
                Some(suffix) => format!("{name}:{suffix}"),
                None => name.to_string(),
            };
            let mut s = TimeSeries::new(&shown, first, step, values);
            s.path_expression = path.to_string();
            s.tags = query::series::tags_of_name(name);
            s.consolidation = fetch.consolidate.unwrap_or(natural_agg(view));
            out.push(s);
        }
        Ok(out)
    }

    fn estimate(&self, path: &str, fetch: &Fetch) -> Result<(usize, u64), query::Error> {
        let (glob, _) = View::split(path);
        let n = query::resolve(self.store, glob, self.options)?.len();
        let points = ((fetch.until - fetch.from) / (self.step_ms / 1000).max(1)).max(1) as u64;
        Ok((n, points * n as u64))
    }

    fn tagged_names(&self) -> Vec<String> {
        self.store
            .tagged_series()
            .into_iter()
            .map(|i| i.series.to_string())
            .collect()
    }

    fn events(&self, from: i64, until: i64) -> Vec<Event> {
        self.store.events(from, until)
    }
}
