//! Tensor operations the networks need and Burn 0.21 lacks, generic over `B: Backend`: an
//! index. Each op is a module that owns its flex fast path as a child (`conv/flex/`,
//! `resize/flex.rs`, `roi_align/flex_pool.rs`, ...); `flex` and `host` hold what those share.
//!
//! Each op follows the semantics of its PyTorch / torchvision counterpart exactly; the parity
//! tests in `tests/ops_parity.rs` compare against fixtures written by `tests/reference/ops.py`.

pub mod boxes;
mod cat;
mod conv;
mod error;
#[cfg(feature = "flex")]
mod flex;
pub(crate) mod host;
pub mod nms;
mod norm;
pub mod pool3d;
pub mod resize;
pub mod roi_align;
pub mod upsample;

pub use boxes::{
    BoxCoder, box_area, box_iou, clip_box, clip_boxes_to_image, iou, remove_small_boxes,
};
pub use cat::cat_pair;
pub use conv::{conv2d, conv3d};
pub(crate) use conv::{conv2d_then, conv3d_then, residual_relu};
pub use error::OpError;
pub use nms::{batched_nms, nms};
pub(crate) use norm::{channel_affine, try_group_norm};
pub use pool3d::{Pool3dOptions, avg_pool3d, max_pool3d};
pub use resize::{BilinearGrid, resize_bilinear};
pub use roi_align::{roi_align, try_roi_align};
pub use upsample::{upsample_nearest, upsample_nearest_2x};
