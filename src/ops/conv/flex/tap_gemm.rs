//! Convolutions as one matrix product per kernel tap, without im2col: the forward pass and
//! both gradients of `groups = 1` convolutions with spatial or temporal extent on flex.
//!
//! The input is laid out once as `X_w`: for every (input channel `ci`, horizontal tap `c`) row,
//! the zero-padded input shifted by `c` and subsampled by the horizontal stride (an im2col
//! along the width only: `kw` copies where im2col makes `kt·kh·kw`), split along time and
//! height into the stride phases. On that grid every (temporal, vertical) tap reads its phase
//! at one constant flat offset, so
//!
//! - forward: `Y[co, p] = Σ_tap W_tap[co, (ci, c)] · X_w[(ci, c), phase, offset + p]`, each
//!   task's rows of the output accumulated in place over all taps while they stay in cache;
//! - input gradient: the transposed products from the output gradient spread on the same
//!   grid (zeros off the output), summed back over `c` into the input;
//! - weight gradient: `dW_tap = Σ_p dY[.., p] · X_w[.., offset + p]ᵀ`, the positions as the
//!   inner dimension.
//!
//! The grid's rows are as wide as the output's, so no product computes padding columns, and
//! padding rows are skipped by running over each frame's valid rows.

use std::mem::MaybeUninit;

use burn::backend::flex::FlexTensor;
use burn::tensor::ops::ConvOptions;
use gemm::Parallelism;
use rayon::prelude::*;

use super::Geometry;
use super::matrix::{SharedDst, View, filled, product};
use crate::ops::flex::{flex_tensor, values};

/// Output elements a task accumulates over all taps: a quarter of a 1 MiB L2 cache, leaving
/// room for the packed operands.
const TILE: usize = 64 * 1024;

/// Positions per task of the weight gradient at least, so that packing stays amortised.
const MIN_DEPTH: usize = 2048;

/// Output channels per task of the weight gradient at least (gemm's microkernel holds 16).
const MIN_ROWS: usize = 32;

/// Weight-gradient tasks per thread at least, so that their uneven ends even out.
const TASKS_PER_THREAD: usize = 8;

/// Positions per task of the forward and input-gradient products at least: each task packs
/// the weight of every tap once.
const MIN_RUN: usize = 256;

/// The layout of one convolution on its tap grid.
struct Plan {
    g: Geometry,
    /// Stride phases along time and height.
    phases: [usize; 2],
    /// Rows of one phase along time and height: `⌈padded / stride⌉`.
    q: [usize; 2],
    /// Elements of one phase of an `X_w` row: `q_t · q_h · W_out`.
    plane: usize,
    /// Per (temporal, vertical) tap in kernel order: its phase and flat offset.
    taps: Vec<(usize, usize)>,
    /// The largest offset.
    reach: usize,
}

impl Plan {
    fn new(g: Geometry) -> Self {
        let [st, sh, _] = g.stride;
        let padded = |axis: usize| g.input[axis] + 2 * g.padding[axis];
        let q = [padded(0).div_ceil(st), padded(1).div_ceil(sh)];
        let wo = g.output[2];
        let taps: Vec<(usize, usize)> = (0..g.kernel[0])
            .flat_map(|a| (0..g.kernel[1]).map(move |b| (a * g.dilation[0], b * g.dilation[1])))
            .map(|(ta, tb)| ((ta % st) * sh + tb % sh, ((ta / st) * q[1] + tb / sh) * wo))
            .collect();
        let reach = taps.iter().map(|&(_, off)| off).max().unwrap_or(0);
        Self {
            g,
            phases: [st, sh],
            q,
            plane: q[0] * q[1] * wo,
            taps,
            reach,
        }
    }

    /// The inner dimension of the forward products: (input channel, horizontal tap).
    fn depth(&self) -> usize {
        self.g.channels_in * self.g.kernel[2]
    }

    /// Elements of one `X_w` row: every phase.
    fn row_len(&self) -> usize {
        self.phases[0] * self.phases[1] * self.plane
    }

    /// Elements per (image, output channel) of the spread output gradient: zeros ahead of the
    /// grid for the farthest tap, then the grid.
    fn span(&self) -> usize {
        self.reach + self.plane
    }

