//! The StatsD line protocol exactly as etsy statsd's `handlePacket` reads it: a packet is split on
//! `\n`; `|#k:v,k2:v2` DogStatsD tags are folded into the key as `;k=v;k2=v2`; the key is
//! sanitized; every `:`-separated value spec (`k:1|c:2|ms`) is validated like
//! `lib/helpers.js is_valid_packet` and becomes one [`Sample`]. Numbers are read with
//! JavaScript's `Number()` rules ([`js_number`]), so `+10e1`, ` 5 `, `0x10` and `.5` mean what
//! they mean to etsy.

use super::Error;
use std::borrow::Cow;

/// What a spec's type field asks for, as etsy dispatches it (after `trim()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    /// `c`, and every type etsy does not know (it counts them as counters).
    Counter,
    /// `ms`.
    Timer,
    /// `h` and `d`: counters to etsy, distributions (timers) in tally's own store.
    Distribution,
    /// `g`.
    Gauge,
    /// `s`.
    Set,
}

/// One value spec of a line, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample<'a> {
    /// Sanitized, with DogStatsD tags appended as `;k=v`.
    pub key: Cow<'a, str>,
    pub ty: Type,
    /// The value as written (a set member, or the text a gauge's `+`/`-` is read from).
    pub raw: &'a str,
    /// `Number(raw)` (0 for sets).
    pub number: f64,
    /// The sample rate (1 when absent).
    pub rate: f64,
}

impl Sample<'_> {
    /// A gauge value written with a sign changes the gauge instead of setting it.
    pub fn is_delta(&self) -> bool {
        matches!(self.raw.as_bytes().first(), Some(b'+' | b'-'))
    }

    /// `1 / rate`: what a sampled counter value or timer count stands for.
    pub fn scale(&self) -> f64 {
        1.0 / self.rate
    }
}

/// JavaScript's `\s` and `String.prototype.trim` whitespace (WhiteSpace + LineTerminator).
pub fn js_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202f}'
                | '\u{205f}'
                | '\u{3000}'
                | '\u{feff}'
    )
}

/// JavaScript's `Number(text)`: `None` where it gives `NaN`. Whitespace around is ignored, an
/// empty (or all-space) text is 0, `Infinity`, hex `0x`, octal `0o` and binary `0b` are numbers.
pub fn js_number(text: &str) -> Option<f64> {
    if let Some(v) = small_integer(text.as_bytes()) {
        return Some(v);
    }
    let t = text.trim_matches(js_space);
    if t.is_empty() {
        return Some(0.0);
    }
    match t {
        "Infinity" | "+Infinity" => return Some(f64::INFINITY),
        "-Infinity" => return Some(f64::NEG_INFINITY),
        _ => {}
    }
    let b = t.as_bytes();
    if b.len() > 2 && b[0] == b'0' {
        let radix = match b[1] {
            b'x' | b'X' => 16,
            b'o' | b'O' => 8,
            b'b' | b'B' => 2,
            _ => 0,
        };
        if radix != 0 {
            let mut v = 0f64;
            for &d in &b[2..] {
                v = v * f64::from(radix) + f64::from((d as char).to_digit(radix)?);
            }
            return Some(v);
        }
    }
    // [+-]? (digits [. digits*] | . digits) ([eE] [+-]? digits)?
    let mut i = usize::from(matches!(b[0], b'+' | b'-'));
    let int = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
    i += int;
    let mut frac = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        frac = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        i += frac;
    }
    if int + frac == 0 {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        i += usize::from(matches!(b.get(i), Some(b'+' | b'-')));
        let exp = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if exp == 0 {
            return None;
        }
        i += exp;
    }
    if i != b.len() {
        return None;
    }
    t.parse().ok()
}

/// The common case, read fast: `[+-]?` and at most 15 decimal digits (exact in an `f64`).
fn small_integer(b: &[u8]) -> Option<f64> {
    let (negative, digits) = match b.first()? {
        b'-' => (true, &b[1..]),
        b'+' => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() || digits.len() > 15 {
        return None;
    }
    let mut v = 0u64;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u64::from(d - b'0');
    }
    let v = v as f64;
    Some(if negative { -v } else { v })
}

