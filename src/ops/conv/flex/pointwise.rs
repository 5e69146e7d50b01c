//! Unpadded pointwise (1×1×1) convolutions, the bulk of a ResNet's: per image, one matrix
//! product over `[C, T·H·W]` views of the tensors as they lie, for the forward pass and both
//! gradients (strided ones over the input's subsampled positions). gemm runs each product on
//! all threads where it is large, images in parallel where they are many.

use std::mem::MaybeUninit;

use burn::backend::flex::FlexTensor;
use rayon::prelude::*;

use super::matrix::{SharedDst, View, filled, product_on};
use crate::ops::flex::{flex_tensor, values};

/// Products of at least this many multiply-adds are split over threads by gemm (flex's
/// threshold for its own pointwise convolutions).
const PARALLEL_MACS: usize = 192 * 192 * 192;

/// Outputs up to which gemm computes a product whose operands are both contiguous along the
/// inner dimension by dot products on one thread (its `m·n ≤ 16·16` kernel): the fast
/// pathway's 8 × 32 weight gradients.
const MAX_DOT_OUTPUTS: usize = 16 * 16;

/// Positions per thread at least when a weight gradient is split over them.
const MIN_POSITIONS: usize = 4096;

fn threads(macs: usize) -> gemm::Parallelism {
    if macs >= PARALLEL_MACS {
        gemm::Parallelism::Rayon(0)
    } else {
        gemm::Parallelism::None
    }
}

/// `y_n = W · x_n` for `x` `[N, C_in, T, H, W]` and `weight` `[C_out, C_in, 1, 1, 1]`.
pub(super) fn forward(x: &FlexTensor, weight: &FlexTensor, stride: [usize; 3]) -> FlexTensor {
    let x = subsample(x, stride);
    let (xs, co) = (x.layout().shape(), weight.layout().shape()[0]);
    let (ci, positions) = (xs[1], xs[2] * xs[3] * xs[4]);
    let (x, w) = (values(&x), values(weight));
    #[cfg(target_arch = "x86_64")]
    if super::avx2::applies(ci, co) {
        let out = kernels_forward(&x, &w, [xs[0], ci, co, positions]);
        return flex_tensor(out, vec![xs[0], co, xs[2], xs[3], xs[4]]);
    }
    let fill = |out: &mut [MaybeUninit<f32>]| {
        let out = SharedDst::new(out);
        (0..xs[0]).into_par_iter().for_each(|n| {
            let lhs = View::new(&w, 0, [co, ci], [ci, 1]);
            let rhs = View::new(&x, n * ci * positions, [ci, positions], [positions, 1]);
            let macs = co * ci * positions;
            // SAFETY: image `n`'s outputs, which no other task touches.
            unsafe {
                out.product(
                    n * co * positions,
                    positions,
                    false,
                    [lhs, rhs],
                    threads(macs),
                )
            };
        })
    };
    // SAFETY: each image's product writes all of its `co × positions` outputs.
    let out = unsafe { filled(xs[0] * co * positions, fill) };
    flex_tensor(out, vec![xs[0], co, xs[2], xs[3], xs[4]])
}

/// [`forward`] by the AVX2 kernels: tasks of (image, run of positions, chunk of output
/// channels), each run as long as the chunk's outputs fit the kernels' tile.
#[cfg(target_arch = "x86_64")]
fn kernels_forward(x: &[f32], w: &[f32], [images, ci, co, positions]: [usize; 4]) -> Vec<f32> {
    use super::avx2;
    let packed = avx2::PackedWeight::new(w, co, [1, 1, 1]);
    let chunks = avx2::chunks(co);
    let widest = chunks.first().map_or(1, |c| c.len());
    let run = (avx2::TILE / widest).next_multiple_of(16).max(16);
    let runs = positions.div_ceil(run);
    let tasks: Vec<(usize, usize, &std::ops::Range<usize>)> = (0..images)
        .flat_map(|n| (0..runs).map(move |r| (n, r)))
        .flat_map(|(n, r)| chunks.iter().map(move |chunk| (n, r, chunk)))
        .collect();
    let fill = |out: &mut [MaybeUninit<f32>]| {
        let out = SharedDst::new(out);
        tasks.par_iter().for_each(|&(n, r, chunk)| {
            // Whole tiles but at the end.
            let cut = |r: usize| (r * positions / runs).next_multiple_of(16).min(positions);
            let part = cut(r)..cut(r + 1);
            let at = (n * co + chunk.start) * positions + part.start;
            let dst = out.block(at, [chunk.len(), part.len()], positions);
            let x = &x[n * ci * positions + part.start..];
            // SAFETY: this task's positions of its channels, which no other task touches;
            // the CPU has the kernels' instructions (checked by the caller).
            unsafe {
                avx2::product(
                    dst,
                    positions,
                    false,
                    (&packed, 0),
                    chunk.clone(),
                    x,
                    [part.len(), positions],
                )
            };
        })
    };
    // SAFETY: the tasks cover every position of every channel of every image.
    unsafe { filled(images * co * positions, fill) }
}

