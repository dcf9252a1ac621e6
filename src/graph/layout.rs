//! `LineGraph.drawGraph` from graphite-web: the frame (background, title, vertical title,
//! legend), the axes (y tics that may push the plot area right, which changes how many points
//! fit, so graphite iterates), labels and grid. The data itself is drawn by `lines`.

use super::axis::{Tics, data_limits};
use super::color::Color;
use super::lines::{self, Line};
use super::params::{AreaMode, LEGEND_MAX_ITEMS, LineMode, Params, UnitSystem};
use super::scene::{Anchor, Op, Rect, Scene, Text};
use super::{Error, Series, text, time};

const DARKGREY: Color = Color::rgb(111, 111, 111);
const RED: Color = Color::rgb(200, 0, 50);

/// The plot area; it shrinks as the title, legend and labels take room.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Area {
    pub xmin: f64,
    pub xmax: f64,
    pub ymin: f64,
    pub ymax: f64,
}

/// One y axis with its labels.
pub struct YAxis {
    pub tics: Tics,
    pub labels: Vec<(f64, String)>,
    pub label_width: f64,
}

impl YAxis {
    /// `getYCoord`: pixel row of `value`; `None` where a log axis has no place for it.
    pub fn y(&self, area: &Area, value: f64) -> Option<f64> {
        let f = self.tics.fraction(value)?;
        Some(area.ymax - f * (area.ymax - area.ymin)).filter(|y| y.is_finite())
    }
}

#[derive(Clone, Copy)]
enum VAlign {
    Top,
    Middle,
    Baseline,
}

/// Everything `drawGraph` decides before drawing lines.
pub struct Graph<'a> {
    pub p: &'a Params,
    pub area: Area,
    pub left: YAxis,
    pub right: Option<YAxis>,
    pub start: i64,
    pub end: i64,
    pub line_mode: LineMode,
    pub graph_width: f64,
}

fn text_op(
    s: &mut Scene,
    p: &Params,
    content: &str,
    (x, y): (f64, f64),
    (size, color): (f64, Color),
    (anchor, valign): (Anchor, VAlign),
    rotate: f64,
) {
    let m = text::metrics(size);
    let vertical = match valign {
        VAlign::Top => m.ascent,
        VAlign::Middle => m.height / 2.0 - m.descent,
        VAlign::Baseline => 0.0,
    };
    let a = rotate.to_radians();
    s.ops.push(Op::Text(Text {
        text: content.to_string(),
        x: x - a.sin() * vertical,
        y: y + a.cos() * vertical,
        size,
        color,
        anchor,
        rotate,
        bold: p.font_bold,
        italic: p.font_italic,
    }));
}

