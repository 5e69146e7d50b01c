//! `avaloc eval --plot`: a PNG with a per-class AP bar chart and precision/recall curves,
//! drawn with plotters.

use std::path::Path;

use plotters::prelude::*;

use super::FrameMapResult;
use crate::render::raster::{ChartArea, DrawResult, PALETTE, write_chart};

const WIDTH: u32 = 950;
/// Colours of the results side by side (matplotlib's tab10).
const SERIES: [[u8; 3]; 10] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
    [188, 189, 34],
    [23, 190, 207],
];
const ROW: u32 = 22;
const PR_PANEL: u32 = 380;

/// Writes the chart (atomically) for `result`, with a precision/recall panel for each entry
/// of `result.pr_curves`.
pub fn write_plot(result: &FrameMapResult, path: &Path) -> std::io::Result<()> {
    let rows = result.per_class.len().max(1) as u32;
    let bars_h = 90 + rows * ROW;
    let pr_h = if result.pr_curves.is_empty() {
        0
    } else {
        PR_PANEL
    };
    write_chart((WIDTH, bars_h + pr_h), path, |root| {
        let (bars, curves) = root.split_vertically(bars_h);
        draw_bars(&[("AP", result)], &bars)?;
        if !result.pr_curves.is_empty() {
            draw_curves(result, &curves)?;
        }
        Ok(())
    })
}

/// One horizontal bar per class and result (label-map order, top down; the results of a
/// class side by side, in the given order), each AP written after its bar; classes without
/// ground truth say so.
fn draw_bars(results: &[(&str, &FrameMapResult)], area: &ChartArea) -> DrawResult {
    let first = results[0].1;
    let n = first.per_class.len();
    let names: Vec<String> = first
        .per_class
        .iter()
        .map(|(id, name, _)| {
            let label = format!("{id:>2} {name}");
            if label.chars().count() > 40 {
                format!("{}…", label.chars().take(39).collect::<String>())
            } else {
                label
            }
        })
        .collect();
    let caption = match results {
        [(_, only)] => format!("frame-mAP@0.5IOU = {:.4}", only.map),
        _ => "AP per class (frame-mAP@0.5IOU in the legend)".to_string(),
    };
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(290)
        .build_cartesian_2d(0f64..1.1f64, 0f64..n.max(1) as f64)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .light_line_style(WHITE.mix(0.0))
        .x_labels(12)
        .x_label_formatter(&|x| {
            if *x <= 1.0 {
                format!("{x:.1}")
            } else {
                String::new()
            }
        })
        .y_labels(n.max(1) * 2 + 1)
        .y_label_formatter(&|y| {
            // Labels at row centres; the row of class i spans n − i − 1 .. n − i.
            let row = n as f64 - y - 0.5;
            let i = row.round();
            if (row - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < n {
                names[i as usize].clone()
            } else {
                String::new()
            }
        })
        .label_style(("sans-serif", 13))
        .draw()?;
    let band = 0.6 / results.len() as f64;
    for (k, (name, result)) in results.iter().enumerate() {
        let [r, g, b] = SERIES[k % SERIES.len()];
        let color = RGBColor(r, g, b);
        let label = format!("{name} ({:.4})", result.map);
        // Row i's band for result k, top down.
        let top = |i: usize| (n - i) as f64 - 0.2 - k as f64 * band;
        let aps: Vec<(usize, f64)> = result
            .per_class
            .iter()
            .take(n)
            .enumerate()
            .filter_map(|(i, (_, _, ap))| ap.map(|ap| (i, ap.clamp(0.0, 1.0))))
            .collect();
        let bars = chart.draw_series(aps.iter().map(|&(i, ap)| {
            Rectangle::new(
                [(0.0, top(i) - band + 0.02), (ap, top(i) - 0.02)],
                color.filled(),
            )
        }))?;
        if results.len() > 1 {
            bars.label(label).legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 14, y + 5)], color.filled())
            });
        }
        let size = if results.len() > 1 { 10 } else { 12 };
        chart.draw_series(aps.iter().map(|&(i, ap)| {
            Text::new(
                format!("{ap:.3}"),
                (ap + 0.01, top(i) - 0.02),
                ("sans-serif", size),
            )
        }))?;
        if k == 0 {
            let missing = result
                .per_class
                .iter()
                .take(n)
                .enumerate()
                .filter(|(_, c)| c.2.is_none());
            chart.draw_series(missing.map(|(i, _)| {
                Text::new(
                    "n/a (no ground truth)",
                    (0.01, (n - i) as f64 - 0.25),
                    ("sans-serif", 12)
                        .into_font()
                        .color(&RGBColor(140, 140, 140)),
                )
            }))?;
        }
    }
    if results.len() > 1 {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .label_font(("sans-serif", 13))
            .draw()?;
    }
    Ok(())
}

/// Per-class AP of several results side by side (e.g. an ablation's rows), as a PNG.
pub fn write_comparison_plot(
    results: &[(&str, &FrameMapResult)],
    path: &Path,
) -> std::io::Result<()> {
    let rows = results.first().map_or(1, |(_, r)| r.per_class.len().max(1)) as u32;
    let height = 90 + rows * ROW * (results.len().max(1) as u32).div_ceil(2).max(1);
    write_chart((WIDTH, height), path, |root| {
        if !results.is_empty() {
            draw_bars(results, root)?;
        }
        Ok(())
    })
}

/// The chosen classes' precision/recall curves, overlaid, with a legend.
fn draw_curves(result: &FrameMapResult, area: &ChartArea) -> DrawResult {
    let (panel, _) = area.split_horizontally(640);
    let mut chart = ChartBuilder::on(&panel)
        .caption("precision / recall", ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..1f64, 0f64..1.02f64)?;
    chart
        .configure_mesh()
        .x_desc("recall")
        .y_desc("precision")
        .light_line_style(WHITE.mix(0.0))
        .x_labels(11)
        .y_labels(11)
        .x_label_formatter(&|x| format!("{x:.1}"))
        .y_label_formatter(&|y| format!("{y:.1}"))
        .label_style(("sans-serif", 12))
        .draw()?;
    for (k, (id, curve)) in result.pr_curves.iter().enumerate() {
        let [r, g, b] = PALETTE[(k + 1) % PALETTE.len()];
        let color = RGBColor(r, g, b);
        let name = result
            .per_class
            .iter()
            .find(|(i, _, _)| i == id)
            .map_or("", |(_, n, _)| n.as_str());
        chart
            .draw_series(LineSeries::new(
                curve.iter().copied(),
                color.stroke_width(2),
            ))?
            .label(format!("{id} {name}"))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font(("sans-serif", 12))
        .draw()?;
    Ok(())
}
