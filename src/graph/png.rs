//! A scene rasterized with tiny-skia (anti-aliased paths, dashes, clipping) and encoded as PNG.
//! Text is filled from the built-in font's glyph outlines, so no font needs to be installed.

use super::Error;
use super::color::Color;
use super::scene::{Op, Path, Rect, Scene, Seg};
use super::text;
use tiny_skia::{
    FillRule, LineCap, LineJoin, Mask, Paint, PathBuilder, Pixmap, Stroke, StrokeDash, Transform,
};

fn skia_path(path: &Path) -> Option<tiny_skia::Path> {
    let mut b = PathBuilder::new();
    for seg in &path.segs {
        match *seg {
            Seg::Move(x, y) => b.move_to(x as f32, y as f32),
            Seg::Line(x, y) => b.line_to(x as f32, y as f32),
            Seg::Quad(a, c, x, y) => b.quad_to(a as f32, c as f32, x as f32, y as f32),
            Seg::Cubic(a, c, e, f, x, y) => {
                b.cubic_to(a as f32, c as f32, e as f32, f as f32, x as f32, y as f32)
            }
            Seg::Close => b.close(),
        }
    }
    b.finish()
}

fn paint(c: Color) -> Paint<'static> {
    let mut p = Paint::default();
    p.set_color_rgba8(c.r, c.g, c.b, c.a);
    p.anti_alias = true;
    p
}

fn clip_mask(w: u32, h: u32, r: &Rect, cache: &mut Vec<(Rect, Mask)>) -> Option<usize> {
    if let Some(i) = cache.iter().position(|(c, _)| c == r) {
        return Some(i);
    }
    let rect = tiny_skia::Rect::from_xywh(r.x as f32, r.y as f32, r.w as f32, r.h as f32)?;
    let mut mask = Mask::new(w, h)?;
    mask.fill_path(
        &PathBuilder::from_rect(rect),
        FillRule::Winding,
        false,
        Transform::identity(),
    );
    cache.push((*r, mask));
    Some(cache.len() - 1)
}

pub fn write(scene: &Scene) -> Result<Vec<u8>, Error> {
    let (w, h) = (scene.width, scene.height);
    let mut pm = Pixmap::new(w, h).ok_or_else(|| Error::Encode(format!("no {w}x{h} canvas")))?;
    let bg = scene.background;
    pm.fill(tiny_skia::Color::from_rgba8(bg.r, bg.g, bg.b, bg.a));
    let mut masks: Vec<(Rect, Mask)> = Vec::new();
    for op in &scene.ops {
        match op {
            Op::Group(_) => {}
            Op::Fill { path, color, clip } => {
                let Some(p) = skia_path(path) else { continue };
                let m = clip.as_ref().and_then(|r| clip_mask(w, h, r, &mut masks));
                let mask = m.map(|i| &masks[i].1);
                pm.fill_path(
                    &p,
                    &paint(*color),
                    FillRule::Winding,
                    Transform::identity(),
                    mask,
                );
            }
            Op::Stroke {
                path,
                color,
                width,
                dash,
                clip,
            } => {
                let Some(p) = skia_path(path) else { continue };
                let stroke = Stroke {
                    width: *width as f32,
                    line_cap: LineCap::Butt,
                    line_join: LineJoin::Miter,
                    dash: dash.and_then(|d| StrokeDash::new(vec![d as f32, d as f32], 0.0)),
                    ..Stroke::default()
                };
                let m = clip.as_ref().and_then(|r| clip_mask(w, h, r, &mut masks));
                let mask = m.map(|i| &masks[i].1);
                pm.stroke_path(&p, &paint(*color), &stroke, Transform::identity(), mask);
            }
            Op::Text(t) => {
                let outline = text::outline(&t.text, t.size, t.x, t.y, t.anchor);
                let Some(p) = skia_path(&outline) else {
                    continue;
                };
                let (x, y) = (t.x as f32, t.y as f32);
                let mut transform = Transform::from_rotate_at(t.rotate as f32, x, y);
                if t.italic {
                    let skew = Transform::from_translate(x, y)
                        .pre_concat(Transform::from_skew(-0.2, 0.0))
                        .pre_translate(-x, -y);
                    transform = transform.pre_concat(skew);
                }
                let paint = paint(t.color);
                pm.fill_path(&p, &paint, FillRule::Winding, transform, None);
                if t.bold {
                    let stroke = Stroke {
                        width: (t.size / 20.0) as f32,
                        ..Stroke::default()
                    };
                    pm.stroke_path(&p, &paint, &stroke, transform, None);
                }
            }
        }
    }
    pm.encode_png().map_err(|e| Error::Encode(e.to_string()))
}
