//! Carbon-cache's reading of a plaintext line, which the listeners follow: Python's
//! whitespace and `float()`, and the name carbon files a path under.

/// The fields of a line as carbon's `line.strip().split()` makes them: split at any run of
/// what Python calls whitespace (Unicode's, e.g. a no-break space, and `\x1c`-`\x1f`).
pub(super) fn py_fields(line: &str) -> impl Iterator<Item = &str> {
    line.split(|c: char| c.is_whitespace() || ('\x1c'..='\x1f').contains(&c))
        .filter(|f| !f.is_empty())
}

/// A number as Python's `float()` reads it: Rust's syntax (`1e3`, `.5`, `5.`, `inf`, `nan`)
/// plus PEP 515 underscores between digits (`1_000`, `1_733_600_000`).
pub(super) fn py_float(s: &str) -> Option<f64> {
    if !s.contains('_') {
        return s.parse().ok();
    }
    let b = s.as_bytes();
    let between_digits = |i: usize| {
        i > 0 && b[i - 1].is_ascii_digit() && b.get(i + 1).is_some_and(u8::is_ascii_digit)
    };
    if (0..b.len()).any(|i| b[i] == b'_' && !between_digits(i)) {
        return None;
    }
    s.replace('_', "").parse().ok()
}

/// The name carbon-cache (1.1.x, tags enabled as by default) files a path under: leading `~`s
/// dropped from the name (`~a.b` is `a.b`), and in an untagged path empty nodes dropped, as its
/// Whisper file path makes them (`a..b` and `.a.b` are `a/b.wsp`, so `a.b`). A path ending in
/// `.` (carbon's hidden `a/b/.wsp`, which graphite-web never lists) is left to be refused.
pub(super) fn carbon_path(path: &str) -> std::borrow::Cow<'_, str> {
    use std::borrow::Cow;
    let (name, tags) = path.split_at(path.find(';').unwrap_or(path.len()));
    let name = match name.trim_start_matches('~') {
        "" => name,
        stripped => stripped,
    };
    let collapse =
        tags.is_empty() && !name.ends_with('.') && (name.starts_with('.') || name.contains(".."));
    if collapse {
        Cow::Owned(
            name.split('.')
                .filter(|n| !n.is_empty())
                .collect::<Vec<_>>()
                .join("."),
        )
    } else if name.len() + tags.len() == path.len() {
        Cow::Borrowed(path)
    } else {
        Cow::Owned(format!("{name}{tags}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_and_numbers_as_carbon_does() {
        // Python's str.split(): any Unicode whitespace, and \x1c-\x1f, separate fields.
        for line in [
            "a.b\u{a0}2\u{a0}1700000000",
            "a.b\u{3000}2\u{3000}1700000000",
            "a.b\x0b2\x1f1700000000",
            "a.b\t 2\t1700000000 ",
        ] {
            let o =
                super::super::parse_line(line.as_bytes(), 0, crate::metric::Kind::Gauge).unwrap();
            assert_eq!(
                (o.series.as_str(), o.value, o.time),
                ("a.b", 2.0, 1_700_000_000)
            );
        }
        // Python's float(): underscores between digits.
        let o =
            super::super::parse_line(b"a 1_000.5_5 1_700_000_000", 0, crate::metric::Kind::Gauge)
                .unwrap();
        assert_eq!((o.value, o.time), (1000.55, 1_700_000_000));
        assert_eq!(py_float("1e1_0"), Some(1e10));
        for bad in ["1__0", "_1", "1_", "1_.5", "1._5", "1_e5", "0x_1", "inf_"] {
            assert_eq!(py_float(bad), None, "{bad}");
        }
    }

    #[test]
    fn names_are_filed_as_carbon_files_them() {
        for (sent, stored) in [
            ("a..b", "a.b"),
            (".a.b", "a.b"),
            ("..a...b", "a.b"),
            ("~a.b", "a.b"),
            ("~~.a", "a"),
            ("~t;x=1", "t;x=1"),
            ("a.b", "a.b"),
            ("~~", "~~"),
        ] {
            let o = super::super::parse_line(
                format!("{sent} 1 1").as_bytes(),
                0,
                crate::metric::Kind::Gauge,
            )
            .unwrap();
            assert_eq!(o.series.as_str(), stored, "{sent}");
        }
        // Carbon hides these (`a/b/.wsp`) or keeps the empty node (a tagged name is hashed).
        for sent in ["a.b.", "...", "a..b;x=1"] {
            let line = format!("{sent} 1 1");
            assert!(
                super::super::parse_line(line.as_bytes(), 0, crate::metric::Kind::Gauge).is_err(),
                "{sent}"
            );
        }
    }
}