pub fn draw(p: &Params, input: &[Series]) -> Result<Scene, Error> {
    let (w, h) = (f64::from(p.width), f64::from(p.height));
    let mut s = Scene {
        width: p.width,
        height: p.height,
        background: p.bgcolor,
        font_family: p.font_name.clone(),
        ops: Vec::new(),
    };
    s.fill_rect(
        Rect {
            x: 0.0,
            y: 0.0,
            w,
            h,
        },
        p.bgcolor,
    );
    let mut data = lines::prepare(p, input)?;
    let start = data.iter().map(|l| l.start).min().unwrap_or(0);
    let end = data.iter().map(Line::end).max().unwrap_or(0);
    if data.is_empty() || end <= start {
        let size = (w * h).ln();
        text_op(
            &mut s,
            p,
            "No Data",
            (w / 2.0, h / 2.0),
            (size, RED),
            (Anchor::Middle, VAlign::Top),
            0.0,
        );
        return Ok(s);
    }
    let graph_only = p.graph_only;
    let second = data.iter().any(|l| l.right);
    let right_side = p.y_axis_right && !second && !graph_only;
    let hide_axes = graph_only || p.hide_axes;
    let margin = if graph_only { 0.0 } else { p.margin };
    let mut area = if graph_only {
        Area {
            xmin: 0.0,
            xmax: w,
            ymin: 0.0,
            ymax: h,
        }
    } else {
        Area {
            xmin: margin + 10.0,
            xmax: w - margin,
            ymin: margin,
            ymax: h - margin,
        }
    };
    let mut line_mode = p.line_mode;
    if line_mode == LineMode::Slope && data.iter().any(|l| l.raw.len() == 1) {
        line_mode = LineMode::Staircase;
    }

    let title_size = p.font_size + p.font_size.ln().floor();
    let title_lh = text::metrics(title_size).height;
    if !graph_only && !p.title.is_empty() {
        s.ops.push(Op::Group("title"));
        let mut y = area.ymin;
        for line in p.title.split('\n') {
            text_op(
                &mut s,
                p,
                line,
                (w / 2.0, y),
                (title_size, p.fgcolor),
                (Anchor::Middle, VAlign::Top),
                0.0,
            );
            y += title_lh;
        }
        area.ymin = if right_side { y } else { y + margin };
    }
    if !graph_only && !p.vtitle.is_empty() {
        s.ops.push(Op::Group("vtitle"));
        let mut x = area.xmin + title_lh;
        for line in p.vtitle.split('\n') {
            text_op(
                &mut s,
                p,
                line,
                (x, h / 2.0),
                (title_size, p.fgcolor),
                (Anchor::Middle, VAlign::Baseline),
                270.0,
            );
            x += title_lh;
        }
        area.xmin = x + margin + title_lh;
    }
    if second && !p.vtitle_right.is_empty() {
        s.ops.push(Op::Group("vtitleRight"));
        let mut x = area.xmax - title_lh;
        for line in p.vtitle_right.split('\n') {
            text_op(
                &mut s,
                p,
                line,
                (x, h / 2.0),
                (title_size, p.fgcolor),
                (Anchor::Middle, VAlign::Baseline),
                90.0,
            );
            x -= title_lh;
        }
        area.xmax = x - margin - title_lh;
    }

    let hide_legend = graph_only || p.hide_legend.unwrap_or(data.len() > LEGEND_MAX_ITEMS);
    if !hide_legend {
        let mut elements: Vec<(String, Color, bool)> = data
            .iter()
            .filter(|l| !l.name.is_empty())
            .filter(|l| !(p.hide_null_from_legend && l.raw.iter().all(Option::is_none)))
            .map(|l| (l.name.clone(), l.color, l.right))
            .collect();
        if p.unique_legend {
            let mut seen = std::collections::HashSet::new();
            elements.retain(|e| seen.insert(e.0.clone()));
        }
        if !elements.is_empty() {
            s.ops.push(Op::Group("legend"));
            legend(&mut s, p, &mut area, &elements, second);
        }
    }

    let fm = text::metrics(p.font_size);
    if !hide_axes && !p.hide_x_axis {
        area.ymax -= fm.ascent * 2.0;
    }
    let end = if line_mode == LineMode::Staircase {
        end
    } else {
        data.iter().map(|l| l.end() - l.step).max().unwrap_or(end)
    };
    let time_range = (end - start).max(1);

    // Labels can push the plot area in, which changes how many points fit: iterate.
    let mut axes = None;
    for _ in 0..8 {
        let before = area;
        let graph_width = lines::consolidate(p, &mut data, &area, time_range);
        let (left, right) = y_axes(p, &data, &mut area, margin, right_side, hide_axes)?;
        axes = Some((left, right, graph_width));
        if area == before {
            break;
        }
    }
    let (left, right, graph_width) = axes.expect("the loop runs at least once");
    let g = Graph {
        p,
        area,
        left,
        right,
        start,
        end,
        line_mode,
        graph_width,
    };

    if !hide_axes {
        s.ops.push(Op::Group("axes"));
        labels(&mut s, &g, right_side)?;
        if !p.hide_grid {
            s.ops.push(Op::Group("grid"));
            grid(&mut s, &g);
        }
    }
    s.ops.push(Op::Group("lines"));
    lines::draw(&mut s, &g, data);
    Ok(s)
}

