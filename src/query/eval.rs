//! Evaluating parsed targets: paths are fetched from a [`Source`], calls run the functions of
//! [`super::functions`]. A function gets its arguments unevaluated, so the re-fetching family
//! (`timeShift`, `moving*`, `hitcount`…) evaluates its series argument again over another time
//! range, as graphite-web's `evaluateTarget` with a changed `requestContext` does.
//!
//! Safety limits are enforced here: series and points fetched per request (the hard cap
//! refuses; with the Metrictank plan the soft cap reads coarser tiers), and a deadline checked
//! at every step.

use super::functions;
use super::series::{Agg, TimeSeries};
use super::target::{self, Call, Expr};
use super::{Error, tags, template};
use crate::store::Event;
use std::cell::{Cell, RefCell};
use std::time::Instant;

/// What one fetch asks of the source.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fetch {
    pub from: i64,
    pub until: i64,
    pub now: i64,
    /// For the tier choice (and the exact bucket merge when `merge`).
    pub max_data_points: Option<u64>,
    /// `consolidateBy` closest to the path (Metrictank's inner rule): picks the bucket field.
    pub consolidate: Option<Agg>,
    /// Nothing between the root and this path changes values, so buckets may be merged down
    /// to maxDataPoints at read time (exact) instead of consolidating values afterwards.
    pub merge: bool,
    /// Fewer points are wanted than a plain read would give (the soft cap was reached):
    /// read a tier coarser by this many steps (Metrictank plan only).
    pub coarser: usize,
    /// A function above chooses or orders series by their values: read the tier graphite
    /// reads, whatever the tier choice, so the choice is made on the finest values.
    pub by_value: bool,
}

/// Where series and events come from: the store, or fixed data in tests.
pub trait Source {
    /// Series a path expression (glob, exact tagged name, `:view` suffix) names.
    fn fetch(&self, path: &str, fetch: &Fetch) -> Result<Vec<TimeSeries>, Error>;
    /// Points a fetch of `series` series would read, for the limits (before reading).
    fn estimate(&self, path: &str, fetch: &Fetch) -> Result<(usize, u64), Error>;
    /// Every tagged series name (canonical `name;k=v…`).
    fn tagged_names(&self) -> Vec<String>;
    /// Events with `from <= when <= until`.
    fn events(&self, from: i64, until: i64) -> Vec<Event>;
}

/// Per-request limits (from the `query:` config).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Most series fetched for one request.
    pub max_series: usize,
    /// Points fetched beyond this make later fetches read coarser tiers (Metrictank plan
    /// only: graphite's choice never answers from a coarser tier than the one it would read).
    pub max_points_soft: u64,
    pub tier_choice: super::TierChoice,
    /// Points fetched beyond this refuse the request.
    pub max_points_hard: u64,
    /// The request is abandoned after this instant.
    pub deadline: Option<Instant>,
    /// Set when the evaluation runs on the thread that serves connections: it gives up with
    /// [`Error::NotInline`] past this budget, to be run again on a blocking thread.
    pub inline: Option<Inline>,
}

/// How much an evaluation may do on an async worker thread before it gives up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Inline {
    /// Points fetched in all.
    pub points: u64,
    /// Series fetched in all.
    pub series: usize,
    /// Checked before each expression is evaluated.
    pub until: Instant,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_series: 10_000,
            max_points_soft: 1_000_000,
            max_points_hard: 20_000_000,
            tier_choice: super::TierChoice::Graphite,
            deadline: None,
            inline: None,
        }
    }
}

/// The request a target is evaluated for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Request {
    pub from: i64,
    pub until: i64,
    pub now: i64,
    pub max_data_points: Option<u64>,
    /// The `xFilesFactor` request parameter (graphite's default: 0).
    pub x_files_factor: f64,
}

/// What flows down from the root while evaluating (graphite's `requestContext`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ctx {
    pub from: i64,
    pub until: i64,
    pub consolidate: Option<Agg>,
    pub merge: bool,
    /// A function above decides by value (see [`Fetch::by_value`]).
    pub by_value: bool,
}

