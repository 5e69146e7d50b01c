//! Feature-bank operators (FBO) of the long-term feature bank (Wu et al., CVPR 2019): they
//! read a window of long-term features L with the short-term feature S of a person box.
//!
//! - [`FboKind::NonLocal`], as MMAction2's `FBONonLocal`
//!   (`mmaction/models/roi_heads/shared_heads/fbo_head.py`): 1×1 reductions of S and of the
//!   bank to `latent` channels, each followed by dropout; then `layers` non-local layers, each
//!   with theta on the (reduced) S, phi and g on the bank, the dot product scaled by
//!   `latent^-1/2`, a softmax over the bank entries, LayerNorm and ReLU before the output
//!   1×1 (pre-activation), dropout, and a residual sum onto S. Its output is the last
//!   layer's, `latent` wide.
//! - [`FboKind::Avg`] / [`FboKind::Max`]: the bank's average / maximum over its entries
//!   (zero rows of empty seconds included, as both references do), `bank` wide.
//!
//! MMAction2's 1×1×1 `Conv3d`s on `[N, C, M, 1, 1]` are linear layers over the channels here
//! (the same arithmetic), and its `LayerNorm([latent, 1, 1, 1])` over one short-term feature is
//! a LayerNorm over `latent`. MMAction2 initialises the output conv randomly unless
//! `zero_init_out_conv`; FAIR's LFB starts it at zero, which `zero_init_out` (default)
//! follows, so each layer starts as the identity.

use burn::config::Config;
use burn::module::{Initializer, Module};
use burn::nn::{Dropout, DropoutConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::activation::{relu, softmax};
use burn::tensor::{Tensor, backend::Backend};
use serde::{Deserialize, Serialize};

use crate::nn::zeroed;

/// How the bank is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FboKind {
    /// Non-local attention of S over the bank (LFB NL).
    #[default]
    NonLocal,
    /// The bank's average over its entries (LFB avg).
    Avg,
    /// The bank's maximum over its entries (LFB max).
    Max,
}

#[derive(Config, Debug)]
pub struct FboConfig {
    /// Width of the short-term feature S.
    pub short_term_dim: usize,
    /// Width of a bank feature.
    pub bank_dim: usize,
    #[config(default = "FboKind::NonLocal")]
    pub kind: FboKind,
    /// Channels of the non-local layers (512).
    #[config(default = 512)]
    pub latent: usize,
    /// Non-local layers (2; FAIR's R101 "NL-3L" uses 3).
    #[config(default = 2)]
    pub layers: usize,
    /// Dropout after the reductions of S and of the bank.
    #[config(default = 0.2)]
    pub dropout: f64,
    /// Dropout at the end of each non-local layer.
    #[config(default = 0.2)]
    pub layer_dropout: f64,
    /// Start each layer's output 1×1 at zero (FAIR's LFB).
    #[config(default = true)]
    pub zero_init_out: bool,
}

impl FboConfig {
    /// Width of the operator's output.
    pub fn out_dim(&self) -> usize {
        match self.kind {
            FboKind::NonLocal => self.latent,
            FboKind::Avg | FboKind::Max => self.bank_dim,
        }
    }

    pub fn init<B: Backend>(&self, device: &B::Device) -> Fbo<B> {
        let nonlocal = (self.kind == FboKind::NonLocal).then(|| FboNonLocal {
            st_feat_conv: msra_linear(self.short_term_dim, self.latent, device),
            lt_feat_conv: msra_linear(self.bank_dim, self.latent, device),
            st_feat_dropout: DropoutConfig::new(self.dropout).init(),
            lt_feat_dropout: DropoutConfig::new(self.dropout).init(),
            layers: (0..self.layers).map(|_| self.layer(device)).collect(),
        });
        Fbo {
            nonlocal,
            kind: self.kind,
        }
    }

    fn layer<B: Backend>(&self, device: &B::Device) -> NonLocalLayer<B> {
        let c = self.latent;
        let mut out_conv = msra_linear(c, c, device);
        if self.zero_init_out {
            out_conv.weight = zeroed(out_conv.weight);
            out_conv.bias = out_conv.bias.map(zeroed);
        }
        NonLocalLayer {
            st_feat_conv: msra_linear(c, c, device),
            lt_feat_conv: msra_linear(c, c, device),
            global_conv: msra_linear(c, c, device),
            ln: LayerNormConfig::new(c).init(device),
            out_conv,
            dropout: DropoutConfig::new(self.layer_dropout).init(),
        }
    }
}

/// A 1×1 projection initialised as mmcv's `kaiming_init` (normal, fan-out, ReLU gain; bias 0).
fn msra_linear<B: Backend>(d_in: usize, d_out: usize, device: &B::Device) -> Linear<B> {
    let mut linear = LinearConfig::new(d_in, d_out)
        .with_initializer(Initializer::KaimingNormal {
            gain: std::f64::consts::SQRT_2,
            fan_out_only: true,
        })
        .init(device);
    linear.bias = linear.bias.map(zeroed);
    linear
}

