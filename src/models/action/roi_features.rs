//! The action model's per-person features, as PySlowFast's `ResNetRoIHead` computes them
//! before its classifier: per pathway, the clip's res5 map averaged over time, RoIAlign (7×7
//! at 1/16, adaptive sampling, aligned as configured) on each person box and the maximum over
//! the 7×7 cells — the short-term feature S, what the long-term feature bank stores — and
//! optionally (the seed system's "global pooling feature" G) each pathway's whole-clip
//! spatio-temporal average, repeated for every box of the clip.

use burn::config::Config;
use burn::tensor::{Int, Tensor, backend::Backend};

use crate::ops::roi_align;

#[derive(Config, Debug)]
pub struct RoiFeaturesConfig {
    /// res5 channels of the slow and fast pathway.
    pub in_channels: [usize; 2],
    #[config(default = 7)]
    pub resolution: usize,
    /// Stride of the feature maps (16 with res5 dilated).
    #[config(default = 16.0)]
    pub scale_factor: f32,
    /// PySlowFast's `DETECTION.ALIGNED` (True in its AVA configs, False in the Caffe2 ones).
    #[config(default = true)]
    pub aligned: bool,
    /// Also compute the global pooling feature G.
    #[config(default = false)]
    pub global_pool: bool,
}

impl RoiFeaturesConfig {
    /// Width of S (the pathways' channels).
    pub fn short_term_dim(&self) -> usize {
        self.in_channels[0] + self.in_channels[1]
    }

    /// Width of G (the same channels), 0 without it.
    pub fn global_dim(&self) -> usize {
        if self.global_pool {
            self.short_term_dim()
        } else {
            0
        }
    }

    pub fn init(&self) -> RoiFeatures {
        RoiFeatures {
            resolution: self.resolution,
            scale: 1.0 / self.scale_factor,
            aligned: self.aligned,
            global_pool: self.global_pool,
        }
    }
}

/// Per-box features of a clip's res5 maps (no weights of its own).
#[derive(Debug, Clone, PartialEq)]
pub struct RoiFeatures {
    pub resolution: usize,
    /// Feature-map pixels per input pixel.
    pub scale: f32,
    pub aligned: bool,
    pub global_pool: bool,
}

/// The features of `K` boxes: S `[K, D]` and, when configured, G `[K, D]`.
#[derive(Debug, Clone)]
pub struct BoxFeatures<B: Backend> {
    pub short_term: Tensor<B, 2>,
    pub global: Option<Tensor<B, 2>>,
}

impl RoiFeatures {
    /// Features of the res5 maps `[slow, fast]` (`[N, C, T, H, W]`) for `rois` `[K, 5]` rows
    /// `(batch index, x1, y1, x2, y2)` in input pixels; each part concatenates the pathways.
    pub fn forward<B: Backend>(
        &self,
        pathways: [Tensor<B, 5>; 2],
        rois: Tensor<B, 2>,
    ) -> BoxFeatures<B> {
        let [k, _] = rois.dims();
        let r = self.resolution;
        let batch_index: Tensor<B, 1, Int> = rois.clone().narrow(1, 0, 1).reshape([k]).int();
        let mut short_term = Vec::new();
        let mut global = Vec::new();
        for x in pathways {
            let [n, c, _, h, w] = x.dims();
            let pooled = x.mean_dim(2).reshape([n, c, h, w]);
            if self.global_pool {
                let clip = pooled.clone().mean_dim(3).mean_dim(2).reshape([n, c]);
                global.push(clip.select(0, batch_index.clone()));
            }
            let cells = roi_align(pooled, rois.clone(), [r, r], self.scale, 0, self.aligned);
            short_term.push(cells.reshape([k, c, r * r]).max_dim(2).reshape([k, c]));
        }
        BoxFeatures {
            short_term: Tensor::cat(short_term, 1),
            global: self.global_pool.then(|| Tensor::cat(global, 1)),
        }
    }
}
