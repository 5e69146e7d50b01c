//! Convolution modules for every network: Burn's `Conv2d` / `Conv3d` parameters and
//! initialisation (the same tensor names, `weight` and `bias`), with a forward pass through
//! [`crate::ops::conv3d`] / [`crate::ops::conv2d`], which take the CPU fast path where the
//! backend has one. Models call `self.conv.forward(x)` and never name a backend.

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2dConfig, Conv3dConfig};
use burn::nn::{PaddingConfig2d, PaddingConfig3d};
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Tensor, backend::Backend};

use super::Norm;

/// A 3-D convolution over `[N, C, T, H, W]`.
#[derive(Module, Debug)]
pub struct Conv3d<B: Backend> {
    /// `[out, in / groups, kt, kh, kw]`.
    pub weight: Param<Tensor<B, 5>>,
    pub bias: Option<Param<Tensor<B, 1>>>,
    #[module(skip)]
    pub options: ConvOptions<3>,
}

impl<B: Backend> Conv3d<B> {
    /// The convolution `config` describes, initialised as Burn initialises it.
    ///
    /// # Panics
    /// On `Same` padding: the networks pad explicitly (a configuration in code, not input).
    pub fn new(config: &Conv3dConfig, device: &B::Device) -> Self {
        let padding = match config.padding {
            PaddingConfig3d::Explicit(t, h, w) => [t, h, w],
            PaddingConfig3d::Valid => [0; 3],
            PaddingConfig3d::Same => panic!("nn::Conv3d takes explicit padding"),
        };
        let conv = config.init(device);
        Self {
            weight: conv.weight,
            bias: conv.bias,
            options: ConvOptions::new(config.stride, padding, config.dilation, config.groups),
        }
    }

    pub fn forward(&self, x: Tensor<B, 5>) -> Tensor<B, 5> {
        crate::ops::conv3d(
            x,
            self.weight.val(),
            self.bias.as_ref().map(Param::val),
            self.options.clone(),
        )
    }

    /// `norm.forward(self.forward(x))`, with a fixed norm folded into the weight and bias
    /// (see [`Conv2d::forward_norm`]).
    pub fn forward_norm(&self, x: Tensor<B, 5>, norm: &Norm<B>) -> Tensor<B, 5> {
        self.forward_norm_then(x, norm, None, false)
    }

    /// `relu(self.forward_norm(x, norm) + residual)` (see [`Conv2d::forward_norm_relu`]).
    pub fn forward_norm_relu(
        &self,
        x: Tensor<B, 5>,
        norm: &Norm<B>,
        residual: Option<Tensor<B, 5>>,
    ) -> Tensor<B, 5> {
        self.forward_norm_then(x, norm, residual, true)
    }

    fn forward_norm_then(
        &self,
        x: Tensor<B, 5>,
        norm: &Norm<B>,
        residual: Option<Tensor<B, 5>>,
        relu: bool,
    ) -> Tensor<B, 5> {
        let Some((scale, shift)) = norm.affine(&x.device()) else {
            return crate::ops::residual_relu(norm.forward(self.forward(x)), residual, relu);
        };
        let weight = scaled_rows(self.weight.val(), scale.clone());
        let bias = folded_bias(self.bias.as_ref(), scale, shift);
        let options = self.options.clone();
        crate::ops::conv3d_then(x, weight, Some(bias), residual, relu, options)
    }
}

/// `weight` scaled per output channel, as `[C_out, rest]` rows with one value per row: flex's
/// contiguous broadcast (against `[C_out, 1, 1, …]` it walks a strided index, which made
/// SlowFast R50's forward 1.5× slower).
fn scaled_rows<B: Backend, const D: usize>(
    weight: Tensor<B, D>,
    scale: Tensor<B, 1>,
) -> Tensor<B, D> {
    let dims = weight.dims();
    let c = dims[0];
    (weight.reshape([c as i32, -1]) * scale.reshape([c, 1])).reshape(dims)
}