pub struct Evaluator<'a> {
    pub source: &'a dyn Source,
    pub request: Request,
    pub limits: Limits,
    series_fetched: Cell<usize>,
    points_fetched: Cell<u64>,
    /// The request's `template[name]=value` parameters (they override `template()`'s own).
    template: Vec<(String, String)>,
    /// Series evaluated once and referred to by [`Expr::Bound`].
    bound: RefCell<Vec<Vec<TimeSeries>>>,
    /// The request's `tz`: calendar alignment (`smartSummarize`, `hitcount`) and times given
    /// to functions (`verticalLine`) are in it.
    pub tz: jiff::tz::TimeZone,
    /// Compiled regular expressions kept between requests (none: compiled each time).
    patterns: Option<&'a super::pattern::Cache>,
    /// Buckets are never merged at read time (set when a merged answer would not be
    /// graphite's: see [`super::series::fitted_elsewhere`]).
    unmerged: Cell<bool>,
}

impl<'a> Evaluator<'a> {
    pub fn new(source: &'a dyn Source, request: Request, limits: Limits) -> Evaluator<'a> {
        Evaluator {
            source,
            request,
            limits,
            series_fetched: Cell::new(0),
            points_fetched: Cell::new(0),
            template: Vec::new(),
            bound: RefCell::new(Vec::new()),
            tz: jiff::tz::TimeZone::UTC,
            patterns: None,
            unmerged: Cell::new(false),
        }
    }

    /// Reads compiled regular expressions through `cache`.
    pub fn with_patterns(mut self, cache: &'a super::pattern::Cache) -> Evaluator<'a> {
        self.patterns = Some(cache);
        self
    }

    /// A Python regular expression as the `regex` crate reads it (from the cache if any).
    pub fn regex(&self, pattern: &str) -> Result<regex::Regex, Error> {
        match self.patterns {
            Some(cache) => cache.get(pattern),
            None => super::pattern::compile(pattern),
        }
        .map_err(|e| Error::BadArgument(format!("bad regular expression {pattern:?}: {e}")))
    }

    /// Sets the request's time zone.
    pub fn with_tz(mut self, tz: jiff::tz::TimeZone) -> Evaluator<'a> {
        self.tz = tz;
        self
    }

    /// Seconds the request's zone is ahead of UTC at `t` (graphite aligns with that offset).
    pub fn utc_offset(&self, t: i64) -> i64 {
        jiff::Timestamp::from_second(t)
            .map(|ts| i64::from(self.tz.to_offset(ts).seconds()))
            .unwrap_or(0)
    }

    /// Sets the request's `template[name]=value` parameters.
    pub fn with_template(mut self, template: Vec<(String, String)>) -> Evaluator<'a> {
        self.template = template;
        self
    }

    /// Holds evaluated series for an [`Expr::Bound`] argument.
    pub fn bind_series(&self, series: Vec<TimeSeries>) -> Expr {
        let mut bound = self.bound.borrow_mut();
        bound.push(series);
        Expr::Bound(bound.len() - 1)
    }

    /// Parses and evaluates a target built at run time (`applyByNode`'s template,
    /// `aliasQuery`'s query…) over the context's range.
    pub fn eval_text(&self, text: &str, ctx: &Ctx) -> Result<Vec<TimeSeries>, Error> {
        let expr = target::parse(text).map_err(|e| Error::Target(text.to_string(), e))?;
        self.eval(&expr, ctx)
    }

    /// Series and points fetched so far.
    pub fn fetched(&self) -> (usize, u64) {
        (self.series_fetched.get(), self.points_fetched.get())
    }

    /// Parses and evaluates every target, in order.
    pub fn targets<S: AsRef<str>>(&self, targets: &[S]) -> Result<Vec<TimeSeries>, Error> {
        let mut parsed = Vec::new();
        for t in targets {
            let t = t.as_ref();
            if t.trim().is_empty() {
                continue;
            }
            let expr = target::parse(t).map_err(|e| Error::Target(t.to_string(), e))?;
            parsed.push(expr);
        }
        let mut out = Vec::new();
        for expr in &parsed {
            out.extend(self.eval(expr, &self.root_ctx())?);
        }
        if super::series::fitted_elsewhere(&out) && !self.unmerged.get() {
            // graphite's renderer sizes every series' groups by the whole answer's span: read
            // again as it is stored and let the renderer consolidate.
            self.unmerged.set(true);
            return self.targets(targets);
        }
        Ok(out)
    }

