//! The person detector: Faster R-CNN on a ResNet/ResNeXt-FPN backbone.

mod anchors;
mod backbone;
mod faster_rcnn;
mod fpn;
mod matcher;
mod roi_heads;
mod rpn;
mod spec;
mod training;
mod transform;

pub use anchors::AnchorGenerator;

/// Whose conventions a detector's weights were trained under. The weights' naming follows it
/// too (`weights::torchvision_faster_rcnn`; `weights::detectron2_faster_rcnn` for both
/// Detectrons, whose files the model_zoo converters give detectron2's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Convention {
    #[default]
    Torchvision,
    /// Anchors unrounded at fixed strides, RoIAlign `aligned=True` with adaptive sampling.
    Detectron2,
    /// Detectron (Caffe2), the FAIR AVA person detector's: the legacy "+1" pixel convention
    /// (a box `[x1, x2]` is `x2 - x1 + 1` wide) in anchors, box coding, clipping, NMS and
    /// the RoI level mapping; `generate_anchors`' rounded anchors at fixed strides; proposals
    /// clipped to the padded input; detections decoded in the original image's pixels;
    /// resized sizes rounded as `cv2.resize` does.
    Detectron1,
}

impl Convention {
    /// What a box's width adds to `x2 - x1`: 1 under Detectron's legacy convention.
    pub fn box_offset(self) -> f32 {
        match self {
            Self::Detectron1 => 1.0,
            Self::Torchvision | Self::Detectron2 => 0.0,
        }
    }
}
pub use backbone::{ResNetFpn, ResNetFpnConfig};
pub use faster_rcnn::{FasterRcnn, FasterRcnnConfig};
pub use fpn::{Fpn, FpnConfig};
pub use matcher::{BELOW_LOW, BETWEEN, Matcher};
pub use roi_heads::{BoxHead, BoxHeadConfig, DetectionConfig, Detections, MultiScaleRoiAlign};
pub use rpn::{ProposalConfig, Proposals, Rpn, RpnHead, RpnHeadConfig};
pub use spec::DetectorSpec;
pub use training::{BalancedSampler, DetectionTarget, DetectorLosses, DetectorTrainingConfig};
pub use transform::{ImageBatch, ImageTransformConfig, boxes_to_original, rgb_to_tensor};
