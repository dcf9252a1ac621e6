//! graphite-web's own time-reference vectors (ported as data, see the file's header).

#[test]
fn time_references_match_graphite_vectors() {
    let text = include_str!("../../tests/data/render/attime.golden");
    let mut now = 0;
    let mut tz = jiff::tz::TimeZone::UTC;
    let mut checked = 0;
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (input, expected) = line.rsplit_once(' ').unwrap();
        if input == "tz" {
            tz = jiff::tz::TimeZone::get(expected).unwrap();
            continue;
        }
        if input == "now" {
            now = expected.parse().unwrap();
            continue;
        }
        let got = super::attime::parse_in(input, now, &tz);
        match expected {
            "error" => assert!(got.is_err(), "{input:?} gave {got:?}"),
            t => assert_eq!(got, Ok(t.parse().unwrap()), "{input:?}"),
        }
        checked += 1;
    }
    assert!(checked >= 90, "{checked}");
}
