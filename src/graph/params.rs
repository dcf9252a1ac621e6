//! The render parameters that shape a graph, read the way graphite-web's `parseOptions` and
//! `LineGraph` read them: the last value of a repeated key wins, an empty value or `default`
//! means "not given", `min`/`max`/`thickness` are the old names of `yMin`/`yMax`/`lineWidth`.

use super::Error;
use super::color::Color;
use jiff::tz::TimeZone;

/// Largest image side, and largest image area, in pixels (a PNG is drawn in memory, 4 B/px).
pub const MAX_SIDE: u32 = 8192;
pub const MAX_PIXELS: u64 = 16 * 1024 * 1024;
/// graphite-web's `LEGEND_MAX_ITEMS`: with more series the legend is hidden unless asked for.
pub const LEGEND_MAX_ITEMS: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AreaMode {
    None,
    First,
    All,
    Stacked,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineMode {
    Slope,
    Staircase,
    Connected,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitSystem {
    Si,
    Binary,
    Sec,
    Msec,
    None,
}

/// Everything that decides how a graph looks. Build it with [`Params::from_pairs`].
#[derive(Debug, Clone)]
pub struct Params {
    pub width: u32,
    pub height: u32,
    pub margin: f64,
    pub title: String,
    pub vtitle: String,
    pub vtitle_right: String,
    /// `None`: hidden when there are more than [`LEGEND_MAX_ITEMS`] series.
    pub hide_legend: Option<bool>,
    pub hide_axes: bool,
    pub hide_x_axis: bool,
    pub hide_y_axis: bool,
    pub hide_grid: bool,
    pub graph_only: bool,
    pub unique_legend: bool,
    pub hide_null_from_legend: bool,
    pub area_mode: AreaMode,
    pub area_alpha: Option<f64>,
    pub line_mode: LineMode,
    pub connected_limit: Option<usize>,
    pub line_width: f64,
    pub draw_null_as_zero: bool,
    pub y_min: Option<f64>,
    /// `Some(None)` is `yMax=max`: the top is the data's maximum, not a rounded value.
    pub y_max: Option<Option<f64>>,
    pub y_limit: Option<f64>,
    pub y_step: Option<f64>,
    /// With a second y axis the left one reads `yMinLeft`/`yMaxLeft` (else `yMin`/`yMax`).
    pub y_min_left: Option<f64>,
    pub y_max_left: Option<Option<f64>>,
    pub y_min_right: Option<f64>,
    pub y_max_right: Option<Option<f64>>,
    pub y_divisors: Vec<u32>,
    pub y_unit_system: UnitSystem,
    pub y_axis_right: bool,
    pub log_base: Option<f64>,
    pub minor_y: u32,
    pub min_x_step: f64,
    pub bgcolor: Color,
    pub fgcolor: Color,
    pub major_grid_color: Color,
    pub minor_grid_color: Color,
    pub color_list: Vec<Color>,
    pub font_name: String,
    pub font_size: f64,
    pub font_bold: bool,
    pub font_italic: bool,
    pub x_format: Option<String>,
    pub tz: TimeZone,
    pub tz_name: String,
}

/// graphite-web's `graphTemplates.conf.example` themes: background, foreground, major and
/// minor grid lines, line colours. `default` is graphite-web 1.1's built-in look.
const TEMPLATES: [(&str, [&str; 4], &str); 7] = [
    (
        "default",
        ["white", "black", "rose", "grey"],
        "blue,green,red,purple,brown,yellow,aqua,grey,magenta,pink,gold,rose",
    ),
    (
        "classic",
        ["black", "white", "white", "grey"],
        "blue,green,red,purple,brown,yellow,aqua,grey,magenta,pink,gold,rose",
    ),
    (
        "noc",
        ["black", "white", "white", "grey"],
        "blue,green,red,yellow,purple,brown,aqua,grey,magenta,pink,gold,rose",
    ),
    (
        "solarized-light",
        ["#fdf6e3", "#657b83", "#073642", "#586e75"],
        "268bd2aa,859900aa,dc322faa,d33682aa,db4b16aa,b58900aa,2aa198aa,6c71c4aa",
    ),
    (
        "solarized-dark",
        ["#002b36", "#839496", "#fdf6e3", "#eee8d5"],
        "268bd2aa,859900aa,dc322faa,d33682aa,db4b16aa,b58900aa,2aa198aa,6c71c4aa",
    ),
    (
        "grafana",
        ["white", "black", "rose", "grey"],
        "#7eb26d,#eab839,#6ed0e0,#ef843c,#e24d42,#1f78c1,#ba43a9,#705da0,#508642,#cca300,#447ebc",
    ),
    (
        "alphas",
        ["white", "black", "grey", "rose"],
        "00ff00aa,ff000077,00337799",
    ),
];

fn colors(what: &str, list: &str) -> Result<Vec<Color>, Error> {
    let list: Vec<Color> = list
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| Color::parse(what, c))
        .collect::<Result<_, _>>()?;
    if list.is_empty() {
        return Err(Error::BadParam(what.into(), "no colours given".into()));
    }
    Ok(list)
}

fn number(key: &str, v: &str) -> Result<f64, Error> {
    v.trim()
        .parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
        .ok_or_else(|| Error::BadParam(key.into(), format!("{v:?} is not a number")))
}

/// graphite-web treats `true`/`false` as booleans and any other given value as truthy
/// (`0` is an int and falsy).
fn boolean(v: &str) -> bool {
    !matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "false" | "0" | "no" | "off"
    )
}

