use burn::module::{Module, Param, RunningState};
use burn::tensor::{Tensor, backend::Backend};
use serde::{Deserialize, Serialize};

use crate::ops::channel_affine;

/// How a [`Norm`] normalises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum NormKind {
    /// torchvision's and detectron2's `FrozenBatchNorm`: fixed statistics and affine
    /// parameters, for pretrained backbones (batches are too small for batch statistics).
    #[default]
    FrozenBn,
    /// `GroupNorm(groups, C)` with a trainable affine: per-sample statistics, the same in
    /// training and inference, for training from scratch with small batches (as detectron2's
    /// scratch baselines). Groups are `min(32, C / 2)`, or the most below that divide `C`.
    GroupNorm,
    /// PyTorch's `BatchNorm`, as PySlowFast fine-tunes AVA models: while training (on an
    /// autodiff backend) each channel is normalised by the batch's statistics and the running
    /// statistics move towards them (momentum 0.1, unbiased variance); in inference the
    /// running statistics normalise. Trainable affine.
    BatchNorm,
}

/// PyTorch's default batch-norm momentum (PySlowFast's `BN.MOMENTUM`).
const BN_MOMENTUM: f64 = 0.1;

/// A normalisation layer over the channels (dimension 1) of 2-D or 3-D feature maps. Its parameters keep PyTorch's batch-norm names (`weight`,
/// `bias`, `running_mean`, `running_var`) so checkpoints map onto it directly; frozen batch
/// norm computes `y = (x - mean) / sqrt(var + eps) * weight + bias` and receives no
/// gradients, group norm trains `weight` and `bias` and leaves the running statistics unused,
/// batch norm trains both and updates the running statistics while training.
#[derive(Module, Debug)]
pub struct Norm<B: Backend> {
    pub weight: Param<Tensor<B, 1>>,
    pub bias: Param<Tensor<B, 1>>,
    pub running_mean: RunningState<Tensor<B, 1>>,
    pub running_var: RunningState<Tensor<B, 1>>,
    pub eps: f64,
    #[module(skip)]
    pub kind: NormKind,
}

impl<B: Backend> Norm<B> {
    /// Identity statistics (weight 1, bias 0, mean 0, var 1), torchvision's initial state.
    pub fn new(channels: usize, kind: NormKind, eps: f64, device: &B::Device) -> Self {
        let frozen = |t: Tensor<B, 1>| Param::from_tensor(t).set_require_grad(false);
        let affine = |t: Tensor<B, 1>| match kind {
            NormKind::FrozenBn => frozen(t),
            NormKind::GroupNorm | NormKind::BatchNorm => Param::from_tensor(t),
        };
        Self {
            weight: affine(Tensor::ones([channels], device)),
            bias: affine(Tensor::zeros([channels], device)),
            running_mean: RunningState::new(Tensor::zeros([channels], device)),
            running_var: RunningState::new(Tensor::ones([channels], device)),
            eps,
            kind,
        }
    }

    /// The same with the affine weight at 0: the norm's output starts at its bias.
    pub fn with_zero_weight(mut self) -> Self {
        self.weight = super::zeroed(self.weight);
        self
    }

    /// `x`: `[N, C, ...]` (images `[N, C, H, W]`, clips `[N, C, T, H, W]`).
    pub fn forward<const D: usize>(&self, x: Tensor<B, D>) -> Tensor<B, D> {
        let c = self.weight.dims()[0];
        let training = B::ad_enabled(&x.device());
        match self.kind {
            NormKind::BatchNorm if training => self.batch_statistics(x),
            NormKind::FrozenBn | NormKind::BatchNorm => {
                let (scale, shift) = self.fixed_affine(&x.device());
                channel_affine(x, Some(scale), shift)
            }
            NormKind::GroupNorm => {
                // The most groups up to min(32, C / 2) that divide C (17 heatmaps: one).
                let groups = (1..=(c / 2).clamp(1, 32))
                    .rev()
                    .find(|g| c.is_multiple_of(*g))
                    .unwrap_or(1);
                let (weight, bias) = (self.weight.val(), self.bias.val());
                match crate::ops::try_group_norm(x, groups, weight, bias, self.eps) {
                    Ok(y) => y,
                    Err(x) => self.composed_group_norm(x, groups),
                }
            }
        }
    }

