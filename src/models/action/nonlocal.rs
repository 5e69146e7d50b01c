//! PySlowFast's non-local block (`nonlocal_helper.Nonlocal`, batch-norm variant) as the
//! R101 "50_50" AVA models place them in res4 of the slow pathway: 1×1×1 embeddings θ, φ, g
//! (φ and g on a max-pooled map), affinities θᵀφ scaled by 1/N ("dot_product") or softmaxed
//! after 1/√d ("softmax"), the aggregate projected back, normalised and added to the input.

use burn::module::Module;
use burn::nn::conv::Conv3dConfig;
use burn::tensor::{Tensor, activation::softmax, backend::Backend};
use serde::{Deserialize, Serialize};

use crate::nn::{Conv3d, Norm, NormKind};
use crate::ops::{Pool3dOptions, max_pool3d};

/// How affinities are normalised (PySlowFast's `NONLOCAL.INSTANTIATION`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Instantiation {
    /// Divided by the number of pooled positions (the AVA configs).
    #[default]
    DotProduct,
    /// Scaled by `1/√d` and softmaxed over the pooled positions.
    Softmax,
}

#[derive(Module, Debug)]
pub struct Nonlocal<B: Backend> {
    pub conv_theta: Conv3d<B>,
    pub conv_phi: Conv3d<B>,
    pub conv_g: Conv3d<B>,
    pub conv_out: Conv3d<B>,
    pub bn: Norm<B>,
    #[module(skip)]
    pub pool: [usize; 3],
    #[module(skip)]
    pub instantiation: Instantiation,
}

impl<B: Backend> Nonlocal<B> {
    /// A block on `dim` channels with `dim / 2` inner channels, as PySlowFast builds it.
    pub fn new(
        dim: usize,
        pool: [usize; 3],
        instantiation: Instantiation,
        norm: NormKind,
        device: &B::Device,
    ) -> Self {
        let inner = dim / 2;
        let conv = |i, o| Conv3d::new(&Conv3dConfig::new([i, o], [1, 1, 1]), device);
        Self {
            conv_theta: conv(dim, inner),
            conv_phi: conv(dim, inner),
            conv_g: conv(dim, inner),
            conv_out: conv(inner, dim),
            bn: Norm::new(dim, norm, 1e-5, device),
            pool,
            instantiation,
        }
    }

    pub fn forward(&self, x: Tensor<B, 5>) -> Tensor<B, 5> {
        let [n, _, t, h, w] = x.dims();
        let theta = self.conv_theta.forward(x.clone());
        let inner = theta.dims()[1];
        let pooled = if self.pool.iter().any(|&p| p > 1) {
            max_pool3d(x.clone(), Pool3dOptions::new(self.pool))
        } else {
            x.clone()
        };
        let flat = |y: Tensor<B, 5>| {
            let [n, c, t, h, w] = y.dims();
            y.reshape([n, c, t * h * w])
        };
        let theta = flat(theta);
        let phi = flat(self.conv_phi.forward(pooled.clone()));
        let g = flat(self.conv_g.forward(pooled));
        // [n, positions, pooled positions]
        let affinity = theta.swap_dims(1, 2).matmul(phi);
        let pooled_positions = affinity.dims()[2];
        let affinity = match self.instantiation {
            Instantiation::DotProduct => affinity.div_scalar(pooled_positions as f32),
            Instantiation::Softmax => softmax(affinity.mul_scalar((inner as f32).powf(-0.5)), 2),
        };
        // [n, inner, positions]
        let aggregated = g
            .matmul(affinity.swap_dims(1, 2))
            .reshape([n, inner, t, h, w]);
        x + self.bn.forward(self.conv_out.forward(aggregated))
    }
}
