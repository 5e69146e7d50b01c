//! Clips around a keyframe: JPEG decoding and the spatial transforms of training and test,
//! applied identically to every frame of a clip and to its boxes.

use std::path::PathBuf;

use image::{RgbImage, imageops::FilterType};
use rand::Rng;

use super::DataError;

/// Per-channel normalisation of `[0, 1]` RGB values: `(v - mean) / std`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Normalization {
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

impl Default for Normalization {
    /// PySlowFast's AVA configs: mean 0.45, std 0.225 on every channel.
    fn default() -> Self {
        Self {
            mean: [0.45; 3],
            std: [0.225; 3],
        }
    }
}

/// The spatial transform of a clip.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ClipTransform {
    /// Short side drawn uniformly from `short_side` (inclusive), a random `crop × crop`
    /// window, horizontal flip with probability 1/2 (the seed system: 256–320, 224).
    Train { short_side: [u32; 2], crop: u32 },
    /// Short side `short_side`, the full frame, flipped when asked (test-time augmentation).
    Test { short_side: u32, flip: bool },
}

/// The transform drawn for one clip: cut `region` from the frame (the whole frame where
/// absent), resize to `size`, crop `crop` (x, y, w, h), flip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransformDraw {
    pub region: Option<Region>,
    pub size: [u32; 2],
    pub crop: [u32; 4],
    pub flip: bool,
}

/// A window `[x, y, w, h]` in pixels of a frame of `frame` `[w, h]` pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    pub px: [u32; 4],
    pub frame: [u32; 2],
}

impl Region {
    /// The square `zoom` times the longer side of `box_xyxy_norm` (at least 16 pixels) about
    /// its centre, moved inside the frame where it fits and cut to it where it does not.
    pub fn around(box_xyxy_norm: [f64; 4], zoom: f64, frame: [u32; 2]) -> Self {
        let [fw, fh] = frame.map(f64::from);
        let [x1, y1, x2, y2] = box_xyxy_norm;
        let side = (zoom * ((x2 - x1) * fw).max((y2 - y1) * fh)).max(16.0);
        let span = |centre: f64, len: f64| {
            let size = side.min(len).round().max(1.0);
            let start = (centre - size / 2.0).clamp(0.0, len - size).round();
            (start as u32, size as u32)
        };
        let (x, w) = span((x1 + x2) / 2.0 * fw, fw);
        let (y, h) = span((y1 + y2) / 2.0 * fh, fh);
        Self {
            px: [x, y, w, h],
            frame,
        }
    }

    /// A box normalised to the frame, normalised to the region instead (not clipped).
    pub fn box_in(&self, box_xyxy_norm: [f64; 4]) -> [f64; 4] {
        let [x, y, w, h] = self.px.map(f64::from);
        let [fw, fh] = self.frame.map(f64::from);
        let [x1, y1, x2, y2] = box_xyxy_norm;
        [
            (x1 * fw - x) / w,
            (y1 * fh - y) / h,
            (x2 * fw - x) / w,
            (y2 * fh - y) / h,
        ]
    }
}

impl ClipTransform {
    /// Draws the transform for a clip whose frames are `width × height`.
    pub fn draw(&self, width: u32, height: u32, rng: &mut impl Rng) -> TransformDraw {
        match *self {
            Self::Train { short_side, crop } => {
                let short = rng.random_range(short_side[0]..=short_side[1]);
                let size = resized(width, height, short);
                let (cw, ch) = (crop.min(size[0]), crop.min(size[1]));
                let x = rng.random_range(0..=size[0] - cw);
                let y = rng.random_range(0..=size[1] - ch);
                TransformDraw {
                    region: None,
                    size,
                    crop: [x, y, cw, ch],
                    flip: rng.random_bool(0.5),
                }
            }
            Self::Test { short_side, flip } => {
                let size = resized(width, height, short_side);
                TransformDraw {
                    region: None,
                    size,
                    crop: [0, 0, size[0], size[1]],
                    flip,
                }
            }
        }
    }
}

/// Size with the short side scaled to `short`, keeping the aspect ratio (PySlowFast's
/// `int(math.floor(float(long) / short_orig * short))`).
fn resized(width: u32, height: u32, short: u32) -> [u32; 2] {
    if width <= height {
        [
            short,
            (height as f64 / width as f64 * short as f64).floor() as u32,
        ]
    } else {
        [
            (width as f64 / height as f64 * short as f64).floor() as u32,
            short,
        ]
    }
}

