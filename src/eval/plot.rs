//! `avaloc eval --plot`: a PNG with a per-class AP bar chart and precision/recall curves.
//!
//! Drawn directly with `image` and pure-Rust glyph rendering (`ab_glyph`) from an embedded
//! DejaVu Sans (see `fonts/LICENSE-DejaVu.txt`), so plotting needs no system font libraries.

use std::path::Path;

use ab_glyph::{Font, FontRef, PxScale, ScaleFont, point};
use image::{Rgb, RgbImage};

use super::FrameMapResult;

static FONT: &[u8] = include_bytes!("fonts/DejaVuSans.ttf");

const ROW: u32 = 18;
const NAME_W: u32 = 300;
const BAR_W: u32 = 560;
const WIDTH: u32 = NAME_W + BAR_W + 90;
const PANEL: u32 = 300;
const INK: [u8; 3] = [30, 30, 30];
const GRID: [u8; 3] = [215, 215, 215];
const PALETTE: [[u8; 3]; 4] = [
    [31, 119, 180],
    [214, 39, 40],
    [44, 160, 44],
    [148, 103, 189],
];

/// Writes the chart (atomically) for `result`, with a precision/recall panel for each entry
/// of `result.pr_curves`.
pub fn write_plot(result: &FrameMapResult, path: &Path) -> std::io::Result<()> {
    let font = FontRef::try_from_slice(FONT)
        .map_err(|e| std::io::Error::other(format!("embedded font: {e}")))?;
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
    let mut bytes = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::Png,
    )
    .map_err(|e| std::io::Error::other(format!("encoding PNG: {e}")))?;
    crate::io::write_atomic(path, &bytes)
}

fn fill(img: &mut RgbImage, x: u32, y: u32, w: u32, h: u32, color: [u8; 3]) {
    for yy in y..(y + h).min(img.height()) {
        for xx in x..(x + w).min(img.width()) {
            img.put_pixel(xx, yy, Rgb(color));
        }
    }
}

/// A 2-pixel-wide line.
fn line(img: &mut RgbImage, a: (f64, f64), b: (f64, f64), color: [u8; 3]) {
    let steps = ((b.0 - a.0).abs().max((b.1 - a.1).abs()).ceil() as usize).max(1);
    for s in 0..=steps {
        let t = s as f64 / steps as f64;
        let (x, y) = (a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1));
        fill(img, x.max(0.0) as u32, y.max(0.0) as u32, 2, 2, color);
    }
}

/// Draws `s` with its baseline at `(x, y)`, blending glyph coverage over the background.
fn text(img: &mut RgbImage, font: &FontRef, x: f32, y: f32, size: f32, s: &str, color: [u8; 3]) {
    let scaled = font.as_scaled(PxScale::from(size));
    let mut caret = x;
    let mut last = None;
    for c in s.chars() {
        let id = font.glyph_id(c);
        if let Some(prev) = last {
            caret += scaled.kern(prev, id);
        }
        let glyph = id.with_scale_and_position(PxScale::from(size), point(caret, y));
        if let Some(outline) = font.outline_glyph(glyph) {
            let bounds = outline.px_bounds();
            outline.draw(|gx, gy, coverage| {
                let (px, py) = (
                    bounds.min.x as i32 + gx as i32,
                    bounds.min.y as i32 + gy as i32,
                );
                if px >= 0 && py >= 0 && (px as u32) < img.width() && (py as u32) < img.height() {
                    let p = img.get_pixel_mut(px as u32, py as u32);
                    for ch in 0..3 {
                        p[ch] =
                            (p[ch] as f32 * (1.0 - coverage) + color[ch] as f32 * coverage) as u8;
                    }
                }
            });
        }
        caret += scaled.h_advance(id);
        last = Some(id);
    }
}
