//! Group normalisation on flex in two passes forward and two backward, recorded under
//! autodiff as one op (see [`super::try_group_norm`]). Composed of Burn's tensor ops it takes
//! nine passes forward, each allocating, and about twice as many backward, where every
//! broadcast is reduced back.
//!
//! With `x̂ = (x − μ)·r` over each (image, group), `r = 1/√(σ² + ε)`, and `y = x̂·w_c + b_c`:
//! - `db_c = Σ dy`, `dw_c = Σ dy·x̂` over images and positions;
//! - `dx = r·(w_c·dy − mean(w·dy) − x̂·mean(w·dy·x̂))`, the means over the group.

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::{Flex, FlexTensor};
use burn::tensor::backend::Backend;
use burn::tensor::{DType, Tensor, TensorPrimitive};
use rayon::prelude::*;
use std::any::TypeId;

use crate::ops::flex::{AutodiffPrimitive, FlexAutodiff, cast, flex_tensor, values};

/// Partial sums kept per lane, so that the loops vectorise.
const LANES: usize = 16;

/// Elements summed in f32 before the running sum in f64, so that long sums stay accurate.
const BLOCK: usize = 1024;

/// `[N, C, rest]` split into `groups` groups of channels.
#[derive(Debug, Clone, Copy)]
struct Layout {
    channels: usize,
    groups: usize,
    /// Elements per channel of one image.
    rest: usize,
}

impl Layout {
    fn per_group(&self) -> usize {
        self.channels / self.groups
    }

    /// Elements of one (image, group).
    fn chunk(&self) -> usize {
        self.per_group() * self.rest
    }
}

/// Per (image, group): the mean and `1/√(σ² + ε)`.
#[derive(Debug, Clone)]
struct Stats {
    layout: Layout,
    mean: Vec<f32>,
    rstd: Vec<f32>,
}

/// Group norm of `x` `[N, C, …]` on flex (or on flex under autodiff), or `x` back elsewhere.
pub(super) fn try_group_norm<B: Backend, const D: usize>(
    x: Tensor<B, D>,
    groups: usize,
    weight: Tensor<B, 1>,
    bias: Tensor<B, 1>,
    eps: f64,
) -> Result<Tensor<B, D>, Tensor<B, D>> {
    let backend = TypeId::of::<B>();
    let inference = backend == TypeId::of::<Flex>();
    let dims = x.dims();
    let f32s = [x.dtype(), weight.dtype(), bias.dtype()] == [DType::F32; 3];
    // Anything else (mismatched affine, empty tensors) takes the composed ops and their checks.
    if !f32s
        || !(inference || backend == TypeId::of::<FlexAutodiff>())
        || groups == 0
        || !dims[1].is_multiple_of(groups)
        || weight.dims() != [dims[1]]
        || bias.dims() != [dims[1]]
        || dims.contains(&0)
    {
        return Err(x);
    }
    let layout = Layout {
        channels: dims[1],
        groups,
        rest: dims[2..].iter().product(),
    };
    let [x, weight, bias] = [
        x.into_primitive().tensor(),
        weight.into_primitive().tensor(),
        bias.into_primitive().tensor(),
    ];
    let out: B::FloatTensorPrimitive = if inference {
        let (y, _) = forward(&cast(x), &cast(weight), &cast(bias), layout, eps);
        cast(y)
    } else {
        cast(autodiff_forward(
            cast(x),
            cast(weight),
            cast(bias),
            layout,
            eps,
        ))
    };
    Ok(Tensor::from_primitive(TensorPrimitive::Float(out)))
}

fn autodiff_forward(
    x: AutodiffPrimitive,
    weight: AutodiffPrimitive,
    bias: AutodiffPrimitive,
    layout: Layout,
    eps: f64,
) -> AutodiffPrimitive {
    let prep = FusedGroupNorm
        .prepare::<NoCheckpointing>([x.node.clone(), weight.node.clone(), bias.node.clone()])
        .compute_bound()
        .stateful();
    let (y, stats) = forward(
        &x.primitive,
        &weight.primitive,
        &bias.primitive,
        layout,
        eps,
    );
    match prep {
        OpsKind::Tracked(mut prep) => {
            let x_state = prep.checkpoint(&x);
            let weight_state = prep.checkpoint(&weight);
            prep.finish((x_state, weight_state, stats), y)
        }
        OpsKind::UnTracked(prep) => prep.finish(y),
    }
}

