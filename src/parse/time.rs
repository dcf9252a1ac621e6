//! Timestamps from captured text, without a date library: a strftime-like subset, ISO 8601 /
//! RFC 3339, epoch seconds, and syslog's year-less form. A zone is UTC, a fixed offset, an IANA
//! zone (`Europe/Paris`) or the host's local zone (`TZ`, else `/etc/localtime`), the last two
//! through `jiff::tz`. A wall-clock time that a DST change skips (a gap) or repeats (a fold)
//! is read as jiff's `compatible` does: in a gap with the offset before it (02:30 on a
//! spring-forward night is 03:30 summer time), in a fold the first of the two.
//!
//! Directives: `%Y` `%y` (69–99 → 19xx) `%m` `%d` `%e` (space-padded) `%b`/`%h`/`%B` (month
//! name, English, any case) `%a`/`%A` (weekday, skipped) `%j` `%H` `%M` `%S` (a fraction
//! after the seconds is accepted and dropped) `%f` (fraction digits) `%z` (`Z`, `+hh`,
//! `+hhmm`, `+hh:mm`) `%Z` (`UTC`, `GMT`, `Z` only) `%s` (epoch seconds) `%T` (= `%H:%M:%S`)
//! `%F` (= `%Y-%m-%d`) `%%`. A space in the format matches one or more spaces or tabs.
//! Keywords instead of a format: `rfc3339` / `iso8601` (`2024-01-15T10:00:00.5+01:00`, also a
//! space instead of `T`, a comma before the fraction, or no zone), `syslog` (= `%b %e %H:%M:%S`),
//! `epoch` (seconds, optional fraction), `epoch_ms`.
//!
//! Without a year (syslog), the year that puts the time closest to the read time is taken, so
//! a `Dec 31` line read on January 1st is last year's. Without a zone in the text, the rule's
//! zone applies (default: local). Fractions of a second are dropped (times are unix seconds).

/// How to read a time that carries no offset of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Zone {
    /// The host's local zone (`jiff::tz::TimeZone::system`).
    Local,
    Utc,
    /// Seconds east of UTC.
    Fixed(i32),
    /// A zone of the IANA database (the host's zoneinfo, else the copy built into tally).
    Named(TimeZone),
}

impl Zone {
    /// `local`, `utc` (or `UTC`, `Z`), an offset `+hh:mm` / `-hhmm` / `+hh`, or an IANA
    /// name `Area/Location` (abbreviations such as `CET` are ambiguous and refused).
    pub fn parse(s: &str) -> Result<Zone, String> {
        match s {
            "local" => Ok(Zone::Local),
            "utc" | "UTC" | "Z" | "GMT" => Ok(Zone::Utc),
            _ => {
                let mut c = Cursor {
                    s: s.as_bytes(),
                    i: 0,
                };
                match c.offset() {
                    Some(off) if c.i == s.len() => Ok(Zone::Fixed(off)),
                    _ if s.contains('/') && !s.starts_with('/') => match TimeZone::get(s) {
                        Ok(tz) => Ok(Zone::Named(tz)),
                        Err(_) => Err(format!("unknown timezone {s:?}: not in the IANA database")),
                    },
                    _ => Err(format!(
                        "bad timezone {s:?}: expected local, utc, an offset like +02:00 or an \
                         IANA zone like Europe/Paris"
                    )),
                }
            }
        }
    }
}

/// A compiled time format: one or more alternatives, tried in order.
#[derive(Debug, Clone)]
pub struct TimeFormat {
    alternatives: Vec<Format>,
}

#[derive(Debug, Clone)]
enum Format {
    Items(Vec<Item>),
    Iso8601,
    Epoch { millis: bool },
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Item {
    Lit(u8),
    Space,
    Day,
    DaySpace,
    MonthNum,
    MonthName,
    Weekday,
    Year4,
    Year2,
    DayOfYear,
    Hour,
    Minute,
    Second,
    Frac,
    Offset,
    ZoneName,
    Epoch,
}

/// Small caches for the local zone's offset (one lookup per hour of log time, not per line).
#[derive(Debug, Clone)]
pub struct ZoneCache {
    naive: (i64, i32),
    utc: (i64, i32),
}

impl Default for ZoneCache {
    fn default() -> ZoneCache {
        ZoneCache {
            naive: (i64::MIN, 0),
            utc: (i64::MIN, 0),
        }
    }
}

impl TimeFormat {
    /// Compiles one format (see the module docs for the keywords and directives).
    #[cfg(test)]
    pub fn compile(spec: &str) -> Result<TimeFormat, String> {
        TimeFormat::compile_all(&[spec])
    }

