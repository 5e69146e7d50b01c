//! Building blocks shared by the networks.

pub mod frozen_batch_norm;
pub mod losses;
pub mod resnet;

pub use frozen_batch_norm::FrozenBatchNorm2d;
pub use resnet::{ResNet, ResNetConfig};
