//! What a graph is made of, independent of the output format: a list of drawing operations in
//! pixel coordinates (origin top left, y down) that `svg` writes as elements and `png`
//! rasterizes. Layout decides everything; the two back ends only translate.

use super::color::Color;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Seg {
    Move(f64, f64),
    Line(f64, f64),
    Quad(f64, f64, f64, f64),
    Cubic(f64, f64, f64, f64, f64, f64),
    Close,
}

/// A path of sub-paths. `line_to` without a current point starts a sub-path, as in cairo.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Path {
    pub segs: Vec<Seg>,
    open: bool,
}

impl Path {
    pub fn new() -> Path {
        Path::default()
    }

    pub fn move_to(&mut self, x: f64, y: f64) {
        self.segs.push(Seg::Move(x, y));
        self.open = true;
    }

    pub fn line_to(&mut self, x: f64, y: f64) {
        if self.open {
            self.segs.push(Seg::Line(x, y));
        } else {
            self.move_to(x, y);
        }
    }

    pub fn close(&mut self) {
        if self.open {
            self.segs.push(Seg::Close);
            self.open = false;
        }
    }

    pub fn push(&mut self, seg: Seg) {
        match seg {
            Seg::Move(..) => self.open = true,
            Seg::Close => self.open = false,
            _ => {}
        }
        self.segs.push(seg);
    }

    /// True if no sub-path has a segment after its start.
    pub fn is_empty(&self) -> bool {
        !self
            .segs
            .iter()
            .any(|s| !matches!(s, Seg::Move(..) | Seg::Close))
    }

    pub fn line(x0: f64, y0: f64, x1: f64, y1: f64) -> Path {
        let mut p = Path::new();
        p.move_to(x0, y0);
        p.line_to(x1, y1);
        p
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    Start,
    Middle,
    End,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Text {
    pub text: String,
    /// The anchor point on the baseline.
    pub x: f64,
    pub y: f64,
    pub size: f64,
    pub color: Color,
    pub anchor: Anchor,
    /// Degrees clockwise around (x, y), as cairo's `rotate`.
    pub rotate: f64,
    pub bold: bool,
    pub italic: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Starts a named part (title, legend, axes, grid, lines); it lasts until the next one.
    Group(&'static str),
    Fill {
        path: Path,
        color: Color,
        clip: Option<Rect>,
    },
    Stroke {
        path: Path,
        color: Color,
        width: f64,
        dash: Option<f64>,
        clip: Option<Rect>,
    },
    Text(Text),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Scene {
    pub width: u32,
    pub height: u32,
    pub background: Color,
    pub font_family: String,
    pub ops: Vec<Op>,
}

impl Scene {
    pub fn fill_rect(&mut self, r: Rect, color: Color) {
        let mut path = Path::new();
        path.move_to(r.x, r.y);
        path.line_to(r.x + r.w, r.y);
        path.line_to(r.x + r.w, r.y + r.h);
        path.line_to(r.x, r.y + r.h);
        path.close();
        self.ops.push(Op::Fill {
            path,
            color,
            clip: None,
        });
    }

    /// A rectangle outline drawn inside `r` the way graphite-web offsets borders.
    pub fn stroke_rect(&mut self, r: Rect, color: Color, width: f64) {
        let o = width / 2.0;
        let (x, y, w, h) = (r.x + o, r.y + o, r.w - o, r.h - o);
        let mut path = Path::new();
        path.move_to(x, y);
        path.line_to(x + w, y);
        path.line_to(x + w, y + h);
        path.line_to(x, y + h);
        path.close();
        self.ops.push(Op::Stroke {
            path,
            color,
            width,
            dash: None,
            clip: None,
        });
    }

    pub fn stroke(&mut self, path: Path, color: Color, width: f64) {
        self.ops.push(Op::Stroke {
            path,
            color,
            width,
            dash: None,
            clip: None,
        });
    }
}
