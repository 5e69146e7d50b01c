//! The person detector: Faster R-CNN on a ResNet/ResNeXt-FPN backbone.

mod backbone;
mod fpn;

pub use backbone::{ResNetFpn, ResNetFpnConfig};
pub use fpn::{Fpn, FpnConfig};
