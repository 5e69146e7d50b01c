//! Convolutions on flex (Burn's CPU backend) without im2col's copies: the CPU backend
//! extension, reached through [`super::conv3d`] / [`super::conv2d`] from the convolution
//! modules of `crate::nn`, and the one file that knows convolutions there (the shared
//! plumbing is `crate::ops::flex`).
//!
//! flex's forward im2col copies the kernel volume per output position (after a channels-last
//! copy of the input); Burn's generic weight gradient copies both operands with their first
//! two axes swapped and then runs a convolution whose kernel is the whole output volume, so
//! im2col copies the input once per tap; its input gradient is a transposed convolution with
//! a col2im scatter. Every `groups = 1` float convolution is therefore computed here, and
//! under autodiff recorded as one op with both gradients here too:
//! - few input and output channels (the demo's fast stem): direct loops, input rows split into
//!   stride phases so the inner loops are contiguous, compiled for the CPU's widest vector
//!   unit by `pulp`, forward and weight gradient;
//! - unpadded pointwise kernels: one product per image on the tensors as they lie
//!   ([`pointwise`]; strided ones over the subsampled input; the input gradient of a strided
//!   one takes the per-tap products);
//! - every other kernel: one matrix product per tap on a padded, phase-split copy of the
//!   input, forward and both gradients ([`tap_gemm`]).
//!
//! On x86-64 with AVX2, the forward products and per-tap input gradients of convolutions of
//! at most 128 channels take kernels of their own rather than gemm ([`avx2`]).
//!
//! Grouped convolutions (ResNeXt) take flex's and Burn's own.
//!
//! Rust has no specialisation, and threading a backend extension trait through every generic
//! bound would touch the whole crate, so the backend is recognised at run time by `TypeId`
//! and the tensors are moved across by `Any` downcasts. Other backends, dtypes and settings
//! take Burn's convolution, and so the same arithmetic.

use std::any::TypeId;

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::{Flex, FlexTensor};
use burn::tensor::backend::Backend;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{DType, Tensor, TensorPrimitive};
use rayon::prelude::*;

use crate::ops::flex::{AutodiffPrimitive, FlexAutodiff, cast, flex_tensor, values};

#[cfg(target_arch = "x86_64")]
mod avx2;
mod epilogue;
mod matrix;
mod pointwise;
mod tap_gemm;

/// Input channels up to which the direct kernels are used. Beyond, the per-tap products of
/// [`tap_gemm`] have an inner dimension long enough for gemm.
const MAX_CHANNELS_IN: usize = 4;

/// Output channels up to which the direct kernels are used: there a gemm has too few rows
/// (the demo's fast stem, 2 channels). With more the per-tap products are faster: R50's fast
/// stem (8 channels, 5×7×7 over 32 frames) 219–265 → 128–139 ms forward, 347–386 → 280–337
/// ms with its weight gradient (AVX2 machine); R50's slow stem (64) 36 → 18 ms forward
/// against flex's im2col, 61 → 45 ms with its weight gradient against the direct kernel; the
/// demo's slow stem (16 channels, 4 clips) 2.5 → 1.3 ms forward, 7.5 → 3.5 ms with its
/// weight gradient (AVX-512 machine).
const MAX_DIRECT_CHANNELS_OUT: usize = 4;

/// Kernel widths up to which the direct kernels are used (the stems': 7).
const MAX_TAPS: usize = 16;

/// Whether this is a pointwise convolution without padding, which [`pointwise`] computes
/// (strided: over the subsampled input; its input gradient takes [`tap_gemm`]).
fn unpadded_pointwise(weight: &[usize], options: &ConvOptions<3>) -> bool {
    weight[2..] == [1, 1, 1] && options.padding == [0; 3]
}

/// Whether the direct kernels compute this convolution (forward and weight gradient).
fn direct_applies(x: &[usize], weight: &[usize]) -> bool {
    x[1] <= MAX_CHANNELS_IN && weight[0] <= MAX_DIRECT_CHANNELS_OUT && weight[4] <= MAX_TAPS
}