    /// The grid position of output row `(t, h)`.
    fn output_row(&self, t: usize, h: usize) -> usize {
        (t * self.q[1] + h) * self.g.output[2]
    }

    /// The grid rows of `run` on which (temporal, vertical) tap `tap` reads the input rather
    /// than its padding: per frame of the run, the output rows that tap reaches inside the
    /// input. Elsewhere the tap's product would add zeros, and frames' padding rows between
    /// them are skipped too (on 14 × 14 frames under a dilated 3 × 3 kernel, a fifth of a
    /// whole-frame run).
    fn reading_rows(
        &self,
        run: &std::ops::Range<usize>,
        tap: usize,
    ) -> Vec<std::ops::Range<usize>> {
        let kh = self.g.kernel[1];
        self.rows_of(run, self.g.valid(0, tap / kh), self.g.valid(1, tap % kh))
    }

    /// The grid rows of `run` that are output rows: all but the padding rows between frames.
    fn output_rows(&self, run: &std::ops::Range<usize>) -> Vec<std::ops::Range<usize>> {
        let [to, ho, _] = self.g.output;
        self.rows_of(run, 0..to, 0..ho)
    }

    /// The grid rows of `run` in `frames` and, within each frame, in `rows`: as few ranges as
    /// that takes, each within one frame unless frames have no padding rows between them
    /// (then the grid's rows are the output's).
    fn rows_of(
        &self,
        run: &std::ops::Range<usize>,
        frames: std::ops::Range<usize>,
        rows: std::ops::Range<usize>,
    ) -> Vec<std::ops::Range<usize>> {
        let qh = self.q[1];
        let (start, end) = (run.start, run.end);
        let mut out: Vec<std::ops::Range<usize>> = Vec::new();
        for t in (start / qh..end.div_ceil(qh)).filter(|t| frames.contains(t)) {
            let r = (t * qh + rows.start).max(start)..(t * qh + rows.end).min(end);
            match out.last_mut() {
                _ if r.is_empty() => {}
                Some(last) if last.end == r.start => last.end = r.end,
                _ => out.push(r),
            }
        }
        out
    }

    /// The output position of the start of grid row `r` (an output row).
    fn output_position(&self, r: usize) -> usize {
        let (qh, [_, ho, wo]) = (self.q[1], self.g.output);
        ((r / qh) * ho + r % qh) * wo
    }

    /// Grid positions from the first output to just past the last.
    fn positions(&self) -> usize {
        let [to, ho, _] = self.g.output;
        self.output_row(to - 1, ho)
    }

    /// The rows of the grid the tasks of one product run over, for `frames` of `rows` valid
    /// rows each: runs of rows within a frame where frames are large, else runs of whole
    /// frames (the rows between their valid rows computed and dropped). A task's output tile,
    /// `channels` rows by the run's positions, stays in cache over all taps; every thread gets
    /// several tasks; and a run spans at least `min_run` positions, over which gemm's packed
    /// weight is reused.
    fn runs(
        &self,
        images: usize,
        frames: std::ops::Range<usize>,
        rows: std::ops::Range<usize>,
        channels: usize,
        [tile, min_run]: [usize; 2],
    ) -> Vec<std::ops::Range<usize>> {
        if frames.is_empty() || rows.is_empty() {
            return Vec::new();
        }
        let (width, qh) = (self.g.output[2], self.q[1]);
        let fit = tile / (channels * width).max(1);
        let spread =
            (images * frames.len() * rows.len()).div_ceil(4 * rayon::current_num_threads());
        let per_task = fit.min(spread).max(min_run.div_ceil(width)).max(1);
        if per_task <= rows.len() {
            let parts = even_parts(rows.clone(), rows.len().div_ceil(per_task));
            frames
                .flat_map(|f| parts.iter().map(move |r| f * qh + r.start..f * qh + r.end))
                .collect()
        } else {
            let parts = frames.len().div_ceil(per_task.div_ceil(qh));
            even_parts(frames, parts)
                .into_iter()
                .map(|f| f.start * qh + rows.start..(f.end - 1) * qh + rows.end)
                .collect()
        }
    }

