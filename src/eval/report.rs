//! Printing and saving evaluation results.

use std::fmt::Write as _;
use std::path::Path;

use super::FrameMapResult;

/// A per-class AP table followed by the mAP line.
pub fn per_class_table(result: &FrameMapResult) -> String {
    let width = result
        .per_class
        .iter()
        .map(|(_, name, _)| name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut out = String::new();
    writeln!(out, "{:>4}  {:<width$}  {:>8}", "id", "name", "AP").unwrap();
    for (id, name, ap) in &result.per_class {
        let ap = ap.map_or("     n/a".to_string(), |v| format!("{:>8.4}", v));
        writeln!(out, "{id:>4}  {name:<width$}  {ap}").unwrap();
    }
    let evaluated = result
        .per_class
        .iter()
        .filter(|(_, _, ap)| ap.is_some())
        .count();
    writeln!(
        out,
        "frame-mAP@0.5IOU = {:.6} over {evaluated} classes with ground truth",
        result.map
    )
    .unwrap();
    out
}

/// Writes `{"mAP": x, "per_class": {"<id>": {"name": "...", "ap": x or null}}}` atomically.
pub fn write_json(result: &FrameMapResult, path: &Path) -> std::io::Result<()> {
    let per_class: serde_json::Map<String, serde_json::Value> = result
        .per_class
        .iter()
        .map(|(id, name, ap)| (id.to_string(), serde_json::json!({"name": name, "ap": ap})))
        .collect();
    let map = if result.map.is_finite() {
        serde_json::json!(result.map)
    } else {
        serde_json::Value::Null
    };
    let text =
        serde_json::to_string_pretty(&serde_json::json!({"mAP": map, "per_class": per_class}))?;
    crate::io::write_atomic(path, text.as_bytes())
}
