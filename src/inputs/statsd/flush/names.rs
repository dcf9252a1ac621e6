//! The graphite backend's names (`format(namespace, key, ...rest)` with prefixes, suffix and
//! tags last) and JavaScript's number printing.

use super::Options;

/// The graphite backend's namespaces.
pub(super) struct Names<'a> {
    pub(super) global: Vec<&'a str>,
    pub(super) counter: Vec<&'a str>,
    pub(super) timer: Vec<&'a str>,
    pub(super) gauge: Vec<&'a str>,
    pub(super) set: Vec<&'a str>,
    pub(super) suffix: String,
}

impl<'a> Names<'a> {
    pub(super) fn new(o: &'a Options) -> Names<'a> {
        let suffix = o
            .global_suffix
            .as_ref()
            .map_or_else(String::new, |s| format!(".{s}"));
        if o.legacy_namespace {
            return Names {
                global: vec!["stats"],
                counter: vec!["stats"],
                timer: vec!["stats", "timers"],
                gauge: vec!["stats", "gauges"],
                set: vec!["stats", "sets"],
                suffix,
            };
        }
        let base: Vec<&str> = [o.global_prefix.as_str()]
            .into_iter()
            .filter(|p| !p.is_empty())
            .collect();
        let with = |p: &'a str| {
            let mut v = base.clone();
            if !p.is_empty() {
                v.push(p);
            }
            v
        };
        Names {
            global: base.clone(),
            counter: with(&o.prefix_counter),
            timer: with(&o.prefix_timer),
            gauge: with(&o.prefix_gauge),
            set: with(&o.prefix_set),
            suffix,
        }
    }

    /// The backend's `format(namespace, key, ...rest)`: tags stay after the suffix.
    pub(super) fn format(&self, namespace: &[&str], key: &str, rest: &[&str]) -> String {
        let (name, tags) = match key.find(';') {
            Some(i) => key.split_at(i),
            None => (key, ""),
        };
        let mut out = String::with_capacity(key.len() + 32);
        for part in namespace.iter().chain([&name]).chain(rest) {
            out.push_str(part);
            out.push('.');
        }
        out.pop();
        out.push_str(&self.suffix);
        out.push_str(tags);
        out
    }
}

/// A number as JavaScript's `Number.prototype.toString()` prints it: shortest round-trip
/// digits, plain notation for 1e-7 < |x| < 1e21, `1e+21` style beyond, `NaN`, `Infinity`, `0`
/// for -0.
pub fn js_string(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if v == 0.0 {
        return "0".into();
    }
    let sci = format!("{:e}", v.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let n = exp + 1;
    let digits = even_on_tie(v.abs(), digits, n);
    let k = digits.len() as i32;
    let mut out = String::with_capacity(24);
    if v < 0.0 {
        out.push('-');
    }
    if k <= n && n <= 21 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        out.push_str(&digits[..n as usize]);
        out.push('.');
        out.push_str(&digits[n as usize..]);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-n) as usize));
        out.push_str(&digits);
    } else {
        out.push_str(&digits[..1]);
        if k > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if n > 0 { '+' } else { '-' });
        out.push_str(&(n - 1).abs().to_string());
    }
    out
}

/// JavaScript picks, of two shortest digit strings equally close to the value (the value lies
/// exactly halfway between them), the even one (ECMA-262 Number::toString, note 2; V8 does):
/// `1000468049000000.25` prints as `…000.2`. Rust's shortest formatting rounds such a tie up
/// (`…000.3`). `digits` are Rust's shortest digits of `x` (> 0, finite) with the decimal point
/// after `n` of them; returns the digits JavaScript prints. Ties need 16 digits or more (the
/// decimal step finer than the binary one), which keeps this off the common path.
fn even_on_tie(x: f64, digits: String, n: i32) -> String {
    let k = digits.len() as i32;
    if k < 16 {
        return digits;
    }
    let Ok(s) = digits.parse::<u64>() else {
        return digits;
    };
    if s % 2 == 0 {
        return digits;
    }
    // x = m * 2^e with m odd.
    let bits = x.to_bits();
    let (exp_bits, frac) = ((bits >> 52) as i32 & 0x7ff, bits & ((1 << 52) - 1));
    let (mut m, mut e) = if exp_bits == 0 {
        (frac, -1074)
    } else {
        (frac | 1 << 52, exp_bits - 1075)
    };
    let zeros = m.trailing_zeros();
    m >>= zeros;
    e += zeros as i32;
    // The midpoint (2t + 1) * 10^q / 2 = (2t + 1) * 5^q * 2^(q - 1) is x when its odd part and
    // its power of two are x's.
    let q = n - k;
    let is_midpoint = |two_t_plus_1: u64| {
        if e != q - 1 {
            return false;
        }
        let Some(five) = 5u128.checked_pow(q.unsigned_abs()) else {
            return false;
        };
        if q >= 0 {
            u128::from(m) == u128::from(two_t_plus_1) * five
        } else {
            u128::from(m) * five == u128::from(two_t_plus_1)
        }
    };
    let even = if is_midpoint(2 * s + 1) {
        s + 1
    } else if is_midpoint(2 * s - 1) {
        s - 1
    } else {
        return digits;
    };
    let candidate = even.to_string();
    if candidate.len() != digits.len() {
        return digits;
    }
    let round_trips = format!("{candidate}e{}", q).parse::<f64>() == Ok(x);
    if round_trips { candidate } else { digits }
}
