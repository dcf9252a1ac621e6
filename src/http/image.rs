//! `/render?format=png|svg`: the evaluated series of a render request, drawn by [`graph`]
//! with the request's graph parameters and the style hints graph functions set.

use super::request::blocking;
use super::{ApiError, Params};
use crate::graph;
use crate::query::series::{Agg, TimeSeries};
use axum::http::header;
use axum::response::{IntoResponse, Response};

/// The image format `format` names, if any.
pub fn format(format: &str) -> Option<graph::Format> {
    match format {
        "png" => Some(graph::Format::Png),
        "svg" => Some(graph::Format::Svg),
        _ => None,
    }
}

/// The graph parameters of the request; bad ones are a 400 that names them.
pub fn params(p: &Params) -> Result<graph::Params, ApiError> {
    super::limits::graph_text(p)?;
    graph::Params::from_pairs(p.pairs()).map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// An image needs no more points per series than it has pixels across: without a
/// `maxDataPoints`, the store is read at about the image's width.
pub fn default_points(p: &Params) -> u64 {
    params(p).map_or(330, |g| u64::from(g.width))
}

fn consolidate(agg: Agg) -> graph::Consolidate {
    match agg {
        Agg::Sum => graph::Consolidate::Sum,
        Agg::Min => graph::Consolidate::Min,
        Agg::Max => graph::Consolidate::Max,
        Agg::First => graph::Consolidate::First,
        Agg::Last => graph::Consolidate::Last,
        _ => graph::Consolidate::Average,
    }
}

fn series(s: TimeSeries) -> graph::Series {
    let style = graph::Style {
        color: s.style.color,
        line_width: s.style.line_width,
        dashed: s.style.dashed,
        stacked: s.style.stack.is_some(),
        second_y_axis: s.style.second_y_axis,
        draw_as_infinite: s.style.draw_as_infinite,
        alpha: s.style.alpha,
        area_between: s.style.area_between,
        invisible: s.style.invisible,
        consolidate: consolidate(s.consolidation),
    };
    graph::Series {
        name: s.name,
        start: s.start,
        step: u32::try_from(s.step.max(1)).unwrap_or(u32::MAX),
        values: s.values,
        style,
    }
}

/// Draws the evaluated series (on a blocking thread: a large PNG takes milliseconds).
pub async fn respond(
    list: Vec<TimeSeries>,
    params: graph::Params,
    format: graph::Format,
) -> Result<Response, ApiError> {
    let body = blocking(move || {
        let list: Vec<graph::Series> = list.into_iter().map(series).collect();
        graph::render(&params, &list, format).map_err(|e| match e {
            graph::Error::Encode(e) => ApiError::Internal(e),
            other => ApiError::BadRequest(other.to_string()),
        })
    })
    .await?;
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type()),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response())
}
