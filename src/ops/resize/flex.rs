//! Resampling along one axis on flex, recorded under autodiff as one op (see
//! [`super::resample`]). Composed of Burn's ops it is two `select`s and a lerp,
//! whose backward scatters through `select_add` element by element along strided indices: 11 %
//! of a CPN training step.
//!
//! Output position `j` of the axis reads input positions `lower_j` and `upper_j`:
//! `y_j = x_lower + (x_upper − x_lower)·w_j` (the composed ops' arithmetic, so both routes give
//! the same values), a copy where `lower_j = upper_j`; backward, `dx_lower += dy − dy·w_j` and
//! `dx_upper += dy·w_j`.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops};
use burn::backend::flex::{Flex, FlexTensor};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use rayon::prelude::*;

use super::Tap;
use crate::ops::flex::{flex_f32, flex_tensor, unary_op, values};

/// `x` resampled along `dim` by `taps` on flex (or flex under autodiff), or `x` back elsewhere.
pub(super) fn try_resample<B: Backend, const D: usize>(
    x: Tensor<B, D>,
    dim: usize,
    taps: &[Tap],
) -> Result<Tensor<B, D>, Tensor<B, D>> {
    let input = x.dims()[dim];
    // Anything else (other dtypes, taps out of range) takes the composed ops and their checks.
    if !flex_f32(&x)
        || x.dims().contains(&0)
        || taps.is_empty()
        || taps.iter().any(|t| t.lower >= input || t.upper >= input)
    {
        return Err(x);
    }
    let axis = Axis::new(&x.dims(), dim, taps);
    Ok(unary_op(x, Resample, axis, forward))
}

/// A tensor seen as `[outer, axis, inner]` and the taps of its resampled axis.
#[derive(Debug, Clone)]
struct Axis {
    shape: Vec<usize>,
    dim: usize,
    inner: usize,
    taps: Vec<Tap>,
}

impl Axis {
    fn new(shape: &[usize], dim: usize, taps: &[Tap]) -> Self {
        Self {
            shape: shape.to_vec(),
            dim,
            inner: shape[dim + 1..].iter().product(),
            taps: taps.to_vec(),
        }
    }

    /// Elements of one outer block of the input.
    fn block_in(&self) -> usize {
        self.shape[self.dim] * self.inner
    }

    /// Elements of one outer block of the output.
    fn block_out(&self) -> usize {
        self.taps.len() * self.inner
    }

    fn output_shape(&self) -> Vec<usize> {
        let mut shape = self.shape.clone();
        shape[self.dim] = self.taps.len();
        shape
    }
}

fn forward(x: &FlexTensor, axis: &Axis) -> FlexTensor {
    let x = values(x);
    let (inner, block_in, block_out) = (axis.inner, axis.block_in(), axis.block_out());
    let mut out = vec![0.0f32; x.len() / block_in * block_out];
    out.par_chunks_mut(block_out)
        .zip(x.par_chunks(block_in))
        .for_each(|(dst, src)| {
            for (dst, tap) in dst.chunks_exact_mut(inner).zip(&axis.taps) {
                let lower = &src[tap.lower * inner..][..inner];
                if tap.lower == tap.upper {
                    dst.copy_from_slice(lower);
                    continue;
                }
                let upper = &src[tap.upper * inner..][..inner];
                for ((d, &lo), &up) in dst.iter_mut().zip(lower).zip(upper) {
                    *d = lo + (up - lo) * tap.weight;
                }
            }
        });
    flex_tensor(out, axis.output_shape())
}

#[derive(Debug)]
struct Resample;

impl Backward<Flex, 1> for Resample {
    type State = Axis;

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let [node] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);
        let Some(node) = node else {
            return;
        };
        let axis = ops.state;
        let dy = values(&grad);
        let (inner, block_in, block_out) = (axis.inner, axis.block_in(), axis.block_out());
        let mut dx = vec![0.0f32; dy.len() / block_out * block_in];
        dx.par_chunks_mut(block_in)
            .zip(dy.par_chunks(block_out))
            .for_each(|(dst, src)| {
                for (src, tap) in src.chunks_exact(inner).zip(&axis.taps) {
                    let lower = &mut dst[tap.lower * inner..][..inner];
                    if tap.lower == tap.upper {
                        for (d, &g) in lower.iter_mut().zip(src) {
                            *d += g;
                        }
                        continue;
                    }
                    for (d, &g) in lower.iter_mut().zip(src) {
                        *d += g - g * tap.weight;
                    }
                    let upper = &mut dst[tap.upper * inner..][..inner];
                    for (d, &g) in upper.iter_mut().zip(src) {
                        *d += g * tap.weight;
                    }
                }
            });
        grads.register::<Flex>(node.id, flex_tensor(dx, axis.shape));
    }
}
