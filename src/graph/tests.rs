//! Rendering checked by opening the output: PNGs decoded with the `png` crate and probed by
//! pixel, SVGs parsed with roxmltree.

use super::*;

pub(crate) fn series(name: &str, start: i64, step: u32, values: &[Option<f64>]) -> Series {
    Series {
        name: name.into(),
        start,
        step,
        values: values.to_vec(),
        style: Style::default(),
    }
}

fn wave(name: &str, n: usize, phase: f64, amp: f64) -> Series {
    let values: Vec<Option<f64>> = (0..n)
        .map(|i| Some(amp * (1.0 + ((i as f64 / 10.0) + phase).sin())))
        .collect();
    series(name, 1_700_000_000, 60, &values)
}

fn params(pairs: &[(&str, &str)]) -> Params {
    Params::from_pairs(pairs).unwrap()
}

/// A decoded RGBA image.
struct Image {
    w: usize,
    h: usize,
    px: Vec<u8>,
}

impl Image {
    fn decode(bytes: &[u8]) -> Image {
        let mut reader = ::png::Decoder::new(std::io::Cursor::new(bytes))
            .read_info()
            .unwrap();
        let mut px = vec![0; reader.output_buffer_size().expect("a decodable size")];
        let info = reader.next_frame(&mut px).unwrap();
        assert_eq!(info.color_type, ::png::ColorType::Rgba);
        assert_eq!(info.bit_depth, ::png::BitDepth::Eight);
        px.truncate(info.buffer_size());
        Image {
            w: info.width as usize,
            h: info.height as usize,
            px,
        }
    }

    fn at(&self, x: usize, y: usize) -> [u8; 3] {
        let i = (y * self.w + x) * 4;
        [self.px[i], self.px[i + 1], self.px[i + 2]]
    }

    /// Pixels within a small distance of `c` in the rectangle.
    fn count(&self, c: [u8; 3], xs: std::ops::Range<usize>, ys: std::ops::Range<usize>) -> usize {
        let near = |p: [u8; 3]| p.iter().zip(c).all(|(a, b)| a.abs_diff(b) < 40);
        ys.flat_map(|y| xs.clone().map(move |x| (x, y)))
            .filter(|&(x, y)| near(self.at(x, y)))
            .count()
    }

    /// Pixels darker than mid grey (anti-aliased text).
    fn dark(&self, xs: std::ops::Range<usize>, ys: std::ops::Range<usize>) -> usize {
        ys.flat_map(|y| xs.clone().map(move |x| (x, y)))
            .filter(|&(x, y)| self.at(x, y).iter().all(|c| *c < 128))
            .count()
    }

    /// Rows of column `x` whose colour is near `c`.
    fn rows(&self, x: usize, c: [u8; 3]) -> Vec<usize> {
        (0..self.h)
            .filter(|&y| self.count(c, x..x + 1, y..y + 1) == 1)
            .collect()
    }
}

const RED: [u8; 3] = [255, 0, 0];
const BLUE: [u8; 3] = [0, 0, 255];
const WHITE: [u8; 3] = [255, 255, 255];

fn png_of(pairs: &[(&str, &str)], data: &[Series]) -> Image {
    Image::decode(&render(&params(pairs), data, Format::Png).unwrap())
}

fn svg_of(pairs: &[(&str, &str)], data: &[Series]) -> String {
    String::from_utf8(render(&params(pairs), data, Format::Svg).unwrap()).unwrap()
}

/// The text of every `<text>` inside `<g class="{class}">`.
fn svg_texts(svg: &str, class: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).unwrap();
    doc.descendants()
        .filter(|n| n.has_tag_name("g") && n.attribute("class") == Some(class))
        .flat_map(|g| g.descendants().filter(|n| n.has_tag_name("text")))
        .map(|t| t.text().unwrap_or_default().to_string())
        .collect()
}

fn constant(name: &str, v: f64, n: usize) -> Series {
    series(name, 1_700_000_000, 60, &vec![Some(v); n])
}

#[test]
fn png_has_the_size_asked_for_a_plot_and_text_without_system_fonts() {
    let img = png_of(&[("colorList", "ff0000")], &[wave("a.b", 120, 0.0, 10.0)]);
    assert_eq!((img.w, img.h), (330, 250));
    // Background in the corners, the series colour in the plot, text (black) at the labels.
    assert_eq!(img.at(0, 0), WHITE);
    assert_eq!(img.at(329, 249), WHITE);
    assert!(img.count(RED, 40..320, 10..200) > 300, "series drawn");
    assert!(img.dark(0..40, 10..200) > 30, "y labels drawn");
    let big = png_of(
        &[("width", "800"), ("height", "600"), ("title", "Hello")],
        &[wave("a", 10, 0.0, 1.0)],
    );
    assert_eq!((big.w, big.h), (800, 600));
    assert!(big.dark(350..450, 8..30) > 20, "title glyphs rasterized");
}

