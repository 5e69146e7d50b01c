//! What the flex routes share (`flex_conv`, `flex_norm`, `flex_cat`, `flex_resample`, RoIAlign's
//! `flex_pool`): the backend is recognised at run time by `TypeId` and tensors are moved across
//! by `Any` downcasts (Rust has no specialisation), read as f32 slices and written back.

use std::any::Any;

use burn::backend::Autodiff;
use burn::backend::flex::{Flex, FlexTensor};
use burn::tensor::TensorData;

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
