//! What node's `util.inspect` prints for the plain objects etsy's management console shows
//! (`counters`, `timers`, `gauges`: keys to numbers or to arrays of numbers), with node's
//! defaults: `breakLength` 80, `compact` 3, `maxArrayLength` 100, arrays of more than six
//! numbers grouped into right-aligned columns. Keys in JavaScript's property order: integer
//! keys ascending first, then the others in the order given.

use super::flush::js_string;

const BREAK_LENGTH: usize = 80;
const MAX_ARRAY_LENGTH: usize = 100;
const COMPACT: usize = 3;

/// A value of a console object.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Number(f64),
    Numbers(Vec<f64>),
}

/// `util.inspect(object)` for `entries` in insertion order.
pub fn object(entries: &[(String, Value)]) -> String {
    if entries.is_empty() {
        return "{}".into();
    }
    let mut ordered: Vec<&(String, Value)> = entries.iter().collect();
    // JavaScript enumerates array-index keys first, ascending (a stable sort keeps the rest).
    ordered.sort_by_key(|(k, _)| array_index(k).map_or((1, 0), |i| (0, i)));
    let output = ordered
        .into_iter()
        .map(|(k, v)| {
            let value = match v {
                Value::Number(n) => number(*n),
                // A property's value is indented by 2.
                Value::Numbers(list) => array(list, 2),
            };
            format!("{}: {value}", key(k))
        })
        .collect();
    reduce(output, 0, "{", "}", false)
}

/// `util.inspect` of an array of numbers at `indentation`.
fn array(values: &[f64], indentation: usize) -> String {
    if values.is_empty() {
        return "[]".into();
    }
    let mut output: Vec<String> = values
        .iter()
        .take(MAX_ARRAY_LENGTH)
        .map(|&v| number(v))
        .collect();
    if values.len() > MAX_ARRAY_LENGTH {
        let more = values.len() - MAX_ARRAY_LENGTH;
        output.push(format!(
            "... {more} more item{}",
            if more > 1 { "s" } else { "" }
        ));
    }
    reduce(output, indentation, "[", "]", true)
}

/// node's `reduceToSingleString` (with `compact` 3; objects here nest at most one deep, so
/// the depth test always passes).
fn reduce(
    mut output: Vec<String>,
    indentation: usize,
    open: &str,
    close: &str,
    is_array: bool,
) -> String {
    let entries = output.len();
    if is_array && entries > 6 {
        output = group(output, indentation);
    }
    if entries == output.len() {
        let start = output.len() + indentation + open.len() + 10;
        if below_break_length(&output, start) {
            let joined = output.join(", ");
            if !joined.contains('\n') {
                return format!("{open} {joined} {close}");
            }
        }
    }
    let pad = format!("\n{}", " ".repeat(indentation));
    format!(
        "{open}{pad}  {}{pad}{close}",
        output.join(&format!(",{pad}  "))
    )
}

fn below_break_length(output: &[String], start: usize) -> bool {
    let mut total = output.len() + start;
    if total + output.len() > BREAK_LENGTH {
        return false;
    }
    for o in output {
        total += o.chars().count();
        if total > BREAK_LENGTH {
            return false;
        }
    }
    true
}

