//! Retention schemas, like carbon's storage-schemas.conf: the first schema whose pattern matches
//! a series name decides its tiers (`10s:7d, 1m:90d, 1h:5y`). One schema covers every view,
//! because a bucket keeps every field. Changing a schema applies to data already stored.

use regex::Regex;
use std::fmt;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error(
        "bad duration {0:?}: expected a number and a unit (s, min, m, h, d, w, y), e.g. 10s or 7d"
    )]
    Duration(String),
    #[error("bad retention {0:?}: expected resolution:keep, e.g. 10s:7d")]
    Retention(String),
    #[error("retentions must go from finest to coarsest: {0}")]
    Order(String),
    #[error(
        "resolution {coarse}s is not a multiple of the finer {fine}s, so it cannot be merged from it"
    )]
    NotMultiple { fine: u32, coarse: u32 },
    #[error("a schema needs at least one retention")]
    NoTiers,
    #[error("bad pattern: {0}")]
    Pattern(String),
}

/// One resolution and how long it is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tier {
    /// Seconds per bucket.
    pub resolution: u32,
    /// Seconds kept.
    pub retention: u64,
}

impl Tier {
    /// Number of slots kept.
    pub fn slots(&self) -> u64 {
        self.retention / u64::from(self.resolution)
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}",
            format_duration(u64::from(self.resolution)),
            format_duration(self.retention)
        )
    }
}

/// How a reader picks the tier of a schema for a time range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TierChoice {
    /// graphite-web's (whisper's) rule: the finest tier whose retention reaches back to
    /// `from`, whatever the number of points; `maxDataPoints` then merges its buckets.
    #[default]
    Graphite,
    /// Metrictank's plan: past `max_points_per_series` (and the soft points cap) coarser tiers
    /// are read, and `maxDataPoints` picks a tier by its ratio rule. Faster, other answers.
    Metrictank,
}

