//! What a convolution's output goes through inside the convolution op: the per-channel bias,
//! a residual and the ReLU, applied in place in one pass, and their gradients in one pass
//! back. Composed of Burn ops, each is a pass that allocates its own output (and its own
//! gradient pass): on a SlowFast R50 training step the time outside the convolutions, mostly
//! these, went from 0.46 to 0.27 s forward and from 0.72 to 0.37 s backward.

use burn::backend::flex::FlexTensor;
use rayon::prelude::*;

use crate::ops::flex::{flex_tensor, values};

/// Lanes the per-channel sums are accumulated in, so that the loop vectorises.
const LANES: usize = 8;

/// `y = relu(y + bias[c] + residual)` over `y` `[N, C, rest…]` (`planes` = N·C) in place;
/// each part optional. The additions are in the composed ops' order, `(y + bias) + residual`,
/// and a NaN stays NaN through the ReLU as through Burn's.
pub(super) fn apply(
    y: &mut [f32],
    [planes, channels]: [usize; 2],
    bias: Option<&[f32]>,
    residual: Option<&[f32]>,
    relu: bool,
) {
    if y.is_empty() || (bias.is_none() && residual.is_none() && !relu) {
        return;
    }
    let plane = y.len() / planes;
    y.par_chunks_mut(plane).enumerate().for_each(|(p, y)| {
        let b = bias.map_or(0.0, |b| b[p % channels]);
        let add = bias.is_some();
        match residual {
            Some(r) => {
                let r = &r[p * plane..][..plane];
                for (v, &r) in y.iter_mut().zip(r) {
                    let s = if add { *v + b } else { *v };
                    *v = clamp(s + r, relu);
                }
            }
            None => {
                for v in y.iter_mut() {
                    let s = if add { *v + b } else { *v };
                    *v = clamp(s, relu);
                }
            }
        }
    });
}

#[inline(always)]
fn clamp(v: f32, relu: bool) -> f32 {
    if relu && v <= 0.0 { 0.0 } else { v }
}

/// The gradient through the epilogue: the output gradient `dy` masked where the ReLU's output
/// `y` is not positive (where there was a ReLU; else `dy` itself), which is the gradient of
/// the convolution's output and of the residual, and with `bias` its per-channel sums.
pub(super) fn backward(
    dy: FlexTensor,
    y: Option<&FlexTensor>,
    bias: bool,
) -> (FlexTensor, Option<FlexTensor>) {
    let shape = dy.layout().shape().to_vec();
    let channels = shape[1];
    // Elements per (image, channel) plane; at least 1 for the chunking of empty tensors.
    let plane = shape[2..].iter().product::<usize>().max(1);
    let (grad, sums) = match y {
        Some(y) => {
            let (dy, y) = (values(&dy), values(y));
            let mut dz = vec![0.0f32; dy.len()];
            let sums: Vec<f64> = dz
                .par_chunks_mut(plane)
                .zip(dy.par_chunks(plane))
                .zip(y.par_chunks(plane))
                .map(|((dz, dy), y)| {
                    for ((d, &g), &v) in dz.iter_mut().zip(dy).zip(y) {
                        *d = if v > 0.0 { g } else { 0.0 };
                    }
                    if bias { sum(dz) } else { 0.0 }
                })
                .collect();
            (flex_tensor(dz, shape), sums)
        }
        None => {
            let sums = if bias {
                values(&dy).par_chunks(plane).map(sum).collect()
            } else {
                Vec::new()
            };
            (dy, sums)
        }
    };
    let bias = bias.then(|| {
        let mut per_channel = vec![0.0f64; channels];
        for (p, s) in sums.iter().enumerate() {
            per_channel[p % channels] += s;
        }
        flex_tensor(
            per_channel.into_iter().map(|v| v as f32).collect(),
            vec![channels],
        )
    });
    (grad, bias)
}

/// The sum of `values` in f64, in [`LANES`] independent lanes (a loop LLVM vectorises).
fn sum(values: &[f32]) -> f64 {
    let (chunks, rest) = values.as_chunks::<LANES>();
    let mut lanes = [0.0f64; LANES];
    for chunk in chunks {
        for (l, &v) in lanes.iter_mut().zip(chunk) {
            *l += v as f64;
        }
    }
    lanes.iter().sum::<f64>() + rest.iter().map(|&v| v as f64).sum::<f64>()
}