/// node's `groupArrayElements`: more than six numbers in columns, right-aligned.
fn group(output: Vec<String>, indentation: usize) -> Vec<String> {
    let mut output_length = output.len();
    if output.last().is_some_and(|o| o.starts_with("... ")) {
        output_length -= 1; // the "… more items" entry is not grouped
    }
    const SEPARATOR_SPACE: usize = 2;
    let data_len: Vec<usize> = output.iter().map(|o| o.chars().count()).collect();
    let total_length: usize = data_len[..output_length]
        .iter()
        .map(|l| l + SEPARATOR_SPACE)
        .sum();
    let max_length = data_len[..output_length].iter().copied().max().unwrap_or(0);
    let actual_max = max_length + SEPARATOR_SPACE;
    if !(actual_max * 3 + indentation < BREAK_LENGTH
        && (total_length as f64 / actual_max as f64 > 5.0 || max_length <= 6))
    {
        return output;
    }
    let approx_char_heights = 2.5;
    let average_bias = (actual_max as f64 - total_length as f64 / output.len() as f64).sqrt();
    let biased_max = (actual_max as f64 - 3.0 - average_bias).max(1.0);
    let columns = [
        js_round((approx_char_heights * biased_max * output_length as f64).sqrt() / biased_max),
        ((BREAK_LENGTH - indentation) / actual_max) as f64,
        (COMPACT * 4) as f64,
        15.0,
    ]
    .into_iter()
    .fold(f64::INFINITY, f64::min);
    if columns.is_nan() || columns <= 1.0 {
        return output;
    }
    let columns = columns as usize;
    let max_line_length: Vec<usize> = (0..columns)
        .map(|i| {
            let longest = (i..output.len())
                .step_by(columns)
                .filter(|&j| j < output_length)
                .map(|j| data_len[j])
                .max()
                .unwrap_or(0);
            longest + SEPARATOR_SPACE
        })
        .collect();
    let mut grouped = Vec::new();
    let mut i = 0;
    while i < output_length {
        let max = (i + columns).min(output_length);
        let mut line = String::new();
        let mut j = i;
        while j < max - 1 {
            let cell = format!("{}, ", output[j]);
            line.push_str(&pad_start(&cell, max_line_length[j - i]));
            j += 1;
        }
        line.push_str(&pad_start(
            &output[j],
            max_line_length[j - i] - SEPARATOR_SPACE,
        ));
        grouped.push(line);
        i += columns;
    }
    if output_length < output.len() {
        grouped.push(output[output_length].clone());
    }
    grouped
}

fn pad_start(s: &str, width: usize) -> String {
    let len = s.chars().count();
    if len >= width {
        s.to_string()
    } else {
        format!("{}{s}", " ".repeat(width - len))
    }
}

/// JavaScript's `Math.round` (halves toward +∞).
fn js_round(v: f64) -> f64 {
    (v + 0.5).floor()
}

/// A number as `util.inspect` prints it (`-0` keeps its sign).
pub fn number(v: f64) -> String {
    if v == 0.0 && v.is_sign_negative() {
        "-0".into()
    } else {
        js_string(v)
    }
}

/// A property key: bare when it is an identifier, else single-quoted.
pub fn key(k: &str) -> String {
    let mut chars = k.chars();
    let identifier = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    if identifier {
        return k.to_string();
    }
    let mut out = String::with_capacity(k.len() + 2);
    out.push('\'');
    for c in k.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\x7f' => {
                out.push_str(&format!("\\x{:02X}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// The key as a JavaScript array index (a canonical integer below 2³² − 1).
fn array_index(k: &str) -> Option<u64> {
    if k.is_empty() || (k.len() > 1 && k.starts_with('0')) || !k.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    k.parse::<u64>().ok().filter(|&i| i < u64::from(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(entries: &[(&str, f64)]) -> Vec<(String, Value)> {
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), Value::Number(*v)))
            .collect()
    }

    #[test]
    fn short_objects_fit_on_one_line() {
        assert_eq!(object(&[]), "{}");
        assert_eq!(
            object(&n(&[("a", 1.0), ("b.c", 2.5), ("_x", -0.0)])),
            "{ a: 1, 'b.c': 2.5, _x: -0 }"
        );
        // Integer keys come first, as JavaScript enumerates them.
        assert_eq!(
            object(&n(&[("b", 1.0), ("10", 2.0), ("2", 3.0)])),
            "{ '2': 3, '10': 2, b: 1 }"
        );
    }

    #[test]
    fn long_objects_take_a_line_per_key() {
        let text = object(&n(&[
            ("statsd.bad_lines_seen", 0.0),
            ("statsd.packets_received", 3.0),
            ("statsd.metrics_received", 4.0),
        ]));
        assert_eq!(
            text,
            "{\n  'statsd.bad_lines_seen': 0,\n  'statsd.packets_received': 3,\n  'statsd.metrics_received': 4\n}"
        );
    }

    #[test]
    fn arrays() {
        let a = vec![("t".to_string(), Value::Numbers(vec![1.0, 2.0, 3.0]))];
        assert_eq!(object(&a), "{ t: [ 1, 2, 3 ] }");
        let e = vec![("t".to_string(), Value::Numbers(vec![]))];
        assert_eq!(object(&e), "{ t: [] }");
    }
}
