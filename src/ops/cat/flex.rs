//! Concatenation of two tensors under autodiff on flex with contiguous gradients (see
//! [`super::cat_pair`]). Burn's `cat` hands each input a strided slice of the output's
//! gradient; with a batch of several clips, a slice along the channels is not contiguous, and
//! every flex op that then reads it (the ReLU's backward before a SlowFast fusion, a sum of
//! gradients) walks it element by element through a strided index.

use std::any::TypeId;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::Flex;
use burn::tensor::backend::Backend;
use burn::tensor::ops::FloatTensorOps;
use burn::tensor::{DType, Tensor, TensorPrimitive};
use rayon::prelude::*;

use crate::ops::flex::{AutodiffPrimitive, FlexAutodiff, cast, flex_tensor, values};

/// `cat([a, b], dim)` on flex under autodiff, or `(a, b)` back elsewhere.
pub(super) fn try_cat_pair<B: Backend, const D: usize>(
    a: Tensor<B, D>,
    b: Tensor<B, D>,
    dim: usize,
) -> Result<Tensor<B, D>, (Tensor<B, D>, Tensor<B, D>)> {
    // Other backends, dtypes and a `dim` out of range take `Tensor::cat` and its checks.
    if TypeId::of::<B>() != TypeId::of::<FlexAutodiff>()
        || dim >= D
        || a.dtype() != DType::F32
        || b.dtype() != DType::F32
    {
        return Err((a, b));
    }
    let (a, b): (AutodiffPrimitive, AutodiffPrimitive) = (
        cast(a.into_primitive().tensor()),
        cast(b.into_primitive().tensor()),
    );
    let split = a.primitive.layout().shape()[dim];
    let prep = CatPair
        .prepare::<NoCheckpointing>([a.node.clone(), b.node.clone()])
        .compute_bound()
        .stateful();
    let out = <Flex as FloatTensorOps<Flex>>::float_cat(vec![a.primitive, b.primitive], dim);
    let out = match prep {
        OpsKind::Tracked(prep) => prep.finish((split, dim), out),
        OpsKind::UnTracked(prep) => prep.finish(out),
    };
    let out: B::FloatTensorPrimitive = cast(out);
    Ok(Tensor::from_primitive(TensorPrimitive::Float(out)))
}

#[derive(Debug)]
struct CatPair;

impl Backward<Flex, 2> for CatPair {
    /// The first input's size along the axis, and the axis.
    type State = (usize, usize);

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let [node_a, node_b] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);
        let (split, dim) = ops.state;
        let shape = grad.layout().shape().to_vec();
        let (outer, inner) = (
            shape[..dim].iter().product::<usize>(),
            shape[dim + 1..].iter().product::<usize>(),
        );
        let dy = values(&grad);
        // Each input's part of every outer row, copied out contiguously.
        let part = |range: std::ops::Range<usize>| {
            let (len, row) = (range.len() * inner, shape[dim] * inner);
            let mut out = vec![0.0f32; outer * len];
            out.par_chunks_mut(len.max(1))
                .zip(dy.par_chunks(row.max(1)))
                .for_each(|(dst, src)| dst.copy_from_slice(&src[range.start * inner..][..len]));
            let mut dims = shape.clone();
            dims[dim] = range.len();
            flex_tensor(out, dims)
        };
        if let Some(node) = node_a {
            grads.register::<Flex>(node.id, part(0..split));
        }
        if let Some(node) = node_b {
            grads.register::<Flex>(node.id, part(split..shape[dim]));
        }
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Tensor, TensorData};

    use super::FlexAutodiff as B;

    /// `Σ cat(a, b)·c`: the output is the two inputs side by side, and each input's gradient
    /// is its part of `c`, on every axis of a batch of two.
    #[test]
    fn a_pair_concatenates_and_each_input_gets_its_part_of_the_gradient() {
        let device = Default::default();
        let ramp = |shape: [usize; 3], scale: f32| {
            let n = shape.iter().product();
            let v = (0..n).map(|i| (i as f32 * scale).sin()).collect::<Vec<_>>();
            Tensor::<B, 3>::from_data(TensorData::new(v, shape), &device).require_grad()
        };
        for dim in 0..3 {
            let (mut sa, mut sb) = ([2, 3, 5], [2, 3, 5]);
            (sa[dim], sb[dim]) = (2, 3);
            let (a, b) = (ramp(sa, 0.3), ramp(sb, 0.7));
            let mut sc = sa;
            sc[dim] = 5;
            let c = ramp(sc, 1.1).detach();
            let out = crate::ops::cat_pair(a.clone(), b.clone(), dim);
            out.clone().inner().into_data().assert_eq(
                &Tensor::cat(vec![a.clone(), b.clone()], dim)
                    .inner()
                    .into_data(),
                true,
            );
            let grads = (out * c.clone()).sum().backward();
            let want = c.inner().split_with_sizes(vec![2, 3], dim);
            a.grad(&grads)
                .unwrap()
                .into_data()
                .assert_eq(&want[0].to_data(), true);
            b.grad(&grads)
                .unwrap()
                .into_data()
                .assert_eq(&want[1].to_data(), true);
        }
    }
}