/// `relu(conv(x, weight) + bias + residual)` as a 3-D convolution on flex (bias and residual
/// optional, the ReLU where `relu`), or `x` back on other backends and settings. In inference
/// the convolutions [`forward`] computes itself; under autodiff every convolution, recorded as
/// one op whose gradients take the fastest route (see [`weight_grad`], [`input_grad`]). The
/// bias, residual and ReLU are the op's [`epilogue`], applied in place.
pub(super) fn try_conv3d<B: Backend>(
    x: Tensor<B, 5>,
    weight: Tensor<B, 5>,
    bias: Option<Tensor<B, 1>>,
    residual: Option<Tensor<B, 5>>,
    relu: bool,
    options: ConvOptions<3>,
) -> Result<Tensor<B, 5>, Tensor<B, 5>> {
    let backend = TypeId::of::<B>();
    let inference = backend == TypeId::of::<Flex>();
    // The epilogue reads the bias and the residual as f32 of exactly the output's channels
    // and shape; anything else (a broadcast residual, another dtype) takes Burn's ops.
    let g = Geometry::new(&x.dims(), &weight.dims(), &options);
    let [to, ho, wo] = g.output;
    let fits = bias
        .as_ref()
        .is_none_or(|b| b.dtype() == DType::F32 && b.dims() == [g.channels_out])
        && residual.as_ref().is_none_or(|r| {
            r.dtype() == DType::F32 && r.dims() == [g.batch, g.channels_out, to, ho, wo]
        });
    if options.groups != 1
        || x.dtype() != DType::F32
        || !fits
        || !(inference || backend == TypeId::of::<FlexAutodiff>())
    {
        return Err(x);
    }
    let primitive = |t: Tensor<B, 5>| t.into_primitive().tensor();
    let (x, weight) = (primitive(x), primitive(weight));
    let bias = bias.map(|b| b.into_primitive().tensor());
    let residual = residual.map(primitive);
    let out: B::FloatTensorPrimitive = if inference {
        let (bias, residual) = (bias.map(cast), residual.map(cast));
        let epilogue = Epilogue::new(bias.as_ref(), residual.as_ref(), relu);
        cast(epilogue.forward(forward(cast(x), cast(weight), &options)))
    } else {
        cast(autodiff_forward(
            cast(x),
            cast(weight),
            bias.map(cast),
            residual.map(cast),
            relu,
            options,
        ))
    };
    Ok(Tensor::from_primitive(TensorPrimitive::Float(out)))
}

/// The same for a 2-D convolution, as a 3-D convolution over one frame.
pub(super) fn try_conv2d<B: Backend>(
    x: Tensor<B, 4>,
    weight: Tensor<B, 4>,
    bias: Option<Tensor<B, 1>>,
    residual: Option<Tensor<B, 4>>,
    relu: bool,
    options: ConvOptions<2>,
) -> Result<Tensor<B, 4>, Tensor<B, 4>> {
    let ([sh, sw], [ph, pw], [dh, dw]) = (options.stride, options.padding, options.dilation);
    let options = ConvOptions::new([1, sh, sw], [0, ph, pw], [1, dh, dw], options.groups);
    let residual = residual.map(|r| r.unsqueeze_dim(2));
    try_conv3d(
        x.unsqueeze_dim(2),
        weight.unsqueeze_dim(2),
        bias,
        residual,
        relu,
        options,
    )
    .map(|y| y.squeeze_dim(2))
    .map_err(|x| x.squeeze_dim(2))
}

/// The bias, residual and ReLU after a convolution, as [`epilogue::apply`] takes them.
struct Epilogue<'a> {
    bias: Option<std::borrow::Cow<'a, [f32]>>,
    residual: Option<std::borrow::Cow<'a, [f32]>>,
    relu: bool,
}

impl<'a> Epilogue<'a> {
    fn new(bias: Option<&'a FlexTensor>, residual: Option<&'a FlexTensor>, relu: bool) -> Self {
        Self {
            bias: bias.map(values),
            residual: residual.map(values),
            relu,
        }
    }

    /// `y` through the epilogue, in place where `y` is not shared (a fresh output always is).
    fn forward(&self, mut y: FlexTensor) -> FlexTensor {
        let shape = y.layout().shape().to_vec();
        let planes = [shape[0] * shape[1], shape[1]];
        let (bias, residual) = (self.bias.as_deref(), self.residual.as_deref());
        match y.try_storage_mut::<f32>() {
            Some(data) => {
                epilogue::apply(data, planes, bias, residual, self.relu);
                y
            }
            None => {
                let mut data = values(&y).into_owned();
                epilogue::apply(&mut data, planes, bias, residual, self.relu);
                flex_tensor(data, shape)
            }
        }
    }
}

/// The convolution op under autodiff, with its parents `[x, weight]`, `[x, weight, bias]` or
/// `[x, weight, bias, residual]`.
#[derive(Debug)]
struct ConvOp<const N: usize>;