    /// The per-channel `(scale, shift)` of a norm by fixed statistics (frozen batch norm, and
    /// batch norm outside training), which a convolution before it folds into its own weight
    /// and bias; `None` for the norms by each input's statistics.
    pub fn affine(&self, device: &B::Device) -> Option<(Tensor<B, 1>, Tensor<B, 1>)> {
        match self.kind {
            NormKind::FrozenBn => Some(self.fixed_affine(device)),
            NormKind::BatchNorm if !B::ad_enabled(device) => Some(self.fixed_affine(device)),
            NormKind::BatchNorm | NormKind::GroupNorm => None,
        }
    }

    /// torchvision's arithmetic: `scale = w · rsqrt(var + eps)`, `shift = b − mean · scale`.
    /// Where replicas on several devices share the statistics, they may sit on another device
    /// (`fork` moves the shared value).
    fn fixed_affine(&self, device: &B::Device) -> (Tensor<B, 1>, Tensor<B, 1>) {
        let (mean, var) = (
            self.running_mean.value().to_device(device),
            self.running_var.value().to_device(device),
        );
        let scale = self.weight.val() * (var + self.eps).sqrt().recip();
        let shift = self.bias.val() - mean * scale.clone();
        (scale, shift)
    }

    /// Group norm composed of tensor ops, for the backends without a fused one.
    fn composed_group_norm<const D: usize>(&self, x: Tensor<B, D>, groups: usize) -> Tensor<B, D> {
        let dims = x.dims();
        let per_group = dims[1..].iter().product::<usize>() / groups;
        let grouped = x.reshape([dims[0], groups, per_group]);
        let centred = grouped.clone() - grouped.mean_dim(2);
        let var = centred.clone().powi_scalar(2).mean_dim(2);
        let normalised = (centred / (var + self.eps).sqrt()).reshape(dims);
        channel_affine(normalised, Some(self.weight.val()), self.bias.val())
    }
}