    /// `X_w` of `x` `[N, C_in, T, H, W]`: `[N, C_in, kw, phases, plane]`. Every element is
    /// written once, an input value or a padding zero, in order (no zeroing pass first).
    fn spread_input(&self, x: &[f32]) -> Vec<f32> {
        let g = &self.g;
        let ([ti, hi, wi], wo) = (g.input, g.output[2]);
        let ([st, sh], [qt, qh]) = (self.phases, self.q);
        let [pt, ph, _] = g.padding;
        let block = g.kernel[2] * self.row_len();
        // Grid rows per horizontal tap, and per phase.
        let (per_tap, per_phase) = (self.row_len() / wo, qt * qh);
        let fill = |out: &mut [MaybeUninit<f32>]| {
            out.par_chunks_mut(block)
                .zip(x.par_chunks(ti * hi * wi))
                .for_each(|(dst, src)| {
                    for (i, dst) in dst.chunks_exact_mut(wo).enumerate() {
                        let (c, phase, q) = (i / per_tap, i % per_tap / per_phase, i % per_phase);
                        let t = ((q / qh) * st + phase / sh).checked_sub(pt);
                        let h = ((q % qh) * sh + phase % sh).checked_sub(ph);
                        match (t.filter(|&t| t < ti), h.filter(|&h| h < hi)) {
                            (Some(t), Some(h)) => {
                                self.gather(&src[(t * hi + h) * wi..][..wi], c, dst)
                            }
                            _ => dst.fill(MaybeUninit::new(0.0)),
                        }
                    }
                });
        };
        // SAFETY: `fill` writes every grid row of every block.
        unsafe { filled(g.batch * g.channels_in * block, fill) }
    }

    /// `dst[o] = row[o·stride + c·dilation − padding]` where that is inside the row, zero
    /// elsewhere: a copy at stride 1, whole chunks of the row at stride 2 (loops the compiler
    /// vectorises; an iterator stepping through the row stored one value at a time, 18 % of a
    /// stride-2 layer's forward).
    fn gather(&self, row: &[f32], c: usize, dst: &mut [MaybeUninit<f32>]) {
        let zero = MaybeUninit::new(0.0);
        let Some((span, outputs)) = self.row_span(c) else {
            dst.fill(zero);
            return;
        };
        dst[..outputs.start].fill(zero);
        dst[outputs.end..].fill(zero);
        let (row, dst) = (&row[span], &mut dst[outputs]);
        match self.g.stride[2] {
            1 => {
                dst.write_copy_of_slice(row);
            }
            2 => {
                let (pairs, _) = row.as_chunks::<2>();
                let (body, last) = dst.split_at_mut(dst.len() - 1);
                for (d, pair) in body.iter_mut().zip(pairs) {
                    d.write(pair[0]);
                }
                last[0].write(row[row.len() - 1]);
            }
            s => {
                for (d, v) in dst.iter_mut().zip(row.iter().step_by(s)) {
                    d.write(*v);
                }
            }
        }
    }

    /// `row[o·stride + c·dilation − padding] += src[o]` where that is inside the row.
    fn scatter_add(&self, src: &[f32], c: usize, row: &mut [f32]) {
        let Some((span, outputs)) = self.row_span(c) else {
            return;
        };
        let (row, src) = (&mut row[span], &src[outputs]);
        match self.g.stride[2] {
            1 => {
                for (d, v) in row.iter_mut().zip(src) {
                    *d += v;
                }
            }
            s => {
                for (d, v) in row.iter_mut().step_by(s).zip(src) {
                    *d += v;
                }
            }
        }
    }

    /// For horizontal tap `c`: the span of an input row it reads (first to last read,
    /// inclusive) and the outputs reading inside the row; `None` if none does.
    fn row_span(&self, c: usize) -> Option<(std::ops::Range<usize>, std::ops::Range<usize>)> {
        let (valid, origin, s) = (self.g.valid(2, c), self.g.origin(2, c), self.g.stride[2]);
        if valid.is_empty() {
            return None;
        }
        // Inside the row for every valid output, by `valid`'s definition.
        let first = ((valid.start * s) as isize + origin) as usize;
        let last = first + (valid.len() - 1) * s;
        Some((first..last + 1, valid))
    }

    /// The output gradient `[N, C_out, T', H', W']` spread on the grid: `[N, C_out, span]`.
    fn spread_output(&self, dy: &[f32]) -> Vec<f32> {
        let [to, ho, wo] = self.g.output;
        let span = self.span();
        let mut out = vec![0.0f32; self.g.batch * self.g.channels_out * span];
        out.par_chunks_mut(span)
            .zip(dy.par_chunks(to * ho * wo))
            .for_each(|(dst, src)| {
                for (r, row) in src.chunks_exact(wo).enumerate() {
                    let at = self.reach + self.output_row(r / ho, r % ho);
                    dst[at..at + wo].copy_from_slice(row);
                }
            });
        out
    }