#[test]
fn svg_has_legend_title_and_axis_text() {
    let data = [
        wave("servers.web01.cpu", 100, 0.0, 10.0),
        wave("servers.web02.cpu", 100, 1.0, 10.0),
    ];
    let svg = svg_of(&[("title", "CPU <all>"), ("vtitle", "percent")], &data);
    assert!(svg.starts_with("<svg"));
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let root = doc.root_element();
    assert_eq!(root.attribute("width"), Some("330px"));
    assert_eq!(root.attribute("height"), Some("250px"));
    assert_eq!(
        svg_texts(&svg, "legend"),
        ["servers.web01.cpu", "servers.web02.cpu"]
    );
    assert_eq!(svg_texts(&svg, "title"), ["CPU <all>"]);
    assert_eq!(svg_texts(&svg, "vtitle"), ["percent"]);
    let axes = svg_texts(&svg, "axes");
    assert!(axes.contains(&"0 ".to_string()), "{axes:?}");
    assert!(
        axes.iter().any(|t| t.contains(':')),
        "time labels: {axes:?}"
    );
    // Each series is one stroked path in its colorList colour.
    let strokes: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("g") && n.attribute("class") == Some("lines"))
        .flat_map(|g| g.children().filter_map(|n| n.attribute("stroke")))
        .collect();
    assert_eq!(strokes, ["#6464ff", "#00c800"]);
}

#[test]
fn legend_hides_itself_past_ten_series_unless_asked() {
    let many: Vec<Series> = (0..11)
        .map(|i| constant(&format!("s{i}"), f64::from(i), 10))
        .collect();
    assert!(svg_texts(&svg_of(&[], &many), "legend").is_empty());
    assert_eq!(
        svg_texts(&svg_of(&[("hideLegend", "false")], &many), "legend").len(),
        11
    );
    assert_eq!(svg_texts(&svg_of(&[], &many[..10]), "legend").len(), 10);
    assert!(svg_texts(&svg_of(&[("hideLegend", "true")], &many[..2]), "legend").is_empty());
    let only = svg_of(&[("graphOnly", "true"), ("title", "x")], &many[..2]);
    assert!(svg_texts(&only, "legend").is_empty() && svg_texts(&only, "title").is_empty());
    assert!(svg_texts(&only, "axes").is_empty());
}

#[test]
fn y_min_and_y_max_place_values() {
    // graphOnly: the plot is the whole image, so 50 of 0..100 is the middle row.
    let data = [constant("c", 50.0, 60)];
    let img = png_of(
        &[
            ("graphOnly", "1"),
            ("yMin", "0"),
            ("yMax", "100"),
            ("colorList", "red"),
            ("lineWidth", "3"),
        ],
        &data,
    );
    let red = [200, 0, 50];
    let rows = img.rows(165, red);
    assert!(rows.iter().all(|r| (123..=127).contains(r)), "{rows:?}");
    assert!(!rows.is_empty());
    let img = png_of(
        &[
            ("graphOnly", "1"),
            ("yMin", "0"),
            ("yMax", "200"),
            ("colorList", "red"),
            ("lineWidth", "3"),
        ],
        &data,
    );
    let rows = img.rows(165, red);
    assert!(
        !rows.is_empty() && rows.iter().all(|r| (185..=190).contains(r)),
        "{rows:?}"
    );
    // Values above yMax are cut at the plot's top, not drawn over the title.
    let img = png_of(
        &[
            ("yMax", "10"),
            ("colorList", "ff0000"),
            ("title", "t"),
            ("hideLegend", "true"),
        ],
        &[constant("c", 50.0, 60)],
    );
    assert_eq!(img.count(RED, 0..330, 0..250), 0);
    assert!(params(&[("yMin", "5"), ("yMax", "1")]).y_min.is_some());
    assert!(render(&params(&[("yMin", "5"), ("yMax", "1")]), &data, Format::Png).is_err());
}

