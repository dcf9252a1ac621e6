//! Graphs as graphite-web's `/render?format=png|svg` draws them (`render/glyph.py`'s
//! `LineGraph`): title, vertical title, legend, y axis with graphite's step and unit logic,
//! time axis in a time zone, grid, lines with null gaps, area modes, stacking, a second y axis,
//! and `drawAsInfinite` series (events) as vertical markers.
//!
//! Decoupled from HTTP and the store: [`Params::from_pairs`] reads the request's parameters,
//! [`render`] draws [`Series`] into PNG or SVG bytes. Layout builds a [`scene::Scene`] once;
//! `svg` writes it as elements (text as `<text>`), `png` rasterizes it with tiny-skia and the
//! font built into the binary, so no system fonts are needed.

mod axis;
mod color;
mod layout;
mod lines;
mod params;
mod png;
pub mod scene;
mod svg;
mod text;
mod time;

pub use color::Color;
pub use params::{
    AreaMode, LEGEND_MAX_ITEMS, LineMode, MAX_PIXELS, MAX_SIDE, Params, UnitSystem, zone,
};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}: {1}")]
    BadParam(String, String),
    #[error(
        "tz: unknown time zone {0:?} (give UTC, an IANA name such as Europe/Berlin, or an offset such as +02:00)"
    )]
    TimeZone(String),
    #[error("{0}")]
    Graph(String),
    #[error("cannot encode the PNG: {0}")]
    Encode(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Png,
    Svg,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Png => "image/png",
            Format::Svg => "image/svg+xml",
        }
    }
}

/// How a series' points are merged when there are more points than pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Consolidate {
    #[default]
    Average,
    Sum,
    Min,
    Max,
    First,
    Last,
}

/// Per-series drawing hints, as graphite's styling functions set them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Style {
    /// A colour name or hex (`color()`); else the next of `colorList`.
    pub color: Option<String>,
    /// `lineWidth()`.
    pub line_width: Option<f64>,
    /// `dashed()`: the dash length.
    pub dashed: Option<f64>,
    /// `stacked()`: filled, drawn before the unstacked lines.
    pub stacked: bool,
    /// `secondYAxis()`.
    pub second_y_axis: bool,
    /// `drawAsInfinite()` / `events()`: a vertical line at every point with a value above 0.
    pub draw_as_infinite: bool,
    /// `alpha()`.
    pub alpha: Option<f64>,
    /// `areaBetween()`: of two such series in a row, the area between them is filled.
    pub area_between: bool,
    /// Not drawn (the lower series of `areaBetween`); still in the legend.
    pub invisible: bool,
    pub consolidate: Consolidate,
}

/// One series to draw: `values[i]` is at `start + i × step` (unix seconds).
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub start: i64,
    pub step: u32,
    pub values: Vec<Option<f64>>,
    pub style: Style,
}

/// Draws `series` as graphite-web would for `params`, as PNG or SVG bytes.
pub fn render(params: &Params, series: &[Series], format: Format) -> Result<Vec<u8>, Error> {
    let scene = layout::draw(params, series)?;
    match format {
        Format::Svg => Ok(svg::write(&scene).into_bytes()),
        Format::Png => png::write(&scene),
    }
}

/// The drawing operations for `series`, for tests and for callers that want their own output.
pub fn scene(params: &Params, series: &[Series]) -> Result<scene::Scene, Error> {
    layout::draw(params, series)
}

#[cfg(test)]
mod tests;