fn limit(key: &str, v: &str) -> Result<Option<f64>, Error> {
    if v == "max" {
        Ok(None)
    } else {
        number(key, v).map(Some)
    }
}

impl Default for Params {
    fn default() -> Self {
        Params::from_pairs::<&str, &str>(&[]).expect("the defaults are valid")
    }
}

impl Params {
    /// Reads the graph parameters out of a request's `(key, value)` pairs; keys that are not
    /// graph parameters (`target`, `from`, …) are ignored.
    pub fn from_pairs<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> Result<Params, Error> {
        let get = |key: &str| {
            pairs
                .iter()
                .rev()
                .find(|(k, _)| k.as_ref() == key)
                .map(|(_, v)| v.as_ref())
                .filter(|v| !v.is_empty() && !v.eq_ignore_ascii_case("default"))
        };
        let num = |key: &str| get(key).map(|v| number(key, v)).transpose();
        let flag = |key: &str| get(key).is_some_and(boolean);

        let template = get("template").unwrap_or("default");
        let (_, theme, lines) = TEMPLATES
            .iter()
            .find(|(name, _, _)| *name == template)
            .unwrap_or(&TEMPLATES[0]);
        let color = |key: &str, default: &str| Color::parse(key, get(key).unwrap_or(default));

        let side = |key: &str, default: u32| -> Result<u32, Error> {
            match num(key)? {
                None => Ok(default),
                Some(v) if v >= 1.0 && v <= f64::from(MAX_SIDE) => Ok(v as u32),
                Some(v) => Err(Error::BadParam(
                    key.into(),
                    format!("{v} is out of range (1 to {MAX_SIDE} pixels)"),
                )),
            }
        };
        let width = side("width", 330)?;
        let height = side("height", 250)?;
        if u64::from(width) * u64::from(height) > MAX_PIXELS {
            return Err(Error::BadParam(
                "width".into(),
                format!("{width}x{height} is more than {MAX_PIXELS} pixels"),
            ));
        }

        let area_mode = match get("areaMode").map(str::to_ascii_lowercase).as_deref() {
            None | Some("none") => AreaMode::None,
            Some("first") => AreaMode::First,
            Some("all") => AreaMode::All,
            Some("stacked") => AreaMode::Stacked,
            Some(other) => {
                return Err(Error::BadParam(
                    "areaMode".into(),
                    format!("{other:?} is not one of none, first, all, stacked"),
                ));
            }
        };
        let line_mode = match get("lineMode").map(str::to_ascii_lowercase).as_deref() {
            None | Some("slope") => LineMode::Slope,
            Some("staircase") => LineMode::Staircase,
            Some("connected") => LineMode::Connected,
            Some(other) => {
                return Err(Error::BadParam(
                    "lineMode".into(),
                    format!("{other:?} is not one of slope, staircase, connected"),
                ));
            }
        };
        // Unknown unit systems fall back to si, as in graphite-web.
        let y_unit_system = match get("yUnitSystem").map(str::to_ascii_lowercase).as_deref() {
            Some("binary") => UnitSystem::Binary,
            Some("sec") => UnitSystem::Sec,
            Some("msec") => UnitSystem::Msec,
            Some("none") => UnitSystem::None,
            _ => UnitSystem::Si,
        };
        let y_divisors = match get("yDivisors") {
            None => vec![4, 5, 6],
            Some(list) => list
                .split(',')
                .map(|d| {
                    d.trim()
                        .parse::<u32>()
                        .ok()
                        .filter(|&d| d >= 1)
                        .ok_or_else(|| {
                            Error::BadParam(
                                "yDivisors".into(),
                                format!("{d:?} is not an integer ≥ 1"),
                            )
                        })
                })
                .collect::<Result<_, _>>()?,
        };
        let log_base = match get("logBase") {
            None => None,
            Some("e") => Some(std::f64::consts::E),
            Some(v) => Some(number("logBase", v)?).filter(|&b| b > 1.0),
        };
        let tz_name = get("tz").unwrap_or("UTC").to_string();
        let tz = zone(&tz_name)?;
        let font_size = num("fontSize")?.unwrap_or(10.0);
        if !(1.0..=200.0).contains(&font_size) {
            return Err(Error::BadParam(
                "fontSize".into(),
                format!("{font_size} is out of range (1 to 200)"),
            ));
        }
        let line_width = num("lineWidth")?.or(num("thickness")?).unwrap_or(1.2);
        if !(0.0..=100.0).contains(&line_width) {
            return Err(Error::BadParam(
                "lineWidth".into(),
                format!("{line_width} is out of range (0 to 100)"),
            ));
        }
        let y_step = num("yStep")?;
        if y_step.is_some_and(|s| s <= 0.0) {
            return Err(Error::BadParam("yStep".into(), "must be positive".into()));
        }

        Ok(Params {
            width,
            height,
            margin: num("margin")?.filter(|m| *m >= 0.0).unwrap_or(10.0),
            title: get("title").unwrap_or_default().to_string(),
            vtitle: get("vtitle").unwrap_or_default().to_string(),
            vtitle_right: get("vtitleRight").unwrap_or_default().to_string(),
            hide_legend: get("hideLegend").map(boolean),
            hide_axes: flag("hideAxes"),
            hide_x_axis: flag("hideXAxis"),
            hide_y_axis: flag("hideYAxis"),
            hide_grid: flag("hideGrid"),
            graph_only: flag("graphOnly"),
            unique_legend: flag("uniqueLegend"),
            hide_null_from_legend: flag("hideNullFromLegend"),
            area_mode,
            area_alpha: num("areaAlpha")?.map(|a| a.clamp(0.0, 1.0)),
            line_mode,
            connected_limit: num("connectedLimit")?.map(|l| l.max(0.0) as usize),
            line_width,
            draw_null_as_zero: flag("drawNullAsZero"),
            y_min: num("yMin")?.or(num("min")?),
            y_max: match get("yMax").or(get("max")) {
                None => None,
                Some(v) => Some(limit("yMax", v)?),
            },
            y_limit: num("yLimit")?,
            y_step,
            y_min_left: num("yMinLeft")?,
            y_max_left: get("yMaxLeft").map(|v| limit("yMaxLeft", v)).transpose()?,
            y_min_right: num("yMinRight")?,
            y_max_right: get("yMaxRight")
                .map(|v| limit("yMaxRight", v))
                .transpose()?,
            y_divisors,
            y_unit_system,
            y_axis_right: get("yAxisSide").is_some_and(|s| s.eq_ignore_ascii_case("right")),
            log_base,
            minor_y: num("minorY")?.map_or(1, |m| m.clamp(0.0, 100.0) as u32),
            min_x_step: num("minXStep")?.filter(|s| *s > 0.0).unwrap_or(1.0),
            bgcolor: color("bgcolor", theme[0])?,
            fgcolor: color("fgcolor", theme[1])?,
            major_grid_color: color("majorGridLineColor", theme[2])?,
            minor_grid_color: color("minorGridLineColor", theme[3])?,
            color_list: colors("colorList", get("colorList").unwrap_or(lines))?,
            font_name: get("fontName").unwrap_or("Sans").to_string(),
            font_size,
            font_bold: flag("fontBold"),
            font_italic: flag("fontItalic"),
            x_format: get("xFormat").map(String::from),
            tz,
            tz_name,
        })
    }
}

