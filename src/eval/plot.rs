//! `avaloc eval --plot`: a PNG with a per-class AP bar chart and precision/recall curves.

use std::path::Path;

use image::{Rgb, RgbImage};

use super::FrameMapResult;
use crate::draw::{GRID, INK, PALETTE, fill, font, line, text, write_png};

const ROW: u32 = 18;
const NAME_W: u32 = 300;
const BAR_W: u32 = 560;
const WIDTH: u32 = NAME_W + BAR_W + 90;
const PANEL: u32 = 300;

/// Writes the chart (atomically) for `result`, with a precision/recall panel for each entry
/// of `result.pr_curves`.
pub fn write_plot(result: &FrameMapResult, path: &Path) -> std::io::Result<()> {
    let font = font();
    let rows = result.per_class.len() as u32;
    let curves_h = if result.pr_curves.is_empty() {
        0
    } else {
        PANEL + 60
    };
    let height = 60 + rows * ROW + 30 + curves_h;
    let mut img = RgbImage::from_pixel(WIDTH, height, Rgb([255, 255, 255]));
    let title = format!("frame-mAP@0.5IOU = {:.4}", result.map);
    text(&mut img, &font, 12.0, 30.0, 20.0, &title, INK);

    // Per-class AP bars; classes without ground truth are listed as n/a.
    let top = 50;
    for tick in 0..=10 {
        let x = NAME_W + BAR_W * tick / 10;
        fill(&mut img, x, top, 1, rows * ROW, GRID);
        text(
            &mut img,
            &font,
            x as f32 - 8.0,
            (top + rows * ROW + 16) as f32,
            12.0,
            &format!("{:.1}", tick as f64 / 10.0),
            INK,
        );
    }
    for (i, (id, name, ap)) in result.per_class.iter().enumerate() {
        let y = top + i as u32 * ROW;
        let label = format!("{id:>2} {name}");
        let label = if label.chars().count() > 40 {
            format!("{}…", label.chars().take(39).collect::<String>())
        } else {
            label
        };
        text(&mut img, &font, 8.0, (y + 13) as f32, 12.0, &label, INK);
        match ap {
            Some(ap) => {
                let w = (BAR_W as f64 * ap.clamp(0.0, 1.0)).round() as u32;
                fill(&mut img, NAME_W, y + 3, w, ROW - 6, PALETTE[0]);
                text(
                    &mut img,
                    &font,
                    (NAME_W + w + 4) as f32,
                    (y + 13) as f32,
                    12.0,
                    &format!("{ap:.3}"),
                    INK,
                );
            }
            None => text(
                &mut img,
                &font,
                (NAME_W + 4) as f32,
                (y + 13) as f32,
                12.0,
                "n/a (no ground truth)",
                [140, 140, 140],
            ),
        }
    }

    // Precision/recall curves of the chosen classes, overlaid in one panel.
    if !result.pr_curves.is_empty() {
        let (x0, y0) = (60, top + rows * ROW + 50);
        for tick in 0..=10 {
            let f = tick as f64 / 10.0;
            fill(&mut img, x0 + (PANEL as f64 * f) as u32, y0, 1, PANEL, GRID);
            fill(&mut img, x0, y0 + (PANEL as f64 * f) as u32, PANEL, 1, GRID);
            text(
                &mut img,
                &font,
                x0 as f32 - 28.0,
                (y0 + PANEL) as f32 - PANEL as f32 * f as f32 + 4.0,
                11.0,
                &format!("{f:.1}"),
                INK,
            );
            text(
                &mut img,
                &font,
                x0 as f32 + PANEL as f32 * f as f32 - 8.0,
                (y0 + PANEL + 16) as f32,
                11.0,
                &format!("{f:.1}"),
                INK,
            );
        }
        text(
            &mut img,
            &font,
            (x0 + PANEL / 2 - 20) as f32,
            (y0 + PANEL + 32) as f32,
            12.0,
            "recall",
            INK,
        );
        text(
            &mut img,
            &font,
            4.0,
            (y0 - 8) as f32,
            12.0,
            "precision",
            INK,
        );
        for (k, (id, curve)) in result.pr_curves.iter().enumerate() {
            let color = PALETTE[(k + 1) % PALETTE.len()];
            let to_px = |(r, p): (f64, f64)| {
                (
                    (x0 as f64 + r * PANEL as f64),
                    (y0 as f64 + (1.0 - p) * PANEL as f64),
                )
            };
            for pair in curve.windows(2) {
                line(&mut img, to_px(pair[0]), to_px(pair[1]), color);
            }
            let name = result
                .per_class
                .iter()
                .find(|(i, _, _)| i == id)
                .map_or("", |(_, n, _)| n.as_str());
            let y = y0 + 16 + k as u32 * 18;
            fill(&mut img, x0 + PANEL + 30, y - 9, 14, 10, color);
            text(
                &mut img,
                &font,
                (x0 + PANEL + 50) as f32,
                y as f32,
                12.0,
                &format!("{id} {name}"),
                INK,
            );
        }
    }
    write_png(&img, path)
}
