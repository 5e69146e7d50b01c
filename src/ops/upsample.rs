//! Nearest-neighbour resizing as PyTorch's `interpolate(mode="nearest")`.
//!
//! Burn's `interpolate` follows other index conventions, and FPN needs PyTorch's exactly (its
//! top-down path resizes to the lateral map's size, which is not always twice the input).

use burn::tensor::{Tensor, backend::Backend};

use super::resize::{Tap, resample};

/// Resize `[N, C, H, W]` to `[N, C, out_h, out_w]`, taking source index
/// `min(floor(dst * in / out), in - 1)` on each axis, as PyTorch's legacy "nearest" mode does
/// when given an output size.
pub fn upsample_nearest<B: Backend>(x: Tensor<B, 4>, size_hw: [usize; 2]) -> Tensor<B, 4> {
    let x = resample_axis(x, 2, size_hw[0]);
    resample_axis(x, 3, size_hw[1])
}

/// Nearest 2× upsampling.
pub fn upsample_nearest_2x<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 4> {
    let [_, _, h, w] = x.dims();
    upsample_nearest(x, [2 * h, 2 * w])
}

fn resample_axis<B: Backend>(x: Tensor<B, 4>, dim: usize, output: usize) -> Tensor<B, 4> {
    let input = x.dims()[dim];
    if input == output {
        return x;
    }
    assert!(
        input > 0,
        "upsample_nearest: cannot resize an empty axis to {output}"
    );
    let scale = input as f32 / output as f32;
    let taps: Vec<Tap> = (0..output)
        .map(|o| {
            let at = (((o as f32) * scale).floor() as usize).min(input - 1);
            Tap {
                lower: at,
                upper: at,
                weight: 0.0,
            }
        })
        .collect();
    resample(x, dim, &taps)
}
