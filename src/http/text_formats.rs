//! graphite-web's csv and charting-library formats of `/render` (its `renderViewCsv`,
//! `renderViewDygraph` and `renderViewRickshaw`), written as it writes them.

use super::render::{format_in, py_float};
use crate::query::TimeSeries;
use jiff::tz::TimeZone;
use serde_json::Value;
use std::borrow::Cow;
use std::fmt::Write;

/// `format=csv`: `name,YYYY-mm-dd HH:MM:SS,value` per point, in `tz`, by Python's csv writer
/// (excel dialect: `\r\n`, a name holding `,`, `"` or a line break quoted, `"` doubled).
pub fn csv(series: &[TimeSeries], tz: &TimeZone) -> String {
    let mut out = String::new();
    for s in series {
        let name = csv_field(&s.name);
        for (i, v) in s.values.iter().enumerate() {
            let value = v.map(py_float).unwrap_or_default();
            let at = format_in(s.timestamp(i), tz);
            let _ = write!(out, "{name},{at},{value}\r\n");
        }
    }
    out
}

/// Python's csv `QUOTE_MINIMAL` for one field.
fn csv_field(s: &str) -> Cow<'_, str> {
    if s.contains([',', '"', '\r', '\n']) {
        Cow::Owned(format!("\"{}\"", s.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(s)
    }
}

/// `format=dygraph`: `{"labels" : ["Time", names…], "data" : [[ms, v…], …]}` over the first
/// series' timestamps; `{}` without series. Values are Python's `str()`, null for None and
/// NaN, `Infinity`/`-Infinity`.
pub fn dygraph(series: &[TimeSeries]) -> String {
    let Some(first) = series.first() else {
        return "{}".into();
    };
    let labels: Vec<Value> = std::iter::once("Time")
        .chain(series.iter().map(|s| s.name.as_str()))
        .map(|n| Value::String(n.into()))
        .collect();
    let rows = ((first.end - first.start).max(0) / first.step.max(1)) as usize;
    let mut lines = Vec::with_capacity(rows);
    for i in 0..rows {
        let mut line = format!("[{}000", first.start + i as i64 * first.step);
        for s in series {
            let text = match s.values.get(i).copied().flatten() {
                None => "null".to_string(),
                Some(v) if v.is_nan() => "null".to_string(),
                Some(v) if v == f64::INFINITY => "Infinity".to_string(),
                Some(v) if v == f64::NEG_INFINITY => "-Infinity".to_string(),
                Some(v) => py_float(v),
            };
            let _ = write!(line, ", {text}");
        }
        line.push(']');
        lines.push(line);
    }
    format!(
        "{{\"labels\" : {}, \"data\" : [{}]}}",
        python_dumps(&Value::Array(labels)),
        lines.join(", ")
    )
}

/// `format=rickshaw`: `[{"target": name, "datapoints": [{"x": t, "y": v}, …]}, …]`, with
/// Python's json for the values (`NaN`, `Infinity`).
pub fn rickshaw(series: &[TimeSeries]) -> String {
    let mut out = String::from("[");
    for (k, s) in series.iter().enumerate() {
        if k > 0 {
            out.push_str(", ");
        }
        let _ = write!(
            out,
            "{{\"target\": {}, \"datapoints\": [",
            python_dumps(&Value::String(s.name.clone()))
        );
        let points = ((s.end - s.start).max(0) / s.step.max(1)) as usize;
        for (i, v) in s.values.iter().take(points).enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            let y = match v {
                None => "null".to_string(),
                Some(v) if v.is_nan() => "NaN".to_string(),
                Some(v) if v.is_infinite() => {
                    if *v > 0.0 { "Infinity" } else { "-Infinity" }.to_string()
                }
                Some(v) => py_float(*v),
            };
            let _ = write!(out, "{{\"x\": {}, \"y\": {y}}}", s.timestamp(i));
        }
        out.push_str("]}");
    }
    out.push(']');
    out
}

/// Python's `json.dumps` spacing (`", "`) for a list of strings or a string.
fn python_dumps(v: &Value) -> String {
    match v {
        Value::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(python_dumps)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(name: &str, values: Vec<Option<f64>>) -> TimeSeries {
        TimeSeries::new(name, 60, 60, values)
    }

    #[test]
    fn csv_quotes_as_pythons_csv_writer() {
        let a = series("sumSeries(a,b)", vec![Some(1.0), None]);
        let b = series("say \"hi\"", vec![Some(0.5)]);
        assert_eq!(
            csv(&[a, b], &TimeZone::UTC),
            "\"sumSeries(a,b)\",1970-01-01 00:01:00,1.0\r\n\
             \"sumSeries(a,b)\",1970-01-01 00:02:00,\r\n\
             \"say \"\"hi\"\"\",1970-01-01 00:01:00,0.5\r\n"
        );
        assert_eq!(csv_field("a.b;c=d"), "a.b;c=d");
    }

    #[test]
    fn dygraph_as_graphite_web_writes_it() {
        assert_eq!(dygraph(&[]), "{}");
        let a = series("a", vec![Some(1.0), None, Some(f64::INFINITY)]);
        let b = series("b", vec![Some(0.5), Some(f64::NAN), Some(-2.0)]);
        assert_eq!(
            dygraph(&[a, b]),
            "{\"labels\" : [\"Time\", \"a\", \"b\"], \"data\" : [[60000, 1.0, 0.5], \
             [120000, null, null], [180000, Infinity, -2.0]]}"
        );
    }

    #[test]
    fn rickshaw_as_graphite_web_writes_it() {
        assert_eq!(rickshaw(&[]), "[]");
        let a = series("a\"", vec![Some(1.5), None, Some(f64::NAN)]);
        assert_eq!(
            rickshaw(&[a]),
            "[{\"target\": \"a\\\"\", \"datapoints\": [{\"x\": 60, \"y\": 1.5}, \
             {\"x\": 120, \"y\": null}, {\"x\": 180, \"y\": NaN}]}]"
        );
    }
}
