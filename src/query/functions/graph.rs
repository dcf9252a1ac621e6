//! Graph: styling functions. They set [`Style`](crate::query::series::Style) hints for the
//! PNG/SVG renderer and rename as graphite does; only `stacked` changes values (it adds each
//! series onto the ones before it, as graphite-web's does). Grafana hides this group.

use super::Type::*;
use super::{Args, Default, Func, f, fmt_g, p};
use crate::query::Error;
use crate::query::series::TimeSeries;

const SL: super::Param = p("seriesList", SeriesList).req();

pub const FUNCTIONS: &[Func] = &[
    f(
        "color",
        "Graph",
        &[SL, p("theColor", Text).req()],
        color,
        "Draws the series in this color.",
    )
    .transparent(),
    f(
        "alpha",
        "Graph",
        &[SL, p("alpha", Float).req()],
        alpha,
        "Draws the series with this opacity (0 to 1).",
    )
    .transparent(),
    f(
        "lineWidth",
        "Graph",
        &[SL, p("width", Float).req()],
        line_width,
        "Draws the series with this line width.",
    )
    .transparent(),
    f(
        "dashed",
        "Graph",
        &[SL, p("dashLength", Integer).def(Default::Int(5))],
        dashed,
        "Draws the series dashed.",
    )
    .transparent(),
    f(
        "secondYAxis",
        "Graph",
        &[SL],
        second_y_axis,
        "Draws the series against a second Y axis.",
    )
    .transparent(),
    f(
        "drawAsInfinite",
        "Graph",
        &[SL],
        draw_as_infinite,
        "Draws a vertical line wherever the value is non-zero.",
    )
    .transparent(),
    f(
        "stacked",
        "Graph",
        &[SL, p("stack", Text)],
        stacked,
        "Stacks the series onto each other (values become running totals).",
    ),
    f(
        "areaBetween",
        "Graph",
        &[SL],
        area_between,
        "Fills the area between exactly two series.",
    )
    .transparent(),
    f(
        "cactiStyle",
        "Special",
        &[
            SL,
            p("system", Text).opts(&["binary", "si"]),
            p("units", Text),
        ],
        cacti_style,
        "Appends Current, Max and Min to each name, aligned like Cacti's legend.",
    )
    .by_value(),
    f(
        "threshold",
        "Graph",
        &[p("value", Float).req(), p("label", Text), p("color", Text)],
        threshold,
        "A constant line with a label and color.",
    ),
    f(
        "verticalLine",
        "Graph",
        &[p("ts", Date).req(), p("label", Text), p("color", Text)],
        vertical_line,
        "A vertical line at a time.",
    ),
];

fn with_style(a: &Args, f: impl Fn(&mut TimeSeries)) -> Result<Vec<TimeSeries>, Error> {
    let mut list = a.series(0)?;
    list.iter_mut().for_each(f);
    Ok(list)
}

fn color(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let c = a.string(1)?;
    with_style(a, |s| s.style.color = Some(c.clone()))
}

fn alpha(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let x = a.float(1)?;
    with_style(a, |s| s.style.alpha = Some(x))
}

fn line_width(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let w = a.float(1)?;
    with_style(a, |s| s.style.line_width = Some(w))
}

fn dashed(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let len = a.float(1)?;
    with_style(a, |s| {
        s.style.dashed = Some(len);
        s.tags.insert("dashed".into(), fmt_g(len));
        s.rename(format!("dashed({}, {})", s.name, fmt_g(len)));
    })
}

fn second_y_axis(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    with_style(a, |s| {
        s.style.second_y_axis = true;
        s.tags.insert("secondYAxis".into(), "1".into());
        s.rename(format!("secondYAxis({})", s.name));
    })
}

fn draw_as_infinite(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    with_style(a, |s| {
        s.style.draw_as_infinite = true;
        s.tags.insert("drawAsInfinite".into(), "1".into());
        s.rename(format!("drawAsInfinite({})", s.name));
    })
}