    pub fn compile_all(specs: &[&str]) -> Result<TimeFormat, String> {
        let mut alternatives = Vec::new();
        for spec in specs {
            alternatives.push(match *spec {
                "rfc3339" | "iso8601" => Format::Iso8601,
                "epoch" => Format::Epoch { millis: false },
                "epoch_ms" => Format::Epoch { millis: true },
                "syslog" => Format::Items(compile_items("%b %e %H:%M:%S")?),
                _ => Format::Items(compile_items(spec)?),
            });
        }
        if alternatives.is_empty() {
            return Err("no time format given".into());
        }
        Ok(TimeFormat { alternatives })
    }

    /// Unix seconds for `text`, or None when it does not fit any alternative.
    pub fn parse(
        &self,
        text: &[u8],
        zone: &Zone,
        read_time: i64,
        cache: &mut ZoneCache,
    ) -> Option<i64> {
        self.alternatives.iter().find_map(|f| {
            let fields = match f {
                Format::Items(items) => parse_items(items, text)?,
                Format::Iso8601 => parse_iso(text)?,
                Format::Epoch { millis } => {
                    let n = parse_epoch(text)?;
                    return Some(if *millis { n.div_euclid(1000) } else { n });
                }
            };
            fields.resolve(zone, read_time, cache)
        })
    }
}

fn compile_items(spec: &str) -> Result<Vec<Item>, String> {
    let mut out = Vec::new();
    let mut bytes = spec.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let Some(d) = bytes.next() else {
                return Err(format!("time format {spec:?} ends with a lone %"));
            };
            match d {
                b'd' => out.push(Item::Day),
                b'e' => out.push(Item::DaySpace),
                b'm' => out.push(Item::MonthNum),
                b'b' | b'h' | b'B' => out.push(Item::MonthName),
                b'a' | b'A' => out.push(Item::Weekday),
                b'Y' => out.push(Item::Year4),
                b'y' => out.push(Item::Year2),
                b'j' => out.push(Item::DayOfYear),
                b'H' => out.push(Item::Hour),
                b'M' => out.push(Item::Minute),
                b'S' => out.push(Item::Second),
                b'f' => out.push(Item::Frac),
                b'z' => out.push(Item::Offset),
                b'Z' => out.push(Item::ZoneName),
                b's' => out.push(Item::Epoch),
                b'T' => out.extend([
                    Item::Hour,
                    Item::Lit(b':'),
                    Item::Minute,
                    Item::Lit(b':'),
                    Item::Second,
                ]),
                b'F' => out.extend([
                    Item::Year4,
                    Item::Lit(b'-'),
                    Item::MonthNum,
                    Item::Lit(b'-'),
                    Item::Day,
                ]),
                b'%' => out.push(Item::Lit(b'%')),
                other => {
                    return Err(format!(
                        "time format {spec:?}: %{} is not supported (supported: %Y %y %m %d %e %b \
                         %B %a %j %H %M %S %f %z %Z %s %T %F %%, or rfc3339, iso8601, syslog, \
                         epoch, epoch_ms)",
                        other as char
                    ));
                }
            }
        } else if b == b' ' || b == b'\t' {
            if out.last() != Some(&Item::Space) {
                out.push(Item::Space);
            }
        } else {
            out.push(Item::Lit(b));
        }
    }
    Ok(out)
}

/// What the text said, before it becomes a unix time.
#[derive(Debug, Default, Clone, Copy)]
struct Fields {
    year: Option<i64>,
    month: u32,
    day: u32,
    yday: Option<u32>,
    hour: u32,
    minute: u32,
    second: u32,
    offset: Option<i32>,
    epoch: Option<i64>,
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// Between `min` and `max` ASCII digits.
    fn num(&mut self, min: usize, max: usize) -> Option<u32> {
        let start = self.i;
        let mut v: u32 = 0;
        while self.i - start < max
            && let Some(b @ b'0'..=b'9') = self.peek()
        {
            v = v * 10 + u32::from(b - b'0');
            self.i += 1;
        }
        (self.i - start >= min).then_some(v)
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        self.i - start
    }

    fn spaces(&mut self) -> usize {
        let start = self.i;
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
        self.i - start
    }

    fn letters(&mut self) -> &[u8] {
        let start = self.i;
        while matches!(self.peek(), Some(b) if b.is_ascii_alphabetic()) {
            self.i += 1;
        }
        &self.s[start..self.i]
    }

