//! Text metrics and glyph outlines from the font built into the binary (Noto Sans Regular from
//! the `ttf-noto-sans` crate), so graphs need no system fonts or fontconfig. Layout measures
//! with it for both formats; the PNG back end fills its outlines.

use super::scene::{Anchor, Path, Seg};
use ab_glyph::{Font, FontRef, OutlineCurve};
use std::sync::OnceLock;

fn font() -> &'static FontRef<'static> {
    static FONT: OnceLock<FontRef<'static>> = OnceLock::new();
    FONT.get_or_init(|| {
        FontRef::try_from_slice(ttf_noto_sans::REGULAR).expect("the built-in font parses")
    })
}

/// cairo's `font_extents` at a size: ascent and descent (both positive) and line height.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metrics {
    pub ascent: f64,
    pub descent: f64,
    pub height: f64,
}

fn scale(size: f64) -> f64 {
    let f = font();
    size / f64::from(f.units_per_em().unwrap_or(1000.0))
}

pub fn metrics(size: f64) -> Metrics {
    let f = font();
    let s = scale(size);
    let ascent = f64::from(f.ascent_unscaled()) * s;
    let descent = -f64::from(f.descent_unscaled()) * s;
    Metrics {
        ascent,
        descent,
        height: ascent + descent + f64::from(f.line_gap_unscaled()) * s,
    }
}

/// The advance width of `text` at `size` pixels per em, kerning included.
pub fn width(text: &str, size: f64) -> f64 {
    let f = font();
    let mut total = 0.0f32;
    let mut prev = None;
    for c in text.chars() {
        let id = f.glyph_id(c);
        if let Some(p) = prev {
            total += f.kern_unscaled(p, id);
        }
        total += f.h_advance_unscaled(id);
        prev = Some(id);
    }
    f64::from(total) * scale(size)
}

/// The glyph outlines of `text` with the anchor on the baseline at (`x`, `y`), unrotated.
pub fn outline(text: &str, size: f64, x: f64, y: f64, anchor: Anchor) -> Path {
    let f = font();
    let s = scale(size);
    let mut pen = match anchor {
        Anchor::Start => x,
        Anchor::Middle => x - width(text, size) / 2.0,
        Anchor::End => x - width(text, size),
    };
    let mut path = Path::new();
    let mut prev = None;
    for c in text.chars() {
        let id = f.glyph_id(c);
        if let Some(p) = prev {
            pen += f64::from(f.kern_unscaled(p, id)) * s;
        }
        prev = Some(id);
        if let Some(o) = f.outline(id) {
            let pt = |p: ab_glyph::Point| (pen + f64::from(p.x) * s, y - f64::from(p.y) * s);
            let mut last: Option<(f64, f64)> = None;
            for curve in &o.curves {
                let (start, seg) = match *curve {
                    OutlineCurve::Line(a, b) => {
                        let (bx, by) = pt(b);
                        (pt(a), Seg::Line(bx, by))
                    }
                    OutlineCurve::Quad(a, b, c) => {
                        let ((bx, by), (cx, cy)) = (pt(b), pt(c));
                        (pt(a), Seg::Quad(bx, by, cx, cy))
                    }
                    OutlineCurve::Cubic(a, b, c, d) => {
                        let ((bx, by), (cx, cy), (dx, dy)) = (pt(b), pt(c), pt(d));
                        (pt(a), Seg::Cubic(bx, by, cx, cy, dx, dy))
                    }
                };
                if last.is_none_or(|l| (l.0 - start.0).abs() > 1e-6 || (l.1 - start.1).abs() > 1e-6)
                {
                    path.close();
                    path.move_to(start.0, start.1);
                }
                path.push(seg);
                last = Some(match seg {
                    Seg::Line(x, y) | Seg::Quad(_, _, x, y) | Seg::Cubic(_, _, _, _, x, y) => {
                        (x, y)
                    }
                    _ => start,
                });
            }
            path.close();
        }
        pen += f64::from(f.h_advance_unscaled(id)) * s;
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_scale_with_size() {
        let m = metrics(10.0);
        assert!(m.ascent > 7.0 && m.ascent < 12.0, "{m:?}");
        assert!(m.descent > 1.0 && m.descent < 4.0, "{m:?}");
        assert!(m.height >= m.ascent + m.descent);
        let w10 = width("hello", 10.0);
        assert!((width("hello", 20.0) - 2.0 * w10).abs() < 1e-6);
        assert!(width("WWW", 10.0) > width("iii", 10.0));
    }

    #[test]
    fn outlines_exist_for_text_and_not_for_spaces() {
        assert!(!outline("Ag", 10.0, 0.0, 10.0, Anchor::Start).is_empty());
        assert!(outline("  ", 10.0, 0.0, 10.0, Anchor::Start).is_empty());
    }
}
