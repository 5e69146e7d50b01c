//! Nearest-neighbour resizing as PyTorch's `interpolate(mode="nearest")`.
//!
//! Burn's `interpolate` follows other index conventions, and FPN needs PyTorch's exactly (its
//! top-down path resizes to the lateral map's size, which is not always twice the input).

use burn::tensor::{Int, Tensor, TensorData, backend::Backend};

/// Resize `[N, C, H, W]` to `[N, C, out_h, out_w]`, taking source index
/// `min(floor(dst * in / out), in - 1)` on each axis, as PyTorch's legacy "nearest" mode does
/// when given an output size.
pub fn upsample_nearest<B: Backend>(x: Tensor<B, 4>, size_hw: [usize; 2]) -> Tensor<B, 4> {
    let [_, _, h, w] = x.dims();
    let device = x.device();
    let x = resample_axis(x, 2, h, size_hw[0], &device);
    resample_axis(x, 3, w, size_hw[1], &device)
}

/// Nearest 2× upsampling.
pub fn upsample_nearest_2x<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 4> {
    let [_, _, h, w] = x.dims();
    upsample_nearest(x, [2 * h, 2 * w])
}

fn resample_axis<B: Backend>(
    x: Tensor<B, 4>,
    dim: usize,
    input: usize,
    output: usize,
    device: &B::Device,
) -> Tensor<B, 4> {
    if input == output {
        return x;
    }
    assert!(
        input > 0,
        "upsample_nearest: cannot resize an empty axis to {output}"
    );
    let scale = input as f32 / output as f32;
    let index: Vec<i64> = (0..output)
        .map(|o| (((o as f32) * scale).floor() as usize).min(input - 1) as i64)
        .collect();
    x.select(
        dim,
        Tensor::<B, 1, Int>::from_data(TensorData::new(index, [output]), device),
    )
}