#[derive(Debug, Clone)]
struct ConvState {
    x: NodeId,
    weight: NodeId,
    options: ConvOptions<3>,
    bias: bool,
    /// The op's output where a ReLU ends it: its gradient's mask.
    relu_output: Option<FlexTensor>,
}

impl<const N: usize> Backward<Flex, N> for ConvOp<N> {
    type State = ConvState;

    fn backward(
        self,
        ops: Ops<Self::State, N>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let grad = grads.consume::<Flex>(&ops.node);
        let state = ops.state;
        let mut parents = ops.parents.into_iter();
        let (node_x, node_weight) = (parents.next().flatten(), parents.next().flatten());
        let node_bias = if state.bias {
            parents.next().flatten()
        } else {
            None
        };
        let node_residual = parents.next().flatten();
        let (grad, bias_grad) =
            epilogue::backward(grad, state.relu_output.as_ref(), node_bias.is_some());
        if let (Some(node), Some(bias_grad)) = (node_bias, bias_grad) {
            grads.register::<Flex>(node.id, bias_grad);
        }
        if let Some(node) = node_residual {
            grads.register::<Flex>(node.id, grad.clone());
        }
        let x = checkpointer.retrieve_node_output::<FlexTensor>(state.x);
        let weight = checkpointer.retrieve_node_output::<FlexTensor>(state.weight);
        if let Some(node) = node_x {
            grads.register::<Flex>(node.id, input_grad(&x, &weight, &grad, &state.options));
        }
        if let Some(node) = node_weight {
            grads.register::<Flex>(node.id, weight_grad(x, grad, weight, state.options));
        }
    }
}

fn autodiff_forward(
    x: AutodiffPrimitive,
    weight: AutodiffPrimitive,
    bias: Option<AutodiffPrimitive>,
    residual: Option<AutodiffPrimitive>,
    relu: bool,
    options: ConvOptions<3>,
) -> AutodiffPrimitive {
    // A residual without a bias takes a zero bias (untracked: no gradient), so that the
    // residual is always the fourth parent.
    let bias = match (bias, &residual) {
        (None, Some(_)) => {
            let channels = weight.primitive.layout().shape()[0];
            let zeros = Tensor::<FlexAutodiff, 1>::zeros([channels], &Default::default());
            Some(zeros.into_primitive().tensor())
        }
        (bias, _) => bias,
    };
    let epilogue = Epilogue::new(
        bias.as_ref().map(|b| &b.primitive),
        residual.as_ref().map(|r| &r.primitive),
        relu,
    );
    let (xn, wn) = (x.node.clone(), weight.node.clone());
    match (&bias, &residual) {
        (Some(b), Some(r)) => {
            let nodes = [xn, wn, b.node.clone(), r.node.clone()];
            let prep = ConvOp::<4>.prepare(nodes).compute_bound().stateful();
            record(prep, x, weight, true, &epilogue, options)
        }
        (Some(b), None) => {
            let prep = ConvOp::<3>
                .prepare([xn, wn, b.node.clone()])
                .compute_bound()
                .stateful();
            record(prep, x, weight, true, &epilogue, options)
        }
        _ => {
            let prep = ConvOp::<2>.prepare([xn, wn]).compute_bound().stateful();
            record(prep, x, weight, false, &epilogue, options)
        }
    }
}

/// Records the prepared op around the convolution of `x` by `weight` and its `epilogue`
/// (`bias`: whether its third parent is a bias).
fn record<const N: usize>(
    prep: OpsKind<ConvOp<N>, Flex, ConvState, NoCheckpointing, N>,
    x: AutodiffPrimitive,
    weight: AutodiffPrimitive,
    bias: bool,
    epilogue: &Epilogue,
    options: ConvOptions<3>,
) -> AutodiffPrimitive {
    let run = |x, weight| epilogue.forward(forward(x, weight, &options));
    match prep {
        OpsKind::Tracked(mut prep) => {
            let x_state = prep.checkpoint(&x);
            let weight_state = prep.checkpoint(&weight);
            let out = run(x.primitive, weight.primitive);
            let state = ConvState {
                x: x_state,
                weight: weight_state,
                options,
                bias,
                relu_output: epilogue.relu.then(|| out.clone()),
            };
            prep.finish(state, out)
        }
        OpsKind::UnTracked(prep) => prep.finish(run(x.primitive, weight.primitive)),
    }
}