/// `UTC`, an IANA name (`Europe/Berlin`; the system's zoneinfo, else the copy built into
/// tally), or a fixed offset such as `+02:00`, `-0530` or `UTC+3`.
pub fn zone(name: &str) -> Result<TimeZone, Error> {
    let bad = || Error::TimeZone(name.to_string());
    if matches!(name, "UTC" | "utc" | "Z" | "GMT" | "Etc/UTC") {
        return Ok(TimeZone::UTC);
    }
    let offset = name
        .strip_prefix("UTC")
        .or_else(|| name.strip_prefix("GMT"))
        .unwrap_or(name);
    if let Some(sign) = offset.chars().next().filter(|c| *c == '+' || *c == '-') {
        let digits: String = offset[1..].chars().filter(|c| *c != ':').collect();
        if digits.is_empty() || digits.len() > 4 || !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        let (h, m) = if digits.len() <= 2 {
            (digits.parse::<i32>().map_err(|_| bad())?, 0)
        } else {
            let (h, m) = digits.split_at(digits.len() - 2);
            (
                h.parse::<i32>().map_err(|_| bad())?,
                m.parse::<i32>().map_err(|_| bad())?,
            )
        };
        if h > 14 || m > 59 {
            return Err(bad());
        }
        let secs = (h * 3600 + m * 60) * if sign == '-' { -1 } else { 1 };
        let offset = jiff::tz::Offset::from_seconds(secs).map_err(|_| bad())?;
        return Ok(TimeZone::fixed(offset));
    }
    TimeZone::get(name).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graphite_defaults() {
        let p = Params::default();
        assert_eq!((p.width, p.height), (330, 250));
        assert_eq!(p.line_width, 1.2);
        assert_eq!(p.bgcolor, Color::rgb(255, 255, 255));
        assert_eq!(p.fgcolor, Color::rgb(0, 0, 0));
        assert_eq!(p.color_list.len(), 12);
        assert_eq!(p.color_list[0], Color::rgb(100, 100, 255));
        assert_eq!(p.area_mode, AreaMode::None);
        assert_eq!(p.hide_legend, None);
        assert_eq!(p.y_divisors, vec![4, 5, 6]);
    }

    #[test]
    fn values_aliases_and_last_wins() {
        let p = Params::from_pairs(&[
            ("width", "100"),
            ("width", "640"),
            ("min", "-5"),
            ("yMax", "max"),
            ("thickness", "3"),
            ("hideLegend", "false"),
            ("graphOnly", "true"),
            ("areaMode", "stacked"),
            ("colorList", "red,%2300ff00, 0000ff"),
            ("template", "classic"),
            ("yUnitSystem", "bogus"),
            ("title", ""),
            ("target", "a.b"),
        ])
        .unwrap();
        assert_eq!(p.width, 640);
        assert_eq!(p.y_min, Some(-5.0));
        assert_eq!(p.y_max, Some(None));
        assert_eq!(p.line_width, 3.0);
        assert_eq!(p.hide_legend, Some(false));
        assert!(p.graph_only);
        assert_eq!(p.area_mode, AreaMode::Stacked);
        assert_eq!(p.color_list.len(), 3);
        assert_eq!(p.bgcolor, Color::rgb(0, 0, 0));
        assert_eq!(p.y_unit_system, UnitSystem::Si);
    }

    #[test]
    fn bad_values_are_errors() {
        for (k, v) in [
            ("width", "wide"),
            ("width", "0"),
            ("height", "100000"),
            ("areaMode", "bubbles"),
            ("bgcolor", "nope"),
            ("yDivisors", "4,0"),
            ("tz", "Mars/Olympus"),
            ("fontSize", "1000"),
            ("yStep", "-1"),
        ] {
            assert!(Params::from_pairs(&[(k, v)]).is_err(), "{k}={v}");
        }
        assert!(Params::from_pairs(&[("width", "8192"), ("height", "8192")]).is_err());
    }

    #[test]
    fn time_zones() {
        let at = jiff::Timestamp::from_second(1_700_000_000).unwrap();
        let off = |name: &str| zone(name).unwrap().to_offset(at).seconds();
        assert_eq!(off("UTC"), 0);
        assert_eq!(off("+02:00"), 7200);
        assert_eq!(off("-0530"), -(5 * 3600 + 30 * 60));
        assert_eq!(off("UTC+3"), 3 * 3600);
        // November: standard time in both.
        assert_eq!(off("Europe/Berlin"), 3600);
        assert_eq!(off("America/New_York"), -5 * 3600);
        assert!(zone("+25").is_err());
        assert!(zone("Nowhere/Special").is_err());
    }
}
