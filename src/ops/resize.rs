//! Bilinear resizing of feature maps under the two sampling grids CPN's implementations use.
//!
//! Burn's `interpolate` has PyTorch's two grids only; TensorFlow 1's `resize_bilinear` (tf-cpn's)
//! is neither. Both grids here are computed the same way, as two separable passes of
//! `select` + lerp, so forward and backward run on any backend.

use burn::tensor::{Int, Tensor, TensorData, backend::Backend};
use serde::{Deserialize, Serialize};

/// Where output pixel `o` of an axis resized from `n` to `m` samples the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BilinearGrid {
    /// PyTorch's `align_corners=True` (pytorch-cpn's `nn.Upsample`): `o · (n − 1) / (m − 1)`,
    /// so the corner pixels of input and output coincide.
    #[default]
    AlignCorners,
    /// TensorFlow 1's `tf.image.resize_bilinear` default (tf-cpn's: `align_corners=False`
    /// without half-pixel centres): `o · n / m`, the upper neighbour clamped to `n − 1`.
    TfLegacy,
}

impl BilinearGrid {
    /// `(lower index, upper index, weight of the upper)` for each output position.
    fn taps(self, input: usize, output: usize) -> Vec<(i64, i64, f32)> {
        let scale = match self {
            Self::AlignCorners if output > 1 => (input - 1) as f64 / (output - 1) as f64,
            Self::AlignCorners => 0.0,
            Self::TfLegacy => input as f64 / output as f64,
        };
        (0..output)
            .map(|o| {
                let src = o as f64 * scale;
                let lower = (src.floor() as usize).min(input - 1);
                let upper = (lower + 1).min(input - 1);
                (lower as i64, upper as i64, (src - lower as f64) as f32)
            })
            .collect()
    }
}

/// Resizes `[N, C, H, W]` to `[N, C, out_h, out_w]` by bilinear interpolation on `grid`.
///
/// # Panics
/// When an axis of `x` or of the output is empty (shapes are fixed by the network).
pub fn resize_bilinear<B: Backend>(
    x: Tensor<B, 4>,
    size_hw: [usize; 2],
    grid: BilinearGrid,
) -> Tensor<B, 4> {
    let x = resample_axis(x, 2, size_hw[0], grid);
    resample_axis(x, 3, size_hw[1], grid)
}

fn resample_axis<B: Backend>(
    x: Tensor<B, 4>,
    dim: usize,
    output: usize,
    grid: BilinearGrid,
) -> Tensor<B, 4> {
    let input = x.dims()[dim];
    assert!(
        input > 0 && output > 0,
        "resize_bilinear: cannot resize an axis of {input} to {output}"
    );
    if input == output {
        return x;
    }
    let taps = grid.taps(input, output);
    let device = x.device();
    let index = |pick: fn(&(i64, i64, f32)) -> i64| {
        let values: Vec<i64> = taps.iter().map(pick).collect();
        Tensor::<B, 1, Int>::from_data(TensorData::new(values, [output]), &device)
    };
    let mut shape = [1; 4];
    shape[dim] = output;
    let weight = Tensor::<B, 1>::from_data(
        TensorData::new(taps.iter().map(|t| t.2).collect::<Vec<_>>(), [output]),
        &device,
    )
    .reshape(shape);
    let lower = x.clone().select(dim, index(|t| t.0));
    let upper = x.select(dim, index(|t| t.1));
    lower.clone() + (upper - lower) * weight
}