    pub fn root_ctx(&self) -> Ctx {
        Ctx {
            from: self.request.from,
            until: self.request.until,
            consolidate: None,
            // Buckets merged at read time count every non-empty one: exact only while any
            // non-null value is enough (graphite's default xFilesFactor of 0).
            merge: self.request.x_files_factor == 0.0 && !self.unmerged.get(),
            by_value: false,
        }
    }

    pub fn check_deadline(&self) -> Result<(), Error> {
        if self.limits.deadline.is_none() && self.limits.inline.is_none() {
            return Ok(());
        }
        let now = Instant::now();
        match (self.limits.deadline, self.limits.inline) {
            (Some(d), _) if now > d => Err(Error::Timeout),
            (_, Some(i)) if now > i.until => Err(Error::NotInline),
            _ => Ok(()),
        }
    }

    /// Refuses a function output of more than the hard cap of points (`summarize(x, '1s')`
    /// over a year, `time('t', 1)`…).
    pub fn check_points(&self, points: i64) -> Result<(), Error> {
        if points > self.limits.max_points_hard as i64 {
            return Err(Error::TooManyPoints(
                points as u64,
                self.limits.max_points_hard,
            ));
        }
        Ok(())
    }

    /// The request's xFilesFactor (functions prefer their argument, then the series').
    pub fn xff(&self, _ctx: &Ctx) -> f64 {
        self.request.x_files_factor
    }

    /// Evaluates an expression that must give series.
    pub fn eval(&self, expr: &Expr, ctx: &Ctx) -> Result<Vec<TimeSeries>, Error> {
        self.check_deadline()?;
        match expr {
            Expr::Path(p) => self.fetch(p, ctx),
            Expr::Call(c) if c.name == "template" => {
                let (inner, replacements) = template::bind(c, &self.template)?;
                self.eval(&template::substitute(inner, &replacements)?, ctx)
            }
            Expr::Call(c) => self.call(c, ctx),
            Expr::Bound(i) => Ok(self.bound.borrow().get(*i).cloned().unwrap_or_default()),
            other => Err(Error::BadArgument(format!(
                "expected a series, got the literal {other}"
            ))),
        }
    }

    fn call(&self, call: &Call, ctx: &Ctx) -> Result<Vec<TimeSeries>, Error> {
        let func = functions::lookup(&call.name)
            .ok_or_else(|| Error::UnknownFunction(call.name.clone()))?;
        let ctx = Ctx {
            merge: ctx.merge && func.transparent,
            by_value: ctx.by_value || func.by_value,
            consolidate: if func.resets_consolidation {
                None
            } else {
                ctx.consolidate
            },
            ..*ctx
        };
        let args = functions::Args::bind(self, func, call, ctx)?;
        (func.run)(&args).map_err(|e| match e {
            Error::BadArgument(m) => Error::BadArgument(format!("{}: {m}", func.name)),
            other => other,
        })
    }

