//! The data part of graphite-web's `LineGraph`: colours, consolidation to the pixels
//! available (`consolidateDataPoints`), stacking, area fills and lines with null gaps
//! (`drawLines`), and `drawAsInfinite` series as vertical markers.

use super::color::Color;
use super::layout::{Area, Graph, YAxis};
use super::params::{AreaMode, LineMode, Params};
use super::scene::{Op, Path, Rect, Scene};
use super::{Consolidate, Error, Series};

/// A series being drawn.
#[derive(Debug, Clone)]
pub struct Line {
    pub name: String,
    pub start: i64,
    pub step: i64,
    /// As given, non-finite values made gaps.
    pub raw: Vec<Option<f64>>,
    /// Consolidated to the pixels (`values_per_point` raw values each), later stacked.
    pub values: Vec<Option<f64>>,
    pub values_per_point: usize,
    pub x_step: f64,
    pub color: Color,
    pub width: Option<f64>,
    pub dash: Option<f64>,
    pub alpha: Option<f64>,
    pub stacked: bool,
    pub right: bool,
    pub infinite: bool,
    pub invisible: bool,
    area_between: bool,
    consolidate: Consolidate,
    /// For areaMode=stacked: the running total below this series.
    below: Option<Vec<Option<f64>>>,
}

impl Line {
    pub fn end(&self) -> i64 {
        self.start + self.raw.len() as i64 * self.step
    }
}

/// Colours from the style or the `colorList` cycle, in series order.
pub fn prepare(p: &Params, input: &[Series]) -> Result<Vec<Line>, Error> {
    let mut cycle = p.color_list.iter().cycle();
    input
        .iter()
        .map(|s| {
            let color = match &s.style.color {
                Some(c) => Color::parse("color", c)?,
                None => *cycle.next().expect("colorList is never empty"),
            };
            let raw: Vec<Option<f64>> = s
                .values
                .iter()
                .map(|v| v.filter(|x| x.is_finite()))
                .collect();
            Ok(Line {
                name: s.name.clone(),
                start: s.start,
                step: i64::from(s.step.max(1)),
                values: raw.clone(),
                raw,
                values_per_point: 1,
                x_step: 1.0,
                color,
                width: s.style.line_width,
                dash: s.style.dashed.filter(|d| *d > 0.0),
                alpha: s.style.alpha,
                stacked: s.style.stacked,
                right: s.style.second_y_axis,
                infinite: s.style.draw_as_infinite,
                invisible: s.style.invisible,
                area_between: s.style.area_between,
                consolidate: s.style.consolidate,
                below: None,
            })
        })
        .collect()
}

fn merge(values: &[Option<f64>], how: Consolidate) -> Option<f64> {
    let mut known = values.iter().flatten().copied();
    let first = known.next()?;
    Some(match how {
        Consolidate::First => first,
        Consolidate::Last => known.last().unwrap_or(first),
        Consolidate::Min => known.fold(first, f64::min),
        Consolidate::Max => known.fold(first, f64::max),
        Consolidate::Sum => first + known.sum::<f64>(),
        Consolidate::Average => {
            let (sum, n) = known.fold((first, 1.0), |(s, n), v| (s + v, n + 1.0));
            sum / n
        }
    })
}

/// `consolidateDataPoints`: at most one point per `minXStep` pixels; returns the graph width.
pub fn consolidate(p: &Params, data: &mut [Line], area: &Area, time_range: i64) -> f64 {
    let graph_width = (area.xmax - area.xmin - (p.line_width + 1.0)).max(1.0);
    for l in data {
        let points = time_range as f64 / l.step as f64;
        let best = graph_width / points;
        if best < p.min_x_step {
            let drawable = (graph_width / p.min_x_step).floor().max(1.0);
            let per = (points / drawable).ceil().max(1.0) as usize;
            l.values = l.raw.chunks(per).map(|c| merge(c, l.consolidate)).collect();
            l.values_per_point = per;
            l.x_step = graph_width * per as f64 / points;
        } else {
            l.values = l.raw.clone();
            l.values_per_point = 1;
            l.x_step = best;
        }
    }
    graph_width
}

/// A connected piece of a series: (x, index of the value that gives y).
type Run = Vec<(f64, usize)>;

