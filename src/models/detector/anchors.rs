//! Anchors as torchvision's `AnchorGenerator`: per level, base anchors of each size and
//! aspect ratio centred on 0 (rounded), shifted to every feature position at the level's
//! integer stride; positions row-major, anchors innermost.

use super::Convention;

/// One size per pyramid level (torchvision: 32, 64, 128, 256, 512), the same aspect ratios
/// (h / w) on every level (0.5, 1, 2).
#[derive(Debug, Clone, PartialEq)]
pub struct AnchorGenerator {
    pub sizes: Vec<f32>,
    pub aspect_ratios: Vec<f32>,
    pub convention: Convention,
}

impl AnchorGenerator {
    pub fn new(sizes: Vec<f32>, aspect_ratios: Vec<f32>) -> Self {
        Self {
            sizes,
            aspect_ratios,
            convention: Convention::Torchvision,
        }
    }

    /// detectron2's anchors (`DefaultAnchorGenerator`) differ in two details: base anchors
    /// are not rounded, and level `l` (finest first) has the fixed stride `4 · 2^l` where
    /// torchvision divides the padded image size by the feature size.
    pub fn with_convention(mut self, convention: Convention) -> Self {
        self.convention = convention;
        self
    }

    /// Anchors per feature position.
    pub fn num_anchors(&self) -> usize {
        self.aspect_ratios.len()
    }

    /// Base anchors of one size at one stride: torchvision's `generate_anchors` in f32,
    /// rounded half to even; detectron2's unrounded; Detectron's ([`detectron1_base`]).
    fn base(&self, size: f32, stride: f32) -> Vec<[f32; 4]> {
        if self.convention == Convention::Detectron1 {
            return detectron1_base(stride, size, &self.aspect_ratios);
        }
        self.aspect_ratios
            .iter()
            .map(|&ratio| {
                let h_ratio = ratio.sqrt();
                let w_ratio = 1.0 / h_ratio;
                let (ws, hs) = (w_ratio * size, h_ratio * size);
                [-ws, -hs, ws, hs].map(|v| match self.convention {
                    Convention::Torchvision => (v / 2.0).round_ties_even(),
                    Convention::Detectron2 | Convention::Detectron1 => v / 2.0,
                })
            })
            .collect()
    }

    /// `[x1, y1, x2, y2]` anchors of every level for an `image_hw` (padded batch) size and
    /// the levels' `[h, w]`, and the number per level.
    ///
    /// # Panics
    /// When the number of levels differs from the number of sizes.
    pub fn grid(
        &self,
        image_hw: [usize; 2],
        levels_hw: &[[usize; 2]],
    ) -> (Vec<[f32; 4]>, Vec<usize>) {
        assert_eq!(
            levels_hw.len(),
            self.sizes.len(),
            "one anchor size per pyramid level"
        );
        let mut anchors = Vec::new();
        let mut counts = Vec::new();
        for (level, (&size, &[h, w])) in self.sizes.iter().zip(levels_hw).enumerate() {
            let (stride_y, stride_x) = match self.convention {
                Convention::Torchvision => ((image_hw[0] / h) as f32, (image_hw[1] / w) as f32),
                Convention::Detectron2 | Convention::Detectron1 => {
                    let s = (4usize << level) as f32;
                    (s, s)
                }
            };
            let base = self.base(size, stride_x);
            for y in 0..h {
                for x in 0..w {
                    let (sx, sy) = (x as f32 * stride_x, y as f32 * stride_y);
                    anchors.extend(
                        base.iter()
                            .map(|b| [sx + b[0], sy + b[1], sx + b[2], sy + b[3]]),
                    );
                }
            }
            counts.push(h * w * base.len());
        }
        (anchors, counts)
    }
}