fn legend(
    s: &mut Scene,
    p: &Params,
    area: &mut Area,
    elements: &[(String, Color, bool)],
    second: bool,
) {
    let (w, size) = (f64::from(p.width), p.font_size);
    let m = text::metrics(size);
    let padding = 5.0;
    let longest = elements.iter().map(|e| e.0.as_str()).fold("", |a, b| {
        if b.chars().count() >= a.chars().count() {
            b
        } else {
            a
        }
    });
    let box_size = m.height - 1.0;
    let line_height = m.height + 1.0;
    let label_width = text::width(longest, size) + 2.0 * (box_size + padding);
    let two_columns =
        text::width(&format!("{longest} {longest}"), size) + 2.0 * (box_size + padding) + 50.0 < w;
    let entry = |s: &mut Scene, bx: f64, tx: f64, y: f64, name: &str, color: Color, anchor| {
        let r = Rect {
            x: bx,
            y,
            w: box_size,
            h: box_size,
        };
        s.fill_rect(r, color);
        s.stroke_rect(r, DARKGREY, 1.0);
        text_op(
            s,
            p,
            name,
            (tx, y),
            (size, p.fgcolor),
            (anchor, VAlign::Top),
            0.0,
        );
    };
    if second && two_columns {
        let columns = ((w - area.xmin) / label_width).floor().max(1.0);
        let n_right = elements.iter().filter(|e| e.2).count();
        let n_lines = (elements.len() - n_right).max(n_right) as f64;
        let columns = (columns / 2.0).floor().max(1.0) as usize;
        area.ymax -= (n_lines / columns as f64).max(1.0) * line_height + padding;
        let (mut x, mut y) = (area.xmin, area.ymax + 2.0 * padding);
        let (mut x_right, mut y_right) = (area.xmax - area.xmin, y);
        let (mut n, mut nr) = (0, 0);
        for (name, color, right) in elements {
            if *right {
                nr += 1;
                entry(
                    s,
                    x_right - padding,
                    x_right - box_size,
                    y_right,
                    name,
                    *color,
                    Anchor::End,
                );
                x_right -= label_width;
                if nr % columns == 0 {
                    x_right = area.xmax - area.xmin;
                    y_right += line_height;
                }
            } else {
                n += 1;
                entry(s, x, x + box_size + padding, y, name, *color, Anchor::Start);
                x += label_width;
                if n % columns == 0 {
                    x = area.xmin;
                    y += line_height;
                }
            }
        }
    } else {
        let columns = (w / label_width).floor().max(1.0) as usize;
        let n_lines = elements.len().div_ceil(columns) as f64;
        area.ymax -= n_lines * line_height + padding;
        let (mut x, mut y) = (area.xmin, area.ymax + 2.0 * padding);
        for (i, (name, color, right)) in elements.iter().enumerate() {
            if *right {
                entry(
                    s,
                    x + label_width + padding,
                    x + label_width,
                    y,
                    name,
                    *color,
                    Anchor::End,
                );
            } else {
                entry(s, x, x + box_size + padding, y, name, *color, Anchor::Start);
            }
            x += label_width;
            if (i + 1) % columns == 0 {
                x = area.xmin;
                y += line_height;
            }
        }
    }
}

fn axis(
    p: &Params,
    data: &[Line],
    want: impl Fn(&Line) -> bool,
    (min, max): (Option<f64>, Option<Option<f64>>),
    step: Option<f64>,
    labelled: bool,
) -> Result<YAxis, Error> {
    let chosen = || {
        data.iter()
            .filter(|l| want(l))
            .map(|l| (l.values.as_slice(), l.infinite))
    };
    let (lo, hi) = data_limits(
        chosen(),
        p.draw_null_as_zero,
        p.area_mode == AreaMode::Stacked,
    );
    let mut tics = Tics::new(lo, hi, p.y_unit_system, p.log_base)?;
    tics.apply(min, max, p.y_limit)?;
    match step {
        Some(st) => tics.set_step(st),
        None => tics.choose_step(&p.y_divisors, p.y_unit_system == UnitSystem::Binary),
    }
    tics.choose_limits()?;
    let labels: Vec<(f64, String)> = if labelled {
        tics.label_values()
            .into_iter()
            .map(|v| (v, tics.label(v)))
            .collect()
    } else {
        Vec::new()
    };
    let label_width = labels
        .iter()
        .map(|(_, l)| text::width(l, p.font_size))
        .fold(0.0, f64::max);
    Ok(YAxis {
        tics,
        labels,
        label_width,
    })
}

/// `setupYAxis` / `setupTwoYAxes`: tics for each axis, and room for their labels.
fn y_axes(
    p: &Params,
    data: &[Line],
    area: &mut Area,
    margin: f64,
    right_side: bool,
    hide_axes: bool,
) -> Result<(YAxis, Option<YAxis>), Error> {
    let w = f64::from(p.width);
    if !data.iter().any(|l| l.right) {
        let left = axis(p, data, |_| true, (p.y_min, p.y_max), p.y_step, !hide_axes)?;
        if !hide_axes && !p.hide_y_axis {
            if right_side {
                area.xmax = area.xmax.min(w - left.label_width * 1.02);
            } else {
                area.xmin = area.xmin.max(margin + left.label_width * 1.02);
            }
        }
        return Ok((left, None));
    }
    let left_limits = (p.y_min_left.or(p.y_min), p.y_max_left.or(p.y_max));
    let left = axis(p, data, |l| !l.right, left_limits, p.y_step, true)?;
    let right = axis(
        p,
        data,
        |l| l.right,
        (p.y_min_right, p.y_max_right),
        p.y_step,
        true,
    )?;
    area.xmin = area.xmin.max(margin + left.label_width * 1.02);
    area.xmax = area.xmax.min(w - right.label_width * 1.02);
    Ok((left, Some(right)))
}