/// The shapes and options of one convolution, as plain numbers for the kernels.
#[derive(Debug, Clone, Copy)]
struct Geometry {
    batch: usize,
    channels_in: usize,
    channels_out: usize,
    /// Input `[t, h, w]`.
    input: [usize; 3],
    /// Output `[t, h, w]`.
    output: [usize; 3],
    kernel: [usize; 3],
    stride: [usize; 3],
    padding: [usize; 3],
    dilation: [usize; 3],
}

impl Geometry {
    fn new(x: &[usize], weight: &[usize], options: &ConvOptions<3>) -> Self {
        let input = [x[2], x[3], x[4]];
        let kernel = [weight[2], weight[3], weight[4]];
        let output = std::array::from_fn(|i| {
            (input[i] + 2 * options.padding[i] - options.dilation[i] * (kernel[i] - 1) - 1)
                / options.stride[i]
                + 1
        });
        Self {
            batch: x[0],
            channels_in: x[1],
            channels_out: weight[0],
            input,
            output,
            kernel,
            stride: options.stride,
            padding: options.padding,
            dilation: options.dilation,
        }
    }

    /// Output indices `o` along `axis` whose input index `o·stride + k·dilation − padding`
    /// is inside the input, for kernel tap `k`.
    #[inline(always)]
    fn valid(&self, axis: usize, k: usize) -> std::ops::Range<usize> {
        let (s, off) = (self.stride[axis], k * self.dilation[axis]);
        let (pad, len, out) = (self.padding[axis], self.input[axis], self.output[axis]);
        let lo = pad.saturating_sub(off).div_ceil(s).min(out);
        let hi = if len + pad > off {
            ((len + pad - off - 1) / s + 1).min(out)
        } else {
            0
        };
        lo..hi.max(lo)
    }

    /// For temporal tap `a`: every output row `(t, vertical tap b, h)` whose input row lies
    /// inside the input, with that input row's index `t_in·H + h_in` in one channel's volume.
    #[inline(always)]
    fn rows(&self, a: usize) -> impl Iterator<Item = (usize, usize, usize, usize)> + '_ {
        self.valid(0, a).flat_map(move |ot| {
            let t_in = (ot * self.stride[0]) as isize + self.origin(0, a);
            (0..self.kernel[1]).flat_map(move |b| {
                self.valid(1, b).map(move |oh| {
                    let h_in = (oh * self.stride[1]) as isize + self.origin(1, b);
                    (ot, b, oh, t_in as usize * self.input[1] + h_in as usize)
                })
            })
        })
    }

    /// First input index of tap `k` at output 0 (may be negative: padding).
    #[inline(always)]
    fn origin(&self, axis: usize, k: usize) -> isize {
        (k * self.dilation[axis]) as isize - self.padding[axis] as isize
    }
}

/// Output rows are computed in whole chunks of this many elements, a multiple of every
/// vector width pulp dispatches to (1, 4, 8, 16 lanes); the padding lanes read zeros and are
/// dropped.
const LANES: usize = 16;

/// The input with every row split into its `stride` phases, `phase[p][j] = row[j·stride + p]`,
/// each zero-padded on both ends: horizontal tap `c` then reads one contiguous run of
/// `lanes` elements for a whole output row (padded to whole vectors), with no range checks —
/// padding and out-of-row positions read zeros. Split once per call: each row is read by
/// several temporal and vertical kernel taps.
struct Phased {
    /// Elements per row: `stride` phases of `len`.
    row_len: usize,
    /// Output row length rounded up to whole vectors.
    lanes: usize,
    /// Per horizontal tap, the offset of its run in a phased row.
    taps: Vec<usize>,
    data: Vec<f32>,
}

impl Phased {
    fn new(x: &[f32], g: &Geometry) -> Self {
        let (s, width) = (g.stride[2], g.input[2]);
        let lanes = g.output[2].next_multiple_of(LANES);
        // Zeros before index 0 of each phase, enough for the leftmost tap's padding.
        let lead = g.padding[2].div_ceil(s);
        let reach = (g.kernel[2] - 1) * g.dilation[2] / s + 1;
        let len = lead + width.div_ceil(s).max(lanes + reach);
        let taps = (0..g.kernel[2])
            .map(|c| {
                let origin = g.origin(2, c);
                let (p, q) = (origin.rem_euclid(s as isize), origin.div_euclid(s as isize));
                p as usize * len + (lead as isize + q) as usize
            })
            .collect();
        let rows = x.len() / width;
        let mut data = vec![0.0; rows * s * len];
        for (row, out) in x.chunks_exact(width).zip(data.chunks_exact_mut(s * len)) {
            for (p, phase) in out.chunks_exact_mut(len).enumerate() {
                let values = row.iter().skip(p).step_by(s);
                for (dst, &v) in phase[lead..].iter_mut().zip(values) {
                    *dst = v;
                }
            }
        }
        Self {
            row_len: s * len,
            lanes,
            taps,
            data,
        }
    }

