//! The action model: SlowFast with the AVA RoI head (and the global pooling feature).

mod head;
mod slowfast;

pub use head::{AvaHead, AvaHeadConfig};
pub use slowfast::{
    BasicStem, Bottleneck3d, Fuse, ResBlock, SlowFast, SlowFastConfig, Stage, Stem,
};

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Tensor, backend::Backend};

#[derive(Config, Debug)]
pub struct ActionModelConfig {
    pub backbone: SlowFastConfig,
    pub num_classes: usize,
    #[config(default = true)]
    pub aligned: bool,
    #[config(default = 0.5)]
    pub dropout: f64,
    #[config(default = false)]
    pub global_pool: bool,
}

impl ActionModelConfig {
    pub fn head(&self) -> AvaHeadConfig {
        AvaHeadConfig::new(self.backbone.out_channels(), self.num_classes)
            .with_aligned(self.aligned)
            .with_dropout(self.dropout)
            .with_global_pool(self.global_pool)
    }

    pub fn init<B: Backend>(&self, device: &B::Device) -> ActionModel<B> {
        ActionModel {
            backbone: self.backbone.init(device),
            head: self.head().init(device),
        }
    }
}

/// SlowFast and the AVA head: scores for person boxes in a clip.
#[derive(Module, Debug)]
pub struct ActionModel<B: Backend> {
    pub backbone: SlowFast<B>,
    pub head: AvaHead<B>,
}

impl<B: Backend> ActionModel<B> {
    /// Per-box features `[K, D]` for clips `slow` `[N, 3, T/α, H, W]` and `fast`
    /// `[N, 3, T, H, W]` and boxes `rois` `[K, 5]` (batch index, x1, y1, x2, y2 in pixels).
    pub fn features(
        &self,
        slow: Tensor<B, 5>,
        fast: Tensor<B, 5>,
        rois: Tensor<B, 2>,
    ) -> Tensor<B, 2> {
        self.head.features(self.backbone.forward(slow, fast), rois)
    }

    /// Action probabilities `[K, classes]`.
    pub fn forward(
        &self,
        slow: Tensor<B, 5>,
        fast: Tensor<B, 5>,
        rois: Tensor<B, 2>,
    ) -> Tensor<B, 2> {
        self.head.forward(self.features(slow, fast, rois))
    }
}
