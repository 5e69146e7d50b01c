//! Building blocks shared by the networks.

mod conv;
pub mod losses;
pub mod norm;
pub mod resnet;
mod resnet_spec;

pub use conv::{Conv2d, Conv3d};
pub use norm::{Norm, NormKind};
pub use resnet::{ResNet, ResNetConfig};
pub(crate) use resnet_spec::set;
pub use resnet_spec::{BackboneSpec, ResNetSpec};