    /// The weight as `[C_out, taps, C_in · kw]`: for each (temporal, vertical) tap, a
    /// `[C_out, C_in · kw]` matrix with rows `taps · C_in · kw` apart. Each output channel's
    /// weights are read once, as they lie.
    fn pack_weight(&self, weight: &[f32]) -> Vec<f32> {
        let [kt, kh, kw] = self.g.kernel;
        let (ci, taps) = (self.g.channels_in, kt * kh);
        let mut out = vec![0.0f32; weight.len()];
        out.par_chunks_mut(taps * ci * kw)
            .zip(weight.par_chunks(taps * ci * kw))
            .for_each(|(dst, src)| match kw {
                1 => copy_taps::<1>(src, taps, dst),
                3 => copy_taps::<3>(src, taps, dst),
                7 => copy_taps::<7>(src, taps, dst),
                _ => {
                    for (i, src) in src.chunks_exact(taps * kw).enumerate() {
                        for (tap, src) in src.chunks_exact(kw).enumerate() {
                            dst[(tap * ci + i) * kw..][..kw].copy_from_slice(src);
                        }
                    }
                }
            });
        out
    }

    /// The weight as one `[C_in · kw, C_out]` matrix per (temporal, vertical) tap: the
    /// input gradient's left operand stored by rows (gemm ran 5–10 % faster on these
    /// shapes than on the forward's matrices read by columns).
    fn pack_weight_transposed(&self, weight: &[f32]) -> Vec<f32> {
        let [kt, kh, kw] = self.g.kernel;
        let (co, ci, kernel) = (self.g.channels_out, self.g.channels_in, kt * kh * kw);
        let mut out = vec![0.0f32; weight.len()];
        out.par_chunks_mut(kw * co)
            .enumerate()
            .for_each(|(row, dst)| {
                let (tap, i) = (row / ci, row % ci);
                for (o, src) in weight.chunks_exact(ci * kernel).enumerate() {
                    let src = &src[i * kernel + tap * kw..][..kw];
                    for (c, &v) in src.iter().enumerate() {
                        dst[c * co + o] = v;
                    }
                }
            });
        out
    }
}

/// One output channel's weights `[C_in, taps, K]` (`src`) as `[taps, C_in, K]` (`dst`), by
/// fixed-size copies: `copy_from_slice` would call `memmove` for every three values (a fifth
/// of a 512-channel layer's forward).
fn copy_taps<const K: usize>(src: &[f32], taps: usize, dst: &mut [f32]) {
    let (src, _) = src.as_chunks::<K>();
    let (dst, _) = dst.as_chunks_mut::<K>();
    let ci = dst.len() / taps;
    for (i, src) in src.chunks_exact(taps).enumerate() {
        for (tap, s) in src.iter().enumerate() {
            dst[tap * ci + i] = *s;
        }
    }
}

/// `range` cut into `parts` runs of lengths differing by at most one.
fn even_parts(range: std::ops::Range<usize>, parts: usize) -> Vec<std::ops::Range<usize>> {
    let (start, len, parts) = (range.start, range.len(), parts.clamp(1, range.len().max(1)));
    (0..parts)
        .map(|i| start + i * len / parts..start + (i + 1) * len / parts)
        .collect()
}

/// How the forward computes its products.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Products {
    /// The AVX2 kernels over a weight packed once ([`super::avx2`]).
    #[cfg(target_arch = "x86_64")]
    Kernels,
    /// gemm.
    Gemm,
}

impl Products {
    /// The faster for a convolution of `g` on this CPU.
    fn best(g: &Geometry) -> Self {
        #[cfg(target_arch = "x86_64")]
        if super::avx2::applies(g.channels_in, g.channels_out) {
            return Self::Kernels;
        }
        let _ = g;
        Self::Gemm
    }

    /// Output elements a task writes at most, and positions at least (see [`Plan::runs`]).
    fn blocking(self) -> [usize; 2] {
        match self {
            #[cfg(target_arch = "x86_64")]
            Self::Kernels => [super::avx2::TILE, 16],
            Self::Gemm => [TILE, MIN_RUN],
        }
    }

