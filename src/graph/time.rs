//! The x axis as graphite-web draws it (`xAxisConfigs`, `find_x_times` in `render/glyph.py`,
//! a table taken from rrdtool): the seconds per pixel pick the grid and label spacing and the
//! label format; ticks fall on whole units of local time in the requested zone.

use super::Error;
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};

const SEC: i64 = 1;
const MIN: i64 = 60;
const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

/// One row of graphite-web's table. Steps are in units; the DAY minor step can be 3.5.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Config {
    pub seconds: f64,
    pub minor: (i64, f64),
    pub major: (i64, f64),
    pub label: (i64, f64),
    pub format: &'static str,
    pub max_interval: Option<i64>,
}

const fn c(
    seconds: f64,
    minor: (i64, f64),
    major: (i64, f64),
    label: (i64, f64),
    format: &'static str,
    max_interval: Option<i64>,
) -> Config {
    Config {
        seconds,
        minor,
        major,
        label,
        format,
        max_interval,
    }
}

/// graphite-web's `xAxisConfigs` with its `DATE_FORMAT` of `%m/%d`.
pub const CONFIGS: [Config; 23] = [
    c(
        0.00,
        (SEC, 5.0),
        (MIN, 1.0),
        (SEC, 5.0),
        "%H:%M:%S",
        Some(10 * MIN),
    ),
    c(
        0.07,
        (SEC, 10.0),
        (MIN, 1.0),
        (SEC, 10.0),
        "%H:%M:%S",
        Some(20 * MIN),
    ),
    c(
        0.14,
        (SEC, 15.0),
        (MIN, 1.0),
        (SEC, 15.0),
        "%H:%M:%S",
        Some(30 * MIN),
    ),
    c(
        0.27,
        (SEC, 30.0),
        (MIN, 2.0),
        (MIN, 1.0),
        "%H:%M",
        Some(2 * HOUR),
    ),
    c(
        0.5,
        (MIN, 1.0),
        (MIN, 2.0),
        (MIN, 1.0),
        "%H:%M",
        Some(2 * HOUR),
    ),
    c(
        1.2,
        (MIN, 1.0),
        (MIN, 4.0),
        (MIN, 2.0),
        "%H:%M",
        Some(3 * HOUR),
    ),
    c(
        2.0,
        (MIN, 1.0),
        (MIN, 10.0),
        (MIN, 5.0),
        "%H:%M",
        Some(6 * HOUR),
    ),
    c(
        5.0,
        (MIN, 2.0),
        (MIN, 10.0),
        (MIN, 10.0),
        "%H:%M",
        Some(12 * HOUR),
    ),
    c(
        10.0,
        (MIN, 5.0),
        (MIN, 20.0),
        (MIN, 20.0),
        "%H:%M",
        Some(DAY),
    ),
    c(
        30.0,
        (MIN, 10.0),
        (HOUR, 1.0),
        (HOUR, 1.0),
        "%H:%M",
        Some(2 * DAY),
    ),
    c(
        60.0,
        (MIN, 30.0),
        (HOUR, 2.0),
        (HOUR, 2.0),
        "%H:%M",
        Some(2 * DAY),
    ),
    c(
        100.0,
        (HOUR, 2.0),
        (HOUR, 4.0),
        (HOUR, 4.0),
        "%a %H:%M",
        Some(6 * DAY),
    ),
    c(
        255.0,
        (HOUR, 6.0),
        (HOUR, 12.0),
        (HOUR, 12.0),
        "%m/%d %H:%M",
        Some(10 * DAY),
    ),
    c(
        600.0,
        (HOUR, 6.0),
        (DAY, 1.0),
        (DAY, 1.0),
        "%m/%d",
        Some(14 * DAY),
    ),
    c(
        1000.0,
        (HOUR, 12.0),
        (DAY, 1.0),
        (DAY, 1.0),
        "%m/%d",
        Some(365 * DAY),
    ),
    c(
        2000.0,
        (DAY, 1.0),
        (DAY, 2.0),
        (DAY, 2.0),
        "%m/%d",
        Some(365 * DAY),
    ),
    c(
        4000.0,
        (DAY, 2.0),
        (DAY, 4.0),
        (DAY, 4.0),
        "%m/%d",
        Some(365 * DAY),
    ),
    c(
        8000.0,
        (DAY, 3.5),
        (DAY, 7.0),
        (DAY, 7.0),
        "%m/%d",
        Some(365 * DAY),
    ),
    c(
        16000.0,
        (DAY, 7.0),
        (DAY, 14.0),
        (DAY, 14.0),
        "%m/%d",
        Some(365 * DAY),
    ),
    c(
        32000.0,
        (DAY, 15.0),
        (DAY, 30.0),
        (DAY, 30.0),
        "%m/%d",
        Some(365 * DAY),
    ),
    c(
        64000.0,
        (DAY, 30.0),
        (DAY, 60.0),
        (DAY, 60.0),
        "%m/%d %Y",
        None,
    ),
    c(
        100000.0,
        (DAY, 60.0),
        (DAY, 120.0),
        (DAY, 120.0),
        "%m/%d %Y",
        None,
    ),
    c(
        120000.0,
        (DAY, 120.0),
        (DAY, 240.0),
        (DAY, 240.0),
        "%m/%d %Y",
        None,
    ),
];

/// The last row whose resolution fits `seconds_per_pixel` and whose interval covers the range.
pub fn config(seconds_per_pixel: f64, time_range: i64) -> &'static Config {
    CONFIGS
        .iter()
        .rev()
        .find(|c| {
            c.seconds <= seconds_per_pixel && c.max_interval.unwrap_or(time_range + 1) >= time_range
        })
        .unwrap_or(&CONFIGS[CONFIGS.len() - 1])
}