/// `drawLabels`: y labels beside the plot, time labels under it.
fn labels(s: &mut Scene, g: &Graph, right_side: bool) -> Result<(), Error> {
    let (p, area) = (g.p, &g.area);
    let size = p.font_size;
    if !p.hide_y_axis {
        let mut put = |axis: &YAxis, x: f64, anchor: Anchor| {
            for (value, label) in &axis.labels {
                if let Some(y) = axis.y(area, *value) {
                    text_op(
                        s,
                        p,
                        label,
                        (x, y.max(0.0)),
                        (size, p.fgcolor),
                        (anchor, VAlign::Middle),
                        0.0,
                    );
                }
            }
        };
        match &g.right {
            None if right_side => put(
                &g.left,
                area.xmax + g.left.label_width * 0.02,
                Anchor::Start,
            ),
            None => put(&g.left, area.xmin - g.left.label_width * 0.02, Anchor::End),
            Some(right) => {
                put(&g.left, area.xmin - g.left.label_width * 0.02, Anchor::End);
                put(
                    right,
                    area.xmax + right.label_width * 0.02 + 3.0,
                    Anchor::Start,
                );
            }
        }
    }
    if !p.hide_x_axis {
        let conf = x_config(g);
        let format = p.x_format.as_deref().unwrap_or(conf.format);
        let y = area.ymax + text::metrics(size).ascent;
        for t in time::ticks(g.start, g.end, conf.label.0, conf.label.1, &p.tz) {
            let label = time::label(t, format, &p.tz)?;
            let x = area.xmin + (t - g.start) as f64 * x_scale(g);
            text_op(
                s,
                p,
                &label,
                (x, y),
                (size, p.fgcolor),
                (Anchor::Middle, VAlign::Top),
                0.0,
            );
        }
    }
    Ok(())
}

fn x_scale(g: &Graph) -> f64 {
    g.graph_width / (g.end - g.start).max(1) as f64
}

fn x_config(g: &Graph) -> &'static time::Config {
    let range = (g.end - g.start).max(1);
    time::config(range as f64 / g.graph_width.max(1.0), range)
}

/// `drawGridLines`: horizontal lines at the labels (minor ones between), vertical lines at
/// the time grid, and the plot's side borders.
fn grid(s: &mut Scene, g: &Graph) {
    let (p, a) = (g.p, &g.area);
    let major = p.major_grid_color;
    let minor = p.minor_grid_color;
    let values: Vec<f64> = g.left.labels.iter().map(|(v, _)| *v).collect();
    for (i, value) in values.iter().enumerate() {
        let Some(y) = g.left.y(a, *value).filter(|y| *y >= 0.0) else {
            continue;
        };
        s.stroke(super::scene::Path::line(a.xmin, y, a.xmax, y), major, 0.4);
        if p.minor_y >= 1 && i + 1 < values.len() {
            let (lo, hi) = (value.min(values[i + 1]), value.max(values[i + 1]));
            let distance = (hi - lo) / f64::from(1 + p.minor_y);
            let top_factor = p.log_base.map_or(1.0, |b| b * b);
            for k in 0..p.minor_y {
                let v = lo + f64::from(1 + k) * distance;
                if v >= top_factor * g.left.tics.top {
                    continue;
                }
                if let Some(y) = g.left.y(a, v).filter(|y| *y >= 0.0) {
                    s.stroke(super::scene::Path::line(a.xmin, y, a.xmax, y), minor, 0.3);
                }
            }
        }
    }
    let conf = x_config(g);
    let scale = x_scale(g);
    for ((unit, step), color, width) in [(conf.minor, minor, 0.25), (conf.major, major, 0.33)] {
        for t in time::ticks(g.start, g.end, unit, step, &p.tz) {
            let x = a.xmin + (t - g.start) as f64 * scale;
            if x < a.xmax {
                s.stroke(super::scene::Path::line(x, a.ymax, x, a.ymin), color, width);
            }
        }
    }
    let mut border = super::scene::Path::line(a.xmax, a.ymax, a.xmax, a.ymin);
    border.move_to(a.xmin, a.ymax);
    border.line_to(a.xmin, a.ymin);
    s.stroke(border, major, 0.5);
}
