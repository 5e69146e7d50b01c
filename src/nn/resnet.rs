//! ResNet / ResNeXt 2-D trunk with bottleneck blocks, as torchvision's `resnet50`,
//! `resnet101`, `resnext101_32x8d`: stride on the 3×3 convolution, frozen batch norm.
//! Field names follow torchvision's so its checkpoints map with two renames
//! ([`crate::weights::torchvision_resnet`]).

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Tensor, backend::Backend, module::max_pool2d};

use super::conv::he_conv2d;
use super::{Conv2d, Norm, NormKind};

/// Bottleneck output channels are `planes * EXPANSION`.
const EXPANSION: usize = 4;

#[derive(Config, Debug)]
pub struct ResNetConfig {
    /// Bottleneck blocks per stage: `[3, 4, 6, 3]` for depth 50, `[3, 4, 23, 3]` for 101.
    pub blocks: [usize; 4],
    /// Groups of the 3×3 convolutions (32 for ResNeXt 32×8d).
    #[config(default = 1)]
    pub groups: usize,
    /// Channels per group at the first stage (8 for ResNeXt 32×8d).
    #[config(default = 64)]
    pub width_per_group: usize,
    /// Normalisation after every convolution (frozen batch norm for pretrained weights).
    #[config(default = "NormKind::FrozenBn")]
    pub norm: NormKind,
    /// The norms' epsilon (PyTorch's 1e-5; tf-cpn's batch norm: 1e-9).
    #[config(default = 1e-5)]
    pub norm_eps: f64,
    /// Channels of the stem; stage `i` has `base_channels * 2^i` planes (64 in torchvision).
    #[config(default = 64)]
    pub base_channels: usize,
    /// Classes of the classification head (`fc`); `None` for a backbone without one.
    #[config(default = "None")]
    pub num_classes: Option<usize>,
}

impl ResNetConfig {
    /// Blocks per stage for torchvision's depths.
    pub fn blocks_for_depth(depth: usize) -> Option<[usize; 4]> {
        match depth {
            50 => Some([3, 4, 6, 3]),
            101 => Some([3, 4, 23, 3]),
            152 => Some([3, 8, 36, 3]),
            _ => None,
        }
    }

    /// Output channels of each stage (`C2..C5`).
    pub fn stage_channels(&self) -> [usize; 4] {
        self.stage_planes().map(|planes| planes * EXPANSION)
    }

    fn stage_planes(&self) -> [usize; 4] {
        [1, 2, 4, 8].map(|m| m * self.base_channels)
    }

    pub fn init<B: Backend>(&self, device: &B::Device) -> ResNet<B> {
        let base = self.base_channels;
        let mut in_channels = base;
        let mut stage = |planes: usize, stride: usize, blocks: usize| -> Vec<Bottleneck<B>> {
            (0..blocks)
                .map(|i| {
                    let stride = if i == 0 { stride } else { 1 };
                    let block = Bottleneck::new(self, in_channels, planes, stride, device);
                    in_channels = planes * EXPANSION;
                    block
                })
                .collect()
        };
        let [p1, p2, p3, p4] = self.stage_planes();
        let layer1 = stage(p1, 1, self.blocks[0]);
        let layer2 = stage(p2, 2, self.blocks[1]);
        let layer3 = stage(p3, 2, self.blocks[2]);
        let layer4 = stage(p4, 2, self.blocks[3]);
        ResNet {
            conv1: he_conv2d(3, base, 7, 2, 1, false, device),
            bn1: Norm::new(base, self.norm, self.norm_eps, device),
            layer1,
            layer2,
            layer3,
            layer4,
            fc: self
                .num_classes
                .map(|n| LinearConfig::new(p4 * EXPANSION, n).init(device)),
        }
    }
}

#[derive(Module, Debug)]
pub struct ResNet<B: Backend> {
    pub conv1: Conv2d<B>,
    pub bn1: Norm<B>,
    pub layer1: Vec<Bottleneck<B>>,
    pub layer2: Vec<Bottleneck<B>>,
    pub layer3: Vec<Bottleneck<B>>,
    pub layer4: Vec<Bottleneck<B>>,
    pub fc: Option<Linear<B>>,
}