    /// `Z`, `+hh`, `+hhmm` or `+hh:mm`, as seconds east of UTC.
    fn offset(&mut self) -> Option<i32> {
        if self.eat(b'Z') || self.eat(b'z') {
            return Some(0);
        }
        let sign = match self.peek()? {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        self.i += 1;
        let h = self.num(2, 2)?;
        let colon = self.eat(b':');
        let m = match self.num(2, 2) {
            Some(m) => m,
            None if colon => return None,
            None => 0,
        };
        if h > 23 || m > 59 {
            return None;
        }
        Some(sign * (h * 3600 + m * 60) as i32)
    }

    /// `.123` or `,123` (dropped).
    fn fraction(&mut self) {
        if matches!(self.peek(), Some(b'.' | b','))
            && self.s.get(self.i + 1).is_some_and(u8::is_ascii_digit)
        {
            self.i += 1;
            self.digits();
        }
    }
}

const MONTHS: [&[u8; 3]; 12] = [
    b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov", b"dec",
];

fn month_from_name(name: &[u8]) -> Option<u32> {
    if name.len() < 3 {
        return None;
    }
    let head = [
        name[0].to_ascii_lowercase(),
        name[1].to_ascii_lowercase(),
        name[2].to_ascii_lowercase(),
    ];
    MONTHS
        .iter()
        .position(|m| **m == head)
        .map(|i| i as u32 + 1)
}

fn parse_items(items: &[Item], text: &[u8]) -> Option<Fields> {
    let mut c = Cursor { s: text, i: 0 };
    let mut f = Fields {
        month: 1,
        day: 1,
        ..Fields::default()
    };
    for (k, item) in items.iter().enumerate() {
        match *item {
            Item::Lit(b) => {
                if !c.eat(b) {
                    return None;
                }
            }
            Item::Space => {
                if c.spaces() == 0 {
                    return None;
                }
            }
            Item::Day => f.day = c.num(1, 2)?,
            Item::DaySpace => {
                c.spaces();
                f.day = c.num(1, 2)?;
            }
            Item::MonthNum => f.month = c.num(1, 2)?,
            Item::MonthName => f.month = month_from_name(c.letters())?,
            Item::Weekday => {
                if c.letters().len() < 2 {
                    return None;
                }
            }
            Item::Year4 => f.year = Some(i64::from(c.num(4, 4)?)),
            Item::Year2 => {
                let y = c.num(2, 2)?;
                f.year = Some(i64::from(if y >= 69 { 1900 + y } else { 2000 + y }));
            }
            Item::DayOfYear => f.yday = Some(c.num(1, 3)?),
            Item::Hour => f.hour = c.num(1, 2)?,
            Item::Minute => f.minute = c.num(1, 2)?,
            Item::Second => {
                f.second = c.num(1, 2)?;
                // A fraction the format does not spell out is accepted and dropped.
                if !matches!(items.get(k + 1), Some(Item::Lit(b'.' | b',') | Item::Frac)) {
                    c.fraction();
                }
            }
            Item::Frac => {
                if c.digits() == 0 {
                    return None;
                }
            }
            Item::Offset => f.offset = Some(c.offset()?),
            Item::ZoneName => match c.letters() {
                b"UTC" | b"GMT" | b"Z" | b"utc" | b"gmt" => f.offset = Some(0),
                _ => return None,
            },
            Item::Epoch => f.epoch = Some(parse_epoch_prefix(&mut c)?),
        }
    }
    (c.i == text.len()).then_some(f)
}

fn parse_iso(text: &[u8]) -> Option<Fields> {
    let mut c = Cursor { s: text, i: 0 };
    let year = i64::from(c.num(4, 4)?);
    let mut f = Fields {
        year: Some(year),
        ..Fields::default()
    };
    if !c.eat(b'-') {
        return None;
    }
    f.month = c.num(2, 2)?;
    if !c.eat(b'-') {
        return None;
    }
    f.day = c.num(2, 2)?;
    if c.i == text.len() {
        return Some(f);
    }
    if !(c.eat(b'T') || c.eat(b't') || c.eat(b' ')) {
        return None;
    }
    f.hour = c.num(2, 2)?;
    if !c.eat(b':') {
        return None;
    }
    f.minute = c.num(2, 2)?;
    if c.eat(b':') {
        f.second = c.num(2, 2)?;
        c.fraction();
    }
    c.spaces();
    if c.i < text.len() {
        f.offset = Some(c.offset()?);
    }
    (c.i == text.len()).then_some(f)
}

/// `[-]digits[.digits]` as whole units (the fraction is dropped).
fn parse_epoch_prefix(c: &mut Cursor<'_>) -> Option<i64> {
    let neg = c.eat(b'-');
    let start = c.i;
    let n = c.digits();
    if n == 0 || n > 18 {
        return None;
    }
    let mut v: i64 = 0;
    for &b in &c.s[start..c.i] {
        v = v * 10 + i64::from(b - b'0');
    }
    c.fraction();
    Some(if neg { -v } else { v })
}

fn parse_epoch(text: &[u8]) -> Option<i64> {
    let mut c = Cursor { s: text, i: 0 };
    let v = parse_epoch_prefix(&mut c)?;
    (c.i == text.len()).then_some(v)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

use crate::clock::days_from_civil;
use jiff::tz::{Offset, TimeZone};

/// The year of a day count since 1970-01-01.
pub(crate) fn year_of_days(z: i64) -> Option<i64> {
    crate::clock::civil_from_days(z).map(|(y, _, _)| y)
}

impl Fields {
    /// Seconds of the local wall-clock time as if it were UTC, for one year.
    fn naive(&self, year: i64) -> Option<i64> {
        if !(1..=9999).contains(&year) || self.hour > 23 || self.minute > 59 || self.second > 60 {
            return None;
        }
        let days = match self.yday {
            Some(yd) => {
                if yd == 0 || yd > 365 + u32::from(is_leap(year)) {
                    return None;
                }
                days_from_civil(year, 1, 1)? + i64::from(yd) - 1
            }
            None => {
                if !(1..=12).contains(&self.month)
                    || self.day == 0
                    || self.day > days_in_month(year, self.month)
                {
                    return None;
                }
                days_from_civil(year, self.month, self.day)?
            }
        };
        Some(
            days * 86_400
                + i64::from(self.hour) * 3600
                + i64::from(self.minute) * 60
                + i64::from(self.second),
        )
    }

    fn utc_of(&self, naive: i64, zone: &Zone, cache: &mut ZoneCache) -> i64 {
        match (self.offset, zone) {
            (Some(off), _) | (None, &Zone::Fixed(off)) => naive - i64::from(off),
            (None, Zone::Utc) => naive,
            (None, Zone::Local) => naive - i64::from(local_offset_of_naive(naive, cache)),
            (None, Zone::Named(tz)) => naive - i64::from(offset_of_naive(tz, naive)),
        }
    }

    fn resolve(&self, zone: &Zone, read_time: i64, cache: &mut ZoneCache) -> Option<i64> {
        if let Some(e) = self.epoch {
            return Some(e);
        }
        if let Some(year) = self.year {
            let naive = self.naive(year)?;
            return Some(self.utc_of(naive, zone, cache));
        }
        // No year: the one that puts the time nearest the read time.
        let here = match (self.offset, zone) {
            (Some(off), _) | (None, &Zone::Fixed(off)) => off,
            (None, Zone::Utc) => 0,
            (None, Zone::Local) => local_offset_of_utc(read_time, cache),
            (None, Zone::Named(tz)) => offset_at(tz, read_time),
        };
        let ref_year = year_of_days((read_time + i64::from(here)).div_euclid(86_400))?;
        (ref_year - 1..=ref_year + 1)
            .filter_map(|y| self.naive(y).map(|n| self.utc_of(n, zone, cache)))
            .min_by_key(|t| (t - read_time).abs())
    }
}

/// The local zone's offset (seconds east of UTC) at a UTC time.
fn local_offset_of_utc(utc: i64, cache: &mut ZoneCache) -> i32 {
    let key = utc.div_euclid(3600);
    if cache.utc.0 != key {
        cache.utc = (key, offset_at(&TimeZone::system(), utc));
    }
    cache.utc.1
}

/// The local zone's offset for a local wall-clock time.
fn local_offset_of_naive(naive: i64, cache: &mut ZoneCache) -> i32 {
    let key = naive.div_euclid(3600);
    if cache.naive.0 != key {
        cache.naive = (key, offset_of_naive(&TimeZone::system(), naive));
    }
    cache.naive.1
}

/// `tz`'s offset (seconds east of UTC) at a UTC time (0 outside jiff's range).
fn offset_at(tz: &TimeZone, utc: i64) -> i32 {
    jiff::Timestamp::from_second(utc).map_or(0, |t| tz.to_offset(t).seconds())
}

/// `tz`'s offset for a wall-clock time given as seconds as if it were UTC: in a gap the
/// offset before it, in a fold the first (jiff's `compatible`); 0 outside jiff's range.
fn offset_of_naive(tz: &TimeZone, naive: i64) -> i32 {
    let Ok(t) = jiff::Timestamp::from_second(naive) else {
        return 0;
    };
    let wall = Offset::UTC.to_datetime(t);
    match tz.to_ambiguous_timestamp(wall).compatible() {
        Ok(utc) => (naive - utc.as_second()) as i32,
        Err(_) => 0,
    }
}

#[cfg(test)]
mod tests;