fn zoned(ts: i64, tz: &TimeZone) -> Zoned {
    Timestamp::from_second(ts)
        .unwrap_or(Timestamp::UNIX_EPOCH)
        .to_zoned(tz.clone())
}

/// `find_x_times` from `start` to `end`: the first whole `unit × step` of local time at or
/// after `start` (seconds, minutes and hours rounded within the day, days from midnight),
/// then every step. Day steps follow the calendar, so midnights stay midnights across DST.
pub fn ticks(start: i64, end: i64, unit: i64, step: f64, tz: &TimeZone) -> Vec<i64> {
    let z = zoned(start, tz);
    let dt = z.datetime();
    let whole = step as i64;
    let floored = match unit {
        SEC => dt
            .with()
            .second(dt.second() - (i64::from(dt.second()) % whole.max(1)) as i8),
        MIN => dt
            .with()
            .second(0)
            .minute(dt.minute() - (i64::from(dt.minute()) % whole.max(1)) as i8),
        HOUR => dt
            .with()
            .second(0)
            .minute(0)
            .hour(dt.hour() - (i64::from(dt.hour()) % whole.max(1)) as i8),
        _ => dt.with().second(0).minute(0).hour(0),
    }
    .subsec_nanosecond(0)
    .build();
    let Ok(first) = floored.and_then(|d| d.to_zoned(tz.clone())) else {
        return Vec::new();
    };
    let calendar_days = unit == DAY && step.fract() == 0.0;
    let seconds = (unit as f64 * step).round().max(1.0) as i64;
    let mut out = Vec::new();
    let mut n: i64 = 0;
    loop {
        let t = if calendar_days {
            match first.checked_add(jiff::Span::new().days(n * whole)) {
                Ok(z) => z.timestamp().as_second(),
                Err(_) => break,
            }
        } else {
            first.timestamp().as_second() + n * seconds
        };
        n += 1;
        if t < start {
            continue;
        }
        if t >= end || out.len() > 10_000 {
            break;
        }
        out.push(t);
    }
    out
}

/// A tick label: `ts` in `tz` formatted with a strftime pattern.
pub fn label(ts: i64, format: &str, tz: &TimeZone) -> Result<String, Error> {
    jiff::fmt::strtime::format(format, &zoned(ts, tz))
        .map_err(|e| Error::BadParam("xFormat".into(), format!("{format:?}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tz(name: &str) -> TimeZone {
        super::super::params::zone(name).unwrap()
    }

    #[test]
    fn config_choice() {
        // One day over ~300 px: 288 s per pixel picks the 12-hour row (DATE_FORMAT + %H:%M).
        let c = config(288.0, DAY);
        assert_eq!(c.format, "%m/%d %H:%M");
        // One hour over 300 px: 12 s/px picks 20-minute labels.
        assert_eq!(config(12.0, HOUR).label, (MIN, 20.0));
        // Seven days over 300 px: 2016 s/px picks the 2-day row.
        assert_eq!(config(2016.0, 7 * DAY).label, (DAY, 2.0));
        // Five years: the last row.
        assert_eq!(config(500_000.0, 5 * 365 * DAY).format, "%m/%d %Y");
    }

    #[test]
    fn ticks_fall_on_whole_local_units() {
        let utc = tz("UTC");
        // 2023-11-14 22:13:20 UTC, 4-hour labels: 00:00, 04:00, …
        let start = 1_700_000_000;
        let t = ticks(start, start + DAY, HOUR, 4.0, &utc);
        assert_eq!(label(t[0], "%H:%M", &utc).unwrap(), "00:00");
        assert_eq!(t[1] - t[0], 4 * HOUR);
        assert!(t.iter().all(|&x| x >= start && x < start + DAY));
        // The same in UTC+2: local 00:13:20 → first 4-hour tick at local 04:00.
        let plus2 = tz("+02:00");
        let t = ticks(start, start + DAY, HOUR, 4.0, &plus2);
        assert_eq!(label(t[0], "%H:%M", &plus2).unwrap(), "04:00");
        assert_eq!(label(t[0], "%H:%M", &utc).unwrap(), "02:00");
        // Minutes: 20-minute steps.
        let t = ticks(start, start + HOUR, MIN, 20.0, &utc);
        let labels: Vec<String> = t
            .iter()
            .map(|&x| label(x, "%H:%M", &utc).unwrap())
            .collect();
        assert_eq!(labels, ["22:20", "22:40", "23:00"]);
    }

    #[test]
    fn day_ticks_stay_at_midnight_across_dst() {
        let berlin = tz("Europe/Berlin");
        // 2024-03-28 12:00 UTC; DST starts 2024-03-31.
        let start = 1_711_627_200;
        let t = ticks(start, start + 6 * DAY, DAY, 1.0, &berlin);
        assert!(t.len() >= 5);
        for x in &t {
            assert_eq!(label(*x, "%H:%M", &berlin).unwrap(), "00:00");
        }
        assert_eq!(label(t[0], "%m/%d", &berlin).unwrap(), "03/29");
        // Half-week minor steps (3.5 days) work too.
        assert!(!ticks(start, start + 30 * DAY, DAY, 3.5, &berlin).is_empty());
    }

    #[test]
    fn labels_and_bad_formats() {
        let utc = tz("UTC");
        assert_eq!(label(1_700_000_000, "%a %H:%M", &utc).unwrap(), "Tue 22:13");
        assert_eq!(
            label(1_700_000_000, "%m/%d %Y", &utc).unwrap(),
            "11/14 2023"
        );
        assert!(label(1_700_000_000, "%", &utc).is_err());
    }
}