impl<B: Backend> Norm<B> {
    /// Training-mode batch norm: normalised by the batch's per-channel mean and biased
    /// variance; the running statistics take the unbiased variance, as PyTorch's.
    fn batch_statistics<const D: usize>(&self, x: Tensor<B, D>) -> Tensor<B, D> {
        let dims = x.dims();
        let (n, c) = (dims[0], dims[1]);
        let rest = dims[2..].iter().product::<usize>();
        let count = (n * rest) as f64;
        // Statistics per `[N·C, rest]` row, then over the images: no axis swap, whose backward
        // would hand the reshapes permuted gradients to copy element by element.
        let rows = x.reshape([n * c, rest]);
        let per_channel = |row_means: Tensor<B, 2>| {
            let mean = row_means.reshape([n, c]).mean_dim(0);
            (mean.clone(), mean.expand([n, c]).reshape([n * c, 1]))
        };
        let (mean, mean_rows) = per_channel(rows.clone().mean_dim(1));
        let centred = rows - mean_rows;
        let (var, var_rows) = per_channel(centred.clone().powi_scalar(2).mean_dim(1));
        let y = (centred / (var_rows + self.eps).sqrt()).reshape(dims);
        let m = BN_MOMENTUM;
        let unbiased = var.detach().reshape([c]) * (count / (count - 1.0).max(1.0));
        let device = mean.device();
        let running_mean = self
            .running_mean
            .value_sync()
            .to_device(&device)
            .mul_scalar(1.0 - m)
            + mean.detach().reshape([c]).mul_scalar(m);
        let running_var = self
            .running_var
            .value_sync()
            .to_device(&device)
            .mul_scalar(1.0 - m)
            + unbiased.mul_scalar(m);
        self.running_mean.update(running_mean);
        self.running_var.update(running_var);
        channel_affine(y, Some(self.weight.val()), self.bias.val())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::{Autodiff, Flex};
    use burn::tensor::{TensorData, Tolerance};

    /// Against `torch.nn.GroupNorm(2, 4)` on `(arange(16) ** 1.5 * 0.1).reshape(2, 4, 1, 2)`
    /// with weight `[0.5, 1, 1.5, 2]` and bias `[0.1, -0.2, 0.3, -0.4]` (printed by PyTorch).
    #[test]
    fn group_norm_matches_pytorch() {
        let device = Default::default();
        let mut norm = Norm::<Flex>::new(4, NormKind::GroupNorm, 1e-5, &device);
        norm.weight = Param::from_tensor(Tensor::from_floats([0.5, 1.0, 1.5, 2.0], &device));
        norm.bias = Param::from_tensor(Tensor::from_floats([0.1, -0.2, 0.3, -0.4], &device));
        let x: Vec<f32> = (0..16).map(|i| (i as f32).powf(1.5) * 0.1).collect();
        let x = Tensor::<Flex, 4>::from_data(TensorData::new(x, [2, 4, 1, 2]), &device);
        let expected = [
            -0.47043, -0.2176, 0.08939, 1.28667, -1.64871, -0.43336, 0.414, 2.36209, -0.55876,
            -0.13552, 0.22386, 1.16471, -1.68719, -0.39587, 0.46149, 2.31592,
        ];
        norm.forward(x).into_data().assert_approx_eq::<f32>(
            &TensorData::new(expected.to_vec(), [2, 4, 1, 2]),
            Tolerance::absolute(1e-4),
        );
    }

    /// The fused group norm's gradients against PyTorch's: `torch.nn.GroupNorm(2, 4)` on
    /// `(arange(40) ** 1.5 * 0.1).reshape(2, 4, 1, 5)`, the affine of the test above, and the
    /// loss `Σ y · cos(arange(40))` (printed by PyTorch).
    #[test]
    fn group_norm_gradients_match_pytorch() {
        type B = Autodiff<Flex>;
        let device = Default::default();
        let mut norm = Norm::<B>::new(4, NormKind::GroupNorm, 1e-5, &device);
        norm.weight = Param::from_tensor(Tensor::from_floats([0.5, 1.0, 1.5, 2.0], &device));
        norm.bias = Param::from_tensor(Tensor::from_floats([0.1, -0.2, 0.3, -0.4], &device));
        let values = |f: fn(f64) -> f64| (0..40).map(|i| f(i as f64) as f32).collect::<Vec<_>>();
        let x = TensorData::new(values(|i| i.powf(1.5) * 0.1), [2, 4, 1, 5]);
        let x = Tensor::<B, 4>::from_data(x, &device).require_grad();
        let coeff =
            Tensor::<B, 4>::from_data(TensorData::new(values(f64::cos), [2, 4, 1, 5]), &device);
        let grads = (norm.forward(x.clone()) * coeff).sum().backward();
        let close = |got: Tensor<Flex, 1>, want: &[f32]| {
            got.into_data().assert_approx_eq::<f32>(
                &TensorData::new(want.to_vec(), [want.len()]),
                Tolerance::absolute(1e-4),
            )
        };
        #[rustfmt::skip]
        let dx = [
            0.33215, 0.08764, -0.42457, -0.71435, -0.48668, 0.24325, 1.05202, 0.87295, -0.08115,
            -0.88125, -0.52986, 0.18446, 0.89234, 0.88686, 0.11456, -1.00731, -1.32011, -0.55968,
            0.50758, 0.83115, 0.02686, -0.17327, -0.25467, -0.11979, 0.13058, 0.52254, 0.3879,
            -0.02531, -0.31198, -0.18286, 0.03091, 0.46548, 0.40111, -0.1183, -0.63073, -0.85943,
            -0.2638, 0.4246, 0.5564, -0.00625,
        ];
        close(x.grad(&grads).unwrap().flatten(0, 3), &dx);
        close(
            norm.weight.grad(&grads).unwrap(),
            &[0.53063, -2.97093, -1.9384, 3.69699],
        );
        close(
            norm.bias.grad(&grads).unwrap(),
            &[-1.76774, 0.57642, 2.09476, 0.61199],
        );
    }

    /// The fused group norm against the composition of tensor ops, forward and gradients, on
    /// 8 groups of 2 channels of 1221 values: several of the fused sums' f32 blocks, vectors
    /// and a remainder.
    #[test]
    fn fused_group_norm_matches_the_composed_ops() {
        type B = Autodiff<Flex>;
        let device = Default::default();
        let mut norm = Norm::<B>::new(16, NormKind::GroupNorm, 1e-5, &device);
        let ramp = |n: usize, f: fn(f32) -> f32| (0..n).map(|i| f(i as f32)).collect::<Vec<_>>();
        norm.weight = Param::from_tensor(Tensor::from_floats(
            &ramp(16, |i| 0.5 + 0.1 * i)[..],
            &device,
        ));
        norm.bias = Param::from_tensor(Tensor::from_floats(
            &ramp(16, |i| (i * 0.7).sin())[..],
            &device,
        ));
        let shape = [2, 16, 3, 407];
        let len = shape.iter().product();
        let x = TensorData::new(
            ramp(len, |i| (i * 0.37).sin() * 3.0 + (i * 0.011).cos()),
            shape,
        );
        let coeff = TensorData::new(ramp(len, |i| (i * 0.53).cos()), shape);
        let run = |fused: bool| {
            let x = Tensor::<B, 4>::from_data(x.clone(), &device).require_grad();
            let y = if fused {
                norm.forward(x.clone())
            } else {
                norm.composed_group_norm(x.clone(), 8)
            };
            let grads = (y.clone() * Tensor::from_data(coeff.clone(), &device))
                .sum()
                .backward();
            [
                y.inner().flatten::<1>(0, 3),
                x.grad(&grads).unwrap().flatten(0, 3),
                norm.weight.grad(&grads).unwrap(),
                norm.bias.grad(&grads).unwrap(),
            ]
        };
        for (fused, composed) in run(true).into_iter().zip(run(false)) {
            fused
                .into_data()
                .assert_approx_eq::<f32>(&composed.into_data(), Tolerance::absolute(1e-4));
        }
    }

    /// Against `torch.nn.BatchNorm3d(3)` on `(arange(24) ** 1.3 * 0.1 - 0.5)` as
    /// `[2, 3, 2, 2, 1]`, weight `[0.5, 1, 2]`, bias `[0.1, -0.2, 0.3]` (printed by PyTorch):
    /// one training-mode forward (batch statistics, running statistics updated with momentum
    /// 0.1 and the unbiased variance), then inference with the updated running statistics.
    #[test]
    fn batch_norm_matches_pytorch_in_training_and_inference() {
        let device = Default::default();
        let mut norm = Norm::<Autodiff<Flex>>::new(3, NormKind::BatchNorm, 1e-5, &device);
        norm.weight = Param::from_tensor(Tensor::from_floats([0.5, 1.0, 2.0], &device));
        norm.bias = Param::from_tensor(Tensor::from_floats([0.1, -0.2, 0.3], &device));
        let x: Vec<f32> = (0..24).map(|i| (i as f32).powf(1.3) * 0.1 - 0.5).collect();
        let x = TensorData::new(x, [2, 3, 2, 2, 1]);
        let close = |got: TensorData, want: &[f32]| {
            got.assert_approx_eq::<f32>(
                &TensorData::new(want.to_vec(), got.shape.clone()),
                Tolerance::absolute(1e-4),
            )
        };
        let train = norm.forward(Tensor::<Autodiff<Flex>, 5>::from_data(x.clone(), &device));
        close(
            train.into_data(),
            &[
                -0.45999, -0.42435, -0.37223, -0.31132, -1.37846, -1.25339, -1.12055, -0.98087,
                -2.08856, -1.81324, -1.52858, -1.23523, 0.44142, 0.54027, 0.64143, 0.74478,
                0.50294, 0.68769, 0.87573, 1.06693, 1.72342, 2.08199, 2.44573, 2.81446,
            ],
        );
        close(
            norm.running_mean.value_sync().into_data(),
            &[0.107107, 0.202897, 0.313584],
        );
        close(
            norm.running_var.value_sync().into_data(),
            &[1.124884, 1.204214, 1.267973],
        );
        let inference = burn::module::AutodiffModule::valid(&norm);
        close(
            inference
                .forward(Tensor::<Flex, 5>::from_data(x, &device))
                .into_data(),
            &[
                -0.18621, -0.13906, -0.07013, 0.01043, -0.28804, -0.1021, 0.0954, 0.30307, 1.50647,
                1.94519, 2.39881, 2.86626, 1.006, 1.13673, 1.27053, 1.40722, 2.50914, 2.78382,
                3.06339, 3.34766, 7.58091, 8.15231, 8.73192, 9.3195,
            ],
        );
    }

    /// Zeroed for a block to start as the identity, a trainable norm still trains and a
    /// frozen one stays frozen.
    #[test]
    fn a_zero_weight_keeps_the_norm_trainable_or_frozen() {
        let device = Default::default();
        let zeroed = |kind| Norm::<Autodiff<Flex>>::new(4, kind, 1e-5, &device).with_zero_weight();
        for kind in [NormKind::GroupNorm, NormKind::BatchNorm] {
            let norm = zeroed(kind);
            assert!(norm.weight.is_require_grad(), "{kind:?}");
            assert_eq!(norm.weight.val().abs().sum().into_scalar(), 0.0);
        }
        assert!(!zeroed(NormKind::FrozenBn).weight.is_require_grad());
    }
}
