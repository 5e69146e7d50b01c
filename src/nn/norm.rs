use burn::module::{Module, Param};
use burn::tensor::{Tensor, backend::Backend};
use serde::{Deserialize, Serialize};

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
    /// scratch baselines). Groups are `min(32, C / 2)`.
    GroupNorm,
}

/// A normalisation layer over the channels (dimension 1) of 2-D or 3-D feature maps. Its parameters keep PyTorch's batch-norm names (`weight`,
/// `bias`, `running_mean`, `running_var`) so checkpoints map onto it directly; frozen batch
/// norm computes `y = (x - mean) / sqrt(var + eps) * weight + bias` and receives no
/// gradients, group norm trains `weight` and `bias` and leaves the running statistics unused.
#[derive(Module, Debug)]
pub struct Norm<B: Backend> {
    pub weight: Param<Tensor<B, 1>>,
    pub bias: Param<Tensor<B, 1>>,
    pub running_mean: Param<Tensor<B, 1>>,
    pub running_var: Param<Tensor<B, 1>>,
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
            NormKind::GroupNorm => Param::from_tensor(t),
        };
        Self {
            weight: affine(Tensor::ones([channels], device)),
            bias: affine(Tensor::zeros([channels], device)),
            running_mean: frozen(Tensor::zeros([channels], device)),
            running_var: frozen(Tensor::ones([channels], device)),
            eps,
            kind,
        }
    }

    /// `x`: `[N, C, ...]` (images `[N, C, H, W]`, clips `[N, C, T, H, W]`).
    pub fn forward<const D: usize>(&self, x: Tensor<B, D>) -> Tensor<B, D> {
        let c = self.weight.dims()[0];
        match self.kind {
            NormKind::FrozenBn => {
                // torchvision's arithmetic: scale = w * rsqrt(var + eps); shift = b - mean * scale.
                let scale = self.weight.val() * (self.running_var.val() + self.eps).sqrt().recip();
                let shift = self.bias.val() - self.running_mean.val() * scale.clone();
                channel_affine(x, scale, shift)
            }
            NormKind::GroupNorm => {
                let dims = x.dims();
                let n = dims[0];
                let groups = (c / 2).clamp(1, 32);
                let per_group = dims[1..].iter().product::<usize>() / groups;
                let grouped = x.reshape([n, groups, per_group]);
                let centred = grouped.clone() - grouped.mean_dim(2);
                let var = centred.clone().powi_scalar(2).mean_dim(2);
                let normalised = (centred / (var + self.eps).sqrt()).reshape(dims);
                channel_affine(normalised, self.weight.val(), self.bias.val())
            }
        }
    }
}

/// `x * scale + shift` per channel of `x: [N, C, ...]`. Laid out as `[N·C, rest]` rows with
/// one value per row, the broadcast takes flex's contiguous fast path; `[1, C, 1, …]` against
/// a batch does not (it walks every element through a strided index, 5× slower).
fn channel_affine<B: Backend, const D: usize>(
    x: Tensor<B, D>,
    scale: Tensor<B, 1>,
    shift: Tensor<B, 1>,
) -> Tensor<B, D> {
    let dims = x.dims();
    let (n, c) = (dims[0], dims[1]);
    let rest = dims[2..].iter().product::<usize>();
    let rows = |t: Tensor<B, 1>| t.reshape([1, c]).expand([n, c]).reshape([n * c, 1]);
    (x.reshape([n * c, rest]) * rows(scale) + rows(shift)).reshape(dims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;
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
}
