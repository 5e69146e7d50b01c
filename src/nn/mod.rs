//! Building blocks shared by the networks.

mod conv;
pub mod losses;
pub mod norm;
pub mod resnet;
mod resnet_spec;

pub(crate) use conv::he_conv2d;
pub use conv::{Conv2d, Conv3d};

use burn::module::Param;
use burn::tensor::{Tensor, backend::Backend};

/// The parameter set to zero and exactly as trainable as before. (`Param::map` takes the flag
/// from the tensor it is given, and a fresh `zeros_like` requires no gradient: mapped so, a
/// zero-initialised layer of a model built for training would stay frozen at zero.)
pub(crate) fn zeroed<B: Backend, const D: usize>(
    param: Param<Tensor<B, D>>,
) -> Param<Tensor<B, D>> {
    param.map(|t| {
        let trainable = t.is_require_grad();
        t.zeros_like().set_require_grad(trainable)
    })
}
pub use norm::{Norm, NormKind};
pub use resnet::{Bottleneck, BottleneckShape, ResNet, ResNetConfig};
pub(crate) use resnet_spec::set;
pub use resnet_spec::{BackboneSpec, ResNetSpec};
