//! The person crop CPN sees, as tf-cpn's `dataset.py::Preprocessing` makes it at test time:
//! the box grown by 10 % of its width and 15 % of its height on each side, then on one axis
//! to the input's aspect ratio, cut from the image padded with the mean colour, resized
//! bilinearly to the input size and normalised (RGB − mean) / 255.
//!
//! tf-cpn pads by `max(h, w)` and shrinks a crop that would leave that padding; here the
//! padding is unbounded, which differs only for boxes reaching further than an image size out.
//! It resizes the 8-bit crop with OpenCV's fixed-point `INTER_LINEAR` and rounds to integers;
//! here the resize is in floating point (within 1/255 of it per pixel).

use image::RgbImage;

/// Box growth on each side, relative to the box (tf-cpn's `imgExtXBorder`, `imgExtYBorder`).
pub const CROP_BORDER_XY: [f64; 2] = [0.1, 0.15];

/// A person's crop in image pixels: integer corners, `[x1, x2)` × `[y1, y2)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CropBox {
    pub x1: f64,
    pub y1: f64,
    pub x2: f64,
    pub y2: f64,
}

impl CropBox {
    /// The crop for `box_xyxy_px` at an input of `input_hw` (`[height, width]`).
    pub fn around(box_xyxy_px: [f64; 4], input_hw: [usize; 2]) -> Self {
        let [x1, y1, x2, y2] = box_xyxy_px;
        let (w, h) = ((x2 - x1).max(1.0), (y2 - y1).max(1.0));
        let (cx, cy) = ((x1 + x2) / 2.0, (y1 + y2) / 2.0);
        let crop_w = w * (1.0 + 2.0 * CROP_BORDER_XY[0]);
        let crop_h = h * (1.0 + 2.0 * CROP_BORDER_XY[1]);
        let (input_h, input_w) = (input_hw[0] as f64, input_hw[1] as f64);
        // The relatively larger side decides; the other grows to the input's aspect ratio.
        let (size, side) = if crop_h / input_h > crop_w / input_w {
            (crop_h, input_h)
        } else {
            (crop_w, input_w)
        };
        let half_w = size / 2.0 / side * input_w;
        let half_h = size / 2.0 / side * input_h;
        // tf-cpn truncates the corners of the padded image's (positive) coordinates.
        Self {
            x1: (cx - half_w).floor(),
            y1: (cy - half_h).floor(),
            x2: (cx + half_w).floor(),
            y2: (cy + half_h).floor(),
        }
    }

    pub fn width(&self) -> f64 {
        (self.x2 - self.x1).max(1.0)
    }

    pub fn height(&self) -> f64 {
        (self.y2 - self.y1).max(1.0)
    }

    /// A point of the input crop (`input_hw` pixels) in image pixels.
    pub fn to_image(&self, [x, y]: [f64; 2], input_hw: [usize; 2]) -> [f64; 2] {
        [
            x / input_hw[1] as f64 * self.width() + self.x1,
            y / input_hw[0] as f64 * self.height() + self.y1,
        ]
    }
}