/// The bias of a convolution followed by the per-channel affine `scale`, `shift`.
fn folded_bias<B: Backend>(
    bias: Option<&Param<Tensor<B, 1>>>,
    scale: Tensor<B, 1>,
    shift: Tensor<B, 1>,
) -> Tensor<B, 1> {
    match bias {
        Some(bias) => bias.val() * scale + shift,
        None => shift,
    }
}

/// A 2-D convolution over `[N, C, H, W]`.
#[derive(Module, Debug)]
pub struct Conv2d<B: Backend> {
    /// `[out, in / groups, kh, kw]`.
    pub weight: Param<Tensor<B, 4>>,
    pub bias: Option<Param<Tensor<B, 1>>>,
    #[module(skip)]
    pub options: ConvOptions<2>,
}

impl<B: Backend> Conv2d<B> {
    /// The convolution `config` describes, initialised as Burn initialises it.
    ///
    /// # Panics
    /// On `Same` or asymmetric padding: the networks pad symmetrically (a configuration in
    /// code, not input).
    pub fn new(config: &Conv2dConfig, device: &B::Device) -> Self {
        let padding = match config.padding {
            PaddingConfig2d::Explicit(top, left, bottom, right)
                if top == bottom && left == right =>
            {
                [top, left]
            }
            PaddingConfig2d::Valid => [0; 2],
            _ => panic!("nn::Conv2d takes symmetric explicit padding"),
        };
        let conv = config.init(device);
        Self {
            weight: conv.weight,
            bias: conv.bias,
            options: ConvOptions::new(config.stride, padding, config.dilation, config.groups),
        }
    }

    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        crate::ops::conv2d(
            x,
            self.weight.val(),
            self.bias.as_ref().map(Param::val),
            self.options.clone(),
        )
    }

    /// `norm.forward(self.forward(x))`. A norm by fixed statistics is folded into the weight
    /// and bias (`w·scale`, `b·scale + shift`), gradients flowing through the fold: its
    /// affine then costs a pass over the weight instead of one over the output each way.
    pub fn forward_norm(&self, x: Tensor<B, 4>, norm: &Norm<B>) -> Tensor<B, 4> {
        self.forward_norm_then(x, norm, None, false)
    }

    /// `relu(self.forward_norm(x, norm) + residual)`, the residual optional: with a fixed
    /// norm one op on flex, whose bias, residual and ReLU are applied in place in one pass
    /// (see [`crate::ops::conv3d_then`]).
    pub fn forward_norm_relu(
        &self,
        x: Tensor<B, 4>,
        norm: &Norm<B>,
        residual: Option<Tensor<B, 4>>,
    ) -> Tensor<B, 4> {
        self.forward_norm_then(x, norm, residual, true)
    }

    fn forward_norm_then(
        &self,
        x: Tensor<B, 4>,
        norm: &Norm<B>,
        residual: Option<Tensor<B, 4>>,
        relu: bool,
    ) -> Tensor<B, 4> {
        let Some((scale, shift)) = norm.affine(&x.device()) else {
            return crate::ops::residual_relu(norm.forward(self.forward(x)), residual, relu);
        };
        let weight = scaled_rows(self.weight.val(), scale.clone());
        let bias = folded_bias(self.bias.as_ref(), scale, shift);
        let options = self.options.clone();
        crate::ops::conv2d_then(x, weight, Some(bias), residual, relu, options)
    }
}