    /// What horizontal tap `c` reads from input row `row` for one output row, as vectors.
    #[inline(always)]
    fn run<S: pulp::Simd>(&self, row: usize, c: usize) -> &[S::f32s] {
        let start = row * self.row_len + self.taps[c];
        S::as_simd_f32s(&self.data[start..start + self.lanes]).0
    }
}

/// The convolution: direct over few input and output channels, [`pointwise`] for unpadded
/// pointwise kernels, per-tap products ([`tap_gemm`]) otherwise.
fn forward(x: FlexTensor, weight: FlexTensor, options: &ConvOptions<3>) -> FlexTensor {
    let (xs, ws) = (x.layout().shape(), weight.layout().shape());
    if direct_applies(xs, ws) {
        direct_forward(&x, &weight, options)
    } else if unpadded_pointwise(ws, options) {
        pointwise::forward(&x, &weight, options.stride)
    } else {
        tap_gemm::forward(&x, &weight, options)
    }
}

/// The gradient of the weight: direct over few input and output channels, [`pointwise`] for
/// unpadded pointwise kernels, per-tap products otherwise.
fn weight_grad(
    x: FlexTensor,
    grad: FlexTensor,
    weight: FlexTensor,
    options: ConvOptions<3>,
) -> FlexTensor {
    let w = weight.layout().shape();
    if direct_applies(x.layout().shape(), w) {
        direct_weight_grad(&x, &grad, &weight, &options)
    } else if unpadded_pointwise(w, &options) {
        pointwise::weight_grad(&x, &grad, options.stride)
    } else {
        tap_gemm::weight_grad(&x, &grad, w, &options)
    }
}

/// The gradient of the input: [`pointwise`] for unpadded stride-1 pointwise kernels (most of
/// a ResNet's), per-tap products otherwise.
fn input_grad(
    x: &FlexTensor,
    weight: &FlexTensor,
    grad: &FlexTensor,
    options: &ConvOptions<3>,
) -> FlexTensor {
    if unpadded_pointwise(weight.layout().shape(), options) && options.stride == [1; 3] {
        pointwise::input_grad(weight, grad)
    } else {
        tap_gemm::input_grad(x.layout().shape(), weight, grad, options)
    }
}

/// The convolution, parallel over (image, output channel) planes.
fn direct_forward(x: &FlexTensor, weight: &FlexTensor, options: &ConvOptions<3>) -> FlexTensor {
    let g = Geometry::new(x.layout().shape(), weight.layout().shape(), options);
    let weight = values(weight);
    let xp = Phased::new(&values(x), &g);
    let [to, ho, wo] = g.output;
    let plane = to * ho * wo;
    let mut out = vec![0.0f32; g.batch * g.channels_out * plane];
    let simd = pulp::Arch::new();
    out.par_chunks_mut(plane)
        .enumerate()
        .for_each(|(index, y)| {
            simd.dispatch(ForwardPlane {
                g: &g,
                xp: &xp,
                weight: &weight,
                index,
                y,
            })
        });
    flex_tensor(out, vec![g.batch, g.channels_out, to, ho, wo])
}

/// One (image, output channel) plane of [`direct_forward`]. The kernels are `WithSimd` types,
/// not closures: pulp inlines `with_simd` into a function compiled for the CPU's vector unit
/// (AVX2 + FMA here), while a closure is reached through its `FnOnce` shim, which LLVM keeps
/// out of line and compiles for the baseline CPU (SSE2).
struct ForwardPlane<'a> {
    g: &'a Geometry,
    xp: &'a Phased,
    weight: &'a [f32],
    index: usize,
    y: &'a mut [f32],
}

