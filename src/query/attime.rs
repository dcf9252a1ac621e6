//! Graphite's time formats (`render/attime.py`): unix seconds, `now`, relative offsets such as
//! `-6h`, `-15min`, `-1d2h`, and references such as `midnight`, `noon`, `yesterday`,
//! `04:00_20110501`, `20110501`, `12/31/2024`, `jan1`, `monday`. References are wall-clock
//! times in the request's `tz` (UTC by default), as graphite localizes them: a time that a DST
//! change skips or repeats is taken with the standard-time offset (pytz's `is_dst=False`, the
//! later instant). Offsets are absolute seconds (`-1d` is 86,400 s, also across DST).
//! A bare `m` is an error, as in graphite (Grafana sends `min`).

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error("bad time {0:?}: {1}")]
    Bad(String, &'static str),
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Parses a graphite time relative to `now` (unix seconds), in UTC.
pub fn parse(input: &str, now: i64) -> Result<i64, Error> {
    parse_in(input, now, &TimeZone::UTC)
}

/// Parses a graphite time relative to `now` (unix seconds), references in `tz`.
pub fn parse_in(input: &str, now: i64, tz: &TimeZone) -> Result<i64, Error> {
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
    // All digits: unix seconds, unless it reads as YYYYMMDD (graphite's test, then the date).
    if s.chars().all(|c| c.is_ascii_digit()) {
        let looks_like_date = s.len() == 8
            && s[..4].parse::<u32>().is_ok_and(|y| y > 1900)
            && s[4..6].parse::<u32>().is_ok_and(|m| m < 13)
            && s[6..].parse::<u32>().is_ok_and(|d| d < 32);
        if !looks_like_date {
            return s.parse().map_err(|_| bad("number out of range"));
        }
    }
    let (reference, offset) = match s.find(['+', '-']) {
        Some(i) => s.split_at(i),
        None => (s.as_str(), ""),
    };
    let base = reference_time(reference, now, tz).ok_or_else(|| bad("unknown time reference"))?;
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
    // A sign alone is no offset, as in graphite (`now-` is now, `yesterday+` yesterday).
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

fn reference_time(reference: &str, now: i64, tz: &TimeZone) -> Option<i64> {
    if reference.is_empty() || reference == "now" {
        return Some(now);
    }
    let mut r = reference;
    let (mut hour, mut minute) = (0i8, 0i8);
    if let Some(i) = r.find(':').filter(|&i| i > 0 && i < 3) {
        hour = r[..i].parse().ok()?;
        // Up to two digits of minutes (graphite's `ref[i+1:i+3]`: `12:5` is 12:05).
        let end = (i + 3).min(r.len());
        minute = r.get(i + 1..end)?.parse().ok()?;
        r = &r[end..];
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
        hour = (r[..i].parse::<i8>().ok()? + 12) % 24;
        r = &r[i + 2..];
    }
    for (word, h) in [("noon", 12), ("midnight", 0), ("teatime", 16)] {
        if let Some(rest) = r.strip_prefix(word) {
            (hour, minute) = (h, 0);
            r = rest;
            break;
        }
    }
    // The day: today is now's date in the zone.
    let today = Timestamp::from_second(now)
        .ok()?
        .to_zoned(tz.clone())
        .date();
    let head3 = r.get(..3).unwrap_or("");
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    let day = match r {
        "" | "today" => today,
        "yesterday" => today.yesterday().ok()?,
        "tomorrow" => today.tomorrow().ok()?,
        _ if r.matches('/').count() == 2 => {
            let mut it = r.split('/').map(|p| p.parse::<i16>().ok());
            let (m, d, mut y) = (it.next()??, it.next()??, it.next()??);
            if y < 1900 {
                y += 1900;
            }
            if y < 1970 {
                y += 100;
            }
            Date::new(y, i8::try_from(m).ok()?, i8::try_from(d).ok()?).ok()?
        }
        _ if r.len() == 8 && digits(r) => Date::new(
            r[..4].parse().ok()?,
            r[4..6].parse().ok()?,
            r[6..].parse().ok()?,
        )
        .ok()?,
        _ if MONTHS.contains(&head3) => {
            let m = MONTHS.iter().position(|&n| n == head3)? as i8 + 1;
            // graphite reads the day from the last two characters, else the last one.
            let tail2 = r.get(r.len().saturating_sub(2)..)?;
            let tail1 = r.get(r.len() - 1..)?;
            let d: i8 = if digits(tail2) {
                tail2.parse().ok()?
            } else if digits(tail1) {
                tail1.parse().ok()?
            } else {
                return None;
            };
            Date::new(today.year(), m, d).ok()?
        }
        _ if WEEKDAYS.contains(&head3) => {
            let want = WEEKDAYS.iter().position(|&n| n == head3)? as i64;
            let dow = i64::from(today.weekday().to_monday_zero_offset());
            let back = (dow - want).rem_euclid(7);
            today.checked_sub(jiff::Span::new().days(back)).ok()?
        }
        _ => return None,
    };
    if !(0..24).contains(&hour) || !(0..60).contains(&minute) {
        return None;
    }
    let at = day.at(hour, minute, 0, 0);
    Some(tz.to_ambiguous_timestamp(at).later().ok()?.as_second())
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
    fn graphite_leniencies() {
        // A sign with no offset after it is no offset (graphite-web 1.1.10 answers these).
        assert_eq!(parse("now-", NOW), Ok(NOW));
        assert_eq!(parse("-", NOW), Ok(NOW));
        assert_eq!(parse("+", NOW), Ok(NOW));
        assert_eq!(parse("yesterday+", NOW), Ok(1_710_460_800 - 86_400));
        // One digit of minutes.
        assert_eq!(parse("12:5", NOW), Ok(1_710_460_800 + 12 * 3600 + 300));
        assert_eq!(parse("9:05pm", NOW), Ok(1_710_460_800 + 21 * 3600 + 300));
        // graphite reads two characters of minutes: `9:5am`'s are `5a`, an error.
        assert!(parse("9:5am", NOW).is_err());
    }

    #[test]
    fn bad_times_are_errors() {
        for s in [
            "-5m",
            "",
            "tomorrowish",
            "12:",
            "-1h+",
            "25:00",
            "-1x",
            "99999999999999999999999",
        ] {
            assert!(parse(s, NOW).is_err(), "{s}");
        }
    }
}
