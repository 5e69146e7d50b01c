//! Convolutions, 2-D and 3-D, with an optional residual and ReLU after them. On flex each
//! takes the fast path of its child module [`flex`] (direct kernels over few channels, one
//! matrix product per image for pointwise kernels, one per kernel tap otherwise); elsewhere
//! Burn's own.

#[cfg(feature = "flex")]
mod flex;

use burn::tensor::ops::ConvOptions;
use burn::tensor::{Tensor, backend::Backend};

/// A 3-D convolution (`burn::tensor::module::conv3d`). On flex, computed without im2col's
/// copies (direct kernels over few channels, one matrix product per image for pointwise
/// kernels, one per kernel tap otherwise) and under autodiff recorded as one op with both
/// gradients computed the same way; see `flex`.
pub fn conv3d<B: Backend>(
    x: Tensor<B, 5>,
    weight: Tensor<B, 5>,
    bias: Option<Tensor<B, 1>>,
    options: ConvOptions<3>,
) -> Tensor<B, 5> {
    conv3d_then(x, weight, bias, None, false, options)
}

/// `relu(conv3d(x, weight, bias) + residual)` where `relu`, the residual optional: on flex
/// the bias, the residual and the ReLU are applied inside the convolution op, in place in one
/// pass (and their gradients in one pass), rather than as three ops with their own outputs.
pub(crate) fn conv3d_then<B: Backend>(
    x: Tensor<B, 5>,
    weight: Tensor<B, 5>,
    bias: Option<Tensor<B, 1>>,
    residual: Option<Tensor<B, 5>>,
    relu: bool,
    options: ConvOptions<3>,
) -> Tensor<B, 5> {
    #[cfg(feature = "flex")]
    let x = match flex::try_conv3d(
        x,
        weight.clone(),
        bias.clone(),
        residual.clone(),
        relu,
        options.clone(),
    ) {
        Ok(out) => return out,
        Err(x) => x,
    };
    let y = burn::tensor::module::conv3d(x, weight, bias, options);
    residual_relu(y, residual, relu)
}

/// `relu(y + residual)` as Burn's ops, each part optional.
pub(crate) fn residual_relu<B: Backend, const D: usize>(
    y: Tensor<B, D>,
    residual: Option<Tensor<B, D>>,
    relu: bool,
) -> Tensor<B, D> {
    let y = match residual {
        Some(r) => y + r,
        None => y,
    };
    if relu {
        burn::tensor::activation::relu(y)
    } else {
        y
    }
}

/// A 2-D convolution, through the same routes as [`conv3d`] (over one frame).
pub fn conv2d<B: Backend>(
    x: Tensor<B, 4>,
    weight: Tensor<B, 4>,
    bias: Option<Tensor<B, 1>>,
    options: ConvOptions<2>,
) -> Tensor<B, 4> {
    conv2d_then(x, weight, bias, None, false, options)
}

/// `relu(conv2d(x, weight, bias) + residual)` where `relu`, as [`conv3d_then`].
pub(crate) fn conv2d_then<B: Backend>(
    x: Tensor<B, 4>,
    weight: Tensor<B, 4>,
    bias: Option<Tensor<B, 1>>,
    residual: Option<Tensor<B, 4>>,
    relu: bool,
    options: ConvOptions<2>,
) -> Tensor<B, 4> {
    #[cfg(feature = "flex")]
    let x = match flex::try_conv2d(
        x,
        weight.clone(),
        bias.clone(),
        residual.clone(),
        relu,
        options.clone(),
    ) {
        Ok(out) => return out,
        Err(x) => x,
    };
    let y = burn::tensor::module::conv2d(x, weight, bias, options);
    residual_relu(y, residual, relu)
}