#[derive(Debug)]
struct FusedGroupNorm;

impl Backward<Flex, 3> for FusedGroupNorm {
    type State = (NodeId, NodeId, Stats);

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_weight, node_bias] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);
        let (x_state, weight_state, stats) = ops.state;
        let x = checkpointer.retrieve_node_output::<FlexTensor>(x_state);
        let weight = checkpointer.retrieve_node_output::<FlexTensor>(weight_state);
        let (x, weight, dy) = (values(&x), values(&weight), values(&grad));
        let sums = channel_sums(&x, &dy, &stats);
        if let Some(node) = node_x {
            let dx = input_grad(&x, &weight, &dy, &stats, &sums);
            grads.register::<Flex>(node.id, flex_tensor(dx, grad.layout().shape().to_vec()));
        }
        let c = vec![stats.layout.channels];
        let (dw, db) = affine_grads(&stats, &sums);
        if let Some(node) = node_weight {
            grads.register::<Flex>(node.id, flex_tensor(dw, c.clone()));
        }
        if let Some(node) = node_bias {
            grads.register::<Flex>(node.id, flex_tensor(db, c));
        }
    }
}

/// `y = (x − μ)·r·w_c + b_c`, and the statistics.
fn forward(
    x: &FlexTensor,
    weight: &FlexTensor,
    bias: &FlexTensor,
    layout: Layout,
    eps: f64,
) -> (FlexTensor, Stats) {
    let shape = x.layout().shape().to_vec();
    let (x, weight, bias) = (values(x), values(weight), values(bias));
    let (rest, per_group) = (layout.rest, layout.per_group());
    let mut y = vec![0.0f32; x.len()];
    let stats: Vec<(f32, f32)> = y
        .par_chunks_mut(layout.chunk())
        .zip(x.par_chunks(layout.chunk()))
        .enumerate()
        .map(|(i, (y, x))| {
            let len = x.len() as f64;
            let mean = sum(x, |v| v) / len;
            let var = sum(x, |v| (v - mean as f32) * (v - mean as f32)) / len;
            let rstd = 1.0 / (var + eps).sqrt();
            let first = (i % layout.groups) * per_group;
            for (c, (y, x)) in y
                .chunks_exact_mut(rest)
                .zip(x.chunks_exact(rest))
                .enumerate()
            {
                let scale = rstd * weight[first + c] as f64;
                let shift = bias[first + c] as f64 - mean * scale;
                let (scale, shift) = (scale as f32, shift as f32);
                for (y, &x) in y.iter_mut().zip(x) {
                    *y = x * scale + shift;
                }
            }
            (mean as f32, rstd as f32)
        })
        .collect();
    let (mean, rstd) = stats.into_iter().unzip();
    let stats = Stats { layout, mean, rstd };
    (flex_tensor(y, shape), stats)
}

/// Per (image, group), per channel of the group: `Σ dy` and `Σ dy·x̂` (centred before the
/// product, which stays accurate where `|μ| ≫ σ`).
struct ChannelSums {
    db: Vec<f64>,
    dw: Vec<f64>,
}

fn channel_sums(x: &[f32], dy: &[f32], stats: &Stats) -> Vec<ChannelSums> {
    let rest = stats.layout.rest;
    x.par_chunks(stats.layout.chunk())
        .zip(dy.par_chunks(stats.layout.chunk()))
        .enumerate()
        .map(|(i, (x, dy))| {
            let (mean, rstd) = (stats.mean[i] as f64, stats.rstd[i] as f64);
            let (db, dw) = x
                .chunks_exact(rest)
                .zip(dy.chunks_exact(rest))
                .map(|(x, dy)| {
                    let centred = dot(dy, x, |dy, x| dy * (x - mean as f32));
                    (sum(dy, |v| v), rstd * centred)
                })
                .unzip();
            ChannelSums { db, dw }
        })
        .collect()
}