/// Detectron's `generate_anchors(stride, (size,), ratios)` (from the original Faster R-CNN):
/// the `stride × stride` window `[0, stride - 1]` is reshaped to each aspect ratio (h / w)
/// with its width and height rounded half to even (numpy's `round`), then scaled to `size`
/// about its centre `(stride - 1) / 2`, in the "+1" convention. Computed in f64, as numpy.
pub fn detectron1_base(stride: f32, size: f32, aspect_ratios: &[f32]) -> Vec<[f32; 4]> {
    let stride = f64::from(stride);
    let centre = 0.5 * (stride - 1.0);
    let scale = f64::from(size) / stride;
    aspect_ratios
        .iter()
        .map(|&ratio| {
            let ratio = f64::from(ratio);
            let ws = (stride * stride / ratio).sqrt().round_ties_even();
            let hs = (ws * ratio).round_ties_even();
            let (half_w, half_h) = (0.5 * (ws * scale - 1.0), 0.5 * (hs * scale - 1.0));
            [
                centre - half_w,
                centre - half_h,
                centre + half_w,
                centre + half_h,
            ]
            .map(|v| v as f32)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detectron2_anchors_are_unrounded_at_fixed_strides() {
        let generator = AnchorGenerator::new(vec![32.0, 64.0], vec![0.5, 1.0, 2.0]);
        // Padded 96 × 96 image, levels of 24 × 24 and 11 × 11 (96 / 11 = 8 for torchvision).
        let levels = [[24, 24], [11, 11]];
        let (tv, counts) = generator.grid([96, 96], &levels);
        let (d2, _) = generator
            .clone()
            .with_convention(Convention::Detectron2)
            .grid([96, 96], &levels);
        assert_eq!(counts, vec![24 * 24 * 3, 11 * 11 * 3]);
        // Size 32, ratio 0.5: w = 32 / √0.5 = 45.2548, h = 32 · √0.5 = 22.6274.
        assert_eq!(tv[0], [-23.0, -11.0, 23.0, 11.0]);
        let expected = [-22.627417, -11.313708, 22.627417, 11.313708];
        for (a, e) in d2[0].iter().zip(expected) {
            assert!((a - e).abs() < 1e-4, "{:?}", d2[0]);
        }
        // Second level, position (0, 1): stride 8 (detectron2's 4 · 2) against 96 / 11 = 8.
        let first = counts[0];
        assert_eq!(tv[first + 3][0] - tv[first][0], 8.0);
        assert!((d2[first + 3][0] - d2[first][0] - 8.0).abs() < 1e-5);
        // Where the division is not exact torchvision takes 96 / 7 = 13; detectron2 keeps 8.
        let (tv, _) = generator.grid([96, 96], &[[24, 24], [7, 7]]);
        let (d2, _) = generator
            .with_convention(Convention::Detectron2)
            .grid([96, 96], &[[24, 24], [7, 7]]);
        assert_eq!(tv[first + 3][0] - tv[first][0], 13.0);
        assert!((d2[24 * 24 * 3 + 3][0] - d2[24 * 24 * 3][0] - 8.0).abs() < 1e-5);
    }

    /// The anchors that Detectron's `generate_anchors.py` lists as the reference (Shaoqing
    /// Ren's MATLAB output for stride 16, sizes 128, 256, 512, ratios 0.5, 1, 2), ratio-major.
    /// MATLAB indexes pixels from 1: the Python code's anchors are the table minus 1 (its
    /// first anchor, [-84, -40, 99, 55], is the one py-faster-rcnn prints).
    #[test]
    fn detectron1_anchors_match_the_published_table() {
        let table = [
            [-83.0, -39.0, 100.0, 56.0],
            [-175.0, -87.0, 192.0, 104.0],
            [-359.0, -183.0, 376.0, 200.0],
            [-55.0, -55.0, 72.0, 72.0],
            [-119.0, -119.0, 136.0, 136.0],
            [-247.0, -247.0, 264.0, 264.0],
            [-35.0, -79.0, 52.0, 96.0],
            [-79.0, -167.0, 96.0, 184.0],
            [-167.0, -343.0, 184.0, 360.0],
        ];
        for (r, ratio) in [0.5, 1.0, 2.0].into_iter().enumerate() {
            for (s, size) in [128.0, 256.0, 512.0].into_iter().enumerate() {
                let matlab = table[3 * r + s].map(|v| v - 1.0);
                assert_eq!(detectron1_base(16.0, size, &[ratio])[0], matlab);
            }
        }
        // FPN's finest level (stride 4, size 32): ws = round(√32) = 6, hs = 3, times 8.
        let generator = AnchorGenerator::new(vec![32.0, 64.0], vec![0.5, 1.0, 2.0])
            .with_convention(Convention::Detectron1);
        let (anchors, _) = generator.grid([64, 64], &[[16, 16], [8, 8]]);
        assert_eq!(anchors[0], [-22.0, -10.0, 25.0, 13.0]);
        assert_eq!(anchors[1], [-14.0, -14.0, 17.0, 17.0]);
        // Position (0, 1) of the first level is 4 pixels on.
        assert_eq!(anchors[3], [-18.0, -10.0, 29.0, 13.0]);
    }
}