impl pulp::WithSimd for ForwardPlane<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) {
        let Self {
            g,
            xp,
            weight,
            index,
            y,
        } = self;
        let [ti, hi, _] = g.input;
        let [to, ho, wo] = g.output;
        let [kt, kh, kw] = g.kernel;
        let (n, co) = (index / g.channels_out, index % g.channels_out);
        // The plane with rows padded to whole vectors.
        let mut padded = vec![0.0f32; to * ho * xp.lanes];
        for ci in 0..g.channels_in {
            let rows = (n * g.channels_in + ci) * ti * hi;
            let wc = &weight[(co * g.channels_in + ci) * kt * kh * kw..][..kt * kh * kw];
            for a in 0..kt {
                for (ot, b, oh, row) in g.rows(a) {
                    let yrow = &mut padded[(ot * ho + oh) * xp.lanes..][..xp.lanes];
                    let yrow = S::as_mut_simd_f32s(yrow).0;
                    // Each output vector takes all horizontal taps in a register.
                    let taps = &wc[(a * kh + b) * kw..][..kw];
                    let k: [S::f32s; MAX_TAPS] = std::array::from_fn(|c| {
                        simd.splat_f32s(taps.get(c).copied().unwrap_or(0.0))
                    });
                    let runs: [&[S::f32s]; MAX_TAPS] = std::array::from_fn(|c| {
                        if c < kw {
                            xp.run::<S>(rows + row, c)
                        } else {
                            &[]
                        }
                    });
                    match kw {
                        7 => forward_row::<S, 7>(simd, yrow, &k, &runs),
                        _ => forward_row::<S, 0>(simd, yrow, &k, &runs[..kw]),
                    }
                }
            }
        }
        for (dst, src) in y.chunks_exact_mut(wo).zip(padded.chunks_exact(xp.lanes)) {
            dst.copy_from_slice(&src[..wo]);
        }
    }
}

/// The gradient of the weight: for every (input channel, temporal tap), the sum over all
/// output positions of output gradient × input, parallel over (image, input channel, tap).
fn direct_weight_grad(
    x: &FlexTensor,
    grad: &FlexTensor,
    weight: &FlexTensor,
    options: &ConvOptions<3>,
) -> FlexTensor {
    let g = Geometry::new(x.layout().shape(), weight.layout().shape(), options);
    let xp = Phased::new(&values(x), &g);
    // The output gradient with rows padded by zeros to whole vectors, so that the padding
    // lanes add nothing.
    let (wo, grad) = (g.output[2], values(grad));
    let mut dy = vec![0.0f32; grad.len() / wo * xp.lanes];
    for (dst, src) in dy.chunks_exact_mut(xp.lanes).zip(grad.chunks_exact(wo)) {
        dst[..wo].copy_from_slice(src);
    }
    let [kt, kh, kw] = g.kernel;
    let simd = pulp::Arch::new();
    // Per task: [channels_out, kh, kw] partial sums.
    let partial: Vec<Vec<f64>> = (0..g.batch * g.channels_in * kt)
        .into_par_iter()
        .map(|task| {
            simd.dispatch(WeightGradTask {
                g: &g,
                xp: &xp,
                dy: &dy,
                task,
            })
        })
        .collect();
    let mut out = vec![0.0f64; g.channels_out * g.channels_in * kt * kh * kw];
    for (task, acc) in partial.iter().enumerate() {
        let rest = task % (g.channels_in * kt);
        let (ci, a) = (rest / kt, rest % kt);
        for co in 0..g.channels_out {
            for bc in 0..kh * kw {
                let at = ((co * g.channels_in + ci) * kt + a) * kh * kw + bc;
                out[at] += acc[co * kh * kw + bc];
            }
        }
    }
    let out = out.into_iter().map(|v| v as f32).collect();
    flex_tensor(out, vec![g.channels_out, g.channels_in, kt, kh, kw])
}

/// One (image, input channel, temporal tap) task of [`direct_weight_grad`] (a `WithSimd`
/// type for the reason given at [`ForwardPlane`]). Sums stay in vector lanes over the whole
/// task and are reduced once at its end.
struct WeightGradTask<'a> {
    g: &'a Geometry,
    xp: &'a Phased,
    /// The output gradient, rows padded to `xp.lanes`.
    dy: &'a [f32],
    task: usize,
}