/// The weight's and the bias's gradients: the per-image sums added up per channel.
fn affine_grads(stats: &Stats, sums: &[ChannelSums]) -> (Vec<f32>, Vec<f32>) {
    let (groups, per_group) = (stats.layout.groups, stats.layout.per_group());
    let total = |part: fn(&ChannelSums) -> &Vec<f64>| -> Vec<f32> {
        (0..stats.layout.channels)
            .map(|c| {
                let (g, k) = (c / per_group, c % per_group);
                sums.iter()
                    .skip(g)
                    .step_by(groups)
                    .map(|s| part(s)[k])
                    .sum::<f64>() as f32
            })
            .collect()
    };
    (total(|s| &s.dw), total(|s| &s.db))
}

/// `dx = r·w_c·dy − r²·m₂·x + r·(μ·r·m₂ − m₁)`, with `m₁ = mean(w·dy)` and
/// `m₂ = mean(w·dy·x̂)` over the (image, group).
fn input_grad(
    x: &[f32],
    weight: &[f32],
    dy: &[f32],
    stats: &Stats,
    sums: &[ChannelSums],
) -> Vec<f32> {
    let layout = stats.layout;
    let (rest, per_group) = (layout.rest, layout.per_group());
    let mut dx = vec![0.0f32; x.len()];
    dx.par_chunks_mut(layout.chunk())
        .zip(
            x.par_chunks(layout.chunk())
                .zip(dy.par_chunks(layout.chunk())),
        )
        .enumerate()
        .for_each(|(i, (dx, (x, dy)))| {
            let (mean, rstd) = (stats.mean[i] as f64, stats.rstd[i] as f64);
            let group = (i % layout.groups) * per_group..(i % layout.groups + 1) * per_group;
            let len = layout.chunk() as f64;
            let w = |c: usize| weight[c] as f64;
            let weighted =
                |part: &[f64]| group.clone().zip(part).map(|(c, s)| w(c) * s).sum::<f64>();
            let (m1, m2) = (weighted(&sums[i].db) / len, weighted(&sums[i].dw) / len);
            let slope = (-rstd * rstd * m2) as f32;
            let offset = (rstd * (mean * rstd * m2 - m1)) as f32;
            let rows = dx
                .chunks_exact_mut(rest)
                .zip(x.chunks_exact(rest).zip(dy.chunks_exact(rest)));
            for (c, (dx, (x, dy))) in group.zip(rows) {
                let scale = (rstd * w(c)) as f32;
                for (dx, (&x, &dy)) in dx.iter_mut().zip(x.iter().zip(dy)) {
                    *dx = scale * dy + slope * x + offset;
                }
            }
        });
    dx
}

/// `Σ f(v)`: [`LANES`] partial sums in f32 over blocks of [`BLOCK`], the blocks' in f64.
#[inline(always)]
fn sum(values: &[f32], f: impl Fn(f32) -> f32) -> f64 {
    values
        .chunks(BLOCK)
        .map(|block| {
            let mut lanes = [0.0f32; LANES];
            let chunks = block.chunks_exact(LANES);
            let tail: f32 = chunks.remainder().iter().map(|&v| f(v)).sum();
            for chunk in chunks {
                for (acc, &v) in lanes.iter_mut().zip(chunk) {
                    *acc += f(v);
                }
            }
            (lanes.iter().sum::<f32>() + tail) as f64
        })
        .sum()
}

/// `Σ f(a, b)`, summed as [`sum`].
#[inline(always)]
fn dot(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) -> f64 {
    a.chunks(BLOCK)
        .zip(b.chunks(BLOCK))
        .map(|(a, b)| {
            let mut lanes = [0.0f32; LANES];
            let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
            let tail: f32 = (ca.remainder().iter().zip(cb.remainder()))
                .map(|(&x, &y)| f(x, y))
                .sum();
            for (x, y) in ca.zip(cb) {
                for ((acc, &x), &y) in lanes.iter_mut().zip(x).zip(y) {
                    *acc += f(x, y);
                }
            }
            (lanes.iter().sum::<f32>() + tail) as f64
        })
        .sum()
}