fn stacked(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let stack = a.string_opt(1)?;
    let mut total: Vec<f64> = Vec::new();
    let mut out = Vec::new();
    for s in a.series(0)? {
        let values = s
            .values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                if total.len() <= i {
                    total.push(0.0);
                }
                v.map(|v| {
                    total[i] += v;
                    total[i]
                })
            })
            .collect();
        let name = match &stack {
            None => format!("stacked({})", s.name),
            Some(_) => s.name.clone(),
        };
        let mut o = s.derive(name, values);
        if stack.is_none() {
            o.tags.insert("stacked".into(), "__DEFAULT__".into());
        }
        o.style.stack = Some(stack.clone().unwrap_or_else(|| "__DEFAULT__".into()));
        out.push(o);
    }
    Ok(out)
}

fn area_between(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let mut list = a.series(0)?;
    if list.len() != 2 {
        return Err(Error::BadArgument(
            "areaBetween series argument must reference *exactly* 2 series".into(),
        ));
    }
    let name = format!("areaBetween({})", list[1].path_expression);
    list[1].tags.insert("areaBetween".into(), "1".into());
    let tags = list[1].tags.clone();
    for (i, s) in list.iter_mut().enumerate() {
        s.style.area_between = true;
        s.style.stack = Some("areaBetween".into());
        s.style.invisible = i == 0;
        s.tags = tags.clone();
        s.rename(name.clone());
    }
    Ok(list)
}

fn cacti_style(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let system = a.string_opt(1)?;
    let units = a.string_opt(2)?;
    let fmt = |x: f64| -> String {
        match (&system, &units) {
            (Some(sys), Some(u)) => {
                let (v, p) = super::alias::format_units(x, sys == "binary");
                format!("{v:.2} {p}{u}")
            }
            (Some(sys), None) => {
                let (v, p) = super::alias::format_units(x, sys == "binary");
                format!("{v:.2}{p}")
            }
            (None, Some(u)) => format!("{x:.2} {u}"),
            (None, None) => format!("{x:.2}"),
        }
    };
    let mut list = a.series(0)?;
    use crate::query::series::Agg;
    let width = |agg: Agg, list: &[TimeSeries]| {
        list.iter()
            .map(|s| {
                fmt(agg
                    .apply(&s.values)
                    .filter(|v| *v != 0.0)
                    .unwrap_or(3.0)
                    .trunc())
                .len()
            })
            .max()
            .unwrap_or(0)
            + 3
    };
    let name_len = list.iter().map(|s| s.name.len()).max().unwrap_or(0);
    let (last_len, max_len, min_len) = (
        width(Agg::Last, &list),
        width(Agg::Max, &list),
        width(Agg::Min, &list),
    );
    for s in &mut list {
        let show = |agg: Agg| {
            agg.apply(&s.values)
                .map(&fmt)
                .unwrap_or_else(|| "nan".into())
        };
        let (last, max, min) = (show(Agg::Last), show(Agg::Max), show(Agg::Min));
        let n = format!(
            "{:<name_len$} Current:{last:<last_len$} Max:{max:<max_len$} Min:{min:<min_len$} ",
            s.name
        );
        s.rename(n);
    }
    Ok(list)
}

fn threshold(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let value = a.float(0)?;
    let text = super::py_str(value, false);
    let mut s = super::special::constant_line(a, value, text.clone());
    s.path_expression = format!("constantLine({text})");
    if let Some(label) = a.string_opt(1)? {
        s.rename(label);
    }
    s.style.color = a.string_opt(2)?;
    Ok(vec![s])
}

fn vertical_line(a: &Args) -> Result<Vec<TimeSeries>, Error> {
    let text = match a.expr(0) {
        Some(crate::query::target::Expr::Int(n)) => n.to_string(),
        _ => a.string(0)?,
    };
    let ts = crate::query::attime::parse_in(&text, a.ev.request.now, &a.ev.tz)
        .map_err(|e| Error::BadArgument(e.to_string()))?;
    if ts < a.ctx.from {
        return Err(Error::BadArgument(format!(
            "verticalLine(): timestamp {ts} exists before start of range"
        )));
    }
    if ts > a.ctx.until {
        return Err(Error::BadArgument(format!(
            "verticalLine(): timestamp {ts} exists after end of range"
        )));
    }
    let label = a.string_opt(1)?.unwrap_or_default();
    let mut s = TimeSeries::new(&label, ts, 1, vec![Some(1.0), Some(1.0)]);
    s.end = ts;
    s.style.draw_as_infinite = true;
    s.style.color = a.string_opt(2)?;
    Ok(vec![s])
}
