//! A scene rasterized with tiny-skia (anti-aliased paths, dashes, clipping) and encoded as PNG;
//! large images in two bands of rows on two threads.
//! Text is filled from the built-in font's glyph outlines, so no font needs to be installed.

use super::Error;
use super::color::Color;
use super::scene::{Op, Path, Rect, Scene, Seg};
use super::text;
use tiny_skia::{
    FillRule, LineCap, LineJoin, Mask, Paint, PathBuilder, Pixmap, PixmapMut, Stroke, StrokeDash,
    Transform,
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

/// The clip masks of one band, made once per rectangle.
struct Masks {
    w: u32,
    h: u32,
    /// The band's first row in the scene.
    y0: u32,
    made: Vec<(Rect, Mask)>,
}

impl Masks {
    /// The mask of a clip rectangle given in the scene's coordinates.
    fn get(&mut self, r: &Rect) -> Option<&Mask> {
        if let Some(i) = self.made.iter().position(|(c, _)| c == r) {
            return Some(&self.made[i].1);
        }
        let y = r.y - f64::from(self.y0);
        let rect = tiny_skia::Rect::from_xywh(r.x as f32, y as f32, r.w as f32, r.h as f32)?;
        let mut mask = Mask::new(self.w, self.h)?;
        mask.fill_path(
            &PathBuilder::from_rect(rect),
            FillRule::Winding,
            false,
            Transform::identity(),
        );
        self.made.push((*r, mask));
        self.made.last().map(|(_, m)| m)
    }
}

/// The clip of an op that draws data (fills and strokes are clipped to the plot area).
fn clip_of(op: &Op) -> Option<&Rect> {
    match op {
        Op::Fill { clip, .. } | Op::Stroke { clip, .. } => clip.as_ref(),
        _ => None,
    }
}

/// Draws a run of ops clipped to the same rectangle without a mask, then puts back every
/// pixel the mask leaves out: the same picture as drawing each op through the mask, where
/// a fully covered pixel is blended exactly as without one, but tiny-skia's blitter runs
/// fewer pipeline stages for every span of every line.
struct Unmasked {
    clip: Rect,
    saved: Vec<u8>,
}

impl Unmasked {
    fn restore(self, pm: &mut PixmapMut<'_>, mask: &Mask) {
        let data = pm.data_mut();
        for (i, &m) in mask.data().iter().enumerate() {
            if m == 0 {
                data[i * 4..i * 4 + 4].copy_from_slice(&self.saved[i * 4..i * 4 + 4]);
            }
        }
    }
}

/// Images with at least this many pixels are drawn as two bands of rows on two threads.
const BAND_MIN_PIXELS: u32 = 100_000;

pub fn write(scene: &Scene) -> Result<Vec<u8>, Error> {
    let two = scene.width.saturating_mul(scene.height) >= BAND_MIN_PIXELS && crate::cores() >= 2;
    write_in(scene, if two { 2 } else { 1 })
}

/// Rasterizes in `bands` horizontal bands (1 or 2; the second on its own thread), each
/// drawing every op shifted to its rows, so each thread scans and blends only its half of
/// every line. The bands meet in the middle of the plot, where the lines are.
pub(super) fn write_in(scene: &Scene, bands: u32) -> Result<Vec<u8>, Error> {
    let (w, h) = (scene.width, scene.height);
    let len = tiny_skia::IntSize::from_wh(w, h)
        .map(|s| s.width() as usize * s.height() as usize * 4)
        .ok_or_else(|| Error::Encode(format!("no {w}x{h} canvas")))?;
    let mut data = vec![0u8; len];
    let split = if bands > 1 && h >= 2 {
        let plot = scene.ops.iter().find_map(clip_of);
        let middle = plot.map_or(f64::from(h) / 2.0, |r| r.y + r.h / 2.0);
        (middle.round() as u32).clamp(1, h - 1)
    } else {
        h
    };
    let shapes: Vec<Shape> = scene.ops.iter().map(shape).collect();
    let (top, bottom) = data.split_at_mut(split as usize * w as usize * 4);
    std::thread::scope(|s| {
        if split < h {
            s.spawn(|| draw(scene, &shapes, bottom, split));
        }
        draw(scene, &shapes, top, 0);
    });
    encode(w, h, data)
}

/// An op's path in tiny-skia's form, made once for every band.
enum Shape {
    /// Nothing to draw (or a path tiny-skia refuses, which it would not draw either).
    Skip,
    /// Filled with the winding rule: a fill, a text's glyphs, or a stroke wider than a pixel
    /// already turned into its outline (what `stroke_path` does under a translation).
    Fill(tiny_skia::Path),
    /// A thin or dashed stroke, left to `stroke_path` (hairlines, dashing).
    Stroke(tiny_skia::Path, Stroke),
}

fn stroke_of(width: f64, dash: Option<f64>) -> Stroke {
    Stroke {
        width: width as f32,
        line_cap: LineCap::Butt,
        line_join: LineJoin::Miter,
        dash: dash.and_then(|d| StrokeDash::new(vec![d as f32, d as f32], 0.0)),
        ..Stroke::default()
    }
}

fn shape(op: &Op) -> Shape {
    let made = match op {
        Op::Group(_) => None,
        Op::Fill { path, .. } => skia_path(path).map(Shape::Fill),
        Op::Stroke {
            path, width, dash, ..
        } => skia_path(path).and_then(|p| {
            let stroke = stroke_of(*width, *dash);
            // Wider than one pixel and solid: never a hairline, and the resolution scale
            // of a translation is 1.
            if *width > 1.0 && stroke.dash.is_none() {
                p.stroke(&stroke, 1.0).map(Shape::Fill)
            } else {
                Some(Shape::Stroke(p, stroke))
            }
        }),
        Op::Text(t) => {
            skia_path(&text::outline(&t.text, t.size, t.x, t.y, t.anchor)).map(Shape::Fill)
        }
    };
    made.unwrap_or(Shape::Skip)
}

/// Draws the scene's rows `y0..` into `data`, a band of whole rows.
fn draw(scene: &Scene, shapes: &[Shape], data: &mut [u8], y0: u32) {
    let w = scene.width;
    let h = (data.len() / 4 / w as usize) as u32;
    let Some(mut pm) = PixmapMut::from_bytes(data, w, h) else {
        return;
    };
    let shift = if y0 == 0 {
        Transform::identity()
    } else {
        Transform::from_translate(0.0, -(y0 as f32))
    };
    let bg = scene.background;
    pm.fill(tiny_skia::Color::from_rgba8(bg.r, bg.g, bg.b, bg.a));
    let mut masks = Masks {
        w,
        h,
        y0,
        made: Vec::new(),
    };
    let mut unmasked: Option<Unmasked> = None;
    for (op, shape) in scene.ops.iter().zip(shapes) {
        let clip = clip_of(op).copied();
        if unmasked.as_ref().is_some_and(|u| Some(u.clip) != clip)
            && let Some(u) = unmasked.take()
            && let Some(m) = masks.get(&u.clip)
        {
            u.restore(&mut pm, m);
        }
        if let Some(c) = clip
            && unmasked.is_none()
            && masks.get(&c).is_some()
        {
            unmasked = Some(Unmasked {
                clip: c,
                saved: pm.data_mut().to_vec(),
            });
        }
        // Inside a run the mask is applied afterwards; a clip that makes no mask (not a
        // valid rectangle) clips nothing, as before.
        match (op, shape) {
            (_, Shape::Skip) | (Op::Group(_), _) => {}
            (Op::Fill { color, .. } | Op::Stroke { color, .. }, Shape::Fill(p)) => {
                pm.fill_path(p, &paint(*color), FillRule::Winding, shift, None);
            }
            (Op::Stroke { color, .. }, Shape::Stroke(p, stroke)) => {
                pm.stroke_path(p, &paint(*color), stroke, shift, None);
            }
            (Op::Fill { .. }, Shape::Stroke(..)) | (Op::Text(_), Shape::Stroke(..)) => {}
            (Op::Text(t), Shape::Fill(p)) => {
                let (x, y) = (t.x as f32, t.y as f32);
                let mut transform = Transform::from_rotate_at(t.rotate as f32, x, y);
                if t.italic {
                    let skew = Transform::from_translate(x, y)
                        .pre_concat(Transform::from_skew(-0.2, 0.0))
                        .pre_translate(-x, -y);
                    transform = transform.pre_concat(skew);
                }
                let transform = shift.pre_concat(transform);
                let paint = paint(t.color);
                pm.fill_path(p, &paint, FillRule::Winding, transform, None);
                if t.bold {
                    let stroke = Stroke {
                        width: (t.size / 20.0) as f32,
                        ..Stroke::default()
                    };
                    pm.stroke_path(p, &paint, &stroke, transform, None);
                }
            }
        }
    }
    if let Some(u) = unmasked.take()
        && let Some(m) = masks.get(&u.clip)
    {
        u.restore(&mut pm, m);
    }
}

/// PNG bytes of premultiplied RGBA pixels: tiny-skia's encoder (demultiplied copy, RGBA, 8
/// bits, the png crate's default filter and compression), without the copy when every pixel
/// is opaque, where premultiplied and straight alpha are the same bytes.
fn encode(w: u32, h: u32, data: Vec<u8>) -> Result<Vec<u8>, Error> {
    let err = |e: png::EncodingError| Error::Encode(e.to_string());
    if !data.chunks_exact(4).all(|p| p[3] == 255) {
        let size = tiny_skia::IntSize::from_wh(w, h)
            .ok_or_else(|| Error::Encode(format!("no {w}x{h} canvas")))?;
        let pm = Pixmap::from_vec(data, size)
            .ok_or_else(|| Error::Encode(format!("no {w}x{h} canvas")))?;
        return pm.encode_png().map_err(err);
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, w, h);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(err)?;
    writer.write_image_data(&data).map_err(err)?;
    writer.finish().map_err(err)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::scene::{Path, Rect};

    fn wave(y0: f64, amp: f64, w: f64) -> Path {
        let mut p = Path::new();
        let mut x = 5.0;
        while x < w - 5.0 {
            p.line_to(x, y0 + amp * (x / 7.3).sin() + (x * 0.37).sin() * 3.0);
            x += 1.7;
        }
        p
    }

    /// Fills and strokes, clipped to two rectangles and not, crossing their edges and the
    /// middle of the image, one dashed and one translucent.
    fn scene(background: Color) -> Scene {
        let plot = Rect {
            x: 40.5,
            y: 20.25,
            w: 300.0,
            h: 150.0,
        };
        let other = Rect {
            x: 10.0,
            y: 100.0,
            w: 80.0,
            h: 80.0,
        };
        let mut band = wave(60.0, 50.0, 360.0);
        band.line_to(355.0, 190.0);
        band.line_to(5.0, 190.0);
        band.close();
        let stroke = |path, color, width, dash, clip| Op::Stroke {
            path,
            color,
            width,
            dash,
            clip,
        };
        Scene {
            width: 360,
            height: 200,
            background,
            font_family: "Sans".into(),
            ops: vec![
                Op::Fill {
                    path: band,
                    color: Color::rgb(0, 128, 0).with_alpha(0.5),
                    clip: Some(plot),
                },
                stroke(
                    wave(90.0, 95.0, 360.0),
                    Color::rgb(255, 0, 0),
                    1.2,
                    None,
                    Some(plot),
                ),
                stroke(
                    wave(100.0, 30.0, 360.0),
                    Color::rgb(0, 0, 255),
                    2.0,
                    Some(4.0),
                    Some(plot),
                ),
                stroke(
                    wave(120.0, 60.0, 360.0),
                    Color::rgb(0, 0, 0),
                    1.0,
                    None,
                    None,
                ),
                stroke(
                    wave(140.0, 70.0, 360.0),
                    Color::rgb(200, 0, 200),
                    1.5,
                    None,
                    Some(other),
                ),
                stroke(
                    wave(60.0, 40.0, 360.0),
                    Color::rgb(0, 200, 200),
                    1.2,
                    None,
                    Some(plot),
                ),
            ],
        }
    }

    /// The scene drawn as before: every clipped op through its clip mask, then tiny-skia's
    /// own PNG encoder.
    fn masked(scene: &Scene) -> Vec<u8> {
        let (w, h) = (scene.width, scene.height);
        let mut pm = Pixmap::new(w, h).unwrap();
        let bg = scene.background;
        pm.fill(tiny_skia::Color::from_rgba8(bg.r, bg.g, bg.b, bg.a));
        let mut masks = Masks {
            w,
            h,
            y0: 0,
            made: Vec::new(),
        };
        for op in &scene.ops {
            let mask = clip_of(op).and_then(|r| masks.get(r));
            match op {
                Op::Fill { path, color, .. } => {
                    let p = skia_path(path).unwrap();
                    let id = Transform::identity();
                    pm.fill_path(&p, &paint(*color), FillRule::Winding, id, mask);
                }
                Op::Stroke {
                    path,
                    color,
                    width,
                    dash,
                    ..
                } => {
                    let stroke = Stroke {
                        width: *width as f32,
                        line_cap: LineCap::Butt,
                        line_join: LineJoin::Miter,
                        dash: dash.and_then(|d| StrokeDash::new(vec![d as f32, d as f32], 0.0)),
                        ..Stroke::default()
                    };
                    let p = skia_path(path).unwrap();
                    let id = Transform::identity();
                    pm.stroke_path(&p, &paint(*color), &stroke, id, mask);
                }
                _ => unreachable!(),
            }
        }
        pm.encode_png().unwrap()
    }

    fn pixels(png: &[u8]) -> Vec<u8> {
        let mut reader = ::png::Decoder::new(std::io::Cursor::new(png))
            .read_info()
            .unwrap();
        let mut px = vec![0; reader.output_buffer_size().expect("a decodable size")];
        let info = reader.next_frame(&mut px).unwrap();
        px.truncate(info.buffer_size());
        px
    }

    /// Channel differences of two pictures: the largest, and how many pixels differ by more
    /// than `by` in some channel.
    fn compare(a: &[u8], b: &[u8], by: u8) -> (u8, usize) {
        assert_eq!(a.len(), b.len());
        let worst = a
            .iter()
            .zip(b)
            .map(|(x, y)| x.abs_diff(*y))
            .max()
            .unwrap_or(0);
        let over = a
            .chunks(4)
            .zip(b.chunks(4))
            .filter(|(p, q)| p.iter().zip(q.iter()).any(|(x, y)| x.abs_diff(*y) > by))
            .count();
        (worst, over)
    }

    /// Drawing a run of clipped ops unmasked and putting back what the mask leaves out gives
    /// the masked picture, up to the rounding of one blend (a fully covered pixel goes
    /// through tiny-skia's other blend path).
    #[test]
    fn unmasked_runs_draw_what_masks_draw() {
        for bg in [
            Color::rgb(255, 255, 255),
            Color::rgb(0, 0, 0).with_alpha(0.25),
        ] {
            let s = scene(bg);
            let (got, want) = (pixels(&write_in(&s, 1).unwrap()), pixels(&masked(&s)));
            let (worst, _) = compare(&got, &want, 0);
            // One step premultiplied; the PNG holds straight colour, so a step at alpha 64
            // is up to four.
            let limit = if bg.a == 255 { 1 } else { 4 };
            assert!(
                worst <= limit,
                "background {bg:?}: a channel differs by {worst}"
            );
        }
    }

    /// The encoder writes what tiny-skia's writes, with and without transparent pixels.
    #[test]
    fn encoding_is_tiny_skias() {
        for bg in [
            Color::rgb(255, 255, 255),
            Color::rgb(0, 0, 0).with_alpha(0.25),
        ] {
            let s = scene(bg);
            let size = tiny_skia::IntSize::from_wh(s.width, s.height).unwrap();
            let mut data = vec![0u8; s.width as usize * s.height as usize * 4];
            let shapes: Vec<Shape> = s.ops.iter().map(shape).collect();
            draw(&s, &shapes, &mut data, 0);
            let want = Pixmap::from_vec(data.clone(), size)
                .unwrap()
                .encode_png()
                .unwrap();
            assert!(encode(s.width, s.height, data).unwrap() == want, "{bg:?}");
        }
    }

    /// The lower band draws every path moved up by whole rows and cut at its top row, which
    /// moves where an edge's anti-aliasing samples fall by a hair: a few edge pixels differ by
    /// a coverage step, nothing else.
    #[test]
    fn two_bands_draw_the_same_picture() {
        let s = scene(Color::rgb(255, 255, 255));
        let (one, two) = (
            pixels(&write_in(&s, 1).unwrap()),
            pixels(&write_in(&s, 2).unwrap()),
        );
        let (worst, over) = compare(&one, &two, 1);
        assert!(worst <= 32, "a channel differs by {worst}");
        assert!(
            over * 500 < one.len() / 4,
            "{over} pixels differ by more than 1"
        );
    }
}
