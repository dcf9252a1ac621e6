use super::*;
use jiff::tz::TimeZone;

fn at(format: &str, text: &str, zone: &Zone, read_time: i64) -> Option<i64> {
    TimeFormat::compile(format).unwrap().parse(
        text.as_bytes(),
        zone,
        read_time,
        &mut ZoneCache::default(),
    )
}

fn utc(y: i64, mo: u32, d: u32, h: i64, mi: i64, s: i64) -> i64 {
    days_from_civil(y, mo, d).unwrap() * 86_400 + h * 3600 + mi * 60 + s
}

const NOW: i64 = 1_705_312_800; // 2024-01-15T10:00:00Z

#[test]
fn civil_days_round_trip() {
    assert_eq!(days_from_civil(1970, 1, 1), Some(0));
    assert_eq!(days_from_civil(2000, 3, 1), Some(11_017));
    for d in [-800_000, -1, 0, 1, 59, 365, 11_016, 19_000, 2_900_000] {
        let y = year_of_days(d).unwrap();
        assert!(
            days_from_civil(y, 1, 1).unwrap() <= d && d < days_from_civil(y + 1, 1, 1).unwrap(),
            "{d}"
        );
    }
}

#[test]
fn common_log_format_with_offset() {
    let t = at(
        "%d/%b/%Y:%H:%M:%S %z",
        "15/Jan/2024:10:00:00 +0100",
        &Zone::Utc,
        NOW,
    );
    assert_eq!(t, Some(utc(2024, 1, 15, 9, 0, 0)));
    let t = at(
        "%d/%b/%Y:%H:%M:%S %z",
        "15/Jan/2024:10:00:00 -05:30",
        &Zone::Utc,
        NOW,
    );
    assert_eq!(t, Some(utc(2024, 1, 15, 15, 30, 0)));
}

#[test]
fn directives() {
    let z = &Zone::Utc;
    assert_eq!(
        at("%Y/%m/%d %H:%M:%S", "2024/02/29 23:59:60", z, NOW),
        Some(utc(2024, 3, 1, 0, 0, 0))
    );
    assert_eq!(
        at("%y-%m-%d", "99-12-31", z, NOW),
        Some(utc(1999, 12, 31, 0, 0, 0))
    );
    assert_eq!(
        at("%y-%m-%d", "24-01-02", z, NOW),
        Some(utc(2024, 1, 2, 0, 0, 0))
    );
    assert_eq!(
        at("%Y %j", "2024 060", z, NOW),
        Some(utc(2024, 2, 29, 0, 0, 0))
    );
    assert_eq!(at("%Y %j", "2023 366", z, NOW), None);
    assert_eq!(
        at(
            "%a %b %d %H:%M:%S.%f %Y",
            "Mon Jan 15 10:00:00.123456 2024",
            z,
            NOW
        ),
        Some(NOW)
    );
    // %S accepts an unannounced fraction.
    assert_eq!(
        at("%a %b %d %H:%M:%S %Y", "Mon Jan 15 10:00:00.5 2024", z, NOW),
        Some(NOW)
    );
    assert_eq!(at("%F %T,%f", "2024-01-15 10:00:00,123", z, NOW), Some(NOW));
    assert_eq!(
        at("%d %B %Y", "15 january 2024", z, NOW),
        Some(utc(2024, 1, 15, 0, 0, 0))
    );
    assert_eq!(at("%s", "1705312800", z, 0), Some(NOW));
    assert_eq!(
        at(
            "%Y-%m-%d %H:%M:%S %Z",
            "2024-01-15 10:00:00 UTC",
            &Zone::Fixed(3600),
            NOW
        ),
        Some(NOW)
    );
    assert_eq!(
        at("100%% %Y", "100% 2024", z, NOW),
        Some(utc(2024, 1, 1, 0, 0, 0))
    );
}

#[test]
fn bad_text_is_none() {
    let z = &Zone::Utc;
    for (f, t) in [
        ("%d/%b/%Y", "32/Jan/2024"),
        ("%d/%b/%Y", "29/Feb/2023"),
        ("%d/%b/%Y", "15/Foo/2024"),
        ("%d/%b/%Y", "15/Jan/2024 trailing"),
        ("%H:%M", "24:00"),
        ("%Y-%m-%d", "2024-13-01"),
        ("%Y %z", "2024 +2500"),
        ("%Z", "CET"),
        ("epoch", "12abc"),
        ("rfc3339", "2024-01-15T10"),
        ("rfc3339", ""),
    ] {
        assert_eq!(at(f, t, z, NOW), None, "{f} {t}");
    }
}

#[test]
fn unsupported_directive_is_an_error() {
    let e = TimeFormat::compile("%Y %Q").unwrap_err();
    assert!(e.contains("%Q"), "{e}");
    assert!(TimeFormat::compile("%").is_err());
}

