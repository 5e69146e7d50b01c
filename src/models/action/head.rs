//! The AVA head as PySlowFast's `ResNetRoIHead`: per pathway, the clip's features averaged
//! over time, RoIAlign (7×7 at 1/16, adaptive sampling, aligned as configured) on each person
//! box, max over the 7×7 cells; the pathways concatenated, dropout, a linear classifier and a
//! sigmoid. Optionally (the seed system's "global pooling feature") each pathway's whole-clip
//! spatio-temporal average is concatenated to every box's feature.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::{Int, Tensor, activation::sigmoid, backend::Backend};

use crate::ops::roi_align;

#[derive(Config, Debug)]
pub struct AvaHeadConfig {
    /// res5 channels of the slow and fast pathway.
    pub in_channels: [usize; 2],
    pub num_classes: usize,
    #[config(default = 7)]
    pub resolution: usize,
    /// Stride of the feature maps (16 with res5 dilated).
    #[config(default = 16.0)]
    pub scale_factor: f32,
    /// PySlowFast's `DETECTION.ALIGNED` (True in its AVA configs, False in the Caffe2 ones).
    #[config(default = true)]
    pub aligned: bool,
    #[config(default = 0.5)]
    pub dropout: f64,
    /// Concatenate each pathway's global average to every RoI feature.
    #[config(default = false)]
    pub global_pool: bool,
}

impl AvaHeadConfig {
    /// Width of a RoI feature: the pathways' channels, twice with the global feature.
    pub fn feature_dim(&self) -> usize {
        let d = self.in_channels[0] + self.in_channels[1];
        if self.global_pool { 2 * d } else { d }
    }

    pub fn init<B: Backend>(&self, device: &B::Device) -> AvaHead<B> {
        AvaHead {
            projection: LinearConfig::new(self.feature_dim(), self.num_classes).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            resolution: self.resolution,
            scale: 1.0 / self.scale_factor,
            aligned: self.aligned,
            global_pool: self.global_pool,
        }
    }
}

#[derive(Module, Debug)]
pub struct AvaHead<B: Backend> {
    pub projection: Linear<B>,
    pub dropout: Dropout,
    #[module(skip)]
    pub resolution: usize,
    #[module(skip)]
    pub scale: f32,
    #[module(skip)]
    pub aligned: bool,
    #[module(skip)]
    pub global_pool: bool,
}

impl<B: Backend> AvaHead<B> {
    /// RoI features `[K, D]` of the res5 maps `[slow, fast]` (`[N, C, T, H, W]`) for `rois`
    /// `[K, 5]` rows `(batch index, x1, y1, x2, y2)` in input pixels: what the long-term
    /// feature bank stores.
    pub fn features(&self, pathways: [Tensor<B, 5>; 2], rois: Tensor<B, 2>) -> Tensor<B, 2> {
        let [k, _] = rois.dims();
        let r = self.resolution;
        let batch_index: Tensor<B, 1, Int> = rois.clone().narrow(1, 0, 1).reshape([k]).int();
        let mut parts = Vec::new();
        let mut global = Vec::new();
        for x in pathways {
            let [n, c, _, h, w] = x.dims();
            let pooled = x.mean_dim(2).reshape([n, c, h, w]);
            if self.global_pool {
                let clip = pooled.clone().mean_dim(3).mean_dim(2).reshape([n, c]);
                global.push(clip.select(0, batch_index.clone()));
            }
            let cells = roi_align(pooled, rois.clone(), [r, r], self.scale, 0, self.aligned);
            parts.push(cells.reshape([k, c, r * r]).max_dim(2).reshape([k, c]));
        }
        parts.extend(global);
        Tensor::cat(parts, 1)
    }

    /// Action probabilities `[K, classes]` of RoI features.
    pub fn forward(&self, features: Tensor<B, 2>) -> Tensor<B, 2> {
        sigmoid(self.logits(features))
    }

    /// Logits `[K, classes]` (training uses them with a binary cross-entropy).
    pub fn logits(&self, features: Tensor<B, 2>) -> Tensor<B, 2> {
        self.projection.forward(self.dropout.forward(features))
    }
}
