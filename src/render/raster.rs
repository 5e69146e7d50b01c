//! Raster drawing for the PNGs avaloc writes: charts with plotters, annotated keyframes
//! directly with `image`; text in both through pure-Rust glyph rendering (`ab_glyph`) from an
//! embedded DejaVu Sans (see `fonts/LICENSE-DejaVu.txt`), so pictures need no system font
//! libraries.

use std::path::Path;

use ab_glyph::{Font, FontRef, PxScale, ScaleFont, point};
use image::{Rgb, RgbImage};

static FONT: &[u8] = include_bytes!("fonts/DejaVuSans.ttf");

pub const PALETTE: [[u8; 3]; 6] = [
    [31, 119, 180],
    [214, 39, 40],
    [44, 160, 44],
    [148, 103, 189],
    [255, 127, 14],
    [23, 190, 207],
];

/// The embedded font (a valid TrueType file compiled into the binary).
pub fn font() -> FontRef<'static> {
    FontRef::try_from_slice(FONT).expect("the embedded DejaVu Sans parses")
}

/// A named line of `(x, y)` points.
pub type Series = (String, Vec<(f64, f64)>);

/// Line charts side by side (plotters, with the embedded font): each panel a title and named
/// series of `(x, y)` points over a shared x axis named `x_label`, y from 0 (or the lowest
/// value below it) to the highest, a legend inside the plot. Written as a PNG atomically.
pub fn write_line_charts(
    panels: &[(&str, Vec<Series>)],
    x_label: &str,
    path: &Path,
) -> std::io::Result<()> {
    use plotters::prelude::*;
    const PANEL: (u32, u32) = (520, 340);
    let size = (PANEL.0 * panels.len().max(1) as u32, PANEL.1);
    write_chart(size, path, |root| {
        let areas = root.split_evenly((1, panels.len().max(1)));
        for ((title, series), area) in panels.iter().zip(&areas) {
            let points = series
                .iter()
                .flat_map(|(_, p)| p.iter())
                .filter(|p| p.1.is_finite());
            let x_max = points.clone().map(|p| p.0).fold(1.0, f64::max);
            let x_min = points.clone().map(|p| p.0).fold(x_max, f64::min).min(1.0);
            let y_max = points.clone().map(|p| p.1).fold(1e-9, f64::max) * 1.05;
            let y_min = points.map(|p| p.1).fold(0.0, f64::min);
            let mut chart = ChartBuilder::on(area)
                .caption(*title, ("sans-serif", 18))
                .margin(12)
                .x_label_area_size(36)
                .y_label_area_size(56)
                .build_cartesian_2d(x_min..x_max.max(x_min + 1.0), y_min..y_max)?;
            chart
                .configure_mesh()
                .x_desc(x_label)
                .x_labels(x_max.min(12.0) as usize + 1)
                .x_label_formatter(&|x| format!("{x:.0}"))
                .y_label_formatter(&|y| format!("{y:.3}"))
                .light_line_style(WHITE.mix(0.0))
                .label_style(("sans-serif", 13))
                .draw()?;
            for (k, (name, points)) in series.iter().enumerate() {
                let [r, g, b] = PALETTE[k % PALETTE.len()];
                let color = RGBColor(r, g, b);
                let finite: Vec<(f64, f64)> =
                    points.iter().copied().filter(|p| p.1.is_finite()).collect();
                chart
                    .draw_series(LineSeries::new(finite.clone(), color.stroke_width(2)))?
                    .label(name.as_str())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                    });
                chart.draw_series(finite.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
            }
            // The legend goes where the curves end away from it (rising curves end high).
            let ends: Vec<f64> = series
                .iter()
                .filter_map(|(_, p)| p.iter().rev().find(|p| p.1.is_finite()).map(|p| p.1))
                .collect();
            let end = ends.iter().sum::<f64>() / ends.len().max(1) as f64;
            let corner = if end > (y_min + y_max) / 2.0 {
                SeriesLabelPosition::LowerRight
            } else {
                SeriesLabelPosition::UpperRight
            };
            chart
                .configure_series_labels()
                .position(corner)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.3))
                .label_font(("sans-serif", 13))
                .draw()?;
        }
        Ok(())
    })
}

