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
    let k = digits.len() as i32;
    let n = exp + 1;
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
