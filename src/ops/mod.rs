//! Tensor operations the networks need and Burn 0.21 lacks, generic over `B: Backend`.
//!
//! Each op follows the semantics of its PyTorch / torchvision counterpart exactly; the parity
//! tests in `tests/ops_parity.rs` compare against fixtures written by `tests/reference/ops.py`.

pub mod boxes;
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