/// The drawing area of a chart.
pub(crate) type ChartArea<'a> =
    plotters::drawing::DrawingArea<plotters::prelude::BitMapBackend<'a>, plotters::coord::Shift>;

/// What drawing a chart returns (plotters' errors, boxed).
pub(crate) type DrawResult = Result<(), Box<dyn std::error::Error>>;

/// A `size` chart drawn by `draw` with plotters on white (the embedded font registered as
/// "sans-serif"), written as a PNG atomically; a drawing error names the file.
pub(crate) fn write_chart(
    size: (u32, u32),
    path: &Path,
    draw: impl FnOnce(&ChartArea) -> DrawResult,
) -> std::io::Result<()> {
    use plotters::prelude::*;
    register_plot_font();
    let mut pixels = vec![255u8; (size.0 * size.1 * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, size).into_drawing_area();
        draw(&root)
            .and_then(|()| Ok(root.present()?))
            .map_err(|e| std::io::Error::other(format!("{}: drawing: {e}", path.display())))?;
    }
    let img = RgbImage::from_raw(size.0, size.1, pixels).expect("the buffer fits the size");
    write_png(&img, path)
}

/// Gives plotters the embedded font as "sans-serif" (it reads no system fonts).
fn register_plot_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        plotters::style::register_font("sans-serif", plotters::style::FontStyle::Normal, FONT)
            .unwrap_or_else(|_| unreachable!("the embedded DejaVu Sans parses"));
    });
}

/// Encodes `img` as PNG and writes it atomically.
pub fn write_png(img: &RgbImage, path: &Path) -> std::io::Result<()> {
    let mut bytes = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::Png,
    )
    .map_err(|e| std::io::Error::other(format!("encoding PNG: {e}")))?;
    crate::fs::write_atomic(path, &bytes)
}

pub fn fill(img: &mut RgbImage, x: u32, y: u32, w: u32, h: u32, color: [u8; 3]) {
    for yy in y..(y + h).min(img.height()) {
        for xx in x..(x + w).min(img.width()) {
            img.put_pixel(xx, yy, Rgb(color));
        }
    }
}

/// A 2-pixel-wide line.
pub fn line(img: &mut RgbImage, a: (f64, f64), b: (f64, f64), color: [u8; 3]) {
    let steps = ((b.0 - a.0).abs().max((b.1 - a.1).abs()).ceil() as usize).max(1);
    for s in 0..=steps {
        let t = s as f64 / steps as f64;
        let (x, y) = (a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1));
        fill(img, x.max(0.0) as u32, y.max(0.0) as u32, 2, 2, color);
    }
}

/// A 1-pixel-wide dashed line: 4 pixels drawn, 3 left out.
pub fn dashed_line(img: &mut RgbImage, a: (f64, f64), b: (f64, f64), color: [u8; 3]) {
    let steps = ((b.0 - a.0).abs().max((b.1 - a.1).abs()).ceil() as usize).max(1);
    for s in (0..=steps).filter(|s| s % 7 < 4) {
        let t = s as f64 / steps as f64;
        let (x, y) = (a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1));
        fill(img, x.max(0.0) as u32, y.max(0.0) as u32, 1, 1, color);
    }
}

/// Width in pixels of `s` drawn at `size`.
pub fn text_width(font: &FontRef, size: f32, s: &str) -> f32 {
    let scaled = font.as_scaled(PxScale::from(size));
    s.chars().map(|c| scaled.h_advance(font.glyph_id(c))).sum()
}

/// Draws `s` with its baseline at `(x, y)`, blending glyph coverage over the background.
pub fn text(
    img: &mut RgbImage,
    font: &FontRef,
    x: f32,
    y: f32,
    size: f32,
    s: &str,
    color: [u8; 3],
) {
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