#[test]
fn stacked_areas_are_ordered_bottom_up() {
    let data = [constant("low", 10.0, 60), constant("high", 20.0, 60)];
    let pairs = [
        ("graphOnly", "true"),
        ("areaMode", "stacked"),
        ("yMin", "0"),
        ("yMax", "40"),
        ("colorList", "ff0000,0000ff"),
    ];
    let img = png_of(&pairs, &data);
    // 0–10 red (rows 188–250), 10–30 blue (rows 63–187), above 30 background.
    assert_eq!(img.at(165, 240), RED);
    assert_eq!(img.at(165, 195), RED);
    assert_eq!(img.at(165, 180), BLUE);
    assert_eq!(img.at(165, 70), BLUE);
    assert_eq!(img.at(165, 50), WHITE);
    // Without stacking, areaMode=all fills each to zero with the first series on top.
    let pairs = [
        ("graphOnly", "true"),
        ("areaMode", "all"),
        ("yMin", "0"),
        ("yMax", "40"),
        ("colorList", "ff0000,0000ff"),
    ];
    let img = png_of(&pairs, &data);
    assert_eq!(img.at(165, 240), RED);
    assert_eq!(img.at(165, 150), BLUE);
    assert_eq!(img.at(165, 100), WHITE);
}

#[test]
fn events_are_vertical_markers() {
    let mut ev = series("deploys", 1_700_000_000, 60, &vec![None; 60]);
    ev.values[30] = Some(1.0);
    ev.style.draw_as_infinite = true;
    ev.style.color = Some("0000ff".into());
    let data = [constant("c", 5.0, 60), ev];
    let img = png_of(&[("graphOnly", "true"), ("colorList", "ff0000")], &data);
    // Find the marker's column: blue over (nearly) the whole height.
    let best = (0..img.w).map(|x| img.rows(x, BLUE).len()).max().unwrap();
    assert!(best > 240, "a full-height marker, got {best} rows");
    let columns = (0..img.w)
        .filter(|&x| img.rows(x, BLUE).len() > 200)
        .count();
    assert!(
        (1..=3).contains(&columns),
        "one thin marker, {columns} columns"
    );
    // It does not stretch the y axis.
    let svg = svg_of(&[], &data);
    assert!(
        !svg_texts(&svg, "axes").iter().any(|t| t.contains("1.0")),
        "{svg}"
    );
}

#[test]
fn nulls_leave_gaps() {
    let mut values = vec![Some(5.0); 100];
    for v in &mut values[40..60] {
        *v = None;
    }
    let data = [series("g", 1_700_000_000, 60, &values)];
    let img = png_of(
        &[
            ("graphOnly", "true"),
            ("colorList", "ff0000"),
            ("lineWidth", "2"),
        ],
        &data,
    );
    // 99 steps over 330 px: the gap spans about x 133–197 (one step of tail after 39).
    assert_eq!(img.count(RED, 150..190, 0..250), 0);
    assert!(img.count(RED, 20..120, 0..250) > 100);
    assert!(img.count(RED, 210..320, 0..250) > 100);
    // drawNullAsZero closes the gap at zero.
    let img = png_of(
        &[
            ("graphOnly", "true"),
            ("colorList", "ff0000"),
            ("drawNullAsZero", "true"),
            ("yMin", "-5"),
            ("lineWidth", "2"),
        ],
        &data,
    );
    assert!(img.count(RED, 150..190, 0..250) > 30);
}

#[test]
fn time_labels_follow_tz() {
    // 2023-11-14 22:13:20 UTC onwards, one day: 12-hour labels in the zone asked for.
    let data = [series("a", 1_700_000_000, 600, &vec![Some(1.0); 144])];
    let utc = svg_texts(&svg_of(&[], &data), "axes");
    let plus2 = svg_texts(&svg_of(&[("tz", "+02:00")], &data), "axes");
    let berlin = svg_texts(&svg_of(&[("tz", "Europe/Berlin")], &data), "axes");
    assert!(utc.contains(&"11/15 00:00".to_string()), "{utc:?}");
    assert!(plus2.contains(&"11/15 12:00".to_string()), "{plus2:?}");
    // Berlin is UTC+1 in November: its local midnight sits an hour (of 24) further left.
    let x_of = |pairs: &[(&str, &str)]| {
        let svg = svg_of(pairs, &data);
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let t = doc
            .descendants()
            .find(|n| n.text() == Some("11/15 00:00"))
            .unwrap();
        t.attribute("x").unwrap().parse::<f64>().unwrap()
    };
    let shift = x_of(&[]) - x_of(&[("tz", "Europe/Berlin")]);
    assert!((8.0..16.0).contains(&shift), "{shift}");
    assert!(berlin.contains(&"11/15 00:00".to_string()), "{berlin:?}");
    let custom = svg_texts(&svg_of(&[("xFormat", "%H.%M")], &data), "axes");
    assert!(custom.contains(&"00.00".to_string()), "{custom:?}");
}

