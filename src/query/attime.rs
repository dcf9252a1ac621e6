//! Graphite's time formats (`render/attime.py`): unix seconds, `now`, relative offsets such as
//! `-6h`, `-15min`, `-1d2h`, and references such as `midnight`, `noon`, `yesterday`,
//! `04:00_20110501`, `20110501`, `12/31/2024`, `jan1`, `monday`. Times are in UTC.
//! A bare `m` is an error, as in graphite (Grafana sends `min`).

use crate::clock;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error("bad time {0:?}: {1}")]
    Bad(String, &'static str),
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Parses a graphite time relative to `now` (unix seconds).
pub fn parse(input: &str, now: i64) -> Result<i64, Error> {
    let bad = |why| Error::Bad(input.to_string(), why);
    let s: String = input
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| !matches!(c, '_' | ',' | ' '))
        .collect();
    if s.is_empty() {
        return Err(bad("empty"));
    }
    if s.chars().all(|c| c.is_ascii_digit()) {
        if s.len() == 8
            && let Some(day) = yyyymmdd(&s)
        {
            return Ok(day * 86_400);
        }
        return s.parse().map_err(|_| bad("number out of range"));
    }
    let (reference, offset) = match s.find(['+', '-']) {
        Some(i) => s.split_at(i),
        None => (s.as_str(), ""),
    };
    let base = reference_time(reference, now).ok_or_else(|| bad("unknown time reference"))?;
    let delta =
        offset_seconds(offset).ok_or_else(|| bad("bad offset (units: s, min, h, d, w, mon, y)"))?;
    base.checked_add(delta).ok_or_else(|| bad("out of range"))
}

/// Parses a graphite interval such as `5min` or `-1d2h` into seconds (sign kept).
pub fn offset_seconds(offset: &str) -> Option<i64> {
    if offset.is_empty() {
        return Some(0);
    }
    let (sign, mut rest) = match offset.as_bytes()[0] {
        b'-' => (-1, &offset[1..]),
        b'+' => (1, &offset[1..]),
        _ => (1, offset),
    };
    if rest.is_empty() {
        return None;
    }
    let mut total: i64 = 0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let num: i64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let letters = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let unit = &rest[..letters];
        rest = &rest[letters..];
        let mult = unit_seconds(unit)?;
        total = total.checked_add(num.checked_mul(mult)?)?;
    }
    Some(sign * total)
}

fn unit_seconds(unit: &str) -> Option<i64> {
    Some(if unit.starts_with('s') {
        1
    } else if unit.starts_with("min") {
        60
    } else if unit.starts_with('h') {
        3600
    } else if unit.starts_with('d') {
        86_400
    } else if unit.starts_with('w') {
        7 * 86_400
    } else if unit.starts_with("mon") {
        30 * 86_400
    } else if unit.starts_with('y') {
        365 * 86_400
    } else {
        return None;
    })
}