/// `dx_n = Wᵀ · dy_n` of a stride-1 pointwise convolution.
pub(super) fn input_grad(weight: &FlexTensor, grad: &FlexTensor) -> FlexTensor {
    let (gs, ci) = (grad.layout().shape(), weight.layout().shape()[1]);
    let (co, positions) = (gs[1], gs[2] * gs[3] * gs[4]);
    let (dy, w) = (values(grad), values(weight));
    let mut out = vec![0.0f32; gs[0] * ci * positions];
    out.par_chunks_mut(ci * positions)
        .enumerate()
        .for_each(|(n, dst)| {
            let lhs = View::new(&w, 0, [ci, co], [1, ci]);
            let rhs = View::new(&dy, n * co * positions, [co, positions], [positions, 1]);
            let macs = co * ci * positions;
            product_on(dst, positions, false, lhs, rhs, threads(macs));
        });
    flex_tensor(out, vec![gs[0], ci, gs[2], gs[3], gs[4]])
}

/// `dW = Σ_n dy_n · x_nᵀ`, over the positions the convolution read.
pub(super) fn weight_grad(x: &FlexTensor, grad: &FlexTensor, stride: [usize; 3]) -> FlexTensor {
    let x = subsample(x, stride);
    let (gs, ci) = (grad.layout().shape(), x.layout().shape()[1]);
    let (co, positions) = (gs[1], gs[2] * gs[3] * gs[4]);
    let (dy, x) = (values(grad), values(&x));
    let product = |out: &mut [f32], n: usize, part: std::ops::Range<usize>, accumulate, threads| {
        let at = |c: usize| (n * c) * positions + part.start;
        let lhs = View::new(&dy, at(co), [co, part.len()], [positions, 1]);
        let rhs = View::new(&x, at(ci), [part.len(), ci], [1, positions]);
        product_on(out, ci, accumulate, lhs, rhs, threads);
    };
    if co * ci > MAX_DOT_OUTPUTS {
        // One product per image, summed in place: the positions are the long inner dimension.
        let mut out = vec![0.0f32; co * ci];
        for n in 0..gs[0] {
            product(
                &mut out,
                n,
                0..positions,
                n > 0,
                threads(co * ci * positions),
            );
        }
        return flex_tensor(out, vec![co, ci, 1, 1, 1]);
    }
    // gemm takes its dot-product kernel here, on one thread: the positions are split over
    // the threads instead, each summing its share, then the shares are added.
    let parts = rayon::current_num_threads()
        .min(positions.div_ceil(MIN_POSITIONS))
        .max(1);
    let partial: Vec<Vec<f32>> = (0..parts)
        .into_par_iter()
        .map(|i| {
            let mut out = vec![0.0f32; co * ci];
            let part = i * positions / parts..(i + 1) * positions / parts;
            for n in 0..gs[0] {
                product(&mut out, n, part.clone(), n > 0, gemm::Parallelism::None);
            }
            out
        })
        .collect();
    let mut out = vec![0.0f32; co * ci];
    for share in &partial {
        out.iter_mut().zip(share).for_each(|(o, v)| *o += v);
    }
    flex_tensor(out, vec![co, ci, 1, 1, 1])
}

/// `x` at the positions a pointwise convolution of `stride` reads (itself at stride 1).
fn subsample(x: &FlexTensor, stride: [usize; 3]) -> std::borrow::Cow<'_, FlexTensor> {
    if stride == [1; 3] {
        return std::borrow::Cow::Borrowed(x);
    }
    let (xs, xv) = (x.layout().shape(), values(x));
    let [ti, hi, wi] = [xs[2], xs[3], xs[4]];
    let [to, ho, wo] = std::array::from_fn(|i| (xs[i + 2] - 1) / stride[i] + 1);
    let mut out = vec![0.0f32; xs[0] * xs[1] * to * ho * wo];
    out.par_chunks_mut(to * ho * wo)
        .zip(xv.par_chunks(ti * hi * wi))
        .for_each(|(dst, plane)| {
            for (r, dst) in dst.chunks_exact_mut(wo).enumerate() {
                let (t, h) = (r / ho, r % ho);
                let row = &plane[(t * stride[0] * hi + h * stride[1]) * wi..][..wi];
                for (d, &v) in dst.iter_mut().zip(row.iter().step_by(stride[2])) {
                    *d = v;
                }
            }
        });
    std::borrow::Cow::Owned(flex_tensor(out, vec![xs[0], xs[1], to, ho, wo]))
}
