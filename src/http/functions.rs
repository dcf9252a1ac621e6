//! `/functions` and `/functions/<name>`: the function list in the schema Grafana's function
//! editor reads (graphite-web's `functions/views.py`): `name, function, description, module,
//! group, params[{name, type, required?, default?, multiple?, options?}]`. An `INF` default is
//! written `1e9999`, never `Infinity`, so the body is valid JSON.

use super::request::{json_or_jsonp, json_text, read};
use super::{ApiError, Params, State};
use crate::query::functions::{self, Default, Func};
use axum::Router;
use axum::extract::{Path, Request};
use axum::http::Method;
use axum::response::Response;
use axum::routing::any;
use serde_json::{Map, Value, json};
use std::sync::Arc;

type S = axum::extract::State<Arc<State>>;

/// Stands for `1e9999` until the JSON text is written (serde_json cannot hold it).
const INF: &str = "\u{0}INF\u{0}";

pub fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/functions", any(list))
        .route("/functions/", any(list))
        .route("/functions/{name}", any(one))
}

fn python_default(d: &Default) -> String {
    match d {
        Default::Int(n) => n.to_string(),
        Default::Float(v) => v.to_string(),
        Default::Str(s) => format!("'{s}'"),
        Default::Bool(b) => if *b { "True" } else { "False" }.to_string(),
        Default::Inf => "inf".to_string(),
    }
}

/// graphite's `functionInfo`: the entry for one function.
pub fn info(f: &Func) -> Value {
    let signature: Vec<String> = f
        .params
        .iter()
        .map(|p| match (&p.default, p.multiple, p.required) {
            (_, true, _) => format!("*{}", p.name),
            (Some(d), _, _) => format!("{}={}", p.name, python_default(d)),
            (None, _, false) => format!("{}=None", p.name),
            (None, _, true) => p.name.to_string(),
        })
        .collect();
    let params: Vec<Value> = f
        .params
        .iter()
        .map(|p| {
            let mut m = Map::new();
            m.insert("name".into(), json!(p.name));
            m.insert("type".into(), json!(p.ty.name()));
            if p.required {
                m.insert("required".into(), json!(true));
            }
            if let Some(d) = &p.default {
                m.insert(
                    "default".into(),
                    match d {
                        Default::Int(n) => json!(n),
                        Default::Float(v) => json!(v),
                        Default::Str(s) => json!(s),
                        Default::Bool(b) => json!(b),
                        Default::Inf => json!(INF),
                    },
                );
            }
            if p.multiple {
                m.insert("multiple".into(), json!(true));
            }
            if !p.options.is_empty() {
                let mut o: Vec<&str> = p.options.to_vec();
                o.sort_unstable();
                m.insert("options".into(), json!(o));
            }
            Value::Object(m)
        })
        .collect();
    json!({
        "name": f.name,
        "function": format!("{}({})", f.name, signature.join(", ")),
        "description": f.description,
        "module": "graphite.render.functions",
        "group": f.group,
        "params": params,
    })
}

fn write(v: &Value, p: &Params) -> Result<Response, ApiError> {
    let body = json_text(v, p).replace(
        &format!("\"{}\"", INF.replace('\u{0}', "\\u0000")),
        "1e9999",
    );
    json_or_jsonp(p, body)
}

async fn list(state: S, req: Request) -> Result<Response, ApiError> {
    let parts = read(&state, req).await?;
    if parts.method != Method::GET && parts.method != Method::HEAD {
        return Err(ApiError::MethodNotAllowed);
    }
    let p = parts.params;
    let grouped = p.flag("grouped");
    let group = p.get("group");
    let mut all = Map::new();
    let mut by_group: Map<String, Value> = Map::new();
    for f in functions::all() {
        if group.is_some_and(|g| g != f.group) {
            continue;
        }
        if grouped {
            let entry = by_group
                .entry(f.group.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(m) = entry {
                m.insert(f.name.into(), info(f));
            }
        } else {
            all.insert(f.name.into(), info(f));
        }
    }
    write(&Value::Object(if grouped { by_group } else { all }), &p)
}

async fn one(state: S, Path(name): Path<String>, req: Request) -> Result<Response, ApiError> {
    let parts = read(&state, req).await?;
    if parts.method != Method::GET && parts.method != Method::HEAD {
        return Err(ApiError::MethodNotAllowed);
    }
    let f = functions::lookup(&name)
        .ok_or_else(|| ApiError::NotFound(format!("Function not found: {name}")))?;
    write(&info(f), &parts.params)
}
