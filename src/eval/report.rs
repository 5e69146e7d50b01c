//! Printing and saving evaluation results.

use std::fmt::Write as _;
use std::path::Path;

use super::{FrameMapResult, PartsResult};

/// The width of the class-name column (at least "name").
fn name_width(result: &FrameMapResult) -> usize {
    result
        .per_class
        .iter()
        .map(|(_, name, _)| name.len())
        .max()
        .unwrap_or(4)
        .max(4)
}

/// A per-class AP table followed by the mAP line.
pub fn per_class_table(result: &FrameMapResult) -> String {
    let width = name_width(result);
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

/// Evaluations of the same classes side by side (e.g. an ablation's rows: a baseline, then
/// what each change gives), the change from the first to the last, then the mAPs.
pub fn comparison_table(results: &[(&str, &FrameMapResult)]) -> String {
    let Some((_, first)) = results.first() else {
        return String::new();
    };
    let last = results[results.len() - 1].1;
    let width = name_width(first);
    // Each column as wide as its name, at least an AP's 8.
    let widths: Vec<usize> = results
        .iter()
        .map(|(name, _)| name.chars().count().max(8))
        .collect();
    let ap = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{v:.4}"));
    let of = |result: &FrameMapResult, id: i64| {
        result
            .per_class
            .iter()
            .find(|(other, _, _)| *other == id)
            .and_then(|(_, _, v)| *v)
    };
    let mut out = format!("{:>4}  {:<width$}", "id", "name");
    for ((name, _), columns) in results.iter().zip(&widths) {
        out.push_str(&format!("  {name:>columns$}"));
    }
    writeln!(out, "  {:>8}", "change").unwrap();
    for (id, name, a) in &first.per_class {
        let mut line = format!("{id:>4}  {name:<width$}");
        for ((_, result), columns) in results.iter().zip(&widths) {
            line.push_str(&format!("  {:>columns$}", ap(of(result, *id))));
        }
        if let (Some(a), Some(b)) = (a, of(last, *id)) {
            line.push_str(&format!("  {:>+8.4}", b - a));
        }
        writeln!(out, "{}", line.trim_end()).unwrap();
    }
    let mut line = format!("{:>4}  {:<width$}", "", "frame-mAP@0.5IOU");
    for ((_, result), columns) in results.iter().zip(&widths) {
        line.push_str(&format!("  {:>columns$.4}", result.map));
    }
    writeln!(out, "{line}  {:>+8.4}", last.map - first.map).unwrap();
    out
}

/// Each part's per-class AP and the union's side by side (the seed's Table 1: AVA / Kinetics
/// / AVA-Kinetics), then their mAPs; parts are named by their file names.
pub fn parts_table(parts: &PartsResult) -> String {
    let mut columns: Vec<(String, &FrameMapResult)> = parts
        .parts
        .iter()
        .map(|(path, result)| {
            let name = path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            );
            (name, result)
        })
        .collect();
    columns.push(("union".to_string(), &parts.union));
    let width = name_width(&parts.union);
    let ap = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{v:.4}"));
    let mut out = format!("{:>4}  {:<width$}", "id", "name");
    for (name, _) in &columns {
        write!(out, "  {name:>8}").unwrap();
    }
    out.push('\n');
    for (i, (id, name, _)) in parts.union.per_class.iter().enumerate() {
        let mut line = format!("{id:>4}  {name:<width$}");
        for (column, result) in &columns {
            let cell = ap(result.per_class.get(i).and_then(|c| c.2));
            write!(line, "  {cell:>w$}", w = column.len().max(8)).unwrap();
        }
        writeln!(out, "{}", line.trim_end()).unwrap();
    }
    let mut line = format!("{:>4}  {:<width$}", "", "frame-mAP@0.5IOU");
    for (column, result) in &columns {
        write!(line, "  {:>w$.4}", result.map, w = column.len().max(8)).unwrap();
    }
    writeln!(out, "{line}").unwrap();
    out
}

/// `{"mAP": x, "per_class": {"<id>": {"name": "...", "ap": x or null}}}`.
fn result_json(result: &FrameMapResult) -> serde_json::Value {
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
    serde_json::json!({"mAP": map, "per_class": per_class})
}

/// Writes [`result_json`] atomically.
pub fn write_json(result: &FrameMapResult, path: &Path) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(&result_json(result))?;
    crate::fs::write_atomic(path, text.as_bytes())
}

/// Writes the union's result with `"parts": [{"groundtruth": "<path as given>", "mAP": x,
/// "per_class": {...}}, ...]` atomically.
pub fn write_parts_json(parts: &PartsResult, path: &Path) -> std::io::Result<()> {
    let mut json = result_json(&parts.union);
    let list: Vec<serde_json::Value> = parts
        .parts
        .iter()
        .map(|(file, result)| {
            let mut part = result_json(result);
            part["groundtruth"] = serde_json::json!(file.display().to_string());
            part
        })
        .collect();
    json["parts"] = serde_json::Value::Array(list);
    let text = serde_json::to_string_pretty(&json)?;
    crate::fs::write_atomic(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(map: f64, aps: [Option<f64>; 2]) -> FrameMapResult {
        FrameMapResult {
            map,
            per_class: vec![
                (12, "stand".into(), aps[0]),
                (79, "talk to (e.g., self, a person, a group)".into(), aps[1]),
            ],
            pr_curves: Vec::new(),
        }
    }

    #[test]
    fn the_comparison_lists_each_class_with_its_change() {
        let table = comparison_table(&[
            ("SlowFast", &result(0.5, [Some(0.9), Some(0.1)])),
            ("SlowFast + LFB", &result(0.7, [Some(0.85), None])),
        ]);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 4, "{table}");
        assert!(
            lines[0].ends_with("SlowFast  SlowFast + LFB    change"),
            "{table}"
        );
        assert!(
            lines[1].contains("stand") && lines[1].ends_with("0.9000          0.8500   -0.0500"),
            "{table}"
        );
        assert!(lines[2].ends_with("0.1000             n/a"), "{table}");
        assert!(
            lines[3].contains("frame-mAP@0.5IOU")
                && lines[3].ends_with("0.5000          0.7000   +0.2000"),
            "{table}"
        );
    }

    #[test]
    fn three_rows_change_from_the_first_to_the_last() {
        let table = comparison_table(&[
            ("S", &result(0.5, [Some(0.9), Some(0.1)])),
            ("S + L", &result(0.6, [Some(0.8), Some(0.2)])),
            ("+ arm", &result(0.7, [Some(0.95), Some(0.3)])),
        ]);
        let lines: Vec<&str> = table.lines().collect();
        assert!(
            lines[0].ends_with("S     S + L     + arm    change"),
            "{table}"
        );
        assert!(
            lines[1].ends_with("0.9000    0.8000    0.9500   +0.0500"),
            "{table}"
        );
        assert!(
            lines[3].ends_with("0.5000    0.6000    0.7000   +0.2000"),
            "{table}"
        );
    }
}
