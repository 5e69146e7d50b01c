//! Feature pyramid network as torchvision's `FeaturePyramidNetwork` with `LastLevelMaxPool`:
//! 1×1 lateral convs, nearest top-down resizing to each lateral's size, 3×3 output convs,
//! and a sixth level by stride-2 subsampling of the last.

use burn::config::Config;
use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2dConfig;
use burn::tensor::{Tensor, backend::Backend, module::max_pool2d};

use crate::nn::Conv2d;
use crate::ops::upsample_nearest;

#[derive(Config, Debug)]
pub struct FpnConfig {
    /// Channels of the backbone stages, finest first (ResNet: 256, 512, 1024, 2048).
    pub in_channels: Vec<usize>,
    #[config(default = 256)]
    pub out_channels: usize,
}

impl FpnConfig {
    pub fn init<B: Backend>(&self, device: &B::Device) -> Fpn<B> {
        let conv = |i, o, k| {
            let p = k / 2;
            let config = Conv2dConfig::new([i, o], [k, k])
                .with_padding(PaddingConfig2d::Explicit(p, p, p, p));
            Conv2d::new(&config, device)
        };
        Fpn {
            inner_blocks: self
                .in_channels
                .iter()
                .map(|&c| conv(c, self.out_channels, 1))
                .collect(),
            layer_blocks: self
                .in_channels
                .iter()
                .map(|_| conv(self.out_channels, self.out_channels, 3))
                .collect(),
        }
    }
}

#[derive(Module, Debug)]
pub struct Fpn<B: Backend> {
    /// Lateral 1×1 convolutions, finest level first.
    pub inner_blocks: Vec<Conv2d<B>>,
    /// Output 3×3 convolutions.
    pub layer_blocks: Vec<Conv2d<B>>,
}

impl<B: Backend> Fpn<B> {
    /// Pyramid levels (P2.. for ResNet stages C2..), finest first, plus the pooled extra level.
    pub fn forward(&self, stages: Vec<Tensor<B, 4>>) -> Vec<Tensor<B, 4>> {
        assert_eq!(
            stages.len(),
            self.inner_blocks.len(),
            "one backbone stage per lateral"
        );
        let mut stages = stages;
        let last = stages.len() - 1;
        let mut inner = self.inner_blocks[last].forward(stages.pop().expect("a stage"));
        let mut levels = vec![self.layer_blocks[last].forward(inner.clone())];
        for (idx, stage) in stages.into_iter().enumerate().rev() {
            let lateral = self.inner_blocks[idx].forward(stage);
            let [_, _, h, w] = lateral.dims();
            inner = lateral + upsample_nearest(inner, [h, w]);
            levels.insert(0, self.layer_blocks[idx].forward(inner.clone()));
        }
        let top = levels.last().expect("a level").clone();
        levels.push(max_pool2d(top, [1, 1], [2, 2], [0, 0], [1, 1], false));
        levels
    }
}