    /// The output channels of each task: all on gemm, which blocks them itself.
    fn chunks(self, channels: usize) -> Vec<std::ops::Range<usize>> {
        match self {
            #[cfg(target_arch = "x86_64")]
            Self::Kernels => super::avx2::chunks(channels),
            Self::Gemm => std::iter::once(0..channels).collect(),
        }
    }
}

/// The convolution of `x` by `weight`.
pub(super) fn forward(x: &FlexTensor, weight: &FlexTensor, options: &ConvOptions<3>) -> FlexTensor {
    let g = Geometry::new(x.layout().shape(), weight.layout().shape(), options);
    forward_by(x, weight, options, Products::best(&g))
}

/// [`forward`] by `products`.
fn forward_by(
    x: &FlexTensor,
    weight: &FlexTensor,
    options: &ConvOptions<3>,
    products: Products,
) -> FlexTensor {
    let plan = Plan::new(Geometry::new(
        x.layout().shape(),
        weight.layout().shape(),
        options,
    ));
    let g = plan.g;
    let xw = plan.spread_input(&values(x));
    let ([to, ho, wo], co, depth, row_len) =
        (g.output, g.channels_out, plan.depth(), plan.row_len());
    let taps = plan.taps.len();
    let w = values(weight);
    #[cfg(target_arch = "x86_64")]
    let packed =
        (products == Products::Kernels).then(|| super::avx2::PackedWeight::new(&w, co, g.kernel));
    let w = if products == Products::Gemm {
        plan.pack_weight(&w)
    } else {
        Vec::new()
    };
    let chunks = products.chunks(co);
    let widest = chunks.first().map_or(co, |c| c.len());
    let runs = plan.runs(g.batch, 0..to, 0..ho, widest, products.blocking());
    let tasks: Vec<(usize, &std::ops::Range<usize>, &std::ops::Range<usize>)> = (0..g.batch)
        .flat_map(|n| runs.iter().map(move |run| (n, run)))
        .flat_map(|(n, run)| chunks.iter().map(move |chunk| (n, run, chunk)))
        .collect();
    let plane = to * ho * wo;
    // Each task writes its run's rows of every output channel in place, over all taps while
    // they stay in cache: first a tap that reads the input for every output (the centre tap
    // of a padded kernel), which writes them, then the others in order, which add to them.
    // The order is the same for every run, whose bounds depend on the batch (so does gemm's
    // blocking of products deeper than 512, as before).
    let kh = g.kernel[1];
    let first = (0..taps).find(|&i| g.valid(0, i / kh) == (0..to) && g.valid(1, i % kh) == (0..ho));
    let fill = |out: &mut [MaybeUninit<f32>]| {
        let out = SharedDst::new(out);
        tasks.par_iter().for_each(|&(n, run, chunk)| {
            let image = n * g.channels_in * g.kernel[2] * row_len;
            let channel = (n * co + chunk.start) * plane;
            if first.is_none() {
                for rows in &plan.output_rows(run) {
                    let at = channel + plan.output_position(rows.start);
                    // SAFETY: this task's rows, which no other task touches.
                    unsafe { out.zero(at, [chunk.len(), rows.len() * wo], plane) };
                }
            }
            let order = first
                .into_iter()
                .chain((0..taps).filter(|&i| Some(i) != first));
            for i in order {
                let (phase, off) = plan.taps[i];
                for rows in plan.reading_rows(run, i) {
                    let at = image + phase * plan.plane + off + rows.start * wo;
                    let (dst, len) = (channel + plan.output_position(rows.start), rows.len() * wo);
                    let add = Some(i) != first;
                    // SAFETY (both): this task's rows, which no other task touches; all of
                    // them were written before any product adds to them.
                    match products {
                        #[cfg(target_arch = "x86_64")]
                        Products::Kernels => unsafe {
                            let packed = packed.as_ref().expect("packed for the kernels");
                            let dst = out.block(dst, [chunk.len(), len], plane);
                            let (x, chunk) = (&xw[at..], chunk.clone());
                            super::avx2::product(
                                dst,
                                plane,
                                add,
                                (packed, i),
                                chunk,
                                x,
                                [len, row_len],
                            );
                        },
                        Products::Gemm => unsafe {
                            let at_w = (chunk.start * taps + i) * depth;
                            let lhs = View::new(&w, at_w, [chunk.len(), depth], [taps * depth, 1]);
                            let rhs = View::new(&xw, at, [depth, len], [row_len, 1]);
                            out.product(dst, plane, add, [lhs, rhs], Parallelism::None);
                        },
                    }
                }
            }
        })
    };
    // SAFETY: the runs cover every output row of every frame and the chunks every channel,
    // and each task writes all of its rows of its channels (by the first tap's product or
    // zeros).
    let out = unsafe { filled(g.batch * co * plane, fill) };
    flex_tensor(out, vec![g.batch, co, to, ho, wo])
}