#[test]
fn unit_systems_and_no_data() {
    let data = [wave("b", 50, 0.0, 4.0 * 1024.0 * 1024.0)];
    let si_data = [wave("b", 50, 0.0, 4e6)];
    let binary = svg_texts(&svg_of(&[("yUnitSystem", "binary")], &data), "axes");
    assert!(binary.iter().any(|t| t.ends_with("Mi ")), "{binary:?}");
    let si = svg_texts(&svg_of(&[], &si_data), "axes");
    assert!(si.iter().any(|t| t.ends_with("M ")), "{si:?}");
    let none = svg_texts(&svg_of(&[("yUnitSystem", "none")], &si_data), "axes");
    assert!(
        none.iter()
            .all(|t| !t.ends_with("M ") && !t.ends_with("Mi ")),
        "{none:?}"
    );
    let svg = svg_of(&[], &[]);
    assert!(svg.contains(">No Data</text>"));
    let img = png_of(&[], &[series("e", 0, 60, &[])]);
    assert!(
        img.count([200, 0, 50], 100..230, 100..160) > 20,
        "red No Data"
    );
}

#[test]
fn colours_widths_and_dashes_from_styles_and_params() {
    let mut a = constant("a", 1.0, 10);
    a.style.color = Some("#123456".into());
    a.style.line_width = Some(4.0);
    a.style.dashed = Some(3.0);
    let b = constant("b", 2.0, 10);
    let svg = svg_of(
        &[
            ("bgcolor", "black"),
            ("fgcolor", "white"),
            ("colorList", "green"),
        ],
        &[a, b],
    );
    assert!(
        svg.contains(r##"stroke="#123456" stroke-width="4" stroke-dasharray="3 3""##),
        "{svg}"
    );
    assert!(
        svg.contains(r##"stroke="#00c800" stroke-width="1.2""##),
        "{svg}"
    );
    assert!(svg.contains(r##"fill="#000000""##), "background");
    assert!(
        svg.contains(r##"fill="#ffffff" text-anchor"##),
        "fgcolor text"
    );
    let mut bad = constant("x", 1.0, 3);
    bad.style.color = Some("nocolour".into());
    assert!(render(&Params::default(), &[bad], Format::Svg).is_err());
}

#[test]
fn second_y_axis_has_its_own_labels() {
    let mut r = wave("right", 10, 0.0, 25000.0);
    r.style.second_y_axis = true;
    let svg = svg_of(&[], &[constant("left", 1.0, 10), r]);
    let axes = svg_texts(&svg, "axes");
    assert!(
        axes.iter().any(|t| t.contains(" k ")),
        "right axis in thousands: {axes:?}"
    );
    assert!(
        axes.iter().any(|t| t == "1.00 " || t == "1.0 "),
        "left axis near 1: {axes:?}"
    );
}

#[test]
fn stacked_style_and_log_scale() {
    let mut s = constant("s", 5.0, 10);
    s.style.stacked = true;
    let svg = svg_of(&[], &[constant("plain", 1.0, 10), s]);
    assert!(
        svg.contains(r##"fill="#00c800""##) || svg.contains(r##"fill="#6464ff""##),
        "filled area"
    );
    let log = svg_texts(
        &svg_of(
            &[("logBase", "10")],
            &[constant("a", 3.0, 5), constant("b", 4000.0, 5)],
        ),
        "axes",
    );
    assert!(
        log.contains(&"10.0 k ".to_string()) || log.iter().any(|t| t.starts_with("10.0 k")),
        "{log:?}"
    );
    assert!(
        render(
            &params(&[("logBase", "10")]),
            &[constant("z", 0.0, 5)],
            Format::Svg
        )
        .is_err()
    );
}

#[test]
fn area_between_fills_only_between_the_pair() {
    let mut low = constant("low", 10.0, 60);
    let mut high = constant("high", 30.0, 60);
    for s in [&mut low, &mut high] {
        s.style.area_between = true;
        s.style.stacked = true;
        s.style.color = Some("0000ff".into());
    }
    low.style.invisible = true;
    let pairs = [("graphOnly", "true"), ("yMin", "0"), ("yMax", "40")];
    let img = png_of(&pairs, &[low, high]);
    // 10–30 of 0–40 is rows 63–187.
    assert_eq!(img.at(165, 120), BLUE);
    assert_eq!(img.at(165, 230), WHITE, "nothing below the lower series");
    assert_eq!(img.at(165, 40), WHITE, "nothing above the upper series");
}
