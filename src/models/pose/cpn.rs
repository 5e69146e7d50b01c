//! The Cascaded Pyramid Network: a ResNet trunk, GlobalNet and RefineNet.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Tensor, backend::Backend};
use serde::{Deserialize, Serialize};

use super::{GlobalNet, RefineNet};
use crate::nn::{Conv2d, Norm, ResNet, ResNetConfig, he_conv2d};
use crate::ops::BilinearGrid;

/// Whose implementation a CPN's weights come from. Where the two differ, tf-cpn (the authors'
/// re-implementation, whose checkpoints are the published ones) is the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CpnConvention {
    /// chenyilun95/tf-cpn: TensorFlow 1's resize grid, a biased merge convolution without a
    /// norm, identity shortcuts in the cascade, concatenation C2..C5, batch-norm epsilon 1e-9.
    #[default]
    TfCpn,
    /// GengDavid/pytorch-cpn: `align_corners=True`, merge convolution with a norm, projection
    /// shortcuts everywhere in RefineNet, concatenation C5..C2, epsilon 1e-5.
    PytorchCpn,
}

impl CpnConvention {
    pub fn grid(self) -> BilinearGrid {
        match self {
            Self::TfCpn => BilinearGrid::TfLegacy,
            Self::PytorchCpn => BilinearGrid::AlignCorners,
        }
    }

    /// Batch-norm epsilon (tf-cpn's `resnet_arg_scope`: 1e-9; PyTorch's default: 1e-5).
    pub fn norm_eps(self) -> f64 {
        match self {
            Self::TfCpn => 1e-9,
            Self::PytorchCpn => 1e-5,
        }
    }
}

#[derive(Config, Debug)]
pub struct CpnConfig {
    /// The ResNet trunk (its `norm` is every head's too; `norm_eps` is set from the
    /// convention by [`CpnConfig::new_for`]).
    pub trunk: ResNetConfig,
    /// Input crop `[height, width]` (256×192 or 384×288); heatmaps are a quarter of it.
    #[config(default = "[256, 192]")]
    pub input_hw: [usize; 2],
    #[config(default = 17)]
    pub keypoints: usize,
    /// Width of GlobalNet's maps and of RefineNet's blocks (256).
    #[config(default = 256)]
    pub channels: usize,
    /// Inner width of RefineNet's bottlenecks (128).
    #[config(default = 128)]
    pub refine_width: usize,
    #[config(default = "CpnConvention::TfCpn")]
    pub convention: CpnConvention,
}

/// Heatmaps are at stride 4 of the input crop.
pub const HEATMAP_STRIDE: usize = 4;

impl CpnConfig {
    /// A configuration whose trunk uses the convention's norm epsilon.
    pub fn new_for(trunk: ResNetConfig, convention: CpnConvention) -> Self {
        Self::new(trunk.with_norm_eps(convention.norm_eps())).with_convention(convention)
    }

    pub fn output_hw(&self) -> [usize; 2] {
        self.input_hw.map(|s| s / HEATMAP_STRIDE)
    }

    pub fn norm_eps(&self) -> f64 {
        self.trunk.norm_eps
    }

    pub fn init<B: Backend>(&self, device: &B::Device) -> Cpn<B> {
        Cpn {
            trunk: self.trunk.clone().with_num_classes(None).init(device),
            global_net: GlobalNet::new(self, device),
            refine_net: RefineNet::new(self, device),
        }
    }
}

#[derive(Module, Debug)]
pub struct Cpn<B: Backend> {
    pub trunk: ResNet<B>,
    pub global_net: GlobalNet<B>,
    pub refine_net: RefineNet<B>,
}

/// What a CPN predicts for `[N, 3, H, W]` crops: heatmaps `[N, K, H / 4, W / 4]`.
#[derive(Debug, Clone)]
pub struct CpnOutput<B: Backend> {
    /// GlobalNet's per-level heatmaps, coarsest (C5) first.
    pub global: Vec<Tensor<B, 4>>,
    pub refine: Tensor<B, 4>,
}

impl<B: Backend> Cpn<B> {
    /// `crops`: normalised RGB `[N, 3, H, W]`.
    pub fn forward(&self, crops: Tensor<B, 4>) -> CpnOutput<B> {
        let stages = self.trunk.forward_features(crops);
        let (merged, global) = self.global_net.forward(stages);
        CpnOutput {
            global,
            refine: self.refine_net.forward(merged),
        }
    }
}

/// A convolution followed by an optional norm (pytorch-cpn's `Sequential(conv, bn)`).
#[derive(Module, Debug)]
pub struct ConvNorm<B: Backend> {
    pub conv: Conv2d<B>,
    pub norm: Option<Norm<B>>,
}

impl<B: Backend> ConvNorm<B> {
    /// A bias-free `k × k` convolution (`in → out`) and the trunk's kind of norm.
    pub fn normed(
        (in_channels, out_channels, kernel): (usize, usize, usize),
        config: &CpnConfig,
        device: &B::Device,
    ) -> Self {
        Self {
            conv: he_conv2d(in_channels, out_channels, kernel, 1, 1, false, device),
            norm: Some(Norm::new(
                out_channels,
                config.trunk.norm,
                config.norm_eps(),
                device,
            )),
        }
    }

    /// A convolution with a bias and no norm (tf-cpn's merge).
    pub fn biased(
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        device: &B::Device,
    ) -> Self {
        Self {
            conv: he_conv2d(in_channels, out_channels, kernel, 1, 1, true, device),
            norm: None,
        }
    }

    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let x = self.conv.forward(x);
        match &self.norm {
            Some(norm) => norm.forward(x),
            None => x,
        }
    }
}
