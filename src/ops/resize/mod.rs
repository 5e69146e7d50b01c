//! Bilinear resizing of feature maps under the two sampling grids CPN's implementations use,
//! and the resampling along one axis that it and nearest resizing share.
//!
//! Burn's `interpolate` has PyTorch's two grids only; TensorFlow 1's `resize_bilinear` (tf-cpn's)
//! is neither. Both grids here are computed the same way, as two separable passes of
//! `select` + lerp, so forward and backward run on any backend; on flex each pass is one op
//! ([`flex`]).

#[cfg(feature = "flex")]
mod flex;

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
    /// Where each output position reads.
    fn taps(self, input: usize, output: usize) -> Vec<Tap> {
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
                Tap {
                    lower,
                    upper,
                    weight: (src - lower as f64) as f32,
                }
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
    resample(x, dim, &grid.taps(input, output))
}

/// Where output position `j` of a resampled axis reads: `x_lower + (x_upper − x_lower)·weight`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Tap {
    pub lower: usize,
    pub upper: usize,
    pub weight: f32,
}

/// `x` resampled along `dim` by `taps`, one per output position: on flex one op each way
/// ([`flex`]), elsewhere `select` + lerp (a bare `select` where every tap is a copy,
/// as in nearest resizing).
///
/// # Panics
/// When a tap reads outside the axis (taps are computed from the shapes, never from input).
pub(crate) fn resample<B: Backend>(x: Tensor<B, 4>, dim: usize, taps: &[Tap]) -> Tensor<B, 4> {
    #[cfg(feature = "flex")]
    let x = match flex::try_resample(x, dim, taps) {
        Ok(out) => return out,
        Err(x) => x,
    };
    select_lerp(x, dim, taps)
}

/// [`resample`] composed of Burn's ops.
fn select_lerp<B: Backend>(x: Tensor<B, 4>, dim: usize, taps: &[Tap]) -> Tensor<B, 4> {
    let device = x.device();
    let index = |pick: fn(&Tap) -> usize| {
        let values: Vec<i64> = taps.iter().map(|t| pick(t) as i64).collect();
        Tensor::<B, 1, Int>::from_data(TensorData::new(values, [taps.len()]), &device)
    };
    if taps.iter().all(|t| t.lower == t.upper) {
        return x.select(dim, index(|t| t.lower));
    }
    let mut shape = [1; 4];
    shape[dim] = taps.len();
    let weight = Tensor::<B, 1>::from_data(
        TensorData::new(
            taps.iter().map(|t| t.weight).collect::<Vec<_>>(),
            [taps.len()],
        ),
        &device,
    )
    .reshape(shape);
    let lower = x.clone().select(dim, index(|t| t.lower));
    let upper = x.select(dim, index(|t| t.upper));
    lower.clone() + (upper - lower) * weight
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    use burn::backend::Autodiff;
    use burn::backend::flex::Flex;
    use burn::tensor::{Tensor, TensorData};

    use super::*;

    type B = Autodiff<Flex>;

    fn ramp(shape: [usize; 4], scale: f32) -> Tensor<B, 4> {
        let n = shape.iter().product();
        let v = (0..n).map(|i| (i as f32 * scale).sin()).collect::<Vec<_>>();
        Tensor::from_data(TensorData::new(v, shape), &Default::default())
    }

    /// flex's one-op route against the composed ops, forward and backward, on both axes for
    /// both grids, shrinking and enlarging, and for nearest taps (copies).
    #[test]
    fn flex_resampling_matches_the_composed_ops() {
        let nearest = |input: usize, output: usize| -> Vec<Tap> {
            (0..output)
                .map(|o| {
                    let at = o * input / output;
                    Tap {
                        lower: at,
                        upper: at,
                        weight: 0.0,
                    }
                })
                .collect()
        };
        for dim in [2, 3] {
            for (input, output) in [(5, 11), (7, 3), (6, 12)] {
                let mut shape = [2, 3, 4, 5];
                shape[dim] = input;
                for taps in [
                    BilinearGrid::AlignCorners.taps(input, output),
                    BilinearGrid::TfLegacy.taps(input, output),
                    nearest(input, output),
                ] {
                    let x = ramp(shape, 0.37).require_grad();
                    let mut out_shape = shape;
                    out_shape[dim] = output;
                    let upstream = ramp(out_shape, 1.3);
                    let fast = resample(x.clone(), dim, &taps);
                    let composed = select_lerp(x.clone(), dim, &taps);
                    let tol = burn::tensor::Tolerance::absolute(1e-6);
                    fast.to_data()
                        .assert_approx_eq::<f32>(&composed.to_data(), tol);
                    let grad = |y: Tensor<B, 4>| {
                        let grads = (y * upstream.clone()).sum().backward();
                        x.grad(&grads).unwrap().into_data()
                    };
                    grad(fast).assert_approx_eq::<f32>(&grad(composed), tol);
                }
            }
        }
    }
}
