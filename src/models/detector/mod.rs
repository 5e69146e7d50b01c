//! The person detector: Faster R-CNN on a ResNet/ResNeXt-FPN backbone.

mod anchors;
mod backbone;
mod fpn;
mod rpn;

pub use anchors::AnchorGenerator;
pub use backbone::{ResNetFpn, ResNetFpnConfig};
pub use fpn::{Fpn, FpnConfig};
pub use rpn::{ProposalConfig, Proposals, RpnHead, RpnHeadConfig};
