//! Raster drawing for the PNGs avaloc writes (charts, annotated keyframes), directly with
//! `image` and pure-Rust glyph rendering (`ab_glyph`) from an embedded DejaVu Sans (see
//! `fonts/LICENSE-DejaVu.txt`), so pictures need no system font libraries.

use std::path::Path;

use ab_glyph::{Font, FontRef, PxScale, ScaleFont, point};
use image::{Rgb, RgbImage};

static FONT: &[u8] = include_bytes!("fonts/DejaVuSans.ttf");

pub const INK: [u8; 3] = [30, 30, 30];
pub const GRID: [u8; 3] = [215, 215, 215];
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

/// Encodes `img` as PNG and writes it atomically.
pub fn write_png(img: &RgbImage, path: &Path) -> std::io::Result<()> {
    let mut bytes = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::Png,
    )
    .map_err(|e| std::io::Error::other(format!("encoding PNG: {e}")))?;
    crate::io::write_atomic(path, &bytes)
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
