//! The person detector: Faster R-CNN on a ResNet/ResNeXt-FPN backbone.

mod anchors;
mod backbone;
mod faster_rcnn;
mod fpn;
mod matcher;
mod roi_heads;
mod rpn;
mod training;
mod transform;

pub use anchors::AnchorGenerator;

/// Whose conventions a detector's weights were trained under: torchvision's, or detectron2's
/// (anchors unrounded at fixed strides, RoIAlign `aligned=True` with adaptive sampling). The
/// weights' naming follows it too (`weights::torchvision_faster_rcnn`,
/// `weights::detectron2_faster_rcnn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Convention {
    #[default]
    Torchvision,
    Detectron2,
}
pub use backbone::{ResNetFpn, ResNetFpnConfig};
pub use faster_rcnn::{FasterRcnn, FasterRcnnConfig};
pub use fpn::{Fpn, FpnConfig};
pub use matcher::{BELOW_LOW, BETWEEN, Matcher};
pub use roi_heads::{BoxHead, BoxHeadConfig, DetectionConfig, Detections, MultiScaleRoiAlign};
pub use rpn::{ProposalConfig, Proposals, RpnHead, RpnHeadConfig};
pub use training::{BalancedSampler, DetectionTarget, DetectorLosses, DetectorTrainingConfig};
pub use transform::{ImageBatch, ImageTransformConfig, boxes_to_original, rgb_to_tensor};
