//! CPN's training targets and losses, as tf-cpn's `dataset.py::joints_heatmap_gen` and
//! `network.py::make_network`.
//!
//! Targets: per keypoint a one at `(⌊y·h/H⌋, ⌊x·w/W⌋)` of the output map, blurred with
//! OpenCV's Gaussian of the level's kernel size and scaled to peak 255; GlobalNet's levels take
//! kernels 15, 11, 9, 7 at 256×192 (23, 17, 13, 9 at 384×288) and RefineNet the smallest. tf-cpn
//! gives the largest kernel to the finest level (C2), pytorch-cpn to the coarsest (C5).
//!
//! Losses: GlobalNet's mean squared error per level against targets kept for visible
//! keypoints only (`valid > 1.1`), summed over the levels and divided by 2 (tf-cpn also
//! divides by the 4 levels, pytorch-cpn does not); RefineNet's per-keypoint mean squared error
//! over the map for labelled keypoints (`valid > 0.1`), of which each crop's 8 hardest
//! count (online hard keypoint mining), averaged.

use burn::tensor::{Tensor, TensorData, backend::Backend};

use super::gaussian::{blur, gaussian_kernel};
use super::{CpnConvention, CpnOutput};

/// Keypoints each crop's refine loss keeps (tf-cpn's `ohkm(refine_loss, 8)`).
pub const HARD_KEYPOINTS: usize = 8;

/// Target heatmaps `[K, h, w]` for `keypoints` (`[x, y, visibility]` in input-crop pixels):
/// keypoints unlabelled (visibility 0) or at negative coordinates get an empty map, others
/// are clipped into the crop first.
pub fn keypoint_heatmaps(
    keypoints: &[[f64; 3]],
    input_hw: [usize; 2],
    output_hw: [usize; 2],
    kernel_size: usize,
) -> Vec<f32> {
    let [h, w] = output_hw;
    let kernel = gaussian_kernel(kernel_size);
    let mut maps = Vec::with_capacity(keypoints.len() * h * w);
    for &[x, y, v] in keypoints {
        let mut map = vec![0.0f32; h * w];
        if v > 0.0 && x >= 0.0 && y >= 0.0 {
            let x = x.min(input_hw[1] as f64 - 1.0);
            let y = y.min(input_hw[0] as f64 - 1.0);
            let (col, row) = (
                (x * w as f64 / input_hw[1] as f64) as usize,
                (y * h as f64 / input_hw[0] as f64) as usize,
            );
            map[row * w + col] = 1.0;
            map = blur(&map, output_hw, &kernel);
            let peak = map.iter().copied().fold(0.0f32, f32::max);
            if peak > 1e-8 {
                map.iter_mut().for_each(|m| *m *= 255.0 / peak);
            }
        }
        maps.extend(map);
    }
    maps
}

/// A batch's targets: GlobalNet's per level (coarsest first, as its outputs), RefineNet's,
/// and each keypoint's validity (COCO visibility after augmentation: 0, 1 or 2).
#[derive(Debug, Clone)]
pub struct CpnTargets<B: Backend> {
    pub global: Vec<Tensor<B, 4>>,
    pub refine: Tensor<B, 4>,
    pub valid: Tensor<B, 2>,
}

impl<B: Backend> CpnTargets<B> {
    /// Targets for crops whose keypoints are `[x, y, visibility]` in input pixels, with
    /// `kernels` GlobalNet's sizes finest level first (tf-cpn's `gk15, gk11, gk9, gk7`).
    pub fn new(
        crops: &[Vec<[f64; 3]>],
        input_hw: [usize; 2],
        kernels: [usize; 4],
        convention: CpnConvention,
        device: &B::Device,
    ) -> Self {
        let output_hw = input_hw.map(|s| s / super::HEATMAP_STRIDE);
        let k = crops.first().map_or(0, Vec::len);
        let batch = |size: usize| {
            let values: Vec<f32> = crops
                .iter()
                .flat_map(|kp| keypoint_heatmaps(kp, input_hw, output_hw, size))
                .collect();
            Tensor::<B, 4>::from_data(
                TensorData::new(values, [crops.len(), k, output_hw[0], output_hw[1]]),
                device,
            )
        };
        // Levels are coarsest first; tf-cpn pairs the finest (last) with the first kernel.
        let order: [usize; 4] = match convention {
            CpnConvention::TfCpn => [3, 2, 1, 0],
            CpnConvention::PytorchCpn => [0, 1, 2, 3],
        };
        let global: Vec<Tensor<B, 4>> = order.iter().map(|&i| batch(kernels[i])).collect();
        // RefineNet's target is the smallest kernel's, which one level already has.
        let smallest = (0..4)
            .min_by_key(|&l| kernels[order[l]])
            .expect("four levels");
        let valid: Vec<f32> = crops.iter().flatten().map(|p| p[2] as f32).collect();
        Self {
            refine: global[smallest].clone(),
            global,
            valid: Tensor::from_data(TensorData::new(valid, [crops.len(), k]), device),
        }
    }
}