/// A feature-bank operator: reads a bank window with the short-term feature of each box.
#[derive(Module, Debug)]
pub struct Fbo<B: Backend> {
    /// The non-local operator's weights (`None` for avg / max).
    pub nonlocal: Option<FboNonLocal<B>>,
    #[module(skip)]
    pub kind: FboKind,
}

/// MMAction2's `FBONonLocal` (names as its checkpoints', layers counted from 0).
#[derive(Module, Debug)]
pub struct FboNonLocal<B: Backend> {
    pub st_feat_conv: Linear<B>,
    pub lt_feat_conv: Linear<B>,
    pub st_feat_dropout: Dropout,
    pub lt_feat_dropout: Dropout,
    pub layers: Vec<NonLocalLayer<B>>,
}

/// One non-local layer of [`FboNonLocal`] (MMAction2's `NonLocalLayer`).
#[derive(Module, Debug)]
pub struct NonLocalLayer<B: Backend> {
    /// theta: the short-term side.
    pub st_feat_conv: Linear<B>,
    /// phi: the bank side of the affinities.
    pub lt_feat_conv: Linear<B>,
    /// g: the bank side of what is aggregated.
    pub global_conv: Linear<B>,
    pub ln: LayerNorm<B>,
    pub out_conv: Linear<B>,
    pub dropout: Dropout,
}

impl<B: Backend> NonLocalLayer<B> {
    /// `st` `[K, c]` attending over `lt` `[K, M, c]`: the layer's output before the residual.
    fn forward(&self, st: Tensor<B, 2>, lt: Tensor<B, 3>) -> Tensor<B, 2> {
        let [k, c] = st.dims();
        let theta = self.st_feat_conv.forward(st).reshape([k, 1, c]);
        let phi = self.lt_feat_conv.forward(lt.clone());
        let g = self.global_conv.forward(lt);
        let affinity = theta.matmul(phi.swap_dims(1, 2)) / (c as f64).sqrt();
        let attention = softmax(affinity, 2);
        let out = attention.matmul(g).reshape([k, c]);
        let out = relu(self.ln.forward(out));
        self.dropout.forward(self.out_conv.forward(out))
    }
}

impl<B: Backend> Fbo<B> {
    /// The operator's output `[K, out_dim]` for short-term features `short_term` `[K, S]` and
    /// bank windows `bank` `[K, M, D]` (one window of `M` entries per box).
    pub fn forward(&self, short_term: Tensor<B, 2>, bank: Tensor<B, 3>) -> Tensor<B, 2> {
        let [k, _, d] = bank.dims();
        match self.kind {
            FboKind::NonLocal => {
                let nl = self
                    .nonlocal
                    .as_ref()
                    .expect("FboConfig::init gives a non-local operator its weights");
                let mut st = nl
                    .st_feat_dropout
                    .forward(nl.st_feat_conv.forward(short_term));
                let lt = nl.lt_feat_dropout.forward(nl.lt_feat_conv.forward(bank));
                for layer in &nl.layers {
                    st = st.clone() + layer.forward(st, lt.clone());
                }
                st
            }
            FboKind::Max => bank.max_dim(1).reshape([k, d]),
            FboKind::Avg => bank.mean_dim(1).reshape([k, d]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::{Autodiff, Flex};
    use burn::tensor::Distribution;

    /// The zero-initialised output layers learn: built for training, they require gradients
    /// and get non-zero ones (when they did not, the operator's output never depended on the
    /// bank).
    #[test]
    fn zero_initialised_output_layers_train() {
        let _generator = crate::generator_lock();
        type B = Autodiff<Flex>;
        let device = Default::default();
        let fbo = FboConfig::new(6, 5)
            .with_latent(4)
            .with_dropout(0.0)
            .with_layer_dropout(0.0)
            .init::<B>(&device);
        let nl = fbo.nonlocal.as_ref().unwrap();
        let normal = Distribution::Normal(0.0, 1.0);
        let out = fbo.forward(
            Tensor::random([3, 6], normal, &device),
            Tensor::random([3, 7, 5], normal, &device),
        );
        let grads = (out * Tensor::random([3, 4], normal, &device))
            .sum()
            .backward();
        for layer in &nl.layers {
            let weight = &layer.out_conv.weight;
            assert!(weight.is_require_grad());
            assert_eq!(weight.val().abs().sum().into_scalar(), 0.0);
            let grad = weight
                .grad(&grads)
                .expect("a gradient for the output layer");
            assert!(grad.abs().sum().into_scalar() > 0.0);
            let bias = layer.out_conv.bias.as_ref().unwrap();
            assert!(bias.grad(&grads).is_some());
        }
        assert!(nl.st_feat_conv.bias.as_ref().unwrap().is_require_grad());
    }
}