#[test]
fn rfc3339_and_iso8601() {
    let z = &Zone::Fixed(7200);
    assert_eq!(at("rfc3339", "2024-01-15T10:00:00Z", z, 0), Some(NOW));
    assert_eq!(
        at("rfc3339", "2024-01-15T11:00:00.123456+01:00", z, 0),
        Some(NOW)
    );
    assert_eq!(
        at("iso8601", "2024-01-15 05:00:00,5 -0500", z, 0),
        Some(NOW)
    );
    // No zone in the text: the rule's zone.
    assert_eq!(at("iso8601", "2024-01-15 12:00:00", z, 0), Some(NOW));
    assert_eq!(at("iso8601", "2024-01-15T12:00", z, 0), Some(NOW));
    assert_eq!(
        at("iso8601", "2024-01-15", &Zone::Utc, 0),
        Some(utc(2024, 1, 15, 0, 0, 0))
    );
}

#[test]
fn epoch_forms() {
    assert_eq!(at("epoch", "1705312800.779", &Zone::Utc, 0), Some(NOW));
    assert_eq!(at("epoch_ms", "1705312800779", &Zone::Utc, 0), Some(NOW));
    assert_eq!(at("epoch", "-5", &Zone::Utc, 0), Some(-5));
}

#[test]
fn syslog_takes_the_year_nearest_the_read_time() {
    let z = &Zone::Utc;
    // Same year.
    assert_eq!(at("syslog", "Jan 15 10:00:00", z, NOW), Some(NOW));
    assert_eq!(
        at("syslog", "Jan  5 10:00:00", z, NOW),
        Some(utc(2024, 1, 5, 10, 0, 0))
    );
    // A December line read in January is from last year.
    let jan1 = utc(2024, 1, 1, 0, 0, 30);
    assert_eq!(
        at("syslog", "Dec 31 23:59:59", z, jan1),
        Some(utc(2023, 12, 31, 23, 59, 59))
    );
    // A January line read on December 31st (a clock running ahead) is next year's.
    let dec31 = utc(2023, 12, 31, 23, 59, 0);
    assert_eq!(
        at("syslog", "Jan  1 00:00:05", z, dec31),
        Some(utc(2024, 1, 1, 0, 0, 5))
    );
    // Feb 29 exists only in leap years.
    let mar = utc(2024, 3, 10, 0, 0, 0);
    assert_eq!(
        at("syslog", "Feb 29 12:00:00", z, mar),
        Some(utc(2024, 2, 29, 12, 0, 0))
    );
    // The zone moves the year boundary: 23:30 local at +02:00 on Dec 31 is 21:30 UTC.
    let z2 = &Zone::Fixed(7200);
    let read = utc(2023, 12, 31, 22, 30, 0); // 00:30 on Jan 1 local
    assert_eq!(
        at("syslog", "Dec 31 23:30:00", z2, read),
        Some(utc(2023, 12, 31, 21, 30, 0))
    );
    assert_eq!(
        at("syslog", "Jan  1 00:10:00", z2, read),
        Some(utc(2023, 12, 31, 22, 10, 0))
    );
}

#[test]
fn alternatives_are_tried_in_order() {
    let f = TimeFormat::compile_all(&["syslog", "rfc3339"]).unwrap();
    let mut c = ZoneCache::default();
    assert_eq!(
        f.parse(b"Jan 15 10:00:00", &Zone::Utc, NOW, &mut c),
        Some(NOW)
    );
    assert_eq!(
        f.parse(b"2024-01-15T10:00:00Z", &Zone::Utc, NOW, &mut c),
        Some(NOW)
    );
    assert_eq!(f.parse(b"yesterday", &Zone::Utc, NOW, &mut c), None);
}

#[test]
fn zones_parse() {
    assert_eq!(Zone::parse("local"), Ok(Zone::Local));
    assert_eq!(Zone::parse("UTC"), Ok(Zone::Utc));
    assert_eq!(Zone::parse("+02:00"), Ok(Zone::Fixed(7200)));
    assert_eq!(Zone::parse("-0530"), Ok(Zone::Fixed(-19_800)));
    assert!(Zone::parse("CET").is_err());
    assert!(Zone::parse("+02:00x").is_err());
}

/// The host's offset at `utc` as libc's `localtime_r` gives it (what tally asked before it
/// used jiff; kept as a cross-check).
#[allow(clippy::useless_conversion)]
fn libc_offset(utc: i64) -> i32 {
    let t: libc::time_t = utc.try_into().unwrap();
    // SAFETY: localtime_r only writes into the tm we own; a zeroed tm is a valid value.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::localtime_r(&t, &mut tm) };
    assert!(!r.is_null());
    tm.tm_gmtoff as i32
}

#[test]
fn local_zone_agrees_with_libc() {
    let mut c = ZoneCache::default();
    let off = libc_offset(NOW);
    let t = TimeFormat::compile("%Y-%m-%d %H:%M:%S").unwrap().parse(
        b"2024-01-15 10:00:00",
        &Zone::Local,
        NOW,
        &mut c,
    );
    assert_eq!(t, Some(NOW - i64::from(off)));
}

