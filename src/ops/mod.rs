//! Tensor operations the networks need and Burn 0.21 lacks, generic over `B: Backend`.
//!
//! Each op follows the semantics of its PyTorch / torchvision counterpart exactly; the parity
//! tests in `tests/ops_parity.rs` compare against fixtures written by `tests/reference/ops.py`.

pub mod boxes;
mod error;
#[cfg(feature = "flex")]
mod flex;
#[cfg(feature = "flex")]
mod flex_cat;
#[cfg(feature = "flex")]
mod flex_conv;
#[cfg(feature = "flex")]
mod flex_norm;
#[cfg(feature = "flex")]
mod flex_resample;
pub(crate) mod host;
pub mod nms;
pub mod pool3d;
pub mod resize;
pub mod roi_align;
pub mod upsample;

pub use boxes::{
    BoxCoder, box_area, box_iou, clip_box, clip_boxes_to_image, iou, remove_small_boxes,
};
pub use error::OpError;
pub use nms::{batched_nms, nms};
pub use pool3d::{Pool3dOptions, avg_pool3d, max_pool3d};
pub use resize::{BilinearGrid, resize_bilinear};
pub use roi_align::{roi_align, try_roi_align};
pub use upsample::{upsample_nearest, upsample_nearest_2x};

use burn::tensor::ops::ConvOptions;
use burn::tensor::{Tensor, backend::Backend};

/// A 3-D convolution (`burn::tensor::module::conv3d`). On flex, computed without im2col's
/// copies (direct kernels over few channels, one matrix product per image for pointwise
/// kernels, one per kernel tap otherwise) and under autodiff recorded as one op with both
/// gradients computed the same way; see `flex_conv`.
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
    let x = match flex_conv::try_conv3d(
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

/// `Tensor::cat([a, b], dim)`, whose gradients on flex under autodiff are contiguous (Burn's
/// are strided slices, which the ops reading them walk element by element); see `flex_cat`.
pub fn cat_pair<B: Backend, const D: usize>(
    a: Tensor<B, D>,
    b: Tensor<B, D>,
    dim: usize,
) -> Tensor<B, D> {
    #[cfg(feature = "flex")]
    let (a, b) = match flex_cat::try_cat_pair(a, b, dim) {
        Ok(out) => return out,
        Err(pair) => pair,
    };
    Tensor::cat(vec![a, b], dim)
}

/// Group normalisation of `x` `[N, C, …]` by `groups` groups of channels with a per-channel
/// affine, fused on flex (two passes each way, one autodiff op), or `x` back on other
/// backends for the composition of tensor ops in `nn::Norm`.
pub(crate) fn try_group_norm<B: Backend, const D: usize>(
    x: Tensor<B, D>,
    groups: usize,
    weight: Tensor<B, 1>,
    bias: Tensor<B, 1>,
    eps: f64,
) -> Result<Tensor<B, D>, Tensor<B, D>> {
    #[cfg(feature = "flex")]
    return flex_norm::try_group_norm(x, groups, weight, bias, eps);
    #[cfg(not(feature = "flex"))]
    {
        let _ = (groups, weight, bias, eps);
        Err(x)
    }
}

/// `x + bias` per channel of `x: [N, C, ...]`, or `x · scale + shift` with a scale. Laid out as
/// `[N·C, rest]` rows with one value per row, the broadcast takes flex's contiguous fast path;
/// `[1, C, 1, …]` against a batch does not (it walks every element through a strided index,
/// 5× slower: 7 % of a detector training step for the convolutions' biases alone).
pub(crate) fn channel_affine<B: Backend, const D: usize>(
    x: Tensor<B, D>,
    scale: Option<Tensor<B, 1>>,
    shift: Tensor<B, 1>,
) -> Tensor<B, D> {
    let dims = x.dims();
    let (n, c) = (dims[0], dims[1]);
    let rest = dims[2..].iter().product::<usize>();
    let rows = |t: Tensor<B, 1>| t.reshape([1, c]).expand([n, c]).reshape([n * c, 1]);
    let x = x.reshape([n * c, rest]);
    let x = match scale {
        Some(scale) => x * rows(scale),
        None => x,
    };
    (x + rows(shift)).reshape(dims)
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
    let x = match flex_conv::try_conv2d(
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
