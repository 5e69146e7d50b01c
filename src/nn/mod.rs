//! Building blocks shared by the networks.

pub mod losses;
pub mod norm;
pub mod resnet;

pub use norm::{Norm, NormKind};
pub use resnet::{ResNet, ResNetConfig};