impl pulp::WithSimd for WeightGradTask<'_> {
    type Output = Vec<f64>;

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) -> Vec<f64> {
        let Self { g, xp, dy, task } = self;
        let [ti, hi, _] = g.input;
        let [to, ho, _] = g.output;
        let [kt, kh, kw] = g.kernel;
        let (n, rest) = (task / (g.channels_in * kt), task % (g.channels_in * kt));
        let (ci, a) = (rest / kt, rest % kt);
        let rows = (n * g.channels_in + ci) * ti * hi;
        let zero = simd.splat_f32s(0.0);
        let mut sums = vec![zero; g.channels_out * kh * kw];
        for (ot, b, oh, row) in g.rows(a) {
            let runs: [&[S::f32s]; MAX_TAPS] = std::array::from_fn(|c| {
                if c < kw {
                    xp.run::<S>(rows + row, c)
                } else {
                    &[]
                }
            });
            for co in 0..g.channels_out {
                let plane = (n * g.channels_out + co) * to * ho;
                let dyrow = &dy[(plane + ot * ho + oh) * xp.lanes..][..xp.lanes];
                let sums = &mut sums[(co * kh + b) * kw..][..kw];
                // One accumulator per horizontal tap, kept in registers across the row.
                let mut acc: [S::f32s; MAX_TAPS] =
                    std::array::from_fn(|c| sums.get(c).copied().unwrap_or(zero));
                let dyrow = S::as_simd_f32s(dyrow).0;
                match kw {
                    7 => weight_grad_row::<S, 7>(simd, &mut acc, dyrow, &runs),
                    _ => weight_grad_row::<S, 0>(simd, &mut acc, dyrow, &runs[..kw]),
                }
                sums.copy_from_slice(&acc[..kw]);
            }
        }
        sums.iter()
            .map(|&v| simd.reduce_sum_f32s(v) as f64)
            .collect()
    }
}

/// `y[i] += Σ_c k[c] · runs[c][i]` over one output row's vectors, with the sum in a register.
/// `K` is the tap count where it is known at compile time (the stems' 7: the tap loop then
/// unrolls), or 0 for `runs.len()`.
#[inline(always)]
fn forward_row<S: pulp::Simd, const K: usize>(
    simd: S,
    y: &mut [S::f32s],
    k: &[S::f32s; MAX_TAPS],
    runs: &[&[S::f32s]],
) {
    let taps = if K == 0 { runs.len() } else { K };
    let runs: [&[S::f32s]; MAX_TAPS] =
        std::array::from_fn(|c| if c < taps { &runs[c][..y.len()] } else { &[] });
    for (i, y) in y.iter_mut().enumerate() {
        let mut sum = *y;
        for c in 0..taps {
            sum = simd.mul_add_e_f32s(k[c], runs[c][i], sum);
        }
        *y = sum;
    }
}

/// `acc[c] += Σ_i dy[i] · runs[c][i]` for every horizontal tap `c` of one row, each sum in a
/// register; `K` as in [`forward_row`].
#[inline(always)]
fn weight_grad_row<S: pulp::Simd, const K: usize>(
    simd: S,
    acc: &mut [S::f32s; MAX_TAPS],
    dy: &[S::f32s],
    runs: &[&[S::f32s]],
) {
    let taps = if K == 0 { runs.len() } else { K };
    let runs: [&[S::f32s]; MAX_TAPS] =
        std::array::from_fn(|c| if c < taps { &runs[c][..dy.len()] } else { &[] });
    for (i, &d) in dy.iter().enumerate() {
        for c in 0..taps {
            acc[c] = simd.mul_add_e_f32s(d, runs[c][i], acc[c]);
        }
    }
}

#[cfg(test)]
mod tests {
    use burn::backend::{Autodiff, Flex};
    use burn::tensor::{Tensor, TensorData, Tolerance, activation::relu};
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    type A = Autodiff<Flex>;