/// The pieces graphite-web's path would have, with its one-step tail into each gap, plus the
/// x of every `drawAsInfinite` marker.
fn runs(g: &Graph, l: &Line, axis: &YAxis, x0: f64) -> (Vec<Run>, Vec<f64>) {
    let (mut out, mut markers) = (Vec::new(), Vec::new());
    let mut cur: Run = Vec::new();
    let mut x = x0;
    let mut nones = 0usize;
    for (i, v) in l.values.iter().enumerate() {
        let v = if g.p.draw_null_as_zero {
            Some(v.unwrap_or(0.0))
        } else {
            *v
        };
        let v = v.filter(|v| axis.y(&g.area, *v).is_some());
        let Some(v) = v else {
            if nones == 0
                && let Some(&(_, last)) = cur.last()
            {
                cur.push((x, last));
            }
            if g.line_mode != LineMode::Connected && !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            x += l.x_step;
            nones += 1;
            continue;
        };
        if l.infinite && v > 0.0 {
            markers.push(x);
            x += l.x_step;
            continue;
        }
        let limit = g.p.connected_limit.unwrap_or(usize::MAX);
        let restart = match g.line_mode {
            LineMode::Connected => nones > limit || nones == i,
            _ => nones > 0,
        };
        if restart && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        cur.push((x, i));
        x += l.x_step;
        if g.line_mode == LineMode::Staircase {
            cur.push((x, i));
        }
        nones = 0;
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    (out, markers)
}

fn stack(p: &Params, data: &mut [Line], second: bool) {
    if data.iter().any(|l| l.stacked) {
        // graphite-web's sort_stacked: stacked series first, order kept.
        data.sort_by_key(|l| !l.stacked);
    }
    // areaBetween: the second of a pair is a band down to the first.
    for i in 1..data.len() {
        if data[i].area_between && data[i - 1].area_between && data[i - 1].below.is_none() {
            data[i].below = Some(data[i - 1].values.clone());
            data[i].stacked = true;
            data[i - 1].stacked = true;
            data[i - 1].invisible = true;
        }
    }
    match p.area_mode {
        AreaMode::Stacked if !second => {
            let mut total: Vec<f64> = Vec::new();
            for l in data.iter_mut().filter(|l| !l.infinite) {
                l.stacked = true;
                if total.len() < l.values.len() {
                    total.resize(l.values.len(), 0.0);
                }
                l.below = Some(total.iter().map(|t| Some(*t)).collect());
                for (v, t) in l.values.iter_mut().zip(total.iter_mut()) {
                    if let Some(v) = v {
                        let original = *v;
                        *v += *t;
                        *t += original;
                    }
                }
            }
        }
        AreaMode::First => {
            if let Some(l) = data.first_mut() {
                l.stacked = true;
            }
        }
        AreaMode::All => {
            for l in data.iter_mut().filter(|l| !l.infinite) {
                l.stacked = true;
            }
        }
        _ => {}
    }
}

/// `drawLines`: stacked areas first (bands on the running total for areaMode=stacked and
/// areaBetween; otherwise each filled down to zero, earlier series on top), then lines and
/// markers.
pub fn draw(s: &mut Scene, g: &Graph, mut data: Vec<Line>) {
    let (p, area) = (g.p, g.area);
    let clip = Some(Rect {
        x: area.xmin,
        y: area.ymin,
        w: area.xmax - area.xmin,
        h: area.ymax - area.ymin,
    });
    stack(p, &mut data, g.right.is_some());
    let axis_of = |l: &Line| match (&g.right, l.right) {
        (Some(r), true) => r,
        _ => &g.left,
    };
    let y_of = |axis: &YAxis, v: f64| axis.y(&area, v).map(|y| y.max(0.0));
    let x0_of = |l: &Line| {
        let missing = (l.start - g.start) as f64 / l.step as f64;
        area.xmin + l.x_step * (missing / l.values_per_point as f64) + p.line_width / 2.0
    };
    let mut fills: Vec<Op> = Vec::new();
    for l in data
        .iter()
        .filter(|l| l.stacked && !l.infinite && !l.invisible)
    {
        let axis = axis_of(l);
        let zero = axis.y(&area, 0.0).unwrap_or(area.ymax);
        let alpha = p.area_alpha.or(l.alpha).unwrap_or(1.0);
        let mut path = Path::new();
        for run in runs(g, l, axis, x0_of(l)).0 {
            for &(x, i) in &run {
                path.line_to(x, l.values[i].and_then(|v| y_of(axis, v)).unwrap_or(zero));
            }
            for &(x, i) in run.iter().rev() {
                let below = l.below.as_ref().and_then(|b| b.get(i).copied().flatten());
                path.line_to(x, below.and_then(|v| y_of(axis, v)).unwrap_or(zero));
            }
            path.close();
        }
        if !path.is_empty() {
            fills.push(Op::Fill {
                path,
                color: l.color.with_alpha(alpha),
                clip,
            });
        }
    }
    // Bands do not overlap; areas down to zero do, and graphite keeps earlier ones on top.
    fills.reverse();
    s.ops.extend(fills);
    for l in data.iter().filter(|l| !l.invisible) {
        if l.stacked && !l.infinite && p.area_alpha.is_none() {
            continue;
        }
        let axis = axis_of(l);
        let (pieces, markers) = runs(g, l, axis, x0_of(l));
        let mut path = Path::new();
        for run in pieces {
            let mut first = true;
            for (x, i) in run {
                let Some(y) = l.values[i].and_then(|v| y_of(axis, v)) else {
                    continue;
                };
                if first {
                    path.move_to(x, y);
                    first = false;
                }
                path.line_to(x, y);
            }
        }
        for x in markers {
            path.move_to(x, area.ymax);
            path.line_to(x, area.ymin);
        }
        if path.segs.is_empty() {
            continue;
        }
        s.ops.push(Op::Stroke {
            path,
            color: l.color.with_alpha(l.alpha.unwrap_or(1.0)),
            width: l.width.unwrap_or(p.line_width),
            dash: l.dash,
            clip,
        });
    }
}