impl TierChoice {
    pub fn parse(s: &str) -> Option<TierChoice> {
        match s {
            "graphite" => Some(TierChoice::Graphite),
            "metrictank" => Some(TierChoice::Metrictank),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Schema {
    pub name: String,
    pub pattern: Regex,
    /// Finest first; each resolution a multiple of the one before.
    pub tiers: Vec<Tier>,
    /// The retentions as written in config, e.g. `10s:7d,1m:90d` (reported in lineage).
    pub retentions: String,
}

impl Schema {
    pub fn new(name: &str, pattern: &str, retentions: &[&str]) -> Result<Schema, Error> {
        let pattern = Regex::new(pattern).map_err(|e| Error::Pattern(e.to_string()))?;
        let tiers = retentions
            .iter()
            .map(|r| parse_retention(r))
            .collect::<Result<Vec<_>, _>>()?;
        check_tiers(&tiers)?;
        Ok(Schema {
            name: name.to_string(),
            pattern,
            tiers,
            retentions: retentions.join(","),
        })
    }

    pub fn finest(&self) -> Tier {
        self.tiers[0]
    }
}

pub fn check_tiers(tiers: &[Tier]) -> Result<(), Error> {
    if tiers.is_empty() {
        return Err(Error::NoTiers);
    }
    for pair in tiers.windows(2) {
        let (fine, coarse) = (pair[0], pair[1]);
        if coarse.resolution <= fine.resolution || coarse.retention < fine.retention {
            return Err(Error::Order(format!("{fine} then {coarse}")));
        }
        if coarse.resolution % fine.resolution != 0 {
            return Err(Error::NotMultiple {
                fine: fine.resolution,
                coarse: coarse.resolution,
            });
        }
    }
    Ok(())
}

/// The schemas in order, and the one used when none matches.
#[derive(Debug, Clone)]
pub struct Schemas {
    pub list: Vec<Schema>,
}

impl Schemas {
    /// The built-in default: 10s for 7 days, 1 minute for 90 days, 1 hour for 5 years.
    pub fn default_list() -> Schemas {
        let default = Schema::new("default", ".*", &["10s:7d", "1m:90d", "1h:5y"])
            .expect("the built-in schema is valid");
        Schemas {
            list: vec![default],
        }
    }

    /// Index of the first schema whose pattern matches; the last schema catches the rest.
    pub fn resolve(&self, name: &str) -> usize {
        self.list
            .iter()
            .position(|s| s.pattern.is_match(name))
            .unwrap_or(self.list.len() - 1)
    }

    pub fn get(&self, idx: usize) -> &Schema {
        &self.list[idx]
    }

    pub fn for_name(&self, name: &str) -> &Schema {
        self.get(self.resolve(name))
    }

    /// Every resolution any schema uses, with the longest retention it has anywhere.
    pub fn resolutions(&self) -> Vec<Tier> {
        let mut out: Vec<Tier> = Vec::new();
        for t in self.list.iter().flat_map(|s| &s.tiers) {
            match out.iter_mut().find(|o| o.resolution == t.resolution) {
                Some(o) => o.retention = o.retention.max(t.retention),
                None => out.push(*t),
            }
        }
        out.sort_by_key(|t| t.resolution);
        out
    }
}

/// Parses `10s`, `1min`, `1m` (minutes, as in carbon), `2h`, `7d`, `1w`, `5y`, or bare seconds.
pub fn parse_duration(s: &str) -> Result<u64, Error> {
    let err = || Error::Duration(s.to_string());
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| err())?;
    let mult = match unit {
        "" | "s" | "sec" | "secs" | "second" | "seconds" => 1,
        "m" | "min" | "mins" | "minute" | "minutes" => 60,
        "h" | "hour" | "hours" => 3600,
        "d" | "day" | "days" => 86_400,
        "w" | "week" | "weeks" => 7 * 86_400,
        "y" | "year" | "years" => 365 * 86_400,
        _ => return Err(err()),
    };
    n.checked_mul(mult).filter(|&v| v > 0).ok_or_else(err)
}

fn format_duration(secs: u64) -> String {
    for (unit, size) in [("y", 365 * 86_400), ("d", 86_400), ("h", 3600), ("m", 60)] {
        if secs >= size && secs.is_multiple_of(size) {
            return format!("{}{unit}", secs / size);
        }
    }
    format!("{secs}s")
}

/// Like [`parse_duration`], in milliseconds, with `ms` accepted too (`200ms`, `1s`).
pub fn parse_duration_ms(s: &str) -> Result<u64, Error> {
    match s.trim().strip_suffix("ms") {
        Some(n) => n
            .parse()
            .ok()
            .filter(|&v: &u64| v > 0)
            .ok_or_else(|| Error::Duration(s.to_string())),
        None => parse_duration(s).map(|secs| secs.saturating_mul(1000)),
    }
}

/// Parses `resolution:keep`, e.g. `10s:7d`; carbon's legacy `60:1440` (seconds:points) too.
pub fn parse_retention(s: &str) -> Result<Tier, Error> {
    let (res, keep) = s
        .split_once(':')
        .ok_or_else(|| Error::Retention(s.to_string()))?;
    let resolution = parse_duration(res)?;
    let resolution = u32::try_from(resolution).map_err(|_| Error::Retention(s.to_string()))?;
    let retention = if keep.trim().chars().all(|c| c.is_ascii_digit()) {
        let points: u64 = keep
            .trim()
            .parse()
            .map_err(|_| Error::Retention(s.to_string()))?;
        points * u64::from(resolution)
    } else {
        parse_duration(keep)?
    };
    if retention < u64::from(resolution) {
        return Err(Error::Retention(s.to_string()));
    }
    Ok(Tier {
        resolution,
        retention,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retentions_parse_like_carbon() {
        assert_eq!(
            parse_retention("10s:7d").unwrap(),
            Tier {
                resolution: 10,
                retention: 604_800
            }
        );
        assert_eq!(parse_retention("1m:90d").unwrap().resolution, 60);
        assert_eq!(
            parse_retention("60:1440").unwrap(),
            Tier {
                resolution: 60,
                retention: 86_400
            }
        );
        assert!(parse_retention("10s").is_err());
        assert!(parse_retention("10x:7d").is_err());
        assert!(parse_retention("1d:1h").is_err());
    }

    #[test]
    fn tiers_must_nest() {
        assert!(Schema::new("a", ".*", &["10s:7d", "1m:90d"]).is_ok());
        assert_eq!(
            Schema::new("a", ".*", &["10s:7d", "15s:90d"]).unwrap_err(),
            Error::NotMultiple {
                fine: 10,
                coarse: 15
            }
        );
        assert!(matches!(
            Schema::new("a", ".*", &["1m:7d", "10s:90d"]),
            Err(Error::Order(_))
        ));
    }

    #[test]
    fn first_match_wins() {
        let s = Schemas {
            list: vec![
                Schema::new("carbon", r"^carbon\.", &["1m:30d"]).unwrap(),
                Schema::new("default", ".*", &["10s:1d"]).unwrap(),
            ],
        };
        assert_eq!(s.for_name("carbon.agents.x").name, "carbon");
        assert_eq!(s.for_name("web.hits").name, "default");
        assert_eq!(s.list[0].retentions, "1m:30d");
    }
}