/// The gradient of the input: per phase, the transposed products of the taps reading it,
/// then summed over the horizontal taps into the input's rows.
pub(super) fn input_grad(
    x_shape: &[usize],
    weight: &FlexTensor,
    grad: &FlexTensor,
    options: &ConvOptions<3>,
) -> FlexTensor {
    let g = Geometry::new(x_shape, weight.layout().shape(), options);
    input_grad_by(x_shape, weight, grad, options, Products::best(&g))
}

/// [`input_grad`] by `products`.
fn input_grad_by(
    x_shape: &[usize],
    weight: &FlexTensor,
    grad: &FlexTensor,
    options: &ConvOptions<3>,
    products: Products,
) -> FlexTensor {
    let plan = Plan::new(Geometry::new(x_shape, weight.layout().shape(), options));
    let g = plan.g;
    let dy = plan.spread_output(&values(grad));
    let w = values(weight);
    #[cfg(target_arch = "x86_64")]
    let packed = (products == Products::Kernels)
        .then(|| super::avx2::PackedWeight::transposed(&w, g.channels_out, g.kernel));
    let w = if products == Products::Gemm {
        plan.pack_weight_transposed(&w)
    } else {
        Vec::new()
    };
    let ([ti, hi, wi], wo) = (g.input, g.output[2]);
    let (co, depth, span) = (g.channels_out, plan.depth(), plan.span());
    let [st, sh] = plan.phases;
    // Per phase read by a tap: the runs of its rows that are input rows (not padding).
    let inside = |q: usize, phase: usize, axis: usize| {
        let (at, pad) = (q * plan.phases[axis] + phase, g.padding[axis]);
        at >= pad && at < pad + g.input[axis]
    };
    let valid = |len: usize, phase: usize, axis: usize| {
        let first = (0..len).find(|&q| inside(q, phase, axis));
        let last = (0..len).rev().find(|&q| inside(q, phase, axis));
        match (first, last) {
            (Some(first), Some(last)) => first..last + 1,
            _ => 0..0,
        }
    };
    let tasks: Vec<(usize, usize, std::ops::Range<usize>)> = (0..st * sh)
        .filter(|&phase| plan.taps.iter().any(|&(p, _)| p == phase))
        .flat_map(|phase| {
            let frames = valid(plan.q[0], phase / sh, 0);
            let rows = valid(plan.q[1], phase % sh, 1);
            let runs = plan.runs(g.batch, frames, rows, depth, [TILE, MIN_RUN]);
            (0..g.batch).flat_map(move |n| runs.clone().into_iter().map(move |r| (n, phase, r)))
        })
        .collect();
    let tiles: Vec<Vec<f32>> = tasks
        .par_iter()
        .map(|(n, phase, run)| {
            let len = run.len() * wo;
            let mut tile = vec![0.0f32; depth * len];
            let taps = plan.taps.iter().enumerate().filter(|(_, t)| t.0 == *phase);
            for (k, (i, &(_, off))) in taps.enumerate() {
                let at = n * co * span + plan.reach + run.start * wo - off;
                match products {
                    #[cfg(target_arch = "x86_64")]
                    Products::Kernels => {
                        let packed = packed.as_ref().expect("packed for the kernels");
                        let dst = tile.as_mut_ptr();
                        // SAFETY: `tile` is this task's own, `depth × len`; the CPU has the
                        // kernels' instructions (`Products::best`).
                        unsafe {
                            super::avx2::product(
                                dst,
                                len,
                                k > 0,
                                (packed, i),
                                0..depth,
                                &dy[at..],
                                [len, span],
                            )
                        };
                    }
                    Products::Gemm => {
                        let lhs = View::new(&w, i * co * depth, [depth, co], [co, 1]);
                        let rhs = View::new(&dy, at, [co, len], [span, 1]);
                        product(&mut tile, len, k > 0, lhs, rhs);
                    }
                }
            }
            tile
        })
        .collect();
    let (ci, kw, qh) = (g.channels_in, g.kernel[2], plan.q[1]);
    let mut out = vec![0.0f32; g.batch * ci * ti * hi * wi];
    out.par_chunks_mut(ti * hi * wi)
        .enumerate()
        .for_each(|(plane, dst)| {
            let (n, c_in) = (plane / ci, plane % ci);
            let own = tasks.iter().zip(&tiles).filter(|((tn, ..), _)| *tn == n);
            for ((_, phase, run), tile) in own {
                let (pt, ph) = (phase / sh, phase % sh);
                let len = run.len() * wo;
                for (i, r) in run.clone().enumerate() {
                    let (qt, q) = (r / qh, r % qh);
                    if !(inside(qt, pt, 0) && inside(q, ph, 1)) {
                        continue;
                    }
                    let (t, h) = (qt * st + pt - g.padding[0], q * sh + ph - g.padding[1]);
                    let row = &mut dst[(t * hi + h) * wi..][..wi];
                    for c in 0..kw {
                        let src = &tile[(c_in * kw + c) * len + i * wo..][..wo];
                        plan.scatter_add(src, c, row);
                    }
                }
            }
        });
    flex_tensor(out, x_shape.to_vec())
}