#[test]
fn iana_zones_parse_and_abbreviations_do_not() {
    let paris = Zone::parse("Europe/Paris").unwrap();
    assert_eq!(paris, Zone::Named(TimeZone::get("Europe/Paris").unwrap()));
    assert!(Zone::parse("America/Argentina/Buenos_Aires").is_ok());
    let e = Zone::parse("Mars/Olympus_Mons").unwrap_err();
    assert!(e.contains("not in the IANA database"), "{e}");
    let e = Zone::parse("EST").unwrap_err();
    assert!(e.contains("IANA zone like Europe/Paris"), "{e}");
    assert!(Zone::parse("/etc/localtime").is_err());
}

#[test]
fn a_named_zone_follows_its_dst_rules() {
    let paris = &Zone::parse("Europe/Paris").unwrap();
    let f = "%Y-%m-%d %H:%M:%S";
    // Winter +01:00, summer +02:00.
    assert_eq!(
        at(f, "2024-01-15 12:00:00", paris, NOW),
        Some(utc(2024, 1, 15, 11, 0, 0))
    );
    assert_eq!(
        at(f, "2024-07-01 12:00:00", paris, NOW),
        Some(utc(2024, 7, 1, 10, 0, 0))
    );
    // Spring forward, 2024-03-31 02:00 CET -> 03:00 CEST: either side, and the skipped hour
    // read with the offset before it (02:30 is 03:30 summer time).
    assert_eq!(
        at(f, "2024-03-31 01:30:00", paris, NOW),
        Some(utc(2024, 3, 31, 0, 30, 0))
    );
    assert_eq!(
        at(f, "2024-03-31 03:30:00", paris, NOW),
        Some(utc(2024, 3, 31, 1, 30, 0))
    );
    assert_eq!(
        at(f, "2024-03-31 02:30:00", paris, NOW),
        Some(utc(2024, 3, 31, 1, 30, 0))
    );
    // Fall back, 2024-10-27 03:00 CEST -> 02:00 CET: the repeated hour is its first pass.
    assert_eq!(
        at(f, "2024-10-27 01:30:00", paris, NOW),
        Some(utc(2024, 10, 26, 23, 30, 0))
    );
    assert_eq!(
        at(f, "2024-10-27 02:30:00", paris, NOW),
        Some(utc(2024, 10, 27, 0, 30, 0))
    );
    assert_eq!(
        at(f, "2024-10-27 03:30:00", paris, NOW),
        Some(utc(2024, 10, 27, 2, 30, 0))
    );
    // An offset in the text wins over the zone.
    assert_eq!(
        at("rfc3339", "2024-07-01T12:00:00+00:00", paris, NOW),
        Some(utc(2024, 7, 1, 12, 0, 0))
    );
    // Year-less syslog: the year is taken in the zone's own time.
    let read = utc(2024, 10, 27, 6, 0, 0);
    assert_eq!(
        at("syslog", "Oct 27 02:30:00", paris, read),
        Some(utc(2024, 10, 27, 0, 30, 0))
    );
    let ny = &Zone::parse("America/New_York").unwrap();
    assert_eq!(
        at(f, "2024-03-10 01:59:59", ny, NOW),
        Some(utc(2024, 3, 10, 6, 59, 59))
    );
    assert_eq!(
        at(f, "2024-03-10 03:00:00", ny, NOW),
        Some(utc(2024, 3, 10, 7, 0, 0))
    );
    assert_eq!(
        at(f, "2024-11-03 01:30:00", ny, NOW),
        Some(utc(2024, 11, 3, 5, 30, 0))
    );
    let new_year_eve = utc(2025, 1, 1, 3, 0, 0);
    assert_eq!(
        at("syslog", "Dec 31 21:00:00", ny, new_year_eve),
        Some(utc(2025, 1, 1, 2, 0, 0))
    );
}

#[test]
fn a_rule_names_its_zone_and_a_bad_one_is_placed() {
    use crate::parse::{Output, ParseState, parse_str};
    let yaml = "name: z\nrules:\n  - regex: '^(?P<t>\\S+ \\S+) x'\n    time: { capture: t, format: '%F %T', timezone: Europe/Paris }\n    metrics: [{ name: x, type: counter }]\n";
    let ps = parse_str(yaml, std::path::Path::new("z.yaml")).unwrap();
    let mut out = Output::default();
    ps[0].apply(
        b"2024-07-01 12:00:00 x",
        NOW,
        "",
        &mut ParseState::new(),
        &mut out,
    );
    assert_eq!(out.observations[0].time, utc(2024, 7, 1, 10, 0, 0));
    let bad = yaml.replace("Europe/Paris", "Europe/Atlantis");
    let e = parse_str(&bad, std::path::Path::new("z.yaml")).unwrap_err();
    let p = &e.problems()[0];
    assert_eq!((p.line, p.column), (4, 52), "{p}");
    assert!(p.to_string().contains("Europe/Atlantis"), "{p}");
}
