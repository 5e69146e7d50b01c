//! CPN's RefineNet: each GlobalNet level goes through more bottlenecks the coarser it is (C2
//! none, C5 three), is resized to the output size, and all four are concatenated; a final
//! bottleneck and a 3×3 convolution with a norm give the refined heatmaps.
//!
//! tf-cpn (`create_refine_net`) and pytorch-cpn (`networks/refineNet.py`) differ in the
//! cascade's shortcuts (tf: identity; pytorch: a 1×1 projection in every block) and in the
//! concatenation order (tf: C2..C5; pytorch: C5..C2).

use burn::module::Module;
use burn::tensor::{Tensor, backend::Backend};

use super::{ConvNorm, CpnConfig, CpnConvention};
use crate::nn::{Bottleneck, BottleneckShape};
use crate::ops::resize_bilinear;

/// Cascades are indexed coarsest first, as GlobalNet's levels: `cascade[0]` (C5) has three
/// bottlenecks, `cascade[3]` (C2) none.
#[derive(Module, Debug)]
pub struct RefineNet<B: Backend> {
    pub cascade: Vec<Vec<Bottleneck<B>>>,
    pub final_bottleneck: Bottleneck<B>,
    pub out: ConvNorm<B>,
    #[module(skip)]
    pub convention: CpnConvention,
    #[module(skip)]
    pub output_hw: [usize; 2],
}

impl<B: Backend> RefineNet<B> {
    pub fn new(config: &CpnConfig, device: &B::Device) -> Self {
        let (c, levels) = (config.channels, 4);
        let block = |in_channels, always_project| {
            let shape = BottleneckShape {
                in_channels,
                width: config.refine_width,
                out_channels: c,
                stride: 1,
                groups: 1,
                always_project,
            };
            Bottleneck::with_shape(shape, config.trunk.norm, config.norm_eps(), device)
        };
        let project = config.convention == CpnConvention::PytorchCpn;
        Self {
            cascade: (0..levels)
                .map(|level| (0..levels - 1 - level).map(|_| block(c, project)).collect())
                .collect(),
            final_bottleneck: block(levels * c, project),
            out: ConvNorm::normed((c, config.keypoints, 3), config, device),
            convention: config.convention,
            output_hw: config.output_hw(),
        }
    }

    /// `merged`: GlobalNet's merged maps, coarsest first. Returns `[N, K, out_h, out_w]`.
    pub fn forward(&self, merged: Vec<Tensor<B, 4>>) -> Tensor<B, 4> {
        let grid = self.convention.grid();
        let mut levels: Vec<Tensor<B, 4>> = merged
            .into_iter()
            .zip(&self.cascade)
            .map(|(x, blocks)| {
                let x = blocks.iter().fold(x, |x, b| b.forward(x));
                resize_bilinear(x, self.output_hw, grid)
            })
            .collect();
        if self.convention == CpnConvention::TfCpn {
            levels.reverse();
        }
        let x = self.final_bottleneck.forward(Tensor::cat(levels, 1));
        self.out.forward(x)
    }
}