    fn fetch(&self, path: &str, ctx: &Ctx) -> Result<Vec<TimeSeries>, Error> {
        let mut fetch = Fetch {
            from: ctx.from,
            until: ctx.until,
            now: self.request.now,
            max_data_points: self.request.max_data_points,
            consolidate: ctx.consolidate,
            merge: ctx.merge,
            coarser: 0,
            by_value: ctx.by_value,
        };
        // Metrictank's caps: past the soft cap read coarser while a coarser tier helps (its
        // plan only, and never under a function that decides by value); past the hard cap
        // refuse.
        let mut estimate = self.source.estimate(path, &fetch)?;
        let coarsen = self.limits.tier_choice == super::TierChoice::Metrictank && !ctx.by_value;
        while coarsen && self.points_fetched.get() + estimate.1 > self.limits.max_points_soft {
            fetch.coarser += 1;
            let next = self.source.estimate(path, &fetch)?;
            if next.1 >= estimate.1 {
                fetch.coarser -= 1;
                break;
            }
            estimate = next;
        }
        let series = self.series_fetched.get() + estimate.0;
        if series > self.limits.max_series {
            return Err(Error::TooManySeries(
                path.to_string(),
                self.limits.max_series,
            ));
        }
        let points = self.points_fetched.get() + estimate.1;
        if points > self.limits.max_points_hard {
            return Err(Error::TooManyPoints(points, self.limits.max_points_hard));
        }
        if let Some(i) = self.limits.inline
            && (points > i.points || series > i.series)
        {
            return Err(Error::NotInline);
        }
        self.series_fetched.set(series);
        self.points_fetched.set(points);
        self.source.fetch(path, &fetch)
    }