    /// The op with its epilogue (bias, residual, ReLU) against Burn's own convolution followed
    /// by Burn's add and ReLU: the output in inference, and under autodiff the gradients of
    /// the input, weight, bias and residual, on each route (per-tap products, pointwise,
    /// direct) and for each combination the networks use.
    #[test]
    fn the_op_matches_burns_convolution_and_epilogue() {
        let device = Default::default();
        // Drawn from a seeded generator of this test's own, so every run sees the same numbers.
        let mut rng = StdRng::seed_from_u64(18);
        let mut random = |shape: [usize; 5]| {
            let values: Vec<f32> = (0..shape.iter().product())
                .map(|_| rng.random_range(-1.7f32..1.7))
                .collect();
            Tensor::<A, 5>::from_data(TensorData::new(values, shape), &device)
        };
        // (input, weight, padding): per-tap products (with a centre tap that reads the input
        // for every output, and padded so wide that no tap does), pointwise, direct, and a
        // pointwise weight gradient small enough to be split over threads.
        let routes = [
            ([2, 5, 3, 6, 7], [6, 5, 1, 3, 3], [0, 1, 1]),
            ([2, 5, 3, 6, 7], [6, 5, 1, 2, 2], [0, 2, 2]),
            ([2, 5, 3, 6, 7], [6, 5, 1, 1, 1], [0, 0, 0]),
            ([2, 3, 3, 6, 7], [4, 3, 3, 3, 3], [1, 1, 1]),
            ([2, 8, 8, 32, 32], [16, 8, 1, 1, 1], [0, 0, 0]),
        ];
        for (xs, ws, padding) in routes {
            // Weight gradients summed over 16 K positions are f32 sums of unit terms of either
            // sign in a different order than Burn's: their rounding differs by up to ~N·ε =
            // 1e-3 (seen: 1.2e-4 on a random draw), while a lost term or thread share is O(1).
            let positions = xs[0] * xs[2] * xs[3] * xs[4];
            let tol = if positions > 1000 {
                Tolerance::rel_abs(1e-4, 1e-3)
            } else {
                Tolerance::absolute(2e-5)
            };
            let options = ConvOptions::new([1; 3], padding, [1; 3], 1);
            let (x, weight) = (random(xs), random(ws));
            let bias = random([ws[0], 1, 1, 1, 1]).reshape([ws[0]]);
            let size = |a: usize| xs[a] + 2 * padding[a - 2] + 1 - ws[a];
            let out = [xs[0], ws[0], size(2), size(3), size(4)];
            let (residual, upstream) = (random(out), random(out));
            for (with_bias, with_residual, with_relu) in [
                (true, true, true),
                (true, false, true),
                (false, true, true),
                (true, false, false),
                (false, false, false),
            ] {
                let case = format!("{ws:?}: bias {with_bias} residual {with_residual}");
                let (x, weight) = (x.clone().require_grad(), weight.clone().require_grad());
                let bias = with_bias.then(|| bias.clone().require_grad());
                let residual = with_residual.then(|| residual.clone().require_grad());
                // Inference, on flex itself.
                let inner = |t: &Option<Tensor<A, 1>>| t.as_ref().map(|t| t.clone().inner());
                let fused = super::super::conv3d_then(
                    x.clone().inner(),
                    weight.clone().inner(),
                    inner(&bias),
                    residual.as_ref().map(|r| r.clone().inner()),
                    with_relu,
                    options.clone(),
                );
                let mut composed = burn::tensor::module::conv3d(
                    x.clone().inner(),
                    weight.clone().inner(),
                    inner(&bias),
                    options.clone(),
                );
                if let Some(r) = &residual {
                    composed = composed + r.clone().inner();
                }
                if with_relu {
                    composed = relu(composed);
                }
                fused
                    .into_data()
                    .assert_approx_eq::<f32>(&composed.into_data(), tol);
                // Training: every gradient.
                let grads = |y: Tensor<A, 5>| {
                    let grads = (y * upstream.clone()).sum().backward();
                    let mut all = vec![
                        x.grad(&grads).expect(&case).into_data(),
                        weight.grad(&grads).expect(&case).into_data(),
                    ];
                    all.extend(
                        bias.iter()
                            .map(|b| b.grad(&grads).expect(&case).into_data()),
                    );
                    all.extend(
                        residual
                            .iter()
                            .map(|r| r.grad(&grads).expect(&case).into_data()),
                    );
                    all
                };
                let fused = grads(super::super::conv3d_then(
                    x.clone(),
                    weight.clone(),
                    bias.clone(),
                    residual.clone(),
                    with_relu,
                    options.clone(),
                ));
                let mut y = burn::tensor::module::conv3d(
                    x.clone(),
                    weight.clone(),
                    bias.clone(),
                    options.clone(),
                );
                if let Some(r) = &residual {
                    y = y + r.clone();
                }
                if with_relu {
                    y = relu(y);
                }
                for (a, b) in fused.iter().zip(&grads(y)) {
                    a.assert_approx_eq::<f32>(b, tol);
                }
            }
        }
        // A residual that only broadcasts to the output takes Burn's ops, as it would alone.
        let (x, weight) = (random([1, 2, 1, 3, 3]), random([2, 2, 1, 1, 1]));
        let residual = random([1, 2, 1, 1, 1]);
        let options = ConvOptions::new([1; 3], [0; 3], [1; 3], 1);
        let fused = super::super::conv3d_then(
            x.clone(),
            weight.clone(),
            None,
            Some(residual.clone()),
            true,
            options.clone(),
        );
        let composed = relu(burn::tensor::module::conv3d(x, weight, None, options) + residual);
        fused
            .into_data()
            .assert_approx_eq::<f32>(&composed.into_data(), Tolerance::absolute(1e-6));
    }
}