/// CPN's loss and its two parts.
#[derive(Debug, Clone)]
pub struct CpnLoss<B: Backend> {
    pub total: Tensor<B, 1>,
    pub global: Tensor<B, 1>,
    pub refine: Tensor<B, 1>,
}

/// The losses of `output` against `targets`.
pub fn cpn_loss<B: Backend>(
    output: &CpnOutput<B>,
    targets: &CpnTargets<B>,
    convention: CpnConvention,
) -> CpnLoss<B> {
    let [n, k] = targets.valid.dims();
    let visible = targets
        .valid
        .clone()
        .greater_elem(1.1)
        .float()
        .reshape([n, k, 1, 1]);
    let levels = output.global.len() as f64;
    let mut global = None;
    for (out, target) in output.global.iter().zip(&targets.global) {
        let err = (out.clone() - target.clone() * visible.clone())
            .powi_scalar(2)
            .mean();
        global = Some(match global {
            None => err,
            Some(sum) => sum + err,
        });
    }
    let mut global = global.expect("GlobalNet has levels").div_scalar(2.0);
    if convention == CpnConvention::TfCpn {
        global = global.div_scalar(levels);
    }
    let labelled = targets.valid.clone().greater_elem(0.1).float();
    let per_keypoint = (output.refine.clone() - targets.refine.clone())
        .powi_scalar(2)
        .mean_dim(3)
        .mean_dim(2)
        .reshape([n, k])
        * labelled;
    let hard = HARD_KEYPOINTS.min(k);
    let (_, indices) = per_keypoint.clone().detach().topk_with_indices(hard, 1);
    let refine = per_keypoint
        .gather(1, indices)
        .sum_dim(1)
        .div_scalar(hard as f64)
        .mean();
    CpnLoss {
        total: global.clone() + refine.clone(),
        global,
        refine,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 7×7 target's centre row, by hand from OpenCV's table [1, 3.5, 7, 9, 7, 3.5, 1] / 32,
    /// scaled to peak 255: 28.3, 99.2, 198.3, 255, ...
    #[test]
    fn a_target_peaks_at_255_on_the_keypoint_s_cell() {
        // x 21 · 12 / 48 = 5.25 → column 5; y 22 · 16 / 64 = 5.5 → row 5.
        let map = keypoint_heatmaps(&[[21.0, 22.0, 2.0]], [64, 48], [16, 12], 7);
        let row = &map[5 * 12..6 * 12];
        let expected = [0.0, 0.0, 1.0, 3.5, 7.0, 9.0, 7.0, 3.5, 1.0, 0.0, 0.0, 0.0];
        for (got, want) in row.iter().zip(expected) {
            assert!((got - 255.0 * want / 9.0).abs() < 1e-3, "{row:?}");
        }
        // One cell from the right edge (column 10 of 12): reflect-101 reads column 10 for 12,
        // so column 11 collects 7 + 7 and peaks, column 10 gets 9 + 3.5 (cv2.GaussianBlur:
        // ..., 145.7, 227.7, 255).
        let map = keypoint_heatmaps(&[[41.0, 22.0, 2.0]], [64, 48], [16, 12], 7);
        let row = &map[5 * 12..6 * 12];
        assert!((row[11] - 255.0).abs() < 1e-3 && (row[10] - 255.0 * 12.5 / 14.0).abs() < 1e-3);
        // Unlabelled and negative keypoints give empty maps.
        for kp in [[10.0, 10.0, 0.0], [-1.0, 10.0, 2.0]] {
            assert!(
                keypoint_heatmaps(&[kp], [64, 48], [16, 12], 7)
                    .iter()
                    .all(|&v| v == 0.0)
            );
        }
    }
}
