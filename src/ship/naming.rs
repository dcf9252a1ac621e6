//! Buckets to named numbers: which views of a bucket are shipped under which path, for the
//! outputs that carry one number per name and time (carbon, remote_write).
//!
//! With `naming: views` (default) each kind has a list of `suffix=view`: a counter `web.hits`
//! becomes `web.hits.count` (sum) and `web.hits.rate` (sum per second). With `naming: statsd`
//! the paths are etsy StatsD's legacy namespace, so dashboards built on a StatsD → Graphite
//! setup keep working: `stats_counts.<p>`, `stats.<p>`, `stats.gauges.<p>`,
//! `stats.timers.<p>.{count,count_ps,sum,mean,upper,lower,median,upper_90}`, `stats.sets.<p>.count`.

use crate::aggregate::Bucket;
use crate::config::outputs::Naming;
use crate::metric::{Kind, Series};
use crate::query::View;

/// Calls `emit(path, value)` for every number the bucket gives under this naming. The path
/// has no tags; the caller adds them in its own syntax.
pub fn each_point(
    naming: &Naming,
    series: &Series,
    kind: Kind,
    resolution: u32,
    bucket: &Bucket,
    mut emit: impl FnMut(&str, f64),
) {
    let mut path = String::with_capacity(naming.prefix.len() + series.path().len() + 32);
    let base = |path: &mut String, head: &str| {
        path.clear();
        for part in [naming.prefix.as_str(), head, series.path()] {
            if !part.is_empty() {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(part);
            }
        }
    };
    let mut one = |path: &mut String, suffix: &str, view: View| {
        let Some(value) = view.value(bucket, resolution).filter(|v| v.is_finite()) else {
            return;
        };
        let len = path.len();
        if !suffix.is_empty() {
            path.push('.');
            path.push_str(suffix);
        }
        emit(path, value);
        path.truncate(len);
    };
    if !naming.statsd {
        base(&mut path, "");
        for (suffix, view) in &naming.views[usize::from(kind.code())] {
            one(&mut path, suffix, *view);
        }
        return;
    }
    match kind {
        Kind::Counter => {
            base(&mut path, "stats_counts");
            one(&mut path, "", View::Sum);
            base(&mut path, "stats");
            one(&mut path, "", View::SumRate);
        }
        Kind::Gauge => {
            base(&mut path, "stats.gauges");
            one(&mut path, "", View::Last);
        }
        Kind::Timer => {
            base(&mut path, "stats.timers");
            for (suffix, view) in [
                ("count", View::Obvs),
                ("count_ps", View::ObvsRate),
                ("sum", View::Sum),
                ("mean", View::Avg),
                ("upper", View::Max),
                ("lower", View::Min),
                ("median", View::Percentile(50.0)),
                ("upper_90", View::Percentile(90.0)),
            ] {
                one(&mut path, suffix, view);
            }
        }
        Kind::Set => {
            base(&mut path, "stats.sets");
            one(&mut path, "count", View::Distinct);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(naming: &Naming, name: &str, kind: Kind, b: &Bucket) -> Vec<(String, f64)> {
        let mut out = Vec::new();
        let s = Series::parse(name).unwrap();
        each_point(naming, &s, kind, 10, b, |p, v| out.push((p.to_string(), v)));
        out
    }

    fn views() -> Naming {
        Naming {
            statsd: false,
            prefix: String::new(),
            views: Naming::default_views(),
        }
    }

    #[test]
    fn default_views_per_kind() {
        let mut b = Bucket::new(Kind::Counter, 5.0, 100);
        b.add(15.0, 101);
        assert_eq!(
            collect(&views(), "web.hits;dc=eu", Kind::Counter, &b),
            [
                ("web.hits.count".into(), 20.0),
                ("web.hits.rate".into(), 2.0)
            ]
        );
        assert_eq!(
            collect(&views(), "load", Kind::Gauge, &b),
            [("load".into(), 10.0)]
        );
        let mut t = Bucket::new(Kind::Timer, 10.0, 100);
        t.add(30.0, 100);
        let got = collect(&views(), "rt", Kind::Timer, &t);
        assert_eq!(got[0], ("rt.mean".into(), 20.0));
        assert_eq!(got[1], ("rt.upper".into(), 30.0));
        assert_eq!(got[2], ("rt.lower".into(), 10.0));
        assert_eq!(got[3], ("rt.count".into(), 2.0));
        assert_eq!(got[4].0, "rt.p99");
    }

    #[test]
    fn statsd_namespace() {
        let n = Naming {
            statsd: true,
            prefix: "host1".into(),
            views: Naming::default_views(),
        };
        let b = Bucket::new(Kind::Counter, 30.0, 100);
        assert_eq!(
            collect(&n, "api.calls", Kind::Counter, &b),
            [
                ("host1.stats_counts.api.calls".into(), 30.0),
                ("host1.stats.api.calls".into(), 3.0)
            ]
        );
        let g = Bucket::new(Kind::Gauge, 7.0, 100);
        assert_eq!(
            collect(&n, "q", Kind::Gauge, &g),
            [("host1.stats.gauges.q".into(), 7.0)]
        );
        let t = Bucket::new(Kind::Timer, 4.0, 100);
        let paths: Vec<String> = collect(&n, "rt", Kind::Timer, &t)
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        assert_eq!(paths[0], "host1.stats.timers.rt.count");
        assert_eq!(paths.len(), 8);
    }
}
