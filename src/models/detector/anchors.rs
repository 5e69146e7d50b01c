//! Anchors as torchvision's `AnchorGenerator`: per level, base anchors of each size and
//! aspect ratio centred on 0 (rounded), shifted to every feature position at the level's
//! integer stride; positions row-major, anchors innermost.

/// One size per pyramid level (torchvision: 32, 64, 128, 256, 512), the same aspect ratios
/// (h / w) on every level (0.5, 1, 2).
#[derive(Debug, Clone, PartialEq)]
pub struct AnchorGenerator {
    pub sizes: Vec<f32>,
    pub aspect_ratios: Vec<f32>,
}

impl AnchorGenerator {
    pub fn new(sizes: Vec<f32>, aspect_ratios: Vec<f32>) -> Self {
        Self {
            sizes,
            aspect_ratios,
        }
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
                [-ws, -hs, ws, hs].map(|v| (v / 2.0).round_ties_even())
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
        for (&size, &[h, w]) in self.sizes.iter().zip(levels_hw) {
            let (stride_y, stride_x) = ((image_hw[0] / h) as f32, (image_hw[1] / w) as f32);
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