    /// `seriesByTag(…)`: every tagged series matching all expressions, fetched by name. Their
    /// path expression is the call as written (`raw`, graphite-web's), else rebuilt from `exprs`.
    pub fn series_by_tag(
        &self,
        exprs: &[String],
        raw: Option<&str>,
        ctx: &Ctx,
    ) -> Result<Vec<TimeSeries>, Error> {
        let parsed = exprs
            .iter()
            .map(|e| tags::Expr::parse(e))
            .collect::<Result<Vec<_>, _>>()?;
        let names = tags::matching(&parsed, self.source.tagged_names())?;
        let path_expression = raw.map_or_else(
            || {
                let quoted: Vec<String> = exprs.iter().map(|e| format!("'{e}'")).collect();
                format!("seriesByTag({})", quoted.join(","))
            },
            str::to_string,
        );
        let mut out = Vec::new();
        for name in names {
            for mut s in self.fetch(&name, ctx)? {
                s.path_expression = path_expression.clone();
                out.push(s);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// Each coarser step halves the points; records what was fetched.
    struct Tiers(RefCell<Vec<Fetch>>);

    impl Source for Tiers {
        fn fetch(&self, _: &str, f: &Fetch) -> Result<Vec<TimeSeries>, Error> {
            self.0.borrow_mut().push(*f);
            Ok(vec![TimeSeries::new("x", f.from, 60, vec![Some(1.0)])])
        }
        fn estimate(&self, _: &str, f: &Fetch) -> Result<(usize, u64), Error> {
            Ok((1, (1000 >> f.coarser.min(3)) as u64))
        }
        fn tagged_names(&self) -> Vec<String> {
            Vec::new()
        }
        fn events(&self, _: i64, _: i64) -> Vec<Event> {
            Vec::new()
        }
    }

    fn request() -> Request {
        Request {
            from: 0,
            until: 600,
            now: 600,
            max_data_points: None,
            x_files_factor: 0.0,
        }
    }

    #[test]
    fn soft_cap_reads_coarser_and_hard_cap_refuses() {
        let src = Tiers(RefCell::new(Vec::new()));
        let limits = Limits {
            max_points_soft: 1500,
            max_points_hard: 10_000,
            tier_choice: crate::query::TierChoice::Metrictank,
            ..Limits::default()
        };
        let ev = Evaluator::new(&src, request(), limits);
        ev.targets(&["sumSeries(a, b, c)"]).unwrap();
        // 1000 points; 1000 more would pass 1500, so 500; then as coarse as it gets (125), past
        // the soft cap but under the hard one.
        let coarser: Vec<usize> = src.0.borrow().iter().map(|f| f.coarser).collect();
        assert_eq!(coarser, vec![0, 1, 3]);
        assert_eq!(ev.fetched(), (3, 1000 + 500 + 125));

        let src = Tiers(RefCell::new(Vec::new()));
        let limits = Limits {
            max_points_soft: 100,
            max_points_hard: 300,
            tier_choice: crate::query::TierChoice::Metrictank,
            ..Limits::default()
        };
        let err = Evaluator::new(&src, request(), limits)
            .targets(&["a", "b", "c"])
            .unwrap_err();
        assert!(matches!(err, Error::TooManyPoints(375, 300)), "{err}");
    }

    /// Issue 18, item 2: with graphite's tier choice the soft cap never reads a coarser tier;
    /// what passes the hard cap is a 413 with the reason. Under a function that decides by
    /// value, the Metrictank plan does not read coarser either.
    #[test]
    fn graphite_choice_ignores_the_soft_cap() {
        let src = Tiers(RefCell::new(Vec::new()));
        let limits = Limits {
            max_points_soft: 1500,
            max_points_hard: 10_000,
            ..Limits::default()
        };
        let ev = Evaluator::new(&src, request(), limits);
        ev.targets(&["sumSeries(a, b, c)"]).unwrap();
        let coarser: Vec<usize> = src.0.borrow().iter().map(|f| f.coarser).collect();
        assert_eq!(coarser, vec![0, 0, 0]);
        assert_eq!(ev.fetched(), (3, 3000));
        let limits = Limits {
            max_points_hard: 2500,
            ..limits
        };
        let err = Evaluator::new(&src, request(), limits)
            .targets(&["a", "b", "c"])
            .unwrap_err();
        assert!(matches!(err, Error::TooManyPoints(3000, 2500)), "{err}");
        assert!(err.to_string().contains("query.max_points_hard"), "{err}");

        let src = Tiers(RefCell::new(Vec::new()));
        let limits = Limits {
            max_points_soft: 1500,
            tier_choice: crate::query::TierChoice::Metrictank,
            ..Limits::default()
        };
        let ev = Evaluator::new(&src, request(), limits);
        ev.targets(&["highestMax(group(a, b, c), 1)"]).unwrap();
        let seen: Vec<(usize, bool)> = src
            .0
            .borrow()
            .iter()
            .map(|f| (f.coarser, f.by_value))
            .collect();
        assert_eq!(seen, vec![(0, true), (0, true), (0, true)]);
    }

    #[test]
    fn series_per_request_and_deadline() {
        let src = Tiers(RefCell::new(Vec::new()));
        let limits = Limits {
            max_series: 2,
            ..Limits::default()
        };
        let err = Evaluator::new(&src, request(), limits)
            .targets(&["group(a, b, c)"])
            .unwrap_err();
        assert!(matches!(err, Error::TooManySeries(..)), "{err}");
        let limits = Limits {
            deadline: Some(Instant::now() - std::time::Duration::from_millis(1)),
            ..Limits::default()
        };
        let err = Evaluator::new(&src, request(), limits)
            .targets(&["a"])
            .unwrap_err();
        assert!(matches!(err, Error::Timeout));
    }
    /// An evaluation on an async worker gives up past its budget (points, series or time), to
    /// be run again on a blocking thread; within it, it answers as any other.
    #[test]
    fn inline_budget() {
        let src = Tiers(RefCell::new(Vec::new()));
        let inline = |points, series, ms: i64| Limits {
            inline: Some(Inline {
                points,
                series,
                until: if ms >= 0 {
                    Instant::now() + std::time::Duration::from_millis(ms as u64)
                } else {
                    Instant::now() - std::time::Duration::from_millis(1)
                },
            }),
            ..Limits::default()
        };
        let within = Evaluator::new(&src, request(), inline(3000, 3, 60_000))
            .targets(&["sumSeries(a, b, c)"])
            .unwrap();
        let blocking = Evaluator::new(&src, request(), Limits::default())
            .targets(&["sumSeries(a, b, c)"])
            .unwrap();
        assert_eq!(within[0].values, blocking[0].values);
        for (limits, what) in [
            (inline(2999, 3, 60_000), "points"),
            (inline(3000, 2, 60_000), "series"),
            (inline(3000, 3, -1), "time"),
        ] {
            let err = Evaluator::new(&src, request(), limits)
                .targets(&["sumSeries(a, b, c)"])
                .unwrap_err();
            assert!(matches!(err, Error::NotInline), "{what}: {err}");
        }
    }
}
