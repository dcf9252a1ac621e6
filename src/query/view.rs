//! Views: how a bucket becomes one number. Selected with a `:view` suffix on a path, Hosted
//! Graphite style (`web.req:sumrate`, `api.latency:p99`, `api.latency:99pct`, `hits:sum60`).

use crate::aggregate::Bucket;
use crate::metric::Kind;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum View {
    /// sum / count
    Avg,
    Sum,
    /// sum per second of the bucket
    SumRate,
    /// sum per N seconds (`sumrate × N`), the same at every zoom level
    SumN(u32),
    /// number of observations
    Obvs,
    /// observations per second
    ObvsRate,
    Min,
    Max,
    Last,
    /// a percentile, 0 < p < 100 (timers)
    Percentile(f64),
    /// distinct members (sets)
    Distinct,
}

impl View {
    /// The view used when a path has no suffix.
    pub fn default_for(kind: Kind) -> View {
        match kind {
            Kind::Counter => View::SumRate,
            Kind::Gauge | Kind::Timer => View::Avg,
            Kind::Set => View::Distinct,
        }
    }

    pub fn parse(s: &str) -> Option<View> {
        Some(match s {
            "avg" | "mean" => View::Avg,
            "sum" => View::Sum,
            "sumrate" => View::SumRate,
            "obvs" | "count" => View::Obvs,
            "obvsrate" => View::ObvsRate,
            "min" => View::Min,
            "max" => View::Max,
            "last" => View::Last,
            "distinct" => View::Distinct,
            _ => {
                if let Some(n) = s.strip_prefix("sum") {
                    return n.parse().ok().filter(|&n| n > 0).map(View::SumN);
                }
                let p = s.strip_prefix('p').or_else(|| s.strip_suffix("pct"))?;
                if p.is_empty() || !p.chars().all(|c| c.is_ascii_digit() || c == '.') {
                    return None;
                }
                let p: f64 = p.parse().ok()?;
                // p999 means 99.9, as in most tools.
                let p = if p >= 100.0 && !s.contains('.') {
                    p / 10f64.powi(p.log10().floor() as i32 - 1)
                } else {
                    p
                };
                if !(0.0..100.0).contains(&p) || p == 0.0 {
                    return None;
                }
                View::Percentile(p)
            }
        })
    }

    /// Splits `path:view` when the suffix is a view; otherwise the whole string is the path.
    pub fn split(target: &str) -> (&str, Option<View>) {
        if let Some((path, suffix)) = target.rsplit_once(':')
            && let Some(v) = View::parse(suffix)
        {
            return (path, Some(v));
        }
        (target, None)
    }

    /// The number for one bucket covering `seconds`.
    #[inline]
    pub fn value(&self, b: &Bucket, seconds: u32) -> Option<f64> {
        self.value_secs(b, f64::from(seconds.max(1)))
    }

    /// [`View::value`] for a bucket covering `secs` seconds, fractions too (the live tier's
    /// 100 ms slots).
    #[inline]
    pub fn value_secs(&self, b: &Bucket, secs: f64) -> Option<f64> {
        if b.count == 0 {
            return None;
        }
        Some(match *self {
            View::Avg => b.avg(),
            View::Sum => b.sum,
            View::SumRate => b.sum / secs,
            View::SumN(n) => b.sum / secs * f64::from(n),
            View::Obvs => b.count as f64,
            View::ObvsRate => b.count as f64 / secs,
            View::Min => b.min,
            View::Max => b.max,
            View::Last => b.last,
            View::Percentile(p) => return b.quantile(p / 100.0),
            View::Distinct => return b.distinct(),
        })
    }

    /// Metrictank's consolidator name for merging buckets under this view.
    pub fn consolidator(&self) -> &'static str {
        match self {
            View::Avg => "AverageConsolidator",
            View::Sum | View::SumRate | View::SumN(_) => "SumConsolidator",
            View::Obvs | View::ObvsRate => "CountConsolidator",
            View::Min => "MinimumConsolidator",
            View::Max => "MaximumConsolidator",
            View::Last => "LastConsolidator",
            View::Percentile(_) => "PercentileConsolidator",
            View::Distinct => "DistinctConsolidator",
        }
    }
}

impl fmt::Display for View {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            View::Avg => f.write_str("avg"),
            View::Sum => f.write_str("sum"),
            View::SumRate => f.write_str("sumrate"),
            View::SumN(n) => write!(f, "sum{n}"),
            View::Obvs => f.write_str("obvs"),
            View::ObvsRate => f.write_str("obvsrate"),
            View::Min => f.write_str("min"),
            View::Max => f.write_str("max"),
            View::Last => f.write_str("last"),
            View::Percentile(p) => write!(f, "p{p}"),
            View::Distinct => f.write_str("distinct"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_parse() {
        assert_eq!(
            View::split("web.req:sumrate"),
            ("web.req", Some(View::SumRate))
        );
        assert_eq!(View::split("a:p99").1, Some(View::Percentile(99.0)));
        assert_eq!(View::split("a:99pct").1, Some(View::Percentile(99.0)));
        assert_eq!(View::split("a:p999").1, Some(View::Percentile(99.9)));
        assert_eq!(View::split("a:p99.5").1, Some(View::Percentile(99.5)));
        assert_eq!(View::split("a:sum60").1, Some(View::SumN(60)));
        assert_eq!(
            View::split("a:b:c"),
            ("a:b:c", None),
            "not a view: part of the path"
        );
        assert_eq!(View::split("a:p0").1, None);
    }

    #[test]
    fn values_from_a_bucket() {
        let mut b = Bucket::new(Kind::Timer, 2.0, 0);
        b.add(4.0, 1);
        b.add(9.0, 2);
        assert_eq!(View::Avg.value(&b, 10), Some(5.0));
        assert_eq!(View::Sum.value(&b, 10), Some(15.0));
        assert_eq!(View::SumRate.value(&b, 10), Some(1.5));
        assert_eq!(View::SumN(60).value(&b, 10), Some(90.0));
        assert_eq!(View::Obvs.value(&b, 10), Some(3.0));
        assert_eq!(View::ObvsRate.value(&b, 10), Some(0.3));
        assert_eq!(View::Last.value(&b, 10), Some(9.0));
        let p50 = View::Percentile(50.0).value(&b, 10).unwrap();
        assert!((p50 - 4.0).abs() < 0.04);
        assert_eq!(View::Distinct.value(&b, 10), None);
    }
}
