//! Matching predictions (anchors, proposals) to ground-truth boxes by IoU, as torchvision's
//! `det_utils.Matcher`: each prediction takes its best ground truth; below `low` it is
//! background ([`BELOW_LOW`]), between the thresholds it is ignored ([`BETWEEN`]); with
//! low-quality matches allowed, every ground truth also keeps the predictions that overlap
//! it most, however little.

/// Background: best IoU below the low threshold.
pub const BELOW_LOW: i64 = -1;
/// Ignored: best IoU between the thresholds.
pub const BETWEEN: i64 = -2;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Matcher {
    pub high: f32,
    pub low: f32,
    pub allow_low_quality_matches: bool,
}

impl Matcher {
    /// The RPN's matcher: 0.7 / 0.3 with low-quality matches.
    pub fn rpn() -> Self {
        Self {
            high: 0.7,
            low: 0.3,
            allow_low_quality_matches: true,
        }
    }

    /// The box head's matcher: 0.5 / 0.5.
    pub fn box_head() -> Self {
        Self {
            high: 0.5,
            low: 0.5,
            allow_low_quality_matches: false,
        }
    }

    /// For each of the `n` predictions, the index of its ground truth or [`BELOW_LOW`] /
    /// [`BETWEEN`], given the `[m, n]` row-major IoU matrix (`m` ground-truth boxes, m > 0).
    pub fn assign(&self, iou: &[f32], m: usize, n: usize) -> Vec<i64> {
        assert!(
            m > 0 && iou.len() == m * n,
            "matcher: IoU must be [m > 0, n], got {} values for m = {m}, n = {n}",
            iou.len()
        );
        let at = |g: usize, p: usize| iou[g * n + p];
        // Best ground truth per prediction; the first on ties, as torch.max.
        let best: Vec<(usize, f32)> = (0..n)
            .map(|p| {
                (1..m).fold((0, at(0, p)), |(bg, bv), g| {
                    if at(g, p) > bv {
                        (g, at(g, p))
                    } else {
                        (bg, bv)
                    }
                })
            })
            .collect();
        let mut matches: Vec<i64> = best
            .iter()
            .map(|&(g, v)| {
                if v < self.low {
                    BELOW_LOW
                } else if v < self.high {
                    BETWEEN
                } else {
                    g as i64
                }
            })
            .collect();
        if self.allow_low_quality_matches {
            for g in 0..m {
                let highest = (0..n).map(|p| at(g, p)).fold(f32::NEG_INFINITY, f32::max);
                for p in (0..n).filter(|&p| at(g, p) == highest) {
                    matches[p] = best[p].0 as i64;
                }
            }
        }
        matches
    }
}
