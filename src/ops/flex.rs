//! What the flex fast paths share (`conv/flex`, `norm/flex`, `cat/flex`, `resize/flex`, RoIAlign's
//! `flex_pool`): the backend is recognised at run time by `TypeId` and tensors are moved across
//! by `Any` downcasts (Rust has no specialisation), read as f32 slices and written back.

use std::any::{Any, TypeId};

use burn::backend::Autodiff;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::ops::{Backward, OpsKind};
use burn::backend::flex::{Flex, FlexTensor};
use burn::tensor::backend::Backend;
use burn::tensor::{DType, Tensor, TensorData, TensorPrimitive};

/// The training backend whose ops the flex routes record themselves.
pub(super) type FlexAutodiff = Autodiff<Flex>;

/// Moves a value to the type it is known (by the caller's `TypeId` checks) to have.
pub(super) fn cast<T: 'static, U: 'static>(value: T) -> U {
    *(Box::new(value) as Box<dyn Any>)
        .downcast::<U>()
        .expect("backend checked by TypeId")
}

/// A float tensor of [`FlexAutodiff`]: the flex tensor and its autodiff node.
pub(super) type AutodiffPrimitive =
    <FlexAutodiff as burn::tensor::backend::BackendTypes>::FloatTensorPrimitive;

/// A flex tensor's f32 elements in row-major order: borrowed when contiguous, else one copy.
pub(super) fn values(t: &FlexTensor) -> std::borrow::Cow<'_, [f32]> {
    match t.as_slice::<f32>() {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => std::borrow::Cow::Owned(
            t.to_contiguous()
                .into_data()
                .into_vec::<f32>()
                .expect("f32"),
        ),
    }
}

/// A flex tensor of `values` in row-major order.
pub(super) fn flex_tensor(values: Vec<f32>, shape: Vec<usize>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

/// Whether `B` is flex or flex under autodiff and `x` holds f32: where the flex routes apply.
pub(super) fn flex_f32<B: Backend, const D: usize>(x: &Tensor<B, D>) -> bool {
    let backend = TypeId::of::<B>();
    x.dtype() == DType::F32
        && (backend == TypeId::of::<Flex>() || backend == TypeId::of::<FlexAutodiff>())
}

/// A one-input op on `x` (checked by [`flex_f32`]): `forward` on flex, and under autodiff
/// the same recorded as `op`, whose backward receives `state`.
pub(super) fn unary_op<B: Backend, const D: usize, O: Backward<Flex, 1>>(
    x: Tensor<B, D>,
    op: O,
    state: O::State,
    forward: impl FnOnce(&FlexTensor, &O::State) -> FlexTensor,
) -> Tensor<B, D> {
    let x = x.into_primitive().tensor();
    let out: B::FloatTensorPrimitive = if TypeId::of::<B>() == TypeId::of::<Flex>() {
        cast(forward(&cast(x), &state))
    } else {
        let x: AutodiffPrimitive = cast(x);
        let prep = op
            .prepare::<NoCheckpointing>([x.node.clone()])
            .compute_bound()
            .stateful();
        let out = forward(&x.primitive, &state);
        cast(match prep {
            OpsKind::Tracked(prep) => prep.finish(state, out),
            OpsKind::UnTracked(prep) => prep.finish(out),
        })
    };
    Tensor::from_primitive(TensorPrimitive::Float(out))
}