/// A `k × k` convolution with "same" padding `k / 2`, initialised as torchvision's ResNet
/// (`kaiming_normal_(mode="fan_out", nonlinearity="relu")`, as pytorch-cpn's heads too), a
/// bias where asked starting at zero: without trainable normalisation this keeps activations
/// at scale through a deep trunk.
pub(crate) fn he_conv2d<B: Backend>(
    in_channels: usize,
    out_channels: usize,
    kernel: usize,
    stride: usize,
    groups: usize,
    bias: bool,
    device: &B::Device,
) -> Conv2d<B> {
    let p = kernel / 2;
    let config = Conv2dConfig::new([in_channels, out_channels], [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
        .with_groups(groups)
        .with_bias(bias)
        .with_initializer(burn::module::Initializer::KaimingNormal {
            gain: std::f64::consts::SQRT_2,
            fan_out_only: true,
        });
    let mut conv = Conv2d::new(&config, device);
    if let Some(b) = conv.bias.take() {
        conv.bias = Some(super::zeroed(b));
    }
    conv
}

#[cfg(test)]
mod tests {
    use burn::backend::{Autodiff, Flex};
    use burn::module::RunningState;
    use burn::tensor::{Distribution, Tolerance};

    use super::*;
    use crate::nn::NormKind;

    /// A norm with statistics and affine away from the identity.
    fn norm<B: Backend>(kind: NormKind, device: &B::Device) -> Norm<B> {
        let mut norm = Norm::new(4, kind, 1e-5, device);
        let values = |v: [f32; 4]| Tensor::<B, 1>::from_floats(v, device);
        norm.weight = Param::from_tensor(values([0.5, 1.5, -0.7, 2.0]));
        norm.bias = Param::from_tensor(values([0.1, -0.3, 0.2, 0.0]));
        norm.running_mean = RunningState::new(values([0.2, -0.1, 0.4, 0.05]));
        norm.running_var = RunningState::new(values([0.8, 1.7, 0.3, 2.5]));
        norm
    }

    /// The folded route against the norm applied to the convolution's output: outputs, and
    /// under autodiff the gradients of the input, the weight and the bias, for frozen batch
    /// norm (folded), and batch norm in inference (folded) and training (not folded).
    #[test]
    fn a_folded_norm_matches_the_norm_after_the_convolution() {
        type A = Autodiff<Flex>;
        let device = Default::default();
        let config = Conv2dConfig::new([3, 4], [3, 3])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .with_bias(true);
        let conv: Conv2d<A> = Conv2d::new(&config, &device);
        let x = Tensor::<A, 4>::random([2, 3, 6, 5], Distribution::Normal(0.0, 1.0), &device);
        let upstream = Tensor::<A, 4>::random([2, 4, 6, 5], Distribution::Default, &device);
        let tol = Tolerance::absolute(1e-5);
        for kind in [NormKind::FrozenBn, NormKind::BatchNorm] {
            // Inference: the fold on flex itself.
            let plain = Conv2d::<Flex> {
                weight: Param::from_tensor(conv.weight.val().inner()),
                bias: conv
                    .bias
                    .as_ref()
                    .map(|b| Param::from_tensor(b.val().inner())),
                options: conv.options.clone(),
            };
            let (n, xi) = (norm::<Flex>(kind, &device), x.clone().inner());
            assert!(n.affine(&device).is_some());
            plain
                .forward_norm(xi.clone(), &n)
                .into_data()
                .assert_approx_eq::<f32>(&n.forward(plain.forward(xi)).into_data(), tol);
            // Training: gradients through the fold (frozen) or the batch statistics.
            let n = norm::<A>(kind, &device);
            let grads = |y: Tensor<A, 4>, x: &Tensor<A, 4>| {
                let grads = (y * upstream.clone()).sum().backward();
                let bias = conv.bias.as_ref().unwrap().val();
                [
                    x.grad(&grads).unwrap().into_data(),
                    conv.weight.val().grad(&grads).unwrap().into_data(),
                    bias.grad(&grads).unwrap().into_data(),
                ]
            };
            let xa = x.clone().require_grad();
            let folded = grads(conv.forward_norm(xa.clone(), &n), &xa);
            let xb = x.clone().require_grad();
            let composed = grads(n.forward(conv.forward(xb.clone())), &xb);
            for (a, b) in folded.iter().zip(&composed) {
                a.assert_approx_eq::<f32>(b, tol);
            }
        }
    }
}
