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

    /// torchvision's `generate_anchors` for one size, in f32, rounded half to even.
    fn base(&self, size: f32) -> Vec<[f32; 4]> {
        self.aspect_ratios
            .iter()
            .map(|&ratio| {
                let h_ratio = ratio.sqrt();
                let w_ratio = 1.0 / h_ratio;
                let (ws, hs) = (w_ratio * size, h_ratio * size);
                [-ws, -hs, ws, hs].map(|v| match self.convention {
                    Convention::Torchvision => (v / 2.0).round_ties_even(),
                    Convention::Detectron2 => v / 2.0,
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
                Convention::Detectron2 => {
                    let s = (4usize << level) as f32;
                    (s, s)
                }
            };
            let base = self.base(size);
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
}
