//! Building blocks shared by the networks.

pub mod losses;
pub mod norm;
pub mod resnet;
mod resnet_spec;

pub use norm::{Norm, NormKind};
pub use resnet::{ResNet, ResNetConfig};
pub(crate) use resnet_spec::set;
pub use resnet_spec::{BackboneSpec, ResNetSpec};