/// The crop of `image` as a normalised `[3, H, W]` (RGB planes): half-pixel bilinear
/// sampling within the crop (OpenCV's `resize`), the mean colour outside the image.
pub fn crop_person(
    image: &RgbImage,
    crop: &CropBox,
    input_hw: [usize; 2],
    mean: [f32; 3],
) -> Vec<f32> {
    let [out_h, out_w] = input_hw;
    let (img_w, img_h) = (image.width() as i64, image.height() as i64);
    // Taps along one axis: (crop-relative lower, upper, weight of the upper).
    let taps = |out: usize, len: f64| -> Vec<(i64, i64, f32)> {
        let last = len as i64 - 1;
        let scale = len / out as f64;
        (0..out)
            .map(|o| {
                let src = ((o as f64 + 0.5) * scale - 0.5).clamp(0.0, last as f64);
                let lo = src.floor() as i64;
                (lo, (lo + 1).min(last), (src - lo as f64) as f32)
            })
            .collect()
    };
    let xs = taps(out_w, crop.width());
    let ys = taps(out_h, crop.height());
    let (x0, y0) = (crop.x1 as i64, crop.y1 as i64);
    // Normalised pixel at crop-relative (x, y): zero (the mean) outside the image.
    let pixel = |x: i64, y: i64| -> [f32; 3] {
        let (ix, iy) = (x0 + x, y0 + y);
        if ix < 0 || iy < 0 || ix >= img_w || iy >= img_h {
            return [0.0; 3];
        }
        let p = image.get_pixel(ix as u32, iy as u32).0;
        [0, 1, 2].map(|c| (p[c] as f32 - mean[c]) / 255.0)
    };
    let plane = out_h * out_w;
    let mut out = vec![0.0; 3 * plane];
    for (oy, &(ya, yb, wy)) in ys.iter().enumerate() {
        for (ox, &(xa, xb, wx)) in xs.iter().enumerate() {
            let (a, b) = (pixel(xa, ya), pixel(xb, ya));
            let (c, d) = (pixel(xa, yb), pixel(xb, yb));
            for ch in 0..3 {
                let top = a[ch] + (b[ch] - a[ch]) * wx;
                let bottom = c[ch] + (d[ch] - c[ch]) * wx;
                out[ch * plane + oy * out_w + ox] = top + (bottom - top) * wy;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 40×100 box at 256×192 (3:4): grown to 48×130, height decides (130/256 > 48/192),
    /// so the width becomes 130·192/256 = 97.5 around the centre (70, 100).
    #[test]
    fn the_box_grows_by_the_borders_then_to_the_aspect_ratio() {
        let crop = CropBox::around([50.0, 50.0, 90.0, 150.0], [256, 192]);
        assert_eq!(
            crop,
            CropBox {
                x1: (70.0f64 - 48.75).floor(),
                y1: 35.0,
                x2: (70.0f64 + 48.75).floor(),
                y2: 165.0
            }
        );
        // A wide box: the width decides (120·1.2 = 144 over 192), height 144·256/192 = 192.
        let wide = CropBox::around([0.0, 0.0, 120.0, 40.0], [256, 192]);
        assert_eq!((wide.x1, wide.x2), (-12.0, 132.0));
        assert_eq!((wide.y1, wide.y2), (-76.0, 116.0));
        // The crop's corners map back onto its box.
        assert_eq!(wide.to_image([0.0, 0.0], [256, 192]), [-12.0, -76.0]);
        assert_eq!(wide.to_image([192.0, 256.0], [256, 192]), [132.0, 116.0]);
    }

    #[test]
    fn the_crop_samples_the_image_and_the_mean_outside_it() {
        // A 4×2 image with distinct pixels; a crop of x 2..6, y 0..2 (half outside) at 2×4.
        let mut image = RgbImage::new(4, 2);
        for (x, y, p) in image.enumerate_pixels_mut() {
            p.0 = [(10 * x + 100 * y) as u8, 0, 255];
        }
        let crop = CropBox {
            x1: 2.0,
            y1: 0.0,
            x2: 6.0,
            y2: 2.0,
        };
        let out = crop_person(&image, &crop, [2, 4], [0.0, 0.0, 255.0]);
        // Same size: each output pixel is one crop pixel; x 4 and 5 are outside (mean: 0).
        let red: Vec<f32> = out[..8].iter().map(|v| v * 255.0).collect();
        let expected = [20.0, 30.0, 0.0, 0.0, 120.0, 130.0, 0.0, 0.0];
        for (got, want) in red.iter().zip(expected) {
            assert!((got - want).abs() < 1e-4, "{red:?}");
        }
        assert!(out[16..].iter().all(|&b| b == 0.0), "blue is the mean");
        // Halving the width: output x 0 samples crop x 0.5, between 20 and 30.
        let half = crop_person(&image, &crop, [2, 2], [0.0; 3]);
        assert!((half[0] * 255.0 - 25.0).abs() < 1e-4, "{}", half[0] * 255.0);
    }
}