/// etsy's `isNumber`: a non-empty text that `Number()` does not turn into `NaN`.
fn is_number(text: &str) -> bool {
    !text.is_empty() && js_number(text).is_some()
}

const fn key_char_kept(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ';' | '=')
}

/// [`key_char_kept`] for every byte (no non-ASCII byte is kept).
static KEPT: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 128 {
        table[b] = key_char_kept(b as u8 as char);
        b += 1;
    }
    table
};

/// etsy's `keyNameSanitize`: runs of whitespace → `_`, `/` → `-`, then everything but
/// `[a-zA-Z0-9_.;=-]` removed.
pub fn sanitize_key(key: &str) -> Cow<'_, str> {
    // Bytes suffice for the check: no non-ASCII character is kept.
    if key.bytes().all(|b| KEPT[usize::from(b)]) {
        return Cow::Borrowed(key);
    }
    let mut out = String::with_capacity(key.len());
    let mut in_space = false;
    for c in key.chars() {
        if js_space(c) {
            if !in_space {
                out.push('_');
            }
            in_space = true;
            continue;
        }
        in_space = false;
        if c == '/' {
            out.push('-');
        } else if key_char_kept(c) {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Replaces the first `from` in `s` by `to`, as JavaScript's `String.replace(str, str)`.
fn replace_first(s: &str, from: char, to: &str) -> String {
    match s.find(from) {
        Some(i) => format!("{}{}{}", &s[..i], to, &s[i + from.len_utf8()..]),
        None => s.to_string(),
    }
}

/// Parses one line (no newline; not empty) and calls `each` with every value spec: a
/// [`Sample`] or the reason etsy would count it in `bad_lines_seen`.
/// The type etsy dispatches on (its `trim()`med type field).
fn typed(ty: &str) -> Type {
    match ty {
        "ms" => Type::Timer,
        "g" => Type::Gauge,
        "s" => Type::Set,
        "h" | "d" => Type::Distribution,
        _ => Type::Counter,
    }
}

/// Where the first `|#` starts.
fn find_tags(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    memchr::memchr_iter(b'#', b)
        .find(|&i| i > 0 && b[i - 1] == b'|')
        .map(|i| i - 1)
}

pub fn parse_line<'a>(line: &'a str, mut each: impl FnMut(Result<Sample<'a>, Error>)) {
    let (body, tags) = match find_tags(line) {
        Some(i) => {
            let rest = &line[i + 2..];
            // Only what lies between the first and a second `|#` is tags.
            let rest = find_tags(rest).map_or(rest, |j| &rest[..j]);
            (&line[..i], rest)
        }
        None => (line, ""),
    };
    let mut parts = split_at_byte(body, b':');
    let key = parts.next().unwrap_or_default();
    let key = if tags.is_empty() {
        sanitize_key(key)
    } else {
        let mut k = key.to_string();
        for tag in tags.split(',') {
            k.push(';');
            k.push_str(&replace_first(&replace_first(tag, ';', "_"), ':', "="));
        }
        Cow::Owned(sanitize_key(&k).into_owned())
    };
    let mut any = false;
    for spec in parts {
        any = true;
        each(parse_spec(&key, spec));
    }
    if !any {
        // etsy reads a line without ':' as the spec "1", which has no type.
        each(Err(Error::NoType));
    }
}

/// `text.split(sep)` for an ASCII `sep`, cheaper than the generic `str::split` on the short
/// pieces of a StatsD line.
pub fn split_at_byte(text: &str, sep: u8) -> impl Iterator<Item = &str> {
    debug_assert!(sep.is_ascii());
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let r = rest?;
        match r.bytes().position(|b| b == sep) {
            Some(i) => {
                // An ASCII byte is a char boundary.
                rest = Some(&r[i + 1..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

fn parse_spec<'a>(key: &Cow<'a, str>, spec: &'a str) -> Result<Sample<'a>, Error> {
    let mut fields = split_at_byte(spec, b'|');
    let raw = fields.next().unwrap_or_default();
    let ty_raw = fields.next().ok_or(Error::NoType)?;
    let mut rate = 1.0;
    if let Some(r) = fields.next() {
        let number = r
            .strip_prefix('@')
            .filter(|n| is_number(n) && !n.starts_with('-'))
            .ok_or_else(|| Error::Rate(r.to_string()))?;
        // etsy then reads `^@([\d.]+)`; a rate it cannot read that way makes it throw.
        let digits = number
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .map_or(number, |end| &number[..end]);
        rate = js_number(digits)
            .filter(|_| !digits.is_empty())
            .ok_or_else(|| Error::Rate(r.to_string()))?;
    }
    let number = match ty_raw {
        "s" => 0.0,
        // `isNumber`, and for `ms` also `>= 0`.
        _ => match js_number(raw) {
            Some(v) if !raw.is_empty() && (ty_raw != "ms" || v >= 0.0) => v,
            _ => return Err(Error::Value(raw.to_string())),
        },
    };
    // Validation looked at the type as written; the dispatch looks at it trimmed.
    let ty = match ty_raw.as_bytes() {
        b"c" => Type::Counter,
        b"ms" => Type::Timer,
        b"g" => Type::Gauge,
        b"s" => Type::Set,
        _ => typed(ty_raw.trim_matches(js_space)),
    };
    let raw = if ty == Type::Set && raw.is_empty() {
        "0" // etsy inserts `fields[0] || '0'`
    } else {
        raw
    };
    Ok(Sample {
        key: key.clone(),
        ty,
        raw,
        number,
        rate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn try_one(line: &str) -> Result<Sample<'_>, Error> {
        let mut out = Vec::new();
        parse_line(line, |r| out.push(r));
        assert_eq!(out.len(), 1, "{line}");
        out.pop().unwrap()
    }

    fn one(line: &str) -> Sample<'_> {
        try_one(line).unwrap_or_else(|e| panic!("{line}: {e}"))
    }

    #[test]
    fn numbers_follow_javascript() {
        for (text, want) in [
            ("1", Some(1.0)),
            ("+10e1", Some(100.0)),
            ("-0.0", Some(-0.0)),
            (" 5 ", Some(5.0)),
            ("", Some(0.0)),
            ("  ", Some(0.0)),
            (".5", Some(0.5)),
            ("5.", Some(5.0)),
            ("0x10", Some(16.0)),
            ("0b101", Some(5.0)),
            ("0o17", Some(15.0)),
            ("Infinity", Some(f64::INFINITY)),
            ("-Infinity", Some(f64::NEG_INFINITY)),
            ("1e400", Some(f64::INFINITY)),
            ("inf", None),
            ("nan", None),
            ("NaN", None),
            ("1_0", None),
            ("-0x10", None),
            ("0x", None),
            (".", None),
            ("1e", None),
            ("1.2.3", None),
            ("e5", None),
            ("12abc", None),
        ] {
            assert_eq!(js_number(text), want, "{text:?}");
        }
    }

    #[test]
    fn keys_are_sanitized_as_etsy_does() {
        assert_eq!(sanitize_key("fo/o"), "fo-o");
        assert_eq!(sanitize_key("b ar"), "b_ar");
        assert_eq!(sanitize_key("foo+bar"), "foobar");
        assert_eq!(sanitize_key("a \t b"), "a_b");
        assert_eq!(sanitize_key("a é b"), "a__b");
        assert_eq!(sanitize_key("x;k=v.1-2_3"), "x;k=v.1-2_3");
        assert!(matches!(sanitize_key("plain.key"), Cow::Borrowed(_)));
    }

    #[test]
    fn types_values_and_rates() {
        let s = one("gorets:1|c|@0.1");
        assert_eq!(
            (&*s.key, s.ty, s.number, s.rate),
            ("gorets", Type::Counter, 1.0, 0.1)
        );
        assert_eq!(one("glork:320|ms").ty, Type::Timer);
        assert_eq!(one("h:3|h").ty, Type::Distribution);
        assert_eq!(one("h:-3|d").number, -3.0);
        assert_eq!(one("u:765|s").raw, "765");
        assert_eq!(one("u:|s").raw, "0");
        assert_eq!(one("z:5|zz").ty, Type::Counter);
        let g = one("g:-10|g");
        assert!(g.is_delta() && g.number == -10.0);
        assert!(!one("g:10|g").is_delta());
        assert_eq!(one("r:1|c|@.5").rate, 0.5);
        // `@2e-1` validates, and etsy reads the digits before the `e`.
        assert_eq!(one("r:1|c|@2e-1").rate, 2.0);
        // Validation sees "ms " (any number is fine), the dispatch sees "ms".
        assert_eq!(one("t:-5|ms ").ty, Type::Timer);
        assert_eq!(one("t:1|c|@0.5|whatever").rate, 0.5);
    }

    #[test]
    fn multi_value_lines() {
        let mut out = Vec::new();
        parse_line("mv:1|c:2|ms:x|g:3|g", |r| out.push(r));
        assert_eq!(out.len(), 4);
        assert_eq!(out[0].as_ref().unwrap().ty, Type::Counter);
        assert_eq!(out[1].as_ref().unwrap().ty, Type::Timer);
        assert_eq!(out[2], Err(Error::Value("x".into())));
        assert_eq!(out[3].as_ref().unwrap().number, 3.0);
        assert!(out.iter().flatten().all(|s| s.key == "mv"));
    }

    #[test]
    fn tags_are_folded_into_the_key() {
        assert_eq!(
            one("tagged:1|c|#env:prod,role:web").key,
            "tagged;env=prod;role=web"
        );
        assert_eq!(
            one("foo+bar:250|c|#tag1:val;1,tag3:val3,tag2:val2").key,
            "foobar;tag1=val_1;tag3=val3;tag2=val2"
        );
        assert_eq!(one("a:1|c|#").key, "a");
        assert_eq!(one("a:1|c|#k:v:w").key, "a;k=vw");
        assert_eq!(one("a:1|c|#x|#y").key, "a;x");
        assert_eq!(one("name;dc=eu:1|c").key, "name;dc=eu");
    }

    #[test]
    fn bad_specs_have_reasons() {
        // The cases etsy's helpers_tests.js rejects, and a few more.
        for line in [
            "badline|z",
            "nocolon",
            "k:1",
            "k:|c",
            "k:abc|c",
            "k:-1|ms",
            "k:x|ms",
            "k:|g",
            "k:a|g",
            "k:1|c|0.1",
            "k:1|c|@",
            "k:1|c|@-0.1",
            "k:1|c|@abc",
            "k:1|c|@ 0.5",
            "k:1|c|@1.2.3",
        ] {
            let mut out = Vec::new();
            parse_line(line, |r| out.push(r));
            assert!(out.iter().all(Result::is_err), "{line}: {out:?}");
        }
        for line in [
            "k:+10e1|c",
            "k:+1|ms",
            "k:-0.0|ms",
            "k:+0.0|ms",
            "k:-10.0|g",
            "k:foo|s",
            "k:1|c|@0.5",
            "k:1|c|@1",
            "k:1|c|@.1",
        ] {
            assert!(try_one(line).is_ok(), "{line}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_text_parses_or_fails_cleanly(line in "\\PC{0,60}") {
            let mut out = Vec::new();
            parse_line(&line, |r| out.push(r));
            proptest::prop_assert!(!out.is_empty());
            for s in out.into_iter().flatten() {
                proptest::prop_assert!(s.key.chars().all(key_char_kept));
                proptest::prop_assert!(s.rate >= 0.0);
            }
        }

        #[test]
        fn splitting_at_a_byte_is_str_split(text in "[a:|é]{0,12}") {
            let ours: Vec<&str> = split_at_byte(&text, b':').collect();
            let std: Vec<&str> = text.split(':').collect();
            proptest::prop_assert_eq!(ours, std);
        }

        #[test]
        fn the_integer_fast_path_agrees(text in "[+-]?[0-9]{1,17}") {
            let t = text.trim_matches(js_space);
            proptest::prop_assert_eq!(js_number(&text), t.parse::<f64>().ok());
        }

        #[test]
        fn tags_start_at_the_first_bar_hash(text in "[a|#:]{0,12}") {
            proptest::prop_assert_eq!(find_tags(&text), text.find("|#"));
        }

        #[test]
        fn decimal_numbers_agree_with_rust(v in proptest::num::f64::NORMAL) {
            proptest::prop_assert_eq!(js_number(&v.to_string()), Some(v));
            proptest::prop_assert_eq!(js_number(&format!("{v:e}")), Some(v));
        }
    }
}
