//! Building blocks shared by the networks.

mod conv;
pub mod losses;
pub mod norm;
pub mod resnet;
mod resnet_spec;

pub(crate) use conv::he_conv2d;
pub use conv::{Conv2d, Conv3d};

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Tensor, backend::Backend};

/// The parameters of `module`, counted from their shapes without initialising lazy ones: a
/// configuration's sizes can be checked before anything is allocated (Burn's `num_params`
/// initialises every parameter it counts).
pub fn lazy_num_params<B: Backend, M: Module<B>>(module: &M) -> u64 {
    struct Count(u64);
    impl<B: Backend> ModuleVisitor<B> for Count {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            self.0 += param.lazy_shape().num_elements() as u64;
        }
    }
    let mut count = Count(0);
    module.visit(&mut count);
    count.0
}

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
