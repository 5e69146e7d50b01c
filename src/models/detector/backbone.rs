//! ResNet/ResNeXt trunk plus FPN, as torchvision's `resnet_fpn_backbone` (all four stages).

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Tensor, backend::Backend};

use super::{Fpn, FpnConfig};
use crate::nn::{ResNet, ResNetConfig};

#[derive(Config, Debug)]
pub struct ResNetFpnConfig {
    pub body: ResNetConfig,
    #[config(default = 256)]
    pub out_channels: usize,
}

impl ResNetFpnConfig {
    pub fn init<B: Backend>(&self, device: &B::Device) -> ResNetFpn<B> {
        ResNetFpn {
            body: self.body.init(device),
            fpn: FpnConfig::new(self.body.stage_channels().to_vec())
                .with_out_channels(self.out_channels)
                .init(device),
        }
    }
}

#[derive(Module, Debug)]
pub struct ResNetFpn<B: Backend> {
    pub body: ResNet<B>,
    pub fpn: Fpn<B>,
}

impl<B: Backend> ResNetFpn<B> {
    /// Levels P2–P6 (strides 4–64) of `[N, 3, H, W]` normalised images.
    pub fn forward(&self, images: Tensor<B, 4>) -> Vec<Tensor<B, 4>> {
        self.fpn
            .forward(self.body.forward_features(images).to_vec())
    }
}
