//! A scene as an SVG document: one `<g class="…">` per part (title, legend, axes, grid,
//! lines, as graphite-web names its header groups), paths for shapes and `<text>` elements
//! for text, so the legend and labels stay selectable and searchable.

use super::color::Color;
use super::scene::{Anchor, Op, Path, Rect, Scene, Seg};
use std::fmt::Write;

fn num(v: f64) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.into() }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn d(path: &Path) -> String {
    let mut out = String::new();
    for seg in &path.segs {
        let _ = match *seg {
            Seg::Move(x, y) => write!(out, "M{} {}", num(x), num(y)),
            Seg::Line(x, y) => write!(out, "L{} {}", num(x), num(y)),
            Seg::Quad(a, b, x, y) => write!(out, "Q{} {} {} {}", num(a), num(b), num(x), num(y)),
            Seg::Cubic(a, b, c, e, x, y) => write!(
                out,
                "C{} {} {} {} {} {}",
                num(a),
                num(b),
                num(c),
                num(e),
                num(x),
                num(y)
            ),
            Seg::Close => write!(out, "Z"),
        };
    }
    out
}

fn paint(attr: &str, c: Color) -> String {
    if c.a == 255 {
        format!(r#"{attr}="{}""#, c.hex())
    } else {
        format!(
            r#"{attr}="{}" {attr}-opacity="{}""#,
            c.hex(),
            num(c.opacity())
        )
    }
}

pub fn write(scene: &Scene) -> String {
    let (w, h) = (scene.width, scene.height);
    let mut clips: Vec<Rect> = Vec::new();
    for op in &scene.ops {
        if let Op::Fill { clip: Some(r), .. } | Op::Stroke { clip: Some(r), .. } = op
            && !clips.contains(r)
        {
            clips.push(*r);
        }
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}px" height="{h}px" viewBox="0 0 {w} {h}" version="1.1">"#
    );
    if !clips.is_empty() {
        out.push_str("<defs>\n");
        for (i, r) in clips.iter().enumerate() {
            let _ = writeln!(
                out,
                r#"<clipPath id="clip{i}"><rect x="{}" y="{}" width="{}" height="{}"/></clipPath>"#,
                num(r.x),
                num(r.y),
                num(r.w),
                num(r.h)
            );
        }
        out.push_str("</defs>\n");
    }
    let clip_attr =
        |clip: &Option<Rect>| match clip.and_then(|r| clips.iter().position(|c| *c == r)) {
            Some(i) => format!(r#" clip-path="url(#clip{i})""#),
            None => String::new(),
        };
    let family = escape(&format!(
        "{}, 'Noto Sans', 'DejaVu Sans', sans-serif",
        scene.font_family
    ));
    let mut open = false;
    out.push_str(r#"<g class="graphite">"#);
    out.push('\n');
    for op in &scene.ops {
        match op {
            Op::Group(name) => {
                if open {
                    out.push_str("</g>\n");
                }
                let _ = writeln!(out, r#"<g class="{name}">"#);
                open = true;
            }
            Op::Fill { path, color, clip } => {
                let _ = writeln!(
                    out,
                    r#"<path d="{}" {}{}/>"#,
                    d(path),
                    paint("fill", *color),
                    clip_attr(clip)
                );
            }
            Op::Stroke {
                path,
                color,
                width,
                dash,
                clip,
            } => {
                let dash = dash
                    .map(|l| format!(r#" stroke-dasharray="{} {}""#, num(l), num(l)))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    r#"<path d="{}" fill="none" {} stroke-width="{}"{dash}{}/>"#,
                    d(path),
                    paint("stroke", *color),
                    num(*width),
                    clip_attr(clip)
                );
            }
            Op::Text(t) => {
                let anchor = match t.anchor {
                    Anchor::Start => "start",
                    Anchor::Middle => "middle",
                    Anchor::End => "end",
                };
                let rotate = if t.rotate != 0.0 {
                    format!(
                        r#" transform="rotate({} {} {})""#,
                        num(t.rotate),
                        num(t.x),
                        num(t.y)
                    )
                } else {
                    String::new()
                };
                let weight = if t.bold { r#" font-weight="bold""# } else { "" };
                let style = if t.italic {
                    r#" font-style="italic""#
                } else {
                    ""
                };
                let _ = writeln!(
                    out,
                    r#"<text x="{}" y="{}" font-family="{family}" font-size="{}" {} text-anchor="{anchor}"{rotate}{weight}{style} xml:space="preserve">{}</text>"#,
                    num(t.x),
                    num(t.y),
                    num(t.size),
                    paint("fill", t.color),
                    escape(&t.text)
                );
            }
        }
    }
    if open {
        out.push_str("</g>\n");
    }
    out.push_str("</g>\n</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_escaping() {
        assert_eq!(num(1.0), "1");
        assert_eq!(num(1.256), "1.26");
        assert_eq!(num(-0.001), "0");
        assert_eq!(escape(r#"a<b>&"c'"#), "a&lt;b&gt;&amp;&quot;c&apos;");
    }
}
