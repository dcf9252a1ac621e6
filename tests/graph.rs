//! `/render?format=png|svg` on the real binary: carbon in, images out, GET and POST alike.

use crate::util::*;

/// One request, the raw answer: status, content type, body bytes.
fn fetch(d: &Daemon, method: &str, path: &str, form: &str) -> (u16, String, Vec<u8>) {
    d.request_raw(method, path, form)
}

#[test]
fn render_draws_png_and_svg() {
    let dir = TestDir::new();
    let d = Daemon::start(&dir.config(""));
    let t0 = (unix_now() - 1800) / 60 * 60;
    let lines: String = (0..120)
        .map(|i| {
            format!(
                "graph.web01.load {} {}\ngraph.web02.load {} {}\n",
                i % 10,
                t0 + i * 10,
                5,
                t0 + i * 10
            )
        })
        .collect();
    d.send_carbon(&lines);
    d.wait_render("/render?target=graph.*.load&from=-1h&format=json", |v| {
        v.as_array().is_some_and(|a| a.len() == 2) && points(v, 0).len() >= 100
    });

    let q = "target=graph.*.load&from=-1h&title=Load&width=500&height=300&colorList=ff0000,0000ff";
    let (status, ct, png) = fetch(&d, "GET", &format!("/render?{q}&format=png"), "");
    assert_eq!((status, ct.as_str()), (200, "image/png"));
    let mut reader = png::Decoder::new(std::io::Cursor::new(&png))
        .read_info()
        .unwrap();
    let mut px = vec![0; reader.output_buffer_size().expect("a decodable size")];
    let info = reader.next_frame(&mut px).unwrap();
    assert_eq!((info.width, info.height), (500, 300));
    let red = px
        .chunks(4)
        .filter(|p| p[0] > 230 && p[1] < 40 && p[2] < 40)
        .count();
    let blue = px
        .chunks(4)
        .filter(|p| p[0] < 40 && p[1] < 40 && p[2] > 230)
        .count();
    assert!(
        red > 200 && blue > 100,
        "both series drawn: red {red}, blue {blue}"
    );

    let (status, ct, svg) = fetch(&d, "POST", "/render", &format!("{q}&format=svg"));
    assert_eq!((status, ct.as_str()), (200, "image/svg+xml"));
    let svg = String::from_utf8(svg).unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let texts: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .collect();
    assert!(texts.contains(&"Load"), "{texts:?}");
    assert!(texts.contains(&"graph.web01.load") && texts.contains(&"graph.web02.load"));

    // Style functions and events: color() picks the line colour, drawAsInfinite(events())
    // draws a vertical marker at the event.
    let (status, _) = d.post(
        "/events/",
        "application/json",
        &format!(
            r#"{{"what":"deploy","tags":["deploy"],"when":{}}}"#,
            t0 + 600
        ),
    );
    assert_eq!(status, 200);
    let q = "target=color(graph.web01.load,'00ff00')&target=drawAsInfinite(events('deploy'))\
             &from=-1h&colorList=ff00ff&hideLegend=true&hideAxes=true&lineWidth=3&format=png";
    let (status, ct, png) = fetch(&d, "GET", &format!("/render?{q}"), "");
    assert_eq!(
        (status, ct.as_str()),
        (200, "image/png"),
        "{}",
        String::from_utf8_lossy(&png)
    );
    let mut reader = png::Decoder::new(std::io::Cursor::new(&png))
        .read_info()
        .unwrap();
    let mut px = vec![0; reader.output_buffer_size().expect("a decodable size")];
    let info = reader.next_frame(&mut px).unwrap();
    let (w, h) = (info.width as usize, info.height as usize);
    let at = |x: usize, y: usize| &px[(y * w + x) * 4..(y * w + x) * 4 + 3];
    let green = px
        .chunks(4)
        .filter(|p| p[0] < 40 && p[1] > 230 && p[2] < 40)
        .count();
    assert!(green > 100, "color() applied: {green}");
    let tallest = (0..w)
        .map(|x| {
            (0..h)
                .filter(|&y| {
                    let p = at(x, y);
                    p[0] > 230 && p[1] < 40 && p[2] > 230
                })
                .count()
        })
        .max()
        .unwrap();
    assert!(
        tallest > h / 2,
        "an event marker over the plot's height: {tallest} of {h} rows"
    );

    // Nothing matched: graphite's "No Data" image, not an error.
    let (status, _, svg) = fetch(&d, "GET", "/render?target=nothing.here&format=svg", "");
    assert_eq!(status, 200);
    assert!(String::from_utf8(svg).unwrap().contains("No Data"));
    // Bad graph parameters are a 400 that names them.
    for (bad, word) in [
        ("width=huge", "width"),
        ("bgcolor=nocolour", "bgcolor"),
        ("tz=Mars/Base", "tz"),
        ("areaMode=bubbles", "areaMode"),
    ] {
        let (status, _, body) = fetch(
            &d,
            "GET",
            &format!("/render?target=graph.*.load&format=png&{bad}"),
            "",
        );
        assert_eq!(status, 400, "{bad}");
        assert!(String::from_utf8_lossy(&body).contains(word), "{bad}");
    }
}
