//! What the web UI learns from the config (`http::Site`): which prefix belongs to which input,
//! for the overview, and the dashboards of `dashboard_dirs`. Built at startup and on reload;
//! a dashboard file with problems is logged and left out, the others are served.

use crate::config::Config;
use crate::http::Site;
use serde_json::{Value, json};

pub fn build(config: &Config) -> Site {
    let (dashboards, errors) = crate::dashboard::load(&config.dashboard_dirs, &config.hostname);
    for error in &errors {
        tracing::error!("Dashboard not loaded:\n{error}");
    }
    Site {
        inputs: inputs(config),
        dashboards,
        problems: errors.len() as u64,
    }
}

/// The body of `/api/inputs`.
fn inputs(config: &Config) -> Value {
    let system = config.system.as_ref().map(|s| {
        json!({"prefix": s.prefix, "interval": s.interval_ms as f64 / 1000.0, "collectors": s.settings.collectors})
    });
    let tail: Vec<Value> = config
        .tail
        .iter()
        .map(|t| json!({"paths": t.paths, "parsers": t.parsers, "prefix": t.prefix}))
        .collect();
    json!({
        "host": config.hostname,
        "system": system,
        "tail": tail,
        "statsd": config.statsd.as_ref().map(|s| json!({"listen": s.listen.to_string()})),
        "carbon": config.carbon.as_ref().map(|c| json!({"listen": c.listen.to_string(), "pickle_listen": c.pickle_listen.map(|a| a.to_string()), "kind": c.kind.as_str()})),
        "self": {"prefix": "tally"},
    })
}
