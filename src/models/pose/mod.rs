//! Pose: CPN (Cascaded Pyramid Network), 17 COCO keypoints per person crop.
//!
//! Follows the authors' re-implementation, chenyilun95/tf-cpn
//! (`models/COCO.res50.256x192.CPN/network.py`), and its PyTorch port GengDavid/pytorch-cpn
//! (`networks/{network,globalNet,refineNet}.py`), whose weights' names [`crate::weights::pytorch_cpn`]
//! maps; [`CpnConvention`] lists where the two differ.

mod cpn;
mod crop;
mod decode;
mod gaussian;
mod global_net;
mod loss;
mod refine_net;
mod spec;

pub use cpn::{ConvNorm, Cpn, CpnConfig, CpnConvention, CpnOutput, HEATMAP_STRIDE};
pub use crop::{CROP_BORDER_XY, CropBox, crop_person};
pub use decode::{PersonPose, decode_heatmaps, merge_flipped};
pub use global_net::{GlobalNet, PredictHead};
pub use loss::{CpnLoss, CpnTargets, HARD_KEYPOINTS, cpn_loss, keypoint_heatmaps};
pub use refine_net::RefineNet;
pub use spec::PoseSpec;

/// COCO-17's keypoint names, in order.
pub const COCO_KEYPOINTS: [&str; 17] = [
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
];

/// The left/right pairs a horizontal flip swaps (tf-cpn's `symmetry`).
pub const COCO_FLIP_PAIRS: [(usize, usize); 8] = [
    (1, 2),
    (3, 4),
    (5, 6),
    (7, 8),
    (9, 10),
    (11, 12),
    (13, 14),
    (15, 16),
];