impl TransformDraw {
    /// Applies the transform to one frame.
    pub fn apply(&self, frame: &RgbImage) -> RgbImage {
        let resized = match self.region {
            Some(Region {
                px: [x, y, w, h], ..
            }) => {
                let cut = image::imageops::crop_imm(frame, x, y, w, h).to_image();
                image::imageops::resize(&cut, self.size[0], self.size[1], FilterType::Triangle)
            }
            None => {
                image::imageops::resize(frame, self.size[0], self.size[1], FilterType::Triangle)
            }
        };
        let [x, y, w, h] = self.crop;
        let mut out = image::imageops::crop_imm(&resized, x, y, w, h).to_image();
        if self.flip {
            image::imageops::flip_horizontal_in_place(&mut out);
        }
        out
    }

    /// Boxes normalised to the original frame, in pixels of the transformed one, clipped
    /// to it (a box may end up empty when the crop cuts it away).
    pub fn apply_to_box(&self, box_xyxy_norm: [f64; 4]) -> [f32; 4] {
        let [x, y, w, h] = self.crop.map(|v| v as f64);
        let sx = self.size[0] as f64;
        let sy = self.size[1] as f64;
        let [x1, y1, x2, y2] = match &self.region {
            Some(region) => region.box_in(box_xyxy_norm),
            None => box_xyxy_norm,
        };
        let clip = |v: f64, max: f64| v.clamp(0.0, max);
        let (mut x1, y1, mut x2, y2) = (
            clip(x1 * sx - x, w),
            clip(y1 * sy - y, h),
            clip(x2 * sx - x, w),
            clip(y2 * sy - y, h),
        );
        if self.flip {
            (x1, x2) = (w - x2, w - x1);
        }
        [x1 as f32, y1 as f32, x2 as f32, y2 as f32]
    }
}

/// Decodes one frame, naming the file when it is missing or corrupt.
pub fn decode_frame(path: &PathBuf) -> Result<RgbImage, DataError> {
    let bytes = std::fs::read(path).map_err(|source| DataError::Io {
        path: path.clone(),
        source,
    })?;
    image::load_from_memory(&bytes)
        .map(|img| img.to_rgb8())
        .map_err(|e| DataError::File {
            path: path.clone(),
            message: format!("cannot decode image: {e}"),
        })
}

/// A decoded, transformed, normalised clip: values `[3, T, H, W]` in channel-major order.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipPixels {
    pub values: Vec<f32>,
    pub shape: [usize; 4],
}

/// Loads the frames of a clip (all the same size), applies `draw` and normalises.
pub fn load_clip(
    frames: &[PathBuf],
    draw: &TransformDraw,
    norm: &Normalization,
) -> Result<ClipPixels, DataError> {
    let [_, _, w, h] = draw.crop.map(|v| v as usize);
    let t = frames.len();
    let mut values = vec![0f32; 3 * t * h * w];
    for (i, path) in frames.iter().enumerate() {
        let frame = draw.apply(&decode_frame(path)?);
        for (x, y, pixel) in frame.enumerate_pixels() {
            for c in 0..3 {
                let v = pixel[c] as f32 / 255.0;
                values[((c * t + i) * h + y as usize) * w + x as usize] =
                    (v - norm.mean[c]) / norm.std[c];
            }
        }
    }
    Ok(ClipPixels {
        values,
        shape: [3, t, h, w],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A box at the right edge of a 320 × 240 frame, x 288–320, y 120–168: the square of 1.5 ×
    /// 48 = 72 px about its centre (304, 144) is moved left to fit, x 248–320, y 108–180.
    #[test]
    fn a_zoomed_region_fits_the_frame_and_carries_its_box() {
        let b = [0.9, 0.5, 1.0, 0.7];
        let region = Region::around(b, 1.5, [320, 240]);
        assert_eq!(region.px, [248, 108, 72, 72]);
        let round = |v: [f64; 4]| v.map(|x| (x * 1e4).round() / 1e4);
        assert_eq!(round(region.box_in(b)), [0.5556, 0.1667, 1.0, 0.8333]);
        // Read at short side 64: the box in the 64 × 64 input.
        let draw = TransformDraw {
            region: Some(region),
            ..ClipTransform::Test {
                short_side: 64,
                flip: false,
            }
            .draw(72, 72, &mut rand::rng())
        };
        let px = draw.apply_to_box(b).map(|v| (v * 100.0).round() / 100.0);
        assert_eq!(px, [35.56, 10.67, 64.0, 53.33]);
        let frame = RgbImage::from_fn(320, 240, |x, y| image::Rgb([x as u8, y as u8, 0]));
        let out = draw.apply(&frame);
        assert_eq!(out.dimensions(), (64, 64));
        // The region's top-left pixel (248, 108) is the output's.
        let p = out.get_pixel(0, 0);
        assert!(
            (p[0] as i32 - 248).abs() <= 1 && (p[1] as i32 - 108).abs() <= 1,
            "{p:?}"
        );
        // A box larger than the frame gets the whole frame.
        assert_eq!(
            Region::around([0.0, 0.0, 1.0, 1.0], 2.0, [320, 240]).px,
            [0, 0, 320, 240]
        );
    }
}
