//! CPN's GlobalNet: a feature pyramid over the trunk's C2..C5 with a heatmap head per level.
//!
//! Top-down from C5: each level's lateral (1×1 conv, norm, ReLU) plus the level above resized
//! to it and passed through a 1×1 "merge" convolution; every merged map feeds RefineNet and a
//! head (1×1 conv, norm, ReLU, 3×3 conv to the keypoints, norm) resized to the output size.
//! tf-cpn (`network.py::create_global_net`) and pytorch-cpn (`networks/globalNet.py`) differ
//! in the merge (tf: a biased conv; pytorch: conv and norm) and in the head's norm (tf: before
//! the resize; pytorch: after it, the same in inference); see [`CpnConvention`].

use burn::module::Module;
use burn::tensor::{Tensor, activation::relu, backend::Backend};

use super::{ConvNorm, CpnConfig, CpnConvention};
use crate::ops::resize_bilinear;

/// Levels are indexed coarsest first (0 is C5, 3 is C2), as pytorch-cpn's module lists.
#[derive(Module, Debug)]
pub struct GlobalNet<B: Backend> {
    pub laterals: Vec<ConvNorm<B>>,
    /// The top-down path into level `i + 1` from level `i`.
    pub merges: Vec<ConvNorm<B>>,
    pub predict: Vec<PredictHead<B>>,
    #[module(skip)]
    pub convention: CpnConvention,
    #[module(skip)]
    pub output_hw: [usize; 2],
}

/// One level's heatmap head.
#[derive(Module, Debug)]
pub struct PredictHead<B: Backend> {
    pub reduce: ConvNorm<B>,
    pub heatmap: ConvNorm<B>,
}

impl<B: Backend> GlobalNet<B> {
    pub fn new(config: &CpnConfig, device: &B::Device) -> Self {
        let c = config.channels;
        let norm = |conv| ConvNorm::normed(conv, config, device);
        // C5..C2.
        let stages: Vec<usize> = config.trunk.stage_channels().into_iter().rev().collect();
        let merge = |_| match config.convention {
            CpnConvention::TfCpn => ConvNorm::biased(c, c, 1, device),
            CpnConvention::PytorchCpn => norm((c, c, 1)),
        };
        Self {
            laterals: stages.iter().map(|&s| norm((s, c, 1))).collect(),
            merges: (1..stages.len()).map(merge).collect(),
            predict: stages
                .iter()
                .map(|_| PredictHead {
                    reduce: norm((c, c, 1)),
                    heatmap: norm((c, config.keypoints, 3)),
                })
                .collect(),
            convention: config.convention,
            output_hw: config.output_hw(),
        }
    }

    /// `stages`: the trunk's `[C2, C3, C4, C5]`. Returns the merged maps (RefineNet's input)
    /// and the heatmaps at the output size, both coarsest first.
    pub fn forward(&self, stages: [Tensor<B, 4>; 4]) -> (Vec<Tensor<B, 4>>, Vec<Tensor<B, 4>>) {
        let grid = self.convention.grid();
        let mut merged: Vec<Tensor<B, 4>> = Vec::with_capacity(4);
        for (level, stage) in stages.into_iter().rev().enumerate() {
            let lateral = relu(self.laterals[level].forward(stage));
            let feature = match merged.last() {
                None => lateral,
                Some(above) => {
                    let [_, _, h, w] = lateral.dims();
                    let merge = &self.merges[level - 1];
                    // tf-cpn resizes first; pytorch-cpn's ×2 upsampling comes first as well.
                    lateral + merge.forward(resize_bilinear(above.clone(), [h, w], grid))
                }
            };
            merged.push(feature);
        }
        let heatmaps = merged
            .iter()
            .zip(&self.predict)
            .map(|(feature, head)| {
                let x = relu(head.reduce.forward(feature.clone()));
                let x = head.heatmap.conv.forward(x);
                let norm = head.heatmap.norm.as_ref().expect("heads are normed");
                match self.convention {
                    CpnConvention::TfCpn => resize_bilinear(norm.forward(x), self.output_hw, grid),
                    CpnConvention::PytorchCpn => {
                        norm.forward(resize_bilinear(x, self.output_hw, grid))
                    }
                }
            })
            .collect();
        (merged, heatmaps)
    }
}