impl<B: Backend> ResNet<B> {
    /// Stage outputs `C2..C5` (strides 4, 8, 16, 32) of `[N, 3, H, W]` images.
    pub fn forward_features(&self, x: Tensor<B, 4>) -> [Tensor<B, 4>; 4] {
        let x = self.conv1.forward_norm_relu(x, &self.bn1, None);
        let x = max_pool2d(x, [3, 3], [2, 2], [1, 1], [1, 1], false);
        let run =
            |x: Tensor<B, 4>, blocks: &[Bottleneck<B>]| blocks.iter().fold(x, |x, b| b.forward(x));
        let c2 = run(x, &self.layer1);
        let c3 = run(c2.clone(), &self.layer2);
        let c4 = run(c3.clone(), &self.layer3);
        let c5 = run(c4.clone(), &self.layer4);
        [c2, c3, c4, c5]
    }

    /// Class logits `[N, classes]` (global average pooling then `fc`).
    ///
    /// # Panics
    /// When the network was built without a classification head.
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 2> {
        let fc = self
            .fc
            .as_ref()
            .expect("ResNet::forward needs num_classes (an fc head)");
        let [_, _, _, c5] = self.forward_features(x);
        let [n, c, _, _] = c5.dims();
        fc.forward(c5.mean_dim(3).mean_dim(2).reshape([n, c]))
    }
}

#[derive(Module, Debug)]
pub struct Bottleneck<B: Backend> {
    pub conv1: Conv2d<B>,
    pub bn1: Norm<B>,
    pub conv2: Conv2d<B>,
    pub bn2: Norm<B>,
    pub conv3: Conv2d<B>,
    pub bn3: Norm<B>,
    pub downsample: Option<Downsample<B>>,
}

/// The 1×1 projection shortcut of a block that changes stride or width.
#[derive(Module, Debug)]
pub struct Downsample<B: Backend> {
    pub conv: Conv2d<B>,
    pub bn: Norm<B>,
}

/// The widths and shortcut of a [`Bottleneck`].
#[derive(Debug, Clone, Copy)]
pub struct BottleneckShape {
    pub in_channels: usize,
    /// Channels of the 1×1 reduction and the 3×3 convolution.
    pub width: usize,
    pub out_channels: usize,
    /// Stride of the 3×3 convolution.
    pub stride: usize,
    pub groups: usize,
    /// A 1×1 projection shortcut even where the identity would fit (pytorch-cpn's RefineNet).
    pub always_project: bool,
}

impl<B: Backend> Bottleneck<B> {
    fn new(
        config: &ResNetConfig,
        in_channels: usize,
        planes: usize,
        stride: usize,
        device: &B::Device,
    ) -> Self {
        let shape = BottleneckShape {
            in_channels,
            // torchvision's width rule, relative to the 64 planes of its first stage.
            width: planes * config.width_per_group / 64 * config.groups,
            out_channels: planes * EXPANSION,
            stride,
            groups: config.groups,
            always_project: false,
        };
        Self::with_shape(shape, config.norm, config.norm_eps, device)
    }

    /// A block of any widths: 1×1 to `width`, 3×3 (strided, grouped), 1×1 to `out_channels`,
    /// each followed by a norm, and a projection shortcut where the shape changes.
    pub fn with_shape(
        shape: BottleneckShape,
        norm: NormKind,
        eps: f64,
        device: &B::Device,
    ) -> Self {
        let BottleneckShape {
            in_channels,
            width,
            out_channels: out,
            stride,
            groups,
            always_project,
        } = shape;
        let bn = |c| Norm::new(c, norm, eps, device);
        let project = always_project || stride != 1 || in_channels != out;
        Self {
            conv1: he_conv2d(in_channels, width, 1, 1, 1, false, device),
            bn1: bn(width),
            conv2: he_conv2d(width, width, 3, stride, groups, false, device),
            bn2: bn(width),
            conv3: he_conv2d(width, out, 1, 1, 1, false, device),
            bn3: bn(out),
            downsample: project.then(|| Downsample {
                conv: he_conv2d(in_channels, out, 1, stride, 1, false, device),
                bn: bn(out),
            }),
        }
    }

    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let identity = match &self.downsample {
            Some(d) => d.conv.forward_norm(x.clone(), &d.bn),
            None => x.clone(),
        };
        let y = self.conv1.forward_norm_relu(x, &self.bn1, None);
        let y = self.conv2.forward_norm_relu(y, &self.bn2, None);
        self.conv3.forward_norm_relu(y, &self.bn3, Some(identity))
    }
}