fn reference_time(reference: &str, now: i64) -> Option<i64> {
    if reference.is_empty() || reference == "now" {
        return Some(now);
    }
    let mut r = reference;
    let (mut hour, mut minute) = (0i64, 0i64);
    if let Some(i) = r.find(':').filter(|&i| i > 0 && i < 3) {
        hour = r[..i].parse().ok()?;
        minute = r.get(i + 1..i + 3)?.parse().ok()?;
        r = &r[i + 3..];
        if let Some(rest) = r.strip_prefix("am") {
            r = rest;
        } else if let Some(rest) = r.strip_prefix("pm") {
            hour = (hour + 12) % 24;
            r = rest;
        }
    }
    if let Some(i) = r.find("am").filter(|&i| i > 0 && i < 3) {
        hour = r[..i].parse().ok()?;
        r = &r[i + 2..];
    }
    if let Some(i) = r.find("pm").filter(|&i| i > 0 && i < 3) {
        hour = (r[..i].parse::<i64>().ok()? + 12) % 24;
        r = &r[i + 2..];
    }
    for (word, h) in [("noon", 12), ("midnight", 0), ("teatime", 16)] {
        if let Some(rest) = r.strip_prefix(word) {
            (hour, minute) = (h, 0);
            r = rest;
            break;
        }
    }
    if hour > 23 || minute > 59 {
        return None;
    }
    let today = now.div_euclid(86_400);
    let head3 = r.get(..3).unwrap_or("");
    let day = match r {
        "" | "today" => today,
        "yesterday" => today - 1,
        "tomorrow" => today + 1,
        _ if r.matches('/').count() == 2 => {
            let mut it = r.split('/').map(|p| p.parse::<i64>().ok());
            let (m, d, mut y) = (it.next()??, it.next()??, it.next()??);
            if y < 1900 {
                y += 1900;
            }
            if y < 1970 {
                y += 100;
            }
            days_from_civil(y, m, d)?
        }
        _ if r.len() == 8 && r.chars().all(|c| c.is_ascii_digit()) => yyyymmdd(r)?,
        _ if r.len() > 3 && MONTHS.contains(&head3) => {
            let m = MONTHS.iter().position(|&n| n == head3)? as i64 + 1;
            let d: i64 = r
                .trim_start_matches(|c: char| c.is_ascii_alphabetic())
                .parse()
                .ok()?;
            let (y, _, _) = clock::civil_from_days(today);
            days_from_civil(y, m, d)?
        }
        _ if WEEKDAYS.contains(&head3) => {
            let want = WEEKDAYS.iter().position(|&n| n == head3)? as i64;
            let dow = (today + 3).rem_euclid(7); // 1970-01-01 was a Thursday (3)
            let back = (dow - want).rem_euclid(7);
            today - back
        }
        _ => return None,
    };
    Some(day * 86_400 + hour * 3600 + minute * 60)
}

fn yyyymmdd(s: &str) -> Option<i64> {
    let y: i64 = s[..4].parse().ok()?;
    let m: i64 = s[4..6].parse().ok()?;
    let d: i64 = s[6..8].parse().ok()?;
    if y <= 1900 {
        return None;
    }
    days_from_civil(y, m, d)
}

/// A calendar date checked for range, as days since 1970-01-01.
fn days_from_civil(y: i64, m: i64, d: i64) -> Option<i64> {
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    Some(clock::days_from_civil(y, m as u32, d as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2024-03-15 13:45:30 UTC, a Friday
    const NOW: i64 = 1_710_510_330;

    #[test]
    fn graphite_formats() {
        assert_eq!(parse("now", NOW), Ok(NOW));
        assert_eq!(parse("1700000000", NOW), Ok(1_700_000_000));
        assert_eq!(parse("-6h", NOW), Ok(NOW - 6 * 3600));
        assert_eq!(parse("-15min", NOW), Ok(NOW - 900));
        assert_eq!(parse("-1d2h", NOW), Ok(NOW - 86_400 - 7200));
        assert_eq!(parse("now-1w", NOW), Ok(NOW - 7 * 86_400));
        assert_eq!(parse("-1mon", NOW), Ok(NOW - 30 * 86_400));
        assert_eq!(parse("-1y", NOW), Ok(NOW - 365 * 86_400));
        assert_eq!(parse("midnight", NOW), Ok(1_710_460_800));
        assert_eq!(
            parse("noon yesterday", NOW),
            Ok(1_710_460_800 - 86_400 + 12 * 3600)
        );
        assert_eq!(parse("04:00_20110501", NOW), Ok(1_304_222_400));
        assert_eq!(parse("20110501", NOW), Ok(1_304_208_000));
        assert_eq!(parse("05/01/2011", NOW), Ok(1_304_208_000));
        assert_eq!(parse("3pm", NOW), Ok(1_710_460_800 + 15 * 3600));
        assert_eq!(parse("monday", NOW), Ok(1_710_460_800 - 4 * 86_400));
        assert_eq!(parse("mar1", NOW), Ok(1_709_251_200));
        assert_eq!(parse("midnight+2h", NOW), Ok(1_710_460_800 + 7200));
    }

    #[test]
    fn bad_times_are_errors() {
        for s in [
            "-5m",
            "",
            "-",
            "tomorrowish",
            "25:00",
            "-1x",
            "now-",
            "99999999999999999999999",
        ] {
            assert!(parse(s, NOW).is_err(), "{s}");
        }
    }
}
