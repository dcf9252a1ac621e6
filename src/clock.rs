//! Time: the wall clock, read only at the edges (agent, inputs, http; the pure stages take
//! `now`), and day counts of the proleptic Gregorian calendar (through jiff, whose range is
//! the years -9999 to 9999).

use jiff::civil::Date;

const EPOCH: Date = Date::constant(1970, 1, 1);

/// Unix seconds now (0 if the clock is before 1970).
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Days since 1970-01-01 of a date; `None` for a day its month does not have or a year
/// outside -9999..=9999.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> Option<i64> {
    let date = Date::new(y.try_into().ok()?, m.try_into().ok()?, d.try_into().ok()?).ok()?;
    Some(EPOCH.duration_until(date).as_secs().div_euclid(86_400))
}

/// `(year, month, day)` of a day count since 1970-01-01; `None` outside -9999..=9999.
pub fn civil_from_days(z: i64) -> Option<(i64, u32, u32)> {
    let secs = jiff::SignedDuration::from_secs(z.checked_mul(86_400)?);
    let date = EPOCH.checked_add(secs).ok()?;
    Some((
        i64::from(date.year()),
        date.month() as u32,
        date.day() as u32,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_round_trips() {
        assert_eq!(days_from_civil(1970, 1, 1), Some(0));
        assert_eq!(days_from_civil(2000, 3, 1), Some(11_017));
        for day in [-800_000, -1000, -1, 0, 59, 60, 19_797, 60_000, 2_000_000] {
            let (y, m, d) = civil_from_days(day).unwrap();
            assert_eq!(days_from_civil(y, m, d), Some(day));
        }
    }

    #[test]
    fn outside_the_calendar_is_none() {
        assert_eq!(days_from_civil(2023, 2, 29), None);
        assert_eq!(days_from_civil(10_000, 1, 1), None);
        assert_eq!(civil_from_days(i64::MAX), None);
        assert_eq!(civil_from_days(3_000_000), None);
        assert_eq!(civil_from_days(-1), Some((1969, 12, 31)));
    }
}