/// The gradient of the weight: per tap, the output gradient on the grid times the shifted
/// `X_w`, summed over images and chunks of positions computed in parallel.
pub(super) fn weight_grad(
    x: &FlexTensor,
    grad: &FlexTensor,
    weight_shape: &[usize],
    options: &ConvOptions<3>,
) -> FlexTensor {
    let plan = Plan::new(Geometry::new(x.layout().shape(), weight_shape, options));
    let g = plan.g;
    let xw = plan.spread_input(&values(x));
    let dy = plan.spread_output(&values(grad));
    let (co, depth, span, row_len) = (g.channels_out, plan.depth(), plan.span(), plan.row_len());
    let positions = plan.positions();
    let per_image = plan.taps.len() * g.batch;
    let chunks = (TASKS_PER_THREAD * rayon::current_num_threads())
        .div_ceil(per_image)
        .min(positions.div_ceil(MIN_DEPTH))
        .max(1);
    let parts = even_parts(0..positions, chunks);
    // Few taps on few images (a 3×1×1 kernel on one clip) split the output channels too, so
    // that every thread gets a share: three tasks on two threads leave one idle a third of
    // the time. Each task's partial holds its own rows.
    let rows = (TASKS_PER_THREAD * rayon::current_num_threads())
        .div_ceil(per_image * parts.len())
        .min(co.div_ceil(MIN_ROWS))
        .max(1);
    let rows = even_parts(0..co, rows);
    let tasks: Vec<(
        usize,
        usize,
        &std::ops::Range<usize>,
        &std::ops::Range<usize>,
    )> = (0..plan.taps.len())
        .flat_map(|i| (0..g.batch).map(move |n| (i, n)))
        .flat_map(|(i, n)| parts.iter().map(move |part| (i, n, part)))
        .flat_map(|(i, n, part)| rows.iter().map(move |r| (i, n, part, r)))
        .collect();
    let partial: Vec<Vec<f32>> = tasks
        .par_iter()
        .map(|&(i, n, part, r)| {
            let mut sum = vec![0.0f32; r.len() * depth];
            // Only over the rows on which the tap reads the input: the products elsewhere add
            // zeros (a 3×1×1 kernel's end taps skip a frame; on 14 × 14 frames under a
            // dilated 3 × 3 kernel, the padding rows between frames are a fifth of the grid).
            let wo = g.output[2];
            let (phase, off) = plan.taps[i];
            let rows = plan.reading_rows(&(part.start / wo..part.end.div_ceil(wo)), i);
            let mut accumulate = false;
            for rows in rows {
                let p0 = part.start.max(rows.start * wo);
                let len = part.end.min(rows.end * wo).saturating_sub(p0);
                let at = n * co * span + r.start * span + plan.reach + p0;
                let lhs = View::new(&dy, at, [r.len(), len], [span, 1]);
                let at = n * depth * row_len + phase * plan.plane + off + p0;
                let rhs = View::new(&xw, at, [len, depth], [1, row_len]);
                product(&mut sum, depth, accumulate, lhs, rhs);
                accumulate = true;
            }
            sum
        })
        .collect();
    // Back to `[C_out, C_in, kt, kh, kw]`, summing each tap's partial products.
    let (taps, kw) = (plan.taps.len(), g.kernel[2]);
    let mut out = vec![0.0f32; co * depth * taps];
    out.par_chunks_mut(depth * taps)
        .enumerate()
        .for_each(|(o, dst)| {
            let own = tasks
                .iter()
                .zip(&partial)
                .filter(|((.., r), _)| r.contains(&o));
            for (&(i, _, _, r), sum) in own {
                let src = sum[(o - r.start) * depth..][..depth].chunks_exact(kw);
                for (dst, src) in dst.chunks_exact_mut(taps * kw).zip(src) {
                    for (d, v) in dst[i * kw..][..kw].iter_mut().zip(src) {
                        *d += v;
                    }
                }
            }
        });
    flex_tensor(out, weight_shape.to_vec())
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use burn::tensor::ops::ConvOptions;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::{Products, forward_by, input_grad_by};
    use crate::ops::flex::{flex_tensor, values};

    /// The AVX2 kernels against gemm, forward and input gradient, on the shapes where their blocking has edges: output
    /// channels not a multiple of 6 and more than one chunk, an inner dimension over one
    /// panel's depth, output rows that end mid-tile, strides, dilation, and padding so wide
    /// that no tap reads every output. (The op's test compares the default route with Burn.)
    #[test]
    fn the_kernels_match_gemm() {
        if !super::super::avx2::available() {
            return;
        }
        let mut rng = StdRng::seed_from_u64(6);
        // (input, weight, stride, padding, dilation)
        let cases = [
            (
                [2, 50, 3, 9, 11],
                [103, 50, 1, 3, 3],
                [1, 1, 1],
                [0, 1, 1],
                [1; 3],
            ),
            (
                [1, 7, 4, 12, 10],
                [13, 7, 3, 1, 1],
                [1, 1, 1],
                [1, 0, 0],
                [1; 3],
            ),
            (
                [1, 9, 2, 13, 13],
                [8, 9, 1, 3, 3],
                [1, 2, 2],
                [0, 1, 1],
                [1; 3],
            ),
            (
                [1, 6, 3, 14, 14],
                [6, 6, 1, 3, 3],
                [1, 1, 1],
                [0, 2, 2],
                [1, 2, 2],
            ),
            (
                [1, 5, 2, 6, 7],
                [5, 5, 1, 2, 2],
                [1, 1, 1],
                [0, 2, 2],
                [1; 3],
            ),
        ];
        for (xs, ws, stride, padding, dilation) in cases {
            let mut random = |shape: [usize; 5]| {
                let values: Vec<f32> = (0..shape.iter().product())
                    .map(|_| rng.random_range(-1.0f32..1.0))
                    .collect();
                flex_tensor(values, shape.to_vec())
            };
            let (x, w) = (random(xs), random(ws));
            let options = ConvOptions::new(stride, padding, dilation, 1);
            // One upstream gradient for both routes: gemm's output.
            let upstream = forward_by(&x, &w, &options, Products::Gemm);
            let by = |products| {
                let y = forward_by(&x, &w, &options, products);
                let dx = input_grad_by(&xs, &w, &upstream, &options, products);
                [values(&y).to_vec(), values(&dx).to_vec()]
            };
            let (kernels, gemm) = (by(Products::Kernels), by(Products::Gemm));
            for (what, kernels, gemm) in [
                ("output", &kernels[0], &gemm[0]),
                ("input gradient", &kernels[1], &gemm[1]),
            ] {
                assert_eq!(kernels.len(), gemm.len());
                for (i, (a, b)) in kernels.iter().zip(gemm).enumerate() {
                    assert!(
                        (a - b).abs() <= 1e-4 * (1.0 + b.abs()),
                        "{ws:?}, {what} at {i}: kernels {a}, gemm {b}"
                    );
                }
            }
        }
    }
}
