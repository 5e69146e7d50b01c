//! Tensor operations the networks need and Burn 0.21 lacks, generic over `B: Backend`.
//!
//! Each op follows the semantics of its PyTorch / torchvision counterpart exactly; the parity
//! tests in `tests/ops_parity.rs` compare against fixtures written by `tests/reference/ops.py`.

pub mod boxes;
#[cfg(feature = "flex")]
mod direct_conv3d;
mod error;
pub(crate) mod host;
pub mod nms;
pub mod pool3d;
pub mod roi_align;
pub mod upsample;

pub use boxes::{
    BoxCoder, box_area, box_iou, clip_box, clip_boxes_to_image, iou, remove_small_boxes,
};
pub use error::OpError;
pub use nms::{batched_nms, nms};
pub use pool3d::{Pool3dOptions, avg_pool3d, max_pool3d};
pub use roi_align::{roi_align, try_roi_align};
pub use upsample::{upsample_nearest, upsample_nearest_2x};

use burn::nn::conv::{Conv2d, Conv3d};
use burn::tensor::{Tensor, backend::Backend};

/// `conv.forward(x)`. On flex, under autodiff, recorded as one op whose weight gradient avoids
/// im2col's copies, and computed by direct kernels where `x` has few channels (the video
/// stems); see `direct_conv3d`.
pub fn conv3d<B: Backend>(conv: &Conv3d<B>, x: Tensor<B, 5>) -> Tensor<B, 5> {
    #[cfg(feature = "flex")]
    let x = match direct_conv3d::try_conv3d(conv, x) {
        Ok(out) => return out,
        Err(x) => x,
    };
    conv.forward(x)
}

/// `conv.forward(x)` for images, through the same routes as [`conv3d`] (over one frame): the
/// detector's stem and its stride-1 and pointwise convolutions train without im2col copies.
pub fn conv2d<B: Backend>(conv: &Conv2d<B>, x: Tensor<B, 4>) -> Tensor<B, 4> {
    #[cfg(feature = "flex")]
    let x = match direct_conv3d::try_conv2d(conv, x) {
        Ok(out) => return out,
        Err(x) => x,
    };
    conv.forward(x)
}
